// asiocurl::http URLs: built from parts with Boost.URL (every part percent-encoded as data), refused with the
// position of what is wrong.
#ifndef ASIOCURL_HTTP_URL_HPP
#define ASIOCURL_HTTP_URL_HPP

#include <asiocurl/error.hpp>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>
#include <boost/system/system_error.hpp>
#include <boost/url/param.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace asiocurl::http {

/// A URL or request target as the calls that take one accept it: text (a literal, `std::string`,
/// `std::string_view`) or a Boost.URL `url` / `url_view` (which are valid by construction). Only a view: the
/// text must outlive the call that takes it (it is copied into the request before that call returns).
class url_ref {
public:
    url_ref(const char* text) noexcept  // NOLINT(google-explicit-constructor): a parameter type
        : text_(text ? text : "") {}
    url_ref(std::string_view text) noexcept : text_(text) {}    // NOLINT(google-explicit-constructor)
    url_ref(const std::string& text) noexcept : text_(text) {}  // NOLINT(google-explicit-constructor)
    /// Boost's own string views: `url.encoded_resource()`, a `pct_string_view`, `core::string_view`.
    url_ref(boost::core::string_view text) noexcept  // NOLINT(google-explicit-constructor)
        : text_(text.data(), text.size()) {}
    url_ref(const boost::urls::pct_string_view& text) noexcept  // NOLINT(google-explicit-constructor)
        : text_(text.data(), text.size()) {}
    url_ref(const boost::urls::url_view_base& url) noexcept  // NOLINT(google-explicit-constructor)
        : text_(url.buffer().data(), url.buffer().size()) {}
    std::string_view text() const noexcept { return text_; }

private:
    std::string_view text_;
};

/// Why a URL was refused, and where.
struct url_error {
    error_code code;           ///< Boost.URL's reason (`boost::urls::grammar::error`, `boost::urls::error`)
    std::size_t position = 0;  ///< offset of the first character that could not be read
    /// "malformed URL at offset 12: leftover" (the URL itself is left out: it may hold a credential).
    std::string message() const;
};

/// What `url_result::value()` throws for a refused URL.
class bad_url : public boost::system::system_error {
public:
    explicit bad_url(const url_error& error);
    std::size_t position() const noexcept { return position_; }

private:
    std::size_t position_;
};

/// Found by `boost::system::result` (argument-dependent lookup) when `value()` is called on a refusal.
[[noreturn]] void throw_exception_from_error(const url_error& error, const boost::source_location& location);

template <class T>
using url_result = boost::system::result<T, url_error>;

/// A query parameter: `{"name", "value"}`, both as plain text (encoded when added to a URL).
using query_param = boost::urls::param_view;

/// Reads `text` as a URL a request can go to: absolute with a host ("https://host:8443/path?q"), or a
/// target in origin form ("/path?q", for `options::base_url`). Anything else is refused with where it stops
/// being one (RFC 3986 as Boost.URL reads it).
url_result<boost::urls::url_view> parse_url(std::string_view text);

/// `base` ("https://api.example.com/v1" or "/v1", as `parse_url` reads it) with `segments` appended to its
/// path and `query` to its query, each percent-encoded as data: a '/' in a segment, or a '&', '=', '#' or
/// '+' in a parameter, stays part of that segment or parameter. The base's own query is kept, its fragment
/// dropped.
url_result<boost::urls::url> make_url(std::string_view base, std::initializer_list<std::string_view> segments,
                                      std::initializer_list<query_param> query = {});

/// The same with the segments and parameters in containers (`std::vector<std::string>`, ...).
template <std::ranges::input_range Segments, std::ranges::input_range Query = std::span<const query_param>>
url_result<boost::urls::url> make_url(std::string_view base, const Segments& segments,
                                      const Query& query = {});

namespace detail {
url_result<boost::urls::url> make_url_from_parts(std::string_view base,
                                                 std::span<const std::string_view> segments,
                                                 std::span<const query_param> query);

// Where a URL curl refused stops being one as RFC 3986 reads it; none when Boost.URL reads all of it (curl is
// stricter in places: a port beyond 65535, a host name with characters DNS does not allow).
std::optional<std::size_t> malformed_url_position(std::string_view text) noexcept;
}  // namespace detail

template <std::ranges::input_range Segments, std::ranges::input_range Query>
url_result<boost::urls::url> make_url(std::string_view base, const Segments& segments, const Query& query) {
    // Copied: a range may make its elements on the fly (`ids | std::views::transform(to_string)`), and a view
    // of one would outlive it.
    std::vector<std::string> owned_segments;
    for (auto&& segment : segments)
        owned_segments.emplace_back(std::string_view(segment));
    std::vector<std::pair<std::string, std::optional<std::string>>> owned_params;
    for (auto&& item : query) {
        const query_param param(item);
        owned_params.emplace_back(
            std::string(param.key),
            param.has_value ? std::optional<std::string>(std::string(param.value)) : std::nullopt);
    }
    const std::vector<std::string_view> segment_views(owned_segments.begin(), owned_segments.end());
    std::vector<query_param> params;
    for (const auto& [key, value] : owned_params)
        params.push_back(value ? query_param(key, *value) : query_param(key, boost::urls::no_value));
    return detail::make_url_from_parts(base, segment_views, params);
}

}  // namespace asiocurl::http

#endif
