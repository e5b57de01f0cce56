#include "util/big_buffer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

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
#if defined(__linux__)
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % BigBuffer::kHugePageBytes, 0u);
#endif
  b.reset();
  EXPECT_EQ(b.data(), nullptr);
  b.reset();  // twice is fine
}

}  // namespace
}  // namespace manifold
