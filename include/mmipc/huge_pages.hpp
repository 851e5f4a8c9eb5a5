#pragma once
// huge_pages: getting a large, freshly allocated buffer ready to be filled, with as few page
// faults as the system allows.
//
//   std::unique_ptr<std::byte[]> buffer(new std::byte[size]);
//   mmipc::prefault_buffer(buffer.get(), size);  // a hint: false changes nothing
//   std::memcpy(buffer.get(), source, size);     // fewer page faults than without it
//
// Filling a new buffer of many megabytes costs one page fault per 4 KiB page, and where page
// faults are expensive (virtual machines) those faults, not the copy, set the speed. In
// bench/results/latest.md (run of 2 December 2026), copying a 256 MiB file's mapping took
// 183.80 ms into a new buffer, 39.96 ms into a new buffer with huge pages advised
// (MADV_HUGEPAGE) and pre-faulted in one call (MADV_POPULATE_WRITE), as here, and 23.12 ms
// into a reused buffer (the copy alone). Used by the bindings when they build a large
// result, such as the Tcl command mmap::read.

#include <cstddef>

namespace mmipc {

/// Smallest buffer worth preparing: below it the few faults saved do not pay for the calls.
inline constexpr std::size_t prefault_threshold = 4 * 1024 * 1024;

/// Prepares [data, data + length), a buffer (of any allocator) about to be written whole:
/// advises its 2 MiB-aligned interior to use transparent huge pages, then faults its
/// page-aligned interior in with one madvise(MADV_POPULATE_WRITE). Only an optimisation:
/// returns true when the pages were populated, false when the buffer is below
/// prefault_threshold or the kernel declines (before Linux 5.14); never raises an error.
bool prefault_buffer(void* data, std::size_t length) noexcept;

}  // namespace mmipc
