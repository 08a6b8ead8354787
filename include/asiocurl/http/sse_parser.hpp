// asiocurl::http::sse_parser: the text/event-stream format (WHATWG HTML, "Server-sent events", 9.2.6 "Parsing
// an event stream"), sans-io: bytes in, events out, no curl, no io_context (test/unit/test_sse_parser.cpp;
// fuzzed by test/fuzz/fuzz_sse_parser.cpp). The groundwork of an event stream over http::stream.
#ifndef ASIOCURL_HTTP_SSE_PARSER_HPP
#define ASIOCURL_HTTP_SSE_PARSER_HPP

#include <asiocurl/error.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace asiocurl::http {

/// One dispatched event.
struct server_sent_event {
    std::string type = "message";  ///< the `event` field, "message" without one
    std::string data;              ///< the `data` lines joined with LF
    std::string id;  ///< the last event ID when it was dispatched (the stream's, kept across events)
};

/// Bytes of an event stream in, events out, in any chunking (one byte at a time, many events a chunk, a CRLF
/// split between chunks): the format as the standard defines it — lines end with CRLF, LF or CR; one BOM at
/// the very start is skipped; a blank line dispatches the event; `:` starts a comment; `data` lines are
/// joined with LF; `id` sets the last event ID (not when it holds NUL); `retry` with only digits sets the
/// reconnection time; other fields are ignored; an event with no data is not dispatched; what is left
/// unfinished when the stream ends is dropped.
///
/// Memory is bounded by `max_event_size`: a line, or an event's data, longer than it fails the stream with
/// `errc::event_too_large` (and the parser stays failed until `reset()`).
class sse_parser {
public:
    explicit sse_parser(std::size_t max_event_size = 1024 * 1024);

    /// Parses `bytes`; events dispatched by them are appended to `events`.
    error_code feed(std::string_view bytes, std::vector<server_sent_event>& events);

    /// A new connection (after a reconnection): what was unfinished is dropped, and a BOM may come again.
    /// The last event ID and the reconnection time are kept, as the standard keeps them.
    void reset() noexcept;

    /// What a reconnection sends as Last-Event-ID (empty: none).
    const std::string& last_event_id() const noexcept { return last_event_id_; }
    /// The server's `retry`, if it sent one.
    std::optional<std::chrono::milliseconds> retry() const noexcept { return retry_; }
    std::size_t max_event_size() const noexcept { return max_event_size_; }

private:
    void line(std::string_view text, std::vector<server_sent_event>& events);
    void field(std::string_view name, std::string_view value);
    void dispatch(std::vector<server_sent_event>& events);

    std::size_t max_event_size_;
    bool at_start_ = true;         // the stream's first bytes: a BOM is skipped
    std::size_t bom_matched_ = 0;  // bytes of a BOM seen so far at the start
    bool after_cr_ = false;        // the last byte was a CR: an LF next ends no second line
    bool failed_ = false;
    std::string line_;  // the line being read
    std::string data_;
    std::string type_;
    std::string id_buffer_;
    std::string last_event_id_;
    std::optional<std::chrono::milliseconds> retry_;
};

}  // namespace asiocurl::http

#endif
