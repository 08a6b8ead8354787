// asiocurl::http::progress: transfer progress, delivered on the operation's executor at a chosen rate.
#ifndef ASIOCURL_HTTP_PROGRESS_HPP
#define ASIOCURL_HTTP_PROGRESS_HPP

#include <asiocurl/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <cstdint>
#include <functional>
#include <memory>

namespace asiocurl::http {

/// One progress report of a transfer (curl's CURLOPT_XFERINFOFUNCTION figures).
struct progress {
    std::uint64_t downloaded = 0;  ///< response body bytes received so far (as sent, before decoding)
    std::uint64_t download_total =
        0;                           ///< the announced response size; 0 while unknown (chunked, no head yet)
    std::uint64_t uploaded = 0;      ///< request body bytes sent so far
    std::uint64_t upload_total = 0;  ///< the declared request body size; 0 when unknown (chunked) or none
    bool done = false;               ///< the transfer has ended (successfully or not): the last report

    friend bool operator==(const progress&, const progress&) = default;
};

/// Turns the progress callback of `options::on_progress` into something a coroutine awaits:
///
///     http::progress_watcher watcher(multi.get_executor());
///     opts.on_progress = watcher.callback();
///     // in another coroutine, while the fetch runs:
///     for (;;) {
///         auto [ec, p] = co_await watcher.async_next(asio::as_tuple(asio::use_awaitable));
///         if (ec) break;  // asio::error::eof after the report with `done`
///         draw(p);
///     }
///
/// There is no backlog: `async_next` completes with the latest report not yet taken, so a slow consumer skips
/// reports instead of queueing them. Its handler runs once, on its associated executor (default: the one
/// given here), never inside `async_next`; while it waits, that executor counts it as outstanding work.
/// Cancellation (every type, from any thread) ends the wait with `operation_aborted` and consumes nothing.
/// One `async_next` at a time (a second one fails with `asio::error::in_progress`). Copies share one state;
/// the callback may be called from any thread.
class progress_watcher {
public:
    using executor_type = boost::asio::any_io_executor;

    explicit progress_watcher(executor_type executor);

    executor_type get_executor() const noexcept;

    /// The callback for `options::on_progress`.
    std::function<void(const progress&)> callback() const;

    /// Completion signature: `void(error_code, progress)`.
    template <class CompletionToken = boost::asio::default_completion_token_t<executor_type>>
    auto async_next(CompletionToken&& token = CompletionToken()) {
        return boost::asio::async_initiate<CompletionToken, void(error_code, progress)>(
            [](auto handler, std::shared_ptr<state> s) {
                next(s, boost::asio::any_completion_handler<void(error_code, progress)>(std::move(handler)));
            },
            token, state_);
    }

private:
    struct state;
    struct slot_handler;
    static void next(const std::shared_ptr<state>& s,
                     boost::asio::any_completion_handler<void(error_code, progress)> handler);

    std::shared_ptr<state> state_;
};

}  // namespace asiocurl::http

#endif
