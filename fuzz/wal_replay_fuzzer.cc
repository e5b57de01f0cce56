// fuzz_wal_replay: the input is a (mutated) write-ahead log beside a valid
// data file; opening the database replays it.
//
//   byte 0      bits 0-1 recovery mode (WalRecoveryMode 0..3)
//               bit 2    recompute every record checksum after the mutation
//                        (the payload decoder and replay are then reached)
//               bit 3    recompute the log header checksum
//               bit 4    data file with 4096-byte pages (else 512)
//   byte 1..    the log file
//
// The data file and the list of every committed state come from the fixed
// workload in wal_base.h, run once at start-up. A log header that verifies
// is re-keyed to this data file's database id (the seeds come from another
// run of the same workload).
//
// Checked:
//  - never a crash, hang, leak or out-of-bounds read; failures carry a message;
//  - if open succeeds: everything reads, Check() is clean, and -- unless
//    record checksums were recomputed or the mode is kSkipCorrupted -- the
//    state is exactly one of the workload's committed states (recovery
//    replays a prefix of the log, never a mix);
//  - a durable commit after recovery survives another power loss (the log
//    continues correctly after replay).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz_common.h"
#include "manifold/db.h"
#include "wal/wal.h"
#include "wal_base.h"

namespace manifold::fuzz {
namespace {

constexpr const char* kPath = "wal.db";

const WalBase& Base(bool big_pages) {
  static const WalBase* bases[2] = {nullptr, nullptr};
  const WalBase*& b = bases[big_pages ? 1 : 0];
  if (b == nullptr) {
    auto* nb = new WalBase;
    std::string err;
    if (!BuildWalBase(big_pages ? 4096 : 512, nb, &err)) Die("cannot build the base database: " + err);
    b = nb;
  }
  return *b;
}

uint64_t Padded(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

// Re-keys a verifying log header to `database_id`, and optionally recomputes
// checksums (docs/format/wal.md: the record checksum covers the record from
// byte 8 to the end of its payload; the header checksum bytes [0, 40)).
void PrepareLog(std::string* wal, uint64_t database_id, bool fix_records, bool fix_header) {
  constexpr size_t kHeaderCrcAt = 40;
  if (wal->size() < kHeaderCrcAt + 4) return;
  char* h = wal->data();
  const bool header_ok = DecodeU32(h + kHeaderCrcAt) == crc32c::Mask(crc32c::Value(h, kHeaderCrcAt));
  if (header_ok || fix_header) {
    EncodeU64(h + 32, database_id);
    EncodeU32(h + kHeaderCrcAt, crc32c::Mask(crc32c::Value(h, kHeaderCrcAt)));
  }
  if (!fix_records) return;
  const uint64_t salt = DecodeU64(h + 16);
  uint64_t off = kWalHeaderBytes;
  while (off + kWalRecordHeaderBytes <= wal->size()) {
    char* r = wal->data() + off;
    if (DecodeU64(r + 16) != salt) break;
    const uint64_t payload = DecodeU32(r);
    if (off + kWalRecordHeaderBytes + payload > wal->size()) break;
    EncodeU32(r + 4, crc32c::Mask(crc32c::Value(r + 8, kWalRecordHeaderBytes - 8 + payload)));
    off += Padded(kWalRecordHeaderBytes + payload);
  }
}

void ReadAndCheck(Database& db, Cfs* state, const char* when) {
  Status err;
  if (!ReadEverything(db, state, &err)) Die(std::string("reading ") + when + " failed: " + err.ToString());
  Result<CheckReport> rep = db.Check();
  if (!rep.ok()) Die(std::string("Check() ") + when + ": " + rep.status().ToString());
  if (!rep->ok) Die(std::string("Check() ") + when + " found problems:\n" + rep->ToText());
}

}  // namespace
}  // namespace manifold::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace manifold;
  using namespace manifold::fuzz;
  {
    if (size < 1 || size > (1u << 20)) return 0;
    const uint8_t flags = data[0];
    const auto mode = static_cast<WalRecoveryMode>(flags & 3);
    const bool fix_records = (flags & 4) != 0;
    const WalBase& base = Base((flags & 16) != 0);
    std::string wal(reinterpret_cast<const char*>(data + 1), size - 1);
    PrepareLog(&wal, base.database_id, fix_records, (flags & 8) != 0);

    auto storage = std::make_shared<MemoryStorage>();
    if (!storage->WriteAll(kPath, base.data).ok() || !storage->WriteAll(std::string(kPath) + "-wal", wal).ok()) {
      Die("WriteAll");
    }
    Options o = FuzzOptions(storage, 0, true);
    o.wal_recovery = mode;
    o.create_if_missing = false;
    Cfs state;
    {
      Result<std::unique_ptr<Database>> db = Database::Open(kPath, o);
      if (!db.ok()) {
        if (db.status().message().empty()) Die("Open failed without a message");
        return 0;
      }
      ReadAndCheck(**db, &state, "after recovery");
      const bool prefix_expected = !fix_records && mode != WalRecoveryMode::kSkipCorrupted;
      if (prefix_expected) {
        bool found = false;
        for (const Cfs& s : base.states) found = found || s == state;
        if (!found) {
          Die("recovered state is none of the workload's committed states (recovery mode " +
              std::to_string(flags & 3) + "):\n" + Describe(state));
        }
      }
      // A durable commit after recovery must survive a power loss.
      Result<WriteTransaction> w = (*db)->BeginWrite();
      if (!w.ok()) Die("BeginWrite after recovery: " + w.status().ToString());
      Result<Table> t = w->OpenOrCreateTable("after");
      if (!t.ok()) Die("OpenOrCreateTable after recovery: " + t.status().ToString());
      Status s = t->Put("k", "v");
      if (s.ok()) s = w->Commit(Durability::kImmediate);
      if (!s.ok()) Die("commit after recovery: " + s.ToString());
      state["default"]["after"]["k"] = "v";
      storage->SimulatePowerLoss();
    }
    Result<std::unique_ptr<Database>> db = Database::Open(kPath, o);
    if (!db.ok()) Die("reopen after a commit that followed recovery: " + db.status().ToString());
    Cfs again;
    ReadAndCheck(**db, &again, "after the second recovery");
    if (again != state) {
      Die("a durable commit made after recovery was lost or changed by a power loss\nexpected:\n" + Describe(state) +
          "got:\n" + Describe(again));
    }
    return 0;
  }
}
