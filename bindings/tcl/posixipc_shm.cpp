// posixipc shm: POSIX named shared memory objects as Tcl channels of type "shm", and the
// commands shm open / unlink. The object, its lock (the lock object's robust mutex, then the
// semaphore of posixipc 1.0) and the channel rules (reads stop at the end, writes stop at the end
// and then fail with ENOSPC, seeks bounded to [0, size]) are the core's (mmipc::shared_memory).

#include <fcntl.h>

#include <cstring>
#include <memory>
#include <string>

#include "mmipc/shared_memory.hpp"
#include "posixipc.hpp"

namespace posixipc {
namespace {

constexpr std::string_view kind = "shm";

struct shm_channel {
  mmipc::shared_memory shm;
  Tcl_Channel channel = nullptr;
  int mode = 0;
  mmipc::tcl::always_ready events;  // chan event notifications
};

int input_proc(ClientData instance, char* buf, int to_read, int* error_code) {
  auto* s = static_cast<shm_channel*>(instance);
  try {
    return static_cast<int>(s->shm.read(std::as_writable_bytes(std::span(buf, to_read))));
  } catch (...) {
    *error_code = mmipc::tcl::channel_exception_errno(s->channel, true);
    return -1;
  }
}

int output_proc(ClientData instance, const char* buf, int to_write, int* error_code) {
  auto* s = static_cast<shm_channel*>(instance);
  try {
    // Stops at the end; the next call then fails with ENOSPC (the original returned 0 there,
    // which made Tcl's flush retry forever).
    return static_cast<int>(s->shm.write(std::as_bytes(std::span(buf, to_write))));
  } catch (...) {
    *error_code = mmipc::tcl::channel_exception_errno(s->channel, false);
    return -1;
  }
}

long long wide_seek_proc(ClientData instance, long long offset, int mode, int* error_code) {
  auto* s = static_cast<shm_channel*>(instance);
  mmipc::whence origin{};
  if (!mmipc::tcl::to_whence(mode, origin)) {
    *error_code = EINVAL;
    return -1;
  }
  try {
    return static_cast<long long>(s->shm.seek(offset, origin));
  } catch (...) {
    *error_code = mmipc::tcl::current_exception_errno();
    return -1;
  }
}

int close_proc(ClientData instance, Tcl_Interp* /*interp*/) {
  auto* s = static_cast<shm_channel*>(instance);
  delete s;
  return 0;
}

[[maybe_unused]] int close2_proc(ClientData instance, Tcl_Interp* interp, int flags) {
  if ((flags & (TCL_CLOSE_READ | TCL_CLOSE_WRITE)) != 0) return EINVAL;  // no half-close
  return close_proc(instance, interp);
}

// Close handler (run by Tcl_Close before it flushes and writes the output end-of-file
// character at the position): memory has no end to append to, so that character would
// overwrite a byte of the object, even after a script that only read. The output eofchar is
// never written into shared memory; what the script wrote is still flushed.
void clear_output_eofchar(ClientData instance) {
  auto* s = static_cast<shm_channel*>(instance);
  Tcl_SetChannelOption(nullptr, s->channel, "-eofchar", "");
}

int set_option_proc(ClientData /*instance*/, Tcl_Interp* interp, const char* name,
                    const char* /*value*/) {
  if (std::strcmp(name, "-size") == 0) {
    if (interp == nullptr) return TCL_ERROR;
    return mmipc::tcl::readonly_error(
        interp, name, "posixipc shm: set option: -size option may not be set by configuration");
  }
  return bad_option(interp, name, "size");
}

int get_option_proc(ClientData instance, Tcl_Interp* interp, const char* name, Tcl_DString* out) {
  auto* s = static_cast<shm_channel*>(instance);
  const std::string size = std::to_string(s->shm.size());
  if (name == nullptr) {
    Tcl_DStringAppendElement(out, "-size");
    Tcl_DStringAppendElement(out, size.c_str());
    return TCL_OK;
  }
  if (std::strcmp(name, "-size") == 0) {
    Tcl_DStringAppend(out, size.c_str(), -1);
    return TCL_OK;
  }
  return bad_option(interp, name, "size");
}

void watch_proc(ClientData instance, int mask) {
  auto* s = static_cast<shm_channel*>(instance);
  s->events.watch(s->channel, mask, s->mode);
}

int get_handle_proc(ClientData instance, int /*direction*/, ClientData* handle) {
  auto* s = static_cast<shm_channel*>(instance);
  *handle = reinterpret_cast<ClientData>(static_cast<intptr_t>(s->shm.native_handle()));
  return TCL_OK;
}

int block_mode_proc(ClientData /*instance*/, int /*mode*/) {
  // Memory does not block (waiting for the lock is always done), and the end of the object
  // is the end of file in either mode: reads return 0 there, never EAGAIN.
  return 0;
}

void thread_action_proc(ClientData instance, int action) {
  // Timers belong to the thread that created them; the new thread re-arms through watchProc.
  if (action == TCL_CHANNEL_THREAD_REMOVE) static_cast<shm_channel*>(instance)->events.stop();
}

const Tcl_ChannelType shm_channel_type = {
    "shm",                  // typeName
    TCL_CHANNEL_VERSION_5,  // version: wide seek, thread action, truncate
    MMIPC_TCL_WHOLE_CLOSE_PROC(close_proc, close2_proc),  // closeProc: unmap and close (Tcl 8.6)
    input_proc,                           // inputProc: under the lock, stops at the end
    output_proc,                          // outputProc: under the lock, ENOSPC at the end
    MMIPC_TCL_SEEK_PROC(wide_seek_proc),  // seekProc: narrow seek, Tcl 8.6 only
    set_option_proc,                      // setOptionProc: -size is read-only
    get_option_proc,                      // getOptionProc: -size
    watch_proc,                           // watchProc: always ready, timer driven
    get_handle_proc,                      // getHandleProc: the object's descriptor
    MMIPC_TCL_WHOLE_CLOSE2_PROC(close_proc, close2_proc),  // close2Proc: unmap and close (Tcl 9)
    block_mode_proc,                                       // blockModeProc: nothing to change
    nullptr,                                               // flushProc: reserved by Tcl
    nullptr,                                               // handlerProc: not a stacked channel
    wide_seek_proc,                                        // wideSeekProc: bounded to [0, size]
    thread_action_proc,  // threadActionProc: drops the timer on thread::transfer
    nullptr,             // truncateProc: the size is fixed
};

constexpr std::string_view semaphore_detail =
    "cannot open shared memory exclusive access semaphore";

// shm open ?options? sharedname ?access? ?permissions?
int open_command(ClientData, Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  return run(interp, kind, [&] {
    constexpr const char* usage = "?options? sharedname ?access? ?permissions?";
    mmipc::open_request request;
    try {
      request = mmipc::parse_open_request(mmipc::ipc_kind::shared_memory, words(objc, objv, 1),
                                          tcl_syntax(interp));
    } catch (const mmipc::usage_error&) {
      Tcl_WrongNumArgs(interp, 1, objv, usage);
      return TCL_ERROR;
    } catch (const mmipc::option_error& e) {
      // The original knew -size only, and took any other option for a surplus argument.
      Tcl_WrongNumArgs(interp, 1, objv, usage);
      mmipc::tcl::add_error_info(
          interp, "unknown option \"" + e.option() + "\": shm open takes -size bytes only");
      return TCL_ERROR;
    } catch (const mmipc::invalid_name_error& e) {
      // The original opened the semaphore first, and that step refused the name.
      return name_error_result(interp, kind, e, semaphore_detail);
    }
    // NONBLOCK is accepted and ignored, as in the original: memory never blocks, so the
    // channel starts blocking (and its reads reach the end of file at the end of the object).
    const int flags = request.access.flags & ~O_NONBLOCK;
    auto s = std::make_unique<shm_channel>();
    const std::string object = native_name(request.name);
    try {
      s->shm = mmipc::shared_memory::open(object, flags, request.permissions, request.size);
    } catch (const mmipc::invalid_name_error& e) {
      return name_error_result(interp, kind, e, semaphore_detail);
    } catch (const mmipc::argument_error&) {
      throw;
    } catch (const mmipc::shm_size_error& e) {
      return mmipc::tcl::invalid_error(interp, "-size", e.what());  // creating without one
    } catch (const std::invalid_argument& e) {
      // An object that is not what its name says (a lock object of another kind, ...).
      return mmipc::tcl::invalid_error(interp, "sharedname", e.what());
    } catch (const mmipc::os_error& e) {
      // The original opened the semaphore first, with the object's name, flags and
      // permissions: a missing object (ENOENT), an existing one with EXCL (EEXIST) or one
      // the caller may not open (EACCES) stopped it there, and it said so. Other failures
      // (a symbolic link planted at the object's path, ...) came from the object itself, and
      // the lock object's are ours alone (the original had none): they name it.
      const int err = e.error_number();
      const bool at_object = e.op() == "shm_open" && e.name() == object &&
                             (err == ENOENT || err == EEXIST || err == EACCES);
      if (e.op() != "sem_open" && !at_object) throw;
      std::string info;  // the core's explanation, if any (write-only access refused)
      if (auto* x = dynamic_cast<const mmipc::explained_error*>(&e)) info = x->explanation();
      return system_error(interp, kind, semaphore_detail, e.error_number(), info);
    }
    s->mode = (s->shm.readable() ? TCL_READABLE : 0) | (s->shm.writable() ? TCL_WRITABLE : 0);
    const std::string name = "posixshm" + std::to_string(s->shm.native_handle());
    shm_channel* raw = s.release();
    raw->channel = Tcl_CreateChannel(&shm_channel_type, name.c_str(), raw, raw->mode);
    if (raw->mode & TCL_WRITABLE) Tcl_CreateCloseHandler(raw->channel, clear_output_eofchar, raw);
    // Cannot fail: only -translation binary may be set here.
    configure_new_channel(interp, raw->channel, request.access, false);
    return return_new_channel(interp, raw->channel);
  });
}

// shm unlink shmname
int unlink_command(ClientData, Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  if (objc != 2) {
    Tcl_WrongNumArgs(interp, 1, objv, "shmname");
    return TCL_ERROR;
  }
  return run(interp, kind, [&] {
    mmipc::shared_memory::unlink(native_name(Tcl_GetString(objv[1])));
    return TCL_OK;
  });
}

}  // namespace

void register_shm_commands(Tcl_Interp* interp) {
  Tcl_CreateNamespace(interp, "::posixipc::shm", nullptr, nullptr);
  Tcl_CreateObjCommand(interp, "::posixipc::shm::open", open_command, nullptr, nullptr);
  Tcl_CreateObjCommand(interp, "::posixipc::shm::unlink", unlink_command, nullptr, nullptr);
}

}  // namespace posixipc
