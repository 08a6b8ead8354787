#include "tinyproxy_server.hpp"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace asiocurl::test {
namespace {

using namespace std::chrono_literals;

// tinyproxy fsyncs its log after every line; on tmpfs that costs nothing, on a busy disk it can stall each
// proxied request (and shutdown) for many milliseconds.
std::string temp_base() {
    std::error_code ec;
    if (std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK | X_OK) == 0)
        return "/dev/shm";
    return {};
}

std::size_t count_lines_containing(const std::string& text, std::string_view needle) {
    std::size_t n = 0;
    for (auto pos = text.find(needle); pos != std::string::npos;
         pos = text.find(needle, pos + needle.size())) {
        ++n;
    }
    return n;
}

}  // namespace

tinyproxy_server::tinyproxy_server() : tinyproxy_server(basic_auth{}) {}

tinyproxy_server::tinyproxy_server(basic_auth required)
    : dir_("asiocurl-tinyproxy-", temp_base()), auth_(std::move(required)) {
    const std::string tinyproxy = detail::find_program("tinyproxy");
    if (tinyproxy.empty()) {
        throw std::runtime_error("tinyproxy_server: no tinyproxy binary (apt-get install tinyproxy)");
    }
    for (int attempt = 1;; ++attempt) {
        bool port_taken = false;
        if (start_once(tinyproxy, port_taken)) return;
        std::string log = detail::read_file(dir_.path() + "/tinyproxy.log") +
                          detail::read_file(dir_.path() + "/stderr.log");
        std::string what = port_taken ? "found a port taken"
                           : process_.running()
                               ? "did not listen within 10 s"
                               : "exited (wait status " + std::to_string(process_.exit_status()) + ")";
        process_.stop();
        if (port_taken && attempt < 3) continue;
        throw std::runtime_error("tinyproxy_server: tinyproxy " + what + ":\n" + log);
    }
}

tinyproxy_server::~tinyproxy_server() {
    process_.stop();
}

bool tinyproxy_server::installed() {
    return !detail::find_program("tinyproxy").empty();
}

std::string tinyproxy_server::url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
}

std::size_t tinyproxy_server::requests_logged() const {
    return count_lines_containing(detail::read_file(dir_.path() + "/tinyproxy.log"),
                                  "Request (file descriptor");
}

bool tinyproxy_server::start_once(const std::string& tinyproxy, bool& port_taken) {
    port_ = detail::unused_loopback_ports(1).front();
    const std::string& dir = dir_.path();
    const std::string log = dir + "/tinyproxy.log";
    std::ostringstream conf;
    // No User/Group: it keeps running as the current user (as root it only warns). No ConnectPort: CONNECT
    // to every port. No PidFile: nothing to clean up outside the temp dir.
    conf << "Port " << port_ << "\n"
         << "Listen 127.0.0.1\n"
         << "Timeout 600\n"
         << "LogFile \"" << log << "\"\n"
         << "LogLevel Info\n"  // Info, for "Accepting connections" below; requests are logged at Connect
         << "MaxClients 256\n"
         << "Allow 127.0.0.1\n";
    if (!auth_.user.empty()) conf << "BasicAuth " << auth_.user << " " << auth_.password << "\n";
    detail::write_file(dir + "/tinyproxy.conf", conf.str());
    std::filesystem::remove(log);
    detail::write_file(dir + "/stderr.log", "");
    process_.start({tinyproxy, "-d", "-c", dir + "/tinyproxy.conf"}, dir + "/stderr.log");
    for (auto deadline = std::chrono::steady_clock::now() + 10s;
         std::chrono::steady_clock::now() < deadline;) {
        if (!process_.running()) {
            // A failed bind exits at once (status 71) with only this on stderr: the log is not open yet.
            port_taken = detail::read_file(dir + "/stderr.log").find("Could not create listening sockets") !=
                         std::string::npos;
            return false;
        }
        // Written after listen(), so connections are queued from here on. Waiting for the log rather than
        // connecting keeps a probe connection out of it.
        if (detail::read_file(log).find("Accepting connections") != std::string::npos) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

}  // namespace asiocurl::test
