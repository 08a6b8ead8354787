// asiocurl::http::fetch_error: a failed fetch as an exception that keeps curl's detail and the URL.
#ifndef ASIOCURL_HTTP_FETCH_ERROR_HPP
#define ASIOCURL_HTTP_FETCH_ERROR_HPP

#include <asiocurl/error.hpp>

#include <boost/system/system_error.hpp>

#include <string>
#include <string_view>

namespace asiocurl::http {

/// What `with_diagnostics` throws (through the token) for a failed fetch: `code()` is the fetch's error,
/// `what()` reads "URL: curl's detail: the error's message [curl:N]", e.g. "http://127.0.0.1:9/: Failed to
/// connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server [curl:7]".
///
/// The URL is the last one fetched (after redirects) with what may be a secret left out: the user name and
/// password of its authority, its query and its fragment ("https://host/path?..."). curl's detail never
/// holds a credential.
class fetch_error : public boost::system::system_error {
public:
    /// `attempts`: how many an http::client call made (what() says so when more than one).
    fetch_error(error_code ec, std::string curl_message, std::string_view url, unsigned attempts = 1);

    /// curl's own explanation (CURLOPT_ERRORBUFFER), or the library's; may be empty.
    const std::string& curl_message() const noexcept { return curl_message_; }
    /// The URL as shown in what(), without credentials, query or fragment; empty when none was reached.
    const std::string& url() const noexcept { return url_; }
    unsigned attempts() const noexcept { return attempts_; }

    const char* what() const noexcept override { return what_.c_str(); }

private:
    std::string curl_message_;
    std::string url_;
    unsigned attempts_ = 1;
    std::string what_;
};

namespace detail {
// "scheme://user:pass@host/path?q#f" -> "scheme://host/path?..." (the query's mark kept, its text not).
std::string redacted_url(std::string_view url);
}  // namespace detail

}  // namespace asiocurl::http

#endif
