#include "pager/header.h"

#include <cstdio>
#include <cstring>

namespace manifold {

bool IsValidPageSize(uint64_t ps) {
  return ps >= 512 && ps <= 65536 && (ps & (ps - 1)) == 0;
}

void HeaderSlot::EncodeTo(char out[kHeaderSlotBytes]) const {
  std::memset(out, 0, kHeaderSlotBytes);
  std::memcpy(out, kHeaderMagic, 8);
  EncodeU32(out + 8, format_version);
  EncodeU32(out + 12, page_size);
  EncodeU64(out + 16, generation);
  EncodeU64(out + 24, page_count);
  EncodeU64(out + 32, catalog.root.page);
  EncodeU32(out + 40, catalog.root.checksum);
  EncodeU32(out + 44, catalog.depth);
  EncodeU64(out + 48, catalog.entries);
  EncodeU64(out + 56, freelist_head.page);
  EncodeU32(out + 64, freelist_head.checksum);
  EncodeU64(out + 72, freelist_count);
  EncodeU64(out + 80, database_id);
  EncodeU64(out + 88, checkpoint_lsn);
  EncodeU64(out + 96, wal_salt);
  EncodeU32(out + 124, crc32c::Mask(crc32c::Value(out, 124)));
}

Result<HeaderSlot> HeaderSlot::Decode(const char* in, const std::string& where) {
  if (std::memcmp(in, kHeaderMagic, 8) != 0) {
    return Status::Corruption(where + ": bad magic (not a Manifold header)");
  }
  uint32_t stored = DecodeU32(in + 124);
  uint32_t computed = crc32c::Mask(crc32c::Value(in, 124));
  if (stored != computed) {
    char buf[160];
    std::snprintf(buf, sizeof buf, ": checksum mismatch: stored 0x%08x, computed 0x%08x", stored, computed);
    return Status::Corruption(where + buf);
  }
  HeaderSlot h;
  h.format_version = DecodeU32(in + 8);
  h.page_size = DecodeU32(in + 12);
  h.generation = DecodeU64(in + 16);
  h.page_count = DecodeU64(in + 24);
  h.catalog.root.page = DecodeU64(in + 32);
  h.catalog.root.checksum = DecodeU32(in + 40);
  h.catalog.depth = DecodeU32(in + 44);
  h.catalog.entries = DecodeU64(in + 48);
  h.freelist_head.page = DecodeU64(in + 56);
  h.freelist_head.checksum = DecodeU32(in + 64);
  h.freelist_count = DecodeU64(in + 72);
  h.database_id = DecodeU64(in + 80);
  h.checkpoint_lsn = DecodeU64(in + 88);
  h.wal_salt = DecodeU64(in + 96);
  if (h.format_version != kFormatVersion) {
    return Status::NotSupported(where + ": format version " + std::to_string(h.format_version) +
                                " is not supported (this build reads version " +
                                std::to_string(kFormatVersion) + ")");
  }
  if (!IsValidPageSize(h.page_size)) {
    return Status::Corruption(where + ": invalid page size " + std::to_string(h.page_size) +
                              " (must be a power of two from 512 to 65536)");
  }
  if (h.page_count < 2 || h.catalog.root.page >= h.page_count || h.freelist_head.page >= h.page_count ||
      h.catalog.depth > 64 || (h.catalog.root.page == 0) != (h.catalog.depth == 0) ||
      h.freelist_count > h.page_count) {
    return Status::Corruption(where + ": header fields out of range (page_count " +
                              std::to_string(h.page_count) + ")");
  }
  return h;
}

}  // namespace manifold
