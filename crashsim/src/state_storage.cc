// StateStorage (see state_storage.h).
#include "state_storage.h"

#include <cstring>
#include <exception>
#include <optional>

#include "storage/file_errors.h"

namespace manifold::crashsim {

namespace {

class StateFile final : public File {
 public:
  StateFile(std::shared_ptr<StateStorage::Impl> impl, std::shared_ptr<StateStorage::Node> node, std::string path,
            bool read_only, bool holds_lock)
      : impl_(std::move(impl)), node_(std::move(node)), path_(std::move(path)), read_only_(read_only),
        holds_lock_(holds_lock) {}
  ~StateFile() override {
    if (!holds_lock_) return;
    std::lock_guard<std::mutex> l(impl_->mu);
    node_->locked = false;
  }
  StateFile(const StateFile&) = delete;
  StateFile& operator=(const StateFile&) = delete;

  Status Read(uint64_t offset, size_t n, char* out) override {
    std::lock_guard<std::mutex> l(impl_->mu);
    const std::string& data = node_->bytes;
    const uint64_t avail = offset < data.size() ? data.size() - offset : 0;
    if (avail < n) {
      return Status::IOError("short read " + path_ + " offset " + std::to_string(offset) + ": wanted " +
                             std::to_string(n) + " bytes, got " + std::to_string(avail) + " (file is truncated?)");
    }
    if (n > 0) std::memcpy(out, data.data() + offset, n);
    return Status::Ok();
  }

  Status Write(uint64_t offset, std::string_view data) override {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (read_only_) return ReadOnly("write", offset, data.size());
    if (data.empty()) return Status::Ok();
    std::string& cur = node_->bytes;
    if (offset > cur.max_size() || data.size() > cur.max_size() - offset) {
      return Status::NoSpace(Where("write", offset, data.size()) + ": beyond the maximum in-memory file size");
    }
    try {
      if (offset + data.size() > cur.size()) cur.resize(offset + data.size(), '\0');
    } catch (const std::exception&) {
      return Status::NoSpace(Where("write", offset, data.size()) + ": out of memory");
    }
    std::memcpy(cur.data() + offset, data.data(), data.size());
    return Status::Ok();
  }

  Status Sync() override { return Status::Ok(); }  // nothing is ever lost here

  Result<uint64_t> Size() override {
    std::lock_guard<std::mutex> l(impl_->mu);
    return static_cast<uint64_t>(node_->bytes.size());
  }

  Status Resize(uint64_t size) override {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (read_only_) return ReadOnly("resize", std::nullopt, size);
    if (size > node_->bytes.max_size()) {
      return Status::NoSpace(Where("resize", std::nullopt, size) + ": beyond the maximum in-memory file size");
    }
    try {
      node_->bytes.resize(size, '\0');
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

  const std::shared_ptr<StateStorage::Impl> impl_;
  const std::shared_ptr<StateStorage::Node> node_;
  const std::string path_;
  const bool read_only_;
  const bool holds_lock_;
};

}  // namespace

StateStorage::StateStorage(faultfs::FileSet files) : impl_(std::make_shared<Impl>()) {
  for (auto& [path, bytes] : files.files) {
    auto node = std::make_shared<Node>();
    node->bytes = std::move(bytes);
    impl_->files.emplace(path, std::move(node));
  }
}

Result<std::unique_ptr<File>> StateStorage::Open(const std::string& path, const OpenFileOptions& options) {
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->files.find(path);
  if (it == impl_->files.end()) {
    if (!options.create) return Status::NotFound("open " + path + ": no such file");
    it = impl_->files.emplace(path, std::make_shared<Node>()).first;
  } else if (options.create && options.exclusive) {
    return Status::AlreadyExists("open " + path + ": file exists");
  }
  const std::shared_ptr<Node>& node = it->second;
  if (options.lock) {
    if (node->locked) {
      return Status::Busy("database is locked by another process: " + path +
                          " (another process, or another handle in this process, has it open with a lock)");
    }
    node->locked = true;
  }
  return std::unique_ptr<File>(std::make_unique<StateFile>(impl_, node, path, options.read_only, options.lock));
}

Result<bool> StateStorage::Exists(const std::string& path) {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->files.count(path) != 0;
}

Status StateStorage::Remove(const std::string& path) {
  std::lock_guard<std::mutex> l(impl_->mu);
  if (impl_->files.erase(path) == 0) return Status::NotFound("remove " + path + ": no such file");
  return Status::Ok();
}

}  // namespace manifold::crashsim
