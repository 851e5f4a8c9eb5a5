#include "mmipc/robust_mutex.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>

#include "system_calls.hpp"

namespace mmipc {
namespace {

// The attributes every robust_mutex has; a failure here is a broken C library, reported as
// the error the call gave.
struct mutex_attributes {
  pthread_mutexattr_t attr;
  mutex_attributes() {
    int err = ::pthread_mutexattr_init(&attr);
    if (err == 0) err = ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (err == 0) err = ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    // Error-checking: relocking by the holder is EDEADLK, not a silent self-deadlock.
    if (err == 0) err = ::pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    if (err != 0) throw_os_error(err, "pthread_mutexattr");
  }
  ~mutex_attributes() { ::pthread_mutexattr_destroy(&attr); }
  mutex_attributes(const mutex_attributes&) = delete;
  mutex_attributes& operator=(const mutex_attributes&) = delete;
};

// pthread_mutex_* report errors as return values, not in errno.
[[gnu::noinline]] std::optional<lock_status> interpret(int err, const char* op) {
  switch (err) {
    case 0:
      return lock_status::acquired;
    case EOWNERDEAD:
      return lock_status::owner_died;
    case EBUSY:
    case ETIMEDOUT:
      return std::nullopt;
    default:
      throw_os_error(err, op);
  }
}

// The kind glibc records in a mutex initialised with mutex_attributes.
int expected_kind() {
  static const int kind = [] {
    const mutex_attributes attributes;
    pthread_mutex_t reference;
    const int err = ::pthread_mutex_init(&reference, &attributes.attr);
    if (err != 0) throw_os_error(err, "pthread_mutex_init");
    const int value = reference.__data.__kind;
    ::pthread_mutex_destroy(&reference);
    return value;
  }();
  return kind;
}

}  // namespace

robust_mutex::robust_mutex() {
  const mutex_attributes attributes;
  const int err = ::pthread_mutex_init(&mutex_, &attributes.attr);
  if (err != 0) throw_os_error(err, "pthread_mutex_init");
}

// No wait on the futex lasts longer than this. An unlock wakes one waiter; a waiter that is
// woken and then killed before it takes the mutex takes that wake-up with it, and the kernel
// passes it on only when it cleans up after a dead *holder*. Another waiter would then sleep
// until an unlock that sees it waiting, which may never come (a new locker takes the free
// mutex without the waiters bit). Waking every slice to look again bounds that loss; a free
// mutex never waits at all.
constexpr std::chrono::milliseconds wake_slice{10};

lock_status robust_mutex::lock() {
  return *try_lock_for_ns(forever);
}

namespace {

// glibc's trylock (2.36) learns that a mutex is not recoverable only after taking its word,
// and then does not give the word back (it compares the wrong value before unlocking): the
// mutex would stay held by this thread, and the next attempt say EDEADLK instead of
// ENOTRECOVERABLE. Gives it back, waking whoever waits, as pthread_mutex_lock would. Out of
// line (cold), so that try_lock's path for a free mutex saves no registers.
[[gnu::noinline, gnu::cold]] void give_back_unrecoverable(pthread_mutex_t& mutex) {
  std::atomic_ref<int> word(mutex.__data.__lock);
  int seen = word.load();
  while ((static_cast<unsigned>(seen) & FUTEX_TID_MASK) == static_cast<unsigned>(::gettid())) {
    if (word.compare_exchange_weak(seen, 0)) {
      if ((static_cast<unsigned>(seen) & FUTEX_WAITERS) != 0) {
        ::syscall(SYS_futex, &mutex.__data.__lock, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
      }
      break;
    }
  }
}

}  // namespace

std::optional<lock_status> robust_mutex::try_lock() {
  const int err = ::pthread_mutex_trylock(&mutex_);
  if (err == 0) [[likely]]
    return lock_status::acquired;
  if (err == ENOTRECOVERABLE) give_back_unrecoverable(mutex_);
  return interpret(err, "pthread_mutex_trylock");
}

std::optional<lock_status> robust_mutex::try_lock_for_ns(std::chrono::nanoseconds timeout) {
  if (auto got = try_lock()) return got;
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  // A timeout that would run past the clock's range is as good as forever.
  const bool endless =
      timeout >= clock::duration::max() - start.time_since_epoch() || timeout == forever;
  const auto end = endless ? clock::time_point::max() : start + timeout;
  for (;;) {
    const auto left = endless ? clock::duration(wake_slice) : end - clock::now();
    if (left <= clock::duration::zero()) return std::nullopt;
    if (auto got = lock_within(std::min<clock::duration>(left, wake_slice))) return got;
  }
}

std::optional<lock_status> robust_mutex::lock_within(std::chrono::nanoseconds slice) {
  // Not pthread_mutex_clocklock: glibc aborts the process ("The futex facility returned an
  // unexpected error code") when its futex wait fails with EFAULT, which is what the kernel
  // says when the mutex's page can no longer be backed (a mapped file truncated under a
  // waiter). pthread_mutex_trylock takes the mutex (glibc keeps its robust list), and the wait
  // is our own, with glibc's protocol: the waiters bit set in the word, so that the holder's
  // unlock wakes one waiter, and kept set by a waiter that took the mutex after sleeping, for
  // the waiters still asleep. EFAULT becomes os_error(EFAULT).
  if (auto got = try_lock()) return got;
  std::atomic_ref<int> word(mutex_.__data.__lock);
  int seen = word.load();
  const auto bits = [](int value) { return static_cast<unsigned>(value); };
  if (seen == 0 || (bits(seen) & FUTEX_OWNER_DIED) != 0) return try_lock();
  if ((bits(seen) & FUTEX_WAITERS) == 0) {
    const int waiting = static_cast<int>(bits(seen) | FUTEX_WAITERS);
    if (!word.compare_exchange_strong(seen, waiting)) return std::nullopt;  // changed: again
    seen = waiting;
  }
  const auto ns = std::max<std::chrono::nanoseconds::rep>(slice.count(), 0);
  const timespec relative{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  if (detail::sys.futex_wait(&mutex_.__data.__lock, seen, &relative) != 0 && errno == EFAULT) {
    throw_os_error(EFAULT, "futex_wait");
  }
  // Woken, timed out, interrupted or the word changed: look again.
  auto got = try_lock();
  if (got) word.fetch_or(static_cast<int>(FUTEX_WAITERS));
  return got;
}

void robust_mutex::mark_consistent() {
  const int err = ::pthread_mutex_consistent(&mutex_);
  if (err != 0) throw_os_error(err, "pthread_mutex_consistent");
}

void robust_mutex::unlock() {
  const int err = ::pthread_mutex_unlock(&mutex_);
  if (err != 0) throw_os_error(err, "pthread_mutex_unlock");
}

bool robust_mutex::held_by_this_thread() const noexcept {
  // The robust futex protocol (Linux's robust-futex ABI) keeps the owner's thread id in the
  // low bits of the mutex word.
  const auto word = std::atomic_ref<const int>(mutex_.__data.__lock).load();
  return (static_cast<unsigned>(word) & FUTEX_TID_MASK) == static_cast<unsigned>(::gettid());
}

pid_t robust_mutex::holder() const noexcept {
  const auto word = std::atomic_ref<const int>(mutex_.__data.__lock).load();
  return static_cast<pid_t>(static_cast<unsigned>(word) & FUTEX_TID_MASK);
}

bool robust_mutex::recover_lost_holder(pid_t holder) noexcept {
  std::atomic_ref<int> word(mutex_.__data.__lock);
  int seen = word.load();
  for (;;) {
    const unsigned bits = static_cast<unsigned>(seen);
    if ((bits & FUTEX_TID_MASK) != static_cast<unsigned>(holder) || seen == 0) return false;
    if ((bits & FUTEX_OWNER_DIED) != 0) return true;  // someone recovered it already
    // What the kernel writes when a holder dies (handle_futex_death): no owner, the waiters
    // bit kept, and FUTEX_OWNER_DIED, which glibc's next lock turns into EOWNERDEAD.
    const int next = static_cast<int>((bits & FUTEX_WAITERS) | FUTEX_OWNER_DIED);
    if (word.compare_exchange_weak(seen, next)) break;
  }
  // A shared futex (no FUTEX_PRIVATE_FLAG): the waiters may be in other processes.
  ::syscall(SYS_futex, &mutex_.__data.__lock, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  return true;
}

namespace {

// expected_kind(), once known (0: not yet), read by valid() without a guard variable: a ring
// log checks its lock at every append.
std::atomic<int> known_kind{0};

[[gnu::noinline]] bool valid_first_time(int kind) noexcept {
  try {
    const int expected = expected_kind();
    known_kind.store(expected, std::memory_order_relaxed);
    return kind == expected;
  } catch (...) {
    return false;  // a broken C library: nothing here can be trusted
  }
}

}  // namespace

bool robust_mutex::valid() const noexcept {
  const int kind = std::atomic_ref<const int>(mutex_.__data.__kind).load();
  const int expected = known_kind.load(std::memory_order_relaxed);
  if (expected != 0) [[likely]]
    return kind == expected;
  return valid_first_time(kind);
}

}  // namespace mmipc
