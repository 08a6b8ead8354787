// An HTTP/1.1 gateway on Boost.Beast whose handlers call upstream services through asiocurl's http layer:
//   GET /aggregate       fetches the three upstreams at once, under one deadline, and combines their answers
//                        (502 when one fails or answers 5xx, 504 when the deadline passes first);
//   GET /forward/<rest>  sends the request on to the first upstream's origin as /<rest>, in one line.
// Usage: asiocurl_aggregator --listen 127.0.0.1:PORT --upstream URL --upstream URL --upstream URL
//                            --deadline-ms N
// With PORT 0 the system picks the port; the line "listening on 127.0.0.1:<port>" on stdout tells which.
#include <asiocurl/http.hpp>
#include <asiocurl/multi.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

struct config {
    tcp::endpoint listen;
    std::array<std::string, 3> upstreams;
    asiocurl::http::options forward;  // for /forward: base_url is the first upstream's "scheme://host:port"
    std::chrono::milliseconds deadline{0};
};

using reply = http::response<http::string_body>;

reply text_reply(http::status status, std::string body) {
    reply res{status, 11, std::move(body)};
    res.set(http::field::content_type, "text/plain");
    return res;
}

// Enough JSON string escaping for a body prefix: quotes, backslashes and control bytes.
std::string quoted(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) {
            char escape[8];
            std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
            out += escape;
        } else {
            out += c;
        }
    }
    return out + '"';
}

// The three fetches run side by side on the shared multi; the deadline covers them all.
asio::awaitable<reply> aggregate(asiocurl::multi& multi, const config& cfg) {
    auto fetch = [&](const std::string& url) {
        // An absolute-form target names the URL itself: no base_url needed.
        http::request<http::empty_body> req{http::verb::get, url, 11};
        return asiocurl::http::async_fetch(multi, std::move(req), {}, asio::deferred);
    };
    asio::steady_timer deadline(co_await asio::this_coro::executor, cfg.deadline);
    // `||` cancels the loser. When the timer wins, the group passes that cancellation to each fetch still
    // running (asiocurl removes its transfer from curl), and `||` returns only once every fetch completed,
    // so nothing outlives this frame.
    auto outcome = co_await (asio::experimental::make_parallel_group(
                                 fetch(cfg.upstreams[0]), fetch(cfg.upstreams[1]), fetch(cfg.upstreams[2]))
                                 .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable) ||
                             deadline.async_wait(asio::use_awaitable));
    if (outcome.index() == 1)
        co_return text_reply(http::status::gateway_timeout,
                             "no answer within " + std::to_string(cfg.deadline.count()) + " ms\n");

    auto& [order, ec_a, res_a, ec_b, res_b, ec_c, res_c] = std::get<0>(outcome);
    (void)order;  // completion order: not needed with wait_for_all
    const std::array<asiocurl::error_code, 3> errors{ec_a, ec_b, ec_c};
    const std::array<asiocurl::http::response<>*, 3> responses{&res_a, &res_b, &res_c};
    static constexpr std::array<std::string_view, 3> names{"a", "b", "c"};

    // A transport error or a 5xx anywhere makes the aggregate worthless: say which upstream broke.
    for (std::size_t i = 0; i < 3; ++i) {
        const std::string who = "upstream " + std::string(names[i]) + " (" + cfg.upstreams[i] + ")";
        if (errors[i])
            co_return text_reply(http::status::bad_gateway, who + " failed: " + errors[i].message() + "\n");
        if (responses[i]->result_int() >= 500)
            co_return text_reply(http::status::bad_gateway,
                                 who + " answered " + std::to_string(responses[i]->result_int()) + "\n");
    }
    std::string body = "{";
    for (std::size_t i = 0; i < 3; ++i) {
        const std::string& upstream_body = responses[i]->body();
        body += (i ? ", \"" : "\"") + std::string(names[i]) +
                "\": {\"status\": " + std::to_string(responses[i]->result_int()) +
                ", \"length\": " + std::to_string(upstream_body.size()) +
                ", \"body\": " + quoted(std::string_view(upstream_body).substr(0, 16)) + "}";
    }
    reply res{http::status::ok, 11, body + "}\n"};
    res.set(http::field::content_type, "application/json");
    co_return res;
}

asio::awaitable<reply> handle(asiocurl::multi& multi, const config& cfg,
                              http::request<http::string_body> req) {
    static constexpr std::string_view forward = "/forward/";
    const std::string target(req.target());  // a copy: req.target(...) below must not read from req itself
    if (req.method() == http::verb::get && target == "/aggregate") co_return co_await aggregate(multi, cfg);
    if (req.method() != http::verb::get || !target.starts_with(forward))
        co_return text_reply(http::status::not_found, "not found\n");

    req.target(target.substr(forward.size() - 1));  // "/forward/x?y" -> "/x?y"
    try {
        // The one line: the client's request (method, headers, body) goes upstream; the library drops the
        // hop-by-hop headers and the Host, and appends the origin-form target to base_url. The options are a
        // named object, not `{.base_url = ...}`: g++ 12 destroys a braced temporary inside co_await twice.
        auto res =
            co_await asiocurl::http::async_fetch(multi, std::move(req), cfg.forward, asio::use_awaitable);
        // A fresh response rather than the upstream's: its framing headers (Content-Length,
        // Transfer-Encoding, Content-Encoding) describe the bytes on the upstream wire, not the decoded body
        // we send back.
        reply out{http::status::ok, 11, std::move(res.body())};
        out.result(res.result_int());
        if (auto type = res.find(http::field::content_type); type != res.end())
            out.set(http::field::content_type, type->value());
        co_return out;
    } catch (const asiocurl::system_error& e) {
        co_return text_reply(http::status::bad_gateway, "upstream failed: " + std::string(e.what()) + "\n");
    }
}

// One client connection: requests one after the other (HTTP/1.1 keep-alive).
asio::awaitable<void> session(beast::tcp_stream stream, asiocurl::multi& multi, const config& cfg) {
    beast::flat_buffer buffer;
    for (;;) {
        http::request<http::string_body> req;
        stream.expires_after(std::chrono::seconds(30));  // an idle client does not hold its socket forever
        auto [read_error, read] =
            co_await http::async_read(stream, buffer, req, asio::as_tuple(asio::use_awaitable));
        if (read_error) break;  // the client closed, went idle, or sent something that is not HTTP
        const bool keep_alive = req.keep_alive();
        reply res = co_await handle(multi, cfg, std::move(req));
        res.keep_alive(keep_alive);
        res.prepare_payload();
        auto [write_error, written] =
            co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
        if (write_error || !keep_alive) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, asiocurl::multi& multi, const config& cfg) {
    for (;;) {
        tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
        // Each session ends by itself (breaking out of its loop); nothing waits for it.
        asio::co_spawn(acceptor.get_executor(), session(beast::tcp_stream(std::move(socket)), multi, cfg),
                       asio::detached);
    }
}

bool parse(int argc, char** argv, config& cfg) {
    std::size_t upstreams = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view flag = argv[i], value = argv[i + 1];
        if (flag == "--listen" && value.rfind(':') != std::string_view::npos) {
            const auto colon = value.rfind(':');
            cfg.listen = {asio::ip::make_address(value.substr(0, colon)),
                          static_cast<unsigned short>(std::stoul(std::string(value.substr(colon + 1))))};
        } else if (flag == "--upstream" && upstreams < 3) {
            cfg.upstreams[upstreams++] = value;
        } else if (flag == "--deadline-ms") {
            cfg.deadline = std::chrono::milliseconds(std::stol(std::string(value)));
        } else {
            return false;
        }
    }
    const auto authority = cfg.upstreams[0].find("://");
    if (argc != 11 || upstreams != 3 || authority == std::string::npos || cfg.deadline.count() <= 0)
        return false;
    // The origin of the first upstream ("http://host:port" of "http://host:port/path"): where /forward goes.
    cfg.forward.base_url = cfg.upstreams[0].substr(0, cfg.upstreams[0].find('/', authority + 3));
    return true;
}

}  // namespace

int main(int argc, char** argv) try {
    config cfg;
    if (!parse(argc, argv, cfg)) {
        std::fprintf(stderr,
                     "usage: %s --listen ADDRESS:PORT --upstream URL --upstream URL --upstream URL "
                     "--deadline-ms N\n",
                     argv[0]);
        return 2;
    }
    asio::io_context ioc;
    // One multi for every connection: all transfers share one curl connection cache, so the upstreams'
    // connections are reused across client requests.
    asiocurl::multi multi(ioc);
    tcp::acceptor acceptor(ioc, cfg.listen);
    const tcp::endpoint bound = acceptor.local_endpoint();
    std::printf("listening on %s:%u\n", bound.address().to_string().c_str(), unsigned{bound.port()});
    std::fflush(stdout);  // stdout may be a pipe read by whoever started us

    // SIGTERM/SIGINT stop the loop; the multi (declared after the io_context) is destroyed first, which
    // aborts any transfer still running, then the io_context destroys the suspended coroutines.
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](beast::error_code, int) { ioc.stop(); });
    // A failed accept ends the server: the exception comes out of ioc.run().
    asio::co_spawn(ioc, accept_loop(acceptor, multi, cfg), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
    ioc.run();
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
}
