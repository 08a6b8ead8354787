// The non-template half of http::basic_stream (src/http_stream.cpp): curl's write, read and header callbacks,
// the bounded body buffer, pause and unpause, and the pending operations. Everything here runs on the multi's
// executor, except the entry points, which hop onto it.
#ifndef ASIOCURL_HTTP_DETAIL_STREAM_CORE_HPP
#define ASIOCURL_HTTP_DETAIL_STREAM_CORE_HPP

#include <asiocurl/detail/cancellation_relay.hpp>
#include <asiocurl/easy.hpp>
#include <asiocurl/http/detail/progress_reporter.hpp>
#include <asiocurl/http/detail/transfer.hpp>
#include <asiocurl/http/options.hpp>
#include <asiocurl/http/response.hpp>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/smart_ptr/intrusive_ptr.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace asiocurl::http::detail {

// The caller's buffers, type-erased (as Asio's own buffer_sequence_adapter: the first 16 are used).
template <class Buffer>
struct buffer_list {
    static constexpr std::size_t max_buffers = 16;
    std::array<Buffer, max_buffers> buffers{};
    std::size_t count = 0;

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

class stream_core : public std::enable_shared_from_this<stream_core> {
public:
    using io_handler = boost::asio::any_completion_handler<void(error_code, std::size_t)>;
    using wait_handler = boost::asio::any_completion_handler<void(error_code)>;
    // CURL_MAX_WRITE_SIZE: the largest piece curl hands the write callback, so the smallest useful buffer.
    static constexpr std::size_t largest_write = CURL_MAX_WRITE_SIZE;

    stream_core(boost::asio::any_io_executor multi_executor, std::size_t buffer_size);
    ~stream_core();
    stream_core(const stream_core&) = delete;
    stream_core& operator=(const stream_core&) = delete;

    // Calling thread, before the transfer is handed to the multi. `upload`: the body comes through
    // async_write_some (`upload_size` known, or chunked); otherwise `body` (maybe empty) is the whole body.
    error_code prepare(const request_view& request, options opts, bool upload,
                       std::optional<std::uint64_t> upload_size, std::string body);
    easy& handle() noexcept { return handle_; }
    boost::asio::cancellation_slot abort_slot() noexcept { return abort_signal_.slot(); }
    void on_transfer_done(error_code ec);  // the multi's completion of the transfer
    void drop_pending() noexcept;          // that completion destroyed uninvoked: so are the pending handlers

    // Any thread: each hops onto the multi's executor.
    void read_header(wait_handler handler);
    void read_some(buffer_list<boost::asio::mutable_buffer> buffers, io_handler handler);
    void write_some(buffer_list<boost::asio::const_buffer> buffers, io_handler handler);
    void finish_upload(wait_handler handler);
    void cancel();

    // On the multi's executor.
    const response<boost::beast::http::empty_body>& header() const noexcept { return response_; }
    std::size_t buffered() const noexcept { return end_ - begin_; }
    std::size_t max_buffered() const noexcept { return max_buffered_; }
    std::size_t buffer_size() const noexcept { return limit_; }
    std::uint64_t pauses() const noexcept { return pauses_; }

    enum class op_kind { header, read, write, finish };
    void cancel_op(op_kind kind, std::uint64_t serial, unsigned types);

private:
    // An operation's number and the relay of its handler's cancellation slot, if connected. It goes with the
    // operation — completed, failed at once, or destroyed uninvoked by ~io_context — and then disarms the
    // relay, whose slot handler Asio leaves in the user's signal (DESIGN rule 12).
    struct op_ticket {
        std::uint64_t serial = 0;
        boost::intrusive_ptr<asiocurl::detail::cancellation_relay> relay;

        op_ticket(std::uint64_t number, asiocurl::detail::cancellation_relay* r) noexcept
            : serial(number), relay(r, false) {}
        op_ticket(op_ticket&&) noexcept = default;
        op_ticket& operator=(op_ticket&&) = delete;
        ~op_ticket() {
            if (relay) relay->disarm();
        }
        unsigned requested() const noexcept { return relay ? relay->requested() : 0u; }
    };

    template <class Signature>
    struct pending {
        boost::asio::any_completion_handler<Signature> handler;
        boost::asio::any_completion_executor work;  // the handler's executor stays busy while it waits
        op_ticket ticket;
    };

    static void deliver_cancellation(void* core, std::uint64_t tag, unsigned types);
    // A cancellation emitted between the initiating call and the operation's registration on the executor:
    // the operation fails at once (and terminal ends the exchange). True when it did.
    template <class Signature, class... Args>
    bool cancelled_before_registration(const op_ticket& ticket,
                                       boost::asio::any_completion_handler<Signature>& handler, Args... args);

    static size_t on_write(char* data, size_t size, size_t count, void* self);
    static size_t on_read(char* data, size_t size, size_t count, void* self);
    static size_t on_header(char* data, size_t size, size_t count, void* self);

    template <class Signature>
    pending<Signature> make_pending(boost::asio::any_completion_handler<Signature> handler, op_ticket ticket);
    // Numbers the operation and connects its cancellation slot in the initiating call, then runs
    // `start(*this, handler, ticket)` on the multi's executor.
    template <class Handler, class Start>
    void hop(op_kind kind, Handler handler, Start start);
    template <class Signature, class... Args>
    void complete(std::optional<pending<Signature>>& op, Args... args);
    template <class Signature, class... Args>
    void fail_now(boost::asio::any_completion_handler<Signature> handler, Args... args);

    void do_read_header(wait_handler handler, op_ticket ticket);
    void do_read_some(buffer_list<boost::asio::mutable_buffer> buffers, io_handler handler, op_ticket ticket);
    void do_write_some(buffer_list<boost::asio::const_buffer> buffers, io_handler handler, op_ticket ticket);
    void do_finish_upload(wait_handler handler, op_ticket ticket);
    void do_cancel();

    void apply_status_line();
    void head_complete();
    std::size_t take_buffered(const buffer_list<boost::asio::mutable_buffer>& into);
    void append(const char* data, std::size_t length);
    void resume_receiving();
    void resume_sending();
    void set_pause();
    error_code end_error() const;  // what a read gets once the buffer is empty and the transfer ended

    boost::asio::any_io_executor executor_;
    easy handle_;
    options opts_;
    response_head head_;
    header_list headers_;
    std::shared_ptr<progress_reporter> progress_;
    boost::asio::cancellation_signal abort_signal_;
    response<boost::beast::http::empty_body> response_;

    // Receiving: at most `limit_` bytes held here (DESIGN: bounded whatever the body size).
    std::size_t limit_;
    std::vector<char> storage_;
    std::size_t begin_ = 0, end_ = 0, max_buffered_ = 0;
    bool receive_paused_ = false;

    // Sending.
    bool upload_ = false;
    std::optional<std::uint64_t> upload_size_;
    std::uint64_t uploaded_ = 0;
    std::string body_;  // a request body given whole
    std::size_t body_offset_ = 0;
    bool upload_finishing_ = false;  // async_finish_upload called: the next read callback returns 0
    bool upload_ended_ = false;      // curl has the whole body
    bool send_paused_ = false;

    bool prepared_ = false, head_ready_ = false, done_ = false, cancelled_ = false;
    error_code transfer_error_;
    std::atomic<std::uint64_t> next_serial_{1};  // taken by the initiating thread
    std::uint64_t pauses_ = 0;

    std::optional<pending<void(error_code)>> header_op_, finish_op_;
    std::optional<pending<void(error_code, std::size_t)>> read_op_, write_op_;
    buffer_list<boost::asio::mutable_buffer> read_buffers_;
    buffer_list<boost::asio::const_buffer> write_buffers_;
};

}  // namespace asiocurl::http::detail

#endif
