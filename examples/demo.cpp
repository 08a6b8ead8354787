// Fetches many URLs concurrently with asiocurl and C++20 coroutines, then prints what came back.
//
//   asiocurl_demo [--concurrency N] [--count N]             a mix of URLs from a loopback test server
//   asiocurl_demo [--concurrency N] [--count N] URL...      those URLs (each once unless --count says)
//
// A fixed number of worker coroutines pull URLs from a shared queue: that bounds the transfers in flight
// (and the connections open) whatever the number of URLs. Exit status 0 when every fetch got the answer
// expected of it (loopback run) or at least completed (URLs given). The loopback run ends by streaming a body
// with a live progress bar (plain lines when the output is not a terminal).
#include <asiocurl/asiocurl.hpp>
#include <asiocurl/http.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "progress_bar.hpp"
#include "test_server.hpp"  // test/support: the loopback server of asiocurl's own tests

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

namespace {

struct job {
    std::string url;
    long expected_status = 0;  // 0: any answer will do (URLs from the command line)
};

// Every coroutine runs on the one thread that runs the io_context, so the queue and the results need no
// lock: a worker is only ever suspended at a co_await.
struct work_queue {
    std::vector<job> jobs;
    std::size_t next = 0;

    const job* pop() { return next < jobs.size() ? &jobs[next++] : nullptr; }
};

// A transfer that got no HTTP answer at all: counted by URL and curl code, with the first one's detail.
struct failure {
    int count = 0;
    std::string detail;
};

struct results {
    std::map<long, int> by_status;                            // HTTP status of answered transfers
    std::map<std::pair<std::string, int>, failure> by_error;  // by URL and curl code
    std::vector<double> latencies_ms;                         // of answered transfers
    std::size_t failed = 0;
    curl_off_t bytes = 0;
    int unexpected = 0;
};

asio::awaitable<void> worker(asiocurl::multi& multi, work_queue& queue, results& out) {
    // One handle per worker, reused for each URL: curl keeps its connection open for the next fetch.
    asiocurl::easy easy;
    easy.set(CURLOPT_FOLLOWLOCATION, 1L);
    easy.set(CURLOPT_MAXREDIRS, 5L);
    // A real site may never answer: do not let one URL hold a worker forever.
    easy.set(CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
    easy.set(CURLOPT_TIMEOUT_MS, 60'000L);
    // Only the size matters here, and curl counts it (CURLINFO_SIZE_DOWNLOAD_T): no need to keep bodies.
    easy.discard_body();

    while (const job* next = queue.pop()) {
        easy.set(CURLOPT_URL, next->url);
        const auto start = clock_type::now();
        // redirect_error instead of an exception: a failed fetch is a result to count, not an accident.
        asiocurl::error_code ec;
        co_await multi.async_perform(easy, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            // error_message() is curl's detail (which host and port, which certificate problem, which byte
            // count), and it already ends with the code's own text where that helps; ec.message() is that
            // text alone, for a failure curl gave no detail for.
            failure& f = out.by_error[{next->url, ec.value()}];
            if (f.count++ == 0)
                f.detail = easy.error_message().empty() ? ec.message() : std::string(easy.error_message());
            ++out.failed;
            ++out.unexpected;
            continue;
        }
        out.latencies_ms.push_back(
            std::chrono::duration<double, std::milli>(clock_type::now() - start).count());
        const long status = easy.info<long>(CURLINFO_RESPONSE_CODE);
        out.by_status[status]++;
        out.bytes += easy.info<curl_off_t>(CURLINFO_SIZE_DOWNLOAD_T);
        if (next->expected_status != 0 && status != next->expected_status) ++out.unexpected;
    }
}

// Streams one body through http::stream with a live progress bar (plain lines when stdout is not a terminal),
// reading it at the reader's pace: memory stays at the stream's buffer.
asio::awaitable<void> stream_with_progress(asiocurl::multi& multi, std::string url, bool& ok) {
    namespace http = asiocurl::http;
    progress_bar bar(stdout, "stream");
    http::options opts;
    opts.on_progress = std::ref(bar);
    http::stream body(multi);
    body.start(
        boost::beast::http::request<boost::beast::http::empty_body>(boost::beast::http::verb::get, url, 11),
        opts);
    std::vector<char> chunk(64 * 1024);
    std::size_t total = 0;
    for (;;) {
        auto [ec, n] =
            co_await body.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
        total += n;
        if (ec) {
            ok = ec == asio::error::eof;
            if (!ok) {
                const std::string& detail = body.header().info.error_message;
                std::printf("stream of %s failed: %s\n", url.c_str(),
                            detail.empty() ? ec.message().c_str() : detail.c_str());
            }
            break;
        }
    }
    std::printf("streamed %zu bytes, the stream held at most %zu bytes (bound %zu)\n", total,
                body.max_buffered(), body.buffer_size());
}

// Nearest rank in an already sorted sample.
double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    const auto rank = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
    return sorted[rank];
}

// Rates and latencies count answered fetches only: a refused connection fails in microseconds and would
// make a dead URL look fast.
void print_summary(const results& r, std::size_t fetches, int concurrency, double seconds) {
    const std::size_t answered = r.latencies_ms.size();
    std::printf("%zu %s, %d at a time: %.3f s", fetches, fetches == 1 ? "fetch" : "fetches", concurrency,
                seconds);
    if (answered > 0)
        std::printf(", %zu answered (%.0f req/s, %lld bytes)", answered,
                    static_cast<double>(answered) / seconds, static_cast<long long>(r.bytes));
    if (r.failed > 0) std::printf(", %zu failed", r.failed);
    std::printf("\n");
    if (answered > 0) {
        std::vector<double> sorted = r.latencies_ms;
        std::sort(sorted.begin(), sorted.end());
        std::printf("latency: p50 %.2f ms, p99 %.2f ms\n", percentile(sorted, 0.50),
                    percentile(sorted, 0.99));
    }
    for (const auto& [status, count] : r.by_status)
        std::printf("%7d  HTTP %ld\n", count, status);
    for (const auto& [key, f] : r.by_error)
        std::printf("%7d  failed: %s: %s\n", f.count, key.first.c_str(), f.detail.c_str());
    std::printf("unexpected results: %d\n", r.unexpected);
}

}  // namespace

int main(int argc, char** argv) {
    int concurrency = 32;
    std::optional<std::size_t> count;
    std::vector<std::string> urls;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--concurrency" && i + 1 < argc) {
            concurrency = std::max(1, std::atoi(argv[++i]));
        } else if (arg == "--count" && i + 1 < argc) {
            count = static_cast<std::size_t>(std::max(0L, std::atol(argv[++i])));
        } else if (arg.starts_with("--")) {
            std::fprintf(stderr, "usage: %s [--concurrency N] [--count N] [URL...]\n", argv[0]);
            return 2;
        } else {
            urls.emplace_back(arg);
        }
    }

    // Without URLs, serve a mix from a loopback server that runs on a thread of its own, so that its work
    // does not share this program's event loop. Each entry says which status it must end with.
    std::unique_ptr<asiocurl::test::test_server> server;
    std::vector<job> mix;
    if (urls.empty()) {
        server = std::make_unique<asiocurl::test::test_server>();
        mix = {{server->url("/bytes/1024"), 200},
               {server->url("/bytes/65536"), 200},
               {server->url("/chunked/100000"), 200},
               {server->url("/status/404"), 404},
               {server->url("/redirect/2"), 200}};  // two 302s, followed
    } else {
        for (auto& url : urls)
            mix.push_back({std::move(url), 0});
    }
    work_queue queue;
    const std::size_t fetches = count.value_or(server ? 400 : mix.size());
    for (std::size_t i = 0; i < fetches; ++i)
        queue.jobs.push_back(mix[i % mix.size()]);

    // Declared before the multi so that it outlives it: a multi must go before its io_context.
    asio::io_context ioc{1};
    asiocurl::multi multi(ioc);
    results out;
    concurrency = static_cast<int>(std::min<std::size_t>(concurrency, fetches));
    for (int i = 0; i < concurrency; ++i) {
        // asio::detached would swallow an exception (a bug in the demo); rethrown, it ends ioc.run().
        asio::co_spawn(ioc, worker(multi, queue, out), [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    }
    const auto start = clock_type::now();
    try {
        ioc.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "asiocurl_demo: %s\n", e.what());
        return 1;
    }
    print_summary(out, fetches, concurrency,
                  std::chrono::duration<double>(clock_type::now() - start).count());
    bool streamed = true;
    if (server) {
        // 8 MiB trickled in 256 KiB pieces: long enough for the progress bar to move.
        asio::co_spawn(ioc,
                       stream_with_progress(
                           multi, server->url("/trickle/8388608?chunk=262144&interval_ms=25"), streamed),
                       [](std::exception_ptr e) {
                           if (e) std::rethrow_exception(e);
                       });
        try {
            ioc.restart();
            ioc.run();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "asiocurl_demo: %s\n", e.what());
            return 1;
        }
    }
    return out.unexpected == 0 && out.latencies_ms.size() + out.failed == fetches && streamed ? 0 : 1;
}
