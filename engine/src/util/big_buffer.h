// A large scratch buffer, for reading a whole file at once (the log, at
// recovery).
//
// On Linux a buffer of kMapMinBytes or more is anonymous memory aligned to
// 2 MiB and advised as transparent huge pages (MADV_HUGEPAGE, which the
// default THP mode "madvise" honours): filling it then takes a few hundred
// page faults instead of one per 4 KiB, and replay, which reads the records
// in key order (scattered over the log), misses the TLB far less. The advice
// is only that: without huge pages it is ordinary memory. Elsewhere (the
// WASM build), for small sizes, or if mmap fails: new[].
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace manifold {

class BigBuffer {
 public:
  static constexpr size_t kHugePageBytes = size_t{2} << 20;
  static constexpr size_t kMapMinBytes = size_t{4} << 20;

  // Not zero-filled. Throws std::bad_alloc if there is no memory for it.
  explicit BigBuffer(size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= kMapMinBytes && bytes <= SIZE_MAX / 2) {
      const size_t rounded = (bytes + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
      const size_t len = rounded + kHugePageBytes;  // room to align the start
      void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m != MAP_FAILED) {
        map_ = m;
        map_bytes_ = len;
        void* at = m;
        size_t space = len;
        data_ = static_cast<char*>(std::align(kHugePageBytes, rounded, at, space));  // fits: len has the slack
        (void)madvise(data_, rounded, MADV_HUGEPAGE);  // advice: ignored where THP is off
        return;
      }
    }
#endif
    heap_ = std::make_unique_for_overwrite<char[]>(bytes == 0 ? 1 : bytes);
    data_ = heap_.get();
  }
  ~BigBuffer() { reset(); }
  BigBuffer(const BigBuffer&) = delete;
  BigBuffer& operator=(const BigBuffer&) = delete;

  char* data() const { return data_; }

  // Frees the memory now; data() is null afterwards.
  void reset() {
#if defined(__linux__)
    if (map_ != nullptr) (void)munmap(map_, map_bytes_);
#endif
    map_ = nullptr;
    heap_.reset();
    data_ = nullptr;
  }

 private:
  char* data_ = nullptr;
  void* map_ = nullptr;  // the mapping (data_ lies inside it), or null
  size_t map_bytes_ = 0;
  std::unique_ptr<char[]> heap_;
};

}  // namespace manifold
