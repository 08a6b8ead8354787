// Reads an LLM-style token stream (server-sent events) and prints each token as it arrives; reconnects after
// a drop where the stream left off (Last-Event-ID), and stops when the server ends the stream.
// Usage: asiocurl_token_stream URL
#include <asiocurl/asiocurl.hpp>
#include <asiocurl/http.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdio>
#include <string>

namespace asio = boost::asio;
namespace http = asiocurl::http;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: asiocurl_token_stream URL\n");
        return 2;
    }
    asio::io_context ioc;
    asiocurl::multi multi(ioc);
    int status = 0;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            http::event_stream tokens(multi, argv[1], {},
                                      {.reconnection_time = std::chrono::milliseconds(500)});
            std::size_t count = 0;
            for (;;) {
                auto [ec, event] = co_await tokens.async_next(asio::as_tuple(asio::use_awaitable));
                if (ec == asio::error::eof) break;  // the server said so (204)
                if (ec) {
                    std::fprintf(stderr, "\nasiocurl_token_stream: %s\n", ec.message().c_str());
                    status = 1;
                    break;
                }
                std::fputs(event.data.c_str(), stdout);  // a token, as it arrives
                std::fputc(' ', stdout);
                std::fflush(stdout);
                ++count;
            }
            std::printf("\n%zu tokens, %u reconnections, last event id %s\n", count, tokens.reconnections(),
                        tokens.last_event_id().c_str());
        },
        asio::detached);
    ioc.run();
    return status;
}
