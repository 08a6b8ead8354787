#ifndef ASIOCURL_HTTP_IMPL_STREAM_HPP
#define ASIOCURL_HTTP_IMPL_STREAM_HPP

#include <asiocurl/detail/block_cache.hpp>
#include <asiocurl/http/multipart.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_range.hpp>

#include <string>
#include <type_traits>
#include <utility>

namespace asiocurl::http {
namespace detail {

// A body given with the request is produced up front with its Beast writer (streams that need more stream it
// with start_upload instead).
template <class Body, class Fields>
std::string whole_body(boost::beast::http::request<Body, Fields>& request, error_code& ec) {
    std::string out;
    if constexpr (is_multipart_body<Body>) {
        ec = errc::invalid_argument;  // curl's MIME API makes its bytes: a fetch sends it, a stream cannot
    } else if constexpr (!std::is_same_v<Body, boost::beast::http::empty_body>) {
        typename Body::writer source(request.base(), request.body());
        source.init(ec);
        while (!ec) {
            auto chunk = source.get(ec);
            if (ec || !chunk) break;
            for (auto piece : boost::beast::buffers_range_ref(chunk->first))
                out.append(static_cast<const char*>(piece.data()), piece.size());
            if (!chunk->second) break;
        }
    }
    return out;
}

// The transfer's completion, which ends the stream. Destroyed uninvoked (its io_context died after the multi
// completed it), it destroys the stream's pending handlers uninvoked too, as Asio does with its own: they
// live in the stream, so nothing else would, and one that owns the stream would keep it alive forever.
struct transfer_end {
    std::shared_ptr<stream_core> core;

    explicit transfer_end(std::shared_ptr<stream_core> c) noexcept : core(std::move(c)) {}
    // The erased handler the multi holds comes from the thread's block cache, not the heap.
    using allocator_type = asiocurl::detail::cached_allocator<void>;
    allocator_type get_allocator() const noexcept { return {}; }
    transfer_end(transfer_end&&) noexcept = default;
    transfer_end& operator=(transfer_end&&) = delete;
    ~transfer_end() {
        if (core) core->drop_pending();
    }
    void operator()(error_code ec) { std::exchange(core, nullptr)->on_transfer_done(ec); }
};

// Sets the exchange up on a handle the multi lends and hands it over; the transfer's completion (on the
// multi's executor) ends the stream.
template <class Executor>
error_code launch(basic_multi<Executor>& multi, const std::shared_ptr<stream_core>& core, request_view& view,
                  const options& opts, bool upload, std::optional<std::uint64_t> upload_size,
                  std::string body) {
    auto multi_core = asiocurl::detail::multi_access::core(multi);
    if (!multi_core) return errc::shut_down;
    if (core->prepared()) return errc::easy_in_use;
    auto* handle = multi_core->lend_handle();
    if (!handle) return make_error_code(CURLE_OUT_OF_MEMORY);
    if (auto ec = core->prepare(*handle, view, opts, upload, upload_size, std::move(body))) {
        multi_core->return_unused(handle);
        return ec;
    }
    multi_core->initiate(handle,
                         boost::asio::any_completion_handler<void(error_code)>(
                             boost::asio::bind_cancellation_slot(core->abort_slot(), transfer_end(core))),
                         asiocurl::detail::completion_route{{}, true});
    return {};
}

// Completes an operation on a stream with no state (moved from): posted, never inline.
template <class Handler, class Executor, class... Args>
void fail_moved_from(Handler&& handler, const Executor& executor, Args... args) {
    auto ex = boost::asio::get_associated_executor(handler, executor);
    boost::asio::post(ex, boost::asio::append(std::forward<Handler>(handler), args...));
}

}  // namespace detail

template <class Executor>
basic_stream<Executor>::basic_stream(basic_multi<Executor>& multi, std::size_t buffer_size)
    : executor_(multi.get_executor()),
      multi_(&multi),
      core_(
          std::allocate_shared<detail::stream_core>(asiocurl::detail::cached_allocator<detail::stream_core>(),
                                                    boost::asio::any_io_executor(executor_), buffer_size)) {}

template <class Executor>
basic_stream<Executor>& basic_stream<Executor>::operator=(basic_stream&& other) noexcept {
    if (this != &other) {
        if (core_) core_->cancel();
        executor_ = other.executor_;
        multi_ = other.multi_;
        core_ = std::move(other.core_);
    }
    return *this;
}

template <class Executor>
basic_stream<Executor>::~basic_stream() {
    if (core_) core_->cancel();
}

template <class Executor>
template <class Body, class Fields>
void basic_stream<Executor>::start(boost::beast::http::request<Body, Fields> request, const options& opts,
                                   error_code& ec) {
    if (!core_) {
        ec = errc::empty_handle;
        return;
    }
    ec = {};
    std::string body = detail::whole_body(request, ec);
    auto& view = detail::view_of(request);
    if (ec) return;
    view.has_body = !body.empty() || (request.method() != boost::beast::http::verb::get &&
                                      request.method() != boost::beast::http::verb::head &&
                                      !std::is_same_v<Body, boost::beast::http::empty_body>);
    if (view.has_body) view.body_size = body.size();
    ec = detail::launch(*multi_, core_, view, opts, false, std::nullopt, std::move(body));
}

template <class Executor>
template <class Body, class Fields>
void basic_stream<Executor>::start(boost::beast::http::request<Body, Fields> request, const options& opts) {
    error_code ec;
    start(std::move(request), opts, ec);
    if (ec) asiocurl::detail::throw_error(ec, "asiocurl::http::stream::start");
}

template <class Executor>
template <class Body, class Fields>
void basic_stream<Executor>::start_upload(const boost::beast::http::request<Body, Fields>& request,
                                          std::optional<std::uint64_t> body_size, const options& opts,
                                          error_code& ec) {
    if (!core_) {
        ec = errc::empty_handle;
        return;
    }
    auto& view = detail::view_of(request);
    view.has_body = true;
    view.body_size = body_size;
    ec = detail::launch(*multi_, core_, view, opts, true, body_size, {});
}

template <class Executor>
template <class Body, class Fields>
void basic_stream<Executor>::start_upload(const boost::beast::http::request<Body, Fields>& request,
                                          std::optional<std::uint64_t> body_size, const options& opts) {
    error_code ec;
    start_upload(request, body_size, opts, ec);
    if (ec) asiocurl::detail::throw_error(ec, "asiocurl::http::stream::start_upload");
}

template <class Executor>
template <class CompletionToken>
auto basic_stream<Executor>::async_read_header(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(error_code)>(
        [](auto handler, std::shared_ptr<detail::stream_core> core, const executor_type& ex) {
            if (!core) return detail::fail_moved_from(std::move(handler), ex, error_code(errc::empty_handle));
            auto to = asiocurl::detail::route_of(handler, ex);
            core->read_header(detail::stream_core::wait_handler(
                                  asiocurl::detail::with_default_allocator(std::move(handler))),
                              std::move(to));
        },
        token, core_, executor_);
}

template <class Executor>
template <class MutableBufferSequence, class CompletionToken>
auto basic_stream<Executor>::async_read_some(const MutableBufferSequence& buffers, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(error_code, std::size_t)>(
        [](auto handler, std::shared_ptr<detail::stream_core> core, const executor_type& ex,
           const detail::buffer_list<boost::asio::mutable_buffer>& list) {
            if (!core)
                return detail::fail_moved_from(std::move(handler), ex, error_code(errc::empty_handle),
                                               std::size_t{0});
            auto to = asiocurl::detail::route_of(handler, ex);
            core->read_some(
                list,
                detail::stream_core::io_handler(asiocurl::detail::with_default_allocator(std::move(handler))),
                std::move(to));
        },
        token, core_, executor_, detail::buffer_list<boost::asio::mutable_buffer>::from(buffers));
}

template <class Executor>
template <class ConstBufferSequence, class CompletionToken>
auto basic_stream<Executor>::async_write_some(const ConstBufferSequence& buffers, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(error_code, std::size_t)>(
        [](auto handler, std::shared_ptr<detail::stream_core> core, const executor_type& ex,
           const detail::buffer_list<boost::asio::const_buffer>& list) {
            if (!core)
                return detail::fail_moved_from(std::move(handler), ex, error_code(errc::empty_handle),
                                               std::size_t{0});
            auto to = asiocurl::detail::route_of(handler, ex);
            core->write_some(
                list,
                detail::stream_core::io_handler(asiocurl::detail::with_default_allocator(std::move(handler))),
                std::move(to));
        },
        token, core_, executor_, detail::buffer_list<boost::asio::const_buffer>::from(buffers));
}

template <class Executor>
template <class CompletionToken>
auto basic_stream<Executor>::async_finish_upload(CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(error_code)>(
        [](auto handler, std::shared_ptr<detail::stream_core> core, const executor_type& ex) {
            if (!core) return detail::fail_moved_from(std::move(handler), ex, error_code(errc::empty_handle));
            auto to = asiocurl::detail::route_of(handler, ex);
            core->finish_upload(detail::stream_core::wait_handler(
                                    asiocurl::detail::with_default_allocator(std::move(handler))),
                                std::move(to));
        },
        token, core_, executor_);
}

template <class Executor>
void basic_stream<Executor>::cancel() {
    if (core_) core_->cancel();
}

}  // namespace asiocurl::http

#endif
