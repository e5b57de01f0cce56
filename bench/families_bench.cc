// bench_families: what one commit costs as the number of column families in
// the database, or of tables in the family written, grows. Each commit
// snapshots the catalog (every family and its tables); the catalog shares
// unchanged families and tables between snapshots (engine/src/util/cow_map.h),
// so a commit should cost about the same with 2,048 of them as with one. Manifold only (the peers have nothing like a
// per-commit catalog); in memory (MemoryStorage) and kNone commits, so that
// the disk does not hide the CPU cost: one put of a 24-byte key and a
// 150-byte value into one family per commit.
//
//   bench_families [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "manifold/db.h"
#include "manifold/storage.h"

namespace {

using manifold::Database;
using manifold::Durability;

[[noreturn]] void Die(const std::string& what, const manifold::Status& s) {
  std::fprintf(stderr, "bench_families: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

std::unique_ptr<Database> OpenInMemory() {
  manifold::Options o;
  o.storage = std::make_shared<manifold::MemoryStorage>();
  auto opened = Database::Open("bench.db", o);
  if (!opened.ok()) Die("open", opened.status());
  return std::move(opened).value();
}

// The timed loop: one kNone commit of one put into `table` of `family` per
// iteration.
void CommitLoop(benchmark::State& state, Database& db, const std::string& family, const std::string& table) {
  const std::string value(150, 'v');
  char key[32];
  uint64_t n = 0;
  for (auto _ : state) {
    auto w = db.BeginWrite(family);
    if (!w.ok()) Die("begin", w.status());
    auto t = w->OpenOrCreateTable(table);
    if (!t.ok()) Die("table", t.status());
    std::snprintf(key, sizeof key, "key%021llu", static_cast<unsigned long long>(n++));
    if (manifold::Status s = t->Put(key, value); !s.ok()) Die("put", s);
    if (manifold::Status s = w->Commit(Durability::kNone); !s.ok()) Die("commit", s);
  }
  state.counters["commits/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_CommitAmongFamilies(benchmark::State& state) {
  const int families = static_cast<int>(state.range(0));
  std::unique_ptr<Database> db = OpenInMemory();
  for (int i = 0; i < families; i++) {
    const std::string cf = "family" + std::to_string(i);
    if (manifold::Status s = db->CreateColumnFamily(cf); !s.ok()) Die("create " + cf, s);
  }
  CommitLoop(state, *db, "family0", "t");
}
BENCHMARK(BM_CommitAmongFamilies)->ArgName("families")->Arg(1)->Arg(16)->Arg(256)->Arg(2048)->Unit(benchmark::kMicrosecond);

// The same with one family of `tables` tables (one entry each), the commits
// going to one of them: a writer's copy of its family shares the tables it
// does not change too.
void BM_CommitAmongTables(benchmark::State& state) {
  const int tables = static_cast<int>(state.range(0));
  std::unique_ptr<Database> db = OpenInMemory();
  {
    auto w = db->BeginWrite();
    if (!w.ok()) Die("begin", w.status());
    for (int i = 0; i < tables; i++) {
      auto t = w->OpenOrCreateTable("table" + std::to_string(i));
      if (!t.ok()) Die("create table", t.status());
      if (manifold::Status s = t->Put("k", "v"); !s.ok()) Die("put", s);
    }
    if (manifold::Status s = w->Commit(Durability::kNone); !s.ok()) Die("commit", s);
  }
  CommitLoop(state, *db, std::string(manifold::kDefaultColumnFamily), "table0");
}
BENCHMARK(BM_CommitAmongTables)->ArgName("tables")->Arg(1)->Arg(16)->Arg(256)->Arg(2048)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
