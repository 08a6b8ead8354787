#ifndef ASIOCURL_DETAIL_CANCELLATION_RELAY_HPP
#define ASIOCURL_DETAIL_CANCELLATION_RELAY_HPP

#include <asiocurl/detail/block_cache.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_type.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace asiocurl::detail {

// True when the calling thread runs `executor` now (an io_context's executor or a strand of one; false for
// any other kind, which is then reached by a post).
bool running_in_this_thread(const boost::asio::any_io_executor& executor) noexcept;

// The cancellation types that abort a transfer (DESIGN "The Asio contract"; total only before it started).
inline constexpr unsigned aborting_cancellation =
    static_cast<unsigned>(boost::asio::cancellation_type::terminal) |
    static_cast<unsigned>(boost::asio::cancellation_type::partial);

// Carries cancellation from a handler's slot (emitted on any thread) to an operation that lives on an
// executor. The slot handler holds a counted reference to the relay, and Asio leaves it in the user's signal
// after the operation completed: so once the operation disarms the relay, the relay holds nothing that can
// dangle — a signal that outlives its io_context then destroys a relay without an executor (DESIGN rule 12).
class cancellation_relay {
public:
    // On the operation's executor, from `deliver(target, tag, types)`.
    using deliver_function = void (*)(void* target, std::uint64_t tag, unsigned types);

    cancellation_relay(boost::asio::any_io_executor executor, void* target, std::uint64_t tag,
                       deliver_function on_cancel) noexcept
        : executor_(std::move(executor)), target_(target), tag_(tag), deliver_(on_cancel) {}
    cancellation_relay(const cancellation_relay&) = delete;
    cancellation_relay& operator=(const cancellation_relay&) = delete;

    // One per operation whose handler has a slot (every stream's transfer has one): from the thread's block
    // cache, as the operations themselves are, not the heap each time.
    static void* operator new(std::size_t size) { return allocate_cached(size); }
    static void operator delete(void* block, std::size_t size) noexcept { deallocate_cached(block, size); }

    // Any thread. Recorded at once (the operation's own callbacks read it), delivered at once when the caller
    // runs on the executor (a cancellation emitted from inside a callback takes effect there), else posted.
    void emit(unsigned types);

    // The types emitted so far (any thread).
    unsigned requested() const noexcept { return requested_.load(std::memory_order_acquire); }
    bool abort_requested() const noexcept { return (requested() & aborting_cancellation) != 0; }

    // On the executor: the operation is over; nothing is delivered afterwards and the executor is let go.
    void disarm() noexcept;

    friend void intrusive_ptr_add_ref(cancellation_relay* r) noexcept {
        r->refs_.fetch_add(1, std::memory_order_relaxed);
    }
    friend void intrusive_ptr_release(cancellation_relay* r) noexcept {
        if (r->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete r;
    }

private:
    void deliver(unsigned types) const {
        if (target_) deliver_(target_, tag_, types);
    }

    std::atomic<int> refs_{1};
    std::atomic<unsigned> requested_{0};
    std::mutex mutex_;                       // guards executor_ between emit (any thread) and disarm
    boost::asio::any_io_executor executor_;  // empty once disarmed
    void* target_;                           // read and cleared on the executor only
    std::uint64_t tag_;
    deliver_function deliver_;
};

// What the library installs in a handler's cancellation slot.
struct relay_slot_handler {
    cancellation_relay* relay;  // one counted reference

    explicit relay_slot_handler(cancellation_relay* r) noexcept : relay(r) { intrusive_ptr_add_ref(r); }
    relay_slot_handler(const relay_slot_handler&) = delete;
    relay_slot_handler& operator=(const relay_slot_handler&) = delete;
    ~relay_slot_handler() { intrusive_ptr_release(relay); }

    void operator()(boost::asio::cancellation_type type) const { relay->emit(static_cast<unsigned>(type)); }
};

}  // namespace asiocurl::detail

#endif
