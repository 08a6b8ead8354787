// The benchmark workload of ../shared/bench (README) through an asiocurl::multi_pool: C chains of fetches,
// each fetch's handler (on the pool thread its transfer ran on) starting the next one. Same arguments and
// output line as epoll_client, and:
//   --threads T       pool threads (default 1)
//   --round-robin     route each fetch to the next thread (default: by host, as the pool's default)
//   --close           a new connection per request (CURLOPT_FORBID_REUSE: Connection: close as curl does it)
//   --full-handshakes no TLS session is reused: neither the pool's share nor the handles' own caches keep
//                     one (CURLOPT_SSL_SESSIONID_CACHE 0); with --close, every request a full TLS handshake
//   --cafile FILE     verify the server's certificate against FILE (default: not verified, as the baseline
//                     against the bench nginx's self-signed one)
//   --tls12           TLS 1.2 only: a resumed handshake skips the key exchange (TLS 1.3's resumption keeps
//                     its ECDHE, and saves only the certificate's parsing and checking)
// Usage: asiocurl_pool_client URL N C [--h2] [--threads T] [--round-robin] [--close] [--full-handshakes]
// [--tls12]
//
// On stderr: the share's lock counts (how often names and TLS sessions were looked up, and waited for).
#include <asiocurl/http.hpp>
#include <asiocurl/multi_pool.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace {

struct bench {
    asiocurl::multi_pool& pool;
    std::string url;
    asiocurl::http::options options;
    long total;
    std::atomic<long> started{0}, finished{0}, failed{0};
    std::atomic<std::size_t> bytes{0};
    std::mutex mutex;
    std::condition_variable all_done;

    void next() {
        if (started.fetch_add(1) >= total) return;
        namespace bhttp = boost::beast::http;
        bhttp::request<bhttp::empty_body> request(bhttp::verb::get, url, 11);
        asiocurl::http::async_fetch(pool, std::move(request), options,
                                    [this](asiocurl::error_code ec, asiocurl::http::response<> response) {
                                        bytes += response.body().size();
                                        if (ec && ++failed == 1)
                                            std::fprintf(stderr, "asiocurl_pool_client: %s (%s)\n",
                                                         ec.message().c_str(),
                                                         response.info.error_message.c_str());
                                        if (++finished == total) {
                                            std::lock_guard lock(mutex);
                                            all_done.notify_all();
                                        }
                                        next();
                                    });
    }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr,
                     "usage: %s URL N C [--h2] [--threads T] [--round-robin] [--close] [--full-handshakes] "
                     "[--tls12]\n",
                     argv[0]);
        return 2;
    }
    const long total = std::atol(argv[2]);
    const long concurrency = std::atol(argv[3]);
    bool h2 = false, round_robin = false, close = false, full_handshakes = false, tls12 = false;
    std::string ca_file;
    std::size_t threads = 1;
    for (int i = 4; i < argc; ++i) {
        if (std::strcmp(argv[i], "--h2") == 0)
            h2 = true;
        else if (std::strcmp(argv[i], "--round-robin") == 0)
            round_robin = true;
        else if (std::strcmp(argv[i], "--close") == 0)
            close = true;
        else if (std::strcmp(argv[i], "--full-handshakes") == 0)
            full_handshakes = true;
        else if (std::strcmp(argv[i], "--tls12") == 0)
            tls12 = true;
        else if (std::strcmp(argv[i], "--cafile") == 0 && i + 1 < argc)
            ca_file = argv[++i];
        else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = static_cast<std::size_t>(std::atol(argv[++i]));
    }

    asiocurl::pool_options pool_options;
    pool_options.routing =
        round_robin ? asiocurl::pool_routing::round_robin : asiocurl::pool_routing::by_host;
    pool_options.share =
        std::make_shared<asiocurl::share>(asiocurl::share_options{.tls_sessions = !full_handshakes});
    // As the other clients: C connections to the one host (h2: one, multiplexed), over the whole pool.
    pool_options.max_host_connections = h2 ? static_cast<long>(threads) : concurrency;
    asiocurl::multi_pool pool(threads, pool_options);

    bench b{pool, argv[1], {}, total};
    // Same as the baseline (nginx's certificate is self-signed), unless a CA is given.
    b.options.tls.verify_peer = !ca_file.empty();
    b.options.tls.verify_host = !ca_file.empty();
    if (!ca_file.empty()) b.options.tls.ca_file = ca_file;
    b.options.version = h2 ? asiocurl::http::http_version::http2_tls : asiocurl::http::http_version::http1_1;
    b.options.max_response_size = 0;
    b.options.user_agent.clear();
    b.options.decompress = false;
    if (close || full_handshakes || tls12)
        b.options.customize = [close, full_handshakes, tls12](asiocurl::easy& handle) {
            if (close) handle.set(CURLOPT_FORBID_REUSE, 1L);
            if (full_handshakes) handle.set(CURLOPT_SSL_SESSIONID_CACHE, 0L);
            if (tls12)
                handle.set(CURLOPT_SSLVERSION,
                           long{CURL_SSLVERSION_TLSv1_2} | long{CURL_SSLVERSION_MAX_TLSv1_2});
        };

    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < std::min(concurrency, total); ++i)
        b.next();
    {
        std::unique_lock lock(b.mutex);
        b.all_done.wait(lock, [&] { return b.finished.load() >= total; });
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    pool.stop(std::chrono::seconds(10));

    // Named as invoked (exec -a), so that several configurations can be compared side by side.
    const char* name = std::strrchr(argv[0], '/') ? std::strrchr(argv[0], '/') + 1 : argv[0];
    std::printf("%s requests=%ld concurrency=%ld seconds=%.3f req_per_s=%.0f bytes=%zu failed=%ld\n", name,
                total, concurrency, seconds, static_cast<double>(total) / seconds, b.bytes.load(),
                b.failed.load());
    const auto stats = pool.get_share()->stats();
    std::fprintf(stderr,
                 "asiocurl_pool_client: threads=%zu routing=%s share locks: dns %llu (contended %llu), tls "
                 "sessions %llu (contended %llu)\n",
                 threads, round_robin ? "round-robin" : "by-host", (unsigned long long)stats.dns.taken,
                 (unsigned long long)stats.dns.contended, (unsigned long long)stats.tls_sessions.taken,
                 (unsigned long long)stats.tls_sessions.contended);
    return b.failed ? 1 : 0;
}
