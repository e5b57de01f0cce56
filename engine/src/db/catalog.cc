// Catalog encoding (docs/format/catalog.md) and name validation.
//
// Catalog tree entries:
//   key ""                        -> 'N' varint next_id
//   key cf_name                   -> 'C' varint cf_id, varint checkpoint_lsn
//   key cf_name 0x00 table_name   -> 'T' varint table_id, u64 root page,
//                                    u32 root checksum, varint depth, varint entries
// Names never contain 0x00, so the keys sort a column family right before its tables.
#include <algorithm>
#include <cstring>

#include "db/core.h"

namespace manifold {

Status ValidateName(std::string_view what, std::string_view name) {
  if (name.empty()) return Status::InvalidArgument(std::string(what) + " name must not be empty");
  if (name.size() > kNameBytesMax) {
    return Status::InvalidArgument(std::string(what) + " name of " + std::to_string(name.size()) +
                                   " bytes exceeds the limit of " + std::to_string(kNameBytesMax));
  }
  // Well-formed UTF-8 (no overlong forms, surrogates or code points past
  // U+10FFFF) without control characters.
  auto bad_utf8 = [&](size_t at) {
    return Status::InvalidArgument(std::string(what) + " name is not valid UTF-8 (byte " + std::to_string(at) + ")");
  };
  size_t i = 0;
  while (i < name.size()) {
    auto c = static_cast<uint8_t>(name[i]);
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidArgument(std::string(what) + " name contains a control character at byte " +
                                     std::to_string(i));
    }
    if (c < 0x80) {
      i++;
      continue;
    }
    int extra = (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (extra < 0 || i + extra >= name.size()) return bad_utf8(i);
    uint32_t cp = c & (0x3f >> extra);
    for (int k = 1; k <= extra; k++) {
      auto cc = static_cast<uint8_t>(name[i + k]);
      if ((cc & 0xc0) != 0x80) return bad_utf8(i);
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return bad_utf8(i);
    i += 1 + extra;
  }
  return Status::Ok();
}

Status CheckCatalogKeyFits(uint32_t page_size, std::string_view cf, std::string_view table) {
  size_t key_bytes = cf.size() + (table.empty() ? 0 : 1 + table.size());
  size_t max = btree::MaxKeyBytes(page_size);
  if (key_bytes <= max) return Status::Ok();
  return Status::InvalidArgument("name too long for this page size: column family and table names together take " +
                                 std::to_string(key_bytes) + " bytes of a catalog key, the limit with " +
                                 std::to_string(page_size) + "-byte pages is " + std::to_string(max));
}

namespace {

std::string EncodeTable(const TableInfo& t) {
  std::string v = "T";
  PutVarint(&v, t.id);
  PutU64(&v, t.tree.root.page);
  PutU32(&v, t.tree.root.checksum);
  PutVarint(&v, t.tree.depth);
  PutVarint(&v, t.tree.entries);
  return v;
}

}  // namespace

std::map<std::string, std::string> EncodeCatalog(const Catalog& c) {
  std::map<std::string, std::string> out;
  std::string n = "N";
  PutVarint(&n, c.next_id);
  out.emplace("", std::move(n));
  for (const auto& [cf_name, cf] : c.cfs) {
    std::string v = "C";
    PutVarint(&v, cf.id);
    PutVarint(&v, cf.checkpoint_lsn);
    out.emplace(cf_name, std::move(v));
    for (const auto& [t_name, t] : cf.tables) {
      std::string k = cf_name;
      k.push_back('\0');
      k += t_name;
      out.emplace(std::move(k), EncodeTable(t));
    }
  }
  return out;
}

Status DecodeCatalogEntry(std::string_view key, std::string_view value, Catalog* c) {
  auto bad = [&](const char* why) {
    return Status::Corruption(std::string("catalog entry '") + std::string(key.substr(0, 64)) + "': " + why);
  };
  if (value.empty()) return bad("empty value");
  const char* p = value.data() + 1;
  const char* limit = value.data() + value.size();
  uint64_t id;
  switch (value[0]) {
    case 'N':
      if (!key.empty() || DecodeVarint(p, limit, &c->next_id) == nullptr) return bad("bad next-id record");
      return Status::Ok();
    case 'C': {
      if (key.find('\0') != std::string_view::npos || (p = DecodeVarint(p, limit, &id)) == nullptr) {
        return bad("bad column family record");
      }
      CfInfo& cf = c->cfs[key];
      cf.id = id;
      // checkpoint_lsn follows; files written before it was added end here.
      if (p != limit && DecodeVarint(p, limit, &cf.checkpoint_lsn) == nullptr) return bad("bad column family LSN");
      return Status::Ok();
    }
    case 'T': {
      size_t z = key.find('\0');
      if (z == std::string_view::npos) return bad("table record without column family");
      CfInfo* cf = c->cfs.Mutable(key.substr(0, z));
      if (cf == nullptr) return bad("table of an unknown column family");
      TableInfo t;
      p = DecodeVarint(p, limit, &t.id);
      if (p == nullptr || limit - p < 12) return bad("truncated table record");
      t.tree.root.page = DecodeU64(p);
      t.tree.root.checksum = DecodeU32(p + 8);
      p += 12;
      uint64_t depth;
      p = DecodeVarint(p, limit, &depth);
      if (p == nullptr || depth > 64) return bad("bad table depth");
      t.tree.depth = static_cast<uint32_t>(depth);
      if (DecodeVarint(p, limit, &t.tree.entries) == nullptr) return bad("bad entry count");
      if ((t.tree.depth == 0) != (t.tree.root.page == 0)) return bad("inconsistent empty table");
      cf->tables[key.substr(z + 1)] = t;
      return Status::Ok();
    }
    default:
      return bad("unknown record type");
  }
}

}  // namespace manifold
