// The crashsim oracle (see oracle.h).
#include "oracle.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace manifold::crashsim {

void Progress::Reset() {
  for (FamilyProgress& f : families) {
    f.started.store(0);
    f.acked.store(0);
    f.durable.store(0);
  }
  syncs.store(0);
  for (std::atomic<uint64_t>& h : point_hits) h.store(0);
  workload_error.store(0);
  error_text[0] = '\0';
}

void Progress::MarkDurable(size_t f, uint32_t n) {
  std::atomic<uint32_t>& d = families[f].durable;
  uint32_t cur = d.load();
  while (cur < n && !d.compare_exchange_weak(cur, n)) {
  }
}

std::vector<uint32_t> Floors(const Progress& p, size_t families) {
  std::vector<uint32_t> v(families);
  for (size_t f = 0; f < families; f++) v[f] = p.families[f].durable.load();
  return v;
}

std::vector<uint32_t> Ceilings(const Progress& p, size_t families) {
  std::vector<uint32_t> v(families);
  for (size_t f = 0; f < families; f++) v[f] = p.families[f].started.load();
  return v;
}

const char* ViolationKindName(ViolationKind k) {
  switch (k) {
    case ViolationKind::kOpenFailed: return "open-failed";
    case ViolationKind::kCheckFailed: return "check-failed";
    case ViolationKind::kReadFailed: return "read-failed";
    case ViolationKind::kLostAck: return "lost-acknowledged-commit";
    case ViolationKind::kTornTxn: return "torn-transaction";
    case ViolationKind::kHole: return "not-a-prefix";
    case ViolationKind::kIsolation: return "isolation";
    case ViolationKind::kPhantom: return "phantom";
    case ViolationKind::kNotIdempotent: return "recovery-not-idempotent";
    case ViolationKind::kWorkloadError: return "workload-error";
  }
  return "?";
}

uint64_t FamilyContents::Hash() const {
  StateHasher h;
  h.Begin(exists, has_table);
  for (const auto& [k, v] : entries) h.Add(k, HashBytes(v));
  uint64_t x = h.Finish();
  for (const std::string& t : other_tables) x ^= HashBytes(t, 0x7461626c65ull);  // never a plan state
  return x;
}

namespace {

// "f<F>.s<S>." at the start of a value.
bool ParseTag(const std::string& v, uint32_t* family, uint32_t* step) {
  unsigned f = 0, s = 0;
  if (std::sscanf(v.c_str(), "f%u.s%u.", &f, &s) != 2) return false;
  *family = f;
  *step = s;
  return true;
}

std::string Describe(const WorkloadPlan& plan, uint32_t family, uint32_t step) {
  const Step& s = plan.families[family].steps[step];
  std::string d = "step " + std::to_string(step) + " (" + StepKindName(s.kind);
  if (s.kind == StepKind::kCommit) {
    d += std::string(", ") +
         (s.durability == Durability::kImmediate ? "immediate" : s.durability == Durability::kNone ? "none" : "eventual") +
         ", " + std::to_string(s.writes.size() + 1) + " keys";
  }
  return d + ")";
}

// The newest step below `n` that changed the family's state (n - 1 if none did).
uint32_t LastChange(const FamilyPlan& fp, uint32_t n) {
  for (uint32_t j = n; j > 0; j--) {
    if (fp.state_hash[j] != fp.state_hash[j - 1]) return j - 1;
  }
  return n > 0 ? n - 1 : 0;
}

// The newest prefix length i in the window whose state hash is h.
std::optional<uint32_t> FindInWindow(const FamilyPlan& fp, const Window& w, uint64_t h) {
  const uint32_t hi = std::min<uint32_t>(w.ceiling, static_cast<uint32_t>(fp.state_hash.size() - 1));
  // Newest first: the likeliest match after a crash that kept everything.
  for (int64_t i = hi; i >= static_cast<int64_t>(w.floor); i--) {
    if (fp.state_hash[static_cast<size_t>(i)] == h) return static_cast<uint32_t>(i);
  }
  return std::nullopt;
}

// Index of column family `cf` in the plan (plan.families.size() if not there).
size_t FamilyIndex(const WorkloadPlan& plan, const std::string& cf) {
  size_t f = 0;
  while (f < plan.families.size() && plan.families[f].name != cf) f++;
  return f;
}

}  // namespace

Violation Classify(const WorkloadPlan& plan, uint32_t family, const Window& w, const FamilyContents& got) {
  const FamilyPlan& fp = plan.families[family];
  const std::string who = "family " + fp.name + ": ";
  if (!got.other_tables.empty()) {
    return {ViolationKind::kIsolation, who + "unexpected table '" + got.other_tables.front() + "'"};
  }
  for (const auto& [k, v] : got.entries) {
    uint32_t f = 0, s = 0;
    if (ParseTag(v, &f, &s) && f != family) {
      return {ViolationKind::kIsolation,
              who + "key " + k + " holds a value written in family f" + std::to_string(f) + " (step " +
                  std::to_string(s) + ")"};
    }
  }
  const uint64_t h = got.Hash();
  for (uint32_t i = 0; i < fp.state_hash.size(); i++) {
    if (fp.state_hash[i] != h) continue;
    if (i < w.floor) {
      return {ViolationKind::kLostAck, who + "recovered the state after " + std::to_string(i) + " steps, but " +
                                           std::to_string(w.floor) + " were acknowledged durable (missing: " +
                                           Describe(plan, family, LastChange(fp, w.floor)) + ")"};
    }
    if (i > w.ceiling) {
      return {ViolationKind::kPhantom, who + "recovered the state after " + std::to_string(i) + " steps, but only " +
                                           std::to_string(w.ceiling) + " had started"};
    }
  }
  // No prefix state: find the newest commit visible and compare with the state it implies.
  int64_t newest = -1;
  for (const auto& [k, v] : got.entries) {
    uint32_t f = 0, s = 0;
    if (!ParseTag(v, &f, &s) || s >= fp.steps.size()) {
      return {ViolationKind::kHole, who + "key " + k + " holds a value no step wrote"};
    }
    newest = std::max<int64_t>(newest, s);
  }
  if (newest < 0) {
    return {ViolationKind::kHole, who + std::string(got.exists ? "exists" : "absent") +
                                      (got.has_table ? " with an empty table" : " without its table") +
                                      ", which no prefix state matches"};
  }
  const uint32_t m = static_cast<uint32_t>(newest);
  if (m + 1 < w.floor && fp.state_hash[m + 1] != fp.state_hash[w.floor]) {
    return {ViolationKind::kLostAck, who + "newest visible step is " + std::to_string(m) + ", but " +
                                         std::to_string(w.floor) + " steps were acknowledged durable (missing: " +
                                         Describe(plan, family, LastChange(fp, w.floor)) + ")"};
  }
  const FamilyModel after = ModelAfter(plan, family, m + 1);
  // Keys the newest visible step wrote: present as it left them, or not?
  std::set<std::string> keys{std::string(kSeqKey)};
  for (const PlannedWrite& pw : fp.steps[m].writes) keys.insert(KeyName(pw.key));
  size_t as_written = 0;
  std::string differs;
  for (const std::string& k : keys) {
    auto want = after.entries.find(k);
    auto have = got.entries.find(k);
    const bool same = (want == after.entries.end() && have == got.entries.end()) ||
                      (want != after.entries.end() && have != got.entries.end() && HashBytes(have->second) == want->second);
    if (same) {
      as_written++;
    } else if (differs.empty()) {
      differs = k;
    }
  }
  if (as_written < keys.size()) {
    return {ViolationKind::kTornTxn, who + Describe(plan, family, m) + " is partly present: " +
                                         std::to_string(as_written) + " of its " + std::to_string(keys.size()) +
                                         " keys as committed, key " + differs + " not"};
  }
  // The newest step is whole: something older differs.
  for (const auto& [k, vh] : after.entries) {
    auto have = got.entries.find(k);
    if (have == got.entries.end()) {
      return {ViolationKind::kHole, who + Describe(plan, family, m) + " is present but key " + k +
                                        " (written before it) is missing: a hole in the commit order"};
    }
    if (HashBytes(have->second) != vh) {
      uint32_t f = 0, s = 0;
      const bool tagged = ParseTag(have->second, &f, &s);
      return {ViolationKind::kHole, who + Describe(plan, family, m) + " is present but key " + k + " holds " +
                                        (tagged ? "the value of step " + std::to_string(s) : std::string("a damaged value")) +
                                        ": a hole in the commit order"};
    }
  }
  for (const auto& [k, v] : got.entries) {
    if (after.entries.count(k) == 0) {
      return {ViolationKind::kHole, who + Describe(plan, family, m) + " is present but key " + k +
                                        " (deleted before it) is back: a hole in the commit order"};
    }
  }
  return {ViolationKind::kHole, who + "table/family existence matches no prefix state (newest visible " +
                                    Describe(plan, family, m) + ")"};
}

FamilyVerdict VerifyFamily(const WorkloadPlan& plan, uint32_t family, const Window& w, const FamilyContents& got) {
  if (std::optional<uint32_t> i = FindInWindow(plan.families[family], w, got.Hash())) return {*i, std::nullopt};
  return {std::nullopt, Classify(plan, family, w, got)};
}

Result<DatabaseContents> ReadContents(const WorkloadPlan& plan, Database& db) {
  MANIFOLD_ASSIGN_OR_RETURN(ReadTransaction r, db.BeginRead());
  MANIFOLD_ASSIGN_OR_RETURN(std::vector<std::string> cfs, r.ListColumnFamilies());
  DatabaseContents out;
  out.families.resize(plan.families.size());
  for (const std::string& cf : cfs) {
    const size_t f = FamilyIndex(plan, cf);
    if (f == plan.families.size()) {
      if (cf != kDefaultColumnFamily) out.unexpected.push_back(cf);
      continue;
    }
    FamilyContents& fc = out.families[f];
    fc.exists = true;
    MANIFOLD_ASSIGN_OR_RETURN(std::vector<std::string> tables, r.ListTables(cf));
    for (const std::string& t : tables) {
      if (t != kTableName) {
        fc.other_tables.push_back(t);
        continue;
      }
      fc.has_table = true;
      MANIFOLD_ASSIGN_OR_RETURN(Table tab, r.OpenTable(t, cf));
      auto it = tab.Scan();
      for (; it.Valid(); it.Next()) fc.entries.emplace(std::string(it.key()), std::string(it.value()));
      MANIFOLD_RETURN_IF_ERROR(it.status());
    }
  }
  // A default family the workload never writes must stay empty (isolation).
  MANIFOLD_ASSIGN_OR_RETURN(std::vector<std::string> dt, r.ListTables(kDefaultColumnFamily));
  for (const std::string& t : dt) out.unexpected.push_back("default/" + t);
  return out;
}

Result<DatabaseDigest> ReadDigest(const WorkloadPlan& plan, Database& db) {
  MANIFOLD_ASSIGN_OR_RETURN(ReadTransaction r, db.BeginRead());
  MANIFOLD_ASSIGN_OR_RETURN(std::vector<std::string> cfs, r.ListColumnFamilies());
  DatabaseDigest out;
  FamilyContents absent;
  out.family_hash.assign(plan.families.size(), absent.Hash());
  for (const std::string& cf : cfs) {
    const size_t f = FamilyIndex(plan, cf);
    if (f == plan.families.size()) {
      if (cf != kDefaultColumnFamily) out.unexpected.push_back(cf);
      continue;
    }
    MANIFOLD_ASSIGN_OR_RETURN(std::vector<std::string> tables, r.ListTables(cf));
    bool has_table = false;
    uint64_t others = 0;
    StateHasher h;
    for (const std::string& t : tables) {
      if (t == kTableName) has_table = true;
    }
    h.Begin(true, has_table);
    for (const std::string& t : tables) {
      if (t != kTableName) {
        others ^= HashBytes(t, 0x7461626c65ull);  // as FamilyContents::Hash
        continue;
      }
      MANIFOLD_ASSIGN_OR_RETURN(Table tab, r.OpenTable(t, cf));
      auto it = tab.Scan();
      for (; it.Valid(); it.Next()) h.Add(it.key(), HashBytes(it.value()));
      MANIFOLD_RETURN_IF_ERROR(it.status());
    }
    out.family_hash[f] = h.Finish() ^ others;
  }
  MANIFOLD_ASSIGN_OR_RETURN(std::vector<std::string> dt, r.ListTables(kDefaultColumnFamily));
  for (const std::string& t : dt) out.unexpected.push_back("default/" + t);
  return out;
}

namespace {

// A multi-family transaction (joint steps) must be in every family it wrote
// or in none, given the prefix length matched in each.
std::optional<Violation> CheckJoint(const WorkloadPlan& plan, const std::vector<uint32_t>& matched) {
  std::map<uint32_t, std::vector<std::pair<uint32_t, bool>>> groups;  // joint id -> (family, present)
  for (uint32_t f = 0; f < plan.families.size(); f++) {
    const auto& steps = plan.families[f].steps;
    for (uint32_t i = 0; i < steps.size(); i++) {
      if (steps[i].joint != 0) groups[steps[i].joint].emplace_back(f, matched[f] > i);
    }
  }
  for (const auto& [id, members] : groups) {
    for (const auto& [f, present] : members) {
      if (present == members.front().second) continue;
      const uint32_t with = present ? f : members.front().first, without = present ? members.front().first : f;
      return Violation{ViolationKind::kTornTxn, "multi-family transaction " + std::to_string(id) + " is in family " +
                                                    plan.families[with].name + " but not in family " +
                                                    plan.families[without].name};
    }
  }
  return std::nullopt;
}

}  // namespace

bool MatchDigest(const WorkloadPlan& plan, const std::vector<Window>& windows, const DatabaseDigest& got,
                 std::vector<uint32_t>* matched) {
  if (!got.unexpected.empty()) return false;
  matched->assign(plan.families.size(), 0);
  for (size_t f = 0; f < plan.families.size(); f++) {
    std::optional<uint32_t> i = FindInWindow(plan.families[f], windows[f], got.family_hash[f]);
    if (!i) return false;
    (*matched)[f] = *i;
  }
  return !CheckJoint(plan, *matched);
}

std::optional<Violation> VerifyDatabase(const WorkloadPlan& plan, const std::vector<Window>& windows,
                                        const DatabaseContents& got, std::vector<uint32_t>* matched) {
  if (!got.unexpected.empty()) {
    return Violation{ViolationKind::kIsolation, "unexpected column family or table '" + got.unexpected.front() + "'"};
  }
  std::vector<uint32_t> steps(plan.families.size(), 0);
  for (uint32_t f = 0; f < plan.families.size(); f++) {
    FamilyVerdict v = VerifyFamily(plan, f, windows[f], got.families[f]);
    if (v.violation) return v.violation;
    steps[f] = *v.step;
  }
  if (matched != nullptr) *matched = steps;
  return CheckJoint(plan, steps);
}

uint64_t DurableCommitsBelow(const WorkloadPlan& plan, const std::vector<Window>& windows) {
  uint64_t n = 0;
  for (size_t f = 0; f < plan.families.size(); f++) {
    const auto& steps = plan.families[f].steps;
    for (uint32_t i = 0; i < windows[f].floor && i < steps.size(); i++) n += steps[i].kind == StepKind::kCommit;
  }
  return n;
}

}  // namespace manifold::crashsim
