// What a request can say, against real servers: URLs and queries built from parts, forms (urlencoded and
// multipart, parsed strictly by the test server), credentials (basic, bearer, digest, AWS SigV4, a proxy's),
// and where a connection goes (resolve and connect-to overrides, a Unix socket, IPv4/IPv6, the local end, the
// stall detector, no_proxy, TLS material in memory).
#include <asiocurl/http.hpp>
#include <asiocurl/http/client.hpp>
#include <asiocurl/http/request_log.hpp>

#include "multi_fixture.hpp"
#include "nginx_server.hpp"
#include "tinyproxy_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/url/parse.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include <sys/socket.h>
#include <unistd.h>

namespace asiocurl {
namespace {

namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

std::string file_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// A missing package skips the test, except in CI, where .ci/run installs it and its absence is a failure.
bool require(bool installed, const char* package) {
    if (installed) return true;
    if (std::getenv("CI")) ADD_FAILURE() << package << " is not installed (scripts/test.sh installs it)";
    return false;
}

// A loopback port that refuses connections while this lives: bound, never listening, so no other process can
// take it (a port "nothing listens on", such as 9, is only an assumption about the machine).
class refusing_port {
public:
    // On `port` (0: any free one); bound() says whether it could be had.
    explicit refusing_port(unsigned short port = 0) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        sockaddr_in at{};
        at.sin_family = AF_INET;
        at.sin_port = htons(port);
        at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        // A port of a connection closed a moment ago (TIME_WAIT) can be had all the same; a listener's
        // cannot.
        const int reuse = 1;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
        bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&at), sizeof at) == 0;
        socklen_t length = sizeof at;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&at), &length);
        port_ = ntohs(at.sin_port);
    }
    ~refusing_port() { ::close(fd_); }
    refusing_port(const refusing_port&) = delete;
    refusing_port& operator=(const refusing_port&) = delete;
    bool bound() const { return bound_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

private:
    int fd_;
    unsigned short port_ = 0;
    bool bound_ = false;
};

class request_test : public test::multi_test {
protected:
    struct outcome {
        error_code ec;
        http::response<> res;
        int calls = 0;
    };

    template <class Request>
    outcome fetch(Request request, http::options opts = {}, std::chrono::milliseconds bound = 20s) {
        outcome out;
        http::async_fetch(*m, std::move(request), std::move(opts), [&](error_code ec, http::response<> res) {
            out.ec = ec;
            out.res = std::move(res);
            ++out.calls;
        });
        EXPECT_EQ(out.calls, 0) << "completed inside the initiating call";
        EXPECT_TRUE(test::run_until(
            ioc, [&] { return out.calls > 0; }, bound));
        ioc.poll();
        EXPECT_EQ(out.calls, 1);
        return out;
    }

    // One GET through an http::client, to completion.
    outcome call(http::client& client, http::url_ref url) {
        outcome out;
        client.async_get(url, [&](error_code ec, http::response<> res) {
            out.ec = ec;
            out.res = std::move(res);
            ++out.calls;
        });
        EXPECT_EQ(out.calls, 0) << "completed inside the initiating call";
        EXPECT_TRUE(test::run_until(
            ioc, [&] { return out.calls > 0; }, 20s));
        EXPECT_EQ(out.calls, 1);
        return out;
    }

    static bhttp::request<bhttp::empty_body> get(http::url_ref url) {
        return bhttp::request<bhttp::empty_body>(bhttp::verb::get, url.text(), 11);
    }
};

// ---- URLs ----

TEST_F(request_test, a_url_built_from_parts_arrives_encoded_and_decodes_back) {
    const auto url =
        http::make_url(server.url("/echo-target"), {"a/b c", "ü"}, {{"q", "x&y=z+1 #"}, {"page", "2"}})
            .value();
    http::client client(*m);
    const auto out = call(client, url);
    ASSERT_FALSE(out.ec) << out.ec.message();
    const auto received = boost::urls::parse_origin_form(out.res.body());
    ASSERT_TRUE(received) << out.res.body();
    std::vector<std::string> segments(received->segments().begin(), received->segments().end());
    EXPECT_EQ(segments, (std::vector<std::string>{"echo-target", "a/b c", "ü"}));
    EXPECT_EQ((*received->params().find("q")).value, "x&y=z+1 #");
    EXPECT_EQ((*received->params().find("page")).value, "2");
    // And the short form takes a Boost.URL too.
    auto direct = fetch(get(url));
    EXPECT_EQ(direct.res.body(), out.res.body());
}

TEST_F(request_test, a_malformed_url_is_refused_before_anything_is_sent_with_its_offset) {
    const auto served = server.requests_served();
    const auto accepted = server.accepted_connections();
    auto out = fetch(get(server.url("/bytes/1 2")));
    EXPECT_EQ(out.ec, make_error_code(CURLE_URL_MALFORMAT));
    const std::string offset = "offset " + std::to_string(server.url("/bytes/1").size());
    EXPECT_NE(out.res.info.error_message.find(offset), std::string::npos) << out.res.info.error_message;
    EXPECT_EQ(server.requests_served(), served);
    EXPECT_EQ(server.accepted_connections(), accepted);
}

// ---- forms ----

TEST_F(request_test, an_urlencoded_form) {
    http::url_encoded_form form{{"user", "Ada Lovelace"}, {"note", "a&b=c+d"}};
    auto out = fetch(http::form_request(server.url("/echo"), form));
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_EQ(out.res.body(), "user=Ada+Lovelace&note=a%26b%3Dc%2Bd");
    EXPECT_EQ(out.res[bhttp::field::content_type], "application/x-www-form-urlencoded");
}

TEST_F(request_test, multipart_text_memory_file_disk_file_and_streamed_parts_each_parsed_by_the_server) {
    const std::string on_disk = test::tls().dir + "/upload-" + std::to_string(::getpid()) + ".bin";
    const std::string disk_bytes = test::expected_body(100'000);
    { std::ofstream(on_disk, std::ios::binary) << disk_bytes; }
    const std::string binary("\0\r\n--not a boundary\r\n\xff", 23);
    const std::string streamed = test::expected_body(70'000);
    for (const bool known_length : {false, true}) {
        std::size_t offset = 0;
        bhttp::request<http::multipart_body> request(bhttp::verb::post, server.url("/multipart"), 11);
        request.set(bhttp::field::content_type, "text/plain");  // replaced: only curl knows the boundary
        request.body()
            .add_text("title", "a \"quoted\" title")
            .add_file("memory", "mem.bin", binary)
            .add_file_from_disk("disk", on_disk, "application/x-test")
            .add_stream(
                "stream",
                [&](char* buffer, std::size_t size) {
                    // Odd pieces, as a producer of unknown length gives them.
                    const std::size_t n = std::min({size, std::size_t{777}, streamed.size() - offset});
                    std::memcpy(buffer, streamed.data() + offset, n);
                    offset += n;
                    return n;
                },
                "stream.txt", "text/plain",
                known_length ? std::optional<std::uint64_t>(streamed.size()) : std::nullopt);
        auto out = fetch(std::move(request));
        ASSERT_FALSE(out.ec) << out.ec.message() << " " << out.res.info.error_message;
        ASSERT_EQ(out.res.result_int(), 200u) << out.res.body();
        EXPECT_EQ(out.res.body(),
                  "name=title filename=- type=- " + test::digest("a \"quoted\" title") + "\n" +
                      "name=memory filename=mem.bin type=application/octet-stream " + test::digest(binary) +
                      "\n" + "name=disk filename=" + std::filesystem::path(on_disk).filename().string() +
                      " type=application/x-test " + test::digest(disk_bytes) + "\n" +
                      "name=stream filename=stream.txt type=text/plain " + test::digest(streamed) + "\n")
            << (known_length ? "known length" : "chunked");
    }
    std::filesystem::remove(on_disk);
}

// A streamed part's source lives in curl's MIME structure while the multi runs the upload. The multi
// destroyed mid-upload, from inside the source itself (curl's read callback) or from another handler between
// reads: the fetch completes once with operation_aborted, the source and everything it holds are destroyed
// (ASan and the fd check see a leak or a use after), and no read comes after the destruction.
TEST_F(request_test, the_multi_destroyed_mid_upload_of_a_streamed_part) {
    for (const bool from_the_source : {true, false}) {
        auto held =
            std::make_shared<int>(0);  // the source's own state: released when the source is destroyed
        int reads = 0, reads_after = 0;
        bool destroyed = false;
        bhttp::request<http::multipart_body> request(bhttp::verb::post, server.url("/multipart"), 11);
        request.body().add_stream("s", [&, held](char* buffer, std::size_t size) -> std::size_t {
            if (destroyed) ++reads_after;
            if (++reads == 3 && from_the_source) {
                destroyed = true;
                m.reset();
            }
            // Endless, in small pieces: the upload is still going when the multi goes.
            const std::size_t n = std::min<std::size_t>(size, 1000);
            std::memset(buffer, 'x', n);
            return n;
        });
        std::weak_ptr<int> watch = held;
        held.reset();
        outcome out;
        http::async_fetch(*m, std::move(request), http::options{}, [&](error_code ec, http::response<> res) {
            out.ec = ec;
            out.res = std::move(res);
            ++out.calls;
        });
        if (!from_the_source) {
            ASSERT_TRUE(test::run_until(
                ioc, [&] { return reads >= 3; }, 20s));
            boost::asio::post(ioc, [&] {
                destroyed = true;
                m.reset();
            });
        }
        ASSERT_TRUE(test::run_until(
            ioc, [&] { return out.calls > 0; }, 20s));
        ioc.poll();
        EXPECT_EQ(out.calls, 1);
        EXPECT_EQ(out.ec, boost::asio::error::operation_aborted) << out.ec.message();
        EXPECT_EQ(reads_after, 0) << (from_the_source ? "from the source" : "from a handler");
        EXPECT_TRUE(watch.expired()) << "the source outlived the fetch";
        m.emplace(ioc);
    }
}

TEST_F(request_test, multipart_with_put_and_the_same_handle_afterwards_without_it) {
    bhttp::request<http::multipart_body> request(bhttp::verb::put, server.url("/multipart"), 11);
    request.body().add_text("only", "part");
    auto out = fetch(std::move(request));
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_EQ(out.res.body(), "name=only filename=- type=- " + test::digest("part") + "\n");
    // The idle handle that sent it carries nothing of it into a plain GET.
    auto next = fetch(get(server.url("/headers")));
    ASSERT_FALSE(next.ec);
    EXPECT_EQ(next.res.body().find("multipart"), std::string::npos) << next.res.body();
}

TEST_F(request_test, multipart_misuse_is_refused_before_anything_is_sent) {
    const auto accepted = server.accepted_connections();
    {
        bhttp::request<http::multipart_body> request(bhttp::verb::post, server.url("/multipart"), 11);
        request.body().add_text("ok", "1").add_file_from_disk("missing", "/nonexistent/asiocurl-file");
        auto out = fetch(std::move(request));
        EXPECT_EQ(out.ec, errc::invalid_argument);
        EXPECT_NE(out.res.info.error_message.find("part 1 (\"missing\")"), std::string::npos)
            << out.res.info.error_message;
    }
    {
        bhttp::request<http::multipart_body> request(bhttp::verb::post, server.url("/multipart"), 11);
        request.body().add_file("f", "evil\r\nX-Injected: 1", "x");
        EXPECT_EQ(fetch(std::move(request)).ec, errc::header_injection);
    }
    {
        bhttp::request<http::multipart_body> request(bhttp::verb::post, server.url("/multipart"), 11);
        EXPECT_EQ(fetch(std::move(request)).ec, errc::invalid_argument) << "no part";
    }
    {
        bhttp::request<http::multipart_body> request(bhttp::verb::post, server.url("/multipart"), 11);
        request.body().add_stream("s",
                                  [](char*, std::size_t) -> std::size_t { throw std::runtime_error("x"); });
        auto out = fetch(std::move(request));
        EXPECT_EQ(out.ec, make_error_code(CURLE_ABORTED_BY_CALLBACK))
            << "a source that throws ends the fetch";
    }
    EXPECT_LE(server.accepted_connections(), accepted + 1) << "only the throwing source's request was begun";
}

// A request refused after its options reached the handle, or cancelled before its transfer began, leaves
// nothing on the handle the next fetch takes from the idle pool (curl would read a freed resolve list at the
// next transfer's start: data->state.resolve survives curl_easy_reset). ASan checks the next fetch.
TEST_F(request_test, refused_and_abandoned_fetches_leave_nothing_on_the_handle) {
    const std::string port = std::to_string(server.port());
    auto doomed = [&] {
        bhttp::request<http::multipart_body> request(bhttp::verb::post,
                                                     "http://pinned.test:" + port + "/multipart", 11);
        request.body().add_text("a", "1");
        return request;
    };
    http::options pinned;
    pinned.resolve = {"pinned.test:" + port + ":127.0.0.1"};
    pinned.connect_to = {"other.test:80:127.0.0.1:" + port};
    {
        auto refused_request = doomed();
        refused_request.body().add_file_from_disk("missing", "/nonexistent/asiocurl-file");
        EXPECT_EQ(fetch(std::move(refused_request), pinned).ec, errc::invalid_argument);
        auto get_request = get(server.url("/bytes/5"));
        auto next = fetch(std::move(get_request));
        ASSERT_FALSE(next.ec) << next.ec.message();
        EXPECT_EQ(next.res.body(), test::expected_body(5));
    }
    {
        // Initiated outside the io_context (so the start is queued) and cancelled before it runs.
        boost::asio::cancellation_signal cancel;
        outcome out;
        http::async_fetch(
            *m, doomed(), pinned,
            boost::asio::bind_cancellation_slot(cancel.slot(), [&](error_code ec, http::response<> res) {
                out.ec = ec;
                out.res = std::move(res);
                ++out.calls;
            }));
        cancel.emit(boost::asio::cancellation_type::terminal);
        ASSERT_TRUE(test::run_until(
            ioc, [&] { return out.calls > 0; }, 20s));
        EXPECT_EQ(out.ec, boost::asio::error::operation_aborted);
        auto next = fetch(get(server.url("/bytes/5")));
        ASSERT_FALSE(next.ec) << next.ec.message();
        EXPECT_EQ(next.res.body(), test::expected_body(5));
    }
    EXPECT_EQ(server.requests_served(), 2u) << "neither doomed request was sent";
}

TEST_F(request_test, a_multipart_body_with_get_or_head_is_refused) {
    for (auto method : {bhttp::verb::get, bhttp::verb::head}) {
        bhttp::request<http::multipart_body> request(method, server.url("/multipart"), 11);
        request.body().add_text("a", "1");
        auto out = fetch(std::move(request));
        EXPECT_EQ(out.ec, errc::invalid_argument);
        EXPECT_NE(out.res.info.error_message.find("multipart"), std::string::npos)
            << out.res.info.error_message;
    }
    EXPECT_EQ(server.requests_served(), 0u);
}

TEST_F(request_test, a_stream_refuses_a_multipart_body) {
    // curl produces a multipart body itself; a stream sends what Beast serializes, which this body cannot.
    http::stream s(*m);
    bhttp::request<http::multipart_body> request(bhttp::verb::post, server.url("/multipart"), 11);
    request.body().add_text("a", "1");
    error_code ec;
    s.start(std::move(request), {}, ec);
    EXPECT_EQ(ec, errc::invalid_argument);
    EXPECT_EQ(server.requests_served(), 0u);
}

// ---- credentials ----

TEST_F(request_test, basic_and_bearer_are_sent_to_the_host_and_not_after_a_redirect_elsewhere) {
    test::test_server other;
    for (const auto& credentials : {http::basic_auth("ada", "pa:ss word"), http::bearer_auth("tok.en-123")}) {
        const std::string expected = credentials.scheme == http::credentials::kind::basic
                                         ? "Authorization: Basic YWRhOnBhOnNzIHdvcmQ=\n"
                                         : "Authorization: Bearer tok.en-123\n";
        auto same = fetch(get(server.url("/headers")), {.auth = credentials});
        ASSERT_FALSE(same.ec) << same.ec.message();
        EXPECT_NE(same.res.body().find(expected), std::string::npos) << same.res.body();
        // Same host, same port, after a redirect: still sent.
        auto followed = fetch(get(server.url("/redirect-to?url=" + server.url("/headers"))),
                              {.follow_redirects = true, .auth = credentials});
        ASSERT_FALSE(followed.ec);
        EXPECT_NE(followed.res.body().find(expected), std::string::npos) << followed.res.body();
        // Another port: another origin, which gets no credentials.
        auto elsewhere = fetch(get(server.url("/redirect-to?url=" + other.url("/headers"))),
                               {.follow_redirects = true, .auth = credentials});
        ASSERT_FALSE(elsewhere.ec);
        EXPECT_EQ(elsewhere.res.info.redirect_count, 1);
        EXPECT_EQ(elsewhere.res.body().find("Authorization"), std::string::npos) << elsewhere.res.body();
    }
}

TEST_F(request_test, digest_md5_and_sha256_checked_by_the_server) {
    const auto good = http::digest_auth(std::string(test::digest_user), std::string(test::digest_password));
    for (const char* target : {"/auth/digest", "/auth/digest?sha256=1"}) {
        auto out = fetch(get(server.url(target)), {.auth = good});
        ASSERT_FALSE(out.ec) << out.ec.message();
        EXPECT_EQ(out.res.result_int(), 200u) << target << ": " << out.res.body();
        EXPECT_EQ(out.res.body(), "digest ok\n");
        auto wrong =
            fetch(get(server.url(target)), {.auth = http::digest_auth(std::string(test::digest_user), "no")});
        EXPECT_EQ(wrong.res.result_int(), 401u) << target;
    }
    // A body too: curl sends none until the challenge is answered, then the whole body once.
    bhttp::request<bhttp::string_body> post(bhttp::verb::post, server.url("/auth/digest"), 11, "payload");
    post.prepare_payload();
    auto posted = fetch(std::move(post), {.auth = good});
    ASSERT_FALSE(posted.ec) << posted.ec.message() << " " << posted.res.info.error_message;
    EXPECT_EQ(posted.res.result_int(), 200u) << posted.res.body();
}

TEST_F(request_test, a_stale_digest_nonce_is_answered_again) {
    // The second 401 says stale=true: curl answers it too, so it is not the final head either.
    auto out = fetch(
        get(server.url("/auth/digest-stale")),
        {.auth = http::digest_auth(std::string(test::digest_user), std::string(test::digest_password))});
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_EQ(out.res.result_int(), 200u) << out.res.body();
    EXPECT_EQ(out.res.body(), "digest ok after stale\n");
}

std::string sha256_hex(std::string_view bytes) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned length = 0;
    EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
    std::string hex;
    for (unsigned i = 0; i < length; ++i) {
        char pair[3];
        std::snprintf(pair, sizeof pair, "%02x", digest[i]);
        hex += pair;
    }
    return hex;
}

TEST_F(request_test, aws_sigv4_recomputed_by_the_server) {
    const auto credentials =
        http::aws_sigv4_auth(std::string(test::sigv4_access_key), std::string(test::sigv4_secret_key),
                             "aws:amz:us-east-1:service");
    // A query already in canonical order (curl 7.88 signs it as it is, 8.x sorts it).
    auto signed_get =
        fetch(get(server.url("/sigv4/bucket/object.txt?list-type=2&prefix=a")), {.auth = credentials});
    ASSERT_FALSE(signed_get.ec) << signed_get.ec.message();
    EXPECT_EQ(signed_get.res.result_int(), 200u) << signed_get.res.body();
    // A body is signed through its hash field; without one the request is refused before it is sent.
    const std::string payload = R"({"key":"value"})";
    bhttp::request<bhttp::string_body> post(bhttp::verb::post, server.url("/sigv4/items"), 11, payload);
    post.set(bhttp::field::content_type, "application/json");
    post.prepare_payload();
    auto unsigned_body = fetch(post, {.auth = credentials});
    EXPECT_EQ(unsigned_body.ec, errc::invalid_argument);
    EXPECT_NE(unsigned_body.res.info.error_message.find("x-amz-content-sha256"), std::string::npos);
    post.set("x-amz-content-sha256", sha256_hex(payload));
    auto signed_post = fetch(post, {.auth = credentials});
    ASSERT_FALSE(signed_post.ec) << signed_post.ec.message();
    EXPECT_EQ(signed_post.res.result_int(), 200u) << signed_post.res.body();
    // Another secret: the server's signature differs.
    auto forged = fetch(get(server.url("/sigv4/bucket/object.txt")),
                        {.auth = http::aws_sigv4_auth(std::string(test::sigv4_access_key), "not-the-secret",
                                                      "aws:amz:us-east-1:service")});
    EXPECT_EQ(forged.res.result_int(), 403u);
}

TEST_F(request_test, secrets_stay_out_of_errors_and_the_request_log) {
    const std::string secret = "pw-never-shown-42";
    const std::string token = "tok-never-shown-43";
    std::vector<std::string> logged;
    refusing_port closed;
    ASSERT_TRUE(closed.bound());
    auto client_with = [&](http::options transfer) {
        http::client_options defaults;
        defaults.transfer = std::move(transfer);
        defaults.retry.max_attempts = 1;
        defaults.middleware.push_back(std::make_shared<http::request_log>(
            [&](const http::log_entry& e) { logged.push_back(e.to_string()); }));
        return http::client(*m, defaults);
    };
    auto expect_hidden = [&](const outcome& out, const char* what) {
        const http::fetch_error failure(out.ec, out.res.info.error_message, out.res.info.effective_url);
        for (const std::string& hidden : {secret, token}) {
            EXPECT_EQ(std::string(failure.what()).find(hidden), std::string::npos)
                << what << ": " << failure.what();
            EXPECT_EQ(out.res.info.error_message.find(hidden), std::string::npos) << what;
        }
    };
    // Credentials sent and refused by the server (the Authorization field is curl's, not the request's).
    http::options sent;
    sent.auth = http::digest_auth(std::string(test::digest_user), secret);
    auto client = client_with(sent);
    auto refused = call(client, server.url("/auth/digest?token=" + token));
    EXPECT_EQ(refused.res.result_int(), 401u);
    expect_hidden(refused, "server credentials");
    // Through a proxy that cannot be reached, with its credentials and a key password set.
    http::options proxied;
    proxied.proxy = closed.url();
    proxied.proxy_auth = http::basic_auth("proxyuser", secret);
    proxied.tls.key_password = secret;
    auto proxy_client = client_with(proxied);
    auto unreachable = call(proxy_client, server.url("/bytes/1?token=" + token));
    EXPECT_EQ(unreachable.ec, condition::connect_failed) << unreachable.ec.message();
    expect_hidden(unreachable, "proxy credentials");
    ASSERT_EQ(logged.size(), 2u);
    for (const auto& line : logged)
        for (const std::string& hidden : {secret, token})
            EXPECT_EQ(line.find(hidden), std::string::npos) << line;
}

TEST_F(request_test, proxy_authentication) {
    if (!require(test::tinyproxy_server::installed(), "tinyproxy"))
        GTEST_SKIP() << "tinyproxy is not installed";
    test::tinyproxy_server proxy(test::tinyproxy_server::basic_auth{"proxyuser", "proxy-secret"});
    auto refused = fetch(get(server.url("/bytes/10")), {.proxy = proxy.url()});
    ASSERT_FALSE(refused.ec) << refused.ec.message();
    EXPECT_EQ(refused.res.result_int(), 407u);
    auto wrong = fetch(get(server.url("/bytes/10")),
                       {.proxy = proxy.url(), .proxy_auth = http::basic_auth("proxyuser", "wrong")});
    EXPECT_TRUE(wrong.res.result_int() == 401u || wrong.res.result_int() == 407u) << wrong.res.result_int();
    auto admitted =
        fetch(get(server.url("/bytes/10")),
              {.proxy = proxy.url(), .proxy_auth = http::basic_auth("proxyuser", "proxy-secret")});
    ASSERT_FALSE(admitted.ec) << admitted.ec.message();
    EXPECT_EQ(admitted.res.result_int(), 200u);
    EXPECT_EQ(admitted.res.body(), test::expected_body(10));
}

TEST_F(request_test, no_proxy_sends_a_matching_host_direct) {
    refusing_port closed;
    ASSERT_TRUE(closed.bound());
    auto direct = fetch(get(server.url("/bytes/10")), {.proxy = closed.url(), .no_proxy = "127.0.0.1"});
    ASSERT_FALSE(direct.ec) << direct.ec.message();
    EXPECT_EQ(direct.res.body(), test::expected_body(10));
    auto proxied = fetch(get(server.url("/bytes/10")), {.proxy = closed.url(), .no_proxy = "other.test"});
    EXPECT_EQ(proxied.ec, condition::connect_failed) << proxied.ec.message();
}

// ---- where a connection goes ----

TEST_F(request_test, resolve_and_connect_to_keep_the_name_and_pin_the_backend) {
    const std::string port = std::to_string(server.port());
    auto resolved = fetch(get("http://backend.test:" + port + "/headers"),
                          {.resolve = {"backend.test:" + port + ":127.0.0.1"}});
    ASSERT_FALSE(resolved.ec) << resolved.ec.message() << " " << resolved.res.info.error_message;
    EXPECT_NE(resolved.res.body().find("Host: backend.test:" + port + "\n"), std::string::npos)
        << resolved.res.body();
    auto pinned =
        fetch(get("http://service.test/headers"), {.connect_to = {"service.test:80:127.0.0.1:" + port}});
    ASSERT_FALSE(pinned.ec) << pinned.ec.message() << " " << pinned.res.info.error_message;
    EXPECT_NE(pinned.res.body().find("Host: service.test\n"), std::string::npos) << pinned.res.body();
    // A malformed entry is refused before the transfer begins: nothing is sent, no name resolved.
    const auto accepted = server.accepted_connections();
    auto refused =
        fetch(get("http://backend.test:" + port + "/headers"), {.resolve = {"backend.test:" + port}});
    EXPECT_EQ(refused.ec, errc::invalid_argument);
    EXPECT_NE(refused.res.info.error_message.find("options::resolve entry 0"), std::string::npos);
    EXPECT_EQ(server.accepted_connections(), accepted);
}

TEST_F(request_test, a_unix_domain_socket_served_by_nginx) {
    if (!require(test::nginx_server::installed(), "nginx")) GTEST_SKIP() << "nginx is not installed";
    test::nginx_server nginx;
    for (int i = 0; i < 3; ++i) {
        auto out =
            fetch(get("http://unix.test/server-address"), {.unix_socket_path = nginx.unix_socket_path()});
        ASSERT_FALSE(out.ec) << out.ec.message() << " " << out.res.info.error_message;
        EXPECT_EQ(out.res.body(), "unix:" + nginx.unix_socket_path() + " unix.test\n");
        EXPECT_EQ(out.res.info.connection_reused, i > 0);
    }
    auto file = fetch(get("http://unix.test/64k.bin"), {.unix_socket_path = nginx.unix_socket_path()});
    ASSERT_FALSE(file.ec);
    EXPECT_EQ(file.res.body(), test::expected_body(65536));
}

TEST_F(request_test, ipv4_or_ipv6_only) {
    std::optional<test::test_server> v6;
    try {
        v6.emplace(test::test_server::options{.ipv6 = true});
    } catch (const std::exception& no_ipv6) {
        GTEST_SKIP() << "no IPv6 loopback here: " << no_ipv6.what();
    }
    // 127.0.0.1 on the same port refuses for as long as the test runs (nobody else can listen there).
    refusing_port v4_side(v6->port());
    if (!v4_side.bound()) GTEST_SKIP() << "127.0.0.1:" << v6->port() << " is taken";
    const std::string port = std::to_string(v6->port());
    const std::string url = "http://dual.test:" + port + "/peer";
    const std::vector<std::string> both = {"dual.test:" + port + ":127.0.0.1,[::1]"};
    auto over_v6 = fetch(get(url), {.resolve = both, .ip = http::ip_version::v6});
    ASSERT_FALSE(over_v6.ec) << over_v6.ec.message() << " " << over_v6.res.info.error_message;
    EXPECT_TRUE(over_v6.res.body().starts_with("::1 ")) << over_v6.res.body();
    // Only 127.0.0.1 is allowed, which refuses on the v6 server's port.
    auto over_v4 = fetch(get(url), {.resolve = both, .ip = http::ip_version::v4});
    EXPECT_EQ(over_v4.ec, condition::connect_failed) << over_v4.ec.message();
}

TEST_F(request_test, the_local_address_and_port) {
    const unsigned short first = test::detail::unused_loopback_ports(1).front();
    auto out = fetch(get(server.url("/peer")),
                     {.local_interface = "host!127.0.0.2", .local_port = first, .local_port_range = 50});
    ASSERT_FALSE(out.ec) << out.ec.message() << " " << out.res.info.error_message;
    std::istringstream peer(out.res.body());
    std::string address;
    unsigned port = 0;
    peer >> address >> port;
    EXPECT_EQ(address, "127.0.0.2");
    EXPECT_GE(port, first);
    EXPECT_LT(port, first + 50u);
}

TEST_F(request_test, a_transfer_slower_than_the_low_speed_limit_times_out) {
    const auto start = std::chrono::steady_clock::now();
    auto out = fetch(get(server.url("/trickle/100000?chunk=1&interval_ms=200")),
                     {.low_speed = {.bytes_per_second = 100, .time = 1s}});
    EXPECT_EQ(out.ec, condition::timed_out) << out.ec.message();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 15s);
    EXPECT_GT(out.res.body().size(), 0u) << "it did move, only too slowly";
}

// ---- TLS material in memory ----

// The test CA's client key, encrypted with `password` (PEM, AES-256-CBC).
std::string encrypted_client_key(const std::string& password) {
    FILE* file = std::fopen(test::tls().client_key_file.c_str(), "r");
    EVP_PKEY* key = PEM_read_PrivateKey(file, nullptr, nullptr, nullptr);
    std::fclose(file);
    BIO* out = BIO_new(BIO_s_mem());
    PEM_write_bio_PKCS8PrivateKey(out, key, EVP_aes_256_cbc(), password.data(),
                                  static_cast<int>(password.size()), nullptr, nullptr);
    char* data = nullptr;
    const long size = BIO_get_mem_data(out, &data);
    std::string pem(data, static_cast<std::size_t>(size));
    BIO_free(out);
    EVP_PKEY_free(key);
    return pem;
}

TEST_F(request_test, ca_client_certificate_and_encrypted_key_given_in_memory) {
    test::test_server mtls({.tls = true, .require_client_certificate = true});
    http::options opts;
    opts.tls.ca_pem = file_text(test::tls().ca_file);
    opts.tls.client_certificate_pem = file_text(test::tls().client_cert_file);
    opts.tls.client_key_pem = file_text(test::tls().client_key_file);
    auto plain_key = fetch(get(mtls.url("/bytes/10")), opts);
    ASSERT_FALSE(plain_key.ec) << plain_key.ec.message() << " " << plain_key.res.info.error_message;
    EXPECT_EQ(plain_key.res.body(), test::expected_body(10));

    opts.tls.client_key_pem = encrypted_client_key("key pass phrase");
    opts.tls.key_password = "key pass phrase";
    auto encrypted = fetch(get(mtls.url("/bytes/10")), opts);
    ASSERT_FALSE(encrypted.ec) << encrypted.ec.message() << " " << encrypted.res.info.error_message;

    // Another server: the connection above (and its TLS session) would be reused without a new handshake.
    test::test_server other({.tls = true, .require_client_certificate = true});
    opts.tls.key_password = "wrong phrase";
    auto wrong = fetch(get(other.url("/bytes/10")), opts);
    EXPECT_TRUE(wrong.ec);
    EXPECT_EQ(wrong.res.info.error_message.find("wrong phrase"), std::string::npos);

    // Without the CA in memory, the server's certificate is not trusted.
    http::options untrusted;
    auto refused = fetch(get(mtls.url("/bytes/10")), untrusted);
    EXPECT_EQ(refused.ec, condition::tls_failed) << refused.ec.message();
}

}  // namespace
}  // namespace asiocurl
