#ifndef ASIOCURL_HTTP_IMPL_FETCH_HPP
#define ASIOCURL_HTTP_IMPL_FETCH_HPP

#include <asiocurl/detail/block_cache.hpp>
#include <asiocurl/detail/post_completion.hpp>
#include <asiocurl/http/detail/exchange.hpp>
#include <asiocurl/http/multipart.hpp>

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_range.hpp>

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace asiocurl::http {
namespace detail {

// The only templates of a fetch: the Beast bodies. The request body's writer produces what curl's read
// callback sends; the response body's reader takes what curl's write callback delivers; the head goes into
// the response's fields as it arrives.
template <class RequestBody, class RequestFields, class ResponseBody, class ResponseFields>
class fetch_operation final : public exchange {
public:
    using request_type = boost::beast::http::request<RequestBody, RequestFields>;
    using response_type = response<ResponseBody, ResponseFields>;

    // The request moved once; the response given, or made here. Of the options only what is needed after the
    // setup is kept (they are many strings and functions; the exchange holds the cookie jar).
    template <class Request, class Response>
    fetch_operation(Request&& req, std::size_t max_response_size, Response&& into)
        : result(std::forward<Response>(into)),
          request_(std::forward<Request>(req)),
          max_response_size_(max_response_size) {
        result.result(0u);  // until a status line arrives (none does when the fetch fails before)
    }
    template <class Request>
    fetch_operation(Request&& req, std::size_t max_response_size, std::in_place_type_t<response_type>)
        : request_(std::forward<Request>(req)), max_response_size_(max_response_size) {
        result.result(0u);
    }

    // Any thread, before the transfer is handed to the multi: checks and sets everything up on `handle`.
    error_code start(asiocurl::detail::easy_state& handle, const options& opts,
                     boost::asio::any_io_executor progress_executor) {
        request_view& view = view_of(request_);
        const auto size = request_.payload_size();
        if constexpr (is_multipart_body<RequestBody>) {
            view.form = &request_.body();
            started_ = true;
            return prepare(handle, view, opts, std::move(progress_executor));
        }
        view.has_body = !std::is_same_v<RequestBody, boost::beast::http::empty_body> && (!size || *size > 0);
        if (size) view.body_size = *size;
        if (view.has_body) {
            error_code ec;
            writer_.emplace(request_.base(), request_.body());
            writer_->init(ec);
            if (ec) return ec;
        }
        started_ = true;
        return prepare(handle, view, opts, std::move(progress_executor));
    }
    bool started() const noexcept { return started_; }
    // The request as sent (its body can be sent again where its type can be copied): for http::client's
    // next attempt, instead of a copy kept aside.
    request_type&& take_request() noexcept { return std::move(request_); }
    const request_type& request() const noexcept { return request_; }
    // Refused before a transfer began: the progress callback, for its last report all the same.
    void keep_progress_callback(std::function<void(const progress&)> callback) {
        refused_progress_ = std::move(callback);
    }

    // On the handler's executor, just before it runs: the last progress report.
    void end_progress() {
        if (started_)
            report_end_of_progress();
        else if (refused_progress_)
            refused_progress_(progress{.done = true});
    }

    response_type result;

private:
    void on_status(unsigned version, unsigned status, std::string_view reason) override {
        if (fields_added_) result.clear();  // an earlier head's (a redirect followed, a 1xx)
        fields_added_ = false;
        result.version(version);
        result.result(status);
        set_reason(result, reason);
    }
    void on_field(std::string_view name, std::string_view value) override {
        add_field(result, name, value);
        fields_added_ = true;
    }
    void on_final_head() override {
        reader_.emplace(result.base(), result.body());
        const std::optional<std::uint64_t> length = announced_body_length();
        reader_->init(length ? boost::optional<std::uint64_t>(*length) : boost::none, body_error_);
    }
    std::size_t on_body(const char* data, std::size_t length) override {
        // Returning less than `length` fails the transfer (CURLE_WRITE_ERROR); memory stays bounded.
        if (max_response_size_ > 0 && received_ + length > max_response_size_) {
            too_large_ = true;
            return 0;
        }
        if (body_error_) return 0;
        reader_->put(boost::asio::const_buffer(data, length), body_error_);
        if (body_error_) return 0;
        received_ += length;
        return length;
    }
    std::size_t on_request_body(char* buffer, std::size_t capacity) override {
        std::size_t copied = 0;
        while (copied < capacity) {
            if (pending_index_ == pending_.size()) {
                if (source_done_) break;
                pending_.clear();
                pending_index_ = pending_offset_ = 0;
                auto chunk = writer_->get(body_error_);
                if (body_error_) return CURL_READFUNC_ABORT;
                // The body's writer may have cancelled the fetch or destroyed its multi (DESIGN rule 12): no
                // more of it is asked for.
                if (handle()->aborted()) return CURL_READFUNC_ABORT;
                if (!chunk) {
                    source_done_ = true;
                    break;
                }
                for (auto piece : boost::beast::buffers_range_ref(chunk->first))
                    pending_.push_back(piece);
                source_done_ = !chunk->second;
                continue;
            }
            const auto& piece = pending_[pending_index_];
            const std::size_t n = std::min(capacity - copied, piece.size() - pending_offset_);
            std::memcpy(buffer + copied, static_cast<const char*>(piece.data()) + pending_offset_, n);
            copied += n;
            pending_offset_ += n;
            if (pending_offset_ == piece.size()) {
                ++pending_index_;
                pending_offset_ = 0;
            }
        }
        return copied;
    }
    transfer_info& info() noexcept override { return result.info; }
    void on_end(error_code& ec) noexcept override {
        ec = size_limited_result(ec, max_response_size_, too_large_);
        if (body_error_) ec = body_error_;
        if (!ec && reader_) reader_->finish(ec);
    }

    request_type request_;
    std::size_t max_response_size_;
    std::function<void(const progress&)> refused_progress_;
    bool started_ = false;
    bool fields_added_ = false;

    std::optional<typename request_body_writer<RequestBody>::type> writer_;
    std::vector<boost::asio::const_buffer> pending_;  // produced by the writer, not yet copied to curl
    std::size_t pending_index_ = 0, pending_offset_ = 0;
    bool source_done_ = false;

    std::optional<typename ResponseBody::reader> reader_;
    std::size_t received_ = 0;
    bool too_large_ = false;
    error_code body_error_;
};

// A fetch's handler that takes the request back as the fetch ends, before the handler runs (http::client:
// the next attempt sends it again without a copy made for each attempt). `back` may be null: nothing taken.
// Every association is the wrapped handler's.
template <class Handler, class Request>
struct request_return {
    Handler handler;
    Request* back;

    template <class... Args>
    void operator()(Args&&... args) {
        std::move(handler)(std::forward<Args>(args)...);
    }
};

template <class Handler>
struct returns_request : std::false_type {};
template <class Handler, class Request>
struct returns_request<request_return<Handler, Request>> : std::true_type {};

// The operation lives in memory from the handler's associated allocator; when it has none, from the thread's
// block cache (Asio's recycling allocator keeps nothing this large): a fetch in steady state takes its
// operation, and the multi's erased handler, from what the previous fetch of the thread freed.
template <class Operation, class Allocator>
struct operation_deleter {
    using allocator_type = typename std::allocator_traits<Allocator>::template rebind_alloc<Operation>;
    allocator_type allocator;
    void operator()(Operation* op) {
        std::allocator_traits<allocator_type>::destroy(allocator, op);
        std::allocator_traits<allocator_type>::deallocate(allocator, op, 1);
    }
};

template <class Operation, class Allocator>
using operation_ptr = std::unique_ptr<Operation, operation_deleter<Operation, Allocator>>;

template <class Operation, class Allocator, class... Args>
operation_ptr<Operation, Allocator> allocate_operation(const Allocator& allocator, Args&&... args) {
    operation_deleter<Operation, Allocator> deleter{
        typename operation_deleter<Operation, Allocator>::allocator_type(allocator)};
    using traits = std::allocator_traits<typename operation_deleter<Operation, Allocator>::allocator_type>;
    Operation* memory = traits::allocate(deleter.allocator, 1);
    try {
        traits::construct(deleter.allocator, memory, std::forward<Args>(args)...);
    } catch (...) {
        traits::deallocate(deleter.allocator, memory, 1);
        throw;
    }
    return operation_ptr<Operation, Allocator>(memory, std::move(deleter));
}

template <class Handler>
auto operation_allocator(const Handler& handler) {
    return boost::asio::get_associated_allocator(handler, asiocurl::detail::cached_allocator<void>());
}

// Owns the operation until the end; erased into the multi's completion handler, it keeps the user's
// handler's associations (executor, allocator, cancellation slot) and hands over the response.
template <class Operation, class Handler>
class fetch_completion {
public:
    using operation_allocator_type = decltype(operation_allocator(std::declval<const Handler&>()));
    using owned_operation = operation_ptr<Operation, operation_allocator_type>;

    fetch_completion(owned_operation op, Handler handler, boost::asio::any_io_executor fallback)
        : op_(std::move(op)), handler_(std::move(handler)), fallback_(std::move(fallback)) {}

    using executor_type = boost::asio::associated_executor_t<Handler, boost::asio::any_io_executor>;
    executor_type get_executor() const noexcept {
        return boost::asio::get_associated_executor(handler_, fallback_);
    }
    using allocator_type = operation_allocator_type;
    allocator_type get_allocator() const noexcept { return operation_allocator(handler_); }
    using cancellation_slot_type = boost::asio::associated_cancellation_slot_t<Handler>;
    cancellation_slot_type get_cancellation_slot() const noexcept {
        return boost::asio::get_associated_cancellation_slot(handler_);
    }

    void operator()(error_code ec) {
        op_->end_progress();
        auto out = std::move(op_->result);
        if constexpr (returns_request<Handler>::value)
            if (handler_.back) *handler_.back = op_->take_request();
        op_.reset();  // the request and its buffers go before the handler runs
        std::move(handler_)(ec, std::move(out));
    }

private:
    owned_operation op_;
    Handler handler_;
    boost::asio::any_io_executor fallback_;
};

// The response type of a fetch: the one given, or the one named by std::in_place_type (made in place).
template <class Response>
struct fetch_response {
    using type = Response;
};
template <class Response>
struct fetch_response<std::in_place_type_t<Response>> {
    using type = Response;
};

struct initiate_fetch {
    // The request, options and response come as forwarding references: moved once, into the operation.
    template <class Handler, class Executor, class Request, class Options, class Response>
    void operator()(Handler&& handler, basic_multi<Executor>* multi, Request&& request, Options&& opts,
                    Response&& into) const {
        using request_type = std::decay_t<Request>;
        using response_type = typename fetch_response<std::decay_t<Response>>::type;
        using operation =
            fetch_operation<typename request_type::body_type, typename request_type::fields_type,
                            typename response_type::body_type, typename response_type::fields_type>;
        using handler_type = std::decay_t<Handler>;
        const boost::asio::any_io_executor multi_executor(multi->get_executor());
        // Known here, not once erased: whether the handler runs on the multi's own executor (one hop), or
        // where else.
        auto route = asiocurl::detail::route_of(handler, multi->get_executor());
        auto op = allocate_operation<operation>(operation_allocator(handler), std::forward<Request>(request),
                                                opts.max_response_size, std::forward<Response>(into));
        operation& started = *op;
        auto core = asiocurl::detail::multi_access::core(*multi);
        asiocurl::detail::easy_state* handle = core ? core->lend_handle() : nullptr;
        error_code ec =
            !core     ? error_code(errc::shut_down)
            : !handle ? make_error_code(CURLE_OUT_OF_MEMORY)
                      : started.start(*handle, opts, asiocurl::detail::executor_of(route, multi_executor));
        if (!started.started() && opts.on_progress)
            started.keep_progress_callback(std::forward<Options>(opts).on_progress);
        boost::asio::any_completion_handler<void(error_code)> erased(
            fetch_completion<operation, handler_type>(std::move(op), std::forward<Handler>(handler),
                                                      multi_executor));
        if (ec) {
            // Refused before anything was sent: completed from the executor, never inside async_fetch.
            started.result.info.error_message =
                handle && handle->error_buffer[0] ? std::string(handle->error_buffer) : ec.message();
            started.result.info.effective_url = url_of(started.request().target(), opts.base_url);
            if (handle) core->return_unused(handle);
            return asiocurl::detail::post_completion(multi_executor, std::move(erased), ec, route);
        }
        core->initiate(handle, std::move(erased), std::move(route));
    }
};

// Both overloads of each form come here: the options go to async_initiate as given (const or rvalue), so the
// token's own storage (use_awaitable's frame, deferred's arguments) takes the one copy or move a fetch needs;
// by value they were copied into the parameter and moved again (about 540 instructions a fetch in callgrind:
// 11 strings, two vectors, two functions, the optionals).
template <class Response, class Executor, class Request, class Options, class Into, class CompletionToken>
auto start_fetch(basic_multi<Executor>& multi, Request&& request, Options&& opts, Into&& into,
                 CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(error_code, Response)>(
        initiate_fetch{}, token, &multi, std::forward<Request>(request), std::forward<Options>(opts),
        std::forward<Into>(into));
}

}  // namespace detail

template <class ResponseBody, class Executor, class RequestBody, class RequestFields, class CompletionToken>
auto async_fetch(basic_multi<Executor>& multi,
                 boost::beast::http::request<RequestBody, RequestFields> request, const options& opts,
                 CompletionToken&& token) {
    return detail::start_fetch<response<ResponseBody>>(multi, std::move(request), opts,
                                                       std::in_place_type<response<ResponseBody>>,
                                                       std::forward<CompletionToken>(token));
}

template <class ResponseBody, class Executor, class RequestBody, class RequestFields, class CompletionToken>
auto async_fetch(basic_multi<Executor>& multi,
                 boost::beast::http::request<RequestBody, RequestFields> request, options&& opts,
                 CompletionToken&& token) {
    return detail::start_fetch<response<ResponseBody>>(multi, std::move(request), std::move(opts),
                                                       std::in_place_type<response<ResponseBody>>,
                                                       std::forward<CompletionToken>(token));
}

template <class Executor, class RequestBody, class RequestFields, class ResponseBody, class ResponseFields,
          class CompletionToken>
auto async_fetch(basic_multi<Executor>& multi,
                 boost::beast::http::request<RequestBody, RequestFields> request, const options& opts,
                 response<ResponseBody, ResponseFields> into, CompletionToken&& token) {
    return detail::start_fetch<response<ResponseBody, ResponseFields>>(
        multi, std::move(request), opts, std::move(into), std::forward<CompletionToken>(token));
}

template <class Executor, class RequestBody, class RequestFields, class ResponseBody, class ResponseFields,
          class CompletionToken>
auto async_fetch(basic_multi<Executor>& multi,
                 boost::beast::http::request<RequestBody, RequestFields> request, options&& opts,
                 response<ResponseBody, ResponseFields> into, CompletionToken&& token) {
    return detail::start_fetch<response<ResponseBody, ResponseFields>>(
        multi, std::move(request), std::move(opts), std::move(into), std::forward<CompletionToken>(token));
}

template <class Executor, class CompletionToken>
auto async_fetch(basic_multi<Executor>& multi, url_ref url, CompletionToken&& token) {
    boost::beast::http::request<boost::beast::http::empty_body> request(boost::beast::http::verb::get,
                                                                        url.text(), 11);
    return async_fetch(multi, std::move(request), options{}, std::forward<CompletionToken>(token));
}

namespace detail {
// The multi a pool runs a fetch on, picked by the URL the fetch will have; the pool's share by default.
template <class Request>
multi& pool_member_for(multi_pool& pool, const Request& request, options& opts) {
    if (!opts.share && !opts.cookies) opts.share = pool.get_share();
    const std::string_view target = request.target();
    return pool.member_for(target.find("://") != std::string_view::npos ? target
                                                                        : std::string_view(opts.base_url));
}
}  // namespace detail

template <class ResponseBody, class RequestBody, class RequestFields, class CompletionToken>
auto async_fetch(multi_pool& pool, boost::beast::http::request<RequestBody, RequestFields> request,
                 options opts, CompletionToken&& token) {
    multi& member = detail::pool_member_for(pool, request, opts);
    return async_fetch<ResponseBody>(member, std::move(request), std::move(opts),
                                     std::forward<CompletionToken>(token));
}

template <class RequestBody, class RequestFields, class ResponseBody, class ResponseFields,
          class CompletionToken>
auto async_fetch(multi_pool& pool, boost::beast::http::request<RequestBody, RequestFields> request,
                 options opts, response<ResponseBody, ResponseFields> into, CompletionToken&& token) {
    multi& member = detail::pool_member_for(pool, request, opts);
    return async_fetch(member, std::move(request), std::move(opts), std::move(into),
                       std::forward<CompletionToken>(token));
}

template <class CompletionToken>
auto async_fetch(multi_pool& pool, url_ref url, CompletionToken&& token) {
    boost::beast::http::request<boost::beast::http::empty_body> request(boost::beast::http::verb::get,
                                                                        url.text(), 11);
    return async_fetch(pool, std::move(request), options{}, std::forward<CompletionToken>(token));
}

}  // namespace asiocurl::http

template <template <class, class> class Associator, class Handler, class Request, class DefaultCandidate>
struct boost::asio::associator<Associator, asiocurl::http::detail::request_return<Handler, Request>,
                               DefaultCandidate> : Associator<Handler, DefaultCandidate> {
    static typename Associator<Handler, DefaultCandidate>::type get(
        const asiocurl::http::detail::request_return<Handler, Request>& h,
        const DefaultCandidate& candidate = DefaultCandidate()) noexcept {
        return Associator<Handler, DefaultCandidate>::get(h.handler, candidate);
    }
};

#endif
