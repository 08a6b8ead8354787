// The retry decision and budget (http/retry.hpp), rule by rule: no server, no clock, no randomness.
#include <asiocurl/http/retry.hpp>

#include <boost/asio/error.hpp>

#include <gtest/gtest.h>

namespace asiocurl::http {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

attempt_result failed_with(CURLcode code, std::string_view method = "GET", bool sent = false) {
    return attempt_result{.method = method, .error = make_error_code(code), .request_sent = sent};
}

attempt_result answered(unsigned status, std::string_view method = "GET") {
    return attempt_result{.method = method, .status = status, .request_sent = true};
}

// ---- which failures are retried ----

TEST(retry, failures_before_sending_are_retried_for_every_method) {
    const retry_policy policy;
    for (CURLcode code : {CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT,
                          CURLE_SSL_CONNECT_ERROR})
        for (std::string_view method : {"GET", "POST", "PATCH"}) {
            const auto d = decide_retry(policy, 1, failed_with(code, method), std::nullopt, 0.5);
            EXPECT_TRUE(d.retry) << code << " " << method;
            EXPECT_EQ(d.why, retry_reason::failed_before_sending);
        }
}

TEST(retry, a_timeout_is_before_sending_only_when_nothing_was_sent) {
    const retry_policy policy;
    EXPECT_TRUE(decide_retry(policy, 1, failed_with(CURLE_OPERATION_TIMEDOUT, "POST", false), {}, 0.5).retry);
    const auto after = decide_retry(policy, 1, failed_with(CURLE_OPERATION_TIMEDOUT, "POST", true), {}, 0.5);
    EXPECT_FALSE(after.retry);
    EXPECT_EQ(after.why, retry_reason::not_retryable);
    // Idempotent or not, a timeout after sending may have reached the server: the caller decides.
    EXPECT_FALSE(decide_retry(policy, 1, failed_with(CURLE_OPERATION_TIMEDOUT, "GET", true), {}, 0.5).retry);
}

TEST(retry, failures_after_sending_and_permanent_ones_are_not_retried) {
    const retry_policy policy;
    for (CURLcode code : {CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE,
                          CURLE_PEER_FAILED_VERIFICATION, CURLE_URL_MALFORMAT, CURLE_TOO_MANY_REDIRECTS}) {
        const auto d = decide_retry(policy, 1, failed_with(code, "GET", true), {}, 0.5);
        EXPECT_FALSE(d.retry) << code;
        EXPECT_EQ(d.why, retry_reason::not_retryable);
    }
    EXPECT_FALSE(decide_retry(policy, 1, {.method = "GET", .error = errc::header_injection}, {}, 0.5).retry);
}

TEST(retry, gateway_errors_and_429_are_retried_for_idempotent_methods_only) {
    const retry_policy policy;
    for (unsigned status : {502u, 503u, 504u, 429u}) {
        for (std::string_view method : {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "get"}) {
            const auto d = decide_retry(policy, 1, answered(status, method), {}, 0.5);
            EXPECT_TRUE(d.retry) << status << " " << method;
            EXPECT_EQ(d.why, retry_reason::status_retryable);
        }
        for (std::string_view method : {"POST", "PATCH", "CONNECT"})
            EXPECT_FALSE(decide_retry(policy, 1, answered(status, method), {}, 0.5).retry) << method;
    }
    for (unsigned status : {200u, 400u, 404u, 500u, 501u, 505u})
        EXPECT_FALSE(decide_retry(policy, 1, answered(status), {}, 0.5).retry) << status;
}

TEST(retry, unsafe_methods_are_retried_on_a_gateway_error_when_the_policy_says_so) {
    const retry_policy policy{.retry_unsafe_methods = true};
    EXPECT_TRUE(decide_retry(policy, 1, answered(503, "POST"), {}, 0.5).retry);
    EXPECT_FALSE(decide_retry(policy, 1, answered(500, "POST"), {}, 0.5).retry);
}

TEST(retry, retry_if_adds_what_the_caller_knows_to_be_safe) {
    retry_policy policy;
    int asked = 0;
    policy.retry_if = [&](const attempt_result& r) {
        ++asked;
        return r.status == 500;
    };
    const auto d = decide_retry(policy, 1, answered(500, "POST"), {}, 0.5);
    EXPECT_TRUE(d.retry);
    EXPECT_EQ(d.why, retry_reason::caller_asked);
    EXPECT_FALSE(decide_retry(policy, 1, answered(404), {}, 0.5).retry);
    EXPECT_EQ(asked, 2);
    // Not asked where the defaults already decided.
    EXPECT_TRUE(decide_retry(policy, 1, answered(503), {}, 0.5).retry);
    EXPECT_EQ(asked, 2);
}

TEST(retry, a_cancelled_attempt_is_never_retried) {
    retry_policy policy;
    policy.retry_if = [](const attempt_result&) { return true; };
    const auto d =
        decide_retry(policy, 1, {.method = "GET", .error = boost::asio::error::operation_aborted}, {}, 0.5);
    EXPECT_FALSE(d.retry);
    EXPECT_EQ(d.why, retry_reason::not_retryable);
}

TEST(retry, a_body_that_cannot_be_replayed_is_never_sent_twice) {
    retry_policy policy;
    policy.retry_if = [](const attempt_result&) { return true; };
    auto before_sending = failed_with(CURLE_COULDNT_CONNECT, "PUT");
    before_sending.body_replayable = false;
    auto gateway = answered(503, "PUT");
    gateway.body_replayable = false;
    for (const auto& r : {before_sending, gateway}) {
        const auto d = decide_retry(policy, 1, r, {}, 0.5);
        EXPECT_FALSE(d.retry);
        EXPECT_EQ(d.why, retry_reason::body_not_replayable);
    }
}

// ---- how often, and after how long ----

TEST(retry, attempts_are_counted_with_the_first) {
    const retry_policy policy{.max_attempts = 3};
    EXPECT_TRUE(decide_retry(policy, 1, answered(503), {}, 0.5).retry);
    EXPECT_TRUE(decide_retry(policy, 2, answered(503), {}, 0.5).retry);
    const auto third = decide_retry(policy, 3, answered(503), {}, 0.5);
    EXPECT_FALSE(third.retry);
    EXPECT_EQ(third.why, retry_reason::attempts_exhausted);
    EXPECT_FALSE(decide_retry(retry_policy{.max_attempts = 1}, 1, answered(503), {}, 0.5).retry);
}

TEST(retry, backoff_is_full_jitter_under_a_doubling_ceiling_capped_at_max_delay) {
    const retry_policy policy{.max_attempts = 20, .base_delay = 100ms, .max_delay = 1000ms};
    auto delay = [&](unsigned attempt, double unit) {
        return decide_retry(policy, attempt, answered(503), {}, unit).delay;
    };
    EXPECT_EQ(delay(1, 0.0), 0ms);  // full jitter: as low as nothing
    EXPECT_EQ(delay(1, 0.5), 50ms);
    EXPECT_EQ(delay(2, 0.5), 100ms);
    EXPECT_EQ(delay(3, 0.5), 200ms);
    EXPECT_EQ(delay(4, 0.999), 799ms);
    EXPECT_EQ(delay(5, 0.5), 500ms);     // the ceiling, 1600 ms, capped at 1000
    EXPECT_EQ(delay(19, 0.999), 999ms);  // no overflow however many attempts
    EXPECT_EQ(delay(2, 7.0), 200ms);     // a unit outside [0, 1) is clamped
}

TEST(retry, retry_after_is_waited_for_when_longer_than_the_backoff) {
    const retry_policy policy{.base_delay = 100ms, .max_delay = 1000ms, .max_retry_after = 30'000ms};
    auto r = answered(503);
    r.retry_after = 5s;
    auto d = decide_retry(policy, 1, r, {}, 0.5);
    EXPECT_TRUE(d.retry);
    EXPECT_EQ(d.delay, 5000ms);  // beyond max_delay: the server's word counts
    r.retry_after = 0s;
    EXPECT_EQ(decide_retry(policy, 1, r, {}, 0.5).delay, 50ms);
}

TEST(retry, retry_after_beyond_its_limit_ends_the_call) {
    const retry_policy policy{.max_retry_after = 10'000ms};
    auto r = answered(429);
    r.retry_after = 11s;
    const auto d = decide_retry(policy, 1, r, {}, 0.5);
    EXPECT_FALSE(d.retry);
    EXPECT_EQ(d.why, retry_reason::retry_after_too_long);
}

TEST(retry, no_wait_is_begun_that_would_end_after_the_deadline) {
    const retry_policy policy{.base_delay = 100ms, .max_delay = 1000ms};
    EXPECT_TRUE(decide_retry(policy, 1, answered(503), 51ms, 0.5).retry);  // waits 50 ms
    const auto d = decide_retry(policy, 1, answered(503), 50ms, 0.5);
    EXPECT_FALSE(d.retry);
    EXPECT_EQ(d.why, retry_reason::deadline);
    auto r = answered(503);
    r.retry_after = 2s;
    EXPECT_EQ(decide_retry(policy, 1, r, 1500ms, 0.0).why, retry_reason::deadline);  // capped by the deadline
    EXPECT_FALSE(decide_retry(policy, 1, answered(503), 0ms, 0.0).retry);
}

// ---- misuse ----

TEST(retry, a_policy_that_cannot_work_is_refused) {
    EXPECT_FALSE(check(retry_policy{}));
    EXPECT_EQ(check(retry_policy{.max_attempts = 0}), errc::invalid_argument);
    EXPECT_EQ(check(retry_policy{.base_delay = -1ms}), errc::invalid_argument);
    EXPECT_EQ(check(retry_policy{.base_delay = 2s, .max_delay = 1s}), errc::invalid_argument);
    EXPECT_EQ(check(retry_policy{.max_retry_after = -1ms}), errc::invalid_argument);
}

TEST(retry, every_reason_has_a_text) {
    for (auto reason :
         {retry_reason::not_retryable, retry_reason::failed_before_sending, retry_reason::status_retryable,
          retry_reason::caller_asked, retry_reason::attempts_exhausted, retry_reason::deadline,
          retry_reason::retry_after_too_long, retry_reason::body_not_replayable,
          retry_reason::budget_exhausted})
        EXPECT_NE(to_string(reason), "unknown");
}

// ---- the budget ----

using time_point = retry_budget::time_point;
const time_point t0 = time_point(std::chrono::hours(1));

TEST(retry_budget, a_quiet_client_may_always_retry_its_minimum) {
    retry_budget budget({.ratio = 0.1, .window = 10s, .min_retries = 3});
    for (int i = 0; i < 3; ++i)
        EXPECT_TRUE(budget.try_spend(t0));
    EXPECT_FALSE(budget.try_spend(t0));
    EXPECT_EQ(budget.retries(t0), 3u);
}

TEST(retry_budget, retries_stay_within_the_ratio_of_requests) {
    retry_budget budget({.ratio = 0.2, .window = 10s, .min_retries = 0});
    for (int i = 0; i < 100; ++i)
        budget.record_request(t0 + std::chrono::milliseconds(i));
    int granted = 0;
    for (int i = 0; i < 100; ++i)  // an upstream that is down: every call wants to retry
        granted += budget.try_spend(t0 + 200ms) ? 1 : 0;
    EXPECT_EQ(granted, 20);
    EXPECT_EQ(budget.requests(t0 + 200ms), 100u);
}

TEST(retry_budget, the_window_slides_and_lets_retries_through_again) {
    retry_budget budget({.ratio = 0.5, .window = 10s, .min_retries = 1});
    for (int i = 0; i < 10; ++i)
        budget.record_request(t0);
    int granted = 0;
    while (budget.try_spend(t0 + 1s))
        ++granted;
    EXPECT_EQ(granted, 5);
    // Still within the window: no more.
    EXPECT_FALSE(budget.try_spend(t0 + 9s));
    // The requests and retries of t0 have left the window: the minimum is there again, then the ratio of
    // the new traffic.
    EXPECT_EQ(budget.requests(t0 + 11s), 0u);
    EXPECT_TRUE(budget.try_spend(t0 + 11s));
    EXPECT_FALSE(budget.try_spend(t0 + 11s));
    for (int i = 0; i < 4; ++i)
        budget.record_request(t0 + 12s);
    EXPECT_TRUE(budget.try_spend(t0 + 12s));  // 2 of 4 allowed, 1 spent
    EXPECT_FALSE(budget.try_spend(t0 + 12s));
}

TEST(retry_budget, a_window_long_silence_forgets_everything) {
    retry_budget budget({.ratio = 0.0, .window = 1s, .min_retries = 2});
    EXPECT_TRUE(budget.try_spend(t0));
    EXPECT_TRUE(budget.try_spend(t0));
    EXPECT_FALSE(budget.try_spend(t0 + 999ms));
    EXPECT_TRUE(budget.try_spend(t0 + 100s));  // slots reused after wrapping around
    EXPECT_EQ(budget.retries(t0 + 100s), 1u);
}

}  // namespace
}  // namespace asiocurl::http
