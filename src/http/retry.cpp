// The retry decision and the retry budget (http/retry.hpp): no curl call, no clock, no randomness here.
#include <asiocurl/http/retry.hpp>

#include <boost/asio/error.hpp>
#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <cmath>

namespace asiocurl::http {
namespace {

using std::chrono::milliseconds;

bool is_curl(const error_code& ec, CURLcode code) noexcept {
    return ec.category() == curl_category() && ec.value() == static_cast<int>(code);
}

bool retryable_status(unsigned status) noexcept {
    return status == 502 || status == 503 || status == 504 || status == 429;
}

// The wait before attempt `attempt` + 1: full jitter over an exponential ceiling ("Exponential Backoff And
// Jitter": spreading the retries of many clients uniformly is what keeps them from arriving together).
milliseconds jittered_backoff(const retry_policy& policy, unsigned attempt, double random_unit) {
    const double unit = std::clamp(random_unit, 0.0, 1.0);
    const double ceiling = std::min(static_cast<double>(policy.max_delay.count()),
                                    static_cast<double>(policy.base_delay.count()) *
                                        std::ldexp(1.0, static_cast<int>(std::min(attempt, 62u)) - 1));
    return milliseconds(static_cast<milliseconds::rep>(std::floor(unit * ceiling)));
}

}  // namespace

std::string_view to_string(retry_reason reason) noexcept {
    switch (reason) {
        case retry_reason::not_retryable:
            return "not retryable";
        case retry_reason::failed_before_sending:
            return "failed before sending";
        case retry_reason::status_retryable:
            return "retryable status";
        case retry_reason::caller_asked:
            return "retried as the caller asked";
        case retry_reason::attempts_exhausted:
            return "attempts exhausted";
        case retry_reason::deadline:
            return "the wait would pass the deadline";
        case retry_reason::retry_after_too_long:
            return "Retry-After beyond max_retry_after";
        case retry_reason::body_not_replayable:
            return "the request body cannot be sent again";
        case retry_reason::budget_exhausted:
            return "retry budget exhausted";
    }
    return "unknown";
}

error_code check(const retry_policy& policy) noexcept {
    if (policy.max_attempts == 0 || policy.base_delay.count() < 0 || policy.max_delay.count() < 0 ||
        policy.max_retry_after.count() < 0 || policy.base_delay > policy.max_delay)
        return errc::invalid_argument;
    return {};
}

bool is_idempotent(std::string_view method) noexcept {
    return boost::beast::iequals(method, "GET") || boost::beast::iequals(method, "HEAD") ||
           boost::beast::iequals(method, "OPTIONS") || boost::beast::iequals(method, "PUT") ||
           boost::beast::iequals(method, "DELETE");
}

bool failed_before_sending(const attempt_result& result) noexcept {
    const error_code& ec = result.error;
    if (is_curl(ec, CURLE_COULDNT_RESOLVE_HOST) || is_curl(ec, CURLE_COULDNT_RESOLVE_PROXY) ||
        is_curl(ec, CURLE_COULDNT_CONNECT))
        return true;
    // The TLS handshake failed (not the certificate's verification, which fails alike next time): the
    // request is sent only after it.
    if (is_curl(ec, CURLE_SSL_CONNECT_ERROR)) return true;
    // A timeout before any of the request was sent: CURLOPT_CONNECTTIMEOUT, or the whole deadline spent
    // resolving and connecting.
    if (is_curl(ec, CURLE_OPERATION_TIMEDOUT) && !result.request_sent) return true;
    return false;
}

retry_decision decide_retry(const retry_policy& policy, unsigned attempt, const attempt_result& result,
                            std::optional<milliseconds> remaining, double random_unit) {
    retry_decision out;
    // A cancelled call ends, whatever the policy says: cancellation is the caller's word.
    if (result.error == boost::asio::error::operation_aborted) return out;
    if (failed_before_sending(result))
        out.why = retry_reason::failed_before_sending;
    else if (!result.error && retryable_status(result.status) &&
             (policy.retry_unsafe_methods || is_idempotent(result.method)))
        out.why = retry_reason::status_retryable;
    else if (policy.retry_if && policy.retry_if(result))
        out.why = retry_reason::caller_asked;
    else
        return out;  // not_retryable
    if (!result.body_replayable) {
        out.why = retry_reason::body_not_replayable;
        return out;
    }
    if (attempt >= policy.max_attempts) {
        out.why = retry_reason::attempts_exhausted;
        return out;
    }
    out.delay = jittered_backoff(policy, attempt, random_unit);
    if (result.retry_after && !result.error) {
        const milliseconds asked = *result.retry_after;
        if (asked > policy.max_retry_after) {
            out.why = retry_reason::retry_after_too_long;
            out.delay = milliseconds(0);
            return out;
        }
        out.delay = std::max(out.delay, asked);
    }
    if (remaining && out.delay >= *remaining) {
        out.why = retry_reason::deadline;
        out.delay = milliseconds(0);
        return out;
    }
    out.retry = true;
    return out;
}

retry_budget::retry_budget(retry_budget_options options)
    : options_(options),
      slot_length_(std::max(std::chrono::nanoseconds(options.window) / static_cast<long>(slots),
                            std::chrono::nanoseconds(1))) {}

std::int64_t retry_budget::slot_index(time_point now) const noexcept {
    return static_cast<std::int64_t>(now.time_since_epoch() / slot_length_);
}

retry_budget::slot& retry_budget::current(time_point now) noexcept {
    const std::int64_t index = slot_index(now);
    slot& s = slots_[static_cast<std::size_t>(index % static_cast<std::int64_t>(slots))];
    if (s.index != index) s = slot{index, 0, 0};  // a slot from a window that has passed
    return s;
}

void retry_budget::record_request(time_point now) noexcept {
    ++current(now).requests;
}

std::uint64_t retry_budget::in_window(time_point now, std::uint64_t slot::*count) noexcept {
    const std::int64_t newest = slot_index(now);
    std::uint64_t total = 0;
    for (const slot& s : slots_)
        if (s.index > newest - static_cast<std::int64_t>(slots) && s.index <= newest) total += s.*count;
    return total;
}

std::uint64_t retry_budget::requests(time_point now) noexcept {
    return in_window(now, &slot::requests);
}

std::uint64_t retry_budget::retries(time_point now) noexcept {
    return in_window(now, &slot::retries);
}

bool retry_budget::try_spend(time_point now) noexcept {
    const double allowed = std::max(static_cast<double>(options_.min_retries),
                                    options_.ratio * static_cast<double>(requests(now)));
    if (static_cast<double>(retries(now)) + 1.0 > allowed) return false;
    ++current(now).retries;
    return true;
}

}  // namespace asiocurl::http
