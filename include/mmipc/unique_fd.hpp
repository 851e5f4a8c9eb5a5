#pragma once
// unique_fd: sole ownership of a POSIX file descriptor, closed when the owner goes away.
// Every descriptor mmipc opens is close-on-exec, so none leaks into programs a user execs.
//
//   auto fd = mmipc::unique_fd::open("data.bin", O_RDONLY);  // O_CLOEXEC added, EINTR retried
//   struct stat st {};
//   ::fstat(fd.get(), &st);                                   // closed when fd goes away
//
// What a user may rely on:
// - Empty state: a default-constructed, moved-from or released unique_fd is empty. It
//   accepts destruction, assignment, reset() and `explicit operator bool` (false); get() and
//   release() return -1. dup() throws os_error(EBADF): the error of every empty mmipc handle.
// - Threads: the const members may be called from any number of threads at once. Moving,
//   assigning, reset() and release() need the object to themselves.
// - Blocking: open() blocks as open(2) does for `flags` (a FIFO opened without O_NONBLOCK
//   waits for its other end); an interrupted open (EINTR) is resumed.

#include <fcntl.h>  // O_* flags for open()
#include <sys/types.h>

#include <filesystem>

#include "mmipc/error.hpp"

namespace mmipc {

class unique_fd {
 public:
  /// An empty owner (holds no descriptor).
  unique_fd() noexcept = default;
  /// Takes ownership of `fd` (-1 for none).
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  /// Opens `path` with `flags | O_CLOEXEC` (EINTR retried); throws os_error on failure.
  static unique_fd open(const std::filesystem::path& path, int flags, mode_t mode = 0);

  /// A new close-on-exec descriptor for the same open file description. Throws os_error.
  unique_fd dup() const;

  /// The descriptor, or -1.
  int get() const noexcept { return fd_; }
  /// Gives up ownership and returns the descriptor.
  int release() noexcept {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  /// Closes the held descriptor (errors ignored: the descriptor is gone either way) and
  /// takes `fd`.
  void reset(int fd = -1) noexcept;

  /// True when a descriptor is held.
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace mmipc
