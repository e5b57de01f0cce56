// NativeStorage: the Storage backend over POSIX files.
//
// This is the only place in the engine that issues raw file syscalls. Reads
// and writes are positional (pread/pwrite loops, retried on EINTR), Sync() is
// fdatasync(), Resize() is posix_fallocate() + ftruncate(), MapForRead() is
// mmap + MADV_POPULATE_READ, and the optional
// exclusive lock is flock(LOCK_EX | LOCK_NB). flock locks belong to the open
// file description, so a second Open() with lock in the same process conflicts
// just like another process does, and the lock goes away when the fd closes.
//
// Every errno is turned into a Status by ErrnoToStatus(), which names the
// operation, the path and (where there is one) the offset and length:
//   "pread /db/app.manifold offset 8192 len 4096: Input/output error"
//
// Thread-safety: Read() may run concurrently (pread does not move a shared
// file position); Write/Resize/Sync are serialized by the caller.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "manifold/storage.h"
#include "util/sanitizers.h"

namespace manifold {
namespace {

// strerror_r comes in two flavours (XSI returns int, GNU returns char*); these
// overloads accept either result so the code compiles against both.
[[maybe_unused]] const char* StrErrorResult(int rc, const char* buf) {
  return rc == 0 ? buf : "Unknown error";
}
[[maybe_unused]] const char* StrErrorResult(const char* msg, const char* /*buf*/) { return msg; }

std::string ErrnoString(int err) {
  char buf[256] = {0};
  return StrErrorResult(strerror_r(err, buf, sizeof(buf)), buf);
}

// The single errno -> Status conversion of this backend. `offset` and `len`
// are included in the message when the operation has them.
Status ErrnoToStatus(int err, std::string_view op, const std::string& path,
                     std::optional<uint64_t> offset = std::nullopt,
                     std::optional<uint64_t> len = std::nullopt) {
  std::string msg(op);
  msg += ' ';
  msg += path;
  if (offset) msg += " offset " + std::to_string(*offset);
  if (len) msg += " len " + std::to_string(*len);
  msg += ": ";
  msg += ErrnoString(err);
  switch (err) {
    case ENOENT:
      return Status::NotFound(std::move(msg));
    case EEXIST:
      return Status::AlreadyExists(std::move(msg));
    case EWOULDBLOCK:  // == EAGAIN on Linux; only flock(LOCK_NB) reports it here
      return Status::Busy("database is locked by another process: " + path +
                          " (another process, or another handle in this process, has it open"
                          " with a lock; " + std::string(op) + ": " + ErrnoString(err) + ")");
    case ENOSPC:
    case EDQUOT:
      return Status::NoSpace(std::move(msg));
    default:
      return Status::IOError(std::move(msg));
  }
}

// pread/pwrite take an off_t: reject ranges that do not fit before the kernel
// sees them (they would otherwise wrap to a negative offset).
Status CheckRange(std::string_view op, const std::string& path, uint64_t offset, uint64_t len) {
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<off_t>::max());
  if (offset > kMax || len > kMax - offset) {
    return Status::InvalidArgument(std::string(op) + " " + path + " offset " + std::to_string(offset) +
                                   " len " + std::to_string(len) + ": range exceeds the maximum file size");
  }
  return Status::Ok();
}

// The directory that holds `path` ("." for a bare name).
std::string ParentDir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

class NativeFile final : public File {
 public:
  NativeFile(std::string path, int fd, bool created)
      : path_(std::move(path)), fd_(fd), dir_sync_pending_(created) {}
  ~NativeFile() override { ::close(fd_); }  // also releases the flock

  NativeFile(const NativeFile&) = delete;
  NativeFile& operator=(const NativeFile&) = delete;

  Status Read(uint64_t offset, size_t n, char* out) override {
    MANIFOLD_RETURN_IF_ERROR(CheckRange("pread", path_, offset, n));
    size_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd_, out + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoToStatus(errno, "pread", path_, offset, n);
      }
      if (r == 0) {
        return Status::IOError("short read " + path_ + " offset " + std::to_string(offset) +
                               ": wanted " + std::to_string(n) + " bytes, got " + std::to_string(done) +
                               " (file is truncated?)");
      }
      done += static_cast<size_t>(r);
    }
    return Status::Ok();
  }

  Status Write(uint64_t offset, std::string_view data) override {
    MANIFOLD_RETURN_IF_ERROR(CheckRange("pwrite", path_, offset, data.size()));
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t r =
          ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoToStatus(errno, "pwrite", path_, offset, data.size());
      }
      if (r == 0) {  // not expected for a regular file; do not spin forever
        return Status::IOError("pwrite " + path_ + " offset " + std::to_string(offset) + " len " +
                               std::to_string(data.size()) + ": wrote 0 bytes after " +
                               std::to_string(done));
      }
      done += static_cast<size_t>(r);
    }
    return Status::Ok();
  }

  Status WriteGather(uint64_t offset, const std::string_view* parts, size_t n) override {
    constexpr size_t kIovMax = 1024;  // Linux's limit on buffers per pwritev (UIO_MAXIOV)
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += parts[i].size();
    MANIFOLD_RETURN_IF_ERROR(CheckRange("pwritev", path_, offset, total));
    std::vector<iovec> iov;
    iov.reserve(std::min(n, kIovMax));
    size_t part = 0, skip = 0, done = 0;  // skip: bytes of parts[part] already written
    while (done < total) {
      iov.clear();
      for (size_t i = part; i < n && iov.size() < kIovMax; i++) {
        const size_t from = i == part ? skip : 0;
        // pwritev reads the buffers only; iovec's field is not const.
        iov.push_back(iovec{const_cast<char*>(parts[i].data() + from), parts[i].size() - from});  // NOLINT
      }
      const ssize_t r = ::pwritev(fd_, iov.data(), static_cast<int>(iov.size()), static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return ErrnoToStatus(errno, "pwritev", path_, offset, total);
      }
      if (r == 0) {  // not expected for a regular file; do not spin forever
        return Status::IOError("pwritev " + path_ + " offset " + std::to_string(offset) + " len " +
                               std::to_string(total) + ": wrote 0 bytes after " + std::to_string(done));
      }
      done += static_cast<size_t>(r);
      for (size_t left = static_cast<size_t>(r); left > 0 && part < n;) {
        const size_t rest = parts[part].size() - skip;
        if (left < rest) {
          skip += left;
          left = 0;
        } else {
          left -= rest;
          part++;
          skip = 0;
        }
      }
      while (part < n && parts[part].size() == skip) {  // empty parts
        part++;
        skip = 0;
      }
    }
    return Status::Ok();
  }

  Status Sync() override {
    int r;
    do {
      r = ::fdatasync(fd_);
    } while (r != 0 && errno == EINTR);
    if (r != 0) return ErrnoToStatus(errno, "fdatasync", path_);
    // A file this handle may have created only survives a crash once its
    // directory entry is durable too, which takes an fsync of the directory.
    // Done once per handle, on the first successful Sync().
    if (dir_sync_pending_.load(std::memory_order_acquire)) {
      MANIFOLD_RETURN_IF_ERROR(SyncParentDir());
      dir_sync_pending_.store(false, std::memory_order_release);
    }
    return Status::Ok();
  }

  Result<uint64_t> Size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return ErrnoToStatus(errno, "fstat", path_);
    return static_cast<uint64_t>(st.st_size);
  }

  // mmap, then MADV_POPULATE_READ (Linux 5.14): it reads every page in and
  // reports an I/O error as an error, where a plain mapping would fault
  // (SIGBUS) at the first access. Null on any failure or an older kernel,
  // and under AddressSanitizer (util/sanitizers.h): the log is then read into
  // a heap buffer, whose bounds it checks.
  std::shared_ptr<const char> MapForRead(uint64_t n) override {
#if defined(__linux__) && defined(MADV_POPULATE_READ) && !MANIFOLD_HEAP_CHECKED
    if (n == 0 || n > std::numeric_limits<size_t>::max() / 2) return nullptr;
    Result<uint64_t> size = Size();
    if (!size.ok() || *size < n) return nullptr;
    const auto len = static_cast<size_t>(n);
    void* m = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd_, 0);
    if (m == MAP_FAILED) return nullptr;
    if (::madvise(m, len, MADV_POPULATE_READ) != 0) {
      (void)::munmap(m, len);
      return nullptr;
    }
    // (If the control block cannot be allocated, the deleter runs.)
    return std::shared_ptr<const char>(static_cast<const char*>(m),
                                       [len](const char* p) { (void)::munmap(const_cast<char*>(p), len); });
#else
    (void)n;
    return nullptr;
#endif
  }

  Status Resize(uint64_t size) override {
    MANIFOLD_RETURN_IF_ERROR(CheckRange("ftruncate", path_, 0, size));
    Result<uint64_t> old_size = Size();
    if (!old_size.ok()) return old_size.status();
    if (size > *old_size) {
      // Reserve the blocks first so that a full disk is reported now (NoSpace)
      // rather than as a failed write later. Filesystems without fallocate
      // support answer EOPNOTSUPP/EINVAL; ftruncate alone is fine for them.
      const int err = ::posix_fallocate(fd_, static_cast<off_t>(*old_size),
                                        static_cast<off_t>(size - *old_size));
      if (err != 0 && err != EOPNOTSUPP && err != EINVAL) {
        return ErrnoToStatus(err, "posix_fallocate", path_, *old_size, size - *old_size);
      }
    }
    int r;
    do {
      r = ::ftruncate(fd_, static_cast<off_t>(size));
    } while (r != 0 && errno == EINTR);
    if (r != 0) return ErrnoToStatus(errno, "ftruncate", path_, std::nullopt, size);
    return Status::Ok();
  }

  const std::string& path() const override { return path_; }

 private:
  Status SyncParentDir() {
    const std::string dir = ParentDir(path_);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return ErrnoToStatus(errno, "open directory", dir);
    int r;
    do {
      r = ::fsync(dfd);
    } while (r != 0 && errno == EINTR);
    const int err = errno;
    ::close(dfd);
    // Some filesystems cannot fsync a directory; there is nothing more to do.
    if (r != 0 && err != EINVAL) return ErrnoToStatus(err, "fsync directory", dir);
    return Status::Ok();
  }

  const std::string path_;
  const int fd_;
  std::atomic<bool> dir_sync_pending_;
};

class NativeStorage final : public Storage {
 public:
  Result<std::unique_ptr<File>> Open(const std::string& path, const OpenFileOptions& options) override {
    int flags = (options.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    if (options.create) {
      flags |= O_CREAT;
      if (options.exclusive) flags |= O_EXCL;
    }
    int fd;
    do {
      fd = ::open(path.c_str(), flags, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return ErrnoToStatus(errno, "open", path);
    std::unique_ptr<NativeFile> file;
    try {
      file = std::make_unique<NativeFile>(path, fd, options.create);  // owns fd from here on
    } catch (...) {  // std::bad_alloc
      ::close(fd);
      throw;
    }

    if (options.lock) {
      int r;
      do {
        r = ::flock(fd, LOCK_EX | LOCK_NB);
      } while (r != 0 && errno == EINTR);
      if (r != 0) return ErrnoToStatus(errno, "flock", path);
    }
    return std::unique_ptr<File>(std::move(file));
  }

  Result<bool> Exists(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return ErrnoToStatus(errno, "stat", path);
  }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoToStatus(errno, "unlink", path);
    return Status::Ok();
  }
};

}  // namespace

std::shared_ptr<Storage> NewNativeStorage() { return std::make_shared<NativeStorage>(); }

std::shared_ptr<const char> File::MapForRead(uint64_t) { return nullptr; }

Status File::WriteGather(uint64_t offset, const std::string_view* parts, size_t n) {
  if (n == 1) return Write(offset, parts[0]);
  std::string all;
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += parts[i].size();
  all.reserve(total);
  for (size_t i = 0; i < n; i++) all.append(parts[i]);
  return Write(offset, all);
}

}  // namespace manifold
