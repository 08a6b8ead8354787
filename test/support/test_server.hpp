#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace asiocurl::test {

// HTTP/1.1 server on loopback that runs its own io_context on its own thread, so tests can block or
// tear down their io_context without affecting it. Routes:
//   /bytes/N, /chunked/N?chunk=K, /close/N, /trickle/N?chunk=K&interval_ms=M, /stall, /status/CODE,
//   /echo, /headers, /redirect/N, /redirect-to?url=ABSOLUTE, /set-cookie?NAME=VALUE; anything else is 404.
// Every response carries X-Connection-Id (1-based, accept order) and X-Request-Number (1-based per
// connection) so tests can observe connection reuse.
class test_server {
public:
    struct options {
        bool tls = false;
        bool ipv6 = false;         // listen on ::1 instead of 127.0.0.1
        std::string address = {};  // another loopback address to listen on (e.g. 127.0.1.1), if not empty
        bool require_client_certificate = false;  // TLS: refuse clients without a certificate of the test CA
        bool tls_1_2_only = false;                // TLS: offer nothing above TLS 1.2
    };

    test_server();
    explicit test_server(options opts);  // listening on an ephemeral port when it returns
    ~test_server();                      // closes every connection and joins the thread
    test_server(const test_server&) = delete;
    test_server& operator=(const test_server&) = delete;

    unsigned short port() const;
    std::string url(std::string_view target) const;  // "http://127.0.0.1:PORT" + target
    std::string url_for_host(std::string_view host, std::string_view target) const;

    std::size_t open_connections() const;                         // server-side connections open right now
    std::size_t accepted_connections() const;                     // total accepted since start
    std::size_t requests_served() const;                          // total requests whose response was started
    bool wait_for_idle(std::chrono::milliseconds timeout) const;  // false if connections are still open

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// The deterministic body of /bytes, /chunked, /trickle and /close: byte i is
// "0123456789abcdefghijklmnopqrstuvwxyz"[i % 36].
std::string expected_body(std::size_t n);

// Entries in /proc/self/fd, not counting the descriptor used to read it.
std::size_t open_fd_count();

}  // namespace asiocurl::test
