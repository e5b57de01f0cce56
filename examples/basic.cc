// example_basic: a tour of the public Manifold API.
//
//   example_basic DB_PATH
//
// Opens (or creates) the database at DB_PATH, creates the column family
// "metrics" with two tables, writes 5,000 samples in several transactions
// (some durable, some not), scans ranges forwards and backwards, deletes a
// range of keys, shows that an uncommitted transaction leaves no trace,
// reopens the file and verifies it with Database::Check(). Prints what it did
// and exits non-zero, printing the Status, on any error.
//
// Running it twice on the same path is fine: the workload is deterministic and
// the counts it checks are the same on a fresh and an existing database.
#include <manifold/manifold.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace {

constexpr int kBatches = 5;
constexpr int kSamplesPerBatch = 1000;
constexpr int kSamples = kBatches * kSamplesPerBatch;
constexpr int kDeleted = 100;
constexpr int kHosts = 16;

[[noreturn]] void Die(std::string_view what, const manifold::Status& s) {
  std::fprintf(stderr, "example_basic: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               s.ToString().c_str());
  std::exit(1);
}

[[noreturn]] void DieMsg(const std::string& msg) {
  std::fprintf(stderr, "example_basic: %s\n", msg.c_str());
  std::exit(1);
}

void Check(const manifold::Status& s, std::string_view what) {
  if (!s.ok()) Die(what, s);
}

// Unwraps a Result<T> or exits with its Status.
template <typename T>
T Take(manifold::Result<T> r, std::string_view what) {
  if (!r.ok()) Die(what, r.status());
  return std::move(r).value();
}

std::string SampleKey(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "sample/%08d", i);
  return buf;
}

std::string SampleValue(int i) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "{\"host\":\"host-%02d\",\"cpu\":%d.%d,\"mem_mb\":%d}", i % kHosts,
                i % 100, i % 10, 512 + (i * 37) % 4096);
  return buf;
}

std::string HostKey(int h) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "host-%02d", h);
  return buf;
}

// Counts the entries an iterator yields, exiting on an iterator error.
uint64_t Drain(manifold::Iterator it, std::string_view what, std::string* first = nullptr) {
  uint64_t n = 0;
  for (; it.Valid(); it.Next()) {
    if (n == 0 && first != nullptr) *first = std::string(it.key());
    ++n;
  }
  Check(it.status(), what);
  return n;
}

void Expect(uint64_t actual, uint64_t expected, std::string_view what) {
  std::printf("  %-44.*s %8llu\n", static_cast<int>(what.size()), what.data(),
              static_cast<unsigned long long>(actual));
  if (actual != expected) {
    DieMsg(std::string(what) + ": expected " + std::to_string(expected) + ", got " +
           std::to_string(actual));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DB_PATH\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];

  manifold::Options options;
  options.cache_bytes = 8ull << 20;
  std::unique_ptr<manifold::Database> db = Take(manifold::Database::Open(path, options), "open " + path);
  std::printf("opened %s (page size %u)\n", db->path().c_str(), db->page_size());

  // Column family "metrics": an independent keyspace in the same file.
  manifold::Status s = db->CreateColumnFamily("metrics");
  if (!s.ok() && s.code() != manifold::Status::Code::kAlreadyExists) Die("create column family", s);

  // Write the samples in several transactions. Even batches are durable when
  // Commit returns; odd ones are visible at once and become durable with the
  // next durable commit or Sync().
  for (int batch = 0; batch < kBatches; ++batch) {
    manifold::WriteTransaction txn = Take(db->BeginWrite("metrics"), "begin write");
    manifold::Table samples = Take(txn.OpenOrCreateTable("samples"), "open table samples");
    for (int i = batch * kSamplesPerBatch; i < (batch + 1) * kSamplesPerBatch; ++i) {
      Check(samples.Put(SampleKey(i), SampleValue(i)), "put sample");
    }
    const auto durability =
        batch % 2 == 0 ? manifold::Durability::kImmediate : manifold::Durability::kNone;
    Check(txn.Commit(durability), "commit batch");
  }
  {
    manifold::WriteTransaction txn = Take(db->BeginWrite("metrics"), "begin write");
    manifold::Table hosts = Take(txn.OpenOrCreateTable("hosts"), "open table hosts");
    for (int h = 0; h < kHosts; ++h) {
      Check(hosts.Put(HostKey(h), "rack-" + std::to_string(h / 4)), "put host");
    }
    Check(txn.Commit(manifold::Durability::kNone), "commit hosts");
  }
  // The default column family holds a small table of its own.
  {
    manifold::WriteTransaction txn = Take(db->BeginWrite(), "begin write (default)");
    manifold::Table meta = Take(txn.OpenOrCreateTable("meta"), "open table meta");
    Check(meta.Put("written_by", "example_basic"), "put meta");
    Check(txn.Commit(), "commit meta");  // kImmediate: everything before it is durable too
  }
  std::printf("wrote %d samples in %d transactions, %d hosts, 1 meta entry\n", kSamples, kBatches,
              kHosts);

  // Delete the first kDeleted samples in one transaction.
  {
    manifold::WriteTransaction txn = Take(db->BeginWrite("metrics"), "begin write");
    manifold::Table samples = Take(txn.OpenTable("samples"), "open table samples");
    int deleted = 0;
    for (int i = 0; i < kDeleted; ++i) {
      if (Take(samples.Delete(SampleKey(i)), "delete")) ++deleted;
    }
    Check(txn.Commit(), "commit deletes");
    std::printf("deleted %d samples\n", deleted);
    if (deleted != kDeleted) DieMsg("expected every deleted key to exist");
  }

  // A transaction that is never committed leaves no trace.
  {
    manifold::WriteTransaction txn = Take(db->BeginWrite("metrics"), "begin write");
    manifold::Table samples = Take(txn.OpenTable("samples"), "open table samples");
    Check(samples.Put("sample/zzz-never-committed", "x"), "put (aborted)");
  }  // destroyed uncommitted: aborted

  // Read everything back from one consistent snapshot.
  std::printf("reading a snapshot:\n");
  {
    manifold::ReadTransaction snap = Take(db->BeginRead(), "begin read");
    manifold::Table samples = Take(snap.OpenTable("samples", "metrics"), "open samples");
    manifold::Table hosts = Take(snap.OpenTable("hosts", "metrics"), "open hosts");
    manifold::Table meta = Take(snap.OpenTable("meta"), "open meta");

    Expect(Take(samples.Len(), "len"), kSamples - kDeleted, "metrics/samples entries (Len)");
    Expect(Drain(samples.Scan(), "scan"), kSamples - kDeleted, "metrics/samples entries (full scan)");
    Expect(Drain(samples.Range(manifold::Bound::Included(SampleKey(1000)),
                               manifold::Bound::Excluded(SampleKey(2000))),
                 "range scan"),
           1000, "range [sample/00001000, sample/00002000)");
    std::string last;
    Expect(Drain(samples.Range(manifold::Bound::Unbounded(),
                               manifold::Bound::Included(SampleKey(kDeleted + 9)), true),
                 "reverse range scan", &last),
           10, "reverse range (.., sample/00000109]");
    if (last != SampleKey(kDeleted + 9)) DieMsg("reverse scan started at " + last);
    Expect(Drain(samples.Prefix("sample/00002"), "prefix scan"), 1000, "prefix sample/00002");
    Expect(Take(samples.Contains("sample/zzz-never-committed"), "contains") ? 1 : 0, 0,
           "entries of the aborted transaction");
    Expect(Take(samples.Contains(SampleKey(0)), "contains") ? 1 : 0, 0, "deleted key present");
    Expect(Take(hosts.Len(), "len"), kHosts, "metrics/hosts entries");
    Expect(Take(meta.Len(), "len"), 1, "default/meta entries");

    const std::string value = Take(samples.Get(SampleKey(4242)), "get");
    std::printf("  get %s = %s\n", SampleKey(4242).c_str(), value.c_str());
    if (value != SampleValue(4242)) DieMsg("wrong value for " + SampleKey(4242));
    manifold::Result<std::string> missing = samples.Get(SampleKey(1));
    if (missing.ok() || !missing.status().IsNotFound()) DieMsg("deleted key still readable");

    for (const std::string& cf : Take(snap.ListColumnFamilies(), "list column families")) {
      std::printf("  column family %-10s tables:", cf.c_str());
      for (const std::string& t : Take(snap.ListTables(cf), "list tables")) std::printf(" %s", t.c_str());
      std::printf("\n");
    }
  }

  // Close (makes everything durable), reopen and verify the file.
  Check(db->Close(), "close");
  db = Take(manifold::Database::Open(path, options), "reopen " + path);
  {
    manifold::ReadTransaction snap = Take(db->BeginRead(), "begin read after reopen");
    manifold::Table samples = Take(snap.OpenTable("samples", "metrics"), "open samples after reopen");
    Expect(Take(samples.Len(), "len"), kSamples - kDeleted, "metrics/samples entries after reopen");
  }
  manifold::CheckReport report = Take(db->Check(), "check");
  std::printf("integrity check: %s (%llu pages reachable, %llu entries)\n", report.ok ? "ok" : "FAILED",
              static_cast<unsigned long long>(report.pages_reachable),
              static_cast<unsigned long long>(report.entries));
  if (!report.ok) {
    std::fprintf(stderr, "%s\n", report.ToText().c_str());
    return 1;
  }
  Check(db->Close(), "close");
  std::printf("example_basic: ok\n");
  return 0;
}
