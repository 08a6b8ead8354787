#ifndef ASIOCURL_HTTP_IMPL_CLIENT_HPP
#define ASIOCURL_HTTP_IMPL_CLIENT_HPP

#include <asiocurl/detail/block_cache.hpp>
#include <asiocurl/http/detail/client_state.hpp>

#include <asiocurl/detail/cancellation_relay.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/smart_ptr/intrusive_ptr.hpp>

#include <string>
#include <type_traits>

namespace asiocurl::http {
namespace detail {

// An attempt's fetch, its options read where they are (a fetch keeps none of them after it began).
template <class ResponseBody, class Executor, class Request, class Handler>
void start_fetch(basic_multi<Executor>& multi, Request&& request, const options& opts, Handler handler) {
    boost::asio::async_initiate<Handler, void(error_code, response<ResponseBody>)>(
        initiate_fetch{}, handler, &multi, std::forward<Request>(request), opts,
        std::in_place_type<response<ResponseBody>>);
}

// On a pool, the multi its routing picks (the client's options carry the pool's share: basic_client).
template <class ResponseBody, class Request, class Handler>
void start_fetch(multi_pool& pool, Request&& request, const options& opts, Handler handler) {
    const std::string_view target = request.target();
    multi& member = pool.member_for(
        target.find("://") != std::string_view::npos ? target : std::string_view(opts.base_url));
    start_fetch<ResponseBody>(member, std::forward<Request>(request), opts, std::move(handler));
}

// One call: the request kept for the attempts to come, and what the attempts so far found. Allocated once a
// call (from the thread's block cache); the operation that runs it is only this pointer, so moving it from
// one step to the next costs nothing.
template <class Target, class RequestBody, class ResponseBody>
struct client_call {
    using clock = std::chrono::steady_clock;
    using request_type = boost::beast::http::request<RequestBody>;
    using response_type = response<ResponseBody>;
    // A body that can be copied can be sent again; the last attempt the policy allows takes the original.
    static constexpr bool replayable = std::is_copy_constructible_v<request_type>;

    client_call(Target& t, std::shared_ptr<client_state> s, request_type r, call_options c)
        : target(&t), state(std::move(s)), request(std::move(r)), call(std::move(c)) {}

    Target* target;
    std::shared_ptr<client_state> state;
    request_type request;
    call_options call;
    const retry_policy& policy() const { return call.retry ? *call.retry : state->options.retry; }

    std::string method;
    std::uint64_t number = 0;  // the call's, for middleware
    std::string url;           // the first attempt's URL
    std::string destination;   // its "scheme://host:port"
    clock::time_point started{};
    std::optional<clock::time_point> deadline;
    clock::time_point attempt_started{};
    unsigned attempt = 0;
    bool start_posted = false;              // the first step was posted to the call's executor
    bool initiating = false;                // still inside the initiating call: a result found now is posted
    std::optional<response_type> deferred;  // that result, until the posted step completes with it
    error_code deferred_error;
    std::optional<boost::asio::steady_timer> backoff;
    std::optional<response_type> last;  // the last attempt's, kept while the client waits to retry
    std::vector<transfer_info::retried_attempt> retried;

    // Cancellation: the caller's slot holds a relay (emitted on any thread, delivered on the call's
    // executor), which emits `signal`, the slot of whichever attempt or wait runs.
    boost::intrusive_ptr<asiocurl::detail::cancellation_relay> relay;
    boost::asio::cancellation_signal signal;
    bool cancelled() const noexcept { return relay && relay->requested() != 0; }
    static void deliver_cancellation(void* call, std::uint64_t, unsigned types) {
        static_cast<client_call*>(call)->signal.emit(static_cast<boost::asio::cancellation_type>(types));
    }

    client_call(const client_call&) = delete;
    client_call& operator=(const client_call&) = delete;
    ~client_call() {
        if (relay) relay->disarm();
    }

    std::optional<std::chrono::milliseconds> remaining(clock::time_point now) const {
        if (!deadline) return std::nullopt;
        return std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - now);
    }
    attempt_context context() const {
        return attempt_context{method, url, destination, number, attempt, started, deadline};
    }
};

template <class Target, class RequestBody, class ResponseBody>
class client_operation {
public:
    using call_type = client_call<Target, RequestBody, ResponseBody>;
    using call_ptr = operation_ptr<call_type, asiocurl::detail::cached_allocator<void>>;
    using response_type = typename call_type::response_type;

    explicit client_operation(call_ptr c) : call_(std::move(c)) {}

    // The start, on the call's executor (the handler's, else the client's): called from another thread, the
    // first step is posted there, so that every step of the call, and the cancellation relay, run on it.
    template <class Self>
    void operator()(Self& self) {
        call_type& c = *call_;
        if (!c.start_posted &&
            !asiocurl::detail::running_in_this_thread(boost::asio::any_io_executor(self.get_executor()))) {
            c.start_posted = true;
            return boost::asio::post(std::move(self));
        }
        c.initiating = !c.start_posted;
        c.started = call_type::clock::now();
        const std::chrono::milliseconds deadline =
            c.call.deadline ? *c.call.deadline : c.state->options.deadline;
        if (deadline.count() > 0) c.deadline = c.started + deadline;
        if (c.call.retry && check(*c.call.retry))
            return fail(self, response_type(), errc::invalid_argument,
                        "asiocurl: the call's retry policy cannot work");
        add_default_fields(c.request.base(), c.state->options);
        c.method = c.request.method_string();
        // What only middleware read: not worked out for a client without any.
        if (!c.state->options.middleware.empty()) {
            c.number = next_call_number();
            c.url = url_of(c.request.target(), c.state->options.base_url);
            c.destination = destination_of(c.url);
        }
        c.state->record_request(c.started);
        begin_attempt(self);
    }

    // An attempt ended.
    template <class Self>
    void operator()(Self& self, error_code ec, response_type&& res) {
        call_type& c = *call_;
        const auto now = call_type::clock::now();
        const bool cancelled = c.cancelled();
        attempt_result result{.method = c.method,
                              .error = ec,
                              .status = res.result_int(),
                              .request_sent = res.info.request_sent,
                              .body_replayable = call_type::replayable && body_replayable(c.request),
                              .retry_after = res.info.retry_after};
        retry_decision next;
        // A response below 400 is never retried but by retry_if: the common case decides nothing.
        const bool may_retry = ec || res.result_int() >= 400 || c.policy().retry_if;
        std::string failure;
        if (!cancelled && may_retry) {
            // retry_if is the caller's: what it throws ends the call as a middleware's would.
            if (!guarded(
                    [&] {
                        next = decide_retry(c.policy(), c.attempt, result, c.remaining(now), jitter_unit());
                    },
                    failure))
                return fail(self, std::move(res), errc::middleware_failed, std::move(failure));
            if (next.retry && !c.state->spend_retry(now)) {
                next.retry = false;
                next.why = retry_reason::budget_exhausted;
            }
        }
        if (!run_after(c.state->options, c.context(),
                       attempt_outcome{ec, res.base(), res.info, now - c.attempt_started, next}, failure))
            return fail(self, std::move(res), errc::middleware_failed, std::move(failure));
        if (!next.retry) return finish(self, ec, std::move(res));
        c.retried.push_back(transfer_info::retried_attempt{
            ec, res.result_int(), std::move(res.info.error_message), next.why, next.delay});
        c.last.emplace(std::move(res));
        c.backoff.emplace(self.get_io_executor(), next.delay);
        c.backoff->async_wait(boost::asio::bind_cancellation_slot(c.signal.slot(), std::move(self)));
    }

    // The backoff's end, or a result found inside the initiating call, posted.
    template <class Self>
    void operator()(Self& self, error_code ec) {
        call_type& c = *call_;
        if (c.deferred) {
            response_type res = std::move(*c.deferred);
            c.deferred.reset();
            return finish(self, c.deferred_error, std::move(res));
        }
        response_type last = std::move(*c.last);
        c.last.reset();
        c.backoff.reset();
        if (ec || c.cancelled()) return finish(self, boost::asio::error::operation_aborted, std::move(last));
        begin_attempt(self);
    }

private:
    template <class Self>
    void begin_attempt(Self& self) {
        call_type& c = *call_;
        ++c.attempt;
        c.attempt_started = call_type::clock::now();
        const auto remaining = c.remaining(c.attempt_started);
        if (remaining && remaining->count() <= 0) {
            response_type last = c.last ? std::move(*c.last) : response_type();
            return fail(self, std::move(last), make_error_code(CURLE_OPERATION_TIMEDOUT),
                        "asiocurl: the call's deadline passed before attempt " + std::to_string(c.attempt));
        }
        const client_options& defaults = c.state->options;
        // The client's transfer options as they are, unless this call or its deadline changes them.
        const options* transfer = &defaults.transfer;
        std::optional<options> adjusted;
        if (c.call.adjust || remaining) {
            adjusted.emplace(defaults.transfer);
            std::string failure;
            if (c.call.adjust && !guarded([&] { c.call.adjust(*adjusted); }, failure))
                return fail(self, c.last ? std::move(*c.last) : response_type(), errc::middleware_failed,
                            std::move(failure));
            if (remaining)
                adjusted->timeout =
                    adjusted->timeout.count() > 0 ? std::min(adjusted->timeout, *remaining) : *remaining;
            transfer = &*adjusted;
        }
        // Another attempt may follow: the request stays. Where nothing changes what an attempt sends, the
        // attempt sends the original and the fetch hands it back as it ends; middleware and the deadline
        // field change it, so those attempts send a copy and the original stays as the caller made it.
        using request_type = typename call_type::request_type;
        const bool again = call_type::replayable && c.attempt < c.policy().max_attempts;
        const bool changed_per_attempt =
            !defaults.middleware.empty() || (remaining && !defaults.deadline_header.empty());
        request_type* back = again && !changed_per_attempt ? &c.request : nullptr;
        request_type sent = [&]() -> request_type {
            if constexpr (call_type::replayable)
                if (again && changed_per_attempt) return c.request;
            return std::move(c.request);
        }();
        if (remaining && !defaults.deadline_header.empty())
            sent.set(defaults.deadline_header, std::to_string(remaining->count()));
        std::string failure;
        std::size_t ran = 0;
        const bool hooks_ran = run_before(defaults, c.context(), sent.base(), ran, failure);
        if (c.cancelled() || !hooks_ran) {
            // Nothing more is sent (cancelled by a hook, or on another thread meanwhile). The hooks that ran
            // before this attempt see it end, as after any other.
            const error_code why = hooks_ran ? error_code(boost::asio::error::operation_aborted)
                                             : error_code(errc::middleware_failed);
            response_type none;
            none.result(0u);  // no response (Beast's default is 200)
            std::string ignored;
            run_after(defaults, c.context(), attempt_outcome{why, none.base(), none.info, {}, {}}, ran,
                      ignored);
            if (c.url.empty())
                c.url = url_of(sent.target(), defaults.base_url);  // the original may be in `sent`
            response_type last = c.last ? std::move(*c.last) : response_type();
            if (hooks_ran) return finish(self, why, std::move(last));
            return fail(self, std::move(last), why, std::move(failure));
        }
        // A hook may have changed the method: the retry rules go by what was sent.
        if (!defaults.middleware.empty()) c.method = sent.method_string();
        c.initiating = false;
        auto bound = boost::asio::bind_cancellation_slot(c.signal.slot(), std::move(self));
        start_fetch<ResponseBody>(*c.target, std::move(sent), *transfer,
                                  request_return<decltype(bound), request_type>{std::move(bound), back});
    }

    template <class Self>
    void fail(Self& self, response_type&& res, error_code ec, std::string message) {
        res.info.error_message = std::move(message);
        finish(self, ec, std::move(res));
    }

    // The call's memory goes before its handler runs.
    template <class Self>
    // The response is moved once more, into the handler (a move of Beast's fields and the info is ~700
    // instructions).
    void finish(Self& self, error_code ec, response_type&& res) {
        if (call_->initiating) {  // never inside the initiating call: completed from the executor
            call_->initiating = false;
            call_->deferred_error = ec;
            call_->deferred.emplace(std::move(res));
            return boost::asio::post(boost::asio::append(std::move(self), error_code()));
        }
        res.info.attempts = std::max(call_->attempt, 1u);
        res.info.retried = std::move(call_->retried);
        if (res.info.effective_url.empty())  // ended before an attempt reached curl
            res.info.effective_url = call_->url.empty()
                                         ? url_of(call_->request.target(), call_->state->options.base_url)
                                         : std::move(call_->url);
        call_.reset();  // disarms the relay: nothing is delivered to this call afterwards
        self.complete(ec, std::move(res));
    }

    call_ptr call_;
};

// A handler as the composed operation sees it: without its cancellation slot (the call's relay holds it),
// its executor and allocator as before. (Boost 1.81's bind_cancellation_slot cannot wrap a handler that is
// itself a cancellation_slot_binder.)
template <class Handler>
struct slotless_handler {
    Handler handler;
    template <class... Args>
    void operator()(Args&&... args) {
        std::move(handler)(std::forward<Args>(args)...);
    }
};

// The caller's cancellation slot gets a relay that may be emitted on any thread (a client on a pool or a
// strand multi is called from several); the composed operation sees a handler without a slot, and hands
// each attempt and wait the call's own, emitted on the call's executor.
template <class Target, class RequestBody, class ResponseBody>
struct initiate_client_call {
    template <class Handler>
    void operator()(Handler&& handler, Target* target, std::shared_ptr<client_state> state,
                    boost::beast::http::request<RequestBody> request, call_options call) const {
        using operation = client_operation<Target, RequestBody, ResponseBody>;
        auto c = allocate_operation<typename operation::call_type>(asiocurl::detail::cached_allocator<void>(),
                                                                   *target, std::move(state),
                                                                   std::move(request), std::move(call));
        const auto executor = target->get_executor();
        if (auto slot = boost::asio::get_associated_cancellation_slot(handler); slot.is_connected()) {
            auto* relay = new asiocurl::detail::cancellation_relay(
                boost::asio::any_io_executor(boost::asio::get_associated_executor(handler, executor)),
                c.get(), 0, &operation::call_type::deliver_cancellation);
            c->relay.reset(relay, false);
            slot.template emplace<asiocurl::detail::relay_slot_handler>(relay);
        }
        // async_compose takes the token by reference and moves it (the handler may be move-only).
        slotless_handler<std::decay_t<Handler>> wrapped{std::forward<Handler>(handler)};
        boost::asio::async_compose<slotless_handler<std::decay_t<Handler>>,
                                   void(error_code, response<ResponseBody>)>(operation(std::move(c)), wrapped,
                                                                             executor);
    }
};

}  // namespace detail

namespace detail {
// A pool's fetches use its share unless the options name one (as http::async_fetch on a pool does).
inline client_options with_pool_share(client_options options, multi_pool& pool) {
    if (!options.transfer.share && !options.transfer.cookies) options.transfer.share = pool.get_share();
    return options;
}
template <class Executor>
client_options with_pool_share(client_options options, basic_multi<Executor>&) {
    return options;
}
}  // namespace detail

template <class Target>
basic_client<Target>::basic_client(Target& target, client_options options)
    : target_(&target),
      state_(std::make_shared<detail::client_state>(detail::with_pool_share(std::move(options), target))) {}

template <class Target>
const client_options& basic_client<Target>::options() const noexcept {
    return state_->options;
}

template <class Target>
template <class ResponseBody, class RequestBody, class CompletionToken>
auto basic_client<Target>::async_fetch(boost::beast::http::request<RequestBody> request, call_options call,
                                       CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(error_code, response<ResponseBody>)>(
        detail::initiate_client_call<Target, RequestBody, ResponseBody>{}, token, target_, state_,
        std::move(request), std::move(call));
}

template <class Target>
boost::beast::http::request<boost::beast::http::string_body> basic_client<Target>::make_request(
    boost::beast::http::verb method, std::string_view target, std::string body,
    std::string_view content_type) {
    boost::beast::http::request<boost::beast::http::string_body> request(method, target, 11);
    if (!content_type.empty()) request.set(boost::beast::http::field::content_type, content_type);
    if (!body.empty() || method == boost::beast::http::verb::post ||
        method == boost::beast::http::verb::put || method == boost::beast::http::verb::patch) {
        request.body() = std::move(body);
        request.prepare_payload();
    }
    return request;
}

}  // namespace asiocurl::http

template <template <class, class> class Associator, class Handler, class DefaultCandidate>
struct boost::asio::associator<Associator, asiocurl::http::detail::slotless_handler<Handler>,
                               DefaultCandidate> : Associator<Handler, DefaultCandidate> {
    static typename Associator<Handler, DefaultCandidate>::type get(
        const asiocurl::http::detail::slotless_handler<Handler>& h,
        const DefaultCandidate& candidate = DefaultCandidate()) noexcept {
        return Associator<Handler, DefaultCandidate>::get(h.handler, candidate);
    }
};

template <class Handler, class Slot>
struct boost::asio::associated_cancellation_slot<asiocurl::http::detail::slotless_handler<Handler>, Slot> {
    using type = Slot;
    static type get(const asiocurl::http::detail::slotless_handler<Handler>&,
                    const Slot& slot = Slot()) noexcept {
        return slot;
    }
};

#endif
