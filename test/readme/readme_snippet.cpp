// Compiles one C++ snippet of README.md as shown: the snippet's own #include lines and namespace aliases at
// file scope, nothing added. A snippet that is a fragment (statements) says where it stands in an HTML
// comment on the line before its fence, which the rendered README hides:
//
//   <!-- compiled inside: asio::awaitable<void> download(asiocurl::multi& multi, std::string url) -->
//
// and its other lines become that function's body.
//
//   asiocurl_readme_snippet README INDEX WORK_DIR COMPILER [FLAG...]     (INDEX counts from 1)
//
// Exit status 0 when the snippet compiles (-fsyntax-only); compiler errors name README lines.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct snippet {
    std::size_t first_line = 0;  // README line of the snippet's first line (1-based)
    std::vector<std::string> lines;
    std::optional<std::string> context;
};

std::vector<snippet> cpp_snippets(std::istream& in) {
    constexpr std::string_view marker = "<!-- compiled inside: ";
    std::vector<snippet> found;
    std::string line, previous;
    std::size_t number = 0;
    snippet* open = nullptr;
    while (std::getline(in, line)) {
        ++number;
        if (open) {
            if (line.starts_with("```"))
                open = nullptr;
            else
                open->lines.push_back(line);
        } else if (line == "```cpp") {
            open = &found.emplace_back();
            open->first_line = number + 1;
            if (previous.starts_with(marker) && previous.ends_with(" -->"))
                open->context = previous.substr(marker.size(), previous.size() - marker.size() - 4);
        }
        previous = line;
    }
    return found;
}

// Lines a user puts at file scope: includes and namespace aliases (and the blank lines among them).
bool is_file_scope(const std::string& line) {
    return line.empty() || line.starts_with("#include") ||
           (line.starts_with("namespace ") && line.find('=') != std::string::npos);
}

std::string translation_unit(const snippet& s, const std::string& readme) {
    std::string out = "#line " + std::to_string(s.first_line) + " \"" + readme + "\"\n";
    std::size_t i = 0;
    if (s.context)
        for (; i < s.lines.size() && is_file_scope(s.lines[i]); ++i)
            out += s.lines[i] + "\n";
    if (s.context) out += *s.context + " {\n";
    out += "#line " + std::to_string(s.first_line + i) + " \"" + readme + "\"\n";
    for (; i < s.lines.size(); ++i)
        out += s.lines[i] + "\n";
    if (s.context) out += "}\n";
    return out;
}

std::string quoted(const std::string& arg) {
    std::string out = "'";
    for (char c : arg)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: %s README INDEX WORK_DIR COMPILER [FLAG...]\n", argv[0]);
        return 2;
    }
    const std::string readme = argv[1];
    const std::size_t index = std::strtoul(argv[2], nullptr, 10);
    std::ifstream in(readme);
    if (!in) {
        std::fprintf(stderr, "cannot read %s\n", readme.c_str());
        return 2;
    }
    const auto snippets = cpp_snippets(in);
    if (index == 0 || index > snippets.size()) {
        std::fprintf(stderr, "%s has %zu C++ snippets, not %zu: re-run cmake to add or drop their tests\n",
                     readme.c_str(), snippets.size(), index);
        return 1;
    }
    const snippet& s = snippets[index - 1];
    const std::string file = std::string(argv[3]) + "/readme_snippet_" + std::to_string(index) + ".cpp";
    std::ofstream(file) << translation_unit(s, readme);
    std::string command = quoted(argv[4]) + " -fsyntax-only";
    for (int i = 5; i < argc; ++i)
        command += " " + quoted(argv[i]);
    command += " " + quoted(file);
    std::printf("README.md line %zu%s%s\n", s.first_line, s.context ? ", inside " : "",
                s.context ? s.context->c_str() : "");
    std::fflush(stdout);
    const int status = std::system(command.c_str());
    if (status != 0) std::printf("the snippet does not compile as shown (%s)\n", file.c_str());
    return status == 0 ? 0 : 1;
}
