// Soak (issue 4, section 5): many transfers of every kind through one multi, then everything back to where
// it started. ASIOCURL_SOAK_TRANSFERS sets the count (default 20,000, what CI runs).
#include "multi_fixture.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/resource.h>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <vector>

namespace asiocurl {
namespace {

using namespace std::chrono_literals;

class soak : public test::multi_test {};

std::size_t transfers_to_run() {
    if (const char* count = std::getenv("ASIOCURL_SOAK_TRANSFERS")) return std::strtoull(count, nullptr, 10);
    return 20000;
}

long peak_rss_kib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

TEST_F(soak, a_mix_of_every_kind_of_transfer) {
    const std::size_t total = transfers_to_run();
    constexpr std::size_t lanes = 64;
    struct lane {
        easy handle;
        std::string body;
        boost::asio::cancellation_signal signal;
        std::unique_ptr<boost::asio::steady_timer> canceller;
        int completions = 0;
    };
    std::vector<std::unique_ptr<lane>> all;
    std::size_t started = 0, completed = 0, succeeded = 0, aborted = 0, failed = 0;
    std::mt19937 random(42);
    const auto refused_port = [] {
        boost::asio::io_context scratch;
        boost::asio::ip::tcp::acceptor acceptor(scratch, {boost::asio::ip::make_address("127.0.0.1"), 0});
        return acceptor.local_endpoint().port();  // closed again when the acceptor goes
    }();

    std::function<void(lane&)> launch = [&](lane& l) {
        if (started == total) return;
        ++started;
        l.body.clear();
        l.handle.set(CURLOPT_TIMEOUT_MS, 0L);
        bool cancel = false;
        switch (random() % 8) {
            case 0:
                l.handle.set(CURLOPT_URL, server.url("/close/" + std::to_string(random() % 3000)));
                break;
            case 1:
                l.handle.set(CURLOPT_URL, server.url("/status/500"));
                break;
            case 2:  // a timeout
                l.handle.set(CURLOPT_URL, server.url("/stall"));
                l.handle.set(CURLOPT_TIMEOUT_MS, 30L);
                break;
            case 3:  // a cancellation mid-body
                l.handle.set(CURLOPT_URL, server.url("/trickle/100000?chunk=100&interval_ms=1"));
                cancel = true;
                break;
            case 4:
                l.handle.set(CURLOPT_URL, "http://127.0.0.1:" + std::to_string(refused_port) + "/");
                break;
            default:
                l.handle.set(CURLOPT_URL, server.url("/bytes/" + std::to_string(random() % 20000)));
                break;
        }
        m->async_perform(l.handle,
                         boost::asio::bind_cancellation_slot(l.signal.slot(), [&, lp = &l](error_code ec) {
                             ++lp->completions;
                             ++completed;
                             if (!ec)
                                 ++succeeded;
                             else if (ec == boost::asio::error::operation_aborted)
                                 ++aborted;
                             else
                                 ++failed;
                             launch(*lp);
                         }));
        if (cancel) {
            l.canceller->expires_after(std::chrono::milliseconds(random() % 20));
            l.canceller->async_wait([lp = &l](error_code ec) {
                if (!ec) lp->signal.emit(boost::asio::cancellation_type::terminal);
            });
        }
    };
    const long rss_before = peak_rss_kib();
    for (std::size_t i = 0; i < lanes; ++i) {
        all.push_back(std::make_unique<lane>());
        all.back()->handle.write_to(all.back()->body);
        all.back()->canceller = std::make_unique<boost::asio::steady_timer>(ioc);
        launch(*all.back());
    }
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return completed == total; }, std::chrono::minutes(30)));
    ioc.run_for(50ms);
    EXPECT_EQ(completed, total) << "a completion ran more than once";
    EXPECT_EQ(succeeded + aborted + failed, total);
    EXPECT_GT(succeeded, total / 2);
    EXPECT_GT(aborted, 0u);
    EXPECT_GT(failed, 0u);
    const auto stats = m->stats();
    EXPECT_EQ(stats.curl_errors, 0u) << "curl answered " << stats.last_curl_error;
    EXPECT_EQ(stats.live_registrations, 0u);
    EXPECT_EQ(m->in_flight(), 0u);
    std::printf(
        "soak: %zu transfers (%zu ok, %zu aborted, %zu failed), peak RSS %ld -> %ld KiB, %llu "
        "registrations\n",
        total, succeeded, aborted, failed, rss_before, peak_rss_kib(),
        static_cast<unsigned long long>(stats.registrations_created));
    m.reset();
    EXPECT_TRUE(server.wait_for_idle(std::chrono::seconds(5)));
    EXPECT_TRUE(fds.settled());
    std::printf("soak: fds %zu at start, %zu at the end\n", fds.count(), test::open_fd_count());
}

}  // namespace
}  // namespace asiocurl
