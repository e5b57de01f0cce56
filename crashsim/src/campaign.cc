// crashsim campaigns (see campaign.h and crashsim/README.md).
#include "campaign.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_set>

#include "faultfs/faultfs.h"
#include "runner.h"
#include "util/crash_point.h"
#include "state_storage.h"
#include "util/json.h"

#ifndef CRASHSIM_DEFAULT_SAVE_DIR
#define CRASHSIM_DEFAULT_SAVE_DIR ""
#endif

namespace manifold::crashsim {

using faultfs::CrashImage;
using faultfs::CrashPlan;
using faultfs::CrashPolicy;
using faultfs::DeviceTraits;
using faultfs::FaultKind;
using faultfs::FaultRule;
using faultfs::FaultStorage;
using faultfs::FileSet;
using faultfs::MixSeed;
using faultfs::Rng;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kDbName = "db.manifold";

double CpuSeconds() {
  double s = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    struct rusage ru;
    if (::getrusage(who, &ru) == 0) {
      s += static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    }
  }
  return s;
}

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

uint64_t CaseSeed(uint64_t seed, uint64_t i) { return i == 0 ? seed : MixSeed(seed, i); }

std::string ScratchRoot() {
  if (const char* d = std::getenv("CRASHSIM_TMPDIR")) return d;
  struct stat sb;
  if (::stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && ::access("/dev/shm", W_OK) == 0) return "/dev/shm";
  if (const char* d = std::getenv("TMPDIR")) return d;
  return "/tmp";
}

std::string MakeTempDir() {
  std::string tmpl = ScratchRoot() + "/crashsim.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::perror("crashsim: mkdtemp");
    std::exit(2);
  }
  return tmpl;
}

void RemoveDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

DeviceTraits TraitsFor(uint64_t case_seed, bool exhaustive) {
  DeviceTraits t;
  if (exhaustive) {  // one sector per 4 KiB page keeps the state space enumerable
    t.sector_size = 4096;
    t.atomic_sectors = true;
    return t;
  }
  Rng r(MixSeed(case_seed, 0x747261697473ull));
  t.sector_size = r.Chance(0.5) ? 512 : 4096;
  t.atomic_sectors = r.Chance(0.5);
  t.safe_append = r.Chance(0.5);
  return t;
}

// The plan as text: RLE maps joined by ',' ("-" for none).
std::string PlanText(const CrashPlan& p) {
  if (p.maps.empty()) return "-";
  std::string s;
  for (size_t i = 0; i < p.maps.size(); i++) {
    if (i) s += ',';
    s += faultfs::EncodeSectorMap(p.maps[i]);
  }
  return s;
}

Result<CrashPlan> PlanFromText(const CrashImage& img, const std::string& text, uint64_t garbage_seed) {
  if (text == "keep-all") return img.KeepAllPlan();
  if (text == "drop-all") return img.DropAllPlan();
  CrashPlan p;
  p.garbage_seed = garbage_seed;
  if (text != "-") {
    std::stringstream ss(text);
    std::string part;
    while (std::getline(ss, part, ',')) {
      MANIFOLD_ASSIGN_OR_RETURN(std::string m, faultfs::DecodeSectorMap(part));
      p.maps.push_back(m);
    }
  }
  if (p.maps.size() != img.ops().size()) {
    return Status::InvalidArgument("plan has " + std::to_string(p.maps.size()) + " maps, the crash point has " +
                                   std::to_string(img.ops().size()) + " unsynced operations");
  }
  for (size_t i = 0; i < p.maps.size(); i++) {
    if (p.maps[i].size() != img.MapLength(i)) return Status::InvalidArgument("map " + std::to_string(i) + " has the wrong length");
  }
  MANIFOLD_RETURN_IF_ERROR(img.Validate(p));
  return p;
}

// Strips `dir` + '/' from the paths of a file set (powerloss mode), so that
// image hashes do not depend on the temporary directory.
FileSet Relative(const FileSet& in, const std::string& dir) {
  if (dir.empty()) return in;
  FileSet out;
  const std::string prefix = dir + "/";
  for (const auto& [p, bytes] : in.files) {
    out.files[p.compare(0, prefix.size(), prefix) == 0 ? p.substr(prefix.size()) : p] = bytes;
  }
  return out;
}

uint64_t g_image_bytes = 0, g_images = 0;  // for the report (single-threaded use)

// Image hashes (distinct states) are over every path and byte, by 4 KiB
// block: a file hashes to MixSeed(path, size, sum over blocks k of
// MixSeed(HashBytes(block k, k), k)). Stable across hosts. Blocks a crash
// state shares with the durable image of its crash point can then be hashed
// once per crash point (ImageHasher) instead of once per state.
constexpr uint64_t kHashBlock = 4096;

uint64_t BlockHash(const std::string& bytes, uint64_t k) {
  const uint64_t at = k * kHashBlock;
  const std::string_view b(bytes.data() + at, std::min<uint64_t>(kHashBlock, bytes.size() - at));
  return MixSeed(HashBytes(b, k), k);
}

uint64_t FileHash(const std::string& path, uint64_t size, uint64_t block_sum) {
  return MixSeed(MixSeed(HashBytes(path), size), block_sum);
}

uint64_t ImageHash(const FileSet& fs) {
  uint64_t h = 0x696d616765ull;
  g_images++;
  for (const auto& [p, bytes] : fs.files) {
    g_image_bytes += bytes.size();
    uint64_t sum = 0;
    for (uint64_t k = 0; k * kHashBlock < bytes.size(); k++) sum += BlockHash(bytes, k);
    h = MixSeed(h, FileHash(p, bytes.size(), sum));
  }
  return h;
}

// ImageHash for the crash states of one capture: the hashes of the durable
// files' blocks are computed once, and each state rehashes only the blocks
// its plan may have changed (CrashImage::ChangedRanges). Same values as
// ImageHash.
class ImageHasher {
 public:
  explicit ImageHasher(const CrashImage& img) : img_(img) {}

  uint64_t Hash(const FileSet& fs, const CrashPlan& plan) {
    std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> changed;
    if (!img_.ChangedRanges(plan, &changed)) return ImageHash(fs);
    uint64_t h = 0x696d616765ull;
    g_images++;
    for (const auto& [p, bytes] : fs.files) {
      g_image_bytes += bytes.size();
      const std::vector<uint64_t>* base = BaseBlocks(p);
      const uint64_t blocks = (bytes.size() + kHashBlock - 1) / kHashBlock;
      // Blocks that hold the durable bytes: whole in both files, no change.
      std::vector<bool> same(blocks, false);
      if (base != nullptr) {
        for (uint64_t k = 0; k < std::min<uint64_t>(blocks, base->size()); k++) same[k] = (k + 1) * kHashBlock <= bytes.size();
        if (auto c = changed.find(p); c != changed.end()) {
          for (const auto& [from, to] : c->second) {
            for (uint64_t k = from / kHashBlock; k < blocks && k * kHashBlock < to; k++) same[k] = false;
          }
        }
      }
      uint64_t sum = 0;
      for (uint64_t k = 0; k < blocks; k++) sum += same[k] ? (*base)[k] : BlockHash(bytes, k);
      h = MixSeed(h, FileHash(p, bytes.size(), sum));
    }
    return h;
  }

 private:
  // Hashes of the whole blocks of the durable file `path` (null if none).
  const std::vector<uint64_t>* BaseBlocks(const std::string& path) {
    auto it = base_.find(path);
    if (it != base_.end()) return it->second ? &*it->second : nullptr;
    std::optional<std::vector<uint64_t>>& b = base_[path];
    if (const std::string* d = img_.DurableFile(path)) {
      b.emplace();
      for (uint64_t k = 0; (k + 1) * kHashBlock <= d->size(); k++) b->push_back(BlockHash(*d, k));
      return &*b;
    }
    return nullptr;
  }

  const CrashImage& img_;
  std::map<std::string, std::optional<std::vector<uint64_t>>> base_;
};

void CountFates(const CrashPlan& p, CampaignStats& st) {
  for (const std::string& m : p.maps) {
    switch (faultfs::FateOf(m)) {
      case faultfs::Fate::kKeep: break;
      case faultfs::Fate::kDrop: st.faults["crash-drop"]++; break;
      case faultfs::Fate::kTorn: st.faults["crash-torn"]++; break;
      case faultfs::Fate::kGarbage: st.faults["crash-garbage"]++; break;
      case faultfs::Fate::kZeros: st.faults["crash-zeros"]++; break;
    }
  }
}

// Where a crash state lives for reopening.
struct Materialized {
  std::shared_ptr<Storage> storage;  // null: native files
  std::string path;
  std::string dir;  // native: remove afterwards
};

// Powerloss mode: the crash state written to a fresh directory (inproc mode
// reopens it in place, through a StateStorage).
Materialized MaterializeNative(const FileSet& rel) {
  Materialized m;
  m.dir = MakeTempDir();
  m.path = m.dir + "/" + kDbName;
  for (const auto& [name, bytes] : rel.files) {
    std::ofstream f(m.dir + "/" + name, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  return m;
}

Result<FileSet> ReadDir(const std::string& dir) {
  FileSet fs;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    fs.files[e.path().filename().string()] = ss.str();
  }
  if (ec) return Status::IOError("list " + dir + ": " + ec.message());
  return fs;
}

std::vector<Window> MakeWindows(const std::vector<uint32_t>& floors, const std::vector<uint32_t>& ceilings) {
  std::vector<Window> w(floors.size());
  for (size_t f = 0; f < floors.size(); f++) w[f] = Window{floors[f], std::max(floors[f], ceilings[f])};
  return w;
}

// Reopen, Check(), compare with the oracle, close, reopen again, compare again.
std::optional<Violation> VerifyState(const WorkloadPlan& plan, const std::vector<Window>& windows, const Materialized& m,
                                     bool deterministic, CampaignStats& st) {
  Options o = plan.EngineOptions(deterministic);
  o.storage = m.storage;
  const auto t0 = Clock::now();
  Result<std::unique_ptr<Database>> db = Database::Open(m.path, o);
  const double ms = MsSince(t0);
  st.states++;
  if (!db.ok()) return Violation{ViolationKind::kOpenFailed, "reopen failed: " + db.status().ToString()};
  st.recovery_ms.push_back(ms);
  Result<CheckReport> rep = (*db)->Check();
  if (!rep.ok()) return Violation{ViolationKind::kCheckFailed, "Check() failed: " + rep.status().ToString()};
  if (!rep->ok) {
    return Violation{ViolationKind::kCheckFailed,
                     "Check(): " + (rep->problems.empty() ? std::string("not ok") : rep->problems.front())};
  }
  std::vector<uint32_t> matched;
  Result<DatabaseDigest> digest = ReadDigest(plan, **db);
  if (!digest.ok()) return Violation{ViolationKind::kReadFailed, "reading the state: " + digest.status().ToString()};
  if (!MatchDigest(plan, windows, *digest, &matched)) {
    // Explain the mismatch from the full contents.
    Result<DatabaseContents> got = ReadContents(plan, **db);
    if (!got.ok()) return Violation{ViolationKind::kReadFailed, "reading the state: " + got.status().ToString()};
    if (auto v = VerifyDatabase(plan, windows, *got, &matched)) return v;
    return Violation{ViolationKind::kHole, "the state digest matches no prefix, but the contents do (oracle bug)"};
  }
  st.acked_verified += DurableCommitsBelow(plan, windows);
  if (Status s = (*db)->Close(); !s.ok()) {
    return Violation{ViolationKind::kNotIdempotent, "Close() after recovery failed: " + s.ToString()};
  }
  db->reset();
  Result<std::unique_ptr<Database>> again = Database::Open(m.path, o);
  if (!again.ok()) {
    return Violation{ViolationKind::kNotIdempotent, "second reopen failed: " + again.status().ToString()};
  }
  Result<DatabaseDigest> got2 = ReadDigest(plan, **again);
  if (!got2.ok()) return Violation{ViolationKind::kNotIdempotent, "second read failed: " + got2.status().ToString()};
  if (!got2->unexpected.empty()) {
    return Violation{ViolationKind::kNotIdempotent, "after a second reopen: unexpected '" + got2->unexpected.front() + "'"};
  }
  for (size_t f = 0; f < plan.families.size(); f++) {
    if (got2->family_hash[f] != plan.families[f].state_hash[matched[f]]) {
      return Violation{ViolationKind::kNotIdempotent, "family " + plan.families[f].name +
                                                          " differs after a second reopen (first: prefix of " +
                                                          std::to_string(matched[f]) + " steps)"};
    }
  }
  if (Status s = (*again)->Close(); !s.ok()) {
    return Violation{ViolationKind::kNotIdempotent, "second Close() failed: " + s.ToString()};
  }
  return std::nullopt;
}

struct CaseSpec {
  std::string mode = "inproc";
  std::string workload;
  uint64_t seed = 0;
  uint32_t ops = 0;
  uint32_t families_max = 0;
  bool exhaustive = false;
  bool creation_crashes = false;  // crash points while Open() creates the database
  double lost_write_p = 0;        // self-test of the harness: a lying device
  double sync_error_p = 0;        // failed syncs that drop the dirty data
  std::optional<uint64_t> only_capture;
  std::string plan = "any";
  std::optional<uint64_t> nested_cut;
  uint64_t nested_seed = 0;
  uint64_t kill_delay_us = 0;
  std::string kill_point;
};

struct Found {
  uint64_t capture = 0;
  std::string plan;
  std::optional<uint64_t> nested_cut;
  uint64_t nested_seed = 0;
  uint64_t kill_delay_us = 0;
  std::string kill_point;
  Violation violation;
  std::string where;
};

// Crash during recovery: reopen `files` through faultfs with a power cut at
// operation `cut` (random if absent) of the reopen, build a seeded crash
// image, then verify that.
std::optional<Violation> NestedCrash(const WorkloadPlan& plan, const std::vector<Window>& windows, const FileSet& files,
                                     DeviceTraits traits, uint64_t nested_seed, std::optional<uint64_t>* cut,
                                     CampaignStats& st) {
  Options o = plan.EngineOptions(true);
  if (!cut->has_value()) {
    FaultStorage::Options fo;
    fo.seed = nested_seed;
    fo.traits = traits;
    auto dry = std::make_shared<FaultStorage>(files.ToMemoryStorage(), fo);
    o.storage = dry;
    uint64_t ops = 0;
    {
      Result<std::unique_ptr<Database>> db = Database::Open(kDbName, o);
      ops = dry->op_count();
    }
    *cut = 1 + Rng(nested_seed).Uniform(std::max<uint64_t>(ops, 1));
  }
  FaultStorage::Options fo;
  fo.seed = nested_seed;
  fo.traits = traits;
  std::shared_ptr<MemoryStorage> base = files.ToMemoryStorage();
  auto fs = std::make_shared<FaultStorage>(base, fo);
  if (!fs->AddRule(FaultRule::Schedule(FaultKind::kPowerCut, {**cut})).ok()) return std::nullopt;
  o.storage = fs;
  {
    Result<std::unique_ptr<Database>> db = Database::Open(kDbName, o);
    (void)db;  // whether or not the open got through before the cut, the process dies here
  }
  fs->ClearRules();
  st.crashes++;
  st.faults["power-cut-in-recovery"] += fs->fault_count(FaultKind::kPowerCut);
  // The crash image of the files the reopen touched; files it never opened stay as they were.
  if (Result<FileSet> after = fs->PowerLoss(CrashPolicy{}); !after.ok()) return std::nullopt;
  for (FaultKind k : {FaultKind::kCrashDrop, FaultKind::kCrashTorn, FaultKind::kCrashGarbage, FaultKind::kCrashZeros}) {
    st.faults[faultfs::FaultKindName(k)] += fs->fault_count(k);
  }
  FileSet now;
  for (const auto& [path, bytes] : files.files) {
    if (Result<std::string> b = base->ReadAll(path); b.ok()) now.files[path] = *b;
  }
  st.NoteImage(ImageHash(now));
  Materialized m;
  m.storage = base;
  m.path = kDbName;
  std::optional<Violation> v = VerifyState(plan, windows, m, true, st);
  if (v) v->detail = "after a crash during recovery (power cut at reopen operation " + std::to_string(**cut) + "): " + v->detail;
  return v;
}

// Which crash states of one capture to check.
std::vector<CrashPlan> ChoosePlans(const CrashImage& img, const CaseSpec& spec, uint64_t capture, CampaignStats& st) {
  std::vector<CrashPlan> plans;
  const uint64_t pseed = MixSeed(spec.seed, capture);
  if (spec.plan != "any") {
    Result<CrashPlan> p = PlanFromText(img, spec.plan, pseed);
    if (p.ok()) {
      plans.push_back(*p);
    } else {
      std::fprintf(stderr, "crashsim: capture %" PRIu64 ": %s\n", capture, p.status().ToString().c_str());
    }
    return plans;
  }
  auto collect = [&](const CrashPlan& p) {
    plans.push_back(p);
    plans.back().garbage_seed = pseed;
    return true;
  };
  faultfs::EnumerateOptions eo;
  if (spec.exhaustive) {
    // faultfs's Count materializes the legal maps of each write up to max_states: keep it
    // bounded (beyond 2^20 states the total is reported as a lower bound).
    constexpr uint64_t kCountMax = uint64_t{1} << 20;
    eo.max_states = kCountMax;
    Result<uint64_t> total = img.Count(eo);
    const uint64_t limit = 4096;
    if (total.ok()) {
      st.exhaustive_total += *total;
    } else {
      st.exhaustive_total_exact = false;
    }
    st.exhaustive_points++;
    if (total.ok() && *total <= limit) {
      eo.max_states = limit;
      (void)img.Enumerate(eo, collect);
      st.exhaustive_points_full++;
    } else {
      std::unordered_set<std::string> seen;
      for (uint64_t j = 0; j < limit; j++) {
        CrashPlan p = img.RandomPlan(CrashPolicy{}, MixSeed(pseed, j));
        if (seen.insert(PlanText(p)).second) collect(p);
      }
      if (!total.ok()) st.exhaustive_total += kCountMax;  // at least
    }
    st.exhaustive_checked += plans.size();
    return plans;
  }
  const bool native = spec.mode == "powerloss";
  eo.max_states = native ? 3 : 6;
  Result<uint64_t> n = img.Count(eo);
  if (n.ok()) {
    (void)img.Enumerate(eo, collect);
    return plans;
  }
  collect(img.KeepAllPlan());
  if (!native) collect(img.DropAllPlan());
  const int randoms = native ? 1 : 2;
  for (int j = 0; j < randoms; j++) collect(img.RandomPlan(CrashPolicy{}, MixSeed(pseed, static_cast<uint64_t>(j + 1))));
  return plans;
}

std::mutex g_progress_mu;
Clock::time_point g_last_progress;
Clock::time_point g_start;
std::string g_mode;
double g_campaign_seconds = 0;  // the campaign's length (0: unknown, e.g. a replay): no bar

void MaybeProgress(const CampaignStats& st, bool force = false) {
  std::lock_guard<std::mutex> l(g_progress_mu);
  const auto now = Clock::now();
  if (!force && now - g_last_progress < std::chrono::seconds(1)) return;
  g_last_progress = now;
  const double s = std::chrono::duration<double>(now - g_start).count();
  // A bar of the time elapsed: "[########............]  40%".
  char bar[32] = "";
  if (g_campaign_seconds > 0) {
    constexpr int kWidth = 20;
    const double f = std::min(1.0, s / g_campaign_seconds);
    const int filled = static_cast<int>(f * kWidth);
    bar[0] = '[';
    for (int i = 0; i < kWidth; i++) bar[1 + i] = i < filled ? '#' : '.';
    std::snprintf(bar + 1 + kWidth, sizeof bar - 1 - kWidth, "] %3.0f%% ", f * 100);
  }
  std::fprintf(stderr, "[crashsim] %s%6.1fs %s: cases %" PRIu64 " crashes %" PRIu64 " states %" PRIu64 " (%.0f/min) violations %zu\n",
               bar, s, g_mode.c_str(), st.cases, st.crashes, st.states, s > 0 ? st.states * 60.0 / s : 0.0,
               st.violations.size());
}

// inproc and powerloss: runs the plan over faultfs, crash states at every sync.
std::optional<Found> RunImageCase(const CaseSpec& spec, CampaignStats& st, Clock::time_point deadline) {
  const WorkloadPlan plan = MakePlan(spec.workload, spec.seed, spec.ops, spec.families_max);
  const DeviceTraits traits = TraitsFor(spec.seed, spec.exhaustive);
  const bool native = spec.mode == "powerloss";
  const std::string dir = native ? MakeTempDir() : "";
  FaultStorage::Options fo;
  fo.seed = spec.seed;
  fo.traits = traits;
  auto fs = native ? std::make_shared<FaultStorage>(NewNativeStorage(), fo) : FaultStorage::OverMemory(fo);
  if (spec.lost_write_p > 0) {
    // Self-test: writes the device acknowledges but never keeps. The oracle must notice.
    (void)fs->AddRule(FaultRule::Probability(FaultKind::kLostWrite, spec.lost_write_p));
  }
  if (spec.sync_error_p > 0) {
    // Syncs that fail the Linux way (EIO, dirty pages dropped). The engine
    // must poison itself and acknowledge nothing more: the workload ends at
    // the first failed step, and the crash states after it are checked.
    (void)fs->AddRule(FaultRule::Probability(FaultKind::kSyncDropsDirty, spec.sync_error_p));
  }
  // A step that fails because of an injected sync error is expected.
  auto injected_failure = [&](const Status& s) {
    return spec.sync_error_p > 0 && (s.code() == Status::Code::kIOError || s.code() == Status::Code::kPoisoned);
  };
  auto progress = std::make_unique<Progress>();
  std::optional<Found> found;
  uint64_t capture = 0;
  std::mutex mu;

  bool armed = spec.creation_crashes;
  auto crash_point = [&](const char* when) {
    std::lock_guard<std::mutex> l(mu);
    if (!armed) return;
    const uint64_t c = capture++;
    if (found) return;
    if (spec.only_capture && *spec.only_capture != c) return;
    if (!spec.only_capture && Clock::now() > deadline) return;
    const std::vector<uint32_t> floors = Floors(*progress, plan.families.size());
    const CrashImage img = fs->CaptureCrashImage();
    const std::vector<Window> windows = MakeWindows(floors, Ceilings(*progress, plan.families.size()));
    st.crashes++;
    std::vector<CrashPlan> plans = ChoosePlans(img, spec, c, st);
    ImageHasher hasher(img);
    for (size_t j = 0; j < plans.size() && !found; j++) {
      Result<FileSet> built = img.Build(plans[j]);
      if (!built.ok()) continue;
      const bool nested = plan.nested_recovery_crash || spec.nested_cut.has_value();
      const FileSet moved = native ? Relative(*built, dir) : FileSet{};
      const FileSet& rel = native ? moved : *built;  // no copy in memory
      st.NoteImage(native ? ImageHash(rel) : hasher.Hash(rel, plans[j]));
      CountFates(plans[j], st);
      Materialized m;
      if (native) {
        m = MaterializeNative(rel);
      } else {
        // Reopened in place: the built bytes move into the storage (a copy
        // only when the nested crash below needs them again).
        m.storage = std::make_shared<StateStorage>(nested ? *built : std::move(*built));
        m.path = kDbName;
      }
      std::optional<Violation> v = VerifyState(plan, windows, m, true, st);
      if (!m.dir.empty()) RemoveDir(m.dir);
      std::optional<uint64_t> cut = spec.nested_cut;
      const uint64_t nseed = spec.nested_cut ? spec.nested_seed : MixSeed(MixSeed(spec.seed, c), j + 0x6e65);
      if (!v && nested) v = NestedCrash(plan, windows, rel, traits, nseed, &cut, st);
      if (v) {
        Found f;
        f.capture = c;
        f.plan = PlanText(plans[j]);
        f.nested_cut = (plan.nested_recovery_crash || spec.nested_cut) ? cut : std::nullopt;
        f.nested_seed = nseed;
        f.violation = *v;
        f.where = "crash point " + std::to_string(c) + " (" + when + "; " + std::to_string(img.ops().size()) +
                  " unsynced operations), state " + std::to_string(j) + " of " + std::to_string(plans.size());
        found = f;
      }
      MaybeProgress(st);
    }
  };
  auto workload_error = [&](const std::string& what) {
    std::lock_guard<std::mutex> l(mu);
    if (found) return;
    Found f;
    f.capture = capture;
    f.violation = Violation{ViolationKind::kWorkloadError, what};
    f.where = "while running the workload (no fault injected)";
    found = f;
  };

  auto tap = std::make_shared<SyncTapStorage>(fs, [&] { crash_point("before a storage sync"); });
  Options o = plan.EngineOptions(true);
  o.storage = tap;
  const std::string path = native ? dir + "/" + kDbName : kDbName;
  {
    Result<std::unique_ptr<Database>> db = Database::Open(path, o);
    {
      std::lock_guard<std::mutex> l(mu);
      armed = true;
    }
    if (!db.ok()) {
      if (!injected_failure(db.status())) workload_error("open: " + db.status().ToString());
    } else {
      Status s = RunSteps(plan, **db, *progress, /*free_threads=*/false);
      if (!s.ok() && !injected_failure(s)) workload_error(progress->error_text);
      crash_point("after the workload, without Close()");
      if (Status c = (*db)->Close(); c.ok()) {
        for (size_t f = 0; f < plan.families.size(); f++) progress->MarkDurable(f, progress->families[f].acked.load());
      } else if (!injected_failure(c)) {
        workload_error("Close(): " + c.ToString());
      }
      crash_point("after Close()");
    }
  }
  if (native) RemoveDir(dir);
  st.faults["lost-write"] += fs->fault_count(FaultKind::kLostWrite);
  if (st.faults["lost-write"] == 0) st.faults.erase("lost-write");
  st.faults["sync-drops-dirty"] += fs->fault_count(FaultKind::kSyncDropsDirty);
  if (st.faults["sync-drops-dirty"] == 0) st.faults.erase("sync-drops-dirty");
  st.cases++;
  return found;
}

static_assert(static_cast<size_t>(CrashPointId::kCount) <= Progress::kEnginePointsMax);

// What kill mode has learned about a workload from its uninterrupted runs.
struct KillTiming {
  double full_run_us = 0;   // an uninterrupted run (0: unknown yet; the next run is not killed)
  uint64_t full_syncs = 0;  // storage syncs of an uninterrupted run
  std::array<uint64_t, Progress::kEnginePointsMax> full_point_hits{};  // engine crash points reached in it
  double recovery_us = 2000;
};

// A named crash point: "before-sync:K" / "after-sync:K" (the K-th storage
// sync), or "ENGINE-POINT:K" (the K-th time the engine reached one of its
// named crash points, util/crash_point.h: log-appended, checkpoint-header-written, ...).
struct KillPoint {
  bool sync = true;    // a storage sync; else an engine point
  bool after = false;  // sync: just after it (else just before)
  CrashPointId engine = CrashPointId::kCount;
  uint64_t k = 0;
};

bool ParseKillPoint(const std::string& p, KillPoint* out) {
  const size_t colon = p.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string where = p.substr(0, colon);
  KillPoint kp;
  if (where == "before-sync" || where == "after-sync") {
    kp.after = where == "after-sync";
  } else {
    kp.sync = false;
    kp.engine = CrashPointByName(where);
    if (kp.engine == CrashPointId::kCount) return false;
  }
  char* end = nullptr;
  kp.k = std::strtoull(p.c_str() + colon + 1, &end, 10);
  *out = kp;
  return kp.k > 0 && end != nullptr && *end == '\0';
}

// Kill mode's child: counts the engine's crash points in shared memory and
// SIGKILLs itself at the chosen one.
Progress* g_point_progress = nullptr;
CrashPointId g_kill_at = CrashPointId::kCount;
uint64_t g_kill_at_k = 0;
void CountOrKillAtPoint(CrashPointId id) {
  const uint64_t n = g_point_progress->point_hits[static_cast<size_t>(id)].fetch_add(1) + 1;
  if (id == g_kill_at && n == g_kill_at_k) ::raise(SIGKILL);
}

// kill mode: fork, SIGKILL (at a random moment, or at a named crash point:
// just before or just after the K-th storage sync), verify.
std::optional<Found> RunKillCase(const CaseSpec& spec, CampaignStats& st, Progress* shared, KillTiming* kt,
                                 bool forced) {
  const WorkloadPlan plan = MakePlan(spec.workload, spec.seed, spec.ops, spec.families_max);
  const std::string dir = MakeTempDir();
  const std::string path = dir + "/" + kDbName;
  shared->Reset();
  Rng r(MixSeed(spec.seed, 0x6b696c6cull));
  uint64_t delay_us = 0;
  bool kill_it = true;
  std::string point;  // named crash point, if any
  if (forced) {
    delay_us = spec.kill_delay_us;
    point = spec.kill_point;
  } else if (kt->full_run_us > 0) {
    delay_us = r.Uniform(static_cast<uint64_t>(kt->full_run_us * 1.1) + 1);
    // Half the kills at a named crash point: a storage sync, or one of the
    // engine's own points that the uninterrupted run reached.
    std::vector<size_t> reached;
    for (size_t i = 0; i < static_cast<size_t>(CrashPointId::kCount); i++) {
      if (kt->full_point_hits[i] > 0) reached.push_back(i);
    }
    if (r.Chance(0.5)) {
      if (!reached.empty() && (kt->full_syncs == 0 || r.Chance(0.5))) {
        const size_t i = reached[r.Uniform(reached.size())];
        point = std::string(kCrashPointNames[i]) + ":" + std::to_string(1 + r.Uniform(kt->full_point_hits[i]));
      } else if (kt->full_syncs > 0) {
        point = std::string(r.Chance(0.5) ? "after-sync:" : "before-sync:") + std::to_string(1 + r.Uniform(kt->full_syncs));
      }
    }
  } else {
    kill_it = false;  // learn how long a run takes
  }
  KillPoint kp;
  if (!point.empty() && !ParseKillPoint(point, &kp)) point.clear();
  const bool point_after = kp.after;
  const uint64_t point_k = kp.k;
  const bool sync_point = !point.empty() && kp.sync;
  std::fflush(stdout);
  std::fflush(stderr);
  const auto t0 = Clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("crashsim: fork");
    std::exit(2);
  }
  if (pid == 0) {
    Options o = plan.EngineOptions(false);
    const bool named = sync_point;
    g_point_progress = shared;
    g_kill_at = !point.empty() && !kp.sync ? kp.engine : CrashPointId::kCount;
    g_kill_at_k = kp.k;
    SetCrashPointHook(&CountOrKillAtPoint);
    auto before = [&] {
      const uint64_t n = shared->syncs.fetch_add(1) + 1;
      if (named && !point_after && n == point_k) ::raise(SIGKILL);
    };
    auto after = [&] {
      if (named && point_after && shared->syncs.load() == point_k) ::raise(SIGKILL);
    };
    o.storage = std::make_shared<SyncTapStorage>(NewNativeStorage(), before, after);
    Result<std::unique_ptr<Database>> db = Database::Open(path, o);
    if (!db.ok()) {
      std::snprintf(shared->error_text, sizeof shared->error_text, "open: %s", db.status().ToString().c_str());
      shared->workload_error.store(1);
      ::_exit(3);
    }
    Status s = RunSteps(plan, **db, *shared, /*free_threads=*/true);
    if (s.ok()) {
      if ((*db)->Close().ok()) {
        for (size_t f = 0; f < plan.families.size(); f++) shared->MarkDurable(f, shared->families[f].acked.load());
      }
    }
    ::_exit(s.ok() ? 0 : 4);
  }
  if (kill_it && point.empty()) {
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
    ::kill(pid, SIGKILL);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  const double run_us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  const bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  if (!kill_it && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    kt->full_run_us = run_us;
    kt->full_syncs = shared->syncs.load();
    for (size_t i = 0; i < kt->full_point_hits.size(); i++) kt->full_point_hits[i] = shared->point_hits[i].load();
  }
  st.cases++;
  st.crashes += killed ? 1 : 0;
  if (killed) st.faults[point.empty() ? "sigkill" : sync_point ? "sigkill-at-sync" : "sigkill-at-engine-point"]++;
  std::vector<Window> windows = MakeWindows(Floors(*shared, plan.families.size()), Ceilings(*shared, plan.families.size()));
  std::optional<Found> found;
  auto report = [&](Violation v, std::string where) {
    Found f;
    f.kill_delay_us = kill_it && point.empty() ? delay_us : 0;
    f.kill_point = point;
    f.violation = std::move(v);
    f.where = std::move(where);
    found = f;
  };
  const std::string when = !kill_it        ? "uninterrupted run"
                           : point.empty() ? "SIGKILL " + std::to_string(delay_us) + " us after fork"
                           : sync_point    ? "SIGKILL at " + point + " (storage sync " + std::to_string(point_k) + ")"
                                           : "SIGKILL at the engine's crash point " + point;
  if (shared->workload_error.load() != 0) {
    report(Violation{ViolationKind::kWorkloadError, shared->error_text}, when);
  } else if (!killed && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    report(Violation{ViolationKind::kWorkloadError, "child exited with status " + std::to_string(status)}, when);
  } else {
    if (Result<FileSet> files = ReadDir(dir); files.ok()) st.NoteImage(ImageHash(*files));
    std::string extra;
    if (plan.nested_recovery_crash && killed) {
      // Crash during recovery: a second child reopens and is killed part-way.
      const uint64_t d2 = r.Uniform(static_cast<uint64_t>(kt->recovery_us * 1.5) + 500);
      std::fflush(stdout);
      std::fflush(stderr);
      const pid_t p2 = ::fork();
      if (p2 == 0) {
        Result<std::unique_ptr<Database>> db = Database::Open(path, plan.EngineOptions(false));
        ::_exit(db.ok() ? 0 : 5);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(d2));
      ::kill(p2, SIGKILL);
      int s2 = 0;
      ::waitpid(p2, &s2, 0);
      if (WIFSIGNALED(s2)) {
        st.crashes++;
        st.faults["sigkill-in-recovery"]++;
      }
      extra = ", then SIGKILL during recovery " + std::to_string(d2) + " us after fork";
    }
    Materialized m;
    m.path = path;
    const size_t before = st.recovery_ms.size();
    if (std::optional<Violation> v = VerifyState(plan, windows, m, false, st)) {
      report(*v, when + extra);
    } else if (st.recovery_ms.size() > before) {
      kt->recovery_us = 0.8 * kt->recovery_us + 0.2 * st.recovery_ms.back() * 1000;
    }
  }
  RemoveDir(dir);
  MaybeProgress(st);
  return found;
}

std::string ReproduceCommand(const CaseSpec& spec) {
  std::string c = "crashsim --mode " + spec.mode + " --workload " + spec.workload + " --seed " + std::to_string(spec.seed) +
                  " --cases 1 --seconds 0";
  if (spec.ops != 0) c += " --ops " + std::to_string(spec.ops);
  if (spec.creation_crashes) c += " --creation-crashes";
  if (spec.lost_write_p > 0) {
    char b[64];
    std::snprintf(b, sizeof b, " --inject-lost-writes %.17g", spec.lost_write_p);
    c += b;
  }
  if (spec.sync_error_p > 0) {
    char b[64];
    std::snprintf(b, sizeof b, " --inject-sync-errors %.17g", spec.sync_error_p);
    c += b;
  }
  return c;
}

Reproducer ToReproducer(const CaseSpec& spec, const Found& f) {
  Reproducer r;
  r.mode = spec.mode;
  r.workload = spec.workload;
  r.seed = spec.seed;
  r.ops = spec.ops != 0 ? spec.ops : MakePlan(spec.workload, spec.seed, 0, spec.families_max).ops;
  if (spec.mode != "kill") {
    r.capture = f.capture;
    r.plan = f.plan.empty() ? "any" : f.plan;
    r.nested_cut = f.nested_cut;
    r.nested_seed = f.nested_seed;
    r.creation_crashes = spec.creation_crashes;
    r.lost_write_p = spec.lost_write_p;
    r.sync_error_p = spec.sync_error_p;
  } else {
    r.kill_delay_us = f.kill_delay_us;
    r.kill_point = f.kill_point;
  }
  r.note = std::string(ViolationKindName(f.violation.kind)) + ": " + f.violation.detail;
  return r;
}

// Reduces a failing inproc/powerloss case: fewer operations, then fewer faults.
std::pair<CaseSpec, Found> Shrink(const CaseSpec& spec, const Found& found) {
  CaseSpec best = spec;
  Found bf = found;
  if (spec.mode == "kill" || found.violation.kind == ViolationKind::kWorkloadError) return {best, bf};
  const auto budget = Clock::now() + std::chrono::seconds(60);
  const auto far = Clock::now() + std::chrono::hours(1);
  const uint32_t ops = spec.ops != 0 ? spec.ops : MakePlan(spec.workload, spec.seed, 0).ops;
  CampaignStats scratch;
  for (uint32_t n : {1u, 2u, 3u, 4u, 5u, 6u, 8u, 10u, 12u, 16u, 20u, 24u, 32u, 40u, 48u, 64u, 96u, 128u}) {
    if (n >= ops || Clock::now() > budget) break;
    CaseSpec s = spec;
    s.ops = n;
    if (std::optional<Found> f = RunImageCase(s, scratch, far)) {
      best = s;
      bf = *f;
      break;
    }
  }
  if (best.ops == 0) best.ops = ops;
  // Fewer faults: the same crash point with no unsynced write disturbed, then greedily keep each write whole.
  CaseSpec at = best;
  at.only_capture = bf.capture;
  at.nested_cut = bf.nested_cut;
  at.nested_seed = bf.nested_seed;
  for (const char* simple : {"keep-all", "drop-all"}) {
    at.plan = simple;
    if (std::optional<Found> f = RunImageCase(at, scratch, far); f && f->violation.kind == bf.violation.kind) {
      bf = *f;
      bf.plan = simple;
      return {best, bf};
    }
  }
  if (bf.plan.empty() || bf.plan == "-") return {best, bf};
  std::vector<std::string> maps;
  {
    std::stringstream ss(bf.plan);
    std::string part;
    while (std::getline(ss, part, ',')) maps.push_back(part);
  }
  for (size_t i = 0; i < maps.size() && Clock::now() < budget; i++) {
    Result<std::string> m = faultfs::DecodeSectorMap(maps[i]);
    if (!m.ok() || m->find_first_not_of('n') == std::string::npos) continue;
    std::vector<std::string> trial = maps;
    trial[i] = faultfs::EncodeSectorMap(std::string(m->size(), 'n'));
    std::string text;
    for (size_t k = 0; k < trial.size(); k++) text += (k ? "," : "") + trial[k];
    at.plan = text;
    if (std::optional<Found> f = RunImageCase(at, scratch, far); f && f->violation.kind == bf.violation.kind) {
      maps = trial;
      bf = *f;
      bf.plan = text;
    }
  }
  return {best, bf};
}


double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

void PrintSummary(const CampaignOptions& o, const CampaignStats& st, std::FILE* out) {
  const double p50 = Percentile(st.recovery_ms, 0.50), p99 = Percentile(st.recovery_ms, 0.99);
  const double spm = st.elapsed_s > 0 ? st.states * 60.0 / st.elapsed_s : 0;
  const double spcm = st.cpu_s > 0 ? st.states * 60.0 / st.cpu_s : 0;
  std::string faults;
  for (const auto& [k, n] : st.faults) faults += (faults.empty() ? "" : ", ") + k + " " + std::to_string(n);
  if (faults.empty()) faults = "none";
  std::fprintf(out, "\ncrashsim summary: mode %s, workload %s, seed %" PRIu64 ", %.1f s\n", o.mode.c_str(),
               o.workload.c_str(), o.seed, st.elapsed_s);
  std::fprintf(out, "  %-34s %" PRIu64 "\n", "cases (workload runs)", st.cases);
  std::fprintf(out, "  %-34s %" PRIu64 "\n", "crashes (crash points)", st.crashes);
  std::fprintf(out, "  %-34s %" PRIu64 "\n", "crash states checked", st.states);
  std::fprintf(out, "  %-34s %.2f MiB\n", "mean crash image size (db + log)",
               g_images ? static_cast<double>(g_image_bytes) / g_images / (1 << 20) : 0.0);
  std::fprintf(out, "  %-34s %" PRIu64 "\n", "distinct states (image hash)", st.distinct_total);
  std::fprintf(out, "  %-34s %s\n", "faults by type", faults.c_str());
  std::fprintf(out, "  %-34s %" PRIu64 "\n", "acknowledged commits verified", st.acked_verified);
  std::fprintf(out, "  %-34s %zu\n", "violations", st.violations.size());
  std::fprintf(out, "  %-34s %.2f ms / %.2f ms\n", "recovery time p50 / p99", p50, p99);
  std::fprintf(out, "  %-34s %.0f (%s, wall clock; crashsim verifies on one core)\n", "states per minute", spm,
               o.mode == "kill" ? "kill-and-verify cycles" : "verified crash states");
  std::fprintf(out, "  %-34s %.0f (%.1f CPU s incl. children)\n", "states per CPU minute", spcm, st.cpu_s);
  if (o.exhaustive) {
    const double share = st.exhaustive_total ? 100.0 * st.exhaustive_checked / st.exhaustive_total : 0;
    std::fprintf(out, "  %-34s %" PRIu64 " of %s%" PRIu64 " legal crash states (%.4f%%)\n", "exhaustive coverage",
                 st.exhaustive_checked, st.exhaustive_total_exact ? "" : ">= ", st.exhaustive_total, share);
    std::fprintf(out, "  %-34s %" PRIu64 " of %" PRIu64 " (%.1f%%; the rest sampled, up to 4096 states each)\n",
                 "crash points fully enumerated", st.exhaustive_points_full, st.exhaustive_points,
                 st.exhaustive_points ? 100.0 * st.exhaustive_points_full / st.exhaustive_points : 0.0);
  }
  for (const ViolationRecord& v : st.violations) {
    std::fprintf(out, "  VIOLATION %s [%s, workload %s, seed %" PRIu64 "] %s\n    at: %s\n    reproduce: %s\n",
                 ViolationKindName(v.violation.kind), v.mode.c_str(), v.workload.c_str(), v.seed, v.violation.detail.c_str(),
                 v.where.c_str(), v.reproduce.c_str());
    if (!v.saved.empty()) std::fprintf(out, "    shrunk reproducer: crashsim --replay %s\n", v.saved.c_str());
  }
}

bool WriteJson(const CampaignOptions& o, const CampaignStats& st) {
  std::FILE* f = std::fopen(o.json_path.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "crashsim: cannot write %s: %s\n", o.json_path.c_str(), std::strerror(errno));
    return false;
  }
  const double spm = st.elapsed_s > 0 ? st.states * 60.0 / st.elapsed_s : 0;
  const double spcm = st.cpu_s > 0 ? st.states * 60.0 / st.cpu_s : 0;
  std::fprintf(f, "{\n  \"mode\": \"%s\",\n  \"workload\": \"%s\",\n  \"seed\": %" PRIu64 ",\n  \"seconds\": %.3f,\n",
               o.mode.c_str(), JsonEscape(o.workload).c_str(), o.seed, st.elapsed_s);
  std::fprintf(f, "  \"cases\": %" PRIu64 ",\n  \"crashes\": %" PRIu64 ",\n  \"states_checked\": %" PRIu64
                  ",\n  \"distinct_states\": %" PRIu64 ",\n",
               st.cases, st.crashes, st.states, st.distinct_total);
  std::fprintf(f, "  \"faults\": {");
  bool first = true;
  for (const auto& [k, n] : st.faults) {
    std::fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ", k.c_str(), n);
    first = false;
  }
  std::fprintf(f, "},\n  \"acknowledged_commits_verified\": %" PRIu64 ",\n  \"violations\": %zu,\n  \"violation_list\": [",
               st.acked_verified, st.violations.size());
  for (size_t i = 0; i < st.violations.size(); i++) {
    const ViolationRecord& v = st.violations[i];
    std::fprintf(f,
                 "%s\n    {\"kind\": \"%s\", \"mode\": \"%s\", \"workload\": \"%s\", \"seed\": %" PRIu64
                 ", \"ops\": %u, \"detail\": \"%s\", \"where\": \"%s\", \"reproduce\": \"%s\", \"reproducer\": \"%s\"}",
                 i ? "," : "", ViolationKindName(v.violation.kind), v.mode.c_str(), v.workload.c_str(), v.seed, v.ops,
                 JsonEscape(v.violation.detail).c_str(), JsonEscape(v.where).c_str(), JsonEscape(v.reproduce).c_str(),
                 JsonEscape(v.saved.empty() ? "" : "crashsim --replay " + v.saved).c_str());
  }
  std::fprintf(f, "%s],\n  \"recovery_ms_p50\": %.3f,\n  \"recovery_ms_p99\": %.3f,\n  \"states_per_minute\": %.1f",
               st.violations.empty() ? "" : "\n  ", Percentile(st.recovery_ms, 0.5), Percentile(st.recovery_ms, 0.99), spm);
  std::fprintf(f, ",\n  \"cpu_seconds\": %.3f,\n  \"states_per_cpu_minute\": %.1f", st.cpu_s, spcm);
  if (o.exhaustive) {
    std::fprintf(f, ",\n  \"exhaustive_checked\": %" PRIu64 ",\n  \"exhaustive_total\": %" PRIu64
                    ",\n  \"exhaustive_total_exact\": %s",
                 st.exhaustive_checked, st.exhaustive_total, st.exhaustive_total_exact ? "true" : "false");
    std::fprintf(f, ",\n  \"exhaustive_crash_points\": %" PRIu64 ",\n  \"exhaustive_crash_points_full\": %" PRIu64,
                 st.exhaustive_points, st.exhaustive_points_full);
  }
  std::fprintf(f, "\n}\n");
  return std::fclose(f) == 0;
}

std::string SaveDir(const CampaignOptions& o) {
  if (!o.save_dir.empty()) return o.save_dir;
  if (const char* d = std::getenv("CRASHSIM_SAVE_DIR")) return d;
  const std::string def = CRASHSIM_DEFAULT_SAVE_DIR;
  std::error_code ec;
  if (!def.empty() && std::filesystem::is_directory(std::filesystem::path(def).parent_path(), ec)) return def;
  return "crashsim-regressions";
}

void RecordViolation(const CampaignOptions& o, const CaseSpec& spec, const Found& f, CampaignStats& st) {
  ViolationRecord rec;
  rec.mode = spec.mode;
  rec.workload = spec.workload;
  rec.seed = spec.seed;
  rec.ops = spec.ops != 0 ? spec.ops : MakePlan(spec.workload, spec.seed, 0).ops;
  rec.violation = f.violation;
  rec.where = f.where;
  rec.reproduce = ReproduceCommand(spec);
  std::fprintf(stderr, "[crashsim] VIOLATION %s (workload %s, seed %" PRIu64 "): %s\n",
               ViolationKindName(f.violation.kind), spec.workload.c_str(), spec.seed, f.violation.detail.c_str());
  // Shrinking costs up to a minute per failure: the first few are enough to work on.
  constexpr size_t kShrinkMax = 3;
  if (o.shrink && st.violations.size() < kShrinkMax) {
    std::fprintf(stderr, "[crashsim] shrinking...\n");
    auto [s, sf] = Shrink(spec, f);
    Reproducer r = ToReproducer(s, sf);
    const std::string dir = SaveDir(o);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    const std::string file = dir + "/" + spec.workload + "-" + std::to_string(spec.seed) + "-" +
                             ViolationKindName(sf.violation.kind) + ".repro";
    std::ofstream out(file);
    out << r.ToText();
    if (out) {
      rec.saved = file;
      std::fprintf(stderr, "[crashsim] shrunk to %u operations, saved %s\n", r.ops, file.c_str());
    }
  }
  st.violations.push_back(rec);
}

}  // namespace

void CampaignStats::NoteImage(uint64_t hash) {
  if (distinct.size() < (1u << 22)) {
    if (distinct.emplace(hash, 1).second) distinct_total++;
  }
}

std::string Reproducer::ToText() const {
  std::string s = "# crashsim reproducer (format: crashsim/README.md); replay: crashsim --replay FILE\n";
  if (!note.empty()) s += "# found: " + note + "\n";
  s += "mode " + mode + "\nworkload " + workload + "\nseed " + std::to_string(seed) + "\nops " + std::to_string(ops) + "\n";
  if (mode == "kill") {
    if (kill_point.empty()) {
      s += "kill_delay_us " + std::to_string(kill_delay_us) + "\n";
    } else {
      s += "kill_point " + kill_point + "\n";
    }
  } else {
    if (creation_crashes) s += "creation_crashes 1\n";
    if (lost_write_p > 0) {
      char b[64];
      std::snprintf(b, sizeof b, "inject_lost_writes %.17g\n", lost_write_p);
      s += b;
    }
    if (sync_error_p > 0) {
      char b[64];
      std::snprintf(b, sizeof b, "inject_sync_errors %.17g\n", sync_error_p);
      s += b;
    }
    if (capture) s += "capture " + std::to_string(*capture) + "\n";
    s += "plan " + plan + "\n";
    if (nested_cut) s += "nested " + std::to_string(*nested_cut) + " " + std::to_string(nested_seed) + "\n";
  }
  return s;
}

Result<Reproducer> Reproducer::Parse(const std::string& text) {
  Reproducer r;
  std::stringstream ss(text);
  std::string line;
  int n = 0;
  bool have_workload = false;
  while (std::getline(ss, line)) {
    n++;
    if (line.empty() || line[0] == '#') continue;
    std::stringstream ls(line);
    std::string key;
    ls >> key;
    auto bad = [&](const std::string& why) { return Status::InvalidArgument("line " + std::to_string(n) + ": " + why); };
    auto u64 = [&](uint64_t* v) { return static_cast<bool>(ls >> *v); };
    uint64_t v = 0;
    if (key == "mode") {
      ls >> r.mode;
      if (r.mode != "kill" && r.mode != "powerloss" && r.mode != "inproc") return bad("unknown mode '" + r.mode + "'");
    } else if (key == "workload") {
      ls >> r.workload;
      if (FindWorkload(r.workload) == nullptr) return bad("unknown workload '" + r.workload + "'");
      have_workload = true;
    } else if (key == "seed") {
      if (!u64(&r.seed)) return bad("seed needs a number");
    } else if (key == "ops") {
      if (!u64(&v) || v == 0 || v > 100000) return bad("ops needs a number in 1..100000");
      r.ops = static_cast<uint32_t>(v);
    } else if (key == "capture") {
      if (!u64(&v)) return bad("capture needs a number");
      r.capture = v;
    } else if (key == "plan") {
      ls >> r.plan;
      if (r.plan.empty()) return bad("plan needs a value");
    } else if (key == "nested") {
      uint64_t cut = 0;
      if (!u64(&cut) || !u64(&r.nested_seed)) return bad("nested needs CUT SEED");
      r.nested_cut = cut;
    } else if (key == "creation_crashes") {
      if (!u64(&v) || v > 1) return bad("creation_crashes needs 0 or 1");
      r.creation_crashes = v == 1;
    } else if (key == "inject_sync_errors") {
      if (!(ls >> r.sync_error_p) || r.sync_error_p < 0 || r.sync_error_p > 1) return bad("inject_sync_errors needs 0..1");
    } else if (key == "inject_lost_writes") {
      if (!(ls >> r.lost_write_p) || r.lost_write_p < 0 || r.lost_write_p > 1) return bad("inject_lost_writes needs 0..1");
    } else if (key == "kill_point") {
      ls >> r.kill_point;
      KillPoint kp;
      if (!ParseKillPoint(r.kill_point, &kp)) {
        return bad("kill_point needs before-sync:K, after-sync:K or ENGINE-POINT:K (util/crash_point.h names)");
      }
    } else if (key == "kill_delay_us") {
      if (!u64(&r.kill_delay_us)) return bad("kill_delay_us needs a number");
    } else {
      return bad("unknown key '" + key + "'");
    }
  }
  if (!have_workload) return Status::InvalidArgument("no workload line");
  if (r.plan != "any" && !r.capture) return Status::InvalidArgument("a plan needs a capture line");
  return r;
}

int RunCampaign(const CampaignOptions& o) {
  CampaignStats st;
  const double cpu0 = CpuSeconds();
  g_start = Clock::now();
  g_last_progress = g_start;
  g_mode = o.mode;
  g_campaign_seconds = o.seconds;
  std::vector<std::string> workloads;
  if (o.workload == "all") {
    for (const WorkloadInfo& w : Workloads()) workloads.push_back(w.name);
  } else {
    workloads.push_back(o.workload);
  }
  std::fprintf(stderr, "[crashsim] mode %s, workload %s, seed %" PRIu64 " (rerun: --seed %" PRIu64 ")\n", o.mode.c_str(),
               o.workload.c_str(), o.seed, o.seed);
  const auto deadline = g_start + std::chrono::milliseconds(static_cast<int64_t>(o.seconds * 1000));

  if (o.exhaustive) {
    std::printf("%-18s %4s %8s %10s %12s %8s\n", "workload", "ops", "crashes", "checked", "legal", "share");
    for (const std::string& w : workloads) {
      for (uint32_t n = 1; n <= 3; n++) {
        CaseSpec spec;
        spec.mode = "inproc";
        spec.workload = w;
        spec.seed = o.seed;
        spec.ops = n;
        spec.families_max = 2;
        spec.exhaustive = true;
        spec.creation_crashes = o.creation_crashes;
        const uint64_t c0 = st.exhaustive_checked, t0 = st.exhaustive_total, k0 = st.crashes;
        const bool exact0 = st.exhaustive_total_exact;
        st.exhaustive_total_exact = true;
        std::optional<Found> f = RunImageCase(spec, st, Clock::now() + std::chrono::hours(24));
        const uint64_t checked = st.exhaustive_checked - c0, total = st.exhaustive_total - t0;
        std::printf("%-18s %4u %8" PRIu64 " %10" PRIu64 " %s%11" PRIu64 " %7.1f%%\n", w.c_str(), n, st.crashes - k0,
                    checked, st.exhaustive_total_exact ? " " : ">", total, total ? 100.0 * checked / total : 0.0);
        st.exhaustive_total_exact = st.exhaustive_total_exact && exact0;
        if (f) RecordViolation(o, spec, *f, st);
        MaybeProgress(st);
      }
    }
  } else if (o.mode == "kill") {
    void* mem = ::mmap(nullptr, sizeof(Progress), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
      std::perror("crashsim: mmap");
      return 2;
    }
    Progress* shared = new (mem) Progress();
    std::map<std::string, KillTiming> timing;
    for (uint64_t i = 0; (o.cases == 0 || i < o.cases) && (i == 0 || Clock::now() < deadline); i++) {
      CaseSpec spec;
      spec.mode = "kill";
      spec.workload = workloads[i % workloads.size()];
      spec.seed = CaseSeed(o.seed, i);
      spec.ops = o.ops;
      KillTiming& kt = timing[spec.workload];
      if (o.cases == 1 && kt.full_run_us == 0) {
        // a single rerun of case `seed`: learn the run time first, then kill
        CampaignStats scratch;
        (void)RunKillCase(spec, scratch, shared, &kt, false);
      }
      if (std::optional<Found> f = RunKillCase(spec, st, shared, &kt, false)) RecordViolation(o, spec, *f, st);
    }
    shared->~Progress();
    ::munmap(mem, sizeof(Progress));
  } else {
    for (uint64_t i = 0; (o.cases == 0 || i < o.cases) && (i == 0 || Clock::now() < deadline); i++) {
      CaseSpec spec;
      spec.mode = o.mode;
      spec.workload = workloads[i % workloads.size()];
      spec.seed = CaseSeed(o.seed, i);
      spec.ops = o.ops;
      spec.creation_crashes = o.creation_crashes;
      spec.lost_write_p = o.lost_write_p;
      spec.sync_error_p = o.sync_error_p;
      // A single case (--cases 1) runs to its end whatever --seconds says.
      const auto dl = o.cases == 1 ? Clock::now() + std::chrono::hours(24) : deadline;
      if (std::optional<Found> f = RunImageCase(spec, st, dl)) RecordViolation(o, spec, *f, st);
      MaybeProgress(st);
    }
  }
  st.elapsed_s = std::chrono::duration<double>(Clock::now() - g_start).count();
  st.cpu_s = CpuSeconds() - cpu0;
  MaybeProgress(st, true);
  PrintSummary(o, st, stdout);
  std::fflush(stdout);
  if (!o.json_path.empty() && !WriteJson(o, st)) return 2;
  return st.violations.empty() ? 0 : 1;
}

int ReplayFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "crashsim: cannot read %s\n", path.c_str());
    return 2;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  Result<Reproducer> r = Reproducer::Parse(ss.str());
  if (!r.ok()) {
    std::fprintf(stderr, "crashsim: %s: %s\n", path.c_str(), r.status().ToString().c_str());
    return 2;
  }
  CaseSpec spec;
  spec.mode = r->mode;
  spec.workload = r->workload;
  spec.seed = r->seed;
  spec.ops = r->ops;
  spec.only_capture = r->capture;
  spec.plan = r->plan;
  spec.nested_cut = r->nested_cut;
  spec.nested_seed = r->nested_seed;
  spec.kill_delay_us = r->kill_delay_us;
  spec.kill_point = r->kill_point;
  spec.creation_crashes = r->creation_crashes;
  spec.lost_write_p = r->lost_write_p;
  spec.sync_error_p = r->sync_error_p;
  CampaignStats st;
  g_start = Clock::now();
  g_mode = "replay";
  std::optional<Found> f;
  if (spec.mode == "kill") {
    void* mem = ::mmap(nullptr, sizeof(Progress), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return 2;
    Progress* shared = new (mem) Progress();
    KillTiming kt;
    kt.full_run_us = 1;
    f = RunKillCase(spec, st, shared, &kt, true);
    shared->~Progress();
    ::munmap(mem, sizeof(Progress));
  } else {
    f = RunImageCase(spec, st, Clock::now() + std::chrono::hours(24));
  }
  std::printf("replay %s: mode %s, workload %s, seed %" PRIu64 ", %u ops: %" PRIu64 " crash points, %" PRIu64
              " states checked\n",
              path.c_str(), spec.mode.c_str(), spec.workload.c_str(), spec.seed, spec.ops, st.crashes, st.states);
  if (st.states == 0 && !f) {
    std::printf("replay: FAIL (the reproducer selected no crash state: wrong capture or plan?)\n");
    return 1;
  }
  if (f) {
    std::printf("replay: VIOLATION %s: %s\n  at: %s\n", ViolationKindName(f->violation.kind), f->violation.detail.c_str(),
                f->where.c_str());
    return 1;
  }
  std::printf("replay: ok (0 violations)\n");
  return 0;
}

}  // namespace manifold::crashsim
