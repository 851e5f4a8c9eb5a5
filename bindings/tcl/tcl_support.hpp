#pragma once
// tcl_support: the glue every mmipc Tcl package needs, written once.
//
// - Tcl 8.6 / Tcl 9 differences: in tcl_compat.hpp, included here (the one file with an #if
//   on the Tcl version).
// - Turning the core's errors into Tcl errors: an mmipc::os_error becomes a message plus
//   errorCode `POSIX <ERRNAME> <message>` (as Tcl_PosixError does for Tcl's own commands); a
//   std::invalid_argument becomes its message with errorCode `MMIPC INVALID`. The errorCodes
//   of mmipc's own are listed once, below (code_invalid and the next two).
// - guarded(): runs a C++ body and converts any exception into TCL_ERROR, so exceptions never
//   cross into Tcl (which is C and would be unwound without running its cleanups).
// - Argument helpers: 64-bit non-negative sizes, channel lookup by driver type, refusing safe
//   interpreters.
//
// Header-only and free of package-specific text: each package passes its own names.

#include <tcl.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

#include "mmipc/cursor.hpp"
#include "mmipc/error.hpp"
#include "mmipc/guarded_copy.hpp"
#include "tcl_compat.hpp"

namespace mmipc::tcl {

// ---- errors -------------------------------------------------------------------------------

// errorCode of the packages' own argument errors, one scheme for mmap and posixipc. Where an
// original package set an errorCode (TCL WRONGARGS, TCL VALUE INTEGER, TCL LOOKUP ..., POSIX
// <ERRNAME> <message>), ours sets exactly that; where it set none (NONE), ours sets one of
// these, documented in the man pages:
/// A bad argument value: `MMIPC INVALID <argument>`.
inline constexpr std::string_view code_invalid = "MMIPC INVALID";
/// A misused option: `MMIPC OPTION <option>`.
inline constexpr std::string_view code_option = "MMIPC OPTION";
/// Setting a read-only option: `MMIPC READONLY <option>`.
inline constexpr std::string_view code_readonly = "MMIPC READONLY";

/// `code` (a list) with `detail` appended as one more element.
inline std::string error_code(std::string_view code, std::string_view detail) {
  Tcl_Obj* list = Tcl_NewStringObj(code.data(), static_cast<Tcl_Size>(code.size()));
  Tcl_IncrRefCount(list);
  Tcl_ListObjAppendElement(nullptr, list,
                           Tcl_NewStringObj(detail.data(), static_cast<Tcl_Size>(detail.size())));
  std::string result = Tcl_GetString(list);
  Tcl_DecrRefCount(list);
  return result;
}

/// Sets `message` as the result and `code` (a list) as errorCode; returns TCL_ERROR.
inline int error(Tcl_Interp* interp, std::string_view message, std::string_view code) {
  Tcl_SetObjResult(interp, Tcl_NewStringObj(message.data(), static_cast<Tcl_Size>(message.size())));
  Tcl_Obj* list = Tcl_NewStringObj(code.data(), static_cast<Tcl_Size>(code.size()));
  Tcl_SetObjErrorCode(interp, list);
  return TCL_ERROR;
}

/// Sets "<context>: <errno message>" as the result and `POSIX <ERRNAME> <message>` as
/// errorCode (through Tcl_PosixError, so names and texts are Tcl's own); returns TCL_ERROR.
inline int posix_error(Tcl_Interp* interp, int err, std::string_view context) {
  Tcl_SetErrno(err);
  const char* text = Tcl_PosixError(interp);  // sets errorCode from errno
  std::string message(context);
  message += ": ";
  message += text;
  Tcl_SetObjResult(interp, Tcl_NewStringObj(message.data(), static_cast<Tcl_Size>(message.size())));
  return TCL_ERROR;
}

/// An os_error as a Tcl error: `<op> "<name>": <errno message>` (or `<op>: ...` without a
/// name), errorCode `POSIX <ERRNAME> <message>`.
inline int os_error_result(Tcl_Interp* interp, const mmipc::os_error& e) {
  std::string context = e.op();
  if (!e.name().empty()) context += " \"" + e.name() + "\"";
  return posix_error(interp, e.error_number(), context);
}

/// A bad argument reported by the core: its message, errorCode `MMIPC INVALID`.
inline int invalid_argument_result(Tcl_Interp* interp, const std::invalid_argument& e) {
  return error(interp, e.what(), "MMIPC INVALID");
}

/// A bad argument value: `message`, errorCode `MMIPC INVALID <argument>` (the argument's name
/// as the usage line gives it, or the option).
inline int invalid_error(Tcl_Interp* interp, std::string_view argument, std::string_view message) {
  return error(interp, message, error_code(code_invalid, argument));
}

/// A misused option: `message`, errorCode `MMIPC OPTION <option>`.
inline int option_error(Tcl_Interp* interp, std::string_view option, std::string_view message) {
  return error(interp, message, error_code(code_option, option));
}

/// Setting a read-only option: `message`, errorCode `MMIPC READONLY <option>`.
inline int readonly_error(Tcl_Interp* interp, std::string_view option, std::string_view message) {
  return error(interp, message, error_code(code_readonly, option));
}

/// Adds `text` to errorInfo after the error's message, as a line "    (text)": where a
/// package explains more than the original's message said, without changing the result.
/// Call after the result and errorCode are set.
inline void add_error_info(Tcl_Interp* interp, std::string_view text) {
  std::string line = "\n    (";
  line += text;
  line += ")";
  Tcl_AddErrorInfo(interp, line.c_str());
}

/// Runs `body` (returning a Tcl result code) and turns any exception it throws into a Tcl
/// error. Wrap every C++ body called from Tcl in this: exceptions must never reach Tcl.
template <class Body>
int guarded(Tcl_Interp* interp, Body&& body) noexcept {
  try {
    return body();
  } catch (const mmipc::os_error& e) {
    return os_error_result(interp, e);
  } catch (const std::system_error& e) {
    return posix_error(interp, e.code().value(), "system error");
  } catch (const std::invalid_argument& e) {
    return invalid_argument_result(interp, e);
  } catch (const std::bad_alloc&) {
    return posix_error(interp, ENOMEM, "out of memory");
  } catch (const std::exception& e) {
    return error(interp, e.what(), "MMIPC INTERNAL");
  } catch (...) {
    return error(interp, "unexpected C++ exception", "MMIPC INTERNAL");
  }
}

/// errno for an exception caught in a channel driver procedure, which reports failures
/// through errno rather than the interpreter. Call from inside a catch block.
inline int current_exception_errno() noexcept {
  try {
    throw;
  } catch (const std::system_error& e) {
    return e.code().value() != 0 ? e.code().value() : EIO;
  } catch (const std::invalid_argument&) {
    return EINVAL;
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  } catch (...) {
    return EIO;
  }
}

/// The errorCode `POSIX <ERRNAME> {<text>}` of `err`, as Tcl's own channels set it (sets errno,
/// through which Tcl_ErrnoId() names it).
inline Tcl_Obj* posix_error_code(int err) noexcept {
  errno = err;
  Tcl_Obj* code = Tcl_NewListObj(0, nullptr);
  Tcl_ListObjAppendElement(nullptr, code, Tcl_NewStringObj("POSIX", -1));
  Tcl_ListObjAppendElement(nullptr, code, Tcl_NewStringObj(Tcl_ErrnoId(), -1));
  Tcl_ListObjAppendElement(nullptr, code, Tcl_NewStringObj(Tcl_ErrnoMsg(err), -1));
  return code;
}

/// Stores on `chan` the error that Tcl's read, gets, puts, flush and close then report instead
/// of the bare errno text: `error reading "<channel>": <text>` (`error writing` when not
/// `reading`), with `code` (a list) as errorCode. This is the error as Tcl's channel layer
/// expects it from a driver: return options, then the message.
inline void set_channel_error(Tcl_Channel chan, bool reading, std::string_view text,
                              Tcl_Obj* code) noexcept {
  std::string message = reading ? "error reading \"" : "error writing \"";
  message += Tcl_GetChannelName(chan);
  message += "\": ";
  message += text;
  Tcl_Obj* error = Tcl_NewListObj(0, nullptr);
  Tcl_ListObjAppendElement(nullptr, error, Tcl_NewStringObj("-code", -1));
  Tcl_ListObjAppendElement(nullptr, error, Tcl_NewIntObj(TCL_ERROR));
  Tcl_ListObjAppendElement(nullptr, error, Tcl_NewStringObj("-level", -1));
  Tcl_ListObjAppendElement(nullptr, error, Tcl_NewIntObj(0));
  Tcl_ListObjAppendElement(nullptr, error, Tcl_NewStringObj("-errorcode", -1));
  Tcl_ListObjAppendElement(nullptr, error, code);
  Tcl_ListObjAppendElement(nullptr, error,
                           Tcl_NewStringObj(message.data(), static_cast<Tcl_Size>(message.size())));
  Tcl_SetChannelError(chan, error);
}

/// errno for an exception caught in a channel driver's input or output procedure, as
/// current_exception_errno(). When the exception is a lost_pages_error (the mapped file shrank
/// under the mapping, its filesystem had no room for a page of a sparse file, or its storage
/// failed), also stores on `chan` an error that says so in the core's words,
/// which Tcl's read, gets, puts, flush and close report instead of the bare errno text:
/// `error reading "mmap3": the mapped file shrank under the mapping: bad address`, errorCode
/// `POSIX EFAULT {bad address}`. Call from inside a catch block.
inline int channel_exception_errno(Tcl_Channel chan, bool reading) noexcept {
  try {
    throw;
  } catch (const mmipc::lost_pages_error& e) {
    const int err = e.error_number();
    if (chan != nullptr) {
      // The core's words for the three cases, then the system's.
      std::string text = e.explanation();
      text += ": ";
      text += Tcl_ErrnoMsg(err);
      set_channel_error(chan, reading, text, posix_error_code(err));
    }
    errno = err;
    return err;
  } catch (...) {
    return current_exception_errno();
  }
}

/// Refuses, from a driver's setOptionProc, to set the read-only option `name` of a channel
/// whose `what` (e.g. "the region is mapped") fixed it: `option "-length" is read-only: it is
/// fixed when the region is mapped`, errorCode `MMIPC READONLY -length`, errno EINVAL.
inline int refuse_read_only_option(Tcl_Interp* interp, const char* name,
                                   const char* what) noexcept {
  if (interp != nullptr) {
    Tcl_SetObjResult(interp,
                     Tcl_ObjPrintf("option \"%s\" is read-only: it is fixed when %s", name, what));
    // Built from Tcl values: nothing here may throw into Tcl.
    Tcl_Obj* code =
        Tcl_NewStringObj(code_readonly.data(), static_cast<Tcl_Size>(code_readonly.size()));
    Tcl_ListObjAppendElement(nullptr, code, Tcl_NewStringObj(name, -1));
    Tcl_SetObjErrorCode(interp, code);
  }
  Tcl_SetErrno(EINVAL);
  return TCL_ERROR;
}

/// A driver's seek mode (SEEK_SET, SEEK_CUR, SEEK_END) as the core's origin; false (the
/// driver then fails with EINVAL) for any other.
inline bool to_whence(int mode, mmipc::whence& origin) noexcept {
  switch (mode) {
    case SEEK_SET:
      origin = mmipc::whence::start;
      return true;
    case SEEK_CUR:
      origin = mmipc::whence::current;
      return true;
    case SEEK_END:
      origin = mmipc::whence::end;
      return true;
    default:
      return false;
  }
}

// ---- arguments ----------------------------------------------------------------------------

/// Reads a 64-bit non-negative integer (sizes and offsets, files past 4 GiB included).
/// On failure: `bad <what> "<value>": must be a non-negative integer`, errorCode
/// `MMIPC INVALID <what>`.
inline int get_size(Tcl_Interp* interp, Tcl_Obj* obj, std::string_view what, std::uint64_t& out) {
  Tcl_WideInt value = 0;
  if (Tcl_GetWideIntFromObj(nullptr, obj, &value) != TCL_OK || value < 0) {
    std::string message = "bad ";
    message += what;
    message += " \"";
    message += Tcl_GetString(obj);
    message += "\": must be a non-negative integer";
    return error(interp, message, error_code(code_invalid, what));
  }
  out = static_cast<std::uint64_t>(value);
  return TCL_OK;
}

/// Finds the channel named by `name` whose driver is `type`, looking through any channels
/// stacked on top of it (transforms). On failure: Tcl's own "can not find channel" error,
/// or `channel "<name>" is not <what>` (errorCode `MMIPC INVALID channelId`).
inline int get_channel_of_type(Tcl_Interp* interp, Tcl_Obj* name, const Tcl_ChannelType* type,
                               std::string_view what, Tcl_Channel& out) {
  int mode = 0;
  Tcl_Channel chan = Tcl_GetChannel(interp, Tcl_GetString(name), &mode);
  if (chan == nullptr) return TCL_ERROR;
  for (Tcl_Channel c = chan; c != nullptr; c = Tcl_GetStackedChannel(c)) {
    if (Tcl_GetChannelType(c) == type) {
      out = c;
      return TCL_OK;
    }
  }
  std::string message = "channel \"";
  message += Tcl_GetString(name);
  message += "\" is not ";
  message += what;
  return error(interp, message, error_code(code_invalid, "channelId"));
}

/// Refuses a safe interpreter: packages that give raw access to files, memory or IPC objects
/// would let a sandboxed script escape. Returns TCL_OK for a trusted interpreter.
inline int refuse_safe_interp(Tcl_Interp* interp, std::string_view package,
                              std::string_view reason) {
  if (!Tcl_IsSafe(interp)) return TCL_OK;
  std::string message = "package ";
  message += package;
  message += " cannot be loaded into a safe interpreter: ";
  message += reason;
  return error(interp, message, "MMIPC SAFE");
}

/// What every package's Init does first: binds the stubs table, refuses a safe interpreter
/// (with `reason`), and installs the SIGBUS guard of the channels' copies before scripts
/// install handlers of their own. Returns TCL_OK or TCL_ERROR with the result set.
inline int init_package(Tcl_Interp* interp, std::string_view package, std::string_view reason) {
  if (Tcl_InitStubs(interp, stubs_version, 0) == nullptr) return TCL_ERROR;
  if (refuse_safe_interp(interp, package, reason) != TCL_OK) return TCL_ERROR;
  return guarded(interp, [] {
    mmipc::install_sigbus_guard();
    return TCL_OK;
  });
}

/// A new Tcl integer for an unsigned 64-bit size, offset or sequence number (mmap::log).
inline Tcl_Obj* new_size_obj(std::uint64_t value) {
  return Tcl_NewWideIntObj(static_cast<Tcl_WideInt>(value));
}

// ---- events --------------------------------------------------------------------------------

/// Readiness of a channel over memory, which is always readable and writable: while Tcl
/// watches it, the channel is notified on every pass of the event loop (a 0 ms timer in the
/// thread that owns the channel), as select() reports a regular file. A driver calls watch()
/// from its watchProc and stop() when it closes or leaves its thread (timers are per thread;
/// the new thread re-arms through watchProc).
class always_ready {
 public:
  always_ready() = default;
  always_ready(const always_ready&) = delete;
  always_ready& operator=(const always_ready&) = delete;
  ~always_ready() { stop(); }

  /// Notifies `channel` of the events in `mask` that `mode` allows (none: stops).
  void watch(Tcl_Channel channel, int mask, int mode) {
    channel_ = channel;
    mask_ = mask & mode;
    if (mask_ == 0) {
      stop();
    } else if (timer_ == nullptr) {
      timer_ = Tcl_CreateTimerHandler(0, fire, this);
    }
  }

  /// Stops notifying.
  void stop() noexcept {
    mask_ = 0;
    if (timer_ != nullptr) {
      Tcl_DeleteTimerHandler(timer_);
      timer_ = nullptr;
    }
  }

 private:
  static void fire(void* instance) {
    auto* self = static_cast<always_ready*>(instance);
    self->timer_ = nullptr;
    if (self->mask_ == 0) return;
    // Re-arm before notifying, and touch nothing after: a handler may close the channel,
    // which destroys this object (and deletes the new timer).
    Tcl_Channel channel = self->channel_;
    const int mask = self->mask_;
    self->timer_ = Tcl_CreateTimerHandler(0, fire, self);
    Tcl_NotifyChannel(channel, mask);
  }

  Tcl_Channel channel_ = nullptr;
  int mask_ = 0;
  Tcl_TimerToken timer_ = nullptr;
};

}  // namespace mmipc::tcl
