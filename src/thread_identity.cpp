#include "thread_identity.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace mmipc::detail {
namespace {

// Reads up to `size - 1` bytes of a small /proc file into `buffer` (NUL-terminated); the
// length read, or -1.
ssize_t read_small(const char* path, char* buffer, std::size_t size) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n;
  do {
    n = ::read(fd, buffer, size - 1);
  } while (n < 0 && errno == EINTR);
  ::close(fd);
  if (n < 0) return -1;
  buffer[n] = '\0';
  return n;
}

// FNV-1a: a stable 64-bit fingerprint of a short text (not a checksum of anything stored).
std::uint64_t fingerprint(const char* text, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(text[i]);
    h *= 0x100000001b3ull;
  }
  return h == 0 ? 1 : h;
}

}  // namespace

thread_presence thread_exists(pid_t tid) noexcept {
  if (tid <= 0) return thread_presence::gone;  // kill() would address a process group
  if (::kill(tid, 0) == 0) return thread_presence::alive;
  if (errno == ESRCH) return thread_presence::gone;
  if (errno == EPERM) return thread_presence::alive;
  return thread_presence::unknown;
}

std::uint64_t thread_start_time(pid_t tid) noexcept {
  if (tid <= 0) return 0;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(tid));
  char stat[1024];
  if (read_small(path, stat, sizeof stat) <= 0) return 0;
  // The command name (field 2) is in parentheses and may hold anything: count from the
  // last ')'. Field 3 (the state) follows it; the start time is field 22.
  const char* p = std::strrchr(stat, ')');
  if (p == nullptr) return 0;
  ++p;
  for (int field = 3; field < 22; ++field) {
    while (*p == ' ') ++p;
    while (*p != ' ' && *p != '\0') ++p;
    if (*p == '\0') return 0;
  }
  char* end = nullptr;
  const unsigned long long start = std::strtoull(p, &end, 10);
  return end == p ? 0 : static_cast<std::uint64_t>(start);
}

std::uint64_t boot_fingerprint() noexcept {
  static const std::uint64_t value = [] {
    char id[64];
    const ssize_t n = read_small("/proc/sys/kernel/random/boot_id", id, sizeof id);
    return n > 0 ? fingerprint(id, static_cast<std::size_t>(n)) : std::uint64_t{0};
  }();
  return value;
}

std::uint64_t pid_namespace_id() noexcept {
  static const std::uint64_t value = [] {
    struct stat st {};
    return ::stat("/proc/self/ns/pid", &st) == 0 ? static_cast<std::uint64_t>(st.st_ino)
                                                 : std::uint64_t{0};
  }();
  return value;
}

}  // namespace mmipc::detail
