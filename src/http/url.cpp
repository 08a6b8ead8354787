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
    boost::urls::url url(*parsed);
    url.remove_fragment();
    auto path = url.segments();
    // "/v1/" ends in an empty segment: the first appended one takes its place rather than leaving "//".
    if (!segments.empty() && !path.empty() && path.back().empty()) path.pop_back();
    if (!segments.empty() && !url.is_path_absolute()) url.set_path_absolute(true);
    for (std::string_view segment : segments)
        path.push_back(segment);
    // Boost.URL leaves '+' and '=' as they are in a query, but a server that reads it as a form decodes '+'
    // as a space, and some split a value at its '=': only unreserved characters go unencoded.
    auto params = url.encoded_params();
    for (const query_param& param : query) {
        const std::string key = boost::urls::encode(param.key, boost::urls::unreserved_chars);
        if (param.has_value)
            params.append({key, boost::urls::encode(param.value, boost::urls::unreserved_chars)});
        else
            params.append(
                boost::urls::param_pct_view(boost::urls::param_view(key, boost::urls::no_value)));  // "?flag"
    }
    return url;
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
