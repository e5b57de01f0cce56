// Smallest useful program against an installed Manifold: write a few keys in
// one durable transaction, read them back in a snapshot, and print them.
#include <manifold/manifold.h>

#include <cstdio>
#include <string>

namespace {

int Fail(const char* what, const manifold::Status& s) {
  std::fprintf(stderr, "manifold_consumer: %s: %s\n", what, s.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DB_PATH\n", argv[0]);
    return 2;
  }
  auto db = manifold::Database::Open(argv[1]);
  if (!db.ok()) return Fail("open", db.status());

  {
    auto txn = (*db)->BeginWrite();
    if (!txn.ok()) return Fail("begin write", txn.status());
    auto users = txn->OpenOrCreateTable("users");
    if (!users.ok()) return Fail("create table", users.status());
    for (const char* name : {"ada", "grace", "linus"}) {
      manifold::Status s = users->Put(name, std::string("hello, ") + name);
      if (!s.ok()) return Fail("put", s);
    }
    manifold::Status s = txn->Commit(manifold::Durability::kImmediate);
    if (!s.ok()) return Fail("commit", s);
  }

  auto snapshot = (*db)->BeginRead();
  if (!snapshot.ok()) return Fail("begin read", snapshot.status());
  auto users = snapshot->OpenTable("users");
  if (!users.ok()) return Fail("open table", users.status());
  int n = 0;
  auto it = users->Scan();
  for (; it.Valid(); it.Next()) {
    std::printf("%.*s = %.*s\n", static_cast<int>(it.key().size()), it.key().data(),
                static_cast<int>(it.value().size()), it.value().data());
    ++n;
  }
  if (!it.status().ok()) return Fail("scan", it.status());
  if (n != 3) {
    std::fprintf(stderr, "manifold_consumer: expected 3 entries, found %d\n", n);
    return 1;
  }
  snapshot->Close();

  manifold::Status s = (*db)->Close();
  if (!s.ok()) return Fail("close", s);
  std::printf("manifold_consumer: ok\n");
  return 0;
}
