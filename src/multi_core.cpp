// The reactor glue, compiled once for libcurl itself.
#include <asiocurl/detail/impl/multi_core.ipp>
#include <asiocurl/detail/post_completion.hpp>

#include <boost/asio/append.hpp>
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

template <class Signature, class... Args>
void post_bound(const boost::asio::any_io_executor& fallback,
                boost::asio::any_completion_handler<Signature> handler, const completion_route& route,
                Args... args) {
    if (route.on_fallback) {
        // An io_context's own executor, posted to directly: no type-erased prefer and execute per completion.
        bound_local_completion<Signature, Args...> bound{std::move(handler), {args...}};
        if (const auto* io = fallback.target<boost::asio::io_context::executor_type>())
            boost::asio::post(*io, std::move(bound));
        else
            boost::asio::post(fallback, std::move(bound));
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
