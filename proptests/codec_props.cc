// Properties of the codecs and on-disk formats: varint and fixed-width round
// trips, header slot encode/decode, key ordering helpers, and checksum
// detection of every single-bit flip in a header slot, in pages built by the
// engine and in write-ahead-log records; log payload encode/decode round trips.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "manifold/db.h"
#include "pager/header.h"
#include "pager/page_format.h"
#include "prop_util.h"
#include "util/coding.h"
#include "util/crc32c.h"
#include "wal/wal.h"

namespace manifold::prop {
namespace {

// Integers spread over every magnitude: small ones, powers of two and their
// neighbours, and arbitrary 64-bit values.
rc::Gen<uint64_t> AnyU64() {
  return rc::gen::oneOf(rc::gen::inRange<uint64_t>(0, 300), rc::gen::arbitrary<uint64_t>(),
                        rc::gen::map(rc::gen::pair(rc::gen::inRange(0, 64), rc::gen::inRange(-1, 2)),
                                     [](std::pair<int, int> p) {
                                       uint64_t base = p.first == 64 ? 0 : (uint64_t{1} << p.first);
                                       return base + static_cast<uint64_t>(static_cast<int64_t>(p.second));
                                     }));
}

RC_GTEST_PROP(Codec, VarintRoundTrip, ()) {
  const uint64_t v = *AnyU64();
  char buf[10];
  char* end = EncodeVarint(buf, v);
  const auto len = static_cast<size_t>(end - buf);
  RC_ASSERT(len == VarintLength(v));
  RC_ASSERT(len >= 1u);
  RC_ASSERT(len <= 10u);
  // Exact-size heap copy: ASan catches any read past the limit.
  std::unique_ptr<char[]> exact(new char[len]);
  std::memcpy(exact.get(), buf, len);
  uint64_t back = ~v;
  RC_ASSERT(DecodeVarint(exact.get(), exact.get() + len, &back) == exact.get() + len);
  RC_ASSERT(back == v);
  // Every proper prefix is truncated input.
  for (size_t n = 0; n < len; n++) {
    uint64_t ignored = 0;
    RC_ASSERT(DecodeVarint(exact.get(), exact.get() + n, &ignored) == nullptr);
  }
  // PutVarint agrees with EncodeVarint.
  std::string s;
  PutVarint(&s, v);
  RC_ASSERT(s == std::string(buf, len));
}

RC_GTEST_PROP(Codec, VarintDecodeOfArbitraryBytesStaysInBounds, (const std::vector<uint8_t>& bytes)) {
  std::unique_ptr<char[]> exact(new char[bytes.size() + 1]);
  if (!bytes.empty()) std::memcpy(exact.get(), bytes.data(), bytes.size());
  uint64_t v = 0;
  const char* p = DecodeVarint(exact.get(), exact.get() + bytes.size(), &v);
  if (p != nullptr) {
    const auto used = static_cast<size_t>(p - exact.get());
    RC_ASSERT(used >= 1u);
    RC_ASSERT(used <= std::min<size_t>(bytes.size(), 10));
    // The canonical encoding of the value is never longer than what was read.
    RC_ASSERT(VarintLength(v) <= used);
  }
}

RC_GTEST_PROP(Codec, LengthPrefixedRoundTrip, (const std::vector<std::string>& items)) {
  std::string buf;
  for (const auto& s : items) PutLengthPrefixed(&buf, s);
  std::string_view in(buf);
  for (const auto& s : items) {
    std::string_view out;
    RC_ASSERT(GetLengthPrefixed(&in, &out));
    RC_ASSERT(std::string(out) == s);
  }
  RC_ASSERT(in.empty());
  std::string_view empty;
  std::string_view out;
  RC_ASSERT(!GetLengthPrefixed(&empty, &out));
}

RC_GTEST_PROP(Codec, FixedWidthRoundTrip, (uint16_t a, uint32_t b)) {
  const uint64_t c = *AnyU64();
  char buf[14];
  EncodeU16(buf, a);
  EncodeU32(buf + 2, b);
  EncodeU64(buf + 6, c);
  RC_ASSERT(DecodeU16(buf) == a);
  RC_ASSERT(DecodeU32(buf + 2) == b);
  RC_ASSERT(DecodeU64(buf + 6) == c);
  // Little-endian on disk.
  RC_ASSERT(static_cast<uint8_t>(buf[2]) == (b & 0xffu));
}

// Keys compare as unsigned bytes; KeyPrefix ordering never contradicts it.
RC_GTEST_PROP(Codec, KeyComparisonIsUnsignedBytewise, (const std::string& a, const std::string& b)) {
  auto sign = [](int x) { return (x > 0) - (x < 0); };
  // std::string::compare uses char_traits<char>, which compares as unsigned char.
  RC_ASSERT(sign(CompareKeys(a, b)) == sign(a.compare(b)));
  RC_ASSERT(sign(CompareKeys(a, a)) == 0);
  if (KeyPrefix(a) < KeyPrefix(b)) RC_ASSERT(a < b);
  if (a <= b) RC_ASSERT(KeyPrefix(a) <= KeyPrefix(b));
}

rc::Gen<HeaderSlot> ValidHeader() {
  return rc::gen::exec([] {
    HeaderSlot h;
    h.page_size = 512u << *rc::gen::inRange(0, 8);
    h.page_count = *rc::gen::oneOf(rc::gen::inRange<uint64_t>(2, 5000),
                                   rc::gen::inRange<uint64_t>(2, UINT64_MAX));
    h.generation = *AnyU64();
    const bool empty_catalog = *rc::gen::arbitrary<bool>();
    if (!empty_catalog) {
      h.catalog.root.page = *rc::gen::inRange<uint64_t>(2, h.page_count);
      h.catalog.depth = *rc::gen::inRange<uint32_t>(1, 65);
    }
    h.catalog.root.checksum = *rc::gen::arbitrary<uint32_t>();
    h.catalog.entries = *AnyU64();
    if (*rc::gen::arbitrary<bool>()) h.freelist_head.page = *rc::gen::inRange<uint64_t>(0, h.page_count);
    h.freelist_head.checksum = *rc::gen::arbitrary<uint32_t>();
    h.freelist_count = *rc::gen::inRange<uint64_t>(0, h.page_count);
    h.database_id = *rc::gen::arbitrary<uint64_t>();
    return h;
  });
}

bool SameHeader(const HeaderSlot& a, const HeaderSlot& b) {
  return a.format_version == b.format_version && a.page_size == b.page_size && a.generation == b.generation &&
         a.page_count == b.page_count && a.catalog.root.page == b.catalog.root.page &&
         a.catalog.root.checksum == b.catalog.root.checksum && a.catalog.depth == b.catalog.depth &&
         a.catalog.entries == b.catalog.entries && a.freelist_head.page == b.freelist_head.page &&
         a.freelist_head.checksum == b.freelist_head.checksum && a.freelist_count == b.freelist_count &&
         a.database_id == b.database_id;
}

RC_GTEST_PROP(Codec, HeaderSlotRoundTrip, ()) {
  const HeaderSlot h = *ValidHeader();
  char slot[kHeaderSlotBytes];
  h.EncodeTo(slot);
  Result<HeaderSlot> back = HeaderSlot::Decode(slot, "slot");
  RC_ASSERT(back.ok());
  RC_ASSERT(SameHeader(h, *back));
  char again[kHeaderSlotBytes];
  back->EncodeTo(again);
  RC_ASSERT(std::memcmp(slot, again, kHeaderSlotBytes) == 0);
}

// Arbitrary field values: Decode accepts exactly the documented ranges.
RC_GTEST_PROP(Codec, HeaderSlotDecodeChecksFieldRanges, ()) {
  HeaderSlot h;
  h.format_version = *rc::gen::weightedOneOf<uint32_t>({{8, rc::gen::just<uint32_t>(1)},
                                                        {1, rc::gen::arbitrary<uint32_t>()}});
  h.page_size = *rc::gen::oneOf(rc::gen::map(rc::gen::inRange(0, 9), [](int s) { return 256u << s; }),
                                rc::gen::arbitrary<uint32_t>());
  h.page_count = *rc::gen::oneOf(rc::gen::inRange<uint64_t>(0, 20), AnyU64());
  h.catalog.root.page = *rc::gen::oneOf(rc::gen::inRange<uint64_t>(0, 20), AnyU64());
  h.catalog.depth = *rc::gen::oneOf(rc::gen::inRange<uint32_t>(0, 70), rc::gen::arbitrary<uint32_t>());
  h.freelist_head.page = *rc::gen::oneOf(rc::gen::inRange<uint64_t>(0, 20), AnyU64());
  h.freelist_count = *rc::gen::oneOf(rc::gen::inRange<uint64_t>(0, 20), AnyU64());
  h.generation = *AnyU64();
  char slot[kHeaderSlotBytes];
  h.EncodeTo(slot);
  const bool valid = h.format_version == kFormatVersion && IsValidPageSize(h.page_size) && h.page_count >= 2 &&
                     h.catalog.root.page < h.page_count && h.freelist_head.page < h.page_count &&
                     h.catalog.depth <= 64 && (h.catalog.root.page == 0) == (h.catalog.depth == 0) &&
                     h.freelist_count <= h.page_count;
  RC_TAG(valid ? "valid" : "invalid");
  Result<HeaderSlot> back = HeaderSlot::Decode(slot, "slot");
  RC_ASSERT(back.ok() == valid);
  if (valid) {
    RC_ASSERT(SameHeader(h, *back));
  } else {
    const auto code = back.status().code();
    RC_ASSERT(code == Status::Code::kCorruption || code == Status::Code::kNotSupported);
  }
}

RC_GTEST_PROP(Codec, HeaderSlotChecksumDetectsEverySingleBitFlip, ()) {
  const HeaderSlot h = *ValidHeader();
  char slot[kHeaderSlotBytes];
  h.EncodeTo(slot);
  for (uint32_t bit = 0; bit < kHeaderSlotBytes * 8; bit++) {
    char flipped[kHeaderSlotBytes];
    std::memcpy(flipped, slot, sizeof flipped);
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    Result<HeaderSlot> r = HeaderSlot::Decode(flipped, "slot");
    if (r.ok()) RC_FAIL("header slot bit " + std::to_string(bit) + " flipped, yet Decode accepted the slot");
  }
}

// ---- pages built by the engine ----

struct BuiltDb {
  uint32_t page_size = 0;
  std::string image;
};

// Builds a database with a random workload (several tables, overflow values,
// deletes, durable and non-durable commits) and returns its file image.
BuiltDb BuildDatabase() {
  BuiltDb out;
  out.page_size = *rc::gen::element(512u, 1024u, 4096u);
  auto storage = std::make_shared<MemoryStorage>();
  auto db = PropMust(Database::Open("codec.db", TestOptions(storage, out.page_size)), "Database::Open");
  const int commits = *rc::gen::inRange(1, 6);
  for (int c = 0; c < commits; c++) {
    auto w = PropMust(db->BeginWrite(), "BeginWrite");
    const int tables = *rc::gen::inRange(1, 4);
    for (int t = 0; t < tables; t++) {
      auto table = PropMust(w.OpenOrCreateTable("t" + std::to_string(t)), "OpenOrCreateTable");
      const int n = *rc::gen::inRange(0, 200);
      const int seed = *rc::gen::inRange(0, 1000);
      for (int i = 0; i < n; i++) {
        std::string key = "k" + std::to_string((seed + i * 7) % 1000);
        size_t vlen = (i % 17 == 0) ? out.page_size * 2 / 3 : static_cast<size_t>((seed + i) % 40);
        PROP_ASSERT_OK(table.Put(key, std::string(vlen, static_cast<char>('a' + i % 26))));
      }
      for (int i = 0; i < n / 3; i++) {
        auto deleted = table.Delete("k" + std::to_string((seed + i * 21) % 1000));
        RC_ASSERT(deleted.ok());
      }
    }
    PROP_ASSERT_OK(w.Commit(*rc::gen::element(Durability::kImmediate, Durability::kNone)));
  }
  PROP_ASSERT_OK(db->Close());
  out.image = PropMust(storage->ReadAll("codec.db"), "ReadAll");
  return out;
}

// Pages of the image whose stored checksum verifies (B+tree and freelist pages
// written by the engine; free pages may hold older but intact versions).
std::vector<uint64_t> SealedPages(const BuiltDb& db) {
  std::vector<uint64_t> pages;
  const uint64_t n = db.image.size() / db.page_size;
  for (uint64_t no = 2; no < n; no++) {
    const char* p = db.image.data() + no * db.page_size;
    auto type = static_cast<uint8_t>(p[0]);
    if (type < 1 || type > 3) continue;
    if (page::StoredChecksum(p) == page::ComputeChecksum(p, db.page_size)) pages.push_back(no);
  }
  return pages;
}

RC_GTEST_PROP(Codec, PageChecksumDetectsEverySingleBitFlip, ()) {
  const BuiltDb db = *rc::gen::exec(BuildDatabase);
  const std::vector<uint64_t> pages = SealedPages(db);
  RC_ASSERT(!pages.empty());
  const uint64_t no = *rc::gen::elementOf(pages);
  const char* original = db.image.data() + no * db.page_size;
  RC_TAG(std::string(original[0] == 1 ? "leaf" : original[0] == 2 ? "branch" : "freelist") + " page of " +
         std::to_string(db.page_size));
  std::string page(original, db.page_size);
  for (uint32_t bit = 0; bit < db.page_size * 8; bit++) {
    page[bit / 8] = static_cast<char>(page[bit / 8] ^ (1 << (bit % 8)));
    if (page::StoredChecksum(page.data()) == page::ComputeChecksum(page.data(), db.page_size)) {
      RC_FAIL("page " + std::to_string(no) + " (" + std::to_string(db.page_size) + " bytes): flipping bit " +
              std::to_string(bit) + " leaves the checksum valid");
    }
    page[bit / 8] = static_cast<char>(page[bit / 8] ^ (1 << (bit % 8)));
  }
  // Both header slots of the file, too.
  for (int s = 0; s < 2; s++) {
    const char* slot = db.image.data() + static_cast<size_t>(s) * db.page_size;
    if (!HeaderSlot::Decode(slot, "slot").ok()) continue;
    char flipped[kHeaderSlotBytes];
    for (uint32_t bit = 0; bit < kHeaderSlotBytes * 8; bit++) {
      std::memcpy(flipped, slot, kHeaderSlotBytes);
      flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
      RC_ASSERT(!HeaderSlot::Decode(flipped, "slot").ok());
    }
  }
}

// Every sealed leaf and branch page the engine writes is well formed: entries
// parse, keys strictly increase, slot prefixes match, LowerBound finds each key.
RC_GTEST_PROP(Codec, EnginePagesAreWellFormed, ()) {
  const BuiltDb db = *rc::gen::exec(BuildDatabase);
  int checked = 0;
  for (uint64_t no : SealedPages(db)) {
    const char* p = db.image.data() + no * db.page_size;
    if (page::Type(p) == PageType::kFreelist) {
      RC_ASSERT(kFreelistFixedBytes + 8ull * page::Count(p) <= db.page_size);
      continue;
    }
    RC_ASSERT(page::PageNo(p) == no);
    const int count = page::Count(p);
    RC_ASSERT(kPageHeaderBytes + kSlotBytes * static_cast<uint64_t>(count) <= page::DataStart(p));
    RC_ASSERT(page::DataStart(p) <= db.page_size);
    std::string prev;
    for (int i = 0; i < count; i++) {
      EntryView e;
      RC_ASSERT(ParseEntry(p, db.page_size, i, &e));
      RC_ASSERT(page::Slot(p, i) >= page::DataStart(p));
      RC_ASSERT(e.key == KeyAt(p, i));
      RC_ASSERT(page::SlotPrefix(p, i) == KeyPrefix(e.key));
      if (i > 0) RC_ASSERT(prev < std::string(e.key));
      if (page::Type(p) == PageType::kLeaf || i > 0) RC_ASSERT(LowerBound(p, e.key) == i);
      prev = std::string(e.key);
    }
    checked++;
  }
  RC_TAG(checked > 10 ? "more than 10 pages" : "up to 10 pages");
}

// A transaction's logical operations, as the engine logs them.
rc::Gen<std::vector<std::pair<WalOp, std::vector<std::string>>>> WalOps() {
  auto field = rc::gen::container<std::string>(static_cast<size_t>(*rc::gen::inRange(0, 40)), rc::gen::arbitrary<char>());
  return rc::gen::container<std::vector<std::pair<WalOp, std::vector<std::string>>>>(
      static_cast<size_t>(*rc::gen::inRange(0, 8)),
      rc::gen::pair(rc::gen::map(rc::gen::inRange(1, 10), [](int o) { return static_cast<WalOp>(o); }),
                    rc::gen::container<std::vector<std::string>>(4, field)));
}

std::string PayloadOf(const std::vector<std::pair<WalOp, std::vector<std::string>>>& ops) {
  WalBatch b;
  for (const auto& [op, f] : ops) b.Add(op, f[0], f[1], f[2], f[3]);
  return b.Payload();
}

RC_GTEST_PROP(Codec, WalPayloadRoundTrip, ()) {
  const auto ops = *WalOps();
  const std::string payload = PayloadOf(ops);
  std::vector<WalOperation> got;
  RC_ASSERT(DecodeWalPayload(payload, &got).ok());
  RC_ASSERT(got.size() == ops.size());
  for (size_t i = 0; i < ops.size(); i++) {
    RC_ASSERT(got[i].op == ops[i].first);
    // Each operation keeps the fields its kind has (docs/format/wal.md), in
    // order; the others are not encoded.
    static constexpr size_t kFields[] = {0, 4, 3, 2, 2, 2, 3, 1, 1, 2};  // by WalOp value
    const size_t n = kFields[static_cast<size_t>(ops[i].first)];
    const std::string_view fields[] = {got[i].a, got[i].b, got[i].c, got[i].d};
    for (size_t f = 0; f < 4; f++) RC_ASSERT(fields[f] == (f < n ? std::string_view(ops[i].second[f]) : std::string_view()));
  }
  // Every truncation is rejected (the count up front says how many operations follow).
  for (size_t cut = 0; cut < payload.size(); cut++) {
    std::vector<WalOperation> part;
    RC_ASSERT(!DecodeWalPayload(std::string_view(payload.data(), cut), &part).ok());
  }
}

// Flipping any bit of a record's header or payload: the scan returns no
// record (a torn tail in the default mode, an error in the strict one) --
// never the damaged record, and never a crash.
RC_GTEST_PROP(Codec, WalRecordChecksumDetectsEverySingleBitFlip, ()) {
  const std::string payload = PayloadOf(*WalOps());
  const uint64_t salt = *rc::gen::inRange<uint64_t>(1, UINT64_MAX), lsn = *rc::gen::inRange<uint64_t>(1, 1u << 20);
  WalHeader h;
  h.salt = salt;
  h.start_lsn = lsn;
  h.database_id = 7;
  const std::string record = EncodeWalRecord(lsn, salt, lsn - 1, payload);
  const std::string log = h.Encode() + record;
  WalScanResult intact;
  RC_ASSERT(ScanWal(log, "prop-wal", WalRecoveryMode::kAbsoluteConsistency, &intact).ok());
  RC_ASSERT(intact.records.size() == 1u);
  RC_ASSERT(intact.records[0].payload == payload);
  const size_t covered = kWalRecordHeaderBytes + payload.size();  // the padding after it is not checked
  for (size_t bit = 0; bit < covered * 8; bit++) {
    std::string bad = log;
    bad[kWalHeaderBytes + bit / 8] = static_cast<char>(bad[kWalHeaderBytes + bit / 8] ^ (1 << (bit % 8)));
    for (WalRecoveryMode mode : {WalRecoveryMode::kTolerateTornTail, WalRecoveryMode::kAbsoluteConsistency}) {
      WalScanResult r;
      Status s = ScanWal(bad, "prop-wal", mode, &r);
      if (s.ok()) {
        RC_ASSERT(r.records.empty());
      } else {
        RC_ASSERT(!s.message().empty());
      }
    }
  }
}

}  // namespace
}  // namespace manifold::prop
