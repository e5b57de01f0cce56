// Catalog encoding (docs/format/catalog.md) and name validation.
//
// Catalog tree entries:
//   key ""                        -> 'N' varint next_id
//   key cf_name                   -> 'C' varint cf_id
//   key cf_name 0x00 table_name   -> 'T' varint table_id, u64 root page,
//                                    u32 root checksum, varint depth, varint entries
// Names never contain 0x00, so the keys sort a column family right before its tables.
#include <cstring>

#include "db/core.h"

namespace manifold {

Status ValidateName(std::string_view what, std::string_view name) {
  if (name.empty()) return Status::InvalidArgument(std::string(what) + " name must not be empty");
  if (name.size() > kNameBytesMax) {
    return Status::InvalidArgument(std::string(what) + " name of " + std::to_string(name.size()) +
                                   " bytes exceeds the limit of " + std::to_string(kNameBytesMax));
  }
  // Well-formed UTF-8 without control characters.
  size_t i = 0;
  while (i < name.size()) {
    auto c = static_cast<uint8_t>(name[i]);
    int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidArgument(std::string(what) + " name contains a control character at byte " +
                                     std::to_string(i));
    }
    if (extra < 0 || i + extra >= name.size()) {
      return Status::InvalidArgument(std::string(what) + " name is not valid UTF-8 (byte " +
                                     std::to_string(i) + ")");
    }
    for (int k = 1; k <= extra; k++) {
      if ((static_cast<uint8_t>(name[i + k]) & 0xc0) != 0x80) {
        return Status::InvalidArgument(std::string(what) + " name is not valid UTF-8 (byte " +
                                       std::to_string(i) + ")");
      }
    }
    i += 1 + extra;
  }
  return Status::Ok();
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
      if (key.find('\0') != std::string_view::npos || DecodeVarint(p, limit, &id) == nullptr) {
        return bad("bad column family record");
      }
      c->cfs[std::string(key)].id = id;
      return Status::Ok();
    }
    case 'T': {
      size_t z = key.find('\0');
      if (z == std::string_view::npos) return bad("table record without column family");
      auto cf = c->cfs.find(key.substr(0, z));
      if (cf == c->cfs.end()) return bad("table of an unknown column family");
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
      cf->second.tables[std::string(key.substr(z + 1))] = t;
      return Status::Ok();
    }
    default:
      return bad("unknown record type");
  }
}

}  // namespace manifold
