#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace asiocurl::test {

// HTTP/1.1 server on loopback that runs its own io_context on its own thread, so tests can block or
// tear down their io_context without affecting it. Routes:
//   /bytes/N, /chunked/N?chunk=K, /close/N, /trickle/N?chunk=K&interval_ms=M, /stall, /status/CODE,
//   /echo, /headers, /redirect/N, /redirect-to?url=ABSOLUTE, /set-cookie?NAME=VALUE; anything else is 404.
//   /multipart   a multipart/form-data request read by a strict parser (multipart_parser.hpp): one line a
//   part,
//                "name=N filename=F|- type=T|- <digest of its body>", or 400 with the parser's reason
//   /peer        "<client address> <client port>\n": the connection's far end as the server sees it
//   /echo-target/...  the request target as received (path and query, still encoded)
//   /auth/digest[?sha256=1]  HTTP Digest (MD5, or SHA-256) for digest_user/digest_password: 401 with a
//   challenge
//                until the request answers it (auth_check.hpp checks the response), then 200 "digest ok"
//   /auth/digest-stale  the same, but the first right answer gets a fresh nonce with stale=true, then 200
//   /sigv4/...   AWS SigV4 recomputed from the request as received (sigv4_* below): 200 "sigv4 ok", else 403
//                with the reason
// Fault modes (plain and TLS alike; "part of the body" is `sent` bytes, N/2 by default):
//   /stall                      reads the request, never answers (nothing before the status line)
//   /stall-body/N?sent=K        Content-Length N, K bytes, then silence until the client goes away
//   /reset/N?sent=K             Content-Length N, K bytes, then SO_LINGER 0 and close: an RST, and over TLS
//                               no close_notify
//   /truncate/N?sent=K          Content-Length N, K bytes, then a clean close (TLS: close_notify, then FIN)
//   /trickle/N?...              (above) one piece every M ms
//   /bad-status                 "HTTP/1.1 abc Not a status" as the status line
//   /huge-header?size=S&count=C C header lines (1 by default) of S bytes each (200 KiB by default: curl
//                               7.88 takes at most CURL_MAX_HTTP_HEADER, 100 KiB, per line)
//   /bad-chunked                chunked: one valid chunk, then a chunk size that is not hex
//   /endless?chunk=K&interval_ms=M  chunked, K-byte chunks (16 KiB) every M ms (0), until the client closes
//   /early-413?linger=L         answers 413 as soon as the request header is in (no 100 Continue), then
//                               closes without reading the body (an RST if body bytes arrived); with L=1 a
//                               lingering close instead: FIN, then the body read and dropped until the
//                               client closes
// TLS fault modes are server options (below).
// Every response carries X-Connection-Id (1-based, accept order) and X-Request-Number (1-based per
// connection) so tests can observe connection reuse.
class test_server {
public:
    enum class certificate {
        trusted,      // tls().cert_file: signed by the test CA, for localhost and the loopback addresses
        wrong_host,   // tls().wrong_host_cert_file: signed by the test CA, but for wrong.example only
        expired,      // tls().expired_cert_file
        self_signed,  // tls().self_signed_cert_file: no CA the client knows
    };

    struct options {
        bool tls = false;
        bool ipv6 = false;         // listen on ::1 instead of 127.0.0.1
        std::string address = {};  // another loopback address to listen on (e.g. 127.0.1.1), if not empty
        bool require_client_certificate = false;  // TLS: refuse clients without a certificate of the test CA
        bool tls_1_2_only = false;                // TLS: offer nothing above TLS 1.2
        certificate tls_certificate = certificate::trusted;  // TLS: what the server presents
        bool stall_tls_handshake = false;  // TLS: accept, read the ClientHello, never answer it
    };

    test_server();
    explicit test_server(options opts);  // listening on an ephemeral port when it returns
    ~test_server();                      // closes every connection and joins the thread
    test_server(const test_server&) = delete;
    test_server& operator=(const test_server&) = delete;

    unsigned short port() const;
    std::string url(std::string_view target) const;  // "http://127.0.0.1:PORT" + target
    std::string url_for_host(std::string_view host, std::string_view target) const;

    std::size_t open_connections() const;      // server-side connections open right now
    std::size_t accepted_connections() const;  // total accepted since start
    std::size_t resumed_tls_sessions() const;  // TLS handshakes that resumed a session (SSL_session_reused)
    std::size_t requests_served() const;       // total requests whose response was started
    bool wait_for_idle(std::chrono::milliseconds timeout) const;  // false if connections are still open

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// The credentials /auth/digest and /sigv4 accept.
inline constexpr std::string_view digest_user = "Mufasa", digest_password = "Circle of Life",
                                  digest_nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
inline constexpr std::string_view sigv4_access_key = "AKIDEXAMPLE",
                                  sigv4_secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                  sigv4_region = "us-east-1", sigv4_service = "service";

// The deterministic body of /bytes, /chunked, /trickle and /close: byte i is
// "0123456789abcdefghijklmnopqrstuvwxyz"[i % 36].
std::string expected_body(std::size_t n);

// "<length> <FNV-1a 64 in hex>": what /digest answers for the request body it received.
std::string digest(std::string_view bytes);

// Entries in /proc/self/fd, not counting the descriptor used to read it.
std::size_t open_fd_count();

// The open descriptors and what each points at ("socket:[123]", a path), for reporting a difference.
std::map<int, std::string> open_fds();

}  // namespace asiocurl::test
