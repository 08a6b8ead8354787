// The decisions of http::stream (detail/stream_machine.hpp). Nothing here calls curl or touches an executor.
#include <asiocurl/detail/block_cache.hpp>
#include <asiocurl/http/detail/stream_machine.hpp>

#include <boost/asio/error.hpp>

#include <algorithm>
#include <cstring>

namespace asiocurl::http::detail {
namespace {

namespace aerror = boost::asio::error;

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

}  // namespace

stream_machine::stream_machine(std::size_t buffer_limit, std::size_t largest_write)
    : limit_(std::max(buffer_limit, largest_write)), largest_write_(largest_write) {}

void stream_machine::block_deleter::operator()(char* block) const noexcept {
    asiocurl::detail::deallocate_cached(block, size);
}

void stream_machine::start(bool upload, std::optional<std::uint64_t> upload_size, std::string body) {
    started_ = true;
    upload_ = upload;
    upload_size_ = upload_size;
    body_ = std::move(body);
}

void stream_machine::finish_op(actions& out, op which, error_code ec, std::size_t bytes) {
    waiting_for(which) = false;
    out.complete(which, ec, bytes);
}

error_code stream_machine::end_error() const {
    return transfer_error_ ? transfer_error_ : error_code(aerror::eof);
}

// ---- operations ----

stream_machine::actions stream_machine::request_header() {
    actions out;
    if (waiting(op::header))
        out.refuse(op::header, aerror::in_progress);
    else if (cancelled_)
        out.refuse(op::header, aerror::operation_aborted);
    else if (!started_)
        out.refuse(op::header, aerror::not_connected);
    else if (head_ready_)
        out.refuse(op::header, {});
    else if (done_)
        out.refuse(op::header, transfer_error_);
    else
        waiting_for(op::header) = true;
    return out;
}

stream_machine::actions stream_machine::request_read(const buffer_list<boost::asio::mutable_buffer>& into) {
    actions out;
    if (waiting(op::read))
        out.refuse(op::read, aerror::in_progress);
    else if (cancelled_)
        out.refuse(op::read, aerror::operation_aborted);
    else if (!started_)
        out.refuse(op::read, aerror::not_connected);
    else if (into.size() == 0)
        out.refuse(op::read, {});
    else if (buffered() > 0) {
        out.refuse(op::read, {}, take_buffered(into));
        resume_receiving(out);
    } else if (done_)
        out.refuse(op::read, end_error());
    else {
        read_into_ = into;
        waiting_for(op::read) = true;
        resume_receiving(out);
    }
    return out;
}

stream_machine::actions stream_machine::request_write(const buffer_list<boost::asio::const_buffer>& from) {
    actions out;
    if (waiting(op::write) || waiting(op::finish))
        out.refuse(op::write, aerror::in_progress);
    else if (cancelled_)
        out.refuse(op::write, aerror::operation_aborted);
    else if (!started_)
        out.refuse(op::write, aerror::not_connected);
    else if (!upload_)  // not started with start_upload
        out.refuse(op::write, aerror::operation_not_supported);
    else if (finishing_)
        out.refuse(op::write, aerror::shut_down);
    // Before the end: curl may end the transfer as soon as it has the declared bytes, and a write past them
    // is the caller's mistake whether or not that end has been learnt yet.
    else if (from.size() != 0 && upload_size_ && uploaded_ >= *upload_size_)
        out.refuse(op::write, errc::upload_size_mismatch);
    else if (done_)
        out.refuse(op::write, transfer_error_ ? transfer_error_ : error_code(aerror::broken_pipe));
    else if (from.size() == 0)
        out.refuse(op::write, {});
    else {
        write_from_ = from;
        waiting_for(op::write) = true;
        resume_sending(out);
    }
    return out;
}

stream_machine::actions stream_machine::request_finish() {
    actions out;
    if (waiting(op::write) || waiting(op::finish))
        out.refuse(op::finish, aerror::in_progress);
    else if (cancelled_)
        out.refuse(op::finish, aerror::operation_aborted);
    else if (!started_)
        out.refuse(op::finish, aerror::not_connected);
    else if (!upload_)
        out.refuse(op::finish, aerror::operation_not_supported);
    else if (upload_size_ && uploaded_ != *upload_size_)
        out.refuse(op::finish, errc::upload_size_mismatch);
    else {
        finishing_ = true;
        // With a declared size curl stops asking once it has that many bytes: nothing more to hand over.
        if (upload_size_ || upload_ended_)
            out.refuse(op::finish, {});
        else if (done_)
            out.refuse(op::finish, transfer_error_ ? transfer_error_ : error_code(aerror::broken_pipe));
        else {
            waiting_for(op::finish) = true;
            resume_sending(out);
        }
    }
    return out;
}

stream_machine::actions stream_machine::cancel_op(op which, bool terminal) {
    actions out;
    if (!waiting(which)) return out;
    finish_op(out, which, aerror::operation_aborted);
    if (terminal) {
        const actions rest = cancel();
        for (std::size_t i = 0; i < rest.completed; ++i)
            out.completions[out.completed++] = rest.completions[i];
        out.abort_transfer = rest.abort_transfer;
    }
    return out;
}

stream_machine::actions stream_machine::cancel() {
    actions out;
    if (cancelled_) return out;
    cancelled_ = true;
    begin_ = end_ = 0;
    if (started_ && !done_) {
        // The transfer's end (on_done, with operation_aborted) completes what waits.
        out.abort_transfer = true;
        return out;
    }
    for (op which : {op::header, op::finish, op::read, op::write})
        if (waiting(which)) finish_op(out, which, aerror::operation_aborted);
    return out;
}

// ---- the exchange ----

void stream_machine::complete_head(actions& out) {
    head_ready_ = true;
    out.head_completed = true;
    if (waiting(op::header)) finish_op(out, op::header, {});
}

stream_machine::actions stream_machine::on_head_complete() {
    actions out;
    if (!head_ready_) complete_head(out);
    return out;
}

std::size_t stream_machine::on_body(const char* data, std::size_t length, actions& out) {
    if (cancelled_) return abort;
    if (!head_ready_) complete_head(out);
    if (waiting(op::read)) {
        // A waiting read means the buffer is empty: the reader gets the bytes directly, the stream keeps the
        // rest (at most one write, which fits: the bound is at least one write).
        const std::size_t n = copy_out(read_into_, data, length);
        finish_op(out, op::read, {}, n);
        if (n < length) append(data + n, length - n);
        return length;
    }
    if (buffered() == 0 || buffered() + length <= limit_) {
        append(data, length);
        return length;
    }
    // Full: curl keeps this write and stops reading the connection until a read makes room.
    receive_paused_ = true;
    ++pauses_;
    return pause;
}

std::size_t stream_machine::on_read(char* into, std::size_t capacity, actions& out) {
    if (cancelled_) return abort;
    if (!upload_) {
        const std::size_t n = std::min(capacity, body_.size() - body_offset_);
        std::memcpy(into, body_.data() + body_offset_, n);
        body_offset_ += n;
        return n;
    }
    if (waiting(op::write)) {
        std::size_t room = capacity;
        if (upload_size_)
            room = static_cast<std::size_t>(std::min<std::uint64_t>(room, *upload_size_ - uploaded_));
        const std::size_t n = copy_in(into, room, write_from_);
        uploaded_ += n;
        finish_op(out, op::write, {}, n);
        if (upload_size_ && uploaded_ == *upload_size_) upload_ended_ = true;
        return n;
    }
    if (finishing_) {
        upload_ended_ = true;
        if (waiting(op::finish)) finish_op(out, op::finish, {});
        return 0;
    }
    // Nothing written yet: curl stops asking until a write arrives.
    send_paused_ = true;
    return pause;
}

stream_machine::actions stream_machine::on_done(error_code ec) {
    actions out;
    done_ = true;
    if (cancelled_) ec = aerror::operation_aborted;
    transfer_error_ = ec;
    if (!head_ready_ && !ec) complete_head(out);  // a response without a body (204, HEAD, Content-Length: 0)
    if (waiting(op::header)) finish_op(out, op::header, ec);
    if (waiting(op::read)) finish_op(out, op::read, end_error());  // the buffer is empty while a read waits
    if (waiting(op::write)) finish_op(out, op::write, ec ? ec : error_code(aerror::broken_pipe));
    if (waiting(op::finish))
        finish_op(out, op::finish, ec ? ec : upload_ended_ ? error_code{} : error_code(aerror::broken_pipe));
    return out;
}

// ---- the buffer, pause and unpause ----

void stream_machine::append(const char* data, std::size_t length) {
    if (end_ + length > capacity_ && begin_ > 0) {
        std::memmove(storage_.get(), storage_.get() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    if (end_ + length > capacity_) {
        // Doubled up to the limit; past it only for a write over the limit. Uninitialised: zero-filling cost
        // more than the rest of a 1 KiB exchange.
        constexpr std::size_t first_block = asiocurl::detail::block_cache::largest_cached;
        const std::size_t size =
            std::max(end_ + length, std::min(limit_, std::max(first_block, 2 * capacity_)));
        std::unique_ptr<char[], block_deleter> larger(
            static_cast<char*>(asiocurl::detail::allocate_cached(size)), block_deleter{size});
        if (end_ > 0) std::memcpy(larger.get(), storage_.get(), end_);
        storage_ = std::move(larger);
        capacity_ = size;
    }
    std::memcpy(storage_.get() + end_, data, length);
    end_ += length;
    max_buffered_ = std::max(max_buffered_, end_ - begin_);
}

std::size_t stream_machine::take_buffered(const buffer_list<boost::asio::mutable_buffer>& into) {
    const std::size_t n = copy_out(into, storage_.get() + begin_, end_ - begin_);
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
    return n;
}

void stream_machine::resume_receiving(actions& out) {
    if (!receive_paused_ || done_ || cancelled_) return;
    if (buffered() != 0 && buffered() + largest_write_ > limit_) return;  // no room yet for curl's next write
    receive_paused_ = false;
    out.set_pause = paused();
}

void stream_machine::resume_sending(actions& out) {
    if (!send_paused_ || done_ || cancelled_) return;
    send_paused_ = false;
    out.set_pause = paused();
}

}  // namespace asiocurl::http::detail
