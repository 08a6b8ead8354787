// asiocurl::http::response: a Beast response plus what curl knows about the transfer.
#ifndef ASIOCURL_HTTP_RESPONSE_HPP
#define ASIOCURL_HTTP_RESPONSE_HPP

#include <asiocurl/http/retry.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace asiocurl::http {

/// What curl knows about a finished transfer that a Beast message does not carry.
struct transfer_info {
    std::string effective_url;  ///< the URL last fetched (after redirects)
    long redirect_count = 0;
    struct timings {
        std::chrono::microseconds resolve{};     ///< name resolved (from the start)
        std::chrono::microseconds connect{};     ///< TCP connected
        std::chrono::microseconds tls{};         ///< TLS handshake done (0 without TLS)
        std::chrono::microseconds first_byte{};  ///< first response byte
        std::chrono::microseconds total{};
        /// Waiting for a connection slot (the multi's connection limits) before anything else started:
        /// CURLINFO_QUEUE_TIME_T, measured by libcurl 8.6 and later; empty on an older running libcurl.
        std::optional<std::chrono::microseconds> queue;
    } times;
    std::uint64_t bytes_sent = 0;      ///< request body bytes
    std::uint64_t bytes_received = 0;  ///< response body bytes (as received, before decoding)
    bool connection_reused = false;    ///< no new connection was opened for it
    /// Some of the request was sent (CURLINFO_REQUEST_SIZE, asked only of a failed transfer): false when it
    /// failed resolving, connecting or in the TLS handshake, so a retry cannot do the request twice.
    bool request_sent = true;
    unsigned http_version = 0;  ///< 10, 11, 20 or 30
    /// curl's ids (CURLINFO_CONN_ID, CURLINFO_XFER_ID; libcurl 8.2 and later, empty on an older running one):
    /// transfers with the same connection_id used the same connection (HTTP/2 multiplexing, keep-alive); no
    /// connection_id when none was made. Both are unique within one multi only.
    std::optional<std::int64_t> connection_id;
    std::optional<std::int64_t> transfer_id;
    /// curl's detail when the fetch failed ("SSL certificate problem: unable to get local issuer
    /// certificate", "Failed to connect to 127.0.0.1 port 9 ..."); empty on success.
    std::string error_message;
    /// The server's Retry-After (seconds, or an HTTP date turned into seconds from now, as curl parses it:
    /// CURLINFO_RETRY_AFTER); read for 429 and 503 only.
    std::optional<std::chrono::seconds> retry_after;

    /// The attempts an `http::client` call made, this one included (1 for a plain fetch), and how each
    /// earlier one ended and why it was tried again.
    unsigned attempts = 1;
    struct retried_attempt {
        error_code error;           ///< none when a response came
        unsigned status = 0;        ///< its status; 0 without a response
        std::string error_message;  ///< curl's detail
        retry_reason why = retry_reason::not_retryable;
        std::chrono::milliseconds waited{};  ///< the backoff before the next attempt
    };
    std::vector<retried_attempt> retried;
};

/// A Beast response (status, reason, version, every header in order, body) with the transfer's info.
template <class Body = boost::beast::http::string_body, class Fields = boost::beast::http::fields>
class response : public boost::beast::http::response<Body, Fields> {
public:
    using boost::beast::http::response<Body, Fields>::response;
    transfer_info info;
};

}  // namespace asiocurl::http

#endif
