// The non-template half of http::basic_stream (detail/stream_core.hpp): the stream machine driven by an
// exchange's callbacks and the stream's operations.
#include <asiocurl/http/detail/stream_core.hpp>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

namespace asiocurl::http::detail {
namespace {

constexpr unsigned terminal = static_cast<unsigned>(boost::asio::cancellation_type::terminal);

std::size_t index(stream_machine::op kind) {
    return static_cast<std::size_t>(kind);
}

bool carries_bytes(stream_machine::op kind) {
    return kind == stream_machine::op::read || kind == stream_machine::op::write;
}

}  // namespace

stream_core::stream_core(boost::asio::any_io_executor multi_executor, std::size_t buffer_size)
    : executor_(std::move(multi_executor)),
      io_executor_(executor_.target<boost::asio::io_context::executor_type>()),
      machine_(buffer_size, largest_write) {
    response_.result(0u);  // until a status line arrives
}

bool stream_core::on_executor() const noexcept {
    return io_executor_ ? io_executor_->running_in_this_thread()
                        : asiocurl::detail::running_in_this_thread(executor_);
}

stream_core::~stream_core() = default;

error_code stream_core::prepare(asiocurl::detail::easy_state& handle, request_view& request,
                                const options& opts, bool upload, std::optional<std::uint64_t> upload_size,
                                std::string body) {
    if (machine_.started()) return errc::easy_in_use;
    // The reader bounds memory and decides when to stop.
    request.size_limited = false;
    if (auto ec = exchange::prepare(handle, request, opts, executor_)) return ec;
    machine_.start(upload, upload_size, std::move(body));
    return {};
}

// ---- operations: hop onto the multi's executor ----

// The cancellation slot is connected in the initiating call, before the operation is handed to the executor,
// as Asio's own operations do: a later operation of the same chain (started from this one's handler) replaces
// it, never races it. A signal emitted on the executor is delivered there and then (a cancellation from
// inside a curl callback takes effect before curl delivers more, DESIGN rule 12); from another thread it is
// posted. One emitted before the operation is registered is seen when it registers.
template <class Handler, class Start>
void stream_core::hop(op_kind kind, Handler handler, route to, Start start) {
    const std::uint64_t serial = next_serial_.fetch_add(1, std::memory_order_relaxed);
    asiocurl::detail::cancellation_relay* relay = nullptr;
    if (auto slot = handler.get_cancellation_slot(); slot.is_connected()) {
        relay = new asiocurl::detail::cancellation_relay(executor_, this, serial << 2 | index(kind),
                                                         &stream_core::deliver_cancellation);
        slot.template emplace<asiocurl::detail::relay_slot_handler>(relay);
    }
    op_ticket ticket(serial, relay);
    // Already there (a handler of this stream starting the next read), it begins now, without dispatch's
    // type-erased function.
    if (on_executor()) return start(*this, std::move(handler), std::move(to), std::move(ticket));
    boost::asio::dispatch(
        executor_,
        boost::asio::bind_allocator(asiocurl::detail::cached_allocator<void>(),
                                    [self = shared_from_this(), h = std::move(handler), to = std::move(to),
                                     ticket = std::move(ticket), start = std::move(start)]() mutable {
                                        start(*self, std::move(h), std::move(to), std::move(ticket));
                                    }));
}

void stream_core::read_header(wait_handler handler, route to) {
    hop(op_kind::header, std::move(handler), std::move(to),
        [](stream_core& s, wait_handler h, route r, op_ticket t) {
            s.begin(op_kind::header, std::move(h), {}, std::move(r), std::move(t),
                    [](stream_machine& m) { return m.request_header(); });
        });
}

void stream_core::read_some(const buffer_list<boost::asio::mutable_buffer>& buffers, io_handler handler,
                            route to) {
    hop(op_kind::read, std::move(handler), std::move(to),
        [buffers](stream_core& s, io_handler h, route r, op_ticket t) {
            s.begin(op_kind::read, {}, std::move(h), std::move(r), std::move(t),
                    [&](stream_machine& m) { return m.request_read(buffers); });
        });
}

void stream_core::write_some(const buffer_list<boost::asio::const_buffer>& buffers, io_handler handler,
                             route to) {
    hop(op_kind::write, std::move(handler), std::move(to),
        [buffers](stream_core& s, io_handler h, route r, op_ticket t) {
            s.begin(op_kind::write, {}, std::move(h), std::move(r), std::move(t),
                    [&](stream_machine& m) { return m.request_write(buffers); });
        });
}

void stream_core::finish_upload(wait_handler handler, route to) {
    hop(op_kind::finish, std::move(handler), std::move(to),
        [](stream_core& s, wait_handler h, route r, op_ticket t) {
            s.begin(op_kind::finish, std::move(h), {}, std::move(r), std::move(t),
                    [](stream_machine& m) { return m.request_finish(); });
        });
}

void stream_core::cancel() {
    // Where dispatch would run it inline anyway (a stream destroyed by its own coroutine, the common case),
    // without dispatch's type-erased function.
    if (on_executor()) return apply(machine_.cancel());
    boost::asio::dispatch(executor_, boost::asio::bind_allocator(asiocurl::detail::cached_allocator<void>(),
                                                                 [self = shared_from_this()] {
                                                                     self->apply(self->machine_.cancel());
                                                                 }));
}

// On the executor: a cancellation that came before the operation registered fails it at once (terminal also
// ends the exchange); otherwise the machine decides (`ask`: the machine's request_* for this operation) —
// wait, or complete at once.
template <class Ask>
void stream_core::begin(op_kind kind, wait_handler wait, io_handler io, route to, op_ticket ticket, Ask ask) {
    auto post_now = [&](error_code ec, std::size_t bytes) {
        if (carries_bytes(kind))
            asiocurl::detail::post_completion(executor_, std::move(io), ec, bytes, to);
        else
            asiocurl::detail::post_completion(executor_, std::move(wait), ec, to);
    };
    if (pending_[index(kind)]) return post_now(boost::asio::error::in_progress, 0);
    if (const unsigned types = ticket.requested()) {
        post_now(boost::asio::error::operation_aborted, 0);
        if (types & terminal) apply(machine_.cancel());
        return;
    }
    const stream_machine::actions actions = ask(machine_);
    for (std::size_t i = 0; i < actions.completed; ++i)
        if (actions.completions[i].immediate) {
            post_now(actions.completions[i].ec, actions.completions[i].bytes);
            break;
        }
    if (machine_.waiting(kind)) {
        // Constructed, never move-assigned: Boost 1.81's any_completion_handler move assignment is broken.
        pending_[index(kind)].emplace(
            pending{std::move(wait), std::move(io), std::move(to), std::move(ticket)});
    }
    apply(actions);
}

// Everything the machine asked, but the completion of an operation just asked for (begin() did that).
void stream_core::apply(const stream_machine::actions& actions) {
    for (std::size_t i = 0; i < actions.completed; ++i) {
        const auto& c = actions.completions[i];
        if (!c.immediate) complete(c.which, c.ec, c.bytes);
    }
    if (actions.set_pause) set_pause(*actions.set_pause);
    if (actions.abort_transfer) abort_signal_.emit(boost::asio::cancellation_type::terminal);
}

// Never run inline. A handler on the multi's own executor completed inside curl's callbacks (a read filled, a
// write taken) runs at the end of the multi's reactor turn, after curl returned, as a transfer's completion
// does (docs/design-notes.md, "Rule 8, changed"); otherwise it is posted to the multi's executor, then to the
// handler's own (asio::post does both hops and uses the handler's allocator).
void stream_core::complete(op_kind kind, error_code ec, std::size_t bytes) {
    auto& slot = pending_[index(kind)];
    if (!slot) return;
    pending done(std::move(*slot));
    slot.reset();
    if (auto* h = handle(); done.to.on_fallback && h && h->busy() && h->transfer.collect) {
        asiocurl::detail::turn_completion completion{std::move(done.wait), std::move(done.io), ec, bytes};
        if (h->transfer.collect(h->transfer.runner, completion)) return;
        done.wait.swap(completion.wait);  // not move-assignment: Boost 1.81's recurses
        done.io.swap(completion.io);
    }
    if (carries_bytes(kind))
        asiocurl::detail::post_completion(executor_, std::move(done.io), ec, bytes, done.to);
    else
        asiocurl::detail::post_completion(executor_, std::move(done.wait), ec, done.to);
}

void stream_core::deliver_cancellation(void* core, std::uint64_t tag, unsigned types) {
    static_cast<stream_core*>(core)->cancel_op(static_cast<op_kind>(tag & 3), tag >> 2, types);
}

void stream_core::cancel_op(op_kind kind, std::uint64_t serial, unsigned types) {
    const auto& slot = pending_[index(kind)];
    if (!slot || slot->ticket.serial != serial) return;  // a stale request: that operation completed
    apply(machine_.cancel_op(kind, (types & terminal) != 0));
}

// DESIGN rule 9: through the multi, on its executor and outside curl (the multi defers it when curl is on
// the stack); curl may call the write or read callback again before it returns, and they may pause again.
void stream_core::set_pause(stream_machine::pause_state state) {
    if (auto* h = handle())
        asiocurl::detail::request_pause(
            *h, (state.receive ? CURLPAUSE_RECV : 0) | (state.send ? CURLPAUSE_SEND : 0));
}

// ---- the exchange's hooks (inside curl's callbacks; DESIGN rule 1: completions are posted) ----

void stream_core::on_status(unsigned version, unsigned status, std::string_view reason) {
    if (fields_added_) response_.clear();  // an earlier head's (a redirect followed, a 1xx)
    fields_added_ = false;
    response_.version(version);
    response_.result(status);
    set_reason(response_, reason);
}

void stream_core::on_field(std::string_view name, std::string_view value) {
    add_field(response_, name, value);
    fields_added_ = true;
}

void stream_core::on_final_head() {
    apply(machine_.on_head_complete());
}

std::size_t stream_core::on_body(const char* data, std::size_t size) {
    stream_machine::actions actions;
    const std::size_t taken = machine_.on_body(data, size, actions);
    apply(actions);
    if (taken == stream_machine::pause) return CURL_WRITEFUNC_PAUSE;
    if (taken == stream_machine::abort) return CURL_WRITEFUNC_ERROR;
    return taken;
}

std::size_t stream_core::on_request_body(char* out, std::size_t capacity) {
    stream_machine::actions actions;
    const std::size_t given = machine_.on_read(out, capacity, actions);
    apply(actions);
    if (given == stream_machine::pause) return CURL_READFUNC_PAUSE;
    if (given == stream_machine::abort) return CURL_READFUNC_ABORT;
    return given;
}

// ---- the transfer's end ----

void stream_core::on_transfer_done(error_code ec) {
    report_end_of_progress();
    const auto actions = machine_.on_done(ec);
    if (machine_.transfer_error() && response_.info.error_message.empty())
        response_.info.error_message = machine_.transfer_error().message();
    apply(actions);
}

void stream_core::drop_pending() noexcept {
    // Moved out first: a handler's destruction may destroy the stream, and so this object's last owner.
    auto self = shared_from_this();
    std::array<std::optional<pending>, 4> dropped;
    for (std::size_t i = 0; i < pending_.size(); ++i)
        if (pending_[i]) {
            dropped[i].emplace(std::move(*pending_[i]));
            pending_[i].reset();
        }
}

}  // namespace asiocurl::http::detail
