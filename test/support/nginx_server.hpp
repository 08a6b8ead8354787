#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace asiocurl::test {

namespace detail {

// What nginx_server and tinyproxy_server share: both run a Debian package's server as a child process in a
// private temp dir.

// A fresh directory (mkdtemp) under `base`, or under the system temp dir when `base` is empty; removed with
// everything in it on destruction.
class temp_dir {
public:
    explicit temp_dir(std::string_view prefix, const std::string& base = {});
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// A server run in the foreground as a child of this process. It inherits no descriptor but 0-2 (stdin from
// /dev/null, stdout and stderr appended to a file) because the tests count /proc/self/fd and a listening
// socket held by a child would keep ports and connections alive. It gets SIGKILL when this process dies
// (PR_SET_PDEATHSIG, forked from a thread that lives as long as the process), so a test that crashes or
// aborts under a sanitizer leaves no server behind.
class child_process {
public:
    child_process() = default;
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    // argv[0] must be an absolute path. Throws std::system_error if the process cannot be created.
    void start(const std::vector<std::string>& argv, const std::string& output_file);
    // False, and the process reaped, once it has exited.
    bool running();
    // The waitpid() status of the last process that exited; meaningful once running() returned false.
    int exit_status() const { return status_; }
    // SIGTERM, SIGKILL if it is still alive 3 s later, then reaps it. Nothing if it is not running.
    void stop() noexcept;

private:
    pid_t pid_ = -1;
    int status_ = 0;
};

// Absolute path of an executable: /usr/sbin/<name>, /usr/bin/<name>, then $PATH; empty if none.
std::string find_program(std::string_view name);

// `n` distinct ports that were free on 127.0.0.1 a moment ago (bound to port 0 together, then closed), for
// a child server to listen on. Another process can take one before the child binds it, so callers retry.
std::vector<unsigned short> unused_loopback_ports(std::size_t n);

std::string read_file(const std::string& path);                      // empty if it cannot be read
void write_file(const std::string& path, std::string_view content);  // throws std::runtime_error

}  // namespace detail

// A private nginx (the Debian package) for HTTP/2 and for answers from a server no one here wrote. It runs
// as a child process (single process, not a daemon, as the current user) with its configuration, logs,
// temp paths and content in its own temp dir, listening on three ephemeral loopback ports, so instances run
// in parallel with each other and beside the benchmark's nginx on 18080/18443.
//
// Content, under root():
//   /1k.bin, /64k.bin, /1m.bin, /slow/64k.bin  1024, 65536, 1048576 and 65536 bytes, the same bytes as
//                                              expected_body(n) (application/octet-stream)
//   /text.txt   204800 bytes of repetitive text/plain lines; gzip-compressed for Accept-Encoding: gzip (also
//               over HTTP/1.0 and through proxies)
//   /slow/      sent at 16 KiB/s per request (limit_rate), so /slow/64k.bin takes about 4 s
// keepalive_requests 100000 and http2_max_concurrent_streams 256, so neither cuts a test's connection short.
//   /server-address  "<address the connection came in on> <Host field>\n": "unix:<path>" over the Unix socket
// Anything else is nginx's own answer (404 for missing files, 405 for POST to a file).
class nginx_server {
public:
    // Returns once all three ports accept connections and nginx answers (bounded, 10 s per attempt; startup
    // is retried up to 3 times when a port was taken meanwhile). Throws std::runtime_error with nginx's
    // error log if nginx is missing or cannot start.
    nginx_server();
    // SIGTERM (SIGKILL after 3 s), waits for nginx to exit and removes the temp dir.
    ~nginx_server();
    nginx_server(const nginx_server&) = delete;
    nginx_server& operator=(const nginx_server&) = delete;

    static bool installed();  // the nginx binary is in /usr/sbin, /usr/bin or on $PATH

    // `path` starts with '/'.
    std::string https_url(std::string_view path) const;  // TLS (tls().cert_file), ALPN h2 and http/1.1
    std::string http_url(std::string_view path) const;   // plain HTTP/1.1 (and 1.0)
    std::string h2c_url(std::string_view path) const;    // plain HTTP/2 with prior knowledge only
    std::string root() const;                            // the document root, so tests can add files
    // The same server as http_url() on a Unix-domain socket (plain HTTP/1.1).
    std::string unix_socket_path() const;

private:
    bool start_once(const std::string& nginx, bool& port_taken);
    bool answers() const;

    detail::temp_dir dir_;  // declared before process_ so that nginx is stopped before its files go
    detail::child_process process_;
    std::string token_;  // body of /__asiocurl_fixture, so the readiness check knows it reached this nginx
    unsigned short https_port_ = 0, http_port_ = 0, h2c_port_ = 0;
};

}  // namespace asiocurl::test
