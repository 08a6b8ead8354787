// URLs from parts, and where a refused one goes wrong (Boost.URL's grammar).
#include <asiocurl/http/url.hpp>

#include <boost/url/encode.hpp>
#include <boost/url/grammar/parse.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/rfc/absolute_uri_rule.hpp>
#include <boost/url/rfc/relative_ref_rule.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/rfc/uri_rule.hpp>

namespace asiocurl::http {
namespace {

// Boost.URL's parse_uri says only "leftover" when the text stops being a URL half-way; its grammar, run by
// hand, leaves the iterator where it stopped.
url_error refusal(std::string_view text, error_code code) {
    const char* it = text.data();
    const char* const end = text.data() + text.size();
    auto parsed = text.starts_with('/') ? boost::urls::grammar::parse(it, end, boost::urls::relative_ref_rule)
                                        : boost::urls::grammar::parse(it, end, boost::urls::uri_rule);
    (void)parsed;
    return url_error{code, static_cast<std::size_t>(it - text.data())};
}

}  // namespace

std::string url_error::message() const {
    return "malformed URL at offset " + std::to_string(position) + ": " + code.message();
}

bad_url::bad_url(const url_error& error)
    : boost::system::system_error(error.code, "malformed URL at offset " + std::to_string(error.position)),
      position_(error.position) {}

void throw_exception_from_error(const url_error& error, const boost::source_location&) {
    throw bad_url(error);
}

url_result<boost::urls::url_view> parse_url(std::string_view text) {
    if (text.starts_with('/') && !text.starts_with("//")) {
        // Origin form: a path and a query; "//host" would be a network-path reference, not a target.
        auto target = boost::urls::parse_origin_form(text);
        if (!target) return refusal(text, target.error());
        return *target;
    }
    auto url = boost::urls::parse_uri(text);
    if (!url) return refusal(text, url.error());
    // RFC 3986 3.3: after an authority the path is empty or begins with '/' (Boost.URL 1.81 reads
    // "http://[::1]." as that host and a path "."; found by fuzz_url).
    if (const auto path = url->encoded_path();
        url->has_authority() && !path.empty() && !path.starts_with('/'))
        return url_error{make_error_code(boost::urls::grammar::error::invalid),
                         static_cast<std::size_t>(path.data() - text.data())};
    if (!url->has_authority() || url->host().empty())
        return url_error{make_error_code(boost::urls::grammar::error::mismatch),
                         url->has_authority() ? url->scheme().size() + 3 : url->scheme().size() + 1};
    return *url;
}

url_result<boost::urls::url> make_url(std::string_view base, std::initializer_list<std::string_view> segments,
                                      std::initializer_list<query_param> query) {
    return detail::make_url_from_parts(base, {segments.begin(), segments.size()},
                                       {query.begin(), query.size()});
}

url_result<boost::urls::url> detail::make_url_from_parts(std::string_view base,
                                                         std::span<const std::string_view> segments,
                                                         std::span<const query_param> query) {
    auto parsed = parse_url(base);
    if (!parsed) return parsed.error();
    const boost::urls::url_view& from = *parsed;
    // Written as text and parsed once at the end: Boost.URL 1.81's in-place segment editing corrupts its
    // own index on some paths ("/." then pop_back and push_back: a read past the buffer, found by fuzz_url).
    std::string text;
    if (from.has_scheme()) {
        text += from.scheme();
        text += ':';
    }
    if (from.has_authority()) {
        text += "//";
        text += from.encoded_authority();
    }
    text += from.encoded_path();
    if (!segments.empty() && !text.ends_with('/')) text += '/';
    for (std::size_t i = 0; i < segments.size(); ++i) {
        // "." and ".." would be read as "this" and "the parent" directory, and encoded ("%2E") they are the
        // same to a server (RFC 3986 6.2.2.2): a segment cannot be one.
        if (segments[i] == "." || segments[i] == "..")
            return url_error{make_error_code(boost::urls::grammar::error::invalid), base.size()};
        if (i > 0) text += '/';
        text += boost::urls::encode(segments[i], boost::urls::unreserved_chars);
    }
    // Without an authority a path that begins "//" would be read as one ("//evil.example/x" as a target):
    // an empty first segment on an empty path cannot be written.
    if (!from.has_authority() && text.starts_with("//"))
        return url_error{make_error_code(boost::urls::grammar::error::invalid), base.size()};
    // Boost.URL leaves '+' and '=' as they are in a query, but a server that reads it as a form decodes '+'
    // as a space, and some split a value at its '=': only unreserved characters go unencoded.
    // An empty query ("?") is dropped: it carries nothing, and Boost.URL reads it as one nameless parameter.
    const bool had_query = from.has_query() && !from.encoded_query().empty();
    if (had_query || !query.empty()) text += '?';
    if (had_query) text += from.encoded_query();
    bool first = !had_query;
    for (const query_param& param : query) {
        if (!first) text += '&';
        first = false;
        text += boost::urls::encode(param.key, boost::urls::unreserved_chars);
        if (param.has_value) {  // else "?flag": a name without '='
            text += '=';
            text += boost::urls::encode(param.value, boost::urls::unreserved_chars);
        }
    }
    auto built = boost::urls::parse_uri_reference(text);
    if (!built) return url_error{built.error(), 0};
    return boost::urls::url(*built);
}

namespace detail {

std::optional<std::size_t> malformed_url_position(std::string_view text) noexcept {
    try {
        const auto parsed = parse_url(text);
        if (parsed) return std::nullopt;
        return parsed.error().position;
    } catch (...) {  // Boost.URL allocates for nothing here, but a refusal must not throw from curl's path
        return std::nullopt;
    }
}

}  // namespace detail
}  // namespace asiocurl::http
