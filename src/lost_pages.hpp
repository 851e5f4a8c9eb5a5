#pragma once
// Why a guarded access lost its page, told after the SIGBUS guard has recovered (never in the
// signal handler: this reads /proc and opens files). The kernel raises the same SIGBUS
// (BUS_ADRERR) when the mapped file shrank, when its filesystem has no block to back a page
// of a sparse file, and when its device failed to read a page; only the file as it is now can
// tell them apart. Every mapping (the mmap and shm channels, Sys::Mmap, the ring log) words
// the three cases here, once.

#include <string_view>

namespace mmipc::detail {

/// What happened to a page that a guarded access could not touch.
enum class page_loss {
  shrank,     ///< the page lies past the file's current end (EFAULT)
  no_space,   ///< inside the file, and its filesystem has no room to back it (ENOSPC)
  io_error,   ///< inside the file and backed: its device failed (EIO)
  came_back,  ///< inside the file, a hole, and the filesystem has room: the file may have
              ///< shrunk and grown back since the fault, so trying again may succeed; when
              ///< it keeps failing, the page cannot be backed (a quota or size limit: ENOSPC)
};

/// Looks at the file mapped at `address` (the faulting address a SIGBUS reported, with its
/// si_code) and says which case it is. When the file cannot be found (anonymous memory, a
/// deleted file no descriptor of this process holds), falls back on the si_code: BUS_ADRERR
/// is taken for a shrunk file, anything else for an I/O error.
page_loss explain_lost_page(const void* address, int si_code) noexcept;

/// Throws the lost_pages_error (an os_error) that says `loss`; `op` names the operation and
/// `name` the mapped file or object. came_back is reported as no_space: the caller has given
/// up trying again.
[[noreturn]] void throw_lost_page(page_loss loss, std::string_view op, std::string_view name);

}  // namespace mmipc::detail
