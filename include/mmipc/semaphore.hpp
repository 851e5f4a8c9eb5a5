#pragma once
// named_semaphore: a POSIX named semaphore (sem_open & co.), a counter shared by processes
// through a name like "/lock", used to make operations on shared data exclusive.
//
// A named_semaphore owns one handle: it is move-only, closes the handle (sem_close) in its
// destructor and is empty once moved from; the semaphore itself lives on until unlink().
// Waits that a signal interrupts (EINTR) are resumed, with the same deadline for timed waits.

#include <semaphore.h>
#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>

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
  /// Decrements, waiting at most `timeout` (measured on the monotonic clock); false when the
  /// time ran out.
  bool wait_for(std::chrono::milliseconds timeout) const;
  /// Increments, waking one waiter.
  void post() const;
  /// The current value (a snapshot: other processes may change it at once).
  int value() const;

  /// The name it was opened with.
  const std::string& name() const noexcept { return name_; }
  /// True when a semaphore is held.
  explicit operator bool() const noexcept { return sem_ != nullptr; }
  /// Closes the handle and leaves this empty.
  void reset() noexcept;

 private:
  named_semaphore(sem_t* sem, std::string name) noexcept : sem_(sem), name_(std::move(name)) {}
  sem_t* sem_ = nullptr;
  std::string name_;
};

}  // namespace mmipc
