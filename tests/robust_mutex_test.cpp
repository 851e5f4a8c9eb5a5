#include "mmipc/robust_mutex.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <new>
#include <thread>

#include "mmipc/error.hpp"
#include "mmipc/timeout.hpp"
#include "test_util.hpp"

namespace {

using mmipc::lock_status;
using mmipc::robust_mutex;
using mmipc::testing::errno_of;
using mmipc::testing::in_child;
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

// Waits for the child and returns its exit status, or 128 + the signal that ended it.
int reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

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
