// FaultStorage: a manifold::Storage that models the OS page cache over any
// other Storage and injects faults.
//
// Usage:
//   auto fs = std::make_shared<faultfs::FaultStorage>(std::make_shared<MemoryStorage>(),
//                                                     faultfs::FaultStorage::Options{.seed = 42});
//   fs->AddRule(faultfs::FaultRule::Nth(faultfs::FaultKind::kSyncError, 3));   // the 3rd sync fails
//   manifold::Options o;  o.storage = fs;
//   auto db = manifold::Database::Open("db.manifold", o);
//   ...
//   fs->PowerLoss(faultfs::CrashPolicy{});   // simulated power loss: a seeded crash image
//   std::puts(fs->LogText().c_str());        // every injected fault, one line each
//
// Every Storage and File call is one numbered operation. Reads and writes are
// forwarded to the base storage (which therefore always holds what a reader
// would see: the page cache); FaultStorage additionally keeps, per file, the
// durable image and the ordered list of operations not yet synced, from which
// PowerLoss() and CaptureCrashImage() build crash images. The full fault model
// -- what can happen, what cannot, and which DeviceTraits narrow it -- is the
// block comment at the top of faultfs/src/fault_storage.cc.
//
// Determinism: given the same seed, rules and sequence of calls, a run
// injects the same faults and produces the same bytes and log. Concurrent
// callers are serialized (one mutex), so the sequence of calls -- and hence
// the run -- is only reproducible when the caller's own order is.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faultfs/crash_image.h"
#include "faultfs/fault_log.h"
#include "manifold/status.h"
#include "manifold/storage.h"

namespace manifold::faultfs {

// When and where one kind of fault fires. A rule looks only at operations of
// the kinds its fault applies to (NaturalOps, optionally narrowed by
// OnOps) on its file (all files if `file` is empty): the "matching"
// operations.
struct FaultRule {
  enum class Trigger : uint8_t {
    kNth,          // the nth matching operation (1-based), and the times-1 after it
    kProbability,  // each matching operation with this probability (seeded PRNG)
    kSchedule,     // the operations with these global numbers (if they match)
  };
  FaultKind kind = FaultKind::kReadError;
  Trigger trigger = Trigger::kNth;
  uint64_t nth = 1;
  uint64_t times = 1;
  double probability = 0;
  std::vector<uint64_t> schedule;
  std::string file;                  // exact path; empty: every file
  uint32_t ops = 0;                  // OpBit mask narrowing NaturalOps(kind); 0: all of them
  bool persistent = false;           // once fired, fires on every later matching operation
  uint64_t latency_us = 1000;        // kLatency
  std::optional<uint64_t> target;    // kMisdirectedWrite: where the data lands (default: a
                                     // random sector-aligned offset inside the file)

  static FaultRule Nth(FaultKind kind, uint64_t nth, uint64_t times = 1);
  static FaultRule Probability(FaultKind kind, double p);
  static FaultRule Schedule(FaultKind kind, std::vector<uint64_t> op_numbers);
  FaultRule& OnFile(std::string path) {
    file = std::move(path);
    return *this;
  }
  FaultRule& OnOps(std::initializer_list<OpKind> kinds) {
    ops = 0;
    for (OpKind k : kinds) ops |= OpBit(k);
    return *this;
  }
  FaultRule& Persistent() {
    persistent = true;
    return *this;
  }
  FaultRule& Latency(uint64_t us) {
    latency_us = us;
    return *this;
  }
  FaultRule& Target(uint64_t offset) {
    target = offset;
    return *this;
  }
};

// One operation as seen by an observer (FaultStorage::SetObserver).
struct OpInfo {
  uint64_t op = 0;
  OpKind kind = OpKind::kRead;
  std::string path;
  std::optional<uint64_t> offset;
  std::optional<uint64_t> len;  // bytes (read/write) or new size (resize)
};

class FaultStorage : public Storage {
 public:
  struct Options {
    uint64_t seed = 0;
    DeviceTraits traits;
    uint64_t quota_bytes = 0;  // ENOSPC when the files would exceed this many bytes (0: no quota)
    // Called with every log line as it is recorded (e.g. to print it).
    std::function<void(const std::string& line)> log_sink;
  };

  FaultStorage(std::shared_ptr<Storage> base, Options options);
  // Over a fresh MemoryStorage.
  static std::shared_ptr<FaultStorage> OverMemory(Options options);
  ~FaultStorage() override;
  FaultStorage(const FaultStorage&) = delete;
  FaultStorage& operator=(const FaultStorage&) = delete;

  // ---- Storage ----
  Result<std::unique_ptr<File>> Open(const std::string& path, const OpenFileOptions& options) override;
  Result<bool> Exists(const std::string& path) override;
  Status Remove(const std::string& path) override;

  // ---- fault injection ----
  // Adds a rule; returns its index. kInvalidArgument for kinds that only a
  // power loss produces (crash-*, power-loss) or a bad trigger.
  Result<size_t> AddRule(FaultRule rule);
  void ClearRules();
  // How often rule `index` has fired.
  uint64_t rule_fired(size_t index) const;
  void SetQuota(uint64_t bytes);  // 0: no quota
  // Direct damage to durable data (logged like rule-made faults, as op `op`
  // of kind read with no offset): a flipped bit, a latent sector error.
  Status FlipBit(const std::string& path, uint64_t offset, int bit);
  Status MarkUnreadable(const std::string& path, uint64_t offset);

  // ---- replay ----
  // Replay mode: the rules, probability draws and quota are switched off and
  // exactly the faults of `log` (as written by LogText()) are injected at the
  // operations they name; power losses rebuild the logged crash images.
  // Requires the same sequence of calls as the logged run. An operation whose
  // kind or file differs from the log is reported by divergences() and gets
  // no fault.
  Status LoadReplay(std::string_view log);
  std::vector<std::string> divergences() const;

  // Called for every operation that reaches the device (not for calls on
  // dead handles or a powered-off device), before any fault is applied, with
  // the storage's lock held: it must not call back into this FaultStorage.
  // Lets a harness learn a workload's operation numbers (crash points, which
  // write to fault) in a dry run, then schedule faults at them in a re-run.
  void SetObserver(std::function<void(const OpInfo&)> observer);

  // ---- the page-cache model ----
  uint64_t op_count() const;           // operations so far
  uint64_t unsynced_count() const;     // operations not yet durable
  bool powered_off() const;            // a power-cut fired and no PowerLoss() since
  // The durable images and unsynced operations, for offline crash images.
  CrashImage CaptureCrashImage() const;
  // What a reader sees now: the base storage's bytes of every file this
  // storage has opened or written back (and that still exists).
  Result<FileSet> CurrentFiles() const;
  // Simulated power loss. Builds the crash image by `policy` (a seeded draw;
  // in replay mode: the logged one) or by `plan` (which must fit
  // CaptureCrashImage().ops()), logs it, writes the result back into the base
  // storage (removing files that did not survive), and starts over from it: all
  // of it durable, every File opened before is dead (its calls fail with
  // IOError), locks are released and the device has power again. Returns the
  // post-crash files.
  Result<FileSet> PowerLoss(const CrashPolicy& policy);
  Result<FileSet> PowerLoss(const CrashPlan& plan);

  // ---- the log ----
  std::vector<FaultRecord> log() const;
  std::string LogText() const;  // FormatFaultLog(log())
  uint64_t fault_count(FaultKind kind) const;
  uint64_t total_faults() const;  // every record except power-loss events and crash choices

  const std::shared_ptr<Storage>& base() const;
  const DeviceTraits& traits() const;
  uint64_t seed() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace manifold::faultfs
