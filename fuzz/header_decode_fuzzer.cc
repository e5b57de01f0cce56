// fuzz_header_decode: the header slot decoder (and the write-ahead log's
// file header decoder, when the engine has a log) on their own.
//
//   byte 0      flags: bit 0 recompute the slot checksum (bytes 124..127) so
//               that the field checks are reached; bit 1 the same for the WAL
//               header checksum (bytes 40..43)
//   byte 1..    a header slot (zero-padded to 128 bytes) / a WAL header
//
// A decoded slot must satisfy every documented range, and re-encoding it must
// decode to the same fields.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "fuzz_common.h"
#include "pager/header.h"
#if __has_include("wal/wal.h")
#include "wal/wal.h"
#define MANIFOLD_FUZZ_HAS_WAL 1
#endif

namespace manifold::fuzz {
namespace {

bool Same(const HeaderSlot& a, const HeaderSlot& b) {
  char x[kHeaderSlotBytes], y[kHeaderSlotBytes];
  a.EncodeTo(x);
  b.EncodeTo(y);
  return std::memcmp(x, y, kHeaderSlotBytes) == 0;
}

void FuzzSlot(const std::string& bytes, bool fix) {
  char slot[kHeaderSlotBytes] = {};
  std::memcpy(slot, bytes.data(), std::min<size_t>(bytes.size(), kHeaderSlotBytes));
  if (fix) EncodeU32(slot + 124, crc32c::Mask(crc32c::Value(slot, 124)));
  // Exact-size heap copy, so that ASan sees any read past the slot.
  std::unique_ptr<char[]> exact(new char[kHeaderSlotBytes]);
  std::memcpy(exact.get(), slot, kHeaderSlotBytes);
  Result<HeaderSlot> h = HeaderSlot::Decode(exact.get(), "fuzz slot");
  if (!h.ok()) {
    if (h.status().message().empty()) Die("Decode failed without a message");
    return;
  }
  const HeaderSlot& v = *h;
  if (!IsValidPageSize(v.page_size)) Die("decoded an invalid page size " + std::to_string(v.page_size));
  if (v.page_count < 2 || v.catalog.root.page >= v.page_count || v.freelist_head.page >= v.page_count ||
      v.catalog.depth > 64 || (v.catalog.root.page == 0) != (v.catalog.depth == 0) ||
      v.freelist_count > v.page_count) {
    Die("decoded a slot with fields out of range");
  }
  char again[kHeaderSlotBytes];
  v.EncodeTo(again);
  Result<HeaderSlot> back = HeaderSlot::Decode(again, "re-encoded slot");
  if (!back.ok()) Die("re-encoded slot does not decode: " + back.status().ToString());
  if (!Same(v, *back)) Die("header slot round trip changed a field");
}

#ifdef MANIFOLD_FUZZ_HAS_WAL
void FuzzWalHeader(const std::string& bytes, bool fix) {
  std::string h = bytes;
  if (fix && h.size() >= 44) EncodeU32(h.data() + 40, crc32c::Mask(crc32c::Value(h.data(), 40)));
  std::unique_ptr<char[]> exact(new char[h.size() + 1]);
  std::memcpy(exact.get(), h.data(), h.size());
  WalHeader w;
  if (!WalHeader::Decode(exact.get(), h.size(), &w)) return;
  if (w.start_lsn < 1) Die("WAL header decoded with start_lsn 0");
  std::string enc = w.Encode();
  WalHeader back;
  if (!WalHeader::Decode(enc.data(), enc.size(), &back)) Die("re-encoded WAL header does not decode");
  if (back.salt != w.salt || back.start_lsn != w.start_lsn || back.database_id != w.database_id) {
    Die("WAL header round trip changed a field");
  }
}
#endif

}  // namespace
}  // namespace manifold::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 8192) return 0;
  const uint8_t flags = data[0];
  std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  manifold::fuzz::FuzzSlot(bytes, (flags & 1) != 0);
#ifdef MANIFOLD_FUZZ_HAS_WAL
  manifold::fuzz::FuzzWalHeader(bytes, (flags & 2) != 0);
#endif
  return 0;
}
