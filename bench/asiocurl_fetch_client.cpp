// The benchmark workload of ../shared/bench (README) through asiocurl's http layer, written the way a user
// would: one io_context on one thread, one multi, a coroutine per slot awaiting http::async_fetch for a
// Beast response. Same arguments and output line as epoll_client.
// Usage: asiocurl_fetch_client URL N C [--h2]
//
// Built a second time with ASIOCURL_BENCH_STREAM as asiocurl_stream_client: each slot reads its responses
// through an http::stream instead (async_read_header, then async_read_some into a 16 KiB buffer until eof);
// with ASIOCURL_BENCH_SHARE as asiocurl_fetch_share_client: every fetch uses one asiocurl::share; with
// ASIOCURL_BENCH_CLIENT as asiocurl_http_client: each request is a call of an http::client with the same
// transfer options and the default retry policy and budget (never retried here: nginx answers 200), and
// with ASIOCURL_BENCH_CLIENT_STATS too as asiocurl_http_client_stats: the client has the statistics
// middleware.
//
// On stderr it also says how many C++ heap allocations (operator new, and aligned_alloc where Asio's
// recycling allocator runs out of cached blocks) and how many of libcurl's (its
// malloc family, through curl_global_init_mem) one request cost in the second half of the run, when every
// connection and pool is warm: the steady state.
#include <asiocurl/http.hpp>
#include <asiocurl/http/client.hpp>
#include <asiocurl/http/client_statistics.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <malloc.h>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <string>

namespace {

#ifdef ASIOCURL_BENCH_STREAM
constexpr const char* client_name = "asiocurl_stream_client";
#elif defined(ASIOCURL_BENCH_CLIENT_STATS)
constexpr const char* client_name = "asiocurl_http_client_stats";
#elif defined(ASIOCURL_BENCH_CLIENT)
constexpr const char* client_name = "asiocurl_http_client";
#else
constexpr const char* client_name = "asiocurl_fetch_client";
#endif

std::atomic<unsigned long> cxx_allocations{0}, curl_allocations{0};

void* curl_malloc(size_t n) {
    curl_allocations.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n);
}
void* curl_calloc(size_t count, size_t n) {
    curl_allocations.fetch_add(1, std::memory_order_relaxed);
    return std::calloc(count, n);
}
void* curl_realloc(void* p, size_t n) {
    if (!p) curl_allocations.fetch_add(1, std::memory_order_relaxed);
    return std::realloc(p, n);
}
char* curl_strdup(const char* s) {
    curl_allocations.fetch_add(1, std::memory_order_relaxed);
    return ::strdup(s);
}

struct bench {
    asiocurl::multi& multi;
    std::string url;
    asiocurl::http::options options;
    long total;
    long started = 0, finished = 0, failed = 0;
    std::size_t bytes = 0;
    unsigned long cxx_at_half = 0, curl_at_half = 0;
    long finished_at_half = 0;
    std::optional<asiocurl::http::client> client;

    boost::asio::awaitable<void> slot() {
        namespace bhttp = boost::beast::http;
#ifdef ASIOCURL_BENCH_STREAM
        std::array<char, 16 * 1024> chunk;
#endif
        while (started < total) {
            ++started;
            bhttp::request<bhttp::empty_body> request(bhttp::verb::get, url, 11);
#ifdef ASIOCURL_BENCH_STREAM
            asiocurl::http::stream body(multi, 16 * 1024);  // the least a stream holds (curl's largest write)
            body.start(std::move(request), options);
            auto [ec] = co_await body.async_read_header(boost::asio::as_tuple(boost::asio::use_awaitable));
            while (!ec) {
                auto [read_ec, n] = co_await body.async_read_some(
                    boost::asio::buffer(chunk), boost::asio::as_tuple(boost::asio::use_awaitable));
                bytes += n;
                ec = read_ec;
            }
            if (ec == boost::asio::error::eof) ec = {};
            const auto& info = body.header().info;
#elif defined(ASIOCURL_BENCH_CLIENT)
            auto [ec, response] = co_await client->async_fetch(
                std::move(request), boost::asio::as_tuple(boost::asio::use_awaitable));
            bytes += response.body().size();
            const auto& info = response.info;
#else
            auto [ec, response] = co_await asiocurl::http::async_fetch(
                multi, std::move(request), options, boost::asio::as_tuple(boost::asio::use_awaitable));
            bytes += response.body().size();
            const auto& info = response.info;
#endif
            if (ec && ++failed == 1)
                std::fprintf(stderr, "%s: %s (%s)\n", client_name, ec.message().c_str(),
                             info.error_message.c_str());
            if (++finished == total / 2) {
                finished_at_half = finished;
                cxx_at_half = cxx_allocations.load();
                curl_at_half = curl_allocations.load();
            }
        }
    }
};

}  // namespace

// Asio's recycling allocator takes its blocks from aligned_alloc once its few cached ones are in use.
extern "C" void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
    cxx_allocations.fetch_add(1, std::memory_order_relaxed);
    return ::memalign(alignment, size);
}

// Counting replacements (malloc and free underneath, which GCC cannot see match).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
    cxx_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s URL N C [--h2]\n", argv[0]);
        return 2;
    }
    const long total = std::atol(argv[2]);
    const long concurrency = std::atol(argv[3]);
    const bool h2 = argc > 4 && std::strcmp(argv[4], "--h2") == 0;
    curl_global_init_mem(CURL_GLOBAL_DEFAULT, curl_malloc, std::free, curl_realloc, curl_strdup, curl_calloc);

    boost::asio::io_context ioc{1};
    asiocurl::multi multi(ioc);
    if (h2) multi.set_multiplexing(true);
    multi.set_max_host_connections(h2 ? 1 : concurrency);

    bench b{multi, argv[1], {}, total};
    // Same as the baseline: nginx's certificate is self-signed.
    b.options.tls.verify_peer = false;
    b.options.tls.verify_host = false;
    b.options.version = h2 ? asiocurl::http::http_version::http2_tls : asiocurl::http::http_version::http1_1;
    b.options.max_response_size = 0;
#ifdef ASIOCURL_BENCH_SHARE
    b.options.share = std::make_shared<asiocurl::share>();
#endif
    // The request the other clients send: no User-Agent, no Accept-Encoding (curl builds both headers with
    // its printf per request). ASIOCURL_BENCH_DEFAULTS=1 keeps the library's defaults instead.
    if (!std::getenv("ASIOCURL_BENCH_DEFAULTS")) {
        b.options.user_agent.clear();
        b.options.decompress = false;
    }

#ifdef ASIOCURL_BENCH_CLIENT
    asiocurl::http::client_options client_options;
    client_options.transfer = b.options;
#ifdef ASIOCURL_BENCH_CLIENT_STATS
    auto statistics = std::make_shared<asiocurl::http::client_statistics>();
    client_options.middleware.push_back(statistics);
#endif
    b.client.emplace(multi, client_options);
#endif

    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < std::min(concurrency, total); ++i)
        boost::asio::co_spawn(ioc, b.slot(), boost::asio::detached);
    ioc.run();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::printf("%s requests=%ld concurrency=%ld seconds=%.3f req_per_s=%.0f bytes=%zu failed=%ld\n",
                client_name, total, concurrency, seconds, static_cast<double>(total) / seconds, b.bytes,
                b.failed);
    const long steady = b.finished - b.finished_at_half;
    if (steady > 0)
        std::fprintf(stderr,
                     "%s: per request in the second half: %.2f C++ allocations, %.2f libcurl allocations\n",
                     client_name, double(cxx_allocations.load() - b.cxx_at_half) / double(steady),
                     double(curl_allocations.load() - b.curl_at_half) / double(steady));
    return b.failed ? 1 : 0;
}
