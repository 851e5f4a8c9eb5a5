#pragma once
// Pieces shared by the three source files of the Tcl package posixipc: error reporting in
// the original's words ("posixipc mq: <detail>: <error>"), argument conversion, channel
// set-up, and the registration functions of the mq and shm commands.
//
// The interpreter result of every error is posixipc 1.0's text, word for word; what we know
// beyond it (the system limit that was hit, why a name is refused) goes into errorInfo and
// errorCode. errorCodes: those the original set (TCL WRONGARGS, TCL VALUE INTEGER, TCL VALUE
// LIST ..., TCL LOOKUP SUBCOMMAND ..., POSIX <ERRNAME> <message>) are kept; where it set none,
// ours are the MMIPC codes of tcl_support.hpp.

#include <tcl.h>

#include <string>
#include <string_view>
#include <vector>

#include "ipc_args.hpp"
#include "mmipc/error.hpp"
#include "tcl_support.hpp"

namespace posixipc {

/// Thrown (by the argument readers of tcl_syntax()) when Tcl has already set the error result
/// and errorCode: run() then just returns TCL_ERROR.
struct tcl_error_set {};

/// Integers and lists read by Tcl itself (Tcl_GetWideIntFromObj, Tcl_ListObjGetElements), so
/// their errors are Tcl's own: `expected integer but got "foo"` (TCL VALUE INTEGER),
/// `unmatched open quote in list` (TCL VALUE LIST QUOTE), as in the original.
mmipc::argument_syntax tcl_syntax(Tcl_Interp* interp);

/// Reads a Tcl integer; on failure Tcl's error is set and tcl_error_set thrown.
long long get_integer(Tcl_Interp* interp, Tcl_Obj* obj);

/// "posixipc <kind>: <detail>: <error message>", errorCode `POSIX <ERRNAME> <message>`, and
/// `info` (if any) in errorInfo. Returns TCL_ERROR.
int system_error(Tcl_Interp* interp, std::string_view kind, std::string_view detail, int err,
                 std::string_view info = {});

/// A failed system call in the original's words: detail is the object's name for opening and
/// unlinking, "cannot open shared memory exclusive access semaphore" for the semaphore, else
/// "<call> failed". The core's explanation (explained_error: a system limit, ...) goes into
/// errorInfo.
int os_error_result(Tcl_Interp* interp, std::string_view kind, const mmipc::os_error& e);

/// A name the system cannot take, as the original reported it: the system's error for it
/// (`posixipc mq: foo: invalid argument`, with `detail` instead of the name when given), and
/// our reason in errorInfo.
int name_error_result(Tcl_Interp* interp, std::string_view kind, const mmipc::invalid_name_error& e,
                      std::string_view detail = {});

/// Runs `body` (returning a Tcl code), reporting os_error and bad names in the package's words,
/// a bad argument with its message verbatim (errorCode MMIPC INVALID <argument>), and anything
/// else through mmipc::tcl::guarded. `body` must cope with a null `interp` (channel option
/// procedures get one sometimes).
template <class Body>
int run(Tcl_Interp* interp, std::string_view kind, Body&& body) noexcept {
  if (interp == nullptr) {
    // Channel option procedures may be called without an interpreter: fail quietly.
    try {
      return body();
    } catch (...) {
      return TCL_ERROR;
    }
  }
  return mmipc::tcl::guarded(interp, [&] {
    try {
      return body();
    } catch (const tcl_error_set&) {
      return TCL_ERROR;
    } catch (const mmipc::os_error& e) {
      return os_error_result(interp, kind, e);
    } catch (const mmipc::invalid_name_error& e) {
      return name_error_result(interp, kind, e);
    } catch (const mmipc::argument_error& e) {
      return mmipc::tcl::invalid_error(interp, e.argument(), e.what());
    } catch (const std::invalid_argument& e) {
      return mmipc::tcl::error(interp, e.what(), mmipc::tcl::code_invalid);
    }
  });
}

/// A queue or object name as the system must see it: in the system encoding, as Tcl gives
/// file names to the system. Tcl keeps strings in its own UTF-8, where a NUL is two other
/// bytes ("\xC0\x80"), so without this "/a\0b" would create an object under that mangled
/// name instead of being refused for its NUL.
std::string native_name(std::string_view name);

/// The words objv[first..objc) as string views (valid while the objects live).
std::vector<std::string_view> words(int objc, Tcl_Obj* const objv[], int first);

/// Applies the translation and blocking mode asked by the access flags to a new channel
/// (`nonblocking_mode`: whether NONBLOCK makes the channel non-blocking; not for memory).
int configure_new_channel(Tcl_Interp* interp, Tcl_Channel chan, const mmipc::open_access& access,
                          bool nonblocking_mode);

/// Registers a new channel in `interp` and sets its name as the result: the name Tcl gave it,
/// which is "stdin", "stdout" or "stderr" when Tcl installed it as a standard channel that a
/// script had closed (as `open` returns then).
int return_new_channel(Tcl_Interp* interp, Tcl_Channel chan);

/// Tcl's own message for an unknown channel option (the standard options, then `options`,
/// a list of names without "-"), as the original gave it; errorCode MMIPC OPTION <option>.
/// Returns TCL_ERROR.
int bad_option(Tcl_Interp* interp, const char* name, const char* options);

/// Creates ::posixipc::mq::{open,send,receive,unlink}.
void register_mq_commands(Tcl_Interp* interp);
/// Creates ::posixipc::shm::{open,unlink}.
void register_shm_commands(Tcl_Interp* interp);

}  // namespace posixipc

// Half-close (`close $chan write`): the original's driver had a whole-channel closeProc and no
// close2Proc, so Tcl 8.6 refused a half-close itself, with "half-close of channels not
// supported by mqs" (or shms) and the channel left as it was. Ours does the same in Tcl 8.6;
// Tcl 9 retired closeProc, and there close2Proc answers a half-close with EINVAL (see
// MMIPC_TCL_WHOLE_CLOSE_PROC in tcl_compat.hpp).
