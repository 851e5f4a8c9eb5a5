#pragma once
// guarded_copy: memcpy that survives the loss of mapped pages.
//
//   try {
//     mmipc::guarded_copy(buffer, map.data(), n, "read", map.name());
//   } catch (const mmipc::lost_pages_error& e) {  // e.g. the file shrank under the mapping
//     std::cerr << e.what() << '\n';              // the process lives on
//   }
//
// When another process truncates a file that is mapped here, touching the pages past its new
// end raises SIGBUS, which kills the process by default (an I/O error on the backing store
// does the same). Every copy mmipc makes from or to mapped memory goes through
// guarded_copy(): it sets a per-thread recovery point, and mmipc's SIGBUS handler returns
// there when, and only when, the fault hit the bytes this very copy was moving. The copy
// then fails with an os_error instead. Any other SIGBUS (a fault outside a guarded copy, or a
// signal sent with kill) goes to the handler that was installed before mmipc's, or, when
// there was none, kills the process as it would have without mmipc.
//
// What cannot be guarded: memory touched directly by code that is not mmipc's (a pointer
// into a mapping dereferenced by the caller, a Perl variable read by Perl's own ops). And a
// SIGBUS handler installed after mmipc's replaces it: chain to the previous one, as mmipc
// does, to keep the guard working.

#include <cstddef>
#include <string>
#include <string_view>

#include "mmipc/error.hpp"

namespace mmipc {

/// The failure of a guarded copy: an os_error with EFAULT (the mapped file shrank under the
/// mapping), ENOSPC (the page lies inside the file, but its filesystem has no room to back
/// it: a sparse file on a full disk) or EIO (an I/O error on its storage), told apart from
/// other errors so a binding can say what happened. The cases are told apart after the
/// fault, from the file as it is then. name() is the file or object whose pages are lost
/// (empty when the copy was not told); what() reads "<op> <name>: <strerror> (<explanation>)".
class lost_pages_error : public os_error {
 public:
  lost_pages_error(int err, std::string_view op, std::string_view name = {});
  /// What happened, in the words every binding shows: "the mapped file shrank under the
  /// mapping" (EFAULT), "no space left on the device for a page of this sparse file"
  /// (ENOSPC) or "I/O error on the mapped file's storage" (EIO).
  const char* explanation() const noexcept;
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::string what_;
};

/// Copies `n` bytes from `src` to `dst` (which may overlap) like memmove, but turns a
/// SIGBUS raised on those bytes into lost_pages_error (an os_error): EFAULT when the mapped
/// file shrank under the mapping, ENOSPC when its filesystem cannot back a page of it, EIO
/// on an I/O error of its backing store. A copy whose page came back (the file shrank and
/// grew again before the fault was examined) is made again. `op` names the operation (e.g.
/// "read") and `name` the mapped file or object in the error. The bytes of `dst` are
/// unspecified after a failure.
void guarded_copy(void* dst, const void* src, std::size_t n, std::string_view op = "copy",
                  std::string_view name = {});

/// Reads like a file at a truncated end: copies the `n` bytes at `src` (mapped memory) to
/// `dst` when they all exist, or else the bytes before the first lost page of `src`, and
/// returns the count; throws lost_pages_error when the first byte itself is lost. So a
/// read-ahead that runs into lost pages still returns the bytes that exist.
std::size_t guarded_copy_prefix(void* dst, const void* src, std::size_t n,
                                std::string_view op = "read", std::string_view name = {});

/// Installs mmipc's SIGBUS handler now, if it is not yet installed in this process (thread
/// safe; guarded_copy() does it on first use). A binding calls this when it is loaded, so the
/// handler is in place before user code installs its own.
void install_sigbus_guard();

}  // namespace mmipc
