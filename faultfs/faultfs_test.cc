// Unit tests of the faultfs model: pending operations and sync, every crash
// image choice and device trait, enumeration counts, every injected fault at
// the storage level, determinism (same seed -> same images and log) and replay.
// Randomized tests print their seed; MANIFOLD_TEST_SEED reruns one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "faultfs/faultfs.h"
#include "testing/test_util.h"

namespace manifold::faultfs {
namespace {

using manifold::testing::Must;

std::unique_ptr<File> OpenF(Storage& s, const std::string& path, bool create = true, bool lock = false) {
  OpenFileOptions o;
  o.create = create;
  o.lock = lock;
  return Must(s.Open(path, o), path.c_str());
}

std::string ReadAllOf(File& f) {
  uint64_t n = Must(f.Size());
  std::string s(n, '\0');
  EXPECT_OK(f.Read(0, n, s.data()));
  return s;
}

std::shared_ptr<FaultStorage> NewFs(uint64_t seed = 1, DeviceTraits traits = {}) {
  FaultStorage::Options o;
  o.seed = seed;
  o.traits = traits;
  return FaultStorage::OverMemory(o);
}

// A durable file "a" holding `bytes`, created through the storage.
void MakeDurable(FaultStorage& fs, const std::string& path, const std::string& bytes) {
  auto f = OpenF(fs, path);
  ASSERT_OK(f->Write(0, bytes));
  ASSERT_OK(f->Sync());
}

std::string Blk(char c, size_t n = 512) { return std::string(n, c); }

// ---------------------------------------------------------------- log format

TEST(FaultLog, NamesAreUniqueAndRoundTrip) {
  std::set<std::string> names;
  for (FaultKind k : AllFaultKinds()) {
    std::string n = FaultKindName(k);
    EXPECT_TRUE(names.insert(n).second) << n;
    EXPECT_EQ(FaultKindFromName(n), k);
  }
  EXPECT_GE(names.size(), 16u);
  EXPECT_EQ(static_cast<int>(names.size()), kFaultKindCount);
  for (int i = 0; i < kOpKindCount; i++) {
    auto k = static_cast<OpKind>(i);
    EXPECT_EQ(OpKindFromName(OpKindName(k)), k);
  }
}

TEST(FaultLog, LineRoundTripWithEscapes) {
  FaultRecord r;
  r.op = 17;
  r.file = "dir with space/db=1%.manifold";
  r.kind = OpKind::kWrite;
  r.offset = 8192;
  r.len = 4096;
  r.fault = FaultKind::kPartialWrite;
  r.Set("sectors", "3/8");
  std::string line = r.ToLine();
  EXPECT_EQ(line.find("dir with"), std::string::npos) << line;
  EXPECT_EQ(line.rfind("op=17 file=dir%20with%20space/db%3D1%25.manifold kind=write offset=8192 len=4096 "
                       "fault=partial-write sectors=3/8",
                       0),
            0u)
      << line;
  FaultRecord back = Must(FaultRecord::Parse(line));
  EXPECT_EQ(back, r);
  // The example line of the issue parses.
  FaultRecord ex = Must(FaultRecord::Parse("op=17 file=db.manifold kind=write offset=8192 len=4096 fault=crash-torn sectors=3/8"));
  EXPECT_EQ(ex.fault, FaultKind::kCrashTorn);
  EXPECT_EQ(ex.Param("sectors"), "3/8");
  // Whole logs: comments and blank lines are skipped; errors name the line.
  auto parsed = Must(ParseFaultLog("# header\n\n" + line + "\n"));
  ASSERT_EQ(parsed.size(), 1u);
  Status bad = ParseFaultLog(line + "\nop=x file=a kind=read fault=read-error\n").status();
  EXPECT_EQ(bad.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(bad.message().find("line 2"), std::string::npos) << bad.ToString();
  EXPECT_FALSE(FaultRecord::Parse("op=1 file=a kind=read fault=no-such-fault").ok());
  EXPECT_FALSE(FaultRecord::Parse("op=1 kind=read fault=read-error").ok());
}

TEST(FaultLog, SectorMapRle) {
  EXPECT_EQ(EncodeSectorMap("nnnoog"), "n3o2g1");
  EXPECT_EQ(Must(DecodeSectorMap("n3o2g1")), "nnnoog");
  EXPECT_FALSE(DecodeSectorMap("x2").ok());
  EXPECT_FALSE(DecodeSectorMap("n0").ok());
}

TEST(Rng, DeterministicAndInRange) {
  Rng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; i++) {
    uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differs |= x != c.Next();
  }
  EXPECT_TRUE(differs);
  // Pinned output: the stream must never change (logs and seeds depend on it).
  Rng p(0);
  EXPECT_EQ(p.Next(), 0x99ec5f36cb75f2b4ull);
  for (int i = 0; i < 1000; i++) EXPECT_LT(a.Uniform(7), 7u);
  EXPECT_FALSE(a.Chance(0));
  EXPECT_TRUE(a.Chance(1));
}

// ---------------------------------------------------------------- the model

// MemoryStorage (the base of FaultStorage::OverMemory and of every crash state
// crashsim reopens) keeps an undo log instead of a second copy of each file:
// random writes, resizes, syncs and power losses against a model holding
// both images in full.
TEST(MemoryStorageUndo, PowerLossRestoresTheDurableImage) {
  uint64_t seed = manifold::testing::TestSeed("MemoryStorageUndo");
  Rng r(seed);
  for (int round = 0; round < 40; round++) {
    auto mem = std::make_shared<MemoryStorage>();
    std::string cur, dur;
    bool exists_durable = false;
    if (r.Chance(0.5)) {
      cur.assign(r.Uniform(5000), 'w');
      for (char& c : cur) c = static_cast<char>('a' + r.Uniform(26));
      dur = cur;
      ASSERT_OK(mem->WriteAll("f", cur));
      exists_durable = true;
    }
    std::unique_ptr<File> f = OpenF(*mem, "f");
    for (int step = 0; step < 200; step++) {
      const uint64_t what = r.Uniform(10);
      if (what < 6) {
        const uint64_t off = r.Uniform(cur.size() + 600);
        std::string data(1 + r.Uniform(700), '\0');
        for (char& c : data) c = static_cast<char>('A' + r.Uniform(26));
        ASSERT_OK(f->Write(off, data));
        if (cur.size() < off + data.size()) cur.resize(off + data.size(), '\0');
        cur.replace(off, data.size(), data);
      } else if (what < 8) {
        const uint64_t size = r.Uniform(cur.size() + 1000);
        ASSERT_OK(f->Resize(size));
        cur.resize(size, '\0');
      } else if (what < 9) {
        ASSERT_OK(f->Sync());
        dur = cur;
        exists_durable = true;
      } else {
        mem->SimulatePowerLoss();
        if (!exists_durable) {
          EXPECT_FALSE(Must(mem->Exists("f")));
          cur.clear();
        } else {
          cur = dur;
        }
        f = OpenF(*mem, "f");
      }
      ASSERT_EQ(Must(mem->ReadAll("f")), cur) << "seed " << seed << " round " << round << " step " << step;
    }
  }
}

TEST(Model, WritesArePendingUntilSync) {
  auto fs = NewFs();
  auto f = OpenF(*fs, "a");
  EXPECT_EQ(fs->unsynced_count(), 1u);  // the creation
  ASSERT_OK(f->Write(0, Blk('x')));
  ASSERT_OK(f->Resize(2048));
  EXPECT_EQ(fs->unsynced_count(), 3u);
  CrashImage img = fs->CaptureCrashImage();
  ASSERT_EQ(img.ops().size(), 3u);
  EXPECT_EQ(img.ops()[0].kind, UnsyncedKind::kCreate);
  EXPECT_EQ(img.ops()[1].kind, UnsyncedKind::kWrite);
  EXPECT_EQ(img.ops()[2].kind, UnsyncedKind::kResize);
  EXPECT_TRUE(img.Durable().files.empty());  // not even the file exists durably
  // Reads see the cache.
  EXPECT_EQ(ReadAllOf(*f).substr(0, 512), Blk('x'));
  ASSERT_OK(f->Sync());
  EXPECT_EQ(fs->unsynced_count(), 0u);
  FileSet d = fs->CaptureCrashImage().Durable();
  ASSERT_EQ(d.files.count("a"), 1u);
  EXPECT_EQ(d.files["a"], Blk('x') + std::string(1536, '\0'));
}

TEST(Model, SyncIsPerFileButCommitsNamespace) {
  auto fs = NewFs();
  auto a = OpenF(*fs, "a");
  auto b = OpenF(*fs, "b");
  ASSERT_OK(a->Write(0, "AAAA"));
  ASSERT_OK(b->Write(0, "BBBB"));
  ASSERT_OK(a->Sync());
  CrashImage img = fs->CaptureCrashImage();
  ASSERT_EQ(img.ops().size(), 1u);  // b's write; both creations are durable now
  EXPECT_EQ(img.ops()[0].path, "b");
  FileSet d = img.Durable();
  EXPECT_EQ(d.files["a"], "AAAA");
  EXPECT_EQ(d.files["b"], "");
}

TEST(Model, PowerLossDropAllKeepsOnlySyncedDataAndKillsHandles) {
  auto fs = NewFs();
  auto f = OpenF(*fs, "a", true, /*lock=*/true);
  ASSERT_OK(f->Write(0, Blk('1')));
  ASSERT_OK(f->Sync());
  ASSERT_OK(f->Write(0, Blk('2')));
  ASSERT_OK(f->Write(512, Blk('3')));
  FileSet after = Must(fs->PowerLoss(CrashPolicy::DropAll()));
  EXPECT_EQ(after.files["a"], Blk('1'));
  Status s = f->Write(0, "x");
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find("power loss"), std::string::npos) << s.ToString();
  // The lock died with the "process"; the base holds the crash image.
  auto g = OpenF(*fs, "a", false, /*lock=*/true);
  EXPECT_EQ(ReadAllOf(*g), Blk('1'));
  auto mem = std::dynamic_pointer_cast<MemoryStorage>(fs->base());
  ASSERT_TRUE(mem);
  EXPECT_EQ(Must(mem->ReadAll("a")), Blk('1'));
  // The log holds the event and one crash-drop per lost write.
  auto log = fs->log();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].fault, FaultKind::kPowerLoss);
  EXPECT_EQ(log[1].fault, FaultKind::kCrashDrop);
  EXPECT_EQ(log[1].kind, OpKind::kWrite);
  EXPECT_EQ(log[1].Param("crash"), std::to_string(log[0].op));
}

TEST(Model, PowerLossKeepAll) {
  auto fs = NewFs();
  auto f = OpenF(*fs, "a");
  ASSERT_OK(f->Write(0, Blk('1')));
  FileSet after = Must(fs->PowerLoss(CrashPolicy::KeepAll()));
  EXPECT_EQ(after.files["a"], Blk('1'));
  EXPECT_EQ(fs->log().size(), 1u);  // only the event: nothing was lost
}

TEST(Model, CreationAndRemovalCanBeLost) {
  auto fs = NewFs();
  MakeDurable(*fs, "old", "OLD");
  {
    auto f = OpenF(*fs, "new");
    ASSERT_OK(f->Write(0, "NEW"));
  }
  ASSERT_OK(fs->Remove("old"));
  EXPECT_FALSE(Must(fs->Exists("old")));
  CrashImage img = fs->CaptureCrashImage();
  FileSet none = img.Durable();
  EXPECT_EQ(none.files.count("new"), 0u);
  EXPECT_EQ(none.files["old"], "OLD");
  FileSet all = Must(img.Build(img.KeepAllPlan()));
  EXPECT_EQ(all.files.count("old"), 0u);
  EXPECT_EQ(all.files["new"], "NEW");
  // Ordered metadata: keeping the removal but losing the earlier creation is illegal.
  CrashPlan p = img.KeepAllPlan();
  p.maps[0] = "o";  // creation of "new"
  EXPECT_FALSE(img.Validate(p).ok());
  DeviceTraits unordered;
  unordered.ordered_metadata = false;
  img.set_traits(unordered);
  EXPECT_OK(img.Validate(p));
  FileSet mixed = Must(img.Build(p));
  EXPECT_EQ(mixed.files.size(), 0u);
  // A sync of any file makes namespace changes durable.
  auto g = OpenF(*fs, "new", false);
  ASSERT_OK(g->Sync());
  FileSet d = fs->CaptureCrashImage().Durable();
  EXPECT_EQ(d.files.count("old"), 0u);
  EXPECT_EQ(d.files["new"], "NEW");
}

TEST(Model, ResizesCanBeLost) {
  auto fs = NewFs();
  MakeDurable(*fs, "a", Blk('a', 1024));
  auto f = OpenF(*fs, "a", false);
  ASSERT_OK(f->Resize(512));
  ASSERT_OK(f->Resize(4096));
  CrashImage img = fs->CaptureCrashImage();
  ASSERT_EQ(img.ops().size(), 2u);
  EXPECT_EQ(img.Durable().files["a"], Blk('a', 1024));
  EXPECT_EQ(Must(img.Build(CrashPlan{{"n", "o"}, 0})).files["a"], Blk('a'));
  EXPECT_EQ(Must(img.Build(CrashPlan{{"o", "n"}, 0})).files["a"], Blk('a', 1024) + std::string(3072, '\0'));
  EXPECT_EQ(Must(img.Build(img.KeepAllPlan())).files["a"], Blk('a') + std::string(3584, '\0'));
}

// Each crash-image choice for one unsynced two-sector write over old data.
TEST(CrashImageTest, EachWriteChoice) {
  DeviceTraits t;
  t.atomic_sectors = false;
  auto fs = NewFs(7, t);
  MakeDurable(*fs, "a", Blk('o', 1024));
  auto f = OpenF(*fs, "a", false);
  ASSERT_OK(f->Write(0, Blk('n', 1024)));
  CrashImage img = fs->CaptureCrashImage();
  ASSERT_EQ(img.ops().size(), 1u);
  ASSERT_EQ(img.MapLength(0), 2u);
  auto build = [&](const std::string& m, uint64_t gseed = 5) {
    CrashPlan p{{m}, gseed};
    EXPECT_OK(img.Validate(p));
    return Must(img.Build(p)).files["a"];
  };
  EXPECT_EQ(build("nn"), Blk('n', 1024));                // kept
  EXPECT_EQ(build("oo"), Blk('o', 1024));                // dropped
  EXPECT_EQ(build("no"), Blk('n') + Blk('o'));           // torn
  EXPECT_EQ(build("on"), Blk('o') + Blk('n'));           // torn the other way (reordered sectors)
  EXPECT_EQ(build("zn"), std::string(512, '\0') + Blk('n'));  // zeros
  std::string g = build("gn");                            // garbage
  EXPECT_EQ(g.substr(512), Blk('n'));
  EXPECT_NE(g.substr(0, 512), Blk('n'));
  EXPECT_NE(g.substr(0, 512), Blk('o'));
  EXPECT_EQ(build("gn"), g);          // the garbage is a function of the seed
  EXPECT_NE(build("gn", 6), g);
  EXPECT_EQ(FateOf("nn"), Fate::kKeep);
  EXPECT_EQ(FateOf("oo"), Fate::kDrop);
  EXPECT_EQ(FateOf("no"), Fate::kTorn);
  EXPECT_EQ(FateOf("gn"), Fate::kGarbage);
  EXPECT_EQ(FateOf("zo"), Fate::kZeros);
  // Describe logs it, PlanFromLog reads it back.
  CrashPlan p{{"gn"}, 99};
  auto recs = img.Describe(p, 1000);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[1].fault, FaultKind::kCrashGarbage);
  EXPECT_EQ(recs[1].Param("map"), "g1n1");
  EXPECT_EQ(recs[1].Param("sectors"), "1/2");
  EXPECT_EQ(Must(img.PlanFromLog(recs, 1000)), p);
}

TEST(CrashImageTest, TraitsNarrowTheModel) {
  auto fs = NewFs();  // atomic sectors, no safe append
  MakeDurable(*fs, "a", Blk('o', 1024));
  auto f = OpenF(*fs, "a", false);
  ASSERT_OK(f->Write(512, Blk('n', 1536)));  // sector 1 overwrites, sectors 2-3 append
  CrashImage img = fs->CaptureCrashImage();
  ASSERT_EQ(img.MapLength(0), 3u);
  auto valid = [&](const std::string& m) { return img.Validate(CrashPlan{{m}, 0}).ok(); };
  EXPECT_TRUE(valid("non"));   // torn, hole in the append region
  EXPECT_FALSE(valid("gnn"));  // atomic sectors: no garbage
  EXPECT_FALSE(valid("znn"));  // ...and no zeros where old data was
  EXPECT_TRUE(valid("nzz"));   // size grew, data did not: zeros
  EXPECT_FALSE(valid("nn"));   // wrong length
  // The hole reads as zeros and the file still grew.
  EXPECT_EQ(Must(img.Build(CrashPlan{{"non"}, 0})).files["a"], Blk('o') + Blk('n') + std::string(512, '\0') + Blk('n'));
  DeviceTraits safe;
  safe.safe_append = true;
  img.set_traits(safe);
  EXPECT_FALSE(valid("non"));  // the append region is all or nothing
  EXPECT_FALSE(valid("nzz"));
  EXPECT_TRUE(valid("onn"));
  EXPECT_TRUE(valid("noo"));
  EXPECT_EQ(Must(img.Build(CrashPlan{{"noo"}, 0})).files["a"], Blk('o') + Blk('n'));
  // Sector size 4096: the same write is one sector: keep, drop, zeros (append).
  DeviceTraits big;
  big.sector_size = 4096;
  img.set_traits(big);
  EXPECT_EQ(img.MapLength(0), 1u);
  EXPECT_EQ(Must(img.Count()), 2u);  // the first byte of the write is not beyond the old size: no zeros
}

// Exact counts of every legal crash state for tiny cases.
TEST(CrashImageTest, EnumerationCounts) {
  auto fs = NewFs();
  MakeDurable(*fs, "a", Blk('o', 1024));
  auto f = OpenF(*fs, "a", false);
  ASSERT_OK(f->Write(0, Blk('n', 1024)));  // 2 sectors, overwrite: 2^2 = 4
  ASSERT_OK(f->Resize(2048));              // kept or lost: 2
  CrashImage img = fs->CaptureCrashImage();
  EXPECT_EQ(Must(img.Count()), 8u);
  DeviceTraits na;
  na.atomic_sectors = false;
  img.set_traits(na);
  EXPECT_EQ(Must(img.Count()), (4u + 2u) * 2u);  // + whole-write garbage and zeros
  EnumerateOptions per_sector;
  per_sector.sector_garbage = true;
  EXPECT_EQ(Must(img.Count(per_sector)), 16u * 2u);  // 4 states per sector
  img.set_traits(DeviceTraits{});

  // A new file: if its creation is lost, its write does not matter (counted once).
  auto b = OpenF(*fs, "b");
  ASSERT_OK(b->Write(0, Blk('b')));  // append region: o, n or z (atomic device)
  CrashImage img2 = fs->CaptureCrashImage();
  ASSERT_EQ(img2.ops().size(), 4u);
  EXPECT_EQ(Must(img2.Count()), 8u * (1u + 3u));

  // Enumerate visits exactly Count() distinct legal plans, including keep-all
  // and drop-all, and stops when asked.
  std::set<std::vector<std::string>> seen;
  uint64_t n = Must(img2.Enumerate({}, [&](const CrashPlan& p) {
    EXPECT_OK(img2.Validate(p));
    EXPECT_TRUE(seen.insert(p.maps).second);
    return true;
  }));
  EXPECT_EQ(n, 32u);
  EXPECT_EQ(seen.size(), 32u);
  EXPECT_EQ(seen.count(img2.KeepAllPlan().maps), 1u);
  EXPECT_EQ(seen.count(img2.DropAllPlan().maps), 1u);
  EXPECT_EQ(Must(img2.Enumerate({}, [](const CrashPlan&) { return false; })), 1u);
  // Distinct images can be fewer than plans (a zero sector past the end equals a hole).
  std::set<uint64_t> hashes;
  ASSERT_TRUE(img2.Enumerate({}, [&](const CrashPlan& p) {
                    hashes.insert(Must(img2.Build(p)).Hash());
                    return true;
                  }).ok());
  EXPECT_LE(hashes.size(), 32u);
  EXPECT_GE(hashes.size(), 16u);
  // The bound.
  EnumerateOptions small;
  small.max_states = 31;
  Status s = img2.Count(small).status();
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("more than the bound"), std::string::npos) << s.ToString();
  int visited = 0;
  EXPECT_FALSE(img2.Enumerate(small, [&](const CrashPlan&) { return ++visited > 0; }).ok());
  EXPECT_EQ(visited, 0);
}

TEST(CrashImageTest, RandomPlansAreLegalAndSeeded) {
  uint64_t seed = manifold::testing::TestSeed("RandomPlansAreLegalAndSeeded");
  Rng r(seed);
  for (int round = 0; round < 20; round++) {
    DeviceTraits t;
    t.sector_size = r.Chance(0.5) ? 512 : 4096;
    t.atomic_sectors = r.Chance(0.5);
    t.safe_append = r.Chance(0.5);
    t.ordered_metadata = r.Chance(0.5);
    auto fs = NewFs(r.Next(), t);
    MakeDurable(*fs, "a", std::string(1 + r.Uniform(20000), 'o'));
    auto f = OpenF(*fs, "a", false);
    for (int i = 0; i < 8; i++) {
      int what = static_cast<int>(r.Uniform(10));
      if (what == 0) {
        ASSERT_OK(f->Resize(r.Uniform(30000)));
      } else if (what == 1) {
        auto g = OpenF(*fs, "f" + std::to_string(i));
        ASSERT_OK(g->Write(r.Uniform(3000), std::string(1 + r.Uniform(9000), 'g')));
      } else if (what == 2 && i > 0) {
        Status s = fs->Remove("f" + std::to_string(r.Uniform(i)));
        (void)s;
      } else {
        ASSERT_OK(f->Write(r.Uniform(25000), std::string(1 + r.Uniform(9000), static_cast<char>('a' + i))));
      }
    }
    CrashImage img = fs->CaptureCrashImage();
    CrashPolicy pol;
    for (int k = 0; k < 20; k++) {
      uint64_t ps = r.Next();
      CrashPlan p = img.RandomPlan(pol, ps);
      Status v = img.Validate(p);
      ASSERT_TRUE(v.ok()) << v.ToString() << " round " << round << " seed " << seed << " traits " << t.ToString();
      EXPECT_EQ(img.RandomPlan(pol, ps), p);
      EXPECT_EQ(Must(img.Build(p)).Hash(), Must(img.Build(p)).Hash());
    }
    for (Fate fate : {Fate::kKeep, Fate::kDrop, Fate::kTorn, Fate::kGarbage, Fate::kZeros}) {
      ASSERT_OK(img.Validate(img.RandomPlan(CrashPolicy::Only(fate), r.Next())));
    }
  }
}

// ---------------------------------------------------------------- faults at the storage level

TEST(Faults, RuleTriggers) {
  auto fs = NewFs();
  auto f = OpenF(*fs, "a");
  ASSERT_OK(f->Write(0, Blk('x')));
  char buf[16];
  // nth + times
  size_t r0 = Must(fs->AddRule(FaultRule::Nth(FaultKind::kReadError, 2, 2)));
  EXPECT_OK(f->Read(0, 16, buf));
  EXPECT_FALSE(f->Read(0, 16, buf).ok());
  EXPECT_FALSE(f->Read(0, 16, buf).ok());
  EXPECT_OK(f->Read(0, 16, buf));
  EXPECT_EQ(fs->rule_fired(r0), 2u);
  fs->ClearRules();
  // schedule by global op number
  uint64_t next = fs->op_count() + 2;
  ASSERT_TRUE(fs->AddRule(FaultRule::Schedule(FaultKind::kReadError, {next})).ok());
  EXPECT_OK(f->Read(0, 16, buf));
  EXPECT_FALSE(f->Read(0, 16, buf).ok());
  EXPECT_OK(f->Read(0, 16, buf));
  fs->ClearRules();
  // probability 0 and 1
  ASSERT_TRUE(fs->AddRule(FaultRule::Probability(FaultKind::kReadError, 0)).ok());
  for (int i = 0; i < 10; i++) EXPECT_OK(f->Read(0, 16, buf));
  fs->ClearRules();
  ASSERT_TRUE(fs->AddRule(FaultRule::Probability(FaultKind::kWriteError, 1).OnFile("b")).ok());
  EXPECT_OK(f->Write(0, "y"));  // other file
  auto b = OpenF(*fs, "b");
  EXPECT_FALSE(b->Write(0, "y").ok());
  fs->ClearRules();
  // persistent: once fired, always
  ASSERT_TRUE(fs->AddRule(FaultRule::Nth(FaultKind::kReadError, 2).Persistent()).ok());
  EXPECT_OK(f->Read(0, 16, buf));
  for (int i = 0; i < 5; i++) EXPECT_FALSE(f->Read(0, 16, buf).ok());
  fs->ClearRules();
  // latency narrowed to syncs only
  ASSERT_TRUE(fs->AddRule(FaultRule::Probability(FaultKind::kLatency, 1).OnOps({OpKind::kSync}).Latency(1)).ok());
  uint64_t before = fs->fault_count(FaultKind::kLatency);
  EXPECT_OK(f->Read(0, 16, buf));
  EXPECT_OK(f->Sync());
  EXPECT_EQ(fs->fault_count(FaultKind::kLatency), before + 1);
  // crash kinds are not rules
  EXPECT_FALSE(fs->AddRule(FaultRule::Nth(FaultKind::kCrashTorn, 1)).ok());
  EXPECT_FALSE(fs->AddRule(FaultRule::Nth(FaultKind::kReadError, 0)).ok());
}

TEST(Faults, ErrorsNameTheOperation) {
  struct Case {
    FaultKind kind;
    const char* op;
  };
  for (Case c : {Case{FaultKind::kReadError, "read a"}, Case{FaultKind::kWriteError, "write a"},
                 Case{FaultKind::kSyncError, "sync a"}, Case{FaultKind::kResizeError, "resize a"},
                 Case{FaultKind::kSizeError, "size a"}}) {
    auto fs = NewFs();
    auto f = OpenF(*fs, "a");
    ASSERT_OK(f->Write(0, Blk('x')));
    ASSERT_TRUE(fs->AddRule(FaultRule::Nth(c.kind, 1)).ok());
    char buf[8];
    Status s;
    switch (c.kind) {
      case FaultKind::kReadError:
        s = f->Read(0, 8, buf);
        break;
      case FaultKind::kWriteError:
        s = f->Write(0, "zz");
        break;
      case FaultKind::kSyncError:
        s = f->Sync();
        break;
      case FaultKind::kResizeError:
        s = f->Resize(10);
        break;
      default:
        s = f->Size().status();
        break;
    }
    EXPECT_EQ(s.code(), Status::Code::kIOError) << FaultKindName(c.kind);
    EXPECT_EQ(s.message().rfind(c.op, 0), 0u) << s.ToString();
    EXPECT_NE(s.message().find(FaultKindName(c.kind)), std::string::npos) << s.ToString();
    EXPECT_EQ(fs->fault_count(c.kind), 1u);
  }
  // write-error and resize-error change nothing.
  auto fs = NewFs();
  auto f = OpenF(*fs, "a");
  ASSERT_OK(f->Write(0, "keep"));
  ASSERT_TRUE(fs->AddRule(FaultRule::Nth(FaultKind::kWriteError, 1)).ok());
  ASSERT_TRUE(fs->AddRule(FaultRule::Nth(FaultKind::kResizeError, 1)).ok());
  EXPECT_FALSE(f->Write(0, "lost").ok());
  EXPECT_FALSE(f->Resize(1).ok());
  EXPECT_EQ(ReadAllOf(*f), "keep");
}

TEST(Faults, OpenExistsRemoveErrors) {
  auto fs = NewFs();
  MakeDurable(*fs, "a", "A");
  ASSERT_TRUE(fs->AddRule(FaultRule::Nth(FaultKind::kOpenError, 1, 2)).ok());
  OpenFileOptions o;
  Status s = fs->Open("a", o).status();
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_EQ(s.message().rfind("open a", 0), 0u) << s.ToString();
  s = fs->Exists("a").status();
  EXPECT_EQ(s.message().rfind("exists a", 0), 0u) << s.ToString();
  EXPECT_TRUE(fs->Open("a", o).ok());  // transient
  ASSERT_TRUE(fs->AddRule(FaultRule::Nth(FaultKind::kRemoveError, 1)).ok());
  s = fs->Remove("a");
  EXPECT_EQ(s.message().rfind("remove a", 0), 0u) << s.ToString();
  EXPECT_TRUE(Must(fs->Exists("a")));
  EXPECT_OK(fs->Remove("a"));
  EXPECT_FALSE(Must(fs->Exists("a")));
}

TEST(Faults, SyncErrorKeepsDirtyDataPending) {
  auto fs = NewFs();
  MakeDurable(*fs, "a", Blk('1'));
  auto f = OpenF(*fs, "a", false);
  ASSERT_OK(f->Write(0, Blk('2')));
  ASSERT_TRUE(fs->AddRule(FaultRule::Nth(FaultKind::kSyncError, 1)).ok());
  EXPECT_FALSE(f->Sync().ok());
  EXPECT_EQ(ReadAllOf(*f), Blk('2'));
  EXPECT_EQ(fs->unsynced_count(), 1u);  // may still reach the medium
  EXPECT_OK(f->Sync());
  EXPECT_EQ(fs->CaptureCrashImage().Durable().files["a"], Blk('2'));
}

TEST(Faults, SyncDropsDirtyLikeLinux) {
  auto fs = NewFs();
  MakeDurable(*fs, "a", Blk('1', 1024));
  auto f = OpenF(*fs, "a", false);
  ASSERT_OK(f->Write(0, Blk('2')));
  ASSERT_OK(f->Resize(4096));
  ASSERT_OK(f->Write(3000, "tail"));
  ASSERT_TRUE(fs->AddRule(FaultRule::Nth(FaultKind::kSyncDropsDirty, 1)).ok());
  Status s = f->Sync();
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find("3 unsynced writes discarded"), std::string::npos) << s.ToString();
  EXPECT_EQ(fs->unsynced_count(), 0u);
  EXPECT_EQ(ReadAllOf(*f), Blk('1', 1024));  // the cache shows the durable bytes again
  EXPECT_OK(f->Sync());                      // a retry "succeeds" -- and the data is gone
  EXPECT_EQ(Must(fs->PowerLoss(CrashPolicy::KeepAll())).files["a"], Blk('1', 1024));
  EXPECT_EQ(fs->log()[0].Param("dropped"), "3");
}

TEST(Faults, NoSpaceAtQuota) {
  FaultStorage::Options o;
  o.quota_bytes = 4096;
  auto fs = FaultStorage::OverMemory(o);
  auto f = OpenF(*fs, "a");
  ASSERT_OK(f->Write(0, Blk('x', 3000)));
  auto g = OpenF(*fs, "b");
  Status s = g->Write(0, Blk('y', 2000));
  EXPECT_EQ(s.code(), Status::Code::kNoSpace);
  EXPECT_EQ(s.message().rfind("write b offset 0 len 2000", 0), 0u) << s.ToString();
  EXPECT_NE(s.message().find("quota 4096 bytes, 3000 in use"), std::string::npos) << s.ToString();
  EXPECT_EQ(Must(g->Size()), 0u);
  EXPECT_OK(g->Write(0, Blk('y', 1000)));        // fits
  EXPECT_OK(f->Write(0, Blk('z', 3000)));        // overwrites never need space
  EXPECT_EQ(f->Resize(8192).code(), Status::Code::kNoSpace);
  EXPECT_OK(f->Resize(100));                     // shrinking frees space
  EXPECT_OK(g->Write(1000, Blk('y', 2900)));
  fs->SetQuota(0);
  EXPECT_OK(f->Resize(1 << 20));
}

TEST(Faults, ShortRead) {
  auto fs = NewFs(3);
  MakeDurable(*fs, "a", Blk('x', 4096));
  auto f = OpenF(*fs, "a", false);
  ASSERT_TRUE(fs->AddRule(FaultRule::Nth(FaultKind::kShortRead, 1)).ok());
  std::string buf(4096, '?');
  Status s = f->Read(0, 4096, buf.data());
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find("short read a offset 0"), std::string::npos) << s.ToString();
  uint64_t got = *fs->log().back().ParamU64("got");
  EXPECT_LT(got, 4096u);
  EXPECT_EQ(buf.substr(0, got), Blk('x', got));
  EXPECT_EQ(buf.substr(got), std::string(4096 - got, '\0'));
  EXPECT_OK(f->Read(0, 4096, buf.data()));
}

TEST(Faults, PartialWrite) {
  auto fs = NewFs(11);
  MakeDurable(*fs, "a", Blk('o', 4096));
  auto f = OpenF(*fs, "a", false);
  ASSERT_TRUE(fs->AddRule(FaultRule::Nth(FaultKind::kPartialWrite, 1)).ok());
  Status s = f->Write(0, Blk('n', 4096));
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  auto frac = fs->log().back().Param("sectors");
  uint64_t k = std::stoull(frac.substr(0, frac.find('/')));
  EXPECT_EQ(frac.substr(frac.find('/')), "/8");
  EXPECT_NE(s.message().find("only " + std::to_string(k) + " of 8 sectors written"), std::string::npos) << s.ToString();
  EXPECT_EQ(ReadAllOf(*f), Blk('n', 512 * k) + Blk('o', 4096 - 512 * k));
}

TEST(Faults, BitFlipInDurableData) {
  auto fs = NewFs(5);
  MakeDurable(*fs, "a", Blk('x', 4096));
  auto f = OpenF(*fs, "a", false);
  ASSERT_TRUE(fs->AddRule(FaultRule::Nth(FaultKind::kBitFlip, 1)).ok());
  std::string buf(4096, '\0');
  EXPECT_OK(f->Read(0, 4096, buf.data()));  // the read that rots succeeds, with the flipped bit
  FaultRecord r = fs->log().back();
  uint64_t at = *r.ParamU64("at");
  int bit = static_cast<int>(*r.ParamU64("bit"));
  std::string want = Blk('x', 4096);
  want[at] ^= static_cast<char>(1 << bit);
  EXPECT_EQ(buf, want);
  EXPECT_EQ(fs->CaptureCrashImage().Durable().files["a"], want);  // durable
  // Direct API; an unsynced write shadows the byte until a power loss.
  ASSERT_OK(f->Write(0, Blk('y', 16)));
  ASSERT_OK(fs->FlipBit("a", 3, 0));
  EXPECT_EQ(ReadAllOf(*f).substr(0, 16), Blk('y', 16));
  std::string after = Must(fs->PowerLoss(CrashPolicy::DropAll())).files["a"];
  EXPECT_EQ(after[3], static_cast<char>('x' ^ 1));
}

TEST(Faults, UnreadableSector) {
  auto fs = NewFs(9);
  MakeDurable(*fs, "a", Blk('x', 2048));
  auto f = OpenF(*fs, "a", false);
  ASSERT_TRUE(fs->AddRule(FaultRule::Nth(FaultKind::kUnreadableSector, 1)).ok());
  char buf[2048];
  Status s = f->Read(512, 512, buf);
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find("unreadable sector 1"), std::string::npos) << s.ToString();
  fs->ClearRules();
  EXPECT_FALSE(f->Read(0, 2048, buf).ok());  // latent: every read touching it
  EXPECT_OK(f->Read(0, 512, buf));           // others are fine
  // Survives a power loss ...
  ASSERT_TRUE(fs->PowerLoss(CrashPolicy::DropAll()).ok());
  f = OpenF(*fs, "a", false);
  EXPECT_FALSE(f->Read(512, 1, buf).ok());
  // ... served from the cache while an overwrite is unsynced, cured once it is synced.
  ASSERT_OK(f->Write(512, Blk('y')));
  EXPECT_OK(f->Read(512, 512, buf));
  ASSERT_OK(f->Sync());
  ASSERT_TRUE(fs->PowerLoss(CrashPolicy::DropAll()).ok());
  f = OpenF(*fs, "a", false);
  EXPECT_OK(f->Read(0, 2048, buf));
  ASSERT_OK(fs->MarkUnreadable("a", 1500));
  EXPECT_FALSE(f->Read(1024, 1, buf).ok());
}

TEST(Faults, MisdirectedWrite) {
  auto fs = NewFs();
  MakeDurable(*fs, "a", Blk('o', 4096));
  auto f = OpenF(*fs, "a", false);
  ASSERT_TRUE(fs->AddRule(FaultRule::Nth(FaultKind::kMisdirectedWrite, 1).Target(2048)).ok());
  EXPECT_OK(f->Write(512, Blk('n')));  // acknowledged
  EXPECT_EQ(ReadAllOf(*f), Blk('o', 2048) + Blk('n') + Blk('o', 1536));
  EXPECT_EQ(fs->log().back().Param("to"), "2048");
  ASSERT_OK(f->Sync());
  EXPECT_EQ(fs->CaptureCrashImage().Durable().files["a"], Blk('o', 2048) + Blk('n') + Blk('o', 1536));
  // Random target: sector-aligned, elsewhere.
  fs->ClearRules();
  ASSERT_TRUE(fs->AddRule(FaultRule::Nth(FaultKind::kMisdirectedWrite, 1)).ok());
  EXPECT_OK(f->Write(0, "x"));
  uint64_t to = *fs->log().back().ParamU64("to");
  EXPECT_NE(to, 0u);
  EXPECT_EQ(to % 512, 0u);
}

TEST(Faults, LostWriteSyncLies) {
  auto fs = NewFs();
  MakeDurable(*fs, "a", Blk('o', 1024));
  auto f = OpenF(*fs, "a", false);
  ASSERT_TRUE(fs->AddRule(FaultRule::Nth(FaultKind::kLostWrite, 1)).ok());
  EXPECT_OK(f->Write(0, Blk('n')));
  EXPECT_OK(f->Write(512, Blk('m')));
  EXPECT_OK(f->Sync());                             // reports success
  EXPECT_EQ(ReadAllOf(*f), Blk('n') + Blk('m'));    // the cache still has it
  EXPECT_EQ(fs->unsynced_count(), 0u);
  FileSet after = Must(fs->PowerLoss(CrashPolicy::KeepAll()));
  EXPECT_EQ(after.files["a"], Blk('o') + Blk('m'));  // the first write never reached the medium
}

TEST(Faults, LatencyDelays) {
  auto fs = NewFs();
  auto f = OpenF(*fs, "a");
  ASSERT_TRUE(fs->AddRule(FaultRule::Probability(FaultKind::kLatency, 1).Latency(2000)).ok());
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; i++) ASSERT_OK(f->Write(0, "x"));
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(us, 10000);
  EXPECT_EQ(fs->fault_count(FaultKind::kLatency), 5u);
  EXPECT_EQ(fs->log().back().Param("us"), "2000");
}

TEST(Faults, PowerCutStopsTheDevice) {
  auto fs = NewFs();
  MakeDurable(*fs, "a", Blk('1'));
  auto f = OpenF(*fs, "a", false);
  ASSERT_OK(f->Write(0, Blk('2')));
  ASSERT_TRUE(fs->AddRule(FaultRule::Nth(FaultKind::kPowerCut, 1).OnOps({OpKind::kSync})).ok());
  Status s = f->Sync();
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find("power-cut"), std::string::npos);
  EXPECT_TRUE(fs->powered_off());
  EXPECT_FALSE(f->Write(0, "x").ok());
  char c;
  EXPECT_FALSE(f->Read(0, 1, &c).ok());
  EXPECT_FALSE(fs->Open("b", OpenFileOptions{true, false, false, false}).ok());
  EXPECT_EQ(fs->unsynced_count(), 1u);  // frozen at the cut
  fs->ClearRules();
  FileSet after = Must(fs->PowerLoss(CrashPolicy::KeepAll()));
  EXPECT_FALSE(fs->powered_off());
  EXPECT_EQ(after.files["a"], Blk('2'));
  EXPECT_EQ(after.files.count("b"), 0u);
}

TEST(Faults, OverNativeFiles) {
  std::string dir = (std::filesystem::temp_directory_path() / ("faultfs_native_" + std::to_string(::getpid()))).string();
  std::filesystem::create_directories(dir);
  {
    FaultStorage::Options o;
    auto fs = std::make_shared<FaultStorage>(NewNativeStorage(), o);
    MakeDurable(*fs, dir + "/a", Blk('1', 1024));
    auto f = OpenF(*fs, dir + "/a", false);
    ASSERT_OK(f->Write(512, Blk('2')));
    auto g = OpenF(*fs, dir + "/new");
    ASSERT_OK(g->Write(0, "lost"));
    FileSet after = Must(fs->PowerLoss(CrashPolicy::DropAll()));
    EXPECT_EQ(after.files[dir + "/a"], Blk('1', 1024));
    auto native = NewNativeStorage();
    EXPECT_FALSE(Must(native->Exists(dir + "/new")));
    auto h = OpenF(*native, dir + "/a", false);
    EXPECT_EQ(ReadAllOf(*h), Blk('1', 1024));
  }
  std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------- determinism and replay

// A synthetic workload with every kind of random fault; returns the final
// files. Failures are expected and ignored: the point is the exact sequence.
FileSet RandomRun(FaultStorage& fs, uint64_t workload_seed) {
  Rng r(workload_seed);
  std::vector<std::unique_ptr<File>> files;
  for (int i = 0; i < 3; i++) {
    OpenFileOptions o;
    o.create = true;
    auto f = fs.Open("f" + std::to_string(i), o);
    if (f.ok()) files.push_back(std::move(f).value());
  }
  char buf[9000];
  for (int step = 0; step < 300 && !files.empty(); step++) {
    File& f = *files[r.Uniform(files.size())];
    switch (r.Uniform(8)) {
      case 0:
      case 1:
      case 2: {
        std::string d(1 + r.Uniform(3000), static_cast<char>('a' + r.Uniform(26)));
        (void)f.Write(r.Uniform(8192), d);
        break;
      }
      case 3:
        (void)f.Read(r.Uniform(4096), r.Uniform(4096), buf);
        break;
      case 4:
        (void)f.Sync();
        break;
      case 5:
        (void)f.Resize(r.Uniform(12000));
        break;
      case 6:
        (void)f.Size();
        break;
      default:
        if (r.Uniform(40) == 0) {
          (void)fs.PowerLoss(CrashPolicy{});
          files.clear();
          for (int i = 0; i < 3; i++) {
            OpenFileOptions o;
            o.create = true;
            auto g = fs.Open("f" + std::to_string(i), o);
            if (g.ok()) files.push_back(std::move(g).value());
          }
        }
        break;
    }
  }
  files.clear();
  (void)fs.PowerLoss(CrashPolicy{});
  return Must(fs.CurrentFiles());
}

void AddEveryRandomRule(FaultStorage& fs) {
  for (FaultKind k : AllFaultKinds()) {
    if (NaturalOps(k) == 0 || k == FaultKind::kPowerCut) continue;
    FaultRule rule = FaultRule::Probability(k, k == FaultKind::kLatency ? 0.01 : 0.03);
    if (k == FaultKind::kLatency) rule.Latency(1);
    ASSERT_TRUE(fs.AddRule(rule).ok());
  }
}

TEST(Determinism, SameSeedSameImagesAndLog) {
  uint64_t seed = manifold::testing::TestSeed("SameSeedSameImagesAndLog");
  DeviceTraits t;
  t.atomic_sectors = false;
  FaultStorage::Options o;
  o.seed = seed;
  o.traits = t;
  o.quota_bytes = 40000;
  auto a = FaultStorage::OverMemory(o);
  auto b = FaultStorage::OverMemory(o);
  AddEveryRandomRule(*a);
  AddEveryRandomRule(*b);
  FileSet fa = RandomRun(*a, seed);
  FileSet fb = RandomRun(*b, seed);
  EXPECT_EQ(fa.Hash(), fb.Hash());
  EXPECT_EQ(fa, fb);
  EXPECT_EQ(a->LogText(), b->LogText());
  EXPECT_GT(a->total_faults(), 10u) << a->LogText();
  EXPECT_GE(a->fault_count(FaultKind::kPowerLoss), 1u);
  // Another seed gives another run.
  o.seed = seed + 1;
  auto c = FaultStorage::OverMemory(o);
  AddEveryRandomRule(*c);
  (void)RandomRun(*c, seed);
  EXPECT_NE(a->LogText(), c->LogText());
}

TEST(Replay, ReproducesALogExactly) {
  uint64_t seed = manifold::testing::TestSeed("ReproducesALogExactly");
  DeviceTraits t;
  t.atomic_sectors = false;
  FaultStorage::Options o;
  o.seed = seed;
  o.traits = t;
  o.quota_bytes = 40000;
  auto orig = FaultStorage::OverMemory(o);
  AddEveryRandomRule(*orig);
  FileSet want = RandomRun(*orig, seed);
  std::string log = orig->LogText();
  // Replay with another seed, no rules and no quota: only the log decides.
  FaultStorage::Options ro;
  ro.seed = seed ^ 0x5555;
  ro.traits = t;
  auto rep = FaultStorage::OverMemory(ro);
  ASSERT_OK(rep->LoadReplay(log));
  FileSet got = RandomRun(*rep, seed);
  EXPECT_TRUE(rep->divergences().empty()) << rep->divergences().front();
  EXPECT_EQ(rep->LogText(), log);
  EXPECT_EQ(got, want);
  // Without the log the same workload gives a different result.
  auto plain = FaultStorage::OverMemory(ro);
  FileSet other = RandomRun(*plain, seed);
  EXPECT_TRUE(plain->LogText() != log || other != want);
}

TEST(Replay, ReportsDivergence) {
  auto orig = NewFs();
  auto f = OpenF(*orig, "a");
  ASSERT_TRUE(orig->AddRule(FaultRule::Nth(FaultKind::kWriteError, 1)).ok());
  EXPECT_FALSE(f->Write(0, "x").ok());
  auto rep = NewFs();
  ASSERT_OK(rep->LoadReplay(orig->LogText()));
  auto g = OpenF(*rep, "a");
  EXPECT_OK(g->Sync());  // the log expected a write here
  ASSERT_EQ(rep->divergences().size(), 1u);
  EXPECT_NE(rep->divergences()[0].find("expects kind=write"), std::string::npos) << rep->divergences()[0];
}

}  // namespace
}  // namespace manifold::faultfs
