// The benchmark workload of ../shared/bench (README) through asiocurl, written the way a user would: one
// io_context on one thread, one multi, plain callbacks. Same arguments and output line as epoll_client.
// Usage: asiocurl_client URL N C [--h2]
#include <asiocurl/easy.hpp>
#include <asiocurl/multi.hpp>

#include <boost/asio/io_context.hpp>

#include <malloc.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

// Every operator new of the process is counted, and every aligned_alloc (where Asio's recycling allocator
// goes when its few cached blocks are taken): the adapter's and Asio's allocations (curl allocates with
// malloc, not counted), so that the run shows what the adapter allocates per transfer once it is warm.
namespace {
std::atomic<std::size_t> cxx_allocations{0};
}

extern "C" void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
    cxx_allocations.fetch_add(1, std::memory_order_relaxed);
    return ::memalign(alignment, size);
}

void* operator new(std::size_t size) {
    cxx_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
    return ::operator new(size);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}

namespace {

std::size_t count_body(char*, std::size_t size, std::size_t count, void* userdata) {
    *static_cast<std::size_t*>(userdata) += size * count;
    return size * count;
}

struct bench {
    asiocurl::multi& multi;
    long total;
    long started = 0;
    long failed = 0;
    std::size_t bytes = 0;
    // Allocations counted over the second half of the run (connections open, tables grown).
    long steady_from = total / 2;
    std::size_t allocations_at_steady = 0;

    // Each handle runs transfers back to back: the next starts from the previous one's completion, on the
    // same handle, so that its connection is reused.
    void start(asiocurl::easy& handle) {
        if (started == steady_from) allocations_at_steady = cxx_allocations.load(std::memory_order_relaxed);
        ++started;
        multi.async_perform(handle, [this, &handle](const asiocurl::error_code& ec) {
            if (ec) {
                if (++failed == 1)
                    std::fprintf(stderr, "asiocurl_client: %s (%.*s)\n", ec.message().c_str(),
                                 static_cast<int>(handle.error_message().size()),
                                 handle.error_message().data());
            }
            if (started < total) start(handle);
        });
    }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s URL N C [--h2]\n", argv[0]);
        return 2;
    }
    const char* url = argv[1];
    const long total = std::atol(argv[2]);
    const long concurrency = std::atol(argv[3]);
    const bool h2 = argc > 4 && std::strcmp(argv[4], "--h2") == 0;

    // Hint 1: only this thread runs the context, so Asio queues what it posts without waking other threads.
    boost::asio::io_context ioc{1};
    asiocurl::multi multi(ioc);
    if (h2) multi.set_multiplexing(true);
    multi.set_max_host_connections(h2 ? 1 : concurrency);

    bench b{multi, total};
    // Handles live in a vector sized once: completions refer to them by address.
    std::vector<asiocurl::easy> handles(static_cast<std::size_t>(std::min(concurrency, total)));
    for (auto& handle : handles) {
        handle.set(CURLOPT_URL, url);
        handle.set(CURLOPT_WRITEFUNCTION, &count_body);
        handle.set(CURLOPT_WRITEDATA, &b.bytes);
        // Same as the baseline: nginx's certificate is self-signed.
        handle.set(CURLOPT_SSL_VERIFYPEER, 0L);
        handle.set(CURLOPT_SSL_VERIFYHOST, 0L);
        if (h2) {
            handle.set(CURLOPT_HTTP_VERSION, long{CURL_HTTP_VERSION_2TLS});
            // Wait for the one connection to be up and multiplex on it instead of opening more.
            handle.set(CURLOPT_PIPEWAIT, 1L);
        }
    }

    const auto t0 = std::chrono::steady_clock::now();
    for (auto& handle : handles)
        b.start(handle);
    ioc.run();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::printf(
        "asiocurl_client requests=%ld concurrency=%ld seconds=%.3f req_per_s=%.0f bytes=%zu failed=%ld\n",
        total, concurrency, seconds, static_cast<double>(total) / seconds, b.bytes, b.failed);
    // On stderr: the line above is what the comparison scripts parse.
    const long steady_requests = total - b.steady_from;
    if (steady_requests > 0)
        std::fprintf(
            stderr,
            "asiocurl_client: %.3f allocations (operator new, aligned_alloc) per request over the last %ld "
            "requests\n",
            static_cast<double>(cxx_allocations.load() - b.allocations_at_steady) /
                static_cast<double>(steady_requests),
            steady_requests);
    return b.failed ? 1 : 0;
}
