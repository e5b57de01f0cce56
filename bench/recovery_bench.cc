// bench_recovery: how fast a crashed database comes back -- Manifold's
// write-ahead-log replay beside RocksDB's reopen (its WAL replay) after the
// same writes. See bench/README.md.
//
// For each engine, in a fresh child process (fork), N single-put transactions
// (random 24-byte keys, 150-byte values, the same sequence for both engines)
// are written without a sync each, then made durable by one log sync, and the
// child _exit()s without closing the database: a crash after the last sync.
//   Manifold  BeginWrite, OpenTable, Put, Commit(Durability::kNone) x N, then
//             Database::Sync(); checkpoint_wal_bytes / checkpoint_dirty_bytes
//             set out of reach so that no checkpoint runs and the log holds
//             all N records.
//   RocksDB   DB::Put with WriteOptions::sync = false x N, then DB::SyncWAL();
//             write_buffer_size large enough that no flush runs and the WAL
//             holds all N records.
// Then a second fresh child times Database::Open / rocksdb::DB::Open, which
// replay the log and return with the replayed state durable: Manifold syncs
// its log and goes on in it (a log that ended cleanly is not checkpointed at
// open); RocksDB, run twice, either flushes the recovered memtable to a
// level-0 table (its default, avoid_flush_during_recovery = false) or keeps
// its WAL (avoid_flush_during_recovery = true, like Manifold). The child
// checks that every entry is there and closes the database outside the
// timed region.
//
// Environment: MANIFOLD_BENCH_N (transactions, default 1000000),
// MANIFOLD_BENCH_SEED, MANIFOLD_BENCH_REPORT, TMPDIR.

#include <benchmark/benchmark.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include <sys/wait.h>
#include <unistd.h>

#include "bench_report.h"
#include "manifold/db.h"
#include "workload.h"

#if MANIFOLD_BENCH_HAVE_ROCKSDB
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#endif

namespace manifold_bench {
namespace {

constexpr const char* kTool = "bench_recovery";
constexpr const char* kTableName = "kv";
constexpr uint64_t kSpotCheckEvery = 997;  // reads back every 997th key after reopening

uint64_t N() { return EnvU64("MANIFOLD_BENCH_N", kDefaultN); }
uint64_t Seed() { return EnvU64("MANIFOLD_BENCH_SEED", kDefaultSeed) ^ 0x5245434F56455259ull; }  // "RECOVERY"
uint64_t CacheBytes() { return std::max<uint64_t>(uint64_t{256} << 20, N() * 1024); }

// What a child process reports back through a pipe. Plain data.
struct ChildReport {
  int ok = 0;
  char error[512] = {};
  double seconds = 0;          // write phase, or the timed Open
  // Write phase.
  uint64_t last_lsn = 0;
  uint64_t checkpoint_lsn = 0;
  uint64_t wal_bytes = 0;      // log bytes (Manifold: record bytes of the cycle; RocksDB: *.log file sizes)
  uint64_t file_bytes = 0;     // Manifold data file
  uint64_t l0_files = 0;       // RocksDB: level-0 files after the writes (0: nothing was flushed)
  // Reopen.
  uint64_t records = 0;        // Manifold: recovery().records
  uint64_t record_bytes = 0;   // Manifold: recovery().bytes
  double replay_ms = 0;        // Manifold: recovery().milliseconds
  int torn_tail = 0;
  uint64_t entries = 0;        // entries found after reopening
  uint64_t checked = 0;        // keys read back and compared
};

void SetError(ChildReport* r, const std::string& msg) {
  std::snprintf(r->error, sizeof r->error, "%s", msg.c_str());
  r->ok = 0;
}

// Runs fn(&report) in a forked child and returns what it reported. The child
// leaves with _exit(): no destructors, no atexit handlers, no close -- exactly
// what a crash leaves on disk (everything the child synced, plus whatever the
// OS already has in its page cache, which survives a process crash).
template <typename Fn>
ChildReport InChild(Fn fn) {
  ChildReport out;
  int fds[2];
  if (::pipe(fds) != 0) {
    SetError(&out, std::string("pipe: ") + std::strerror(errno));
    return out;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid < 0) {
    SetError(&out, std::string("fork: ") + std::strerror(errno));
    ::close(fds[0]);
    ::close(fds[1]);
    return out;
  }
  if (pid == 0) {
    ::close(fds[0]);
    ChildReport r;
    fn(&r);
    const char* p = reinterpret_cast<const char*>(&r);
    size_t left = sizeof r;
    while (left > 0) {
      ssize_t n = ::write(fds[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  char* p = reinterpret_cast<char*>(&out);
  size_t got = 0;
  while (got < sizeof out) {
    ssize_t n = ::read(fds[0], p + got, sizeof out - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got != sizeof out) {
    out = ChildReport{};
    std::string why = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                          : "exit status " + std::to_string(WEXITSTATUS(status));
    SetError(&out, "child process ended without a report (" + why + ")");
  }
  return out;
}

// The i-th transaction's key and value, generated in order.
class Stream {
 public:
  Stream() : rng_(Seed()) {}
  void Next() {
    rng_.Fill(key_, sizeof key_);
    rng_.Fill(value_, sizeof value_);
  }
  std::string_view key() const { return {key_, sizeof key_}; }
  std::string_view value() const { return {value_, sizeof value_}; }

 private:
  Rng rng_;
  char key_[kKeyBytes];
  char value_[kValueBytes];
};

double Since(int64_t t0) { return static_cast<double>(NowNanos() - t0) / 1e9; }

// ---------------------------------------------------------------- Manifold --

// Nor by time, where the engine has timed checkpoints (0: never). A template,
// so that this compiles against engine versions without the option too.
template <typename O>
void NoTimedCheckpoints(O& o) {
  if constexpr (requires { o.checkpoint_interval_ms = 0; }) o.checkpoint_interval_ms = 0;
}

manifold::Options ManifoldOptions() {
  manifold::Options o;
  o.cache_bytes = CacheBytes();
  o.checkpoint_wal_bytes = uint64_t{1} << 60;    // never: the log must hold all N records
  o.checkpoint_dirty_bytes = uint64_t{1} << 60;
  NoTimedCheckpoints(o);
  return o;
}

void ManifoldWrite(const std::string& path, ChildReport* r) {
  auto db = manifold::Database::Open(path, ManifoldOptions());
  if (!db.ok()) return SetError(r, "manifold Open: " + db.status().ToString());
  {
    auto txn = (*db)->BeginWrite();
    if (!txn.ok()) return SetError(r, "manifold BeginWrite: " + txn.status().ToString());
    auto t = txn->CreateTable(kTableName);
    if (!t.ok()) return SetError(r, "manifold CreateTable: " + t.status().ToString());
    manifold::Status s = txn->Commit(manifold::Durability::kImmediate);
    if (!s.ok()) return SetError(r, "manifold Commit: " + s.ToString());
  }
  auto before = (*db)->Stats();
  if (!before.ok()) return SetError(r, "manifold Stats: " + before.status().ToString());
  Stream st;
  int64_t t0 = NowNanos();
  for (uint64_t i = 0, n = N(); i < n; ++i) {
    st.Next();
    auto txn = (*db)->BeginWrite();
    if (!txn.ok()) return SetError(r, "manifold BeginWrite: " + txn.status().ToString());
    auto t = txn->OpenTable(kTableName);
    if (!t.ok()) return SetError(r, "manifold OpenTable: " + t.status().ToString());
    manifold::Status s = t->Put(st.key(), st.value());
    if (s.ok()) s = txn->Commit(manifold::Durability::kNone);
    if (!s.ok()) return SetError(r, "manifold Put/Commit #" + std::to_string(i) + ": " + s.ToString());
  }
  manifold::Status s = (*db)->Sync();
  if (!s.ok()) return SetError(r, "manifold Sync: " + s.ToString());
  r->seconds = Since(t0);
  auto stats = (*db)->Stats();
  if (!stats.ok()) return SetError(r, "manifold Stats: " + stats.status().ToString());
  r->last_lsn = stats->last_lsn;
  r->checkpoint_lsn = stats->checkpoint_lsn;
  r->wal_bytes = stats->wal_bytes;
  r->file_bytes = stats->file_bytes;
  r->ok = 1;
  // No Close(): the caller _exit()s -- the crash.
  (void)db->release();
}

void ManifoldReopen(const std::string& path, ChildReport* r) {
  manifold::Options o = ManifoldOptions();
  o.create_if_missing = false;
  int64_t t0 = NowNanos();
  auto db = manifold::Database::Open(path, o);
  r->seconds = Since(t0);
  if (!db.ok()) return SetError(r, "manifold Open (recovery): " + db.status().ToString());
  manifold::RecoveryStats rs = (*db)->recovery();
  r->records = rs.records;
  r->record_bytes = rs.bytes;
  r->replay_ms = rs.milliseconds;
  r->torn_tail = rs.torn_tail ? 1 : 0;
  {
    auto rt = (*db)->BeginRead();
    if (!rt.ok()) return SetError(r, "manifold BeginRead: " + rt.status().ToString());
    auto t = rt->OpenTable(kTableName);
    if (!t.ok()) return SetError(r, "manifold OpenTable after recovery: " + t.status().ToString());
    auto len = t->Len();
    if (!len.ok()) return SetError(r, "manifold Len: " + len.status().ToString());
    r->entries = *len;
    Stream st;
    std::string got;
    for (uint64_t i = 0, n = N(); i < n; ++i) {
      st.Next();
      if (i % kSpotCheckEvery != 0 && i != n - 1) continue;
      manifold::Status s = t->Get(st.key(), &got);
      if (!s.ok() || got != st.value()) {
        return SetError(r, "manifold: transaction #" + std::to_string(i) + " missing or wrong after recovery (" +
                               s.ToString() + ")");
      }
      r->checked++;
    }
  }
  manifold::Status s = (*db)->Close();
  if (!s.ok()) return SetError(r, "manifold Close: " + s.ToString());
  r->ok = 1;
}

// ----------------------------------------------------------------- RocksDB --

#if MANIFOLD_BENCH_HAVE_ROCKSDB
// avoid_flush: RocksDB's avoid_flush_during_recovery (default false: Open
// flushes what it replayed to a level-0 table; true: it stays in the WAL).
rocksdb::Options RocksOptions(bool avoid_flush = false) {
  rocksdb::Options o;  // defaults otherwise
  o.create_if_missing = true;
  o.avoid_flush_during_recovery = avoid_flush;
  // One memtable big enough for everything: no flush during the writes, so
  // the WAL holds all N records.
  o.write_buffer_size = static_cast<size_t>(std::max<uint64_t>(uint64_t{1} << 30, N() * 1024));
  return o;
}

uint64_t WalFileBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".log") total += e.file_size(ec);
  }
  return total;
}

void RocksWrite(const std::string& dir, ChildReport* r) {
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(RocksOptions(), dir, &db);
  if (!s.ok()) return SetError(r, "rocksdb Open: " + s.ToString());
  rocksdb::WriteOptions wo;  // sync = false: one SyncWAL at the end, like Manifold's Sync()
  Stream st;
  int64_t t0 = NowNanos();
  for (uint64_t i = 0, n = N(); i < n; ++i) {
    st.Next();
    s = db->Put(wo, rocksdb::Slice(st.key().data(), st.key().size()),
                rocksdb::Slice(st.value().data(), st.value().size()));
    if (!s.ok()) return SetError(r, "rocksdb Put #" + std::to_string(i) + ": " + s.ToString());
  }
  s = db->SyncWAL();
  if (!s.ok()) return SetError(r, "rocksdb SyncWAL: " + s.ToString());
  r->seconds = Since(t0);
  std::string l0;
  if (db->GetProperty("rocksdb.num-files-at-level0", &l0)) r->l0_files = std::strtoull(l0.c_str(), nullptr, 10);
  r->wal_bytes = WalFileBytes(dir);
  r->ok = 1;
  // No Close() and no delete: the caller _exit()s -- the crash.
}

void RocksReopen(const std::string& dir, bool avoid_flush, ChildReport* r) {
  rocksdb::Options o = RocksOptions(avoid_flush);
  o.create_if_missing = false;
  r->wal_bytes = WalFileBytes(dir);
  rocksdb::DB* raw = nullptr;
  int64_t t0 = NowNanos();
  rocksdb::Status s = rocksdb::DB::Open(o, dir, &raw);
  r->seconds = Since(t0);
  if (!s.ok()) return SetError(r, "rocksdb Open (recovery): " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) r->entries++;
    if (!it->status().ok()) return SetError(r, "rocksdb scan: " + it->status().ToString());
  }
  Stream st;
  std::string got;
  for (uint64_t i = 0, n = N(); i < n; ++i) {
    st.Next();
    if (i % kSpotCheckEvery != 0 && i != n - 1) continue;
    s = db->Get(rocksdb::ReadOptions(), rocksdb::Slice(st.key().data(), st.key().size()), &got);
    if (!s.ok() || got != st.value()) {
      return SetError(r, "rocksdb: write #" + std::to_string(i) + " missing or wrong after reopen (" + s.ToString() + ")");
    }
    r->checked++;
  }
  s = db->Close();
  if (!s.ok()) return SetError(r, "rocksdb Close: " + s.ToString());
  r->ok = 1;
}
#endif

// ------------------------------------------------------------- benchmarks --

struct Outcome {
  bool ran = false;
  ChildReport write;
  ChildReport reopen;
};
Outcome g_manifold, g_rocksdb, g_rocksdb_noflush;
bool g_any_error = false;

bool Fail(benchmark::State& state, const std::string& msg) {
  g_any_error = true;
  state.SkipWithError(msg.c_str());
  return false;
}

// Checks one engine's run and fills the counters. False (and the benchmark
// skipped with an error) if something went wrong.
bool Finish(benchmark::State& state, Outcome& o, const char* engine) {
  if (!o.write.ok) return Fail(state, std::string(engine) + " write phase: " + o.write.error);
  if (!o.reopen.ok) return Fail(state, std::string(engine) + " reopen: " + o.reopen.error);
  if (o.reopen.entries != N()) {
    return Fail(state, std::string(engine) + ": " + std::to_string(o.reopen.entries) + " entries after reopening, expected " +
                           std::to_string(N()));
  }
  o.ran = true;
  state.SetIterationTime(o.reopen.seconds);
  state.counters["open_ms"] = o.reopen.seconds * 1e3;
  state.counters["records/s"] = static_cast<double>(N()) / o.reopen.seconds;
  state.counters["write_s"] = o.write.seconds;
  return true;
}

void BM_RecoveryManifold(benchmark::State& state) {
  for (auto _ : state) {
    TempDir dir("recovery");
    std::string path = dir.path() + "/recovery.manifold";
    g_manifold.write = InChild([&](ChildReport* r) { ManifoldWrite(path, r); });
    if (g_manifold.write.ok) g_manifold.reopen = InChild([&](ChildReport* r) { ManifoldReopen(path, r); });
    if (!Finish(state, g_manifold, "manifold")) return;
    const ChildReport& re = g_manifold.reopen;
    state.counters["replayed"] = static_cast<double>(re.records);
    state.counters["replay_ms"] = re.replay_ms;
    state.counters["replay_rec/s"] = re.replay_ms > 0 ? static_cast<double>(re.records) / (re.replay_ms / 1e3) : 0;
    state.counters["replay_MB/s"] =
        re.replay_ms > 0 ? static_cast<double>(re.record_bytes) / 1e6 / (re.replay_ms / 1e3) : 0;
  }
}

#if MANIFOLD_BENCH_HAVE_ROCKSDB
void RunRocksDb(benchmark::State& state, bool avoid_flush, Outcome& out) {
  for (auto _ : state) {
    TempDir dir("recovery");
    std::string path = dir.path() + "/rocksdb";
    out.write = InChild([&](ChildReport* r) { RocksWrite(path, r); });
    if (out.write.ok) out.reopen = InChild([&](ChildReport* r) { RocksReopen(path, avoid_flush, r); });
    if (!Finish(state, out, avoid_flush ? "rocksdb (avoid_flush_during_recovery)" : "rocksdb")) return;
    state.counters["wal_MB"] = static_cast<double>(out.reopen.wal_bytes) / 1e6;
  }
}
void BM_RecoveryRocksDb(benchmark::State& state) { RunRocksDb(state, false, g_rocksdb); }
void BM_RecoveryRocksDbNoFlush(benchmark::State& state) { RunRocksDb(state, true, g_rocksdb_noflush); }
#endif

void Register() {
  benchmark::RegisterBenchmark("Recovery/manifold", BM_RecoveryManifold)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
#if MANIFOLD_BENCH_HAVE_ROCKSDB
  benchmark::RegisterBenchmark("Recovery/rocksdb", BM_RecoveryRocksDb)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("Recovery/rocksdb_avoid_flush", BM_RecoveryRocksDbNoFlush)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
#endif
}

// ---------------------------------------------------------------- reports --

std::string Report() {
  const uint64_t n = N();
  std::string md = "# bench_recovery\n\n";
  std::string text;
  auto para = [&](const std::string& s) {
    text += s + "\n";
    md += s.empty() ? "\n" : s + "  \n";
  };
  auto table = [&](const std::string& title, const TextTable& t) {
    text += "\n" + title + "\n" + t.Text();
    md += "\n### " + title + "\n\n" + t.Markdown();
  };
  para("Machine: " + MachineLine());
  para("N = " + std::to_string(n) + " single-put transactions (" + std::to_string(kKeyBytes) + "-byte random keys, " +
       std::to_string(kValueBytes) +
       "-byte random values), not synced one by one, then one log sync; the writer process then _exit()s without "
       "closing (a crash). A fresh process times Open. Logs are read from the OS page cache (warm), for both engines.");
  para("Open returns with the replayed state durable. Manifold syncs its log and goes on in it (a log that ended "
       "cleanly is not checkpointed at open; the next checkpoint writes the pages). RocksDB runs twice: with its "
       "default (avoid_flush_during_recovery = false: Open flushes the recovered memtable to a level-0 table) and "
       "with avoid_flush_during_recovery = true (the writes stay in its WAL, as Manifold's stay in its log).");

  const ChildReport& mw = g_manifold.write;
  const ChildReport& mr = g_manifold.reopen;
  const ChildReport& rr = g_rocksdb.reopen;
  double m_open = g_manifold.ran ? mr.seconds : 0;
  double r_open = g_rocksdb.ran ? rr.seconds : 0;
  double rn_open = g_rocksdb_noflush.ran ? g_rocksdb_noflush.reopen.seconds : 0;
  double m_replay = g_manifold.ran ? mr.replay_ms / 1e3 : 0;

  TextTable t({"engine", "write phase s", "log MB", "open ms", "records/s (open)", "MB/s (open)",
               "replay ms (stats)", "records/s (stats)", "MB/s (stats)"});
  if (g_manifold.ran) {
    t.Add({"Manifold (WAL replay)", Fmt("%.2f", mw.seconds), Fmt("%.1f", static_cast<double>(mr.record_bytes) / 1e6),
           Fmt("%.0f", m_open * 1e3), Human(static_cast<double>(mr.records) / m_open),
           Fmt("%.1f", static_cast<double>(mr.record_bytes) / 1e6 / m_open), Fmt("%.0f", mr.replay_ms),
           Human(m_replay > 0 ? static_cast<double>(mr.records) / m_replay : 0),
           Fmt("%.1f", m_replay > 0 ? static_cast<double>(mr.record_bytes) / 1e6 / m_replay : 0)});
  } else {
    t.Add({"Manifold (WAL replay)", "error"});
  }
#if MANIFOLD_BENCH_HAVE_ROCKSDB
  auto rocks_row = [&](const char* name, const Outcome& o) {
    if (!o.ran) return t.Add({name, "error"});
    const double open_s = o.reopen.seconds;
    t.Add({name, Fmt("%.2f", o.write.seconds), Fmt("%.1f", static_cast<double>(o.reopen.wal_bytes) / 1e6),
           Fmt("%.0f", open_s * 1e3), Human(static_cast<double>(n) / open_s),
           Fmt("%.1f", static_cast<double>(o.reopen.wal_bytes) / 1e6 / open_s), "-", "-", "-"});
  };
  rocks_row("RocksDB (WAL replay, flush)", g_rocksdb);
  rocks_row("RocksDB (WAL replay, no flush)", g_rocksdb_noflush);
#else
  t.Add({"RocksDB", "not built (install librocksdb-dev)"});
#endif
  table("Recovery of " + std::to_string(n) + " transactions", t);

  if (g_manifold.ran) {
    para("");
    para("Manifold: replayed " + std::to_string(mr.records) + " records (" + std::to_string(mr.record_bytes) +
         " bytes" + (mr.torn_tail ? ", torn tail dropped" : "") + "); after the write phase last_lsn " +
         std::to_string(mw.last_lsn) + ", checkpoint_lsn " + std::to_string(mw.checkpoint_lsn) + ", data file " +
         Fmt("%.1f", static_cast<double>(mw.file_bytes) / 1e6) + " MB; " + std::to_string(mr.checked) +
         " keys read back after recovery.");
    if (mw.last_lsn - mw.checkpoint_lsn < n) {
      para("WARNING: a checkpoint ran during the write phase; the log did not hold all " + std::to_string(n) +
           " transactions.");
    }
  }
  if (g_rocksdb.ran) {
    para("RocksDB: " + std::to_string(g_rocksdb.write.l0_files) + " level-0 files before the crash (0: nothing "
         "flushed, the WAL held every write); " + std::to_string(rr.entries) + " entries and " +
         std::to_string(rr.checked) + " keys read back after reopening.");
  }

  auto verdict = [](double v, double target) { return v <= 0 ? "n/a" : (v >= target ? "yes" : "NO"); };
  double m_rate_stats = m_replay > 0 ? static_cast<double>(mr.records) / m_replay : 0;
  double m_rate_open = m_open > 0 ? static_cast<double>(mr.records) / m_open : 0;
  double speedup = (m_open > 0 && r_open > 0) ? r_open / m_open : 0;
  double speedup_nf = (m_open > 0 && rn_open > 0) ? rn_open / m_open : 0;
  TextTable g({"goal (issue 3)", "target", "measured", "met"}, {false, true, true, true});
  g.Add({"Manifold replay records/s (recovery() stats)", ">= 1.00M", Human(m_rate_stats), verdict(m_rate_stats, 1e6)});
  g.Add({"Manifold records/s (whole Open)", ">= 1.00M", Human(m_rate_open), verdict(m_rate_open, 1e6)});
  g.Add({"RocksDB open time / Manifold open time (RocksDB flushes)", ">= 4.00x",
         speedup > 0 ? Fmt("%.2fx", speedup) : "n/a", verdict(speedup, 4.0)});
  g.Add({"RocksDB open time / Manifold open time (RocksDB avoid_flush)", ">= 4.00x",
         speedup_nf > 0 ? Fmt("%.2fx", speedup_nf) : "n/a", verdict(speedup_nf, 4.0)});
  table("Goals", g);
  std::printf("\n%s", text.c_str());
  std::fflush(stdout);
  return md;
}

}  // namespace
}  // namespace manifold_bench

int main(int argc, char** argv) {
  using namespace manifold_bench;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::printf("%s: N=%" PRIu64 "; temp dirs under %s; RocksDB %s\n", kTool, N(), TempBase().c_str(),
              MANIFOLD_BENCH_HAVE_ROCKSDB ? "built" : "not built (install librocksdb-dev)");
  std::printf("%s: load average at start %s\n", kTool, LoadAverage().c_str());
  std::fflush(stdout);
  Register();
  benchmark::RunSpecifiedBenchmarks();
  std::fflush(stdout);
  std::string md = Report();
  int rc = g_any_error ? 1 : 0;
  if (!WriteReportFile(md, kTool)) rc = 1;
  benchmark::Shutdown();
  return rc;
}
