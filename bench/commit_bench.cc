// bench_commit: durable commits per second and commit latency with 1..16
// writer threads -- Manifold (with its write-ahead log and without it),
// RocksDB and LevelDB side by side. See bench/README.md.
//
// Every commit is a single-insert transaction (a random 24-byte key, a random
// 150-byte value) that is on stable storage before the call returns:
//   Manifold  BeginWrite(cf), OpenTable, Put, Commit(Durability::kImmediate)
//   RocksDB   DB::Put with WriteOptions::sync = true
//   LevelDB   DB::Put with WriteOptions::sync = true
// Layouts:
//   own_cf  each writer on its own column family (Manifold: CreateColumnFamily
//           per writer; RocksDB: one column family per writer). LevelDB has no
//           column families: its writers share one DB (the same run is shown in
//           both layouts).
//   one_cf  every writer on one column family (Manifold and RocksDB: default).
// Each configuration runs for a warm-up, then a timed window; commits that
// complete inside the window count, and each one's latency (BeginWrite to
// Commit returning; Put for the peers) is recorded by the writer itself.
//
// Environment: MANIFOLD_BENCH_COMMIT_MS (timed window, default 2000),
// MANIFOLD_BENCH_WARMUP_MS (default 300), MANIFOLD_BENCH_THREADS (default
// 1,2,4,8,16), MANIFOLD_BENCH_SEED, MANIFOLD_BENCH_REPORT, TMPDIR.

#include <benchmark/benchmark.h>

#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_report.h"
#include "manifold/db.h"
#include "workload.h"

#if MANIFOLD_BENCH_HAVE_ROCKSDB
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#endif
#if MANIFOLD_BENCH_HAVE_LEVELDB
#include <leveldb/db.h>
#include <leveldb/options.h>
#endif

namespace manifold_bench {
namespace {

constexpr const char* kTool = "bench_commit";
constexpr const char* kTableName = "kv";

enum class Engine { kManifoldWal, kManifoldNoWal, kRocksDb, kLevelDb };
enum class Layout { kOwnCf, kOneCf };

const char* EngineName(Engine e) {
  switch (e) {
    case Engine::kManifoldWal: return "manifold_wal";
    case Engine::kManifoldNoWal: return "manifold_nowal";
    case Engine::kRocksDb: return "rocksdb";
    case Engine::kLevelDb: return "leveldb";
  }
  return "?";
}
const char* EngineTitle(Engine e) {
  switch (e) {
    case Engine::kManifoldWal: return "Manifold WAL";
    case Engine::kManifoldNoWal: return "Manifold no-WAL";
    case Engine::kRocksDb: return "RocksDB";
    case Engine::kLevelDb: return "LevelDB (shared DB)";
  }
  return "?";
}
const char* LayoutName(Layout l) { return l == Layout::kOwnCf ? "own_cf" : "one_cf"; }

bool EngineBuilt(Engine e) {
  switch (e) {
    case Engine::kRocksDb: return MANIFOLD_BENCH_HAVE_ROCKSDB != 0;
    case Engine::kLevelDb: return MANIFOLD_BENCH_HAVE_LEVELDB != 0;
    default: return true;
  }
}

// ------------------------------------------------------------ the engines --

// One database prepared for `writers` writer threads. Commit() is called
// concurrently by the writers, writer i always passing i. Errors are returned
// as text ("" means success).
class Target {
 public:
  virtual ~Target() = default;
  virtual std::string Open(const std::string& dir, Layout layout, int writers) = 0;
  virtual std::string Commit(int writer, std::string_view key, std::string_view value) = 0;
  virtual std::string Close() = 0;
  // Manifold with its log: durable commits per log sync so far (group commit); 0 if unknown.
  virtual double CommitsPerSync() { return 0; }
  // Average duration of a log sync in µs (Manifold with its log; 0 otherwise).
  virtual double AverageSyncMicros() { return 0; }
};

class ManifoldTarget final : public Target {
 public:
  explicit ManifoldTarget(bool wal) : wal_(wal) {}
  ~ManifoldTarget() override { (void)Close(); }

  std::string Open(const std::string& dir, Layout layout, int writers) override {
    manifold::Options o;
    o.wal = wal_;
    o.create_if_missing = true;
    o.error_if_exists = true;
    auto db = manifold::Database::Open(dir + "/commit.manifold", o);
    if (!db.ok()) return "manifold Open: " + db.status().ToString();
    db_ = std::move(db).value();
    if (layout == Layout::kOneCf) {
      cfs_.assign(writers, std::string(manifold::kDefaultColumnFamily));
    } else {
      for (int i = 0; i < writers; ++i) {
        cfs_.push_back("w" + std::to_string(i));
        manifold::Status s = db_->CreateColumnFamily(cfs_.back());
        if (!s.ok()) return "manifold CreateColumnFamily: " + s.ToString();
      }
    }
    for (const std::string& cf : cfs_) {
      auto txn = db_->BeginWrite(cf);
      if (!txn.ok()) return "manifold BeginWrite: " + txn.status().ToString();
      auto t = txn->OpenOrCreateTable(kTableName);
      if (!t.ok()) return "manifold CreateTable: " + t.status().ToString();
      manifold::Status s = txn->Commit(manifold::Durability::kImmediate);
      if (!s.ok()) return "manifold Commit: " + s.ToString();
    }
    return "";
  }

  std::string Commit(int writer, std::string_view key, std::string_view value) override {
    auto txn = db_->BeginWrite(cfs_[writer]);
    if (!txn.ok()) return "manifold BeginWrite: " + txn.status().ToString();
    auto t = txn->OpenTable(kTableName);
    if (!t.ok()) return "manifold OpenTable: " + t.status().ToString();
    manifold::Status s = t->Put(key, value);
    if (!s.ok()) return "manifold Put: " + s.ToString();
    s = txn->Commit(manifold::Durability::kImmediate);
    if (!s.ok()) return "manifold Commit: " + s.ToString();
    return "";
  }

  double CommitsPerSync() override {
    if (!db_ || !wal_) return 0;
    auto st = db_->Stats();
    if (!st.ok() || st->wal_syncs == 0) return 0;
    return static_cast<double>(st->wal_synced_commits) / static_cast<double>(st->wal_syncs);
  }

  double AverageSyncMicros() override {
    if (!db_ || !wal_) return 0;
    auto st = db_->Stats();
    if (!st.ok() || st->wal_syncs == 0) return 0;
    return static_cast<double>(st->wal_sync_ns) / static_cast<double>(st->wal_syncs) / 1e3;
  }

  std::string Close() override {
    if (!db_) return "";
    manifold::Status s = db_->Close();
    db_.reset();
    return s.ok() ? "" : "manifold Close: " + s.ToString();
  }

 private:
  bool wal_;
  std::unique_ptr<manifold::Database> db_;
  std::vector<std::string> cfs_;
};

#if MANIFOLD_BENCH_HAVE_ROCKSDB
class RocksTarget final : public Target {
 public:
  ~RocksTarget() override { (void)Close(); }

  std::string Open(const std::string& dir, Layout layout, int writers) override {
    rocksdb::Options o;  // defaults otherwise
    o.create_if_missing = true;
    o.error_if_exists = true;
    o.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(o));
    if (layout == Layout::kOwnCf) {
      for (int i = 0; i < writers; ++i) cfs.emplace_back("w" + std::to_string(i), rocksdb::ColumnFamilyOptions(o));
    }
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(rocksdb::DBOptions(o), dir + "/rocksdb", cfs, &handles_, &db);
    if (!s.ok()) return "rocksdb Open: " + s.ToString();
    db_.reset(db);
    for (int i = 0; i < writers; ++i) writer_cf_.push_back(handles_[layout == Layout::kOwnCf ? i + 1 : 0]);
    wo_.sync = true;
    return "";
  }

  std::string Commit(int writer, std::string_view key, std::string_view value) override {
    rocksdb::Status s = db_->Put(wo_, writer_cf_[writer], rocksdb::Slice(key.data(), key.size()),
                                 rocksdb::Slice(value.data(), value.size()));
    return s.ok() ? "" : "rocksdb Put: " + s.ToString();
  }

  std::string Close() override {
    if (!db_) return "";
    std::string err;
    for (auto* h : handles_) {
      rocksdb::Status s = db_->DestroyColumnFamilyHandle(h);
      if (!s.ok() && err.empty()) err = "rocksdb DestroyColumnFamilyHandle: " + s.ToString();
    }
    handles_.clear();
    rocksdb::Status s = db_->Close();
    if (!s.ok() && err.empty()) err = "rocksdb Close: " + s.ToString();
    db_.reset();
    return err;
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::vector<rocksdb::ColumnFamilyHandle*> writer_cf_;
  rocksdb::WriteOptions wo_;
};
#endif

#if MANIFOLD_BENCH_HAVE_LEVELDB
class LevelTarget final : public Target {
 public:
  std::string Open(const std::string& dir, Layout, int) override {
    leveldb::Options o;  // defaults otherwise
    o.create_if_missing = true;
    o.error_if_exists = true;
    leveldb::DB* db = nullptr;
    leveldb::Status s = leveldb::DB::Open(o, dir + "/leveldb", &db);
    if (!s.ok()) return "leveldb Open: " + s.ToString();
    db_.reset(db);
    wo_.sync = true;
    return "";
  }
  std::string Commit(int, std::string_view key, std::string_view value) override {
    leveldb::Status s =
        db_->Put(wo_, leveldb::Slice(key.data(), key.size()), leveldb::Slice(value.data(), value.size()));
    return s.ok() ? "" : "leveldb Put: " + s.ToString();
  }
  std::string Close() override {
    db_.reset();
    return "";
  }

 private:
  std::unique_ptr<leveldb::DB> db_;
  leveldb::WriteOptions wo_;
};
#endif

std::unique_ptr<Target> MakeTarget(Engine e) {
  switch (e) {
    case Engine::kManifoldWal: return std::make_unique<ManifoldTarget>(true);
    case Engine::kManifoldNoWal: return std::make_unique<ManifoldTarget>(false);
#if MANIFOLD_BENCH_HAVE_ROCKSDB
    case Engine::kRocksDb: return std::make_unique<RocksTarget>();
#endif
#if MANIFOLD_BENCH_HAVE_LEVELDB
    case Engine::kLevelDb: return std::make_unique<LevelTarget>();
#endif
    default: return nullptr;
  }
}

// ------------------------------------------------------------------- runs --

struct RunResult {
  uint64_t commits = 0;   // completed inside the timed window
  double seconds = 0;     // length of the timed window
  double p50_ns = 0;
  double p99_ns = 0;
  double commits_per_sync = 0;  // Manifold with its log; 0 otherwise
  double sync_us = 0;           // its average log sync; 0 otherwise
  double commits_per_s() const { return seconds > 0 ? static_cast<double>(commits) / seconds : 0; }
};

std::mutex g_results_mu;
std::map<std::tuple<Layout, Engine, int>, RunResult> g_results;
bool g_any_error = false;

int64_t WindowNanos() { return static_cast<int64_t>(EnvU64("MANIFOLD_BENCH_COMMIT_MS", 2000)) * 1'000'000; }
int64_t WarmupNanos() {
  // 0 is a valid warm-up; EnvU64 treats 0 as invalid, so accept it here.
  const char* s = std::getenv("MANIFOLD_BENCH_WARMUP_MS");
  if (s != nullptr && std::string_view(s) == "0") return 0;
  return static_cast<int64_t>(EnvU64("MANIFOLD_BENCH_WARMUP_MS", 300)) * 1'000'000;
}

// Runs `writers` threads committing into `target` until the window closes.
// Empty string on success.
std::string RunWriters(Target& target, int writers, uint64_t seed, RunResult* out) {
  struct Sample {
    int64_t start, end;
  };
  struct PerWriter {
    std::vector<Sample> samples;
    std::string error;
  };
  std::vector<PerWriter> per(writers);
  std::atomic<int> ready{0};
  std::atomic<int> phase{0};  // 0: wait, 1: run, 2: stop
  std::vector<std::thread> threads;
  threads.reserve(writers);
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      PerWriter& me = per[w];
      me.samples.reserve(1 << 16);
      Rng rng(seed ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(w + 1)));
      char key[kKeyBytes];
      char value[kValueBytes];
      ready.fetch_add(1);
      while (phase.load(std::memory_order_acquire) == 0) std::this_thread::yield();
      while (phase.load(std::memory_order_acquire) == 1) {
        rng.Fill(key, sizeof key);
        rng.Fill(value, sizeof value);
        int64_t t0 = NowNanos();
        std::string err = target.Commit(w, std::string_view(key, sizeof key), std::string_view(value, sizeof value));
        int64_t t1 = NowNanos();
        if (!err.empty()) {
          me.error = std::move(err);
          phase.store(2, std::memory_order_release);
          break;
        }
        me.samples.push_back({t0, t1});
      }
    });
  }
  while (ready.load() < writers) std::this_thread::yield();
  phase.store(1, std::memory_order_release);
  auto sleep_until = [&](int64_t deadline) {
    while (phase.load(std::memory_order_acquire) == 1) {
      int64_t left = deadline - NowNanos();
      if (left <= 0) break;
      std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<int64_t>(left, 10'000'000)));
    }
  };
  int64_t start = NowNanos();
  sleep_until(start + WarmupNanos());
  int64_t window_start = NowNanos();
  sleep_until(window_start + WindowNanos());
  int64_t window_end = NowNanos();
  phase.store(2, std::memory_order_release);
  for (auto& t : threads) t.join();

  std::vector<int64_t> latencies;
  for (const PerWriter& p : per) {
    if (!p.error.empty()) return p.error;
    for (const Sample& s : p.samples) {
      if (s.end >= window_start && s.end < window_end) latencies.push_back(s.end - s.start);
    }
  }
  out->commits = latencies.size();
  out->seconds = static_cast<double>(window_end - window_start) / 1e9;
  out->p50_ns = PercentileNanos(latencies, 0.50);
  out->p99_ns = PercentileNanos(latencies, 0.99);
  return "";
}

void BM_Commit(benchmark::State& state, Layout layout, Engine engine, int writers) {
  for (auto _ : state) {
    RunResult r;
    std::string err;
    {
      TempDir dir("commit");
      std::unique_ptr<Target> target = MakeTarget(engine);
      err = target->Open(dir.path(), layout, writers);
      if (err.empty()) {
        uint64_t seed = EnvU64("MANIFOLD_BENCH_SEED", kDefaultSeed) ^ (static_cast<uint64_t>(writers) << 48) ^
                        (static_cast<uint64_t>(layout) << 40);
        err = RunWriters(*target, writers, seed, &r);
        r.commits_per_sync = target->CommitsPerSync();
        r.sync_us = target->AverageSyncMicros();
      }
      std::string close_err = target->Close();
      if (err.empty()) err = close_err;
    }
    if (!err.empty()) {
      std::lock_guard<std::mutex> lock(g_results_mu);
      g_any_error = true;
      state.SkipWithError(err.c_str());
      return;
    }
    state.SetIterationTime(r.seconds);
    state.counters["commits/s"] = r.commits_per_s();
    state.counters["p50_us"] = r.p50_ns / 1e3;
    state.counters["p99_us"] = r.p99_ns / 1e3;
    state.counters["commits"] = static_cast<double>(r.commits);
    if (r.commits_per_sync > 0) state.counters["commits/sync"] = r.commits_per_sync;
    if (r.sync_us > 0) state.counters["sync_us"] = r.sync_us;
    std::lock_guard<std::mutex> lock(g_results_mu);
    g_results[{layout, engine, writers}] = r;
  }
}

const Engine kEngines[] = {Engine::kManifoldWal, Engine::kManifoldNoWal, Engine::kRocksDb, Engine::kLevelDb};
const Layout kLayouts[] = {Layout::kOwnCf, Layout::kOneCf};

std::vector<int> WriterCounts() { return EnvIntList("MANIFOLD_BENCH_THREADS", {1, 2, 4, 8, 16}); }

// The engines take turns at each writer count, so that a change in the
// machine's background load (sync latency swings with other I/O) hits them at
// about the same time rather than one engine's whole series.
void Register() {
  for (Layout layout : kLayouts) {
    for (int writers : WriterCounts()) {
      for (Engine engine : kEngines) {
        if (!EngineBuilt(engine)) continue;
        // LevelDB has no column families: one run (one shared DB) serves both layouts.
        if (engine == Engine::kLevelDb && layout == Layout::kOneCf) continue;
        std::string name = std::string("Commit/") + (engine == Engine::kLevelDb ? "shared_db" : LayoutName(layout)) +
                           "/" + EngineName(engine) + "/writers:" + std::to_string(writers);
        benchmark::RegisterBenchmark(name.c_str(), BM_Commit, layout, engine, writers)
            ->Iterations(1)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
}

// ---------------------------------------------------------------- reports --

const RunResult* Find(Layout layout, Engine engine, int writers) {
  if (engine == Engine::kLevelDb) layout = Layout::kOwnCf;  // the one shared-DB run
  auto it = g_results.find({layout, engine, writers});
  return it == g_results.end() ? nullptr : &it->second;
}
double Cps(Layout layout, Engine engine, int writers) {
  const RunResult* r = Find(layout, engine, writers);
  return r != nullptr ? r->commits_per_s() : 0;
}
double BestPeer(Layout layout, int writers, std::string* which) {
  double best = 0;
  for (Engine e : {Engine::kRocksDb, Engine::kLevelDb}) {
    double v = Cps(layout, e, writers);
    if (v > best) {
      best = v;
      *which = e == Engine::kRocksDb ? "RocksDB" : "LevelDB";
    }
  }
  return best;
}

struct Tables {
  std::vector<std::pair<std::string, TextTable>> list;
};

Tables BuildTables() {
  Tables out;
  std::vector<int> counts = WriterCounts();
  for (Layout layout : kLayouts) {
    std::vector<std::string> header{"writers"};
    for (Engine e : kEngines) header.push_back(EngineTitle(e));
    TextTable cps(header);
    std::vector<std::string> lheader{"writers"};
    for (Engine e : kEngines) lheader.push_back(EngineTitle(e));
    TextTable lat(lheader);
    for (int w : counts) {
      std::vector<std::string> row{std::to_string(w)};
      std::vector<std::string> lrow{std::to_string(w)};
      for (Engine e : kEngines) {
        const RunResult* r = Find(layout, e, w);
        row.push_back(r != nullptr ? Human(r->commits_per_s()) : (EngineBuilt(e) ? "error" : "not built"));
        lrow.push_back(r != nullptr ? Micros(r->p50_ns) + " / " + Micros(r->p99_ns) : "-");
      }
      cps.Add(row);
      lat.Add(lrow);
    }
    std::string title = layout == Layout::kOwnCf ? "each writer on its own column family" : "all writers on one column family";
    out.list.emplace_back("Durable commits/s, " + title, cps);
    out.list.emplace_back("Commit latency p50 / p99 (µs), " + title, lat);
  }

  // Group commit: how many durable commits shared each log sync, and how long
  // a sync took (what that allows: bench/README.md).
  TextTable group({"layout", "writers", "commits per log sync", "average log sync (µs)"}, {false, true, true, true});
  for (Layout layout : kLayouts) {
    for (int w : counts) {
      const RunResult* r = Find(layout, Engine::kManifoldWal, w);
      const bool have = r != nullptr && r->sync_us > 0;
      group.Add({LayoutName(layout), std::to_string(w),
                 r != nullptr && r->commits_per_sync > 0 ? Fmt("%.2f", r->commits_per_sync) : "-",
                 have ? Fmt("%.0f", r->sync_us) : "-"});
    }
  }
  out.list.emplace_back(
      "Manifold group commit (whole run incl. warm-up, from Stats(): wal_synced_commits / wal_syncs, wal_sync_ns / wal_syncs)",
      group);

  // Ratios at every writer count.
  TextTable ratios({"layout", "writers", "WAL / best peer", "WAL / RocksDB", "no-WAL / best peer", "no-WAL / RocksDB"});
  for (Layout layout : kLayouts) {
    for (int w : counts) {
      std::string which;
      double best = BestPeer(layout, w, &which);
      double rocks = Cps(layout, Engine::kRocksDb, w);
      double mw = Cps(layout, Engine::kManifoldWal, w);
      double mn = Cps(layout, Engine::kManifoldNoWal, w);
      ratios.Add({LayoutName(layout), std::to_string(w), Ratio(mw, best) + (best > 0 ? " (" + which + ")" : ""),
                  Ratio(mw, rocks), Ratio(mn, best), Ratio(mn, rocks)});
    }
  }
  out.list.emplace_back("Ratios (Manifold / peer, durable commits/s; best peer = the faster of RocksDB and LevelDB)",
                        ratios);

  // Goals of issue 3 (own column family per writer, Manifold with its WAL).
  TextTable goals({"goal (issue 3)", "target", "measured", "met"}, {false, true, true, true});
  auto verdict = [](double v, double target) { return v <= 0 ? "n/a" : (v >= target ? "yes" : "NO"); };
  int top = counts.empty() ? 16 : counts.back();
  {
    double mw = Cps(Layout::kOwnCf, Engine::kManifoldWal, top);
    double rocks = Cps(Layout::kOwnCf, Engine::kRocksDb, top);
    double ratio = rocks > 0 ? mw / rocks : 0;
    goals.Add({std::to_string(top) + " writers: Manifold / RocksDB", ">= 2.00x", Ratio(mw, rocks), verdict(ratio, 2.0)});
    goals.Add({std::to_string(top) + " writers: Manifold durable commits/s", ">= 60.0k", Human(mw), verdict(mw, 60000)});
  }
  {
    std::string which;
    double best = BestPeer(Layout::kOwnCf, 1, &which);
    double mw = Cps(Layout::kOwnCf, Engine::kManifoldWal, 1);
    double ratio = best > 0 ? mw / best : 0;
    goals.Add({"1 writer: Manifold / best peer" + (best > 0 ? " (" + which + ")" : std::string()), ">= 1.20x",
               Ratio(mw, best), verdict(ratio, 1.2)});
  }
  out.list.emplace_back("Goals (own column family per writer; Manifold with its WAL, the default)", goals);
  return out;
}

std::string Preamble() {
  std::string s;
  s += "Machine: " + MachineLine() + "\n";
  s += "Window " + std::to_string(WindowNanos() / 1'000'000) + " ms per configuration after a " +
       std::to_string(WarmupNanos() / 1'000'000) + " ms warm-up; single-insert transactions, " +
       std::to_string(kKeyBytes) + "-byte random keys, " + std::to_string(kValueBytes) + "-byte random values.\n";
  s += "Durability: every engine fdatasyncs before acknowledging each commit (Manifold "
       "Commit(kImmediate); RocksDB and LevelDB WriteOptions::sync = true); concurrent commits may share a sync.\n";
  s += "LevelDB has no column families: all its writers share one DB (one run, shown in both layouts).\n";
  return s;
}

}  // namespace
}  // namespace manifold_bench

int main(int argc, char** argv) {
  using namespace manifold_bench;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("%s: temp dirs under %s; RocksDB %s; LevelDB %s\n", kTool, TempBase().c_str(),
              MANIFOLD_BENCH_HAVE_ROCKSDB ? "built" : "not built (install librocksdb-dev)",
              MANIFOLD_BENCH_HAVE_LEVELDB ? "built" : "not built (install libleveldb-dev)");
  std::printf("%s: load average at start %s\n", kTool, LoadAverage().c_str());
  std::fflush(stdout);
  Register();
  benchmark::RunSpecifiedBenchmarks();
  std::fflush(stdout);

  Tables tables = BuildTables();
  std::string pre = Preamble();
  std::printf("\n%s", pre.c_str());
  std::string md = "# bench_commit\n\n";
  for (const std::string& line : {pre}) {
    size_t pos = 0;
    while (pos < line.size()) {
      size_t nl = line.find('\n', pos);
      md += line.substr(pos, nl - pos) + "  \n";
      pos = nl == std::string::npos ? line.size() : nl + 1;
    }
  }
  for (auto& [title, table] : tables.list) {
    std::printf("\n%s\n%s", title.c_str(), table.Text().c_str());
    md += "\n### " + title + "\n\n" + table.Markdown();
  }
  std::fflush(stdout);
  int rc = g_any_error ? 1 : 0;
  if (!WriteReportFile(md, kTool)) rc = 1;
  benchmark::Shutdown();
  return rc;
}
