#include "mmipc/cursor.hpp"

#include <algorithm>
#include <cerrno>

#include "mmipc/error.hpp"
#include "mmipc/guarded_copy.hpp"
#include "mmipc/mapping.hpp"
#include "seek.hpp"

namespace mmipc {

cursor::cursor(const mapping& region) : cursor(region.bytes(), region.writable(), region.name()) {
  readable_ = region.access() != access_mode::none;
}

std::size_t cursor::read(std::span<std::byte> out) {
  if (out.empty()) return 0;
  // Touching PROT_NONE pages would be SIGSEGV, which no guard catches.
  if (!readable_) throw_os_error(EBADF, "read", "inaccessible region");
  // Like a file at a truncated end: the bytes before a lost page are returned, and the next
  // read, starting on the lost page, fails.
  const std::size_t count = guarded_copy_prefix(out.data(), data_ + pos_,
                                                std::min(out.size(), size_ - pos_), "read", name_);
  pos_ += count;
  return count;
}

std::size_t cursor::write(std::span<const std::byte> in) {
  if (in.empty()) return 0;
  if (!writable_) throw_os_error(EBADF, "write", "read-only region");
  if (size_ == 0) throw_os_error(ENOSPC, "write", "empty region");

  const std::size_t total = in.size();
  std::size_t pos = pos_;
  if (in.size() > size_) {
    // Only the last size_ bytes survive; they land where a byte-by-byte cyclic write would
    // have put them, that is from (pos + total - size_) mod size_.
    pos = static_cast<std::size_t>((pos + (total - size_) % size_) % size_);
    in = in.last(size_);
  }
  // At most two pieces: up to the end of the region, then from its start.
  const std::size_t first = std::min(in.size(), size_ - pos);
  guarded_copy(data_ + pos, in.data(), first, "write", name_);
  if (first < in.size()) guarded_copy(data_, in.data() + first, in.size() - first, "write", name_);
  pos_ = (pos + in.size()) % size_;
  return total;
}

std::uint64_t cursor::seek(std::int64_t offset, whence origin) {
  pos_ = static_cast<std::size_t>(detail::bounded_seek(size_, pos_, offset, origin));
  return pos_;
}

}  // namespace mmipc
