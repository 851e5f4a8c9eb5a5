#include "mmipc/robust_mutex.hpp"

#include <linux/futex.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "deadline.hpp"

#if defined(__SANITIZE_THREAD__)
#define MMIPC_THREAD_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MMIPC_THREAD_SANITIZER 1
#endif
#endif
#if defined(MMIPC_THREAD_SANITIZER)
#include <sanitizer/tsan_interface.h>
#endif

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
std::optional<lock_status> interpret(int err, const char* op) {
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

}  // namespace

robust_mutex::robust_mutex() {
  const mutex_attributes attributes;
  const int err = ::pthread_mutex_init(&mutex_, &attributes.attr);
  if (err != 0) throw_os_error(err, "pthread_mutex_init");
}

lock_status robust_mutex::lock() {
  // pthread_mutex_lock is not interrupted by signals (it restarts by itself).
  return *interpret(::pthread_mutex_lock(&mutex_), "pthread_mutex_lock");
}

std::optional<lock_status> robust_mutex::try_lock() {
  return interpret(::pthread_mutex_trylock(&mutex_), "pthread_mutex_trylock");
}

std::optional<lock_status> robust_mutex::try_lock_for_ns(std::chrono::nanoseconds timeout) {
  if (timeout == forever) return lock();
  // CLOCK_MONOTONIC: a change of the wall clock cannot stretch or cut the wait.
  const timespec at = detail::deadline_after(CLOCK_MONOTONIC, timeout);
#if defined(MMIPC_THREAD_SANITIZER)
  // ThreadSanitizer intercepts pthread_mutex_lock and _timedlock but not _clocklock: tell it
  // about this lock too, or it reports the unlock as one of a mutex nobody locked.
  __tsan_mutex_pre_lock(&mutex_, __tsan_mutex_try_lock);
  const int err = ::pthread_mutex_clocklock(&mutex_, CLOCK_MONOTONIC, &at);
  const bool locked = err == 0 || err == EOWNERDEAD;
  __tsan_mutex_post_lock(&mutex_,
                         __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return interpret(err, "pthread_mutex_clocklock");
#else
  return interpret(::pthread_mutex_clocklock(&mutex_, CLOCK_MONOTONIC, &at),
                   "pthread_mutex_clocklock");
#endif
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

}  // namespace mmipc
