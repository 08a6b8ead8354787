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

    void* allocate(std::size_t size);
    void deallocate(void* block, std::size_t size) noexcept;

    std::size_t cached() const noexcept { return held_blocks_; }
    std::size_t cached_bytes() const noexcept { return held_bytes_; }

private:
    struct free_block {
        free_block* next;
    };
    static constexpr std::size_t classes = largest_cached / granularity;
    std::array<free_block*, classes> free_{};
    std::size_t held_blocks_ = 0;
    std::size_t held_bytes_ = 0;
};

// The calling thread's cache. Under AddressSanitizer, every block goes straight back to the heap instead,
// so that a use of an operation after its end is still caught.
void* allocate_cached(std::size_t size);
void deallocate_cached(void* block, std::size_t size) noexcept;

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
