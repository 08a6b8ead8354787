// Bodies of detail::multi_core, the reactor glue. Included by src/multi_core.cpp (for curl_engine) and by
// the scripted-engine tests; the DESIGN rule each part exists for is named beside it.
#ifndef ASIOCURL_DETAIL_IMPL_MULTI_CORE_IPP
#define ASIOCURL_DETAIL_IMPL_MULTI_CORE_IPP

#include <asiocurl/detail/block_cache.hpp>
#include <asiocurl/detail/global_init.hpp>
#include <asiocurl/detail/multi_core.hpp>
#include <asiocurl/detail/post_completion.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/detail/thread_context.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/strand.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <new>
#include <utility>

namespace asiocurl::detail {

template <class Engine>
socket_registration<Engine>::~socket_registration() {
    // Never close curl's fd (rule 3), even if this registration dies without having been retired; the
    // glue's own duplicate is closed.
    error_code ignored;
    if (own_fd >= 0 && descriptor.is_open())
        descriptor.close(ignored);
    else if (own_fd >= 0)
        ::close(own_fd);
    else if (descriptor.is_open())
        descriptor.release();
}

// Increments the depth of curl calls on the stack for the scope's duration (rule 1).
template <class Engine>
class multi_core<Engine>::curl_call_scope {
public:
    explicit curl_call_scope(multi_core& core) noexcept : core_(core) { ++core_.curl_depth_; }
    ~curl_call_scope() { --core_.curl_depth_; }
    curl_call_scope(const curl_call_scope&) = delete;
    curl_call_scope& operator=(const curl_call_scope&) = delete;

private:
    multi_core& core_;
};

// One reactor or timer turn of the multi: from the readiness (or timeout) to curl's return and the messages
// drained. Completions it makes for handlers on the multi's own executor are collected (complete()) and run
// by end(), after the turn's work: each saves a post and, with it, a round of the scheduler and the
// epoll_wait(0) Asio makes between handlers. Only the outermost turn collects; a turn inside a delivered
// handler (a nested run of the io_context) posts as before.
template <class Engine>
class multi_core<Engine>::reactor_turn {
public:
    explicit reactor_turn(multi_core& core) noexcept
        : core_(core), outer_(!core.collecting_ && !core.delivering_) {
        if (outer_) core_.collecting_ = true;
    }
    reactor_turn(const reactor_turn&) = delete;
    reactor_turn& operator=(const reactor_turn&) = delete;

    // The last use of the core by the turn: a handler run here may destroy the multi.
    void end() {
        if (!std::exchange(outer_, false)) return;
        core_.collecting_ = false;
        if (!core_.ready_.empty()) core_.deliver_ready();
    }

    ~reactor_turn() {
        if (!outer_) return;
        // Left by an exception: what was collected completes as before, posted.
        core_.collecting_ = false;
        if (core_.ready_.empty()) return;
        core_.post_ready();
        intrusive_ptr_release(&core_);  // the reference the first collected completion took
    }

private:
    multi_core& core_;
    bool outer_;
};

// The completion of one async_wait. Holds its registration alive; a retired registration's completion is
// dropped without touching the multi, which may be gone (rules 3, 4, 10).
template <class Engine>
struct multi_core<Engine>::wait_handler {
    boost::intrusive_ptr<registration> reg;
    int direction;             // CURL_CSELECT_IN or CURL_CSELECT_OUT
    std::uint32_t generation;  // the registration's wait_generation when the wait was queued

    // Every wait's operation from the thread's block cache: Asio's own recycling keeps two blocks, and with
    // a wait per connection the rest went to aligned_alloc (about one a transfer at 16 in flight).
    using allocator_type = cached_allocator<void>;
    allocator_type get_allocator() const noexcept { return {}; }

    void operator()(const error_code& ec) {
        // A cancelled wait's flag was cleared by whoever cancelled it (park, retire): a wait started since
        // keeps its own.
        if (ec == boost::asio::error::operation_aborted) return;
        // Completed before a cancel took effect, its readiness is older than the interest or registration
        // that replaced it; the flag belongs to a wait queued since.
        if (generation != reg->wait_generation) return;
        (direction == CURL_CSELECT_IN ? reg->waiting_in : reg->waiting_out) = false;
        if (!reg->retired) reg->owner->on_socket_ready(*reg, direction, ec);
    }
};

// Picks a transfer up on the multi's executor. If it is destroyed uninvoked (its io_context died first),
// the transfer is forgotten so that the `easy` does not point at a dead multi; detach() destroys the handler
// last, since it may own the `easy` and so `state` (DESIGN rule 12).
template <class Engine>
struct multi_core<Engine>::start_op {
    boost::intrusive_ptr<multi_core> core;
    easy_state* state;

    start_op(boost::intrusive_ptr<multi_core> c, easy_state* s) : core(std::move(c)), state(s) {}
    start_op(start_op&& other) noexcept
        : core(std::move(other.core)), state(std::exchange(other.state, nullptr)) {}
    start_op& operator=(start_op&&) = delete;
    ~start_op() {
        if (!state) return;
        core->operations_.fetch_sub(1, std::memory_order_relaxed);  // never completed: its context died
        // Read first: detach() destroys the handler, which may own the `easy` and so `state`.
        const bool lent = state->lent;
        // A lent handle may use the share of a cookie jar that only its exchange holds, and so dies with the
        // handler: curl_share_cleanup refuses a share still in use, and curl_easy_cleanup would lock it.
        if (lent) curl_easy_setopt(state->handle, CURLOPT_SHARE, static_cast<CURLSH*>(nullptr));
        if (state->transfer.orphaned)
            destroy_orphan(state);
        else
            multi_core::detach(*state);
        if (lent) free_handle(state);  // its exchange died with the handler; nobody else owns a lent one
    }

    void operator()() { core->start(*std::exchange(state, nullptr)); }
};

template <class Engine>
boost::intrusive_ptr<multi_core<Engine>> multi_core<Engine>::create(executor_type executor) {
    ensure_curl_global_init();
    return boost::intrusive_ptr<multi_core>(new multi_core(std::move(executor)), false);
}

template <class Engine>
multi_core<Engine>::multi_core(executor_type executor) : executor_(executor), timer_(executor) {
    if (!engine_.valid()) throw system_error(make_error_code(CURLM_OUT_OF_MEMORY), "curl_multi_init");
    own_numbers_ = curl_version_info(CURLVERSION_NOW)->version_num < 0x080500;
    ready_.reserve(64);  // more completions in one turn are posted: nothing allocated per transfer
    track(engine_.setopt(CURLMOPT_SOCKETFUNCTION, &multi_core::on_socket));
    track(engine_.setopt(CURLMOPT_SOCKETDATA, static_cast<void*>(this)));
    track(engine_.setopt(CURLMOPT_TIMERFUNCTION, &multi_core::on_timer));
    track(engine_.setopt(CURLMOPT_TIMERDATA, static_cast<void*>(this)));
}

template <class Engine>
multi_core<Engine>::~multi_core() {
    shut_down_.store(true);
    shutdown_now();
}

template <class Engine>
CURLM* multi_core<Engine>::native_handle() const noexcept {
    return engine_.native_handle();
}

template <class Engine>
void multi_core<Engine>::track(CURLMcode result) noexcept {
    if (result == CURLM_OK) return;
    ++stats_.curl_errors;
    stats_.last_curl_error = result;
}

// ---- starting and finishing transfers ----------------------------------------------------------------

template <class Engine>
void multi_core<Engine>::initiate(easy_state* state, handler_type handler, completion_route route) {
    error_code failure;
    if (!state)
        failure = errc::empty_handle;
    else if (shut_down_.load(std::memory_order_acquire) || refusing_.load(std::memory_order_acquire))
        failure = errc::shut_down;
    else if (state->busy())
        failure = errc::easy_in_use;
    // A share with cookies serves one executor's transfers at a time (share.hpp); a lent handle's exchange
    // took its own (lent_share).
    else if (state->user_share) {
        if (share_access::take(*state->user_share, executor_))
            state->transfer.share_taken = true;
        else
            failure = errc::cookie_jar_in_use;
    }
    if (failure) {
        if (state && state->lent) {
            if (state->transfer.observer) state->transfer.observer->on_transfer_abandoned(*state);
            take_back(*state, failure);
        }
        return post_completion(executor_, std::move(handler), failure, route);
    }

    operations_.fetch_add(1, std::memory_order_relaxed);
    auto& t = state->transfer;
    t.runner = this;
    t.abandon = [](void* core, easy_state& s) { return static_cast<multi_core*>(core)->abandon(s); };
    t.set_pause = [](void* core, easy_state& s, int bitmask) {
        static_cast<multi_core*>(core)->set_pause(s, bitmask);
    };
    t.open_socket = &multi_core::on_open_socket;  // rule 3, parked: which sockets are the connections' own
    t.collect = [](void* core, turn_completion& completion) {
        return static_cast<multi_core*>(core)->collect(completion);
    };
    t.serial = next_serial_.fetch_add(1, std::memory_order_relaxed);
    t.started = false;
    t.orphaned = false;
    t.doomed = false;
    t.route =
        std::move(route);  // with outstanding work on the handler's executor, when it is not the multi's
    auto slot = handler.get_cancellation_slot();
    if (slot.is_connected()) {
        t.cancellation = new cancellation_relay(executor_, state, 0, &multi_core::deliver_cancellation);
        slot.template emplace<relay_slot_handler>(t.cancellation);
    }
    // Not `t.handler = std::move(handler)`: Boost 1.81's any_completion_handler move-assignment constructs
    // from an lvalue and recurses until the stack overflows.
    t.handler.swap(handler);
    // Rule 1 and the threading contract: curl is only called on the multi's executor (a strand makes
    // async_perform callable from any thread). Already there (a completion handler starting the next
    // transfer), it starts now, without dispatch's type-erased function.
    if (running_in_this_thread(executor_))
        start(*state);
    else
        boost::asio::dispatch(executor_, start_op(boost::intrusive_ptr<multi_core>(this), state));
}

template <class Engine>
void multi_core<Engine>::start(easy_state& state) {
    auto& t = state.transfer;
    if (curl_depth_ > 0) {  // async_perform called from inside a curl callback
        boost::asio::post(executor_, start_op(boost::intrusive_ptr<multi_core>(this), &state));
        return;
    }
    t.started = true;
    const bool cancelled_early = (t.cancellation && t.cancellation->requested() != 0) ||
                                 t.serial < cancelled_below_.load(std::memory_order_acquire);
    if (t.orphaned || cancelled_early || shut_down_.load(std::memory_order_relaxed)) {
        const error_code aborted = boost::asio::error::operation_aborted;
        if (t.observer) t.observer->on_transfer_abandoned(state);
        complete(state, aborted);
        if (t.orphaned)
            destroy_orphan(&state);
        else if (state.lent)
            take_back(state, aborted);
        return;
    }
    CURL* handle = state.handle;
    state.error_buffer[0] = '\0';
    if (!reserve_running_slot()) {
        std::snprintf(state.error_buffer, CURL_ERROR_SIZE, "asiocurl: no memory for the transfer table");
        const error_code no_memory = make_error_code(CURLE_OUT_OF_MEMORY);
        if (t.observer) t.observer->on_transfer_abandoned(state);
        complete(state, no_memory);
        if (state.lent) take_back(state, no_memory);
        return;
    }
    // Rule 4's second guard: curl copies these into every connection the handle opens, so pooled connections
    // report their close to this multi even after the handle has moved on. A lent handle keeps them: it only
    // ever runs here.
    if (!state.close_reports) {
        curl_easy_setopt(handle, CURLOPT_CLOSESOCKETFUNCTION, &multi_core::on_close_socket);
        curl_easy_setopt(handle, CURLOPT_CLOSESOCKETDATA, static_cast<void*>(this));
        state.close_reports = state.lent;
    }
    link_active(state);
    ++stats_.transfers_started;
    CURLMcode added;
    {
        curl_call_scope scope(*this);
        added = engine_.add(handle);
    }
    if (added != CURLM_OK) {
        track(added);
        std::snprintf(state.error_buffer, CURL_ERROR_SIZE, "curl_multi_add_handle: %s",
                      curl_multi_strerror(added));
        finish(state, make_error_code(added));
    }
}

template <class Engine>
void multi_core<Engine>::finish(easy_state& state, error_code ec) {
    // Rule 12: once aborted, curl's later verdict (a write error after a refusal, or even success) is not
    // the outcome; nor is its message.
    if (state.aborted() && ec != errc::socket_registration) ec = boost::asio::error::operation_aborted;
    if (ec == boost::asio::error::operation_aborted || (ec && state.error_buffer[0] == '\0'))
        std::snprintf(state.error_buffer, CURL_ERROR_SIZE, "%s", ec.message().c_str());
    unlink_active(state);
    // A user's handle may next run on another multi, or alone: it must not report closes to this one.
    if (!state.lent) {
        curl_easy_setopt(state.handle, CURLOPT_CLOSESOCKETFUNCTION, nullptr);
        curl_easy_setopt(state.handle, CURLOPT_CLOSESOCKETDATA, nullptr);
    }
    const bool observed = state.transfer.observer != nullptr;
    if (observed) state.transfer.observer->on_transfer_end(state, ec);
    // Read before the handler goes: it may own the `easy`, and so `state` (never a lent one's).
    const bool lent = state.lent;
    complete(state, ec);
    if (lent) take_back(state, ec, observed);  // its exchange is done with it (the handler holds the rest)
}

template <class Engine>
void multi_core<Engine>::detach(easy_state& state) noexcept {
    auto& t = state.transfer;
    // Destroyed last, after every write to `state`: the handler may own the `easy`, and so `state` (an
    // http fetch does; so does a handler holding a shared_ptr<easy>, destroyed by ~io_context uninvoked).
    auto handler = std::move(t.handler);
    auto route = std::move(t.route);
    if (t.cancellation) {
        // The slot handler stays in the user's signal, which may outlive the io_context: let go of the
        // executor.
        t.cancellation->disarm();
        intrusive_ptr_release(t.cancellation);
        t.cancellation = nullptr;
    }
    t.runner = nullptr;
    t.abandon = nullptr;
    t.observer = nullptr;
    t.started = false;
    if (t.share_taken) {
        t.share_taken = false;
        share_access::give_back(*state.user_share);
    }
}

template <class Engine>
void multi_core<Engine>::complete(easy_state& state, error_code ec) {
    auto handler = std::move(state.transfer.handler);
    // Keeps the handler's executor busy until the completion is queued on it.
    auto route = std::move(state.transfer.route);
    detach(state);
    ++stats_.transfers_completed;
    turn_completion completion{std::move(handler), {}, ec};
    if (!route.on_fallback || !collect(completion))
        post_completion(executor_, std::move(completion.wait), ec, route);
    if (operations_.fetch_sub(1, std::memory_order_acq_rel) == 1 && drained_) drained_();
}

// Takes a completion for a handler on the multi's own executor into the running turn's list (moved from),
// or refuses it: no turn runs, or the list is full (it is never grown: nothing allocated per transfer).
template <class Engine>
bool multi_core<Engine>::collect(turn_completion& completion) {
    if (!collecting_ || ready_.size() == ready_.capacity()) return false;
    if (ready_.empty()) intrusive_ptr_add_ref(this);  // until they ran: a handler may destroy the multi
    ready_.push_back(std::move(completion));
    ++stats_.completions_at_turn_end;
    return true;
}

// Runs the completions a turn collected, in the order they completed. Not inside the initiating call (a
// turn is a reactor or timer handler) and not inside curl (it returned): what the Asio contract allows a
// completion. A handler may start transfers (they complete in later turns; one that fails at once joins the
// list, see join()), run the io_context, destroy the multi, or throw.
template <class Engine>
void multi_core<Engine>::deliver_ready() {
    const boost::intrusive_ptr<multi_core> keep(this, false);  // adopts the first collected completion's
    delivering_ = true;
    // On an io_context's own executor, a completion made at once by what a handler here starts joins the
    // list (post_completion, turn_delivery): a stream read whose bytes are buffered, its end of file.
    turn_delivery delivery;
    turn_delivery* const outer_delivery = delivering_turn;
    if (const auto* io = executor_.template target<boost::asio::io_context::executor_type>()) {
        delivery = {&io->context(), boost::asio::detail::thread_context::top_of_thread_call_stack(), this,
                    [](void* core, turn_completion& completion) {
                        return static_cast<multi_core*>(core)->join(completion);
                    }};
        delivering_turn = &delivery;
    }
    try {
        // By index: a handler's completion may join the list while it runs (it is never grown past its
        // capacity, so nothing moves).
        for (std::size_t i = 0; i < ready_.size(); ++i) {
            auto& ready = ready_[i];
            // Taken out first (a handler may destroy the multi, its list with it); swapped, not
            // move-assigned: Boost 1.81's move assignment recurses (see initiate()).
            if (ready.wait) {
                handler_type handler;
                handler.swap(ready.wait);
                std::move(handler)(ready.ec);
            } else if (ready.io) {
                decltype(ready.io) handler;
                handler.swap(ready.io);
                std::move(handler)(ready.ec, ready.bytes);
            }
        }
    } catch (...) {
        // The rest complete as before, posted; the one that threw has run (its slot is empty).
        delivering_turn = outer_delivery;
        delivering_ = false;
        post_ready();
        throw;
    }
    delivering_turn = outer_delivery;
    ready_.clear();
    delivering_ = false;
}

// A completion made at once while the list runs, for a handler on the multi's io_context: run after the rest,
// or refused when the list is full (posted then, so a chain of immediate completions ends in the scheduler).
template <class Engine>
bool multi_core<Engine>::join(turn_completion& completion) {
    if (!delivering_ || ready_.size() == ready_.capacity()) return false;
    ready_.push_back(std::move(completion));
    ++stats_.completions_at_turn_end;
    return true;
}

template <class Engine>
void multi_core<Engine>::post_ready() noexcept {
    for (auto& ready : ready_) {
        if (ready.wait)
            post_completion(executor_, std::move(ready.wait), ready.ec, completion_route{{}, true});
        else if (ready.io)
            post_completion(executor_, std::move(ready.io), ready.ec, ready.bytes,
                            completion_route{{}, true});
    }
    ready_.clear();
}

template <class Engine>
void multi_core<Engine>::destroy_orphan(easy_state* state) noexcept {
    detach(*state);  // a queued one's start operation dies with its handler and cancellation still attached
    curl_easy_cleanup(state->handle);
    delete state;
}

// ---- the idle pool of the http layer's handles ----

template <class Engine>
easy_state* multi_core<Engine>::lend_handle() {
    {
        std::lock_guard lock(idle_mutex_);
        if (!idle_.empty()) {
            easy_state* state = idle_.back();
            idle_.pop_back();
            return state;
        }
    }
    auto* state = new easy_state;
    state->handle = curl_easy_init();
    if (!state->handle) {
        delete state;
        return nullptr;
    }
    state->lent = true;
    state->lender_executor = executor_;
    apply_library_defaults(*state);
    return state;
}

// After the transfer's completion was posted (the exchange no longer touches the handle). A handle that
// failed in a way that may have left it odd is not kept: a refused add, a socket the reactor refused, an
// allocation curl could not make.
// Its options are kept for the next exchange only when its own exchange ended it (on_transfer_end let go of
// what the exchange owns: the header list the handle points at). Refused or cancelled before it began, the
// handle may point at the exchange's headers, freed with it: it is reset.
template <class Engine>
void multi_core<Engine>::take_back(easy_state& state, const error_code& outcome,
                                   bool exchange_ended) noexcept {
    const bool odd = outcome.category() == multi_category() || outcome == errc::socket_registration ||
                     outcome == make_error_code(CURLE_OUT_OF_MEMORY) ||
                     outcome == make_error_code(CURLE_FAILED_INIT);
    state.transfer.observer = nullptr;
    if (!odd && !shut_down_.load(std::memory_order_acquire)) {
        if (!state.keep_options || !exchange_ended) reset_lent(state);  // unless they may serve the next one
        state.keep_options = false;
        // Detached by reset_lent, or kept with applied_options (a share without cookies: nothing to give
        // back).
        if (state.lent_share) {
            share_access::give_back(*state.lent_share);
            state.lent_share.reset();
        }
        state.error_buffer[0] = '\0';
        state.callbacks_owned = false;
        state.share_owned = false;
        std::lock_guard lock(idle_mutex_);
        if (idle_.size() < idle_limit_) {
            try {
                idle_.push_back(&state);
                return;
            } catch (const std::bad_alloc&) {  // no room to keep it: freed like one over the limit
            }
        }
    }
    free_handle(&state);
}

template <class Engine>
void multi_core<Engine>::free_handle(easy_state* state) noexcept {
    curl_easy_cleanup(state->handle);
    if (state->lent_share) share_access::give_back(*state->lent_share);
    delete state;
}

template <class Engine>
void multi_core<Engine>::set_idle_limit(std::size_t limit) {
    std::vector<easy_state*> dropped;
    {
        std::lock_guard lock(idle_mutex_);
        idle_limit_ = limit;
        while (idle_.size() > limit) {
            dropped.push_back(idle_.back());
            idle_.pop_back();
        }
    }
    for (easy_state* state : dropped)
        free_handle(state);
}

template <class Engine>
std::size_t multi_core<Engine>::idle_handles() const {
    std::lock_guard lock(idle_mutex_);
    return idle_.size();
}

template <class Engine>
bool multi_core<Engine>::abandon(easy_state& state) {
    auto& t = state.transfer;
    if (!t.started) {
        // Queued: the start operation completes it and frees the state (or frees it when destroyed).
        t.orphaned = true;
        return true;
    }
    if (curl_depth_ > 0) {
        // Destroyed inside a curl callback, curl going on with the transfer in the same call (rule 12): the
        // state outlives the `easy`, refusing whatever curl delivers, until reap() removes and frees it.
        t.orphaned = true;
        orphans_.push_back(&state);
        abort_or_doom(state);
        return true;
    }
    abort_transfer(state, boost::asio::error::operation_aborted);
    return false;
}

template <class Engine>
void multi_core<Engine>::abort_or_doom(easy_state& state) {
    if (curl_depth_ == 0) return abort_transfer(state, boost::asio::error::operation_aborted);
    state.transfer.doomed = true;
    reap_later();
}

template <class Engine>
void multi_core<Engine>::reap_later() {
    if (std::exchange(reap_posted_, true)) return;
    boost::asio::post(executor_, [self = boost::intrusive_ptr<multi_core>(this)] { self->reap(); });
}

// Outside curl: removes the doomed transfers curl has not finished itself, then frees the orphans. (Should
// the io_context never run this, shutdown_now() does the same.)
template <class Engine>
void multi_core<Engine>::reap() {
    reap_posted_ = false;
    for (easy_state* s = active_head_; s;) {
        easy_state* next = s->transfer.next;
        if (s->transfer.doomed) abort_transfer(*s, boost::asio::error::operation_aborted);
        s = next;
    }
    for (easy_state* orphan : std::exchange(orphans_, {}))
        destroy_orphan(orphan);
}

template <class Engine>
void multi_core<Engine>::deliver_cancellation(void* state, std::uint64_t, unsigned types) {
    auto& s = *static_cast<easy_state*>(state);
    static_cast<multi_core*>(s.transfer.runner)->cancel_transfer(s, types);
}

template <class Engine>
void multi_core<Engine>::abort_transfer(easy_state& state, error_code ec) {
    // curl_multi_remove_handle may call the transfer's progress callback (its last report): the outcome is
    // decided, so the forwarders refuse it — the easy may be in its destructor (rule 12).
    state.transfer.doomed = true;
    CURLMcode removed;
    {
        curl_call_scope scope(*this);
        removed = engine_.remove(state.handle);
    }
    track(removed);
    finish(state, ec);
}

template <class Engine>
void multi_core<Engine>::cancel_transfer(easy_state& state, unsigned types) {
    // Not started yet: start() sees the request and completes without adding the handle (every type).
    // Once added, curl may have sent the request, so only terminal and partial abort it.
    if (!state.transfer.started || (types & aborting_cancellation) == 0) return;
    abort_or_doom(state);
}

// Rule 9: curl_easy_pause(CONT) delivers what curl held back (write callback), re-arms the timer and may
// change socket interest before it returns, so it is called like socket_action: from the executor, never
// with curl on the stack, then CURLMSG_DONE is drained. A write callback may pause again inside it.
template <class Engine>
void multi_core<Engine>::set_pause(easy_state& state, int bitmask) {
    if (!state.transfer.started || state.transfer.doomed) return;  // queued, or its outcome decided
    auto pause = [this](easy_state& s, int bits) {
        CURLcode result;
        {
            curl_call_scope scope(*this);
            result = engine_.pause(s.handle, bits);
        }
        ++stats_.pause_calls;
        // An error here came from a callback fed the held-back data; curl does not end the transfer itself.
        if (result != CURLE_OK) return abort_transfer(s, make_error_code(result));
        drain_messages();
    };
    if (curl_depth_ == 0) return pause(state, bitmask);
    // From inside a callback: `state` may be gone when curl has returned, so it is looked for by address and
    // serial among the transfers still running.
    boost::asio::post(executor_, [self = boost::intrusive_ptr<multi_core>(this), slot = state.transfer.slot,
                                  serial = state.transfer.serial, bitmask, pause] {
        easy_state* s = self->running(slot, serial);
        if (s && !s->transfer.doomed) pause(*s, bitmask);
    });
}

template <class Engine>
void multi_core<Engine>::cancel_all() {
    cancelled_below_.store(next_serial_.load(std::memory_order_acquire), std::memory_order_release);
    for (easy_state* s = active_head_; s;) {
        easy_state* next = s->transfer.next;
        abort_or_doom(*s);
        s = next;
    }
}

template <class Engine>
void multi_core<Engine>::shutdown() {
    if (shut_down_.exchange(true)) return;
    if (curl_depth_ == 0) return shutdown_now();
    // Rule 12: every transfer refuses data from now on, though curl is on the stack and goes on.
    for (easy_state* s = active_head_; s; s = s->transfer.next)
        s->transfer.doomed = true;
    boost::asio::post(executor_, [self = boost::intrusive_ptr<multi_core>(this)] { self->shutdown_now(); });
}

// Rule 10: operations first (completed, posted), then curl_multi_cleanup while the callbacks' data and the
// Asio objects are alive (it closes cached connections through the close-socket callback), then whatever
// registrations curl still held, then the timer.
template <class Engine>
void multi_core<Engine>::shutdown_now() {
    if (cleaned_up_) return;
    cleaned_up_ = true;
    while (active_head_)
        abort_transfer(*active_head_, boost::asio::error::operation_aborted);
    {
        curl_call_scope scope(*this);
        track(engine_.cleanup());
    }
    while (held_head_) {
        registration* reg = held_head_;
        if (!reg->retired) retire(*reg);
        release_from_curl(reg);
    }
    // cleanup closed every cached connection through the callback, which retired its parked registration;
    // one left here curl never closed, and the reactor lets go of it all the same.
    for (registration* reg : live_by_fd_)
        if (reg && reg->parked) retire(*reg);
    for (easy_state* orphan : std::exchange(orphans_, {}))
        destroy_orphan(orphan);
    std::vector<easy_state*> idle;
    {
        std::lock_guard lock(idle_mutex_);
        idle.swap(idle_);
    }
    for (easy_state* state : idle)
        free_handle(state);
    ++timer_generation_;
    timer_.cancel();
}

template <class Engine>
void multi_core<Engine>::fail_transfer_later(CURL* easy, error_code ec, curl_socket_t fd) {
    void* data = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &data);
    auto* state = static_cast<easy_state*>(data);
    // Only transfers of this multi can be failed; a socket of an internal handle has nobody to tell.
    if (!state || state->transfer.runner != this) return;
    boost::asio::post(executor_, [self = boost::intrusive_ptr<multi_core>(this), slot = state->transfer.slot,
                                  serial = state->transfer.serial, ec, fd] {
        easy_state* still_running = self->running(slot, serial);
        if (!still_running) return;
        std::snprintf(still_running->error_buffer, CURL_ERROR_SIZE,
                      "asiocurl: the reactor refused socket %d: %s", static_cast<int>(fd),
                      ec.message().c_str());
        self->abort_transfer(*still_running, errc::socket_registration);
    });
}

// ---- curl's callbacks -----------------------------------------------------------------------------------

template <class Engine>
int multi_core<Engine>::on_socket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp) {
    auto& self = *static_cast<multi_core*>(userp);
    auto* reg = static_cast<registration*>(socketp);
    // Rule 7: whatever happens here, never -1 (it would kill every transfer of the multi).
    if (what == CURL_POLL_REMOVE) {
        // Rule 3: the socket may stay open (keep-alive) and come back; socketp is forgotten by curl. A
        // connection's socket is parked, so that its next report costs the reactor nothing; any other is
        // released, since nothing would tell the glue of its close.
        if (reg) {
            if (!reg->retired) {
                if (self.parkable(*reg))
                    self.park(*reg);
                else
                    self.retire(*reg);
            }
            self.release_from_curl(reg);
        }
        return 0;
    }
    if (reg && reg->failed) return 0;
    if (reg && reg->retired) {
        // Closed before its REMOVE and its number handed out again (rule 4): a fresh registration.
        self.release_from_curl(reg);
        reg = nullptr;
    }
    if (!reg) reg = self.unpark_or_forget(fd);
    if (!reg) {
        reg = new registration(self, fd);
        reg->opened_by_glue = self.is_socket_opened(fd);
        self.hold(reg);
        self.track(self.engine_.assign(fd, reg));
        // own_numbers_: the reactor watches a duplicate of the glue's own (no duplicate, EMFILE: curl's
        // number, as on curl 8.5+).
        if (reg->opened_by_glue && self.own_numbers_) reg->own_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
        error_code ec;
        reg->descriptor.assign(reg->reactor_fd(), ec);
        if (ec) {
            if (reg->own_fd >= 0) ::close(std::exchange(reg->own_fd, -1));
            // Rule 7: fail only the transfer that brought this socket, later and from outside curl.
            reg->failed = true;
            reg->retired = true;
            ++self.stats_.registration_failures;
            self.fail_transfer_later(easy, ec, fd);
            return 0;
        }
        ++self.stats_.registrations_created;
        ++self.stats_.live_registrations;
        self.remember_live(*reg);
    }
    reg->wanted = what;
    if (what & CURL_POLL_IN) reg->read_wanted = true;
    if (what == CURL_POLL_IN && reg->watched_for_writing && !self.watch_for_reading_alone(*reg, easy))
        return 0;
    self.arm(*reg);
    return 0;
}

template <class Engine>
int multi_core<Engine>::on_timer(CURLM*, long timeout_ms, void* userp) {
    auto& self = *static_cast<multi_core*>(userp);
    // curl_multi_cleanup may still move the timer; nothing runs after it (and the core may be in its
    // destructor, where no reference to it may be taken).
    if (self.cleaned_up_) return 0;
    const std::uint64_t generation = ++self.timer_generation_;
    self.timer_.cancel();
    if (timeout_ms < 0) return 0;
    auto core = boost::intrusive_ptr<multi_core>(&self);
    if (timeout_ms == 0) {
        // Rule 2: "soon", never inline: curl is on the stack.
        self.post_here([core = std::move(core), generation] { core->on_timeout(generation); });
        return 0;
    }
    self.timer_.expires_after(std::chrono::milliseconds(timeout_ms));
    self.timer_.async_wait(boost::asio::bind_allocator(
        cached_allocator<void>(), [core = std::move(core), generation](const error_code& ec) {
            if (!ec) core->on_timeout(generation);
        }));
    return 0;
}

template <class Engine>
int multi_core<Engine>::on_close_socket(void* clientp, curl_socket_t fd) {
    auto& self = *static_cast<multi_core*>(clientp);
    // Rule 4's second guard: a registration still alive here would leave the fd in epoll, and a stale
    // EPOLL_CTL_DEL could hit the fd's next owner. Release it while the fd is still ours.
    if (registration* reg = self.live_at(fd)) {
        // A parked one is the ordinary case (a cached connection closed), not a close before REMOVE.
        if (!reg->parked) ++self.stats_.closed_before_remove;
        self.retire(*reg);
    }
    if (static_cast<std::size_t>(fd) < self.opened_inode_.size())
        self.opened_inode_[static_cast<std::size_t>(fd)] = 0;
    return ::close(fd);
}

// What curl does without the callback (socket(2) with the address's family, type and protocol), plus
// close-on-exec, and the new socket's inode, so that its first report can be told from one of a descriptor
// that took the number after a close the glue did not see (rule 3, parked).
template <class Engine>
curl_socket_t multi_core<Engine>::on_open_socket(void* clientp, curlsocktype, curl_sockaddr* address) {
    auto& self = *static_cast<multi_core*>(clientp);
    const curl_socket_t fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd == CURL_SOCKET_BAD) return fd;
    // Rule 4: a registration still alive under this number belonged to a socket curl closed without the
    // callback (7.88 does so with a connect attempt it abandons). Released now, its EPOLL_CTL_DEL finds the
    // new socket outside epoll and does no harm; later it could hit the number's next owner.
    if (registration* stale = self.live_at(fd)) self.retire(*stale);
    struct stat status {};
    if (::fstat(fd, &status) != 0) return fd;
    const auto index = static_cast<std::size_t>(fd);
    try {
        if (index >= self.opened_inode_.size()) self.opened_inode_.resize(index + 64, 0);
        self.opened_inode_[index] = static_cast<unsigned long>(status.st_ino);
    } catch (const std::bad_alloc&) {
        // Unrecorded, the socket is released on REMOVE like any other: slower, not wrong.
    }
    return fd;
}

// ---- reactor side ---------------------------------------------------------------------------------------

template <class Engine>
void multi_core<Engine>::arm(registration& reg) {
    // Rule 6: one outstanding wait per wanted direction (CURL_POLL_INOUT: two).
    if ((reg.wanted & CURL_POLL_IN) && !reg.waiting_in) {
        reg.waiting_in = true;
        reg.descriptor.async_wait(
            boost::asio::posix::descriptor_base::wait_read,
            wait_handler{boost::intrusive_ptr<registration>(&reg), CURL_CSELECT_IN, reg.wait_generation});
    }
    if ((reg.wanted & CURL_POLL_OUT) && !reg.waiting_out) {
        reg.waiting_out = true;
        reg.watched_for_writing = true;
        reg.descriptor.async_wait(
            boost::asio::posix::descriptor_base::wait_write,
            wait_handler{boost::intrusive_ptr<registration>(&reg), CURL_CSELECT_OUT, reg.wait_generation});
    }
}

// Rule 6, reading alone. Asio's epoll reactor registers a descriptor edge-triggered and, once a write wait
// was queued on it, keeps EPOLLOUT in its mask for good; every later read wait re-arms that mask
// (EPOLL_CTL_MOD, epoll_reactor::start_op), and a connected socket is writable, so every read wait woke the
// reactor with an event no wait asked for. When curl goes from writing (a connect, a request larger than the
// send buffer) to reading alone, the descriptor is registered afresh, for reading: three syscalls once a
// connection (DEL, ADD, and Asio's FIONBIO at the next wait) instead of a wake-up a read. Nothing is lost:
// ADD reports a socket that is readable already.
template <class Engine>
bool multi_core<Engine>::watch_for_reading_alone(registration& reg, CURL* easy) {
    reg.descriptor.release();  // the queued waits complete aborted
    ++reg.wait_generation;     // and any completed but not yet run are ignored
    reg.waiting_in = reg.waiting_out = false;
    reg.watched_for_writing = false;
    error_code ec;
    reg.descriptor.assign(reg.reactor_fd(), ec);
    if (!ec) {
        ++stats_.reregistered_for_reading;
        return true;
    }
    if (reg.own_fd >= 0) ::close(std::exchange(reg.own_fd, -1));
    // Rule 7, as for a first registration the reactor refuses.
    forget_live(reg);
    --stats_.live_registrations;
    reg.failed = true;
    reg.retired = true;
    ++stats_.registration_failures;
    fail_transfer_later(easy, ec, reg.fd);
    return false;
}

template <class Engine>
void multi_core<Engine>::on_socket_ready(registration& reg, int direction, const error_code& ec) {
    if (ec == boost::asio::error::operation_aborted) return;
    // A wait left over from an earlier interest (curl now wants only the other direction) is dropped.
    const int poll_bit = direction == CURL_CSELECT_IN ? CURL_POLL_IN : CURL_POLL_OUT;
    if ((reg.wanted & poll_bit) == 0) return;
    // Rule 6: a failed wait is CURL_CSELECT_ERR for curl to sort out.
    const int events = ec ? CURL_CSELECT_ERR : direction;
    // One socket_action per readiness: when curl waits for both directions, the other wait's completion may
    // be queued right behind this one (one epoll event completes both). Collected, curl hears both bits in
    // one call, and reads before it writes (an upload refused with a response and a reset ends with that
    // response, not with a send failure).
    const int other_bit = poll_bit == CURL_POLL_IN ? CURL_POLL_OUT : CURL_POLL_IN;
    const bool other_waiting =
        (direction == CURL_CSELECT_IN ? reg.waiting_out : reg.waiting_in) && (reg.wanted & other_bit) != 0;
    if (other_waiting || reg.merge_posted) {
        reg.merged_events |= events;
        if (!std::exchange(reg.merge_posted, true))
            post_here([r = boost::intrusive_ptr<registration>(&reg)] {
                r->merge_posted = false;
                const int merged = std::exchange(r->merged_events, 0);
                if (!r->retired) r->owner->act_on(*r, merged);
            });
        return;
    }
    act_on(reg, events);
}

template <class Engine>
void multi_core<Engine>::act_on(registration& reg, int events) {
    // Interest may have changed since the readiness was collected (parked: none at all).
    int wanted_events = CURL_CSELECT_ERR;
    if (reg.wanted & CURL_POLL_IN) wanted_events |= CURL_CSELECT_IN;
    if (reg.wanted & CURL_POLL_OUT) wanted_events |= CURL_CSELECT_OUT;
    events &= wanted_events;
    if (events == 0 || reg.wanted == 0) return;
    reactor_turn turn(*this);
    socket_action(reg.fd, events);
    if (!reg.retired) arm(reg);
    drain_messages();
    turn.end();
}

template <class Engine>
void multi_core<Engine>::on_timeout(std::uint64_t generation) {
    if (generation != timer_generation_ || cleaned_up_) return;
    ++stats_.timeouts_fired;
    reactor_turn turn(*this);
    socket_action(CURL_SOCKET_TIMEOUT, 0);
    drain_messages();
    turn.end();
}

// The hot path's posts (timer 0, collected readiness) go to an io_context's own executor directly when that
// is what the multi runs on: any_io_executor's prefer and execute are type-erased calls on every post.
template <class Engine>
template <class Function>
void multi_core<Engine>::post_here(Function&& f) {
    auto bound = boost::asio::bind_allocator(cached_allocator<void>(), std::forward<Function>(f));
    if (const auto* io = executor_.template target<boost::asio::io_context::executor_type>())
        boost::asio::post(*io, std::move(bound));
    else
        boost::asio::post(executor_, std::move(bound));
}

template <class Engine>
void multi_core<Engine>::socket_action(curl_socket_t fd, int events) {
    int running = 0;
    CURLMcode result;
    {
        curl_call_scope scope(*this);
        result = engine_.socket_action(fd, events, &running);
    }
    ++stats_.socket_actions;
    track(result);
}

// Rule 8: after every socket_action, each CURLMSG_DONE removes its handle and completes (posted).
template <class Engine>
void multi_core<Engine>::drain_messages() {
    int left = 0;
    while (CURLMsg* message = engine_.info_read(&left)) {
        if (message->msg != CURLMSG_DONE) continue;
        CURL* handle = message->easy_handle;
        const CURLcode result = message->data.result;
        void* data = nullptr;
        curl_easy_getinfo(handle, CURLINFO_PRIVATE, &data);
        auto* state = static_cast<easy_state*>(data);
        {
            curl_call_scope scope(*this);
            track(engine_.remove(handle));
        }
        if (state && state->transfer.runner == this)
            finish(*state, result == CURLE_OK ? error_code{} : make_error_code(result));
    }
}

template <class Engine>
void multi_core<Engine>::retire(registration& reg) {
    reg.retired = true;
    if (reg.failed) return;
    forget_live(reg);
    const bool was_parked = std::exchange(reg.parked, false);
    if (was_parked)
        --stats_.parked_registrations;
    else
        --stats_.live_registrations;
    // Rule 3: cancel the waits (their completions see `retired`) and give the fd back to curl unclosed. The
    // glue's own duplicate is closed instead: the DEL before it names the glue's number, whoever has curl's.
    error_code ignored;
    reg.descriptor.cancel(ignored);
    if (reg.own_fd >= 0) {
        reg.descriptor.close(ignored);
        reg.own_fd = -1;
    } else {
        reg.descriptor.release();
    }
    if (was_parked) intrusive_ptr_release(&reg);  // the core's reference: may be the last
}

// Rule 3, parked: only a socket whose close is certain to come through on_close_socket. That is one the glue
// opened (not the resolver's wake-up descriptor) and that carries a connection: curl 7.88 closes a connect
// attempt it abandons with a bare close(2) (cf-socket.c, "not active"; fixed in 8.5.0), then REMOVEs it.
// curl only asks to read a socket once its connect has won and the socket is the connection's; one it never
// asked to read (the response came within the call that sent the request) is checked to be still the socket
// the glue opened.
template <class Engine>
bool multi_core<Engine>::parkable(const registration& reg) const noexcept {
    if (!reg.opened_by_glue || cleaned_up_) return false;
    return reg.read_wanted || is_socket_opened(reg.fd);
}

// curl forgot the socket but keeps it open (a connection in its cache). The descriptor stays in the reactor
// and its waits stay queued; their completions find no interest and are dropped. The core holds the
// registration until curl reports the socket again or closes it.
template <class Engine>
void multi_core<Engine>::park(registration& reg) noexcept {
    reg.parked = true;
    reg.wanted = 0;
    // A wait still queued (curl REMOVEs from an action the timer or another socket started) is outstanding
    // work: io_context::run would not return while the connection idles in curl's cache. Cancelled, its
    // completion comes back aborted and is ignored; the next report arms afresh (Asio re-arms epoll then, so
    // what arrived meanwhile is not lost).
    if (reg.waiting_in || reg.waiting_out) {
        error_code ignored;
        reg.descriptor.cancel(ignored);
        ++reg.wait_generation;
        reg.waiting_in = reg.waiting_out = false;
    }
    intrusive_ptr_add_ref(&reg);
    --stats_.live_registrations;
    ++stats_.parked_registrations;
}

template <class Engine>
auto multi_core<Engine>::unpark_or_forget(curl_socket_t fd) -> registration* {
    registration* existing = live_at(fd);
    if (!existing) return nullptr;
    if (existing->parked) {
        // The same socket: a parked registration leaves only through a close this core sees.
        existing->parked = false;
        --stats_.parked_registrations;
        ++stats_.live_registrations;
        ++stats_.registrations_reused;
        hold(existing);  // the core's reference becomes curl's
        track(engine_.assign(fd, existing));
        return existing;
    }
    // curl forgot a socket without a REMOVE or a close through us; the fd is someone else's now.
    const bool held = existing->held_by_curl;
    retire(*existing);
    if (held) release_from_curl(existing);
    return nullptr;
}

template <class Engine>
int multi_core<Engine>::reactor_number(curl_socket_t fd) const noexcept {
    const registration* reg = live_at(fd);
    return reg ? reg->reactor_fd() : -1;
}

// Whether `fd` is still the very socket on_open_socket made: the number may have been closed without the
// callback and taken by a descriptor the glue did not open. The record lives until the close callback.
template <class Engine>
bool multi_core<Engine>::is_socket_opened(curl_socket_t fd) const noexcept {
    const auto index = static_cast<std::size_t>(fd);
    if (fd < 0 || index >= opened_inode_.size() || opened_inode_[index] == 0) return false;
    struct stat status {};
    return ::fstat(fd, &status) == 0 && static_cast<unsigned long>(status.st_ino) == opened_inode_[index];
}

template <class Engine>
void multi_core<Engine>::hold(registration* reg) noexcept {
    reg->held_by_curl = true;
    reg->held_next = held_head_;
    if (held_head_) held_head_->held_prev = reg;
    held_head_ = reg;
}

template <class Engine>
void multi_core<Engine>::release_from_curl(registration* reg) noexcept {
    reg->held_by_curl = false;
    if (reg->held_prev) reg->held_prev->held_next = reg->held_next;
    if (reg->held_next) reg->held_next->held_prev = reg->held_prev;
    if (held_head_ == reg) held_head_ = reg->held_next;
    reg->held_prev = reg->held_next = nullptr;
    intrusive_ptr_release(reg);
}

template <class Engine>
auto multi_core<Engine>::live_at(curl_socket_t fd) const noexcept -> registration* {
    const auto index = static_cast<std::size_t>(fd);
    return fd >= 0 && index < live_by_fd_.size() ? live_by_fd_[index] : nullptr;
}

template <class Engine>
void multi_core<Engine>::remember_live(registration& reg) {
    const auto index = static_cast<std::size_t>(reg.fd);
    if (index >= live_by_fd_.size()) live_by_fd_.resize(index + 64, nullptr);
    live_by_fd_[index] = &reg;
}

template <class Engine>
void multi_core<Engine>::forget_live(registration& reg) noexcept {
    if (live_at(reg.fd) == &reg) live_by_fd_[static_cast<std::size_t>(reg.fd)] = nullptr;
}

// ---- the list of transfers added to curl -------------------------------------------------------------

// The table grows here, where a failure can still be reported, so that link_active and unlink_active never
// allocate: free_slots_ can always take back every slot there is.
template <class Engine>
bool multi_core<Engine>::reserve_running_slot() noexcept {
    if (!free_slots_.empty()) return true;
    try {
        if (running_slots_.size() == running_slots_.capacity())
            running_slots_.reserve(std::max<std::size_t>(16, 2 * running_slots_.capacity()));
        if (free_slots_.capacity() < running_slots_.capacity())
            free_slots_.reserve(running_slots_.capacity());
    } catch (const std::bad_alloc&) {
        return false;
    }
    return true;
}

template <class Engine>
void multi_core<Engine>::link_active(easy_state& state) noexcept {
    auto& t = state.transfer;
    t.prev = nullptr;
    t.next = active_head_;
    if (active_head_) active_head_->transfer.prev = &state;
    active_head_ = &state;
    if (free_slots_.empty()) {
        t.slot = static_cast<std::uint32_t>(running_slots_.size());
        running_slots_.push_back({&state, t.serial});
    } else {
        t.slot = free_slots_.back();
        free_slots_.pop_back();
        running_slots_[t.slot] = {&state, t.serial};
    }
    if (in_flight_++ == 0)
        own_work_ = boost::asio::prefer(executor_, boost::asio::execution::outstanding_work.tracked);
    // curl sizes its cache of idle connections at 4 x the handles added when a connection goes back to it,
    // and this multi removes each handle as its transfer ends: between one transfer and the next, curl closed
    // connections the next needed (with 16 streams in flight, one request in eleven opened a connection). The
    // same factor, of the most transfers run at once; set only when that grows, and never over the user's.
    if (in_flight_ > most_in_flight_) {
        most_in_flight_ = in_flight_;
        if (!user_sized_cache_) engine_.setopt(CURLMOPT_MAXCONNECTS, static_cast<long>(4 * most_in_flight_));
    }
}

template <class Engine>
void multi_core<Engine>::unlink_active(easy_state& state) noexcept {
    auto& t = state.transfer;
    if (t.prev) t.prev->transfer.next = t.next;
    if (t.next) t.next->transfer.prev = t.prev;
    if (active_head_ == &state) active_head_ = t.next;
    t.prev = t.next = nullptr;
    running_slots_[t.slot] = {};
    free_slots_.push_back(t.slot);
    if (--in_flight_ == 0) own_work_ = boost::asio::any_io_executor();
}

template <class Engine>
easy_state* multi_core<Engine>::running(std::uint32_t slot, std::uint64_t serial) const noexcept {
    if (slot >= running_slots_.size() || running_slots_[slot].serial != serial) return nullptr;
    return running_slots_[slot].state;
}

template <class Engine>
error_code multi_core<Engine>::set_option(CURLMoption option, long value) {
    switch (option) {
        case CURLMOPT_SOCKETFUNCTION:
        case CURLMOPT_SOCKETDATA:
        case CURLMOPT_TIMERFUNCTION:
        case CURLMOPT_TIMERDATA:
            return errc::invalid_argument;  // the glue's own
        default:
            break;
    }
    if (static_cast<int>(option) >= CURLOPTTYPE_OBJECTPOINT) return errc::wrong_option_type;
    if (cleaned_up_) return errc::shut_down;
    const CURLMcode result = engine_.setopt(option, value);
    if (result == CURLM_OK && option == CURLMOPT_MAXCONNECTS) user_sized_cache_ = true;
    return result == CURLM_OK ? error_code{} : make_error_code(result);
}

}  // namespace asiocurl::detail

#endif
