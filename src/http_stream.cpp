// The non-template half of http::basic_stream and of progress reporting.
#include <asiocurl/detail/easy_state.hpp>
#include <asiocurl/http/detail/progress_reporter.hpp>
#include <asiocurl/http/detail/stream_core.hpp>
#include <asiocurl/http/progress.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <cstring>

namespace asiocurl::http {
namespace detail {
namespace {

std::uint64_t non_negative(curl_off_t value) {
    return value > 0 ? static_cast<std::uint64_t>(value) : 0u;
}

template <class Buffers>
std::size_t copy_out(const Buffers& into, const char* data, std::size_t length) {
    std::size_t copied = 0;
    for (std::size_t i = 0; i < into.count && copied < length; ++i) {
        const std::size_t n = std::min(into.buffers[i].size(), length - copied);
        std::memcpy(into.buffers[i].data(), data + copied, n);
        copied += n;
    }
    return copied;
}

template <class Buffers>
std::size_t copy_in(char* out, std::size_t capacity, const Buffers& from) {
    std::size_t copied = 0;
    for (std::size_t i = 0; i < from.count && copied < capacity; ++i) {
        const std::size_t n = std::min(from.buffers[i].size(), capacity - copied);
        std::memcpy(out + copied, from.buffers[i].data(), n);
        copied += n;
    }
    return copied;
}

// Whether `op` waits and is the operation numbered `serial`. (A function: clang 14 crashes compiling the
// same test written inline.)
template <class Op>
bool waiting_with(const std::optional<Op>& op, std::uint64_t serial) {
    if (!op.has_value()) return false;
    return op->ticket.serial == serial;
}

bool is_followed_redirect(const response_head& head, const options& opts) {
    if (!opts.follow_redirects) return false;
    switch (head.status) {
        case 301:
        case 302:
        case 303:
        case 307:
        case 308:
            break;
        default:
            return false;
    }
    return std::any_of(head.fields.begin(), head.fields.end(),
                       [](const auto& field) { return boost::beast::iequals(field.first, "location"); });
}

}  // namespace

// ---- progress ----

progress_reporter::progress_reporter(boost::asio::any_io_executor executor,
                                     std::function<void(const progress&)> callback,
                                     std::chrono::milliseconds interval)
    : executor_(std::move(executor)), callback_(std::move(callback)), interval_(interval) {}

void progress_reporter::install(easy& handle, error_code& ec) {
    if (!ec) handle.set(CURLOPT_XFERINFOFUNCTION, &progress_reporter::on_xferinfo, ec);
    if (!ec) handle.set(CURLOPT_XFERINFODATA, static_cast<void*>(this), ec);
    if (!ec) handle.set(CURLOPT_NOPROGRESS, 0L, ec);
}

// Inside curl: no curl call, only a post (DESIGN rule 1). curl calls this many times a second while data
// flows; one delivery at a time is queued and each takes the latest figures, at most one per interval.
int progress_reporter::on_xferinfo(void* self, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                                   curl_off_t ulnow) {
    auto& r = *static_cast<progress_reporter*>(self);
    const progress now{non_negative(dlnow), non_negative(dltotal), non_negative(ulnow), non_negative(ultotal),
                       false};
    std::lock_guard lock(r.mutex_);
    r.latest_ = now;
    if (r.finished_ || r.posted_ || now == r.last_delivered_) return 0;
    const auto time = std::chrono::steady_clock::now();
    if (time - r.last_posted_ < r.interval_) return 0;
    r.posted_ = true;
    r.last_posted_ = time;
    boost::asio::post(r.executor_, [self = r.shared_from_this()] { self->deliver(); });
    return 0;
}

void progress_reporter::deliver() {
    progress report;
    {
        std::lock_guard lock(mutex_);
        posted_ = false;
        if (finished_) return;  // the last report went out already; this one would be older
        report = latest_;
        last_delivered_ = report;
    }
    callback_(report);
}

void progress_reporter::finish(const easy& handle) {
    error_code ignored;
    progress last;
    last.downloaded = non_negative(handle.info<curl_off_t>(CURLINFO_SIZE_DOWNLOAD_T, ignored));
    last.download_total = non_negative(handle.info<curl_off_t>(CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, ignored));
    last.uploaded = non_negative(handle.info<curl_off_t>(CURLINFO_SIZE_UPLOAD_T, ignored));
    last.upload_total = non_negative(handle.info<curl_off_t>(CURLINFO_CONTENT_LENGTH_UPLOAD_T, ignored));
    last.done = true;
    {
        std::lock_guard lock(mutex_);
        if (finished_) return;
        finished_ = true;
        latest_ = last_delivered_ = last;
    }
    callback_(last);
}

// ---- the stream ----

stream_core::stream_core(boost::asio::any_io_executor multi_executor, std::size_t buffer_size)
    : executor_(std::move(multi_executor)), limit_(std::max(buffer_size, largest_write)) {}

stream_core::~stream_core() = default;

error_code stream_core::prepare(const request_view& request, options opts, bool upload,
                                std::optional<std::uint64_t> upload_size, std::string body) {
    if (prepared_) return errc::easy_in_use;
    // The reader bounds memory and decides when to stop; a size limit meant for whole bodies would cut
    // streams that never end.
    opts.max_response_size = 0;
    opts_ = std::move(opts);
    if (auto ec = http::detail::prepare(handle_, request, opts_, headers_, head_)) return ec;
    error_code ec;
    handle_.set(CURLOPT_WRITEFUNCTION, &stream_core::on_write, ec);
    if (!ec) handle_.set(CURLOPT_WRITEDATA, static_cast<void*>(this), ec);
    if (!ec) handle_.set(CURLOPT_HEADERFUNCTION, &stream_core::on_header, ec);
    if (!ec) handle_.set(CURLOPT_HEADERDATA, static_cast<void*>(this), ec);
    // A proxy's "200 Connection established" is not the response the reader waits for.
    if (!ec) handle_.set(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L, ec);
    if (!ec && request.has_body) {
        handle_.set(CURLOPT_READFUNCTION, &stream_core::on_read, ec);
        if (!ec) handle_.set(CURLOPT_READDATA, static_cast<void*>(this), ec);
    }
    if (!ec && opts_.on_progress) {
        progress_ =
            std::make_shared<progress_reporter>(executor_, opts_.on_progress, opts_.progress_interval);
        progress_->install(handle_, ec);
    }
    if (ec) return ec;
    upload_ = upload;
    upload_size_ = upload_size;
    body_ = std::move(body);
    prepared_ = true;
    return {};
}

// ---- operations: hop onto the multi's executor ----

// The cancellation slot is connected in the initiating call, before the operation is handed to the executor,
// as Asio's own operations do: a later operation of the same chain (started from this one's handler) replaces
// it, never races it. A signal emitted on the executor is delivered there and then (a cancellation from
// inside a curl callback takes effect before curl delivers more, DESIGN rule 12); from another thread it is
// posted. One emitted before the operation is registered is seen when it registers.
template <class Handler, class Start>
void stream_core::hop(op_kind kind, Handler handler, Start start) {
    const std::uint64_t serial = next_serial_.fetch_add(1, std::memory_order_relaxed);
    asiocurl::detail::cancellation_relay* relay = nullptr;
    if (auto slot = handler.get_cancellation_slot(); slot.is_connected()) {
        relay = new asiocurl::detail::cancellation_relay(
            executor_, this, serial << 2 | static_cast<unsigned>(kind), &stream_core::deliver_cancellation);
        slot.template emplace<asiocurl::detail::relay_slot_handler>(relay);
    }
    boost::asio::dispatch(
        executor_, [self = shared_from_this(), h = std::move(handler), ticket = op_ticket(serial, relay),
                    start = std::move(start)]() mutable { start(*self, std::move(h), std::move(ticket)); });
}

void stream_core::deliver_cancellation(void* core, std::uint64_t tag, unsigned types) {
    static_cast<stream_core*>(core)->cancel_op(static_cast<op_kind>(tag & 3), tag >> 2, types);
}

template <class Signature, class... Args>
bool stream_core::cancelled_before_registration(const op_ticket& ticket,
                                                boost::asio::any_completion_handler<Signature>& handler,
                                                Args... args) {
    const unsigned types = ticket.requested();
    if (types == 0) return false;
    fail_now(std::move(handler), error_code(boost::asio::error::operation_aborted), args...);
    if (types & static_cast<unsigned>(boost::asio::cancellation_type::terminal)) do_cancel();
    return true;
}

void stream_core::read_header(wait_handler handler) {
    hop(op_kind::header, std::move(handler),
        [](stream_core& s, wait_handler h, op_ticket t) { s.do_read_header(std::move(h), std::move(t)); });
}

void stream_core::read_some(buffer_list<boost::asio::mutable_buffer> buffers, io_handler handler) {
    hop(op_kind::read, std::move(handler), [buffers](stream_core& s, io_handler h, op_ticket t) {
        s.do_read_some(buffers, std::move(h), std::move(t));
    });
}

void stream_core::write_some(buffer_list<boost::asio::const_buffer> buffers, io_handler handler) {
    hop(op_kind::write, std::move(handler), [buffers](stream_core& s, io_handler h, op_ticket t) {
        s.do_write_some(buffers, std::move(h), std::move(t));
    });
}

void stream_core::finish_upload(wait_handler handler) {
    hop(op_kind::finish, std::move(handler),
        [](stream_core& s, wait_handler h, op_ticket t) { s.do_finish_upload(std::move(h), std::move(t)); });
}

void stream_core::cancel() {
    boost::asio::dispatch(executor_, [self = shared_from_this()] { self->do_cancel(); });
}

template <class Signature>
stream_core::pending<Signature> stream_core::make_pending(
    boost::asio::any_completion_handler<Signature> handler, op_ticket ticket) {
    auto work = boost::asio::prefer(boost::asio::get_associated_executor(handler, executor_),
                                    boost::asio::execution::outstanding_work.tracked);
    // Constructed, never move-assigned: Boost 1.81's any_completion_handler move assignment is broken.
    return pending<Signature>{std::move(handler), std::move(work), std::move(ticket)};
}

// Every completion goes through here or fail_now: posted to the multi's executor, then to the handler's own
// (asio::post does both hops, and uses the handler's allocator), never run inline.
template <class Signature, class... Args>
void stream_core::complete(std::optional<pending<Signature>>& op, Args... args) {
    pending<Signature> done(std::move(*op));
    op.reset();
    boost::asio::post(executor_, boost::asio::append(std::move(done.handler), args...));
}

template <class Signature, class... Args>
void stream_core::fail_now(boost::asio::any_completion_handler<Signature> handler, Args... args) {
    boost::asio::post(executor_, boost::asio::append(std::move(handler), args...));
}

void stream_core::do_read_header(wait_handler handler, op_ticket ticket) {
    if (header_op_) return fail_now(std::move(handler), error_code(boost::asio::error::in_progress));
    if (cancelled_before_registration(ticket, handler)) return;
    if (cancelled_) return fail_now(std::move(handler), error_code(boost::asio::error::operation_aborted));
    if (!prepared_) return fail_now(std::move(handler), error_code(boost::asio::error::not_connected));
    if (head_ready_) return fail_now(std::move(handler), error_code{});
    if (done_) return fail_now(std::move(handler), transfer_error_);
    header_op_.emplace(make_pending(std::move(handler), std::move(ticket)));
}

void stream_core::do_read_some(buffer_list<boost::asio::mutable_buffer> buffers, io_handler handler,
                               op_ticket ticket) {
    if (read_op_)
        return fail_now(std::move(handler), error_code(boost::asio::error::in_progress), std::size_t{0});
    if (cancelled_before_registration(ticket, handler, std::size_t{0})) return;
    if (cancelled_)
        return fail_now(std::move(handler), error_code(boost::asio::error::operation_aborted),
                        std::size_t{0});
    if (!prepared_)
        return fail_now(std::move(handler), error_code(boost::asio::error::not_connected), std::size_t{0});
    if (buffers.size() == 0) return fail_now(std::move(handler), error_code{}, std::size_t{0});
    if (buffered() > 0) {
        const std::size_t n = take_buffered(buffers);
        fail_now(std::move(handler), error_code{}, n);
        return resume_receiving();
    }
    if (done_) return fail_now(std::move(handler), end_error(), std::size_t{0});
    read_buffers_ = buffers;
    read_op_.emplace(make_pending(std::move(handler), std::move(ticket)));
    resume_receiving();
}

void stream_core::do_write_some(buffer_list<boost::asio::const_buffer> buffers, io_handler handler,
                                op_ticket ticket) {
    auto fail = [&](error_code ec) { fail_now(std::move(handler), ec, std::size_t{0}); };
    if (write_op_ || finish_op_) return fail(boost::asio::error::in_progress);
    if (cancelled_before_registration(ticket, handler, std::size_t{0})) return;
    if (cancelled_) return fail(boost::asio::error::operation_aborted);
    if (!prepared_) return fail(boost::asio::error::not_connected);
    if (!upload_) return fail(boost::asio::error::operation_not_supported);  // not started with start_upload
    if (upload_finishing_) return fail(boost::asio::error::shut_down);
    if (done_) return fail(transfer_error_ ? transfer_error_ : error_code(boost::asio::error::broken_pipe));
    if (buffers.size() == 0) return fail({});
    if (upload_size_ && uploaded_ >= *upload_size_) return fail(errc::upload_size_mismatch);
    write_buffers_ = buffers;
    write_op_.emplace(make_pending(std::move(handler), std::move(ticket)));
    resume_sending();
}

void stream_core::do_finish_upload(wait_handler handler, op_ticket ticket) {
    auto fail = [&](error_code ec) { fail_now(std::move(handler), ec); };
    if (write_op_ || finish_op_) return fail(boost::asio::error::in_progress);
    if (cancelled_before_registration(ticket, handler)) return;
    if (cancelled_) return fail(boost::asio::error::operation_aborted);
    if (!prepared_) return fail(boost::asio::error::not_connected);
    if (!upload_) return fail(boost::asio::error::operation_not_supported);
    if (upload_size_ && uploaded_ != *upload_size_) return fail(errc::upload_size_mismatch);
    upload_finishing_ = true;
    // With a declared size curl stops asking once it has that many bytes: nothing more to hand over.
    if (upload_size_ || upload_ended_) return fail({});
    if (done_) return fail(transfer_error_ ? transfer_error_ : error_code(boost::asio::error::broken_pipe));
    finish_op_.emplace(make_pending(std::move(handler), std::move(ticket)));
    resume_sending();
}

void stream_core::do_cancel() {
    if (cancelled_) return;
    cancelled_ = true;
    begin_ = end_ = 0;
    if (prepared_ && !done_) {
        // The multi aborts the transfer; its completion (on_transfer_done) completes what is pending.
        abort_signal_.emit(boost::asio::cancellation_type::terminal);
        return;
    }
    const error_code aborted = boost::asio::error::operation_aborted;
    if (header_op_) complete(header_op_, aborted);
    if (finish_op_) complete(finish_op_, aborted);
    if (read_op_) complete(read_op_, aborted, std::size_t{0});
    if (write_op_) complete(write_op_, aborted, std::size_t{0});
}

void stream_core::cancel_op(op_kind kind, std::uint64_t serial, unsigned types) {
    const error_code aborted = boost::asio::error::operation_aborted;
    bool ended = false;
    if (kind == op_kind::header && waiting_with(header_op_, serial)) {
        complete(header_op_, aborted);
        ended = true;
    } else if (kind == op_kind::finish && waiting_with(finish_op_, serial)) {
        complete(finish_op_, aborted);
        ended = true;
    } else if (kind == op_kind::read && waiting_with(read_op_, serial)) {
        complete(read_op_, aborted, std::size_t{0});
        ended = true;
    } else if (kind == op_kind::write && waiting_with(write_op_, serial)) {
        complete(write_op_, aborted, std::size_t{0});
        ended = true;
    }
    if (ended && (types & static_cast<unsigned>(boost::asio::cancellation_type::terminal))) do_cancel();
}

// ---- the transfer's end ----

void stream_core::on_transfer_done(error_code ec) {
    done_ = true;
    if (cancelled_) ec = boost::asio::error::operation_aborted;
    transfer_error_ = ec;
    if (!head_ready_ && !ec) head_complete();  // a response without a body (204, HEAD, Content-Length: 0)
    if (!head_ready_) apply_status_line();     // what arrived of a head the failure cut short
    collect_info(handle_, response_.info);
    if (ec && response_.info.error_message.empty()) response_.info.error_message = ec.message();
    if (progress_) progress_->finish(handle_);
    if (header_op_) complete(header_op_, ec);
    if (read_op_) complete(read_op_, end_error(), std::size_t{0});  // the buffer is empty while a read waits
    if (write_op_) complete(write_op_, ec ? ec : error_code(boost::asio::error::broken_pipe), std::size_t{0});
    if (finish_op_)
        complete(finish_op_, ec              ? ec
                             : upload_ended_ ? error_code{}
                                             : error_code(boost::asio::error::broken_pipe));
}

void stream_core::drop_pending() noexcept {
    // Moved out first: a handler's destruction may destroy the stream, and so this object's last owner.
    auto self = shared_from_this();
    auto header = std::move(header_op_), finish = std::move(finish_op_);
    auto read = std::move(read_op_), write = std::move(write_op_);
    header_op_.reset();
    finish_op_.reset();
    read_op_.reset();
    write_op_.reset();
}

error_code stream_core::end_error() const {
    return transfer_error_ ? transfer_error_ : error_code(boost::asio::error::eof);
}

void stream_core::apply_status_line() {
    response_.version(head_.version);
    response_.result(head_.status);
    response_.reason(head_.reason);
}

void stream_core::head_complete() {
    head_ready_ = true;
    apply_status_line();
    for (const auto& [name, value] : head_.fields)
        response_.insert(name, value);
    if (header_op_) complete(header_op_, error_code{});
}

// ---- curl's callbacks (DESIGN rule 1: no curl call in here, completions are posted) ----

size_t stream_core::on_header(char* data, size_t size, size_t count, void* self) {
    auto& s = *static_cast<stream_core*>(self);
    const size_t length = size * count;
    if (s.head_ready_) return length;  // trailers
    on_header_line(data, size, count, &s.head_);
    const std::string_view line(data, length);
    // The blank line ends a head; it is the final one unless it is a 1xx or a redirect curl will follow.
    if ((line == "\r\n" || line == "\n") && s.head_.status >= 200 && !is_followed_redirect(s.head_, s.opts_))
        s.head_complete();
    return length;
}

size_t stream_core::on_write(char* data, size_t size, size_t count, void* self) {
    auto& s = *static_cast<stream_core*>(self);
    const size_t length = size * count;
    if (s.cancelled_) return 0;
    if (!s.head_ready_) s.head_complete();
    if (s.read_op_) {
        // A waiting read means the buffer is empty: the reader gets the bytes directly, the stream keeps the
        // rest (at most one write, which fits: the bound is at least one write).
        const std::size_t n = copy_out(s.read_buffers_, data, length);
        s.complete(s.read_op_, error_code{}, n);
        if (n < length) s.append(data + n, length - n);
        return length;
    }
    if (s.buffered() == 0 || s.buffered() + length <= s.limit_) {
        s.append(data, length);
        return length;
    }
    // Full: curl keeps this write and stops reading the connection until resume_receiving().
    s.receive_paused_ = true;
    ++s.pauses_;
    return CURL_WRITEFUNC_PAUSE;
}

size_t stream_core::on_read(char* data, size_t size, size_t count, void* self) {
    auto& s = *static_cast<stream_core*>(self);
    const size_t capacity = size * count;
    if (s.cancelled_) return CURL_READFUNC_ABORT;
    if (!s.upload_) {
        const std::size_t n = std::min(capacity, s.body_.size() - s.body_offset_);
        std::memcpy(data, s.body_.data() + s.body_offset_, n);
        s.body_offset_ += n;
        return n;
    }
    if (s.write_op_) {
        std::size_t room = capacity;
        if (s.upload_size_)
            room = static_cast<std::size_t>(std::min<std::uint64_t>(room, *s.upload_size_ - s.uploaded_));
        const std::size_t n = copy_in(data, room, s.write_buffers_);
        s.uploaded_ += n;
        s.complete(s.write_op_, error_code{}, n);
        if (s.upload_size_ && s.uploaded_ == *s.upload_size_) s.upload_ended_ = true;
        return n;
    }
    if (s.upload_finishing_) {
        s.upload_ended_ = true;
        if (s.finish_op_) s.complete(s.finish_op_, error_code{});
        return 0;
    }
    // Nothing written yet: curl stops asking until resume_sending().
    s.send_paused_ = true;
    return CURL_READFUNC_PAUSE;
}

// ---- the buffer, pause and unpause ----

void stream_core::append(const char* data, std::size_t length) {
    if (storage_.size() < limit_) storage_.resize(limit_);
    if (end_ + length > storage_.size() && begin_ > 0) {
        std::memmove(storage_.data(), storage_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    if (end_ + length > storage_.size()) storage_.resize(end_ + length);  // only for a write over 16 KiB
    std::memcpy(storage_.data() + end_, data, length);
    end_ += length;
    max_buffered_ = std::max(max_buffered_, end_ - begin_);
}

std::size_t stream_core::take_buffered(const buffer_list<boost::asio::mutable_buffer>& into) {
    const std::size_t n = copy_out(into, storage_.data() + begin_, end_ - begin_);
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
    return n;
}

void stream_core::resume_receiving() {
    if (!receive_paused_ || done_ || cancelled_) return;
    if (buffered() != 0 && buffered() + largest_write > limit_) return;  // not yet room for curl's next write
    receive_paused_ = false;
    set_pause();
}

void stream_core::resume_sending() {
    if (!send_paused_ || done_ || cancelled_) return;
    send_paused_ = false;
    set_pause();
}

// DESIGN rule 9: through the multi, on its executor and outside curl; curl may call on_write or on_read again
// before this returns, and they may pause again.
void stream_core::set_pause() {
    auto* state = handle_.state();
    if (!state || !state->busy() || !state->transfer.set_pause) return;
    const int bitmask = (receive_paused_ ? CURLPAUSE_RECV : 0) | (send_paused_ ? CURLPAUSE_SEND : 0);
    state->transfer.set_pause(state->transfer.runner, *state, bitmask);
}

}  // namespace detail

// ---- progress_watcher ----

struct progress_watcher::state {
    explicit state(executor_type ex) : executor(std::move(ex)) {}
    executor_type executor;
    std::mutex mutex;
    std::optional<progress> unread;
    bool ended = false;  // the last report (done) was taken
    std::optional<boost::asio::any_completion_handler<void(error_code, progress)>> waiting;
};

progress_watcher::progress_watcher(executor_type executor)
    : state_(std::make_shared<state>(std::move(executor))) {}

progress_watcher::executor_type progress_watcher::get_executor() const noexcept {
    return state_->executor;
}

std::function<void(const progress&)> progress_watcher::callback() const {
    return [s = state_](const progress& report) {
        std::optional<boost::asio::any_completion_handler<void(error_code, progress)>> handler;
        {
            std::lock_guard lock(s->mutex);
            if (!s->waiting) {
                s->unread = report;
                return;
            }
            handler.emplace(std::move(*s->waiting));
            s->waiting.reset();
            s->ended = report.done;
        }
        boost::asio::post(s->executor, boost::asio::append(std::move(*handler), error_code{}, report));
    };
}

void progress_watcher::next(const std::shared_ptr<state>& s,
                            boost::asio::any_completion_handler<void(error_code, progress)> handler) {
    error_code ec;
    progress report;
    {
        std::lock_guard lock(s->mutex);
        if (s->waiting) {
            ec = boost::asio::error::in_progress;
        } else if (s->unread) {
            report = *s->unread;
            s->unread.reset();
            s->ended = report.done;
        } else if (s->ended) {
            ec = boost::asio::error::eof;
        } else {
            s->waiting.emplace(std::move(handler));
            return;
        }
    }
    boost::asio::post(s->executor, boost::asio::append(std::move(handler), ec, report));
}

}  // namespace asiocurl::http
