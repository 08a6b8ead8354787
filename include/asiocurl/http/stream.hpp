// asiocurl::http::basic_stream: one HTTP exchange whose bodies are streamed, with backpressure.
#ifndef ASIOCURL_HTTP_STREAM_HPP
#define ASIOCURL_HTTP_STREAM_HPP

#include <asiocurl/http/detail/stream_core.hpp>
#include <asiocurl/http/options.hpp>
#include <asiocurl/http/response.hpp>
#include <asiocurl/multi.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

namespace asiocurl::http {

/// What a stream buffers by default (see `basic_stream`).
inline constexpr std::size_t default_stream_buffer_size = 64 * 1024;

/// One HTTP exchange through a multi whose response body is read as it arrives and whose request body may be
/// written as it is produced: an Asio `AsyncReadStream` and `AsyncWriteStream`, so `asio::async_read`,
/// `asio::async_read_until`, `asio::async_write` and Beast parsers work on it.
///
///     http::stream body(multi);
///     body.start(request, opts);
///     co_await body.async_read_header(asio::use_awaitable);      // status and headers: body.header()
///     for (;;) {
///         auto [ec, n] = co_await body.async_read_some(asio::buffer(chunk),
///         asio::as_tuple(asio::use_awaitable)); if (ec == asio::error::eof) break;                      //
///         the whole body was read if (ec) throw system_error(ec);                         // the transfer
///         failed (reset, timeout...) consume(chunk, n);
///     }
///
/// Backpressure and memory: the stream holds at most `buffer_size()` body bytes (default 64 KiB, at least
/// 16 KiB, curl's largest write). When they are not read, curl's write callback answers
/// `CURL_WRITEFUNC_PAUSE` and curl stops reading the connection; reading unpauses it (`curl_easy_pause` on
/// the multi's executor). What else is in memory for the stream is curl's: its receive buffer
/// (`CURLOPT_BUFFERSIZE`, 16 KiB) and the one write it held back when it paused — or, over HTTP/2, what the
/// server sent within the stream's flow-control window. So the bound does not grow with the body.
///
/// End and errors: a read after the last byte completes with `asio::error::eof`. A failed transfer (reset,
/// timeout, TLS failure, cancellation) delivers the bytes that arrived first, then its error on the next
/// read (curl's `CURLcode`, compare with `asiocurl::condition`; `header().info.error_message` has curl's
/// detail). `header().info` is filled in when the transfer ends.
///
/// Uploads: `start_upload` sends a request head whose body is then written with `async_write_some` (with a
/// declared length, or chunked without one) and ended with `async_finish_upload`; while nothing is written,
/// curl's read callback answers `CURL_READFUNC_PAUSE`. The response is read as above, at any time.
///
/// The Asio contract: every handler runs exactly once, on its associated executor (default: the multi's),
/// never inside the initiating call; one read, one write at a time. Cancellation of a read, write or wait:
/// `total` and `partial` end that operation only (nothing was consumed; the exchange goes on, paused while
/// nobody reads); `terminal` also aborts the transfer. `cancel()` and the destructor abort the transfer:
/// pending operations complete with `operation_aborted`, the connection is closed, nothing is left behind.
/// From inside a curl callback (another transfer's write callback, say) they take effect there: no byte
/// reaches a pending read's buffer afterwards. A pending operation whose handler owns the stream does not
/// keep it alive once the execution context is destroyed (after the multi): it is destroyed uninvoked.
///
/// Not applied to streams: `options::max_response_size` (memory is bounded anyway; the reader decides when to
/// stop). Trailers are not exposed. Members other than the asynchronous operations: on the multi's executor.
template <class Executor = boost::asio::any_io_executor>
class basic_stream {
public:
    using executor_type = Executor;

    explicit basic_stream(basic_multi<Executor>& multi, std::size_t buffer_size = default_stream_buffer_size);
    // The executor is copied, not moved: a moved-from stream still completes its operations (with an error).
    basic_stream(basic_stream&& other) noexcept
        : executor_(other.executor_), multi_(other.multi_), core_(std::move(other.core_)) {}
    basic_stream& operator=(basic_stream&& other) noexcept;
    basic_stream(const basic_stream&) = delete;
    basic_stream& operator=(const basic_stream&) = delete;
    /// Aborts the transfer if it still runs. Destroy streams before their multi's execution context.
    ~basic_stream();

    executor_type get_executor() const noexcept { return executor_; }

    /// Starts the exchange: the request (its URL as for `async_fetch`) and its body, if any, sent whole from
    /// memory. Errors found before anything is sent (`errc::header_injection`, `errc::no_url`, a stream
    /// already started: `errc::easy_in_use`) are set in `ec`; transfer errors arrive on the operations.
    template <class Body, class Fields>
    void start(boost::beast::http::request<Body, Fields> request, const options& opts, error_code& ec);
    template <class Body, class Fields>
    void start(boost::beast::http::request<Body, Fields> request, const options& opts = {});

    /// Starts an exchange whose request body is written with `async_write_some`: `body_size` bytes exactly
    /// (sent with Content-Length), or chunked when none. The request's own body is not sent.
    template <class Body, class Fields>
    void start_upload(const boost::beast::http::request<Body, Fields>& request,
                      std::optional<std::uint64_t> body_size, const options& opts, error_code& ec);
    template <class Body, class Fields>
    void start_upload(const boost::beast::http::request<Body, Fields>& request,
                      std::optional<std::uint64_t> body_size, const options& opts = {});

    /// Waits for the final response head (after redirects followed and 1xx answers): `void(error_code)`.
    template <class CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_read_header(CompletionToken&& token = CompletionToken());

    /// The response head (status, reason, version, headers in order), and once the transfer ended, its info.
    const response<boost::beast::http::empty_body>& header() const noexcept {
        static const response<boost::beast::http::empty_body> none;  // a moved-from stream's
        return core_ ? core_->header() : none;
    }

    /// Reads body bytes: `void(error_code, std::size_t)`; `asio::error::eof` after the last one.
    template <class MutableBufferSequence,
              class CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_read_some(const MutableBufferSequence& buffers, CompletionToken&& token = CompletionToken());

    /// Hands request body bytes to curl (after `start_upload`): `void(error_code, std::size_t)`, completing
    /// when curl took some of them. Beyond a declared size: `errc::upload_size_mismatch`. When the transfer
    /// ended first: its error (`asio::error::broken_pipe` when it ended well, the server having answered
    /// early).
    template <class ConstBufferSequence,
              class CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_write_some(const ConstBufferSequence& buffers, CompletionToken&& token = CompletionToken());

    /// Ends the request body: `void(error_code)` once curl has all of it (`errc::upload_size_mismatch` when
    /// fewer bytes than declared were written).
    template <class CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_finish_upload(CompletionToken&& token = CompletionToken());

    /// Aborts the transfer; pending and later operations complete with `operation_aborted`.
    void cancel();

    /// Body bytes held by the stream now, the most it ever held, and its bound.
    std::size_t buffered() const noexcept { return core_ ? core_->buffered() : 0; }
    std::size_t max_buffered() const noexcept { return core_ ? core_->max_buffered() : 0; }
    std::size_t buffer_size() const noexcept { return core_ ? core_->buffer_size() : 0; }
    /// How often curl's write callback paused the transfer (backpressure at work).
    std::uint64_t pauses() const noexcept { return core_ ? core_->pauses() : 0; }

private:
    executor_type executor_;
    basic_multi<Executor>* multi_;
    std::shared_ptr<detail::stream_core> core_;
};

using stream = basic_stream<>;

}  // namespace asiocurl::http

#include <asiocurl/http/impl/stream.hpp>

#endif
