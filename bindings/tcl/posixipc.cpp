// Tcl package posixipc: POSIX message queues and shared memory as Tcl channels, compatible
// with posixipc 1.0. This file: the package entry point, its ensembles, pkgconfig and the
// error reporting shared by the mq and shm commands (posixipc_mq.cpp, posixipc_shm.cpp).

#include "posixipc.hpp"

#include <fcntl.h>

#include "mmipc/message_queue.hpp"

namespace posixipc {

mmipc::argument_syntax tcl_syntax(Tcl_Interp* interp) {
  mmipc::argument_syntax syntax;
  syntax.integer = [interp](std::string_view text) -> long long {
    Tcl_Obj* obj = Tcl_NewStringObj(text.data(), static_cast<Tcl_Size>(text.size()));
    Tcl_IncrRefCount(obj);
    try {
      const long long value = get_integer(interp, obj);
      Tcl_DecrRefCount(obj);
      return value;
    } catch (...) {
      Tcl_DecrRefCount(obj);
      throw;
    }
  };
  syntax.list = [interp](std::string_view text) {
    Tcl_Obj* obj = Tcl_NewStringObj(text.data(), static_cast<Tcl_Size>(text.size()));
    Tcl_IncrRefCount(obj);
    Tcl_Size count = 0;
    Tcl_Obj** elements = nullptr;
    if (Tcl_ListObjGetElements(interp, obj, &count, &elements) != TCL_OK) {
      Tcl_DecrRefCount(obj);
      throw tcl_error_set{};
    }
    std::vector<std::string> out;
    for (Tcl_Size i = 0; i < count; ++i) {
      Tcl_Size length = 0;
      const char* element = Tcl_GetStringFromObj(elements[i], &length);
      out.emplace_back(element, static_cast<std::size_t>(length));
    }
    Tcl_DecrRefCount(obj);
    return out;
  };
  return syntax;
}

long long get_integer(Tcl_Interp* interp, Tcl_Obj* obj) {
  Tcl_WideInt value = 0;
  if (Tcl_GetWideIntFromObj(nullptr, obj, &value) == TCL_OK) return static_cast<long long>(value);
  // The error as the original reported it, reading an int: `expected integer but got "foo"`
  // with errorCode TCL VALUE INTEGER (Tcl's wide reader says TCL VALUE NUMBER).
  int narrow = 0;
  if (Tcl_GetIntFromObj(interp, obj, &narrow) == TCL_OK) return narrow;
  throw tcl_error_set{};
}

int system_error(Tcl_Interp* interp, std::string_view kind, std::string_view detail, int err,
                 std::string_view info) {
  Tcl_ResetResult(interp);  // errorInfo starts afresh with this error
  std::string context = "posixipc " + std::string(kind) + ": " + std::string(detail);
  mmipc::tcl::posix_error(interp, err, context);
  if (!info.empty()) mmipc::tcl::add_error_info(interp, info);
  return TCL_ERROR;
}

int os_error_result(Tcl_Interp* interp, std::string_view kind, const mmipc::os_error& e) {
  const std::string detail = mmipc::original_detail(e);
  std::string info;
  if (auto* x = dynamic_cast<const mmipc::explained_error*>(&e)) info = x->explanation();
  return system_error(interp, kind, detail, e.error_number(), info);
}

int name_error_result(Tcl_Interp* interp, std::string_view kind, const mmipc::invalid_name_error& e,
                      std::string_view detail) {
  std::string shown(detail);
  if (shown.empty()) {
    // The name as the script gave it: back from the system encoding to Tcl's.
    Tcl_DString utf;
    Tcl_ExternalToUtfDString(nullptr, e.name().data(), static_cast<Tcl_Size>(e.name().size()),
                             &utf);
    shown.assign(Tcl_DStringValue(&utf), static_cast<std::size_t>(Tcl_DStringLength(&utf)));
    Tcl_DStringFree(&utf);
  }
  return system_error(interp, kind, shown, e.error_number(), e.what());
}

std::string native_name(std::string_view name) {
  Tcl_DString native;
  Tcl_UtfToExternalDString(nullptr, name.data(), static_cast<Tcl_Size>(name.size()), &native);
  std::string out(Tcl_DStringValue(&native), static_cast<std::size_t>(Tcl_DStringLength(&native)));
  Tcl_DStringFree(&native);
  return out;
}

std::vector<std::string_view> words(int objc, Tcl_Obj* const objv[], int first) {
  std::vector<std::string_view> out;
  for (int i = first; i < objc; ++i) {
    Tcl_Size length = 0;
    const char* text = Tcl_GetStringFromObj(objv[i], &length);
    out.emplace_back(text, static_cast<std::size_t>(length));
  }
  return out;
}

int configure_new_channel(Tcl_Interp* interp, Tcl_Channel chan, const mmipc::open_access& access,
                          bool nonblocking_mode) {
  if (access.binary && Tcl_SetChannelOption(interp, chan, "-translation", "binary") != TCL_OK) {
    return TCL_ERROR;
  }
  // Keeps Tcl's idea of the mode in step with the descriptor's O_NONBLOCK.
  if (nonblocking_mode && (access.flags & O_NONBLOCK) &&
      Tcl_SetChannelOption(interp, chan, "-blocking", "0") != TCL_OK) {
    return TCL_ERROR;
  }
  return TCL_OK;
}

int bad_option(Tcl_Interp* interp, const char* name, const char* options) {
  Tcl_BadChannelOption(interp, name, options);
  if (interp != nullptr) {
    const std::string code = mmipc::tcl::error_code(mmipc::tcl::code_option, name);
    Tcl_SetObjErrorCode(interp, Tcl_NewStringObj(code.data(), static_cast<Tcl_Size>(code.size())));
  }
  return TCL_ERROR;
}

int return_new_channel(Tcl_Interp* interp, Tcl_Channel chan) {
  Tcl_RegisterChannel(interp, chan);
  Tcl_SetObjResult(interp, Tcl_NewStringObj(Tcl_GetChannelName(chan), -1));
  return TCL_OK;
}

namespace {

// Built by a script: the exact -map of each ensemble is part of the contract, and a script
// states it more plainly than the C API would. No prefixes, as in the original: `mq op` is
// `unknown subcommand "op": must be open, receive, send, or unlink`.
constexpr const char* ensembles = R"tcl(
namespace eval ::posixipc {
    namespace export mq shm
    namespace ensemble create -command ::posixipc::mq -prefixes 0 -map {open ::posixipc::mq::open send ::posixipc::mq::send receive ::posixipc::mq::receive unlink ::posixipc::mq::unlink}
    namespace ensemble create -command ::posixipc::shm -prefixes 0 -map {open ::posixipc::shm::open unlink ::posixipc::shm::unlink}
    namespace ensemble create -command ::posixipc -prefixes 0 -map {mq ::posixipc::mq shm ::posixipc::shm}
}
)tcl";

Tcl_Config config[] = {
    {"pkgname", PACKAGE_NAME},
    {"version", PACKAGE_VERSION},
    {"copyright", "Copyright (c) the mmipc authors"},
    {nullptr, nullptr},
};

int init(Tcl_Interp* interp) {
  if (mmipc::tcl::init_package(interp, PACKAGE_NAME,
                               "it gives access to system-wide IPC objects") != TCL_OK)
    return TCL_ERROR;
  if (Tcl_CreateNamespace(interp, "::posixipc", nullptr, nullptr) == nullptr) return TCL_ERROR;
  register_mq_commands(interp);
  register_shm_commands(interp);
  if (Tcl_EvalEx(interp, ensembles, -1, TCL_EVAL_GLOBAL) != TCL_OK) return TCL_ERROR;
  Tcl_RegisterConfig(interp, PACKAGE_NAME, config, "utf-8");
  return Tcl_PkgProvide(interp, PACKAGE_NAME, PACKAGE_VERSION);
}

}  // namespace
}  // namespace posixipc

extern "C" {
// Entry point named by pkgIndex.tcl (`load ... Posixipc`).
__attribute__((visibility("default"))) int Posixipc_Init(Tcl_Interp* interp) {
  return posixipc::init(interp);
}
// Entry point for safe interpreters: always refuses, with the reason (see init()).
__attribute__((visibility("default"))) int Posixipc_SafeInit(Tcl_Interp* interp) {
  return posixipc::init(interp);
}
}
