// Helpers shared by the fuzz targets and the corpus generator.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "manifold/db.h"
#include "pager/header.h"
#include "pager/page_format.h"
#include "testing/harness_options.h"
#include "util/coding.h"
#include "util/crc32c.h"

namespace manifold::fuzz {

using Kv = std::map<std::string, std::string>;
using Tables = std::map<std::string, Kv>;
using Cfs = std::map<std::string, Tables>;

// Prints a message and aborts: libFuzzer records the input as a crash.
[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "\n*** FUZZ FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Options for a fuzz run (see testing/harness_options.h): a 256 KiB cache.
inline Options FuzzOptions(std::shared_ptr<Storage> storage, uint32_t page_size, bool wal) {
  return testing::HarnessOptions(std::move(storage), page_size, wal, 256 << 10);
}

// Reads every column family and table through one read transaction.
// Returns false (with *err) on the first error. At most `limit` entries per
// table are read, so that a damaged tree cannot make this loop forever.
inline bool ReadEverything(Database& db, Cfs* out, Status* err, size_t limit = size_t{1} << 20) {
  out->clear();
  Result<ReadTransaction> r = db.BeginRead();
  if (!r.ok()) return *err = r.status(), false;
  Result<std::vector<std::string>> cfs = r->ListColumnFamilies();
  if (!cfs.ok()) return *err = cfs.status(), false;
  for (const auto& cf : *cfs) {
    Tables& tables = (*out)[cf];
    Result<std::vector<std::string>> names = r->ListTables(cf);
    if (!names.ok()) return *err = names.status(), false;
    for (const auto& n : *names) {
      Result<Table> t = r->OpenTable(n, cf);
      if (!t.ok()) return *err = t.status(), false;
      Kv& kv = tables[n];
      Iterator it = t->Scan();
      for (; it.Valid() && kv.size() < limit; it.Next()) kv.emplace(std::string(it.key()), std::string(it.value()));
      if (!it.status().ok()) return *err = it.status(), false;
    }
  }
  return true;
}

inline std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 40)) {
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    }
  }
  if (s.size() > 40) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

inline std::string Describe(const Cfs& cfs) {
  std::string s;
  for (const auto& [cf, tables] : cfs) {
    s += "  cf " + cf + ":";
    for (const auto& [t, kv] : tables) {
      s += " " + t + "{";
      size_t n = 0;
      for (const auto& [k, v] : kv) {
        if (n++ == 8) {
          s += " ...";
          break;
        }
        s += " " + Printable(k) + "=" + Printable(v);
      }
      s += " }(" + std::to_string(kv.size()) + ")";
    }
    s += "\n";
  }
  return s;
}

// ---- checksum repair ----
//
// A mutated file almost always fails its checksums, which stops the engine at
// the first page it reads. Reseal() recomputes every checksum the format
// stores -- page checksums, child references in branch pages, catalog table
// roots, overflow value checksums, freelist links and both header slots -- so
// that the fuzzer also reaches the structure checks behind the checksums.
// Several rounds, because fixing a child changes its parent.
inline void Reseal(std::string* img) {
  if (img->size() < kHeaderSlotBytes) return;
  uint32_t ps = DecodeU32(img->data() + 12);
  if (!IsValidPageSize(ps)) return;
  const uint64_t n = img->size() / ps;
  char* base = img->data();
  auto page = [&](uint64_t no) { return base + no * ps; };
  auto stored = [&](uint64_t no) -> uint32_t { return no < n ? page::StoredChecksum(page(no)) : 0; };
  for (int round = 0; round < 12; round++) {
    bool changed = false;
    auto fix_ref = [&](char* ref) {
      ChildRef r = DecodeRef(ref);
      if (r.page >= 2 && r.page < n && r.checksum != stored(r.page)) {
        EncodeU32(ref + 8, stored(r.page));
        changed = true;
      }
    };
    for (uint64_t no = 2; no < n; no++) {
      char* p = page(no);
      auto type = static_cast<uint8_t>(p[0]);
      if (type < 1 || type > 3) continue;
      const uint32_t count = page::Count(p);
      if (type == static_cast<uint8_t>(PageType::kFreelist)) {
        fix_ref(p + kPageHeaderBytes);
      } else if (kPageHeaderBytes + uint64_t{kSlotBytes} * count <= ps) {
        for (uint32_t i = 0; i < count; i++) {
          EntryView e;
          if (!ParseEntry(p, ps, static_cast<int>(i), &e)) continue;
          char* rest = p + (e.rest.data() - p);
          if (type == static_cast<uint8_t>(PageType::kBranch)) {
            fix_ref(rest);
            continue;
          }
          uint64_t tag;
          const char* q = DecodeVarint(rest, rest + e.rest.size(), &tag);
          if (q == nullptr) continue;
          char* payload = rest + (q - rest);
          const uint64_t plen = static_cast<uint64_t>(e.rest.size()) - static_cast<uint64_t>(q - rest);
          if ((tag & 1) != 0 && plen >= kOverflowRefBytes) {
            // Overflow value: checksum of the bytes it points to.
            uint64_t first = DecodeU64(payload), bytes = tag >> 1;
            if (first >= 2 && first < n && bytes <= (n - first) * ps) {
              uint32_t c = crc32c::Mask(crc32c::Value(page(first), bytes));
              if (DecodeU32(payload + 8) != c) {
                EncodeU32(payload + 8, c);
                changed = true;
              }
            }
          } else if ((tag & 1) == 0 && plen >= 1 && payload[0] == 'T' && e.key.find('\0') != std::string_view::npos) {
            // Catalog table record: 'T' varint id, u64 root page, u32 root checksum, ...
            uint64_t id;
            const char* r = DecodeVarint(payload + 1, payload + plen, &id);
            if (r != nullptr && (payload + plen) - r >= 12) fix_ref(payload + (r - payload));
          }
        }
      }
      uint32_t c = page::ComputeChecksum(p, ps);
      if (page::StoredChecksum(p) != c) {
        EncodeU32(p + 4, c);
        changed = true;
      }
    }
    for (uint64_t s = 0; s < 2 && s * ps + kHeaderSlotBytes <= img->size(); s++) {
      char* h = base + s * ps;
      if (std::memcmp(h, kHeaderMagic, 8) != 0) continue;
      fix_ref(h + 32);  // catalog root
      fix_ref(h + 56);  // freelist head
      uint32_t c = crc32c::Mask(crc32c::Value(h, 124));
      if (DecodeU32(h + 124) != c) {
        EncodeU32(h + 124, c);
        changed = true;
      }
    }
    if (!changed) break;
  }
}

}  // namespace manifold::fuzz
