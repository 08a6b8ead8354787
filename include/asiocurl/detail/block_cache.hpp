// Memory for asynchronous operations larger than Asio's own recycling cache takes (a fetch's operation holds
// its request, options and response: over 1 KiB, where asio::recycling_allocator falls back to aligned
// new/delete every time). Each thread keeps a few freed blocks for the next operation it starts.
#ifndef ASIOCURL_DETAIL_BLOCK_CACHE_HPP
#define ASIOCURL_DETAIL_BLOCK_CACHE_HPP

#include <array>
#include <cstddef>
#include <new>

namespace asiocurl::detail {

// A handful of freed blocks, each reused by the next allocation of its (rounded) size. Not thread-safe: one
// per thread.
class block_cache {
public:
    static constexpr std::size_t capacity = 8;
    // Requests are rounded up to this, so that operations of nearly the same size share blocks.
    static constexpr std::size_t granularity = 256;

    block_cache() = default;
    block_cache(const block_cache&) = delete;
    block_cache& operator=(const block_cache&) = delete;
    ~block_cache();

    void* allocate(std::size_t size);
    void deallocate(void* block, std::size_t size) noexcept;

    std::size_t cached() const noexcept;

private:
    struct entry {
        void* block = nullptr;
        std::size_t size = 0;
    };
    std::array<entry, capacity> entries_{};
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

}  // namespace asiocurl::detail

#endif
