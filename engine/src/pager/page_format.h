// On-disk layout of B+tree and freelist pages (docs/format/pages.md).
//
// Every page starts with a 32-byte header:
//   0  u8  type            1 leaf, 2 branch, 3 freelist
//   1  u8  reserved        0
//   2  u16 count           number of entries (slots)
//   4  u32 checksum        masked CRC32C of the whole page with this field zeroed
//   8  u64 page_no         the page's own number (catches misdirected writes)
//  16  u64 generation      the commit that wrote it
//  24  u32 data_start      lowest byte offset used by an entry (page_size when empty)
//  28  u32 frag_bytes      bytes of dead entries between data_start and the end
// Leaf and branch pages: a slot array of `count` 6-byte slots follows the
// header, sorted by key: u16 entry offset, u32 key prefix (the key's first four
// bytes, zero-padded, as a big-endian number, so that binary search compares
// integers and reads a full key only when prefixes tie). Entries are packed
// from the end of the page down.
//   leaf entry:   varint key_len, key, varint tag, payload
//                 tag = value_len << 1            -> payload is the value
//                 tag = value_len << 1 | 1        -> payload is an overflow ref:
//                                                    u64 first page, u32 masked CRC32C of value
//   branch entry: varint key_len, key, u64 child page, u32 child checksum
//                 entry 0 of a branch has an empty key (minus infinity); child i
//                 holds keys k with key(i) <= k < key(i+1).
// Freelist page: after the header, u64 next page, u32 next checksum, then
// `count` u64 free page numbers.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "util/coding.h"
#include "util/crc32c.h"

namespace manifold {

enum class PageType : uint8_t { kLeaf = 1, kBranch = 2, kFreelist = 3 };

inline constexpr uint32_t kPageHeaderBytes = 32;
inline constexpr uint32_t kBranchRefBytes = 12;    // u64 page + u32 checksum
inline constexpr uint32_t kOverflowRefBytes = 12;  // u64 first page + u32 checksum
inline constexpr uint32_t kFreelistFixedBytes = kPageHeaderBytes + 12;
inline constexpr uint32_t kSlotBytes = 6;  // u16 offset + u32 key prefix

// The first four bytes of a key, zero-padded, as a big-endian number: ordering
// prefixes orders keys whenever the prefixes differ.
inline uint32_t KeyPrefix(std::string_view key) {
  unsigned char b[4] = {0, 0, 0, 0};
  if (!key.empty()) std::memcpy(b, key.data(), key.size() < 4 ? key.size() : 4);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

namespace page {

inline PageType Type(const char* p) { return static_cast<PageType>(p[0]); }
inline uint16_t Count(const char* p) { return DecodeU16(p + 2); }
inline uint32_t StoredChecksum(const char* p) { return DecodeU32(p + 4); }
inline uint64_t PageNo(const char* p) { return DecodeU64(p + 8); }
inline uint64_t Generation(const char* p) { return DecodeU64(p + 16); }
inline uint32_t DataStart(const char* p) { return DecodeU32(p + 24); }
inline uint32_t FragBytes(const char* p) { return DecodeU32(p + 28); }
inline uint16_t Slot(const char* p, int i) { return DecodeU16(p + kPageHeaderBytes + kSlotBytes * static_cast<size_t>(i)); }
inline uint32_t SlotPrefix(const char* p, int i) { return DecodeU32(p + kPageHeaderBytes + kSlotBytes * static_cast<size_t>(i) + 2); }

inline void SetCount(char* p, uint16_t n) { EncodeU16(p + 2, n); }
inline void SetDataStart(char* p, uint32_t v) { EncodeU32(p + 24, v); }
inline void SetFragBytes(char* p, uint32_t v) { EncodeU32(p + 28, v); }
inline void SetSlot(char* p, int i, uint16_t off, uint32_t prefix) {
  EncodeU16(p + kPageHeaderBytes + kSlotBytes * static_cast<size_t>(i), off);
  EncodeU32(p + kPageHeaderBytes + kSlotBytes * static_cast<size_t>(i) + 2, prefix);
}

// Checksum of the page as it would be stored (field at offset 4 treated as zero).
inline uint32_t ComputeChecksum(const char* p, uint32_t page_size) {
  static constexpr char kZero[4] = {0, 0, 0, 0};
  uint32_t c = crc32c::Extend(0, p, 4);
  c = crc32c::Extend(c, kZero, 4);
  c = crc32c::Extend(c, p + 8, page_size - 8);
  return crc32c::Mask(c);
}

inline void Init(char* p, uint32_t page_size, PageType type, uint64_t page_no) {
  std::memset(p, 0, kPageHeaderBytes);
  p[0] = static_cast<char>(type);
  EncodeU64(p + 8, page_no);
  SetDataStart(p, page_size);
}

// Stamps page number, generation and checksum; returns the checksum.
inline uint32_t Seal(char* p, uint32_t page_size, uint64_t page_no, uint64_t generation) {
  EncodeU64(p + 8, page_no);
  EncodeU64(p + 16, generation);
  uint32_t c = ComputeChecksum(p, page_size);
  EncodeU32(p + 4, c);
  return c;
}

// Bytes available to entries and slots in an empty page.
inline uint32_t Capacity(uint32_t page_size) { return page_size - kPageHeaderBytes; }
// Largest encoded entry (plus its slot) allowed in a leaf or branch, so that
// any page that overflows can be split in two halves that fit.
inline uint32_t MaxEntryBytes(uint32_t page_size) { return Capacity(page_size) / 4 - kSlotBytes; }

// Bytes used by slots and live entries.
inline uint32_t UsedBytes(const char* p, uint32_t page_size) {
  return kSlotBytes * Count(p) + (page_size - DataStart(p) - FragBytes(p));
}

}  // namespace page

// A decoded view of one entry inside a page. Points into the page.
struct EntryView {
  std::string_view key;
  std::string_view rest;   // leaf: tag+payload; branch: 12-byte ref
  uint32_t encoded_bytes;  // whole entry as stored
};

// Parses entry `i`; returns false if the bytes are malformed (corruption).
inline bool ParseEntry(const char* p, uint32_t page_size, int i, EntryView* out) {
  uint32_t off = page::Slot(p, i);
  if (off < kPageHeaderBytes || off >= page_size) return false;
  const char* limit = p + page_size;
  uint64_t klen;
  const char* q = DecodeVarint(p + off, limit, &klen);
  if (q == nullptr || klen > static_cast<uint64_t>(limit - q)) return false;
  out->key = std::string_view(q, klen);
  q += klen;
  const char* rest_begin = q;
  if (page::Type(p) == PageType::kBranch) {
    if (limit - q < kBranchRefBytes) return false;
    q += kBranchRefBytes;
  } else {
    uint64_t tag;
    q = DecodeVarint(q, limit, &tag);
    if (q == nullptr) return false;
    uint64_t plen = (tag & 1) ? kOverflowRefBytes : (tag >> 1);
    if (plen > static_cast<uint64_t>(limit - q)) return false;
    q += plen;
  }
  out->rest = std::string_view(rest_begin, q - rest_begin);
  out->encoded_bytes = static_cast<uint32_t>(q - (p + off));
  return true;
}

// Structural check of a leaf or branch page read from storage (its checksum
// may be right and its content still wrong, e.g. written by a buggy or hostile
// writer): every slot points at an entry that lies inside the page, key
// lengths are varints of at most two bytes (what KeyAt() reads), slot prefixes match their
// keys. Returns false if anything is off. Freelist pages pass.
inline bool ValidatePage(const char* p, uint32_t page_size) {
  PageType t = page::Type(p);
  if (t == PageType::kFreelist) return true;
  if (t != PageType::kLeaf && t != PageType::kBranch) return false;
  const uint32_t n = page::Count(p);
  const uint32_t ds = page::DataStart(p);
  if (ds > page_size || kPageHeaderBytes + kSlotBytes * n > ds) return false;
  for (uint32_t i = 0; i < n; i++) {
    EntryView e;
    if (page::Slot(p, static_cast<int>(i)) < ds) return false;
    if (!ParseEntry(p, page_size, static_cast<int>(i), &e)) return false;
    // KeyAt reads a key length of at most two varint bytes: a longer
    // (overlong) encoding of a small length would put its key elsewhere.
    if (e.key.size() >= (1u << 14) || e.key.data() - (p + page::Slot(p, static_cast<int>(i))) > 2) return false;
    if (t == PageType::kBranch && e.rest.size() != kBranchRefBytes) return false;
    if (page::SlotPrefix(p, static_cast<int>(i)) != KeyPrefix(e.key)) return false;
  }
  return true;
}

// Fast unchecked key access for binary search (the page was verified when read).
inline std::string_view KeyAt(const char* p, int i) {
  const char* q = p + page::Slot(p, i);
  auto b0 = static_cast<uint8_t>(q[0]);
  if (b0 < 0x80) return std::string_view(q + 1, b0);
  // Keys are at most a quarter page (< 16 KiB): two varint bytes.
  return std::string_view(q + 2, (b0 & 0x7fu) | (static_cast<size_t>(static_cast<uint8_t>(q[1]) & 0x7fu) << 7));
}

struct ChildRef {
  uint64_t page = 0;
  uint32_t checksum = 0;
  bool operator==(const ChildRef&) const = default;
};
inline ChildRef DecodeRef(const char* q) { return {DecodeU64(q), DecodeU32(q + 8)}; }
inline void EncodeRef(char* q, ChildRef r) {
  EncodeU64(q, r.page);
  EncodeU32(q + 8, r.checksum);
}

// Three-way byte-wise key comparison, 8 bytes at a time (keys are often
// short, and a call to memcmp per probe shows up in profiles).
inline int CompareKeys(std::string_view a, std::string_view b) {
  size_t n = a.size() < b.size() ? a.size() : b.size();
  const char* pa = a.data();
  const char* pb = b.data();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, pa + i, 8);
    std::memcpy(&y, pb + i, 8);
    if (x != y) return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
  }
  for (; i < n; i++) {
    auto x = static_cast<uint8_t>(pa[i]), y = static_cast<uint8_t>(pb[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

// Index of the first entry with key >= `key` (count if none).
inline int LowerBound(const char* p, std::string_view key) {
  const uint32_t kp = KeyPrefix(key);
  int lo = 0, hi = page::Count(p);
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    uint32_t sp = page::SlotPrefix(p, mid);
    bool less = sp != kp ? sp < kp : CompareKeys(KeyAt(p, mid), key) < 0;
    if (less) lo = mid + 1; else hi = mid;
  }
  return lo;
}
// Branch: index of the child whose range holds `key`.
inline int ChildIndex(const char* p, std::string_view key) {
  const uint32_t kp = KeyPrefix(key);
  int lo = 1, hi = page::Count(p);  // find first entry with key > `key`, among 1..count-1
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    uint32_t sp = page::SlotPrefix(p, mid);
    bool less_eq = sp != kp ? sp < kp : CompareKeys(KeyAt(p, mid), key) <= 0;
    if (less_eq) lo = mid + 1; else hi = mid;
  }
  return lo - 1;
}

}  // namespace manifold
