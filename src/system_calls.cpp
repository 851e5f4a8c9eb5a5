#include "system_calls.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace mmipc::detail {
namespace {

// open() is variadic: a function pointer needs a fixed signature.
int libc_open(const char* path, int flags, mode_t mode) {
  return ::open(path, flags, mode);
}

// No FUTEX_PRIVATE_FLAG: the waiters may be in other processes.
int futex_wait(int* word, int expected, const timespec* relative) {
  return static_cast<int>(::syscall(SYS_futex, word, FUTEX_WAIT, expected, relative, nullptr, 0));
}

}  // namespace

constexpr system_calls libc_calls{libc_open, ::mmap, ::munmap, futex_wait};
constinit system_calls sys = libc_calls;

}  // namespace mmipc::detail
