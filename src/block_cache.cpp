// Freed operation blocks kept per thread (detail/block_cache.hpp).
#include <asiocurl/detail/block_cache.hpp>

#include <new>

namespace asiocurl::detail {
namespace {

// For a size checked_size() accepted.
constexpr std::size_t rounded(std::size_t size) noexcept {
    const std::size_t at_least = size ? size : 1;
    return (at_least + block_cache::granularity - 1) / block_cache::granularity * block_cache::granularity;
}

// A size that would wrap when rounded up is refused, not turned into a tiny block.
std::size_t checked_size(std::size_t size) {
    if (size > static_cast<std::size_t>(-1) - block_cache::granularity) throw std::bad_alloc();
    return rounded(size);
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool cache_blocks = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool cache_blocks = false;
#else
constexpr bool cache_blocks = true;
#endif
#else
constexpr bool cache_blocks = true;
#endif

}  // namespace

block_cache::~block_cache() {
    for (free_block* head : free_)
        while (head) {
            free_block* next = head->next;
            ::operator delete(head);
            head = next;
        }
}

void* block_cache::allocate(std::size_t size) {
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

void block_cache::deallocate(void* block, std::size_t size) noexcept {
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

namespace {
// The thread's cache is reached through trivially destructible thread_locals: a block freed by another
// thread_local's destructor after the cache's owner has gone goes back to the heap instead of into a
// destroyed object.
thread_local block_cache* thread_cache = nullptr;
thread_local bool thread_cache_closed = false;

struct thread_cache_owner {
    ~thread_cache_owner() {
        delete thread_cache;
        thread_cache = nullptr;
        thread_cache_closed = true;
    }
};

block_cache* thread_block_cache() {
    if (!thread_cache && !thread_cache_closed) {
        thread_local thread_cache_owner owner;
        thread_cache = new block_cache;
    }
    return thread_cache;
}
}  // namespace

void* allocate_cached(std::size_t size) {
    block_cache* cache = cache_blocks ? thread_block_cache() : nullptr;
    return cache ? cache->allocate(size) : ::operator new(checked_size(size));
}

void deallocate_cached(void* block, std::size_t size) noexcept {
    block_cache* cache = cache_blocks ? thread_block_cache() : nullptr;
    if (cache)
        cache->deallocate(block, size);
    else
        ::operator delete(block);
}

}  // namespace asiocurl::detail
