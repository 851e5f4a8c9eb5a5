#pragma once
// Bounded seeks: internal to the core (not installed). The one rule of cursor::seek and
// shared_memory::seek: a position lies in [0, size], never beyond, and never wraps.

#include <cerrno>
#include <cstdint>
#include <string_view>

#include "mmipc/cursor.hpp"
#include "mmipc/error.hpp"

namespace mmipc::detail {

/// The position `offset` bytes from `origin` (the start, `pos` or `size`) in a region of `size`
/// bytes; throws os_error(EINVAL, "seek", name) when it falls outside [0, size], overflow
/// included.
inline std::uint64_t bounded_seek(std::uint64_t size, std::uint64_t pos, std::int64_t offset,
                                  whence origin, std::string_view name = {}) {
  std::uint64_t base = 0;
  switch (origin) {
    case whence::start:
      break;
    case whence::current:
      base = pos;
      break;
    case whence::end:
      base = size;
      break;
  }
  // In unsigned arithmetic: base <= size, so neither side can wrap.
  const bool backward = offset < 0;
  const std::uint64_t distance = backward ? std::uint64_t{0} - static_cast<std::uint64_t>(offset)
                                          : static_cast<std::uint64_t>(offset);
  if (backward ? distance > base : distance > size - base) throw_os_error(EINVAL, "seek", name);
  return backward ? base - distance : base + distance;
}

}  // namespace mmipc::detail
