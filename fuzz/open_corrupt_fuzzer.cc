// fuzz_open_corrupt: the input is a (mutated) database file.
//
//   byte 0      flags: bit 0 reseal (recompute every stored checksum after the
//               mutation, see Reseal() in fuzz_common.h, so that structural
//               damage gets past the checksums); bit 1 open with the
//               write-ahead log (an empty log beside the file)
//   byte 1..    the data file
//
// Opening, listing, scanning every table both ways, point reads, Check(), a
// small write with a durable commit, and a reopen must all return results or
// clear errors: never crash, hang, leak or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_common.h"
#include "manifold/db.h"

namespace manifold::fuzz {
namespace {

constexpr const char* kPath = "corrupt.db";
constexpr size_t kEntryLimit = 20000;  // per scan: a damaged tree must not make us loop

void ClearError(const Status& s, const char* what) {
  if (!s.ok() && s.message().empty()) Die(std::string(what) + " failed without a message: " + s.ToString());
}

// Reads what it can; every error must carry a message.
void Exercise(Database& db) {
  {
    Result<ReadTransaction> r = db.BeginRead();
    ClearError(r.status(), "BeginRead");
    if (!r.ok()) return;
    Result<std::vector<std::string>> cfs = r->ListColumnFamilies();
    ClearError(cfs.status(), "ListColumnFamilies");
    if (!cfs.ok()) return;
    for (const auto& cf : *cfs) {
      Result<std::vector<std::string>> names = r->ListTables(cf);
      ClearError(names.status(), "ListTables");
      if (!names.ok()) continue;
      for (const auto& n : *names) {
        Result<Table> t = r->OpenTable(n, cf);
        ClearError(t.status(), "OpenTable");
        if (!t.ok()) continue;
        Result<uint64_t> len = t->Len();
        ClearError(len.status(), "Len");
        std::string first, last;
        size_t seen = 0;
        for (Iterator it = t->Scan(); it.Valid() && seen < kEntryLimit; it.Next(), seen++) {
          if (seen == 0) first = std::string(it.key());
          last = std::string(it.key());
          (void)it.value();
        }
        seen = 0;
        for (Iterator it = t->Scan(/*reverse=*/true); it.Valid() && seen < kEntryLimit; it.Next(), seen++) {
          (void)it.value();
        }
        std::string v;
        ClearError(t->Get(first, &v), "Get");
        ClearError(t->Get(last, &v), "Get");
        Iterator it = t->Range(Bound::Included(first), Bound::Excluded(last), /*reverse=*/false);
        if (it.Valid()) it.Seek(last);
        ClearError(it.status(), "Range");
      }
    }
  }
  Result<CheckReport> rep = db.Check();
  ClearError(rep.status(), "Check");
  // A write: allocates from the (possibly damaged) freelist and commits durably.
  Result<WriteTransaction> w = db.BeginWrite();
  ClearError(w.status(), "BeginWrite");
  if (w.ok()) {
    Result<Table> t = w->OpenOrCreateTable("fuzz");
    ClearError(t.status(), "OpenOrCreateTable");
    if (t.ok()) {
      ClearError(t->Put("key", std::string(300, 'v')), "Put");
      ClearError(w->Commit(Durability::kImmediate), "Commit");
    }
  }
}

}  // namespace
}  // namespace manifold::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace manifold;
  using namespace manifold::fuzz;
  if (size < 1 || size > (1u << 20)) return 0;
  const uint8_t flags = data[0];
  std::string image(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((flags & 1) != 0) Reseal(&image);
  auto storage = std::make_shared<MemoryStorage>();
  if (!storage->WriteAll(kPath, image).ok()) Die("WriteAll");
  Options o = FuzzOptions(storage, 0, /*wal=*/(flags & 2) != 0);
  o.create_if_missing = false;
  for (int round = 0; round < 2; round++) {  // the second open sees what the first one wrote
    Result<std::unique_ptr<Database>> db = Database::Open(kPath, o);
    ClearError(db.status(), "Open");
    if (!db.ok()) break;
    Exercise(**db);
    ClearError((*db)->Close(), "Close");
  }
  return 0;
}
