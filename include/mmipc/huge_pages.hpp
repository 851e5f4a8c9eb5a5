#pragma once
// huge_pages: asking the kernel to back a large, freshly allocated buffer with transparent
// huge pages before it is filled.
//
// Filling a new buffer of many megabytes costs one page fault per 4 KiB page, and where page
// faults are expensive (virtual machines) those faults, not the copy, set the speed: copying
// a 256 MiB mapping into a new buffer was measured 2-4 times faster with the buffer's pages
// advised huge (one fault per 2 MiB). Used by the bindings when they build a large result,
// such as the Tcl command mmap::read.

#include <cstddef>

namespace mmipc {

/// Smallest buffer worth advising: below it the few faults saved do not pay for the call.
inline constexpr std::size_t huge_page_threshold = 4 * 1024 * 1024;

/// Advises (madvise MADV_HUGEPAGE) the 2 MiB-aligned pages inside [data, data + length), a
/// buffer about to be written. Only a hint: returns true when the advice was given, false
/// when the buffer is below huge_page_threshold or the system declines (no error is raised).
bool prefer_huge_pages(void* data, std::size_t length) noexcept;

}  // namespace mmipc
