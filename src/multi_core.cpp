// The reactor glue, compiled once for libcurl itself.
#include <asiocurl/detail/impl/multi_core.ipp>
#include <asiocurl/detail/post_completion.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace asiocurl::detail {

namespace {
// Binds the result to the handler and keeps the handler's associations: asio::post allocates with its
// allocator and hands it over to its associated executor (with outstanding work while it travels).
struct bound_completion {
    boost::asio::any_completion_handler<void(error_code)> handler;
    error_code ec;
    boost::asio::any_io_executor fallback;

    using allocator_type = boost::asio::any_completion_handler<void(error_code)>::allocator_type;
    allocator_type get_allocator() const noexcept { return handler.get_allocator(); }
    using executor_type = boost::asio::any_completion_executor;
    executor_type get_executor() const noexcept {
        return boost::asio::get_associated_executor(handler, fallback);
    }
    void operator()() { std::move(handler)(ec); }
};
}  // namespace

// The same, for a handler whose executor is the one posted to: no second hop.
struct bound_local_completion {
    boost::asio::any_completion_handler<void(error_code)> handler;
    error_code ec;

    using allocator_type = boost::asio::any_completion_handler<void(error_code)>::allocator_type;
    allocator_type get_allocator() const noexcept { return handler.get_allocator(); }
    void operator()() { std::move(handler)(ec); }
};

void post_completion(const boost::asio::any_io_executor& fallback,
                     boost::asio::any_completion_handler<void(error_code)> handler, error_code ec,
                     bool on_fallback) {
    if (on_fallback) {
        // An io_context's own executor, posted to directly: no type-erased prefer and execute per completion.
        if (const auto* io = fallback.target<boost::asio::io_context::executor_type>())
            boost::asio::post(*io, bound_local_completion{std::move(handler), ec});
        else
            boost::asio::post(fallback, bound_local_completion{std::move(handler), ec});
    } else
        boost::asio::post(fallback, bound_completion{std::move(handler), ec, fallback});
}

template class multi_core<curl_engine>;

}  // namespace asiocurl::detail
