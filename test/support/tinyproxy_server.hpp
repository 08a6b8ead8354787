#pragma once

#include "nginx_server.hpp"  // detail::temp_dir, detail::child_process

#include <cstddef>
#include <string>

namespace asiocurl::test {

// A private tinyproxy (the Debian package, 1.11) for proxy tests: run in the foreground as a child process
// (`tinyproxy -d -c <conf>`, as the current user) on one ephemeral loopback port, with its config and log in
// its own temp dir (under /dev/shm when there is one). It accepts clients from 127.0.0.1 only, forwards plain
// HTTP requests (adding "Via: 1.1 <host> (tinyproxy/1.11.1)") and tunnels CONNECT to any port: the config has
// no ConnectPort line, which tinyproxy.conf(5) defines as "all ports allowed".
class tinyproxy_server {
public:
    // Returns once tinyproxy listens (bounded, 10 s per attempt; startup is retried up to 3 times when the
    // port was taken meanwhile). Throws std::runtime_error with tinyproxy's output if it is missing or cannot
    // start.
    tinyproxy_server();
    // The same, answering 407 to a client without these Basic credentials (tinyproxy's BasicAuth).
    struct basic_auth {
        std::string user, password;
    };
    explicit tinyproxy_server(basic_auth required);
    // SIGTERM (SIGKILL after 3 s), waits for tinyproxy to exit and removes the temp dir.
    ~tinyproxy_server();
    tinyproxy_server(const tinyproxy_server&) = delete;
    tinyproxy_server& operator=(const tinyproxy_server&) = delete;

    static bool installed();  // the tinyproxy binary is in /usr/sbin, /usr/bin or on $PATH

    std::string url() const;  // "http://127.0.0.1:PORT"
    unsigned short port() const { return port_; }

    // Requests tinyproxy has read so far, GET and CONNECT alike: the lines of its log that contain
    // "Request (file descriptor", which 1.11 writes (at its Connect level, so LogLevel Info or Connect) once
    // per request line before it contacts the origin; a request is counted by the time its client has an
    // answer. Counted per request, not per connection: tinyproxy keeps client connections alive.
    std::size_t requests_logged() const;

private:
    bool start_once(const std::string& tinyproxy, bool& port_taken);

    detail::temp_dir dir_;  // declared before process_ so that tinyproxy is stopped before its files go
    detail::child_process process_;
    basic_auth auth_;
    unsigned short port_ = 0;
};

}  // namespace asiocurl::test
