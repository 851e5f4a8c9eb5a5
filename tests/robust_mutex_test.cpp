#include "mmipc/robust_mutex.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <new>
#include <stdexcept>
#include <thread>

#include "mmipc/error.hpp"
#include "mmipc/timeout.hpp"
#include "system_call_seam.hpp"
#include "test_util.hpp"

namespace {

using mmipc::lock_status;
using mmipc::robust_mutex;
using mmipc::testing::errno_of;
using mmipc::testing::in_child;
using mmipc::testing::reap;
using namespace std::chrono_literals;

// A robust_mutex and a counter in anonymous shared memory, inherited by forked children.
struct shared_state {
  robust_mutex mutex;
  long counter = 0;
};

class shared_region {
 public:
  shared_region() {
    void* p = ::mmap(nullptr, sizeof(shared_state), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    state_ = new (p) shared_state;
  }
  ~shared_region() { ::munmap(state_, sizeof(shared_state)); }
  shared_region(const shared_region&) = delete;
  shared_region& operator=(const shared_region&) = delete;
  shared_state& operator*() const { return *state_; }
  shared_state* operator->() const { return state_; }

 private:
  shared_state* state_;
};

TEST(RobustMutexTest, LocksAndUnlocks) {
  shared_region s;
  EXPECT_FALSE(s->mutex.held_by_this_thread());
  EXPECT_EQ(s->mutex.lock(), lock_status::acquired);
  EXPECT_TRUE(s->mutex.held_by_this_thread());
  s->mutex.unlock();
  EXPECT_FALSE(s->mutex.held_by_this_thread());
  EXPECT_EQ(s->mutex.try_lock(), lock_status::acquired);
  s->mutex.unlock();
}

TEST(RobustMutexTest, RelockingByTheHolderThrowsInsteadOfDeadlocking) {
  shared_region s;
  ASSERT_EQ(s->mutex.lock(), lock_status::acquired);
  EXPECT_EQ(errno_of([&] { (void)s->mutex.lock(); }), EDEADLK);
  EXPECT_EQ(errno_of([&] { (void)s->mutex.try_lock_for(10ms); }), EDEADLK);
  s->mutex.unlock();
}

TEST(RobustMutexTest, UnlockByANonHolderThrows) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer reports the misuse this test makes on purpose";
#endif
  shared_region s;
  EXPECT_EQ(errno_of([&] { s->mutex.unlock(); }), EPERM);
  ASSERT_EQ(s->mutex.lock(), lock_status::acquired);
  int err = 0;
  std::thread([&] { err = errno_of([&] { s->mutex.unlock(); }); }).join();
  EXPECT_EQ(err, EPERM);
  s->mutex.unlock();
}

TEST(RobustMutexTest, ThreadsExcludeEachOther) {
  shared_region s;
  constexpr int threads = 4;
  constexpr int rounds = 20000;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        (void)s->mutex.lock();
        // A read-modify-write that loses updates unless the mutex excludes.
        const long seen = s->counter;
        std::this_thread::yield();
        s->counter = seen + 1;
        s->mutex.unlock();
      }
    });
  }
  for (auto& t : pool) t.join();
  EXPECT_EQ(s->counter, long{threads} * rounds);
}

TEST(RobustMutexTest, ProcessesExcludeEachOther) {
  shared_region s;
  constexpr int children = 3;
  constexpr int rounds = 5000;
  std::vector<pid_t> pids;
  for (int c = 0; c < children; ++c) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int i = 0; i < rounds; ++i) {
        (void)s->mutex.lock();
        const long seen = s->counter;
        if (i % 64 == 0) ::sched_yield();
        s->counter = seen + 1;
        s->mutex.unlock();
      }
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) EXPECT_EQ(reap(pid), 0);
  EXPECT_EQ(s->counter, long{children} * rounds);
}

TEST(RobustMutexTest, AForkedChildIsAnotherOwner) {
  shared_region s;
  ASSERT_EQ(s->mutex.lock(), lock_status::acquired);
  // The child inherits the memory, not the ownership: the mutex is busy for it.
  EXPECT_EQ(in_child([&] {
              if (s->mutex.held_by_this_thread()) return 1;
              if (s->mutex.try_lock().has_value()) return 2;
              if (s->mutex.try_lock_for(20ms).has_value()) return 3;
              return 0;
            }),
            0);
  s->mutex.unlock();
}

TEST(RobustMutexTest, AHolderKilledWithSigkillHandsOverWithOwnerDied) {
  shared_region s;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    (void)s->mutex.lock();
    s->counter = -1;  // half-done work the next owner must repair
    char c = 'x';
    (void)!::write(ready[1], &c, 1);
    for (;;) ::pause();
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  ::close(ready[1]);
  // Busy while the holder lives.
  EXPECT_FALSE(s->mutex.try_lock().has_value());
  ::kill(pid, SIGKILL);
  EXPECT_EQ(reap(pid), 128 + SIGKILL);
  // No timeout involved: the kernel hands the mutex over as soon as the holder is gone.
  ASSERT_EQ(s->mutex.lock(), lock_status::owner_died);
  EXPECT_EQ(s->counter, -1);
  s->counter = 0;
  s->mutex.mark_consistent();
  s->mutex.unlock();
  EXPECT_EQ(s->mutex.lock(), lock_status::acquired);
  s->mutex.unlock();
}

TEST(RobustMutexTest, AHolderThatExitsHandsOverToATimedLockToo) {
  shared_region s;
  EXPECT_EQ(in_child([&] {
              (void)s->mutex.lock();
              return 0;  // exits holding it
            }),
            0);
  ASSERT_EQ(s->mutex.try_lock_for(10s), lock_status::owner_died);
  s->mutex.mark_consistent();
  s->mutex.unlock();
}

TEST(RobustMutexTest, UnlockingWithoutMarkingConsistentMakesItUnrecoverable) {
  shared_region s;
  EXPECT_EQ(in_child([&] {
              (void)s->mutex.lock();
              return 0;
            }),
            0);
  ASSERT_EQ(s->mutex.lock(), lock_status::owner_died);
  s->mutex.unlock();
  EXPECT_EQ(errno_of([&] { (void)s->mutex.lock(); }), ENOTRECOVERABLE);
  EXPECT_EQ(errno_of([&] { (void)s->mutex.try_lock(); }), ENOTRECOVERABLE);
  // Those failed attempts left the mutex to nobody: other threads and processes are told
  // the same, at once, instead of finding it held.
  int from_thread = 0;
  std::thread([&] { from_thread = errno_of([&] { (void)s->mutex.try_lock_for(5s); }); }).join();
  EXPECT_EQ(from_thread, ENOTRECOVERABLE);
  EXPECT_EQ(in_child([&] {
              ::alarm(10);  // found held, it would wait forever
              return errno_of([&] { (void)s->mutex.lock(); });
            }),
            ENOTRECOVERABLE);
  EXPECT_FALSE(s->mutex.held_by_this_thread());
}

TEST(RobustMutexTest, TimedLockGivesUpWhileAnotherThreadHoldsIt) {
  shared_region s;
  ASSERT_EQ(s->mutex.lock(), lock_status::acquired);
  std::optional<lock_status> got = lock_status::acquired;
  std::optional<lock_status> none = lock_status::acquired;
  std::thread([&] {
    got = s->mutex.try_lock_for(20ms);
    none = s->mutex.try_lock_for(-5s);
  }).join();
  EXPECT_FALSE(got.has_value());
  EXPECT_FALSE(none.has_value());
  s->mutex.unlock();
}

TEST(RobustMutexTest, AnEndlessTimeoutWaitsInsteadOfOverflowing) {
  shared_region s;
  ASSERT_EQ(s->mutex.lock(), lock_status::acquired);
  std::optional<lock_status> got;
  std::thread waiter([&] {
    got = s->mutex.try_lock_for(std::chrono::hours::max());
    if (got) s->mutex.unlock();
  });
  std::this_thread::sleep_for(50ms);
  s->mutex.unlock();
  waiter.join();
  EXPECT_EQ(got, lock_status::acquired);
}

// The bytes of a robust_mutex copied while `holder_child` held it, as in a file copied (or
// left by a machine that crashed) while a writer held its lock: the copy names a thread the
// kernel never linked to it, so no one will ever hand it over.
class copied_while_held {
 public:
  copied_while_held() {
    void* p = ::mmap(nullptr, sizeof(robust_mutex), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    bytes_ = p;
    shared_region original;
    holder_ = ::fork();
    if (holder_ == 0) {
      if (original->mutex.lock() != lock_status::acquired) ::_exit(1);
      std::memcpy(bytes_, &original->mutex, sizeof(robust_mutex));
      original->mutex.unlock();
      ::_exit(0);
    }
    if (holder_ < 0 || reap(holder_) != 0) throw std::runtime_error("the holder child failed");
  }
  ~copied_while_held() { ::munmap(bytes_, sizeof(robust_mutex)); }
  copied_while_held(const copied_while_held&) = delete;
  copied_while_held& operator=(const copied_while_held&) = delete;
  robust_mutex& mutex() const { return *std::launder(static_cast<robust_mutex*>(bytes_)); }
  /// The (dead) thread the copy names: the child's only thread.
  pid_t holder() const { return holder_; }

 private:
  void* bytes_ = nullptr;
  pid_t holder_ = -1;
};

TEST(RobustMutexTest, HolderNamesTheLockingThread) {
  shared_region s;
  EXPECT_EQ(s->mutex.holder(), 0);
  ASSERT_EQ(s->mutex.lock(), lock_status::acquired);
  EXPECT_EQ(s->mutex.holder(), ::gettid());
  pid_t other = 0;
  std::thread([&] { other = s->mutex.holder(); }).join();
  EXPECT_EQ(other, ::gettid());
  s->mutex.unlock();
  EXPECT_EQ(s->mutex.holder(), 0);
}

TEST(RobustMutexTest, ACopyOfAHeldMutexWaitsForeverUntilItsLostHolderIsRecovered) {
  copied_while_held copy;
  robust_mutex& m = copy.mutex();
  ASSERT_EQ(m.holder(), copy.holder());
  // The kernel knows nothing of this mutex: its holder is gone, yet nobody hands it over.
  EXPECT_FALSE(m.try_lock().has_value());
  EXPECT_FALSE(m.try_lock_for(50ms).has_value());
  // Recovering another thread's claim changes nothing.
  EXPECT_FALSE(m.recover_lost_holder(copy.holder() + 1));
  EXPECT_FALSE(m.try_lock().has_value());
  EXPECT_TRUE(m.recover_lost_holder(copy.holder()));
  EXPECT_EQ(m.holder(), 0);
  // Recovering twice is harmless: it is already handed over.
  EXPECT_TRUE(m.recover_lost_holder(0));
  ASSERT_EQ(m.lock(), lock_status::owner_died);
  EXPECT_TRUE(m.held_by_this_thread());
  m.mark_consistent();
  m.unlock();
  EXPECT_EQ(m.lock(), lock_status::acquired);
  m.unlock();
}

TEST(RobustMutexTest, RecoveringALostHolderWakesAWaiter) {
  copied_while_held copy;
  robust_mutex& m = copy.mutex();
  std::atomic<int> result{-1};
  std::thread waiter([&] {
    const lock_status status = m.lock();  // blocks: the holder is lost
    result = status == lock_status::owner_died ? 1 : 0;
    m.mark_consistent();
    m.unlock();
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(result.load(), -1);
  EXPECT_TRUE(m.recover_lost_holder(copy.holder()));
  waiter.join();
  EXPECT_EQ(result.load(), 1);
}

TEST(RobustMutexTest, RecoverLeavesAFreeOrLiveMutexAlone) {
  shared_region s;
  EXPECT_FALSE(s->mutex.recover_lost_holder(0));
  EXPECT_EQ(s->mutex.lock(), lock_status::acquired);
  std::thread([&] { EXPECT_FALSE(s->mutex.recover_lost_holder(0)); }).join();
  EXPECT_TRUE(s->mutex.held_by_this_thread());
  s->mutex.unlock();
}

TEST(RobustMutexTest, ValidTellsAMutexFromOtherBytes) {
  shared_region s;
  EXPECT_TRUE(s->mutex.valid());
  alignas(robust_mutex) unsigned char zeros[sizeof(robust_mutex)] = {};
  EXPECT_FALSE(std::launder(reinterpret_cast<robust_mutex*>(zeros))->valid());
  alignas(robust_mutex) unsigned char junk[sizeof(robust_mutex)];
  std::memset(junk, 0x5a, sizeof junk);
  EXPECT_FALSE(std::launder(reinterpret_cast<robust_mutex*>(junk))->valid());
  // A mutex of another kind (a plain default one) is not this kind either.
  pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER;
  EXPECT_FALSE(std::launder(reinterpret_cast<robust_mutex*>(&plain))->valid());
}

// An unlock wakes one waiter; if that waiter is killed before it takes the mutex, the wake-up
// is lost and the waiters bit is gone with the freed word. Simulated exactly: the holder frees
// the word by hand (as glibc's unlock does) without waking anyone, and exits. A waiter that
// relied on being woken would sleep forever; it must take the mutex on its own.
TEST(RobustMutexTest, AWaiterWhoseWakeUpWasLostTakesTheMutexAnyway) {
  shared_region s;
  EXPECT_EQ(in_child([&] {
              ::alarm(20);  // a waiter that sleeps forever fails the test instead of hanging it
              int ready[2];
              if (::pipe(ready) != 0) return 10;
              const pid_t holder = ::fork();
              if (holder < 0) return 11;
              if (holder == 0) {
                (void)s->mutex.lock();
                char c = 'x';
                (void)!::write(ready[1], &c, 1);
                // Wait until the waiter sleeps on the futex (it set the waiters bit in the
                // futex word, which is the first int of the mutex: glibc's __data.__lock)...
                std::atomic_ref<int> word(*reinterpret_cast<int*>(static_cast<void*>(&s->mutex)));
                while ((static_cast<unsigned>(word.load()) & FUTEX_WAITERS) == 0) ::usleep(1000);
                // ...then free the word without the wake-up the waiter is owed.
                word.store(0);
                ::_exit(0);
              }
              char c = 0;
              if (::read(ready[0], &c, 1) != 1) return 12;
              if (s->mutex.lock() != lock_status::acquired) return 13;
              s->mutex.unlock();
              return reap(holder) == 0 ? 0 : 14;
            }),
            0);
}

// What the kernel says to a futex wait on a word whose page a truncated file took away: EFAULT
// (a touch of the page from user space raises SIGBUS instead). glibc's pthread_mutex_clocklock
// aborts the process on that answer ("The futex facility returned an unexpected error code"),
// which is why robust_mutex waits with its own futex call.
TEST(RobustMutexTest, TheKernelRefusesAFutexWaitOnATruncatedPageWithEFAULT) {
  mmipc::testing::temp_file file(std::string(8192, '\0'));
  const int fd = ::open(file.path().c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  void* p = ::mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(p, MAP_FAILED);
  auto* word = reinterpret_cast<int*>(static_cast<char*>(p) + 4096);
  *word = 7;
  ASSERT_EQ(::ftruncate(fd, 4096), 0);
  const timespec one_ms{0, 1000000};
  errno = 0;
  EXPECT_EQ(mmipc::detail::libc_calls.futex_wait(word, 7, &one_ms), -1);
  EXPECT_EQ(errno, EFAULT);
  ::munmap(p, 8192);
  ::close(fd);
}

int futex_calls = 0;
int futex_fails_with_efault(int*, int, const timespec*) {
  ++futex_calls;
  errno = EFAULT;
  return -1;
}

TEST(RobustMutexTest, AWaitTheKernelRefusesWithEFAULTIsAnErrorNotAnAbort) {
  shared_region region;
  robust_mutex& m = region->mutex;
  std::atomic<bool> held{false};
  std::atomic<bool> release{false};
  std::thread holder([&] {
    EXPECT_EQ(m.lock(), lock_status::acquired);
    held = true;
    while (!release) std::this_thread::sleep_for(1ms);
    m.unlock();
  });
  while (!held) std::this_thread::sleep_for(1ms);
  {
    futex_calls = 0;
    mmipc::testing::replaced_call seam(&mmipc::detail::system_calls::futex_wait,
                                       futex_fails_with_efault);
    EXPECT_EQ(errno_of([&] { (void)m.try_lock_for(10s); }), EFAULT);
    EXPECT_EQ(errno_of([&] { (void)m.lock(); }), EFAULT);
    EXPECT_EQ(futex_calls, 2);
  }
  EXPECT_FALSE(m.held_by_this_thread());
  release = true;
  holder.join();
  // Nothing was left half-done: the mutex is free and works.
  EXPECT_EQ(m.lock(), lock_status::acquired);
  m.unlock();
}

TEST(TimeoutTest, SaturatesAtBothEnds) {
  using mmipc::to_timeout;
  EXPECT_EQ(to_timeout(std::chrono::hours::max()), mmipc::forever);
  EXPECT_EQ(to_timeout(std::chrono::seconds::max()), mmipc::forever);
  EXPECT_EQ(to_timeout(std::chrono::nanoseconds::max()), mmipc::forever);
  EXPECT_EQ(to_timeout(std::chrono::hours::min()), 0ns);
  EXPECT_EQ(to_timeout(-1ms), 0ns);
  EXPECT_EQ(to_timeout(0s), 0ns);
  EXPECT_EQ(to_timeout(1500ms), 1500000000ns);
  EXPECT_EQ(to_timeout(std::chrono::duration<double>(0.25)), 250ms);
  EXPECT_EQ(to_timeout(std::chrono::duration<long long, std::pico>(2500)), 2ns);
}

}  // namespace
