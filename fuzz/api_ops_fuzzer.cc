// fuzz_api_ops: the input decodes (api_ops_format.h) to a sequence of
// operations over column families and tables -- put, delete, get, ranges,
// commit (durable or not), abort, savepoints, table and column family
// operations, snapshots, close/reopen, checkpoint, power loss through
// MemoryStorage (every unsynced write lost) and, over faultfs, crashes with a
// seeded crash image (unsynced writes kept, lost, torn, garbage or zeros per
// sector) -- run against the engine and a simple model side by side. Any
// difference, a failed Check(), a sanitizer report or a leak is a finding.
//
// The model: column families -> tables -> std::map for the committed state,
// the durable state (restored by a power loss), the states of the non-durable
// commits since then (a crash image may hold any of them), the open write
// transaction's copy of its column family with its savepoints, and one old
// snapshot.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api_ops_format.h"
#include "faultfs/crash_image.h"
#include "faultfs/fault_storage.h"
#include "fuzz_common.h"
#include "manifold/db.h"

namespace manifold::fuzz {
namespace {

using Code = Status::Code;
constexpr const char* kPath = "api.db";

std::string CodeStr(Code c) { return Status::CodeName(c); }

// The model's states -- committed, durable, each pending commit, the open
// transaction's and each of its savepoints -- share the tables they have in
// common: a state that changes a shared table copies it first (Mut). Copying
// whole maps of maps for every state was a third of all the allocations an
// input made (each one costly under ASan).
using KvRef = std::shared_ptr<Kv>;
using MTables = std::map<std::string, KvRef>;
using MCfs = std::map<std::string, MTables>;

// Table `name` of `t` (it exists), to change: copied first if shared.
Kv& Mut(MTables& t, const std::string& name) {
  KvRef& p = t.at(name);
  if (p.use_count() > 1) p = std::make_shared<Kv>(*p);
  return *p;
}

// The plain maps, to compare with a database read into them or print.
Cfs Flatten(const MCfs& m) {
  Cfs out;
  for (const auto& [cf, tables] : m) {
    Tables& t = out[cf];
    for (const auto& [name, kv] : tables) t[name] = *kv;
  }
  return out;
}

struct TxnModel {
  std::string cf;
  MTables tables;
  std::vector<MTables> savepoints;
};

class Harness {
 public:
  Harness(const uint8_t* data, size_t size, bool logging) : data_(data), size_(size), logging_(logging) {}

  void Run() {
    const uint8_t config = Byte();
    static constexpr uint32_t kPageSizes[4] = {512, 1024, 4096, 512};
    ps_ = kPageSizes[config & 3];
    wal_ = (config & 4) == 0;
    if (const char* env = std::getenv("FUZZ_WAL")) wal_ = std::string(env) != "off";  // pin it (see README)
    if ((config & 8) != 0) {
      fault_ = faultfs::FaultStorage::OverMemory({});
      storage_ = fault_;
    } else {
      memory_ = std::make_shared<MemoryStorage>();
      storage_ = memory_;
    }
    Result<std::unique_ptr<Database>> db = Database::Open(kPath, FuzzOptions(storage_, ps_, wal_));
    if (!db.ok()) Fail("create: " + db.status().ToString());
    db_ = std::move(db).value();
    committed_[std::string(kDefaultColumnFamily)];
    durable_ = committed_;
    while (pos_ < size_) Step();
    // Epilogue: end the transaction, compare, check, lose power, compare again.
    Log("<end>");
    if (w_) AbortTxn();
    snap_.reset();
    snap_model_.reset();
    Verify("at the end");
    PowerLoss();  // compares everything with the durable state
    CheckClean("after the final power loss");
    Expect(db_->Close(), {Code::kOk}, "Close");
  }

 private:
  // ---- input ----
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::string Bytes(size_t n) {
    n = std::min(n, size_ - pos_);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  std::string TableName() { return "t" + std::to_string(Byte() % 3); }
  std::string CfName() {
    static const char* const kNames[4] = {"default", "c1", "c2", ""};
    return kNames[Byte() % 4];
  }
  std::string Key() {
    const uint8_t b = Byte();
    if (b >= 0xf8) return std::string(KeyBytesMax(ps_) - 1 + (b & 3), 'K');
    if ((b & 0x80) != 0) return Bytes(b & 0x0f);
    static constexpr char kAlpha[5] = {'a', 'b', 'c', '\0', '\xff'};
    std::string k;
    for (int i = 0; i < (b & 7); i++) k.push_back(kAlpha[Byte() % 5]);
    return k;
  }
  std::string Value() {
    const uint8_t b = Byte();
    if (b >= 0xf0) {
      const auto fill = static_cast<char>(Byte());
      const uint8_t scale = Byte();
      return std::string(static_cast<size_t>(scale) * 3 * ps_ / 255 + 1, fill);
    }
    return Bytes(b & 0x1f);
  }
  Bound GetBound() {
    switch (Byte() % 3) {
      case 1: return Bound::Included(Key());
      case 2: return Bound::Excluded(Key());
      default: return Bound::Unbounded();
    }
  }

  // ---- reporting ----
  // The operation log costs string building and allocations in every
  // operation, so the normal run keeps none: Fail() replays the input with
  // logging on (a run is deterministic: MemoryStorage, no timed checkpoints
  // or kEventual commits, so the engine's background thread has nothing to
  // do) and that replay reports the failure with the operations.
  template <typename Describe>
  void Log(Describe&& describe) {
    if (!logging_ || log_.size() >= 8000) return;
    log_ += describe();
    log_ += '\n';
  }
  void Log(const char* s) {
    Log([s] { return s; });
  }
  [[noreturn]] void Fail(const std::string& what) {
    if (!logging_) {
      std::fprintf(stderr, "\n*** fuzz_api_ops: %s\n(replaying the input with the operation log)\n", what.c_str());
      Harness replay(data_, size_, /*logging=*/true);
      replay.Run();
      Die(what + "\n(the logged replay of the input did not fail: the run is not deterministic)");
    }
    Die(what + "\npage size " + std::to_string(ps_) + (wal_ ? ", WAL" : ", no WAL") + "; operations so far:\n" + log_);
  }
  void Expect(const Status& s, std::initializer_list<Code> allowed, const std::string& what) {
    for (Code c : allowed) {
      if (s.code() == c) return;
    }
    std::string want;
    for (Code c : allowed) want += (want.empty() ? "" : " or ") + CodeStr(c);
    Fail(what + " returned " + (s.ok() ? std::string("OK") : s.ToString()) + ", expected " + want);
  }
  void SameState(const Cfs& got, const MCfs& model, const char* what, const char* when = "") {
    const Cfs want = Flatten(model);
    if (got != want) {
      Fail(std::string(what) + when + " differs from the model\ndatabase:\n" + Describe(got) + "model:\n" + Describe(want));
    }
  }
  // True if `r` shows exactly `want`: the same column families and tables,
  // every scan in key order with the model's entries, no error. Compares while
  // scanning, without copying the database into a map (the slow paths below
  // do that, to report a difference).
  static bool ScanMatches(const ReadTransaction& r, const MCfs& want) {
    Result<std::vector<std::string>> cfs = r.ListColumnFamilies();
    if (!cfs.ok() || cfs->size() != want.size()) return false;
    for (const auto& cf : *cfs) {
      auto w = want.find(cf);
      if (w == want.end()) return false;
      Result<std::vector<std::string>> names = r.ListTables(cf);
      if (!names.ok() || names->size() != w->second.size()) return false;
      for (const auto& n : *names) {
        auto kv = w->second.find(n);
        if (kv == w->second.end()) return false;
        Result<Table> t = r.OpenTable(n, cf);
        if (!t.ok()) return false;
        Iterator it = t->Scan();
        const Kv& model = *kv->second;
        auto e = model.begin();
        for (; it.Valid(); it.Next(), ++e) {
          if (e == model.end() || it.key() != e->first || it.value() != e->second) return false;
        }
        if (!it.status().ok() || e != model.end()) return false;
      }
    }
    return true;
  }
  // Reads the whole database and compares it with `want`; fails with the
  // difference (or the error).
  void SameAsModel(const MCfs& want, const char* what, const char* when = "") {
    Result<ReadTransaction> r = db_->BeginRead();
    if (r.ok() && ScanMatches(*r, want)) return;
    Cfs got;
    Status err;
    if (!ReadEverything(*db_, &got, &err)) Fail(std::string("reading everything: ") + what + when + ": " + err.ToString());
    SameState(got, want, what, when);
    Fail(std::string(what) + when +
         ": the side-by-side scan differs but the copied state does not: keys out of order or returned twice"
         " (or an error in the first read only)");
  }
  // The whole committed state read back and compared, then Check().
  void Verify(const char* when) {
    SameAsModel(committed_, "committed state ", when);
    CheckClean(when);
  }
  void CheckClean(const char* when) {
    Result<CheckReport> rep = db_->Check();
    if (!rep.ok()) Fail(std::string("Check() ") + when + ": " + rep.status().ToString());
    if (!rep->ok) Fail(std::string("Check() ") + when + " found problems:\n" + rep->ToText());
  }

  // ---- transaction helpers ----
  void EnsureTxn() {
    if (w_) return;
    Result<WriteTransaction> w = db_->BeginWrite();
    Expect(w.status(), {Code::kOk}, "BeginWrite(default) (implicit)");
    w_.emplace(std::move(w).value());
    txn_ = TxnModel{std::string(kDefaultColumnFamily), committed_.at(std::string(kDefaultColumnFamily)), {}};
    sp_ids_.clear();
  }
  // Operations on the whole database first commit an open transaction (kNone).
  void EndTxnForDbOp() {
    if (w_) CommitTxn(Durability::kNone);
  }
  void CommitTxn(Durability d) {
    Expect(w_->Commit(d), {Code::kOk}, d == Durability::kNone ? "Commit(kNone)" : "Commit(kImmediate)");
    committed_[txn_->cf] = std::move(txn_->tables);
    if (d == Durability::kImmediate) {
      MadeDurable();
    } else if (fault_) {
      pending_.push_back(committed_);
    }
    w_.reset();
    txn_.reset();
    sp_ids_.clear();
  }
  void AbortTxn() {
    w_->Abort();
    w_.reset();
    txn_.reset();
    sp_ids_.clear();
  }
  // Opens `name` in the write transaction; false if the model has no such table.
  bool OpenTxnTable(const std::string& name, std::optional<Table>* out) {
    Result<Table> t = w_->OpenTable(name);
    if (txn_->tables.count(name) == 0) {
      if (t.status().code() != Code::kNotFound) Expect(t.status(), {Code::kNotFound}, "OpenTable(" + name + ")");
      return false;
    }
    if (!t.ok()) Expect(t.status(), {Code::kOk}, "OpenTable(" + name + ")");
    out->emplace(std::move(t).value());
    return true;
  }

  // Everything committed so far is durable.
  void MadeDurable() {
    durable_ = committed_;
    pending_.clear();
  }
  // Ends the process's view of the database after its storage lost power
  // (the handles are dead, so the destructor's syncs fail and write nothing).
  void DropDatabase() {
    snap_.reset();
    snap_model_.reset();
    w_.reset();
    txn_.reset();
    sp_ids_.clear();
    db_.reset();
  }
  void OpenAfterCrash(const char* what) {
    Options o = FuzzOptions(storage_, 0, wal_);
    o.create_if_missing = false;
    Result<std::unique_ptr<Database>> db = Database::Open(kPath, o);
    if (!db.ok()) Fail(std::string("reopen after ") + what + ": " + db.status().ToString());
    db_ = std::move(db).value();
  }

  // Every unsynced write lost: exactly the durable state.
  void PowerLoss() {
    if (fault_) {
      Result<faultfs::FileSet> files = fault_->PowerLoss(faultfs::CrashPolicy::DropAll());
      if (!files.ok()) Fail("FaultStorage::PowerLoss: " + files.status().ToString());
    } else {
      memory_->SimulatePowerLoss();
    }
    DropDatabase();
    committed_ = durable_;
    pending_.clear();
    OpenAfterCrash("power loss");
    SameAsModel(committed_, "state after power loss");
  }

  // A seeded crash image (faultfs): each unsynced write kept, lost, torn,
  // garbage or zeros per sector, resizes and creations kept or lost. The
  // database must open, pass Check() and hold the durable state or that of a
  // later non-durable commit (a prefix of the commit order); the run goes on
  // from there.
  void CrashImage(uint16_t seed, uint8_t policy_choice) {
    if (!fault_) return;
    faultfs::CrashPolicy policy;
    if (policy_choice == 1) policy = faultfs::CrashPolicy::Only(faultfs::Fate::kTorn);
    if (policy_choice == 2) policy = faultfs::CrashPolicy::Only(faultfs::Fate::kGarbage);
    const faultfs::CrashImage image = fault_->CaptureCrashImage();
    const faultfs::CrashPlan plan = image.RandomPlan(policy, seed);
    Result<faultfs::FileSet> files = fault_->PowerLoss(plan);
    if (!files.ok()) Fail("FaultStorage::PowerLoss(plan): " + files.status().ToString());
    DropDatabase();
    OpenAfterCrash("a crash image");
    CheckClean("after a crash image");
    Result<ReadTransaction> r = db_->BeginRead();
    Expect(r.status(), {Code::kOk}, "BeginRead (crash image)");
    const MCfs* match = ScanMatches(*r, durable_) ? &durable_ : nullptr;
    for (size_t i = pending_.size(); match == nullptr && i > 0; i--) {
      if (ScanMatches(*r, pending_[i - 1])) match = &pending_[i - 1];
    }
    r->Close();
    if (match == nullptr) {
      Cfs got;
      Status err;
      if (!ReadEverything(*db_, &got, &err)) Fail("reading everything after a crash image: " + err.ToString());
      Fail("crash image (seed " + std::to_string(seed) + ", policy " + std::to_string(policy_choice) + ", " +
           std::to_string(image.ops().size()) + " unsynced operations) holds neither the durable state nor that of one of the " +
           std::to_string(pending_.size()) + " later non-durable commits\ndatabase:\n" + Describe(got) + "durable:\n" +
           Describe(Flatten(durable_)));
    }
    committed_ = *match;
    MadeDurable();  // recovery made what it found durable (it ends in a checkpoint)
  }

  // ---- one operation ----
  void Step() {
    const auto op = static_cast<ApiOp>(Byte() % kOpCount);
    switch (op) {
      case kOpBegin: {
        const std::string cf = CfName();
        Log([&] { return "Begin(" + cf + ")"; });
        if (w_) return;
        Result<WriteTransaction> w = db_->BeginWrite(cf);
        if (cf.empty()) return Expect(w.status(), {Code::kInvalidArgument}, "BeginWrite(\"\")");
        if (committed_.count(cf) == 0) return Expect(w.status(), {Code::kNotFound}, "BeginWrite(" + cf + ")");
        Expect(w.status(), {Code::kOk}, "BeginWrite(" + cf + ")");
        w_.emplace(std::move(w).value());
        txn_ = TxnModel{cf, committed_.at(cf), {}};
        sp_ids_.clear();
        return;
      }
      case kOpPut: {
        const std::string table = TableName(), key = Key(), value = Value();
        Log([&] { return "Put(" + table + ", " + Printable(key) + ", " + Printable(value) + ")"; });
        EnsureTxn();
        std::optional<Table> t;
        if (!OpenTxnTable(table, &t)) return;
        Status s = t->Put(key, value);
        if (key.size() > KeyBytesMax(ps_)) return Expect(s, {Code::kInvalidArgument}, "Put(oversized key)");
        Expect(s, {Code::kOk}, "Put");
        Mut(txn_->tables, table)[key] = value;
        return;
      }
      case kOpDelete: {
        const std::string table = TableName(), key = Key();
        Log([&] { return "Delete(" + table + ", " + Printable(key) + ")"; });
        EnsureTxn();
        std::optional<Table> t;
        if (!OpenTxnTable(table, &t)) return;
        Result<bool> d = t->Delete(key);
        const bool existed = txn_->tables.at(table)->count(key) != 0;
        if (existed) Mut(txn_->tables, table).erase(key);
        if (!d.ok() && !existed) return Expect(d.status(), {Code::kInvalidArgument}, "Delete");
        Expect(d.status(), {Code::kOk}, "Delete");
        if (*d != existed) Fail("Delete returned " + std::string(*d ? "true" : "false") + ", model says the opposite");
        return;
      }
      case kOpGet: {
        const std::string table = TableName(), key = Key();
        Log([&] { return "Get(" + table + ", " + Printable(key) + ")"; });
        EnsureTxn();
        std::optional<Table> t;
        if (!OpenTxnTable(table, &t)) return;
        CheckGet(*t, *txn_->tables.at(table), key);
        return;
      }
      case kOpRange: {
        const std::string table = TableName();
        Bound lower = GetBound();
        Bound upper = GetBound();
        const uint8_t flags = Byte();
        std::optional<std::string> seek;
        if ((flags & 2) != 0) seek = Key();
        Log([&] { return "Range(" + table + ", flags " + std::to_string(flags) + ")"; });
        EnsureTxn();
        std::optional<Table> t;
        if (!OpenTxnTable(table, &t)) return;
        CheckRange(*t, *txn_->tables.at(table), lower, upper, flags, seek);
        return;
      }
      case kOpCommit: {
        const bool none = (Byte() & 1) != 0;
        Log(none ? "Commit(kNone)" : "Commit(kImmediate)");
        if (w_) CommitTxn(none ? Durability::kNone : Durability::kImmediate);
        return;
      }
      case kOpAbort:
        Log("Abort()");
        if (w_) AbortTxn();
        return;
      case kOpSavepoint: {
        Log("SetSavepoint()");
        EnsureTxn();
        Result<uint64_t> id = w_->SetSavepoint();
        Expect(id.status(), {Code::kOk}, "SetSavepoint");
        sp_ids_.push_back(*id);
        txn_->savepoints.push_back(txn_->tables);
        return;
      }
      case kOpRestore: {
        const uint8_t idx = Byte();
        if (!w_ || sp_ids_.empty()) return;
        const size_t i = idx % sp_ids_.size();
        Log([&] { return "RestoreSavepoint(#" + std::to_string(i) + ")"; });
        Expect(w_->RestoreSavepoint(sp_ids_[i]), {Code::kOk}, "RestoreSavepoint");
        sp_ids_.resize(i + 1);
        txn_->tables = txn_->savepoints[i];
        txn_->savepoints.resize(i + 1);
        return;
      }
      case kOpCreateTable: {
        const std::string name = TableName();
        Log([&] { return "CreateTable(" + name + ")"; });
        EnsureTxn();
        Result<Table> t = w_->CreateTable(name);
        if (txn_->tables.count(name) != 0) return Expect(t.status(), {Code::kAlreadyExists}, "CreateTable");
        Expect(t.status(), {Code::kOk}, "CreateTable");
        txn_->tables[name] = std::make_shared<Kv>();
        return;
      }
      case kOpDropTable: {
        const std::string name = TableName();
        Log([&] { return "DropTable(" + name + ")"; });
        EnsureTxn();
        Status s = w_->DropTable(name);
        if (txn_->tables.erase(name) == 0) return Expect(s, {Code::kNotFound}, "DropTable");
        return Expect(s, {Code::kOk}, "DropTable");
      }
      case kOpClearTable: {
        const std::string name = TableName();
        Log([&] { return "ClearTable(" + name + ")"; });
        EnsureTxn();
        Status s = w_->ClearTable(name);
        auto it = txn_->tables.find(name);
        if (it == txn_->tables.end()) return Expect(s, {Code::kNotFound}, "ClearTable");
        it->second = std::make_shared<Kv>();
        return Expect(s, {Code::kOk}, "ClearTable");
      }
      case kOpRenameTable: {
        const std::string from = TableName(), to = TableName();
        Log([&] { return "RenameTable(" + from + ", " + to + ")"; });
        EnsureTxn();
        Status s = w_->RenameTable(from, to);
        const bool has_from = txn_->tables.count(from) != 0, has_to = txn_->tables.count(to) != 0;
        if (!has_from && has_to) return Expect(s, {Code::kNotFound, Code::kAlreadyExists}, "RenameTable");
        if (!has_from) return Expect(s, {Code::kNotFound}, "RenameTable");
        if (has_to) return Expect(s, {Code::kAlreadyExists}, "RenameTable");
        Expect(s, {Code::kOk}, "RenameTable");
        KvRef kv = std::move(txn_->tables.at(from));
        txn_->tables.erase(from);
        txn_->tables[to] = std::move(kv);
        return;
      }
      case kOpCfOp: {
        const uint8_t sub = Byte() % 3;
        const std::string a = CfName(), b = CfName();
        EndTxnForDbOp();
        CfOp(sub, a, b);
        return;
      }
      case kOpReopen: {
        Log("Reopen()");
        if (w_) AbortTxn();
        snap_.reset();
        snap_model_.reset();
        Expect(db_->Close(), {Code::kOk}, "Close");
        db_.reset();
        MadeDurable();
        OpenAfterCrash("close");
        return;
      }
      case kOpPowerLoss:
        Log("PowerLoss()");
        PowerLoss();
        return;
      case kOpSync:
        Log("Sync()");
        EndTxnForDbOp();
        Expect(db_->Sync(), {Code::kOk}, "Sync");
        MadeDurable();
        return;
      case kOpReadGet: {
        const std::string cf = CfName(), table = TableName(), key = Key();
        Log([&] { return "ReadGet(" + cf + "/" + table + ", " + Printable(key) + ")"; });
        Result<ReadTransaction> r = db_->BeginRead();
        Expect(r.status(), {Code::kOk}, "BeginRead");
        Result<Table> t = r->OpenTable(table, cf);
        if (committed_.count(cf) == 0 || committed_.at(cf).count(table) == 0) {
          return Expect(t.status(), {Code::kNotFound}, "OpenTable(read)");
        }
        Expect(t.status(), {Code::kOk}, "OpenTable(read)");
        CheckGet(*t, *committed_.at(cf).at(table), key);
        return;
      }
      case kOpCheck:
        Log("Check()");
        EndTxnForDbOp();
        Verify("at Check()");
        return;
      case kOpPutMany: {
        const std::string table = TableName();
        const int count = Byte(), start = Byte();
        Log([&] { return "PutMany(" + table + ", " + std::to_string(count) + " from " + std::to_string(start) + ")"; });
        EnsureTxn();
        std::optional<Table> t;
        if (!OpenTxnTable(table, &t)) return;
        Kv& kv = Mut(txn_->tables, table);
        for (int i = 0; i < count; i++) {
          char k[8];
          std::snprintf(k, sizeof k, "m%03d", (start + i) % 256);
          std::string v(static_cast<size_t>(i % 13), 'v');
          Expect(t->Put(k, v), {Code::kOk}, "PutMany");
          kv[k] = v;
        }
        return;
      }
      case kOpCheckpoint:
        Log("Checkpoint()");
        EndTxnForDbOp();
        Expect(db_->Checkpoint(), {Code::kOk}, "Checkpoint");
        MadeDurable();
        return;
      case kOpSnapshot: {
        const uint8_t sub = Byte() % 3;
        if (sub == 0 && !snap_) {
          Log("TakeSnapshot()");
          Result<ReadTransaction> r = db_->BeginRead();
          Expect(r.status(), {Code::kOk}, "BeginRead");
          snap_.emplace(std::move(r).value());
          snap_model_ = committed_;
        } else if (sub == 1 && snap_) {
          Log("VerifySnapshot()");
          VerifySnapshot();
        } else if (sub == 2 && snap_) {
          Log("ReleaseSnapshot()");
          snap_->Close();
          snap_.reset();
          snap_model_.reset();
        }
        return;
      }
      case kOpCrashImage: {
        const uint8_t seed_low = Byte();  // two statements: the operands of | are not sequenced
        const auto seed = static_cast<uint16_t>(seed_low | (Byte() << 8));
        const uint8_t policy = Byte() % 3;
        Log([&] { return "CrashImage(seed " + std::to_string(seed) + ", policy " + std::to_string(policy) + ")"; });
        CrashImage(seed, policy);
        return;
      }
      case kOpCount:
        break;
    }
  }

  void CfOp(uint8_t sub, const std::string& a, const std::string& b) {
    const bool has_a = committed_.count(a) != 0, has_b = committed_.count(b) != 0;
    if (sub == 0) {
      Log([&] { return "CreateColumnFamily(" + a + ")"; });
      Status s = db_->CreateColumnFamily(a);
      if (a.empty()) return Expect(s, {Code::kInvalidArgument}, "CreateColumnFamily(\"\")");
      if (has_a) return Expect(s, {Code::kAlreadyExists}, "CreateColumnFamily");
      Expect(s, {Code::kOk}, "CreateColumnFamily");
      committed_[a];
    } else if (sub == 1) {
      Log([&] { return "DropColumnFamily(" + a + ")"; });
      Status s = db_->DropColumnFamily(a);
      if (a == kDefaultColumnFamily) return Expect(s, {Code::kInvalidArgument}, "DropColumnFamily(default)");
      if (!has_a) return Expect(s, {Code::kNotFound}, "DropColumnFamily");
      Expect(s, {Code::kOk}, "DropColumnFamily");
      committed_.erase(a);
    } else {
      Log([&] { return "RenameColumnFamily(" + a + ", " + b + ")"; });
      Status s = db_->RenameColumnFamily(a, b);
      std::vector<Code> errors;
      if (a == kDefaultColumnFamily || b.empty()) errors.push_back(Code::kInvalidArgument);
      if (!has_a) errors.push_back(Code::kNotFound);
      if (has_b) errors.push_back(Code::kAlreadyExists);
      if (!errors.empty()) {
        if (std::find(errors.begin(), errors.end(), s.code()) == errors.end()) {
          Fail("RenameColumnFamily returned " + s.ToString() + ", expected an error such as " + CodeStr(errors[0]));
        }
        return;
      }
      Expect(s, {Code::kOk}, "RenameColumnFamily");
      MTables t = std::move(committed_.at(a));
      committed_.erase(a);
      committed_[b] = std::move(t);
    }
    MadeDurable();  // column family operations are durable commits
  }

  void CheckGet(const Table& t, const Kv& kv, const std::string& key) {
    auto it = kv.find(key);
    Status s = t.Get(key, &scratch_);
    if (it == kv.end()) return Expect(s, {Code::kNotFound, Code::kInvalidArgument}, "Get(absent key)");
    Expect(s, {Code::kOk}, "Get");
    if (scratch_ != it->second) Fail("Get returned " + Printable(scratch_) + ", expected " + Printable(it->second));
    Result<bool> c = t.Contains(key);
    Expect(c.status(), {Code::kOk}, "Contains");
    if (!*c) Fail("Contains returned false for a present key");
  }

  static bool InBounds(const std::string& k, const Bound& lo, const Bound& hi) {
    if (lo.kind() == Bound::Kind::kIncluded && k < lo.key()) return false;
    if (lo.kind() == Bound::Kind::kExcluded && k <= lo.key()) return false;
    if (hi.kind() == Bound::Kind::kIncluded && k > hi.key()) return false;
    if (hi.kind() == Bound::Kind::kExcluded && k >= hi.key()) return false;
    return true;
  }

  void CheckRange(const Table& t, const Kv& kv, const Bound& lower, const Bound& upper, uint8_t flags,
                  const std::optional<std::string>& seek) {
    const bool reverse = (flags & 1) != 0;
    const bool prefix = (flags & 4) != 0;
    const std::string pfx = lower.key();
    Iterator it = prefix ? t.Prefix(pfx, reverse) : t.Range(lower, upper, reverse);
    if (seek) it.Seek(*seek);
    std::vector<std::pair<std::string, std::string>> want;
    for (const auto& [k, v] : kv) {
      if (prefix ? k.compare(0, pfx.size(), pfx) != 0 : !InBounds(k, lower, upper)) continue;
      if (seek && (reverse ? k > *seek : k < *seek)) continue;
      want.emplace_back(k, v);
    }
    if (reverse) std::reverse(want.begin(), want.end());
    size_t i = 0;
    for (; it.Valid(); it.Next(), i++) {
      if (i >= want.size()) Fail("Range returned an extra entry " + Printable(it.key()));
      if (it.key() != want[i].first || it.value() != want[i].second) {
        Fail("Range entry " + std::to_string(i) + " is " + Printable(it.key()) + "=" + Printable(it.value()) +
             ", expected " + Printable(want[i].first) + "=" + Printable(want[i].second));
      }
    }
    Expect(it.status(), {Code::kOk}, "Range iterator status");
    if (i != want.size()) Fail("Range returned " + std::to_string(i) + " entries, expected " + std::to_string(want.size()));
    Result<uint64_t> len = t.Len();
    Expect(len.status(), {Code::kOk}, "Len");
    if (*len != kv.size()) Fail("Len returned " + std::to_string(*len) + ", expected " + std::to_string(kv.size()));
  }

  void VerifySnapshot() {
    if (ScanMatches(*snap_, *snap_model_)) return;
    Cfs got;
    Result<std::vector<std::string>> cfs = snap_->ListColumnFamilies();
    Expect(cfs.status(), {Code::kOk}, "snapshot ListColumnFamilies");
    for (const auto& cf : *cfs) {
      Tables& tables = got[cf];
      Result<std::vector<std::string>> names = snap_->ListTables(cf);
      Expect(names.status(), {Code::kOk}, "snapshot ListTables");
      for (const auto& n : *names) {
        Result<Table> t = snap_->OpenTable(n, cf);
        Expect(t.status(), {Code::kOk}, "snapshot OpenTable");
        Kv& kv = tables[n];
        Iterator it = t->Scan();
        for (; it.Valid(); it.Next()) kv.emplace(std::string(it.key()), std::string(it.value()));
        Expect(it.status(), {Code::kOk}, "snapshot scan");
      }
    }
    SameState(got, *snap_model_, "old snapshot");
    Fail("old snapshot: the side-by-side scan differs but the copied state does not: keys out of order or returned twice");
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  uint32_t ps_ = 512;
  bool wal_ = true;
  bool logging_;
  std::string log_;
  std::string scratch_;

  std::shared_ptr<Storage> storage_;
  std::shared_ptr<MemoryStorage> memory_;           // config bit 3 clear
  std::shared_ptr<faultfs::FaultStorage> fault_;    // config bit 3 set
  std::unique_ptr<Database> db_;
  std::optional<WriteTransaction> w_;
  std::vector<uint64_t> sp_ids_;
  std::optional<ReadTransaction> snap_;

  MCfs committed_;
  MCfs durable_;
  std::vector<MCfs> pending_;  // with faultfs: the state after each non-durable commit since durable_
  std::optional<TxnModel> txn_;
  std::optional<MCfs> snap_model_;
};

}  // namespace
}  // namespace manifold::fuzz

namespace {
// Only an input's first kMaxInputBytes bytes are run (a few hundred
// operations). Longer inputs cost tens of milliseconds each -- libFuzzer grows
// its length limit to 4096 during a long run -- for sequences that a shorter
// input with PutMany and long values reaches as well.
constexpr size_t kMaxInputBytes = 1024;
}  // namespace

// ASan records the stack of every allocation and free, 30 frames deep by
// default; this harness allocates a lot per input (an engine open and close
// or more), and unwinding those stacks was ~9% of its time. Five frames still
// name the engine function behind a leak or a use after free; for full stacks
// run with ASAN_OPTIONS=malloc_context_size=30 (the environment wins, flag by
// flag).
//
// ASan's quarantine keeps freed memory out of reuse (to catch a use after
// free) up to 256 MB by default. An input frees a few megabytes, so nearly
// every allocation then came from memory the process had never touched:
// page faults and ASan's first fill of it were ~20% of the time (a fixed
// corpus of 1,190 inputs: 4.2 s, 3.2 s with 16 MB). 16 MB still holds what
// the last few inputs freed, so a use after free within an input is caught.
extern "C" const char* __asan_default_options() { return "malloc_context_size=5:quarantine_size_mb=16"; }

// Flags this harness sets unless the command line has them:
//  -max_len: libFuzzer is told the input cap, so that it does not generate
//   (and spend runs on) bytes the harness ignores.
//  -entropic_feature_frequency_threshold: the entropic schedule tracks the
//   rarest coverage features, and by default keeps every feature seen fewer
//   than 255 times. An input here reaches ~20,000 features, which a run at a
//   few hundred inputs a second does not see 255 times for minutes, so the
//   list held nearly all of them and each execution searched it once per
//   feature it hit: 30% of the time (a fixed corpus of 1,190 inputs: 6.4 s,
//   4.2 s with the threshold at 4; with the 16 MB quarantine below, 3.3 s at
//   4 and 3.5 s at 16). With 16 the schedule still favours the
//   features seen 16 times or fewer, plus libFuzzer's 100 rarest.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  static const std::pair<const char*, std::string> kDefaults[] = {
      {"-max_len=", "-max_len=" + std::to_string(kMaxInputBytes)},
      {"-entropic_feature_frequency_threshold=", "-entropic_feature_frequency_threshold=16"},
  };
  static std::vector<char*> args;
  args.assign(*argv, *argv + *argc);
  for (const auto& [prefix, flag] : kDefaults) {
    bool given = false;
    for (int i = 1; i < *argc; i++) given = given || std::strncmp((*argv)[i], prefix, std::strlen(prefix)) == 0;
    if (!given) args.insert(args.begin() + 1, const_cast<char*>(flag.c_str()));
  }
  *argc = static_cast<int>(args.size());
  args.push_back(nullptr);
  *argv = args.data();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  manifold::fuzz::Harness h(data, std::min(size, kMaxInputBytes), /*logging=*/false);
  h.Run();
  return 0;
}
