// PageCache: lookups return what was inserted, erase removes, the budget holds,
// and random operations agree with a model (exercises probe-run deletion).
#include "pager/page_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "testing/test_util.h"

namespace manifold {
namespace {

PageBuf Page(uint64_t tag) {
  PageBuf p = NewPageBuf(512);
  std::memcpy(p.get(), &tag, sizeof tag);
  return p;
}
uint64_t Tag(const PageBuf& p) {
  uint64_t t;
  std::memcpy(&t, p.get(), sizeof t);
  return t;
}

TEST(PageCacheTest, InsertLookupEraseAndBudget) {
  PageCache cache(uint64_t{512} * 128, 512);  // 128 pages
  for (uint64_t i = 0; i < 1000; i++) cache.Insert(i, Page(i));
  EXPECT_LE(cache.used_bytes(), 512u * 128);
  int found = 0;
  for (uint64_t i = 0; i < 1000; i++) {
    PageBuf p = cache.Lookup(i);
    if (p) {
      EXPECT_EQ(Tag(p), i);
      found++;
    }
  }
  EXPECT_EQ(found, 128);
  // Recently used pages survive eviction (second chance).
  for (int round = 0; round < 3; round++) {
    ASSERT_NE(cache.Lookup(999), nullptr);
    for (uint64_t i = 2000 + round * 100u; i < 2100 + round * 100u; i++) cache.Insert(i, Page(i));
  }
  EXPECT_NE(cache.Lookup(999), nullptr);
  cache.Insert(5000, Page(1));
  cache.Insert(5000, Page(2));  // replace
  EXPECT_EQ(Tag(cache.Lookup(5000)), 2u);
  cache.Erase(5000);
  EXPECT_EQ(cache.Lookup(5000), nullptr);
  cache.Insert(uint64_t{1} << 40, Page(7));  // beyond the directory: silently not cached
  EXPECT_EQ(cache.Lookup(uint64_t{1} << 40), nullptr);
}

TEST(PageCacheTest, RandomOperationsAgreeWithModel) {
  uint64_t seed = testing::TestSeed("PageCacheTest");
  std::mt19937_64 rng(seed);
  PageCache cache(uint64_t{512} * 2048, 512);  // room for everything below: no eviction
  std::map<uint64_t, uint64_t> model;
  for (int i = 0; i < 200000; i++) {
    uint64_t page = rng() % 1500;
    switch (rng() % 3) {
      case 0:
        cache.Insert(page, Page(i));
        model[page] = static_cast<uint64_t>(i);
        break;
      case 1:
        cache.Erase(page);
        model.erase(page);
        break;
      default: {
        PageBuf p = cache.Lookup(page);
        auto it = model.find(page);
        ASSERT_EQ(p != nullptr, it != model.end()) << "seed " << seed << " op " << i;
        if (p) {
          ASSERT_EQ(Tag(p), it->second);
        }
      }
    }
  }
  EXPECT_EQ(cache.used_bytes(), model.size() * 512);
}

// How many of `pages` the cache holds (each with the right contents).
int CountCached(PageCache& cache, const std::vector<uint64_t>& pages) {
  int found = 0;
  for (uint64_t p : pages) {
    PageBuf b = cache.Lookup(p);
    if (b) {
      EXPECT_EQ(Tag(b), p);
      found++;
    }
  }
  return found;
}

// Pinned pages (a logged commit's, or replay's held pages: their only image)
// are never evicted, whatever the budget. A checkpoint unpins a page only if
// the image it wrote is still the cached one: a newer commit may have pinned
// a newer image of the same page number meanwhile, which must stay pinned.
TEST(PageCacheTest, PinnedPagesStayAndUnpinNeedsTheSameImage) {
  PageCache cache(uint64_t{512} * 8, 512);  // 8 unpinned pages (the smallest budget)
  for (uint64_t i = 0; i < 10; i++) cache.Insert(i, Page(i), /*pinned=*/true);
  for (uint64_t i = 100; i < 200; i++) cache.Insert(i, Page(i));
  EXPECT_LE(cache.used_bytes(), 512u * 8);
  for (uint64_t i = 0; i < 10; i++) {
    PageBuf p = cache.LookupPinned(i);
    ASSERT_NE(p, nullptr) << i;
    EXPECT_EQ(Tag(p), i);
  }
  const PageBuf old_image = cache.LookupPinned(3);
  cache.Insert(3, Page(33), /*pinned=*/true);  // a newer commit's image of page 3
  cache.Unpin(3, old_image.get());             // the checkpoint wrote the old one
  for (uint64_t i = 200; i < 300; i++) cache.Insert(i, Page(i));
  PageBuf still = cache.LookupPinned(3);
  ASSERT_NE(still, nullptr) << "a checkpoint unpinned an image it did not write";
  EXPECT_EQ(Tag(still), 33u);
  cache.Unpin(3, still.get());  // now the written image: unpinned, counted in the budget
  still.reset();
  EXPECT_EQ(cache.LookupPinned(3), nullptr);
  for (uint64_t i = 300; i < 400; i++) cache.Insert(i, Page(i));
  EXPECT_LE(cache.used_bytes(), 512u * 8);
  cache.Unpin(3, nullptr);    // absent: nothing happens
  cache.Unpin(5000, nullptr);  // beyond every chunk: nothing happens
  for (uint64_t i = 0; i < 10; i++) {
    if (i == 3) continue;
    EXPECT_NE(cache.LookupPinned(i), nullptr) << i;
  }
}

// Pages far apart live in different nodes and chunks of the table (allocated
// on first use; each level splits at multiples of 256, 65,536 and 2^24); the
// CLOCK hand must step over the missing ones and still evict down to the
// budget, and the highest cacheable page number must work.
TEST(PageCacheTest, SparsePageNumbersAcrossDirectories) {
  PageCache cache(uint64_t{512} * 8, 512);  // 8 pages
  const uint64_t top = (uint64_t{1} << 32) - 1;
  std::vector<uint64_t> pages = {0,          1,        255,           256,          65535, 65536, 1023, 1024,
                                 uint64_t{1} << 21, (uint64_t{1} << 21) + 5, (uint64_t{1} << 24) - 1,
                                 uint64_t{1} << 24, uint64_t{3} << 28, top - 1, top};
  for (uint64_t p : pages) cache.Insert(p, Page(p));
  EXPECT_EQ(cache.used_bytes(), 512u * 8);  // over the budget: evicted down to it
  EXPECT_EQ(CountCached(cache, pages), 8);
  for (uint64_t p = 100; p < 140; p++) {
    pages.push_back((p << 22) + p);
    cache.Insert(pages.back(), Page(pages.back()));
  }
  EXPECT_EQ(cache.used_bytes(), 512u * 8);
  EXPECT_EQ(CountCached(cache, pages), 8);
  cache.Insert(top + 1, Page(1));  // 2^32: not cached
  EXPECT_EQ(cache.Lookup(top + 1), nullptr);
}

// The stripes' lock excludes: more threads than cores increment one plain
// counter under it (a lock that let two in would lose increments; under
// ThreadSanitizer it would also be a reported race), and threads preempted
// while holding it do not stall the others for good (they yield).
TEST(SpinYieldLockTest, ExcludesWithMoreThreadsThanCores) {
  SpinYieldLock lock;
  volatile uint64_t counter = 0;  // read, then written: a second thread inside loses an increment
  constexpr int kThreads = 8, kIncrements = 100000;
  std::atomic<bool> go{false};  // all start together
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kIncrements; i++) {
        std::lock_guard<SpinYieldLock> guard(lock);
        const uint64_t seen = counter;
        for (int k = 0; k < 16; k++) std::atomic_signal_fence(std::memory_order_seq_cst);  // widen the window
        counter = seen + 1;
      }
    });
  }
  go = true;
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(counter, uint64_t{kThreads} * kIncrements);
}

}  // namespace
}  // namespace manifold
