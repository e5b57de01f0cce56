// Crash images: building, validating, drawing and enumerating post-crash file
// sets (crash_image.h; the fault model is at the top of fault_storage.cc).
#include "faultfs/crash_image.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "faultfs/rng.h"

namespace manifold::faultfs {

namespace {

// a * b, saturating at UINT64_MAX.
uint64_t SatMul(uint64_t a, uint64_t b) {
  if (a == 0 || b == 0) return 0;
  if (a > UINT64_MAX / b) return UINT64_MAX;
  return a * b;
}

uint64_t SatAdd(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

bool IsNamespace(const UnsyncedOp& op) {
  return op.kind == UnsyncedKind::kCreate || op.kind == UnsyncedKind::kRemove;
}

OpKind LoggedKind(UnsyncedKind k) {
  switch (k) {
    case UnsyncedKind::kWrite:
      return OpKind::kWrite;
    case UnsyncedKind::kResize:
      return OpKind::kResize;
    case UnsyncedKind::kCreate:
      return OpKind::kOpen;
    case UnsyncedKind::kRemove:
      return OpKind::kRemove;
  }
  return OpKind::kWrite;
}

Status TooMany(uint64_t n, uint64_t max) {
  return Status::InvalidArgument("crash image has " + (n == UINT64_MAX ? std::string("more than 2^64") : std::to_string(n)) +
                                 " legal crash states, more than the bound of " + std::to_string(max) +
                                 " (use RandomPlan, or a smaller case)");
}

}  // namespace

std::string DeviceTraits::ToString() const {
  return "sector=" + std::to_string(sector_size) + " atomic=" + (atomic_sectors ? "1" : "0") +
         " safe_append=" + (safe_append ? "1" : "0") + " ordered_metadata=" + (ordered_metadata ? "1" : "0");
}

const char* FateName(Fate f) {
  switch (f) {
    case Fate::kKeep:
      return "keep";
    case Fate::kDrop:
      return "drop";
    case Fate::kTorn:
      return "torn";
    case Fate::kGarbage:
      return "garbage";
    case Fate::kZeros:
      return "zeros";
  }
  return "unknown";
}

Fate FateOf(std::string_view map) {
  bool n = false, o = false, g = false, z = false;
  for (char c : map) {
    n |= c == 'n';
    o |= c == 'o';
    g |= c == 'g';
    z |= c == 'z';
  }
  if (g) return Fate::kGarbage;
  if (z) return Fate::kZeros;
  if (n && o) return Fate::kTorn;
  if (o) return Fate::kDrop;
  return Fate::kKeep;
}

CrashPolicy CrashPolicy::DropAll() {
  CrashPolicy p;
  p.keep = 0;
  p.drop = 1;
  p.torn = p.garbage = p.zeros = 0;
  p.keep_resize = 0;
  p.keep_metadata = 0;
  return p;
}

CrashPolicy CrashPolicy::KeepAll() {
  CrashPolicy p;
  p.keep = 1;
  p.drop = p.torn = p.garbage = p.zeros = 0;
  p.keep_resize = 1;
  p.keep_metadata = 1;
  return p;
}

CrashPolicy CrashPolicy::Only(Fate fate) {
  CrashPolicy p;
  p.keep = p.drop = p.torn = p.garbage = p.zeros = 0;
  switch (fate) {
    case Fate::kKeep:
      p.keep = 1;
      break;
    case Fate::kDrop:
      p.drop = 1;
      break;
    case Fate::kTorn:
      p.torn = 1;
      break;
    case Fate::kGarbage:
      p.garbage = 1;
      break;
    case Fate::kZeros:
      p.zeros = 1;
      break;
  }
  p.keep_resize = 0.5;
  p.keep_metadata = 0.5;
  return p;
}

// ---- FileSet ----

uint64_t FileSet::Hash() const {
  // FNV-1a over (length, path, length, bytes) of every file in path order.
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; i++) {
      h ^= b[i];
      h *= 0x100000001b3ull;
    }
  };
  auto mix_len = [&](uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = static_cast<unsigned char>(v >> (8 * i));
    mix(b, 8);
  };
  for (const auto& [path, data] : files) {
    mix_len(path.size());
    mix(path.data(), path.size());
    mix_len(data.size());
    mix(data.data(), data.size());
  }
  return h;
}

std::shared_ptr<MemoryStorage> FileSet::ToMemoryStorage() const {
  auto storage = std::make_shared<MemoryStorage>();
  for (const auto& [path, data] : files) {
    Status s = storage->WriteAll(path, data);
    (void)s;  // WriteAll of an in-memory file only fails when memory runs out, which aborts anyway
  }
  return storage;
}

Status FileSet::WriteTo(Storage& storage) const {
  if (auto* mem = dynamic_cast<MemoryStorage*>(&storage)) {
    for (const auto& [path, data] : files) MANIFOLD_RETURN_IF_ERROR(mem->WriteAll(path, data));
    return Status::Ok();
  }
  for (const auto& [path, data] : files) {
    OpenFileOptions o;
    o.create = true;
    MANIFOLD_ASSIGN_OR_RETURN(std::unique_ptr<File> f, storage.Open(path, o));
    MANIFOLD_RETURN_IF_ERROR(f->Resize(data.size()));
    if (!data.empty()) MANIFOLD_RETURN_IF_ERROR(f->Write(0, data));
    MANIFOLD_RETURN_IF_ERROR(f->Sync());
  }
  return Status::Ok();
}

// ---- CrashImage ----

CrashImage::CrashImage(DeviceTraits traits, std::map<uint64_t, std::string> durable,
                       std::map<std::string, uint64_t> durable_names, std::vector<UnsyncedOp> ops)
    : traits_(traits), durable_(std::move(durable)), durable_names_(std::move(durable_names)), ops_(std::move(ops)) {}

size_t CrashImage::MapLength(size_t i) const {
  const UnsyncedOp& op = ops_[i];
  if (op.kind != UnsyncedKind::kWrite || op.data.empty()) return 1;
  const uint64_t s = traits_.sector_size;
  return static_cast<size_t>((op.offset + op.data.size() - 1) / s - op.offset / s + 1);
}

size_t CrashImage::FirstAppendSector(size_t i) const {
  const UnsyncedOp& op = ops_[i];
  const size_t n = MapLength(i);
  if (op.kind != UnsyncedKind::kWrite) return n;
  const uint64_t s = traits_.sector_size;
  const uint64_t first = op.offset / s;
  for (size_t j = 0; j < n; j++) {
    uint64_t portion_start = std::max(op.offset, (first + j) * s);
    if (portion_start >= op.size_before) return j;
  }
  return n;
}

bool CrashImage::AppendUniform(size_t i) const {
  return traits_.safe_append && FirstAppendSector(i) < MapLength(i);
}

std::vector<std::string> CrashImage::SectorAlphabets(size_t i) const {
  const size_t n = MapLength(i);
  const size_t first_append = FirstAppendSector(i);
  std::vector<std::string> a(n);
  for (size_t j = 0; j < n; j++) {
    const bool append = j >= first_append;
    if (append && traits_.safe_append) {
      a[j] = "on";
    } else if (append) {
      a[j] = traits_.atomic_sectors ? "onz" : "onzg";
    } else {
      a[j] = traits_.atomic_sectors ? "on" : "ongz";
    }
  }
  return a;
}

CrashPlan CrashImage::KeepAllPlan() const {
  CrashPlan p;
  for (size_t i = 0; i < ops_.size(); i++) p.maps.emplace_back(MapLength(i), 'n');
  return p;
}

CrashPlan CrashImage::DropAllPlan() const {
  CrashPlan p;
  for (size_t i = 0; i < ops_.size(); i++) p.maps.emplace_back(MapLength(i), 'o');
  return p;
}

Status CrashImage::Validate(const CrashPlan& plan) const {
  if (plan.maps.size() != ops_.size()) {
    return Status::InvalidArgument("crash plan has " + std::to_string(plan.maps.size()) + " choices for " +
                                   std::to_string(ops_.size()) + " unsynced operations");
  }
  bool ns_lost = false;
  for (size_t i = 0; i < ops_.size(); i++) {
    const UnsyncedOp& op = ops_[i];
    const std::string& m = plan.maps[i];
    const std::string where = "crash plan: operation " + std::to_string(op.seq) + " (" + OpKindName(LoggedKind(op.kind)) +
                              " " + op.path + ")";
    if (m.size() != MapLength(i)) {
      return Status::InvalidArgument(where + ": map '" + m + "' should have " + std::to_string(MapLength(i)) +
                                     " characters");
    }
    if (op.kind != UnsyncedKind::kWrite) {
      if (m != "n" && m != "o") return Status::InvalidArgument(where + ": must be 'n' (kept) or 'o' (lost)");
      if (IsNamespace(op) && traits_.ordered_metadata) {
        if (m == "n" && ns_lost) {
          return Status::InvalidArgument(where + ": kept after an earlier creation/removal was lost, but the device "
                                                 "commits metadata in order (ordered_metadata)");
        }
        if (m == "o") ns_lost = true;
      }
      continue;
    }
    std::vector<std::string> alph = SectorAlphabets(i);
    for (size_t j = 0; j < m.size(); j++) {
      if (alph[j].find(m[j]) == std::string::npos) {
        return Status::InvalidArgument(where + ": sector " + std::to_string(j) + " cannot be '" + std::string(1, m[j]) +
                                       "' on this device (" + traits_.ToString() + "; allowed: " + alph[j] + ")");
      }
    }
    if (AppendUniform(i)) {
      const size_t fa = FirstAppendSector(i);
      for (size_t j = fa + 1; j < m.size(); j++) {
        if (m[j] != m[fa]) {
          return Status::InvalidArgument(where + ": the appended sectors must all be kept or all lost (safe_append)");
        }
      }
    }
  }
  return Status::Ok();
}

CrashPlan CrashImage::RandomPlan(const CrashPolicy& policy, uint64_t seed) const {
  Rng r(seed);
  CrashPlan plan;
  plan.garbage_seed = r.Next();
  bool ns_stopped = false;
  for (size_t i = 0; i < ops_.size(); i++) {
    const UnsyncedOp& op = ops_[i];
    if (IsNamespace(op)) {
      bool keep;
      if (traits_.ordered_metadata) {
        keep = !ns_stopped && r.Chance(policy.keep_metadata);
        if (!keep) ns_stopped = true;
      } else {
        keep = r.Chance(policy.keep_metadata);
      }
      plan.maps.emplace_back(keep ? "n" : "o");
      continue;
    }
    if (op.kind == UnsyncedKind::kResize) {
      plan.maps.emplace_back(r.Chance(policy.keep_resize) ? "n" : "o");
      continue;
    }
    const size_t n = MapLength(i);
    const std::vector<std::string> alph = SectorAlphabets(i);
    const size_t fa = FirstAppendSector(i);
    const bool uniform = AppendUniform(i);
    const size_t groups = uniform ? fa + 1 : n;
    bool any_g = false, any_z = false;
    for (const std::string& a : alph) {
      any_g |= a.find('g') != std::string::npos;
      any_z |= a.find('z') != std::string::npos;
    }
    const double w[5] = {std::max(0.0, policy.keep), std::max(0.0, policy.drop),
                         groups >= 2 ? std::max(0.0, policy.torn) : 0.0, any_g ? std::max(0.0, policy.garbage) : 0.0,
                         any_z ? std::max(0.0, policy.zeros) : 0.0};
    const double total = w[0] + w[1] + w[2] + w[3] + w[4];
    Fate fate = Fate::kKeep;
    if (total > 0) {
      double x = static_cast<double>(r.Next() >> 11) * 0x1.0p-53 * total;
      int k = 0;
      while (k < 4 && (w[k] == 0 || x >= w[k])) {
        x -= w[k];
        k++;
      }
      while (w[k] == 0) k--;  // rounding at the top end: fall back to the last legal fate
      fate = static_cast<Fate>(k);
    }
    // A random old/new choice per group (append region shares one coin under safe_append).
    auto random_on = [&]() {
      std::string m(n, 'o');
      char append_coin = r.Chance(0.5) ? 'n' : 'o';
      for (size_t j = 0; j < n; j++) m[j] = (uniform && j >= fa) ? append_coin : (r.Chance(0.5) ? 'n' : 'o');
      return m;
    };
    std::string m;
    switch (fate) {
      case Fate::kKeep:
        m.assign(n, 'n');
        break;
      case Fate::kDrop:
        m.assign(n, 'o');
        break;
      case Fate::kTorn: {
        for (int tries = 0; tries < 64; tries++) {
          m = random_on();
          if (FateOf(m) == Fate::kTorn) break;
        }
        if (FateOf(m) != Fate::kTorn) {  // vanishingly rare: force a mix across the first two groups
          m.assign(n, 'n');
          m[0] = 'o';
        }
        break;
      }
      case Fate::kGarbage:
      case Fate::kZeros: {
        const char c = fate == Fate::kGarbage ? 'g' : 'z';
        m = random_on();
        std::vector<size_t> allowed;
        for (size_t j = 0; j < n; j++) {
          if (alph[j].find(c) == std::string::npos) continue;
          allowed.push_back(j);
          if (r.Chance(0.5)) m[j] = c;
        }
        if (m.find(c) == std::string::npos) m[allowed[r.Uniform(allowed.size())]] = c;
        break;
      }
    }
    plan.maps.push_back(std::move(m));
  }
  return plan;
}

Result<FileSet> CrashImage::Build(const CrashPlan& plan) const {
  if (plan.maps.size() != ops_.size()) {
    return Status::InvalidArgument("crash plan has " + std::to_string(plan.maps.size()) + " choices for " +
                                   std::to_string(ops_.size()) + " unsynced operations");
  }
  std::map<std::string, uint64_t> names = durable_names_;
  std::map<uint64_t, std::string> images;
  auto image = [&](uint64_t inode) -> std::string& {
    auto it = images.find(inode);
    if (it != images.end()) return it->second;
    auto d = durable_.find(inode);
    std::string bytes;
    if (d != durable_.end()) {
      // Room to grow: whoever reopens the crash state in place (crashsim)
      // should not have to copy the file when the engine first extends it.
      bytes.reserve(d->second.size() + d->second.size() / 4 + 4096);
      bytes.assign(d->second);
    }
    return images.emplace(inode, std::move(bytes)).first->second;
  };
  const uint64_t s = traits_.sector_size;
  for (size_t i = 0; i < ops_.size(); i++) {
    const UnsyncedOp& op = ops_[i];
    const std::string& m = plan.maps[i];
    if (m.size() != MapLength(i)) {
      return Status::InvalidArgument("crash plan: operation " + std::to_string(op.seq) + ": map '" + m + "' should have " +
                                     std::to_string(MapLength(i)) + " characters");
    }
    switch (op.kind) {
      case UnsyncedKind::kCreate:
        if (m == "n") {
          names[op.path] = op.inode;
          image(op.inode);
        }
        break;
      case UnsyncedKind::kRemove:
        if (m == "n") {
          auto it = names.find(op.path);
          if (it != names.end() && it->second == op.inode) names.erase(it);
        }
        break;
      case UnsyncedKind::kResize:
        if (m == "n") image(op.inode).resize(op.size, '\0');
        break;
      case UnsyncedKind::kWrite: {
        std::string& img = image(op.inode);
        const uint64_t first = op.offset / s;
        const uint64_t end = op.offset + op.data.size();
        for (size_t j = 0; j < m.size(); j++) {
          const char c = m[j];
          if (c == 'o') continue;
          const uint64_t sec = (first + j) * s;
          const uint64_t a = std::max(op.offset, sec);
          const uint64_t b = std::min(end, sec + s);
          if (img.size() < b) img.resize(b, '\0');
          char* dst = img.data() + a;
          if (c == 'n') {
            std::memcpy(dst, op.data.data() + (a - op.offset), b - a);
          } else if (c == 'z') {
            std::memset(dst, 0, b - a);
          } else if (c == 'g') {
            Rng g(MixSeed(plan.garbage_seed, MixSeed(op.seq, j)));
            g.Fill(dst, b - a);
          } else {
            return Status::InvalidArgument("crash plan: operation " + std::to_string(op.seq) + ": unknown sector state '" +
                                           std::string(1, c) + "'");
          }
        }
        break;
      }
    }
  }
  FileSet out;
  // Each image is moved out unless two paths name its inode (hard links are
  // not modelled, but the namespace bookkeeping does not rule it out).
  std::map<uint64_t, int> uses;
  for (const auto& [path, inode] : names) uses[inode]++;
  for (const auto& [path, inode] : names) {
    std::string& img = image(inode);
    out.files.emplace(path, --uses[inode] == 0 ? std::move(img) : img);
  }
  return out;
}

const std::string* CrashImage::DurableFile(const std::string& path) const {
  auto n = durable_names_.find(path);
  if (n == durable_names_.end()) return nullptr;
  auto d = durable_.find(n->second);
  return d == durable_.end() ? nullptr : &d->second;
}

bool CrashImage::ChangedRanges(const CrashPlan& plan,
                               std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>>* out) const {
  out->clear();
  if (plan.maps.size() != ops_.size()) return false;
  for (size_t i = 0; i < ops_.size(); i++) {
    const UnsyncedOp& op = ops_[i];
    if (plan.maps[i].find_first_not_of('o') == std::string::npos) continue;  // not applied
    if (IsNamespace(op)) return false;
    auto n = durable_names_.find(op.path);
    if (n == durable_names_.end() || n->second != op.inode) return false;
    if (op.kind == UnsyncedKind::kResize) {
      (*out)[op.path].emplace_back(std::min(op.size_before, op.size), UINT64_MAX);
    } else {
      (*out)[op.path].emplace_back(op.offset, op.offset + op.data.size());
    }
  }
  return true;
}

FileSet CrashImage::Durable() const {
  Result<FileSet> r = Build(DropAllPlan());
  return r.ok() ? std::move(r).value() : FileSet{};
}

std::vector<std::string> CrashImage::WriteMaps(size_t i, const EnumerateOptions& o, uint64_t limit,
                                               uint64_t* count) const {
  const size_t n = MapLength(i);
  std::vector<std::string> alph = SectorAlphabets(i);
  const size_t fa = FirstAppendSector(i);
  const bool uniform = AppendUniform(i);
  // Per group: the sectors it covers and the states it may take.
  struct Group {
    size_t from, to;
    std::string states;
  };
  std::vector<Group> groups;
  bool extra_g = false, extra_z = false;
  for (size_t j = 0; j < n; j++) {
    if (uniform && j == fa) {
      groups.push_back({fa, n, "on"});
      break;
    }
    std::string st = alph[j];
    if (!o.sector_garbage) {
      extra_g |= st.find('g') != std::string::npos;
      extra_z |= st.find('z') != std::string::npos;
      st = "on";
    }
    groups.push_back({j, j + 1, st});
  }
  uint64_t c = 1;
  for (const Group& g : groups) c = SatMul(c, g.states.size());
  // Coarse mode: the whole-write garbage and zeros variants (never equal to
  // an o/n map, since they contain 'g' or 'z').
  c = SatAdd(c, (extra_g ? 1 : 0) + (extra_z ? 1 : 0));
  *count = c;
  std::vector<std::string> out;
  if (c > limit) return out;
  std::vector<size_t> idx(groups.size(), 0);
  while (true) {
    std::string m(n, 'o');
    for (size_t g = 0; g < groups.size(); g++) {
      for (size_t j = groups[g].from; j < groups[g].to; j++) m[j] = groups[g].states[idx[g]];
    }
    out.push_back(std::move(m));
    bool carry = true;
    for (size_t g = groups.size(); carry && g > 0;) {
      g--;
      if (++idx[g] < groups[g].states.size()) {
        carry = false;
      } else {
        idx[g] = 0;
      }
    }
    if (carry) break;
  }
  for (char extra : {'g', 'z'}) {
    if ((extra == 'g' && !extra_g) || (extra == 'z' && !extra_z)) continue;
    std::string m(n, 'o');
    for (size_t j = 0; j < n; j++) {
      if (alph[j].find(extra) != std::string::npos) m[j] = extra;
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<bool> CrashImage::Relevant(const std::vector<bool>& ns_kept) const {
  std::map<std::string, uint64_t> names = durable_names_;
  for (size_t i = 0; i < ops_.size(); i++) {
    const UnsyncedOp& op = ops_[i];
    if (!ns_kept[i]) continue;
    if (op.kind == UnsyncedKind::kCreate) {
      names[op.path] = op.inode;
    } else if (op.kind == UnsyncedKind::kRemove) {
      auto it = names.find(op.path);
      if (it != names.end() && it->second == op.inode) names.erase(it);
    }
  }
  std::vector<bool> reachable_inode_op(ops_.size(), false);
  for (size_t i = 0; i < ops_.size(); i++) {
    if (IsNamespace(ops_[i])) {
      reachable_inode_op[i] = true;  // namespace choices are fixed by the caller
      continue;
    }
    for (const auto& [path, inode] : names) {
      if (inode == ops_[i].inode) {
        reachable_inode_op[i] = true;
        break;
      }
    }
  }
  return reachable_inode_op;
}

Result<uint64_t> CrashImage::Enumerate(const EnumerateOptions& options,
                                       const std::function<bool(const CrashPlan&)>& visit) const {
  const uint64_t max = options.max_states;
  std::vector<size_t> ns;
  for (size_t i = 0; i < ops_.size(); i++) {
    if (IsNamespace(ops_[i])) ns.push_back(i);
  }
  // Namespace choices: prefixes (ordered metadata) or every subset.
  uint64_t ns_choices = traits_.ordered_metadata ? ns.size() + 1
                                                 : (ns.size() >= 64 ? UINT64_MAX : uint64_t{1} << ns.size());
  if (ns_choices > max) return TooMany(ns_choices, max);
  // Maps of each data operation (computed once).
  std::vector<std::vector<std::string>> maps(ops_.size());
  std::vector<uint64_t> counts(ops_.size(), 1);
  for (size_t i = 0; i < ops_.size(); i++) {
    if (ops_[i].kind == UnsyncedKind::kWrite) {
      maps[i] = WriteMaps(i, options, max, &counts[i]);
    } else if (ops_[i].kind == UnsyncedKind::kResize) {
      maps[i] = {"n", "o"};
      counts[i] = 2;
    }
  }
  auto ns_choice = [&](uint64_t c) {
    std::vector<bool> kept(ops_.size(), false);
    for (size_t k = 0; k < ns.size(); k++) {
      kept[ns[k]] = traits_.ordered_metadata ? k < c : ((c >> k) & 1) != 0;
    }
    return kept;
  };
  // Count first, so that nothing is visited when the bound is exceeded.
  uint64_t total = 0;
  for (uint64_t c = 0; c < ns_choices; c++) {
    std::vector<bool> kept = ns_choice(c);
    std::vector<bool> rel = Relevant(kept);
    uint64_t n = 1;
    for (size_t i = 0; i < ops_.size(); i++) {
      if (!IsNamespace(ops_[i]) && rel[i]) n = SatMul(n, counts[i]);
    }
    total = SatAdd(total, n);
    if (total > max) return TooMany(total, max);
  }
  if (!visit) return total;
  uint64_t visited = 0;
  for (uint64_t c = 0; c < ns_choices; c++) {
    std::vector<bool> kept = ns_choice(c);
    std::vector<bool> rel = Relevant(kept);
    CrashPlan plan;
    plan.garbage_seed = MixSeed(0x6761726261676521ull, c);  // fixed: one garbage pattern per plan shape
    plan.maps.resize(ops_.size());
    std::vector<size_t> varying;  // data ops whose map varies
    for (size_t i = 0; i < ops_.size(); i++) {
      if (IsNamespace(ops_[i])) {
        plan.maps[i] = kept[i] ? "n" : "o";
      } else if (!rel[i]) {
        plan.maps[i] = std::string(MapLength(i), 'o');  // the file is gone: its fate does not matter
      } else {
        plan.maps[i] = maps[i][0];
        varying.push_back(i);
      }
    }
    std::vector<size_t> idx(varying.size(), 0);
    while (true) {
      visited++;
      if (!visit(plan)) return visited;
      size_t k = varying.size();
      bool done = true;
      while (k > 0) {
        k--;
        size_t i = varying[k];
        if (++idx[k] < maps[i].size()) {
          plan.maps[i] = maps[i][idx[k]];
          done = false;
          break;
        }
        idx[k] = 0;
        plan.maps[i] = maps[i][0];
      }
      if (done) break;
    }
  }
  return visited;
}

Result<uint64_t> CrashImage::Count(const EnumerateOptions& options) const { return Enumerate(options, nullptr); }

std::vector<FaultRecord> CrashImage::Describe(const CrashPlan& plan, uint64_t crash_op) const {
  std::vector<FaultRecord> out;
  FaultRecord ev;
  ev.op = crash_op;
  ev.file = "*";
  ev.kind = OpKind::kPowerLoss;
  ev.fault = FaultKind::kPowerLoss;
  ev.Set("unsynced", ops_.size());
  ev.Set("gseed", plan.garbage_seed);
  out.push_back(std::move(ev));
  for (size_t i = 0; i < ops_.size() && i < plan.maps.size(); i++) {
    const UnsyncedOp& op = ops_[i];
    const std::string& m = plan.maps[i];
    Fate f = FateOf(m);
    if (f == Fate::kKeep) continue;
    FaultRecord r;
    r.op = op.seq;
    r.file = op.path;
    r.kind = LoggedKind(op.kind);
    if (op.kind == UnsyncedKind::kWrite) {
      r.offset = op.offset;
      r.len = op.data.size();
    } else if (op.kind == UnsyncedKind::kResize) {
      r.len = op.size;
    }
    switch (f) {
      case Fate::kDrop:
        r.fault = FaultKind::kCrashDrop;
        break;
      case Fate::kTorn:
        r.fault = FaultKind::kCrashTorn;
        break;
      case Fate::kGarbage:
        r.fault = FaultKind::kCrashGarbage;
        break;
      case Fate::kZeros:
        r.fault = FaultKind::kCrashZeros;
        break;
      case Fate::kKeep:
        break;
    }
    if (f != Fate::kDrop) {
      r.Set("sectors", std::to_string(std::count(m.begin(), m.end(), 'n')) + "/" + std::to_string(m.size()));
      r.Set("map", EncodeSectorMap(m));
    }
    r.Set("crash", crash_op);
    out.push_back(std::move(r));
  }
  return out;
}

Result<CrashPlan> CrashImage::PlanFromLog(const std::vector<FaultRecord>& records, uint64_t crash_op) const {
  CrashPlan plan = KeepAllPlan();
  std::map<uint64_t, size_t> by_seq;
  for (size_t i = 0; i < ops_.size(); i++) by_seq[ops_[i].seq] = i;
  bool found_event = false;
  for (const FaultRecord& r : records) {
    if (r.fault == FaultKind::kPowerLoss && r.op == crash_op) {
      found_event = true;
      plan.garbage_seed = r.ParamU64("gseed").value_or(0);
      continue;
    }
    if (r.fault != FaultKind::kCrashDrop && r.fault != FaultKind::kCrashTorn && r.fault != FaultKind::kCrashGarbage &&
        r.fault != FaultKind::kCrashZeros) {
      continue;
    }
    if (r.ParamU64("crash") != crash_op) continue;
    auto it = by_seq.find(r.op);
    if (it == by_seq.end()) {
      return Status::InvalidArgument("fault log: crash at op " + std::to_string(crash_op) + " names operation " +
                                     std::to_string(r.op) + ", which is not unsynced here");
    }
    const size_t i = it->second;
    if (r.fault == FaultKind::kCrashDrop) {
      plan.maps[i].assign(MapLength(i), 'o');
      continue;
    }
    MANIFOLD_ASSIGN_OR_RETURN(std::string m, DecodeSectorMap(r.Param("map")));
    if (m.size() != MapLength(i)) {
      return Status::InvalidArgument("fault log: operation " + std::to_string(r.op) + ": map has " +
                                     std::to_string(m.size()) + " sectors, the write spans " + std::to_string(MapLength(i)));
    }
    plan.maps[i] = std::move(m);
  }
  if (!found_event) {
    return Status::NotFound("fault log has no power-loss record for op " + std::to_string(crash_op));
  }
  return plan;
}

}  // namespace manifold::faultfs
