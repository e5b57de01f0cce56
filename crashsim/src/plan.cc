// Workload plans (see plan.h). Every random choice comes from faultfs::Rng
// (xoshiro256**), never from std:: distributions, so a plan is the same on
// every host and standard library.
#include "plan.h"

#include <cstring>

#include "faultfs/rng.h"

namespace manifold::crashsim {

using faultfs::MixSeed;
using faultfs::Rng;

const char* StepKindName(StepKind k) {
  switch (k) {
    case StepKind::kCreate: return "create";
    case StepKind::kDrop: return "drop";
    case StepKind::kCommit: return "commit";
    case StepKind::kSync: return "sync";
    case StepKind::kCheckpoint: return "checkpoint";
  }
  return "?";
}

const std::vector<WorkloadInfo>& Workloads() {
  static const std::vector<WorkloadInfo> kAll = {
      {"single_cf", "one column family: multi-key commits (mostly kImmediate, some kNone), deletes, Sync()", 60},
      {"concurrent_cf", "4 column families written concurrently, one writer thread each; per-family prefix oracle", 80},
      {"multi_cf_txn",
       "3 families; each logical step is one multi-family transaction (BeginMultiWrite) writing the same keys in "
       "every family; recovered all or none across families, prefix-consistent in each",
       60},
      {"large_values", "one family, 1-3 values of 20-200 KiB per commit (overflow pages)", 16},
      {"mixed_durability", "2 families, kImmediate/kNone/kEventual commits and Sync(); only durable acks count", 60},
      {"checkpoint_ddl",
       "3 families with Checkpoint(), column family drop and re-create in flight, tiny checkpoint thresholds", 60},
      {"recovery_crash", "one family; each crash state is also crashed during its recovery, then reopened again", 24},
  };
  return kAll;
}

const WorkloadInfo* FindWorkload(std::string_view name) {
  for (const WorkloadInfo& w : Workloads()) {
    if (name == w.name) return &w;
  }
  return nullptr;
}

Options WorkloadPlan::EngineOptions(bool deterministic) const {
  Options o;
  o.page_size = page_size;
  o.cache_bytes = 8ull << 20;
  o.wal = true;
  o.wal_preallocate_bytes = 256 << 10;
  if (tiny_checkpoints) {
    o.checkpoint_wal_bytes = 16 << 10;
    o.checkpoint_dirty_bytes = 32ull * page_size;
  }
  if (deterministic) {
    o.checkpoint_interval_ms = 0;
    o.wal_sync_interval_ms = 3600ull * 1000;  // kEventual then waits for the next sync, like kNone
  } else {
    o.checkpoint_interval_ms = 200;
    o.wal_sync_interval_ms = 10;
  }
  return o;
}

std::string KeyName(uint32_t key) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "k%04u", key);
  return buf;
}

std::string SeqValue(uint32_t family, uint32_t step) {
  return "f" + std::to_string(family) + ".s" + std::to_string(step) + ".seq|";
}

std::string ValueFor(uint64_t seed, uint32_t family, uint32_t step, uint32_t key, uint32_t bytes) {
  std::string v = "f" + std::to_string(family) + ".s" + std::to_string(step) + ".k" + std::to_string(key) + "|";
  if (v.size() >= bytes) return v;
  const size_t head = v.size();
  v.resize(bytes);
  Rng r(MixSeed(MixSeed(seed, family), (uint64_t{step} << 32) | key));
  r.Fill(v.data() + head, bytes - head);
  return v;
}

uint64_t HashBytes(std::string_view bytes, uint64_t seed) {
  // Four independent multiply lanes over 32-byte blocks (the hash runs over every byte of
  // every crash state, so it must not be latency-bound), then a serial tail. Words are read
  // little-endian, as on every host this project builds for.
  constexpr uint64_t kM0 = 0xff51afd7ed558ccdull, kM1 = 0xc4ceb9fe1a85ec53ull;
  uint64_t h[4] = {0x243f6a8885a308d3ull ^ seed, 0x13198a2e03707344ull ^ seed, 0xa4093822299f31d0ull ^ seed,
                   0x082efa98ec4e6c89ull ^ seed};
  const char* p = bytes.data();
  size_t n = bytes.size();
  while (n >= 32) {
    for (int l = 0; l < 4; l++) {
      uint64_t w;
      std::memcpy(&w, p + 8 * l, 8);
      h[l] = (h[l] ^ w) * kM0;
      h[l] ^= h[l] >> 32;
    }
    p += 32;
    n -= 32;
  }
  uint64_t x = (bytes.size() * 0x9e3779b97f4a7c15ull) ^ h[0] ^ (h[1] * kM1) ^ ((h[2] >> 17) | (h[2] << 47)) ^ (h[3] * kM0);
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    x = (x ^ w) * kM0;
    x ^= x >> 32;
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  for (size_t j = 0; j < n; j++) tail |= uint64_t{static_cast<uint8_t>(p[j])} << (8 * j);
  x = (x ^ tail) * kM1;
  x ^= x >> 29;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void StateHasher::Begin(bool exists, bool has_table) {
  h_ = exists ? (has_table ? 0x5bd1e995u : 0x1b873593u) : 0;
}

void StateHasher::Add(std::string_view key, uint64_t value_hash) {
  h_ = MixSeed(h_, HashBytes(key, value_hash));
}

uint64_t StateHasher::Finish() const { return h_; }

uint64_t FamilyModel::Hash() const {
  StateHasher h;
  h.Begin(exists, has_table);
  for (const auto& [k, vh] : entries) h.Add(k, vh);
  return h.Finish();
}

void FamilyModel::Apply(const WorkloadPlan& plan, uint32_t family, uint32_t step_index) {
  const Step& s = plan.families[family].steps[step_index];
  switch (s.kind) {
    case StepKind::kCreate:
      exists = true;
      has_table = false;
      entries.clear();
      break;
    case StepKind::kDrop:
      exists = false;
      has_table = false;
      entries.clear();
      break;
    case StepKind::kCommit:
      has_table = true;
      for (const PlannedWrite& w : s.writes) {
        const std::string k = KeyName(w.key);
        if (w.del) {
          entries.erase(k);
        } else {
          entries[k] = HashBytes(ValueFor(plan.seed, family, step_index, w.key, w.value_bytes));
        }
      }
      entries[std::string(kSeqKey)] = HashBytes(SeqValue(family, step_index));
      break;
    case StepKind::kSync:
    case StepKind::kCheckpoint:
      break;
  }
}

FamilyModel ModelAfter(const WorkloadPlan& plan, uint32_t family, uint32_t n) {
  FamilyModel m;
  for (uint32_t i = 0; i < n && i < plan.families[family].steps.size(); i++) m.Apply(plan, family, i);
  return m;
}

namespace {

struct Gen {
  WorkloadPlan* plan;
  Rng rng;
  std::vector<bool> exists;
  uint32_t logical = 0;
  uint32_t next_joint = 1;

  uint32_t Between(uint32_t lo, uint32_t hi) { return lo + static_cast<uint32_t>(rng.Uniform(hi - lo + 1)); }

  void Push(uint32_t f, Step s) {
    s.logical = logical++;
    if (s.kind == StepKind::kCreate) exists[f] = true;
    if (s.kind == StepKind::kDrop) exists[f] = false;
    plan->families[f].steps.push_back(std::move(s));
    plan->schedule.push_back(static_cast<uint8_t>(f));
  }
  bool Full() const { return plan->schedule.size() >= plan->ops; }

  // A commit of 1..keys_max writes over `keyspace` keys, values of [lo, hi] bytes.
  Step Commit(uint32_t keys_max, uint32_t keyspace, uint32_t lo, uint32_t hi, Durability d, double del_p = 0.1) {
    Step s;
    s.kind = StepKind::kCommit;
    s.durability = d;
    const uint32_t n = Between(1, keys_max);
    for (uint32_t i = 0; i < n; i++) {
      PlannedWrite w;
      w.key = static_cast<uint32_t>(rng.Uniform(keyspace));
      w.del = rng.Chance(del_p);
      w.value_bytes = Between(lo, hi);
      s.writes.push_back(w);
    }
    return s;
  }
  Step Simple(StepKind k) {
    Step s;
    s.kind = k;
    return s;
  }
};

}  // namespace

WorkloadPlan MakePlan(std::string_view workload, uint64_t seed, uint32_t ops, uint32_t families_max) {
  WorkloadPlan p;
  p.workload = std::string(workload);
  p.seed = seed;
  const WorkloadInfo* info = FindWorkload(workload);
  p.ops = ops != 0 ? ops : (info != nullptr ? info->default_ops : 20);
  Gen g{&p, Rng(MixSeed(seed, HashBytes(workload))), {}, 0};
  p.page_size = g.rng.Chance(0.25) ? 512 : 4096;

  uint32_t families = 1;
  if (workload == "concurrent_cf") families = 4;
  if (workload == "multi_cf_txn" || workload == "checkpoint_ddl") families = 3;
  if (workload == "mixed_durability") families = 2;
  if (families_max != 0 && families > families_max) families = families_max;
  for (uint32_t f = 0; f < families; f++) p.families.push_back(FamilyPlan{"f" + std::to_string(f), {}, {}});
  g.exists.assign(families, false);
  p.threaded = workload == "concurrent_cf";
  p.tiny_checkpoints = workload == "checkpoint_ddl";
  p.nested_recovery_crash = workload == "recovery_crash";

  auto durability3 = [&] {
    const uint64_t x = g.rng.Uniform(3);
    return x == 0 ? Durability::kImmediate : x == 1 ? Durability::kNone : Durability::kEventual;
  };
  while (!g.Full()) {
    if (workload == "multi_cf_txn") {
      // One logical step: the same keys, committed once in every family in turn.
      const bool durable = g.rng.Chance(0.7);
      const bool sync_after = !durable && g.rng.Chance(0.3);
      Step proto = g.Commit(6, 64, 16, 1200, durable ? Durability::kImmediate : Durability::kNone);
      proto.joint = g.next_joint++;
      for (uint32_t f = 0; f < families && !g.Full(); f++) {
        if (!g.exists[f]) {
          g.Push(f, g.Simple(StepKind::kCreate));
          continue;
        }
        g.Push(f, proto);
      }
      if (sync_after && !g.Full()) g.Push(static_cast<uint32_t>(g.rng.Uniform(families)), g.Simple(StepKind::kSync));
      continue;
    }
    const uint32_t f = static_cast<uint32_t>(g.rng.Uniform(families));
    if (!g.exists[f]) {
      g.Push(f, g.Simple(StepKind::kCreate));
      continue;
    }
    if (workload == "large_values") {
      g.Push(f, g.Commit(3, 12, 20 << 10, 200 << 10, g.rng.Chance(0.8) ? Durability::kImmediate : Durability::kNone,
                         0.15));
    } else if (workload == "concurrent_cf") {
      if (g.rng.Chance(0.05)) {
        g.Push(f, g.Simple(StepKind::kSync));
      } else {
        g.Push(f, g.Commit(6, 64, 16, 2000, g.rng.Chance(0.7) ? Durability::kImmediate : Durability::kNone));
      }
    } else if (workload == "mixed_durability") {
      if (g.rng.Chance(0.1)) {
        g.Push(f, g.Simple(StepKind::kSync));
      } else {
        g.Push(f, g.Commit(5, 48, 16, 3000, durability3()));
      }
    } else if (workload == "checkpoint_ddl") {
      const uint64_t x = g.rng.Uniform(20);
      if (x < 2) {
        g.Push(f, g.Simple(StepKind::kCheckpoint));
      } else if (x == 2) {
        g.Push(f, g.Simple(StepKind::kDrop));
      } else {
        g.Push(f, g.Commit(6, 64, 16, 2500, g.rng.Chance(0.6) ? Durability::kImmediate : Durability::kNone));
      }
    } else if (workload == "recovery_crash") {
      if (g.rng.Chance(0.08)) {
        g.Push(f, g.Simple(StepKind::kSync));
      } else {
        g.Push(f, g.Commit(4, 32, 16, 1500, g.rng.Chance(0.7) ? Durability::kImmediate : Durability::kNone));
      }
    } else {  // single_cf (and any unknown name: the caller validates names)
      if (g.rng.Chance(0.06)) {
        g.Push(f, g.Simple(StepKind::kSync));
      } else {
        g.Push(f, g.Commit(8, 256, 64, 8192, g.rng.Chance(0.85) ? Durability::kImmediate : Durability::kNone));
      }
    }
  }

  for (uint32_t f = 0; f < families; f++) {
    FamilyPlan& fp = p.families[f];
    FamilyModel m;
    fp.state_hash.push_back(m.Hash());
    for (uint32_t i = 0; i < fp.steps.size(); i++) {
      m.Apply(p, f, i);
      fp.state_hash.push_back(m.Hash());
    }
  }
  return p;
}

}  // namespace manifold::crashsim
