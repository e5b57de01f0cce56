// Unit tests of the crashsim oracle: it must accept every state in the window
// and flag a missing acknowledged commit, a hole, a torn transaction, data of
// another family and a state of a step not started -- both on hand-built
// contents and on a real database damaged behind the workload's back.
#include <gtest/gtest.h>

#include "campaign.h"
#include "oracle.h"
#include "plan.h"
#include "runner.h"

namespace manifold::crashsim {
namespace {

Step Commit(std::vector<uint32_t> keys, Durability d = Durability::kImmediate) {
  Step s;
  s.kind = StepKind::kCommit;
  s.durability = d;
  for (uint32_t k : keys) s.writes.push_back(PlannedWrite{k, false, 40});
  return s;
}

// f0: create, commit{k1,k2}, commit{k3}, commit{k1,k4}; f1: create, commit{k1}.
WorkloadPlan HandPlan() {
  WorkloadPlan p;
  p.workload = "hand";
  p.seed = 7;
  Step create;
  create.kind = StepKind::kCreate;
  p.families.push_back(FamilyPlan{"f0", {create, Commit({1, 2}), Commit({3}), Commit({1, 4}, Durability::kNone)}, {}});
  p.families.push_back(FamilyPlan{"f1", {create, Commit({1})}, {}});
  for (uint32_t f = 0; f < p.families.size(); f++) {
    FamilyModel m;
    p.families[f].state_hash.push_back(m.Hash());
    for (uint32_t i = 0; i < p.families[f].steps.size(); i++) {
      m.Apply(p, f, i);
      p.families[f].state_hash.push_back(m.Hash());
    }
  }
  return p;
}

// The contents a family holds after its first n steps.
FamilyContents After(const WorkloadPlan& p, uint32_t f, uint32_t n) {
  FamilyContents c;
  for (uint32_t i = 0; i < n; i++) {
    const Step& s = p.families[f].steps[i];
    if (s.kind == StepKind::kCreate) c = FamilyContents{true, false, {}, {}};
    if (s.kind != StepKind::kCommit) continue;
    c.has_table = true;
    for (const PlannedWrite& w : s.writes) c.entries[KeyName(w.key)] = ValueFor(p.seed, f, i, w.key, w.value_bytes);
    c.entries[std::string(kSeqKey)] = SeqValue(f, i);
  }
  return c;
}

TEST(Oracle, AcceptsEveryPrefixInTheWindow) {
  WorkloadPlan p = HandPlan();
  for (uint32_t n = 1; n <= 4; n++) {
    FamilyVerdict v = VerifyFamily(p, 0, Window{1, 4}, After(p, 0, n));
    ASSERT_FALSE(v.violation) << n << ": " << v.violation->detail;
    EXPECT_EQ(*v.step, n);
  }
  EXPECT_FALSE(VerifyFamily(p, 0, Window{0, 4}, FamilyContents{}).violation) << "absent family before its creation";
}

TEST(Oracle, FlagsAMissingAcknowledgedCommit) {
  WorkloadPlan p = HandPlan();
  // Steps 0..2 acknowledged durable (floor 3), but the state is after step 1 only.
  FamilyVerdict v = VerifyFamily(p, 0, Window{3, 4}, After(p, 0, 2));
  ASSERT_TRUE(v.violation);
  EXPECT_EQ(v.violation->kind, ViolationKind::kLostAck) << v.violation->detail;
  // A family whose acknowledged creation vanished.
  v = VerifyFamily(p, 1, Window{1, 2}, FamilyContents{});
  ASSERT_TRUE(v.violation);
  EXPECT_EQ(v.violation->kind, ViolationKind::kLostAck) << v.violation->detail;
}

TEST(Oracle, FlagsAHole) {
  WorkloadPlan p = HandPlan();
  FamilyContents c = After(p, 0, 4);
  c.entries.erase(KeyName(3));  // step 2 missing while step 3 is there
  FamilyVerdict v = VerifyFamily(p, 0, Window{0, 4}, c);
  ASSERT_TRUE(v.violation);
  EXPECT_EQ(v.violation->kind, ViolationKind::kHole) << v.violation->detail;
}

TEST(Oracle, FlagsATornTransaction) {
  WorkloadPlan p = HandPlan();
  FamilyContents c = After(p, 0, 4);
  c.entries[KeyName(1)] = ValueFor(p.seed, 0, 1, 1, 40);  // step 3 wrote k1 and k4; k1 kept step 1's value
  FamilyVerdict v = VerifyFamily(p, 0, Window{0, 4}, c);
  ASSERT_TRUE(v.violation);
  EXPECT_EQ(v.violation->kind, ViolationKind::kTornTxn) << v.violation->detail;
  c = After(p, 0, 4);
  c.entries.erase(KeyName(4));
  v = VerifyFamily(p, 0, Window{0, 4}, c);
  ASSERT_TRUE(v.violation);
  EXPECT_EQ(v.violation->kind, ViolationKind::kTornTxn) << v.violation->detail;
}

TEST(Oracle, FlagsDataOfAnotherFamilyAndPhantoms) {
  WorkloadPlan p = HandPlan();
  FamilyContents c = After(p, 0, 2);
  c.entries[KeyName(9)] = ValueFor(p.seed, 1, 1, 9, 40);
  FamilyVerdict v = VerifyFamily(p, 0, Window{0, 4}, c);
  ASSERT_TRUE(v.violation);
  EXPECT_EQ(v.violation->kind, ViolationKind::kIsolation) << v.violation->detail;
  v = VerifyFamily(p, 0, Window{0, 2}, After(p, 0, 4));
  ASSERT_TRUE(v.violation);
  EXPECT_EQ(v.violation->kind, ViolationKind::kPhantom) << v.violation->detail;
  DatabaseContents db;
  db.families = {After(p, 0, 2), After(p, 1, 2)};
  db.unexpected = {"stray"};
  auto dv = VerifyDatabase(p, {Window{0, 4}, Window{0, 2}}, db, nullptr);
  ASSERT_TRUE(dv);
  EXPECT_EQ(dv->kind, ViolationKind::kIsolation);
}

TEST(Oracle, FlagsAMultiFamilyTransactionPresentInOneFamilyOnly) {
  WorkloadPlan p = HandPlan();
  // f0 step 1 and f1 step 1 are one multi-family transaction.
  p.families[0].steps[1].joint = 1;
  p.families[1].steps[1].joint = 1;
  DatabaseContents db;
  db.families = {After(p, 0, 2), After(p, 1, 2)};
  EXPECT_FALSE(VerifyDatabase(p, {Window{0, 4}, Window{0, 2}}, db, nullptr)) << "both halves: fine";
  db.families = {After(p, 0, 1), After(p, 1, 1)};
  EXPECT_FALSE(VerifyDatabase(p, {Window{0, 4}, Window{0, 2}}, db, nullptr)) << "neither half: fine";
  db.families = {After(p, 0, 2), After(p, 1, 1)};  // each family alone is a valid prefix
  auto v = VerifyDatabase(p, {Window{0, 4}, Window{0, 2}}, db, nullptr);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->kind, ViolationKind::kTornTxn) << v->detail;
  EXPECT_NE(v->detail.find("not in family f1"), std::string::npos) << v->detail;
  DatabaseDigest d;
  d.family_hash = {p.families[0].state_hash[2], p.families[1].state_hash[1]};
  std::vector<uint32_t> matched;
  EXPECT_FALSE(MatchDigest(p, {Window{0, 4}, Window{0, 2}}, d, &matched)) << "the fast path must not accept it";
}

// A multi_cf_txn plan groups one commit per family into each transaction.
TEST(Plan, MultiFamilyTransactionsAreJoint) {
  WorkloadPlan p = MakePlan("multi_cf_txn", 3, 30);
  std::map<uint32_t, int> members;
  for (const FamilyPlan& f : p.families) {
    for (const Step& s : f.steps) {
      if (s.joint != 0) members[s.joint]++;
    }
  }
  ASSERT_FALSE(members.empty());
  for (const auto& [id, n] : members) EXPECT_GE(n, 1) << id;
  EXPECT_EQ(members.begin()->second, 3) << "a full group spans all three families";
}

TEST(Plan, DeterministicAndPrefixStable) {
  for (const WorkloadInfo& w : Workloads()) {
    WorkloadPlan a = MakePlan(w.name, 99, 30), b = MakePlan(w.name, 99, 30), c = MakePlan(w.name, 99, 45);
    ASSERT_EQ(a.schedule, b.schedule) << w.name;
    ASSERT_EQ(a.schedule.size(), 30u) << w.name;
    ASSERT_TRUE(std::equal(a.schedule.begin(), a.schedule.end(), c.schedule.begin())) << w.name;
    for (size_t f = 0; f < a.families.size(); f++) {
      for (size_t i = 0; i < a.families[f].steps.size(); i++) {
        EXPECT_EQ(a.families[f].state_hash[i + 1], c.families[f].state_hash[i + 1]) << w.name << " f" << f << " step " << i;
      }
    }
    EXPECT_NE(MakePlan(w.name, 100, 30).families[0].state_hash.back(), a.families[0].state_hash.back()) << w.name;
  }
}

// The real engine: run a plan, then verify; then damage the database behind
// the workload's back and check that the oracle notices.
TEST(Oracle, RealDatabaseRoundTripAndDamage) {
  WorkloadPlan p = MakePlan("mixed_durability", 5, 24);
  auto storage = std::make_shared<MemoryStorage>();
  Options o = p.EngineOptions(true);
  o.storage = storage;
  auto db = Database::Open("t.db", o);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  Progress progress;
  ASSERT_TRUE(RunSteps(p, **db, progress, false).ok()) << progress.error_text;
  std::vector<Window> w;
  for (size_t f = 0; f < p.families.size(); f++) {
    w.push_back(Window{progress.families[f].durable.load(), progress.families[f].started.load()});
    EXPECT_EQ(progress.families[f].started.load(), p.families[f].steps.size());
  }
  auto got = ReadContents(p, **db);
  ASSERT_TRUE(got.ok());
  std::vector<uint32_t> matched;
  auto v = VerifyDatabase(p, w, *got, &matched);
  ASSERT_FALSE(v) << v->detail;
  EXPECT_EQ(matched[0], p.families[0].steps.size()) << "nothing crashed: the newest state";
  // The digest (the fast path) agrees with the contents.
  auto digest = ReadDigest(p, **db);
  ASSERT_TRUE(digest.ok());
  for (size_t f = 0; f < p.families.size(); f++) EXPECT_EQ(digest->family_hash[f], got->families[f].Hash()) << f;
  std::vector<uint32_t> dm;
  EXPECT_TRUE(MatchDigest(p, w, *digest, &dm));
  EXPECT_EQ(dm, matched);
  // Remove the "seq" key of family f0: the newest commit is now torn.
  {
    auto txn = (*db)->BeginWrite("f0");
    ASSERT_TRUE(txn.ok());
    auto t = txn->OpenTable(kTableName);
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t->Delete(kSeqKey).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
  got = ReadContents(p, **db);
  ASSERT_TRUE(got.ok());
  v = VerifyDatabase(p, w, *got, nullptr);
  digest = ReadDigest(p, **db);
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(digest->family_hash[0], got->families[0].Hash());
  EXPECT_FALSE(MatchDigest(p, w, *digest, &dm)) << "the digest must notice the damage too";
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->kind == ViolationKind::kTornTxn || v->kind == ViolationKind::kHole) << v->detail;
}

TEST(Reproducer, RoundTripAndErrors) {
  Reproducer r;
  r.workload = "single_cf";
  r.seed = 42;
  r.ops = 7;
  r.capture = 3;
  r.plan = "n8,o1";
  r.nested_cut = 5;
  r.nested_seed = 9;
  auto back = Reproducer::Parse(r.ToText());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ToText(), r.ToText());
  EXPECT_FALSE(Reproducer::Parse("workload nope\n").ok());
  EXPECT_FALSE(Reproducer::Parse("workload single_cf\nplan n1\n").ok()) << "a plan needs a capture";
  EXPECT_FALSE(Reproducer::Parse("workload single_cf\nbogus 1\n").ok());
}

}  // namespace
}  // namespace manifold::crashsim
