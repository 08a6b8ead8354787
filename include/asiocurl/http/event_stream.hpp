// asiocurl::http::basic_event_stream: server-sent events (text/event-stream) read one event at a time over an
// http::stream, reconnecting after a drop with Last-Event-ID, as a browser's EventSource does.
#ifndef ASIOCURL_HTTP_EVENT_STREAM_HPP
#define ASIOCURL_HTTP_EVENT_STREAM_HPP

#include <asiocurl/http/sse_parser.hpp>
#include <asiocurl/http/stream.hpp>
#include <asiocurl/http/url.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/empty_body.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>

namespace asiocurl::http {

struct event_stream_options {
    /// Beyond it, a line or an event's data fails the stream with `errc::event_too_large`.
    std::size_t max_event_size = 1024 * 1024;
    /// What the stream buffers of the response (see basic_stream).
    std::size_t buffer_size = default_stream_buffer_size;
    /// The wait before reconnecting, until the server's `retry` field says otherwise.
    std::chrono::milliseconds reconnection_time{3000};
    /// Reconnections in a row without an event between them; one more ends the stream with the last error.
    unsigned max_reconnections = 5;
};

/// Reads the events of one URL (`text/event-stream`), each `async_next` one event: `void(error_code,
/// server_sent_event)`.
///
///     http::event_stream tokens(multi, "https://llm.internal/v1/stream?prompt=...");
///     for (;;) {
///         auto [ec, event] = co_await tokens.async_next(asio::as_tuple(asio::use_awaitable));
///         if (ec) break;                     // asio::error::eof: the server ended the stream (204)
///         std::fputs(event.data.c_str(), stdout);
///     }
///
/// The request goes with `Accept: text/event-stream`, `Cache-Control: no-cache` and, after the first event
/// with an id, `Last-Event-ID`. When the connection drops or the response ends, the stream reconnects after
/// the reconnection time (the server's `retry`, else `reconnection_time`) and goes on from the last event
/// ID; events of an event left unfinished by a drop are dropped with it. A 204 ends the stream
/// (`asio::error::eof`); another status, or another content type, fails it (`errc::not_an_event_stream`; the
/// response head is in `header()`). Memory: the stream's buffer, the events of one read, one event's size.
///
/// The Asio contract as basic_stream's: one `async_next` at a time; every handler once, on its associated
/// executor (default: the multi's), never inside the call. Cancellation of `async_next` (any type) ends that
/// call with `operation_aborted` — during a read the connection stays for the next call, during the wait to
/// reconnect the wait ends. `cancel()` and the destructor end the connection.
template <class Executor = boost::asio::any_io_executor>
class basic_event_stream {
public:
    using executor_type = Executor;

    /// `url`: text or a Boost.URL `url` / `url_view`.
    basic_event_stream(basic_multi<Executor>& multi, url_ref url, options opts = {},
                       event_stream_options settings = {});
    basic_event_stream(const basic_event_stream&) = delete;
    basic_event_stream& operator=(const basic_event_stream&) = delete;

    executor_type get_executor() const noexcept { return multi_->get_executor(); }

    template <class CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_next(CompletionToken&& token = CompletionToken());

    const std::string& last_event_id() const noexcept { return parser_.last_event_id(); }
    /// Connections made after the first.
    unsigned reconnections() const noexcept { return reconnections_; }
    /// The last connection's response head (status 0 before one arrived).
    const response<boost::beast::http::empty_body>& header() const noexcept;
    /// Ends the connection; a pending `async_next` completes with `operation_aborted`.
    void cancel();

private:
    struct next_op;

    basic_multi<Executor>* multi_;
    std::string url_;
    options options_;
    event_stream_options settings_;
    sse_parser parser_;
    std::optional<basic_stream<Executor>> stream_;
    bool header_read_ = false;
    bool ended_ = false;  // a 204, or a failure: every later call completes with `failure_`
    error_code failure_;
    unsigned reconnections_ = 0;
    unsigned failures_in_a_row_ = 0;
    std::deque<server_sent_event> ready_;
    std::vector<server_sent_event> parsed_;
    std::unique_ptr<std::array<char, 16 * 1024>> chunk_ = std::make_unique<std::array<char, 16 * 1024>>();
    boost::asio::steady_timer reconnect_timer_;
};

using event_stream = basic_event_stream<>;

}  // namespace asiocurl::http

#include <asiocurl/http/impl/event_stream.hpp>

#endif
