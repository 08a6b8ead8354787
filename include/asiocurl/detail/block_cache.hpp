// Memory for the library's asynchronous operations. Asio's own recycling allocator keeps two blocks a thread
// for each purpose and nothing over 1 KiB: a fetch's operation (its request, options and response) went to
// aligned new every time, and with a socket wait per connection so did most waits. Each thread keeps the
// blocks its operations freed for the next ones it starts.
#ifndef ASIOCURL_DETAIL_BLOCK_CACHE_HPP
#define ASIOCURL_DETAIL_BLOCK_CACHE_HPP

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/bind_allocator.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace asiocurl::detail {

// Freed blocks by size class, each class a free list served last-in first-out, so that the next operation of
// a size takes the block the last one of that size freed, however many are in flight (a wait per connection
// on a multi of thousands). Bounded: beyond `byte_limit` held, or above `largest_cached`, blocks go back to
// the heap. Not thread-safe: one per thread.
class block_cache {
public:
    // Requests are rounded up to this, so that operations of nearly the same size share blocks.
    static constexpr std::size_t granularity = 64;
    static constexpr std::size_t largest_cached = 4096;
    static constexpr std::size_t byte_limit = std::size_t{1} << 20;

    block_cache() = default;
    block_cache(const block_cache&) = delete;
    block_cache& operator=(const block_cache&) = delete;
    ~block_cache();

    // Inline: every operation of the library takes and gives back its memory here.
    void* allocate(std::size_t size) {
        const std::size_t wanted = checked_size(size);
        if (wanted > largest_cached) return ::operator new(wanted);
        free_block*& head = free_[wanted / granularity - 1];
        if (!head) return ::operator new(wanted);
        free_block* block = head;
        head = block->next;
        --held_blocks_;
        held_bytes_ -= wanted;
        return block;
    }
    void deallocate(void* block, std::size_t size) noexcept {
        const std::size_t held = rounded(size);
        if (held > largest_cached || held_bytes_ + held > byte_limit) {
            ::operator delete(block);
            return;
        }
        free_block*& head = free_[held / granularity - 1];
        head = ::new (block) free_block{head};
        ++held_blocks_;
        held_bytes_ += held;
    }

    std::size_t cached() const noexcept { return held_blocks_; }
    std::size_t cached_bytes() const noexcept { return held_bytes_; }

    // For a size checked_size() accepted: rounded up to the granularity (0 counts as 1).
    static constexpr std::size_t rounded(std::size_t size) noexcept {
        const std::size_t at_least = size ? size : 1;
        return (at_least + granularity - 1) / granularity * granularity;
    }
    // A size that would wrap when rounded up is refused, not turned into a tiny block.
    static std::size_t checked_size(std::size_t size) {
        if (size > static_cast<std::size_t>(-1) - granularity) throw std::bad_alloc();
        return rounded(size);
    }

private:
    struct free_block {
        free_block* next;
    };
    static constexpr std::size_t classes = largest_cached / granularity;
    std::array<free_block*, classes> free_{};
    std::size_t held_blocks_ = 0;
    std::size_t held_bytes_ = 0;
};

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool cache_blocks = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool cache_blocks = false;
#else
inline constexpr bool cache_blocks = true;
#endif
#else
inline constexpr bool cache_blocks = true;
#endif

// The calling thread's cache, reached through a trivially destructible thread_local (no guard, no TLS wrapper
// on the hot path): null until the thread's first block, and again once the thread's cache is gone (a block
// freed by another thread_local's destructor after that goes back to the heap, not into a destroyed object).
inline thread_local block_cache* thread_cache = nullptr;
block_cache* make_thread_cache();  // null once the thread's cache has been destroyed

// The calling thread's cache. Under AddressSanitizer, every block goes straight back to the heap instead,
// so that a use of an operation after its end is still caught.
inline void* allocate_cached(std::size_t size) {
    block_cache* cache = !cache_blocks ? nullptr : thread_cache ? thread_cache : make_thread_cache();
    return cache ? cache->allocate(size) : ::operator new(block_cache::checked_size(size));
}
inline void deallocate_cached(void* block, std::size_t size) noexcept {
    block_cache* cache = !cache_blocks ? nullptr : thread_cache ? thread_cache : make_thread_cache();
    if (cache)
        cache->deallocate(block, size);
    else
        ::operator delete(block);
}

// The default allocator of asiocurl's operations when their handler has none.
template <class T>
class cached_allocator {
public:
    using value_type = T;

    cached_allocator() noexcept = default;
    template <class U>
    cached_allocator(const cached_allocator<U>&) noexcept {}

    T* allocate(std::size_t n) {
        static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__, "over-aligned operation");
        if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
        return static_cast<T*>(allocate_cached(n * sizeof(T)));
    }
    void deallocate(T* p, std::size_t n) noexcept { deallocate_cached(p, n * sizeof(T)); }

    template <class U>
    bool operator==(const cached_allocator<U>&) const noexcept {
        return true;
    }
};

// A handler as it is erased into the library: with its own allocator, or else the block cache (Asio's
// default for an erased handler, its recycling allocator, keeps two blocks a thread: with more operations in
// flight the rest went to the heap).
template <class T>
struct is_allocator_binder : std::false_type {};
template <class T, class Allocator>
struct is_allocator_binder<boost::asio::allocator_binder<T, Allocator>> : std::true_type {};

template <class Handler>
decltype(auto) with_default_allocator(Handler&& handler) {
    using handler_type = std::decay_t<Handler>;
    // One bound explicitly, even to std::allocator, is left as it is (Boost 1.81 cannot bind a binder again).
    if constexpr (is_allocator_binder<handler_type>::value ||
                  !std::is_same_v<boost::asio::associated_allocator_t<handler_type>, std::allocator<void>>)
        return std::forward<Handler>(handler);
    else
        return boost::asio::bind_allocator(cached_allocator<void>(), std::forward<Handler>(handler));
}

}  // namespace asiocurl::detail

#endif
