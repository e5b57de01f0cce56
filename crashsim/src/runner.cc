// Runs workload plans (see runner.h).
#include "runner.h"

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace manifold::crashsim {

namespace {

void RecordError(Progress& p, const std::string& what) {
  uint32_t expected = 0;
  if (p.workload_error.compare_exchange_strong(expected, 1)) {
    std::snprintf(p.error_text, sizeof p.error_text, "%s", what.c_str());
  }
}

Status CommitStep(const WorkloadPlan& plan, uint32_t family, uint32_t index, Database& db) {
  const Step& s = plan.families[family].steps[index];
  MANIFOLD_ASSIGN_OR_RETURN(WriteTransaction w, db.BeginWrite(plan.families[family].name));
  MANIFOLD_ASSIGN_OR_RETURN(Table t, w.OpenOrCreateTable(kTableName));
  for (const PlannedWrite& pw : s.writes) {
    if (pw.del) {
      MANIFOLD_ASSIGN_OR_RETURN(bool existed, t.Delete(KeyName(pw.key)));
      (void)existed;  // deleting an absent key is part of the plan
    } else {
      MANIFOLD_RETURN_IF_ERROR(t.Put(KeyName(pw.key), ValueFor(plan.seed, family, index, pw.key, pw.value_bytes)));
    }
  }
  MANIFOLD_RETURN_IF_ERROR(t.Put(kSeqKey, SeqValue(family, index)));
  return w.Commit(s.durability);
}

// One multi-family transaction: the joint steps `members` (family, index).
Status RunJoint(const WorkloadPlan& plan, const std::vector<std::pair<uint32_t, uint32_t>>& members, Database& db,
                Progress& progress) {
  for (const auto& [f, i] : members) progress.families[f].started.store(i + 1);  // the intent
  std::vector<std::string> names;
  for (const auto& [f, i] : members) names.push_back(plan.families[f].name);
  const Step& first = plan.families[members.front().first].steps[members.front().second];
  Status st = [&]() -> Status {
    MANIFOLD_ASSIGN_OR_RETURN(WriteTransaction w, db.BeginMultiWrite(names));
    for (const auto& [f, i] : members) {
      const Step& s = plan.families[f].steps[i];
      MANIFOLD_ASSIGN_OR_RETURN(Table t, w.OpenOrCreateTable(kTableName, plan.families[f].name));
      for (const PlannedWrite& pw : s.writes) {
        if (pw.del) {
          MANIFOLD_ASSIGN_OR_RETURN(bool existed, t.Delete(KeyName(pw.key)));
          (void)existed;
        } else {
          MANIFOLD_RETURN_IF_ERROR(t.Put(KeyName(pw.key), ValueFor(plan.seed, f, i, pw.key, pw.value_bytes)));
        }
      }
      MANIFOLD_RETURN_IF_ERROR(t.Put(kSeqKey, SeqValue(f, i)));
    }
    return w.Commit(first.durability);
  }();
  if (!st.ok()) {
    RecordError(progress, "multi-family transaction " + std::to_string(first.joint) + ": " + st.ToString());
    return st;
  }
  for (const auto& [f, i] : members) progress.families[f].acked.store(i + 1);  // the acknowledgement
  if (first.durability == Durability::kImmediate) {
    for (const auto& [f, i] : members) progress.MarkDurable(f, i + 1);
  }
  return Status::Ok();
}

}  // namespace

Status RunStep(const WorkloadPlan& plan, uint32_t family, uint32_t index, Database& db, Progress& progress) {
  const Step& s = plan.families[family].steps[index];
  const std::string& name = plan.families[family].name;
  FamilyProgress& fp = progress.families[family];
  fp.started.store(index + 1);  // the intent: recorded before the call
  Status st;
  std::vector<uint32_t> acked_before;
  switch (s.kind) {
    case StepKind::kCreate:
      st = db.CreateColumnFamily(name);
      break;
    case StepKind::kDrop:
      st = db.DropColumnFamily(name);
      break;
    case StepKind::kCommit:
      st = CommitStep(plan, family, index, db);
      break;
    case StepKind::kSync:
    case StepKind::kCheckpoint:
      for (size_t f = 0; f < plan.families.size(); f++) acked_before.push_back(progress.families[f].acked.load());
      st = s.kind == StepKind::kSync ? db.Sync() : db.Checkpoint();
      break;
  }
  if (!st.ok()) {
    RecordError(progress, "family " + name + " step " + std::to_string(index) + " (" + StepKindName(s.kind) +
                              "): " + st.ToString());
    return st;
  }
  fp.acked.store(index + 1);  // the acknowledgement: after the call returned
  const bool durable = s.kind == StepKind::kCreate || s.kind == StepKind::kDrop || s.kind == StepKind::kSync ||
                       s.kind == StepKind::kCheckpoint ||
                       (s.kind == StepKind::kCommit && s.durability == Durability::kImmediate);
  if (durable) progress.MarkDurable(family, index + 1);
  for (size_t f = 0; f < acked_before.size(); f++) progress.MarkDurable(f, acked_before[f]);
  return Status::Ok();
}

Status RunSteps(const WorkloadPlan& plan, Database& db, Progress& progress, bool free_threads) {
  const size_t families = plan.families.size();
  if (!plan.threaded) {
    std::vector<uint32_t> next(families, 0);
    for (size_t k = 0; k < plan.schedule.size();) {
      const uint8_t f = plan.schedule[k];
      const uint32_t joint = plan.families[f].steps[next[f]].joint;
      if (joint == 0) {
        MANIFOLD_RETURN_IF_ERROR(RunStep(plan, f, next[f]++, db, progress));
        k++;
        continue;
      }
      std::vector<std::pair<uint32_t, uint32_t>> members;  // consecutive in the schedule
      while (k < plan.schedule.size()) {
        const uint8_t g = plan.schedule[k];
        if (plan.families[g].steps[next[g]].joint != joint) break;
        members.emplace_back(g, next[g]++);
        k++;
      }
      MANIFOLD_RETURN_IF_ERROR(RunJoint(plan, members, db, progress));
    }
    return Status::Ok();
  }
  std::mutex mu;
  std::condition_variable cv;
  size_t pos = 0;
  bool abort = false;
  Status first;
  std::vector<std::thread> threads;
  for (uint32_t f = 0; f < families; f++) {
    threads.emplace_back([&, f] {
      const uint32_t n = static_cast<uint32_t>(plan.families[f].steps.size());
      for (uint32_t i = 0; i < n; i++) {
        if (!free_threads) {
          std::unique_lock<std::mutex> l(mu);
          cv.wait(l, [&] { return abort || plan.schedule[pos] == f; });
          if (abort) return;
        }
        Status s = RunStep(plan, f, i, db, progress);
        std::lock_guard<std::mutex> l(mu);
        if (!free_threads) pos++;
        if (!s.ok()) {
          if (first.ok()) first = s;
          abort = true;
        }
        cv.notify_all();
        if (!s.ok() || (free_threads && abort)) return;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return first;
}

namespace {

class TapFile : public File {
 public:
  TapFile(std::unique_ptr<File> f, const SyncTapStorage* owner) : f_(std::move(f)), owner_(owner) {}
  Status Read(uint64_t offset, size_t n, char* out) override { return f_->Read(offset, n, out); }
  Status Write(uint64_t offset, std::string_view data) override { return f_->Write(offset, data); }
  Status Sync() override {
    owner_->BeforeSync();
    Status s = f_->Sync();
    owner_->AfterSync();
    return s;
  }
  Result<uint64_t> Size() override { return f_->Size(); }
  Status Resize(uint64_t size) override { return f_->Resize(size); }
  const std::string& path() const override { return f_->path(); }

 private:
  std::unique_ptr<File> f_;
  const SyncTapStorage* owner_;
};

}  // namespace

SyncTapStorage::SyncTapStorage(std::shared_ptr<Storage> base, std::function<void()> before_sync,
                               std::function<void()> after_sync)
    : base_(std::move(base)), before_sync_(std::move(before_sync)), after_sync_(std::move(after_sync)) {}

Result<std::unique_ptr<File>> SyncTapStorage::Open(const std::string& path, const OpenFileOptions& options) {
  MANIFOLD_ASSIGN_OR_RETURN(std::unique_ptr<File> f, base_->Open(path, options));
  return std::unique_ptr<File>(std::make_unique<TapFile>(std::move(f), this));
}

Result<bool> SyncTapStorage::Exists(const std::string& path) { return base_->Exists(path); }

Status SyncTapStorage::Remove(const std::string& path) { return base_->Remove(path); }

}  // namespace manifold::crashsim
