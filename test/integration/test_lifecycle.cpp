// The six lifecycle and cancellation bugs of issue 9, one test each (each failed before its fix): an easy
// destroyed inside a callback of its own transfer, queued operations destroyed by ~io_context while their
// handler owns the easy, cancellation asked for from inside a write callback, hanging DNS lookups that froze
// the reactor when cancelled, a slot handler that outlived its io_context, and total cancellation of a fetch.
#include <asiocurl/http.hpp>

#include "multi_fixture.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/http/empty_body.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace asiocurl {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;
using strand_multi = basic_multi<asio::strand<asio::io_context::executor_type>>;

// A user's callback that may destroy things, and notices being called after it did.
struct callback_probe {
    std::function<void()> on_first_call;
    int calls = 0;
    int calls_after_kill = 0;
    bool killed = false;

    std::size_t bytes = 0;

    std::size_t hit(std::size_t length) {
        bytes += length;
        if (killed) ++calls_after_kill;
        if (calls++ == 0 && on_first_call) {
            killed = true;
            on_first_call();
        }
        return length;
    }
    static std::size_t as_curl_callback(char*, std::size_t size, std::size_t count, void* self) {
        return static_cast<callback_probe*>(self)->hit(size * count);
    }
};

// What a user writes: one object owning the handle and the memory its transfer writes into.
struct download {
    easy handle;
    std::string body;
};

using lifecycle = test::multi_test;

// Item 1: the owner of an easy destroyed from the header callback of the easy's own transfer. curl goes on
// with the transfer inside the same socket_action: no further callback may run, no byte may land in `body`
// (freed), and the handler gets operation_aborted.
TEST_F(lifecycle, easy_destroyed_inside_its_own_header_callback) {
    callback_probe headers;
    auto owner = std::make_unique<download>();
    owner->handle.set(CURLOPT_URL, server.url("/bytes/300000"));
    owner->handle.write_to(owner->body);
    owner->handle.set(CURLOPT_HEADERFUNCTION, &callback_probe::as_curl_callback);
    owner->handle.set(CURLOPT_HEADERDATA, &headers);
    headers.on_first_call = [&] { owner.reset(); };
    test::completion done;
    m->async_perform(owner->handle, done.handler());
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, 10s));
    EXPECT_EQ(done.ec, asio::error::operation_aborted);
    EXPECT_EQ(headers.calls_after_kill, 0);
    ioc.run_for(50ms);
    EXPECT_EQ(done.calls.load(), 1);
}

// Item 1, the same from the transfer's own write callback (the owner holds what that callback writes to).
TEST_F(lifecycle, easy_destroyed_inside_its_own_write_callback) {
    struct owner_type {
        easy handle;
        callback_probe body;
    };
    auto owner = std::make_unique<owner_type>();
    owner->handle.set(CURLOPT_URL, server.url("/bytes/1000000"));
    owner->handle.set(CURLOPT_WRITEFUNCTION, &callback_probe::as_curl_callback);
    owner->handle.set(CURLOPT_WRITEDATA, &owner->body);
    owner->body.on_first_call = [&] { owner.reset(); };
    test::completion done;
    m->async_perform(owner->handle, done.handler());
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return done.done(); }, 10s));
    EXPECT_EQ(done.ec, asio::error::operation_aborted);
    ioc.run_for(50ms);
    EXPECT_EQ(done.calls.load(), 1);
}

// Item 2: multi destroyed first (as the README asks), then an io_context that never ran: the queued start
// operation is destroyed with its handler, which owns the easy (and so the state the operation refers to).
TEST(lifecycle_teardown, io_context_never_run_while_handlers_own_the_easy) {
    test::warm_up_process();
    test::test_server server;
    test::fd_baseline fds;
    int destroyed = 0;
    {
        asio::io_context ioc;
        {
            multi m(ioc);
            for (int i = 0; i < 3; ++i) {
                auto handle = std::make_shared<easy>();
                handle->set(CURLOPT_URL, server.url("/bytes/100"));
                handle->discard_body();
                // The handler owns the easy; a guard counts the handler's destruction.
                auto guard = std::shared_ptr<int>(new int(0), [&](int* p) {
                    ++destroyed;
                    delete p;
                });
                m.async_perform(*handle, [handle, guard](error_code) { ADD_FAILURE() << "ran"; });
            }
            http::async_fetch(m, server.url("/bytes/100"),
                              [](error_code, http::response<>) { ADD_FAILURE() << "ran"; });
        }
    }
    EXPECT_EQ(destroyed, 3);
    EXPECT_TRUE(fds.settled());
}

// The same order, with the cookie jar of a fetch and of a stream given only in their options: the jar dies
// with the queued handler, and curl must not be left using its share (curl_easy_cleanup locks a handle's
// share; curl_share_cleanup refuses a share still in use, and the leak is reported).
TEST(lifecycle_teardown, io_context_never_run_while_handlers_hold_the_only_cookie_jar) {
    test::warm_up_process();
    test::test_server server;
    test::fd_baseline fds;
    {
        asio::io_context ioc;
        {
            multi m(ioc);
            http::async_fetch(m,
                              bhttp::request<bhttp::empty_body>(bhttp::verb::get,
                                                                server.url("/set-cookie?session=abc"), 11),
                              http::options{.cookies = std::make_shared<http::cookie_jar>()},
                              [](error_code, http::response<>) { ADD_FAILURE() << "ran"; });
            http::stream s(m);
            s.start(bhttp::request<bhttp::empty_body>(bhttp::verb::get, server.url("/set-cookie?session=def"),
                                                      11),
                    {.cookies = std::make_shared<http::cookie_jar>()});
        }
    }
    EXPECT_TRUE(fds.settled());
}

// Item 3: terminal cancellation emitted from the transfer's own write callback takes effect there: the write
// callback is not called again and the handler gets operation_aborted, for each of 20 transfers.
TEST_F(lifecycle, terminal_emitted_from_the_own_write_callback_aborts_at_once) {
    constexpr int transfers = 20;
    struct transfer {
        easy handle;
        callback_probe body;
        asio::cancellation_signal signal;
        test::completion done;
    };
    std::vector<std::unique_ptr<transfer>> all;
    for (int i = 0; i < transfers; ++i) {
        auto& t = *all.emplace_back(std::make_unique<transfer>());
        t.handle.set(CURLOPT_URL, server.url("/bytes/1048576"));
        t.handle.set(CURLOPT_WRITEFUNCTION, &callback_probe::as_curl_callback);
        t.handle.set(CURLOPT_WRITEDATA, &t.body);
        t.body.on_first_call = [&t] { t.signal.emit(asio::cancellation_type::terminal); };
        m->async_perform(t.handle, asio::bind_cancellation_slot(t.signal.slot(), t.done.handler()));
    }
    ASSERT_TRUE(test::run_until(ioc, [&] {
        for (auto& t : all)
            if (!t->done.done()) return false;
        return true;
    }));
    for (auto& t : all) {
        EXPECT_EQ(t->done.ec, asio::error::operation_aborted);
        EXPECT_EQ(t->body.calls_after_kill, 0);
        EXPECT_EQ(t->done.calls.load(), 1);
    }
}

// Item 3: multi.cancel(), shutdown() and the multi's destruction from inside a write callback: every transfer
// in flight completes with operation_aborted and no write callback of any of them runs afterwards.
enum class multi_kill { cancel, shutdown, destroy };

class lifecycle_multi_kill : public lifecycle, public ::testing::WithParamInterface<multi_kill> {};

TEST_P(lifecycle_multi_kill, from_a_write_callback_aborts_every_transfer_at_once) {
    constexpr int transfers = 20;
    struct transfer {
        easy handle;
        callback_probe body;
        test::completion done;
        bool complete_at_kill = false;  // its whole body had arrived (curl may have finished it already)
    };
    std::vector<std::unique_ptr<transfer>> all;
    bool killed = false;
    auto kill = [&] {
        if (std::exchange(killed, true)) return;
        for (auto& t : all)
            t->complete_at_kill = t->done.done() || t->body.bytes == 1048576;
        switch (GetParam()) {
            case multi_kill::cancel:
                m->cancel();
                break;
            case multi_kill::shutdown:
                m->shutdown();
                break;
            case multi_kill::destroy:
                m.reset();
                break;
        }
        for (auto& t : all)
            t->body.killed = true;
    };
    for (int i = 0; i < transfers; ++i) {
        auto& t = *all.emplace_back(std::make_unique<transfer>());
        t.handle.set(CURLOPT_URL, server.url("/bytes/1048576"));
        t.handle.set(CURLOPT_WRITEFUNCTION, &callback_probe::as_curl_callback);
        t.handle.set(CURLOPT_WRITEDATA, &t.body);
        // The tenth transfer's first write kills: by then several are mid-body.
        if (i == transfers / 2) t.body.on_first_call = kill;
        m->async_perform(t.handle, t.done.handler());
    }
    ASSERT_TRUE(test::run_until(ioc, [&] {
        for (auto& t : all)
            if (!t->done.done()) return false;
        return true;
    }));
    ASSERT_TRUE(killed);
    for (auto& t : all) {
        // Those whose last byte came before the kill (on a slow machine, under valgrind) may have succeeded.
        if (!t->complete_at_kill) {
            EXPECT_EQ(t->done.ec, asio::error::operation_aborted);
        }
        EXPECT_EQ(t->body.calls_after_kill, 0);
        EXPECT_EQ(t->done.calls.load(), 1);
    }
}

INSTANTIATE_TEST_SUITE_P(all, lifecycle_multi_kill,
                         ::testing::Values(multi_kill::cancel, multi_kill::shutdown, multi_kill::destroy),
                         [](const ::testing::TestParamInfo<multi_kill>& param_info) {
                             switch (param_info.param) {
                                 case multi_kill::cancel:
                                     return "cancel";
                                 case multi_kill::shutdown:
                                     return "shutdown";
                                 default:
                                     return "destroy";
                             }
                         });

// Item 5: a cancellation_signal declared before the io_context outlives it; the slot handler the library
// left in it must not hold anything that touches the dead context (a strand) when the signal goes.
TEST(lifecycle_teardown, signal_outliving_its_io_context_with_a_strand_multi) {
    test::warm_up_process();
    test::test_server server;
    asio::cancellation_signal perform_signal, read_signal, header_signal;
    {
        asio::io_context ioc;
        strand_multi m(asio::make_strand(ioc));
        easy handle;
        handle.set(CURLOPT_URL, server.url("/bytes/100"));
        handle.discard_body();
        test::completion performed, header_read;
        m.async_perform(handle, asio::bind_cancellation_slot(perform_signal.slot(), performed.handler()));
        http::basic_stream<strand_multi::executor_type> stream(m);
        stream.start(bhttp::request<bhttp::empty_body>(bhttp::verb::get, server.url("/bytes/100"), 11));
        stream.async_read_header(asio::bind_cancellation_slot(header_signal.slot(), header_read.handler()));
        std::array<char, 1000> buffer{};
        std::atomic<int> read_calls{0};
        stream.async_read_some(
            asio::buffer(buffer),
            asio::bind_cancellation_slot(read_signal.slot(), [&](error_code, std::size_t) { ++read_calls; }));
        ASSERT_TRUE(
            test::run_until(ioc, [&] { return performed.done() && header_read.done() && read_calls; }));
        EXPECT_FALSE(performed.ec);
    }
    // The signals go here, after the strand's io_context.
}

// Item 6: total cancellation means the same in every operation: honoured while the transfer has not reached
// curl. With the strand multi held busy, a fetch whose signal emits total completes with operation_aborted
// and sends nothing.
TEST(lifecycle_cancellation, total_before_the_transfer_reached_curl_aborts_fetch_perform_and_stream) {
    test::warm_up_process();
    test::test_server server;
    asio::io_context ioc;
    auto work = asio::make_work_guard(ioc);
    std::thread runner([&] { ioc.run(); });
    {
        std::optional<strand_multi> m(std::in_place, asio::make_strand(ioc));
        std::promise<void> strand_busy, release;
        asio::post(m->get_executor(), [&] {
            strand_busy.set_value();
            release.get_future().wait();
        });
        strand_busy.get_future().wait();

        asio::cancellation_signal fetch_signal, perform_signal, stream_signal;
        std::promise<error_code> fetched, performed, header_read;
        http::async_fetch(
            *m, server.url("/bytes/100"),
            asio::bind_cancellation_slot(fetch_signal.slot(),
                                         [&](error_code ec, http::response<>) { fetched.set_value(ec); }));
        easy handle;
        handle.set(CURLOPT_URL, server.url("/bytes/100"));
        handle.discard_body();
        m->async_perform(handle, asio::bind_cancellation_slot(
                                     perform_signal.slot(), [&](error_code ec) { performed.set_value(ec); }));
        std::optional<http::basic_stream<strand_multi::executor_type>> stream(std::in_place, *m);
        stream->start(bhttp::request<bhttp::empty_body>(bhttp::verb::get, server.url("/bytes/100"), 11));
        stream->async_read_header(asio::bind_cancellation_slot(
            stream_signal.slot(), [&](error_code ec) { header_read.set_value(ec); }));

        fetch_signal.emit(asio::cancellation_type::total);
        perform_signal.emit(asio::cancellation_type::total);
        stream_signal.emit(asio::cancellation_type::total);
        release.set_value();
        EXPECT_EQ(fetched.get_future().get(), asio::error::operation_aborted);
        EXPECT_EQ(performed.get_future().get(), asio::error::operation_aborted);
        EXPECT_EQ(header_read.get_future().get(), asio::error::operation_aborted);
        // The stream and the multi go on their strand: ~stream posts its cancellation there, and a multi
        // destroyed from this thread meanwhile would race the io thread running it.
        std::promise<void> gone;
        asio::post(m->get_executor(), [&] {
            stream.reset();
            m.reset();
            gone.set_value();
        });
        gone.get_future().wait();
    }
    work.reset();
    runner.join();
    // Only the stream's transfer was sent (a read's cancellation ends the read, not the exchange).
    EXPECT_LE(server.requests_served(), 1u);
}

// ---- Item 4: hanging DNS lookups never block the reactor --------------------------------------------------

// The test runs in a child process with a private mount namespace whose /etc/resolv.conf names a loopback
// UDP socket that never answers, so every lookup through curl's threaded resolver hangs for `timeout` s.
constexpr const char* dns_sandbox_variable = "ASIOCURL_DNS_SANDBOX";
constexpr int sandbox_lookup_timeout_s = 4;

// Worst gap between the ticks of a 10 ms timer on the io_context while ten hanging lookups are cancelled,
// time out, and die with their multi.
void run_hanging_lookups_in_the_sandbox() {
    // Not test::warm_up_process(): it resolves names, which hang here. One transfer by address instead.
    test::test_server server;
    {
        asio::io_context ioc;
        multi m(ioc);
        easy warm_up;
        warm_up.set(CURLOPT_URL, server.url("/bytes/10"));
        warm_up.discard_body();
        test::completion done;
        m.async_perform(warm_up, done.handler());
        test::run_until(
            ioc, [&] { return done.done(); }, 10s);
    }
    EXPECT_TRUE(server.wait_for_idle(5s));
    test::fd_baseline fds;
    std::chrono::steady_clock::duration worst_gap{};
    {
        asio::io_context ioc;
        asio::steady_timer ticker(ioc);
        auto last = std::chrono::steady_clock::now();
        bool ticking = true;
        std::function<void()> tick = [&] {
            ticker.expires_after(10ms);
            ticker.async_wait([&](error_code) {
                const auto now = std::chrono::steady_clock::now();
                worst_gap = std::max(worst_gap, now - last);
                last = now;
                if (ticking) tick();
            });
        };
        tick();

        std::optional<multi> cancelled_one_by_one(std::in_place, ioc), cancelled_at_once(std::in_place, ioc),
            destroyed(std::in_place, ioc);
        struct lookup {
            easy handle;
            asio::cancellation_signal signal;
            test::completion done;
        };
        std::vector<std::unique_ptr<lookup>> lookups;
        auto start = [&](multi& on, int index, long connect_timeout_ms) {
            auto& l = *lookups.emplace_back(std::make_unique<lookup>());
            l.handle.set(CURLOPT_URL, "http://hang-" + std::to_string(index) + ".asiocurl-test.invalid/");
            l.handle.discard_body();
            if (connect_timeout_ms) l.handle.set(CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
            on.async_perform(l.handle, asio::bind_cancellation_slot(l.signal.slot(), l.done.handler()));
        };
        for (int i = 0; i < 3; ++i)
            start(*cancelled_one_by_one, i, 0);  // 0-2: terminal signals
        for (int i = 3; i < 5; ++i)
            start(*cancelled_one_by_one, i, 300);  // 3-4: curl's own connect timeout
        for (int i = 5; i < 7; ++i)
            start(*cancelled_at_once, i, 0);  // 5-6: multi.cancel()
        for (int i = 7; i < 10; ++i)
            start(*destroyed, i, 0);  // 7-9: die with their multi

        asio::steady_timer script(ioc);
        script.expires_after(200ms);
        script.async_wait([&](error_code) {
            for (int i = 0; i < 3; ++i)
                lookups[i]->signal.emit(asio::cancellation_type::terminal);
            cancelled_at_once->cancel();
            destroyed.reset();
        });
        const bool all_done = test::run_until(ioc, [&] {
            for (auto& l : lookups)
                if (!l->done.done()) return false;
            return true;
        });
        ticking = false;
        ioc.run_for(30ms);
        EXPECT_TRUE(all_done);
        for (int i = 0; i < 10; ++i) {
            const auto& l = *lookups[i];
            EXPECT_EQ(l.done.calls.load(), 1) << "lookup " << i;
            if (i == 3 || i == 4)
                EXPECT_EQ(l.done.ec, condition::timed_out) << "lookup " << i << ": " << l.done.ec.message();
            else
                EXPECT_EQ(l.done.ec, asio::error::operation_aborted) << "lookup " << i;
        }
        cancelled_one_by_one.reset();
        cancelled_at_once.reset();
        ioc.run_for(20ms);
    }
    const auto worst_ms = std::chrono::duration_cast<std::chrono::milliseconds>(worst_gap).count();
    std::printf("worst gap of the 10 ms ticker: %lld ms\n", static_cast<long long>(worst_ms));
    // A join of one resolver thread would be the lookup's timeout (4 s); ASan's slowest tick is far below 1
    // s.
    EXPECT_LT(worst_ms, 1000);
    // CURLOPT_QUICK_EXIT's cost: each abandoned resolver thread (and its socketpair end) lives until its
    // getaddrinfo returns.
    EXPECT_TRUE(fds.settled(std::chrono::seconds(sandbox_lookup_timeout_s * 3)));
}

TEST(lifecycle_dns, hanging_lookups_cancelled_timed_out_and_destroyed_never_block_the_reactor) {
    if (std::getenv(dns_sandbox_variable)) return run_hanging_lookups_in_the_sandbox();
    if (geteuid() != 0) GTEST_SKIP() << "needs root: a private mount namespace for /etc/resolv.conf";
    // The nameserver that never answers: a bound UDP socket on port 53 of a loopback address nobody reads.
    const int dns = ::socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(dns, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(53);
    std::string nameserver;
    for (int attempt = 1; attempt < 50; ++attempt) {
        nameserver = "127.53.0." + std::to_string(attempt);
        inet_pton(AF_INET, nameserver.c_str(), &address.sin_addr);
        if (::bind(dns, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) break;
        nameserver.clear();
    }
    if (nameserver.empty()) {
        ::close(dns);
        GTEST_SKIP() << "no loopback address with a free port 53";
    }
    const std::string resolv_conf = ::testing::TempDir() + "asiocurl-hanging-resolv.conf";
    std::ofstream(resolv_conf) << "nameserver " << nameserver
                               << "\noptions timeout:" << sandbox_lookup_timeout_s << " attempts:1\n";
    // Everything the child needs is prepared before fork: after it only system calls, then exec.
    const std::string filter =
        "--gtest_filter=lifecycle_dns.hanging_lookups_cancelled_timed_out_and_destroyed_never_block_the_"
        "reactor";
    const std::string marker = std::string(dns_sandbox_variable) + "=1";
    std::vector<std::string> environment{marker};
    for (char** e = environ; *e; ++e)
        environment.emplace_back(*e);
    std::vector<char*> envp,
        argv{const_cast<char*>("asiocurl_lifecycle_tests"), const_cast<char*>(filter.c_str())};
    for (auto& e : environment)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    argv.push_back(nullptr);
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(ready[0]);
        char status = 0;
        if (::unshare(CLONE_NEWNS) != 0)
            status = 1;
        else if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
            status = 2;
        else if (::mount(resolv_conf.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr) != 0)
            status = 3;
        (void)!::write(ready[1], &status, 1);
        if (status != 0) ::_exit(77);
        ::close(ready[1]);
        ::execve("/proc/self/exe", argv.data(), envp.data());
        ::_exit(127);
    }
    ::close(ready[1]);
    char status = 0;
    (void)!::read(ready[0], &status, 1);
    ::close(ready[0]);
    int exit_status = 0;
    ::waitpid(child, &exit_status, 0);
    ::close(dns);
    std::remove(resolv_conf.c_str());
    if (status != 0) GTEST_SKIP() << "no private mount namespace here (step " << int(status) << ")";
    ASSERT_TRUE(WIFEXITED(exit_status)) << "the sandboxed run crashed";
    EXPECT_EQ(WEXITSTATUS(exit_status), 0) << "the sandboxed run failed (its output is above)";
}

}  // namespace
}  // namespace asiocurl
