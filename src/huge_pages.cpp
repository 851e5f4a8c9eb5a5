#include "mmipc/huge_pages.hpp"

#include <sys/mman.h>

#include <cstdint>

namespace mmipc {

bool prefer_huge_pages(void* data, std::size_t length) noexcept {
#ifdef MADV_HUGEPAGE
  constexpr std::uintptr_t huge = 2 * 1024 * 1024;
  if (data == nullptr || length < huge_page_threshold) return false;
  // Only whole huge pages inside the buffer: the advice covers whole pages, and the memory
  // around the buffer is not ours to advise.
  const auto start = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t first = (start + huge - 1) & ~(huge - 1);
  const std::uintptr_t last = (start + length) & ~(huge - 1);
  if (last <= first) return false;
  return ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE) == 0;
#else
  (void)data;
  (void)length;
  return false;
#endif
}

}  // namespace mmipc
