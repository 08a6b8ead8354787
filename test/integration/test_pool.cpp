// asiocurl::multi_pool: N multis on N threads on one share, used from any thread (run under TSan too).
#include <asiocurl/asiocurl.hpp>
#include <asiocurl/http/client.hpp>
#include <asiocurl/http/client_statistics.hpp>
#include <asiocurl/http/fetch.hpp>
#include <asiocurl/http/request_log.hpp>

#include "test_helpers.hpp"
#include "test_server.hpp"
#include "tls_material.hpp"

#include <gtest/gtest.h>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/http/empty_body.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace asiocurl {
namespace {

using namespace std::chrono_literals;
using bhttp_request = boost::beast::http::request<boost::beast::http::empty_body>;
namespace asio = boost::asio;

// Counts completions from any thread; waits for a number of them, bounded (a lost completion fails the test
// instead of hanging it).
class tally {
public:
    void add(const error_code& ec) {
        std::lock_guard lock(mutex_);
        ++total_;
        if (!ec)
            ++ok_;
        else if (ec == asio::error::operation_aborted)
            ++aborted_;
        else
            ++other_;
        changed_.notify_all();
    }
    bool wait_for(int count, std::chrono::seconds bound = 30s) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, bound, [&] { return total_ >= count; });
    }
    int total() const {
        std::lock_guard lock(mutex_);
        return total_;
    }
    int ok() const {
        std::lock_guard lock(mutex_);
        return ok_;
    }
    int aborted() const {
        std::lock_guard lock(mutex_);
        return aborted_;
    }
    int other() const {
        std::lock_guard lock(mutex_);
        return other_;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    int total_ = 0, ok_ = 0, aborted_ = 0, other_ = 0;
};

bool runs_here(const asio::any_io_executor& executor) {
    const auto* io = executor.target<asio::io_context::executor_type>();
    return io && io->running_in_this_thread();
}

bool on_a_member_thread(multi_pool& pool) {
    for (std::size_t i = 0; i < pool.size(); ++i)
        if (runs_here(pool.member(i).get_executor())) return true;
    return false;
}

std::uint64_t completed_on(multi_pool& pool, std::size_t index) {
    return asio::post(pool.member(index).get_executor(), asio::use_future([&pool, index] {
                          return pool.member(index).stats().transfers_completed;
                      }))
        .get();
}

// A caller's own io_context on its own thread: where bound handlers must run.
struct caller_thread {
    asio::io_context ioc{1};
    asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(ioc);
    std::thread thread{[this] { ioc.run(); }};
    ~caller_thread() {
        work.reset();
        thread.join();
    }
};

TEST(pool, fetches_from_any_thread_complete_on_the_callers_executor_or_else_on_a_pool_thread) {
    test::warm_up_process();
    test::test_server server;
    test::fd_baseline fds;
    {
        multi_pool pool(2, pool_options{.routing = pool_routing::round_robin});
        caller_thread caller;
        tally bound, unbound;
        std::atomic<int> misplaced{0};
        std::vector<std::thread> clients;
        for (int c = 0; c < 3; ++c)
            clients.emplace_back([&] {
                for (int i = 0; i < 10; ++i) {
                    http::async_fetch(
                        pool, server.url("/bytes/300"),
                        asio::bind_executor(caller.ioc, [&](error_code ec, http::response<> res) {
                            if (!caller.ioc.get_executor().running_in_this_thread() ||
                                res.body().size() != 300)
                                ++misplaced;
                            bound.add(ec);
                        }));
                    http::async_fetch(pool, server.url("/bytes/200"),
                                      [&](error_code ec, http::response<> res) {
                                          if (!on_a_member_thread(pool) || res.body().size() != 200)
                                              ++misplaced;
                                          unbound.add(ec);
                                      });
                }
            });
        for (auto& c : clients)
            c.join();
        ASSERT_TRUE(bound.wait_for(30));
        ASSERT_TRUE(unbound.wait_for(30));
        EXPECT_EQ(bound.ok(), 30);
        EXPECT_EQ(unbound.ok(), 30);
        EXPECT_EQ(misplaced.load(), 0);
        // Round-robin: both multis ran transfers.
        EXPECT_EQ(completed_on(pool, 0) + completed_on(pool, 1), 60u);
        EXPECT_GT(completed_on(pool, 0), 0u);
        EXPECT_GT(completed_on(pool, 1), 0u);
        EXPECT_EQ(bound.total(), 30);  // exactly once, also after the pool is gone
    }
    EXPECT_TRUE(server.wait_for_idle(5s));
    EXPECT_TRUE(fds.settled());
}

TEST(pool, by_host_an_origins_transfers_run_on_one_multi_and_easy_handles_get_the_pools_share) {
    test::warm_up_process();
    test::test_server a, b;
    multi_pool pool(4);
    std::vector<std::unique_ptr<easy>> handles;
    std::vector<std::string> bodies(16);
    tally done;
    for (int i = 0; i < 16; ++i) {
        auto& h = *handles.emplace_back(std::make_unique<easy>());
        h.set(CURLOPT_URL, (i % 2 ? a : b).url("/bytes/100"));
        h.write_to(bodies[static_cast<std::size_t>(i)]);
        pool.async_perform(h, [&](error_code ec) { done.add(ec); });
    }
    ASSERT_TRUE(done.wait_for(16));
    EXPECT_EQ(done.ok(), 16);
    for (const auto& body : bodies)
        EXPECT_EQ(body.size(), 100u);
    std::size_t members_used = 0;
    for (std::size_t i = 0; i < pool.size(); ++i) {
        const auto n = completed_on(pool, i);
        if (n) {
            ++members_used;
            EXPECT_EQ(n % 8, 0u) << "one origin's transfers were split";
        }
    }
    EXPECT_LE(members_used, 2u);
    EXPECT_EQ(&pool.member_for(a.url("/x")), &pool.member_for(a.url("/y?z")));
    EXPECT_GT(pool.get_share()->stats().dns.taken, 0u);  // the handles used the pool's share
}

TEST(pool, cancellation_from_the_initiating_thread_aborts_a_transfer_on_a_pool_thread) {
    test::warm_up_process();
    test::test_server server;
    multi_pool pool(2);
    caller_thread caller;
    tally done;
    asio::cancellation_signal signal;
    http::async_fetch(
        pool, server.url("/trickle/100000?chunk=10&interval_ms=5"),
        asio::bind_cancellation_slot(
            signal.slot(),
            asio::bind_executor(caller.ioc, [&](error_code ec, http::response<>) { done.add(ec); })));
    std::this_thread::sleep_for(100ms);
    signal.emit(asio::cancellation_type::terminal);
    ASSERT_TRUE(done.wait_for(1));
    EXPECT_EQ(done.aborted(), 1);
}

TEST(pool, use_future_and_a_coroutine_free_token_work_as_on_a_multi) {
    test::warm_up_process();
    test::test_server server;
    multi_pool pool(2);
    easy handle;
    std::string body;
    handle.set(CURLOPT_URL, server.url("/bytes/50"));
    handle.write_to(body);
    pool.async_perform(handle, asio::use_future).get();
    EXPECT_EQ(body.size(), 50u);
    auto res = http::async_fetch(pool, server.url("/bytes/70"), asio::use_future).get();
    EXPECT_EQ(res.body().size(), 70u);
}

TEST(pool, stop_lets_transfers_finish_within_the_deadline_then_refuses_new_ones) {
    test::warm_up_process();
    test::test_server server;
    multi_pool pool(2, pool_options{.routing = pool_routing::round_robin});
    caller_thread caller;
    tally done;
    for (int i = 0; i < 4; ++i)
        http::async_fetch(pool, server.url("/trickle/2000?chunk=100&interval_ms=10"),
                          asio::bind_executor(caller.ioc, [&](error_code ec, http::response<> res) {
                              if (res.body().size() != 2000 && !ec) ec = errc::invalid_argument;
                              done.add(ec);
                          }));
    pool.stop(20s);
    ASSERT_TRUE(done.wait_for(4));
    EXPECT_EQ(done.ok(), 4);  // drained, not aborted
    tally late;
    http::async_fetch(
        pool, server.url("/bytes/10"),
        asio::bind_executor(caller.ioc, [&](error_code ec, http::response<>) { late.add(ec); }));
    ASSERT_TRUE(late.wait_for(1));
    EXPECT_EQ(late.other(), 1);
    pool.stop(1s);  // again: nothing to do
}

TEST(pool, stop_aborts_what_outlives_the_deadline) {
    test::warm_up_process();
    test::test_server server;
    test::fd_baseline fds;
    std::atomic<int> shut_down_errors{0};
    {
        multi_pool pool(2, pool_options{.routing = pool_routing::round_robin});
        caller_thread caller;
        tally done;
        for (int i = 0; i < 3; ++i)
            http::async_fetch(
                pool, server.url("/trickle/100000?chunk=10&interval_ms=5"),
                asio::bind_executor(caller.ioc, [&](error_code ec, http::response<>) { done.add(ec); }));
        pool.stop(200ms);
        ASSERT_TRUE(done.wait_for(3));
        EXPECT_EQ(done.aborted(), 3);
        easy late;
        late.set(CURLOPT_URL, server.url("/bytes/1"));
        tally refused;
        pool.async_perform(late, asio::bind_executor(caller.ioc, [&](error_code ec) {
                               if (ec == errc::shut_down) ++shut_down_errors;
                               refused.add(ec);
                           }));
        ASSERT_TRUE(refused.wait_for(1));
        EXPECT_EQ(shut_down_errors.load(), 1);
    }
    EXPECT_TRUE(server.wait_for_idle(5s));
    EXPECT_TRUE(fds.settled());
}

TEST(pool, stop_on_a_pool_thread_is_refused) {
    test::warm_up_process();
    test::test_server server;
    multi_pool pool(1);
    std::promise<bool> refused;
    http::async_fetch(pool, server.url("/bytes/1"), [&](error_code, http::response<>) {
        try {
            pool.stop(1s);
            refused.set_value(false);
        } catch (const std::system_error& e) {
            refused.set_value(e.code() == std::errc::resource_deadlock_would_occur);
        }
    });
    EXPECT_TRUE(refused.get_future().get());
}

// Destroyed with transfers in flight, from a foreign thread, from a handler on a pool thread, and from inside
// a curl callback of one of its transfers: each completes once with operation_aborted.
enum class destroyer { other_thread, pool_handler, curl_callback };

class pool_destroyed : public ::testing::TestWithParam<destroyer> {};

std::size_t write_and_destroy(char*, std::size_t size, std::size_t count, void* self);

struct doomed_pool {
    std::unique_ptr<multi_pool> pool;
    std::atomic<bool> destroyed{false};
    std::atomic<int> writes_after{0};
};

std::size_t write_and_destroy(char*, std::size_t size, std::size_t count, void* self) {
    auto& d = *static_cast<doomed_pool*>(self);
    if (d.destroyed) {
        ++d.writes_after;
        return size * count;
    }
    d.destroyed = true;
    d.pool.reset();
    return size * count;
}

TEST_P(pool_destroyed, with_transfers_in_flight_each_completes_once_with_operation_aborted) {
    test::warm_up_process();
    test::test_server server;
    test::fd_baseline fds;
    {
        caller_thread caller;
        doomed_pool d;
        d.pool = std::make_unique<multi_pool>(3, pool_options{.routing = pool_routing::round_robin});
        tally bound, unbound;
        for (int i = 0; i < 6; ++i) {
            http::async_fetch(
                *d.pool, server.url("/trickle/100000?chunk=10&interval_ms=5"),
                asio::bind_executor(caller.ioc, [&](error_code ec, http::response<>) { bound.add(ec); }));
            http::async_fetch(*d.pool, server.url("/trickle/100000?chunk=10&interval_ms=5"),
                              [&](error_code ec, http::response<>) { unbound.add(ec); });
        }
        easy trigger;
        if (GetParam() == destroyer::curl_callback) {
            trigger.set(CURLOPT_URL, server.url("/trickle/100000?chunk=10&interval_ms=5"));
            trigger.set(CURLOPT_WRITEFUNCTION, &write_and_destroy);
            trigger.set(CURLOPT_WRITEDATA, static_cast<void*>(&d));
            d.pool->async_perform(trigger,
                                  asio::bind_executor(caller.ioc, [&](error_code ec) { bound.add(ec); }));
        } else if (GetParam() == destroyer::pool_handler) {
            http::async_fetch(*d.pool, server.url("/bytes/10"), [&](error_code ec, http::response<>) {
                EXPECT_FALSE(ec);
                d.destroyed = true;
                d.pool.reset();
            });
        } else {
            std::this_thread::sleep_for(100ms);
            d.destroyed = true;
            d.pool.reset();
        }
        const int bound_expected = GetParam() == destroyer::curl_callback ? 7 : 6;
        ASSERT_TRUE(bound.wait_for(bound_expected));
        ASSERT_TRUE(unbound.wait_for(6));
        EXPECT_TRUE(d.destroyed);
        EXPECT_EQ(bound.aborted(), bound_expected);
        EXPECT_EQ(unbound.aborted(), 6);
        EXPECT_EQ(d.writes_after.load(), 0);
        std::this_thread::sleep_for(50ms);  // a second completion would have arrived by now
        EXPECT_EQ(bound.total(), bound_expected);
        EXPECT_EQ(unbound.total(), 6);
    }
    EXPECT_TRUE(server.wait_for_idle(5s));
    EXPECT_TRUE(fds.settled());
}

INSTANTIATE_TEST_SUITE_P(pool, pool_destroyed,
                         ::testing::Values(destroyer::other_thread, destroyer::pool_handler,
                                           destroyer::curl_callback),
                         [](const auto& p) {
                             switch (p.param) {
                                 case destroyer::other_thread:
                                     return std::string("from_another_thread");
                                 case destroyer::pool_handler:
                                     return std::string("from_a_handler_on_a_pool_thread");
                                 default:
                                     return std::string("from_inside_a_curl_callback");
                             }
                         });

TEST(pool, on_executors_the_user_runs) {
    test::warm_up_process();
    test::test_server server;
    test::fd_baseline fds;
    {
        caller_thread first, second;
        auto pool = std::make_unique<multi_pool>(
            std::vector<asio::any_io_executor>{first.ioc.get_executor(), second.ioc.get_executor()},
            pool_options{.routing = pool_routing::round_robin});
        tally done, doomed;
        std::atomic<int> misplaced{0};
        for (int i = 0; i < 10; ++i)
            http::async_fetch(*pool, server.url("/bytes/100"), [&](error_code ec, http::response<> res) {
                if (!(first.ioc.get_executor().running_in_this_thread() ||
                      second.ioc.get_executor().running_in_this_thread()) ||
                    res.body().size() != 100)
                    ++misplaced;
                done.add(ec);
            });
        ASSERT_TRUE(done.wait_for(10));
        EXPECT_EQ(done.ok(), 10);
        EXPECT_EQ(misplaced.load(), 0);
        for (int i = 0; i < 4; ++i)
            http::async_fetch(*pool, server.url("/trickle/100000?chunk=10&interval_ms=5"),
                              [&](error_code ec, http::response<>) { doomed.add(ec); });
        std::this_thread::sleep_for(100ms);
        pool.reset();  // from a thread that runs neither executor: nothing waits, the executors finish it
        ASSERT_TRUE(doomed.wait_for(4));
        EXPECT_EQ(doomed.aborted(), 4);
    }
    EXPECT_TRUE(server.wait_for_idle(5s));
    EXPECT_TRUE(fds.settled());
}

// A per-host limit holds over the whole pool, whichever the routing.
class pool_limit : public ::testing::TestWithParam<pool_routing> {};

TEST_P(pool_limit, connections_to_one_host_never_exceed_it) {
    test::warm_up_process();
    test::test_server server;
    constexpr long limit = 3;
    multi_pool pool(4, pool_options{.routing = GetParam(), .max_host_connections = limit});
    tally done;
    for (int i = 0; i < 12; ++i)
        http::async_fetch(pool, server.url("/trickle/3000?chunk=100&interval_ms=5"),
                          [&](error_code ec, http::response<> res) {
                              if (!ec && res.body().size() != 3000) ec = errc::invalid_argument;
                              done.add(ec);
                          });
    std::size_t peak = 0;
    while (done.total() < 12) {
        peak = std::max(peak, server.open_connections());
        std::this_thread::sleep_for(2ms);
    }
    EXPECT_EQ(done.ok(), 12);
    EXPECT_LE(peak, static_cast<std::size_t>(limit));
    EXPECT_GE(peak, 2u);
}

// Round-robin with a per-host limit: each member holds its part of the limit, so a transfer must go where a
// connection is free, not blindly to the next member, where it would wait in curl's queue while another
// member has room (and curl 8.14 checks every queued transfer against every connection of its multi each
// time one changes: ten times the CPU of the bare loop at 256 in flight, bench/asiocurl_pool_client
// --round-robin). Three slow transfers hold three of the four connections: two on one member (full), one
// on the other; quick fetches then go to the other, in turn or not.
TEST(pool, round_robin_with_a_limit_sends_a_transfer_where_a_connection_is_free) {
    test::warm_up_process();
    test::test_server server;
    tally slow, quick;
    {
        multi_pool pool(2, pool_options{.routing = pool_routing::round_robin, .max_host_connections = 4});
        for (int i = 0; i < 3; ++i)  // 10,000 pieces 5 ms apart: 50 s unless the pool ends them
            http::async_fetch(pool, server.url("/trickle/100000?chunk=10&interval_ms=5"),
                              [&](error_code ec, http::response<>) { slow.add(ec); });
        for (int i = 1; i <= 4; ++i) {
            http::async_fetch(pool, server.url("/bytes/100"),
                              [&](error_code ec, http::response<>) { quick.add(ec); });
            ASSERT_TRUE(quick.wait_for(i, 20s)) << "fetch " << i << " waited for a slow one's connection";
        }
        EXPECT_EQ(quick.ok(), 4);
        EXPECT_EQ(slow.total(), 0);
        EXPECT_LE(server.open_connections(), 4u);
    }
    EXPECT_EQ(slow.aborted(), 3);  // the pool's destruction ended them
    EXPECT_TRUE(server.wait_for_idle(5s));
}

INSTANTIATE_TEST_SUITE_P(pool, pool_limit,
                         ::testing::Values(pool_routing::by_host, pool_routing::round_robin),
                         [](const auto& p) {
                             return std::string(p.param == pool_routing::by_host ? "by_host" : "round_robin");
                         });

// Every fetch on a new connection (Connection: close), each on the next thread: the session the previous
// thread's connection stored is the one the next thread's resumes.
TEST(pool, tls_sessions_resume_across_threads) {
    test::warm_up_process();
    test::test_server secure(test::test_server::options{.tls = true});
    multi_pool pool(4, pool_options{.routing = pool_routing::round_robin});
    http::options opts;
    opts.tls.ca_file = test::tls().ca_file;
    const std::string url = "https://localhost:" + std::to_string(secure.port()) + "/close/100";
    opts.customize = [](easy& handle) { handle.set(CURLOPT_IPRESOLVE, long{CURL_IPRESOLVE_V4}); };
    auto fetch_one = [&] {
        bhttp_request request(boost::beast::http::verb::get, url, 11);
        return http::async_fetch(pool, std::move(request), opts, asio::use_future).get().body().size();
    };
    ASSERT_EQ(fetch_one(), 100u);  // the first: a full handshake
    const std::size_t before = secure.resumed_tls_sessions();
    for (int i = 0; i < 100; ++i)
        ASSERT_EQ(fetch_one(), 100u);
    EXPECT_EQ(secure.accepted_connections(), 101u);
    EXPECT_GE(secure.resumed_tls_sessions() - before, 99u);
    EXPECT_GT(pool.get_share()->stats().tls_sessions.taken, 0u);
}

// curl says "Hostname X was found in DNS cache" (its verbose text, the same in 7.88 and 8.x) when it did not
// resolve; a name fetched from four threads in turn is resolved once with the pool's share, four times
// (once per multi) without.
int lookups_for_twelve_fetches(bool share_names) {
    test::test_server server;
    auto names = std::make_shared<share>(share_options{.dns = share_names});
    multi_pool pool(4, pool_options{.routing = pool_routing::round_robin, .share = names});
    std::atomic<int> cached{0};
    http::options opts;
    opts.share = names;
    opts.customize = [&cached](easy& handle) {
        handle.set(CURLOPT_IPRESOLVE, long{CURL_IPRESOLVE_V4});
        handle.set(CURLOPT_VERBOSE, 1L);
        handle.set(CURLOPT_DEBUGDATA, static_cast<void*>(&cached));
        handle.set(
            CURLOPT_DEBUGFUNCTION, +[](CURL*, curl_infotype type, char* text, size_t size, void* p) {
                if (type == CURLINFO_TEXT &&
                    std::string_view(text, size).find("was found in DNS cache") != std::string_view::npos)
                    ++*static_cast<std::atomic<int>*>(p);
                return 0;
            });
    };
    const std::string url = "http://localhost:" + std::to_string(server.port()) + "/close/10";
    for (int i = 0; i < 12; ++i) {
        bhttp_request request(boost::beast::http::verb::get, url, 11);
        EXPECT_EQ(http::async_fetch(pool, std::move(request), opts, asio::use_future).get().body().size(),
                  10u);
    }
    return 12 - cached.load();
}

TEST(pool, a_name_is_resolved_once_for_all_threads) {
    test::warm_up_process();
    EXPECT_EQ(lookups_for_twelve_fetches(true), 1);
    EXPECT_EQ(lookups_for_twelve_fetches(false), 4);  // the measure can tell: one lookup per multi
}

// Four pool threads; four client threads start fetches and cancel some of them; the share's locks under
// contention; the pool destroyed while the last ones run. Every completion exactly once.
TEST(pool, stress_from_foreign_threads_with_cancellation_and_destruction_mid_flight) {
    test::warm_up_process();
    test::test_server server, secure(test::test_server::options{.tls = true});
    auto pool = std::make_unique<multi_pool>(4, pool_options{.routing = pool_routing::round_robin});
    http::options tls_opts;
    tls_opts.tls.ca_file = test::tls().ca_file;
    constexpr int clients = 4, each = 60;
    tally done;
    std::atomic<int> started{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c)
        threads.emplace_back([&, c] {
            std::mt19937 random(static_cast<unsigned>(c) * 31u + 7u);
            std::vector<std::unique_ptr<asio::cancellation_signal>> signals;
            tally mine;  // at most four of this client's fetches in flight
            for (int i = 0; i < each; ++i) {
                if (i >= 4) {
                    ASSERT_TRUE(mine.wait_for(i - 3));
                }
                auto& signal = *signals.emplace_back(std::make_unique<asio::cancellation_signal>());
                const bool last = i >= each - 3;
                const bool tls = random() % 3 == 0;
                std::string url =
                    last  ? server.url("/trickle/100000?chunk=10&interval_ms=5")
                    : tls ? "https://127.0.0.1:" + std::to_string(secure.port()) + "/close/500"
                          : server.url(random() % 2 ? "/bytes/500" : "/trickle/500?chunk=100&interval_ms=1");
                bhttp_request request(boost::beast::http::verb::get, url, 11);
                http::async_fetch(
                    *pool, std::move(request), tls_opts,
                    asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, http::response<>) {
                        mine.add(ec);
                        done.add(ec);
                    }));
                ++started;
                if (!last && random() % 4 == 0) {
                    std::this_thread::sleep_for(std::chrono::microseconds(random() % 3000));
                    signal.emit(asio::cancellation_type::terminal);
                }
            }
            // The signals and the tally outlive their operations: the pool's destruction completes the last.
            ASSERT_TRUE(mine.wait_for(each));
        });
    while (started < clients * each)
        std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(50ms);
    pool.reset();
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(done.total(), clients * each);
    EXPECT_EQ(done.ok() + done.aborted(), done.total()) << done.other() << " failed otherwise";
    EXPECT_GE(done.aborted(), clients * 3);
    EXPECT_GT(done.ok(), clients * each / 4);
    EXPECT_TRUE(server.wait_for_idle(5s));
}

// http::client on a pool, called and cancelled from four threads at once (TSan): retries, the budget, the
// statistics' and the log's locks under contention, cancellation emitted on the calling threads while an
// attempt runs or the client waits to retry; every call completes once.
TEST(pool, a_client_on_a_pool_is_called_and_cancelled_from_four_threads) {
    test::warm_up_process();
    test::test_server server;
    auto stats = std::make_shared<http::client_statistics>();
    std::atomic<int> logged{0};
    tally done;
    constexpr int clients = 4, each = 40;
    {
        multi_pool pool(4, pool_options{.routing = pool_routing::round_robin});
        http::client_options o;
        o.base_url = server.url("");
        o.retry.base_delay = 1ms;
        o.retry.max_delay = 3ms;
        o.retry_budget.reset();  // every retry the policy allows, so that the attempts can be counted
        o.middleware = {stats,
                        std::make_shared<http::request_log>([&](const http::log_entry&) { ++logged; })};
        http::pool_client c(pool, o);
        std::vector<std::thread> threads;
        for (int t = 0; t < clients; ++t)
            threads.emplace_back([&, t] {
                std::vector<std::unique_ptr<asio::cancellation_signal>> signals;
                tally mine;
                for (int i = 0; i < each; ++i) {
                    auto& signal = *signals.emplace_back(std::make_unique<asio::cancellation_signal>());
                    const std::string key = "pool-client-" + std::to_string(t) + "-" + std::to_string(i);
                    const std::string target = i % 4 == 0   ? "/flaky/1?key=" + key
                                               : i % 4 == 1 ? "/flaky/1?retry_after=30&key=" + key
                                               : i % 4 == 2 ? "/trickle/2000?chunk=100&interval_ms=2"
                                                            : "/bytes/100";
                    c.async_get(target, asio::bind_cancellation_slot(signal.slot(),
                                                                     [&](error_code ec, http::response<>) {
                                                                         mine.add(ec);
                                                                         done.add(ec);
                                                                     }));
                    if (i % 4 == 1 || (i % 4 == 2 && i % 8 == 2)) {
                        std::this_thread::sleep_for(std::chrono::milliseconds(i % 5));
                        signal.emit(asio::cancellation_type::terminal);  // the 30 s wait, a trickle
                    }
                    if (i >= 4) {
                        ASSERT_TRUE(mine.wait_for(i - 3));
                    }
                }
                ASSERT_TRUE(mine.wait_for(each));
            });
        for (auto& t : threads)
            t.join();
    }
    EXPECT_EQ(done.total(), clients * each);
    EXPECT_EQ(done.other(), 0);
    EXPECT_GE(done.aborted(), clients * each / 4);  // at least every call asked to wait 30 s
    std::uint64_t calls = 0, attempts = 0;
    for (const auto& [destination, figures] : stats->snapshot()) {
        calls += figures.calls;
        attempts += figures.attempts;
    }
    EXPECT_EQ(calls, static_cast<std::uint64_t>(clients * each));
    EXPECT_GE(attempts, calls + clients * each / 4);  // each /flaky/1 without a long wait: two attempts
    EXPECT_EQ(static_cast<std::uint64_t>(logged.load()), attempts);
    EXPECT_TRUE(server.wait_for_idle(5s));
}

// http::client on a strand multi (an io_context four threads run), called from four other threads: each
// call's steps run on the strand (its handler has none of its own), retried as anywhere else.
TEST(pool, a_client_on_a_strand_multi_is_called_from_four_threads) {
    test::warm_up_process();
    test::test_server server;
    asio::io_context ioc(4);
    auto work = asio::make_work_guard(ioc);
    std::vector<std::thread> runners;
    for (int i = 0; i < 4; ++i)
        runners.emplace_back([&] { ioc.run(); });
    tally done;
    using strand_multi = basic_multi<asio::strand<asio::io_context::executor_type>>;
    auto multi = std::make_unique<strand_multi>(asio::make_strand(ioc));
    {
        http::client_options o;
        o.base_url = server.url("");
        o.retry.base_delay = 1ms;
        o.retry.max_delay = 3ms;
        o.retry_budget.reset();
        http::basic_client c(*multi, o);
        std::vector<std::thread> callers;
        for (int t = 0; t < 4; ++t)
            callers.emplace_back([&, t] {
                tally mine;
                for (int i = 0; i < 20; ++i) {
                    const std::string target =
                        i % 2 ? "/flaky/1?key=strand-" + std::to_string(t) + "-" + std::to_string(i)
                              : "/bytes/100";
                    c.async_get(target, [&](error_code ec, http::response<> res) {
                        if (!ec && (res.result_int() != 200 ||
                                    res.info.attempts != (res.body() == "ok after 1" ? 2u : 1u)))
                            ec = errc::invalid_argument;
                        mine.add(ec);
                        done.add(ec);
                    });
                }
                ASSERT_TRUE(mine.wait_for(20));
            });
        for (auto& t : callers)
            t.join();
    }
    std::promise<void> gone;  // a multi is destroyed on its executor
    asio::post(multi->get_executor(), [&] {
        multi.reset();
        gone.set_value();
    });
    gone.get_future().wait();
    work.reset();
    for (auto& r : runners)
        r.join();
    EXPECT_EQ(done.total(), 80);
    EXPECT_EQ(done.ok(), 80) << done.other() << " failed";
    EXPECT_TRUE(server.wait_for_idle(5s));
}

#ifdef ASIOCURL_POOL_FANOUT_EXAMPLE
TEST(pool, the_fanout_example_fetches_over_a_pool_and_counts_its_connections) {
    test::test_server secure(test::test_server::options{.tls = true});
    const std::string out = ::testing::TempDir() + "pool_fanout.txt";
    const std::string command =
        std::string(ASIOCURL_POOL_FANOUT_EXAMPLE) + " https://localhost:" + std::to_string(secure.port()) +
        "/bytes/100 40 2 4 --new-connections --cafile " + test::tls().ca_file + " > " + out;
    ASSERT_EQ(std::system(command.c_str()), 0);
    std::ifstream in(out);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("40 fetches over 2 threads"), std::string::npos) << text;
    EXPECT_NE(text.find("0 failed"), std::string::npos) << text;
    EXPECT_NE(text.find("new connections (over https each a TLS handshake): 40"), std::string::npos) << text;
    EXPECT_EQ(secure.accepted_connections(), 40u);
}
#endif

}  // namespace
}  // namespace asiocurl
