#include "nginx_server.hpp"

#include "tls_material.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace asiocurl::test {

namespace detail {
namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Closes a descriptor when the scope ends, so no error path leaks one.
class fd_guard {
public:
    explicit fd_guard(int fd) : fd_(fd) {}
    ~fd_guard() {
        if (fd_ >= 0) ::close(fd_);
    }
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

[[noreturn]] void throw_errno(const char* what) {
    throw std::system_error(errno, std::generic_category(), what);
}

// Between fork and exec only async-signal-safe calls: another thread may hold a lock (malloc's among them)
// that the child would never see released.
void make_standard_fd(int fd, int target) {
    if (fd == target) {
        // Already in place, but opened O_CLOEXEC; dup2 onto itself would not clear that.
        if (::fcntl(fd, F_SETFD, 0) < 0) ::_exit(127);
    } else if (::dup2(fd, target) < 0) {
        ::_exit(127);
    }
}

[[noreturn]] void exec_child(char* const* argv, int in_fd, int out_fd, pid_t parent, long max_fd) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    make_standard_fd(in_fd, 0);
    make_standard_fd(out_fd, 1);
    make_standard_fd(out_fd, 2);
    if (::close_range(3, ~0U, 0) != 0) {
        for (long fd = 3; fd < max_fd; ++fd)
            ::close(static_cast<int>(fd));
    }
    // Handlers are reset by exec, but ignored signals and the blocked mask are inherited, and the test
    // process may ignore SIGPIPE or block signals for its own threads.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGCHLD, SIGUSR1, SIGUSR2}) {
        ::signal(sig, SIG_DFL);
    }
    ::execv(argv[0], argv);
    ::_exit(127);
}

// Forks every child from one thread that lives as long as the process: PR_SET_PDEATHSIG fires when the
// thread that forked exits, not the process, and a fixture may well be created on a worker thread (a lazily
// created shared server, say) that ends long before the server is done with.
class forking_thread {
public:
    static forking_thread& instance() {
        // Never destroyed: the thread is still waiting when static destructors run.
        static forking_thread* const t = new forking_thread;
        return *t;
    }

    pid_t run(const std::function<pid_t()>& fork_job) {
        std::lock_guard serial(callers_);  // one job at a time
        std::unique_lock lock(mutex_);
        job_ = &fork_job;
        wake_.notify_all();
        wake_.wait(lock, [&] { return job_ == nullptr; });
        return result_;
    }

private:
    forking_thread() {
        std::thread([this] {
            std::unique_lock lock(mutex_);
            for (;;) {
                wake_.wait(lock, [&] { return job_ != nullptr; });
                result_ = (*job_)();
                job_ = nullptr;
                wake_.notify_all();
            }
        }).detach();
    }

    std::mutex callers_, mutex_;
    std::condition_variable wake_;
    const std::function<pid_t()>* job_ = nullptr;
    pid_t result_ = -1;
};

int socket_cloexec() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw_errno("socket");
    return fd;
}

sockaddr_in loopback(unsigned short port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

}  // namespace

temp_dir::temp_dir(std::string_view prefix, const std::string& base) {
    std::filesystem::path dir =
        base.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(base);
    std::string templ = (dir / prefix).string() + "XXXXXX";
    if (!::mkdtemp(templ.data())) throw_errno("mkdtemp");
    path_ = std::move(templ);
}

temp_dir::~temp_dir() {
    std::error_code ec;  // a destructor must not throw; a leftover dir under /tmp is harmless
    std::filesystem::remove_all(path_, ec);
}

child_process::~child_process() {
    stop();
}

void child_process::start(const std::vector<std::string>& args, const std::string& output_file) {
    stop();
    // Everything the child needs is prepared here, since it may not allocate.
    std::vector<char*> argv;
    for (const auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // O_CLOEXEC so that a fork in another thread does not carry these into its exec'd program.
    fd_guard in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (in.get() < 0) throw_errno("open /dev/null");
    fd_guard out(::open(output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (out.get() < 0) throw_errno("open child output file");
    long max_fd = ::sysconf(_SC_OPEN_MAX);
    if (max_fd < 0) max_fd = 65536;
    pid_t parent = ::getpid();
    int fork_errno = 0;
    pid_t pid = forking_thread::instance().run([&]() noexcept {
        pid_t child = ::fork();
        if (child == 0) exec_child(argv.data(), in.get(), out.get(), parent, max_fd);
        fork_errno = errno;
        return child;
    });
    if (pid < 0) {
        errno = fork_errno;
        throw_errno("fork");
    }
    pid_ = pid;
    status_ = 0;
}

bool child_process::running() {
    if (pid_ < 0) return false;
    int status = 0;
    pid_t r;
    do {
        r = ::waitpid(pid_, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0) return true;
    // r < 0 (ECHILD) means someone else reaped it (SIGCHLD set to SIG_IGN, say): gone all the same.
    status_ = r == pid_ ? status : 0;
    pid_ = -1;
    return false;
}

void child_process::stop() noexcept {
    if (!running()) return;
    ::kill(pid_, SIGTERM);
    for (auto deadline = steady::now() + 3s; steady::now() < deadline;) {
        if (!running()) return;
        std::this_thread::sleep_for(5ms);
    }
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {}
    status_ = status;
    pid_ = -1;
}

std::string find_program(std::string_view name) {
    std::vector<std::string> dirs = {"/usr/sbin", "/usr/bin"};
    if (const char* path = std::getenv("PATH")) {
        std::istringstream in(path);
        for (std::string dir; std::getline(in, dir, ':');) {
            if (!dir.empty()) dirs.push_back(dir);
        }
    }
    for (const auto& dir : dirs) {
        std::string candidate = dir + "/" + std::string(name);
        if (candidate.front() == '/' && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return {};
}

std::vector<unsigned short> unused_loopback_ports(std::size_t n) {
    // All bound at once so the kernel cannot hand out the same port twice.
    std::vector<std::unique_ptr<fd_guard>> sockets;
    std::vector<unsigned short> ports;
    for (std::size_t i = 0; i < n; ++i) {
        auto& s = sockets.emplace_back(std::make_unique<fd_guard>(socket_cloexec()));
        sockaddr_in addr = loopback(0);
        if (::bind(s->get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) throw_errno("bind");
        socklen_t len = sizeof addr;
        if (::getsockname(s->get(), reinterpret_cast<sockaddr*>(&addr), &len) < 0) throw_errno("getsockname");
        ports.push_back(ntohs(addr.sin_port));
    }
    return ports;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const std::string& path, std::string_view content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace detail

namespace {

using namespace std::chrono_literals;

// expected_body(n) from test_server.cpp, repeated here so this file does not need the Beast server.
std::string pattern_bytes(std::size_t n) {
    constexpr std::string_view alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        s[i] = alphabet[i % alphabet.size()];
    return s;
}

std::string compressible_text(std::size_t n) {
    std::string s;
    s.reserve(n + 100);
    for (std::size_t line = 1; s.size() < n; ++line) {
        s += "line " + std::to_string(line) + ": the quick brown fox jumps over the lazy dog\n";
    }
    s.resize(n);
    return s;
}

std::string random_token() {
    std::random_device rd;
    std::ostringstream s;
    s << std::hex << rd() << rd() << rd() << rd();
    return s.str();
}

// nginx parameters in double quotes, so a temp dir with spaces still parses.
std::string quoted(const std::string& s) {
    return '"' + s + '"';
}

std::string nginx_conf(const std::string& dir, unsigned short https_port, unsigned short http_port,
                       unsigned short h2c_port, const std::string& token) {
    const auto& t = tls();
    std::ostringstream c;
    // As root nginx would switch to the compiled-in user (www-data), which cannot read a 0700 temp dir.
    if (::geteuid() == 0) c << "user root;\n";
    c << "daemon off;\n"
      << "master_process off;\n"  // one process: SIGTERM ends everything and nothing outlives waitpid
      << "worker_processes 1;\n"
      << "pid " << quoted(dir + "/nginx.pid") << ";\n"
      << "lock_file " << quoted(dir + "/nginx.lock") << ";\n"
      << "error_log " << quoted(dir + "/error.log") << " warn;\n"
      << "events { worker_connections 1024; }\n"
      << "http {\n";
    // The compiled-in temp paths are under /var/lib/nginx, which nginx would create (or fail on).
    for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
        c << "    " << temp << "_temp_path " << quoted(dir + "/temp/" + temp) << ";\n";
    }
    c << "    access_log " << quoted(dir + "/access.log") << ";\n"
      << "    types { text/plain txt; application/octet-stream bin; }\n"
      << "    default_type application/octet-stream;\n"
      << "    sendfile on;\n"
      << "    keepalive_requests 100000;\n"
      << "    http2_max_concurrent_streams 256;\n"
      // gzip_proxied: requests through tinyproxy carry a Via header, and nginx would not compress those by
      // default; the tests want the same answer with and without the proxy (and from HTTP/1.0 clients).
      << "    gzip on;\n"
      << "    gzip_types text/plain;\n"
      << "    gzip_min_length 1;\n"
      << "    gzip_http_version 1.0;\n"
      << "    gzip_proxied any;\n"
      << "    ssl_certificate " << quoted(t.cert_file) << ";\n"
      << "    ssl_certificate_key " << quoted(t.key_file) << ";\n"
      << "    ssl_protocols TLSv1.2 TLSv1.3;\n"
      << "    server {\n"
      << "        listen 127.0.0.1:" << https_port << " ssl http2;\n"
      << "        listen 127.0.0.1:" << http_port << ";\n"
      << "        listen 127.0.0.1:" << h2c_port << " http2;\n"
      << "        listen " << quoted("unix:" + dir + "/http.sock") << ";\n"
      << "        server_name localhost;\n"
      << "        root " << quoted(dir + "/www") << ";\n"
      << "        location /slow/ { limit_rate 16k; }\n"
      << "        location = /__asiocurl_fixture { return 200 \"" << token << "\"; }\n"
      << "        location = /server-address { return 200 \"$server_addr $http_host\\n\"; }\n"
      << "    }\n"
      << "}\n";
    return c.str();
}

// Connects to 127.0.0.1:port and, when `request` is not empty, sends it and returns everything the server
// sent until it closed. Nullopt if the connection failed. Bounded by 1 s socket timeouts.
std::optional<std::string> exchange(unsigned short port, std::string_view request) {
    detail::fd_guard s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (s.get() < 0) return std::nullopt;
    timeval tv{1, 0};
    ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr = detail::loopback(port);
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return std::nullopt;
    std::string reply;
    if (request.empty()) return reply;
    if (::send(s.get(), request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
        return std::nullopt;
    }
    char buf[4096];
    for (ssize_t n; (n = ::recv(s.get(), buf, sizeof buf, 0)) > 0 && reply.size() < 65536;) {
        reply.append(buf, static_cast<std::size_t>(n));
    }
    return reply;
}

}  // namespace

nginx_server::nginx_server() : dir_("asiocurl-nginx-"), token_(random_token()) {
    const std::string nginx = detail::find_program("nginx");
    if (nginx.empty()) throw std::runtime_error("nginx_server: no nginx binary (apt-get install nginx)");
    std::filesystem::create_directories(root() + "/slow");
    std::filesystem::create_directories(dir_.path() + "/temp");
    detail::write_file(root() + "/1k.bin", pattern_bytes(1024));
    detail::write_file(root() + "/64k.bin", pattern_bytes(64 * 1024));
    detail::write_file(root() + "/1m.bin", pattern_bytes(1024 * 1024));
    detail::write_file(root() + "/slow/64k.bin", pattern_bytes(64 * 1024));
    detail::write_file(root() + "/text.txt", compressible_text(200 * 1024));
    for (int attempt = 1;; ++attempt) {
        bool port_taken = false;
        if (start_once(nginx, port_taken)) return;
        std::string log =
            detail::read_file(dir_.path() + "/error.log") + detail::read_file(dir_.path() + "/stderr.log");
        std::string what = port_taken ? "found a port taken"
                           : process_.running()
                               ? "did not answer within 10 s"
                               : "exited (wait status " + std::to_string(process_.exit_status()) + ")";
        process_.stop();
        if (port_taken && attempt < 3) continue;
        throw std::runtime_error("nginx_server: nginx " + what + ":\n" + log);
    }
}

nginx_server::~nginx_server() {
    process_.stop();
}

bool nginx_server::installed() {
    return !detail::find_program("nginx").empty();
}

std::string nginx_server::https_url(std::string_view path) const {
    return "https://127.0.0.1:" + std::to_string(https_port_) + std::string(path);
}

std::string nginx_server::http_url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(http_port_) + std::string(path);
}

std::string nginx_server::h2c_url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(h2c_port_) + std::string(path);
}

std::string nginx_server::root() const {
    return dir_.path() + "/www";
}

std::string nginx_server::unix_socket_path() const {
    return dir_.path() + "/http.sock";
}

bool nginx_server::start_once(const std::string& nginx, bool& port_taken) {
    auto ports = detail::unused_loopback_ports(3);
    https_port_ = ports[0];
    http_port_ = ports[1];
    h2c_port_ = ports[2];
    const std::string& dir = dir_.path();
    const std::string error_log = dir + "/error.log";
    detail::write_file(dir + "/nginx.conf", nginx_conf(dir, https_port_, http_port_, h2c_port_, token_));
    detail::write_file(error_log, "");
    detail::write_file(dir + "/stderr.log", "");
    // -e: nginx opens its compiled-in /var/log/nginx/error.log before it reads the config otherwise.
    process_.start({nginx, "-p", dir + "/", "-c", dir + "/nginx.conf", "-e", error_log}, dir + "/stderr.log");
    for (auto deadline = std::chrono::steady_clock::now() + 10s;
         std::chrono::steady_clock::now() < deadline;) {
        bool alive = process_.running();
        // nginx retries a failed bind for 2.5 s before giving up; no need to wait for that.
        if (detail::read_file(error_log).find("Address already in use") != std::string::npos) {
            port_taken = true;
            return false;
        }
        if (!alive) return false;
        if (answers()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

bool nginx_server::answers() const {
    // nginx binds every listening socket before it serves anything, so an answer from this nginx (the
    // token) on one port means it holds all three; a port someone else took would not carry the token.
    if (!exchange(https_port_, {}) || !exchange(h2c_port_, {})) return false;
    auto reply = exchange(http_port_, "GET /__asiocurl_fixture HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    return reply && reply->find(token_) != std::string::npos;
}

}  // namespace asiocurl::test
