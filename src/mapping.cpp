#include "mmipc/mapping.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <string>
#include <utility>

#include "mmipc/error.hpp"
#include "mmipc/unique_fd.hpp"
#include "system_calls.hpp"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif

namespace mmipc {
namespace {

struct region_request {
  std::string_view name;
  std::uint64_t offset;
  std::uint64_t length;  // 0: none given
  std::uint64_t file_size;
};

[[noreturn]] void bad_region(const region_request& request, region_problem problem,
                             const std::string& why) {
  std::string message = "cannot map ";
  message += request.name.empty() ? std::string("file") : "\"" + std::string(request.name) + "\"";
  message += ": ";
  message += why;
  throw region_error(problem, message, request.offset, request.length, request.file_size);
}

int protection_of(const map_options& options) {
  int prot = PROT_NONE;
  switch (options.access) {
    case access_mode::none:
      break;
    case access_mode::read_only:
      prot = PROT_READ;
      break;
    case access_mode::read_write:
      prot = PROT_READ | PROT_WRITE;
      break;
  }
  if (options.executable) prot |= PROT_EXEC;
  return prot;
}

int flags_of(const map_options& options) {
  int flags = options.shared ? MAP_SHARED : MAP_PRIVATE;
  if (options.populate) flags |= MAP_POPULATE;
  if (options.noreserve) flags |= MAP_NORESERVE;
  if (options.locked) flags |= MAP_LOCKED;
  if (options.huge_page_size != 0) {
    if (!std::has_single_bit(options.huge_page_size)) {
      throw std::invalid_argument("huge page size " + std::to_string(options.huge_page_size) +
                                  " is not a power of two");
    }
    flags |= MAP_HUGETLB | (std::countr_zero(options.huge_page_size) << MAP_HUGE_SHIFT);
  }
  return flags;
}

std::size_t alignment_of(const map_options& options) {
  return options.huge_page_size != 0 ? options.huge_page_size : mapping::page_size();
}

// The length munmap needs: a huge-page mapping is unmapped in whole huge pages (mmap rounds
// its length up itself, munmap refuses anything else with EINVAL and the pages would leak).
std::size_t mapped_length(std::size_t length, std::size_t alignment) {
  return (length + alignment - 1) / alignment * alignment;
}

bool mappable(const struct stat& st) {
  return S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISCHR(st.st_mode);
}

[[noreturn]] void not_mappable(const region_request& request) {
  bad_region(request, region_problem::not_mappable, "not a regular file or a device");
}

/// Maps `length` bytes like detail::sys.mmap(nullptr, ...), followed by one readable page when
/// options.trailing_zero_page asks for it and the byte after the region would otherwise lie
/// outside the mapping (the region ends at a page boundary). `following` is how many bytes of
/// the object follow the region (0 when unknown): when a page of them exists, that page is
/// simply mapped too; anonymous memory maps one page more; otherwise the address space is
/// reserved first (the pages plus one) as private zero pages and the object is mapped over
/// its start. `*reserved` receives the length to unmap. Returns MAP_FAILED with errno set.
void* map_pages(std::size_t length, int prot, int flags, int fd, off_t offset,
                std::uint64_t following, const map_options& options, std::size_t* reserved) {
  *reserved = length;
  const std::size_t page = mapping::page_size();
  if (!options.trailing_zero_page || options.huge_page_size != 0 || length % page != 0) {
    return detail::sys.mmap(nullptr, length, prot, flags, fd, offset);
  }
  if (length > SIZE_MAX - page) {
    errno = ENOMEM;
    return MAP_FAILED;
  }
  if ((flags & MAP_ANONYMOUS) || following >= page) {
    void* pages = detail::sys.mmap(nullptr, length + page, prot, flags, fd, offset);
    if (pages != MAP_FAILED) *reserved = length + page;
    return pages;
  }
  void* area =
      detail::sys.mmap(nullptr, length + page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) return MAP_FAILED;
  void* pages = detail::sys.mmap(area, length, prot, flags | MAP_FIXED, fd, offset);
  if (pages == MAP_FAILED) {
    const int err = errno;
    detail::sys.munmap(area, length + page);
    errno = err;
    return MAP_FAILED;
  }
  *reserved = length + page;
  return pages;
}

}  // namespace

std::size_t mapping::page_size() noexcept {
  static const std::size_t size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

mapping::mapping(void* base, std::size_t base_length, std::size_t delta, std::size_t size,
                 std::uint64_t offset, access_mode access, bool shared, std::string name) noexcept
    : base_(base),
      base_length_(base_length),
      data_(static_cast<std::byte*>(base) + delta),
      size_(size),
      offset_(offset),
      access_(access),
      shared_(shared),
      name_(std::move(name)) {}

mapping::mapping(mapping&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)),
      base_length_(std::exchange(other.base_length_, 0)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      offset_(std::exchange(other.offset_, 0)),
      access_(std::exchange(other.access_, access_mode::none)),
      shared_(std::exchange(other.shared_, false)),
      name_(std::exchange(other.name_, {})) {}

mapping& mapping::operator=(mapping&& other) noexcept {
  if (this != &other) {
    reset();
    base_ = std::exchange(other.base_, nullptr);
    base_length_ = std::exchange(other.base_length_, 0);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    offset_ = std::exchange(other.offset_, 0);
    access_ = std::exchange(other.access_, access_mode::none);
    shared_ = std::exchange(other.shared_, false);
    name_ = std::exchange(other.name_, {});
  }
  return *this;
}

void mapping::reset() noexcept {
  if (base_ != nullptr) detail::sys.munmap(base_, base_length_);
  base_ = nullptr;
  base_length_ = 0;
  data_ = nullptr;
  size_ = 0;
  offset_ = 0;
  access_ = access_mode::none;
  shared_ = false;
  name_.clear();
}

mapping mapping::map(int fd, file_offset position, std::optional<std::uint64_t> length,
                     const map_options& options, std::string_view name) {
  const std::uint64_t offset = position.value();
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_errno("fstat", name);

  // The size that bounds the region: a regular file's or a block device's length. Character
  // devices (/dev/zero, /dev/mem) have none, so they need an explicit length.
  std::optional<std::uint64_t> file_size;
  if (S_ISREG(st.st_mode)) {
    file_size = static_cast<std::uint64_t>(st.st_size);
  } else if (S_ISBLK(st.st_mode)) {
    off_t end = ::lseek(fd, 0, SEEK_END);
    if (end < 0) throw_errno("lseek", name);
    file_size = static_cast<std::uint64_t>(end);
  }
  const region_request request{name, offset, length.value_or(0), file_size.value_or(0)};
  if (!mappable(st)) not_mappable(request);

  if (position.negative()) {
    bad_region(request, region_problem::too_large,
               "offset " + std::to_string(static_cast<std::int64_t>(offset)) + " is negative");
  }
  if (offset > static_cast<std::uint64_t>(INT64_MAX)) {
    bad_region(request, region_problem::too_large,
               "offset " + std::to_string(offset) + " is too large");
  }
  if (length && *length == 0) {
    bad_region(request, region_problem::zero_length, "length must be positive");
  }
  if (!length && !file_size) {
    bad_region(request, region_problem::needs_length,
               "a device has no size: give the length to map");
  }
  if (file_size) {
    if (offset > *file_size) {
      bad_region(request, region_problem::offset_past_end,
                 "offset " + std::to_string(offset) + " is past the end of the file (" +
                     std::to_string(*file_size) + " bytes)");
    }
    if (!length && offset == *file_size) {
      bad_region(request, region_problem::offset_at_end,
                 "nothing to map: offset " + std::to_string(offset) + " is at the end of the file");
    }
    if (length && *length > *file_size - offset) {
      bad_region(request, region_problem::runs_past_end,
                 "offset " + std::to_string(offset) + " plus length " + std::to_string(*length) +
                     " runs past the end of the file (" + std::to_string(*file_size) + " bytes)");
    }
  }
  const std::uint64_t region = length ? *length : *file_size - offset;
  const std::size_t align = alignment_of(options);
  const std::uint64_t delta = offset % align;
  // The region must end within off_t (offset + region may not even fit 64 bits: compare
  // with the room left) and fit the address space.
  if (region > static_cast<std::uint64_t>(INT64_MAX) || region > SIZE_MAX - delta) {
    bad_region(request, region_problem::too_large,
               "length " + std::to_string(region) + " is too large");
  }
  if (region > static_cast<std::uint64_t>(INT64_MAX) - offset) {
    bad_region(request, region_problem::too_large,
               "offset " + std::to_string(offset) + " plus length " + std::to_string(region) +
                   " is too large");
  }

  // /dev/zero reads as zeros at every offset, but a shared mapping of it is a new shm object
  // as large as the mapping, placed at the offset's page: pages past the object's end would
  // kill the process with SIGBUS when touched. Its offset changes nothing else, so map it at 0.
  const bool dev_zero = S_ISCHR(st.st_mode) && st.st_rdev == ::makedev(1, 5);
  const std::uint64_t map_delta = dev_zero ? 0 : delta;
  const std::uint64_t map_offset = dev_zero ? 0 : offset - delta;
  std::size_t base_length = static_cast<std::size_t>(region + map_delta);
  const std::uint64_t following =
      file_size && !dev_zero ? *file_size - std::min(*file_size, offset + region) : 0;
  void* base = map_pages(base_length, protection_of(options), flags_of(options), fd,
                         static_cast<off_t>(map_offset), following, options, &base_length);
  if (base == MAP_FAILED) throw_errno("mmap", name);
  return mapping(base, mapped_length(base_length, align), static_cast<std::size_t>(map_delta),
                 static_cast<std::size_t>(region), offset, options.access, options.shared,
                 std::string(name));
}

mapping mapping::map(const std::filesystem::path& path, file_offset offset,
                     std::optional<std::uint64_t> length, const map_options& options) {
  // Decide from the inode before opening it for reading: open(O_RDONLY) of a FIFO waits for
  // a writer (for ever), of a socket it fails with ENXIO, and O_RDWR of a directory with EISDIR.
  {
    const unique_fd inode = unique_fd::open(path, O_PATH);
    struct stat st {};
    if (::fstat(inode.get(), &st) != 0) throw_errno("fstat", path.native());
    if (!mappable(st)) not_mappable({path.native(), offset.value(), length.value_or(0), 0});
  }
  // A private mapping never writes back, so read access to the file is enough for it.
  const bool needs_write = options.access == access_mode::read_write && options.shared;
  // O_NONBLOCK: should the path have become a FIFO since, open still does not wait (map then
  // refuses it). O_NOCTTY: a terminal is never made the process's controlling terminal.
  unique_fd fd = unique_fd::open(path, (needs_write ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_NOCTTY);
  return map(fd.get(), offset, length, options, path.native());
}

mapping mapping::anonymous(std::size_t length, const map_options& options) {
  if (length == 0)
    throw std::invalid_argument("cannot map anonymous memory: length must be positive");
  std::size_t base_length = length;
  void* base = map_pages(length, protection_of(options), flags_of(options) | MAP_ANONYMOUS, -1, 0,
                         0, options, &base_length);
  if (base == MAP_FAILED) throw_errno("mmap", "anonymous memory");
  return mapping(base, mapped_length(base_length, alignment_of(options)), 0, length, 0,
                 options.access, options.shared, {});
}

std::span<std::byte> mapping::pages_of(std::size_t offset, std::size_t length,
                                       const char* op) const {
  if (data_ == nullptr) throw_os_error(EBADF, op);
  if (offset > size_) {
    throw std::invalid_argument(std::string(op) + ": offset " + std::to_string(offset) +
                                " is past the end of the mapping (" + std::to_string(size_) +
                                " bytes)");
  }
  length = std::min(length, size_ - offset);
  auto* first = data_ + offset;
  auto* base = static_cast<std::byte*>(base_);
  // Round the start down to the page boundary the kernel requires; it stays inside base_.
  std::size_t lead = static_cast<std::size_t>(first - base) % page_size();
  return {first - lead, length + lead};
}

void mapping::sync(sync_mode mode, bool invalidate) const {
  sync(0, size_, mode, invalidate);
}

void mapping::sync(std::size_t offset, std::size_t length, sync_mode mode, bool invalidate) const {
  auto pages = pages_of(offset, length, "msync");
  // Pages no one can write hold nothing to write back (valgrind also reports msync of
  // PROT_NONE pages as an access to unaddressable memory).
  if (access_ == access_mode::none) return;
  int flags = mode == sync_mode::sync ? MS_SYNC : MS_ASYNC;
  if (invalidate) flags |= MS_INVALIDATE;
  if (::msync(pages.data(), pages.size(), flags) != 0) throw_errno("msync");
}

void mapping::advise(advice hint, std::size_t offset, std::size_t length) const {
  auto pages = pages_of(offset, length, "madvise");
  int value = MADV_NORMAL;
  switch (hint) {
    case advice::normal:
      value = MADV_NORMAL;
      break;
    case advice::random:
      value = MADV_RANDOM;
      break;
    case advice::sequential:
      value = MADV_SEQUENTIAL;
      break;
    case advice::will_need:
      value = MADV_WILLNEED;
      break;
    case advice::dont_need:
      value = MADV_DONTNEED;
      break;
  }
  if (::madvise(pages.data(), pages.size(), value) != 0) throw_errno("madvise");
}

void mapping::lock() const {
  auto pages = pages_of(0, size_, "mlock");
  if (::mlock(pages.data(), pages.size()) != 0) throw_errno("mlock");
}

void mapping::unlock() const {
  auto pages = pages_of(0, size_, "munlock");
  if (::munlock(pages.data(), pages.size()) != 0) throw_errno("munlock");
}

}  // namespace mmipc
