// sync_probe: how long an fdatasync of a small log append takes on this
// machine's disk, alone and while other threads use the CPUs.
//
// bench_commit's group commit is bounded by the sync time S (bench/README.md,
// "What the disk allows"), and S measured inside Manifold grew from ~100 us
// with one writer to ~200-300 us with sixteen. This probe separates the
// device from the scheduler without Manifold: one thread appends 256 bytes
// to a file whose blocks are already written (as the log's zeroed space is)
// and fdatasyncs it, N times, in three settings:
//   alone       nothing else runs
//   appender    a second thread appends 256 bytes every ~30 us (as other
//               committers append during a sync)
//   busy CPUs   one spinning thread per CPU (as runnable writers are)
// and prints the average, median and 99th percentile of the fdatasync calls.
//
//   sync_probe [--syncs N] [--dir DIR]     (defaults: 2000, $TMPDIR or /tmp)
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr size_t kRecord = 256;
constexpr off_t kFileBytes = off_t{64} << 20;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "sync_probe: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

struct Result {
  double avg_us, p50_us, p99_us;
};

enum class Load { kAlone, kAppender, kBusyCpus };

Result Run(const std::string& path, int syncs, Load load) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) Fail("open " + path);
  {  // written zeros, synced: no unwritten extents, no size change later
    std::vector<char> zeros(size_t{1} << 20, 0);
    for (off_t at = 0; at < kFileBytes; at += static_cast<off_t>(zeros.size())) {
      if (::pwrite(fd, zeros.data(), zeros.size(), at) != static_cast<ssize_t>(zeros.size())) Fail("pwrite " + path);
    }
    if (::fsync(fd) != 0) Fail("fsync " + path);
  }
  std::atomic<off_t> offset{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> others;
  if (load == Load::kAppender) {
    others.emplace_back([&] {
      char rec[kRecord];
      std::memset(rec, 7, sizeof rec);
      while (!stop.load(std::memory_order_relaxed)) {
        const off_t at = offset.fetch_add(kRecord) % (kFileBytes - static_cast<off_t>(kRecord));
        if (::pwrite(fd, rec, sizeof rec, at) != static_cast<ssize_t>(sizeof rec)) Fail("pwrite " + path);
        std::this_thread::sleep_for(std::chrono::microseconds(30));
      }
    });
  } else if (load == Load::kBusyCpus) {
    const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < cpus; i++) {
      others.emplace_back([&] {
        volatile uint64_t spins = 0;
        while (!stop.load(std::memory_order_relaxed)) spins = spins + 1;
      });
    }
  }
  char rec[kRecord];
  std::memset(rec, 9, sizeof rec);
  std::vector<double> us;
  us.reserve(static_cast<size_t>(syncs));
  for (int i = 0; i < syncs; i++) {
    const off_t at = offset.fetch_add(kRecord) % (kFileBytes - static_cast<off_t>(kRecord));
    if (::pwrite(fd, rec, sizeof rec, at) != static_cast<ssize_t>(sizeof rec)) Fail("pwrite " + path);
    const auto start = std::chrono::steady_clock::now();
    if (::fdatasync(fd) != 0) Fail("fdatasync " + path);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  stop.store(true);
  for (std::thread& t : others) t.join();
  ::close(fd);
  ::unlink(path.c_str());
  double sum = 0;
  for (double u : us) sum += u;
  std::sort(us.begin(), us.end());
  return Result{sum / static_cast<double>(us.size()), us[us.size() / 2], us[us.size() * 99 / 100]};
}

}  // namespace

int main(int argc, char** argv) {
  int syncs = 2000;
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--syncs" && i + 1 < argc) {
      syncs = std::atoi(argv[++i]);
    } else if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--syncs N] [--dir DIR]\n", argv[0]);
      return 2;
    }
  }
  if (syncs < 1) {
    std::fprintf(stderr, "sync_probe: --syncs must be at least 1\n");
    return 2;
  }
  const std::string path = dir + "/manifold-sync-probe." + std::to_string(::getpid());
  std::printf("fdatasync of a %zu-byte append, %d syncs per setting, file %s, %u CPUs\n", kRecord, syncs, path.c_str(),
              std::thread::hardware_concurrency());
  std::printf("%-34s %10s %10s %10s\n", "setting", "avg us", "p50 us", "p99 us");
  const struct {
    const char* name;
    Load load;
  } settings[] = {{"alone", Load::kAlone},
                  {"one appender (every ~30 us)", Load::kAppender},
                  {"one spinning thread per CPU", Load::kBusyCpus}};
  for (const auto& s : settings) {
    const Result r = Run(path, syncs, s.load);
    std::printf("%-34s %10.1f %10.1f %10.1f\n", s.name, r.avg_us, r.p50_us, r.p99_us);
  }
  return 0;
}
