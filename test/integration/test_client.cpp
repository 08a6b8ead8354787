// http::client against the test server: defaults, retries (counted by the server), Retry-After, deadlines,
// cancellation in the backoff, middleware, the budget, statistics and the request log.
#include <asiocurl/http.hpp>
#include <asiocurl/http/client.hpp>
#include <asiocurl/http/client_statistics.hpp>
#include <asiocurl/http/request_log.hpp>

#include "multi_fixture.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace asiocurl {
namespace {

namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

// A key of this test's own for /flaky (its counts span the process).
std::string flaky_key() {
    static std::atomic<int> next{0};
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    return std::string(test->name()) + "-" + std::to_string(next++);
}

class client_test : public test::multi_test {
protected:
    // A call's outcome, once.
    struct outcome {
        int calls = 0;
        error_code ec;
        http::response<> res;
    };

    template <class Start>
    outcome run(Start start, std::chrono::milliseconds bound = 30s) {
        outcome out;
        start([&out](error_code ec, http::response<> res) {
            ++out.calls;
            out.ec = ec;
            out.res = std::move(res);
        });
        EXPECT_EQ(out.calls, 0) << "completed inside the initiating call";
        EXPECT_TRUE(test::run_until(
            ioc, [&] { return out.calls > 0; }, bound))
            << "the call did not complete";
        ioc.poll();
        EXPECT_EQ(out.calls, 1);
        return out;
    }

    http::client_options fast_retries() {
        http::client_options o;
        o.base_url = server.url("");
        o.retry.base_delay = 1ms;
        o.retry.max_delay = 5ms;
        return o;
    }
};

TEST_F(client_test, base_url_default_headers_and_the_verbs) {
    auto o = fast_retries();
    o.headers = {{"X-Service", "orders"}, {"Accept", "application/json"}};
    http::client c(*m, o);
    auto got = run([&](auto h) { c.async_get("/headers", h); });
    ASSERT_FALSE(got.ec) << got.ec.message();
    EXPECT_NE(got.res.body().find("X-Service: orders"), std::string::npos) << got.res.body();
    EXPECT_NE(got.res.body().find("Accept: application/json"), std::string::npos);
    EXPECT_EQ(got.res.info.attempts, 1u);
    EXPECT_TRUE(got.res.info.retried.empty());

    // The request's own field wins over the default.
    bhttp::request<bhttp::empty_body> own(bhttp::verb::get, "/headers", 11);
    own.set("Accept", "text/plain");
    got = run([&](auto h) { c.async_fetch(std::move(own), h); });
    EXPECT_NE(got.res.body().find("Accept: text/plain"), std::string::npos) << got.res.body();
    EXPECT_EQ(got.res.body().find("application/json"), std::string::npos);

    got = run([&](auto h) { c.async_post("/echo", "payload", "text/x-test", h); });
    EXPECT_EQ(got.res.body(), "payload");
    EXPECT_EQ(got.res[bhttp::field::content_type], "text/x-test");
    got = run([&](auto h) { c.async_put("/echo", "put body", "text/plain", h); });
    EXPECT_EQ(got.res.body(), "put body");
    got = run([&](auto h) { c.async_delete("/status/204", h); });
    EXPECT_EQ(got.res.result_int(), 204u);
    got = run([&](auto h) { c.async_head("/bytes/100", h); });
    EXPECT_EQ(got.res.result_int(), 200u);
    EXPECT_TRUE(got.res.body().empty());
}

TEST_F(client_test, deferred_and_awaitable_tokens_work_as_on_a_fetch) {
    http::client c(*m, fast_retries());
    // Deferred: nothing starts until the operation is launched.
    const std::size_t served_before = server.requests_served();
    auto deferred = c.async_get("/flaky/1?key=" + flaky_key(), boost::asio::deferred);
    ioc.poll();
    EXPECT_EQ(server.requests_served(), served_before);
    auto got = run([&](auto h) { std::move(deferred)(h); });
    EXPECT_EQ(got.res.result_int(), 200u);
    EXPECT_EQ(got.res.info.attempts, 2u);

    int calls = 0;
    boost::asio::co_spawn(
        ioc,
        [&]() -> boost::asio::awaitable<void> {
            auto [ec, res] =
                co_await c.async_get("/bytes/64", boost::asio::as_tuple(boost::asio::use_awaitable));
            EXPECT_FALSE(ec);
            EXPECT_EQ(res.body().size(), 64u);
            ++calls;
        },
        boost::asio::detached);
    ASSERT_TRUE(test::run_until(ioc, [&] { return calls > 0; }));
}

TEST_F(client_test, a_failing_upstream_is_retried_until_it_answers) {
    http::client c(*m, fast_retries());
    const std::string target = "/flaky/2?key=" + flaky_key();
    const std::size_t served_before = server.requests_served();
    auto got = run([&](auto h) { c.async_get(target, h); });
    ASSERT_FALSE(got.ec) << got.ec.message();
    EXPECT_EQ(got.res.body(), "ok after 2");
    EXPECT_EQ(got.res["X-Attempt"], "3");
    EXPECT_EQ(server.requests_served() - served_before, 3u);
    EXPECT_EQ(got.res.info.attempts, 3u);
    ASSERT_EQ(got.res.info.retried.size(), 2u);
    for (const auto& r : got.res.info.retried) {
        EXPECT_EQ(r.status, 503u);
        EXPECT_FALSE(r.error);
        EXPECT_EQ(r.why, http::retry_reason::status_retryable);
        EXPECT_LE(r.waited, 5ms);
    }
}

TEST_F(client_test, attempts_end_with_the_last_response) {
    http::client c(*m, fast_retries());  // 3 attempts
    auto got = run([&](auto h) { c.async_get("/flaky/5?status=502&key=" + flaky_key(), h); });
    EXPECT_FALSE(got.ec);  // an answer, if not a good one
    EXPECT_EQ(got.res.result_int(), 502u);
    EXPECT_EQ(got.res["X-Attempt"], "3");
    EXPECT_EQ(got.res.info.attempts, 3u);
    EXPECT_EQ(got.res.info.retried.size(), 2u);
}

TEST_F(client_test, retry_after_is_waited_for_and_capped_by_the_deadline) {
    http::client c(*m, fast_retries());
    const auto started = std::chrono::steady_clock::now();
    auto got = run([&](auto h) { c.async_get("/flaky/1?retry_after=1&key=" + flaky_key(), h); });
    ASSERT_FALSE(got.ec);
    EXPECT_EQ(got.res.result_int(), 200u);
    ASSERT_EQ(got.res.info.retried.size(), 1u);
    EXPECT_EQ(got.res.info.retried[0].waited, 1000ms);  // the server's second, not the 5 ms backoff
    EXPECT_GE(std::chrono::steady_clock::now() - started, 1000ms);

    // With half a second left, a wait of one is not begun: the 503 is the answer.
    http::call_options call;
    call.deadline = 500ms;
    got = run([&](auto h) {
        c.async_fetch(bhttp::request<bhttp::empty_body>(bhttp::verb::get,
                                                        "/flaky/1?retry_after=1&key=" + flaky_key(), 11),
                      call, h);
    });
    EXPECT_FALSE(got.ec);
    EXPECT_EQ(got.res.result_int(), 503u);
    EXPECT_EQ(got.res.info.attempts, 1u);
    EXPECT_EQ(got.res.info.retry_after, std::chrono::seconds(1));
}

TEST_F(client_test, a_post_is_not_retried_unless_the_caller_says_so) {
    http::client c(*m, fast_retries());
    const std::string key = flaky_key();
    auto got = run([&](auto h) { c.async_post("/flaky/1?key=" + key, "order", "text/plain", h); });
    EXPECT_EQ(got.res.result_int(), 503u);
    EXPECT_EQ(got.res.info.attempts, 1u);

    http::call_options call;
    call.retry = c.options().retry;
    call.retry->retry_unsafe_methods = true;
    bhttp::request<bhttp::string_body> post(bhttp::verb::post, "/flaky/1?key=" + flaky_key(), 11, "order");
    post.prepare_payload();
    got = run([&](auto h) { c.async_fetch(std::move(post), call, h); });
    EXPECT_EQ(got.res.result_int(), 200u);
    EXPECT_EQ(got.res.info.attempts, 2u);
}

TEST_F(client_test, a_request_that_never_left_is_retried_whatever_its_method) {
    auto o = fast_retries();
    o.base_url = "http://127.0.0.1:9";  // nothing listens: refused at once
    http::client c(*m, o);
    auto got = run([&](auto h) { c.async_post("/orders", "order", "text/plain", h); });
    EXPECT_EQ(got.ec, condition::connect_failed) << got.ec.message();
    EXPECT_EQ(got.res.info.attempts, 3u);
    ASSERT_EQ(got.res.info.retried.size(), 2u);
    EXPECT_EQ(got.res.info.retried[0].why, http::retry_reason::failed_before_sending);
    EXPECT_EQ(got.res.info.retried[0].error, condition::connect_failed);
    EXPECT_FALSE(got.res.info.retried[0].error_message.empty());
    EXPECT_FALSE(got.res.info.request_sent);
}

TEST_F(client_test, a_reset_after_sending_is_not_retried) {
    http::client c(*m, fast_retries());
    auto got = run([&](auto h) { c.async_get("/flaky/1?status=0&key=" + flaky_key(), h); });
    EXPECT_TRUE(got.ec);
    EXPECT_TRUE(got.res.info.request_sent);
    EXPECT_EQ(got.res.info.attempts, 1u);
}

TEST_F(client_test, cancellation_ends_the_backoff_at_once) {
    boost::asio::cancellation_signal signal;
    // The server asks for 30 s; the caller gives up as soon as the first attempt is in.
    struct canceller : http::middleware {
        boost::asio::io_context& ioc;
        boost::asio::cancellation_signal& signal;
        canceller(boost::asio::io_context& i, boost::asio::cancellation_signal& s) : ioc(i), signal(s) {}
        void after_attempt(const http::attempt_context&, const http::attempt_outcome& o) override {
            if (o.next.retry)
                boost::asio::post(ioc, [this] { signal.emit(boost::asio::cancellation_type::terminal); });
        }
    };
    auto o = fast_retries();
    o.middleware.push_back(std::make_shared<canceller>(ioc, signal));
    http::client cancelling(*m, o);
    const auto started = std::chrono::steady_clock::now();
    auto got = run([&](auto h) {
        cancelling.async_get("/flaky/1?retry_after=30&key=" + flaky_key(),
                             boost::asio::bind_cancellation_slot(signal.slot(), h));
    });
    EXPECT_EQ(got.ec, boost::asio::error::operation_aborted);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
    EXPECT_EQ(got.res.result_int(), 503u);  // the last attempt's answer comes with it
    EXPECT_EQ(got.res.info.attempts, 1u);
}

TEST_F(client_test, cancellation_of_a_running_attempt_is_not_retried) {
    http::client c(*m, fast_retries());
    boost::asio::cancellation_signal signal;
    auto got = run([&](auto h) {
        c.async_get("/stall", boost::asio::bind_cancellation_slot(signal.slot(), h));
        boost::asio::post(ioc, [&] { signal.emit(boost::asio::cancellation_type::terminal); });
    });
    EXPECT_EQ(got.ec, boost::asio::error::operation_aborted);
    EXPECT_EQ(got.res.info.attempts, 1u);
}

TEST_F(client_test, the_deadline_bounds_every_attempt_and_is_sent_upstream) {
    auto o = fast_retries();
    o.deadline = 2s;
    o.deadline_header = "X-Request-Timeout-Ms";
    http::client c(*m, o);
    auto got = run([&](auto h) { c.async_get("/headers", h); });
    const auto at = got.res.body().find("X-Request-Timeout-Ms: ");
    ASSERT_NE(at, std::string::npos) << got.res.body();
    const long left = std::stol(got.res.body().substr(at + 22));
    EXPECT_GT(left, 0);
    EXPECT_LE(left, 2000);

    http::call_options call;
    call.deadline = 300ms;
    got = run([&](auto h) {
        c.async_fetch(bhttp::request<bhttp::empty_body>(bhttp::verb::get, "/stall", 11), call, h);
    });
    EXPECT_EQ(got.ec, condition::timed_out) << got.ec.message();
    EXPECT_EQ(got.res.info.attempts, 1u);  // sent, then timed out: not retried
}

TEST_F(client_test, with_diagnostics_says_the_url_curls_detail_and_the_attempts) {
    auto o = fast_retries();
    o.base_url = "http://user:secret@127.0.0.1:9";
    http::client c(*m, o);
    std::string what;
    int calls = 0;
    boost::asio::co_spawn(
        ioc,
        [&]() -> boost::asio::awaitable<void> {
            try {
                co_await c.async_get("/orders?token=abc", http::with_diagnostics(boost::asio::use_awaitable));
            } catch (const http::fetch_error& e) {
                what = e.what();
                EXPECT_EQ(e.attempts(), 3u);
                EXPECT_EQ(e.code(), condition::connect_failed);
            }
            ++calls;
        },
        boost::asio::detached);
    ASSERT_TRUE(test::run_until(ioc, [&] { return calls > 0; }));
    EXPECT_NE(what.find("http://127.0.0.1:9/orders?..."), std::string::npos) << what;
    EXPECT_NE(what.find("after 3 attempts"), std::string::npos) << what;
    EXPECT_EQ(what.find("secret"), std::string::npos) << what;
    EXPECT_EQ(what.find("token"), std::string::npos) << what;
}

// Two middlewares: the first wraps the second; both change the request the server sees.
struct tracing : http::middleware {
    std::string name;
    std::vector<std::string>& order;
    tracing(std::string n, std::vector<std::string>& o) : name(std::move(n)), order(o) {}
    void before_attempt(const http::attempt_context& context, bhttp::request_header<>& request) override {
        order.push_back(name + ".before." + std::to_string(context.attempt));
        request.set("X-Trace-" + name, std::to_string(context.attempt));
    }
    void after_attempt(const http::attempt_context& context, const http::attempt_outcome& outcome) override {
        order.push_back(name + ".after." + std::to_string(context.attempt) + "." +
                        std::to_string(outcome.head.result_int()));
    }
};

TEST_F(client_test, middleware_run_in_order_around_each_attempt_and_change_the_request) {
    std::vector<std::string> order;
    auto o = fast_retries();
    o.middleware = {std::make_shared<tracing>("a", order), std::make_shared<tracing>("b", order)};
    http::client c(*m, o);
    auto got = run([&](auto h) { c.async_get("/headers", h); });
    EXPECT_NE(got.res.body().find("X-Trace-a: 1"), std::string::npos) << got.res.body();
    EXPECT_NE(got.res.body().find("X-Trace-b: 1"), std::string::npos);
    EXPECT_EQ(order,
              (std::vector<std::string>{"a.before.1", "b.before.1", "b.after.1.200", "a.after.1.200"}));

    order.clear();
    got = run([&](auto h) { c.async_get("/flaky/1?key=" + flaky_key(), h); });
    EXPECT_EQ(order,
              (std::vector<std::string>{"a.before.1", "b.before.1", "b.after.1.503", "a.after.1.503",
                                        "a.before.2", "b.before.2", "b.after.2.200", "a.after.2.200"}));
}

// Each attempt sends the request as the caller made it: the same body the third time, whether the attempt
// sent the original (handed back by the fetch as it ended) or a copy (middleware change what is sent).
TEST_F(client_test, every_attempt_sends_the_whole_request_again) {
    for (bool with_middleware : {false, true}) {
        auto o = fast_retries();
        o.retry.retry_unsafe_methods = true;
        std::vector<std::string> order;
        if (with_middleware) o.middleware.push_back(std::make_shared<tracing>("t", order));
        http::client c(*m, o);
        auto got = run([&](auto h) {
            c.async_post("/flaky/2?echo=1&key=" + flaky_key(), std::string(100000, 'x') + "the end",
                         "text/plain", h);
        });
        EXPECT_EQ(got.res.result_int(), 200u) << with_middleware;
        EXPECT_EQ(got.res.info.attempts, 3u);
        EXPECT_EQ(got.res.body().size(), 100007u);
        EXPECT_TRUE(got.res.body().ends_with("the end"));
        EXPECT_EQ(order.size(), with_middleware ? 6u : 0u);
    }
}

TEST_F(client_test, a_middleware_that_throws_ends_the_call_before_anything_is_sent) {
    struct refusing : http::middleware {
        void before_attempt(const http::attempt_context&, bhttp::request_header<>&) override {
            throw std::runtime_error("no credentials for this upstream");
        }
    };
    auto o = fast_retries();
    o.middleware.push_back(std::make_shared<refusing>());
    http::client c(*m, o);
    const std::size_t served_before = server.requests_served();
    auto got = run([&](auto h) { c.async_get("/bytes/10", h); });
    EXPECT_EQ(got.ec, errc::middleware_failed);
    EXPECT_EQ(got.res.info.error_message, "no credentials for this upstream");
    EXPECT_EQ(server.requests_served(), served_before);
}

// What the caller's own callbacks throw ends the call as a middleware's would, once, from the executor.
TEST_F(client_test, a_throwing_adjust_or_retry_if_ends_the_call_with_middleware_failed) {
    http::client c(*m, fast_retries());
    http::call_options call;
    call.adjust = [](http::options&) { throw std::runtime_error("bad adjust"); };
    auto got = run([&](auto h) {
        c.async_fetch(bhttp::request<bhttp::empty_body>(bhttp::verb::get, "/bytes/1", 11), call, h);
    });
    EXPECT_EQ(got.ec, errc::middleware_failed);
    EXPECT_EQ(got.res.info.error_message, "bad adjust");

    http::call_options asking;
    asking.retry = http::retry_policy{};
    asking.retry->retry_if = [](const http::attempt_result&) -> bool {
        throw std::runtime_error("bad retry_if");
    };
    got = run([&](auto h) {
        c.async_fetch(bhttp::request<bhttp::empty_body>(bhttp::verb::get, "/status/500", 11), asking, h);
    });
    EXPECT_EQ(got.ec, errc::middleware_failed);
    EXPECT_EQ(got.res.info.error_message, "bad retry_if");
    EXPECT_EQ(got.res.result_int(), 500u);  // the attempt's answer comes with it
}

// The request log's before-hook ran, a later middleware threw: the log still sees the attempt end (and
// keeps nothing of it).
TEST_F(client_test, every_before_hook_that_ran_sees_its_attempt_end) {
    struct refusing : http::middleware {
        void before_attempt(const http::attempt_context&, bhttp::request_header<>&) override {
            throw std::runtime_error("no token");
        }
    };
    std::vector<std::string> lines;
    auto o = fast_retries();
    o.middleware = {std::make_shared<http::request_log>(
                        [&](const http::log_entry& e) { lines.push_back(e.to_string()); }),
                    std::make_shared<refusing>()};
    http::client c(*m, o);
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(run([&](auto h) { c.async_get("/bytes/1", h); }).ec, errc::middleware_failed);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_NE(lines[0].find("a middleware of the http client threw"), std::string::npos) << lines[0];
}

TEST_F(client_test, the_budget_stops_retries_while_the_upstream_is_down_and_lets_them_through_after) {
    auto o = fast_retries();
    o.retry.max_attempts = 2;
    o.retry_budget = http::retry_budget_options{.ratio = 0.0, .window = 1000ms, .min_retries = 2};
    http::client c(*m, o);
    const std::string key = flaky_key();
    const std::string down = "/flaky/1000?key=" + key;
    std::vector<unsigned> attempts;
    for (int i = 0; i < 5; ++i)
        attempts.push_back(run([&](auto h) { c.async_get(down, h); }).res.info.attempts);
    EXPECT_EQ(attempts, (std::vector<unsigned>{2, 2, 1, 1, 1}));  // two retries in the window, then none
    auto last = run([&](auto h) { c.async_get(down, h); });
    EXPECT_EQ(last.res.info.attempts, 1u);
    std::this_thread::sleep_for(1100ms);  // the window has passed
    last = run([&](auto h) { c.async_get(down, h); });
    EXPECT_EQ(last.res.info.attempts, 2u);
    // A copy shares the budget.
    http::client copy = c;
    EXPECT_EQ(run([&](auto h) { copy.async_get(down, h); }).res.info.attempts, 2u);
    EXPECT_EQ(run([&](auto h) { c.async_get(down, h); }).res.info.attempts, 1u);
}

TEST_F(client_test, a_policy_that_cannot_work_is_refused) {
    auto o = fast_retries();
    o.retry.max_attempts = 0;
    EXPECT_THROW(http::client(*m, o), system_error);
    http::client c(*m, fast_retries());
    http::call_options call;
    call.retry = http::retry_policy{.max_attempts = 0};
    const std::size_t served_before = server.requests_served();
    auto got = run([&](auto h) {
        c.async_fetch(bhttp::request<bhttp::empty_body>(bhttp::verb::get, "/bytes/1", 11), call, h);
    });
    EXPECT_EQ(got.ec, errc::invalid_argument);
    EXPECT_EQ(server.requests_served(), served_before);
}

TEST_F(client_test, statistics_count_a_known_sequence_by_destination) {
    auto stats = std::make_shared<http::client_statistics>();
    auto o = fast_retries();
    o.middleware.push_back(stats);
    http::client c(*m, o);
    EXPECT_EQ(run([&](auto h) { c.async_get("/bytes/100", h); }).res.result_int(), 200u);
    EXPECT_EQ(run([&](auto h) { c.async_get("/flaky/1?key=" + flaky_key(), h); }).res.result_int(), 200u);
    EXPECT_EQ(run([&](auto h) { c.async_get("/status/404", h); }).res.result_int(), 404u);
    auto down_options = fast_retries();
    down_options.base_url = "http://127.0.0.1:9";
    down_options.middleware.push_back(stats);
    http::client down(*m, down_options);
    EXPECT_TRUE(run([&](auto h) { down.async_get("/x", h); }).ec);

    const auto figures = stats->snapshot();
    ASSERT_EQ(figures.size(), 2u);
    const auto& up = figures.at(server.url(""));
    EXPECT_EQ(up.calls, 3u);
    EXPECT_EQ(up.attempts, 4u);
    EXPECT_EQ(up.retries, 1u);
    EXPECT_EQ(up.errors, 0u);
    EXPECT_EQ(up.status_classes, (std::array<std::uint64_t, 6>{0, 0, 2, 0, 1, 1}));
    EXPECT_EQ(up.bytes_received, 100u + std::string("failing\n").size() + std::string("ok after 1").size());
    EXPECT_EQ(up.connections_reused, 3u);  // one connection, kept alive
    EXPECT_GT(up.latency.max.count(), 0);
    EXPECT_LE(up.latency.p50, up.latency.p90);
    EXPECT_LE(up.latency.p90, up.latency.p99);
    EXPECT_LE(up.latency.p99, up.latency.max);

    const auto& gone = figures.at("http://127.0.0.1:9");
    EXPECT_EQ(gone.calls, 1u);
    EXPECT_EQ(gone.attempts, 3u);
    EXPECT_EQ(gone.retries, 2u);
    EXPECT_EQ(gone.errors, 3u);
    const std::string connect_failed =
        condition_category().message(static_cast<int>(condition::connect_failed));
    EXPECT_EQ(gone.errors_by_condition, (std::map<std::string, std::uint64_t>{{connect_failed, 3}}));
    EXPECT_EQ(gone.status_classes[0], 3u);
}

TEST_F(client_test, the_request_log_leaves_secrets_out) {
    struct credentials : http::middleware {
        void before_attempt(const http::attempt_context&, bhttp::request_header<>& request) override {
            request.set(bhttp::field::authorization, "Bearer s3cr3t-token");
            request.set(bhttp::field::cookie, "session=s3cr3t-cookie");
            request.set("X-Request-Id", "42");
        }
    };
    std::vector<std::string> lines;
    auto o = fast_retries();
    o.base_url = "http://user:s3cr3t-password@127.0.0.1:" + std::to_string(server.port());
    o.middleware = {std::make_shared<credentials>(),
                    std::make_shared<http::request_log>(
                        [&](const http::log_entry& e) { lines.push_back(e.to_string()); })};
    http::client c(*m, o);
    EXPECT_EQ(run([&](auto h) { c.async_get("/set-cookie?session=s3cr3t-set", h); }).res.result_int(), 200u);
    EXPECT_EQ(run([&](auto h) { c.async_get("/flaky/1?key=" + flaky_key(), h); }).res.result_int(), 200u);
    ASSERT_EQ(lines.size(), 3u);
    for (const auto& line : lines) {
        EXPECT_EQ(line.find("s3cr3t"), std::string::npos) << line;
        EXPECT_NE(line.find("Authorization: [redacted]"), std::string::npos) << line;
        EXPECT_NE(line.find("Cookie: [redacted]"), std::string::npos) << line;
        EXPECT_NE(line.find("X-Request-Id: 42"), std::string::npos) << line;
        EXPECT_NE(line.find("GET http://127.0.0.1:"), std::string::npos) << line;
    }
    EXPECT_NE(lines[0].find("/set-cookie?... -> 200"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("Set-Cookie: [redacted]"), std::string::npos) << lines[0];
    EXPECT_NE(lines[1].find("-> 503"), std::string::npos) << lines[1];
    EXPECT_NE(lines[1].find("retrying in"), std::string::npos) << lines[1];
    EXPECT_NE(lines[2].find("(attempt 2"), std::string::npos) << lines[2];
}

#ifdef ASIOCURL_SERVICE_CLIENT_EXAMPLE
// The example a service developer copies, against the test server with faults: the order echoed back as JSON,
// the status fetched through two 503s, the statistics printed, the token never in the log.
TEST_F(client_test, the_service_client_example_posts_retries_and_prints_its_statistics) {
    const std::string out = ::testing::TempDir() + "service_client.txt";
    const std::string command = std::string(ASIOCURL_SERVICE_CLIENT_EXAMPLE) + " " + server.url("") +
                                " /echo '/flaky/2?json=1&key=" + flaky_key() + "' --token s3cr3t --log > " +
                                out + " 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0);
    std::ifstream in(out);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("order 42 accepted: {\"id\":42,\"items\":[\"tea\",\"milk\"]}"), std::string::npos)
        << text;
    EXPECT_NE(text.find("upstream status ok after 3 attempts (2 retried)"), std::string::npos) << text;
    EXPECT_NE(text.find(server.url("") + ": 2 calls, 4 attempts, 2 retries, 0 errors, 2xx 2, 5xx 2"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("Authorization: [redacted]"), std::string::npos) << text;
    EXPECT_EQ(text.find("s3cr3t"), std::string::npos) << text;
}
#endif

}  // namespace
}  // namespace asiocurl
