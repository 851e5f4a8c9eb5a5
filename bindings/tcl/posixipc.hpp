#pragma once
// Pieces shared by the three source files of the Tcl package posixipc: error reporting in
// the original's words ("posixipc mq: <detail>: <error>"), argument conversion, and the
// registration functions of the mq and shm commands.

#include <tcl.h>

#include <string>
#include <string_view>
#include <vector>

#include "mmipc/error.hpp"
#include "mmipc/ipc_args.hpp"
#include "tcl_support.hpp"

namespace posixipc {

/// Sets "posixipc <kind>: <detail>: <error message>" with errorCode `POSIX <ERRNAME> <msg>`
/// for a failed system call (detail: the object's name, or "<call> failed"); an explanation
/// of a system limit, when the core gives one, is appended in parentheses.
int os_error_result(Tcl_Interp* interp, std::string_view kind, const mmipc::os_error& e);

/// Runs `body` (returning a Tcl code), reporting os_error in the package's words, a bad
/// argument with its message verbatim, and anything else through mmipc::tcl::guarded.
/// `body` must cope with a null `interp` (channel option procedures get one sometimes).
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
    } catch (const mmipc::os_error& e) {
      return os_error_result(interp, kind, e);
    } catch (const std::invalid_argument& e) {
      return mmipc::tcl::error(interp, e.what(), "POSIXIPC INVALID");
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

/// A Tcl error "posixipc <kind>: set option: <what>" from a channel's setOptionProc.
int set_option_error(Tcl_Interp* interp, std::string_view kind, std::string_view what);

/// Applies the translation and blocking mode asked by the access flags to a new channel.
int configure_new_channel(Tcl_Interp* interp, Tcl_Channel chan, const mmipc::open_access& access);

/// Creates ::posixipc::mq::{open,send,receive,unlink}.
void register_mq_commands(Tcl_Interp* interp);
/// Creates ::posixipc::shm::{open,unlink}.
void register_shm_commands(Tcl_Interp* interp);

}  // namespace posixipc
