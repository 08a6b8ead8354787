// The http layer against the loopback Beast server: requests and responses as Beast messages, every option,
// the security defaults, and the Asio contract.
#include <asiocurl/http.hpp>

#include "multi_fixture.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/file_body.hpp>
#include <boost/beast/http/vector_body.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace asiocurl {
namespace {

namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

class http_test : public test::multi_test {
protected:
    template <class Body>
    struct outcome {
        error_code ec;
        http::response<Body> res;
        int calls = 0;
    };

    // Runs one fetch to completion with a callback and checks it completed exactly once.
    template <class Body = bhttp::string_body, class Request>
    outcome<Body> fetch(Request request, http::options opts = {}) {
        outcome<Body> out;
        http::async_fetch<Body>(*m, std::move(request), std::move(opts),
                                [&](error_code ec, http::response<Body> res) {
                                    out.ec = ec;
                                    out.res = std::move(res);
                                    ++out.calls;
                                });
        EXPECT_TRUE(test::run_until(
            ioc, [&] { return out.calls > 0; }, 20s));
        ioc.poll();
        EXPECT_EQ(out.calls, 1);
        return out;
    }

    static bhttp::request<bhttp::empty_body> get(std::string target) {
        return bhttp::request<bhttp::empty_body>(bhttp::verb::get, target, 11);
    }
};

std::string pin_of(const std::string& cert_file) {
    FILE* file = std::fopen(cert_file.c_str(), "r");
    X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
    std::fclose(file);
    unsigned char* der = nullptr;
    const int length = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(der, static_cast<size_t>(length), digest);
    unsigned char encoded[64] = {};
    EVP_EncodeBlock(encoded, digest, SHA256_DIGEST_LENGTH);
    OPENSSL_free(der);
    X509_free(cert);
    return "sha256//" + std::string(reinterpret_cast<char*>(encoded));
}

TEST_F(http_test, short_form_in_a_coroutine_with_what_curl_knows) {
    int finished = 0;
    boost::asio::co_spawn(
        ioc,
        [&]() -> boost::asio::awaitable<void> {
            auto res = co_await http::async_fetch(*m, server.url("/bytes/5000"), boost::asio::use_awaitable);
            EXPECT_EQ(res.result(), bhttp::status::ok);
            EXPECT_EQ(res.version(), 11u);
            EXPECT_EQ(res.reason(), "OK");
            EXPECT_EQ(res.body(), test::expected_body(5000));
            EXPECT_EQ(res[bhttp::field::content_length], "5000");
            EXPECT_EQ(res["X-Connection-Id"], "1");
            EXPECT_EQ(res.info.effective_url, server.url("/bytes/5000"));
            EXPECT_EQ(res.info.http_version, 11u);
            EXPECT_EQ(res.info.bytes_received, 5000u);
            EXPECT_FALSE(res.info.connection_reused);
            EXPECT_GT(res.info.times.total.count(), 0);
            EXPECT_GE(res.info.times.first_byte, res.info.times.connect);
            auto again = co_await http::async_fetch(*m, server.url("/repeat"), boost::asio::use_awaitable);
            EXPECT_TRUE(again.info.connection_reused);
            std::vector<std::string> repeated;
            for (auto it = again.find("X-Repeat"); it != again.end() && it->name_string() == "X-Repeat"; ++it)
                repeated.emplace_back(it->value());
            EXPECT_EQ(repeated, (std::vector<std::string>{"first", "second"}));
            ++finished;
        },
        boost::asio::detached);
    ASSERT_TRUE(test::run_until(ioc, [&] { return finished == 1; }));
}

TEST_F(http_test, forwards_an_origin_form_request_to_the_base_url) {
    bhttp::request<bhttp::string_body> request(bhttp::verb::post, "/echo", 11);
    request.set(bhttp::field::content_type, "text/x-test");
    request.body() = "forwarded body";
    request.prepare_payload();
    auto out = fetch(std::move(request), {.base_url = server.url("")});
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_EQ(out.res.body(), "forwarded body");
    EXPECT_EQ(out.res[bhttp::field::content_type], "text/x-test");

    // What the upstream sees: the client's own headers, not its connection management or Host.
    bhttp::request<bhttp::empty_body> incoming(bhttp::verb::get, "/headers", 11);
    incoming.set(bhttp::field::host, "client-facing.example");
    incoming.set(bhttp::field::connection, "close");
    incoming.set("X-Custom", "kept");
    incoming.set("X-Empty", "");
    auto seen = fetch(std::move(incoming), {.base_url = server.url("/")});
    ASSERT_FALSE(seen.ec);
    EXPECT_NE(seen.res.body().find("X-Custom: kept\n"), std::string::npos) << seen.res.body();
    EXPECT_NE(seen.res.body().find("X-Empty: \n"), std::string::npos) << seen.res.body();
    EXPECT_EQ(seen.res.body().find("client-facing.example"), std::string::npos);
    EXPECT_EQ(seen.res.body().find("close"), std::string::npos);
}

TEST_F(http_test, any_beast_body_in_and_out) {
    auto vec = fetch<bhttp::vector_body<char>>(get(server.url("/chunked/30000?chunk=1000")));
    ASSERT_FALSE(vec.ec);
    EXPECT_EQ(std::string(vec.res.body().begin(), vec.res.body().end()), test::expected_body(30000));

    bhttp::request<bhttp::empty_body> head(bhttp::verb::head, server.url("/bytes/100"), 11);
    auto empty = fetch<bhttp::empty_body>(std::move(head));
    ASSERT_FALSE(empty.ec) << empty.ec.message();
    EXPECT_EQ(empty.res[bhttp::field::content_length], "100");

    // A file uploaded, and the echo downloaded into another file.
    const std::string dir = test::tls().dir;
    const std::string upload_path = dir + "/upload.bin", download_path = dir + "/download.bin";
    std::ofstream(upload_path, std::ios::binary) << test::expected_body(300000);
    bhttp::request<bhttp::file_body> upload(bhttp::verb::put, server.url("/echo"), 11);
    boost::beast::error_code file_ec;
    upload.body().open(upload_path.c_str(), boost::beast::file_mode::read, file_ec);
    ASSERT_FALSE(file_ec);
    upload.prepare_payload();
    http::response<bhttp::file_body> into;
    into.body().open(download_path.c_str(), boost::beast::file_mode::write, file_ec);
    ASSERT_FALSE(file_ec);
    std::optional<error_code> result;
    http::async_fetch(*m, std::move(upload), {}, std::move(into),
                      [&](error_code ec, http::response<bhttp::file_body> res) {
                          result = ec;
                          EXPECT_EQ(res.result_int(), 200u);
                          EXPECT_EQ(res.info.bytes_sent, 300000u);
                      });
    ASSERT_TRUE(test::run_until(ioc, [&] { return result.has_value(); }));
    EXPECT_FALSE(*result) << result->message();
    std::ifstream downloaded(download_path, std::ios::binary);
    const std::string content((std::istreambuf_iterator<char>(downloaded)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(content == test::expected_body(300000)) << content.size();
}

// The body's reader hears the announced length, as from Beast's own parser: a string is allocated once.
// Not for a HEAD's length, nor for a chunked body (no length), nor beyond the cap (16 MiB).
TEST_F(http_test, the_body_reader_is_told_the_announced_length) {
    auto sized = fetch(get(server.url("/bytes/300000")));
    ASSERT_FALSE(sized.ec) << sized.ec.message();
    EXPECT_EQ(sized.res.body(), test::expected_body(300000));
    EXPECT_EQ(sized.res.body().capacity(), 300000u) << "grown by doubling, not reserved";

    auto sized_vector = fetch<bhttp::vector_body<char>>(get(server.url("/bytes/70000")));
    ASSERT_FALSE(sized_vector.ec);
    EXPECT_EQ(sized_vector.res.body().capacity(), 70000u);

    auto chunked = fetch(get(server.url("/chunked/300000?chunk=1000")));
    ASSERT_FALSE(chunked.ec);
    EXPECT_EQ(chunked.res.body(), test::expected_body(300000));

    auto head =
        fetch(bhttp::request<bhttp::empty_body>(bhttp::verb::head, server.url("/bytes/30000000"), 11));
    ASSERT_FALSE(head.ec) << head.ec.message();
    EXPECT_EQ(head.res[bhttp::field::content_length], "30000000");
    EXPECT_LT(head.res.body().capacity(), 1000u) << "a HEAD's length was reserved";

    auto large = fetch(get(server.url("/bytes/20000000")));
    ASSERT_FALSE(large.ec) << large.ec.message();
    EXPECT_EQ(large.res.body().size(), 20000000u);
}

TEST_F(http_test, redirects_off_on_and_limited) {
    auto off = fetch(get(server.url("/redirect/3")));
    ASSERT_FALSE(off.ec);
    EXPECT_EQ(off.res.result(), bhttp::status::found);
    EXPECT_EQ(off.res[bhttp::field::location], "/redirect/2");

    auto on = fetch(get(server.url("/redirect/3")), {.follow_redirects = true});
    ASSERT_FALSE(on.ec);
    EXPECT_EQ(on.res.result(), bhttp::status::ok);
    EXPECT_EQ(on.res.body(), "done");
    EXPECT_EQ(on.res.info.redirect_count, 3);
    EXPECT_EQ(on.res.info.effective_url, server.url("/redirect/0"));
    EXPECT_EQ(on.res.count(bhttp::field::location), 0u) << "the head is the final response's";

    auto limited = fetch(get(server.url("/redirect/3")), {.follow_redirects = true, .max_redirects = 1});
    EXPECT_EQ(limited.ec, condition::too_many_redirects);
}

// One after another, every fetch gets the idle pool's one handle, which keeps its parsed URL (CURLOPT_CURLU)
// from the last: each must go where its own request says, and say so. curl 7.88 keeps reporting the first
// URL a CURLU handle fetched unless the URL string is cleared (found making this change).
TEST_F(http_test, a_reused_handle_goes_where_each_request_says) {
    const auto fetch_bytes = [&](int n, http::options opts = {}) {
        auto out = fetch(get(server.url("/bytes/" + std::to_string(n))), std::move(opts));
        EXPECT_FALSE(out.ec) << out.ec.message();
        EXPECT_EQ(out.res.body(), test::expected_body(n));
        EXPECT_EQ(out.res.info.effective_url, server.url("/bytes/" + std::to_string(n)));
        EXPECT_TRUE(out.res.info.connection_reused || n == 5) << n;
    };
    fetch_bytes(5);
    fetch_bytes(7);  // the same options, another URL
    fetch_bytes(7);  // the very same
    for (int round = 0; round < 2; ++round) {
        auto followed = fetch(get(server.url("/redirect/1")), {.follow_redirects = true});
        ASSERT_FALSE(followed.ec) << followed.ec.message();
        EXPECT_EQ(followed.res.body(), "done");
        EXPECT_EQ(followed.res.info.redirect_count, 1) << round;
        EXPECT_EQ(followed.res.info.effective_url, server.url("/redirect/0")) << round;
    }
    fetch_bytes(9, {.follow_redirects = true});  // after a followed redirect
    fetch_bytes(5);                              // other options again
    // A URL curl's parser refuses fails before anything is sent, as curl fails it, and the handle serves the
    // next fetch.
    const auto served = server.requests_served();
    auto refused = fetch(get("http://[127.0.0.1/x"));
    EXPECT_EQ(refused.ec, condition::bad_url) << refused.ec.message();
    EXPECT_EQ(refused.res.info.error_message.rfind("URL rejected: ", 0), 0u)
        << refused.res.info.error_message;
    EXPECT_EQ(server.requests_served(), served);
    fetch_bytes(11);
}

// A fetch cancelled before it reached curl returns its handle with the options it set up, among them its
// header list, which dies with the fetch: the next fetch on that handle, with the very same options and no
// header of its own, must not send the dead list (an ASan use-after-free before the fix).
TEST_F(http_test, a_fetch_cancelled_before_it_started_leaves_nothing_on_its_handle) {
    auto with_header = get(server.url("/headers"));
    with_header.set("X-Cancelled-Before-Start", "1");
    boost::asio::cancellation_signal signal;
    std::optional<error_code> result;
    // Initiated outside the io_context's run: the start waits in its queue, and the signal comes first.
    http::async_fetch(*m, std::move(with_header), http::options{},
                      boost::asio::bind_cancellation_slot(
                          signal.slot(), [&](error_code ec, http::response<>) { result = ec; }));
    signal.emit(boost::asio::cancellation_type::terminal);
    ASSERT_TRUE(test::run_until(
        ioc, [&] { return result.has_value(); }, 5s));
    EXPECT_EQ(*result, boost::asio::error::operation_aborted);
    auto next = fetch(get(server.url("/headers")));
    ASSERT_FALSE(next.ec) << next.ec.message();
    EXPECT_EQ(next.res.body().find("X-Cancelled-Before-Start"), std::string::npos) << next.res.body();
}

// A base URL without a scheme, parsed into the handle's CURLU that still holds the last fetch's URL, is not
// read relative to it (curl_url_set resolves a URL without a scheme against the one it holds).
TEST_F(http_test, a_url_without_a_scheme_goes_where_it_says_on_a_reused_handle) {
    test::test_server other;
    ASSERT_FALSE(fetch(get(server.url("/bytes/5"))).ec);
    const std::string schemeless = "127.0.0.1:" + std::to_string(other.port());
    auto out = fetch(get("/bytes/7"), {.base_url = schemeless});
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_EQ(out.res.body(), test::expected_body(7));
    EXPECT_EQ(out.res.info.effective_url, "http://" + schemeless + "/bytes/7");
    EXPECT_EQ(other.requests_served(), 1u);
}

// customize may set what the library does not set itself; resetting the handle would take away what the
// exchange installed (its callbacks, URL, headers), so it is refused, and the handle serves the next fetch.
TEST_F(http_test, customize_may_not_reset_the_handle_under_the_exchange) {
    auto refused = fetch(get(server.url("/bytes/5")), {.customize = [](easy& handle) { handle.reset(); }});
    EXPECT_EQ(refused.ec, errc::option_owned_by_library) << refused.ec.message();
    auto next = fetch(get(server.url("/bytes/9")));
    ASSERT_FALSE(next.ec) << next.ec.message();
    EXPECT_EQ(next.res.body(), test::expected_body(9));
}

// The easy that customize is given borrows the exchange's handle for the call: moving it out (whose
// destructor would clean the handle up under the exchange), replacing it, or running it on a multi of one's
// own leaves the exchange's handle where it is, and the fetch goes on.
TEST_F(http_test, customize_may_not_take_the_handle_away_from_the_exchange) {
    bool moved_out_empty = false;
    auto moved = fetch(get(server.url("/bytes/5")), {.customize = [&](easy& handle) {
                           easy stolen(std::move(handle));
                           moved_out_empty = !stolen;
                           handle.set(CURLOPT_USERAGENT, "still-here");
                       }});
    ASSERT_FALSE(moved.ec) << moved.ec.message();
    EXPECT_TRUE(moved_out_empty);
    EXPECT_EQ(moved.res.body(), test::expected_body(5));

    bool own_kept = false;
    auto replaced = fetch(get(server.url("/bytes/6")), {.customize = [&](easy& handle) {
                              handle = easy();
                              easy own;
                              own = std::move(handle);  // an assigned-to easy keeps its own handle
                              own_kept = static_cast<bool>(own);
                          }});
    ASSERT_FALSE(replaced.ec) << replaced.ec.message();
    EXPECT_TRUE(own_kept);
    EXPECT_EQ(replaced.res.body(), test::expected_body(6));

    std::optional<error_code> own_run;
    multi other(ioc);
    auto performed = fetch(get(server.url("/bytes/7")), {.customize = [&](easy& handle) {
                               other.async_perform(handle, [&](error_code ec) { own_run = ec; });
                           }});
    ASSERT_FALSE(performed.ec) << performed.ec.message();
    EXPECT_EQ(performed.res.body(), test::expected_body(7));
    ASSERT_TRUE(test::run_until(ioc, [&] { return own_run.has_value(); }));
    EXPECT_EQ(*own_run, errc::easy_in_use);

    auto next = fetch(get(server.url("/bytes/9")));
    ASSERT_FALSE(next.ec) << next.ec.message();
    EXPECT_EQ(next.res.body(), test::expected_body(9));
}

// Redirects and a body that customize asks curl for are counted as curl counts them.
TEST_F(http_test, redirects_and_a_body_customize_asked_for_are_in_the_info) {
    auto followed = fetch(get(server.url("/redirect/2")),
                          {.customize = [](easy& handle) { handle.set(CURLOPT_FOLLOWLOCATION, 1L); }});
    ASSERT_FALSE(followed.ec) << followed.ec.message();
    EXPECT_EQ(followed.res.info.redirect_count, 2);
    auto posted = fetch(get(server.url("/echo")),
                        {.customize = [](easy& handle) { handle.set(CURLOPT_POSTFIELDS, "twelve bytes"); }});
    ASSERT_FALSE(posted.ec) << posted.ec.message();
    EXPECT_EQ(posted.res.info.bytes_sent, 12u);
}

TEST_F(http_test, total_and_connect_timeouts) {
    auto stalled = fetch(get(server.url("/stall")), {.timeout = 300ms});
    EXPECT_EQ(stalled.ec, condition::timed_out) << stalled.ec.message();

    // A listener that accepts and never speaks TLS: the handshake is part of the connect phase.
    boost::asio::io_context silent_context;
    boost::asio::ip::tcp::acceptor silent(silent_context, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto port = silent.local_endpoint().port();
    auto handshake =
        fetch(get("https://127.0.0.1:" + std::to_string(port) + "/"), {.connect_timeout = 300ms});
    EXPECT_EQ(handshake.ec, condition::timed_out) << handshake.ec.message();
}

TEST_F(http_test, tls_verification_pinning_client_certificates_and_minimum_version) {
    test::test_server secure(test::test_server::options{.tls = true});
    auto unverified = fetch(get(secure.url("/bytes/10")));  // the system store does not know the test CA
    EXPECT_EQ(unverified.ec, condition::tls_failed);
    EXPECT_EQ(unverified.res.result_int(), 0u);
    // Why, in curl's words.
    EXPECT_NE(unverified.res.info.error_message.find("certificate"), std::string::npos)
        << unverified.res.info.error_message;

    http::options trusted;
    trusted.tls.ca_file = test::tls().ca_file;
    auto ok = fetch(get(secure.url("/bytes/10")), trusted);
    ASSERT_FALSE(ok.ec) << ok.ec.message();

    // A CA directory in OpenSSL's hashed layout (<subject hash>.0), as c_rehash makes it.
    {
        FILE* file = std::fopen(test::tls().ca_file.c_str(), "r");
        X509* ca = PEM_read_X509(file, nullptr, nullptr, nullptr);
        std::fclose(file);
        char name[32];
        std::snprintf(name, sizeof name, "/%08lx.0", X509_subject_name_hash(ca));
        X509_free(ca);
        const std::string dir = test::tls().dir + "/ca-dir";
        std::filesystem::create_directories(dir);
        std::filesystem::copy_file(test::tls().ca_file, dir + name,
                                   std::filesystem::copy_options::overwrite_existing);
        http::options by_directory;
        by_directory.tls.ca_path = dir;
        auto listed = fetch(get(secure.url("/bytes/10")), by_directory);
        EXPECT_FALSE(listed.ec) << listed.ec.message() << ": " << listed.res.info.error_message;
    }

    http::options pinned = trusted;
    pinned.tls.pinned_public_key = pin_of(test::tls().cert_file);
    EXPECT_FALSE(fetch(get(secure.url("/bytes/10")), pinned).ec);
    pinned.tls.pinned_public_key = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    EXPECT_EQ(fetch(get(secure.url("/bytes/10")), pinned).ec, condition::tls_failed);

    test::test_server mutual(test::test_server::options{.tls = true, .require_client_certificate = true});
    EXPECT_TRUE(fetch(get(mutual.url("/bytes/10")), trusted).ec) << "served without a client certificate";
    http::options with_certificate = trusted;
    with_certificate.tls.client_certificate = test::tls().client_cert_file;
    with_certificate.tls.client_key = test::tls().client_key_file;
    auto authenticated = fetch(get(mutual.url("/bytes/10")), with_certificate);
    EXPECT_FALSE(authenticated.ec) << authenticated.ec.message();

    test::test_server old(test::test_server::options{.tls = true, .tls_1_2_only = true});
    EXPECT_FALSE(fetch(get(old.url("/bytes/10")), trusted).ec);
    http::options modern = trusted;
    modern.tls.min_version = CURL_SSLVERSION_TLSv1_3;
    EXPECT_EQ(fetch(get(old.url("/bytes/10")), modern).ec, condition::tls_failed);
    m.reset();
    EXPECT_TRUE(secure.wait_for_idle(5s) && mutual.wait_for_idle(5s) && old.wait_for_idle(5s));
}

TEST_F(http_test, zstd_and_brotli_are_decoded) {
    auto zstd = fetch(get(server.url("/zstd")));
    ASSERT_FALSE(zstd.ec) << zstd.ec.message() << ": " << zstd.res.info.error_message;
    EXPECT_EQ(zstd.res[bhttp::field::content_encoding], "zstd");
    EXPECT_EQ(zstd.res.body(), "hello, zstd");
    auto brotli = fetch(get(server.url("/brotli")));
    ASSERT_FALSE(brotli.ec) << brotli.ec.message() << ": " << brotli.res.info.error_message;
    EXPECT_EQ(brotli.res.body(), "hello, br");
}

// Fetches run one after another reuse one handle from the multi's idle pool: nothing of one may reach the
// next — its headers, its cookies (here from a cookie engine switched on through customize), its options.
TEST_F(http_test, a_reused_handle_carries_nothing_from_the_fetch_before) {
    http::options first;
    first.customize = [](easy& handle) { handle.set(CURLOPT_COOKIEFILE, ""); };
    first.timeout = 200ms;
    auto with_header = get(server.url("/set-cookie?leaked=1"));
    with_header.set("X-Only-Once", "1");
    ASSERT_FALSE(fetch(std::move(with_header), first).ec);
    auto second = fetch(get(server.url("/headers")));
    ASSERT_FALSE(second.ec) << second.ec.message();
    EXPECT_EQ(second.res.body().find("Cookie:"), std::string::npos) << second.res.body();
    EXPECT_EQ(second.res.body().find("X-Only-Once"), std::string::npos) << second.res.body();
    EXPECT_TRUE(second.res.info.connection_reused);  // the same connection, through the reset handle
    // No timeout left behind: a response slower than the first fetch's 200 ms arrives.
    auto slow = fetch(get(server.url("/trickle/6?chunk=1&interval_ms=60")));
    EXPECT_FALSE(slow.ec) << slow.ec.message();
}

TEST_F(http_test, cookies_are_shared_through_a_jar) {
    auto jar = std::make_shared<http::cookie_jar>();
    ASSERT_FALSE(fetch(get(server.url("/set-cookie?session=abc123")), {.cookies = jar}).ec);
    auto with_jar = fetch(get(server.url("/headers")), {.cookies = jar});
    EXPECT_NE(with_jar.res.body().find("Cookie: session=abc123"), std::string::npos) << with_jar.res.body();
    auto without = fetch(get(server.url("/headers")));
    EXPECT_EQ(without.res.body().find("Cookie:"), std::string::npos);
    ASSERT_EQ(jar->cookies().size(), 1u);
    EXPECT_NE(jar->cookies().front().find("abc123"), std::string::npos);
    jar->clear();
    EXPECT_TRUE(jar->cookies().empty());
}

// curl does not support cookies shared between concurrent threads (CURLSHOPT_SHARE; 8.12 to 8.14 crash on
// it, locks or not): while transfers on one executor hold a jar, a fetch on another executor is refused
// before anything is sent, and add or clear from another thread throw; once they end, any executor may
// take it.
TEST_F(http_test, a_cookie_jar_is_used_by_the_transfers_of_one_executor_at_a_time) {
    auto jar = std::make_shared<http::cookie_jar>();
    boost::asio::cancellation_signal stop;
    std::optional<error_code> stalled;
    http::async_fetch(*m, get(server.url("/stall")), {.cookies = jar},
                      boost::asio::bind_cancellation_slot(
                          stop.slot(), [&](error_code ec, http::response<>) { stalled = ec; }));
    ASSERT_TRUE(test::run_until(ioc, [&] { return m->in_flight() == 1; }));

    multi elsewhere(boost::asio::make_strand(ioc));
    std::optional<error_code> refused;
    std::string refusal;
    http::async_fetch(elsewhere, get(server.url("/set-cookie?session=elsewhere")), {.cookies = jar},
                      [&](error_code ec, http::response<> res) {
                          refused = ec;
                          refusal = res.info.error_message;
                      });
    ASSERT_TRUE(test::run_until(ioc, [&] { return refused.has_value(); }));
    EXPECT_EQ(*refused, errc::cookie_jar_in_use);
    EXPECT_NE(refusal.find("concurrent threads"), std::string::npos) << refusal;

    // The same executor shares it freely.
    ASSERT_FALSE(fetch(get(server.url("/set-cookie?session=abc")), {.cookies = jar}).ec);
    std::optional<error_code> from_another_thread;
    std::thread([&] {
        try {
            jar->clear();
        } catch (const system_error& failure) {
            from_another_thread = failure.code();
        }
    }).join();
    EXPECT_EQ(from_another_thread, error_code(errc::cookie_jar_in_use));
    bool added_on_its_thread = false;
    boost::asio::post(ioc, [&] {
        jar->add("Set-Cookie: second=2; Domain=127.0.0.1; Path=/");
        added_on_its_thread = true;
    });
    ASSERT_TRUE(test::run_until(ioc, [&] { return added_on_its_thread; }));

    stop.emit(boost::asio::cancellation_type::terminal);
    ASSERT_TRUE(test::run_until(ioc, [&] { return stalled.has_value(); }));
    EXPECT_EQ(*stalled, boost::asio::error::operation_aborted);
    ioc.poll();
    // Nothing holds the jar: the other executor takes it, with the cookies stored meanwhile.
    std::optional<error_code> later;
    std::string seen;
    http::async_fetch(elsewhere, get(server.url("/headers")), {.cookies = jar},
                      [&](error_code ec, http::response<> res) {
                          later = ec;
                          seen = res.body();
                      });
    ASSERT_TRUE(test::run_until(ioc, [&] { return later.has_value(); }));
    ASSERT_FALSE(*later) << later->message();
    EXPECT_NE(seen.find("session=abc"), std::string::npos) << seen;
    EXPECT_NE(seen.find("second=2"), std::string::npos) << seen;
    jar->clear();  // no transfer holds it: from any thread
    EXPECT_TRUE(jar->cookies().empty());
}

// A share holds TLS sessions and the DNS cache for handles on several multis: fetches that each open a new
// connection (CURLOPT_FORBID_REUSE), alternating between two multis, resume the first one's handshake, and a
// name put into the cache by one multi's handle (CURLOPT_RESOLVE: nothing is resolved) is found by the
// other's. Connections are refused (curl does not support sharing them between threads).
TEST_F(http_test, a_share_carries_tls_sessions_and_names_between_multis) {
    auto data = std::make_shared<share>();
    EXPECT_TRUE(data->holds(CURL_LOCK_DATA_DNS));
    EXPECT_TRUE(data->holds(CURL_LOCK_DATA_SSL_SESSION));
    EXPECT_FALSE(data->holds(CURL_LOCK_DATA_COOKIE));
    multi second(ioc);
    auto fetch_on = [&](multi& on, bhttp::request<bhttp::empty_body> request, http::options opts) {
        std::optional<error_code> result;
        std::string body;
        http::async_fetch(on, std::move(request), std::move(opts), [&](error_code ec, http::response<> res) {
            result = ec;
            body = res.body() + res.info.error_message;
        });
        EXPECT_TRUE(test::run_until(ioc, [&] { return result.has_value(); }));
        EXPECT_FALSE(result.value_or(error_code{})) << body;
        return body;
    };

    test::test_server secure(test::test_server::options{.tls = true});
    http::options tls_opts;
    tls_opts.tls.ca_file = test::tls().ca_file;
    tls_opts.share = data;
    tls_opts.customize = [](easy& handle) { handle.set(CURLOPT_FORBID_REUSE, 1L); };  // a connection each
    constexpr int fetches = 20;
    for (int i = 0; i < fetches; ++i)
        EXPECT_EQ(fetch_on(i % 2 ? second : *m, get(secure.url("/bytes/10")), tls_opts),
                  test::expected_body(10));
    EXPECT_EQ(secure.accepted_connections(), static_cast<std::size_t>(fetches));
    EXPECT_GE(secure.resumed_tls_sessions(), static_cast<std::size_t>(fetches - 1));
    EXPECT_GT(data->stats().tls_sessions.taken, 0u);

    const std::string name = "shared-cache.test:" + std::to_string(server.port());
    curl_slist* resolve = curl_slist_append(nullptr, (name + ":127.0.0.1").c_str());
    http::options pinned{.share = data};
    pinned.customize = [resolve](easy& handle) { handle.set(CURLOPT_RESOLVE, resolve); };
    EXPECT_EQ(fetch_on(*m, get("http://" + name + "/bytes/4"), pinned), test::expected_body(4));
    const auto dns_locks = data->stats().dns.taken;
    EXPECT_EQ(fetch_on(second, get("http://" + name + "/bytes/5"), {.share = data}), test::expected_body(5));
    EXPECT_GT(data->stats().dns.taken, dns_locks);
    curl_slist_free_all(resolve);

    try {
        share refused(share_options{.connections = true});
        ADD_FAILURE() << "connections were shared";
    } catch (const system_error& failure) {
        EXPECT_EQ(failure.code(), errc::unsafe_share);
    }
}

// A handle uses one curl share: a jar is made on a share that holds cookies (and whatever else), and a jar
// and another share given together are refused before anything is sent.
TEST_F(http_test, a_cookie_jar_is_made_on_a_share_and_a_second_share_is_refused) {
    auto data = std::make_shared<share>(share_options{.cookies = true});
    auto jar = std::make_shared<http::cookie_jar>(data);
    ASSERT_FALSE(fetch(get(server.url("/set-cookie?session=shared")), {.cookies = jar, .share = data}).ec);
    auto seen = fetch(get(server.url("/headers")), {.share = data});  // the share alone carries the cookies
    ASSERT_FALSE(seen.ec) << seen.ec.message();
    EXPECT_NE(seen.res.body().find("session=shared"), std::string::npos) << seen.res.body();

    auto conflict = fetch(get(server.url("/bytes/3")), {.cookies = jar, .share = std::make_shared<share>()});
    EXPECT_EQ(conflict.ec, errc::invalid_argument);
    EXPECT_NE(conflict.res.info.error_message.find("cookie_jar(share)"), std::string::npos)
        << conflict.res.info.error_message;
    EXPECT_EQ(server.requests_served(), 2u);
    try {
        http::cookie_jar no_cookies(std::make_shared<share>());
        ADD_FAILURE() << "a jar without cookies";
    } catch (const system_error& failure) {
        EXPECT_EQ(failure.code(), errc::invalid_argument);
    }

    // easy::set_share: a share with cookies is one executor's at a time for async_perform too.
    multi elsewhere(boost::asio::make_strand(ioc));
    easy first, other;
    first.set(CURLOPT_URL, server.url("/stall"));
    first.discard_body();
    first.set_share(data);
    other.set(CURLOPT_URL, server.url("/bytes/2"));
    other.discard_body();
    other.set_share(data);
    std::optional<error_code> stalled, refused;
    boost::asio::cancellation_signal stop;
    m->async_perform(first,
                     boost::asio::bind_cancellation_slot(stop.slot(), [&](error_code ec) { stalled = ec; }));
    elsewhere.async_perform(other, [&](error_code ec) { refused = ec; });
    ASSERT_TRUE(test::run_until(ioc, [&] { return refused.has_value(); }));
    EXPECT_EQ(*refused, errc::cookie_jar_in_use);
    stop.emit(boost::asio::cancellation_type::terminal);
    ASSERT_TRUE(test::run_until(ioc, [&] { return stalled.has_value(); }));
    refused.reset();
    elsewhere.async_perform(other, [&](error_code ec) { refused = ec; });
    ASSERT_TRUE(test::run_until(ioc, [&] { return refused.has_value(); }));
    EXPECT_FALSE(*refused) << refused->message();
}

// A transfer that never ran gives the jar back when its handle comes back: a stream whose start() was
// refused after it took the jar (the stream lives on, and may start again) and a fetch cancelled before it
// began leave it free for another executor, and a stream started again after a refusal takes it once.
TEST_F(http_test, a_cookie_jar_taken_by_a_transfer_that_never_ran_is_free_again) {
    auto jar = std::make_shared<http::cookie_jar>();
    multi elsewhere(boost::asio::make_strand(ioc));
    auto fetch_elsewhere = [&](std::string target) {
        std::optional<error_code> result;
        http::async_fetch(elsewhere, get(server.url(target)), {.cookies = jar},
                          [&](error_code ec, http::response<>) { result = ec; });
        EXPECT_TRUE(test::run_until(ioc, [&] { return result.has_value(); }));
        return result.value_or(error_code(errc::invalid_argument));
    };

    http::stream s(*m);
    auto injected = get(server.url("/bytes/3"));
    injected.set("X-Bad", "a\r\nInjected: 1");
    error_code refused;
    s.start(std::move(injected), {.cookies = jar}, refused);
    EXPECT_EQ(refused, errc::header_injection);
    EXPECT_FALSE(fetch_elsewhere("/bytes/2")) << "the refused stream still holds the jar";

    s.start(get(server.url("/set-cookie?again=1")), {.cookies = jar});
    std::optional<error_code> read;
    s.async_read_header([&](error_code ec) { read = ec; });
    ASSERT_TRUE(test::run_until(ioc, [&] { return read.has_value(); }));
    ASSERT_FALSE(*read) << read->message();
    std::array<char, 64> sink;
    error_code end;
    while (!end) {
        std::optional<std::pair<error_code, std::size_t>> chunk;
        s.async_read_some(boost::asio::buffer(sink),
                          [&](error_code ec, std::size_t n) { chunk.emplace(ec, n); });
        ASSERT_TRUE(test::run_until(ioc, [&] { return chunk.has_value(); }));
        end = chunk->first;
    }
    EXPECT_EQ(end, boost::asio::error::eof);
    ioc.poll();
    EXPECT_FALSE(fetch_elsewhere("/bytes/2")) << "the stream that ran took the jar twice";

    boost::asio::cancellation_signal signal;
    std::optional<error_code> cancelled;
    http::async_fetch(*m, get(server.url("/bytes/3")), {.cookies = jar},
                      boost::asio::bind_cancellation_slot(
                          signal.slot(), [&](error_code ec, http::response<>) { cancelled = ec; }));
    signal.emit(boost::asio::cancellation_type::terminal);
    ASSERT_TRUE(test::run_until(ioc, [&] { return cancelled.has_value(); }));
    EXPECT_EQ(*cancelled, boost::asio::error::operation_aborted);
    EXPECT_FALSE(fetch_elsewhere("/bytes/2"));
}

TEST_F(http_test, user_agent_and_raw_curl_options) {
    auto default_agent = fetch(get(server.url("/headers")));
    EXPECT_NE(default_agent.res.body().find("User-Agent: asiocurl/"), std::string::npos);
    auto custom = fetch(get(server.url("/headers")), {.user_agent = "probe/1.0", .customize = [](easy& e) {
                                                          e.set(CURLOPT_REFERER, "http://ref/");
                                                      }});
    EXPECT_NE(custom.res.body().find("User-Agent: probe/1.0"), std::string::npos);
    EXPECT_NE(custom.res.body().find("Referer: http://ref/"), std::string::npos);
}

// One error whoever notices the limit: curl refuses an announced length before the body starts (7.88 and
// 8.x); a chunked body is cut while it arrives, by the fetch's write callback on 7.88 and by curl itself on
// 8.4 and later (CURLE_FILESIZE_EXCEEDED after exactly the limit was written).
TEST_F(http_test, responses_beyond_the_size_limit_fail_cleanly) {
    auto announced = fetch(get(server.url("/bytes/100000")), {.max_response_size = 1000});
    EXPECT_EQ(announced.ec, errc::response_too_large) << announced.ec.message();
    EXPECT_EQ(announced.ec, condition::too_large);
    EXPECT_TRUE(announced.res.body().empty());
    EXPECT_EQ(announced.res.result_int(), 200u);  // the head that came
    // Chunked: no length up front; the limit cuts it while it arrives.
    auto streamed = fetch(get(server.url("/chunked/2000000?chunk=10000")), {.max_response_size = 50000});
    EXPECT_EQ(streamed.ec, errc::response_too_large) << streamed.ec.message();
    EXPECT_EQ(streamed.ec, condition::too_large);
    EXPECT_LE(streamed.res.body().size(), 50000u);
    // At the limit exactly, nothing is refused.
    auto exact = fetch(get(server.url("/chunked/50000?chunk=10000")), {.max_response_size = 50000});
    EXPECT_FALSE(exact.ec) << exact.ec.message();
    EXPECT_EQ(exact.res.body(), test::expected_body(50000));
}

// What libcurl 8.x measures beyond 7.88, keyed on the running version: the time a transfer waited for a
// connection slot (8.6) and the connection and transfer ids (8.2). Three fetches at once through one allowed
// connection: the second and third wait for the one before, then reuse its connection.
TEST_F(http_test, queue_time_and_connection_ids_where_curl_measures_them) {
    m->set_max_total_connections(1);
    std::vector<outcome<bhttp::string_body>> out(3);
    for (auto& o : out)
        http::async_fetch(*m, get(server.url("/trickle/3000?chunk=1000&interval_ms=20")), http::options{},
                          [&o](error_code ec, http::response<> res) {
                              o.ec = ec;
                              o.res = std::move(res);
                              ++o.calls;
                          });
    ASSERT_TRUE(test::run_until(ioc, [&] { return out[0].calls && out[1].calls && out[2].calls; }));
    for (auto& o : out) {
        ASSERT_FALSE(o.ec) << o.res.info.error_message;
        EXPECT_EQ(o.calls, 1);
    }
    EXPECT_EQ(server.accepted_connections(), 1u);
    if (test::curl_at_least(8, 2)) {
        for (auto& o : out) {
            ASSERT_TRUE(o.res.info.connection_id && o.res.info.transfer_id);
            EXPECT_EQ(*o.res.info.connection_id, *out[0].res.info.connection_id) << "one connection";
        }
        EXPECT_NE(*out[0].res.info.transfer_id, *out[1].res.info.transfer_id);
        EXPECT_NE(*out[1].res.info.transfer_id, *out[2].res.info.transfer_id);
    } else {
        EXPECT_FALSE(out[0].res.info.connection_id || out[0].res.info.transfer_id);
    }
    if (test::curl_at_least(8, 6)) {
        std::vector<std::chrono::microseconds> queued;
        for (auto& o : out) {
            ASSERT_TRUE(o.res.info.times.queue);
            queued.push_back(*o.res.info.times.queue);
        }
        std::sort(queued.begin(), queued.end());
        // Each body takes 40 ms or more: the last to start waited for the two before it.
        EXPECT_GE(queued.back(), 60ms);
        EXPECT_LT(queued.front(), queued.back());
    } else {
        EXPECT_FALSE(out[0].res.info.times.queue);
    }
}

TEST_F(http_test, only_http_and_https_also_after_a_redirect) {
    EXPECT_EQ(fetch(get("file:///etc/passwd")).ec, condition::protocol_refused);
    for (const char* target : {"file:///etc/passwd", "ftp://127.0.0.1:9/x"}) {
        auto out =
            fetch(get(server.url(std::string("/redirect-to?url=") + target)), {.follow_redirects = true});
        EXPECT_EQ(out.ec, condition::protocol_refused) << target << ": " << out.ec.message();
        EXPECT_TRUE(out.res.body().empty());
    }
}

TEST_F(http_test, header_injection_is_refused_before_anything_is_sent) {
    const auto served = server.requests_served();
    auto value = get(server.url("/headers"));
    value.set("X-Value", "a\r\nX-Injected: 1");
    auto name = get(server.url("/headers"));
    name.set("X Bad", "1");
    auto url = get(server.url("/headers\r\nX-Injected: 1"));
    for (auto* request : {&value, &name, &url}) {
        auto out = fetch(*request);
        EXPECT_EQ(out.ec, errc::header_injection);
    }
    auto no_url = fetch(get("/relative"));
    EXPECT_EQ(no_url.ec, errc::no_url);
    EXPECT_EQ(server.requests_served(), served);
}

TEST_F(http_test, credentials_do_not_follow_a_redirect_to_another_host) {
    test::test_server other;
    auto same = get(server.url("/redirect-to?url=" + server.url("/headers")));
    same.set(bhttp::field::authorization, "Bearer secret");
    auto kept = fetch(std::move(same), {.follow_redirects = true});
    EXPECT_NE(kept.res.body().find("Bearer secret"), std::string::npos) << "same host: credentials kept";

    auto away = get(server.url("/redirect-to?url=" + other.url("/headers")));
    away.set(bhttp::field::authorization, "Bearer secret");
    auto dropped = fetch(std::move(away), {.follow_redirects = true});
    ASSERT_FALSE(dropped.ec);
    EXPECT_EQ(dropped.res.info.effective_url, other.url("/headers"));
    EXPECT_EQ(dropped.res.body().find("secret"), std::string::npos) << dropped.res.body();
    m.reset();
    EXPECT_TRUE(other.wait_for_idle(5s));
}

// The options are copied into the operation when given by reference (moved when an rvalue), whatever the
// token: a deferred fetch launched after its named options were changed and destroyed sends what they said.
TEST_F(http_test, options_given_by_reference_are_copied_before_the_call_returns) {
    auto opts = std::make_unique<http::options>();
    opts->base_url = server.url("");
    opts->user_agent = "kept/1.0";
    auto op = http::async_fetch(*m, get("/headers"), *opts, boost::asio::deferred);
    opts->base_url = "http://127.0.0.1:9";
    opts->user_agent = "changed/1.0";
    opts.reset();
    std::optional<http::response<>> got;
    std::move(op)([&](error_code ec, http::response<> res) {
        EXPECT_FALSE(ec) << ec.message();
        got = std::move(res);
    });
    ASSERT_TRUE(test::run_until(ioc, [&] { return got.has_value(); }));
    EXPECT_NE(got->body().find("kept/1.0"), std::string::npos) << got->body();
    EXPECT_EQ(got->body().find("changed"), std::string::npos) << got->body();
}

TEST_F(http_test, every_token_family_and_the_executor_contract) {
    auto future = http::async_fetch(*m, server.url("/bytes/10"), boost::asio::use_future);
    ASSERT_TRUE(test::run_until(ioc, [&] { return future.wait_for(0s) == std::future_status::ready; }));
    EXPECT_EQ(future.get().body(), test::expected_body(10));

    auto op = http::async_fetch(*m, server.url("/bytes/20"), boost::asio::deferred);
    std::optional<std::size_t> deferred_size;
    std::move(op)([&](error_code, http::response<> res) { deferred_size = res.body().size(); });
    ASSERT_TRUE(test::run_until(ioc, [&] { return deferred_size.has_value(); }));
    EXPECT_EQ(*deferred_size, 20u);

    int finished = 0;
    boost::asio::co_spawn(
        ioc,
        [&]() -> boost::asio::awaitable<void> {
            auto [ec, res] = co_await http::async_fetch(*m, "http://127.0.0.1:9/",
                                                        boost::asio::as_tuple(boost::asio::use_awaitable));
            EXPECT_EQ(ec, condition::connect_failed);
            error_code redirected;
            co_await http::async_fetch(*m, "http://127.0.0.1:9/",
                                       boost::asio::redirect_error(boost::asio::use_awaitable, redirected));
            EXPECT_EQ(redirected, condition::connect_failed);
            ++finished;
        },
        boost::asio::detached);
    ASSERT_TRUE(test::run_until(ioc, [&] { return finished == 1; }));

    // Immediate failures are posted; handlers run on their bound executor.
    auto strand = boost::asio::make_strand(ioc);
    bool initiating = true, on_strand = false, done = false;
    http::async_fetch(*m, get("/no-base-url"), {},
                      boost::asio::bind_executor(strand, [&](error_code ec, auto) {
                          EXPECT_FALSE(initiating);
                          EXPECT_EQ(ec, errc::no_url);
                          on_strand = strand.running_in_this_thread();
                          done = true;
                      }));
    initiating = false;
    ASSERT_TRUE(test::run_until(ioc, [&] { return done; }));
    EXPECT_TRUE(on_strand);
}

// A throwing token keeps only the code; with_diagnostics keeps curl's detail and the URL, never a secret.
TEST_F(http_test, with_diagnostics_throws_curls_detail_and_the_redacted_url) {
    int finished = 0;
    boost::asio::co_spawn(
        ioc,
        [&]() -> boost::asio::awaitable<void> {
            auto res = co_await http::async_fetch(*m, server.url("/bytes/10"),
                                                  http::with_diagnostics(boost::asio::use_awaitable));
            EXPECT_EQ(res.body(), test::expected_body(10));
            try {
                co_await http::async_fetch(*m, "http://user:s3cret@127.0.0.1:9/path?token=t0ken",
                                           http::with_diagnostics(boost::asio::use_awaitable));
                ADD_FAILURE() << "no exception";
            } catch (const http::fetch_error& e) {
                const std::string what = e.what();
                EXPECT_EQ(e.code(), condition::connect_failed);
                EXPECT_FALSE(e.curl_message().empty());
                EXPECT_NE(what.find(e.curl_message()), std::string::npos) << what;
                EXPECT_EQ(e.url(), "http://127.0.0.1:9/path?...");
                EXPECT_EQ(what.rfind("http://127.0.0.1:9/path?...: ", 0), 0u) << what;
                EXPECT_NE(what.find("[curl:7"), std::string::npos) << what;
                EXPECT_EQ(what.find("s3cret"), std::string::npos) << what;
                EXPECT_EQ(what.find("t0ken"), std::string::npos) << what;
            }
            ++finished;
        },
        boost::asio::detached);
    ASSERT_TRUE(test::run_until(ioc, [&] { return finished == 1; }));

    // The wrapped token's associations survive: its executor, and its cancellation slot.
    auto strand = boost::asio::make_strand(ioc);
    boost::asio::cancellation_signal signal;
    std::exception_ptr failure;
    int calls = 0;
    bool on_strand = false;
    http::async_fetch(*m, server.url("/trickle/100000?chunk=100&interval_ms=5"),
                      http::with_diagnostics(boost::asio::bind_cancellation_slot(
                          signal.slot(), boost::asio::bind_executor(strand, [&](std::exception_ptr e, auto) {
                              failure = e;
                              on_strand = strand.running_in_this_thread();
                              ++calls;
                          }))));
    ASSERT_TRUE(test::run_until(ioc, [&] { return m->in_flight() == 1 && server.requests_served() > 0; }));
    signal.emit(boost::asio::cancellation_type::terminal);
    ASSERT_TRUE(test::run_until(ioc, [&] { return calls > 0; }));
    ioc.poll();
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(on_strand);
    ASSERT_TRUE(failure);
    try {
        std::rethrow_exception(failure);
    } catch (const http::fetch_error& e) {
        EXPECT_EQ(e.code(), boost::asio::error::operation_aborted);
        EXPECT_EQ(e.url().rfind(server.url("/trickle/100000"), 0), 0u) << e.url();
    }
}

TEST_F(http_test, the_bound_allocator_is_used) {
    auto counts = std::make_shared<std::pair<int, int>>(0, 0);
    std::optional<error_code> result;
    http::async_fetch(*m, server.url("/bytes/100"),
                      boost::asio::bind_allocator(test::counting_allocator<void>(counts),
                                                  [&](error_code ec, http::response<>) { result = ec; }));
    ASSERT_TRUE(test::run_until(ioc, [&] { return result.has_value(); }));
    EXPECT_FALSE(*result);
    EXPECT_GT(counts->first, 0);
    EXPECT_EQ(counts->first, counts->second);
}

TEST_F(http_test, terminal_and_partial_cancellation_abort_the_fetch) {
    for (auto type : {boost::asio::cancellation_type::terminal, boost::asio::cancellation_type::partial}) {
        boost::asio::cancellation_signal signal;
        std::optional<error_code> result;
        http::async_fetch(*m, server.url("/trickle/100000?chunk=100&interval_ms=5"),
                          boost::asio::bind_cancellation_slot(
                              signal.slot(), [&](error_code ec, http::response<>) { result = ec; }));
        ASSERT_TRUE(
            test::run_until(ioc, [&] { return m->in_flight() == 1 && server.requests_served() > 0; }));
        ioc.run_for(50ms);
        signal.emit(type);
        ASSERT_TRUE(test::run_until(
            ioc, [&] { return result.has_value(); }, 5s));
        EXPECT_EQ(*result, boost::asio::error::operation_aborted);
    }
    EXPECT_EQ(fetch(get(server.url("/bytes/10"))).res.body(), test::expected_body(10));
}

}  // namespace
}  // namespace asiocurl
