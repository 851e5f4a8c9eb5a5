#pragma once
// tcl_compat: every difference between Tcl 8.6 and Tcl 9 that the packages' sources meet,
// in one place. Each package is built once per Tcl major version from the same sources
// (bindings/tcl/CMakeLists.txt); this header is the only file with an #if on the version, so
// the drivers and commands read the same for both.
//
// - Lengths and counts are Tcl_Size: int in Tcl 8.6 (8.6.13 does not define the type),
//   ptrdiff_t in Tcl 9, where a value may hold more than 2 GiB - 1 bytes.
// - Channel types are TCL_CHANNEL_VERSION_5 with close2Proc and wideSeekProc. Tcl 9 removed
//   closeProc and seekProc (the slots must be NULL); Tcl 8.6 calls close2Proc only when
//   closeProc holds TCL_CLOSE2PROC, and panics ("channel type mmap must define seekProc if
//   defining wideSeekProc") at a seek of a channel without seekProc, though it then calls
//   wideSeekProc. The seekProc slot of a channel type is
//   MMIPC_TCL_SEEK_PROC(wide_seek_proc): for Tcl 8.6 a seekProc that calls the wideSeekProc,
//   for Tcl 9 NULL (the argument is dropped unseen).
// - A driver that closes only whole channels, as a Tcl 8.6 driver with a closeProc and no
//   close2Proc (Tcl 8.6 then refuses a half-close itself: "half-close of channels not
//   supported by mqs"), fills its closeProc and close2Proc slots with
//   MMIPC_TCL_WHOLE_CLOSE_PROC(close_proc, close2_proc) and
//   MMIPC_TCL_WHOLE_CLOSE2_PROC(close_proc, close2_proc): in Tcl 8.6 close_proc (whole
//   channels) and no close2Proc; in Tcl 9, which has no closeProc, close2_proc, which must
//   refuse a half-close itself.
// - Bytes of a value: Tcl_GetBytesFromObj (Tcl 9), which refuses a string with a character
//   above U+00FF; Tcl 8.6 has only Tcl_GetByteArrayFromObj, which keeps the low 8 bits.
// - Tcl 9 has no output end-of-file character: -eofchar is one character, for input only.

#include <tcl.h>

#include <cerrno>
#include <climits>
#include <cstddef>

#if TCL_MAJOR_VERSION < 9

#ifndef TCL_SIZE_MAX
typedef int Tcl_Size;
#define TCL_SIZE_MAX INT_MAX
#endif
#define MMIPC_TCL_CLOSE_PROC TCL_CLOSE2PROC
#define MMIPC_TCL_SEEK_PROC(seek) (&mmipc::tcl::narrow_seek<seek>)
#define MMIPC_TCL_WHOLE_CLOSE_PROC(whole, half) (whole)
#define MMIPC_TCL_WHOLE_CLOSE2_PROC(whole, half) nullptr

#else

#define MMIPC_TCL_CLOSE_PROC nullptr
#define MMIPC_TCL_SEEK_PROC(seek) nullptr
#define MMIPC_TCL_WHOLE_CLOSE_PROC(whole, half) nullptr
#define MMIPC_TCL_WHOLE_CLOSE2_PROC(whole, half) (half)

#endif

namespace mmipc::tcl {

/// The oldest Tcl the stubs library must provide (the Tcl built against).
inline constexpr const char* stubs_version = TCL_MAJOR_VERSION < 9 ? "8.6" : "9.0";

/// The most bytes one Tcl value holds, and how a message says so.
inline constexpr std::size_t max_value_size = TCL_SIZE_MAX;
inline constexpr const char* max_value_text =
    TCL_MAJOR_VERSION < 9 ? "a Tcl 8.6 value (2 GiB - 1 at most)" : "a Tcl 9 value";

/// Whether Tcl writes an output end-of-file character when a channel closes.
inline constexpr bool has_output_eofchar = TCL_MAJOR_VERSION < 9;

#if TCL_MAJOR_VERSION < 9

/// seekProc for Tcl 8.6 (see MMIPC_TCL_SEEK_PROC), made from `seek`, a wideSeekProc (or a
/// seekProc: then it only forwards). Tcl 8.6 calls wideSeekProc whenever it is present, so
/// this one only serves callers of the narrow interface.
template <auto seek>
int narrow_seek(void* instance, long offset, int mode, int* error_code) {
  const Tcl_WideInt result = seek(instance, offset, mode, error_code);
  if (result > INT_MAX) {
    *error_code = EOVERFLOW;
    return -1;
  }
  return static_cast<int>(result);
}

/// The bytes of `obj` (never null in Tcl 8.6: characters above U+00FF keep their low byte).
inline unsigned char* get_bytes(Tcl_Interp* /*interp*/, Tcl_Obj* obj, Tcl_Size* length) {
  return Tcl_GetByteArrayFromObj(obj, length);
}

#else

/// The bytes of `obj`, or null with an error in `interp` (when not null) when it holds a
/// character above U+00FF: "expected byte sequence but character 0 was 'Ā' (U+000100)".
inline unsigned char* get_bytes(Tcl_Interp* interp, Tcl_Obj* obj, Tcl_Size* length) {
  return Tcl_GetBytesFromObj(interp, obj, length);
}

#endif

}  // namespace mmipc::tcl
