// Reads a feed that never ends (NDJSON, log lines, server-sent events) line by line with
// asio::async_read_until on an http::stream, and stops after N lines by cancelling the read.
//
//   asiocurl_feed_lines [--max N] URL
#include <asiocurl/http.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/empty_body.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace asio = boost::asio;
namespace http = asiocurl::http;

asio::awaitable<void> consume(asiocurl::multi& multi, std::string url, long max_lines,
                              asio::cancellation_signal& stop) {
    http::stream feed(multi);
    feed.start(
        boost::beast::http::request<boost::beast::http::empty_body>(boost::beast::http::verb::get, url, 11));
    co_await feed.async_read_header(asio::use_awaitable);
    std::string pending;
    for (long count = 1;; ++count) {
        // Ctrl-C (or the line limit) emits `stop`: the read ends with operation_aborted, and terminal
        // cancellation closes the transfer too.
        auto [ec, n] = co_await asio::async_read_until(
            feed, asio::dynamic_buffer(pending), '\n',
            asio::bind_cancellation_slot(stop.slot(), asio::as_tuple(asio::use_awaitable)));
        if (ec == asio::error::operation_aborted || ec == asio::error::eof) break;
        if (ec) throw std::runtime_error(ec.message() + ": " + feed.header().info.error_message);
        std::printf("%ld: %.*s\n", count, static_cast<int>(n - 1), pending.data());
        pending.erase(0, n);
        if (count == max_lines) {
            std::fflush(stdout);
            break;
        }
    }
}

int main(int argc, char** argv) {
    long max_lines = 0;  // 0: until the feed ends or Ctrl-C
    int arg = 1;
    if (argc > 2 && std::string(argv[1]) == "--max") {
        max_lines = std::atol(argv[2]);
        arg = 3;
    }
    if (argc - arg != 1) {
        std::fprintf(stderr, "usage: %s [--max N] URL\n", argv[0]);
        return 2;
    }
    asio::io_context ioc;
    asiocurl::multi multi(ioc);
    asio::cancellation_signal stop;
    asio::signal_set interrupt(ioc, SIGINT, SIGTERM);
    interrupt.async_wait([&](asiocurl::error_code ec, int) {
        if (!ec) stop.emit(asio::cancellation_type::terminal);
    });
    asio::co_spawn(ioc, consume(multi, argv[arg], max_lines, stop), [&](std::exception_ptr e) {
        interrupt.cancel();
        if (e) std::rethrow_exception(e);
    });
    try {
        ioc.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
