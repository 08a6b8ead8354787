// Error codes of asiocurl: curl's own codes in categories of their own, the library's errors, and the
// conditions a caller compares against without knowing which curl code stands behind them.
#ifndef ASIOCURL_ERROR_HPP
#define ASIOCURL_ERROR_HPP

#include <curl/curl.h>

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>
#include <type_traits>

namespace asiocurl {

using error_code = boost::system::error_code;
using boost::system::system_error;

/// Category of `CURLcode` (transfer results). `message()` is `curl_easy_strerror`.
const boost::system::error_category& curl_category() noexcept;
/// Category of `CURLMcode` (multi interface). `message()` is `curl_multi_strerror`.
const boost::system::error_category& multi_category() noexcept;
/// Category of `CURLSHcode` (share interface). `message()` is `curl_share_strerror`.
const boost::system::error_category& share_category() noexcept;

// curl's enums are C enums declared by curl, not by us: specialising `is_error_code_enum` for them could
// clash with another library doing the same, so the conversion is an explicit call.
inline error_code make_error_code(CURLcode code) noexcept {
    return {static_cast<int>(code), curl_category()};
}
inline error_code make_error_code(CURLMcode code) noexcept {
    return {static_cast<int>(code), multi_category()};
}
inline error_code make_error_code(CURLSHcode code) noexcept {
    return {static_cast<int>(code), share_category()};
}

/// Errors raised by asiocurl itself, not by curl.
enum class errc {
    easy_in_use = 1,          ///< the easy handle is already running a transfer
    shut_down,                ///< the multi was shut down; no new transfer is accepted
    socket_registration,      ///< a socket curl reported could not be registered with the reactor
    invalid_argument,         ///< an argument the library checks before calling curl was refused
    wrong_option_type,        ///< a value of the wrong type was given for a curl option
    empty_handle,             ///< the easy handle was moved from
    header_injection,         ///< a URL or header carries CR, LF or NUL, or a header name is not a token
    no_url,                   ///< an origin-form request target without http::options::base_url
    response_too_large,       ///< the response body passed http::options::max_response_size
    upload_size_mismatch,     ///< a streamed upload wrote more or fewer bytes than it declared
    option_owned_by_library,  ///< the library sets this option itself (CURLOPT_PRIVATE, its callbacks...)
    cookie_jar_in_use,        ///< the cookie jar is in use by transfers that may run concurrently with this
    unsafe_share,             ///< curl cannot share this between threads (connections)
    middleware_failed,        ///< an http::client middleware threw (its what() is in info.error_message)
    event_too_large,          ///< a server-sent event (or one of its lines) passed the stream's limit
    not_an_event_stream,      ///< the answer to an event stream's request is not 200 text/event-stream
};
const boost::system::error_category& library_category() noexcept;
inline error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), library_category()};
}

/// Conditions to compare an `error_code` against (`ec == asiocurl::condition::timed_out`), whichever curl
/// code or library error produced it. Codes that newer curls added are matched by number, so a build against
/// older headers maps them too when it runs on a newer libcurl.
enum class condition {
    timed_out = 1,   ///< CURLE_OPERATION_TIMEDOUT
    connect_failed,  ///< CURLE_COULDNT_CONNECT
    resolve_failed,  ///< CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY
    tls_failed,      ///< handshake, verification, certificate, pinning failures; CURLE_ECH_REQUIRED (8.8)
    too_large,       ///< errc::response_too_large, CURLE_FILESIZE_EXCEEDED, CURLE_TOO_LARGE (8.6: a
                     ///< header line or other value over curl's own cap; 7.88 said CURLE_OUT_OF_MEMORY)
    aborted_by_callback,  ///< CURLE_ABORTED_BY_CALLBACK, CURLE_WRITE_ERROR, CURLE_READ_ERROR
    send_failed,          ///< CURLE_SEND_ERROR
    receive_failed,       ///< CURLE_RECV_ERROR
    partial_body,         ///< CURLE_PARTIAL_FILE: the connection ended before the announced body did
    bad_url,              ///< CURLE_URL_MALFORMAT
    protocol_refused,     ///< CURLE_UNSUPPORTED_PROTOCOL (not built in, or not allowed)
    too_many_redirects,   ///< CURLE_TOO_MANY_REDIRECTS
    protocol_error,       ///< CURLE_WEIRD_SERVER_REPLY, CURLE_HTTP2, CURLE_HTTP2_STREAM,
                          ///< CURLE_BAD_CONTENT_ENCODING
};
const boost::system::error_category& condition_category() noexcept;
inline boost::system::error_condition make_error_condition(condition c) noexcept {
    return {static_cast<int>(c), condition_category()};
}

}  // namespace asiocurl

template <>
struct boost::system::is_error_code_enum<asiocurl::errc> : std::true_type {};
template <>
struct boost::system::is_error_condition_enum<asiocurl::condition> : std::true_type {};

#endif
