// Tests for the Storage backends.
//
// StorageTest is parameterized over both backends and checks the contract
// every backend shares (round trips, short reads, resize, exclusive create,
// remove, locking, error messages). NativeStorageTest covers what only real
// files have (locks seen from a fork()ed process, errno mapping), and
// MemoryStorageTest covers simulated power loss and the sync hook.

#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "manifold/status.h"
#include "manifold/storage.h"
#include "util/sanitizers.h"

namespace manifold {
namespace {

using Code = Status::Code;

constexpr OpenFileOptions kCreate{.create = true};
constexpr OpenFileOptions kCreateExclusive{.create = true, .exclusive = true};
constexpr OpenFileOptions kCreateLocked{.create = true, .lock = true};
constexpr OpenFileOptions kLocked{.lock = true};
constexpr OpenFileOptions kReadOnly{.read_only = true};
constexpr OpenFileOptions kExisting{};

// A fresh directory under testing::TempDir(), removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = testing::TempDir() + "manifold_storage_XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Opens `path` or records a failure and returns nullptr.
std::unique_ptr<File> MustOpen(Storage& storage, const std::string& path, const OpenFileOptions& options) {
  Result<std::unique_ptr<File>> r = storage.Open(path, options);
  EXPECT_TRUE(r.ok()) << "open " << path << ": " << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

Result<std::string> ReadString(File& file, uint64_t offset, size_t n) {
  std::string out(n, '\xAA');
  MANIFOLD_RETURN_IF_ERROR(file.Read(offset, n, out.data()));
  return out;
}

// ---------------------------------------------------------------------------
// Behaviour shared by every backend.

enum class Backend { kNative, kMemory };

class StorageTest : public testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kNative) {
      tmp_ = std::make_unique<TempDir>();
      dir_ = tmp_->path();
      storage_ = NewNativeStorage();
    } else {
      dir_ = "/mem";
      storage_ = std::make_shared<MemoryStorage>();
    }
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  std::unique_ptr<File> Open(const std::string& name, const OpenFileOptions& options) {
    return MustOpen(*storage_, Path(name), options);
  }

  std::unique_ptr<TempDir> tmp_;
  std::string dir_;
  std::shared_ptr<Storage> storage_;
};

TEST_P(StorageTest, WriteReadRoundTrip) {
  auto f = Open("a", kCreate);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->path(), Path("a"));
  ASSERT_TRUE(f->Write(0, "hello world").ok());
  ASSERT_TRUE(f->Write(6, "WORLD").ok());
  Result<std::string> got = ReadString(*f, 0, 11);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "hello WORLD");
  got = ReadString(*f, 3, 4);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "lo W");
  Result<uint64_t> size = f->Size();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 11u);

  // Zero-length operations are no-ops, even at the end of the file.
  EXPECT_TRUE(f->Write(11, "").ok());
  EXPECT_TRUE(f->Read(11, 0, nullptr).ok());
}

// WriteGather writes its parts back to back, as one Write of their
// concatenation: more parts than one pwritev takes (1024), empty parts, parts
// of different sizes, past the end of the file.
TEST_P(StorageTest, WriteGatherEqualsOneWriteOfTheConcatenation) {
  auto f = Open("a", kCreate);
  ASSERT_NE(f, nullptr);
  std::vector<std::string> bufs;
  std::string want(7, '\0');  // written from offset 7: the gap reads as zeros
  for (int i = 0; i < 2500; i++) {
    bufs.push_back(i % 7 == 3 ? std::string() : std::string(1 + i % 13, static_cast<char>('a' + i % 26)));
    want += bufs.back();
  }
  std::vector<std::string_view> parts(bufs.begin(), bufs.end());
  ASSERT_TRUE(f->WriteGather(7, parts.data(), parts.size()).ok());
  Result<uint64_t> size = f->Size();
  ASSERT_TRUE(size.ok());
  ASSERT_EQ(*size, want.size());
  Result<std::string> got = ReadString(*f, 0, want.size());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, want);
  // One part, and none.
  std::string_view one = "XYZ";
  ASSERT_TRUE(f->WriteGather(0, &one, 1).ok());
  ASSERT_TRUE(f->WriteGather(3, nullptr, 0).ok());
  got = ReadString(*f, 0, 4);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, std::string("XYZ\0", 4));
}

TEST_P(StorageTest, WritePastEndZeroFillsGap) {
  auto f = Open("a", kCreate);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Write(4, "xy").ok());
  Result<std::string> got = ReadString(*f, 0, 6);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, std::string("\0\0\0\0xy", 6));
}

TEST_P(StorageTest, WritesVisibleThroughOtherHandle) {
  auto w = Open("a", kCreate);
  auto r = Open("a", kReadOnly);
  ASSERT_NE(w, nullptr);
  ASSERT_NE(r, nullptr);
  ASSERT_TRUE(w->Write(0, "shared").ok());
  Result<std::string> got = ReadString(*r, 0, 6);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "shared");
}

TEST_P(StorageTest, ShortReadNamesPathOffsetAndLengths) {
  auto f = Open("a", kCreate);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Write(0, std::string(100, 'x')).ok());
  std::string buf(50, '\0');
  Status s = f->Read(80, 50, buf.data());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_NE(s.message().find(Path("a")), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("offset 80"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("wanted 50 bytes, got 20"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("short read"), std::string::npos) << s.message();

  // Entirely past the end.
  s = f->Read(1000, 1, buf.data());
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_NE(s.message().find("got 0"), std::string::npos) << s.message();
}

TEST_P(StorageTest, ResizeGrowZeroFillsAndShrinkTruncates) {
  auto f = Open("a", kCreate);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Write(0, "abcdef").ok());
  ASSERT_TRUE(f->Resize(8192).ok());
  Result<uint64_t> size = f->Size();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 8192u);
  Result<std::string> got = ReadString(*f, 0, 8192);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->substr(0, 6), "abcdef");
  EXPECT_EQ(got->substr(6), std::string(8192 - 6, '\0'));

  ASSERT_TRUE(f->Resize(3).ok());
  size = f->Size();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 3u);
  got = ReadString(*f, 0, 3);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "abc");
  EXPECT_EQ(ReadString(*f, 0, 4).status().code(), Code::kIOError);

  // Growing again must not resurrect the truncated bytes.
  ASSERT_TRUE(f->Resize(6).ok());
  got = ReadString(*f, 0, 6);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, std::string("abc\0\0\0", 6));
}

TEST_P(StorageTest, SyncAndReopen) {
  {
    auto f = Open("a", kCreate);
    ASSERT_NE(f, nullptr);
    ASSERT_TRUE(f->Write(0, "durable").ok());
    ASSERT_TRUE(f->Sync().ok());
    ASSERT_TRUE(f->Sync().ok());  // a second sync with nothing new is fine
  }
  auto f = Open("a", kExisting);
  ASSERT_NE(f, nullptr);
  Result<std::string> got = ReadString(*f, 0, 7);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "durable");
}

TEST_P(StorageTest, OpenMissingWithoutCreateIsNotFound) {
  Result<std::unique_ptr<File>> r = storage_->Open(Path("missing"), kExisting);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find(Path("missing")), std::string::npos) << r.status().message();
}

TEST_P(StorageTest, ExclusiveCreateOfExistingFileIsAlreadyExists) {
  auto f = Open("a", kCreateExclusive);
  ASSERT_NE(f, nullptr);
  Result<std::unique_ptr<File>> r = storage_->Open(Path("a"), kCreateExclusive);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kAlreadyExists) << r.status().ToString();
  EXPECT_NE(r.status().message().find(Path("a")), std::string::npos);
  // Non-exclusive create of an existing file just opens it.
  EXPECT_NE(Open("a", kCreate), nullptr);
}

TEST_P(StorageTest, RemoveAndExists) {
  Result<bool> exists = storage_->Exists(Path("a"));
  ASSERT_TRUE(exists.ok());
  EXPECT_FALSE(*exists);
  ASSERT_NE(Open("a", kCreate), nullptr);
  exists = storage_->Exists(Path("a"));
  ASSERT_TRUE(exists.ok());
  EXPECT_TRUE(*exists);

  ASSERT_TRUE(storage_->Remove(Path("a")).ok());
  exists = storage_->Exists(Path("a"));
  ASSERT_TRUE(exists.ok());
  EXPECT_FALSE(*exists);

  Status s = storage_->Remove(Path("a"));
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find(Path("a")), std::string::npos);

  // A re-created file starts empty.
  auto f = Open("a", kCreate);
  ASSERT_NE(f, nullptr);
  Result<uint64_t> size = f->Size();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 0u);
}

TEST_P(StorageTest, SecondLockedOpenIsBusy) {
  auto holder = Open("db", kCreateLocked);
  ASSERT_NE(holder, nullptr);
  Result<std::unique_ptr<File>> r = storage_->Open(Path("db"), kLocked);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kBusy) << r.status().ToString();
  EXPECT_NE(r.status().message().find("locked by another process"), std::string::npos);
  EXPECT_NE(r.status().message().find(Path("db")), std::string::npos);
  EXPECT_NE(r.status().message().find("another handle"), std::string::npos);

  // The lock is advisory: opening without it still works.
  EXPECT_NE(Open("db", kExisting), nullptr);
}

TEST_P(StorageTest, LockReleasedWhenHandleDestroyed) {
  auto holder = Open("db", kCreateLocked);
  ASSERT_NE(holder, nullptr);
  EXPECT_EQ(storage_->Open(Path("db"), kLocked).status().code(), Code::kBusy);
  holder.reset();
  auto next = Open("db", kLocked);
  EXPECT_NE(next, nullptr);
}

TEST_P(StorageTest, ReadOnlyHandleRejectsWrites) {
  {
    auto f = Open("a", kCreate);
    ASSERT_NE(f, nullptr);
    ASSERT_TRUE(f->Write(0, "abc").ok());
  }
  auto f = Open("a", kReadOnly);
  ASSERT_NE(f, nullptr);
  Status s = f->Write(0, "xyz");
  EXPECT_EQ(s.code(), Code::kIOError) << s.ToString();
  EXPECT_NE(s.message().find(Path("a")), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("offset 0 len 3"), std::string::npos) << s.message();
  EXPECT_FALSE(f->Resize(100).ok());
  Result<std::string> got = ReadString(*f, 0, 3);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "abc");
}

TEST_P(StorageTest, ConcurrentReads) {
  auto f = Open("a", kCreate);
  ASSERT_NE(f, nullptr);
  std::string data(size_t{64} * 1024, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 251);
  ASSERT_TRUE(f->Write(0, data).ok());

  std::vector<std::thread> threads;
  threads.reserve(4);
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t off = static_cast<uint64_t>(t) * 97; off + 512 <= data.size(); off += 1021) {
        Result<std::string> got = ReadString(*f, off, 512);
        if (!got.ok() || *got != data.substr(off, 512)) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageTest, testing::Values(Backend::kNative, Backend::kMemory),
                         [](const testing::TestParamInfo<Backend>& param_info) {
                           return param_info.param == Backend::kNative ? "Native" : "Memory";
                         });

// ---------------------------------------------------------------------------
// NativeStorage only.

class NativeStorageTest : public testing::Test {
 protected:
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

  // Forks a child that tries to open `path` with a lock; returns the child's
  // Status code (as its exit code), or -1 if it did not exit normally.
  static int LockFromChild(const std::string& path) {
    const pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
      // No gtest in the child; report through the exit code and skip atexit.
      Result<std::unique_ptr<File>> r = NewNativeStorage()->Open(path, kLocked);
      ::_exit(static_cast<int>(r.ok() ? Code::kOk : r.status().code()));
    }
    int wstatus = 0;
    if (::waitpid(pid, &wstatus, 0) != pid || !WIFEXITED(wstatus)) return -1;
    return WEXITSTATUS(wstatus);
  }

  TempDir dir_;
  std::shared_ptr<Storage> storage_ = NewNativeStorage();
};

TEST_F(NativeStorageTest, LockHeldAgainstForkedChild) {
  auto holder = MustOpen(*storage_, Path("db"), kCreateLocked);
  ASSERT_NE(holder, nullptr);
  EXPECT_EQ(LockFromChild(Path("db")), static_cast<int>(Code::kBusy));
  holder.reset();
  EXPECT_EQ(LockFromChild(Path("db")), static_cast<int>(Code::kOk));
}

TEST_F(NativeStorageTest, ErrnoMessageNamesOperationPathOffsetAndLength) {
  ASSERT_NE(MustOpen(*storage_, Path("a"), kCreate), nullptr);
  auto f = MustOpen(*storage_, Path("a"), kReadOnly);
  ASSERT_NE(f, nullptr);
  Status s = f->Write(8192, std::string(4096, 'x'));  // EBADF on an O_RDONLY fd
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_EQ(s.message(), "pwrite " + Path("a") + " offset 8192 len 4096: Bad file descriptor");
}

TEST_F(NativeStorageTest, FullDeviceIsNoSpace) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no writable /dev/full";
  auto f = MustOpen(*storage_, "/dev/full", kExisting);
  ASSERT_NE(f, nullptr);
  Status s = f->Write(0, "x");
  EXPECT_EQ(s.code(), Code::kNoSpace) << s.ToString();
  EXPECT_NE(s.message().find("pwrite /dev/full offset 0 len 1"), std::string::npos) << s.message();
}

TEST_F(NativeStorageTest, WriteGatherErrorNamesPwritev) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no writable /dev/full";
  auto f = MustOpen(*storage_, "/dev/full", kExisting);
  ASSERT_NE(f, nullptr);
  std::string_view parts[] = {"ab", "cd"};
  Status s = f->WriteGather(0, parts, 2);
  EXPECT_EQ(s.code(), Code::kNoSpace) << s.ToString();
  EXPECT_NE(s.message().find("pwritev /dev/full offset 0 len 4"), std::string::npos) << s.message();
}

// Recovery maps the log where the backend can (File::MapForRead). A mapping
// shows the file's bytes, also after the file handle is gone; asking for
// more than the file holds is a null (the caller reads and gets the error).
// Under AddressSanitizer nothing is mapped (the log is read into the heap,
// whose bounds it checks).
TEST_F(NativeStorageTest, MapForReadShowsTheFileBytes) {
  auto f = MustOpen(*storage_, Path("m"), kCreate);
  ASSERT_NE(f, nullptr);
  std::string bytes;
  for (int i = 0; i < 300000; i++) bytes.push_back(static_cast<char>(i * 7 + i / 256));
  ASSERT_TRUE(f->Write(0, bytes).ok());
  std::shared_ptr<const char> m = f->MapForRead(bytes.size());
#if defined(__linux__) && defined(MADV_POPULATE_READ) && !MANIFOLD_HEAP_CHECKED
  if (m == nullptr) GTEST_SKIP() << "MADV_POPULATE_READ needs Linux 5.14";
  EXPECT_EQ(std::string_view(m.get(), bytes.size()), bytes);
  std::shared_ptr<const char> head = f->MapForRead(10);
  ASSERT_NE(head, nullptr);
  EXPECT_EQ(std::string_view(head.get(), 10), bytes.substr(0, 10));
  EXPECT_EQ(f->MapForRead(bytes.size() + 1), nullptr) << "mapped past the end of the file";
  EXPECT_EQ(f->MapForRead(0), nullptr);
  f.reset();
  EXPECT_EQ(std::string_view(m.get(), bytes.size()), bytes);
#else
  EXPECT_EQ(m, nullptr);
#endif
}

TEST(MemoryStorageMapTest, TheDefaultIsNoMapping) {
  MemoryStorage storage;
  auto f = MustOpen(storage, "m", kCreate);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Write(0, "abc").ok());
  EXPECT_EQ(f->MapForRead(3), nullptr);
}

TEST_F(NativeStorageTest, ReadOnlyOpenDoesNotCreate) {
  Result<std::unique_ptr<File>> r = storage_->Open(Path("missing"), kReadOnly);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  Result<bool> exists = storage_->Exists(Path("missing"));
  ASSERT_TRUE(exists.ok());
  EXPECT_FALSE(*exists);
}

TEST_F(NativeStorageTest, ExistsUnderAFileIsFalse) {
  ASSERT_NE(MustOpen(*storage_, Path("a"), kCreate), nullptr);
  Result<bool> exists = storage_->Exists(Path("a") + "/b");  // ENOTDIR
  ASSERT_TRUE(exists.ok()) << exists.status().ToString();
  EXPECT_FALSE(*exists);
}

// ---------------------------------------------------------------------------
// MemoryStorage only: power loss and the sync hook.

class MemoryStorageTest : public testing::Test {
 protected:
  std::unique_ptr<File> Open(const std::string& path, const OpenFileOptions& options) {
    return MustOpen(mem_, path, options);
  }
  std::string Contents(const std::string& path) {
    Result<std::string> r = mem_.ReadAll(path);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::string();
  }
  bool Exists(const std::string& path) {
    Result<bool> r = mem_.Exists(path);
    EXPECT_TRUE(r.ok());
    return r.ok() && *r;
  }

  MemoryStorage mem_;
};

TEST_F(MemoryStorageTest, UnsyncedWritesLostOnPowerLoss) {
  auto f = Open("/db", kCreate);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Write(0, "synced").ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Write(0, "SYN").ok());
  ASSERT_TRUE(f->Write(6, " and more").ok());
  EXPECT_EQ(Contents("/db"), "SYNced and more");
  mem_.SimulatePowerLoss();
  EXPECT_EQ(Contents("/db"), "synced");
}

TEST_F(MemoryStorageTest, SyncedWritesSurvivePowerLoss) {
  auto f = Open("/db", kCreate);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Write(0, "one").ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Write(3, "two").ok());
  ASSERT_TRUE(f->Sync().ok());
  mem_.SimulatePowerLoss();
  EXPECT_EQ(Contents("/db"), "onetwo");
  auto g = Open("/db", kExisting);
  ASSERT_NE(g, nullptr);
  Result<std::string> got = ReadString(*g, 0, 6);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "onetwo");
}

TEST_F(MemoryStorageTest, UnsyncedNewFileDisappears) {
  auto f = Open("/new", kCreate);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Write(0, "data").ok());
  auto g = Open("/kept", kCreate);
  ASSERT_NE(g, nullptr);
  ASSERT_TRUE(g->Sync().ok());  // empty, but its existence is durable
  mem_.SimulatePowerLoss();
  EXPECT_FALSE(Exists("/new"));
  EXPECT_TRUE(Exists("/kept"));
  EXPECT_EQ(mem_.ReadAll("/new").status().code(), Code::kNotFound);
  EXPECT_EQ(Contents("/kept"), "");
}

TEST_F(MemoryStorageTest, UnsyncedResizeIsUndone) {
  auto f = Open("/db", kCreate);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Write(0, "abcdef").ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Resize(2).ok());
  mem_.SimulatePowerLoss();
  EXPECT_EQ(Contents("/db"), "abcdef");

  f = Open("/db", kExisting);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Resize(4096).ok());
  mem_.SimulatePowerLoss();
  EXPECT_EQ(Contents("/db"), "abcdef");
}

TEST_F(MemoryStorageTest, RemoveIsImmediateAndSurvivesPowerLoss) {
  auto f = Open("/db", kCreate);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Write(0, "x").ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(mem_.Remove("/db").ok());
  mem_.SimulatePowerLoss();
  EXPECT_FALSE(Exists("/db"));
}

TEST_F(MemoryStorageTest, SyncHookSeesIncreasingNumbers) {
  std::vector<std::pair<uint64_t, std::string>> seen;
  mem_.SetSyncHook([&](uint64_t n, const std::string& path) {
    seen.emplace_back(n, path);
    return Status::Ok();
  });
  auto a = Open("/a", kCreate);
  auto b = Open("/b", kCreate);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->Sync().ok());
  ASSERT_TRUE(b->Sync().ok());
  ASSERT_TRUE(a->Sync().ok());
  const std::vector<std::pair<uint64_t, std::string>> want = {{1, "/a"}, {2, "/b"}, {3, "/a"}};
  EXPECT_EQ(seen, want);
  EXPECT_EQ(mem_.sync_count(), 3u);
}

TEST_F(MemoryStorageTest, FailingSyncHookFailsSyncAndKeepsNothingDurable) {
  auto f = Open("/db", kCreate);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Write(0, "lost").ok());
  mem_.SetSyncHook([](uint64_t n, const std::string& path) {
    return Status::IOError("injected failure at sync " + std::to_string(n) + " of " + path);
  });
  Status s = f->Sync();
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_EQ(s.message(), "injected failure at sync 1 of /db");
  mem_.SimulatePowerLoss();
  EXPECT_FALSE(Exists("/db"));  // its creation was never made durable

  // With the hook removed, syncs work again and the count keeps running.
  mem_.SetSyncHook(nullptr);
  auto g = Open("/db", kCreate);
  ASSERT_NE(g, nullptr);
  ASSERT_TRUE(g->Write(0, "kept").ok());
  ASSERT_TRUE(g->Sync().ok());
  EXPECT_EQ(mem_.sync_count(), 2u);
  mem_.SimulatePowerLoss();
  EXPECT_EQ(Contents("/db"), "kept");
}

TEST_F(MemoryStorageTest, SyncHookMayCrashTheWorld) {
  auto f = Open("/db", kCreate);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Write(0, "v1").ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Write(0, "v2").ok());
  // Power fails right at sync 2, before the data reaches the disk.
  mem_.SetSyncHook([this](uint64_t n, const std::string&) {
    if (n == 2) {
      mem_.SimulatePowerLoss();
      return Status::IOError("power lost");
    }
    return Status::Ok();
  });
  EXPECT_FALSE(f->Sync().ok());
  EXPECT_EQ(Contents("/db"), "v1");
}

TEST_F(MemoryStorageTest, HandlesFromBeforePowerLossFail) {
  auto f = Open("/db", kCreateLocked);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Write(0, "abc").ok());
  ASSERT_TRUE(f->Sync().ok());
  mem_.SimulatePowerLoss();

  char buf[3];
  Status s = f->Read(0, 3, buf);
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_NE(s.message().find("file handle from before a simulated crash"), std::string::npos);
  EXPECT_NE(s.message().find("/db"), std::string::npos);
  EXPECT_EQ(f->Write(0, "x").code(), Code::kIOError);
  EXPECT_EQ(f->Sync().code(), Code::kIOError);
  EXPECT_EQ(f->Resize(0).code(), Code::kIOError);
  EXPECT_EQ(f->Size().status().code(), Code::kIOError);
  EXPECT_EQ(f->path(), "/db");
  EXPECT_EQ(Contents("/db"), "abc");  // the stale writes changed nothing

  // The lock died with the "process"; a new handle can take it, and
  // destroying the stale handle must not release the new holder's lock.
  auto g = Open("/db", kLocked);
  ASSERT_NE(g, nullptr);
  f.reset();
  EXPECT_EQ(mem_.Open("/db", kLocked).status().code(), Code::kBusy);
}

TEST_F(MemoryStorageTest, ProcessCrashKeepsUnsyncedWritesUntilPowerLoss) {
  auto f = Open("/db", kCreateLocked);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Write(0, "synced").ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Write(0, "SYN").ok());
  auto n = Open("/new", kCreate);  // never synced
  ASSERT_NE(n, nullptr);
  ASSERT_TRUE(n->Write(0, "cached").ok());
  mem_.SimulateProcessCrash();
  // The dead process's handles fail and change nothing; the lock died with it.
  EXPECT_EQ(f->Write(0, "x").code(), Code::kIOError);
  EXPECT_EQ(f->Sync().code(), Code::kIOError);
  auto g = Open("/db", kLocked);
  ASSERT_NE(g, nullptr);
  // Its unsynced writes are still there (the OS cache) ...
  EXPECT_EQ(Contents("/db"), "SYNced");
  EXPECT_EQ(Contents("/new"), "cached");
  // ... and still unsynced: a power loss drops them.
  mem_.SimulatePowerLoss();
  EXPECT_EQ(Contents("/db"), "synced");
  EXPECT_FALSE(Exists("/new"));
}

TEST_F(MemoryStorageTest, StaleHandleOfVanishedFileFails) {
  auto f = Open("/tmp", kCreate);  // never synced
  ASSERT_NE(f, nullptr);
  mem_.SimulatePowerLoss();
  char c;
  EXPECT_EQ(f->Read(0, 0, &c).code(), Code::kIOError);
  EXPECT_EQ(f->Write(0, "x").code(), Code::kIOError);
  EXPECT_FALSE(Exists("/tmp"));
}

TEST_F(MemoryStorageTest, WriteAllCorruptsDurably) {
  auto f = Open("/db", kCreate);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->Write(0, "good").ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(mem_.WriteAll("/db", "bad!").ok());
  Result<std::string> got = ReadString(*f, 0, 4);  // open handles see it at once
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "bad!");
  mem_.SimulatePowerLoss();
  EXPECT_EQ(Contents("/db"), "bad!");

  // WriteAll may also plant a file that did not exist.
  ASSERT_TRUE(mem_.WriteAll("/planted", "xyz").ok());
  mem_.SimulatePowerLoss();
  EXPECT_EQ(Contents("/planted"), "xyz");
}

TEST_F(MemoryStorageTest, ConcurrentWritersToDifferentFiles) {
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      auto f = mem_.Open("/f" + std::to_string(t), kCreate);
      if (!f.ok()) return;
      for (int i = 0; i < 100; ++i) {
        (void)(*f)->Write(static_cast<uint64_t>(i), std::string(1, static_cast<char>('a' + t)));
        if (i % 10 == 9) (void)(*f)->Sync();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mem_.sync_count(), 40u);
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(Contents("/f" + std::to_string(t)), std::string(100, static_cast<char>('a' + t)));
  }
}

}  // namespace
}  // namespace manifold
