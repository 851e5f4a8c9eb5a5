#include "lost_pages.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "mmipc/guarded_copy.hpp"
#include "mmipc/mapping.hpp"
#include "mmipc/unique_fd.hpp"

namespace mmipc::detail {
namespace {

// One line of /proc/self/maps: the mapping that holds the faulting address.
struct maps_entry {
  std::uintptr_t start = 0;
  std::uintptr_t end = 0;
  std::uint64_t offset = 0;  // file offset mapped at `start`
  unsigned major = 0;
  unsigned minor = 0;
  std::uint64_t inode = 0;
  std::string path;
};

std::string read_whole(const char* path) {
  std::string out;
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::optional<maps_entry> mapping_at(std::uintptr_t address) {
  const std::string maps = read_whole("/proc/self/maps");
  std::size_t at = 0;
  while (at < maps.size()) {
    std::size_t eol = maps.find('\n', at);
    if (eol == std::string::npos) eol = maps.size();
    const std::string line = maps.substr(at, eol - at);
    at = eol + 1;
    maps_entry e;
    char perms[8] = {};
    int path_at = 0;
    if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR " %7s %" SCNx64 " %x:%x %" SCNu64 " %n",
                    &e.start, &e.end, perms, &e.offset, &e.major, &e.minor, &e.inode,
                    &path_at) < 7) {
      continue;
    }
    if (address < e.start || address >= e.end) continue;
    if (path_at > 0 && static_cast<std::size_t>(path_at) <= line.size())
      e.path = line.substr(path_at);
    return e;
  }
  return std::nullopt;
}

bool same_file(const struct stat& st, const maps_entry& e) {
  return st.st_ino == e.inode && ::major(st.st_dev) == e.major && ::minor(st.st_dev) == e.minor;
}

bool has_a_size(const struct stat& st) {
  return S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
}

// A descriptor of the file behind `e`: by its path, else among this process's descriptors,
// else through /proc/self/map_files (which needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE).
unique_fd open_mapped_file(const maps_entry& e) {
  struct stat st {};
  if (!e.path.empty() && e.path[0] == '/' && ::stat(e.path.c_str(), &st) == 0 && has_a_size(st) &&
      same_file(st, e)) {
    // Checked before opening: opening some devices has side effects; these are files.
    const int fd = ::open(e.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd >= 0) {
      unique_fd file(fd);
      if (::fstat(fd, &st) == 0 && same_file(st, e)) return file;
    }
  }
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    int found = -1;
    while (const dirent* entry = ::readdir(dir)) {
      char* end = nullptr;
      const long fd = std::strtol(entry->d_name, &end, 10);
      if (end == entry->d_name || *end != '\0' || fd == ::dirfd(dir)) continue;
      if (::fstat(static_cast<int>(fd), &st) == 0 && has_a_size(st) && same_file(st, e)) {
        found = ::fcntl(static_cast<int>(fd), F_DUPFD_CLOEXEC, 0);
        if (found >= 0) break;
      }
    }
    ::closedir(dir);
    if (found >= 0) return unique_fd(found);
  }
  char link[96];
  std::snprintf(link, sizeof link, "/proc/self/map_files/%" PRIxPTR "-%" PRIxPTR, e.start, e.end);
  const int fd = ::open(link, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd >= 0) {
    unique_fd file(fd);
    if (::fstat(fd, &st) == 0 && has_a_size(st) && same_file(st, e)) return file;
  }
  return unique_fd();
}

page_loss fallback(int si_code) {
  return si_code == BUS_ADRERR ? page_loss::shrank : page_loss::io_error;
}

}  // namespace

page_loss explain_lost_page(const void* address, int si_code) noexcept {
  // A hardware memory error or an object error says itself what it is.
  if (si_code != BUS_ADRERR) return page_loss::io_error;
  try {
    const auto page = static_cast<std::uintptr_t>(mapping::page_size());
    const auto at = reinterpret_cast<std::uintptr_t>(address);
    const auto entry = mapping_at(at);
    if (!entry || entry->inode == 0) return fallback(si_code);
    const unique_fd file = open_mapped_file(*entry);
    if (!file) return fallback(si_code);
    struct stat st {};
    if (::fstat(file.get(), &st) != 0) return fallback(si_code);
    std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
    if (S_ISBLK(st.st_mode)) {
      const off_t end = ::lseek(file.get(), 0, SEEK_END);
      if (end < 0) return fallback(si_code);
      size = static_cast<std::uint64_t>(end);
    }
    const std::uint64_t offset = entry->offset + ((at & ~(page - 1)) - entry->start);
    if (offset >= size) return page_loss::shrank;
    if (!S_ISREG(st.st_mode)) return page_loss::io_error;
    // A full filesystem cannot back the page (tmpfs and ext4 both report no room left for
    // unprivileged writers as f_bavail 0).
    struct statvfs fs {};
    if (::fstatvfs(file.get(), &fs) == 0 &&
        static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize < page) {
      return page_loss::no_space;
    }
    // Not full, but the page is a hole: it shrank and grew back since the fault, or a limit
    // other than free space (a quota) refused it.
    const off_t data = ::lseek(file.get(), static_cast<off_t>(offset), SEEK_DATA);
    if (data != static_cast<off_t>(offset) && (data >= 0 || errno == ENXIO)) {
      return page_loss::came_back;
    }
    return page_loss::io_error;
  } catch (...) {
    return fallback(si_code);  // out of memory while reading /proc: say what the kernel said
  }
}

void throw_lost_page(page_loss loss, std::string_view op, std::string_view name) {
  switch (loss) {
    case page_loss::shrank:
      throw lost_pages_error(EFAULT, op, name);
    case page_loss::no_space:
    case page_loss::came_back:
      throw lost_pages_error(ENOSPC, op, name);
    case page_loss::io_error:
      break;
  }
  throw lost_pages_error(EIO, op, name);
}

}  // namespace mmipc::detail
