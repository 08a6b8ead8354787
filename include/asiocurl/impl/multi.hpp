#ifndef ASIOCURL_IMPL_MULTI_HPP
#define ASIOCURL_IMPL_MULTI_HPP

#include <asiocurl/detail/block_cache.hpp>
#include <asiocurl/detail/post_completion.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/associated_executor.hpp>
#include <type_traits>
#include <utility>

namespace asiocurl {

template <class Executor>
struct basic_multi<Executor>::initiate_perform {
    // Erases the handler at once: everything past this point is compiled once, in the library.
    template <class Handler>
    void operator()(Handler&& handler, boost::intrusive_ptr<core_type> core, detail::easy_state* state,
                    const executor_type& executor) const {
        // Known here, not once erased: whether the handler runs on the multi's own executor (one hop for the
        // completion, no work guard of its own), or where else.
        auto route = detail::route_of(handler, executor);
        boost::asio::any_completion_handler<void(error_code)> erased(
            detail::with_default_allocator(std::forward<Handler>(handler)));
        if (!core)
            return detail::post_completion(boost::asio::any_io_executor(executor), std::move(erased),
                                           errc::shut_down, route);
        // The handle an http exchange lent to its customize callback is that exchange's to run.
        if (state && state->lent)
            return detail::post_completion(boost::asio::any_io_executor(executor), std::move(erased),
                                           errc::easy_in_use, route);
        core->initiate(state, std::move(erased), std::move(route));
    }
};

template <class Executor>
basic_multi<Executor>::basic_multi(const executor_type& executor)
    : executor_(executor), core_(core_type::create(boost::asio::any_io_executor(executor))) {}

template <class Executor>
basic_multi<Executor>& basic_multi<Executor>::operator=(basic_multi&& other) noexcept {
    if (this != &other) {
        if (core_) core_->shutdown();
        executor_ = std::move(other.executor_);
        core_ = std::move(other.core_);
    }
    return *this;
}

template <class Executor>
basic_multi<Executor>::~basic_multi() {
    if (core_) core_->shutdown();
}

template <class Executor>
CURLM* basic_multi<Executor>::native_handle() const noexcept {
    return core_ ? core_->native_handle() : nullptr;
}

template <class Executor>
void basic_multi<Executor>::set_option(CURLMoption option, long value, error_code& ec) {
    ec = core_ ? core_->set_option(option, value) : error_code(errc::shut_down);
}

template <class Executor>
void basic_multi<Executor>::set_option(CURLMoption option, long value) {
    error_code ec;
    set_option(option, value, ec);
    if (ec) detail::throw_error(ec, "asiocurl::multi::set_option");
}

template <class Executor>
template <class CompletionToken>
auto basic_multi<Executor>::async_perform(easy& handle, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(error_code)>(initiate_perform{}, token, core_,
                                                                          handle.state(), executor_);
}

template <class Executor>
void basic_multi<Executor>::cancel() {
    if (core_) core_->cancel_all();
}

template <class Executor>
void basic_multi<Executor>::shutdown() {
    if (core_) core_->shutdown();
}

template <class Executor>
std::size_t basic_multi<Executor>::in_flight() const noexcept {
    return core_ ? core_->in_flight() : 0;
}

template <class Executor>
multi_stats basic_multi<Executor>::stats() const noexcept {
    return core_ ? core_->stats() : multi_stats{};
}

}  // namespace asiocurl

#endif
