// The reactor glue, compiled once for libcurl itself.
#include <asiocurl/detail/impl/multi_core.ipp>
#include <asiocurl/detail/post_completion.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/detail/thread_context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <tuple>

namespace asiocurl::detail {

namespace {
// Binds the result to the handler and keeps the handler's associations: asio::post allocates with its
// allocator and hands it over to its associated executor (with outstanding work while it travels).
template <class Signature, class... Args>
struct bound_completion {
    boost::asio::any_completion_handler<Signature> handler;
    std::tuple<Args...> args;
    boost::asio::any_io_executor target;

    using allocator_type = typename boost::asio::any_completion_handler<Signature>::allocator_type;
    allocator_type get_allocator() const noexcept { return handler.get_allocator(); }
    using executor_type = boost::asio::any_io_executor;
    executor_type get_executor() const noexcept { return target; }
    void operator()() { std::apply(std::move(handler), std::move(args)); }
};

// The same, for a handler whose executor is the one posted to: no second hop.
template <class Signature, class... Args>
struct bound_local_completion {
    boost::asio::any_completion_handler<Signature> handler;
    std::tuple<Args...> args;

    using allocator_type = typename boost::asio::any_completion_handler<Signature>::allocator_type;
    allocator_type get_allocator() const noexcept { return handler.get_allocator(); }
    void operator()() { std::apply(std::move(handler), std::move(args)); }
};

// An immediate completion on the io_context whose multi is delivering its turn's completions on this thread,
// in the run() that delivers them, joins them (turn_delivery); true when taken. Otherwise `handler` is left.
template <class Signature, class... Args>
bool joined_delivery(const boost::asio::execution_context& context,
                     boost::asio::any_completion_handler<Signature>& handler, Args... args) {
    turn_delivery* turn = delivering_turn;
    if (!turn || turn->context != &context ||
        turn->thread != boost::asio::detail::thread_context::top_of_thread_call_stack())
        return false;
    turn_completion completion;
    if constexpr (sizeof...(Args) == 1) {
        completion.wait.swap(handler);  // swapped, not move-assigned: Boost 1.81's recurses
        completion.ec = std::get<0>(std::tuple<Args...>(args...));
    } else {
        completion.io.swap(handler);
        std::tie(completion.ec, completion.bytes) = std::tuple<Args...>(args...);
    }
    if (turn->take(turn->runner, completion)) return true;
    if constexpr (sizeof...(Args) == 1)
        handler.swap(completion.wait);
    else
        handler.swap(completion.io);
    return false;
}

template <class Signature, class... Args>
void post_bound(const boost::asio::any_io_executor& fallback,
                boost::asio::any_completion_handler<Signature> handler, const completion_route& route,
                Args... args) {
    if (route.on_fallback) {
        // An io_context's own executor, posted to directly: no type-erased prefer and execute per completion.
        if (const auto* io = fallback.target<boost::asio::io_context::executor_type>()) {
            if (joined_delivery(io->context(), handler, args...)) return;
            boost::asio::post(*io, bound_local_completion<Signature, Args...>{std::move(handler), {args...}});
        } else {
            boost::asio::post(fallback,
                              bound_local_completion<Signature, Args...>{std::move(handler), {args...}});
        }
    } else if (route.executor) {
        boost::asio::post(
            fallback, bound_completion<Signature, Args...>{std::move(handler), {args...}, route.executor});
    } else {
        // No route (a moved-from one): the handler's own association, asked of the erased handler.
        boost::asio::post(fallback, boost::asio::append(std::move(handler), args...));
    }
}
}  // namespace

void post_completion(const boost::asio::any_io_executor& fallback,
                     boost::asio::any_completion_handler<void(error_code)> handler, error_code ec,
                     const completion_route& route) {
    post_bound(fallback, std::move(handler), route, ec);
}

void post_completion(const boost::asio::any_io_executor& fallback,
                     boost::asio::any_completion_handler<void(error_code, std::size_t)> handler,
                     error_code ec, std::size_t bytes, const completion_route& route) {
    post_bound(fallback, std::move(handler), route, ec, bytes);
}

template class multi_core<curl_engine>;

}  // namespace asiocurl::detail
