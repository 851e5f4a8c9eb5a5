#include "system_calls.hpp"

#include <fcntl.h>
#include <sys/mman.h>

namespace mmipc::detail {
namespace {

// open() is variadic: a function pointer needs a fixed signature.
int libc_open(const char* path, int flags, mode_t mode) {
  return ::open(path, flags, mode);
}

}  // namespace

constexpr system_calls libc_calls{libc_open, ::mmap, ::munmap};
constinit system_calls sys = libc_calls;

}  // namespace mmipc::detail
