// The fixed workload behind fuzz_wal_replay and its seeds: a database with
// the write-ahead log on, a few durable and non-durable commits (puts,
// deletes, overflow values, table and column family operations), then a
// power loss. What remains is a data file at its last checkpoint and a log
// holding the later commits. Shared by the fuzzer and make_corpus.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "manifold/db.h"

namespace manifold::fuzz {

struct WalBase {
  uint32_t page_size = 0;
  std::string data;          // the data file after the power loss
  std::string wal;           // its log
  std::vector<Cfs> states;   // every committed state, oldest first: recovery must give one of them
  uint64_t database_id = 0;  // from the log header
};

// Returns false (and *err) if the workload fails.
inline bool BuildWalBase(uint32_t page_size, WalBase* out, std::string* err) {
  out->page_size = page_size;
  out->states.clear();
  auto storage = std::make_shared<MemoryStorage>();
  Result<std::unique_ptr<Database>> opened = Database::Open("wal.db", FuzzOptions(storage, page_size, true));
  if (!opened.ok()) return *err = opened.status().ToString(), false;
  std::unique_ptr<Database> db = std::move(opened).value();
  auto snapshot = [&]() -> bool {
    Cfs s;
    Status st;
    if (!ReadEverything(*db, &s, &st)) return *err = st.ToString(), false;
    out->states.push_back(std::move(s));
    return true;
  };
  if (!snapshot()) return false;
  auto txn = [&](const std::string& cf, Durability d, auto&& body) -> bool {
    Result<WriteTransaction> w = db->BeginWrite(cf);
    if (!w.ok()) return *err = w.status().ToString(), false;
    Status s = body(*w);
    if (s.ok()) s = w->Commit(d);
    if (!s.ok()) return *err = s.ToString(), false;
    return snapshot();
  };
  auto put = [](WriteTransaction& w, const std::string& table, int from, int to, size_t value_bytes) -> Status {
    MANIFOLD_ASSIGN_OR_RETURN(Table t, w.OpenOrCreateTable(table));
    for (int i = from; i < to; i++) {
      MANIFOLD_RETURN_IF_ERROR(t.Put("key" + std::to_string(i), std::string(value_bytes, static_cast<char>('a' + i % 26))));
    }
    return Status::Ok();
  };
  bool ok = txn("default", Durability::kImmediate, [&](WriteTransaction& w) { return put(w, "t0", 0, 20, 10); }) &&
            txn("default", Durability::kNone, [&](WriteTransaction& w) { return put(w, "t1", 0, 5, 3 * page_size); }) &&
            txn("default", Durability::kImmediate, [&](WriteTransaction& w) -> Status {
              MANIFOLD_ASSIGN_OR_RETURN(Table t, w.OpenTable("t0"));
              for (int i = 0; i < 20; i += 3) MANIFOLD_RETURN_IF_ERROR(t.Delete("key" + std::to_string(i)).status());
              return w.RenameTable("t1", "big");
            });
  if (!ok) return false;
  Status s = db->CreateColumnFamily("c1");
  if (!s.ok()) return *err = s.ToString(), false;
  if (!snapshot()) return false;
  ok = txn("c1", Durability::kImmediate, [&](WriteTransaction& w) { return put(w, "x", 0, 40, 7); }) &&
       txn("default", Durability::kNone, [&](WriteTransaction& w) { return w.ClearTable("t0"); }) &&
       txn("default", Durability::kImmediate, [&](WriteTransaction& w) -> Status {
         MANIFOLD_RETURN_IF_ERROR(w.DropTable("big"));
         return put(w, "t2", 5, 9, 1);
       });
  if (!ok) return false;
  storage->SimulatePowerLoss();
  db.reset();
  Result<std::string> data = storage->ReadAll("wal.db");
  Result<std::string> wal = storage->ReadAll("wal.db-wal");
  if (!data.ok() || !wal.ok()) return *err = "no data file or log after the workload", false;
  out->data = std::move(data).value();
  out->wal = std::move(wal).value();
  if (out->wal.size() >= 40) out->database_id = DecodeU64(out->wal.data() + 32);
  return true;
}

}  // namespace manifold::fuzz
