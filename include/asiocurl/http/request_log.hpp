// asiocurl::http::request_log: one record an attempt, through a sink of the user's, with secrets left out.
#ifndef ASIOCURL_HTTP_REQUEST_LOG_HPP
#define ASIOCURL_HTTP_REQUEST_LOG_HPP

#include <asiocurl/http/client_options.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace asiocurl::http {

/// An attempt as logged. Nothing in it is a secret: the URL has no user name, password, query or fragment
/// ("https://host/path?..."), and the values of Authorization, Proxy-Authorization, Cookie and Set-Cookie
/// read "[redacted]".
struct log_entry {
    std::string method;
    std::string url;
    unsigned attempt = 1;
    unsigned status = 0;  ///< 0: no response
    error_code error;
    std::string error_message;  ///< curl's detail
    std::chrono::microseconds elapsed{};
    bool connection_reused = false;
    retry_decision next;  ///< whether another attempt follows, after how long, and why (or why not)
    std::vector<std::pair<std::string, std::string>> request_fields;   ///< as sent, redacted
    std::vector<std::pair<std::string, std::string>> response_fields;  ///< as received, redacted

    /// One line: `GET https://host/path?... -> 503 in 12.3 ms (attempt 1, new connection; retrying in
    /// 100 ms: retryable status) > Accept: a, Authorization: [redacted] < Retry-After: 1`.
    std::string to_string() const;
};

/// Calls `sink` once an attempt with its `log_entry`, on the call's executor (a sink used by a client on
/// several threads is called from them). The request fields are those the middlewares before this one in
/// the client's list have set: put it last to log what is sent. `with_fields`: the fields too.
class request_log final : public middleware {
public:
    explicit request_log(std::function<void(const log_entry&)> sink, bool with_fields = true);

    void before_attempt(const attempt_context& context,
                        boost::beast::http::request_header<>& request) override;
    void after_attempt(const attempt_context& context, const attempt_outcome& outcome) override;

    /// Whether a field's value is left out of logs.
    static bool is_secret(std::string_view field_name) noexcept;

private:
    std::function<void(const log_entry&)> sink_;
    bool with_fields_;
    std::mutex mutex_;
    // The request fields of attempts in flight, by call and attempt, until their after_attempt.
    std::map<std::pair<std::uint64_t, unsigned>, std::vector<std::pair<std::string, std::string>>> sent_;
};

}  // namespace asiocurl::http

#endif
