// Stateful model-based test of the public API (RapidCheck rc::state).
//
// The model is column families -> tables -> std::map, with three versions of
// it: `committed` (what a new read transaction sees), `durable` (what survives
// a power loss: the state as of the last durable commit, column family
// operation, Sync() or Close()), and the open write transaction's working copy
// of its column family with its savepoints. Commands run against a Database
// over faultfs (FaultStorage over memory) and check every result against the
// model. A crash first builds a random crash image with faultfs (unsynced
// writes kept, dropped, torn or garbled per sector, in any order) and checks
// it on a copy: it must open, pass Check(), and hold the durable state or the
// state after one of the non-durable commits since (a prefix); then the
// database itself loses every unsynced write and reopens, holding exactly
// the durable state.
//
// A failure shrinks to a short command sequence printed one command per line,
// e.g.
//   Begin(default)
//   CreateTable(t1)
//   Put(t1, "a", "x")
//   Commit(kNone)
//   Crash()
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "faultfs/faultfs.h"
#include "manifold/db.h"
#include "prop_util.h"

namespace manifold::prop {
namespace {

using Kv = std::map<std::string, std::string>;
using Tables = std::map<std::string, Kv>;
using Cfs = std::map<std::string, Tables>;
using Entries = std::vector<std::pair<std::string, std::string>>;
using Code = Status::Code;

constexpr const char* kDbPath = "prop.db";

struct TxnModel {
  std::string cf;
  Tables tables;                  // the bound column family as this transaction sees it
  std::vector<Tables> savepoints;  // parallel to Sut::savepoints
};

struct Model {
  uint32_t page_size = 512;
  bool wal = true;  // Options::wal (the engine's write-ahead log), when it has one
  Cfs committed;
  Cfs durable;
  std::vector<Cfs> pending;  // committed after each non-durable commit since `durable` (oldest first)
  std::optional<TxnModel> txn;
  std::optional<Cfs> snapshot;  // an open read transaction taken earlier
};

struct Sut {
  uint32_t page_size = 512;
  bool wal = true;
  std::shared_ptr<faultfs::FaultStorage> storage = faultfs::FaultStorage::OverMemory({});
  std::unique_ptr<Database> db;
  std::optional<WriteTransaction> txn;
  std::vector<uint64_t> savepoints;  // ids returned by SetSavepoint, oldest first
  std::optional<ReadTransaction> snapshot;

  Options Opts(uint32_t page_size_option) const { return TestOptions(storage, page_size_option, wal); }
};

// Everything committed is durable now (a durable commit, Sync, Checkpoint,
// a column family operation, Close).
void MakeDurable(Model& m) {
  m.durable = m.committed;
  m.pending.clear();
}
void CommitDone(Model& m, Durability d) {
  if (d == Durability::kImmediate) {
    MakeDurable(m);
  } else {
    m.pending.push_back(m.committed);
  }
}

using Cmd = rc::state::Command<Model, Sut>;
using CmdSP = std::shared_ptr<const Cmd>;

// ---- names, keys, values ----

bool ValidName(const std::string& n) { return !n.empty(); }  // the pools hold only "" as an invalid name

rc::Gen<std::string> CfName() { return rc::gen::element<std::string>("default", "cf1", "cf2"); }
rc::Gen<std::string> CfNameOrInvalid() {
  return rc::gen::weightedOneOf<std::string>({{8, CfName()}, {1, rc::gen::just<std::string>("")}});
}
rc::Gen<std::string> TableName() { return rc::gen::element<std::string>("t1", "t2", "t3"); }
rc::Gen<std::string> TableNameOrInvalid() {
  return rc::gen::weightedOneOf<std::string>({{8, TableName()}, {1, rc::gen::just<std::string>("")}});
}

// Short keys over a tiny alphabet (collisions are the point), keys with the
// bytes 0x00 and 0xff (ordering and prefix edge cases), numbered keys, and
// rarely keys at the size limit.
rc::Gen<std::string> Key(uint32_t page_size) {
  const auto limit = static_cast<int>(KeyBytesMax(page_size));
  return rc::gen::weightedOneOf<std::string>({
      {12, rc::gen::container<std::string>(static_cast<size_t>(*rc::gen::inRange(0, 4)),
                                           rc::gen::element('a', 'b', 'c'))},
      {3, rc::gen::container<std::string>(static_cast<size_t>(*rc::gen::inRange(1, 4)),
                                          rc::gen::element('a', '\0', '\xff'))},
      {3, rc::gen::map(rc::gen::inRange(0, 300), [](int i) {
         char b[8];
         std::snprintf(b, sizeof b, "k%03d", i);
         return std::string(b);
       })},
      {1, rc::gen::map(rc::gen::inRange(limit - 1, limit + 2), [](int n) { return std::string(static_cast<size_t>(n), 'K'); })},
  });
}

// Mostly short values; sometimes values too large for a leaf (overflow pages).
rc::Gen<std::string> Value(uint32_t page_size) {
  return rc::gen::weightedOneOf<std::string>({
      {8, rc::gen::container<std::string>(static_cast<size_t>(*rc::gen::inRange(0, 6)),
                                          rc::gen::element('x', 'y', 'z'))},
      {1, rc::gen::map(rc::gen::pair(rc::gen::inRange<int>(static_cast<int>(page_size / 4), static_cast<int>(page_size * 3)),
                                     rc::gen::inRange('A', static_cast<char>('Z' + 1))),
                       [](std::pair<int, char> p) { return std::string(static_cast<size_t>(p.first), p.second); })},
  });
}

std::string P(const std::string& s) { return Printable(s); }

// ---- scans ----

struct BoundSpec {
  Bound::Kind kind = Bound::Kind::kUnbounded;
  std::string key;
  Bound ToBound() const {
    switch (kind) {
      case Bound::Kind::kIncluded: return Bound::Included(key);
      case Bound::Kind::kExcluded: return Bound::Excluded(key);
      case Bound::Kind::kUnbounded: break;
    }
    return Bound::Unbounded();
  }
  std::string Show(bool lower) const {
    switch (kind) {
      case Bound::Kind::kIncluded: return lower ? "[" + P(key) : P(key) + "]";
      case Bound::Kind::kExcluded: return lower ? "(" + P(key) : P(key) + ")";
      case Bound::Kind::kUnbounded: break;
    }
    return lower ? "(-inf" : "+inf)";
  }
};

struct ScanSpec {
  bool prefix_scan = false;
  std::string prefix;
  BoundSpec lower, upper;
  bool reverse = false;
  std::optional<std::string> seek;

  static ScanSpec Gen(uint32_t page_size) {
    ScanSpec s;
    s.prefix_scan = *rc::gen::weightedElement<bool>({{3, false}, {1, true}});
    auto bound = [&] {
      BoundSpec b;
      b.kind = *rc::gen::element(Bound::Kind::kUnbounded, Bound::Kind::kIncluded, Bound::Kind::kExcluded);
      if (b.kind != Bound::Kind::kUnbounded) b.key = *Key(page_size);
      return b;
    };
    if (s.prefix_scan) {
      s.prefix = *rc::gen::weightedOneOf<std::string>(
          {{3, rc::gen::container<std::string>(static_cast<size_t>(*rc::gen::inRange(0, 3)), rc::gen::element('a', 'b', 'k'))},
           {1, rc::gen::container<std::string>(static_cast<size_t>(*rc::gen::inRange(1, 3)), rc::gen::element('a', '\xff'))}});
    } else {
      s.lower = bound();
      s.upper = bound();
    }
    s.reverse = *rc::gen::arbitrary<bool>();
    if (*rc::gen::weightedElement<bool>({{4, false}, {1, true}})) s.seek = *Key(page_size);
    return s;
  }

  bool InRange(const std::string& k) const {
    if (prefix_scan) return k.compare(0, prefix.size(), prefix) == 0;
    if (lower.kind == Bound::Kind::kIncluded && k < lower.key) return false;
    if (lower.kind == Bound::Kind::kExcluded && k <= lower.key) return false;
    if (upper.kind == Bound::Kind::kIncluded && k > upper.key) return false;
    if (upper.kind == Bound::Kind::kExcluded && k >= upper.key) return false;
    return true;
  }

  Entries Expected(const Kv& kv) const {
    Entries out;
    for (const auto& [k, v] : kv) {
      if (!InRange(k)) continue;
      if (seek && !reverse && k < *seek) continue;
      if (seek && reverse && k > *seek) continue;
      out.emplace_back(k, v);
    }
    if (reverse) std::reverse(out.begin(), out.end());
    return out;
  }

  Iterator Open(const Table& t) const {
    Iterator it = prefix_scan ? t.Prefix(prefix, reverse) : t.Range(lower.ToBound(), upper.ToBound(), reverse);
    if (seek) it.Seek(*seek);
    return it;
  }

  std::string Show() const {
    std::string s = prefix_scan ? "prefix " + P(prefix) : lower.Show(true) + ", " + upper.Show(false);
    if (reverse) s += " reverse";
    if (seek) s += " seek " + P(*seek);
    return s;
  }
};

// Drains an iterator (bounded, so a broken iterator cannot loop forever).
Entries Drain(Iterator it, size_t limit) {
  Entries out;
  for (; it.Valid() && out.size() <= limit; it.Next()) out.emplace_back(std::string(it.key()), std::string(it.value()));
  PROP_ASSERT_OK(it.status());
  return out;
}

std::string ShowEntries(const Entries& e) {
  std::string s = "{";
  for (const auto& [k, v] : e) s += (s.size() > 1 ? ", " : "") + P(k) + ": " + P(v);
  return s + "}";
}

void AssertEntries(const Entries& got, const Entries& want, const std::string& what) {
  if (got != want) RC_FAIL(what + ": got " + ShowEntries(got) + ", expected " + ShowEntries(want));
}

Entries ToEntries(const Kv& kv) { return Entries(kv.begin(), kv.end()); }

// Every table of one column family as a read or write transaction sees it;
// Len() must agree with the entry count.
template <typename OpenFn>
Tables ReadTables(const std::vector<std::string>& names, OpenFn open) {
  Tables out;
  for (const auto& n : names) {
    Table t = PropMust(open(n), "OpenTable");
    Entries e = Drain(t.Scan(), 1u << 20);
    Entries r = Drain(t.Scan(/*reverse=*/true), 1u << 20);
    std::reverse(r.begin(), r.end());
    if (r != e) RC_FAIL("table " + n + ": reverse scan " + ShowEntries(r) + " differs from forward scan " + ShowEntries(e));
    RC_ASSERT(PropMust(t.Len(), "Len") == e.size());
    out[n] = Kv(e.begin(), e.end());
  }
  return out;
}

Cfs ReadEverything(const ReadTransaction& r) {
  Cfs out;
  for (const auto& cf : PropMust(r.ListColumnFamilies(), "ListColumnFamilies")) {
    out[cf] = ReadTables(PropMust(r.ListTables(cf), "ListTables"),
                                          [&](const std::string& n) { return r.OpenTable(n, cf); });
  }
  return out;
}

std::string ShowCfs(const Cfs& cfs) {
  std::string s;
  for (const auto& [cf, tables] : cfs) {
    s += "  " + cf + ":";
    if (tables.empty()) s += " (no tables)";
    for (const auto& [t, kv] : tables) s += " " + t + "=" + ShowEntries(ToEntries(kv));
    s += "\n";
  }
  return s;
}

// Set while the fixed epilogue runs, so that its failures say so.
thread_local std::string g_phase;

void AssertSameCfs(const Cfs& got, const Cfs& want, const std::string& what) {
  if (got != want) RC_FAIL(g_phase + what + " differs from the model.\ndatabase:\n" + ShowCfs(got) + "model:\n" + ShowCfs(want));
}

void OpenDb(Sut& sut, uint32_t page_size_option) {
  Options o = sut.Opts(page_size_option);
  o.create_if_missing = false;
  sut.db = PropMust(Database::Open(kDbPath, o), "Database::Open (reopen)");
}

void AssertCheckClean(Sut& sut) {
  CheckReport rep = PropMust(sut.db->Check(), "Database::Check");
  if (!rep.ok) RC_FAIL(g_phase + "Check() found problems:\n" + rep.ToText());
}

// ---- commands outside a write transaction ----

struct NoTxnCmd : Cmd {
  void checkPreconditions(const Model& m) const override { RC_PRE(!m.txn.has_value()); }
};

struct Begin : NoTxnCmd {
  std::string cf = *CfNameOrInvalid();
  void apply(Model& m) const override {
    if (m.committed.count(cf) != 0) m.txn = TxnModel{cf, m.committed.at(cf), {}};
  }
  void run(const Model& m, Sut& sut) const override {
    Result<WriteTransaction> w = sut.db->BeginWrite(cf);
    if (!ValidName(cf)) return PROP_ASSERT_CODE(w.status(), Code::kInvalidArgument);
    if (m.committed.count(cf) == 0) return PROP_ASSERT_CODE(w.status(), Code::kNotFound);
    PROP_ASSERT_OK(w.status());
    sut.txn.emplace(std::move(w).value());
    sut.savepoints.clear();
  }
  void show(std::ostream& os) const override { os << "Begin(" << (cf.empty() ? "\"\"" : cf) << ")"; }
};

struct CreateCf : NoTxnCmd {
  std::string name = *CfNameOrInvalid();
  bool Ok(const Model& m) const { return ValidName(name) && m.committed.count(name) == 0; }
  void apply(Model& m) const override {
    if (!Ok(m)) return;
    m.committed[name];
    MakeDurable(m);
  }
  void run(const Model& m, Sut& sut) const override {
    Status s = sut.db->CreateColumnFamily(name);
    if (!ValidName(name)) return PROP_ASSERT_CODE(s, Code::kInvalidArgument);
    if (m.committed.count(name) != 0) return PROP_ASSERT_CODE(s, Code::kAlreadyExists);
    PROP_ASSERT_OK(s);
  }
  void show(std::ostream& os) const override { os << "CreateColumnFamily(" << P(name) << ")"; }
};

struct DropCf : NoTxnCmd {
  std::string name = *CfName();
  bool Ok(const Model& m) const { return name != kDefaultColumnFamily && m.committed.count(name) != 0; }
  void apply(Model& m) const override {
    if (!Ok(m)) return;
    m.committed.erase(name);
    MakeDurable(m);
  }
  void run(const Model& m, Sut& sut) const override {
    Status s = sut.db->DropColumnFamily(name);
    if (name == kDefaultColumnFamily) return PROP_ASSERT_CODE(s, Code::kInvalidArgument);
    if (m.committed.count(name) == 0) return PROP_ASSERT_CODE(s, Code::kNotFound);
    PROP_ASSERT_OK(s);
  }
  void show(std::ostream& os) const override { os << "DropColumnFamily(" << name << ")"; }
};

struct RenameCf : NoTxnCmd {
  std::string from = *CfName();
  std::string to = *CfNameOrInvalid();
  std::vector<Code> Errors(const Model& m) const {
    std::vector<Code> e;
    if (from == kDefaultColumnFamily || !ValidName(to)) e.push_back(Code::kInvalidArgument);
    if (m.committed.count(from) == 0) e.push_back(Code::kNotFound);
    if (m.committed.count(to) != 0) e.push_back(Code::kAlreadyExists);
    return e;
  }
  void apply(Model& m) const override {
    if (!Errors(m).empty()) return;
    Tables t = std::move(m.committed.at(from));
    m.committed.erase(from);
    m.committed[to] = std::move(t);
    MakeDurable(m);
  }
  void run(const Model& m, Sut& sut) const override {
    Status s = sut.db->RenameColumnFamily(from, to);
    std::vector<Code> e = Errors(m);
    if (e.empty()) return PROP_ASSERT_OK(s);
    if (std::find(e.begin(), e.end(), s.code()) == e.end()) {
      RC_FAIL("RenameColumnFamily returned " + s.ToString() + ", expected an error such as " + CodeName(e[0]));
    }
  }
  void show(std::ostream& os) const override { os << "RenameColumnFamily(" << from << ", " << P(to) << ")"; }
};

// One transaction over several column families (BeginMultiWrite), run whole
// inside this command: puts and deletes in one table of each family (created
// if missing), optionally undone in part by a savepoint, a write to a family
// outside the transaction (kInvalidArgument, which does not fail it), then a
// commit. All of it is one log record: a later Crash() must find every family's
// part or none (the durable state is checked whole).
struct MultiWrite : NoTxnCmd {
  struct Op {
    size_t cf;  // index into `cfs`
    bool del;
    std::string key, value;
  };
  std::vector<std::string> cfs;  // as passed (duplicates allowed: ignored)
  std::string table = *TableName();
  std::vector<Op> ops;
  size_t savepoint_at;  // ops before it are kept; with `restore`, the rest are undone
  bool restore = *rc::gen::arbitrary<bool>();
  Durability durability = *rc::gen::element(Durability::kImmediate, Durability::kNone);
  explicit MultiWrite(const Model& m)
      : cfs(*rc::gen::container<std::vector<std::string>>(static_cast<size_t>(*rc::gen::inRange(1, 4)), CfName())) {
    const int n = *rc::gen::inRange(0, 12);
    for (int i = 0; i < n; i++) {
      ops.push_back(Op{static_cast<size_t>(*rc::gen::inRange<int>(0, static_cast<int>(cfs.size()))),
                       *rc::gen::weightedElement<bool>({{1, true}, {3, false}}), *Key(m.page_size), *Value(m.page_size)});
    }
    savepoint_at = static_cast<size_t>(*rc::gen::inRange<int>(0, static_cast<int>(ops.size()) + 1));
  }
  bool AllExist(const Model& m) const {
    return std::all_of(cfs.begin(), cfs.end(), [&](const std::string& cf) { return m.committed.count(cf) != 0; });
  }
  bool KeyOk(const Model& m, const Op& o) const { return o.key.size() <= KeyBytesMax(m.page_size); }
  size_t Kept() const { return restore ? savepoint_at : ops.size(); }
  void apply(Model& m) const override {
    if (!AllExist(m)) return;
    for (const std::string& cf : cfs) m.committed[cf][table];
    for (size_t i = 0; i < Kept(); i++) {
      const Op& o = ops[i];
      if (!KeyOk(m, o)) continue;
      Kv& kv = m.committed[cfs[o.cf]][table];
      if (o.del) {
        kv.erase(o.key);
      } else {
        kv[o.key] = o.value;
      }
    }
    CommitDone(m, durability);
  }
  void run(const Model& m, Sut& sut) const override {
    Result<WriteTransaction> w = sut.db->BeginMultiWrite(cfs);
    if (!AllExist(m)) return PROP_ASSERT_CODE(w.status(), Code::kNotFound);
    PROP_ASSERT_OK(w.status());
    std::map<std::string, Table> tables;
    for (const std::string& cf : cfs) {
      if (tables.count(cf) != 0) continue;
      Result<Table> t = w->OpenOrCreateTable(table, cf);
      PROP_ASSERT_OK(t.status());
      tables.emplace(cf, std::move(t).value());
    }
    for (const char* outsider : {"default", "cf1", "cf2"}) {
      if (tables.count(outsider) != 0 || m.committed.count(outsider) == 0) continue;
      PROP_ASSERT_CODE(w->OpenOrCreateTable(table, outsider).status(), Code::kInvalidArgument);
      break;
    }
    uint64_t sp = 0;
    for (size_t i = 0; i <= ops.size(); i++) {
      if (i == savepoint_at) sp = PropMust(w->SetSavepoint(), "SetSavepoint");
      if (i == ops.size()) break;
      const Op& o = ops[i];
      Table& t = tables.at(cfs[o.cf]);
      if (o.del) {
        Result<bool> d = t.Delete(o.key);
        if (!KeyOk(m, o)) {
          if (!d.ok()) PROP_ASSERT_CODE(d.status(), Code::kInvalidArgument);
          continue;
        }
        PROP_ASSERT_OK(d.status());
      } else {
        Status s = t.Put(o.key, o.value);
        if (!KeyOk(m, o)) {
          PROP_ASSERT_CODE(s, Code::kInvalidArgument);
          continue;
        }
        PROP_ASSERT_OK(s);
      }
    }
    if (restore) PROP_ASSERT_OK(w->RestoreSavepoint(sp));
    PROP_ASSERT_OK(w->Commit(durability));
  }
  void show(std::ostream& os) const override {
    os << "MultiWrite({";
    for (size_t i = 0; i < cfs.size(); i++) os << (i ? ", " : "") << cfs[i];
    os << "}, " << table << ", [";
    for (size_t i = 0; i < ops.size(); i++) {
      if (i == savepoint_at) os << (i ? " " : "") << "SetSavepoint,";
      const Op& o = ops[i];
      os << (i ? " " : "") << (o.del ? "Delete(" : "Put(") << cfs[o.cf] << ", " << P(o.key);
      if (!o.del) os << ", " << P(o.value);
      os << ")" << (i + 1 < ops.size() ? "," : "");
    }
    if (savepoint_at == ops.size()) os << (ops.empty() ? "" : ",") << " SetSavepoint";
    os << "]" << (restore ? ", RestoreSavepoint" : "") << ", "
       << (durability == Durability::kImmediate ? "kImmediate" : "kNone") << ")";
  }
};

struct SyncDb : NoTxnCmd {
  void apply(Model& m) const override { MakeDurable(m); }
  void run(const Model&, Sut& sut) const override { PROP_ASSERT_OK(sut.db->Sync()); }
  void show(std::ostream& os) const override { os << "Sync()"; }
};

// Database::Checkpoint() (Sync() on an engine without a write-ahead log).
struct CheckpointDb : NoTxnCmd {
  void apply(Model& m) const override { MakeDurable(m); }
  void run(const Model&, Sut& sut) const override { PROP_ASSERT_OK(sut.db->Checkpoint()); }
  void show(std::ostream& os) const override { os << "Checkpoint()"; }
};

// Close() and open again. The page size passed on reopen is 0 (accept the
// file's), the file's own, or a different one (kInvalidArgument, then 0).
struct Reopen : NoTxnCmd {
  int page_size_choice = *rc::gen::element(0, 1, 2);
  void apply(Model& m) const override {
    MakeDurable(m);
    m.snapshot.reset();
  }
  void run(const Model& m, Sut& sut) const override {
    sut.snapshot.reset();
    PROP_ASSERT_OK(sut.db->Close());
    sut.db.reset();
    if (page_size_choice == 2) {
      Options o = sut.Opts(m.page_size == 512 ? 1024 : 512);
      o.create_if_missing = false;
      PROP_ASSERT_CODE(Database::Open(kDbPath, o).status(), Code::kInvalidArgument);
    }
    OpenDb(sut, page_size_choice == 1 ? m.page_size : 0);
    RC_ASSERT(sut.db->page_size() == m.page_size);
  }
  void show(std::ostream& os) const override {
    os << "Reopen(" << (page_size_choice == 0 ? "page_size 0" : page_size_choice == 1 ? "same page_size" : "wrong page_size first")
       << ")";
  }
};

// ---- commands valid at any time ----

// Power loss. First a random crash image of this moment (faultfs, seeded):
// on a copy, it must open, pass Check() and hold the durable state or that of
// a later non-durable commit. Then the database itself loses every write not
// yet synced and reopens: exactly the durable state.
struct Crash : Cmd {
  uint64_t image_seed = *rc::gen::arbitrary<uint64_t>();
  void apply(Model& m) const override {
    m.committed = m.durable;
    m.pending.clear();
    m.txn.reset();
    m.snapshot.reset();
  }
  void CheckRandomImage(const Model& m, Sut& sut) const {
    const faultfs::CrashImage image = sut.storage->CaptureCrashImage();
    const faultfs::CrashPlan plan = image.RandomPlan(faultfs::CrashPolicy{}, image_seed);
    faultfs::FileSet files = PropMust(image.Build(plan), "CrashImage::Build");
    Options o = TestOptions(files.ToMemoryStorage(), 0, m.wal);
    o.create_if_missing = false;
    std::unique_ptr<Database> db = PropMust(Database::Open(kDbPath, o), "Database::Open (random crash image)");
    CheckReport rep = PropMust(db->Check(), "Database::Check (random crash image)");
    if (!rep.ok) RC_FAIL(g_phase + "random crash image (seed " + std::to_string(image_seed) + "): Check() found problems:\n" + rep.ToText());
    auto r = PropMust(db->BeginRead(), "BeginRead (random crash image)");
    const Cfs got = ReadEverything(r);
    r.Close();
    if (got == m.durable) return;
    for (const Cfs& p : m.pending) {
      if (got == p) return;
    }
    RC_FAIL(g_phase + "random crash image (seed " + std::to_string(image_seed) + ", " +
            std::to_string(image.ops().size()) + " unsynced operations) holds neither the durable state nor that of a later "
            "non-durable commit:\ndatabase:\n" + ShowCfs(got) + "durable:\n" + ShowCfs(m.durable));
  }
  void run(const Model& m, Sut& sut) const override {
    CheckRandomImage(m, sut);
    PropMust(sut.storage->PowerLoss(faultfs::CrashPolicy::DropAll()), "FaultStorage::PowerLoss");
    sut.snapshot.reset();
    sut.txn.reset();
    sut.savepoints.clear();
    sut.db.reset();  // its final sync fails on the dead file handle, as it should
    OpenDb(sut, 0);
    auto r = PropMust(sut.db->BeginRead(), "BeginRead");
    AssertSameCfs(ReadEverything(r), m.durable, "state after power loss and reopen");
  }
  void show(std::ostream& os) const override { os << "Crash(image seed " << image_seed << ")"; }
};

// Point lookups through a new read transaction (sees committed state only).
struct ReadGet : Cmd {
  std::string cf = *CfName();
  std::string table = *TableName();
  std::string key;
  explicit ReadGet(const Model& m) : key(*Key(m.page_size)) {}
  void run(const Model& m, Sut& sut) const override {
    auto r = PropMust(sut.db->BeginRead(), "BeginRead");
    Result<Table> t = r.OpenTable(table, cf);
    if (m.committed.count(cf) == 0 || m.committed.at(cf).count(table) == 0) {
      return PROP_ASSERT_CODE(t.status(), Code::kNotFound);
    }
    PROP_ASSERT_OK(t.status());
    const Kv& kv = m.committed.at(cf).at(table);
    auto it = kv.find(key);
    Result<std::string> v = t->Get(key);
    Result<bool> c = t->Contains(key);
    PROP_ASSERT_OK(c.status());
    RC_ASSERT(*c == (it != kv.end()));
    if (it == kv.end()) return PROP_ASSERT_CODE(v.status(), Code::kNotFound, Code::kInvalidArgument);
    PROP_ASSERT_OK(v.status());
    if (*v != it->second) RC_FAIL("Get returned " + P(*v) + ", expected " + P(it->second));
  }
  void show(std::ostream& os) const override { os << "ReadGet(" << cf << "/" << table << ", " << P(key) << ")"; }
};

struct ReadScan : Cmd {
  std::string cf = *CfName();
  std::string table = *TableName();
  ScanSpec spec;
  explicit ReadScan(const Model& m) : spec(ScanSpec::Gen(m.page_size)) {}
  void run(const Model& m, Sut& sut) const override {
    auto r = PropMust(sut.db->BeginRead(), "BeginRead");
    Result<Table> t = r.OpenTable(table, cf);
    if (m.committed.count(cf) == 0 || m.committed.at(cf).count(table) == 0) {
      return PROP_ASSERT_CODE(t.status(), Code::kNotFound);
    }
    PROP_ASSERT_OK(t.status());
    const Kv& kv = m.committed.at(cf).at(table);
    RC_ASSERT(PropMust(t->Len(), "Len") == kv.size());
    AssertEntries(Drain(spec.Open(*t), kv.size()), spec.Expected(kv), "ReadScan");
  }
  void show(std::ostream& os) const override { os << "ReadScan(" << cf << "/" << table << ", " << spec.Show() << ")"; }
};

// Compares everything (column families, tables, contents, Len) with the
// model, in a new read transaction and in the open write transaction, and
// runs the full integrity check (when no write transaction is open).
struct CheckAll : Cmd {
  void run(const Model& m, Sut& sut) const override {
    {
      auto r = PropMust(sut.db->BeginRead(), "BeginRead");
      AssertSameCfs(ReadEverything(r), m.committed, "committed state (read transaction)");
    }
    std::vector<std::string> cfs = PropMust(sut.db->ListColumnFamilies(), "ListColumnFamilies");
    RC_ASSERT(cfs.size() == m.committed.size());
    if (m.txn) {
      WriteTransaction& w = *sut.txn;
      RC_ASSERT(w.column_family() == m.txn->cf);
      Tables got = ReadTables(PropMust(w.ListTables(), "ListTables"),
                                                [&](const std::string& n) { return w.OpenTable(n); });
      AssertSameCfs(Cfs{{m.txn->cf, got}}, Cfs{{m.txn->cf, m.txn->tables}}, "write transaction's view");
    } else {
      AssertCheckClean(sut);  // the model's checks run between transactions (Check() itself no longer waits for writers)
    }
  }
  void show(std::ostream& os) const override { os << "CheckAll()"; }
};

struct TakeSnapshot : Cmd {
  void checkPreconditions(const Model& m) const override { RC_PRE(!m.snapshot.has_value()); }
  void apply(Model& m) const override { m.snapshot = m.committed; }
  void run(const Model&, Sut& sut) const override { sut.snapshot.emplace(PropMust(sut.db->BeginRead(), "BeginRead")); }
  void show(std::ostream& os) const override { os << "TakeSnapshot()"; }
};

// An old read transaction still sees exactly what it saw when it began.
struct CheckSnapshot : Cmd {
  void checkPreconditions(const Model& m) const override { RC_PRE(m.snapshot.has_value()); }
  void run(const Model& m, Sut& sut) const override {
    AssertSameCfs(ReadEverything(*sut.snapshot), *m.snapshot, "old snapshot");
  }
  void show(std::ostream& os) const override { os << "CheckSnapshot()"; }
};

struct ReleaseSnapshot : Cmd {
  void checkPreconditions(const Model& m) const override { RC_PRE(m.snapshot.has_value()); }
  void apply(Model& m) const override { m.snapshot.reset(); }
  void run(const Model&, Sut& sut) const override {
    sut.snapshot->Close();
    sut.snapshot.reset();
  }
  void show(std::ostream& os) const override { os << "ReleaseSnapshot()"; }
};

// ---- commands inside a write transaction ----

struct TxnCmd : Cmd {
  void checkPreconditions(const Model& m) const override { RC_PRE(m.txn.has_value()); }
};

// Opens `table` in the write transaction, or checks that it fails with
// kNotFound when the model has no such table. Returns false then.
bool OpenTxnTable(const Model& m, Sut& sut, const std::string& table, std::optional<Table>* out) {
  Result<Table> t = sut.txn->OpenTable(table);
  if (m.txn->tables.count(table) == 0) {
    PROP_ASSERT_CODE(t.status(), Code::kNotFound);
    return false;
  }
  PROP_ASSERT_OK(t.status());
  out->emplace(std::move(t).value());
  return true;
}

struct Put : TxnCmd {
  std::string table = *TableName();
  std::string key, value;
  explicit Put(const Model& m) : key(*Key(m.page_size)), value(*Value(m.page_size)) {}
  bool KeyOk(const Model& m) const { return key.size() <= KeyBytesMax(m.page_size); }
  void apply(Model& m) const override {
    auto it = m.txn->tables.find(table);
    if (it != m.txn->tables.end() && KeyOk(m)) it->second[key] = value;
  }
  void run(const Model& m, Sut& sut) const override {
    std::optional<Table> t;
    if (!OpenTxnTable(m, sut, table, &t)) return;
    Status s = t->Put(key, value);
    if (!KeyOk(m)) return PROP_ASSERT_CODE(s, Code::kInvalidArgument);
    PROP_ASSERT_OK(s);
  }
  void show(std::ostream& os) const override { os << "Put(" << table << ", " << P(key) << ", " << P(value) << ")"; }
};

struct Delete : TxnCmd {
  std::string table = *TableName();
  std::string key;
  explicit Delete(const Model& m) {
    // Prefer keys that exist.
    std::vector<std::string> existing;
    if (m.txn) {
      auto it = m.txn->tables.find(table);
      if (it != m.txn->tables.end()) {
        for (const auto& kv : it->second) existing.push_back(kv.first);
      }
    }
    key = existing.empty() || *rc::gen::arbitrary<bool>() ? *Key(m.page_size) : *rc::gen::elementOf(existing);
  }
  void apply(Model& m) const override {
    auto it = m.txn->tables.find(table);
    if (it != m.txn->tables.end()) it->second.erase(key);
  }
  void run(const Model& m, Sut& sut) const override {
    std::optional<Table> t;
    if (!OpenTxnTable(m, sut, table, &t)) return;
    Result<bool> d = t->Delete(key);
    const bool existed = m.txn->tables.at(table).count(key) != 0;
    if (!d.ok() && !existed) return PROP_ASSERT_CODE(d.status(), Code::kInvalidArgument);  // oversized key
    PROP_ASSERT_OK(d.status());
    if (*d != existed) RC_FAIL(std::string("Delete returned ") + (*d ? "true" : "false") + ", the model says " + (existed ? "true" : "false"));
  }
  void show(std::ostream& os) const override { os << "Delete(" << table << ", " << P(key) << ")"; }
};

struct TxGet : TxnCmd {
  std::string table = *TableName();
  std::string key;
  explicit TxGet(const Model& m) : key(*Key(m.page_size)) {}
  void run(const Model& m, Sut& sut) const override {
    std::optional<Table> t;
    if (!OpenTxnTable(m, sut, table, &t)) return;
    const Kv& kv = m.txn->tables.at(table);
    auto it = kv.find(key);
    std::string v;
    Status s = t->Get(key, &v);
    if (it == kv.end()) return PROP_ASSERT_CODE(s, Code::kNotFound, Code::kInvalidArgument);
    PROP_ASSERT_OK(s);
    if (v != it->second) RC_FAIL("Get returned " + P(v) + ", expected " + P(it->second));
  }
  void show(std::ostream& os) const override { os << "Get(" << table << ", " << P(key) << ")"; }
};

struct TxScan : TxnCmd {
  std::string table = *TableName();
  ScanSpec spec;
  explicit TxScan(const Model& m) : spec(ScanSpec::Gen(m.page_size)) {}
  void run(const Model& m, Sut& sut) const override {
    std::optional<Table> t;
    if (!OpenTxnTable(m, sut, table, &t)) return;
    const Kv& kv = m.txn->tables.at(table);
    RC_ASSERT(PropMust(t->Len(), "Len") == kv.size());
    AssertEntries(Drain(spec.Open(*t), kv.size()), spec.Expected(kv), "Scan");
  }
  void show(std::ostream& os) const override { os << "Scan(" << table << ", " << spec.Show() << ")"; }
};

// Many keys at once ("k000".."k299"), so that trees grow several levels.
struct PutMany : TxnCmd {
  std::string table = *TableName();
  int first = *rc::gen::inRange(0, 300);
  int count = *rc::gen::inRange(1, 300);
  int value_bytes = *rc::gen::inRange(0, 100);
  std::string Key(int i) const {
    char b[8];
    std::snprintf(b, sizeof b, "k%03d", (first + i) % 300);
    return b;
  }
  std::string Val(int i) const { return std::string(static_cast<size_t>(value_bytes), static_cast<char>('a' + i % 26)); }
  void apply(Model& m) const override {
    auto it = m.txn->tables.find(table);
    if (it == m.txn->tables.end()) return;
    for (int i = 0; i < count; i++) it->second[Key(i)] = Val(i);
  }
  void run(const Model& m, Sut& sut) const override {
    std::optional<Table> t;
    if (!OpenTxnTable(m, sut, table, &t)) return;
    for (int i = 0; i < count; i++) PROP_ASSERT_OK(t->Put(Key(i), Val(i)));
  }
  void show(std::ostream& os) const override {
    os << "PutMany(" << table << ", k" << first << "..+" << count << ", " << value_bytes << "-byte values)";
  }
};

struct DeleteMany : TxnCmd {
  std::string table = *TableName();
  int first = *rc::gen::inRange(0, 300);
  int count = *rc::gen::inRange(1, 300);
  int stride = *rc::gen::inRange(1, 4);
  std::string Key(int i) const {
    char b[8];
    std::snprintf(b, sizeof b, "k%03d", (first + i * stride) % 300);
    return b;
  }
  void apply(Model& m) const override {
    auto it = m.txn->tables.find(table);
    if (it == m.txn->tables.end()) return;
    for (int i = 0; i < count; i++) it->second.erase(Key(i));
  }
  void run(const Model& m, Sut& sut) const override {
    std::optional<Table> t;
    if (!OpenTxnTable(m, sut, table, &t)) return;
    Kv kv = m.txn->tables.at(table);
    for (int i = 0; i < count; i++) {
      const bool existed = kv.erase(Key(i)) != 0;
      Result<bool> d = t->Delete(Key(i));
      PROP_ASSERT_OK(d.status());
      if (*d != existed) RC_FAIL("Delete(" + Key(i) + ") returned the wrong existed flag");
    }
  }
  void show(std::ostream& os) const override {
    os << "DeleteMany(" << table << ", k" << first << "..+" << count << " stride " << stride << ")";
  }
};

struct CreateTable : TxnCmd {
  std::string name = *TableNameOrInvalid();
  bool Ok(const Model& m) const { return ValidName(name) && m.txn->tables.count(name) == 0; }
  void apply(Model& m) const override {
    if (Ok(m)) m.txn->tables[name];
  }
  void run(const Model& m, Sut& sut) const override {
    Result<Table> t = sut.txn->CreateTable(name);
    if (!ValidName(name)) return PROP_ASSERT_CODE(t.status(), Code::kInvalidArgument);
    if (!Ok(m)) return PROP_ASSERT_CODE(t.status(), Code::kAlreadyExists);
    PROP_ASSERT_OK(t.status());
    RC_ASSERT(PropMust(t->Len(), "Len") == 0u);
  }
  void show(std::ostream& os) const override { os << "CreateTable(" << P(name) << ")"; }
};

struct DropTable : TxnCmd {
  std::string name = *TableName();
  void apply(Model& m) const override { m.txn->tables.erase(name); }
  void run(const Model& m, Sut& sut) const override {
    Status s = sut.txn->DropTable(name);
    if (m.txn->tables.count(name) == 0) return PROP_ASSERT_CODE(s, Code::kNotFound);
    PROP_ASSERT_OK(s);
  }
  void show(std::ostream& os) const override { os << "DropTable(" << name << ")"; }
};

struct ClearTable : TxnCmd {
  std::string name = *TableName();
  void apply(Model& m) const override {
    auto it = m.txn->tables.find(name);
    if (it != m.txn->tables.end()) it->second.clear();
  }
  void run(const Model& m, Sut& sut) const override {
    Status s = sut.txn->ClearTable(name);
    if (m.txn->tables.count(name) == 0) return PROP_ASSERT_CODE(s, Code::kNotFound);
    PROP_ASSERT_OK(s);
  }
  void show(std::ostream& os) const override { os << "ClearTable(" << name << ")"; }
};

struct RenameTable : TxnCmd {
  std::string from = *TableName();
  std::string to = *TableNameOrInvalid();
  std::vector<Code> Errors(const Model& m) const {
    std::vector<Code> e;
    if (!ValidName(to)) e.push_back(Code::kInvalidArgument);
    if (m.txn->tables.count(from) == 0) e.push_back(Code::kNotFound);
    if (m.txn->tables.count(to) != 0) e.push_back(Code::kAlreadyExists);
    return e;
  }
  void apply(Model& m) const override {
    if (!Errors(m).empty()) return;
    Kv kv = std::move(m.txn->tables.at(from));
    m.txn->tables.erase(from);
    m.txn->tables[to] = std::move(kv);
  }
  void run(const Model& m, Sut& sut) const override {
    Status s = sut.txn->RenameTable(from, to);
    std::vector<Code> e = Errors(m);
    if (e.empty()) return PROP_ASSERT_OK(s);
    if (std::find(e.begin(), e.end(), s.code()) == e.end()) {
      RC_FAIL("RenameTable returned " + s.ToString() + ", expected an error such as " + CodeName(e[0]));
    }
  }
  void show(std::ostream& os) const override { os << "RenameTable(" << from << ", " << P(to) << ")"; }
};

struct SetSavepoint : TxnCmd {
  void apply(Model& m) const override { m.txn->savepoints.push_back(m.txn->tables); }
  void run(const Model&, Sut& sut) const override {
    sut.savepoints.push_back(PropMust(sut.txn->SetSavepoint(), "SetSavepoint"));
  }
  void show(std::ostream& os) const override { os << "SetSavepoint()"; }
};

// Restores the index-th savepoint still alive (0 = oldest).
struct RestoreSavepoint : TxnCmd {
  size_t index = static_cast<size_t>(*rc::gen::inRange(0, 4));
  void checkPreconditions(const Model& m) const override {
    RC_PRE(m.txn.has_value());
    RC_PRE(index < m.txn->savepoints.size());
  }
  void apply(Model& m) const override {
    m.txn->tables = m.txn->savepoints[index];
    m.txn->savepoints.resize(index + 1);
  }
  void run(const Model&, Sut& sut) const override {
    PROP_ASSERT_OK(sut.txn->RestoreSavepoint(sut.savepoints.at(index)));
    sut.savepoints.resize(index + 1);
  }
  void show(std::ostream& os) const override { os << "RestoreSavepoint(#" << index << ")"; }
};

struct Commit : TxnCmd {
  Durability durability = *rc::gen::element(Durability::kImmediate, Durability::kNone);
  void apply(Model& m) const override {
    m.committed[m.txn->cf] = m.txn->tables;
    CommitDone(m, durability);
    m.txn.reset();
  }
  void run(const Model&, Sut& sut) const override {
    PROP_ASSERT_OK(sut.txn->Commit(durability));
    sut.txn.reset();
    sut.savepoints.clear();
  }
  void show(std::ostream& os) const override {
    os << "Commit(" << (durability == Durability::kImmediate ? "kImmediate" : "kNone") << ")";
  }
};

struct Abort : TxnCmd {
  bool by_destructor = *rc::gen::arbitrary<bool>();
  void apply(Model& m) const override { m.txn.reset(); }
  void run(const Model&, Sut& sut) const override {
    if (!by_destructor) sut.txn->Abort();
    sut.txn.reset();
    sut.savepoints.clear();
  }
  void show(std::ostream& os) const override { os << (by_destructor ? "Abort(by destructor)" : "Abort()"); }
};

// ---- the generator and the properties ----

// RapidCheck's execOneOfWithArgs keeps a copy of its arguments in every
// generator it builds (and copies them again when it runs one), and
// NextCommand builds some twenty generators per command: passing the model by
// value made copying its maps the largest cost of a case. A ModelRef shares
// one immutable copy per step; it converts to the `const Model&` that the
// commands' constructors take.
struct ModelRef {
  std::shared_ptr<const Model> model;
  operator const Model&() const { return *model; }
};

template <typename C>
rc::Gen<CmdSP> G(const ModelRef& m) {
  return rc::state::gen::execOneOfWithArgs<C>()(m);
}

rc::Gen<CmdSP> NextCommand(const Model& model, int crash_weight) {
  const auto cw = static_cast<size_t>(crash_weight);
  const ModelRef m{std::make_shared<const Model>(model)};
  if (model.txn) {
    return rc::gen::weightedOneOf<CmdSP>({
        {12, G<Put>(m)},         {4, G<Delete>(m)},           {3, G<TxGet>(m)},
        {4, G<TxScan>(m)},       {2, G<PutMany>(m)},          {1, G<DeleteMany>(m)},
        {4, G<CreateTable>(m)},  {1, G<DropTable>(m)},        {1, G<RenameTable>(m)},
        {1, G<ClearTable>(m)},   {2, G<SetSavepoint>(m)},     {2, G<RestoreSavepoint>(m)},
        {4, G<Commit>(m)},       {1, G<Abort>(m)},            {1, G<CheckAll>(m)},
        {1, G<ReadGet>(m)},      {1, G<ReadScan>(m)},         {cw, G<Crash>(m)},
        {1, G<TakeSnapshot>(m)}, {1, G<CheckSnapshot>(m)},    {1, G<ReleaseSnapshot>(m)},
    });
  }
  return rc::gen::weightedOneOf<CmdSP>({
      {14, G<Begin>(m)},       {3, G<MultiWrite>(m)},    {2, G<CreateCf>(m)},      {1, G<DropCf>(m)},
      {1, G<RenameCf>(m)},     {1, G<SyncDb>(m)},        {1, G<CheckpointDb>(m)},
      {2, G<Reopen>(m)},
      {cw, G<Crash>(m)},       {2, G<ReadGet>(m)},       {2, G<ReadScan>(m)},
      {2, G<CheckAll>(m)},     {1, G<TakeSnapshot>(m)},  {1, G<CheckSnapshot>(m)},
      {1, G<ReleaseSnapshot>(m)},
  });
}

// ---- hang watchdog ----
//
// A command that never returns (a deadlock or livelock in the engine) cannot
// be shrunk. The watchdog prints the commands of the current case and aborts
// when one command takes longer than PROPTESTS_HANG_SECONDS (default 60).
class Watchdog {
 public:
  static Watchdog& Get() {
    static Watchdog* w = new Watchdog;  // never destroyed: its thread runs until exit
    return *w;
  }
  void StartCase(const std::string& header) {
    std::lock_guard<std::mutex> l(mu_);
    trace_ = header + "\n";
    since_ = std::chrono::steady_clock::now();
    busy_ = true;
  }
  void Command(const std::string& shown) {
    std::lock_guard<std::mutex> l(mu_);
    trace_ += "  " + shown + "\n";
    since_ = std::chrono::steady_clock::now();
  }
  void EndCase() {
    std::lock_guard<std::mutex> l(mu_);
    busy_ = false;
  }

 private:
  Watchdog() {
    const char* env = std::getenv("PROPTESTS_HANG_SECONDS");
    limit_ = std::chrono::seconds(env != nullptr ? std::max(1, std::atoi(env)) : 60);
    std::thread([this] { Loop(); }).detach();
  }
  [[noreturn]] void Loop() {
    while (true) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      std::lock_guard<std::mutex> l(mu_);
      if (busy_ && std::chrono::steady_clock::now() - since_ > limit_) {
        std::fprintf(stderr, "\n[proptests] HANG: the last command below has not returned for %lld s "
                     "(a deadlock or livelock?). Commands of this case so far:\n%s",
                     static_cast<long long>(limit_.count()), trace_.c_str());
        std::fflush(stderr);
        std::abort();
      }
    }
  }
  std::mutex mu_;
  std::string trace_;
  std::chrono::steady_clock::time_point since_;
  std::chrono::seconds limit_{60};
  bool busy_ = false;
};

void RunModel(bool wal, int crash_weight) {
  Model initial;
  initial.page_size = *rc::gen::element(512u, 1024u, 4096u);
  initial.wal = wal;
  initial.committed[std::string(kDefaultColumnFamily)];
  initial.durable = initial.committed;
  RC_TAG("page size " + std::to_string(initial.page_size) + (initial.wal ? ", WAL" : ", no WAL"));

  g_phase.clear();
  Sut sut;
  sut.page_size = initial.page_size;
  sut.wal = initial.wal;
  sut.db = PropMust(Database::Open(kDbPath, sut.Opts(initial.page_size)), "Database::Open (create)");

  // Up to 4 x size commands (size grows to 100 over a run): long enough for
  // multi-level trees, page reuse and several crashes in one case.
  const auto commands = *rc::gen::scale(
      4.0, rc::state::gen::commands(initial, [crash_weight](const Model& m) { return NextCommand(m, crash_weight); }));
  // rc::state::runAll, plus the watchdog's trace (PROPTESTS_TRACE=1 also
  // prints every command as it runs).
  static const bool trace = std::getenv("PROPTESTS_TRACE") != nullptr;
  const std::string header = "page size " + std::to_string(initial.page_size) + (initial.wal ? ", WAL" : ", no WAL") +
                             ", " + std::to_string(commands.size()) + " commands";
  Watchdog& dog = Watchdog::Get();
  dog.StartCase(header);
  struct EndCase {
    Watchdog& d;
    ~EndCase() { d.EndCase(); }
  } end_case{dog};
  if (trace) std::fprintf(stderr, "--- case: %s\n", header.c_str());
  {
    Model state = initial;
    for (const auto& c : commands) {
      c->checkPreconditions(state);
      std::ostringstream os;
      c->show(os);
      dog.Command(os.str());
      if (trace) std::fprintf(stderr, "%s\n", os.str().c_str());
      c->run(state, sut);
      c->apply(state);
    }
  }

  // Epilogue (not part of the printed sequence): abort any open transaction,
  // check everything, then lose power and check the durable state.
  dog.Command("<epilogue: abort, CheckAll, Crash, CheckAll, Close>");
  g_phase = "[in the epilogue that follows the commands: Abort if open, CheckAll(), Crash(), CheckAll()] ";
  Model m = initial;
  rc::state::applyAll(commands, m);
  if (m.txn) {
    m.txn.reset();
    sut.txn.reset();
    sut.savepoints.clear();
  }
  CheckAll().run(m, sut);
  Crash().run(m, sut);
  Crash().apply(m);
  CheckAll().run(m, sut);
  sut.snapshot.reset();
  PROP_ASSERT_OK(sut.db->Close());
  g_phase.clear();
}

// With the write-ahead log (the default configuration) and without it (every
// durable commit is a checkpoint). The second pair loses power five times as
// often: recovery after every mix of durable and non-durable commits.
RC_GTEST_PROP(ModelProps, ApiMatchesModel, ()) { RunModel(/*wal=*/true, /*crash_weight=*/1); }
RC_GTEST_PROP(ModelProps, ApiMatchesModelWithoutWal, ()) { RunModel(/*wal=*/false, /*crash_weight=*/1); }
RC_GTEST_PROP(ModelProps, ApiMatchesModelUnderFrequentCrashes, ()) { RunModel(/*wal=*/true, /*crash_weight=*/5); }
RC_GTEST_PROP(ModelProps, ApiMatchesModelUnderFrequentCrashesWithoutWal, ()) {
  RunModel(/*wal=*/false, /*crash_weight=*/5);
}

}  // namespace
}  // namespace manifold::prop
