// The per-thread cache of freed operation blocks: what it keeps, what it hands back, what it lets go.
#include <asiocurl/detail/block_cache.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <new>
#include <thread>
#include <vector>

namespace asiocurl::detail {
namespace {

TEST(block_cache, a_freed_block_serves_the_next_allocation_of_its_size) {
    block_cache cache;
    void* first = cache.allocate(1500);
    cache.deallocate(first, 1500);
    EXPECT_EQ(cache.cached(), 1u);
    EXPECT_EQ(cache.cached_bytes(), 1536u);
    EXPECT_EQ(cache.allocate(1480), first);  // the same rounded size (1536)
    EXPECT_EQ(cache.cached(), 0u);
    EXPECT_EQ(cache.cached_bytes(), 0u);
    cache.deallocate(first, 1480);
}

TEST(block_cache, a_block_of_another_size_is_not_handed_out) {
    block_cache cache;
    void* small = cache.allocate(300);
    cache.deallocate(small, 300);
    void* large = cache.allocate(3000);
    EXPECT_NE(large, small);
    EXPECT_EQ(cache.cached(), 1u);
    cache.deallocate(large, 3000);
    EXPECT_EQ(cache.cached(), 2u);
    EXPECT_EQ(cache.allocate(300), small);
    EXPECT_EQ(cache.allocate(3000), large);
    cache.deallocate(small, 300);
    cache.deallocate(large, 3000);
}

// However many are in flight at once (a wait per connection), each freed block serves a later allocation:
// the last freed first.
TEST(block_cache, every_freed_block_of_a_size_is_kept_the_last_freed_served_first) {
    block_cache cache;
    std::vector<void*> blocks;
    for (int i = 0; i < 1000; ++i)
        blocks.push_back(cache.allocate(120));
    for (void* b : blocks)
        cache.deallocate(b, 120);
    EXPECT_EQ(cache.cached(), 1000u);
    for (auto it = blocks.rbegin(); it != blocks.rend(); ++it)
        EXPECT_EQ(cache.allocate(100), *it);
    EXPECT_EQ(cache.cached(), 0u);
    for (void* b : blocks)
        cache.deallocate(b, 100);
}

TEST(block_cache, holds_at_most_its_byte_limit_and_no_large_block) {
    block_cache cache;
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < block_cache::byte_limit / 2048 + 3; ++i)
        blocks.push_back(cache.allocate(2000));
    for (void* b : blocks)
        cache.deallocate(b, 2000);
    EXPECT_EQ(cache.cached_bytes(), block_cache::byte_limit);
    EXPECT_EQ(cache.cached(), block_cache::byte_limit / 2048);
    void* large = cache.allocate(block_cache::largest_cached + 1);
    cache.deallocate(large, block_cache::largest_cached + 1);
    EXPECT_EQ(cache.cached(), block_cache::byte_limit / 2048) << "a large block goes back to the heap";
    // The cache's destructor returns what it holds (LeakSanitizer checks).
}

TEST(block_cache, a_size_that_would_wrap_is_refused) {
    block_cache cache;
    EXPECT_THROW(cache.allocate(static_cast<std::size_t>(-1) - 10), std::bad_alloc);
    EXPECT_THROW(cached_allocator<std::uint64_t>().allocate(static_cast<std::size_t>(-1) / 4),
                 std::bad_alloc);
}

TEST(block_cache, the_allocator_works_on_any_thread_and_across_threads) {
    cached_allocator<char> allocator;
    char* made_here = allocator.allocate(1200);
    made_here[1199] = 'x';
    std::thread other([&] {
        char* there = allocator.allocate(1200);
        there[0] = 'y';
        allocator.deallocate(there, 1200);
        allocator.deallocate(made_here, 1200);  // freed on another thread: that thread's cache takes it
    });
    other.join();
    char* again = allocator.allocate(1200);
    again[0] = 'z';
    allocator.deallocate(again, 1200);
    EXPECT_TRUE(cached_allocator<int>() == cached_allocator<char>());
}

}  // namespace
}  // namespace asiocurl::detail
