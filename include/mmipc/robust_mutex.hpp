#pragma once
// robust_mutex: a mutex that lives in memory shared by processes (a shared memory object, a
// mapped file) and survives the death of its holder. It is a process-shared, robust,
// error-checking pthread mutex: locking it takes no system call when it is free, and when a
// holder dies (even by kill -9) the kernel hands the mutex to the next locker with the news
// that its previous owner died, so that locker can repair what the dead one left half-done.
//
//   // The creator of the shared memory constructs it once, in place:
//   auto* m = new (region.data()) mmipc::robust_mutex;
//   // Every process (the creator too) then locks the same bytes:
//   if (m->lock() == mmipc::lock_status::owner_died) {
//     repair_shared_state();
//     m->mark_consistent();
//   }
//   ...
//   m->unlock();
//
// Rules a user may rely on:
// - Exclusion is per thread: two threads of one process exclude each other like two
//   processes do, and a forked child is a different owner from its parent.
// - Locking a mutex that the calling thread already holds throws os_error(EDEADLK) instead of
//   deadlocking; unlocking one it does not hold throws os_error(EPERM).
// - After lock_status::owner_died, call mark_consistent() once the data is repaired and
//   before unlock(). Unlocking without it leaves the mutex unrecoverable: every later lock
//   throws os_error(ENOTRECOVERABLE), as POSIX prescribes.
// - The mutex is its bytes: it is neither copied nor moved, and its destructor does nothing
//   (other processes may still use it). It must not be constructed again over a mutex that
//   anyone may hold.
// - The kernel hands over the mutex of a holder that dies, but only for holders it knows: a
//   mutex kept in a file that was held when the machine crashed, or when the file was copied,
//   names a thread that never existed for this kernel, and lock() would wait forever. Whoever
//   can tell that holder() is gone (it decides how: the thread no longer exists, or is another
//   thread with the same id) calls recover_lost_holder(), and the next lock() returns
//   lock_status::owner_died as if the kernel had done it.
// - Waiting never depends on a wake-up arriving: a waiter looks again every 10 ms, because a
//   waiter killed right after an unlock woke it takes that wake-up with it. A free mutex is
//   taken at once, with no system call.

#include <pthread.h>
#include <sys/types.h>

#include <chrono>
#include <optional>

#include "mmipc/error.hpp"
#include "mmipc/timeout.hpp"

namespace mmipc {

/// What a successful lock found.
enum class lock_status {
  acquired,    ///< the mutex was free, or released by its previous holder
  owner_died,  ///< its previous holder died holding it; repair, then mark_consistent()
};

class robust_mutex {
 public:
  /// Initialises the mutex, unlocked, in this object's bytes (placement new in shared memory).
  robust_mutex();
  /// Does nothing: the mutex outlives this process's view of it.
  ~robust_mutex() = default;
  robust_mutex(const robust_mutex&) = delete;
  robust_mutex& operator=(const robust_mutex&) = delete;

  /// Waits for the mutex. Throws os_error (EDEADLK when this thread holds it already,
  /// ENOTRECOVERABLE when a dead owner's state was never marked consistent, EFAULT when the
  /// kernel cannot back the mutex's page any more: a mapped file truncated under a waiter).
  [[nodiscard]] lock_status lock();
  /// Takes the mutex if it is free; std::nullopt when another thread holds it.
  [[nodiscard]] std::optional<lock_status> try_lock();
  /// Waits at most `timeout` (on the monotonic clock; `forever` waits without limit);
  /// std::nullopt when the time ran out.
  template <class Rep, class Period>
  [[nodiscard]] std::optional<lock_status> try_lock_for(
      std::chrono::duration<Rep, Period> timeout) {
    return try_lock_for_ns(to_timeout(timeout));
  }
  /// Declares the state left by a dead owner repaired; call while holding the mutex.
  void mark_consistent();
  /// Releases the mutex. Throws os_error(EPERM) when the calling thread does not hold it.
  void unlock();
  /// True when the calling thread holds the mutex.
  bool held_by_this_thread() const noexcept;

  /// The id of the thread the mutex names as its holder (gettid() of the holder, as seen from
  /// its PID namespace); 0 when the mutex is free or its holder died.
  pid_t holder() const noexcept;
  /// For a holder the kernel cannot know is gone (see above): when the mutex still names
  /// `holder`, marks it "owner died" exactly as the kernel does when a holder dies, and wakes
  /// its waiters, so the next lock() returns lock_status::owner_died. Returns false (and
  /// changes nothing) when the mutex no longer names `holder`. A mutex that names no thread
  /// but is not free (damaged bytes) is recovered with `holder` 0. Never use it on a holder
  /// that may be alive: both would then hold the mutex.
  bool recover_lost_holder(pid_t holder) noexcept;
  /// True when these bytes hold a mutex of this kind (robust, process-shared,
  /// error-checking): a check for a mutex read from a file that may be damaged or come from
  /// another C library, before locking it.
  bool valid() const noexcept;

 private:
  std::optional<lock_status> try_lock_for_ns(std::chrono::nanoseconds timeout);
  std::optional<lock_status> lock_within(std::chrono::nanoseconds slice);
  pthread_mutex_t mutex_;
};

}  // namespace mmipc
