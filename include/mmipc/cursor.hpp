#pragma once
// cursor: a position over a fixed-size region, with the semantics of a Tcl mmap channel.
//
// Reads start at the position and stop at the end of the region (they never wrap). Writes are
// cyclic: a write that reaches the end continues at offset 0, and a single write longer than
// the region leaves it holding the last size() bytes of the data in cyclic order. The
// position then is (start + bytes written) mod size(). Seeks are bounded to [0, size()].
//
//   auto log = mmipc::mapping::map("app.log", 0, std::nullopt, rw);   // see mapping.hpp
//   mmipc::cursor out(log);
//   out.write(std::as_bytes(std::span(std::string_view("started\n"))));  // wraps at the end
//   out.seek(0);
//   std::size_t n = out.read(buffer);                                     // stops at the end
//
// What a user may rely on:
// - A cursor is a view, not a handle: it does not own the region, so the mapping (or buffer)
//   must outlive it (moving the mapping is fine: the pages stay where they are). It is
//   copyable, and moving one copies it: a moved-from cursor is unchanged.
// - A default-constructed cursor is over nothing: read() returns 0, write() throws
//   os_error(EBADF) as on any read-only cursor.
// - Threads: a cursor has a position, so it is not thread-safe: use one per thread, or lock.
//   The const members may be called from any number of threads at once.
// - Blocking: read() and write() copy memory; they never wait for anyone, though touching
//   mapped pages may wait for disk I/O.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>

#include "mmipc/error.hpp"
#include "mmipc/guarded_copy.hpp"  // lost_pages_error

namespace mmipc {

class mapping;

/// Origin of a seek, as for lseek().
enum class whence { start, current, end };

class cursor {
 public:
  /// A cursor over nothing.
  cursor() noexcept = default;
  /// A cursor at offset 0 of `region` (readable memory); writes are refused unless
  /// `writable`. `name` (e.g. the mapped file's) is named by the errors about lost pages.
  cursor(std::span<std::byte> region, bool writable, std::string name = {}) noexcept
      : data_(region.data()), size_(region.size()), writable_(writable), name_(std::move(name)) {}
  /// A cursor at offset 0 of the mapping's region, readable unless mapped with
  /// access_mode::none, writable when the mapping is, and named as the mapping is.
  explicit cursor(const mapping& region);
  cursor(const cursor&) = default;
  cursor& operator=(const cursor&) = default;

  /// Copies up to out.size() bytes from the position into `out` and advances; returns the
  /// count, 0 at the end. Throws os_error(EBADF) over pages mapped with access_mode::none.
  /// When the region is mapped pages that are gone (the file shrank under the mapping; see
  /// guarded_copy.hpp), returns the bytes before the first lost page, or throws
  /// lost_pages_error (an os_error: EFAULT or EIO, naming the mapping) when the position is
  /// on one, leaving the position unchanged.
  std::size_t read(std::span<std::byte> out);

  /// Writes all of `in` cyclically from the position and advances; returns in.size().
  /// Throws os_error(EBADF) on a read-only (or inaccessible) cursor, os_error(ENOSPC) on an empty
  /// region, and os_error(EFAULT or EIO) as read() does (the position is then unchanged; the bytes
  /// that still exist may have been written).
  std::size_t write(std::span<const std::byte> in);

  /// Moves the position to `offset` from `origin`; returns the new position. A result outside
  /// [0, size()] throws os_error(EINVAL) and leaves the position unchanged.
  std::uint64_t seek(std::int64_t offset, whence origin = whence::start);

  /// The position, in [0, size()].
  std::uint64_t tell() const noexcept { return pos_; }
  /// True when the position is at the end of the region.
  bool eof() const noexcept { return pos_ >= size_; }
  /// Bytes between the position and the end.
  std::size_t remaining() const noexcept { return size_ - pos_; }
  /// Length of the region.
  std::size_t size() const noexcept { return size_; }
  /// True when reads are allowed (the pages are not mapped with access_mode::none).
  bool readable() const noexcept { return readable_; }
  /// True when writes are allowed.
  bool writable() const noexcept { return writable_; }
  /// The name errors give the region ("" when none was given).
  const std::string& name() const noexcept { return name_; }
  /// The region.
  std::span<std::byte> region() const noexcept { return {data_, size_}; }

 private:
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t pos_ = 0;
  bool writable_ = false;
  bool readable_ = true;
  std::string name_;
};

}  // namespace mmipc
