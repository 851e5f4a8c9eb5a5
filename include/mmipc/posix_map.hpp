#pragma once
// posix_map: the numbers of mmap(2) (PROT_* and MAP_*) and msync(2) (MS_*), as C programs
// and scripts written against them pass them, turned into a mapping's map_options and sync()
// arguments. A binding whose users speak
// mmap(2) (Perl's Sys::Mmap) decodes them here, so which combinations are accepted is decided
// once, by the core.
//
//   auto request = mmipc::decode_posix_map(PROT_READ | PROT_WRITE, MAP_SHARED);
//   auto m = mmipc::mapping::map(fd, 0, std::nullopt, request.options);

#include "mmipc/mapping.hpp"

namespace mmipc {

/// What a pair of mmap(2) numbers asks for.
struct posix_map_request {
  /// Access, sharing and the Linux extras, as mapping::map() takes them.
  map_options options;
  /// MAP_ANONYMOUS: memory, not a file.
  bool anonymous = false;
};

/// Decodes `prot` (PROT_READ, PROT_WRITE, PROT_EXEC or'ed, or PROT_NONE; PROT_WRITE always
/// includes read access) and `flags` (exactly one of MAP_SHARED and MAP_PRIVATE, optionally
/// with MAP_ANONYMOUS, MAP_FILE, MAP_LOCKED, MAP_NORESERVE, MAP_POPULATE, and MAP_HUGETLB
/// with a MAP_HUGE_* size: 2 MiB pages when none is given). Throws std::invalid_argument for
/// anything else: what mmap(2) refuses with EINVAL, and flags mmipc does not offer (MAP_FIXED
/// would replace mappings the process already has).
posix_map_request decode_posix_map(long long prot, long long flags);

/// What msync(2)'s flags ask for, as mapping::sync() takes it.
struct posix_sync_request {
  sync_mode mode = sync_mode::sync;
  bool invalidate = false;
};

/// Decodes msync(2)'s `flags`: MS_SYNC or MS_ASYNC (not both; neither is a synchronous
/// flush), optionally with MS_INVALIDATE. Throws std::invalid_argument for anything else,
/// what msync(2) refuses with EINVAL.
posix_sync_request decode_posix_sync(long long flags);

}  // namespace mmipc
