// The decisions of http::stream as a sans-io state machine: no curl, no io_context, no handlers. The driver
// (stream_core) feeds it events — an operation asked for, curl's write or read callback, the transfer's end,
// a cancellation — and carries out what each returns: complete these operations, change curl's pause state,
// abort the transfer. Unit-tested on its own (test/unit/test_stream_machine.cpp).
#ifndef ASIOCURL_HTTP_DETAIL_STREAM_MACHINE_HPP
#define ASIOCURL_HTTP_DETAIL_STREAM_MACHINE_HPP

#include <asiocurl/error.hpp>

#include <boost/asio/buffer.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace asiocurl::http::detail {

// The caller's buffers, type-erased (as Asio's own buffer_sequence_adapter: the first 16 are used).
template <class Buffer>
struct buffer_list {
    static constexpr std::size_t max_buffers = 16;
    // Left uninitialised: only the first `count` are ever written and read. A list is made or copied on every
    // read and write (and two live in every stream), nearly always holding one buffer of the sixteen.
    struct slots {
        slots() noexcept {}
        Buffer& operator[](std::size_t i) noexcept { return items[i]; }
        const Buffer& operator[](std::size_t i) const noexcept { return items[i]; }
        union {
            Buffer items[max_buffers];
        };
    };
    slots buffers;
    std::size_t count = 0;

    buffer_list() = default;
    buffer_list(const buffer_list& other) noexcept : count(other.count) {
        std::copy_n(other.buffers.items, count, buffers.items);
    }
    buffer_list& operator=(const buffer_list& other) noexcept {
        count = other.count;
        std::copy_n(other.buffers.items, count, buffers.items);
        return *this;
    }

    template <class Sequence>
    static buffer_list from(const Sequence& sequence) {
        buffer_list out;
        for (auto it = boost::asio::buffer_sequence_begin(sequence);
             it != boost::asio::buffer_sequence_end(sequence) && out.count < max_buffers; ++it) {
            Buffer b(*it);
            if (b.size() > 0) out.buffers[out.count++] = b;
        }
        return out;
    }
    std::size_t size() const noexcept {
        std::size_t total = 0;
        for (std::size_t i = 0; i < count; ++i)
            total += buffers[i].size();
        return total;
    }
};

class stream_machine {
public:
    enum class op { header, read, write, finish };

    // No default member initialisers: an event's answer is made on every callback and operation, and only
    // the first `actions::completed` entries are ever written or read.
    struct completion {
        op which;
        error_code ec;
        std::size_t bytes;
        bool immediate;  // the operation just asked for (not registered), not the one waiting
    };
    // Whether curl should hold back receiving and sending (CURLPAUSE_RECV, CURLPAUSE_SEND).
    struct pause_state {
        bool receive = false;
        bool send = false;
        friend bool operator==(const pause_state&, const pause_state&) = default;
    };
    // What the driver does after an event, in this order: complete these operations (posted), apply the
    // pause state (through the multi, outside curl), abort the transfer.
    struct actions {
        std::array<completion, 4> completions;  // the first `completed`
        std::size_t completed = 0;
        std::optional<pause_state> set_pause;
        bool abort_transfer = false;
        bool head_completed = false;  // the final head is complete now: the driver applies it

        void complete(op which, error_code ec, std::size_t bytes = 0) {
            completions[completed++] = completion{which, ec, bytes, false};
        }
        void refuse(op which, error_code ec, std::size_t bytes = 0) {
            completions[completed++] = completion{which, ec, bytes, true};
        }
    };
    // What curl's callbacks return besides the bytes: "pause" (CURL_WRITEFUNC_PAUSE, CURL_READFUNC_PAUSE).
    static constexpr std::size_t pause = static_cast<std::size_t>(-1);
    static constexpr std::size_t abort =
        static_cast<std::size_t>(-2);  // CURL_READFUNC_ABORT; a write refused

    // `buffer_limit`: at most this many body bytes held (raised to `largest_write`, curl's largest write).
    stream_machine(std::size_t buffer_limit, std::size_t largest_write);

    // The exchange began: a request body given whole (`body`), or written through write operations
    // (`upload`, exactly `upload_size` bytes, or chunked without one).
    void start(bool upload, std::optional<std::uint64_t> upload_size, std::string body);

    // ---- operations asked for (on the executor) ----
    actions request_header();
    actions request_read(const buffer_list<boost::asio::mutable_buffer>& into);
    actions request_write(const buffer_list<boost::asio::const_buffer>& from);
    actions request_finish();
    // A cancellation of the waiting operation `which` (the driver checked it is the one the signal was for).
    // `terminal` also ends the exchange.
    actions cancel_op(op which, bool terminal);
    // The stream's cancel() or destruction: everything waiting completes with operation_aborted.
    actions cancel();

    // ---- the exchange (inside curl's callbacks, except on_done) ----
    actions on_head_complete();
    // curl's write callback: the bytes taken (`length`), or `pause`, or `abort` once cancelled.
    std::size_t on_body(const char* data, std::size_t length, actions& out);
    // curl's read callback: bytes given (0: the body's end), or `pause`, or `abort`.
    std::size_t on_read(char* into, std::size_t capacity, actions& out);
    // The transfer ended (the multi's completion): with `ec`, or operation_aborted if cancelled before.
    actions on_done(error_code ec);

    // ---- state ----
    bool started() const noexcept { return started_; }
    bool head_ready() const noexcept { return head_ready_; }
    bool done() const noexcept { return done_; }
    bool cancelled() const noexcept { return cancelled_; }
    bool waiting(op which) const noexcept { return waiting_[static_cast<int>(which)]; }
    pause_state paused() const noexcept { return {receive_paused_, send_paused_}; }
    error_code transfer_error() const noexcept { return transfer_error_; }
    std::size_t buffered() const noexcept { return end_ - begin_; }
    std::size_t max_buffered() const noexcept { return max_buffered_; }
    std::size_t buffer_limit() const noexcept { return limit_; }
    std::uint64_t pauses() const noexcept { return pauses_; }

private:
    bool& waiting_for(op which) noexcept { return waiting_[static_cast<int>(which)]; }
    void finish_op(actions& out, op which, error_code ec, std::size_t bytes = 0);
    void complete_head(actions& out);
    error_code end_error() const;  // what a read gets once the buffer is empty and the transfer ended
    std::size_t take_buffered(const buffer_list<boost::asio::mutable_buffer>& into);
    void append(const char* data, std::size_t length);
    void resume_receiving(actions& out);
    void resume_sending(actions& out);

    std::size_t limit_, largest_write_;
    bool started_ = false, head_ready_ = false, done_ = false, cancelled_ = false;
    error_code transfer_error_;
    std::array<bool, 4> waiting_{};

    // Receiving: at most `limit_` bytes held here, in a block grown as bytes arrive (from 4 KiB, doubling up
    // to the limit), taken from and given back to the thread's block cache: a small response never takes the
    // whole bound, and the next stream's block is the one the last freed. A whole-bound block per stream was
    // a large malloc and free each time, and glibc consolidates its fast bins on every large request.
    struct block_deleter {
        std::size_t size;  // no initialiser: a member's keeps a nested class from being default-constructible
                           // before the enclosing class is complete (unique_ptr asks)
        void operator()(char* block) const noexcept;
    };
    std::unique_ptr<char[], block_deleter> storage_{nullptr, block_deleter{0}};  // at the first byte kept
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0, end_ = 0, max_buffered_ = 0;
    bool receive_paused_ = false;
    std::uint64_t pauses_ = 0;
    buffer_list<boost::asio::mutable_buffer> read_into_;

    // Sending.
    bool upload_ = false;
    std::optional<std::uint64_t> upload_size_;
    std::uint64_t uploaded_ = 0;
    std::string body_;  // a request body given whole
    std::size_t body_offset_ = 0;
    bool finishing_ = false;     // a finish was asked for: the next read callback ends the body
    bool upload_ended_ = false;  // curl has the whole body
    bool send_paused_ = false;
    buffer_list<boost::asio::const_buffer> write_from_;
};

}  // namespace asiocurl::http::detail

#endif
