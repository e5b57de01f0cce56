// Table, Iterator and WriteTransaction handles.
#include <algorithm>

#include "db/core.h"
#include "manifold/db.h"
#include "util/no_memory.h"

namespace manifold {

struct Table::Impl {
  std::shared_ptr<TxnState> txn;
  std::string cf;
  std::string name;
  uint64_t id = 0;
  TreeRoot read_root;  // read transactions: fixed

  // The table's current root; for write transactions, looked up in the
  // transaction's catalog so that drops and renames are noticed.
  Result<TreeRoot*> Root() {
    MANIFOLD_RETURN_IF_ERROR(txn->CheckUsable());
    if (!txn->write) return &read_root;
    if (CfInfo* c = txn->catalog.cfs.Mutable(cf)) {
      TableInfo* t = c->tables.Mutable(name);
      if (t != nullptr && t->id == id) return &t->tree;
    }
    return Status::InvalidState("table '" + name + "' was dropped or renamed in this transaction");
  }
};

struct Iterator::Impl {
  std::shared_ptr<TxnState> txn;
  btree::Cursor cursor;
  Bound lower = Bound::Unbounded();
  Bound upper = Bound::Unbounded();
  bool reverse = false;
  uint64_t modifications = 0;
  Status status;
  bool valid = false;
  std::string value_buf;

  Impl(std::shared_ptr<TxnState> t, TreeRoot root) : txn(std::move(t)), cursor(txn.get(), root) {}

  bool Stale() {
    if (!status.ok()) return true;
    if (!txn->open || (txn->write && txn->modifications != modifications)) {
      status = Status::InvalidState("iterator used after its transaction ended or modified the data");
      valid = false;
      return true;
    }
    return false;
  }
  void Check(Status s) {  // by value: the out-of-memory handlers pass temporaries, moved without allocating
    if (!s.ok()) {
      status = std::move(s);
      valid = false;
    }
  }
  bool BelowLower(std::string_view k) const {
    if (lower.kind() == Bound::Kind::kUnbounded) return false;
    return lower.kind() == Bound::Kind::kIncluded ? k < lower.key() : k <= lower.key();
  }
  bool AboveUpper(std::string_view k) const {
    if (upper.kind() == Bound::Kind::kUnbounded) return false;
    return upper.kind() == Bound::Kind::kIncluded ? k > upper.key() : k >= upper.key();
  }
  // After a move: skip entries excluded at the start side, stop at the far side.
  void Settle() {
    valid = status.ok() && cursor.Valid();
    if (!valid) return;
    if (!reverse) {
      while (valid && BelowLower(cursor.key())) {
        Check(cursor.Next());
        valid = status.ok() && cursor.Valid();
      }
      if (valid && AboveUpper(cursor.key())) valid = false;
    } else {
      while (valid && AboveUpper(cursor.key())) {
        Check(cursor.Prev());
        valid = status.ok() && cursor.Valid();
      }
      if (valid && BelowLower(cursor.key())) valid = false;
    }
  }
  void SeekStart() {
    if (!reverse) {
      Check(lower.kind() == Bound::Kind::kUnbounded ? cursor.SeekFirst() : cursor.SeekGE(lower.key()));
    } else {
      Check(upper.kind() == Bound::Kind::kUnbounded ? cursor.SeekLast() : cursor.SeekLE(upper.key()));
    }
    Settle();
  }
};

Iterator::Iterator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Iterator::Iterator(Iterator&&) noexcept = default;
Iterator& Iterator::operator=(Iterator&&) noexcept = default;
Iterator::~Iterator() = default;

// An iterator without Impl is one whose creation ran out of memory.
constexpr const char* kIteratorNoMemory = "out of memory";  // short: needs no allocation

bool Iterator::Valid() const try {
  return impl_ && impl_->valid && !impl_->Stale();
} catch (const std::bad_alloc&) {
  impl_->Check(NoMemoryStatus("iterator"));
  return false;
}

Status Iterator::status() const try {
  return impl_ ? impl_->status : Status::NoMemory(kIteratorNoMemory);
} catch (const std::bad_alloc&) {
  return Status::NoMemory(kIteratorNoMemory);
}

void Iterator::Next() try {
  if (!Valid()) return;
  impl_->Check(impl_->reverse ? impl_->cursor.Prev() : impl_->cursor.Next());
  impl_->Settle();
} catch (const std::bad_alloc&) {
  impl_->Check(NoMemoryStatus("iterator: next"));
}

void Iterator::Seek(std::string_view key) try {
  if (!impl_ || impl_->Stale()) return;
  impl_->Check(impl_->reverse ? impl_->cursor.SeekLE(key) : impl_->cursor.SeekGE(key));
  impl_->Settle();
} catch (const std::bad_alloc&) {
  impl_->Check(NoMemoryStatus("iterator: seek"));
}

std::string_view Iterator::key() const {
  if (!Valid()) return {};
  return impl_->cursor.key();
}

std::string_view Iterator::value() const try {
  if (!Valid()) return {};
  std::string_view rest = impl_->cursor.rest();
  uint64_t tag;
  const char* q = DecodeVarint(rest.data(), rest.data() + rest.size(), &tag);
  if (q != nullptr && (tag & 1) == 0) return std::string_view(q, tag >> 1);
  Status s = btree::ReadValue(*impl_->txn, rest, &impl_->value_buf);
  if (!s.ok()) {
    impl_->Check(s);
    return {};
  }
  return impl_->value_buf;
} catch (const std::bad_alloc&) {
  impl_->Check(NoMemoryStatus("iterator: value"));
  return {};
}

// ---- Table ----

Table::Table(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Table::~Table() = default;
Table::Table(const Table&) = default;
Table& Table::operator=(const Table&) = default;

const std::string& Table::name() const { return impl_->name; }

Result<std::string> Table::Get(std::string_view key) const try {
  std::string value;
  MANIFOLD_RETURN_IF_ERROR(Get(key, &value));
  return value;
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("get");
}

Status Table::Get(std::string_view key, std::string* value) const try {
  MANIFOLD_ASSIGN_OR_RETURN(TreeRoot * root, impl_->Root());
  Status s = btree::Get(*impl_->txn, *root, key, value);
  if (s.IsNotFound()) {
    std::string shown(key.substr(0, 64));
    for (char& c : shown) if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
    return Status::NotFound("key '" + shown + (key.size() > 64 ? "...'" : "'") + " not found in table '" +
                            impl_->name + "'");
  }
  return s;
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("get");
}

Result<bool> Table::Contains(std::string_view key) const try {
  MANIFOLD_ASSIGN_OR_RETURN(TreeRoot * root, impl_->Root());
  PageBuf leaf;
  int idx;
  Status s = btree::Locate(*impl_->txn, *root, key, &leaf, &idx);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return s;
  return true;
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("contains");
}

Result<uint64_t> Table::Len() const try {
  MANIFOLD_ASSIGN_OR_RETURN(TreeRoot * root, impl_->Root());
  return root->entries;
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("len");
}

Iterator Table::Range(const Bound& lower, const Bound& upper, bool reverse) const {
  std::unique_ptr<Iterator::Impl> it;
  try {
    Result<TreeRoot*> root = impl_->Root();
    it = std::make_unique<Iterator::Impl>(impl_->txn, root.ok() ? **root : TreeRoot{});
    it->lower = lower;
    it->upper = upper;
    it->reverse = reverse;
    it->modifications = impl_->txn->modifications;
    if (!root.ok()) {
      it->status = root.status();
    } else {
      it->SeekStart();
    }
  } catch (const std::bad_alloc&) {
    if (it) it->Check(NoMemoryStatus("range"));  // else: an iterator without Impl reports kNoMemory
  }
  return Iterator(std::move(it));
}

Iterator Table::Prefix(std::string_view prefix, bool reverse) const try {
  // Upper bound: the prefix with its last non-0xff byte incremented.
  std::string end(prefix);
  while (!end.empty() && static_cast<uint8_t>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) return Range(Bound::Included(prefix), Bound::Unbounded(), reverse);
  end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
  return Range(Bound::Included(prefix), Bound::Excluded(end), reverse);
} catch (const std::bad_alloc&) {
  return Iterator(nullptr);  // reports kNoMemory
}

Iterator Table::Scan(bool reverse) const { return Range(Bound::Unbounded(), Bound::Unbounded(), reverse); }

// Writes: an allocation failure may leave the transaction's trees half-changed,
// so it fails the transaction (only Abort, or RestoreSavepoint, is left).
Status Table::Put(std::string_view key, std::string_view value) try {
  if (!impl_->txn->write) return Status::InvalidState("table opened in a read transaction is read-only");
  MANIFOLD_ASSIGN_OR_RETURN(TreeRoot * root, impl_->Root());
  return impl_->txn->PutOp(impl_->cf, impl_->name, root, key, value);
} catch (const std::bad_alloc&) {
  return impl_->txn->FailNoMemory("put");
}

Result<bool> Table::Delete(std::string_view key) try {
  if (!impl_->txn->write) return Status::InvalidState("table opened in a read transaction is read-only");
  MANIFOLD_ASSIGN_OR_RETURN(TreeRoot * root, impl_->Root());
  return impl_->txn->DeleteOp(impl_->cf, impl_->name, root, key);
} catch (const std::bad_alloc&) {
  return impl_->txn->FailNoMemory("delete");
}

// ---- ReadTransaction::OpenTable ----

Result<Table> ReadTransaction::OpenTable(std::string_view table, std::string_view column_family) const try {
  MANIFOLD_RETURN_IF_ERROR(state_->CheckUsable());
  const CfInfo* cf = state_->base->catalog->cfs.Find(column_family);
  if (cf == nullptr) {
    return Status::NotFound("column family '" + std::string(column_family) + "' does not exist");
  }
  const TableInfo* t = cf->tables.Find(table);
  if (t == nullptr) {
    return Status::NotFound("table '" + std::string(table) + "' does not exist in column family '" +
                            std::string(column_family) + "'");
  }
  auto impl = std::make_shared<Table::Impl>();
  impl->txn = state_;
  impl->cf = std::string(column_family);
  impl->name = std::string(table);
  impl->id = t->id;
  impl->read_root = t->tree;
  return Table(std::move(impl));
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("open table");
}

// ---- WriteTransaction ----

WriteTransaction::WriteTransaction(std::shared_ptr<TxnState> state) : state_(std::move(state)) {}
WriteTransaction::WriteTransaction(WriteTransaction&&) noexcept = default;
WriteTransaction& WriteTransaction::operator=(WriteTransaction&& other) noexcept {
  if (this != &other) {
    if (state_) state_->Abort();
    state_ = std::move(other.state_);
  }
  return *this;
}
WriteTransaction::~WriteTransaction() {
  if (state_) state_->Abort();
}

const std::string& WriteTransaction::column_family() const { return state_->bound_cf; }
const std::vector<std::string>& WriteTransaction::column_families() const { return state_->bound_cfs; }

namespace {

// The family a call names ("" for the transaction's first), if the
// transaction is bound to it.
Result<std::string_view> ResolveCf(const TxnState& t, std::string_view cf) {
  MANIFOLD_RETURN_IF_ERROR(t.CheckUsable());
  if (cf.empty()) return std::string_view(t.bound_cf);
  MANIFOLD_RETURN_IF_ERROR(t.CheckBound(cf));
  return cf;
}

Result<Table> MakeWriteTable(const std::shared_ptr<TxnState>& t, std::string_view cf, std::string_view name,
                             const TableInfo& info) {
  auto impl = std::make_shared<Table::Impl>();
  impl->txn = t;
  impl->cf = std::string(cf);
  impl->name = std::string(name);
  impl->id = info.id;
  return Table(std::move(impl));
}

}  // namespace

Result<Table> WriteTransaction::OpenTable(std::string_view table, std::string_view column_family) try {
  MANIFOLD_ASSIGN_OR_RETURN(std::string_view cf, ResolveCf(*state_, column_family));
  MANIFOLD_ASSIGN_OR_RETURN(TableInfo * info, state_->FindTable(cf, table));
  return MakeWriteTable(state_, cf, table, *info);
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("open table");  // changed nothing
}

// Catalog changes: an allocation failure fails the transaction (see Table::Put).
Result<Table> WriteTransaction::CreateTable(std::string_view table, std::string_view column_family) try {
  MANIFOLD_ASSIGN_OR_RETURN(std::string_view cf, ResolveCf(*state_, column_family));
  MANIFOLD_ASSIGN_OR_RETURN(TableInfo * info, state_->CreateTableOp(cf, table));
  return MakeWriteTable(state_, cf, table, *info);
} catch (const std::bad_alloc&) {
  return state_->FailNoMemory("create table");
}

Result<Table> WriteTransaction::OpenOrCreateTable(std::string_view table, std::string_view column_family) try {
  MANIFOLD_ASSIGN_OR_RETURN(std::string_view cf, ResolveCf(*state_, column_family));
  Result<TableInfo*> found = state_->FindTable(cf, table);
  if (found.ok()) return MakeWriteTable(state_, cf, table, **found);
  MANIFOLD_ASSIGN_OR_RETURN(TableInfo * info, state_->CreateTableOp(cf, table));
  return MakeWriteTable(state_, cf, table, *info);
} catch (const std::bad_alloc&) {
  return state_->FailNoMemory("open or create table");
}

Status WriteTransaction::DropTable(std::string_view table, std::string_view column_family) try {
  MANIFOLD_ASSIGN_OR_RETURN(std::string_view cf, ResolveCf(*state_, column_family));
  return state_->DropTableOp(cf, table);
} catch (const std::bad_alloc&) {
  return state_->FailNoMemory("drop table");
}

Status WriteTransaction::RenameTable(std::string_view from, std::string_view to, std::string_view column_family) try {
  MANIFOLD_ASSIGN_OR_RETURN(std::string_view cf, ResolveCf(*state_, column_family));
  return state_->RenameTableOp(cf, from, to);
} catch (const std::bad_alloc&) {
  return state_->FailNoMemory("rename table");
}

Status WriteTransaction::ClearTable(std::string_view table, std::string_view column_family) try {
  MANIFOLD_ASSIGN_OR_RETURN(std::string_view cf, ResolveCf(*state_, column_family));
  return state_->ClearTableOp(cf, table);
} catch (const std::bad_alloc&) {
  return state_->FailNoMemory("clear table");
}

Result<std::vector<std::string>> WriteTransaction::ListTables(std::string_view column_family) const try {
  MANIFOLD_ASSIGN_OR_RETURN(std::string_view cf, ResolveCf(*state_, column_family));
  const CfInfo* c = state_->catalog.cfs.Find(cf);
  if (c == nullptr) return Status::NotFound("column family '" + std::string(cf) + "' does not exist");
  std::vector<std::string> v;
  for (const auto& [name, t] : c->tables) v.push_back(name);
  return v;
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("list tables");
}

Result<uint64_t> WriteTransaction::SetSavepoint() try {
  MANIFOLD_RETURN_IF_ERROR(state_->CheckUsable());
  TxnState& t = *state_;
  TxnState::SavepointData sp;
  sp.id = t.next_savepoint_id++;
  sp.catalog = t.catalog;
  sp.catalog_tree = t.catalog_tree;
  sp.dirty = t.dirty.DeepCopy(t.page_size());
  sp.allocated_mark = t.allocated.size();
  sp.freed_mark = t.freed.size();
  sp.wal_mark = t.wal_batch.Mark();
  sp.log_overflow = t.log_overflow;
  t.savepoints.push_back(std::move(sp));
  return t.savepoints.back().id;
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("set savepoint");  // changed nothing (but a savepoint id)
}

// Each step can be repeated, so after an allocation failure (which fails the
// transaction) RestoreSavepoint may simply be called again.
Status WriteTransaction::RestoreSavepoint(uint64_t id) try {
  if (!state_->open) return Status::InvalidState("transaction is already committed or aborted");
  TxnState& t = *state_;
  auto it = std::find_if(t.savepoints.begin(), t.savepoints.end(),
                         [id](const TxnState::SavepointData& s) { return s.id == id; });
  if (it == t.savepoints.end()) return Status::NotFound("no savepoint " + std::to_string(id) + " in this transaction");
  {
    std::lock_guard<std::mutex> lock(t.core->mu);
    for (size_t i = it->allocated_mark; i < t.allocated.size(); i++) {
      if (t.owned.count(t.allocated[i]) == 0) continue;  // released by an attempt that ran out of memory
      t.core->alloc.Release(t.allocated[i]);
      t.owned.erase(t.allocated[i]);
    }
  }
  t.allocated.resize(it->allocated_mark);
  t.freed.resize(it->freed_mark);
  t.catalog = it->catalog;
  t.catalog_tree = it->catalog_tree;
  if (it->log_overflow == t.log_overflow) t.wal_batch.Truncate(it->wal_mark);  // else: committed by checkpoint anyway
  t.dirty = it->dirty.DeepCopy(t.page_size());
  t.savepoints.erase(it + 1, t.savepoints.end());
  t.failed = Status::Ok();  // the failed operation happened after the savepoint (or not at all)
  t.modifications++;
  return Status::Ok();
} catch (const std::bad_alloc&) {
  return state_->FailNoMemory("restore savepoint");
}

Status WriteTransaction::Commit(Durability durability) {
  // Counted until it returns, the checkpoint it may run included: Close() waits.
  const InFlightCommit in_flight(*state_->core);
  MANIFOLD_RETURN_IF_ERROR(CommitOrPoison(*state_, durability, in_flight));
  if (durability == Durability::kEventual && !EnsureBackground(state_->core)) {
    // No thread to sync it within the documented bound: sync it now.
    DbCore& core = *state_->core;
    uint64_t lsn;
    {
      std::lock_guard<std::mutex> lock(core.sync_mu);
      lsn = core.eventual_lsn;
    }
    MANIFOLD_RETURN_IF_ERROR(WaitDurable(core, lsn));
  }
  // The commit is done (and durable, if asked). A checkpoint that fails here
  // poisons the database, which the next write reports.
  try {
    Status ignored = MaybeCheckpoint(state_->core);
    (void)ignored;
  } catch (const std::bad_alloc&) {
    Status ignored = PoisonNoMemory(*state_->core, "checkpoint after a commit (the database refuses writes until it is reopened)");
    (void)ignored;
  }
  return Status::Ok();
}
void WriteTransaction::Abort() { state_->Abort(); }

}  // namespace manifold
