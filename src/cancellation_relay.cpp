// Cancellation from a handler's slot to an operation on an executor (detail/cancellation_relay.hpp).
#include <asiocurl/detail/cancellation_relay.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/smart_ptr/intrusive_ptr.hpp>

namespace asiocurl::detail {

bool running_in_this_thread(const boost::asio::any_io_executor& executor) noexcept {
    using io_executor = boost::asio::io_context::executor_type;
    if (const auto* io = executor.target<io_executor>()) return io->running_in_this_thread();
    if (const auto* strand = executor.target<boost::asio::strand<io_executor>>())
        return strand->running_in_this_thread();
    return false;
}

void cancellation_relay::emit(unsigned types) {
    if (types == 0) return;
    requested_.fetch_or(types, std::memory_order_acq_rel);
    boost::asio::any_io_executor executor;
    {
        std::lock_guard lock(mutex_);
        if (!executor_) return;
        executor = executor_;
    }
    // On the executor already (a handler, or a callback inside curl): now, so that the operation stops where
    // the caller stands. The operation only records it there and completes through a post.
    if (running_in_this_thread(executor)) return deliver(types);
    boost::asio::post(
        executor, [self = boost::intrusive_ptr<cancellation_relay>(this), types] { self->deliver(types); });
}

void cancellation_relay::disarm() noexcept {
    target_ = nullptr;
    boost::asio::any_io_executor released;
    {
        std::lock_guard lock(mutex_);
        released = std::move(executor_);
        executor_ = boost::asio::any_io_executor();
    }
}

}  // namespace asiocurl::detail
