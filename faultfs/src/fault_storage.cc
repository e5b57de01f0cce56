// FaultStorage: the page-cache model and fault injector of faultfs.
//
// ============================== THE FAULT MODEL ==============================
//
// What is modelled
// ----------------
// A device under an OS page cache. For every file FaultStorage keeps
//  - the DURABLE image: the bytes the medium holds, which survive power loss;
//  - the CURRENT image: what reads return -- held by the base storage, to
//    which every read and write is forwarded;
//  - and, globally, the ordered list of UNSYNCED operations: writes, resizes,
//    file creations and removals that reached the cache but not the medium.
// File::Sync() of a file makes that file's unsynced writes and resizes durable,
// in order, together with every unsynced creation and removal of any file
// (the storage interface has no directory sync; a journaling file system
// commits namespace changes with the next fsync). A file first seen through
// FaultStorage is taken to be durable as found.
//
// Power loss (PowerLoss, CaptureCrashImage + CrashImage)
// ------------------------------------------------------
// Each unsynced operation is independently kept, dropped, torn (some of its
// sectors reached the medium, others not), or has sectors replaced by garbage
// or zeros; creations, removals and resizes are kept or lost. Any subset of
// operations survives, in any order at sector granularity (each sector ends up
// as written by any subset of the writes that touched it). Operations are
// replayed onto the durable images in issue order to build the post-crash
// files. DeviceTraits narrow this:
//  - sector_size (512 or 4096): the unit of tearing; a sector is never split
//    by a crash except as below.
//  - atomic_sectors (default on): a sector is old or new, never garbage;
//    zeros appear only where a write extended the file (size updated, data
//    not). Off: any sector a write touched may hold garbage or zeros.
//  - safe_append (default off): the part of a write beyond the file's size at
//    the time of the write is all there or all absent -- the size grows only
//    with the data (ext4 data=ordered). Off: an append can leave a longer file
//    whose new part is zeros (or garbage on non-atomic devices) or holes.
//  - ordered_metadata (default on): surviving creations/removals are a prefix
//    of the unsynced ones (journal order). Off: any subset.
// Enumeration of every legal crash state (CrashImage::Enumerate) is bounded by
// a state count; garbage is enumerated as one pattern per plan.
//
// Injected errors (FaultRule: by operation count, probability or schedule;
// transient or persistent; any file or one file)
// --------------------------------------------------------------------------
//  read-error, write-error, sync-error, resize-error, open-error (open and
//  exists), remove-error, size-error: EIO, operation not performed. A failed
//  sync keeps the dirty data pending (it may still reach the medium).
//  sync-drops-dirty: the Linux behaviour: fsync reports EIO and the file's
//  unsynced writes and resizes are discarded -- never written back, absent
//  from crash images -- and reads return the durable bytes again (modelled as
//  the clean pages having been evicted; Linux may serve the stale new bytes
//  until eviction, which a caller must not rely on either way).
//  no-space: ENOSPC when a write or resize would take the total size of all
//  files over the quota (Options::quota_bytes / SetQuota), or as scheduled.
//  Nothing is written.
//  short-read: the read delivers only a prefix (rest of the buffer zeroed)
//  and reports an error, as the Storage contract requires.
//  partial-write: the first K of the write's N sectors reach the cache (and
//  are unsynced like any write), then EIO.
//  bit-flip: one bit of the durable image flips inside the triggering read's
//  range; the current image flips too unless an unsynced or lost write
//  shadows that byte (then the flip appears after a power loss).
//  unreadable-sector: a durable sector in the read's range becomes a latent
//  sector error: every read touching it fails with EIO (unless unsynced
//  writes cover it entirely: served from the cache) until a write covering
//  the whole sector is synced (the drive remaps it). Survives power loss.
//  misdirected-write: the data lands at another sector-aligned offset, both
//  in the cache and on the medium; the intended range keeps its old bytes.
//  lost-write: the write lands in the cache and later syncs succeed, but it
//  never becomes durable: reads see it until a power loss, after which the old
//  bytes are back. (A lying device: no software can tell at sync time.)
//  latency: the operation is delayed (the lock is released while sleeping).
//  power-cut: the device dies at this operation: it and every later one fail
//  with EIO and change nothing, until PowerLoss() builds the crash image.
// Also direct damage outside any operation: FlipBit, MarkUnreadable.
//
// What cannot happen (by design)
// ------------------------------
//  - Synced data never changes except by an explicit bit-flip, unreadable
//    sector or misdirected write; a crash never touches durable bytes.
//  - A lost write only loses its own bytes; it never damages neighbours.
//  - No fault hits a file that the operation does not name.
//  - Reads never return bytes that were never written (except garbage sectors
//    of a crash image, a misdirected write's target, or a flipped bit).
//  - Open file handles do not survive a power loss; locks are released by it.
//  - Rename, directory sync and hard links are not modelled (not in Storage).
//  - Writes to the same sector by different unsynced writes are resolved
//    per write and sector; sub-sector interleavings of two writes that the
//    page cache would have merged can therefore appear (stricter than reality).
//
// Determinism and logging
// -----------------------
// Every Storage/File call is operation number 1, 2, ...; every choice comes
// from one xoshiro256** stream seeded by Options::seed (rng.h), consumed in
// operation order. Every injected fault and every crash choice is logged as
// one line (fault_log.h) with all parameters needed to inject it again;
// LoadReplay() does exactly that.
// =============================================================================
#include "faultfs/fault_storage.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "faultfs/rng.h"

namespace manifold::faultfs {

namespace {

struct PendingOp : UnsyncedOp {
  bool lost = false;  // a lost write: never applied to the durable image
};

struct Inode {
  std::string durable;
  uint64_t size = 0;                                // current size (what the base holds)
  std::set<uint64_t> bad_sectors;                   // latent sector errors (durable sector indices)
  std::vector<std::pair<uint64_t, uint64_t>> lost;  // [from, to) ranges of lost writes (cached only)
};

struct Handle {
  std::unique_ptr<File> base;
  uint64_t inode = 0;
  std::string path;
  uint64_t generation = 0;
};

struct RuleState {
  FaultRule rule;
  uint64_t matched = 0;
  uint64_t fired = 0;
  bool latched = false;
};

struct Decision {
  std::optional<FaultRecord> effect;
  std::vector<FaultRecord> latencies;
};

constexpr uint32_t kAllOps = OpBit(OpKind::kOpen) | OpBit(OpKind::kExists) | OpBit(OpKind::kRemove) |
                             OpBit(OpKind::kRead) | OpBit(OpKind::kWrite) | OpBit(OpKind::kSync) |
                             OpBit(OpKind::kSize) | OpBit(OpKind::kResize);

// Where an operation is, for its error messages. Every operation has one;
// only an error formats it (str()), so an operation that succeeds allocates
// nothing for it. `path` must outlive it.
struct OpWhere {
  OpKind kind;
  const std::string& path;
  std::optional<uint64_t> offset, len;

  std::string str() const {
    std::string s = std::string(OpKindName(kind)) + " " + path;
    if (offset) s += " offset " + std::to_string(*offset);
    if (len) s += " len " + std::to_string(*len);
    return s;
  }
};

OpWhere Where(OpKind kind, const std::string& path, std::optional<uint64_t> offset = std::nullopt,
              std::optional<uint64_t> len = std::nullopt) {
  return OpWhere{kind, path, offset, len};
}

bool IsCrashKind(FaultKind k) {
  return k == FaultKind::kCrashDrop || k == FaultKind::kCrashTorn || k == FaultKind::kCrashGarbage ||
         k == FaultKind::kCrashZeros || k == FaultKind::kPowerLoss;
}

std::optional<std::pair<uint64_t, uint64_t>> ParseFraction(const std::string& s) {
  size_t slash = s.find('/');
  if (slash == std::string::npos) return std::nullopt;
  FaultRecord tmp;
  tmp.Set("a", s.substr(0, slash)).Set("b", s.substr(slash + 1));
  auto a = tmp.ParamU64("a"), b = tmp.ParamU64("b");
  if (!a || !b) return std::nullopt;
  return std::make_pair(*a, *b);
}

}  // namespace

struct FaultStorage::Impl {
  mutable std::mutex mu;
  std::shared_ptr<Storage> base;
  Options opts;
  Rng rng;
  uint64_t op = 0;
  uint64_t generation = 0;
  bool dead = false;
  uint64_t cut_op = 0;
  uint64_t next_inode = 1;
  std::map<uint64_t, Inode> inodes;
  std::map<std::string, uint64_t> names;          // current namespace
  std::map<std::string, uint64_t> durable_names;  // durable namespace
  std::vector<PendingOp> pending;                 // unsynced operations, in issue order
  std::map<std::string, std::set<uint64_t>> carried_bad;  // latent sector errors across power loss
  std::vector<RuleState> rules;
  std::vector<FaultRecord> log;
  std::array<uint64_t, kFaultKindCount> counts{};
  bool replay = false;
  std::multimap<uint64_t, FaultRecord> replay_ops;
  std::vector<FaultRecord> replay_all;
  std::vector<std::string> divergences;
  std::vector<std::weak_ptr<Handle>> handles;
  std::function<void(const OpInfo&)> observer;
  std::set<std::string> seen_paths;  // every path opened or left by a power loss (CurrentFiles)

  uint64_t S() const { return opts.traits.sector_size; }

  // ---- logging and errors ----

  void Record(const FaultRecord& r) {
    counts[static_cast<size_t>(r.fault)]++;
    log.push_back(r);
    if (opts.log_sink) opts.log_sink(r.ToLine());
  }

  static FaultRecord MakeRecord(uint64_t op_no, OpKind kind, const std::string& path, std::optional<uint64_t> offset,
                                std::optional<uint64_t> len, FaultKind fault) {
    FaultRecord r;
    r.op = op_no;
    r.file = path;
    r.kind = kind;
    r.offset = offset;
    r.len = len;
    r.fault = fault;
    return r;
  }

  static Status Injected(const FaultRecord& r, const std::string& where, const std::string& detail = "") {
    std::string tail = " (faultfs " + std::string(FaultKindName(r.fault)) + " at op " + std::to_string(r.op) +
                       (detail.empty() ? "" : ": " + detail) + ")";
    if (r.fault == FaultKind::kNoSpace) return Status::NoSpace(where + ": No space left on device" + tail);
    return Status::IOError(where + ": Input/output error" + tail);
  }
  static Status Injected(const FaultRecord& r, const OpWhere& where, const std::string& detail = "") {
    return Injected(r, where.str(), detail);
  }

  Status DeadError(const OpWhere& where) const {
    return Status::IOError(where.str() + ": Input/output error (faultfs: the device has been powered off since op " +
                           std::to_string(cut_op) + ")");
  }

  static Status StaleError(const OpWhere& where) {
    return Status::IOError(where.str() + ": file handle from before a simulated power loss");
  }

  // ---- rules ----

  Decision Decide(uint64_t op_no, OpKind kind, const std::string& path, std::optional<uint64_t> offset,
                  std::optional<uint64_t> len) {
    Decision d;
    if (observer) observer(OpInfo{op_no, kind, path, offset, len});
    if (replay) {
      auto [lo, hi] = replay_ops.equal_range(op_no);
      for (auto it = lo; it != hi; ++it) {
        const FaultRecord& r = it->second;
        if (r.kind != kind || r.file != path) {
          divergences.push_back("op " + std::to_string(op_no) + ": the log expects kind=" + OpKindName(r.kind) +
                                " file=" + r.file + " (" + FaultKindName(r.fault) + "), the run did kind=" +
                                OpKindName(kind) + " file=" + path);
          continue;
        }
        if (r.fault == FaultKind::kLatency) {
          d.latencies.push_back(r);
        } else if (!d.effect) {
          d.effect = r;
        }
      }
      return d;
    }
    for (RuleState& rs : rules) {
      const FaultRule& rule = rs.rule;
      uint32_t mask = NaturalOps(rule.kind) & (rule.ops != 0 ? rule.ops : kAllOps);
      if ((mask & OpBit(kind)) == 0) continue;
      if (!rule.file.empty() && rule.file != path) continue;
      rs.matched++;
      bool fire = rs.latched;
      if (!fire) {
        switch (rule.trigger) {
          case FaultRule::Trigger::kNth:
            fire = rs.matched >= rule.nth && rs.matched - rule.nth < rule.times;
            break;
          case FaultRule::Trigger::kProbability:
            fire = rng.Chance(rule.probability);
            break;
          case FaultRule::Trigger::kSchedule:
            fire = std::find(rule.schedule.begin(), rule.schedule.end(), op_no) != rule.schedule.end();
            break;
        }
        if (fire && rule.persistent) rs.latched = true;
      }
      if (!fire) continue;
      FaultRecord r = MakeRecord(op_no, kind, path, offset, len, rule.kind);
      if (rule.kind == FaultKind::kLatency) {
        r.Set("us", rule.latency_us);
        d.latencies.push_back(std::move(r));
        rs.fired++;
        continue;
      }
      if (d.effect) continue;  // the first rule that fires decides the effect
      if (rule.persistent) r.Set("persistent", "1");
      if (rule.kind == FaultKind::kMisdirectedWrite && rule.target) r.Set("to", *rule.target);
      d.effect = std::move(r);
      rs.fired++;
    }
    return d;
  }

  // Logs the decided latencies and sleeps for them with the lock released;
  // the world may change meanwhile (power loss, power cut): callers re-check.
  void ApplyLatency(std::unique_lock<std::mutex>& l, const Decision& d) {
    uint64_t us = 0;
    for (const FaultRecord& r : d.latencies) {
      Record(r);
      us += r.ParamU64("us").value_or(0);
    }
    if (us == 0) return;
    l.unlock();
    std::this_thread::sleep_for(std::chrono::microseconds(us));
    l.lock();
  }

  // Handles a power-cut effect; true if the device is now dead.
  bool MaybeCut(const Decision& d) {
    if (!d.effect || d.effect->fault != FaultKind::kPowerCut) return false;
    dead = true;
    cut_op = d.effect->op;
    Record(*d.effect);
    return true;
  }

  // ---- the model ----

  uint64_t UsedBytes() const {
    uint64_t used = 0;
    for (const auto& [path, id] : names) {
      auto it = inodes.find(id);
      if (it != inodes.end()) used += it->second.size;
    }
    return used;
  }

  // A byte of the current image differs from the durable one because of an
  // unsynced operation or a lost write.
  bool Shadowed(uint64_t id, const Inode& ino, uint64_t x) const {
    for (const PendingOp& p : pending) {
      if (p.inode != id) continue;
      if (p.kind == UnsyncedKind::kWrite && x >= p.offset && x < p.offset + p.data.size()) return true;
      if (p.kind == UnsyncedKind::kResize && p.size <= x) return true;
    }
    for (const auto& [a, b] : ino.lost) {
      if (x >= a && x < b) return true;
    }
    return false;
  }

  // Unsynced (or lost) writes cover [a, b) entirely: reads are served from the cache.
  bool CachedRange(uint64_t id, const Inode& ino, uint64_t a, uint64_t b) const {
    for (const PendingOp& p : pending) {
      if (p.inode == id && p.kind == UnsyncedKind::kWrite && p.offset <= a && p.offset + p.data.size() >= b) return true;
    }
    for (const auto& [la, lb] : ino.lost) {
      if (la <= a && lb >= b) return true;
    }
    return false;
  }

  uint64_t LoadInode(const std::string& path, File& f, Status* error) {
    Inode ino;
    Result<uint64_t> size = f.Size();
    if (!size.ok()) {
      *error = size.status();
      return 0;
    }
    ino.durable.resize(*size);
    if (*size > 0) {
      Status s = f.Read(0, *size, ino.durable.data());
      if (!s.ok()) {
        *error = s;
        return 0;
      }
    }
    ino.size = *size;
    auto bad = carried_bad.find(path);
    if (bad != carried_bad.end()) {
      ino.bad_sectors = std::move(bad->second);
      carried_bad.erase(bad);
    }
    uint64_t id = next_inode++;
    inodes.emplace(id, std::move(ino));
    names[path] = id;
    durable_names[path] = id;
    return id;
  }

  // The inode a path names, loading it from the base if this is its first
  // appearance. 0 with *error set if it cannot be loaded; 0 with ok if absent.
  uint64_t InodeFor(const std::string& path, Status* error) {
    auto it = names.find(path);
    if (it != names.end()) return it->second;
    Result<bool> exists = base->Exists(path);
    if (!exists.ok()) {
      *error = exists.status();
      return 0;
    }
    if (!*exists) return 0;
    OpenFileOptions ro;
    ro.read_only = true;
    Result<std::unique_ptr<File>> f = base->Open(path, ro);
    if (!f.ok()) {
      *error = f.status();
      return 0;
    }
    return LoadInode(path, **f, error);
  }

  void FlipDurable(uint64_t id, Inode& ino, uint64_t x, int bit, File* base_file) {
    const char mask = static_cast<char>(1u << bit);
    ino.durable[x] ^= mask;
    if (Shadowed(id, ino, x) || x >= ino.size || base_file == nullptr) return;
    char c;
    if (!base_file->Read(x, 1, &c).ok()) return;
    c ^= mask;
    Status s = base_file->Write(x, std::string_view(&c, 1));
    (void)s;  // the durable image is what matters; the cache copy is best effort
  }

  void AddPending(uint64_t op_no, UnsyncedKind kind, uint64_t id, const std::string& path, uint64_t offset,
                  std::string_view data, uint64_t size, uint64_t size_before, bool lost) {
    PendingOp p;
    p.seq = op_no;
    p.kind = kind;
    p.inode = id;
    p.path = path;
    p.offset = offset;
    p.data.assign(data);
    p.size = size;
    p.size_before = size_before;
    p.lost = lost;
    pending.push_back(std::move(p));
  }

  // Makes the file's unsynced writes/resizes and all namespace changes durable.
  void CommitSync(uint64_t id) {
    Inode& ino = inodes[id];
    const uint64_t s = S();
    std::vector<PendingOp> rest;
    for (PendingOp& p : pending) {
      if (p.kind == UnsyncedKind::kCreate) {
        durable_names[p.path] = p.inode;
        continue;
      }
      if (p.kind == UnsyncedKind::kRemove) {
        auto it = durable_names.find(p.path);
        if (it != durable_names.end() && it->second == p.inode) durable_names.erase(it);
        continue;
      }
      if (p.inode != id) {
        rest.push_back(std::move(p));
        continue;
      }
      if (p.kind == UnsyncedKind::kResize) {
        ino.durable.resize(p.size, '\0');
        const uint64_t sectors = (p.size + s - 1) / s;
        ino.bad_sectors.erase(ino.bad_sectors.lower_bound(sectors), ino.bad_sectors.end());
        continue;
      }
      const uint64_t end = p.offset + p.data.size();
      if (p.lost) {
        ino.lost.emplace_back(p.offset, end);
        continue;
      }
      if (ino.durable.size() < end) ino.durable.resize(end, '\0');
      std::memcpy(ino.durable.data() + p.offset, p.data.data(), p.data.size());
      for (uint64_t sec = (p.offset + s - 1) / s; (sec + 1) * s <= end; sec++) ino.bad_sectors.erase(sec);
    }
    pending = std::move(rest);
  }

  // sync-drops-dirty: discards the file's unsynced writes/resizes and puts the
  // durable bytes back into the cache. Returns how many were discarded.
  uint64_t DropDirty(uint64_t id, File& f) {
    Inode& ino = inodes[id];
    std::vector<PendingOp> dropped, rest;
    for (PendingOp& p : pending) {
      bool mine = p.inode == id && (p.kind == UnsyncedKind::kWrite || p.kind == UnsyncedKind::kResize);
      (mine ? dropped : rest).push_back(std::move(p));
    }
    pending = std::move(rest);
    const uint64_t dsize = ino.durable.size();
    Status s = f.Resize(dsize);
    auto restore = [&](uint64_t a, uint64_t b) {
      if (a < b && s.ok()) s = f.Write(a, std::string_view(ino.durable.data() + a, b - a));
    };
    for (const PendingOp& p : dropped) {
      if (p.kind == UnsyncedKind::kWrite) restore(p.offset, std::min<uint64_t>(p.offset + p.data.size(), dsize));
      if (p.kind == UnsyncedKind::kResize) restore(std::min(p.size, dsize), dsize);
    }
    ino.size = dsize;
    return dropped.size();
  }

  CrashImage CaptureLocked() const {
    std::map<uint64_t, std::string> durable;
    for (const auto& [id, ino] : inodes) durable.emplace(id, ino.durable);
    std::vector<UnsyncedOp> ops;
    for (const PendingOp& p : pending) {
      if (!p.lost) ops.push_back(p);
    }
    return CrashImage(opts.traits, std::move(durable), durable_names, std::move(ops));
  }

  Result<FileSet> PowerLossLocked(const CrashImage& image, const CrashPlan& plan, uint64_t crash_op) {
    MANIFOLD_RETURN_IF_ERROR(image.Validate(plan));
    MANIFOLD_ASSIGN_OR_RETURN(FileSet files, image.Build(plan));
    for (const FaultRecord& r : image.Describe(plan, crash_op)) Record(r);
    // Every handle dies with the process that held it; its locks go too.
    generation++;
    for (const std::weak_ptr<Handle>& w : handles) {
      if (std::shared_ptr<Handle> h = w.lock()) h->base.reset();
    }
    handles.clear();
    // Latent sector errors are properties of the medium: they survive.
    for (const auto& [path, id] : durable_names) {
      auto it = inodes.find(id);
      if (it != inodes.end() && !it->second.bad_sectors.empty() && files.files.count(path) != 0) {
        carried_bad[path] = it->second.bad_sectors;
      }
    }
    std::set<std::string> known;
    for (const auto& [path, id] : names) known.insert(path);
    for (const auto& [path, id] : durable_names) known.insert(path);
    for (const PendingOp& p : pending) known.insert(p.path);
    for (const std::string& path : known) {
      if (files.files.count(path) != 0) continue;
      Status s = base->Remove(path);
      if (!s.ok() && !s.IsNotFound()) return s.WithContext("faultfs power loss: removing " + path);
    }
    MANIFOLD_RETURN_IF_ERROR(files.WriteTo(*base));
    for (const auto& [path, data] : files.files) seen_paths.insert(path);
    inodes.clear();
    names.clear();
    durable_names.clear();
    pending.clear();
    dead = false;
    return files;
  }
};

namespace {

class FaultFile final : public File {
 public:
  FaultFile(std::shared_ptr<FaultStorage::Impl> impl, std::shared_ptr<Handle> h) : impl_(std::move(impl)), h_(std::move(h)) {}
  ~FaultFile() override {
    std::lock_guard<std::mutex> l(impl_->mu);
    h_->base.reset();
  }
  FaultFile(const FaultFile&) = delete;
  FaultFile& operator=(const FaultFile&) = delete;

  Status Read(uint64_t offset, size_t n, char* out) override {
    using Impl = FaultStorage::Impl;
    std::unique_lock<std::mutex> l(impl_->mu);
    Impl& m = *impl_;
    const uint64_t op = ++m.op;
    const OpWhere where = Where(OpKind::kRead, h_->path, offset, n);
    MANIFOLD_RETURN_IF_ERROR(Check(where));
    Decision d = m.Decide(op, OpKind::kRead, h_->path, offset, n);
    if (m.MaybeCut(d)) return Impl::Injected(*d.effect, where, "the device lost power");
    m.ApplyLatency(l, d);
    MANIFOLD_RETURN_IF_ERROR(Check(where));
    const uint64_t id = h_->inode;
    Inode& ino = m.inodes[id];
    const uint64_t s = m.S();
    const uint64_t end = offset + n;
    const uint64_t dsize = ino.durable.size();
    if (d.effect) {
      FaultRecord& r = *d.effect;
      switch (r.fault) {
        case FaultKind::kReadError:
          m.Record(r);
          return Impl::Injected(r, where);
        case FaultKind::kBitFlip: {
          if (!r.HasParam("at")) {
            if (offset >= dsize || n == 0) break;  // nothing durable to rot here
            const uint64_t hi = std::min(end, dsize);
            r.Set("at", offset + m.rng.Uniform(hi - offset));
            r.Set("bit", m.rng.Uniform(8));
          }
          const uint64_t at = r.ParamU64("at").value_or(0);
          const uint64_t bit = r.ParamU64("bit").value_or(0) & 7;
          if (at < dsize) m.FlipDurable(id, ino, at, static_cast<int>(bit), h_->base.get());
          m.Record(r);
          break;  // the read goes on and sees the flipped bit
        }
        case FaultKind::kUnreadableSector: {
          if (!r.HasParam("sector")) {
            if (offset >= dsize || n == 0) break;
            const uint64_t lo = offset / s, hi = (std::min(end, dsize) - 1) / s;
            r.Set("sector", lo + m.rng.Uniform(hi - lo + 1));
          }
          ino.bad_sectors.insert(r.ParamU64("sector").value_or(0));
          m.Record(r);
          break;  // the read below fails on it
        }
        case FaultKind::kShortRead: {
          if (!r.HasParam("got")) {
            if (n == 0) break;
            r.Set("got", m.rng.Uniform(n));
          }
          const uint64_t got = std::min<uint64_t>(r.ParamU64("got").value_or(0), n);
          Status st = h_->base->Read(offset, n, out);
          if (st.ok()) std::memset(out + got, 0, n - got);
          m.Record(r);
          return Impl::Injected(r, "short read " + h_->path + " offset " + std::to_string(offset),
                                "wanted " + std::to_string(n) + " bytes, got " + std::to_string(got));
        }
        default:
          break;
      }
    }
    if (!ino.bad_sectors.empty() && n > 0) {
      for (uint64_t sec = offset / s; sec * s < end; sec++) {
        if (ino.bad_sectors.count(sec) == 0) continue;
        if (m.CachedRange(id, ino, std::max(offset, sec * s), std::min(end, (sec + 1) * s))) continue;
        return Status::IOError(where.str() + ": Input/output error (faultfs: unreadable sector " + std::to_string(sec) +
                               " at byte " + std::to_string(sec * s) + ")");
      }
    }
    return h_->base->Read(offset, n, out);
  }

  Status Write(uint64_t offset, std::string_view data) override {
    using Impl = FaultStorage::Impl;
    std::unique_lock<std::mutex> l(impl_->mu);
    Impl& m = *impl_;
    const uint64_t op = ++m.op;
    const OpWhere where = Where(OpKind::kWrite, h_->path, offset, data.size());
    MANIFOLD_RETURN_IF_ERROR(Check(where));
    Decision d = m.Decide(op, OpKind::kWrite, h_->path, offset, data.size());
    if (m.MaybeCut(d)) return Impl::Injected(*d.effect, where, "the device lost power");
    m.ApplyLatency(l, d);
    MANIFOLD_RETURN_IF_ERROR(Check(where));
    const uint64_t id = h_->inode;
    Inode& ino = m.inodes[id];
    const uint64_t s = m.S();
    const uint64_t end = offset + data.size();
    if (!d.effect && !m.replay && m.opts.quota_bytes != 0 && end > ino.size) {
      const uint64_t used = m.UsedBytes();
      if (used + (end - ino.size) > m.opts.quota_bytes) {
        d.effect = Impl::MakeRecord(op, OpKind::kWrite, h_->path, offset, data.size(), FaultKind::kNoSpace);
        d.effect->Set("by", "quota");
      }
    }
    uint64_t target = offset;
    bool lost = false;
    if (d.effect) {
      FaultRecord& r = *d.effect;
      switch (r.fault) {
        case FaultKind::kWriteError:
          m.Record(r);
          return Impl::Injected(r, where);
        case FaultKind::kNoSpace:
          if (!r.HasParam("quota")) r.Set("quota", m.opts.quota_bytes).Set("used", m.UsedBytes());
          m.Record(r);
          return Impl::Injected(r, where, "quota " + r.Param("quota") + " bytes, " + r.Param("used") + " in use");
        case FaultKind::kPartialWrite: {
          const uint64_t nsec = data.empty() ? 0 : (end - 1) / s - offset / s + 1;
          if (!r.HasParam("sectors")) r.Set("sectors", std::to_string(m.rng.Uniform(nsec)) + "/" + std::to_string(nsec));
          auto frac = ParseFraction(r.Param("sectors"));
          const uint64_t k = frac ? std::min(frac->first, nsec) : 0;
          const uint64_t boundary = (offset / s + k) * s;
          const uint64_t bytes = boundary > offset ? std::min<uint64_t>(boundary - offset, data.size()) : 0;
          if (bytes > 0) {
            Status st = h_->base->Write(offset, data.substr(0, bytes));
            if (st.ok()) {
              m.AddPending(op, UnsyncedKind::kWrite, id, h_->path, offset, data.substr(0, bytes), 0, ino.size, false);
              ino.size = std::max(ino.size, offset + bytes);
            }
          }
          m.Record(r);
          return Impl::Injected(r, where, "only " + std::to_string(k) + " of " + std::to_string(nsec) + " sectors written");
        }
        case FaultKind::kMisdirectedWrite: {
          if (!r.HasParam("to")) {
            const uint64_t whole = std::max(ino.size, end) / s;
            uint64_t to = offset + s;
            for (int tries = 0; whole >= 2 && tries < 16; tries++) {
              uint64_t cand = m.rng.Uniform(whole) * s;
              if (cand != offset) {
                to = cand;
                break;
              }
            }
            r.Set("to", to);
          }
          target = r.ParamU64("to").value_or(offset);
          m.Record(r);
          break;
        }
        case FaultKind::kLostWrite:
          lost = true;
          m.Record(r);
          break;
        default:
          break;
      }
    }
    Status st = h_->base->Write(target, data);
    if (!st.ok()) return st;
    if (!data.empty()) {
      m.AddPending(op, UnsyncedKind::kWrite, id, h_->path, target, data, 0, ino.size, lost);
      ino.size = std::max(ino.size, target + data.size());
    }
    return Status::Ok();
  }

  Status Sync() override {
    using Impl = FaultStorage::Impl;
    std::unique_lock<std::mutex> l(impl_->mu);
    Impl& m = *impl_;
    const uint64_t op = ++m.op;
    const OpWhere where = Where(OpKind::kSync, h_->path);
    MANIFOLD_RETURN_IF_ERROR(Check(where));
    Decision d = m.Decide(op, OpKind::kSync, h_->path, std::nullopt, std::nullopt);
    if (m.MaybeCut(d)) return Impl::Injected(*d.effect, where, "the device lost power");
    m.ApplyLatency(l, d);
    MANIFOLD_RETURN_IF_ERROR(Check(where));
    if (d.effect) {
      FaultRecord& r = *d.effect;
      if (r.fault == FaultKind::kSyncError) {
        m.Record(r);
        return Impl::Injected(r, where, "the data stays in the cache");
      }
      if (r.fault == FaultKind::kSyncDropsDirty) {
        r.Set("dropped", m.DropDirty(h_->inode, *h_->base));
        m.Record(r);
        return Impl::Injected(r, where, r.Param("dropped") + " unsynced writes discarded");
      }
    }
    MANIFOLD_RETURN_IF_ERROR(h_->base->Sync());
    m.CommitSync(h_->inode);
    return Status::Ok();
  }

  Result<uint64_t> Size() override {
    using Impl = FaultStorage::Impl;
    std::unique_lock<std::mutex> l(impl_->mu);
    Impl& m = *impl_;
    const uint64_t op = ++m.op;
    const OpWhere where = Where(OpKind::kSize, h_->path);
    MANIFOLD_RETURN_IF_ERROR(Check(where));
    Decision d = m.Decide(op, OpKind::kSize, h_->path, std::nullopt, std::nullopt);
    if (m.MaybeCut(d)) return Impl::Injected(*d.effect, where, "the device lost power");
    m.ApplyLatency(l, d);
    MANIFOLD_RETURN_IF_ERROR(Check(where));
    if (d.effect && d.effect->fault == FaultKind::kSizeError) {
      m.Record(*d.effect);
      return Impl::Injected(*d.effect, where);
    }
    return h_->base->Size();
  }

  Status Resize(uint64_t size) override {
    using Impl = FaultStorage::Impl;
    std::unique_lock<std::mutex> l(impl_->mu);
    Impl& m = *impl_;
    const uint64_t op = ++m.op;
    const OpWhere where = Where(OpKind::kResize, h_->path, std::nullopt, size);
    MANIFOLD_RETURN_IF_ERROR(Check(where));
    Decision d = m.Decide(op, OpKind::kResize, h_->path, std::nullopt, size);
    if (m.MaybeCut(d)) return Impl::Injected(*d.effect, where, "the device lost power");
    m.ApplyLatency(l, d);
    MANIFOLD_RETURN_IF_ERROR(Check(where));
    const uint64_t id = h_->inode;
    Inode& ino = m.inodes[id];
    if (!d.effect && !m.replay && m.opts.quota_bytes != 0 && size > ino.size) {
      if (m.UsedBytes() + (size - ino.size) > m.opts.quota_bytes) {
        d.effect = Impl::MakeRecord(op, OpKind::kResize, h_->path, std::nullopt, size, FaultKind::kNoSpace);
        d.effect->Set("by", "quota");
      }
    }
    if (d.effect) {
      FaultRecord& r = *d.effect;
      if (r.fault == FaultKind::kResizeError) {
        m.Record(r);
        return Impl::Injected(r, where);
      }
      if (r.fault == FaultKind::kNoSpace) {
        if (!r.HasParam("quota")) r.Set("quota", m.opts.quota_bytes).Set("used", m.UsedBytes());
        m.Record(r);
        return Impl::Injected(r, where, "quota " + r.Param("quota") + " bytes, " + r.Param("used") + " in use");
      }
    }
    MANIFOLD_RETURN_IF_ERROR(h_->base->Resize(size));
    m.AddPending(op, UnsyncedKind::kResize, id, h_->path, 0, {}, size, ino.size, false);
    ino.size = size;
    return Status::Ok();
  }

  const std::string& path() const override { return h_->path; }

 private:
  // Fails calls on a handle from before a power loss, or on a dead device.
  Status Check(const OpWhere& where) const {
    if (h_->generation != impl_->generation || h_->base == nullptr) return FaultStorage::Impl::StaleError(where);
    if (impl_->dead) return impl_->DeadError(where);
    return Status::Ok();
  }

  std::shared_ptr<FaultStorage::Impl> impl_;
  std::shared_ptr<Handle> h_;
};

}  // namespace

// ---- FaultRule ----

FaultRule FaultRule::Nth(FaultKind kind, uint64_t nth, uint64_t times) {
  FaultRule r;
  r.kind = kind;
  r.trigger = Trigger::kNth;
  r.nth = nth;
  r.times = times;
  return r;
}

FaultRule FaultRule::Probability(FaultKind kind, double p) {
  FaultRule r;
  r.kind = kind;
  r.trigger = Trigger::kProbability;
  r.probability = p;
  return r;
}

FaultRule FaultRule::Schedule(FaultKind kind, std::vector<uint64_t> op_numbers) {
  FaultRule r;
  r.kind = kind;
  r.trigger = Trigger::kSchedule;
  r.schedule = std::move(op_numbers);
  return r;
}

// ---- FaultStorage ----

FaultStorage::FaultStorage(std::shared_ptr<Storage> base, Options options) : impl_(std::make_shared<Impl>()) {
  impl_->base = std::move(base);
  impl_->opts = std::move(options);
  uint32_t& ss = impl_->opts.traits.sector_size;
  if (ss < 512 || (ss & (ss - 1)) != 0) ss = 512;
  impl_->rng.Seed(impl_->opts.seed);
}

std::shared_ptr<FaultStorage> FaultStorage::OverMemory(Options options) {
  return std::make_shared<FaultStorage>(std::make_shared<MemoryStorage>(), std::move(options));
}

FaultStorage::~FaultStorage() = default;

Result<std::unique_ptr<File>> FaultStorage::Open(const std::string& path, const OpenFileOptions& options) {
  std::unique_lock<std::mutex> l(impl_->mu);
  Impl& m = *impl_;
  const uint64_t op = ++m.op;
  const OpWhere where = Where(OpKind::kOpen, path);
  if (m.dead) return m.DeadError(where);
  Decision d = m.Decide(op, OpKind::kOpen, path, std::nullopt, std::nullopt);
  if (m.MaybeCut(d)) return Impl::Injected(*d.effect, where, "the device lost power");
  m.ApplyLatency(l, d);
  if (m.dead) return m.DeadError(where);
  if (d.effect && d.effect->fault == FaultKind::kOpenError) {
    m.Record(*d.effect);
    return Impl::Injected(*d.effect, where);
  }
  Status err;
  uint64_t id = m.InodeFor(path, &err);  // loads an existing file before it is opened
  if (!err.ok()) return err;
  MANIFOLD_ASSIGN_OR_RETURN(std::unique_ptr<File> bf, m.base->Open(path, options));
  m.seen_paths.insert(path);
  if (id == 0) {
    id = m.next_inode++;
    m.inodes.emplace(id, Inode{});
    m.names[path] = id;
    m.AddPending(op, UnsyncedKind::kCreate, id, path, 0, {}, 0, 0, false);
  }
  auto h = std::make_shared<Handle>();
  h->base = std::move(bf);
  h->inode = id;
  h->path = path;
  h->generation = m.generation;
  m.handles.push_back(h);
  if (m.handles.size() > 64) {  // forget handles that are gone
    std::erase_if(m.handles, [](const std::weak_ptr<Handle>& w) { return w.expired(); });
  }
  return std::unique_ptr<File>(std::make_unique<FaultFile>(impl_, std::move(h)));
}

Result<bool> FaultStorage::Exists(const std::string& path) {
  std::unique_lock<std::mutex> l(impl_->mu);
  Impl& m = *impl_;
  const uint64_t op = ++m.op;
  const OpWhere where = Where(OpKind::kExists, path);
  if (m.dead) return m.DeadError(where);
  Decision d = m.Decide(op, OpKind::kExists, path, std::nullopt, std::nullopt);
  if (m.MaybeCut(d)) return Impl::Injected(*d.effect, where, "the device lost power");
  m.ApplyLatency(l, d);
  if (m.dead) return m.DeadError(where);
  if (d.effect && d.effect->fault == FaultKind::kOpenError) {
    m.Record(*d.effect);
    return Impl::Injected(*d.effect, where);
  }
  return m.base->Exists(path);
}

Status FaultStorage::Remove(const std::string& path) {
  std::unique_lock<std::mutex> l(impl_->mu);
  Impl& m = *impl_;
  const uint64_t op = ++m.op;
  const OpWhere where = Where(OpKind::kRemove, path);
  if (m.dead) return m.DeadError(where);
  Decision d = m.Decide(op, OpKind::kRemove, path, std::nullopt, std::nullopt);
  if (m.MaybeCut(d)) return Impl::Injected(*d.effect, where, "the device lost power");
  m.ApplyLatency(l, d);
  if (m.dead) return m.DeadError(where);
  if (d.effect && d.effect->fault == FaultKind::kRemoveError) {
    m.Record(*d.effect);
    return Impl::Injected(*d.effect, where);
  }
  Status err;
  const uint64_t id = m.InodeFor(path, &err);
  if (!err.ok()) return err;
  MANIFOLD_RETURN_IF_ERROR(m.base->Remove(path));
  if (id != 0) {
    m.names.erase(path);
    m.AddPending(op, UnsyncedKind::kRemove, id, path, 0, {}, 0, 0, false);
  }
  return Status::Ok();
}

Result<size_t> FaultStorage::AddRule(FaultRule rule) {
  if (IsCrashKind(rule.kind) || static_cast<int>(rule.kind) >= kFaultKindCount) {
    return Status::InvalidArgument(std::string("faultfs: ") + FaultKindName(rule.kind) +
                                   " is produced by PowerLoss(), not by a rule");
  }
  if (rule.trigger == FaultRule::Trigger::kNth && (rule.nth == 0 || rule.times == 0)) {
    return Status::InvalidArgument("faultfs: nth and times of a rule start at 1");
  }
  if (rule.trigger == FaultRule::Trigger::kProbability && !(rule.probability >= 0 && rule.probability <= 1)) {
    return Status::InvalidArgument("faultfs: probability must be within [0, 1]");
  }
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->rules.push_back(RuleState{std::move(rule)});
  return impl_->rules.size() - 1;
}

void FaultStorage::ClearRules() {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->rules.clear();
}

uint64_t FaultStorage::rule_fired(size_t index) const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return index < impl_->rules.size() ? impl_->rules[index].fired : 0;
}

void FaultStorage::SetQuota(uint64_t bytes) {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->opts.quota_bytes = bytes;
}

Status FaultStorage::FlipBit(const std::string& path, uint64_t offset, int bit) {
  std::lock_guard<std::mutex> l(impl_->mu);
  Impl& m = *impl_;
  const uint64_t op = ++m.op;
  if (bit < 0 || bit > 7) return Status::InvalidArgument("faultfs: bit must be 0..7");
  Status err;
  const uint64_t id = m.InodeFor(path, &err);
  if (!err.ok()) return err;
  if (id == 0) return Status::NotFound("faultfs flip bit: " + path + ": no such file");
  Inode& ino = m.inodes[id];
  if (offset >= ino.durable.size()) {
    return Status::InvalidArgument("faultfs flip bit: " + path + " offset " + std::to_string(offset) +
                                   " is beyond its durable size " + std::to_string(ino.durable.size()));
  }
  OpenFileOptions o;
  Result<std::unique_ptr<File>> f = m.base->Open(path, o);
  m.FlipDurable(id, ino, offset, bit, f.ok() ? f->get() : nullptr);
  FaultRecord r = Impl::MakeRecord(op, OpKind::kRead, path, offset, 1, FaultKind::kBitFlip);
  r.Set("at", offset).Set("bit", static_cast<uint64_t>(bit)).Set("source", "api");
  m.Record(r);
  return Status::Ok();
}

Status FaultStorage::MarkUnreadable(const std::string& path, uint64_t offset) {
  std::lock_guard<std::mutex> l(impl_->mu);
  Impl& m = *impl_;
  const uint64_t op = ++m.op;
  Status err;
  const uint64_t id = m.InodeFor(path, &err);
  if (!err.ok()) return err;
  if (id == 0) return Status::NotFound("faultfs mark unreadable: " + path + ": no such file");
  const uint64_t sector = offset / m.S();
  m.inodes[id].bad_sectors.insert(sector);
  FaultRecord r = Impl::MakeRecord(op, OpKind::kRead, path, sector * m.S(), m.S(), FaultKind::kUnreadableSector);
  r.Set("sector", sector).Set("source", "api");
  m.Record(r);
  return Status::Ok();
}

Status FaultStorage::LoadReplay(std::string_view log) {
  MANIFOLD_ASSIGN_OR_RETURN(std::vector<FaultRecord> records, ParseFaultLog(log));
  std::lock_guard<std::mutex> l(impl_->mu);
  Impl& m = *impl_;
  m.replay = true;
  m.rules.clear();
  m.replay_ops.clear();
  m.divergences.clear();
  for (const FaultRecord& r : records) {
    if (IsCrashKind(r.fault) || r.Param("source") == "api") continue;
    m.replay_ops.emplace(r.op, r);
  }
  m.replay_all = std::move(records);
  return Status::Ok();
}

void FaultStorage::SetObserver(std::function<void(const OpInfo&)> observer) {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->observer = std::move(observer);
}

std::vector<std::string> FaultStorage::divergences() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->divergences;
}

uint64_t FaultStorage::op_count() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->op;
}

uint64_t FaultStorage::unsynced_count() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->pending.size();
}

bool FaultStorage::powered_off() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->dead;
}

CrashImage FaultStorage::CaptureCrashImage() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->CaptureLocked();
}

Result<FileSet> FaultStorage::CurrentFiles() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  FileSet out;
  for (const std::string& path : impl_->seen_paths) {
    MANIFOLD_ASSIGN_OR_RETURN(bool exists, impl_->base->Exists(path));
    if (!exists) continue;
    OpenFileOptions ro;
    ro.read_only = true;
    MANIFOLD_ASSIGN_OR_RETURN(std::unique_ptr<File> f, impl_->base->Open(path, ro));
    MANIFOLD_ASSIGN_OR_RETURN(uint64_t size, f->Size());
    std::string data(size, '\0');
    if (size > 0) MANIFOLD_RETURN_IF_ERROR(f->Read(0, size, data.data()));
    out.files.emplace(path, std::move(data));
  }
  return out;
}

Result<FileSet> FaultStorage::PowerLoss(const CrashPolicy& policy) {
  std::lock_guard<std::mutex> l(impl_->mu);
  Impl& m = *impl_;
  const uint64_t crash_op = ++m.op;
  if (m.observer) m.observer(OpInfo{crash_op, OpKind::kPowerLoss, "*", std::nullopt, std::nullopt});
  CrashImage image = m.CaptureLocked();
  CrashPlan plan;
  bool from_log = false;
  if (m.replay) {
    Result<CrashPlan> logged = image.PlanFromLog(m.replay_all, crash_op);
    if (logged.ok()) {
      plan = std::move(logged).value();
      from_log = true;
    } else {
      m.divergences.push_back("op " + std::to_string(crash_op) + ": power loss: " + logged.status().message());
    }
  }
  if (!from_log) plan = image.RandomPlan(policy, MixSeed(m.opts.seed, crash_op));
  return m.PowerLossLocked(image, plan, crash_op);
}

Result<FileSet> FaultStorage::PowerLoss(const CrashPlan& plan) {
  std::lock_guard<std::mutex> l(impl_->mu);
  Impl& m = *impl_;
  const uint64_t crash_op = ++m.op;
  if (m.observer) m.observer(OpInfo{crash_op, OpKind::kPowerLoss, "*", std::nullopt, std::nullopt});
  CrashImage image = m.CaptureLocked();
  return m.PowerLossLocked(image, plan, crash_op);
}

std::vector<FaultRecord> FaultStorage::log() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->log;
}

std::string FaultStorage::LogText() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return FormatFaultLog(impl_->log);
}

uint64_t FaultStorage::fault_count(FaultKind kind) const {
  std::lock_guard<std::mutex> l(impl_->mu);
  auto i = static_cast<size_t>(kind);
  return i < impl_->counts.size() ? impl_->counts[i] : 0;
}

uint64_t FaultStorage::total_faults() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  uint64_t n = 0;
  for (int i = 0; i < kFaultKindCount; i++) {
    if (!IsCrashKind(static_cast<FaultKind>(i))) n += impl_->counts[static_cast<size_t>(i)];
  }
  return n;
}

const std::shared_ptr<Storage>& FaultStorage::base() const { return impl_->base; }
const DeviceTraits& FaultStorage::traits() const { return impl_->opts.traits; }
uint64_t FaultStorage::seed() const { return impl_->opts.seed; }

}  // namespace manifold::faultfs
