// Integrity check and statistics.
//
// Check() walks everything reachable from the latest commit, reading every
// page from storage (bypassing the cache) and verifying: page checksums
// against the page and its parent, page types, key order within pages and
// against the separators above them, uniform leaf depth, entry counts,
// overflow value checksums, the catalog, and page accounting -- every page
// below page_count is reachable exactly once, free, or pending free.
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string_view>

#include "db/core.h"
#include "util/crc32c.h"
#include "util/json.h"
#include "util/no_memory.h"

namespace manifold {
namespace {

enum : uint8_t { kUnseen = 0, kReachable = 1, kFree = 2, kPending = 3 };

// Where a problem is: an owner ("catalog", "table 'cf/t'") and, inside a
// tree, a page number. Turned into text only when a problem is reported, so
// that a clean walk builds no strings.
struct Where {
  const std::string* owner;
  uint64_t page = 0;
  bool has_page = false;
  std::string Text() const {
    if (!has_page) return *owner;
    std::string w = *owner;
    w += " page ";
    w += std::to_string(page);
    return w;
  }
};

class Checker {
 public:
  Checker(DbCore& core, uint64_t page_count, CheckReport* report)
      : core_(core), ps_(core.pager->page_size()), state_(page_count, kUnseen), report_(report) {}

  void Problem(std::string msg) {
    report_->ok = false;
    if (report_->problems.size() < 1000) report_->problems.push_back(std::move(msg));
  }

  // Returns false if the page cannot be (re)visited: out of range or seen before.
  // `owner` (and `suffix`, appended to it) name the reference in a problem.
  bool Mark(uint64_t page, uint8_t what, const Where& owner, const char* suffix = "") {
    if (page >= state_.size()) {
      Problem(owner.Text() + suffix + ": page " + std::to_string(page) + " is beyond the end of the database (" +
              std::to_string(state_.size()) + " pages)");
      return false;
    }
    if (state_[page] != kUnseen) {
      static const char* kNames[] = {"unseen", "reachable", "free", "pending free"};
      Problem(owner.Text() + suffix + ": page " + std::to_string(page) + " is used twice (already " +
              kNames[state_[page]] + ")");
      return false;
    }
    state_[page] = what;
    if (what == kReachable) report_->pages_reachable++;
    if (what == kFree) report_->pages_free++;
    if (what == kPending) report_->pages_pending_free++;
    return true;
  }
  bool Mark(uint64_t page, uint8_t what, const std::string& owner) { return Mark(page, what, Where{&owner}); }

  // Reads a page straight from storage into `buf` (page-sized) and verifies it.
  bool ReadVerified(ChildRef ref, const std::string& owner, char* buf) {
    if (ref.page < 2 || ref.page >= state_.size()) {
      Problem(owner + ": reference to page " + std::to_string(ref.page) + " outside the database");
      return false;
    }
    // A page held in memory (a logged commit's, no checkpoint wrote it yet)
    // has no image in the file: check the one in memory.
    Status s;
    if (PageBuf held = core_.pager->cache().LookupPinned(ref.page)) {
      std::memcpy(buf, held.get(), ps_);
    } else {
      s = core_.file->Read(ref.page * ps_, ps_, buf);
    }
    if (!s.ok()) {
      Problem(owner + ": " + s.ToString());
      return false;
    }
    uint32_t stored = page::StoredChecksum(buf);
    uint32_t computed = page::ComputeChecksum(buf, ps_);
    if (stored != computed || stored != ref.checksum || page::PageNo(buf) != ref.page) {
      char m[200];
      std::snprintf(m, sizeof m, ": checksum stored 0x%08x, computed 0x%08x, parent expects 0x%08x, page_no %" PRIu64,
                    stored, computed, ref.checksum, page::PageNo(buf));
      Problem(owner + ": " + core_.pager->CorruptionContext(ref.page) + m);
      return false;
    }
    if (!ValidatePage(buf, ps_)) {
      Problem(owner + ": " + core_.pager->CorruptionContext(ref.page) + ": malformed page (bad type, slot or entry layout)");
      return false;
    }
    return true;
  }

  // Walks a tree; returns the number of entries found. `visit(key, rest,
  // where)` sees leaf entries.
  template <typename Visit>
  uint64_t WalkTree(const TreeRoot& root, const std::string& owner, Visit&& visit) {
    if (root.depth == 0) return 0;
    return Walk(root.root, static_cast<int>(root.depth), nullptr, nullptr, owner, visit, 0);
  }

  template <typename Visit>
  uint64_t Walk(ChildRef ref, int height, const std::string_view* lo, const std::string_view* hi,
                const std::string& owner, Visit& visit, size_t level) {
    const bool is_root = level == 0;
    // A page reached twice is reported once and not walked again: a damaged
    // file whose branches share subtrees must not make the walk exponential.
    if (!Mark(ref.page, kReachable, owner)) return 0;
    // One page buffer per level below the root (as deep as the walk actually
    // goes, not as the root claims), reused across pages and trees: keys and
    // separators below are views into the buffers of this page and its
    // ancestors, which stay put while the children are walked.
    if (level >= bufs_.size()) bufs_.resize(level + 1);
    if (!bufs_[level]) bufs_[level] = std::make_unique_for_overwrite<char[]>(ps_);
    char* const p = bufs_[level].get();
    if (!ReadVerified(ref, owner, p)) return 0;
    report_->pages_checked++;
    const Where where{&owner, ref.page, true};
    PageType want = height > 1 ? PageType::kBranch : PageType::kLeaf;
    if (page::Type(p) != want) {
      Problem(where.Text() + ": page type " + std::to_string(static_cast<int>(page::Type(p))) + " at height " +
              std::to_string(height) + " (leaves must all be at the same depth)");
      return 0;
    }
    int n = page::Count(p);
    if (page::DataStart(p) > ps_ || kPageHeaderBytes + kSlotBytes * n > page::DataStart(p)) {
      Problem(where.Text() + ": slot array overlaps entries");
      return 0;
    }
    if (n == 0 && !(is_root && height == 1)) Problem(where.Text() + ": empty page");
    if (height > 1 && n < 2 && is_root) Problem(where.Text() + ": root branch with a single child");
    uint64_t entries = 0;
    std::string_view prev;
    for (int i = 0; i < n; i++) {
      EntryView e;
      if (!ParseEntry(p, ps_, i, &e)) {
        Problem(where.Text() + ": malformed entry " + std::to_string(i));
        return entries;
      }
      if (e.encoded_bytes > page::MaxEntryBytes(ps_)) {
        Problem(where.Text() + ": entry " + std::to_string(i) + " of " + std::to_string(e.encoded_bytes) +
                " bytes exceeds the quarter-page limit");
      }
      if (page::SlotPrefix(p, i) != KeyPrefix(e.key)) {
        Problem(where.Text() + ": slot " + std::to_string(i) + " has a wrong key prefix");
      }
      const std::string_view key = e.key;
      bool minus_inf = height > 1 && i == 0;
      if (minus_inf && !key.empty()) Problem(where.Text() + ": first branch entry has a key");
      if (!minus_inf) {
        if (i > (height > 1 ? 1 : 0) && !(prev < key)) {
          Problem(where.Text() + ": keys out of order at entry " + std::to_string(i));
        }
        if (lo != nullptr && key < *lo) {
          Problem(where.Text() + ": key below the parent's separator at entry " + std::to_string(i));
        }
        if (hi != nullptr && !(key < *hi)) {
          Problem(where.Text() + ": key not below the next separator at entry " + std::to_string(i));
        }
      }
      prev = key;
      if (height > 1) {
        const std::string_view* clo = minus_inf ? lo : &prev;
        std::string_view next_sep;
        const std::string_view* chi = hi;
        if (i + 1 < n) {
          next_sep = KeyAt(p, i + 1);
          chi = &next_sep;
        }
        const std::string_view lo_copy = clo ? *clo : std::string_view();
        entries += Walk(DecodeRef(e.rest.data()), height - 1, clo ? &lo_copy : nullptr, chi, owner, visit, level + 1);
      } else {
        entries++;
        uint64_t first, bytes;
        if (btree::OverflowOf(e.rest, &first, &bytes)) {
          // A damaged length must not make us mark billions of pages one by one.
          const uint64_t pages = (bytes + ps_ - 1) / ps_;
          if (bytes > kValueBytesMax || first < 2 || first >= state_.size() || pages > state_.size() - first) {
            Problem(where.Text() + ": overflow value of " + std::to_string(bytes) + " bytes at page " +
                    std::to_string(first) + " does not fit in the database (" + std::to_string(state_.size()) +
                    " pages)");
          } else {
            for (uint64_t k = 0; k < pages; k++) Mark(first + k, kReachable, where, " overflow");
          }
        }
        visit(e.key, e.rest, where);
      }
    }
    return entries;
  }

  // Reads an overflow value straight from storage into a reused buffer and
  // verifies its checksum (what TxnState::ReadOverflow checks, with the same
  // messages, without a fresh string per value).
  void CheckOverflow(std::string_view rest, const Where& where, uint64_t page_limit) {
    uint64_t first, bytes;
    if (!btree::OverflowOf(rest, &first, &bytes)) return;
    const uint64_t n_pages = (bytes + ps_ - 1) / ps_;
    if (first < 2 || first + n_pages > page_limit || first + n_pages < first) {
      Problem(where.Text() + ": Corruption: " + core_.path + ": overflow value at page " + std::to_string(first) + " (" +
              std::to_string(bytes) + " bytes) lies outside the database");
      return;
    }
    if (bytes > value_cap_) {
      value_buf_ = std::make_unique_for_overwrite<char[]>(bytes);
      value_cap_ = bytes;
    }
    Status s = core_.pager->ReadExtent(first, bytes, value_buf_.get());
    if (!s.ok()) {
      Problem(where.Text() + ": " + s.ToString());
      return;
    }
    uint64_t tag;
    const char* q = DecodeVarint(rest.data(), rest.data() + rest.size(), &tag);
    const uint32_t checksum = DecodeU32(q + 8);
    const uint32_t computed = crc32c::Mask(crc32c::Value(value_buf_.get(), bytes));
    if (computed != checksum) {
      char m[128];
      std::snprintf(m, sizeof m, ": checksum mismatch: expected 0x%08x, computed 0x%08x", checksum, computed);
      Problem(where.Text() + ": Corruption: " + core_.path + ": overflow value at page " + std::to_string(first) + " (" +
              std::to_string(bytes) + " bytes)" + m);
    }
  }

  std::vector<uint8_t>& state() { return state_; }

 private:
  DbCore& core_;
  const uint32_t ps_;
  std::vector<uint8_t> state_;
  CheckReport* report_;
  std::vector<std::unique_ptr<char[]>> bufs_;  // page buffers by depth below the root
  std::unique_ptr<char[]> value_buf_;          // overflow values
  uint64_t value_cap_ = 0;
};


// "<=1: 5, <=2: 3, ..." for the non-empty buckets.
std::string HistogramText(const std::vector<uint64_t>& buckets) {
  std::string out;
  for (size_t i = 0; i < buckets.size() && i < std::size(kSyncHistogramBounds); i++) {
    if (buckets[i] == 0) continue;
    if (!out.empty()) out += ", ";
    out += kSyncHistogramBounds[i] == UINT64_MAX ? std::string(">") + std::to_string(kSyncHistogramBounds[i - 1])
                                                 : "<=" + std::to_string(kSyncHistogramBounds[i]);
    out += ": " + std::to_string(buckets[i]);
  }
  return out.empty() ? "none" : out;
}

}  // namespace

Result<CheckReport> Database::Check() try {
  // One consistent picture, taken under mu: the newest snapshot and the
  // allocator's lists as of that commit (commits publish both under mu).
  // The snapshot is registered as a reader, so no page it reaches is reused
  // while we walk; commits go on meanwhile.
  std::shared_ptr<const Snapshot> snap;
  std::vector<uint64_t> free_pages;
  std::vector<uint64_t> pending_pages;
  std::vector<uint64_t> uncommitted_pages;
  std::vector<uint64_t> chain;
  CheckReport report;
  uint64_t page_count;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->closed) return Status::InvalidState(core_->path + ": database is closed");
    snap = core_->current;
    free_pages.assign(core_->alloc.free_set().begin(), core_->alloc.free_set().end());
    pending_pages = core_->alloc.PendingPages();
    uncommitted_pages.assign(core_->alloc.uncommitted().begin(), core_->alloc.uncommitted().end());
    chain = core_->freelist_pages;
    page_count = core_->alloc.page_count();
    if (!core_->header_note.empty()) report.warnings.push_back(core_->header_note);
    core_->reader_generations.insert(snap->generation);
  }
  struct Unregister {
    DbCore* c;
    uint64_t generation;
    ~Unregister() {
      std::lock_guard<std::mutex> lock(c->mu);
      auto it = c->reader_generations.find(generation);
      if (it != c->reader_generations.end()) c->reader_generations.erase(it);
    }
  } unregister{core_.get(), snap->generation};
  report.generation = snap->generation;
  report.page_count = page_count;
  Checker c(*core_, page_count, &report);
  c.Mark(0, kReachable, "header");
  c.Mark(1, kReachable, "header");
  TxnState reader;
  reader.core = core_;
  reader.base = snap;
  reader.open = false;

  // The catalog tree, decoded from storage (not from the in-memory copy).
  Catalog decoded;
  const std::string catalog_owner = "catalog";
  uint64_t catalog_entries = c.WalkTree(snap->catalog_tree, catalog_owner, [&](std::string_view k, std::string_view rest,
                                                                                const Where& where) {
    std::string value;
    Status s = btree::ReadValue(reader, rest, &value);
    if (s.ok()) s = DecodeCatalogEntry(k, value, &decoded);
    if (!s.ok()) c.Problem(where.Text() + ": " + s.ToString());
  });
  if (catalog_entries != snap->catalog_tree.entries) {
    c.Problem("catalog: " + std::to_string(catalog_entries) + " entries found, root says " +
              std::to_string(snap->catalog_tree.entries));
  }
  // The tree is rewritten only by checkpoints: it must hold exactly the
  // catalog of the newest one. The table trees are then walked from the
  // snapshot's catalog, which later commits changed (their roots are read
  // from storage like every other page).
  if (decoded != *snap->tree_catalog) {
    c.Problem("catalog: the catalog tree does not hold the catalog of the newest checkpoint");
  }
  report.column_families = snap->catalog->cfs.size();
  for (const auto& [cf_name, cf] : snap->catalog->cfs) {
    for (const auto& [t_name, t] : cf.tables) {
      report.tables++;
      std::string owner = "table '";
      owner += cf_name;
      owner += '/';
      owner += t_name;
      owner += '\'';
      uint64_t n = c.WalkTree(t.tree, owner, [&](std::string_view, std::string_view rest, const Where& where) {
        c.CheckOverflow(rest, where, snap->page_count);
      });
      report.entries += n;
      if (n != t.tree.entries) {
        c.Problem(owner + ": " + std::to_string(n) + " entries found, catalog says " + std::to_string(t.tree.entries));
      }
    }
  }
  for (uint64_t p : chain) c.Mark(p, kReachable, "freelist chain");
  for (uint64_t p : free_pages) c.Mark(p, kFree, "free list");
  for (uint64_t p : pending_pages) c.Mark(p, kPending, "pending free list");
  for (uint64_t p : uncommitted_pages) c.Mark(p, kFree, "open write transaction");
  uint64_t leaked = 0;
  for (uint64_t p = 0; p < page_count; p++) {
    if (c.state()[p] == kUnseen && ++leaked <= 20) {
      c.Problem("page " + std::to_string(p) + " is leaked: neither reachable nor free");
    }
  }
  if (leaked > 20) c.Problem(std::to_string(leaked - 20) + " more leaked pages");
  return report;
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("check");  // a read: nothing changed
}

std::string CheckReport::ToText() const try {
  std::ostringstream o;
  o << (ok ? "OK" : "CORRUPT") << ": generation " << generation << ", " << page_count << " pages ("
    << pages_reachable << " reachable, " << pages_free << " free, " << pages_pending_free << " pending free), "
    << column_families << " column families, " << tables << " tables, " << entries << " entries\n";
  for (const auto& w : warnings) o << "  warning: " << w << "\n";
  for (const auto& p : problems) o << "  problem: " << p << "\n";
  return o.str();
} catch (const std::bad_alloc&) {
  return "out of memory";  // short: needs no allocation
}

std::string CheckReport::ToJson() const try {
  std::ostringstream o;
  o << "{\"ok\": " << (ok ? "true" : "false") << ", \"generation\": " << generation << ", \"page_count\": " << page_count
    << ", \"pages_checked\": " << pages_checked << ", \"pages_reachable\": " << pages_reachable << ", \"pages_free\": "
    << pages_free << ", \"pages_pending_free\": " << pages_pending_free << ", \"column_families\": " << column_families
    << ", \"tables\": " << tables << ", \"entries\": " << entries << ", \"problems\": [";
  for (size_t i = 0; i < problems.size(); i++) o << (i ? ", " : "") << "\"" << JsonEscape(problems[i]) << "\"";
  o << "], \"warnings\": [";
  for (size_t i = 0; i < warnings.size(); i++) o << (i ? ", " : "") << "\"" << JsonEscape(warnings[i]) << "\"";
  o << "]}";
  return o.str();
} catch (const std::bad_alloc&) {
  return "out of memory";  // short: needs no allocation
}

Result<DatabaseStats> Database::Stats() try {
  DatabaseStats st;
  std::shared_ptr<const Snapshot> snap;
  std::map<std::string, CfCounters, std::less<>> counters;
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->closed) return Status::InvalidState(core_->path + ": database is closed");
    snap = core_->current;
    st.page_count = core_->alloc.page_count();
    st.held_pages = core_->alloc.held_count();  // what the checkpoint trigger counts
    st.free_pages = core_->alloc.free_count();
    st.pending_free_pages = core_->alloc.pending_count();
    st.durable_generation = core_->durable_generation;
    st.wal_bytes = core_->wal_bytes_seen;
    st.checkpoint_lsn = core_->checkpoint_lsn;
    st.last_lsn = core_->last_lsn_seen;
    st.checkpoints = core_->checkpoints;
    st.checkpoint_ms_total = core_->checkpoint_ms_total;
    st.checkpoint_pages_written = core_->checkpoint_pages_written;
    counters = core_->cf_counters;
  }
  {
    std::lock_guard<std::mutex> lock(core_->sync_mu);
    st.wal_syncs = core_->syncs;
    st.wal_sync_ns = core_->sync_ns_total;
    st.wal_synced_commits = core_->synced_commits;
    st.wal_records_per_sync = core_->records_per_sync;
  }
  st.wal_sync_waits = core_->sync_waits.load(std::memory_order_relaxed);
  st.wal_sync_wait_ns = core_->sync_wait_ns.load(std::memory_order_relaxed);
  st.wal_writes = core_->log_writes.load(std::memory_order_relaxed);
  st.wal_written_records = core_->log_written_records.load(std::memory_order_relaxed);
  st.wal_records_per_sync.resize(std::size(kSyncHistogramBounds));
  if (core_->wal_file) {
    MANIFOLD_ASSIGN_OR_RETURN(st.wal_file_bytes, core_->wal_file->Size());
  }
  st.page_size = core_->pager->page_size();
  st.generation = snap->generation;
  MANIFOLD_ASSIGN_OR_RETURN(st.file_bytes, core_->file->Size());
  st.cache_bytes_used = core_->pager->cache().used_bytes();
  st.cache_bytes_budget = core_->pager->cache().budget_bytes();
  st.cache_hits = core_->pager->cache().hits();
  st.cache_misses = core_->pager->cache().misses();
  for (const auto& [cf_name, cf] : snap->catalog->cfs) {
    ColumnFamilyStats cs;
    cs.name = cf_name;
    for (const auto& [t_name, t] : cf.tables) {
      cs.tables.push_back(TableStats{t_name, t.tree.entries, t.tree.depth});
      cs.entries += t.tree.entries;
    }
    cs.checkpoint_lsn = cf.checkpoint_lsn;
    if (auto it = counters.find(cf_name); it != counters.end()) {
      cs.commits = it->second.commits;
      cs.aborts = it->second.aborts;
    }
    st.column_families.push_back(std::move(cs));
  }
  return st;
} catch (const std::bad_alloc&) {
  return NoMemoryStatus("stats");
}

std::string DatabaseStats::ToText() const try {
  std::ostringstream o;
  o << "page size:          " << page_size << "\n"
    << "pages:              " << page_count << " (" << free_pages << " free, " << pending_free_pages
    << " pending free)\n"
    << "file size:          " << file_bytes << " bytes\n"
    << "generation:         " << generation << " (durable " << durable_generation << ")\n"
    << "write-ahead log:    " << wal_bytes << " bytes, last LSN " << last_lsn << ", checkpoint LSN "
    << checkpoint_lsn << ", " << wal_synced_commits << " durable commits in " << wal_syncs << " syncs";
  if (wal_syncs > 0) o << " (" << wal_sync_ns / wal_syncs / 1000 << " µs each on average)";
  o << ", " << wal_sync_waits << " waits for commits on their way";
  if (wal_sync_waits > 0) o << " (" << wal_sync_wait_ns / wal_sync_waits / 1000 << " µs each on average)";
  o << ", file " << wal_file_bytes << " bytes\n"
    << "records per sync:   " << HistogramText(wal_records_per_sync) << "\n"
    << "log writes:         " << wal_writes << " of " << wal_written_records << " records\n"
    << "checkpoints:        " << checkpoints << " (" << checkpoint_ms_total << " ms, " << checkpoint_pages_written
    << " pages written)\n"
    << "cache:              " << cache_bytes_used << " of " << cache_bytes_budget << " bytes, " << cache_hits
    << " hits, " << cache_misses << " misses; " << held_pages << " pages held for the next checkpoint\n";
  for (const auto& cf : column_families) {
    o << "column family '" << cf.name << "': " << cf.tables.size() << " tables, " << cf.entries << " entries, "
      << cf.commits << " commits, " << cf.aborts << " aborts since open, checkpointed through LSN "
      << cf.checkpoint_lsn << "\n";
    for (const auto& t : cf.tables) o << "  table '" << t.name << "': " << t.entries << " entries, depth " << t.depth << "\n";
  }
  return o.str();
} catch (const std::bad_alloc&) {
  return "out of memory";  // short: needs no allocation
}

std::string DatabaseStats::ToJson() const try {
  std::ostringstream o;
  o << "{\"page_size\": " << page_size << ", \"page_count\": " << page_count << ", \"free_pages\": " << free_pages
    << ", \"pending_free_pages\": " << pending_free_pages << ", \"file_bytes\": " << file_bytes
    << ", \"generation\": " << generation << ", \"durable_generation\": " << durable_generation
    << ", \"cache_bytes_used\": " << cache_bytes_used << ", \"cache_bytes_budget\": " << cache_bytes_budget
    << ", \"held_pages\": " << held_pages << ", \"cache_hits\": " << cache_hits << ", \"cache_misses\": " << cache_misses << ", \"wal_bytes\": " << wal_bytes
    << ", \"last_lsn\": " << last_lsn << ", \"checkpoint_lsn\": " << checkpoint_lsn << ", \"wal_syncs\": " << wal_syncs
    << ", \"wal_synced_commits\": " << wal_synced_commits << ", \"wal_sync_ns\": " << wal_sync_ns
    << ", \"wal_sync_waits\": " << wal_sync_waits << ", \"wal_sync_wait_ns\": " << wal_sync_wait_ns
    << ", \"wal_file_bytes\": " << wal_file_bytes
    << ", \"wal_writes\": " << wal_writes << ", \"wal_written_records\": " << wal_written_records
    << ", \"wal_records_per_sync\": [";
  for (size_t i = 0; i < wal_records_per_sync.size(); i++) {
    o << (i ? ", " : "") << "{\"le\": ";
    if (kSyncHistogramBounds[i] == UINT64_MAX) {
      o << "\"inf\"";
    } else {
      o << kSyncHistogramBounds[i];
    }
    o << ", \"syncs\": " << wal_records_per_sync[i] << "}";
  }
  o << "], \"checkpoints\": " << checkpoints << ", \"checkpoint_ms_total\": " << checkpoint_ms_total
    << ", \"checkpoint_pages_written\": " << checkpoint_pages_written << ", \"column_families\": [";
  for (size_t i = 0; i < column_families.size(); i++) {
    const auto& cf = column_families[i];
    o << (i ? ", " : "") << "{\"name\": \"" << JsonEscape(cf.name) << "\", \"entries\": " << cf.entries
      << ", \"checkpoint_lsn\": " << cf.checkpoint_lsn << ", \"commits\": " << cf.commits
      << ", \"aborts\": " << cf.aborts << ", \"tables\": [";
    for (size_t j = 0; j < cf.tables.size(); j++) {
      const auto& t = cf.tables[j];
      o << (j ? ", " : "") << "{\"name\": \"" << JsonEscape(t.name) << "\", \"entries\": " << t.entries
        << ", \"depth\": " << t.depth << "}";
    }
    o << "]}";
  }
  o << "]}";
  return o.str();
} catch (const std::bad_alloc&) {
  return "out of memory";  // short: needs no allocation
}

}  // namespace manifold
