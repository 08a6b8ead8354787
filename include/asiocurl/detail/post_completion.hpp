#ifndef ASIOCURL_DETAIL_POST_COMPLETION_HPP
#define ASIOCURL_DETAIL_POST_COMPLETION_HPP

#include <asiocurl/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>

#include <cstddef>
#include <type_traits>
#include <utility>

namespace asiocurl::detail {

// Where a handler's completion goes, decided by the initiating template while the handler's type is known.
// Nothing past the erasure asks an any_completion_handler for its executor: Boost 1.81 turns the
// any_io_executor inside into an any_completion_executor on the heap each time (two allocations an
// operation on a stream, whose handlers it asked four times).
struct completion_route {
    // The handler's associated executor, with outstanding work while the operation is pending (a handler on
    // another io_context keeps it running until its completion is queued there). Empty with `on_fallback`.
    boost::asio::any_io_executor executor;
    // The handler's executor is the fallback (the multi's) itself: one post, no work of its own (the multi
    // keeps its executor busy while it has transfers).
    bool on_fallback = false;
};

template <class Handler, class Executor>
completion_route route_of(const Handler& handler, const Executor& fallback) {
    auto handler_executor = boost::asio::get_associated_executor(handler, fallback);
    if constexpr (std::is_same_v<decltype(handler_executor), Executor>)
        if (handler_executor == fallback) return {{}, true};
    return {boost::asio::prefer(boost::asio::any_io_executor(std::move(handler_executor)),
                                boost::asio::execution::outstanding_work.tracked),
            false};
}

// The executor a handler's other callbacks (progress reports) run on, without the route's work.
inline boost::asio::any_io_executor executor_of(const completion_route& route,
                                                const boost::asio::any_io_executor& fallback) {
    return route.on_fallback
               ? fallback
               : boost::asio::prefer(route.executor, boost::asio::execution::outstanding_work.untracked);
}

// A completion made during one of the multi's reactor or timer turns for a handler on the multi's own
// executor, held until the turn's end (multi_core::reactor_turn): a transfer's (`wait`), or an operation of
// the http layer's stream (`wait` or `io`, by its signature). Exactly one of the two holds a handler.
struct turn_completion {
    boost::asio::any_completion_handler<void(error_code)> wait;
    boost::asio::any_completion_handler<void(error_code, std::size_t)> io;
    error_code ec;
    std::size_t bytes = 0;
};

// A multi delivering the completions its turn collected (multi_core::deliver_ready), on this thread: an
// immediate completion made meanwhile for a handler on the same io_context (a handler of the list started
// an operation that completed at once) joins the list, as if posted, instead of a round of the scheduler.
// `thread` is the run() of the io_context that delivers: a handler that runs the io_context itself (a nested
// run) gets posted completions, which that run can reach.
struct turn_delivery {
    const boost::asio::execution_context* context = nullptr;
    const void* thread = nullptr;
    void* runner = nullptr;
    bool (*take)(void* runner, turn_completion& completion) = nullptr;
};
inline constinit thread_local turn_delivery* delivering_turn = nullptr;

// The one place a completion is delivered: posted (never run inline, DESIGN "The Asio contract") to the
// handler's executor as `route` says, with the handler's allocator: on `fallback` (the multi's executor) when
// the route is it, otherwise through `fallback` and then to the handler's executor, as asio::post does.
void post_completion(const boost::asio::any_io_executor& fallback,
                     boost::asio::any_completion_handler<void(error_code)> handler, error_code ec,
                     const completion_route& route);
void post_completion(const boost::asio::any_io_executor& fallback,
                     boost::asio::any_completion_handler<void(error_code, std::size_t)> handler,
                     error_code ec, std::size_t bytes, const completion_route& route);

}  // namespace asiocurl::detail

#endif
