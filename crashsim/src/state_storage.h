// StateStorage: the Storage through which inproc mode reopens a crash state.
//
// It takes the files of one crash state (a faultfs::FileSet, moved in: the
// bytes Build() produced are reopened in place, not copied into a
// MemoryStorage) and serves them like MemoryStorage does, minus the
// power-loss model: a crash state is verified and then thrown away, so
// nothing is ever lost and Sync() has nothing to make durable. Otherwise the
// same contract: Read() returns exactly n bytes or an IOError naming path,
// offset and lengths; Write() past the end and Resize() zero-fill; an
// exclusive lock per file (kBusy for a second locked Open); kAlreadyExists
// for create+exclusive; Remove() at once (open handles keep their bytes).
//
// Thread-safety: all access goes through one mutex.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "faultfs/crash_image.h"
#include "manifold/storage.h"

namespace manifold::crashsim {

class StateStorage : public Storage {
 public:
  explicit StateStorage(faultfs::FileSet files);
  Result<std::unique_ptr<File>> Open(const std::string& path, const OpenFileOptions& options) override;
  Result<bool> Exists(const std::string& path) override;
  Status Remove(const std::string& path) override;

  struct Node {
    std::string bytes;
    bool locked = false;
  };
  struct Impl {
    std::mutex mu;
    std::map<std::string, std::shared_ptr<Node>> files;  // guarded by mu
  };

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace manifold::crashsim
