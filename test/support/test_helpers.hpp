// What every glue test checks: completions ran exactly once, and no fd was left behind.
#ifndef ASIOCURL_TEST_HELPERS_HPP
#define ASIOCURL_TEST_HELPERS_HPP

#include "test_server.hpp"

#include <asiocurl/easy.hpp>
#include <asiocurl/error.hpp>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

namespace asiocurl::test {

// One completion's record: how often it ran, and with what.
struct completion {
    std::atomic<int> calls{0};
    error_code ec;

    auto handler() {
        return [this](error_code e) {
            ec = e;
            calls.fetch_add(1);
        };
    }
    bool done() const { return calls.load() > 0; }
};

// The fd count when the test started; `settled()` waits (bounded) for the count to come back, since the
// server closes its side of a connection after the client did.
class fd_baseline {
public:
    fd_baseline() : at_start_(quiet_snapshot()), count_(at_start_.size()) {}
    std::size_t count() const { return count_; }
    ::testing::AssertionResult settled(std::chrono::milliseconds bound = std::chrono::seconds(5)) const {
        const auto deadline = std::chrono::steady_clock::now() + bound;
        std::size_t now = open_fd_count();
        while (now != count_ && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            now = open_fd_count();
        }
        if (now == count_) return ::testing::AssertionSuccess();
        auto failure = ::testing::AssertionFailure() << "fd count " << now << ", baseline " << count_;
        // Which descriptors differ says whose they were (a socket left open, or one closed twice).
        auto at_end = open_fds();
        for (const auto& [fd, target] : at_start_)
            if (auto it = at_end.find(fd); it == at_end.end() || it->second != target)
                failure << "; at start only: " << fd << " -> " << target;
        for (const auto& [fd, target] : at_end)
            if (auto it = at_start_.find(fd); it == at_start_.end() || it->second != target)
                failure << "; at end only: " << fd << " -> " << target;
        return failure;
    }

private:
    // The descriptors once nothing is opening or closing any (bounded): the previous test's server side, or a
    // resolver thread curl left to finish, may still be closing its own — under valgrind, for seconds. A
    // baseline taken mid-close counted a descriptor that was already going (seen: "at start only: 14 -> ?").
    static std::map<int, std::string> quiet_snapshot() {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        auto last = open_fds();
        for (;;) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            auto next = open_fds();
            const bool in_flux =
                std::any_of(next.begin(), next.end(), [](const auto& fd) { return fd.second == "?"; });
            if ((next == last && !in_flux) || std::chrono::steady_clock::now() >= deadline) return next;
            last = std::move(next);
        }
    }

    std::map<int, std::string> at_start_;
    std::size_t count_;
};

// Runs `ioc` until `done()` or the bound passes (a hang fails the test instead of stalling the suite).
template <class Predicate>
bool run_until(boost::asio::io_context& ioc, Predicate done,
               std::chrono::milliseconds bound = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    if (ioc.stopped()) ioc.restart();
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        ioc.run_for(std::chrono::milliseconds(10));
        if (ioc.stopped()) ioc.restart();
    }
    return done();
}

// An allocator that counts what it hands out and takes back, to check a handler's allocator is used.
template <class T>
struct counting_allocator {
    using value_type = T;
    std::shared_ptr<std::pair<int, int>> counts;  // allocations, deallocations
    explicit counting_allocator(std::shared_ptr<std::pair<int, int>> c) : counts(std::move(c)) {}
    template <class U>
    counting_allocator(const counting_allocator<U>& other) noexcept : counts(other.counts) {}
    T* allocate(std::size_t n) {
        ++counts->first;
        return std::allocator<T>().allocate(n);
    }
    void deallocate(T* p, std::size_t n) {
        ++counts->second;
        std::allocator<T>().deallocate(p, n);
    }
    template <class U>
    bool operator==(const counting_allocator<U>& other) const noexcept {
        return counts == other.counts;
    }
};

// Routes a URL through curl's threaded resolver to a test server on 127.0.0.1, with no packet leaving the
// machine and nothing read from /etc/hosts or DNS. curl answers "localhost", "*.localhost" and IP literals
// itself, and any other real name depends on the machine (and may send a query). "127.1" is neither to curl:
// its IP-literal check is strict dotted-quad, so the name goes to getaddrinfo() on the resolver thread, and
// glibc reads it as 127.0.0.1 (inet_aton's short form) without consulting NSS. curl's URL parser would
// normalise "127.1" in a URL, so it comes in through CURLOPT_CONNECT_TO: the URL names "resolver.test", the
// connection goes to "127.1".
class via_resolver {
public:
    explicit via_resolver(const test_server& server);
    ~via_resolver();
    via_resolver(const via_resolver&) = delete;
    via_resolver& operator=(const via_resolver&) = delete;

    std::string url(std::string_view target) const;  // "http://resolver.test:PORT" + target
    // Sets CURLOPT_CONNECT_TO on `handle`; the list lives as long as this object.
    void apply(easy& handle) const;

private:
    const test_server& server_;
    curl_slist* connect_to_;
};

// Whether the libcurl this process runs (curl_version_info, not the headers compiled against) is at least
// major.minor.patch: where curl versions really differ, tests key on it.
bool curl_at_least(unsigned major, unsigned minor, unsigned patch = 0);

// One plain and one TLS transfer, and one through the threaded resolver, before any test takes its fd
// baseline: curl and OpenSSL open some files once per process.
void warm_up_process();

// A write callback that counts bytes and notices calls made after its transfer completed.
struct body_counter {
    std::atomic<std::size_t> bytes{0};
    std::atomic<int> calls_after_completion{0};
    std::atomic<bool> completed{false};

    static std::size_t write(char*, std::size_t size, std::size_t count, void* self);
};

}  // namespace asiocurl::test

#endif
