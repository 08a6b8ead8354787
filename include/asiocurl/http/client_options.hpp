// What an http::client is set up with: its defaults (client_options), one call's departures from them
// (call_options), and the middleware interface with what it sees of an attempt.
#ifndef ASIOCURL_HTTP_CLIENT_OPTIONS_HPP
#define ASIOCURL_HTTP_CLIENT_OPTIONS_HPP

#include <asiocurl/http/options.hpp>
#include <asiocurl/http/response.hpp>
#include <asiocurl/http/retry.hpp>

#include <boost/beast/http/message.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asiocurl::http {

/// What a middleware knows of the attempt it runs around.
struct attempt_context {
    std::string_view method;  ///< the call's (the retry rules go by the method a hook left)
    std::string_view url;     ///< the call's URL, as the request was made (not redacted: see request_log)
    std::string_view destination;  ///< "scheme://host:port" of the call's URL, without credentials
    std::uint64_t call = 0;        ///< the call's number, unique in the process (to match before and after)
    unsigned attempt = 1;          ///< 1 for the first
    std::chrono::steady_clock::time_point call_started;
    std::optional<std::chrono::steady_clock::time_point> deadline;  ///< the call's, if it has one
};

/// How an attempt ended, and what the client does next.
struct attempt_outcome {
    error_code error;
    /// The response's head (status, reason, fields) and what curl knows; status 0 when none arrived.
    const boost::beast::http::response_header<>& head;
    const transfer_info& info;
    std::chrono::steady_clock::duration elapsed{};  ///< from the attempt's start to its end
    retry_decision next;  ///< `next.retry`: another attempt follows after `next.delay`
};

/// A hook around each attempt of a call: `before_attempt` may change the request (add auth, trace headers,
/// a request id; its method, target or fields), `after_attempt` sees the outcome. Before-hooks run in the
/// order the client lists them, after-hooks in the reverse order (the first middleware wraps the rest), on
/// the executor the call runs on (its handler's associated executor, else the client's). A client used from
/// several threads calls them from several threads: a middleware guards its own state.
///
/// An exception from a hook ends the call with `errc::middleware_failed` (its `what()` in
/// `info.error_message`); the hooks after it are not run for that attempt, and a request not yet sent is
/// not sent. Every hook whose `before_attempt` ran sees that attempt's `after_attempt`, also when a later
/// hook threw or the call was cancelled before sending (`error` says which). The same goes for what
/// `call_options::adjust` and `retry_policy::retry_if` throw.
class middleware {
public:
    virtual ~middleware() = default;
    virtual void before_attempt(const attempt_context& context,
                                boost::beast::http::request_header<>& request);
    virtual void after_attempt(const attempt_context& context, const attempt_outcome& outcome);
};

/// The defaults of every call of a client.
struct client_options {
    /// Prefixed to an origin-form target ("/users/7"); an absolute URL in a request goes where it says.
    std::string base_url;
    /// Set on each request that does not have the field already (Accept, an API version, ...).
    std::vector<std::pair<std::string, std::string>> headers;
    /// The transfer options of every attempt (timeouts, TLS, proxy, ...; their base_url is `base_url`).
    options transfer;
    retry_policy retry;
    /// The client-wide cap on retries (shared by the client's copies); none: no cap.
    std::optional<retry_budget_options> retry_budget = retry_budget_options{};
    /// Each call's deadline, every attempt and wait included (0: none): `condition::timed_out` when it
    /// passes. A call may give its own.
    std::chrono::milliseconds deadline{0};
    /// When not empty, each attempt of a call with a deadline sends this field with the milliseconds left
    /// ("X-Request-Timeout-Ms: 830"), so that the upstream can give up when the caller will have.
    std::string deadline_header;
    std::vector<std::shared_ptr<http::middleware>> middleware;
};

/// One call's departures from the client's defaults.
struct call_options {
    std::optional<std::chrono::milliseconds> deadline;  ///< 0: none for this call
    std::optional<retry_policy> retry;
    /// Changes the client's transfer options for this call only (a longer timeout for an export, ...).
    std::function<void(options&)> adjust;
};

}  // namespace asiocurl::http

#endif
