// bench_kv: Manifold vs LMDB, side by side, in one process, on one data set,
// at the same durability. See bench/README.md.
//
// Benchmarks (each as <Workload>/manifold and <Workload>/lmdb):
//   BulkLoad     all N entries in random key order, one write transaction,
//                one durable commit at the end; items/s = entries/s.
//   PointRead    Get of a random existing key inside one long read
//                transaction; items/s = lookups/s.
//   RangeRead10  seek to a random existing key and read it and the next 9
//                entries; items/s = ranges/s.
// After the run a ratio table (manifold / lmdb) is printed, and written as
// Markdown to $MANIFOLD_BENCH_REPORT when that is set.
//
// Environment: MANIFOLD_BENCH_N (default 1000000), MANIFOLD_BENCH_SEED,
// MANIFOLD_BENCH_LOAD_ITERS (default 3), MANIFOLD_BENCH_CACHE_BYTES,
// MANIFOLD_BENCH_REPORT, TMPDIR.

#include <benchmark/benchmark.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <unistd.h>

#include "manifold/db.h"
#include "workload.h"

#if MANIFOLD_BENCH_HAVE_LMDB
#include <lmdb.h>
#endif

namespace manifold_bench {
namespace {

constexpr const char* kTableName = "kv";
constexpr const char* kManifoldFile = "bench.manifold";

uint64_t ManifoldCacheBytes() {
  // Big enough to hold the whole data set, so reads are served from memory
  // as they are for LMDB (whose mmap is backed by the OS page cache).
  uint64_t n = GlobalWorkload().size();
  uint64_t want = std::max<uint64_t>(uint64_t{256} << 20, n * 1024);
  return EnvU64("MANIFOLD_BENCH_CACHE_BYTES", want);
}

std::string Describe(const manifold::Status& s, const char* what) {
  return std::string("manifold ") + what + ": " + s.ToString();
}

uint64_t FileBytes(const std::string& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(size);
}

// ---------------------------------------------------------------- Manifold --

manifold::Result<std::unique_ptr<manifold::Database>> OpenManifold(const std::string& dir) {
  manifold::Options options;
  options.cache_bytes = ManifoldCacheBytes();
  options.create_if_missing = true;
  options.error_if_exists = true;
  return manifold::Database::Open(dir + "/" + kManifoldFile, options);
}

// The timed part of a bulk load: one write transaction, every entry in
// generation (= random key) order, one durable commit. Empty string on success.
std::string LoadManifold(manifold::Database& db, const Workload& w) {
  auto txn = db.BeginWrite();
  if (!txn.ok()) return Describe(txn.status(), "BeginWrite");
  auto table = txn->CreateTable(kTableName);
  if (!table.ok()) return Describe(table.status(), "CreateTable");
  for (uint64_t i = 0; i < w.size(); ++i) {
    manifold::Status s = table->Put(w.key(i), w.value(i));
    if (!s.ok()) return Describe(s, "Put");
  }
  manifold::Status s = txn->Commit(manifold::Durability::kImmediate);
  if (!s.ok()) return Describe(s, "Commit(kImmediate)");
  return {};
}

// Checks the loaded table: Len() == N, every key maps to its value (this is
// also the cache warm-up pass), and a full scan sees N ascending keys.
std::string VerifyManifold(manifold::Database& db, const Workload& w, bool full) {
  auto txn = db.BeginRead();
  if (!txn.ok()) return Describe(txn.status(), "BeginRead");
  auto table = txn->OpenTable(kTableName);
  if (!table.ok()) return Describe(table.status(), "OpenTable");
  auto len = table->Len();
  if (!len.ok()) return Describe(len.status(), "Len");
  if (*len != w.size()) {
    return "manifold: Len() = " + std::to_string(*len) + " after loading " + std::to_string(w.size()) +
           " distinct keys";
  }
  if (!full) return {};
  for (uint64_t i = 0; i < w.size(); ++i) {
    auto v = table->Get(w.key(i));
    if (!v.ok()) return Describe(v.status(), ("Get of loaded key #" + std::to_string(i)).c_str());
    if (*v != w.value(i)) return "manifold: Get of loaded key #" + std::to_string(i) + " returned a wrong value";
  }
  uint64_t count = 0;
  std::string prev;
  auto it = table->Scan();
  for (; it.Valid(); it.Next()) {
    if (count > 0 && !(prev < it.key())) return "manifold: Scan returned keys out of order at entry #" + std::to_string(count);
    prev.assign(it.key());
    ++count;
  }
  if (!it.status().ok()) return Describe(it.status(), "Scan");
  if (count != w.size()) {
    return "manifold: Scan returned " + std::to_string(count) + " entries, expected " + std::to_string(w.size());
  }
  return {};
}

// The database the read benchmarks share: loaded and verified once, on first
// use, outside any timed region.
struct ManifoldFixture {
  TempDir dir{"manifold-read"};
  std::unique_ptr<manifold::Database> db;
  std::string error;  // non-empty: setup failed, read benchmarks skip
};
std::unique_ptr<ManifoldFixture> g_manifold_fixture;

ManifoldFixture& GetManifoldFixture() {
  if (g_manifold_fixture) return *g_manifold_fixture;
  g_manifold_fixture = std::make_unique<ManifoldFixture>();
  ManifoldFixture& f = *g_manifold_fixture;
  const Workload& w = GlobalWorkload();
  auto t0 = std::chrono::steady_clock::now();
  auto db = OpenManifold(f.dir.path());
  if (!db.ok()) {
    f.error = Describe(db.status(), "Open");
    return f;
  }
  f.db = std::move(*db);
  f.error = LoadManifold(*f.db, w);
  if (f.error.empty()) f.error = VerifyManifold(*f.db, w, /*full=*/true);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "[fixture] manifold: loaded+verified %" PRIu64 " entries in %.2fs%s%s\n", w.size(), secs,
               f.error.empty() ? "" : " -- FAILED: ", f.error.c_str());
  return f;
}

void BM_BulkLoad_Manifold(benchmark::State& state) {
  const Workload& w = GlobalWorkload();
  uint64_t file_bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    {
      TempDir dir("manifold-load");
      auto db = OpenManifold(dir.path());
      if (!db.ok()) {
        state.SkipWithError(Describe(db.status(), "Open").c_str());
        break;
      }
      state.ResumeTiming();
      std::string err = LoadManifold(**db, w);
      state.PauseTiming();
      if (err.empty()) err = VerifyManifold(**db, w, /*full=*/false);
      if (err.empty()) {
        manifold::Status s = (*db)->Close();
        if (!s.ok()) err = Describe(s, "Close");
      }
      file_bytes = FileBytes(dir.path() + "/" + kManifoldFile);
      if (!err.empty()) {
        state.SkipWithError(err.c_str());
        break;
      }
    }  // the directory is removed here, while the timer is paused
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * w.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.size() * (kKeyBytes + kValueBytes)));
  state.counters["file_MiB"] = static_cast<double>(file_bytes) / (1 << 20);
}

void BM_PointRead_Manifold(benchmark::State& state) {
  ManifoldFixture& f = GetManifoldFixture();
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  const Workload& w = GlobalWorkload();
  auto txn = f.db->BeginRead();
  if (!txn.ok()) {
    state.SkipWithError(Describe(txn.status(), "BeginRead").c_str());
    return;
  }
  auto table = txn->OpenTable(kTableName);
  if (!table.ok()) {
    state.SkipWithError(Describe(table.status(), "OpenTable").c_str());
    return;
  }
  Rng rng(w.probe_seed());
  std::string value;  // reused, as LMDB's mdb_get hands back a pointer without allocating
  for (auto _ : state) {
    manifold::Status s = table->Get(w.key(rng.Uniform(w.size())), &value);
    if (!s.ok() || value.size() != kValueBytes) {
      state.SkipWithError(s.ok() ? "manifold: Get returned a value of the wrong size" : Describe(s, "Get").c_str());
      break;
    }
    benchmark::DoNotOptimize(value.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_RangeRead10_Manifold(benchmark::State& state) {
  ManifoldFixture& f = GetManifoldFixture();
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  const Workload& w = GlobalWorkload();
  auto txn = f.db->BeginRead();
  if (!txn.ok()) {
    state.SkipWithError(Describe(txn.status(), "BeginRead").c_str());
    return;
  }
  auto table = txn->OpenTable(kTableName);
  if (!table.ok()) {
    state.SkipWithError(Describe(table.status(), "OpenTable").c_str());
    return;
  }
  Rng rng(w.probe_seed());
  uint64_t entries = 0;
  for (auto _ : state) {
    auto it = table->Range(manifold::Bound::Included(w.key(rng.Uniform(w.size()))), manifold::Bound::Unbounded());
    int got = 0;
    for (; it.Valid(); it.Next()) {
      benchmark::DoNotOptimize(it.key().data());
      benchmark::DoNotOptimize(it.value().data());
      if (++got == kRangeLength) break;
    }
    if (got == 0 || !it.status().ok()) {
      state.SkipWithError(got == 0 ? "manifold: Range from an existing key returned no entry"
                                   : Describe(it.status(), "Range").c_str());
      break;
    }
    entries += static_cast<uint64_t>(got);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["entries/range"] = benchmark::Counter(static_cast<double>(entries), benchmark::Counter::kAvgIterations);
}

// -------------------------------------------------------------------- LMDB --
#if MANIFOLD_BENCH_HAVE_LMDB

uint64_t LmdbMapBytes() {
  uint64_t n = GlobalWorkload().size();
  return std::max<uint64_t>(uint64_t{1} << 30, n * 2048);
}

std::string LmdbError(int rc, const char* what) { return std::string("lmdb ") + what + ": " + mdb_strerror(rc); }

struct LmdbEnv {
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  LmdbEnv() = default;
  LmdbEnv(const LmdbEnv&) = delete;
  LmdbEnv& operator=(const LmdbEnv&) = delete;
  ~LmdbEnv() {
    if (env != nullptr) mdb_env_close(env);
  }
};

// Default flags: no MDB_NOSYNC / MDB_NOMETASYNC / MDB_WRITEMAP, so
// mdb_txn_commit syncs before it returns.
std::string OpenLmdb(LmdbEnv& e, const std::string& dir) {
  int rc = mdb_env_create(&e.env);
  if (rc != 0) return LmdbError(rc, "mdb_env_create");
  rc = mdb_env_set_mapsize(e.env, static_cast<size_t>(LmdbMapBytes()));
  if (rc != 0) return LmdbError(rc, "mdb_env_set_mapsize");
  rc = mdb_env_open(e.env, dir.c_str(), 0, 0644);
  if (rc != 0) return LmdbError(rc, "mdb_env_open");
  return {};
}

// The timed part of a bulk load, mirroring LoadManifold.
std::string LoadLmdb(LmdbEnv& e, const Workload& w) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(e.env, nullptr, 0, &txn);
  if (rc != 0) return LmdbError(rc, "mdb_txn_begin");
  rc = mdb_dbi_open(txn, nullptr, 0, &e.dbi);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return LmdbError(rc, "mdb_dbi_open");
  }
  for (uint64_t i = 0; i < w.size(); ++i) {
    std::string_view k = w.key(i);
    std::string_view v = w.value(i);
    MDB_val key{k.size(), const_cast<char*>(k.data())};
    MDB_val val{v.size(), const_cast<char*>(v.data())};
    rc = mdb_put(txn, e.dbi, &key, &val, 0);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return LmdbError(rc, "mdb_put");
    }
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return LmdbError(rc, "mdb_txn_commit");
  return {};
}

std::string VerifyLmdb(LmdbEnv& e, const Workload& w, bool full) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(e.env, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return LmdbError(rc, "mdb_txn_begin(RDONLY)");
  std::string err;
  MDB_stat st;
  rc = mdb_stat(txn, e.dbi, &st);
  if (rc != 0) {
    err = LmdbError(rc, "mdb_stat");
  } else if (st.ms_entries != w.size()) {
    err = "lmdb: " + std::to_string(st.ms_entries) + " entries after loading " + std::to_string(w.size());
  }
  for (uint64_t i = 0; full && err.empty() && i < w.size(); ++i) {
    std::string_view k = w.key(i);
    MDB_val key{k.size(), const_cast<char*>(k.data())};
    MDB_val val;
    rc = mdb_get(txn, e.dbi, &key, &val);
    if (rc != 0) {
      err = LmdbError(rc, "mdb_get of a loaded key");
    } else if (std::string_view(static_cast<const char*>(val.mv_data), val.mv_size) != w.value(i)) {
      err = "lmdb: wrong value for loaded key #" + std::to_string(i);
    }
  }
  if (full && err.empty()) {  // touch every page once more, in key order
    MDB_cursor* cur = nullptr;
    rc = mdb_cursor_open(txn, e.dbi, &cur);
    if (rc != 0) {
      err = LmdbError(rc, "mdb_cursor_open");
    } else {
      MDB_val key, val;
      uint64_t count = 0;
      for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        ++count;
      }
      if (rc != MDB_NOTFOUND) err = LmdbError(rc, "cursor scan");
      else if (count != w.size()) err = "lmdb: scan saw " + std::to_string(count) + " entries";
      mdb_cursor_close(cur);
    }
  }
  mdb_txn_abort(txn);
  return err;
}

struct LmdbFixture {
  TempDir dir{"lmdb-read"};
  LmdbEnv env;
  std::string error;
};
std::unique_ptr<LmdbFixture> g_lmdb_fixture;

LmdbFixture& GetLmdbFixture() {
  if (g_lmdb_fixture) return *g_lmdb_fixture;
  g_lmdb_fixture = std::make_unique<LmdbFixture>();
  LmdbFixture& f = *g_lmdb_fixture;
  const Workload& w = GlobalWorkload();
  auto t0 = std::chrono::steady_clock::now();
  f.error = OpenLmdb(f.env, f.dir.path());
  if (f.error.empty()) f.error = LoadLmdb(f.env, w);
  if (f.error.empty()) f.error = VerifyLmdb(f.env, w, /*full=*/true);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "[fixture] lmdb: loaded+verified %" PRIu64 " entries in %.2fs%s%s\n", w.size(), secs,
               f.error.empty() ? "" : " -- FAILED: ", f.error.c_str());
  return f;
}

void BM_BulkLoad_Lmdb(benchmark::State& state) {
  const Workload& w = GlobalWorkload();
  uint64_t file_bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    {
      TempDir dir("lmdb-load");
      LmdbEnv env;
      std::string err = OpenLmdb(env, dir.path());
      if (!err.empty()) {
        state.SkipWithError(err.c_str());
        break;
      }
      state.ResumeTiming();
      err = LoadLmdb(env, w);
      state.PauseTiming();
      if (err.empty()) err = VerifyLmdb(env, w, /*full=*/false);
      file_bytes = FileBytes(dir.path() + "/data.mdb");
      if (!err.empty()) {
        state.SkipWithError(err.c_str());
        break;
      }
    }  // env closed and directory removed here, while the timer is paused
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * w.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w.size() * (kKeyBytes + kValueBytes)));
  state.counters["file_MiB"] = static_cast<double>(file_bytes) / (1 << 20);
}

void BM_PointRead_Lmdb(benchmark::State& state) {
  LmdbFixture& f = GetLmdbFixture();
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  const Workload& w = GlobalWorkload();
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(f.env.env, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) {
    state.SkipWithError(LmdbError(rc, "mdb_txn_begin(RDONLY)").c_str());
    return;
  }
  Rng rng(w.probe_seed());
  for (auto _ : state) {
    std::string_view k = w.key(rng.Uniform(w.size()));
    MDB_val key{k.size(), const_cast<char*>(k.data())};
    MDB_val val;
    rc = mdb_get(txn, f.env.dbi, &key, &val);
    if (rc != 0 || val.mv_size != kValueBytes) {
      state.SkipWithError(rc != 0 ? LmdbError(rc, "mdb_get").c_str() : "lmdb: value of the wrong size");
      break;
    }
    benchmark::DoNotOptimize(val.mv_data);
  }
  mdb_txn_abort(txn);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_RangeRead10_Lmdb(benchmark::State& state) {
  LmdbFixture& f = GetLmdbFixture();
  if (!f.error.empty()) {
    state.SkipWithError(f.error.c_str());
    return;
  }
  const Workload& w = GlobalWorkload();
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(f.env.env, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) {
    state.SkipWithError(LmdbError(rc, "mdb_txn_begin(RDONLY)").c_str());
    return;
  }
  Rng rng(w.probe_seed());
  uint64_t entries = 0;
  for (auto _ : state) {
    // A cursor per range, as Manifold builds an iterator per range.
    MDB_cursor* cur = nullptr;
    rc = mdb_cursor_open(txn, f.env.dbi, &cur);
    if (rc != 0) {
      state.SkipWithError(LmdbError(rc, "mdb_cursor_open").c_str());
      break;
    }
    std::string_view k = w.key(rng.Uniform(w.size()));
    MDB_val key{k.size(), const_cast<char*>(k.data())};
    MDB_val val;
    int got = 0;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
      benchmark::DoNotOptimize(key.mv_data);
      benchmark::DoNotOptimize(val.mv_data);
      if (++got == kRangeLength) break;
    }
    mdb_cursor_close(cur);
    if (got == 0 || (rc != 0 && rc != MDB_NOTFOUND)) {
      state.SkipWithError(got == 0 ? "lmdb: MDB_SET_RANGE from an existing key found nothing"
                                   : LmdbError(rc, "MDB_NEXT").c_str());
      break;
    }
    entries += static_cast<uint64_t>(got);
  }
  mdb_txn_abort(txn);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["entries/range"] = benchmark::Counter(static_cast<double>(entries), benchmark::Counter::kAvgIterations);
}

#endif  // MANIFOLD_BENCH_HAVE_LMDB

// ------------------------------------------------------ reporting & ratios --

const char* const kWorkloads[] = {"BulkLoad", "PointRead", "RangeRead10"};
const char* const kDurabilityLine =
    "Durability: both engines make the load durable once, at commit end (Manifold Commit(Durability::kImmediate); "
    "LMDB mdb_txn_commit with default sync flags); reads run in one read transaction against a warm in-memory "
    "cache (Manifold page cache sized to hold the data set; LMDB mmap over the OS page cache).";

struct Measurement {
  double items_per_second_sum = 0;
  int runs = 0;
  std::string error;
};

// Forwards everything to the display reporter and remembers items/s per
// benchmark (family name such as "PointRead/manifold").
class CollectingReporter : public benchmark::BenchmarkReporter {
 public:
  explicit CollectingReporter(std::unique_ptr<benchmark::BenchmarkReporter> inner) : inner_(std::move(inner)) {}

  bool ReportContext(const Context& context) override { return inner_->ReportContext(context); }
  void ReportRuns(const std::vector<Run>& runs) override {
    inner_->ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration) continue;  // aggregates are recomputed below
      Measurement& m = results_[run.run_name.function_name];
      if (run.error_occurred) {
        m.error = run.error_message;
        any_error_ = true;
        continue;
      }
      auto it = run.counters.find("items_per_second");
      if (it == run.counters.end()) continue;
      m.items_per_second_sum += it->second.value;
      ++m.runs;
    }
  }
  void Finalize() override { inner_->Finalize(); }

  const std::map<std::string, Measurement>& results() const { return results_; }
  bool any_error() const { return any_error_; }

 private:
  std::unique_ptr<benchmark::BenchmarkReporter> inner_;
  std::map<std::string, Measurement> results_;
  bool any_error_ = false;
};

std::string FormatRate(double v) {
  char buf[64];
  if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.3fM", v / 1e6);
  else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

struct Row {
  std::string workload, manifold, lmdb, ratio;
};

std::vector<Row> BuildRows(const std::map<std::string, Measurement>& results) {
  auto cell = [&](const std::string& name, double* value) -> std::string {
    auto it = results.find(name);
    if (it == results.end()) return "not run";
    if (!it->second.error.empty()) return "error";
    if (it->second.runs == 0) return "n/a";
    *value = it->second.items_per_second_sum / it->second.runs;
    return FormatRate(*value);
  };
  std::vector<Row> rows;
  for (const char* wl : kWorkloads) {
    double m = -1, l = -1;
    Row row;
    row.workload = wl;
    row.manifold = cell(std::string(wl) + "/manifold", &m);
#if MANIFOLD_BENCH_HAVE_LMDB
    row.lmdb = cell(std::string(wl) + "/lmdb", &l);
#else
    row.lmdb = "not built";
#endif
    if (m > 0 && l > 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", m / l);
      row.ratio = buf;
    } else {
      row.ratio = "-";
    }
    if (row.manifold != "not run" || row.lmdb != "not run") rows.push_back(std::move(row));
  }
  return rows;
}

std::string DataLine() {
  const Workload& w = GlobalWorkload();
  char buf[256];
  std::snprintf(buf, sizeof buf, "Data: N=%" PRIu64 " entries, %zu-byte random keys, %zu-byte random values, seed=%" PRIu64
                " (0x%016" PRIx64 "), keys loaded in random order.",
                w.size(), kKeyBytes, kValueBytes, w.seed(), w.seed());
  return buf;
}

void PrintTable(FILE* out, const std::vector<Row>& rows, const std::map<std::string, Measurement>& results) {
  std::fprintf(out, "\n=== Manifold vs LMDB (items/s; higher is better; ratio > 1 means Manifold is faster) ===\n");
  std::fprintf(out, "%-12s %16s %16s %16s\n", "workload", "manifold items/s", "lmdb items/s", "manifold/lmdb");
  for (const Row& r : rows) {
    std::fprintf(out, "%-12s %16s %16s %16s\n", r.workload.c_str(), r.manifold.c_str(), r.lmdb.c_str(), r.ratio.c_str());
  }
  for (const auto& [name, m] : results) {
    if (!m.error.empty()) std::fprintf(out, "error in %s: %s\n", name.c_str(), m.error.c_str());
  }
  std::fprintf(out, "%s\n%s\n", DataLine().c_str(), kDurabilityLine);
#if !MANIFOLD_BENCH_HAVE_LMDB
  std::fprintf(out, "LMDB: not built (lmdb.h / liblmdb not found at configure time).\n");
#endif
  std::fflush(out);
}

bool WriteMarkdown(const std::string& path, const std::vector<Row>& rows,
                   const std::map<std::string, Measurement>& results) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    std::perror(("bench: cannot write " + path).c_str());
    return false;
  }
  std::fprintf(f, "| workload | manifold items/s | lmdb items/s | manifold/lmdb |\n");
  std::fprintf(f, "|---|---:|---:|---:|\n");
  for (const Row& r : rows) {
    std::fprintf(f, "| %s | %s | %s | %s |\n", r.workload.c_str(), r.manifold.c_str(), r.lmdb.c_str(), r.ratio.c_str());
  }
  std::fprintf(f, "\n");
  for (const auto& [name, m] : results) {
    if (!m.error.empty()) std::fprintf(f, "- error in `%s`: %s\n", name.c_str(), m.error.c_str());
  }
  std::fprintf(f, "- %s\n- %s\n", DataLine().c_str(), kDurabilityLine);
#if !MANIFOLD_BENCH_HAVE_LMDB
  std::fprintf(f, "- LMDB: not built.\n");
#endif
  return std::fclose(f) == 0;
}

void Register() {
  const int64_t load_iters = static_cast<int64_t>(EnvU64("MANIFOLD_BENCH_LOAD_ITERS", 3));
  auto load = [&](const char* name, void (*fn)(benchmark::State&)) {
    benchmark::RegisterBenchmark(name, fn)->Iterations(load_iters)->UseRealTime()->Unit(benchmark::kMillisecond);
  };
  auto read = [&](const char* name, void (*fn)(benchmark::State&)) {
    // Iteration count from --benchmark_min_time (main() defaults it to 1s).
    benchmark::RegisterBenchmark(name, fn)->UseRealTime()->Unit(benchmark::kNanosecond);
  };
  load("BulkLoad/manifold", BM_BulkLoad_Manifold);
#if MANIFOLD_BENCH_HAVE_LMDB
  load("BulkLoad/lmdb", BM_BulkLoad_Lmdb);
#endif
  read("PointRead/manifold", BM_PointRead_Manifold);
#if MANIFOLD_BENCH_HAVE_LMDB
  read("PointRead/lmdb", BM_PointRead_Lmdb);
#endif
  read("RangeRead10/manifold", BM_RangeRead10_Manifold);
#if MANIFOLD_BENCH_HAVE_LMDB
  read("RangeRead10/lmdb", BM_RangeRead10_Lmdb);
#endif
}

}  // namespace
}  // namespace manifold_bench

int main(int argc, char** argv) {
  using namespace manifold_bench;
  // Flags Initialize() consumes but we need too, and a 1 s default min time
  // for the read benchmarks (the library default is 0.5 s).
  bool json = false, have_min_time = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--benchmark_format=json") json = true;
    if (a.starts_with("--benchmark_format=") && a != "--benchmark_format=json" && a != "--benchmark_format=console") {
      std::fprintf(stderr, "bench_kv: only --benchmark_format=console|json are supported (use --benchmark_out for csv)\n");
      return 1;
    }
    if (a.starts_with("--benchmark_min_time")) have_min_time = true;
  }
  std::vector<char*> args(argv, argv + argc);
  std::string default_min_time = "--benchmark_min_time=1";
  if (!have_min_time) args.insert(args.begin() + 1, default_min_time.data());
  int args_count = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&args_count, args.data());
  if (benchmark::ReportUnrecognizedArguments(args_count, args.data())) return 1;

  FILE* info = json ? stderr : stdout;  // keep stdout pure JSON with --benchmark_format=json
  auto t0 = std::chrono::steady_clock::now();
  const Workload& w = GlobalWorkload();
  double gen_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const char* tmp = std::getenv("TMPDIR");
  std::fprintf(info, "bench_kv: %s\n", DataLine().c_str());
  std::fprintf(info, "bench_kv: generated in %.2fs; temp dirs under %s; manifold cache_bytes=%" PRIu64
                     "; lmdb: %s\n",
               gen_secs, tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", ManifoldCacheBytes(),
#if MANIFOLD_BENCH_HAVE_LMDB
               ("map size " + std::to_string(LmdbMapBytes())).c_str()
#else
               "not built"
#endif
  );
  std::fflush(info);
  (void)w;

  Register();
  std::unique_ptr<benchmark::BenchmarkReporter> display;
  if (json) {
    display = std::make_unique<benchmark::JSONReporter>();
  } else {
    display = std::make_unique<benchmark::ConsoleReporter>(
        isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_Color : benchmark::ConsoleReporter::OO_None);
  }
  CollectingReporter reporter(std::move(display));
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::fflush(stdout);

  // Close the shared databases and remove their directories.
  int rc = 0;
  if (g_manifold_fixture && g_manifold_fixture->db) {
    manifold::Status s = g_manifold_fixture->db->Close();
    if (!s.ok()) {
      std::fprintf(stderr, "bench_kv: %s\n", Describe(s, "Close").c_str());
      rc = 1;
    }
  }
  g_manifold_fixture.reset();
#if MANIFOLD_BENCH_HAVE_LMDB
  g_lmdb_fixture.reset();
#endif

  std::vector<Row> rows = BuildRows(reporter.results());
  PrintTable(info, rows, reporter.results());
  if (const char* report = std::getenv("MANIFOLD_BENCH_REPORT"); report != nullptr && *report != '\0') {
    if (WriteMarkdown(report, rows, reporter.results())) {
      std::fprintf(info, "bench_kv: wrote %s\n", report);
    } else {
      rc = 1;
    }
  }
  benchmark::Shutdown();
  if (reporter.any_error()) rc = 1;
  return rc;
}
