// The non-template half of http::basic_stream (src/http/stream.cpp): an exchange whose body sink and source
// are the stream machine's, and the pending operations' handlers. Everything here runs on the multi's
// executor, except the entry points, which hop onto it.
#ifndef ASIOCURL_HTTP_DETAIL_STREAM_CORE_HPP
#define ASIOCURL_HTTP_DETAIL_STREAM_CORE_HPP

#include <asiocurl/detail/cancellation_relay.hpp>
#include <asiocurl/detail/post_completion.hpp>
#include <asiocurl/http/detail/exchange.hpp>
#include <asiocurl/http/detail/stream_machine.hpp>
#include <asiocurl/http/options.hpp>
#include <asiocurl/http/response.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/smart_ptr/intrusive_ptr.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace asiocurl::http::detail {

class stream_core final : public exchange, public std::enable_shared_from_this<stream_core> {
public:
    using io_handler = boost::asio::any_completion_handler<void(error_code, std::size_t)>;
    using wait_handler = boost::asio::any_completion_handler<void(error_code)>;
    using op_kind = stream_machine::op;
    // CURL_MAX_WRITE_SIZE: the largest piece curl hands the write callback, so the smallest useful buffer.
    static constexpr std::size_t largest_write = CURL_MAX_WRITE_SIZE;

    stream_core(boost::asio::any_io_executor multi_executor, std::size_t buffer_size);
    ~stream_core();

    // Before the transfer is handed to the multi (on its executor, or before it runs anything): sets the
    // exchange up on `handle`, lent by the multi. `upload`: the body comes through async_write_some
    // (`upload_size` known, or chunked); otherwise `body` (maybe empty) is the whole body.
    error_code prepare(asiocurl::detail::easy_state& handle, request_view& request, const options& opts,
                       bool upload, std::optional<std::uint64_t> upload_size, std::string body);
    bool prepared() const noexcept { return machine_.started(); }
    boost::asio::cancellation_slot abort_slot() noexcept { return abort_signal_.slot(); }
    void on_transfer_done(error_code ec);  // the multi's completion of the transfer
    void drop_pending() noexcept;          // that completion destroyed uninvoked: so are the pending handlers

    // Any thread: each hops onto the multi's executor. `route`: where the handler's completion goes.
    using route = asiocurl::detail::completion_route;
    void read_header(wait_handler handler, route to);
    void read_some(const buffer_list<boost::asio::mutable_buffer>& buffers, io_handler handler, route to);
    void write_some(const buffer_list<boost::asio::const_buffer>& buffers, io_handler handler, route to);
    void finish_upload(wait_handler handler, route to);
    void cancel();

    // On the multi's executor.
    const response<boost::beast::http::empty_body>& header() const noexcept { return response_; }
    std::size_t buffered() const noexcept { return machine_.buffered(); }
    std::size_t max_buffered() const noexcept { return machine_.max_buffered(); }
    std::size_t buffer_size() const noexcept { return machine_.buffer_limit(); }
    std::uint64_t pauses() const noexcept { return machine_.pauses(); }

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

    // A waiting operation's handler.
    struct pending {
        wait_handler wait;  // header, finish
        io_handler io;      // read, write
        route to;           // the handler's executor stays busy while it waits
        op_ticket ticket;
    };

    // exchange: the machine is the body's sink and source; the head goes into response_.
    void on_status(unsigned version, unsigned status, std::string_view reason) override;
    void on_field(std::string_view name, std::string_view value) override;
    void on_final_head() override;
    std::size_t on_body(const char* data, std::size_t size) override;
    std::size_t on_request_body(char* out, std::size_t capacity) override;
    transfer_info& info() noexcept override { return response_.info; }
    void on_end(error_code&) noexcept override {}

    static void deliver_cancellation(void* core, std::uint64_t tag, unsigned types);
    void cancel_op(op_kind kind, std::uint64_t serial, unsigned types);
    // Numbers the operation and connects its cancellation slot in the initiating call, then runs `start`
    // on the multi's executor.
    template <class Handler, class Start>
    void hop(op_kind kind, Handler handler, route to, Start start);
    // Registers the handler of an operation the machine keeps waiting, or completes it at once; then carries
    // out the rest of what the machine asked.
    template <class Ask>
    void begin(op_kind kind, wait_handler wait, io_handler io, route to, op_ticket ticket, Ask ask);
    // Running on the multi's executor: asked on every operation, so an io_context's executor is asked
    // directly, not through any_io_executor's type-erased target lookup.
    bool on_executor() const noexcept;
    void apply(const stream_machine::actions& actions);
    void complete(op_kind kind, error_code ec, std::size_t bytes);
    void set_pause(stream_machine::pause_state state);

    boost::asio::any_io_executor executor_;
    const boost::asio::io_context::executor_type* io_executor_;  // inside executor_, when it is one
    stream_machine machine_;
    boost::asio::cancellation_signal abort_signal_;
    response<boost::beast::http::empty_body> response_;
    bool fields_added_ = false;
    std::atomic<std::uint64_t> next_serial_{1};      // taken by the initiating thread
    std::array<std::optional<pending>, 4> pending_;  // by op_kind
};

}  // namespace asiocurl::http::detail

#endif
