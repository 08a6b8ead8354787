// The http layer against servers no one here wrote: nginx (HTTP/2 over TLS, h2c, gzip) and tinyproxy (HTTP
// proxy and CONNECT tunnels), both Debian packages started by the fixtures.
#include <asiocurl/http.hpp>

#include "multi_fixture.hpp"
#include "nginx_server.hpp"
#include "tinyproxy_server.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/beast/http/empty_body.hpp>

#include <strings.h>
#include <unistd.h>
#include <array>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace asiocurl {
namespace {

namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

// A missing package skips the test, except in CI, where .ci/run installs it and its absence is a failure.
bool require(bool installed, const char* package) {
    if (installed) return true;
    if (std::getenv("CI")) ADD_FAILURE() << package << " is not installed (scripts/test.sh installs it)";
    return false;
}

class server_test : public test::multi_test {
protected:
    struct result {
        std::optional<error_code> ec;
        http::response<> res;
    };

    void start(result& out, std::string url, http::options opts, boost::asio::cancellation_slot slot = {}) {
        http::async_fetch(
            *m, bhttp::request<bhttp::empty_body>(bhttp::verb::get, url, 11), std::move(opts),
            boost::asio::bind_cancellation_slot(slot, [&out](error_code ec, http::response<> res) {
                EXPECT_FALSE(out.ec.has_value()) << "completed twice";
                out.ec = ec;
                out.res = std::move(res);
            }));
    }

    result fetch(std::string url, http::options opts = {}) {
        result out;
        start(out, std::move(url), std::move(opts));
        EXPECT_TRUE(test::run_until(
            ioc, [&] { return out.ec.has_value(); }, 20s));
        return out;
    }

    static http::options trusting(http::options opts = {}) {
        opts.tls.ca_file = test::tls().ca_file;
        return opts;
    }
};

TEST_F(server_test, http2_hundred_concurrent_fetches_on_one_connection_ten_cancelled) {
    if (!require(test::nginx_server::installed(), "nginx")) GTEST_SKIP() << "nginx is not installed";
    test::nginx_server nginx;
    constexpr std::size_t total = 100, cancelled = 10;
    std::array<result, total> results;
    std::array<boost::asio::cancellation_signal, total> signals;
    for (std::size_t i = 0; i < total; ++i)  // 4 s each at nginx's limit_rate: all in flight together
        start(results[i], nginx.https_url("/slow/64k.bin"),
              trusting({.version = http::http_version::http2_tls}), signals[i].slot());
    ioc.run_for(300ms);
    for (std::size_t i = total - cancelled; i < total; ++i)
        signals[i].emit(boost::asio::cancellation_type::terminal);
    ASSERT_TRUE(test::run_until(ioc, [&] {
        for (auto& r : results)
            if (!r.ec) return false;
        return true;
    }));
    std::size_t connections = 0;
    for (std::size_t i = 0; i < total; ++i) {
        if (i >= total - cancelled) {
            EXPECT_EQ(*results[i].ec, boost::asio::error::operation_aborted) << i;
            continue;
        }
        ASSERT_FALSE(*results[i].ec) << i << ": " << results[i].ec->message();
        EXPECT_EQ(results[i].res.info.http_version, 20u);
        EXPECT_TRUE(results[i].res.body() == test::expected_body(65536)) << i;
        connections += results[i].res.info.connection_reused ? 0 : 1;
    }
    EXPECT_EQ(connections, 1u) << "HTTP/2 fetches did not share one connection";
    EXPECT_EQ(m->in_flight(), 0u);
}

TEST_F(server_test, h2c_with_prior_knowledge_and_http1_from_nginx) {
    if (!require(test::nginx_server::installed(), "nginx")) GTEST_SKIP() << "nginx is not installed";
    test::nginx_server nginx;
    auto h2c = fetch(nginx.h2c_url("/1k.bin"), {.version = http::http_version::http2_prior_knowledge});
    ASSERT_FALSE(*h2c.ec) << h2c.ec->message();
    EXPECT_EQ(h2c.res.info.http_version, 20u);
    EXPECT_EQ(h2c.res.body(), test::expected_body(1024));
    auto h1 = fetch(nginx.https_url("/64k.bin"), trusting({.version = http::http_version::http1_1}));
    ASSERT_FALSE(*h1.ec) << h1.ec->message();
    EXPECT_EQ(h1.res.info.http_version, 11u);
    EXPECT_EQ(h1.res.body().size(), 65536u);
    EXPECT_GT(h1.res.info.times.tls.count(), 0);
    auto missing = fetch(nginx.http_url("/no-such-file"));
    ASSERT_FALSE(*missing.ec);
    EXPECT_EQ(missing.res.result(), bhttp::status::not_found);
}

TEST_F(server_test, gzip_is_decoded_unless_switched_off) {
    if (!require(test::nginx_server::installed(), "nginx")) GTEST_SKIP() << "nginx is not installed";
    test::nginx_server nginx;
    auto decoded = fetch(nginx.http_url("/text.txt"));
    ASSERT_FALSE(*decoded.ec) << decoded.ec->message();
    EXPECT_EQ(decoded.res[bhttp::field::content_encoding], "gzip");
    EXPECT_EQ(decoded.res.body().size(), 204800u);
    EXPECT_LT(decoded.res.info.bytes_received, 204800u / 4);
    auto plain = fetch(nginx.http_url("/text.txt"), {.decompress = false});
    ASSERT_FALSE(*plain.ec);
    EXPECT_EQ(plain.res.count(bhttp::field::content_encoding), 0u);
    EXPECT_EQ(plain.res.body(), decoded.res.body());
}

TEST_F(server_test, through_an_http_proxy_and_a_connect_tunnel) {
    if (!require(test::nginx_server::installed(), "nginx")) GTEST_SKIP() << "nginx is not installed";
    if (!require(test::tinyproxy_server::installed(), "tinyproxy"))
        GTEST_SKIP() << "tinyproxy is not installed";
    test::nginx_server nginx;
    test::tinyproxy_server proxy;
    const auto before = proxy.requests_logged();
    auto forwarded = fetch(nginx.http_url("/1k.bin"), {.proxy = proxy.url()});
    ASSERT_FALSE(*forwarded.ec) << forwarded.ec->message();
    EXPECT_EQ(forwarded.res.body(), test::expected_body(1024));
    auto tunneled = fetch(nginx.https_url("/64k.bin"), trusting({.proxy = proxy.url()}));
    ASSERT_FALSE(*tunneled.ec) << tunneled.ec->message();
    EXPECT_EQ(tunneled.res.body().size(), 65536u);
    auto forced = fetch(nginx.http_url("/1k.bin"), {.proxy = proxy.url(), .proxy_tunnel = true});
    ASSERT_FALSE(*forced.ec) << forced.ec->message();
    EXPECT_GE(proxy.requests_logged(), before + 3);
    // No proxy configured: direct, whatever the environment says.
    ::setenv("http_proxy", "http://127.0.0.1:9", 1);
    auto direct = fetch(nginx.http_url("/1k.bin"));
    ::unsetenv("http_proxy");
    EXPECT_FALSE(*direct.ec) << direct.ec->message();
}

// io_context::run returns once the transfers are done, whatever connections curl keeps. nginx sends a body
// faster than curl reads it in 1 KiB reads: curl stops after 100 of them and comes back through the timer,
// so the last read, and the REMOVE of the socket, come from a timer action with the socket's read wait still
// queued. That wait, parked with the connection, used to hold run() forever (the 16 MiB benchmark hung).
TEST_F(server_test, run_returns_when_the_transfers_are_done_and_connections_idle) {
    if (!require(test::nginx_server::installed(), "nginx")) GTEST_SKIP() << "nginx is not installed";
    test::nginx_server nginx;
    std::array<easy, 4> handles;
    for (auto& handle : handles) {
        handle.discard_body();
        handle.set(CURLOPT_URL, nginx.http_url("/1m.bin"));
        handle.set(CURLOPT_BUFFERSIZE, 1024L);
    }
    for (int round = 0; round < 10; ++round) {
        std::array<test::completion, 4> done;
        for (std::size_t i = 0; i < handles.size(); ++i)
            m->async_perform(handles[i], done[i].handler());
        ioc.restart();
        ioc.run_for(10s);  // returns as soon as nothing is left to do
        for (std::size_t i = 0; i < handles.size(); ++i) {
            ASSERT_TRUE(done[i].done()) << "round " << round << ": transfer " << i << " did not complete";
            EXPECT_FALSE(done[i].ec) << handles[i].error_message();
            EXPECT_EQ(handles[i].info<curl_off_t>(CURLINFO_SIZE_DOWNLOAD_T), 1048576);
        }
        ASSERT_TRUE(ioc.stopped()) << "run() did not return after round " << round;
    }
    EXPECT_EQ(m->in_flight(), 0u);
    EXPECT_EQ(m->stats().registrations_created, 4u) << "a connection was not reused";
}

// The core's handles keep curl's environment proxies, read once as the handle is set up instead of on every
// transfer (src/easy.cpp: the getenv scans are 3% of a keep-alive request). What was set before is honoured
// the way curl honours it, no_proxy included; what appears after is not seen until the handle is reset.
TEST_F(server_test, environment_proxies_are_read_as_a_handle_is_set_up) {
    if (!require(test::nginx_server::installed(), "nginx")) GTEST_SKIP() << "nginx is not installed";
    if (!require(test::tinyproxy_server::installed(), "tinyproxy"))
        GTEST_SKIP() << "tinyproxy is not installed";
    test::nginx_server nginx;
    test::tinyproxy_server proxy;
    // The machine's own proxy variables are set aside for the test and put back after it.
    struct environment_guard {
        std::vector<std::pair<std::string, std::string>> saved;
        environment_guard() {
            for (char** entry = environ; *entry; ++entry) {
                const std::string_view text(*entry);
                const auto eq = text.find('=');
                if (eq == text.npos || eq < 6) continue;
                std::string name(text.substr(0, eq));
                if (strcasecmp(name.c_str() + name.size() - 6, "_proxy") == 0)
                    saved.emplace_back(std::move(name), std::string(text.substr(eq + 1)));
            }
            for (const auto& [name, value] : saved)
                ::unsetenv(name.c_str());
        }
        ~environment_guard() {
            for (const char* name : {"http_proxy", "no_proxy", "NO_PROXY"})
                ::unsetenv(name);
            for (const auto& [name, value] : saved)
                ::setenv(name.c_str(), value.c_str(), 1);
        }
    } restore;
    const std::string url = nginx.http_url("/1k.bin");
    std::string body;

    // Set before the handle: through the proxy.
    ::setenv("http_proxy", proxy.url().c_str(), 1);
    auto before = proxy.requests_logged();
    easy proxied;
    proxied.set(CURLOPT_URL, url);
    proxied.write_to(body);
    EXPECT_FALSE(perform(proxied));
    EXPECT_EQ(body, test::expected_body(1024));
    EXPECT_EQ(proxy.requests_logged(), before + 1);

    // no_proxy beside it: direct, as curl decides it.
    ::setenv("no_proxy", "127.0.0.1", 1);
    before = proxy.requests_logged();
    easy excepted;
    excepted.set(CURLOPT_URL, url);
    excepted.discard_body();
    EXPECT_FALSE(perform(excepted));
    EXPECT_EQ(proxy.requests_logged(), before);
    ::unsetenv("no_proxy");
    ::unsetenv("http_proxy");

    // Set up with no proxy in the environment, then one appears (a dead port): the handle goes direct.
    easy direct;
    direct.set(CURLOPT_URL, url);
    direct.discard_body();
    ::setenv("http_proxy", "http://127.0.0.1:9", 1);
    EXPECT_FALSE(perform(direct)) << direct.error_message();
    // Reset, the handle reads the environment again and tries the dead proxy.
    direct.reset();
    direct.set(CURLOPT_URL, url);
    direct.discard_body();
    EXPECT_EQ(perform(direct), condition::connect_failed);
    ::unsetenv("http_proxy");

    // A proxy set on the handle still meets the environment's no_proxy, read then (curl's rule).
    ::setenv("NO_PROXY", "127.0.0.1", 1);
    before = proxy.requests_logged();
    easy explicit_proxy;
    explicit_proxy.set(CURLOPT_URL, url);
    explicit_proxy.set(CURLOPT_PROXY, proxy.url());
    explicit_proxy.discard_body();
    EXPECT_FALSE(perform(explicit_proxy));
    EXPECT_EQ(proxy.requests_logged(), before);
}

}  // namespace
}  // namespace asiocurl
