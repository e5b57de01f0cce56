// Bad input never crashes and never silently returns wrong data: files that
// are not databases, truncated files, a flipped bit in any page or header
// slot, wrong page sizes, locked files, oversized input, failed syncs.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "pager/header.h"
#include "testing/test_util.h"

namespace manifold {
namespace {

using testing::Dump;
// These tests damage the data file itself, so they run without the log: every
// commit is then a checkpoint, and "the previous commit" is the older header slot.
Options MemOptions(std::shared_ptr<MemoryStorage> storage, uint32_t page_size = 0) {
  Options o = testing::MemOptions(std::move(storage), page_size);
  o.wal = false;
  return o;
}
using testing::Must;

using Contents = std::map<std::string, std::map<std::string, std::string>>;  // table -> entries

// Everything in the default column family, or the first error.
Result<Contents> ReadAll(Database& db) {
  MANIFOLD_ASSIGN_OR_RETURN(auto r, db.BeginRead());
  MANIFOLD_ASSIGN_OR_RETURN(auto names, r.ListTables());
  Contents c;
  for (const auto& n : names) {
    MANIFOLD_ASSIGN_OR_RETURN(auto t, r.OpenTable(n));
    auto& m = c[n];
    auto it = t.Scan();
    for (; it.Valid(); it.Next()) m.emplace(std::string(it.key()), std::string(it.value()));
    MANIFOLD_RETURN_IF_ERROR(it.status());
  }
  return c;
}

// A small database with branch pages, an overflow value and a freelist.
std::shared_ptr<MemoryStorage> MakeSample(uint32_t ps, Contents* previous, Contents* final) {
  auto storage = std::make_shared<MemoryStorage>();
  auto db = Must(Database::Open("s.db", MemOptions(storage, ps)));
  for (int round = 0; round < 3; round++) {
    auto w = Must(db->BeginWrite());
    auto t = Must(w.OpenOrCreateTable("t" + std::to_string(round % 2)));
    for (int i = 0; i < 60; i++) {
      EXPECT_OK(t.Put("key" + std::to_string(i * 7 + round), std::string(20 + i, static_cast<char>('a' + round))));
    }
    EXPECT_OK(t.Put("big", std::string(3 * ps + 5, 'B')));
    if (round == 2) *previous = Must(ReadAll(*db));
    EXPECT_OK(w.Commit());
  }
  *final = Must(ReadAll(*db));
  return storage;
}

TEST(CorruptionTest, NotADatabase) {
  auto storage = std::make_shared<MemoryStorage>();
  ASSERT_OK(storage->WriteAll("x.db", std::string(8192, 'z')));
  Status s = Database::Open("x.db", MemOptions(storage)).status();
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("is not a Manifold database"), std::string::npos) << s.ToString();
  ASSERT_OK(storage->WriteAll("tiny.db", "hi"));
  s = Database::Open("tiny.db", MemOptions(storage)).status();
  EXPECT_NE(s.message().find("only 2 bytes"), std::string::npos) << s.ToString();
}

TEST(CorruptionTest, TruncatedDatabase) {
  Contents prev, fin;
  auto storage = MakeSample(512, &prev, &fin);
  std::string image = Must(storage->ReadAll("s.db"));
  auto h0 = Must(HeaderSlot::Decode(image.data(), "slot0"));
  auto h1 = Must(HeaderSlot::Decode(image.data() + 512, "slot1"));
  size_t used = std::max(h0.page_count, h1.page_count) * 512;  // the file may be longer (grown in steps)
  for (size_t len : {used / 2, used - 512, size_t{700}}) {
    ASSERT_OK(storage->WriteAll("s.db", image.substr(0, len)));
    Status s = Database::Open("s.db", MemOptions(storage)).status();
    EXPECT_FALSE(s.ok()) << len;
    EXPECT_NE(s.message().find("truncated"), std::string::npos) << s.ToString();
  }
}

// For every page and a random bit in it: opening, reading and checking either
// report an error or return exactly the data that was committed.
TEST(CorruptionTest, FlippedBitInAnyPageIsDetectedOrHarmless) {
  uint64_t seed = testing::TestSeed("FlippedBitInAnyPage");
  std::mt19937_64 rng(seed);
  for (uint32_t ps : {512u, 4096u}) {
    Contents prev, fin;
    auto storage = MakeSample(ps, &prev, &fin);
    const std::string image = Must(storage->ReadAll("s.db"));
    const size_t pages = image.size() / ps;
    int detected = 0, harmless = 0, fell_back = 0;
    for (size_t p = 0; p < pages; p++) {
      for (int trial = 0; trial < 3; trial++) {
        std::string bad = image;
        size_t byte = p < 2 ? rng() % kHeaderSlotBytes : rng() % ps;  // header pages: within the slot
        char& flipped = bad[p * ps + byte];
        flipped = static_cast<char>(static_cast<unsigned char>(flipped) ^ (1u << (rng() % 8)));
        ASSERT_OK(storage->WriteAll("s.db", bad));
        Result<std::unique_ptr<Database>> db = Database::Open("s.db", MemOptions(storage));
        if (!db.ok()) {
          EXPECT_EQ(db.status().code(), Status::Code::kCorruption) << db.status().ToString();
          detected++;
          continue;
        }
        Result<CheckReport> rep = (*db)->Check();
        Result<Contents> c = ReadAll(**db);
        if (!rep.ok() || !rep->ok || !c.ok()) {
          detected++;
          continue;
        }
        if (*c == fin) {
          harmless++;  // an unused byte (free page, slack after an overflow value)
        } else {
          // Only a damaged newest header slot may send us back one commit.
          EXPECT_LT(p, 2u) << "page " << p << " byte " << byte << " seed " << seed << ": wrong data, no error";
          EXPECT_EQ(*c, prev) << "page " << p << " byte " << byte;
          fell_back++;
        }
      }
    }
    EXPECT_GT(detected, static_cast<int>(pages));  // most pages are in use
    std::printf("page size %u: %zu pages, %d detected, %d harmless, %d fell back to the older header\n", ps, pages,
                detected, harmless, fell_back);
  }
}

TEST(CorruptionTest, OneCorruptHeaderSlotFallsBackBothCorruptIsAnError) {
  Contents prev, fin;
  auto storage = MakeSample(4096, &prev, &fin);
  std::string image = Must(storage->ReadAll("s.db"));
  // Find the newest slot.
  auto h0 = HeaderSlot::Decode(image.data(), "slot0");
  auto h1 = HeaderSlot::Decode(image.data() + 4096, "slot1");
  ASSERT_TRUE(h0.ok() && h1.ok());
  size_t newest = h1->generation > h0->generation ? 4096 : 0, older = 4096 - newest;
  std::string bad = image;
  bad[newest + 20] ^= 1;  // inside the generation field
  ASSERT_OK(storage->WriteAll("s.db", bad));
  {
    auto db = Must(Database::Open("s.db", MemOptions(storage)));
    EXPECT_EQ(Must(ReadAll(*db)), prev);  // the previous commit, intact
    auto rep = Must(db->Check());
    EXPECT_TRUE(rep.ok) << rep.ToText();
    ASSERT_EQ(rep.warnings.size(), 1u) << rep.ToText();  // but the damaged slot is reported
    EXPECT_NE(rep.warnings[0].find("is invalid"), std::string::npos);
  }
  bad = image;
  bad[newest + 3] ^= 0x10;
  bad[older + 100] ^= 0x01;
  ASSERT_OK(storage->WriteAll("s.db", bad));
  Status s = Database::Open("s.db", MemOptions(storage)).status();
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("both header slots"), std::string::npos) << s.ToString();
}

TEST(CorruptionTest, WrongPageSize) {
  Contents prev, fin;
  auto storage = MakeSample(4096, &prev, &fin);
  Status s = Database::Open("s.db", MemOptions(storage, 8192)).status();
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("created with page size 4096"), std::string::npos) << s.ToString();
  EXPECT_EQ(Database::Open("new.db", MemOptions(storage, 3000)).status().code(), Status::Code::kInvalidArgument);
  // A header whose page size field is invalid (with a valid checksum).
  std::string image = Must(storage->ReadAll("s.db"));
  for (size_t off : {size_t{0}, size_t{4096}}) {
    HeaderSlot h = Must(HeaderSlot::Decode(image.data() + off, "slot"));
    char buf[kHeaderSlotBytes];
    h.EncodeTo(buf);
    EncodeU32(buf + 12, 3000);
    EncodeU32(buf + 124, crc32c::Mask(crc32c::Value(buf, 124)));
    image.replace(off, kHeaderSlotBytes, buf, kHeaderSlotBytes);
  }
  ASSERT_OK(storage->WriteAll("s.db", image));
  s = Database::Open("s.db", MemOptions(storage)).status();
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("invalid page size 3000"), std::string::npos) << s.ToString();
}

TEST(CorruptionTest, DatabaseOpenInAnotherProcessIsBusy) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("manifold-lock-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "db").string();
  auto db = Must(Database::Open(path));
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Status s = Database::Open(path).status();
    _exit(s.code() == Status::Code::kBusy && s.message().find("locked") != std::string::npos ? 0 : 1);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << "child did not get kBusy";
  // Same process, second handle: also refused.
  EXPECT_EQ(Database::Open(path).status().code(), Status::Code::kBusy);
  db.reset();
  EXPECT_TRUE(Database::Open(path).ok());  // released on close
  std::filesystem::remove_all(dir);
}

TEST(CorruptionTest, OversizedValueRejected) {
  auto storage = std::make_shared<MemoryStorage>();
  auto db = Must(Database::Open("v.db", MemOptions(storage)));
  auto w = Must(db->BeginWrite());
  auto t = Must(w.OpenOrCreateTable("t"));
  std::string small = "x";
  // Only the length is looked at before the value is rejected.
  Status s = t.Put("k", std::string_view(small.data(), kValueBytesMax + 1));
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("exceeds the limit"), std::string::npos);
}

TEST(CorruptionTest, FailedSyncPoisonsReadsContinueReopenRecovers) {
  auto storage = std::make_shared<MemoryStorage>();
  auto db = Must(Database::Open("p.db", MemOptions(storage)));
  {
    auto w = Must(db->BeginWrite());
    ASSERT_OK(Must(w.OpenOrCreateTable("t")).Put("good", "1"));
    ASSERT_OK(w.Commit());
  }
  storage->SetSyncHook([](uint64_t, const std::string&) { return Status::IOError("fsync p.db: Input/output error"); });
  {
    auto w = Must(db->BeginWrite());
    ASSERT_OK(Must(w.OpenTable("t")).Put("lost", "2"));
    Status s = w.Commit();
    EXPECT_EQ(s.code(), Status::Code::kIOError);
    EXPECT_NE(s.message().find("Input/output error"), std::string::npos);
  }
  storage->SetSyncHook(nullptr);  // the device "recovers": the database must still refuse
  Status s = db->BeginWrite().status();
  EXPECT_EQ(s.code(), Status::Code::kPoisoned);
  EXPECT_NE(s.message().find("Input/output error"), std::string::npos) << s.ToString();
  EXPECT_EQ(db->Sync().code(), Status::Code::kPoisoned);
  {
    auto r = Must(db->BeginRead());
    EXPECT_EQ(Must(Must(r.OpenTable("t")).Get("good")), "1");  // reads keep working
  }
  EXPECT_EQ(db->Close().code(), Status::Code::kPoisoned);  // nothing more could be made durable
  db.reset();
  storage->SimulatePowerLoss();
  db = Must(Database::Open("p.db", MemOptions(storage)));
  auto r = Must(db->BeginRead());
  auto t = Must(r.OpenTable("t"));
  EXPECT_EQ(Must(t.Get("good")), "1");
  EXPECT_TRUE(t.Get("lost").status().IsNotFound());
}

TEST(LargeValueTest, OneGiBValueOnNativeFiles) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("manifold-big-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "db").string();
  std::string value(size_t{1} << 30, '\0');
  for (size_t i = 0; i < value.size(); i += 4096) value[i] = static_cast<char>(i >> 12);
  {
    auto db = Must(Database::Open(path));
    auto w = Must(db->BeginWrite());
    ASSERT_OK(Must(w.OpenOrCreateTable("t")).Put("huge", value));
    ASSERT_OK(w.Commit());
  }
  {
    auto db = Must(Database::Open(path));
    auto r = Must(db->BeginRead());
    std::string back = Must(Must(r.OpenTable("t")).Get("huge"));
    EXPECT_TRUE(back == value);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace manifold
