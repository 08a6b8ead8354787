// async_perform with every completion-token family, and the Asio contract: exactly once, never inline, on
// the handler's associated executor, with its associated allocator.
#include "multi_fixture.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/consign.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <future>
#include <thread>

namespace asiocurl {
namespace {

using namespace std::chrono_literals;
using test::completion;

class token_test : public test::multi_test {
protected:
    token_test() {
        ok.set(CURLOPT_URL, server.url("/bytes/3000"));
        ok.write_to(body);
        refused.set(CURLOPT_URL, "http://127.0.0.1:9/");
    }
    easy ok, refused;
    std::string body;
    bool initiating = false;  // true while async_perform runs: a handler seeing it ran inline
};

TEST_F(token_test, callback) {
    int calls = 0;
    initiating = true;
    m->async_perform(ok, [&](error_code ec) {
        EXPECT_FALSE(initiating) << "handler ran inside async_perform";
        EXPECT_FALSE(ec);
        ++calls;
    });
    initiating = false;
    ASSERT_TRUE(test::run_until(ioc, [&] { return calls > 0; }));
    ioc.run_for(20ms);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(body, test::expected_body(3000));
}

TEST_F(token_test, use_future) {
    std::future<void> good = m->async_perform(ok, boost::asio::use_future);
    std::future<void> bad = m->async_perform(refused, boost::asio::use_future);
    ASSERT_TRUE(test::run_until(ioc, [&] {
        return good.wait_for(0s) == std::future_status::ready &&
               bad.wait_for(0s) == std::future_status::ready;
    }));
    EXPECT_NO_THROW(good.get());
    try {
        bad.get();
        ADD_FAILURE() << "no exception";
    } catch (const system_error& e) {
        EXPECT_EQ(e.code(), condition::connect_failed);
    }
}

TEST_F(token_test, use_awaitable_as_tuple_and_redirect_error) {
    int finished = 0;
    boost::asio::co_spawn(
        ioc,
        [&]() -> boost::asio::awaitable<void> {
            co_await m->async_perform(ok, boost::asio::use_awaitable);
            EXPECT_EQ(body, test::expected_body(3000));
            auto [ec] = co_await m->async_perform(refused, boost::asio::as_tuple(boost::asio::use_awaitable));
            EXPECT_EQ(ec, condition::connect_failed);
            error_code redirected;
            co_await m->async_perform(refused,
                                      boost::asio::redirect_error(boost::asio::use_awaitable, redirected));
            EXPECT_EQ(redirected, condition::connect_failed);
            try {
                co_await m->async_perform(refused, boost::asio::use_awaitable);
                ADD_FAILURE() << "no exception";
            } catch (const system_error& e) {
                EXPECT_EQ(e.code(), condition::connect_failed);
            }
            ++finished;
        },
        boost::asio::detached);
    ASSERT_TRUE(test::run_until(ioc, [&] { return finished == 1; }));
}

TEST_F(token_test, deferred_runs_only_when_launched) {
    auto op = m->async_perform(ok, boost::asio::deferred);
    ioc.run_for(50ms);
    EXPECT_EQ(server.requests_served(), 0u) << "a deferred operation started before it was launched";
    completion done;
    std::move(op)(done.handler());
    ASSERT_TRUE(test::run_until(ioc, [&] { return done.done(); }));
    EXPECT_FALSE(done.ec);
    EXPECT_EQ(done.calls, 1);
}

TEST_F(token_test, consign_keeps_its_values_alive_until_completion) {
    auto witness = std::make_shared<int>(7);
    std::weak_ptr<int> watch = witness;
    completion done;
    m->async_perform(ok, boost::asio::consign(done.handler(), std::move(witness)));
    EXPECT_FALSE(watch.expired());
    ASSERT_TRUE(test::run_until(ioc, [&] { return done.done(); }));
    ioc.run_for(10ms);
    EXPECT_TRUE(watch.expired());
}

TEST_F(token_test, handler_runs_on_its_bound_executor) {
    // A strand of the same context...
    auto strand = boost::asio::make_strand(ioc);
    bool on_strand = false;
    completion done;
    m->async_perform(ok, boost::asio::bind_executor(strand, [&](error_code ec) {
                         on_strand = strand.running_in_this_thread();
                         done.handler()(ec);
                     }));
    ASSERT_TRUE(test::run_until(ioc, [&] { return done.done(); }));
    EXPECT_TRUE(on_strand);

    // ...and another io_context, run by another thread: the handler runs there, and that context's run()
    // does not return before the transfer completed (outstanding work).
    boost::asio::io_context other;
    std::thread::id handler_thread;
    completion remote;
    m->async_perform(refused, boost::asio::bind_executor(other, [&](error_code ec) {
                         handler_thread = std::this_thread::get_id();
                         remote.handler()(ec);
                     }));
    std::thread runner([&] { other.run(); });
    const auto runner_id = runner.get_id();
    ASSERT_TRUE(test::run_until(ioc, [&] { return remote.done(); }));
    runner.join();
    EXPECT_EQ(handler_thread, runner_id);
    EXPECT_EQ(remote.ec, condition::connect_failed);
}

TEST_F(token_test, the_bound_allocator_allocates_the_operation) {
    auto counts = std::make_shared<std::pair<int, int>>(0, 0);
    completion done;
    m->async_perform(ok, boost::asio::bind_allocator(test::counting_allocator<void>(counts), done.handler()));
    EXPECT_GT(counts->first, 0);
    ASSERT_TRUE(test::run_until(ioc, [&] { return done.done(); }));
    EXPECT_EQ(counts->first, counts->second) << "allocations not returned";
}

TEST_F(token_test, immediate_failures_are_posted) {
    completion first, second;
    m->async_perform(ok, first.handler());
    initiating = true;
    m->async_perform(ok, [&](error_code ec) {
        EXPECT_FALSE(initiating);
        second.handler()(ec);
    });
    initiating = false;
    EXPECT_FALSE(second.done());
    ASSERT_TRUE(test::run_until(ioc, [&] { return first.done() && second.done(); }));
    EXPECT_EQ(second.ec, errc::easy_in_use);
    EXPECT_FALSE(first.ec);

    easy moved_from;
    easy keeper(std::move(moved_from));
    completion empty;
    m->async_perform(moved_from, empty.handler());
    EXPECT_FALSE(empty.done());
    ASSERT_TRUE(test::run_until(ioc, [&] { return empty.done(); }));
    EXPECT_EQ(empty.ec, errc::empty_handle);

    multi dead(ioc);
    dead.shutdown();
    completion late;
    dead.async_perform(ok, late.handler());
    EXPECT_FALSE(late.done());
    ASSERT_TRUE(test::run_until(ioc, [&] { return late.done(); }));
    EXPECT_EQ(late.ec, errc::shut_down);
    EXPECT_EQ(first.calls + second.calls + empty.calls + late.calls, 4);
}

}  // namespace
}  // namespace asiocurl
