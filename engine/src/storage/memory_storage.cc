// MemoryStorage: files held in memory, with simulated power loss.
//
// Each file is a Node holding `current` (what reads see) and what is needed
// to get back to its durable image (the bytes as of the last Sync()): the
// durable size and an undo log -- the before-image of every durable byte
// that has been overwritten, truncated or otherwise changed since the last
// sync, each byte saved once (the saved ranges are disjoint) -- plus whether
// the file's existence is durable (it has been synced since it was created)
// and whether an open handle holds its exclusive lock. Write/Resize change
// `current` and save the before-image of the durable bytes they change;
// Sync() just forgets the undo log (the current image is the durable one
// now), so a sync costs nothing per byte and a file loaded with WriteAll()
// is held once, not twice. SimulatePowerLoss() forgets every file whose
// existence is not durable, rolls the others back to their durable image
// (undo log, then the durable size), drops all locks and bumps a generation
// counter: handles opened before the crash see the new generation and fail
// every call with IOError, as the process that owned them would be gone.
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
#include "storage/file_errors.h"

namespace manifold {

namespace {

struct Node {
  std::string current;
  uint64_t durable_size = 0;  // the file's size as of the last sync
  // Undo log: offset -> before-image of durable bytes [offset, offset + size)
  // changed since the last sync. Ranges are disjoint and lie below
  // durable_size; bytes not in any range still hold their durable value (or,
  // beyond current.size(), were cut off by a shrink that saved them).
  std::map<uint64_t, std::string> undo;

  // Saves the before-image of current's bytes [lo, hi) that are durable and
  // not saved yet. Called before every change of those bytes.
  void SaveBefore(uint64_t lo, uint64_t hi) {
    hi = std::min<uint64_t>({hi, durable_size, current.size()});
    if (lo >= hi) return;
    // The first saved range that ends after lo.
    auto it = undo.upper_bound(lo);
    if (it != undo.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second.size() > lo) it = prev;
    }
    uint64_t at = lo;
    while (at < hi) {
      const uint64_t gap_end = it == undo.end() ? hi : std::min<uint64_t>(hi, it->first);
      if (at < gap_end) {
        undo.emplace_hint(it, at, current.substr(static_cast<size_t>(at), static_cast<size_t>(gap_end - at)));
      }
      if (it == undo.end()) break;
      at = std::max<uint64_t>(at, it->first + it->second.size());
      ++it;
    }
  }
  // The current image becomes the durable one.
  void Commit() {
    undo.clear();
    durable_size = current.size();
  }
  // Back to the durable image.
  void Rollback() {
    if (current.size() < durable_size) current.resize(static_cast<size_t>(durable_size), '\0');
    for (const auto& [off, bytes] : undo) std::memcpy(current.data() + off, bytes.data(), bytes.size());
    current.resize(static_cast<size_t>(durable_size));
    undo.clear();
  }
  bool durable_exists = false;  // survives SimulatePowerLoss()
  bool locked = false;          // an open handle holds the exclusive lock
};

}  // namespace

struct MemoryStorage::Impl {
  mutable std::mutex mu;
  std::map<std::string, std::shared_ptr<Node>> files;  // guarded by mu
  uint64_t generation = 0;                             // bumped by SimulatePowerLoss(), SimulateProcessCrash()
  uint64_t sync_count = 0;
  SyncHook sync_hook;
};

namespace {

Status StaleHandle(const std::string& op, const std::string& path) {
  return Status::IOError(op + " " + path + ": file handle from before a simulated crash (power loss or process crash)");
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
      node_->SaveBefore(offset, offset + data.size());
      if (offset + data.size() > cur.size()) cur.resize(offset + data.size(), '\0');
    } catch (const std::exception&) {  // std::bad_alloc or std::length_error
      return Status::NoSpace(Where("write", offset, data.size()) + ": out of memory");
    }
    std::memcpy(cur.data() + offset, data.data(), data.size());
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
    node_->Commit();
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
      if (size < node_->current.size()) node_->SaveBefore(size, node_->current.size());
      node_->current.resize(size, '\0');
    } catch (const std::exception&) {
      return Status::NoSpace(Where("resize", std::nullopt, size) + ": out of memory");
    }
    return Status::Ok();
  }

  const std::string& path() const override { return path_; }

 private:
  std::string Where(const char* op, std::optional<uint64_t> offset, uint64_t len) const {
    return FileOpWhere(op, path_, offset, len);
  }
  Status ReadOnly(const char* op, std::optional<uint64_t> offset, uint64_t len) const {
    return FileReadOnlyError(op, path_, offset, len);
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
    node.Rollback();
    node.locked = false;
    ++it;
  }
  ++impl_->generation;
}

void MemoryStorage::SimulateProcessCrash() {
  std::lock_guard<std::mutex> l(impl_->mu);
  for (auto& [path, node] : impl_->files) node->locked = false;
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
  // Room to grow: the engine extends a data file by an eighth at a time, and
  // a first growth should not copy the whole file.
  node->current.reserve(data.size() + data.size() / 4 + 4096);
  node->current.assign(data);
  node->Commit();
  node->durable_exists = true;
  return Status::Ok();
}

}  // namespace manifold
