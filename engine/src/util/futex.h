// Futex waits and wakes on a 32-bit atomic, and a short-section lock.
//
// (libstdc++'s std::atomic::wait spins and calls sched_yield before it
// sleeps, which on a busy 2-core machine costs more than it saves.)
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#if defined(__linux__)
#include <climits>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace manifold {

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));

// Sleeps while *a == expected. Returns at once if it differs; spurious
// returns happen, so callers loop.
inline void FutexWait(std::atomic<uint32_t>* a, uint32_t expected) {
#if defined(__linux__)
  (void)syscall(SYS_futex, reinterpret_cast<uint32_t*>(a), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
#else
  a->wait(expected, std::memory_order_acquire);
#endif
}

// Wakes every thread sleeping on `a`.
inline void FutexWakeAll(std::atomic<uint32_t>* a) {
#if defined(__linux__)
  (void)syscall(SYS_futex, reinterpret_cast<uint32_t*>(a), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
#else
  a->notify_all();
#endif
}

// A lock for very short critical sections: uncontended, one atomic exchange
// to lock and a plain store to unlock (what a spin lock costs); contended, a
// short spin, then sched_yield until it is free -- never a spin through a
// time slice while the holder is preempted, which with more threads than
// cores cost 16 writers 14% of their time in the page cache's plain spin
// locks. (A futex-based lock, whose unlock needs an atomic exchange to see
// sleepers, made cached point reads ~5% slower.)
class SpinYieldLock {
 public:
  void lock() {
    for (int spins = 0; state_.exchange(true, std::memory_order_acquire); spins++) {
      while (state_.load(std::memory_order_relaxed)) {
        if (spins++ < 64) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        } else {
          std::this_thread::yield();
        }
      }
    }
  }
  void unlock() { state_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> state_{false};
};

}  // namespace manifold
