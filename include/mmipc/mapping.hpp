#pragma once
// mapping: a region of a file, a device or anonymous memory mapped into this process.
//
// Offsets need not be page-aligned: the alignment is handled inside. A regular file is never
// mapped past its end (touching such pages would kill the process with SIGBUS).
//
//   mmipc::map_options rw;
//   rw.access = mmipc::access_mode::read_write;              // shared by default
//   auto m = mmipc::mapping::map("data.bin", 4096, 300, rw);  // any offset; never past EOF
//   std::memcpy(m.data(), "hello", 5);                       // the file changes at once
//   m.sync();                                                // msync: never implicit
//
// What a user may rely on:
// - Ownership: a mapping owns its pages. It is move-only; its destructor unmaps (it never
//   throws and never synchronises implicitly: call sync() for durability). Moving keeps the
//   pages where they are, so pointers into them (and cursors over them) stay valid.
// - Empty state: a default-constructed or moved-from mapping is empty. It accepts
//   destruction, assignment, reset() and `explicit operator bool` (false); its observers
//   give the empty values (data() nullptr, size() 0, empty() true, name() ""). Every other
//   operation (sync, advise, lock, unlock) throws os_error(EBADF) with op() naming the call
//   and name() empty: the error of every empty mmipc handle.
// - Threads: the const members may be called from any number of threads at once. Moving,
//   assigning and reset() need the object to themselves (and no thread may still use the
//   pages). The bytes themselves are not synchronised: that is the user's business.
// - Blocking: map(path) never waits in open() (a FIFO is refused, not opened for reading).
//   Mapping, populate, locked, lock() and sync(sync_mode::sync) may wait for disk I/O;
//   touching the pages may too (a page fault), and touching pages that the file no longer
//   has raises SIGBUS (use cursor or guarded_copy.hpp to turn that into an error).

#include <sys/types.h>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "mmipc/error.hpp"

namespace mmipc {

/// What the pages may be used for. Write access always includes read access (PROT_WRITE is
/// never requested alone: write-only mappings are not portable).
enum class access_mode { none, read_only, read_write };

/// Whether msync() waits for the write-back to finish.
enum class sync_mode { sync, async };

/// Hints for madvise().
enum class advice { normal, random, sequential, will_need, dont_need };

/// How to map.
struct map_options {
  access_mode access = access_mode::read_only;
  /// MAP_SHARED (writes reach the file and other mappings) or MAP_PRIVATE (copy-on-write).
  bool shared = true;
  /// PROT_EXEC as well.
  bool executable = false;
  /// MAP_POPULATE: fault the pages in now.
  bool populate = false;
  /// MAP_NORESERVE: do not reserve swap space.
  bool noreserve = false;
  /// MAP_LOCKED: lock the pages in memory.
  bool locked = false;
  /// Non-zero: MAP_HUGETLB with this huge page size in bytes (a power of two, e.g. 2 MiB).
  std::size_t huge_page_size = 0;
  /// Reserve one readable, zero-filled page right after the mapped pages, so the byte after
  /// the region can always be read: code that expects a NUL after a string (Perl, C string
  /// functions) never faults there. That byte is zero when the region ends at a page boundary
  /// or at the end of the file; inside a file it is the file's next byte. Ignored with huge
  /// pages.
  bool trailing_zero_page = false;
};

/// Why a region cannot be mapped (see region_error).
enum class region_problem {
  zero_length,      // an explicit length of 0
  offset_past_end,  // the offset lies beyond the end of the file
  offset_at_end,    // no length given and the offset is exactly the end of the file
  runs_past_end,    // offset + length goes beyond the end of the file
  too_large,        // negative offset, or offset or length beyond the address space or off_t
  needs_length,     // a device with no size and no length given
  not_mappable,     // neither a regular file nor a device (pipe, socket, directory)
};

/// A region the caller asked for that cannot be mapped. A std::invalid_argument, so callers
/// that only want the message need not know it; bindings read problem() and the numbers to
/// phrase the error in their own users' terms.
class region_error : public std::invalid_argument {
 public:
  /// Builds the error; `file_size` is 0 when the object has no size.
  region_error(region_problem problem, const std::string& message, std::uint64_t offset,
               std::uint64_t length, std::uint64_t file_size)
      : std::invalid_argument(message),
        problem_(problem),
        offset_(offset),
        length_(length),
        file_size_(file_size) {}
  /// What is wrong.
  region_problem problem() const noexcept { return problem_; }
  /// The offset asked for.
  std::uint64_t offset() const noexcept { return offset_; }
  /// The length asked for (0 when none was given).
  std::uint64_t length() const noexcept { return length_; }
  /// The size of the file (0 when it has none).
  std::uint64_t file_size() const noexcept { return file_size_; }

 private:
  region_problem problem_;
  std::uint64_t offset_;
  std::uint64_t length_;
  std::uint64_t file_size_;
};

/// A file offset as the caller has it, of any integer type: a negative one (an off_t of -1) is
/// refused as negative instead of wrapping silently to 2^64 - 1 as a conversion to
/// std::uint64_t would.
class file_offset {
 public:
  template <std::integral T>
  requires(!std::same_as<T, bool>) constexpr file_offset(
      T offset) noexcept  // implicit: any integer is an offset
      : value_(static_cast<std::uint64_t>(offset)), negative_(std::cmp_less(offset, 0)) {}
  /// The offset as unsigned (two's complement for a negative one).
  constexpr std::uint64_t value() const noexcept { return value_; }
  /// True when the caller's value was below zero.
  constexpr bool negative() const noexcept { return negative_; }

 private:
  std::uint64_t value_;
  bool negative_;
};

class mapping {
 public:
  /// An empty mapping (maps nothing).
  mapping() noexcept = default;
  mapping(mapping&& other) noexcept;
  mapping& operator=(mapping&& other) noexcept;
  mapping(const mapping&) = delete;
  mapping& operator=(const mapping&) = delete;
  ~mapping() { reset(); }

  /// Maps `length` bytes (default: to the end of the file) of the file open on `fd` from
  /// `offset`. `name` labels error messages and is kept as name(). Throws region_error (a
  /// std::invalid_argument) for a region that is empty, leaves the file, starts at a
  /// negative offset or does not fit, os_error when the system refuses.
  static mapping map(int fd, file_offset offset, std::optional<std::uint64_t> length,
                     const map_options& options = {}, std::string_view name = {});

  /// Opens `path` (read-only, or read-write for access_mode::read_write with a shared
  /// mapping) and maps it like map(int, ...), named by the path. What is neither a regular
  /// file nor a device (a FIFO, a socket, a directory) is refused as not_mappable without
  /// being opened for reading, so this never blocks. The descriptor is closed before
  /// returning.
  static mapping map(const std::filesystem::path& path, file_offset offset = 0,
                     std::optional<std::uint64_t> length = std::nullopt,
                     const map_options& options = {});

  /// Maps `length` bytes of zero-filled anonymous memory, shared with children forked later
  /// when options.shared is true.
  static mapping anonymous(std::size_t length, const map_options& options = {});

  /// First byte of the region (nullptr when empty).
  std::byte* data() const noexcept { return data_; }
  /// Length of the region in bytes.
  std::size_t size() const noexcept { return size_; }
  /// The region as a span.
  std::span<std::byte> bytes() const noexcept { return {data_, size_}; }
  /// True when nothing is mapped.
  bool empty() const noexcept { return data_ == nullptr; }
  /// True when something is mapped.
  explicit operator bool() const noexcept { return data_ != nullptr; }

  /// First byte of the pages the region lies in: data() rounded down to a page boundary
  /// (nullptr when empty). The bytes between base() and data() belong to the file too.
  std::byte* base() const noexcept { return static_cast<std::byte*>(base_); }
  /// Bytes from base() to the end of the region: the mapped span a pointer may lie in.
  std::size_t mapped_size() const noexcept {
    return data_ == nullptr ? 0 : static_cast<std::size_t>(data_ - base()) + size_;
  }

  /// File offset of the first byte of the region.
  std::uint64_t offset() const noexcept { return offset_; }
  /// True when the pages are writable.
  bool writable() const noexcept { return access_ == access_mode::read_write; }
  /// The access the pages were mapped with.
  access_mode access() const noexcept { return access_; }
  /// True for MAP_SHARED.
  bool shared() const noexcept { return shared_; }
  /// The name the region was mapped with (the path for map(path)); "" for anonymous memory.
  /// Errors about the pages (lost_pages_error) carry it.
  const std::string& name() const noexcept { return name_; }

  /// msync() of the whole region.
  void sync(sync_mode mode = sync_mode::sync, bool invalidate = false) const;
  /// msync() of [offset, offset + length) of the region.
  void sync(std::size_t offset, std::size_t length, sync_mode mode = sync_mode::sync,
            bool invalidate = false) const;
  /// madvise() over [offset, offset + length) of the region (default: all of it).
  void advise(advice hint, std::size_t offset = 0, std::size_t length = SIZE_MAX) const;
  /// mlock() of the region.
  void lock() const;
  /// munlock() of the region.
  void unlock() const;

  /// Unmaps (errors ignored: the pages are released either way) and leaves the mapping empty.
  void reset() noexcept;

  /// The system page size.
  static std::size_t page_size() noexcept;

 private:
  mapping(void* base, std::size_t base_length, std::size_t delta, std::size_t size,
          std::uint64_t offset, access_mode access, bool shared, std::string name) noexcept;
  /// The page-aligned span holding [offset, offset + length) of the region.
  std::span<std::byte> pages_of(std::size_t offset, std::size_t length, const char* op) const;

  void* base_ = nullptr;  // what mmap returned (page-aligned)
  // What reset() unmaps: rounded up to the (huge) page size, as munmap needs, plus the
  // trailing zero page, if any.
  std::size_t base_length_ = 0;
  std::byte* data_ = nullptr;  // base_ + (offset_ % page size)
  std::size_t size_ = 0;
  std::uint64_t offset_ = 0;
  access_mode access_ = access_mode::none;
  bool shared_ = false;
  std::string name_;
};

}  // namespace mmipc
