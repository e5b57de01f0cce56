#include "util/big_buffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace manifold {
namespace {

// Every byte of the buffer can be written and read back (a mapping that is
// too short, or misaligned past its end, would fault or lose the last bytes).
void ExpectWholeBufferUsable(BigBuffer& b, size_t n) {
  ASSERT_NE(b.data(), nullptr);
  for (size_t at = 0; at < n; at += 4096) b.data()[at] = static_cast<char>(at / 4096);
  std::memset(b.data() + n - 100, 'z', 100);
  for (size_t at = 0; at + 100 < n; at += 4096) ASSERT_EQ(b.data()[at], static_cast<char>(at / 4096)) << at;
  for (size_t at = n - 100; at < n; at++) ASSERT_EQ(b.data()[at], 'z') << at;
}

TEST(BigBufferTest, SmallBuffersComeFromTheHeap) {
  BigBuffer b(1000);
  ExpectWholeBufferUsable(b, 1000);
  BigBuffer empty(0);
  EXPECT_NE(empty.data(), nullptr);
}

TEST(BigBufferTest, LargeBuffersAreWholeAndAlignedToHugePages) {
  const size_t n = BigBuffer::kMapMinBytes * 2 + 12345;  // not a multiple of 2 MiB
  BigBuffer b(n);
  ExpectWholeBufferUsable(b, n);
  if (kHugePagesMappable) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % BigBuffer::kHugePageBytes, 0u);
  }
  b.reset();
  EXPECT_EQ(b.data(), nullptr);
  b.reset();  // twice is fine
}

// A vector that grows from the heap into huge pages (and back, on shrink)
// keeps its elements; a large one starts on a huge-page boundary.
TEST(HugePageAllocatorTest, VectorsGrowAcrossTheThreshold) {
  std::vector<uint64_t, HugePageAllocator<uint64_t>> v;
  const size_t n = BigBuffer::kMapMinBytes / sizeof(uint64_t) * 3;
  for (size_t i = 0; i < n; i++) v.push_back(i * 0x9E3779B97F4A7C15ull);
  if (kHugePagesMappable) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % kHugePageBytes, 0u);
  }
  for (size_t i = 0; i < n; i += 997) ASSERT_EQ(v[i], i * 0x9E3779B97F4A7C15ull) << i;
  v.resize(10);
  v.shrink_to_fit();  // back to the heap
  for (size_t i = 0; i < 10; i++) ASSERT_EQ(v[i], i * 0x9E3779B97F4A7C15ull);
}

#if MANIFOLD_HEAP_CHECKED
// Under AddressSanitizer large buffers and vectors come from the heap, so a
// read one past the end is reported (in a huge-page mapping it would have
// read the mapping's slack unnoticed).
TEST(BigBufferDeathTest, SanitizerSeesTheEndOfLargeBuffers) {
  static_assert(!kHugePagesMappable);
  using Vector = std::vector<char, HugePageAllocator<char>>;  // (no comma inside the macro below)
  const size_t n = BigBuffer::kMapMinBytes + 4096;
  EXPECT_DEATH(
      {
        BigBuffer b(n);
        volatile const char* p = b.data();
        (void)p[n];
      },
      "heap-buffer-overflow");
  EXPECT_DEATH(
      {
        Vector v(n);
        volatile const char* p = v.data();
        (void)p[n];
      },
      "heap-buffer-overflow");
}
#endif

}  // namespace
}  // namespace manifold
