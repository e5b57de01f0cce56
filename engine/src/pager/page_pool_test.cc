#include "pager/page_pool.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "pager/page_cache.h"

namespace manifold {
namespace {

// What the pool is for: PageBufs. Their bytes must be distinct, writable and
// survive while others come and go.
TEST(PagePoolTest, BuffersAreDistinctAndKeepTheirContents) {
  std::vector<PageBuf> bufs;
  for (int i = 0; i < 3000; i++) {  // several slabs of 4 KiB pages
    PageBuf b = NewPageBuf(4096);
    ASSERT_EQ(reinterpret_cast<uintptr_t>(b.get()) % 16, 0u);
    std::memset(b.get(), i & 0xff, 4096);
    bufs.push_back(std::move(b));
  }
  std::set<const char*> seen;
  for (const auto& b : bufs) EXPECT_TRUE(seen.insert(b.get()).second);
  // Free every other one, allocate as many again: freed slots are reused
  // and nobody else's bytes change.
  for (size_t i = 0; i < bufs.size(); i += 2) bufs[i].reset();
  std::vector<PageBuf> more;
  for (size_t i = 0; i < bufs.size(); i += 2) {
    more.push_back(NewPageBuf(4096));
    std::memset(more.back().get(), 0xEE, 4096);
  }
  for (size_t i = 1; i < bufs.size(); i += 2) {
    for (int at = 0; at < 4096; at += 511) ASSERT_EQ(static_cast<unsigned char>(bufs[i][at]), i & 0xff) << i;
  }
}

TEST(PagePoolTest, EmptySlabsGoBackToTheSystem) {
  if (!page_pool::Enabled()) GTEST_SKIP() << "the pool is off in this build (sanitizer, or not Linux)";
  const uint64_t before = page_pool::SlabsMapped();
  {
    std::vector<PageBuf> bufs;
    bufs.reserve(2000);
    for (int i = 0; i < 2000; i++) bufs.push_back(NewPageBuf(8192));  // ~8 slabs of 8 KiB pages
    EXPECT_GE(page_pool::SlabsMapped(), before + 7);
  }
  // All free again: at most one empty slab is kept per class.
  EXPECT_LE(page_pool::SlabsMapped(), before + 1);
}

TEST(PagePoolTest, EveryPageSizeAndOddSizes) {
  std::vector<std::pair<void*, size_t>> blocks;
  for (size_t size : {size_t{1}, size_t{100}, size_t{256}, size_t{257}, size_t{528}, size_t{4112}, size_t{65552},
                      size_t{1} << 17, (size_t{1} << 17) + 1, size_t{1} << 20}) {
    for (int i = 0; i < 3; i++) {
      void* p = page_pool::Allocate(size);
      ASSERT_NE(p, nullptr);
      ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
      std::memset(p, 0x5A, size);
      blocks.emplace_back(p, size);
    }
  }
  for (uint32_t ps = 512; ps <= 65536; ps *= 2) {
    PageBuf b = NewPageBuf(ps);
    std::memset(b.get(), 1, ps);
  }
  for (auto& [p, size] : blocks) {
    EXPECT_EQ(static_cast<unsigned char*>(p)[size - 1], 0x5A);
    page_pool::Free(p, size);
  }
}

TEST(PagePoolTest, DisableAfterTheFirstAllocationChangesNothing) {
  PageBuf b = NewPageBuf(4096);
  const bool on = page_pool::Enabled();
  EXPECT_EQ(page_pool::Disable(), !on);  // too late if it is on; already off otherwise
  EXPECT_EQ(page_pool::Enabled(), on);
}

// Buffers allocated in one thread and freed in another, as the cache does.
// Under TSan this also checks the pool's locking.
TEST(PagePoolTest, ThreadsAllocateAndFreeEachOthersBuffers) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 20000;
  std::vector<std::vector<PageBuf>> handoff(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  std::atomic<int> bad{0};
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<uint32_t>(t));
      std::vector<PageBuf> mine;
      for (int r = 0; r < kRounds; r++) {
        if (mine.size() < 64 || rng() % 2 == 0) {
          PageBuf b = NewPageBuf(4096);
          std::memset(b.get(), t, 4096);
          mine.push_back(std::move(b));
        } else {
          size_t i = rng() % mine.size();
          if (mine[i][4095] != static_cast<char>(t)) bad++;
          mine[i] = std::move(mine.back());
          mine.pop_back();
        }
      }
      handoff[t] = std::move(mine);
    });
  }
  for (auto& th : threads) th.join();
  threads.clear();
  for (int t = 0; t < kThreads; t++) {
    // Thread t frees what thread (t + 1) % kThreads allocated.
    threads.emplace_back([&, t] { handoff[(t + 1) % kThreads].clear(); });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

// A fork while another thread holds a class's lock must not leave the lock
// held in the child (the pool takes every lock across fork, as malloc does).
// Each child allocates a page buffer and exits; one that hangs is killed by
// its alarm. Without the fork handlers, some of the 100 children hang.
TEST(PagePoolTest, ForkWhileAnotherThreadAllocates) {
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    std::vector<PageBuf> keep(64);
    for (size_t i = 0; !stop.load(std::memory_order_relaxed); i++) keep[i % keep.size()] = NewPageBuf(4096);
  });
  int hung = 0, failed = 0;
  for (int i = 0; i < 100; i++) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::alarm(5);
      PageBuf b = NewPageBuf(4096);
      b[0] = 1;
      ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) hung++;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
  }
  stop = true;
  churn.join();
  EXPECT_EQ(hung, 0) << "children hung on a lock held at fork";
  EXPECT_EQ(failed, 0);
}

}  // namespace
}  // namespace manifold
