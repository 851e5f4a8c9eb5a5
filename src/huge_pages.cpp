#include "mmipc/huge_pages.hpp"

#include <sys/mman.h>

#include <cstdint>

#include "mmipc/mapping.hpp"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older C libraries lack the name
#endif

namespace mmipc {

namespace {

/// The [first, last) pages of `size` bytes wholly inside [start, start + length).
bool inner_pages(std::uintptr_t start, std::size_t length, std::uintptr_t size,
                 std::uintptr_t& first, std::uintptr_t& last) {
  first = (start + size - 1) & ~(size - 1);
  last = (start + length) & ~(size - 1);
  return last > first;
}

}  // namespace

bool prefault_buffer(void* data, std::size_t length) noexcept {
  if (data == nullptr || length < prefault_threshold) return false;
  const auto start = reinterpret_cast<std::uintptr_t>(data);
  std::uintptr_t first = 0;
  std::uintptr_t last = 0;
  // Only whole pages inside the buffer: advice covers whole pages, and the memory around the
  // buffer is not ours to touch. Huge-page advice is a hint the kernel may ignore.
#ifdef MADV_HUGEPAGE
  if (inner_pages(start, length, 2 * 1024 * 1024, first, last)) {
    ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
  }
#endif
  if (!inner_pages(start, length, mapping::page_size(), first, last)) return false;
  return ::madvise(reinterpret_cast<void*>(first), last - first, MADV_POPULATE_WRITE) == 0;
}

}  // namespace mmipc
