// Logical operations of a write transaction, shared by the public API
// (table.cc, db.cc) and write-ahead-log replay: each validates its input,
// changes the transaction's catalog or trees, and records itself for the log.
#include <algorithm>
#include <cassert>

#include "db/core.h"
#include "util/mutant.h"

namespace manifold {
namespace {

Status NoCf(std::string_view cf) {
  return Status::NotFound("column family '" + std::string(cf) + "' does not exist");
}
Status NoTable(std::string_view table, std::string_view cf) {
  return Status::NotFound("table '" + std::string(table) + "' does not exist in column family '" +
                          std::string(cf) + "'");
}

}  // namespace

void TxnState::Log(WalOp op, std::string_view a, std::string_view b, std::string_view c, std::string_view d) {
  if (replaying || !core->wal || log_overflow) return;
  if (MutantIs(Mutant::kLoseMultiFamilySecondHalf)) {
    if (bound_cfs.size() > 1 && a != bound_cfs.front()) return;
  }
  wal_batch.Add(op, a, b, c, d);
  // A transaction too large for one record commits by checkpoint instead.
  if (wal_batch.bytes() > std::min({kWalRecordBytesMax, core->options.checkpoint_wal_bytes,
                                    core->options.wal_txn_bytes_max})) {
    log_overflow = true;
    wal_batch.Clear();
  }
}

Result<TableInfo*> TxnState::FindTable(std::string_view cf, std::string_view table) {
  CfInfo* c = catalog.cfs.Mutable(cf);
  if (c == nullptr) return NoCf(cf);
  TableInfo* t = c->tables.Mutable(table);
  if (t == nullptr) return NoTable(table, cf);
  return t;
}

Status TxnState::TableExists(std::string_view cf, std::string_view table) const {
  const CfInfo* c = catalog.cfs.Find(cf);
  if (c == nullptr) return NoCf(cf);
  if (!c->tables.Contains(table)) return NoTable(table, cf);
  return Status::Ok();
}

Result<TableInfo*> TxnState::CreateTableOp(std::string_view cf, std::string_view table) {
  MANIFOLD_RETURN_IF_ERROR(ValidateName("table", table));
  MANIFOLD_RETURN_IF_ERROR(CheckCatalogKeyFits(page_size(), cf, table));
  const CfInfo* found = catalog.cfs.Find(cf);
  if (found == nullptr) return NoCf(cf);
  if (found->tables.Contains(table)) {
    return Status::AlreadyExists("table '" + std::string(table) + "' already exists in column family '" +
                                 std::string(cf) + "'");
  }
  TableInfo& info = catalog.cfs.Mutable(cf)->tables[table];
  info.id = catalog.next_id++;
  modifications++;
  Log(WalOp::kCreateTable, cf, table);
  return &info;
}

Status TxnState::DropTableOp(std::string_view cf, std::string_view table) {
  MANIFOLD_ASSIGN_OR_RETURN(TableInfo * t, FindTable(cf, table));
  modifications++;
  MANIFOLD_RETURN_IF_ERROR(Fail(btree::FreeAll(*this, &t->tree)));
  catalog.cfs.Mutable(cf)->tables.Erase(table);
  Log(WalOp::kDropTable, cf, table);
  return Status::Ok();
}

Status TxnState::ClearTableOp(std::string_view cf, std::string_view table) {
  MANIFOLD_ASSIGN_OR_RETURN(TableInfo * t, FindTable(cf, table));
  modifications++;
  MANIFOLD_RETURN_IF_ERROR(Fail(btree::FreeAll(*this, &t->tree)));
  Log(WalOp::kClearTable, cf, table);
  return Status::Ok();
}

Status TxnState::RenameTableOp(std::string_view cf, std::string_view from, std::string_view to) {
  MANIFOLD_RETURN_IF_ERROR(ValidateName("table", to));
  MANIFOLD_RETURN_IF_ERROR(CheckCatalogKeyFits(page_size(), cf, to));
  MANIFOLD_RETURN_IF_ERROR(TableExists(cf, from));
  CfInfo& c = *catalog.cfs.Mutable(cf);
  if (c.tables.Contains(to)) {
    return Status::AlreadyExists("table '" + std::string(to) + "' already exists in column family '" +
                                 std::string(cf) + "'");
  }
  modifications++;
  written_all = true;  // a changed tree may now be under `to`
  c.tables.Rename(from, to);
  Log(WalOp::kRenameTable, cf, from, to);
  return Status::Ok();
}

Status TxnState::CreateCfOp(std::string_view name) {
  MANIFOLD_RETURN_IF_ERROR(ValidateName("column family", name));
  MANIFOLD_RETURN_IF_ERROR(CheckCatalogKeyFits(page_size(), name, ""));
  if (catalog.cfs.Contains(name)) {
    return Status::AlreadyExists("column family '" + std::string(name) + "' already exists");
  }
  catalog.cfs[name].id = catalog.next_id++;
  modifications++;
  Log(WalOp::kCreateCf, name);
  return Status::Ok();
}

Status TxnState::DropCfOp(std::string_view name) {
  if (name == kDefaultColumnFamily) return Status::InvalidArgument("the default column family cannot be dropped");
  CfInfo* c = catalog.cfs.Mutable(name);
  if (c == nullptr) return NoCf(name);
  modifications++;
  Status free_status;
  c->tables.ForEachMutable([&](const std::string&, TableInfo& ti) {
    if (free_status.ok()) free_status = Fail(btree::FreeAll(*this, &ti.tree));
  });
  MANIFOLD_RETURN_IF_ERROR(free_status);
  catalog.cfs.Erase(name);
  Log(WalOp::kDropCf, name);
  return Status::Ok();
}

Status TxnState::RenameCfOp(std::string_view from, std::string_view to) {
  if (from == kDefaultColumnFamily) return Status::InvalidArgument("the default column family cannot be renamed");
  MANIFOLD_RETURN_IF_ERROR(ValidateName("column family", to));
  const CfInfo* c = catalog.cfs.Find(from);
  if (c == nullptr) return NoCf(from);
  if (catalog.cfs.Contains(to)) return Status::AlreadyExists("column family '" + std::string(to) + "' already exists");
  MANIFOLD_RETURN_IF_ERROR(CheckCatalogKeyFits(page_size(), to, ""));
  for (const auto& [tn, ti] : c->tables) MANIFOLD_RETURN_IF_ERROR(CheckCatalogKeyFits(page_size(), to, tn));
  modifications++;
  written_all = true;  // changed trees may now be under `to`
  catalog.cfs.Rename(from, to);
  Log(WalOp::kRenameCf, from, to);
  return Status::Ok();
}

void TxnState::NoteWritten(std::string_view cf, std::string_view table) {
  if (written_all) return;
  if (!written.empty() && written.back().first == cf && written.back().second == table) return;  // the usual case
  for (const auto& [c, t] : written) {
    if (c == cf && t == table) return;
  }
  if (written.size() == kWrittenTablesMax) {
    written_all = true;
    return;
  }
  written.emplace_back(cf, table);
}

Status TxnState::PutOp(std::string_view cf, std::string_view table, TreeRoot* root, std::string_view key,
                       std::string_view value, btree::PutFollowers* more) {
  bool existed;
  modifications++;
  assert(more == nullptr || replaying);  // the followers are not logged
  NoteWritten(cf, table);
  MANIFOLD_RETURN_IF_ERROR(Fail(btree::Put(*this, root, key, value, &existed, more)));
  Log(WalOp::kPut, cf, table, key, value);
  return Status::Ok();
}

Result<bool> TxnState::DeleteOp(std::string_view cf, std::string_view table, TreeRoot* root, std::string_view key) {
  bool existed;
  modifications++;
  NoteWritten(cf, table);
  MANIFOLD_RETURN_IF_ERROR(Fail(btree::Delete(*this, root, key, &existed)));
  if (existed) Log(WalOp::kDelete, cf, table, key);
  return existed;
}

namespace {

// An operation that succeeded when it was logged failed on replay. A logical
// failure means the log and the data file disagree (Corruption); storage
// errors (I/O, no space, no memory; checksum failures are Corruption already)
// pass through as they are.
Status ReplayError(const Status& s) {
  switch (s.code()) {
    case Status::Code::kIOError:
    case Status::Code::kNoSpace:
    case Status::Code::kNoMemory:
    case Status::Code::kCorruption:
    case Status::Code::kPoisoned:
      return s.WithContext("replaying a log record");
    default:
      return Status::Corruption("replaying a log record failed: " + s.ToString());
  }
}

}  // namespace

Status TxnState::ApplyCatalogOp(const WalOperation& o, uint64_t lsn) {
  // Every operation names its column family first (kRenameCf: the old name).
  if (const CfInfo* cf = catalog.cfs.Find(o.a); cf != nullptr && cf->checkpoint_lsn >= lsn) {
    return Status::Ok();
  }
  Status s;
  switch (o.op) {
    case WalOp::kPut:
    case WalOp::kDelete: return Status::InvalidArgument("puts and deletes are replayed by ReplayRun");
    case WalOp::kCreateTable: s = CreateTableOp(o.a, o.b).status(); break;
    case WalOp::kDropTable: s = DropTableOp(o.a, o.b); break;
    case WalOp::kClearTable: s = ClearTableOp(o.a, o.b); break;
    case WalOp::kRenameTable: s = RenameTableOp(o.a, o.b, o.c); break;
    case WalOp::kCreateCf: s = CreateCfOp(o.a); break;
    case WalOp::kDropCf: s = DropCfOp(o.a); break;
    case WalOp::kRenameCf: s = RenameCfOp(o.a, o.b); break;
  }
  return s.ok() ? s : ReplayError(s);
}

Status ReplayRun::Add(TxnState& t, const WalOperation& o, uint64_t lsn) {
  if (last_table_ < 0 || o.a != tables_[last_table_].cf || o.b != tables_[last_table_].name) {
    // A table not seen since the last catalog operation, or a switch between
    // tables (most records name one table).
    last_table_ = -1;
    for (size_t i = 0; i < tables_.size() && last_table_ < 0; i++) {
      if (tables_[i].cf == o.a && tables_[i].name == o.b) last_table_ = static_cast<int>(i);
    }
    if (last_table_ < 0) {
      tables_.push_back(Table{o.a, o.b});
      last_table_ = static_cast<int>(tables_.size() - 1);
    }
    // Fixed between catalog operations, which are barriers of a run.
    const CfInfo* cf = t.catalog.cfs.Find(o.a);
    covered_lsn_ = cf != nullptr ? cf->checkpoint_lsn : 0;
    table_checked_ = false;
  }
  if (covered_lsn_ >= lsn) return Status::Ok();  // in the family's checkpoint already
  if (!table_checked_) {
    const Status exists = t.TableExists(o.a, o.b);
    if (!exists.ok()) return Status::Corruption("log record refers to a missing table: " + exists.message());
    table_checked_ = true;
  }
  uint64_t prefix = 0;
  for (size_t i = 0; i < 8; i++) {
    prefix = (prefix << 8) | (i < o.c.size() ? static_cast<uint8_t>(o.c[i]) : 0);
  }
  ops_.push_back(Op{prefix, static_cast<uint32_t>(last_table_), static_cast<uint32_t>(ops_.size()), o.c, o.d, lsn,
                    o.op == WalOp::kPut});
  sorted_ = false;
  return Status::Ok();
}

// By table, key, then log order. A large run is first distributed in place
// into buckets by table and the 11 highest key-prefix bits that differ
// somewhere in the run (American flag sort), then each bucket is sorted on its
// own: a bucket's few hundred operations stay in cache while std::sort
// works on them, where a std::sort of the whole run would stream the 64-byte
// operations through memory some 20 times.
void ReplayRun::Sort() {
  auto less = [](const Op& x, const Op& y) {
    if (x.table != y.table) return x.table < y.table;
    if (x.prefix != y.prefix) return x.prefix < y.prefix;
    if (int c = x.key.compare(y.key); c != 0) return c < 0;
    return x.seq < y.seq;
  };
  const auto first = ops_.begin() + static_cast<std::ptrdiff_t>(next_);
  constexpr size_t kRadixMin = size_t{1} << 14;
  constexpr int kBits = 11;
  constexpr size_t kTablesMax = 8;
  const size_t n = ops_.size() - next_;
  if (n < kRadixMin || tables_.size() > kTablesMax) {
    std::sort(first, ops_.end(), less);
    return;
  }
  uint64_t differ = 0;
  for (size_t i = next_; i < ops_.size(); i++) differ |= ops_[i].prefix ^ ops_[next_].prefix;
  // The bits above `shift` agree across the run (or the run's prefixes are all
  // equal and every operation falls into its table's bucket 0).
  const int top = differ == 0 ? 0 : 64 - __builtin_clzll(differ);
  const int shift = std::max(0, top - kBits);
  const size_t per_table = size_t{1} << kBits;
  auto bucket = [&](const Op& o) { return o.table * per_table + ((o.prefix >> shift) & (per_table - 1)); };
  const size_t buckets = tables_.size() * per_table;
  std::vector<size_t> begin(buckets + 1, 0);
  for (size_t i = next_; i < ops_.size(); i++) begin[bucket(ops_[i]) + 1]++;
  begin[0] = next_;
  for (size_t b = 0; b < buckets; b++) begin[b + 1] += begin[b];
  std::vector<size_t> head(begin.begin(), begin.end() - 1);
  for (size_t b = 0; b < buckets; b++) {
    while (head[b] < begin[b + 1]) {  // swap each misplaced operation into its bucket
      size_t d = bucket(ops_[head[b]]);
      if (d == b) {
        head[b]++;
      } else {
        std::swap(ops_[head[b]], ops_[head[d]++]);
      }
    }
  }
  for (size_t b = 0; b < buckets; b++) {
    if (begin[b + 1] - begin[b] > 1) {
      std::sort(ops_.begin() + static_cast<std::ptrdiff_t>(begin[b]), ops_.begin() + static_cast<std::ptrdiff_t>(begin[b + 1]), less);
    }
  }
}

Status ReplayRun::Apply(TxnState& t, uint64_t dirty_bytes_max, std::string_view log_path) {
  constexpr size_t kPrefetchAhead = 24;
  if (!sorted_) {
    Sort();
    sorted_ = true;
  }
  // In key order the keys and values are scattered over the log: fetch
  // ahead every cache line they touch (a 24-byte key often straddles two).
  auto fetch_lines = [](std::string_view s) {
    constexpr size_t kLine = 64;
    const char* const end = s.data() + s.size();
    for (const char* a = s.data() - (reinterpret_cast<uintptr_t>(s.data()) & (kLine - 1)); a < end; a += kLine) {
      __builtin_prefetch(a);
    }
  };
  auto prefetch = [&](size_t i) {
    if (i + kPrefetchAhead >= ops_.size()) return;
    const Op& ahead = ops_[i + kPrefetchAhead];
    fetch_lines(ahead.key);
    fetch_lines(ahead.value);
  };
  // The puts after one of the same table, offered to btree::Put so that
  // those going into the same leaf skip the descent.
  struct Followers final : btree::PutFollowers {
    ReplayRun* run;
    TxnState* txn;
    decltype(prefetch)* fetch;
    size_t at;
    uint32_t table;
    Followers(ReplayRun* r, TxnState* tx, decltype(prefetch)* f, size_t a, uint32_t tb)
        : run(r), txn(tx), fetch(f), at(a), table(tb) {}
    bool Next(std::string_view* key, std::string_view* value) override {
      if (at >= run->ops_.size()) return false;
      const Op& o = run->ops_[at];
      if (!o.put || o.table != table) return false;
      (*fetch)(at);
      *key = o.key;
      *value = o.value;
      return true;
    }
    void Taken() override {
      at++;
      txn->modifications++;
    }
  };
  // Resolved for this transaction (the caller may have started a new one).
  std::vector<TableInfo*> trees(tables_.size(), nullptr);
  const uint64_t ps = t.page_size();
  while (next_ < ops_.size()) {
    prefetch(next_);
    const Op& op = ops_[next_];
    const Table& tb = tables_[op.table];
    if (trees[op.table] == nullptr) {
      Result<TableInfo*> ti = t.FindTable(tb.cf, tb.name);
      if (!ti.ok()) {
        return Status::Corruption("log record refers to a missing table: " + ti.status().message())
            .WithContext(std::string(log_path) + " LSN " + std::to_string(op.lsn));
      }
      trees[op.table] = *ti;
    }
    TreeRoot* root = &trees[op.table]->tree;
    Followers more(this, &t, &prefetch, next_ + 1, op.table);
    Status s = op.put ? t.PutOp(tb.cf, tb.name, root, op.key, op.value, &more)
                      : t.DeleteOp(tb.cf, tb.name, root, op.key).status();
    if (!s.ok()) return ReplayError(s).WithContext(std::string(log_path) + " LSN " + std::to_string(op.lsn));
    next_ = more.at;  // this one and the followers its leaf took
    if (t.dirty.size() * ps > dirty_bytes_max) break;
  }
  if (next_ == ops_.size()) {
    ops_.clear();
    tables_.clear();
    next_ = 0;
    last_table_ = -1;
  }
  return Status::Ok();
}

}  // namespace manifold
