// Storage: the one interface through which the engine touches files.
//
// Every byte the engine reads or writes -- data file and (later) WAL -- goes
// through a Storage and the File objects it opens. Backends are
// interchangeable: the native POSIX backend (NativeStorage), an in-memory
// backend that can simulate power loss (MemoryStorage), and later the
// fault-injecting faultfs and the browser's OPFS. Raw syscalls appear only in
// the native backend.
//
// Contract for a File:
//  - Read() returns exactly `n` bytes or an error (a short read past the end of
//    the file is an IOError naming path, offset and lengths).
//  - Write() may leave data in a volatile cache; only Sync() makes every
//    earlier Write() and Resize() of this file durable. A failed Sync() means
//    the data may be lost: callers must not retry and assume success.
//  - Errors carry the operation, path, offset and length.
//
// Thread-safety: a File may be used from several threads at once for Read();
// Write/Resize/Sync are serialized by the engine. Storage methods are
// thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "manifold/status.h"

namespace manifold {

class File {
 public:
  virtual ~File() = default;
  virtual Status Read(uint64_t offset, size_t n, char* out) = 0;
  virtual Status Write(uint64_t offset, std::string_view data) = 0;
  // Writes `n` buffers back to back from `offset`, as one Write of their
  // concatenation would (the engine writes runs of adjacent pages this way).
  // The default concatenates and calls Write; POSIX files use pwritev, which
  // saves the copy.
  virtual Status WriteGather(uint64_t offset, const std::string_view* parts, size_t n);
  virtual Status Sync() = 0;
  virtual Result<uint64_t> Size() = 0;
  // Grows (zero-filled) or shrinks the file to exactly `size` bytes.
  virtual Status Resize(uint64_t size) = 0;
  virtual const std::string& path() const = 0;
  // The file's first `n` bytes, mapped read-only into memory and valid while
  // the returned pointer (or a copy of it) lives; or null, and the caller
  // reads instead: the default, and what a backend returns when it cannot
  // map or the mapping failed. A backend returns a mapping only after it has
  // read every byte in (an I/O error then is a null, not a fault at the first
  // access; a page the kernel drops and fails to read back later still
  // faults). Recovery maps the log, which it reads once, whole, and does not
  // change meanwhile.
  virtual std::shared_ptr<const char> MapForRead(uint64_t n);
};

struct OpenFileOptions {
  bool create = false;     // create the file if it does not exist
  bool exclusive = false;  // with create: fail with kAlreadyExists if it exists
  bool lock = false;       // take an exclusive advisory lock; kBusy if someone holds it
  bool read_only = false;  // open for reading only
};

class Storage {
 public:
  virtual ~Storage() = default;
  virtual Result<std::unique_ptr<File>> Open(const std::string& path, const OpenFileOptions& options) = 0;
  virtual Result<bool> Exists(const std::string& path) = 0;
  virtual Status Remove(const std::string& path) = 0;
};

// POSIX files: pread/pwrite, fdatasync, ftruncate/posix_fallocate, flock.
std::shared_ptr<Storage> NewNativeStorage();

// Files held in memory. Each file keeps two images: the current bytes and the
// durable bytes as of its last Sync(). SimulatePowerLoss() replaces every
// file's current image by its durable image (unsynced writes, resizes and new
// files are lost), which makes crash tests possible without a real disk.
class MemoryStorage : public Storage {
 public:
  MemoryStorage();
  ~MemoryStorage() override;
  Result<std::unique_ptr<File>> Open(const std::string& path, const OpenFileOptions& options) override;
  Result<bool> Exists(const std::string& path) override;
  Status Remove(const std::string& path) override;

  // Drops every unsynced write, resize and file creation, and releases locks
  // (the process holding them is gone). Open File objects keep working on the
  // durable image; the test is expected to discard them.
  void SimulatePowerLoss();

  // The process dies, the machine does not: unsynced writes stay in every
  // file's current image (the OS cache), still unsynced, so a later
  // SimulatePowerLoss() can drop them; locks are released and File objects
  // opened before fail every call, as the dead process's descriptors would.
  void SimulateProcessCrash();

  // Called before every Sync() of any file with the running count of syncs
  // (1, 2, ...). If it returns a non-ok Status the sync fails with it and
  // nothing is made durable. Lets tests stop the world at each sync point.
  using SyncHook = std::function<Status(uint64_t sync_number, const std::string& path)>;
  void SetSyncHook(SyncHook hook);
  uint64_t sync_count() const;

  // Raw access to a file's current bytes, for tests that corrupt data.
  Result<std::string> ReadAll(const std::string& path);
  Status WriteAll(const std::string& path, std::string_view data);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace manifold
