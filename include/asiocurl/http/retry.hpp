// When a failed HTTP call is tried again: the policy, the decision for one failed attempt, and a retry
// budget that stops a retry storm against an upstream that is down. Sans-io (no curl, no clock, no
// randomness of its own): the caller gives the time and a random number, so every rule is unit-tested
// (test/unit/test_retry.cpp). The groundwork of http::client (issue "http::client"), usable on its own around
// async_fetch.
#ifndef ASIOCURL_HTTP_RETRY_HPP
#define ASIOCURL_HTTP_RETRY_HPP

#include <asiocurl/error.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

namespace asiocurl::http {

/// What is known of one failed attempt when deciding whether to try again.
struct attempt_result {
    std::string_view method;  ///< "GET", "POST", ...
    error_code error;         ///< the transfer's (a curl code), or none when a response came
    unsigned status = 0;      ///< the response's status; 0 without a response
    /// Some of the request reached a connection (curl's CURLINFO_REQUEST_SIZE; transfer_info::request_sent):
    /// a timeout after that may have come after the server acted on it.
    bool request_sent = false;
    /// The request body can be sent again (empty, or held in memory); a streamed upload cannot.
    bool body_replayable = true;
    /// The response's Retry-After, as curl parsed it (CURLINFO_RETRY_AFTER: seconds or an HTTP date).
    std::optional<std::chrono::seconds> retry_after;
};

/// How often and after how long a call is tried again. The defaults retry only where a retry cannot do
/// harm: a failure before the request was sent (name resolution, connection, TLS handshake), for any method;
/// 502, 503, 504 and 429 for idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE), after the server's
/// Retry-After when it gives one. Anything else only when `retry_if` says so. A body that cannot be
/// replayed is never sent twice.
struct retry_policy {
    /// Attempts in all, the first included (1: never again).
    unsigned max_attempts = 3;
    /// Exponential backoff with full jitter: the wait before attempt n+1 is drawn uniformly from
    /// [0, min(max_delay, base_delay * 2^(n-1))).
    std::chrono::milliseconds base_delay{100};
    std::chrono::milliseconds max_delay{10'000};
    /// The server's Retry-After is waited for (when longer than the drawn wait) up to this long; a longer
    /// one ends the call with that response.
    std::chrono::milliseconds max_retry_after{60'000};
    /// 502, 503, 504 and 429 are retried for every method, POST and PATCH included (the server may have
    /// acted on the request before it failed).
    bool retry_unsafe_methods = false;
    /// Beyond the defaults: an attempt for which this returns true is retried too (still within the
    /// attempts, the deadline and the budget, and never with a body that cannot be replayed).
    std::function<bool(const attempt_result&)> retry_if{};
};

/// Why an attempt was, or was not, tried again.
enum class retry_reason {
    not_retryable,          ///< the failure is not one the policy retries
    failed_before_sending,  ///< retried: nothing reached the server
    status_retryable,       ///< retried: 502, 503, 504 or 429
    caller_asked,           ///< retried: retry_policy::retry_if
    attempts_exhausted,
    deadline,              ///< the wait would end after the call's deadline
    retry_after_too_long,  ///< the server asked for a wait beyond max_retry_after
    body_not_replayable,
    budget_exhausted,  ///< set by the caller of decide_retry when the budget refused (retry_budget)
};

/// The text of a reason, for logs and errors ("failed before sending", "attempts exhausted", ...).
std::string_view to_string(retry_reason reason) noexcept;

struct retry_decision {
    bool retry = false;
    retry_reason why = retry_reason::not_retryable;
    std::chrono::milliseconds delay{0};  ///< the wait before the next attempt, when retried
};

/// Refuses a policy that cannot work: no attempt at all, a negative delay, a base delay above the maximum
/// (errc::invalid_argument).
error_code check(const retry_policy& policy) noexcept;

/// Whether `method` may be sent twice with the same effect (RFC 9110 9.2.2, as the retry defaults read it).
bool is_idempotent(std::string_view method) noexcept;

/// Whether the failure happened before the request could reach the server.
bool failed_before_sending(const attempt_result& result) noexcept;

/// The decision after attempt number `attempt` (1 for the first) failed as `result` says. `remaining`: the
/// time left until the call's deadline (none: no deadline). `random_unit`: uniform in [0, 1), for the
/// jitter.
retry_decision decide_retry(const retry_policy& policy, unsigned attempt, const attempt_result& result,
                            std::optional<std::chrono::milliseconds> remaining, double random_unit);

/// A client-wide cap on retries: at most `ratio` of the requests begun in the last `window`, but always
/// `min_retries` in a window (so that a quiet client may still retry). When an upstream is down every call
/// fails; without a budget each would be tried max_attempts times, multiplying the load on it.
struct retry_budget_options {
    double ratio = 0.2;
    std::chrono::milliseconds window{10'000};
    unsigned min_retries = 10;
};

/// The budget's bookkeeping over a sliding window of ten slots. Not synchronised: the client holds it
/// under its lock. Times come from the caller (a steady clock).
class retry_budget {
public:
    using time_point = std::chrono::steady_clock::time_point;

    explicit retry_budget(retry_budget_options options = {});

    /// A request (a call's first attempt) begins.
    void record_request(time_point now) noexcept;
    /// Asks to retry: true (and counted) when the window's retries stay within the budget.
    bool try_spend(time_point now) noexcept;

    /// Within the current window.
    std::uint64_t requests(time_point now) noexcept;
    std::uint64_t retries(time_point now) noexcept;

private:
    static constexpr std::size_t slots = 10;
    struct slot {
        std::int64_t index = -1;  // which slot-long interval since the clock's epoch it counts
        std::uint64_t requests = 0;
        std::uint64_t retries = 0;
    };
    slot& current(time_point now) noexcept;
    std::uint64_t in_window(time_point now, std::uint64_t slot::*count) noexcept;
    std::int64_t slot_index(time_point now) const noexcept;

    retry_budget_options options_;
    std::chrono::nanoseconds slot_length_;
    std::array<slot, slots> slots_{};
};

}  // namespace asiocurl::http

#endif
