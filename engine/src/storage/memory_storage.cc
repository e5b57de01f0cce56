// MemoryStorage: files held in memory, with simulated power loss.
//
// Each file is a Node with two images: `current` (what reads see) and
// `durable` (the bytes as of the last Sync()), plus whether the file's
// existence is durable (it has been synced since it was created) and whether
// an open handle holds its exclusive lock. Write/Resize touch only `current`;
// Sync() copies current -> durable. SimulatePowerLoss() forgets every file
// whose existence is not durable, rolls the others back to their durable
// image, drops all locks and bumps a generation counter: handles opened
// before the crash see the new generation and fail every call with IOError,
// as the process that owned them would be gone.
//
// Remove() takes effect immediately and durably. A handle to a removed file
// keeps working on its own (now orphaned) node, as an unlinked POSIX file
// does.
//
// Thread-safety: every access to the file table and to the nodes goes through
// Impl::mu. The sync hook is called without the mutex held, so it may call
// back into the storage (e.g. SimulatePowerLoss()).

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <algorithm>
#include <cstdint>
#include <string_view>
#include <utility>

#include "manifold/storage.h"

namespace manifold {

namespace {

struct Node {
  std::string current;
  std::string durable;
  // Bytes of `current` written since the last sync: Sync() copies only those
  // (a whole-file copy per sync made every log sync cost the log's size).
  uint64_t dirty_lo = UINT64_MAX, dirty_hi = 0;
  void MarkDirty(uint64_t lo, uint64_t hi) {
    dirty_lo = std::min(dirty_lo, lo);
    dirty_hi = std::max(dirty_hi, hi);
  }
  void MarkClean() {
    dirty_lo = UINT64_MAX;
    dirty_hi = 0;
  }
  bool durable_exists = false;  // survives SimulatePowerLoss()
  bool locked = false;          // an open handle holds the exclusive lock
};

}  // namespace

struct MemoryStorage::Impl {
  mutable std::mutex mu;
  std::map<std::string, std::shared_ptr<Node>> files;  // guarded by mu
  uint64_t generation = 0;                             // bumped by SimulatePowerLoss()
  uint64_t sync_count = 0;
  SyncHook sync_hook;
};

namespace {

Status StaleHandle(const std::string& op, const std::string& path) {
  return Status::IOError(op + " " + path + ": file handle from before simulated power loss");
}

class MemoryFile final : public File {
 public:
  MemoryFile(std::shared_ptr<MemoryStorage::Impl> impl, std::shared_ptr<Node> node, std::string path,
             uint64_t generation, bool read_only, bool holds_lock)
      : impl_(std::move(impl)),
        node_(std::move(node)),
        path_(std::move(path)),
        generation_(generation),
        read_only_(read_only),
        holds_lock_(holds_lock) {}

  ~MemoryFile() override {
    if (!holds_lock_) return;
    std::lock_guard<std::mutex> l(impl_->mu);
    // After a power loss the lock was already dropped and may belong to a
    // handle opened since; leave it alone.
    if (generation_ == impl_->generation) node_->locked = false;
  }

  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  Status Read(uint64_t offset, size_t n, char* out) override {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (generation_ != impl_->generation) return StaleHandle("read", path_);
    const std::string& data = node_->current;
    const uint64_t avail = offset < data.size() ? data.size() - offset : 0;
    if (avail < n) {
      return Status::IOError("short read " + path_ + " offset " + std::to_string(offset) + ": wanted " +
                             std::to_string(n) + " bytes, got " + std::to_string(avail) +
                             " (file is truncated?)");
    }
    if (n > 0) std::memcpy(out, data.data() + offset, n);
    return Status::Ok();
  }

  Status Write(uint64_t offset, std::string_view data) override {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (generation_ != impl_->generation) return StaleHandle("write", path_);
    if (read_only_) return ReadOnly("write", offset, data.size());
    if (data.empty()) return Status::Ok();
    std::string& cur = node_->current;
    if (offset > cur.max_size() || data.size() > cur.max_size() - offset) {
      return Status::NoSpace(Where("write", offset, data.size()) + ": beyond the maximum in-memory file size");
    }
    try {
      if (offset + data.size() > cur.size()) cur.resize(offset + data.size(), '\0');
    } catch (const std::exception&) {  // std::bad_alloc or std::length_error
      return Status::NoSpace(Where("write", offset, data.size()) + ": out of memory");
    }
    std::memcpy(cur.data() + offset, data.data(), data.size());
    node_->MarkDirty(offset, offset + data.size());
    return Status::Ok();
  }

  Status Sync() override {
    MemoryStorage::SyncHook hook;
    uint64_t number;
    {
      std::lock_guard<std::mutex> l(impl_->mu);
      if (generation_ != impl_->generation) return StaleHandle("sync", path_);
      number = ++impl_->sync_count;
      hook = impl_->sync_hook;
    }
    if (hook) MANIFOLD_RETURN_IF_ERROR(hook(number, path_));

    std::lock_guard<std::mutex> l(impl_->mu);
    // The hook may have simulated a power loss; this handle is dead then.
    if (generation_ != impl_->generation) return StaleHandle("sync", path_);
    try {
      Node& n = *node_;
      if (n.durable.size() != n.current.size()) {
        n.durable = n.current;  // resized since: copy everything
      } else if (n.dirty_lo < n.dirty_hi) {
        uint64_t hi = std::min<uint64_t>(n.dirty_hi, n.current.size());
        if (n.dirty_lo < hi) std::memcpy(n.durable.data() + n.dirty_lo, n.current.data() + n.dirty_lo, hi - n.dirty_lo);
      }
      n.MarkClean();
    } catch (const std::bad_alloc&) {
      return Status::NoSpace("sync " + path_ + ": out of memory");
    }
    node_->durable_exists = true;
    return Status::Ok();
  }

  Result<uint64_t> Size() override {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (generation_ != impl_->generation) return StaleHandle("size", path_);
    return static_cast<uint64_t>(node_->current.size());
  }

  Status Resize(uint64_t size) override {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (generation_ != impl_->generation) return StaleHandle("resize", path_);
    if (read_only_) return ReadOnly("resize", std::nullopt, size);
    if (size > node_->current.max_size()) {
      return Status::NoSpace(Where("resize", std::nullopt, size) + ": beyond the maximum in-memory file size");
    }
    try {
      uint64_t old = node_->current.size();
      node_->current.resize(size, '\0');
      node_->MarkDirty(std::min<uint64_t>(old, size), std::max<uint64_t>(old, size));
    } catch (const std::exception&) {
      return Status::NoSpace(Where("resize", std::nullopt, size) + ": out of memory");
    }
    return Status::Ok();
  }

  const std::string& path() const override { return path_; }

 private:
  std::string Where(const char* op, std::optional<uint64_t> offset, uint64_t len) const {
    std::string s = std::string(op) + " " + path_;
    if (offset) s += " offset " + std::to_string(*offset);
    s += " len " + std::to_string(len);
    return s;
  }
  Status ReadOnly(const char* op, std::optional<uint64_t> offset, uint64_t len) const {
    return Status::IOError(Where(op, offset, len) + ": file is opened read-only");
  }

  const std::shared_ptr<MemoryStorage::Impl> impl_;  // keeps the mutex alive
  const std::shared_ptr<Node> node_;
  const std::string path_;
  const uint64_t generation_;
  const bool read_only_;
  const bool holds_lock_;
};

}  // namespace

MemoryStorage::MemoryStorage() : impl_(std::make_shared<Impl>()) {}

MemoryStorage::~MemoryStorage() = default;

Result<std::unique_ptr<File>> MemoryStorage::Open(const std::string& path, const OpenFileOptions& options) {
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->files.find(path);
  if (it == impl_->files.end()) {
    if (!options.create) return Status::NotFound("open " + path + ": no such file");
    it = impl_->files.emplace(path, std::make_shared<Node>()).first;  // existence not yet durable
  } else if (options.create && options.exclusive) {
    return Status::AlreadyExists("open " + path + ": file exists");
  }
  const std::shared_ptr<Node>& node = it->second;
  if (options.lock && node->locked) {
    return Status::Busy("database is locked by another process: " + path +
                        " (another process, or another handle in this process, has it open with a lock)");
  }
  // The handle first: if its allocation fails, no lock is left behind.
  auto file = std::make_unique<MemoryFile>(impl_, node, path, impl_->generation, options.read_only, options.lock);
  if (options.lock) node->locked = true;
  return std::unique_ptr<File>(std::move(file));
}

Result<bool> MemoryStorage::Exists(const std::string& path) {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->files.count(path) != 0;
}

Status MemoryStorage::Remove(const std::string& path) {
  std::lock_guard<std::mutex> l(impl_->mu);
  if (impl_->files.erase(path) == 0) return Status::NotFound("remove " + path + ": no such file");
  return Status::Ok();
}

void MemoryStorage::SimulatePowerLoss() {
  std::lock_guard<std::mutex> l(impl_->mu);
  for (auto it = impl_->files.begin(); it != impl_->files.end();) {
    Node& node = *it->second;
    if (!node.durable_exists) {
      it = impl_->files.erase(it);
      continue;
    }
    node.current = node.durable;
    node.MarkClean();
    node.locked = false;
    ++it;
  }
  ++impl_->generation;
}

void MemoryStorage::SetSyncHook(SyncHook hook) {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->sync_hook = std::move(hook);
}

uint64_t MemoryStorage::sync_count() const {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->sync_count;
}

Result<std::string> MemoryStorage::ReadAll(const std::string& path) {
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->files.find(path);
  if (it == impl_->files.end()) return Status::NotFound("read all " + path + ": no such file");
  return it->second->current;
}

// Simulates bytes changing on the medium: both images are replaced and the
// file (created if missing) is durable at once.
Status MemoryStorage::WriteAll(const std::string& path, std::string_view data) {
  std::lock_guard<std::mutex> l(impl_->mu);
  std::shared_ptr<Node>& node = impl_->files[path];
  if (!node) node = std::make_shared<Node>();
  node->current.assign(data);
  node->durable.assign(data);
  node->MarkClean();
  node->durable_exists = true;
  return Status::Ok();
}

}  // namespace manifold
