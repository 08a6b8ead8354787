// A request's URL and curl options (src/http/request.cpp), and the parsing of the response head's lines that
// curl's header callback delivers: both used by the exchange, both fuzzed (test/fuzz).
#ifndef ASIOCURL_HTTP_DETAIL_REQUEST_OPTIONS_HPP
#define ASIOCURL_HTTP_DETAIL_REQUEST_OPTIONS_HPP

#include <asiocurl/http/cookie_jar.hpp>
#include <asiocurl/http/detail/exchange.hpp>

#include <curl/curl.h>

#include <string>
#include <string_view>

namespace asiocurl::http::detail {

// The request's URL: its absolute-form target, or options::base_url followed by its origin-form one.
error_code build_url(const request_view& request, const options& opts, std::string& url);

// The one curl share a handle uses: the cookie jar's, else options::share (the exchange refuses both when
// they differ).
inline const std::shared_ptr<asiocurl::share>& share_of(const options& opts) noexcept {
    return opts.cookies ? opts.cookies->share() : opts.share;
}

// Sets the request's options on `handle`, a reset or fresh one: only what differs from curl's defaults.
// `headers` gets the request's header lines (the caller frees it once the transfer is over). With `parsed`
// (the handle's state), the URL is set as the state's CURLU, parsed only when it differs from the last one
// (not with options::customize, which may set CURLOPT_URL itself).
error_code apply_request_options(CURL* handle, const request_view& request, const options& opts,
                                 curl_slist*& headers, asiocurl::detail::easy_state* parsed = nullptr);

// Sets only what is the request's own — its URL and header lines — on a handle that carries the options of
// an earlier exchange that asked for the very same ones (reusable_setup::matches).
error_code apply_request_target(CURL* handle, const request_view& request, const options& opts,
                                curl_slist*& headers, asiocurl::detail::easy_state* parsed = nullptr);

// What an exchange set on a handle, kept with the handle in the multi's idle pool: an exchange asking for the
// same can skip curl_easy_reset and most of its options. Only for exchanges whose options are all plain
// values: no customize (anything may have been set), no cookie jar, no progress, no request body.
struct reusable_setup {
    static bool applies(const request_view& request, const options& opts) noexcept;
    reusable_setup(const request_view& request, const options& opts);
    bool matches(const request_view& request, const options& opts) const noexcept;

    std::string method;
    bool https = false;
    options opts;  // only the plain values are compared (and kept)
};

// One line of a response head as curl's header callback delivers it (CR LF or LF at its end).
struct head_line {
    enum class kind {
        status,  // "HTTP/1.1 200 OK": a head begins (after a redirect followed, or a 1xx)
        field,   // "Name: value"
        end,     // the blank line that ends a head
        other,   // anything curl let by that is neither
    } what = kind::other;
    unsigned version = 11;  // 10, 11, 20, 30
    unsigned status = 0;    // three digits, or 0 when the line has none
    std::string_view reason, name, value;
};
head_line parse_head_line(std::string_view raw) noexcept;

// Whether curl goes on to another response after this head: a redirect it follows.
bool is_followed_redirect(unsigned status, bool has_location, bool follow_redirects) noexcept;

}  // namespace asiocurl::http::detail

#endif
