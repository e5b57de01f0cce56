// The double-buffered file header (docs/format/header.md).
//
// Pages 0 and 1 each hold one header slot in their first 128 bytes. A durable
// commit writes the slot not holding the newest generation, so a torn header
// write leaves the previous slot intact; open picks the valid slot with the
// highest generation.
//
// Slot layout (little-endian):
//    0 char[8] magic "MANIFOLD"
//    8 u32 format_version (1)
//   12 u32 page_size
//   16 u64 generation
//   24 u64 page_count           pages in use by the format, including free ones
//   32 u64 catalog_root_page    0 when the catalog tree is empty
//   40 u32 catalog_root_checksum
//   44 u32 catalog_depth
//   48 u64 catalog_entries
//   56 u64 freelist_head_page   0 when there is no freelist page
//   64 u32 freelist_head_checksum
//   68 u32 reserved (0)
//   72 u64 freelist_count       free pages listed in the freelist chain
//   80 u64 database_id          random, chosen at creation
//   88 u64 checkpoint_lsn       every WAL record up to this LSN is in this commit
//   96 u64 wal_salt             salt of the log cycle this checkpoint starts (0: unknown)
//  104 u8[20] reserved (0)
//  124 u32 checksum             masked CRC32C of bytes [0, 124)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "manifold/status.h"
#include "pager/page_format.h"

namespace manifold {

inline constexpr char kHeaderMagic[8] = {'M', 'A', 'N', 'I', 'F', 'O', 'L', 'D'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint32_t kHeaderSlotBytes = 128;

struct TreeRoot {
  ChildRef root;         // root.page == 0: empty tree
  uint32_t depth = 0;    // 0 empty, 1 root is a leaf
  uint64_t entries = 0;
  bool operator==(const TreeRoot&) const = default;
};

struct HeaderSlot {
  uint32_t format_version = kFormatVersion;
  uint32_t page_size = 0;
  uint64_t generation = 0;
  uint64_t page_count = 0;
  TreeRoot catalog;
  ChildRef freelist_head;
  uint64_t freelist_count = 0;
  uint64_t database_id = 0;
  uint64_t checkpoint_lsn = 0;
  // The salt of the log cycle that starts after this checkpoint (the log reset
  // that follows the header write uses it). Lets recovery tell records of
  // that cycle from stale ones when the log's own header is damaged. 0: not
  // recorded (files written before it existed, databases without the log).
  uint64_t wal_salt = 0;

  void EncodeTo(char out[kHeaderSlotBytes]) const;
  // Verifies magic, checksum and field ranges. `where` names the slot in errors.
  static Result<HeaderSlot> Decode(const char* in, const std::string& where);
};

bool IsValidPageSize(uint64_t page_size);

}  // namespace manifold
