// Hazards of the glue beyond single transfers (issue 4, section 3): large bodies both ways with interest
// flipping between read and write, idle transfers that must not spin, re-entrant handlers and callbacks,
// happy eyeballs with two sockets, and handles reused after failures.
#include "multi_fixture.hpp"

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace asiocurl {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

class hazards : public test::multi_test {};

// The longest silence between two calls of a body callback.
struct gap_meter {
    clock_type::time_point last = clock_type::now();
    clock_type::duration longest{};
    void tick() {
        const auto now = clock_type::now();
        longest = std::max(longest, now - last);
        last = now;
    }
};

struct download_probe {
    std::string body;
    gap_meter gaps;
    static size_t write(char* data, size_t size, size_t count, void* self) {
        auto& p = *static_cast<download_probe*>(self);
        p.gaps.tick();
        p.body.append(data, size * count);
        return size * count;
    }
};

struct upload_probe {
    std::string_view data;
    std::size_t offset = 0;
    gap_meter gaps;
    static size_t read(char* buffer, size_t size, size_t count, void* self) {
        auto& p = *static_cast<upload_probe*>(self);
        p.gaps.tick();
        const size_t n = std::min(size * count, p.data.size() - p.offset);
        std::memcpy(buffer, p.data.data() + p.offset, n);
        p.offset += n;
        return n;
    }
};

std::chrono::microseconds thread_cpu_time() {
    rusage usage{};
    getrusage(RUSAGE_THREAD, &usage);
    return std::chrono::seconds(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           std::chrono::microseconds(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

TEST_F(hazards, fifty_megabytes_down_and_up_byte_exact_without_a_stall) {
    constexpr std::size_t size = 50u << 20;
    const std::string expected = test::expected_body(size);

    easy handle;
    download_probe down;
    handle.set(CURLOPT_URL, server.url("/bytes/" + std::to_string(size)));
    handle.set(CURLOPT_WRITEFUNCTION, &download_probe::write);
    handle.set(CURLOPT_WRITEDATA, &down);
    ASSERT_FALSE(perform(handle, 60s)) << handle.error_message();
    EXPECT_TRUE(down.body == expected) << down.body.size();
    EXPECT_LT(down.gaps.longest, 1s);

    // Up, then the same bytes back: curl wants OUT while it sends and IN for the answer (rule 6).
    upload_probe up{expected};
    download_probe echoed;
    handle.set(CURLOPT_URL, server.url("/echo"));
    handle.set(CURLOPT_POST, 1L);
    handle.set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(size));
    handle.set(CURLOPT_READFUNCTION, &upload_probe::read);
    handle.set(CURLOPT_READDATA, &up);
    handle.set(CURLOPT_WRITEDATA, &echoed);
    ASSERT_FALSE(perform(handle, 60s)) << handle.error_message();
    EXPECT_EQ(up.offset, size);
    EXPECT_TRUE(echoed.body == expected) << echoed.body.size();
    EXPECT_LT(up.gaps.longest, 1s);
    EXPECT_EQ(m->stats().curl_errors, 0u);
}

// Rule 2 (no busy loop on timer 0): two seconds of silence from the server cost the client next to no CPU.
TEST_F(hazards, an_idle_transfer_burns_no_cpu) {
    easy handle;
    std::string body;
    handle.write_to(body);
    handle.set(CURLOPT_URL, server.url("/trickle/2?chunk=1&interval_ms=1000"));
    handle.set(CURLOPT_TIMEOUT_MS, 5000L);
    const auto cpu_before = thread_cpu_time();
    const auto wall_before = clock_type::now();
    ASSERT_FALSE(perform(handle)) << handle.error_message();
    const auto cpu = thread_cpu_time() - cpu_before;
    EXPECT_GE(clock_type::now() - wall_before, 1900ms);
    EXPECT_LT(cpu, 100ms) << "client CPU " << cpu.count() << " us over a 2 s idle transfer";
    EXPECT_EQ(body, test::expected_body(2));
}

// Handlers that start transfers and cancel others, write callbacks that cancel their own transfer: curl never
// answers anything but OK to the glue (no CURLM_RECURSIVE_API_CALL, no CURLM_BAD_SOCKET).
TEST_F(hazards, reentrant_handlers_and_callbacks) {
    constexpr int chains = 8, rounds = 25;
    struct chain {
        easy handle;
        boost::asio::cancellation_signal signal;
        std::size_t index = 0;
        int remaining = rounds;
        int completions = 0;
        bool self_cancel = false;
        bool cancel_requested = false;
    };
    std::vector<std::unique_ptr<chain>> all;
    for (int i = 0; i < chains; ++i)
        all.push_back(std::make_unique<chain>());
    int finished = 0, aborted = 0;

    std::function<void(chain&)> launch = [&](chain& c) {
        const int round = rounds - c.remaining;
        c.self_cancel = round % 5 == 3;
        c.cancel_requested = false;
        c.handle.set(CURLOPT_URL, server.url(c.self_cancel ? "/trickle/20000?chunk=100&interval_ms=1"
                                                           : "/bytes/" + std::to_string(1000 + round)));
        c.handle.set(
            CURLOPT_WRITEFUNCTION, +[](char*, size_t size, size_t count, void* self) -> size_t {
                auto& me = *static_cast<chain*>(self);
                // From inside curl's write callback: the emit only posts, the abort happens outside curl.
                if (me.self_cancel && !me.cancel_requested) {
                    me.cancel_requested = true;
                    me.signal.emit(boost::asio::cancellation_type::terminal);
                }
                return size * count;
            });
        c.handle.set(CURLOPT_WRITEDATA, &c);
        m->async_perform(c.handle,
                         boost::asio::bind_cancellation_slot(c.signal.slot(), [&, cp = &c](error_code ec) {
                             ++cp->completions;
                             if (ec == boost::asio::error::operation_aborted)
                                 ++aborted;
                             else
                                 EXPECT_FALSE(ec) << ec.message();
                             // Cancel a neighbour now and then, from inside a completion handler.
                             chain& neighbour = *all[(cp->index + 1) % chains];
                             if (cp->remaining % 7 == 0 && neighbour.handle.busy())
                                 neighbour.signal.emit(boost::asio::cancellation_type::terminal);
                             if (--cp->remaining > 0)
                                 launch(*cp);  // the next transfer, started from the completion handler
                             else
                                 ++finished;
                         }));
    };
    for (auto& c : all)
        launch(*c);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return finished == chains; }, 60s));
    for (auto& c : all)
        EXPECT_EQ(c->completions, rounds);
    EXPECT_GT(aborted, 0);
    EXPECT_EQ(m->stats().curl_errors, 0u) << "curl answered " << m->stats().last_curl_error;
    EXPECT_EQ(m->in_flight(), 0u);
}

// Happy eyeballs: the name resolves to ::1, where the connect hangs (a listener with a full accept queue
// drops the SYN), and to 127.0.0.1, where the server answers. curl races the two; both sockets go through the
// glue and are released.
TEST_F(hazards, happy_eyeballs_with_a_hanging_ipv6_address) {
    namespace ip = boost::asio::ip;
    const unsigned short port = static_cast<unsigned short>(std::stoi(server.url("").substr(17)));
    const int blackhole = ::socket(AF_INET6, SOCK_STREAM, 0);
    ASSERT_GE(blackhole, 0);
    const int on = 1;
    ::setsockopt(blackhole, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_loopback;
    address.sin6_port = htons(port);
    if (::bind(blackhole, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(blackhole);
        GTEST_SKIP() << "[::1]:" << port << " is taken";
    }
    ::listen(blackhole, 0);
    // Fill the accept queue so that the next SYN is dropped and curl's IPv6 connect stays pending.
    std::vector<int> fillers;
    for (int i = 0; i < 4; ++i) {
        const int filler = ::socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ::connect(filler, reinterpret_cast<sockaddr*>(&address), sizeof address);
        fillers.push_back(filler);
    }
    std::this_thread::sleep_for(50ms);

    easy handle;
    std::string body;
    handle.write_to(body);
    curl_slist* resolve =
        curl_slist_append(nullptr, ("eyeballs.test:" + std::to_string(port) + ":[::1],127.0.0.1").c_str());
    handle.set(CURLOPT_RESOLVE, resolve);
    handle.set(CURLOPT_URL, "http://eyeballs.test:" + std::to_string(port) + "/bytes/100");
    handle.set(CURLOPT_HAPPY_EYEBALLS_TIMEOUT_MS, 50L);
    handle.set(CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    const auto registrations_before = m->stats().registrations_created;
    const error_code ec = perform(handle, 10s);
    curl_slist_free_all(resolve);
    EXPECT_FALSE(ec) << handle.error_message();
    EXPECT_EQ(body, test::expected_body(100));
    EXPECT_EQ(handle.info<std::string>(CURLINFO_PRIMARY_IP), "127.0.0.1");
    EXPECT_GE(m->stats().registrations_created - registrations_before, 2u) << "both sockets reached the glue";
    m.reset();
    for (int fd : fillers)
        ::close(fd);
    ::close(blackhole);
}

TEST_F(hazards, handle_reusable_after_failure_cancellation_and_multi_death) {
    easy handle;
    std::string body;
    handle.write_to(body);
    handle.set(CURLOPT_URL, "http://127.0.0.1:9/");
    EXPECT_EQ(perform(handle), condition::connect_failed);
    handle.set(CURLOPT_URL, server.url("/bytes/10"));
    EXPECT_FALSE(perform(handle)) << handle.error_message();

    boost::asio::cancellation_signal signal;
    test::completion cancelled;
    handle.set(CURLOPT_URL, server.url("/stall"));
    m->async_perform(handle, boost::asio::bind_cancellation_slot(signal.slot(), cancelled.handler()));
    ASSERT_TRUE(test::run_until(ioc, [&] { return server.open_connections() > 0 && m->in_flight() == 1; }));
    signal.emit(boost::asio::cancellation_type::terminal);
    ASSERT_TRUE(test::run_until(ioc, [&] { return cancelled.done(); }));
    EXPECT_EQ(cancelled.ec, boost::asio::error::operation_aborted);
    body.clear();
    handle.set(CURLOPT_URL, server.url("/bytes/20"));
    EXPECT_FALSE(perform(handle));
    EXPECT_EQ(body, test::expected_body(20));

    m.emplace(ioc);  // the multi that ran it is gone
    body.clear();
    EXPECT_FALSE(perform(handle));
    EXPECT_EQ(body, test::expected_body(20));
}

// Bad input through every entry point: a clear error, once, never a crash or a hang.
TEST_F(hazards, bad_urls_and_option_values_fail_cleanly) {
    easy handle;
    handle.discard_body();
    for (const std::string& url : {std::string("http://["), std::string(""), std::string("gopher2://x/"),
                                   std::string("http://127.0.0.1:99999/"), std::string("http://a b/")}) {
        handle.set(CURLOPT_URL, url);
        const error_code ec = perform(handle, 10s);
        EXPECT_TRUE(ec) << "'" << url << "' succeeded";
        EXPECT_EQ(ec.category(), curl_category()) << url << ": " << ec.message();
    }
    // 64 KiB of path: curl sends it, the server answers (404); nothing breaks.
    handle.set(CURLOPT_URL, server.url("/" + std::string(64 * 1024, 'a')));
    EXPECT_FALSE(perform(handle, 10s)) << handle.error_message();
    EXPECT_EQ(handle.info<long>(CURLINFO_RESPONSE_CODE), 404);

    using namespace std::string_view_literals;
    error_code ec;
    handle.set(CURLOPT_URL, "http://127.0.0.1/\0http://elsewhere/"sv, ec);
    EXPECT_EQ(ec, errc::invalid_argument);
    handle.set(CURLOPT_MAXREDIRS, -2L, ec);  // below curl's -1 ("no limit")
    EXPECT_EQ(ec, make_error_code(CURLE_BAD_FUNCTION_ARGUMENT));
    handle.set(CURLOPT_SSLVERSION, 999L, ec);
    EXPECT_TRUE(ec);
    EXPECT_EQ(ec.category(), curl_category());
    handle.set(CURLOPT_URL, server.url("/bytes/10"));
    EXPECT_FALSE(perform(handle));
    EXPECT_EQ(m->stats().curl_errors, 0u);
}

}  // namespace
}  // namespace asiocurl
