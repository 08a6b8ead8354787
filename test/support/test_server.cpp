#include "test_server.hpp"

#include "auth_check.hpp"
#include "multipart_parser.hpp"
#include "tls_material.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace asiocurl::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using request = http::request<http::string_body>;
using tls_stream = ssl::stream<tcp::socket>;

constexpr std::string_view alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
constexpr std::size_t slice_size = 64 * 1024;

// Every run of expected_body() up to slice_size bytes is a substring of this, so bodies of any size are
// written from one shared buffer instead of being built per request.
const std::string& pattern() {
    static const std::string p = expected_body(slice_size + alphabet.size());
    return p;
}

// Bytes [offset, offset + n) of expected_body() as buffers into pattern().
std::vector<asio::const_buffer> body_slices(std::size_t offset, std::size_t n) {
    std::vector<asio::const_buffer> out;
    for (std::size_t done = 0; done < n;) {
        std::size_t len = std::min(slice_size, n - done);
        out.emplace_back(pattern().data() + (offset + done) % alphabet.size(), len);
        done += len;
    }
    return out;
}

std::optional<std::size_t> parse_number(std::string_view s) {
    std::size_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

// "/route/N?a=1&b=2" split the simple way the routes need.
struct request_target {
    std::string_view path, query;
    std::string_view route;          // "/route", or the whole path when it has no second '/'
    std::optional<std::size_t> arg;  // N, when it is a number

    explicit request_target(std::string_view target) {
        auto q = target.find('?');
        path = target.substr(0, q);
        query = q == target.npos ? std::string_view{} : target.substr(q + 1);
        auto slash = path.find('/', 1);
        route = path.substr(0, slash);
        if (slash != path.npos) arg = parse_number(path.substr(slash + 1));
    }

    std::string_view text_param(std::string_view name) const {
        for (std::string_view rest = query; !rest.empty();) {
            auto amp = rest.find('&');
            std::string_view item = rest.substr(0, amp);
            rest = amp == rest.npos ? std::string_view{} : rest.substr(amp + 1);
            auto eq = item.find('=');
            if (eq != item.npos && item.substr(0, eq) == name) return item.substr(eq + 1);
        }
        return {};
    }

    std::size_t param(std::string_view name, std::size_t fallback) const {
        for (std::string_view rest = query; !rest.empty();) {
            auto amp = rest.find('&');
            std::string_view item = rest.substr(0, amp);
            rest = amp == rest.npos ? std::string_view{} : rest.substr(amp + 1);
            auto eq = item.find('=');
            if (eq != item.npos && item.substr(0, eq) == name)
                return parse_number(item.substr(eq + 1)).value_or(fallback);
        }
        return fallback;
    }
};

// /flaky's counts, by key: the tests name a key of their own, so one count spans connections and servers.
std::size_t flaky_attempt(std::string_view key) {
    static std::mutex mutex;
    static std::map<std::string, std::size_t, std::less<>> attempts;
    std::lock_guard lock(mutex);
    auto it = attempts.find(key);
    if (it == attempts.end()) it = attempts.emplace(std::string(key), 0).first;
    return ++it->second;
}

// How a connection ends once its session is over.
enum class ending {
    close,  // TLS: close_notify; then close(): a FIN, or an RST if request bytes were left unread
    reset,  // SO_LINGER 0, then close(): an RST at once, and no close_notify over TLS
};

// What stop() needs to reach a connection that may be suspended in any operation.
struct connection {
    tcp::socket* socket = nullptr;
    asio::steady_timer timer;
    std::size_t id = 0;
    std::size_t requests = 0;
};

// The HTTP exchanges of one connection, over a plain or a TLS stream.
template <class Stream>
class session {
public:
    session(Stream& stream, connection& conn, std::atomic<std::size_t>& served)
        : stream_(stream), conn_(conn), served_(served) {}

    // Serves requests until the client goes away (throws) or the server decides to close (returns how).
    awaitable<ending> run() {
        beast::flat_buffer buffer;
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.header_limit(1024 * 1024);
            parser.body_limit(256 * 1024 * 1024);
            co_await http::async_read_header(stream_, buffer, parser, use_awaitable);
            const auto& target = parser.get().target();
            if (request_target t({target.data(), target.size()}); t.path == "/early-413") {
                // Before any 100 Continue and before the body: what a server does with an upload it refuses
                // by its headers alone. Closing with the body unread makes the kernel send an RST if body
                // bytes have arrived, which can destroy the response before the client read it.
                ++conn_.requests;
                keep_alive_ = false;
                co_await send_text(413, "upload refused\n");
                if (t.param("linger", 0) == 0) co_return ending::close;
                // A lingering close, as nginx and Apache do against that RST: a FIN after the response, then
                // the rest of the upload read and dropped until the client closes (which throws). Below TLS,
                // so no close_notify: the response's Content-Length already told the client where it ends.
                tcp::socket& socket = beast::get_lowest_layer(stream_);
                socket.shutdown(tcp::socket::shutdown_send);
                char sink[16384];
                for (;;)
                    co_await socket.async_read_some(asio::buffer(sink), use_awaitable);
            }
            if (request_target t({target.data(), target.size()}); t.path == "/reset-upload") {
                // A server failing mid-upload: it reads `after` body bytes (whatever the framing), then
                // resets the connection without answering.
                ++conn_.requests;
                const std::size_t after = t.param("after", 1024 * 1024);
                std::size_t read = buffer.size();
                buffer.consume(buffer.size());
                char sink[16384];
                while (read < after)
                    read += co_await stream_.async_read_some(asio::buffer(sink), use_awaitable);
                co_return ending::reset;
            }
            // Without this, clients that send Expect (curl does for large uploads) wait a second first.
            if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
                static constexpr std::string_view interim = "HTTP/1.1 100 Continue\r\n\r\n";
                co_await asio::async_write(stream_, asio::buffer(interim), use_awaitable);
            }
            co_await http::async_read(stream_, buffer, parser, use_awaitable);
            ++conn_.requests;
            if (!co_await handle(parser.get())) co_return ending_;
        }
    }

private:
    // Returns whether the connection stays open.
    awaitable<bool> handle(const request& req) {
        request_target t(std::string_view(req.target().data(), req.target().size()));
        head_ = req.method() == http::verb::head;
        keep_alive_ = req.keep_alive();

        if (t.path == "/stall") {
            co_await drain_until_closed();
        } else if (t.route == "/stall-body" && t.arg) {
            co_await send_partial(*t.arg, t.param("sent", *t.arg / 2));
            co_await drain_until_closed();
        } else if (t.route == "/reset" && t.arg) {
            co_await send_partial(*t.arg, t.param("sent", *t.arg / 2));
            keep_alive_ = false;
            ending_ = ending::reset;
        } else if (t.route == "/truncate" && t.arg) {
            // "Connection: close", as a server that means to close says: the body still falls short.
            keep_alive_ = false;
            co_await send_partial(*t.arg, t.param("sent", *t.arg / 2));
        } else if (t.path == "/bad-status") {
            keep_alive_ = false;
            co_await send_raw("HTTP/1.1 abc Not a status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        } else if (t.path == "/huge-header") {
            keep_alive_ = false;  // curl gives up in the middle of the header block; nothing can follow it
            const std::size_t size = t.param("size", 200 * 1024),
                              count = std::max<std::size_t>(1, t.param("count", 1));
            std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n";
            for (std::size_t i = 0; i < count; ++i) {
                const std::string name = "X-Huge-" + std::to_string(i) + ": ";
                head += name;
                head += expected_body(size > name.size() + 2 ? size - name.size() - 2 : 1);
                head += "\r\n";
            }
            head += "\r\n";
            co_await send_raw(std::move(head));
        } else if (t.path == "/bad-chunked") {
            keep_alive_ = false;
            http::response<http::empty_body> res{http::status::ok, 11};
            res.chunked(true);
            co_await send_header(res);
            if (!head_) {
                co_await asio::async_write(stream_, http::make_chunk(body_slices(0, 10)), use_awaitable);
                co_await asio::async_write(stream_, asio::buffer(std::string_view("zz\r\nnot a chunk\r\n")),
                                           use_awaitable);
            }
        } else if (t.path == "/ndjson") {
            co_await send_records(std::max<std::size_t>(1, t.param("per_chunk", 10)),
                                  std::chrono::milliseconds(t.param("interval_ms", 0)));
        } else if (t.path == "/digest") {
            co_await send_text(200, digest(req.body()));
        } else if (t.path == "/endless") {
            co_await send_endless(std::max<std::size_t>(1, t.param("chunk", 16384)),
                                  std::chrono::milliseconds(t.param("interval_ms", 0)));
        } else if (t.route == "/bytes" && t.arg) {
            co_await send_pattern(*t.arg, slice_size, {});
        } else if (t.route == "/close" && t.arg) {
            keep_alive_ = false;
            co_await send_pattern(*t.arg, slice_size, {});
        } else if (t.route == "/trickle" && t.arg) {
            co_await send_pattern(*t.arg, std::max<std::size_t>(1, t.param("chunk", 1)),
                                  std::chrono::milliseconds(t.param("interval_ms", 10)));
        } else if (t.route == "/chunked" && t.arg) {
            co_await send_chunked(*t.arg, std::max<std::size_t>(1, t.param("chunk", 16384)));
        } else if (t.route == "/flaky" && t.arg) {
            // The first N requests naming `key` (counted over every connection and server of the process)
            // fail with `status` (default 503; 0: the connection closes without an answer), with a
            // Retry-After of `retry_after` seconds when given; then 200 "ok after N". X-Attempt: which
            // request this was.
            const std::size_t attempt = flaky_attempt(t.text_param("key"));
            const std::size_t status = t.param("status", 503);
            if (attempt <= *t.arg && status == 0) {
                keep_alive_ = false;
                ending_ = ending::reset;
                co_return false;
            }
            http::response<http::string_body> res;
            res.set("X-Attempt", std::to_string(attempt));
            if (attempt <= *t.arg) {
                res.result(static_cast<unsigned>(status));
                if (const std::size_t after = t.param("retry_after", 0); after > 0)
                    res.set(http::field::retry_after, std::to_string(after));
                res.body() = "failing\n";
            } else if (t.param("echo", 0) == 1) {  // the body of the request that got through
                res.result(http::status::ok);
                res.body() = req.body();
            } else if (t.param("json", 0) == 1) {
                res.result(http::status::ok);
                res.set(http::field::content_type, "application/json");
                res.body() = "{\"status\":\"ok\",\"failures\":" + std::to_string(*t.arg) + "}";
            } else {
                res.result(http::status::ok);
                res.body() = "ok after " + std::to_string(*t.arg);
            }
            co_await send(res);
        } else if (t.path == "/sse") {
            co_await send_events(req, t);
        } else if (t.route == "/status" && t.arg && *t.arg >= 100 && *t.arg <= 999) {
            co_await send_text(static_cast<unsigned>(*t.arg), {});
        } else if (t.path == "/echo") {
            http::response<http::string_body> res{http::status::ok, 11, req.body()};
            if (auto type = req.find(http::field::content_type); type != req.end())
                res.set(http::field::content_type, type->value());
            co_await send(res);
        } else if (t.path == "/multipart") {
            // Every part as the strict parser read it, one line each; 400 with the parser's reason otherwise.
            const auto boundary = multipart_boundary(std::string_view(req[http::field::content_type]));
            if (!boundary) {
                co_await send_text(400, "no multipart/form-data boundary\n");
                co_return keep_alive_;
            }
            const multipart_result parsed = parse_multipart(req.body(), *boundary);
            if (!parsed.error.empty()) {
                co_await send_text(400, parsed.error + "\n");
                co_return keep_alive_;
            }
            std::string body;
            for (const auto& part : parsed.parts)
                body += "name=" + part.name + " filename=" + part.filename.value_or("-") +
                        " type=" + part.content_type.value_or("-") + " " + digest(part.body) + "\n";
            co_await send_text(200, std::move(body));
        } else if (t.path == "/auth/digest") {
            // RFC 7616 with digest_user/digest_password: a challenge until the Authorization answers it.
            const std::string algorithm(t.param("sha256", 0) == 1 ? "SHA-256" : "MD5");
            const std::string_view authorization = req[http::field::authorization];
            const std::string why =
                authorization.empty() ? std::string("no credentials")
                                      : check_digest_authorization(authorization, req.method_string(),
                                                                   req.target(), digest_user, digest_password,
                                                                   "asiocurl-test", digest_nonce, algorithm);
            if (why.empty()) {
                co_await send_text(200, "digest ok\n");
            } else {
                http::response<http::string_body> res{http::status::unauthorized, 11, why + "\n"};
                res.set(http::field::www_authenticate,
                        digest_challenge("asiocurl-test", digest_nonce, algorithm));
                co_await send(res);
            }
        } else if (t.path == "/auth/digest-stale") {
            // Right credentials on the first nonce get a fresh nonce with stale=true (RFC 7616 3.3), as a
            // server whose nonces expire answers; right ones on the fresh nonce get 200.
            static constexpr std::string_view fresh_nonce = "fresh-nonce-2";
            const std::string_view authorization = req[http::field::authorization];
            auto valid_for = [&](std::string_view nonce) {
                return !authorization.empty() &&
                       check_digest_authorization(authorization, req.method_string(), req.target(),
                                                  digest_user, digest_password, "asiocurl-test", nonce, "MD5")
                           .empty();
            };
            if (valid_for(fresh_nonce)) {
                co_await send_text(200, "digest ok after stale\n");
            } else {
                const bool stale = valid_for(digest_nonce);
                http::response<http::string_body> res{http::status::unauthorized, 11, "challenge\n"};
                res.set(http::field::www_authenticate,
                        stale ? digest_challenge("asiocurl-test", fresh_nonce, "MD5") + ", stale=true"
                              : digest_challenge("asiocurl-test", digest_nonce, "MD5"));
                co_await send(res);
            }
        } else if (t.route == "/sigv4") {
            // AWS SigV4 of the request as received, recomputed with sigv4_access_key/sigv4_secret_key.
            sigv4_request received{
                std::string(req.method_string()), std::string(req.target()), {}, req.body()};
            for (const auto& f : req)
                received.headers.emplace_back(f.name_string(), f.value());
            const std::string why =
                check_sigv4(received, sigv4_access_key, sigv4_secret_key, sigv4_region, sigv4_service);
            // Named, not a temporary of the co_await expression (g++ 12 destroys those twice).
            std::string answer = why.empty() ? std::string("sigv4 ok\n") : why + "\n";
            co_await send_text(why.empty() ? 200 : 403, std::move(answer));
        } else if (t.route == "/echo-target") {
            co_await send_text(200, std::string(req.target()));
        } else if (t.path == "/peer") {
            // The client's end of the connection, as this server sees it.
            const auto peer = beast::get_lowest_layer(stream_).remote_endpoint();
            co_await send_text(200, peer.address().to_string() + " " + std::to_string(peer.port()) + "\n");
        } else if (t.path == "/headers") {
            std::string body;
            for (const auto& f : req)
                body.append(f.name_string()).append(": ").append(f.value()).append("\n");
            co_await send_text(200, std::move(body));
        } else if (t.path == "/redirect-to" && t.query.starts_with("url=")) {
            // An absolute Location, to another server or scheme (taken verbatim: no '&' in test URLs).
            http::response<http::string_body> res{http::status::found, 11};
            res.set(http::field::location, t.query.substr(4));
            co_await send(res);
        } else if (t.path == "/zstd") {
            // A zstd frame built by hand (single segment, one raw block) around "hello, zstd": the decoder
            // is curl's, the encoding needs no library here.
            static constexpr std::string_view text = "hello, zstd";
            std::string frame("\x28\xb5\x2f\xfd\x20", 5);
            frame += static_cast<char>(text.size());
            const unsigned block = static_cast<unsigned>(text.size()) << 3 | 1;  // raw block, the last one
            frame += static_cast<char>(block & 0xff);
            frame += static_cast<char>(block >> 8 & 0xff);
            frame += static_cast<char>(block >> 16 & 0xff);
            frame += text;
            http::response<http::string_body> res{http::status::ok, 11, std::move(frame)};
            res.set(http::field::content_encoding, "zstd");
            co_await send(res);
        } else if (t.path == "/brotli") {
            // A brotli stream built by hand: WBITS 16, one uncompressed meta-block of "hello, br" (MLEN - 1 =
            // 8 in 4 nibbles), then the last, empty meta-block.
            std::string stream("\x80\x00\x10", 3);
            stream += "hello, br";
            stream += '\x03';
            http::response<http::string_body> res{http::status::ok, 11, std::move(stream)};
            res.set(http::field::content_encoding, "br");
            co_await send(res);
        } else if (t.path == "/repeat") {
            // The same header twice, in order: clients must keep both.
            http::response<http::string_body> res{http::status::ok, 11, "repeated\n"};
            res.insert("X-Repeat", "first");
            res.insert("X-Repeat", "second");
            co_await send(res);
        } else if (t.path == "/set-cookie" && t.query.find('=') != std::string_view::npos) {
            http::response<http::string_body> res{http::status::ok, 11, "cookie set\n"};
            res.set(http::field::set_cookie, std::string(t.query) + "; Path=/");
            co_await send(res);
        } else if (t.route == "/redirect" && t.arg == 0u) {
            co_await send_text(200, "done");
        } else if (t.route == "/redirect" && t.arg) {
            http::response<http::string_body> res{http::status::found, 11};
            res.set(http::field::location, "/redirect/" + std::to_string(*t.arg - 1));
            co_await send(res);
        } else {
            co_await send_text(404, "not found\n");
        }
        co_return keep_alive_;
    }

    template <class Body>
    void stamp(http::response<Body>& res) {
        res.set("X-Connection-Id", std::to_string(conn_.id));
        res.set("X-Request-Number", std::to_string(conn_.requests));
        res.keep_alive(keep_alive_);
        ++served_;
    }

    template <class Body>
    awaitable<void> send(http::response<Body>& res) {
        stamp(res);
        res.prepare_payload();
        http::response_serializer<Body> sr(res);
        if (head_)
            co_await http::async_write_header(stream_, sr, use_awaitable);
        else
            co_await http::async_write(stream_, sr, use_awaitable);
    }

    awaitable<void> send_text(unsigned status, std::string body) {
        http::response<http::string_body> res;
        res.result(status);
        if (!body.empty()) {
            res.set(http::field::content_type, "text/plain");
            res.body() = std::move(body);
        }
        co_await send(res);
    }

    // Header only; the caller frames and writes the body itself.
    awaitable<void> send_header(http::response<http::empty_body>& res) {
        if (res.count(http::field::content_type) == 0)
            res.set(http::field::content_type, "application/octet-stream");
        stamp(res);
        http::response_serializer<http::empty_body> sr(res);
        co_await http::async_write_header(stream_, sr, use_awaitable);
    }

    // expected_body(n) with Content-Length, written `piece` bytes at a time, waiting `interval` before each.
    awaitable<void> send_pattern(std::size_t n, std::size_t piece, std::chrono::milliseconds interval) {
        http::response<http::empty_body> res{http::status::ok, 11};
        res.content_length(n);
        co_await send_header(res);
        for (std::size_t off = 0; !head_ && off < n; off += piece) {
            if (interval.count() > 0) {
                conn_.timer.expires_after(interval);
                co_await conn_.timer.async_wait(use_awaitable);
            }
            co_await asio::async_write(stream_, body_slices(off, std::min(piece, n - off)), use_awaitable);
        }
    }

    // A Content-Length of n, then only the first `sent` bytes of the body (all of it if sent >= n).
    awaitable<void> send_partial(std::size_t n, std::size_t sent) {
        http::response<http::empty_body> res{http::status::ok, 11};
        res.content_length(n);
        co_await send_header(res);
        if (!head_) co_await asio::async_write(stream_, body_slices(0, std::min(n, sent)), use_awaitable);
    }

    // Bytes no serializer would produce, written as they are.
    awaitable<void> send_raw(std::string bytes) {
        ++served_;
        co_await asio::async_write(stream_, asio::buffer(bytes), use_awaitable);
    }

    // Chunks until a write fails, which is how the client's close shows up here.
    awaitable<void> send_endless(std::size_t chunk, std::chrono::milliseconds interval) {
        http::response<http::empty_body> res{http::status::ok, 11};
        res.chunked(true);
        co_await send_header(res);
        if (head_) co_return;
        for (std::size_t off = 0;; off += chunk) {
            if (interval.count() > 0) {
                conn_.timer.expires_after(interval);
                co_await conn_.timer.async_wait(use_awaitable);
            }
            co_await asio::async_write(stream_, http::make_chunk(body_slices(off, chunk)), use_awaitable);
        }
    }

    // Server-sent events `count` of them from the request's Last-Event-ID + 1 ("id: N", "event: tick", data
    // "line one N" and "line two"), as text/event-stream, chunked, written in pieces of `chunk` bytes, one
    // write each; a 204 once the client has them all. `retry`: a retry field first. `size`: one event's data
    // that long instead. `drop_after` with a `key`: the key's first connection is reset after that many
    // bytes of events, mid-event. `hang=1`: after the events the response stays open.
    awaitable<void> send_events(const request& req, const request_target& t) {
        const auto last_id = req["Last-Event-ID"];
        const auto last = parse_number(std::string_view(last_id.data(), last_id.size()));
        const std::size_t first = last ? *last + 1 : 1, count = t.param("count", 10);
        if (first > count) {
            co_await send_text(204, {});
            co_return;
        }
        std::string text;
        if (const std::size_t retry = t.param("retry", 0); retry > 0)
            text += "retry: " + std::to_string(retry) + "\n\n";
        for (std::size_t n = first; n <= count; ++n) {
            text += "id: " + std::to_string(n) + "\nevent: tick\n";
            if (const std::size_t size = t.param("size", 0); size > 0)
                text += "data: " + std::string(size, 'x') + "\n\n";
            else
                text += "data: line one " + std::to_string(n) + "\ndata: line two\n\n";
        }
        const std::size_t drop_after = t.text_param("key").empty() || flaky_attempt(t.text_param("key")) > 1
                                           ? 0
                                           : t.param("drop_after", 0);
        http::response<http::empty_body> res{http::status::ok, 11};
        res.chunked(true);
        res.set(http::field::content_type, "text/event-stream");
        co_await send_header(res);
        const std::size_t chunk = std::max<std::size_t>(1, t.param("chunk", 4096));
        for (std::size_t at = 0; at < text.size(); at += chunk) {
            std::size_t n = std::min(chunk, text.size() - at);
            if (drop_after > 0 && at + n >= drop_after) {
                n = drop_after - at;
                if (n > 0)
                    co_await asio::async_write(stream_, http::make_chunk(asio::buffer(text.data() + at, n)),
                                               use_awaitable);
                keep_alive_ = false;
                ending_ = ending::reset;
                co_return;
            }
            co_await asio::async_write(stream_, http::make_chunk(asio::buffer(text.data() + at, n)),
                                       use_awaitable);
        }
        if (t.param("hang", 0) == 1) co_await drain_until_closed();
        co_await asio::async_write(stream_, http::make_chunk_last(), use_awaitable);
    }

    // Newline-delimited JSON records {"n":0}, {"n":1}, ... in chunks of `per_chunk`, until a write fails.
    awaitable<void> send_records(std::size_t per_chunk, std::chrono::milliseconds interval) {
        http::response<http::empty_body> res{http::status::ok, 11};
        res.chunked(true);
        res.set(http::field::content_type, "application/x-ndjson");
        co_await send_header(res);
        if (head_) co_return;
        std::string records;
        for (std::size_t n = 0;;) {
            if (interval.count() > 0) {
                conn_.timer.expires_after(interval);
                co_await conn_.timer.async_wait(use_awaitable);
            }
            records.clear();
            for (std::size_t i = 0; i < per_chunk; ++i, ++n)
                records += "{\"n\":" + std::to_string(n) + "}\n";
            co_await asio::async_write(stream_, http::make_chunk(asio::buffer(records)), use_awaitable);
        }
    }

    awaitable<void> send_chunked(std::size_t n, std::size_t chunk) {
        http::response<http::empty_body> res{http::status::ok, 11};
        res.chunked(true);
        co_await send_header(res);
        if (head_) co_return;
        for (std::size_t off = 0; off < n; off += chunk)
            co_await asio::async_write(stream_, http::make_chunk(body_slices(off, std::min(chunk, n - off))),
                                       use_awaitable);
        co_await asio::async_write(stream_, http::make_chunk_last(), use_awaitable);
    }

    // Never answers; ends (by throwing) when the client closes or the server stops.
    awaitable<void> drain_until_closed() {
        char sink[4096];
        for (;;)
            co_await stream_.async_read_some(asio::buffer(sink), use_awaitable);
    }

    Stream& stream_;
    connection& conn_;
    std::atomic<std::size_t>& served_;
    bool head_ = false;
    bool keep_alive_ = true;
    ending ending_ = ending::close;
};

}  // namespace

struct test_server::impl {
    options opts;
    asio::io_context ioc{1};
    tcp::acceptor acceptor{ioc};
    std::optional<ssl::context> tls_ctx;
    unsigned short port = 0;
    // Only touched on the server thread.
    std::set<connection*> live;
    bool stopping = false;
    std::atomic<std::size_t> open{0}, accepted{0}, served{0}, resumed{0};
    std::thread thread;

    explicit impl(options o) : opts(o) {
        if (opts.tls) {
            tls_ctx.emplace(ssl::context::tls_server);
            tls_ctx->use_certificate_chain_file(certificate_file(opts.tls_certificate));
            tls_ctx->use_private_key_file(tls().key_file, ssl::context::pem);
            if (opts.require_client_certificate) {
                tls_ctx->load_verify_file(tls().ca_file);
                tls_ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
            }
            if (opts.tls_1_2_only) SSL_CTX_set_max_proto_version(tls_ctx->native_handle(), TLS1_2_VERSION);
        }
        const asio::ip::address address = !opts.address.empty() ? asio::ip::make_address(opts.address)
                                          : opts.ipv6 ? asio::ip::address(asio::ip::address_v6::loopback())
                                                      : asio::ip::address(asio::ip::address_v4::loopback());
        tcp::endpoint endpoint(address, 0);
        acceptor.open(endpoint.protocol());
        if (opts.ipv6) acceptor.set_option(asio::ip::v6_only(true));
        acceptor.bind(endpoint);
        acceptor.listen(asio::socket_base::max_listen_connections);
        port = acceptor.local_endpoint().port();
        asio::co_spawn(ioc, accept_loop(), asio::detached);
        thread = std::thread([this] { ioc.run(); });
    }

    static const std::string& certificate_file(certificate which) {
        switch (which) {
            case certificate::wrong_host:
                return tls().wrong_host_cert_file;
            case certificate::expired:
                return tls().expired_cert_file;
            case certificate::self_signed:
                return tls().self_signed_cert_file;
            case certificate::trusted:
                break;
        }
        return tls().cert_file;
    }

    awaitable<void> accept_loop() {
        for (;;) {
            boost::system::error_code ec;
            tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
            if (stopping) co_return;
            if (ec) {
                // Typically EMFILE: back off rather than spin.
                asio::steady_timer backoff(ioc, std::chrono::milliseconds(10));
                co_await backoff.async_wait(asio::redirect_error(use_awaitable, ec));
                continue;
            }
            // Trickled bytes and separately written headers must leave at once, not wait for an ACK.
            socket.set_option(tcp::no_delay(true), ec);
            ++open;
            asio::co_spawn(ioc, serve(std::move(socket), ++accepted), asio::detached);
        }
    }

    awaitable<void> serve(tcp::socket socket, std::size_t id) {
        connection conn{.timer = asio::steady_timer(ioc), .id = id};
        if (!stopping) {
            if (tls_ctx && !opts.stall_tls_handshake) {
                tls_stream stream(std::move(socket), *tls_ctx);
                co_await serve_on(stream, conn);
            } else {
                co_await serve_on(socket, conn);
            }
        }
        --open;
    }

    template <class Stream>
    awaitable<void> serve_on(Stream& stream, connection& conn) {
        tcp::socket& socket = beast::get_lowest_layer(stream);
        conn.socket = &socket;
        live.insert(&conn);
        ending how = ending::close;
        try {
            if constexpr (std::is_same_v<Stream, tls_stream>) {
                co_await stream.async_handshake(ssl::stream_base::server, use_awaitable);
                if (SSL_session_reused(stream.native_handle())) ++resumed;
            } else if (opts.stall_tls_handshake) {
                // Take the ClientHello and whatever follows, answer nothing; reading is how the client's
                // close is noticed, so this connection's fd goes when the client's does.
                char sink[4096];
                for (;;)
                    co_await socket.async_read_some(asio::buffer(sink), use_awaitable);
            }
            how = co_await session<Stream>(stream, conn, served).run();
            if constexpr (std::is_same_v<Stream, tls_stream>) {
                if (how == ending::close) {
                    // Pretend the peer's close_notify already arrived so shutdown sends ours without
                    // waiting for an answer a client may never send.
                    SSL_set_shutdown(stream.native_handle(),
                                     SSL_get_shutdown(stream.native_handle()) | SSL_RECEIVED_SHUTDOWN);
                    co_await stream.async_shutdown(use_awaitable);
                }
            }
        } catch (const std::exception&) {
            // The client went away, the request was malformed, or the server is stopping: all end the
            // connection the same way.
        }
        live.erase(&conn);
        boost::system::error_code ec;
        if (how == ending::reset) socket.set_option(asio::socket_base::linger(true, 0), ec);
        socket.close(ec);
    }

    // Runs on the server thread. Closing the sockets and cancelling the timers makes every suspended
    // coroutine resume with an error and finish, so ioc.run() returns.
    void stop() {
        stopping = true;
        boost::system::error_code ec;
        acceptor.close(ec);
        for (connection* c : live) {
            c->socket->close(ec);
            c->timer.cancel();
        }
    }
};

test_server::test_server() : test_server(options{}) {}

test_server::test_server(options opts) : impl_(std::make_unique<impl>(opts)) {}

test_server::~test_server() {
    asio::post(impl_->ioc, [i = impl_.get()] { i->stop(); });
    impl_->thread.join();
}

unsigned short test_server::port() const {
    return impl_->port;
}

std::string test_server::url(std::string_view target) const {
    if (!impl_->opts.address.empty()) return url_for_host(impl_->opts.address, target);
    return url_for_host(impl_->opts.ipv6 ? "::1" : "127.0.0.1", target);
}

std::string test_server::url_for_host(std::string_view host, std::string_view target) const {
    std::string out = impl_->opts.tls ? "https://" : "http://";
    bool bare_ipv6 = host.find(':') != host.npos && !host.starts_with('[');
    if (bare_ipv6) out += '[';
    out += host;
    if (bare_ipv6) out += ']';
    out += ':' + std::to_string(impl_->port);
    out += target;
    return out;
}

std::size_t test_server::open_connections() const {
    return impl_->open;
}
std::size_t test_server::accepted_connections() const {
    return impl_->accepted;
}

std::size_t test_server::resumed_tls_sessions() const {
    return impl_->resumed;
}
std::size_t test_server::requests_served() const {
    return impl_->served;
}

bool test_server::wait_for_idle(std::chrono::milliseconds timeout) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (open_connections() != 0) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

std::string digest(std::string_view bytes) {
    std::uint64_t hash = 14695981039346656037ull;  // FNV-1a, 64 bits
    for (unsigned char c : bytes) {
        hash ^= c;
        hash *= 1099511628211ull;
    }
    char text[64];
    std::snprintf(text, sizeof text, "%zu %016llx", bytes.size(), static_cast<unsigned long long>(hash));
    return text;
}

std::string expected_body(std::size_t n) {
    std::string body(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        body[i] = alphabet[i % alphabet.size()];
    return body;
}

std::size_t open_fd_count() {
    std::filesystem::directory_iterator it("/proc/self/fd");
    return static_cast<std::size_t>(std::distance(begin(it), end(it))) - 1;
}

std::map<int, std::string> open_fds() {
    std::map<int, std::string> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
        std::error_code link_ec;
        auto target = std::filesystem::read_symlink(entry.path(), link_ec);
        if (!link_ec && target.string().starts_with("/proc/")) continue;  // the listing's own descriptor
        out.emplace(std::stoi(entry.path().filename().string()), link_ec ? "?" : target.string());
    }
    return out;
}

}  // namespace asiocurl::test
