// make_corpus OUTDIR: writes the seed corpus of every fuzz target to
// OUTDIR/<target>/ (api_ops, open_corrupt, wal_replay, wal_record_decode, header_decode,
// page_decode). Built in every configuration; the fuzz build runs it as part
// of `cmake --build` (into <build>/fuzz/corpus).
//
// Seeds: valid databases of several page sizes (empty, small, with overflow
// values, deletes leaving free pages, several column families, non-durable
// commits), their header slots and pages, logs from the WAL workload and
// their torn prefixes, and operation sequences covering every api_ops opcode.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api_ops_format.h"
#include "fuzz_common.h"
#include "manifold/db.h"
#include "wal_base.h"

namespace manifold::fuzz {
namespace {

namespace fs = std::filesystem;

class Writer {
 public:
  explicit Writer(fs::path root) : root_(std::move(root)) {}
  void Put(const std::string& target, const std::string& name, const std::string& bytes) {
    fs::path dir = root_ / target;
    fs::create_directories(dir);
    std::ofstream f(dir / name, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) {
      std::fprintf(stderr, "make_corpus: cannot write %s\n", (dir / name).c_str());
      std::exit(1);
    }
    counts_[target]++;
  }
  void Report() const {
    for (const auto& [t, n] : counts_) std::printf("make_corpus: %-14s %3d seeds in %s\n", t.c_str(), n, (root_ / t).c_str());
  }

 private:
  fs::path root_;
  std::map<std::string, int> counts_;
};

[[noreturn]] void Fatal(const std::string& what, const Status& s) {
  std::fprintf(stderr, "make_corpus: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) Fatal(what, r.status());
  return std::move(r).value();
}
void Must(const Status& s, const std::string& what) {
  if (!s.ok()) Fatal(what, s);
}

using Workload = std::function<void(Database&)>;

void Fill(Database& db, const std::string& cf, const std::string& table, int n, size_t value_bytes,
          Durability d = Durability::kImmediate) {
  WriteTransaction w = Must(db.BeginWrite(cf), "BeginWrite");
  Table t = Must(w.OpenOrCreateTable(table), "OpenOrCreateTable");
  for (int i = 0; i < n; i++) {
    char k[16];
    std::snprintf(k, sizeof k, "key%05d", i);
    Must(t.Put(k, std::string(value_bytes, static_cast<char>('a' + i % 26))), "Put");
  }
  Must(w.Commit(d), "Commit");
}

// Databases built without the log (everything in the data file after Close).
std::vector<std::pair<std::string, Workload>> Workloads() {
  return {
      {"empty", [](Database&) {}},
      {"small", [](Database& db) { Fill(db, "default", "t", 10, 8); }},
      {"overflow",
       [](Database& db) {
         Fill(db, "default", "t", 5, 8);
         Fill(db, "default", "big", 3, 3 * db.page_size());
       }},
      {"deep", [](Database& db) { Fill(db, "default", "t", 400, 20); }},
      {"freed",
       [](Database& db) {
         Fill(db, "default", "t", 300, 30);
         WriteTransaction w = Must(db.BeginWrite(), "BeginWrite");
         Table t = Must(w.OpenTable("t"), "OpenTable");
         for (int i = 0; i < 300; i += 2) {
           char k[16];
           std::snprintf(k, sizeof k, "key%05d", i);
           Must(t.Delete(k).status(), "Delete");
         }
         Must(w.Commit(), "Commit");
       }},
      {"families",
       [](Database& db) {
         Must(db.CreateColumnFamily("cf1"), "CreateColumnFamily");
         Must(db.CreateColumnFamily("cf2"), "CreateColumnFamily");
         Fill(db, "cf1", "a", 50, 10);
         Fill(db, "cf2", "b", 20, 100, Durability::kNone);
         Fill(db, "default", "c", 30, 5);
         Must(db.RenameColumnFamily("cf2", "cf3"), "RenameColumnFamily");
       }},
  };
}

std::string BuildImage(uint32_t page_size, const Workload& work) {
  auto storage = std::make_shared<MemoryStorage>();
  std::unique_ptr<Database> db = Must(Database::Open("seed.db", FuzzOptions(storage, page_size, false)), "Open");
  work(*db);
  Must(db->Close(), "Close");
  return Must(storage->ReadAll("seed.db"), "ReadAll");
}

void DatabaseSeeds(Writer& w) {
  for (uint32_t ps : {512u, 1024u, 4096u}) {
    for (const auto& [name, work] : Workloads()) {
      if (ps == 4096 && name == "deep") continue;  // large seeds slow the fuzzer down
      const std::string image = BuildImage(ps, work);
      const std::string base = name + "-" + std::to_string(ps);
      // open_corrupt: flags byte (bit 0 reseal, bit 1 with the log), then the file.
      w.Put("open_corrupt", base, std::string(1, '\0') + image);
      w.Put("open_corrupt", base + "-reseal", std::string(1, '\1') + image);
      if (name == "small") w.Put("open_corrupt", base + "-wal", std::string(1, '\2') + image);
      // header_decode: both slots.
      w.Put("header_decode", base + "-slot0", std::string(1, '\0') + image.substr(0, kHeaderSlotBytes));
      w.Put("header_decode", base + "-slot1", std::string(1, '\0') + image.substr(ps, kHeaderSlotBytes));
      // page_decode: each kind of page, renumbered as page 2 (reseal flag set).
      char selector = static_cast<char>(ps == 512 ? 0 : ps == 1024 ? 1 : 3);
      bool seen[4] = {false, false, false, false};
      for (uint64_t no = 2; no < image.size() / ps; no++) {
        const char* p = image.data() + no * ps;
        auto type = static_cast<uint8_t>(p[0]);
        if (type < 1 || type > 3 || seen[type]) continue;
        if (page::StoredChecksum(p) != page::ComputeChecksum(p, ps)) continue;
        seen[type] = true;
        std::string input = {selector, '\1', '\3', 'k', 'e', 'y'};
        std::string pg(p, ps);
        EncodeU64(pg.data() + 8, 2);
        input += pg;
        // A branch: give it its first children as pages 3..5.
        if (type == static_cast<uint8_t>(PageType::kBranch)) {
          for (int c = 0; c < 3 && c < page::Count(pg.data()); c++) {
            EntryView e;
            if (!ParseEntry(pg.data(), ps, c, &e)) break;
            ChildRef ref = DecodeRef(e.rest.data());
            if (ref.page >= image.size() / ps) break;
            std::string child(image.data() + ref.page * ps, ps);
            EncodeU64(child.data() + 8, 3 + static_cast<uint64_t>(c));
            EncodeU64(input.data() + 6 + (e.rest.data() - pg.data()), 3 + static_cast<uint64_t>(c));
            input += child;
          }
        }
        static const char* const kKinds[4] = {"", "leaf", "branch", "freelist"};
        w.Put("page_decode", base + "-" + kKinds[type], input);
      }
    }
  }
}

void WalSeeds(Writer& w) {
  for (bool big : {false, true}) {
    WalBase base;
    std::string err;
    if (!BuildWalBase(big ? 4096 : 512, &base, &err)) {
      std::fprintf(stderr, "make_corpus: WAL workload failed: %s\n", err.c_str());
      std::exit(1);
    }
    // Trailing zeros (preallocated space) add nothing.
    std::string wal = base.wal;
    while (wal.size() > 4096 && wal.back() == '\0') wal.pop_back();
    while (wal.size() % 8 != 0) wal.push_back('\0');
    const char size_bit = big ? 16 : 0;
    const std::string tag = big ? "-4096" : "-512";
    for (char mode = 0; mode < 4; mode++) {
      w.Put("wal_replay", "log-mode" + std::to_string(mode) + tag, std::string(1, static_cast<char>(mode | size_bit)) + wal);
    }
    // Torn tails: the log cut inside its last records.
    for (int cut : {1, 9, 100, 333}) {
      if (static_cast<size_t>(cut) + 4096 >= wal.size()) continue;
      w.Put("wal_replay", "torn" + std::to_string(cut) + tag, std::string(1, size_bit) + wal.substr(0, wal.size() - cut));
    }
    // A damaged record in the middle, checksums repaired (payload decoding).
    if (wal.size() > 4200) {
      std::string bad = wal;
      bad[4096 + 30] ^= 0x5a;
      w.Put("wal_replay", "midflip-fixed" + tag, std::string(1, static_cast<char>(4 | size_bit)) + bad);
      w.Put("wal_replay", "midflip-skip" + tag, std::string(1, static_cast<char>(3 | size_bit)) + bad);
    }
    w.Put("header_decode", "wal-header" + tag, std::string(1, '\0') + wal.substr(0, 64));
    // Each record on its own (wal_record_decode), as written and with a
    // payload byte changed (checksum repaired by flag bit 0).
    int n = 0;
    for (size_t at = 4096; at + 32 <= wal.size() && n < 12; n++) {
      const uint64_t payload = DecodeU32(wal.data() + at);
      const size_t bytes = static_cast<size_t>((32 + payload + 7) / 8 * 8);
      if (payload == 0 || at + bytes > wal.size()) break;
      const std::string rec = wal.substr(at, 32 + payload);
      w.Put("wal_record_decode", "record" + std::to_string(n) + tag, std::string(1, '\0') + rec);
      std::string changed = rec;
      changed[32 + payload / 2] ^= 0x21;
      w.Put("wal_record_decode", "record" + std::to_string(n) + "-changed" + tag, std::string(1, '\1') + changed);
      at += bytes;
    }
  }
}

void ApiSeeds(Writer& w) {
  for (uint8_t config : {0, 1, 2, 4, 6}) {
    const std::string tag = "-c" + std::to_string(config);
    // Basic puts and reads, both durabilities, power loss.
    OpWriter a(config);
    a.Op(kOpCreateTable).Table(0);
    for (int i = 0; i < 6; i++) a.Op(kOpPut).Table(0).Key("k" + std::to_string(i)).Value("v" + std::to_string(i));
    a.Op(kOpCommit).Byte(0);
    a.Op(kOpPut).Table(0).Key("late").Value("x");
    a.Op(kOpCommit).Byte(1);
    a.Op(kOpReadGet).Cf(0).Table(0).Key("k1");
    a.Op(kOpRange).Table(0).Byte(1).Key("k1").Byte(2).Key("k4").Byte(0);
    a.Op(kOpRange).Table(0).Byte(0).Byte(0).Byte(1);
    a.Op(kOpPowerLoss);
    a.Op(kOpCheck);
    w.Put("api_ops", "basic" + tag, a.out);

    // Savepoints, deletes, table operations, abort.
    OpWriter b(config);
    b.Op(kOpCreateTable).Table(1).Op(kOpPutMany).Table(1).Byte(60).Byte(0);
    b.Op(kOpSavepoint).Op(kOpDelete).Table(1).Key("m003").Op(kOpClearTable).Table(1);
    b.Op(kOpRestore).Byte(0).Op(kOpRenameTable).Table(1).Table(2).Op(kOpCommit).Byte(1);
    b.Op(kOpCreateTable).Table(0).Op(kOpDropTable).Table(2).Op(kOpAbort);
    b.Op(kOpGet).Table(2).Key("m010").Op(kOpSync).Op(kOpPowerLoss).Op(kOpCheck);
    w.Put("api_ops", "savepoints" + tag, b.out);

    // Column families, snapshots, reopen, checkpoint, overflow values.
    OpWriter c(config);
    c.Op(kOpCfOp).Byte(0).Cf(1).Cf(0).Op(kOpBegin).Cf(1).Op(kOpCreateTable).Table(0);
    c.Op(kOpPut).Table(0).Key("big").LongValue('Z', 200).Op(kOpCommit).Byte(1);
    c.Op(kOpSnapshot).Byte(0).Op(kOpBegin).Cf(1).Op(kOpDelete).Table(0).Key("big").Op(kOpCommit).Byte(0);
    c.Op(kOpSnapshot).Byte(1).Op(kOpSnapshot).Byte(2);
    c.Op(kOpCfOp).Byte(2).Cf(1).Cf(2).Op(kOpReopen).Op(kOpCheckpoint).Op(kOpCfOp).Byte(1).Cf(2);
    c.Op(kOpPutMany).Table(0).Byte(0).Byte(0).Op(kOpCreateTable).Table(0).Op(kOpPutMany).Table(0).Byte(200).Byte(7);
    c.Op(kOpCommit).Byte(1).Op(kOpPowerLoss).Op(kOpCheck);
    w.Put("api_ops", "families" + tag, c.out);
  }
  // Crash images over faultfs (config bit 3): non-durable commits, an open
  // transaction, then crashes with each policy, and more work after each.
  for (uint8_t config : {8, 9, 10, 12, 14}) {
    const std::string tag = "-c" + std::to_string(config);
    OpWriter d(config);
    d.Op(kOpCreateTable).Table(0).Op(kOpPutMany).Table(0).Byte(40).Byte(0).Op(kOpCommit).Byte(0);
    for (uint8_t policy = 0; policy < 3; policy++) {
      d.Op(kOpPut).Table(0).Key("n" + std::to_string(policy)).Value("none").Op(kOpCommit).Byte(1);
      d.Op(kOpPutMany).Table(0).Byte(30).Byte(static_cast<uint8_t>(50 * policy)).Op(kOpCommit).Byte(1);
      d.Op(kOpPut).Table(0).Key("big").LongValue('B', 150).Op(kOpSavepoint);
      d.Op(kOpCrashImage).Byte(static_cast<uint8_t>(17 * policy + 1)).Byte(0).Byte(policy);
      d.Op(kOpCheck);
    }
    d.Op(kOpCfOp).Byte(0).Cf(1).Op(kOpBegin).Cf(1).Op(kOpCreateTable).Table(1).Op(kOpPutMany).Table(1).Byte(20).Byte(0);
    d.Op(kOpCommit).Byte(1).Op(kOpCheckpoint).Op(kOpBegin).Cf(1).Op(kOpDelete).Table(1).Key("m005").Op(kOpCommit).Byte(1);
    d.Op(kOpCrashImage).Byte(99).Byte(1).Byte(0).Op(kOpCheck);
    w.Put("api_ops", "crash-images" + tag, d.out);
  }
  // Every opcode once, with zero arguments.
  for (uint8_t op = 0; op < kOpCount; op++) {
    OpWriter o(0);
    o.Op(kOpCreateTable).Table(0).Op(static_cast<ApiOp>(op)).Byte(0).Byte(0).Byte(0).Byte(0);
    w.Put("api_ops", "op" + std::to_string(op), o.out);
  }
}

}  // namespace
}  // namespace manifold::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTDIR\n  writes OUTDIR/<target>/ seed files for every fuzz target\n", argv[0]);
    return 2;
  }
  manifold::fuzz::Writer w{std::filesystem::path(argv[1])};
  manifold::fuzz::DatabaseSeeds(w);
  manifold::fuzz::WalSeeds(w);
  manifold::fuzz::ApiSeeds(w);
  w.Report();
  return 0;
}
