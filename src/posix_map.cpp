#include "mmipc/posix_map.hpp"

#include <sys/mman.h>

#include <stdexcept>
#include <string>

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MAP_HUGE_MASK
#define MAP_HUGE_MASK 0x3f
#endif

namespace mmipc {

posix_map_request decode_posix_map(long long prot, long long flags) {
  constexpr long long known_prot = PROT_READ | PROT_WRITE | PROT_EXEC;
  constexpr long long known_flags = MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_FILE |
                                    MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_HUGETLB |
                                    (static_cast<long long>(MAP_HUGE_MASK) << MAP_HUGE_SHIFT);
  if (prot & ~known_prot) {
    throw std::invalid_argument("unknown protection bits in " + std::to_string(prot));
  }
  if (flags & ~known_flags) {
    throw std::invalid_argument("unknown or unsupported flags in " + std::to_string(flags));
  }
  const bool shared = (flags & MAP_SHARED) != 0;
  if (shared == ((flags & MAP_PRIVATE) != 0)) {
    throw std::invalid_argument("flags must hold exactly one of MAP_SHARED and MAP_PRIVATE");
  }
  const long long huge_log2 = (flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;
  if (huge_log2 != 0 && !(flags & MAP_HUGETLB)) {
    throw std::invalid_argument("a huge page size needs MAP_HUGETLB");
  }
  if (huge_log2 >= 64) throw std::invalid_argument("huge page size out of range");

  posix_map_request request;
  request.anonymous = (flags & MAP_ANONYMOUS) != 0;
  map_options& o = request.options;
  o.shared = shared;
  o.access = (prot & PROT_WRITE)                ? access_mode::read_write
             : (prot & (PROT_READ | PROT_EXEC)) ? access_mode::read_only
                                                : access_mode::none;
  o.executable = (prot & PROT_EXEC) != 0;
  o.populate = (flags & MAP_POPULATE) != 0;
  o.noreserve = (flags & MAP_NORESERVE) != 0;
  o.locked = (flags & MAP_LOCKED) != 0;
  if (flags & MAP_HUGETLB) {
    // Without a size the kernel uses its default huge page: 2 MiB on x86-64.
    o.huge_page_size = std::size_t{1} << (huge_log2 ? huge_log2 : 21);
  }
  return request;
}

posix_sync_request decode_posix_sync(long long flags) {
  if ((flags & ~static_cast<long long>(MS_SYNC | MS_ASYNC | MS_INVALIDATE)) != 0 ||
      ((flags & MS_SYNC) && (flags & MS_ASYNC))) {
    throw std::invalid_argument("invalid msync flags " + std::to_string(flags));
  }
  posix_sync_request request;
  request.mode = (flags & MS_ASYNC) ? sync_mode::async : sync_mode::sync;
  request.invalidate = (flags & MS_INVALIDATE) != 0;
  return request;
}

}  // namespace mmipc
