// Freed operation blocks kept per thread (detail/block_cache.hpp): the cache's end, and each thread's cache.
#include <asiocurl/detail/block_cache.hpp>

#include <new>

namespace asiocurl::detail {

block_cache::~block_cache() {
    for (free_block* head : free_)
        while (head) {
            free_block* next = head->next;
            ::operator delete(head);
            head = next;
        }
}

namespace {
thread_local bool thread_cache_closed = false;

struct thread_cache_owner {
    ~thread_cache_owner() {
        delete thread_cache;
        thread_cache = nullptr;
        thread_cache_closed = true;
    }
};
}  // namespace

block_cache* make_thread_cache() {
    if (!thread_cache && !thread_cache_closed) {
        thread_local thread_cache_owner owner;
        thread_cache = new block_cache;
    }
    return thread_cache;
}

}  // namespace asiocurl::detail
