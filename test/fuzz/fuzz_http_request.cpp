// libFuzzer target for what the library parses: the response head curl hands to the header callback, and
// the request (target, method, header fields) that http::async_fetch turns into curl options. Properties
// checked beyond "no crash, no sanitizer report": a request whose options are accepted produces no header
// line with CR, LF or NUL, and a parsed status is a three-digit number or 0.
#include <asiocurl/http/detail/request_options.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const auto end = text.find('\n');
        lines.push_back(text.substr(0, end == std::string_view::npos ? text.size() : end + 1));
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    return lines;
}

void check(bool property) {
    if (!property) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto lines = split_lines(input);

    // The input as a response head, line by line, as curl's header callback delivers it.
    for (auto line : lines) {
        const auto parsed = asiocurl::http::detail::parse_head_line(line);
        check(parsed.status < 1000);
        check(parsed.status == 0 || parsed.status >= 100);
        if (parsed.what == asiocurl::http::detail::head_line::kind::field) check(!parsed.name.empty());
    }

    // The input as a request: the first line is the target, the second the method, the rest "name: value".
    if (lines.size() < 2) return 0;
    auto strip = [](std::string_view s) { return s.ends_with('\n') ? s.substr(0, s.size() - 1) : s; };
    asiocurl::http::detail::request_view request;
    request.target = strip(lines[0]);
    request.method = strip(lines[1]);
    for (std::size_t i = 2; i < lines.size(); ++i) {
        const auto line = strip(lines[i]);
        const auto colon = line.find(':');
        request.fields.emplace_back(line.substr(0, colon), colon == std::string_view::npos
                                                               ? std::string_view{}
                                                               : line.substr(colon + 1));
    }
    static CURL* handle = curl_easy_init();  // the options are only set: nothing is sent
    curl_easy_reset(handle);
    curl_slist* headers = nullptr;
    asiocurl::http::options opts;
    opts.base_url = "http://127.0.0.1:9";
    if (!asiocurl::http::detail::apply_request_options(handle, request, opts, headers)) {
        for (curl_slist* item = headers; item; item = item->next)
            check(std::string_view(item->data).find_first_of("\r\n") == std::string_view::npos);
        char* url = nullptr;
        curl_easy_getinfo(handle, CURLINFO_EFFECTIVE_URL, &url);
        check(!url || std::string_view(url).find_first_of("\r\n") == std::string_view::npos);
    }
    curl_slist_free_all(headers);
    return 0;
}
