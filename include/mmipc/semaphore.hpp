#pragma once
// named_semaphore: a POSIX named semaphore (sem_open & co.), a counter shared by processes
// through a name like "/lock", used to make operations on shared data exclusive.
//
//   auto sem = mmipc::named_semaphore::open("/lock", O_CREAT, 0600, 1);
//   sem.wait();  // or try_wait(), wait_for(timeout)
//   ...          // one process at a time here
//   sem.post();
//
// What a user may rely on:
// - Ownership: a named_semaphore owns one handle. It is move-only and closes the handle
//   (sem_close) in its destructor; the semaphore itself lives on until unlink().
// - Empty state: a default-constructed or moved-from named_semaphore is empty. It accepts
//   destruction, assignment, reset() and `explicit operator bool` (false); name() is "".
//   Every other operation (wait, try_wait, wait_for, post, value) throws os_error(EBADF)
//   with op() naming the call and name() empty: the error of every empty mmipc handle.
// - Threads: the const operations may be called from any number of threads at once on one
//   object (the semaphore is the synchronisation). Moving, assigning and reset() need the
//   object to themselves.
// - Blocking: wait() blocks until the value is positive; wait_for() at most its timeout;
//   try_wait(), post() and value() never block. A wait that a signal interrupts (EINTR) is
//   resumed, with the same deadline for timed waits.

#include <fcntl.h>  // O_CREAT, O_EXCL for open()
#include <semaphore.h>
#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include "mmipc/error.hpp"
#include "mmipc/timeout.hpp"

namespace mmipc {

class named_semaphore {
 public:
  /// An empty handle.
  named_semaphore() noexcept = default;
  named_semaphore(named_semaphore&& other) noexcept;
  named_semaphore& operator=(named_semaphore&& other) noexcept;
  named_semaphore(const named_semaphore&) = delete;
  named_semaphore& operator=(const named_semaphore&) = delete;
  ~named_semaphore() { reset(); }

  /// Opens semaphore `name`; with O_CREAT in `flags` (and O_EXCL) creates it with
  /// `permissions` (less the umask) and `initial` as its value. Throws os_error.
  static named_semaphore open(std::string_view name, int flags, mode_t permissions = 0666,
                              unsigned initial = 1);

  /// Removes the name; throws os_error (ENOENT when there is none).
  static void unlink(std::string_view name);

  /// Decrements, waiting while the value is 0.
  void wait() const;
  /// Decrements if the value is positive; false (and no change) otherwise.
  bool try_wait() const;
  /// Decrements, waiting at most `timeout` (any duration, measured on the monotonic clock);
  /// false when the time ran out. A timeout of mmipc::forever or longer (even
  /// hours::max()) waits like wait(); zero or negative only tries.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return wait_for_ns(to_timeout(timeout));
  }
  /// Increments, waking one waiter.
  void post() const;
  /// The current value (a snapshot: other processes may change it at once).
  int value() const;

  /// The name it was opened with ("" when empty).
  const std::string& name() const noexcept { return name_; }
  /// True when a semaphore is held.
  explicit operator bool() const noexcept { return sem_ != nullptr; }
  /// Closes the handle and leaves this empty.
  void reset() noexcept;

 private:
  named_semaphore(sem_t* sem, std::string name) noexcept : sem_(sem), name_(std::move(name)) {}
  bool wait_for_ns(std::chrono::nanoseconds timeout) const;
  /// The handle for `op`; throws os_error(EBADF) when empty.
  sem_t* handle(const char* op) const;

  sem_t* sem_ = nullptr;
  std::string name_;
};

}  // namespace mmipc
