#pragma once
// The seam between the core and the kernel, internal (not installed): the system calls that
// tests must be able to fail or watch go through this table instead of straight to the C
// library. A test injects EINTR into open() to see it retried, or watches the length passed
// to munmap() for a huge-page mapping on a machine that has no huge pages.

#include <sys/types.h>
#include <time.h>

#include <cstddef>

namespace mmipc::detail {

struct system_calls {
  int (*open)(const char* path, int flags, mode_t mode);
  void* (*mmap)(void* address, std::size_t length, int protection, int flags, int fd, off_t offset);
  int (*munmap)(void* address, std::size_t length);
  /// FUTEX_WAIT on a futex word shared between processes, for at most `relative`: 0, or -1
  /// with errno (EAGAIN when the word is not `expected`, ETIMEDOUT, EINTR, EFAULT when its
  /// page cannot be backed any more).
  int (*futex_wait)(int* word, int expected, const timespec* relative);
};

/// The calls in use: the C library's unless a test replaced them. Replace entries only while
/// no other thread uses mmipc, and put the old ones back (see tests/system_call_seam.hpp).
extern system_calls sys;

/// The C library's calls, for a replacement that forwards to them.
extern const system_calls libc_calls;

}  // namespace mmipc::detail
