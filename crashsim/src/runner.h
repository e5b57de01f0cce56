// Runs a WorkloadPlan against a Database, recording intents and
// acknowledgements in a Progress (oracle.h).
//
// Interleaving: a plan without `threaded` runs on the calling thread in
// schedule order. A threaded plan runs one writer thread per family; with
// `free_threads` they run unsynchronized (true concurrency: kill mode), else
// they pass a baton in the plan's schedule order, so that the sequence of
// storage calls -- and so the whole run -- is reproducible from the seed
// (inproc and powerloss modes). The oracle never relies on the order across
// families either way.
//
// Thread-safety: RunSteps may be called from any thread; it joins its threads.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "manifold/db.h"
#include "manifold/storage.h"
#include "oracle.h"
#include "plan.h"

namespace manifold::crashsim {

// Runs step `index` of family `family` and updates `progress`.
Status RunStep(const WorkloadPlan& plan, uint32_t family, uint32_t index, Database& db, Progress& progress);

// Runs every step of the plan (see the header comment). Returns the first
// failure, which is also recorded in progress.workload_error / error_text.
Status RunSteps(const WorkloadPlan& plan, Database& db, Progress& progress, bool free_threads);

// A Storage that forwards to `base` and calls `before_sync` before and
// `after_sync` after every File::Sync(): the crash points of inproc and
// powerloss modes, and kill mode's named crash points.
class SyncTapStorage : public Storage {
 public:
  SyncTapStorage(std::shared_ptr<Storage> base, std::function<void()> before_sync,
                 std::function<void()> after_sync = nullptr);
  Result<std::unique_ptr<File>> Open(const std::string& path, const OpenFileOptions& options) override;
  Result<bool> Exists(const std::string& path) override;
  Status Remove(const std::string& path) override;
  void BeforeSync() const {
    if (before_sync_) before_sync_();
  }
  void AfterSync() const {
    if (after_sync_) after_sync_();
  }

 private:
  std::shared_ptr<Storage> base_;
  std::function<void()> before_sync_;
  std::function<void()> after_sync_;
};

}  // namespace manifold::crashsim
