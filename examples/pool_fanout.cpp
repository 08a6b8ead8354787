// Fans many fetches out over a multi_pool and prints the throughput, the connections made (over https,
// each a TLS handshake) and how often the pool's share was asked for a TLS session to resume.
// Usage: asiocurl_pool_fanout URL [COUNT [THREADS [IN_FLIGHT]]] [--new-connections] [--cafile FILE]
//   --new-connections  a connection per fetch (as against a server that says Connection: close)
#include <asiocurl/asiocurl.hpp>
#include <asiocurl/http.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <string>
#include <vector>

namespace {

// One chain of fetches: each handler (on the pool thread its fetch ran on) starts the next.
struct fanout {
    asiocurl::multi_pool& pool;
    std::string url;
    asiocurl::http::options options;
    long count;
    std::atomic<long> started{0}, finished{0}, failed{0}, new_connections{0};
    std::promise<void> done;

    void next() {
        if (started.fetch_add(1) >= count) return;
        namespace bhttp = boost::beast::http;
        bhttp::request<bhttp::empty_body> request(bhttp::verb::get, url, 11);
        asiocurl::http::async_fetch(pool, std::move(request), options,
                                    [this](asiocurl::error_code ec, asiocurl::http::response<> res) {
                                        if (ec && ++failed == 1)
                                            std::fprintf(stderr, "%s: %s (%s)\n", url.c_str(),
                                                         ec.message().c_str(),
                                                         res.info.error_message.c_str());
                                        if (!ec && !res.info.connection_reused) ++new_connections;
                                        if (++finished == count) done.set_value();
                                        next();
                                    });
    }
};

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    bool new_connections = false;
    std::string ca_file;
    std::vector<std::string> positional;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--new-connections")
            new_connections = true;
        else if (args[i] == "--cafile" && i + 1 < args.size())
            ca_file = args[++i];
        else
            positional.push_back(args[i]);
    }
    if (positional.empty()) {
        std::fprintf(stderr,
                     "usage: %s URL [COUNT [THREADS [IN_FLIGHT]]] [--new-connections] [--cafile FILE]\n",
                     argv[0]);
        return 2;
    }
    const long count = positional.size() > 1 ? std::atol(positional[1].c_str()) : 1000;
    const long threads = positional.size() > 2 ? std::atol(positional[2].c_str()) : 2;
    const long in_flight = positional.size() > 3 ? std::atol(positional[3].c_str()) : 32;
    if (count <= 0 || threads <= 0 || in_flight <= 0) {
        std::fprintf(stderr, "%s: COUNT, THREADS and IN_FLIGHT must be positive\n", argv[0]);
        return 2;
    }

    // One busy origin: spread it over every thread (by host, the default, it would live on one).
    asiocurl::multi_pool pool(static_cast<std::size_t>(threads),
                              asiocurl::pool_options{.routing = asiocurl::pool_routing::round_robin});
    fanout f{pool, positional[0], {}, count};
    if (!ca_file.empty()) f.options.tls.ca_file = ca_file;
    if (new_connections)
        f.options.customize = [](asiocurl::easy& handle) { handle.set(CURLOPT_FORBID_REUSE, 1L); };

    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < std::min(in_flight, count); ++i)
        f.next();
    f.done.get_future().wait();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    pool.stop(std::chrono::seconds(5));

    const auto stats = pool.get_share()->stats();
    std::printf("%ld fetches over %ld threads in %.3f s: %.0f/s, %ld failed\n", count, threads, seconds,
                static_cast<double>(count) / seconds, f.failed.load());
    std::printf("new connections (over https each a TLS handshake): %ld\n", f.new_connections.load());
    std::printf("TLS session cache of the share: %llu lookups and stores, %llu waited for the lock\n",
                static_cast<unsigned long long>(stats.tls_sessions.taken),
                static_cast<unsigned long long>(stats.tls_sessions.contended));
    return f.failed ? 1 : 0;
}
