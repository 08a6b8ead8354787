// libFuzzer target for the URL and query builders (http::parse_url, http::make_url, http::url_encoded_form).
// Properties beyond "no crash, no sanitizer report": a refusal points inside the text; what make_url builds
// parses again, and its segments and query parameters decode back to exactly what was given (a '/', '&', '=',
// '#', '+' or '%' stays data); a form decodes back to its pairs.
#include <asiocurl/http/form.hpp>
#include <asiocurl/http/url.hpp>

#include <boost/url/params_encoded_view.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Which property failed, then abort (libFuzzer saves the input).
void check(bool property, int line = __builtin_LINE()) {
    if (property) return;
    std::fprintf(stderr, "fuzz_url: property on line %d failed\n", line);
    std::abort();
}

// The input's pieces, split at NUL: the first is a base URL (or, when the first byte is even, a fixed valid
// one), then segments and name/value pairs alternately as the first byte's bits say.
std::vector<std::string_view> pieces(std::string_view input) {
    std::vector<std::string_view> out;
    for (std::size_t at = 0;;) {
        const auto nul = input.find('\0', at);
        out.push_back(input.substr(at, nul == std::string_view::npos ? std::string_view::npos : nul - at));
        if (nul == std::string_view::npos) return out;
        at = nul + 1;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t mode = data[0];
    const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
    const auto parts = pieces(input);

    // Any text: accepted, or refused at an offset inside it.
    if (auto parsed = asiocurl::http::parse_url(parts[0]); !parsed)
        check(parsed.error().position <= parts[0].size());

    const std::string_view base = mode % 2 == 0 ? std::string_view("https://api.test:8443/v1/") : parts[0];
    std::vector<std::string_view> segments;
    std::vector<asiocurl::http::query_param> query;
    for (std::size_t i = 1; i < parts.size(); ++i) {
        if ((mode >> 1) % 2 == 0 && i + 1 < parts.size()) {
            query.emplace_back(parts[i], parts[i + 1]);
            ++i;
        } else {
            segments.push_back(parts[i]);
        }
    }
    auto original = asiocurl::http::make_url(base, {});
    if (!original) {
        check(original.error().position <= base.size());
        return 0;
    }
    // The base's segments and parameters that stay (a trailing empty segment gives way to the first new one).
    const auto base_segments = original->segments();
    const std::size_t segments_before =
        base_segments.size() -
        (!segments.empty() && !base_segments.empty() && base_segments.back().empty() ? 1 : 0);
    const std::size_t params_before = original->params().size();
    auto url = asiocurl::http::make_url(base, segments, query);
    if (!url) {  // only a dot segment, or a target whose path would begin "//" (read as an authority)
        const bool dot_segment = std::any_of(segments.begin(), segments.end(), [](std::string_view segment) {
            return segment == "." || segment == "..";
        });
        check(dot_segment || (!original->has_authority() && !segments.empty() && segments.front().empty()));
        return 0;
    }
    // What was built parses again, and decodes back.
    check(static_cast<bool>(asiocurl::http::parse_url(url->buffer())));
    // Boost.URL reads "/" as no segment at all (an empty first segment on an empty path cannot be told
    // apart), and a path that begins "/./" as its escape of "//" (a base's own dot segment is not counted as
    // written).
    if (segments_before == 0 && !segments.empty() && segments.front().empty()) return 0;
    if (original->encoded_path().starts_with("/.")) return 0;
    std::vector<std::string> decoded_segments(url->segments().begin(), url->segments().end());
    check(decoded_segments.size() == segments_before + segments.size());
    for (std::size_t i = 0; i < segments.size(); ++i)
        check(decoded_segments[segments_before + i] == segments[i]);
    check(url->params().size() == params_before + query.size());
    auto param = url->params().begin();
    std::advance(param, static_cast<std::ptrdiff_t>(params_before));
    for (const auto& given : query) {
        const auto read = *param++;
        check(read.key == given.key && read.value == given.value && read.has_value);
    }

    // A form of the same pairs decodes back with form decoding ('+' a space).
    asiocurl::http::url_encoded_form form;
    for (const auto& given : query)
        form.add(given.key, given.value);
    if (!query.empty()) {
        const boost::urls::params_encoded_view encoded(form.encoded());
        check(encoded.size() == query.size());
        boost::urls::encoding_opts plus_is_space;
        plus_is_space.space_as_plus = true;
        auto read = encoded.begin();
        for (const auto& given : query) {
            const auto pair = *read++;
            check(pair.key.decode(plus_is_space) == given.key &&
                  pair.value.decode(plus_is_space) == given.value);
        }
    }
    return 0;
}
