// posixipc mq: POSIX message queues as Tcl channels of type "mq", and the commands
// mq open / send / receive / unlink. Queue semantics (names, flags, limits, timeouts) are
// the core's (mmipc::message_queue); this file maps them onto Tcl's channel driver.
//
// The channel's buffer size is the queue's message size: each low-level read is one
// mq_receive (recording -lastpriority) and each low-level write one mq_send at -priority, so
// `-buffering line` sends one message per line and `-buffering full` packs several lines.

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mmipc/message_queue.hpp"
#include "posixipc.hpp"

namespace posixipc {
namespace {

constexpr std::string_view kind = "mq";

struct mq_channel {
  mmipc::message_queue queue;
  Tcl_Channel channel = nullptr;
  int mode = 0;                // TCL_READABLE | TCL_WRITABLE, from the access flags
  std::size_t msgsize = 0;     // the queue's message size
  unsigned priority = 0;       // -priority: for messages written through the channel
  unsigned last_priority = 0;  // -lastpriority
  // Tcl asks for fewer than msgsize bytes when its buffer is partly filled: the stream keeps
  // the rest of such a message for the following reads.
  mmipc::message_stream stream;
  int watch_mask = 0;
  bool file_handler = false;
  Tcl_TimerToken timer = nullptr;
};

// ---- channel driver -----------------------------------------------------------------------

int input_proc(ClientData instance, char* buf, int to_read, int* error_code) {
  auto* q = static_cast<mq_channel*>(instance);
  try {
    return static_cast<int>(q->stream.read(
        q->queue, std::as_writable_bytes(std::span(buf, static_cast<std::size_t>(to_read))),
        q->last_priority));
  } catch (...) {
    *error_code = mmipc::tcl::current_exception_errno();
    return -1;
  }
}

int output_proc(ClientData instance, const char* buf, int to_write, int* error_code) {
  auto* q = static_cast<mq_channel*>(instance);
  // One message per flush; never more than a message holds (a -buffersize larger than the
  // message size makes Tcl hand over more: it writes the rest with the next call).
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(to_write), q->msgsize);
  if (n == 0) return 0;
  try {
    q->queue.send(std::as_bytes(std::span(buf, n)), q->priority);
    return static_cast<int>(n);
  } catch (...) {
    *error_code = mmipc::tcl::current_exception_errno();
    return -1;
  }
}

void delete_watch(mq_channel* q) {
  if (q->file_handler) {
    Tcl_DeleteFileHandler(q->queue.native_handle());
    q->file_handler = false;
  }
  if (q->timer != nullptr) {
    Tcl_DeleteTimerHandler(q->timer);
    q->timer = nullptr;
  }
}

int close_proc(ClientData instance, Tcl_Interp* /*interp*/) {
  auto* q = static_cast<mq_channel*>(instance);
  delete_watch(q);
  delete q;  // mq_close
  return 0;
}

[[maybe_unused]] int close2_proc(ClientData instance, Tcl_Interp* interp, int flags) {
  if ((flags & (TCL_CLOSE_READ | TCL_CLOSE_WRITE)) != 0) return EINVAL;  // no half-close
  return close_proc(instance, interp);
}

enum class mq_option { curmsgs, lastpriority, maxmsg, msgsize, priority };

std::optional<mq_option> find_option(const char* name) {
  // Exact names only, as in the original (no unique prefixes).
  static const std::pair<const char*, mq_option> table[] = {
      {"-curmsgs", mq_option::curmsgs},   {"-lastpriority", mq_option::lastpriority},
      {"-maxmsg", mq_option::maxmsg},     {"-msgsize", mq_option::msgsize},
      {"-priority", mq_option::priority},
  };
  for (const auto& [text, option] : table) {
    if (std::strcmp(name, text) == 0) return option;
  }
  return std::nullopt;
}

constexpr const char* option_list = "curmsgs lastpriority maxmsg msgsize priority";

int set_option_proc(ClientData instance, Tcl_Interp* interp, const char* name, const char* value) {
  auto* q = static_cast<mq_channel*>(instance);
  auto option = find_option(name);
  if (!option) return bad_option(interp, name, option_list);
  if (*option != mq_option::priority) {
    if (interp == nullptr) return TCL_ERROR;
    return mmipc::tcl::readonly_error(interp, name,
                                      "posixipc mq: set option: " + std::string(name) +
                                          " option may not be set by configuration");
  }
  return run(interp, kind, [&] {
    Tcl_Obj* text = Tcl_NewStringObj(value, -1);
    Tcl_IncrRefCount(text);
    long long priority = 0;
    try {
      priority = get_integer(interp, text);
    } catch (...) {
      Tcl_DecrRefCount(text);
      throw;
    }
    Tcl_DecrRefCount(text);
    std::string refused;
    if (priority < 0) {
      refused = "invalid negative message priority: " + std::to_string(priority);
    } else {
      try {
        q->priority = mmipc::check_priority_limit(priority, name);
        return TCL_OK;
      } catch (const mmipc::argument_error& e) {
        refused = e.what();
      }
    }
    if (interp == nullptr) return TCL_ERROR;
    return mmipc::tcl::invalid_error(interp, name, "posixipc mq: set option: " + refused);
  });
}

int get_option_proc(ClientData instance, Tcl_Interp* interp, const char* name, Tcl_DString* out) {
  auto* q = static_cast<mq_channel*>(instance);
  std::optional<mq_option> option;
  if (name != nullptr) {
    option = find_option(name);
    if (!option) return bad_option(interp, name, option_list);
  }
  return run(interp, kind, [&] {
    const mmipc::mq_attributes attributes = q->queue.attributes();
    auto value_of = [&](mq_option o) -> long long {
      switch (o) {
        case mq_option::curmsgs:
          return attributes.current_messages;
        case mq_option::lastpriority:
          return q->last_priority;
        case mq_option::maxmsg:
          return attributes.max_messages;
        case mq_option::msgsize:
          return attributes.message_size;
        case mq_option::priority:
          return q->priority;
      }
      return 0;
    };
    if (option) {
      Tcl_DStringAppend(out, std::to_string(value_of(*option)).c_str(), -1);
      return TCL_OK;
    }
    static const std::pair<const char*, mq_option> all[] = {
        {"-curmsgs", mq_option::curmsgs},   {"-lastpriority", mq_option::lastpriority},
        {"-maxmsg", mq_option::maxmsg},     {"-msgsize", mq_option::msgsize},
        {"-priority", mq_option::priority},
    };
    for (const auto& [text, o] : all) {
      Tcl_DStringAppendElement(out, text);
      Tcl_DStringAppendElement(out, std::to_string(value_of(o)).c_str());
    }
    return TCL_OK;
  });
}

void file_ready(ClientData instance, int mask) {
  auto* q = static_cast<mq_channel*>(instance);
  Tcl_NotifyChannel(q->channel, mask);
}

void leftover_ready(ClientData instance) {
  auto* q = static_cast<mq_channel*>(instance);
  q->timer = nullptr;
  // Part of a message waits in our own buffer: the descriptor would not say so.
  if ((q->watch_mask & TCL_READABLE) && q->stream.pending())
    Tcl_NotifyChannel(q->channel, TCL_READABLE);
}

void watch_proc(ClientData instance, int mask) {
  auto* q = static_cast<mq_channel*>(instance);
  delete_watch(q);
  q->watch_mask = mask & q->mode;
  if (q->watch_mask == 0) return;
  // On Linux a queue descriptor is a file descriptor that poll()/select() understand:
  // readable when a message waits, writable when there is room.
  Tcl_CreateFileHandler(q->queue.native_handle(), q->watch_mask, file_ready, q);
  q->file_handler = true;
  if ((q->watch_mask & TCL_READABLE) && q->stream.pending()) {
    q->timer = Tcl_CreateTimerHandler(0, leftover_ready, q);
  }
}

int get_handle_proc(ClientData instance, int /*direction*/, ClientData* handle) {
  auto* q = static_cast<mq_channel*>(instance);
  *handle = reinterpret_cast<ClientData>(static_cast<intptr_t>(q->queue.native_handle()));
  return TCL_OK;
}

int block_mode_proc(ClientData instance, int mode) {
  auto* q = static_cast<mq_channel*>(instance);
  try {
    q->queue.set_nonblocking(mode == TCL_MODE_NONBLOCKING);
    return 0;
  } catch (...) {
    return mmipc::tcl::current_exception_errno();
  }
}

void thread_action_proc(ClientData instance, int action) {
  // File and timer handlers belong to a thread: drop them when the channel leaves it; the
  // new thread re-arms them through watchProc.
  if (action == TCL_CHANNEL_THREAD_REMOVE) {
    auto* q = static_cast<mq_channel*>(instance);
    delete_watch(q);
    q->watch_mask = 0;
  }
}

const Tcl_ChannelType mq_channel_type = {
    "mq",                   // typeName: shown by errors and `chan configure`
    TCL_CHANNEL_VERSION_5,  // version: thread action and truncate slots
    MMIPC_TCL_WHOLE_CLOSE_PROC(close_proc, close2_proc),  // closeProc: mq_close (Tcl 8.6)
    input_proc,       // inputProc: one mq_receive, recording -lastpriority
    output_proc,      // outputProc: one mq_send at -priority
    nullptr,          // seekProc: a queue cannot seek
    set_option_proc,  // setOptionProc: -priority (others read-only)
    get_option_proc,  // getOptionProc: -curmsgs -lastpriority -maxmsg -msgsize -priority
    watch_proc,       // watchProc: file handler on the queue descriptor
    get_handle_proc,  // getHandleProc: the queue descriptor
    MMIPC_TCL_WHOLE_CLOSE2_PROC(close_proc, close2_proc),  // close2Proc: mq_close (Tcl 9)
    block_mode_proc,     // blockModeProc: O_NONBLOCK through mq_setattr
    nullptr,             // flushProc: reserved by Tcl
    nullptr,             // handlerProc: not a stacked channel
    nullptr,             // wideSeekProc: a queue cannot seek
    thread_action_proc,  // threadActionProc: drops handlers on thread::transfer
    nullptr,             // truncateProc: a queue cannot be truncated
};

// ---- commands -----------------------------------------------------------------------------

// mq open ?options? queuename ?access? ?permissions?
int open_command(ClientData, Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  return run(interp, kind, [&] {
    mmipc::open_request request;
    try {
      request = mmipc::parse_open_request(mmipc::ipc_kind::message_queue, words(objc, objv, 1),
                                          tcl_syntax(interp));
    } catch (const mmipc::usage_error&) {
      Tcl_WrongNumArgs(interp, 1, objv, "?options? queuename ?access? ?permissions?");
      return TCL_ERROR;
    } catch (const mmipc::option_error& e) {
      if (e.unknown()) return bad_option(interp, e.option().c_str(), option_list);
      return mmipc::tcl::option_error(interp, e.option(), e.what());
    }
    std::optional<mmipc::mq_capacity> capacity;
    if (request.max_messages || request.message_size) {
      // An option not given takes the system default, as the kernel would.
      capacity = mmipc::mq_limits::current().capacity(request.max_messages, request.message_size);
    }
    auto q = std::make_unique<mq_channel>();
    q->queue = mmipc::message_queue::open(native_name(request.name), request.access.flags,
                                          request.permissions, capacity);
    q->msgsize = static_cast<std::size_t>(q->queue.message_size());
    q->priority = request.priority;
    const int access = request.access.flags & O_ACCMODE;
    q->mode = access == O_RDONLY   ? TCL_READABLE
              : access == O_WRONLY ? TCL_WRITABLE
                                   : TCL_READABLE | TCL_WRITABLE;
    const std::string name = "posixmq" + std::to_string(q->queue.native_handle());
    mq_channel* raw = q.release();
    raw->channel = Tcl_CreateChannel(&mq_channel_type, name.c_str(), raw, raw->mode);
    Tcl_SetChannelBufferSize(raw->channel,
                             static_cast<int>(std::min<std::size_t>(raw->msgsize, INT_MAX)));
    if (configure_new_channel(interp, raw->channel, request.access, true) != TCL_OK) {
      // Cannot happen on a descriptor just opened (mq_setattr only fails on a bad one).
      Tcl_RegisterChannel(interp, raw->channel);
      Tcl_UnregisterChannel(interp, raw->channel);
      return TCL_ERROR;
    }
    return return_new_channel(interp, raw->channel);
  });
}

// Reads "?-timeout ms?" at objv[1] (checked by the core: parse_timeout_ms); advances `first`
// past it.
void parse_timeout(Tcl_Interp* interp, int objc, Tcl_Obj* const objv[], int& first,
                   std::optional<std::chrono::milliseconds>& timeout) {
  if (objc > 2 && std::strcmp(Tcl_GetString(objv[1]), "-timeout") == 0) {
    timeout = mmipc::parse_timeout_ms(get_integer(interp, objv[2]));
    first = 3;
  }
}

// The original's usage line, verbatim (scripts match on it); -timeout, ours, in errorInfo.
int wrong_args(Tcl_Interp* interp, Tcl_Obj* const objv[], const char* usage) {
  Tcl_WrongNumArgs(interp, 1, objv, usage);
  mmipc::tcl::add_error_info(interp, "also accepted: ?-timeout ms? before mqchan");
  return TCL_ERROR;
}

int get_queue(Tcl_Interp* interp, Tcl_Obj* name, mq_channel*& out) {
  Tcl_Channel chan = nullptr;
  if (mmipc::tcl::get_channel_of_type(interp, name, &mq_channel_type, "a message queue channel",
                                      chan) != TCL_OK) {
    return TCL_ERROR;
  }
  out = static_cast<mq_channel*>(Tcl_GetChannelInstanceData(chan));
  return TCL_OK;
}

// mq send ?-timeout ms? mqchan msg ?priority?
int send_command(ClientData, Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  return run(interp, kind, [&] {
    int first = 1;
    std::optional<std::chrono::milliseconds> timeout;
    parse_timeout(interp, objc, objv, first, timeout);
    const int args = objc - first;
    if (args < 2 || args > 3) return wrong_args(interp, objv, "mqchan msg ?priority?");
    mq_channel* q = nullptr;
    if (get_queue(interp, objv[first], q) != TCL_OK) return TCL_ERROR;
    unsigned priority = q->priority;
    if (args == 3) {
      const long long value = get_integer(interp, objv[first + 2]);
      if (value < 0) {
        return mmipc::tcl::invalid_error(
            interp, "priority",
            "negative values for priority are not allowed: got " + std::to_string(value));
      }
      priority = mmipc::check_priority_limit(value, "priority");
    }
    // Tcl 9 refuses a character above U+00FF here, as its binary channels do; Tcl 8.6 keeps
    // its low byte.
    Tcl_Size length = 0;
    const unsigned char* bytes = mmipc::tcl::get_bytes(interp, objv[first + 1], &length);
    if (bytes == nullptr) return TCL_ERROR;
    auto message = std::as_bytes(std::span(bytes, static_cast<std::size_t>(length)));
    if (timeout) {
      if (!q->queue.send(message, priority, *timeout)) {
        return system_error(interp, kind, "mq_send failed", ETIMEDOUT);
      }
    } else {
      q->queue.send(message, priority);
    }
    Tcl_SetObjResult(interp, Tcl_NewWideIntObj(length));
    return TCL_OK;
  });
}

// mq receive ?-timeout ms? mqchan ?priorvar?
int receive_command(ClientData, Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  return run(interp, kind, [&] {
    int first = 1;
    std::optional<std::chrono::milliseconds> timeout;
    parse_timeout(interp, objc, objv, first, timeout);
    const int args = objc - first;
    if (args < 1 || args > 2) return wrong_args(interp, objv, "mqchan ?priorvar?");
    mq_channel* q = nullptr;
    if (get_queue(interp, objv[first], q) != TCL_OK) return TCL_ERROR;
    // Exactly the message's bytes (the original returned its whole msgsize buffer). The
    // msgsize buffer is reused and the size is the one cached at open (a queue's msgsize never
    // changes): no mq_getattr and no 8 KiB clearing per message, which measured a third of the
    // system calls of a round trip (bench/README.md).
    thread_local std::vector<std::byte> buffer;
    if (buffer.size() < q->msgsize) buffer.resize(q->msgsize);
    unsigned priority = 0;
    std::size_t n = 0;
    if (timeout) {
      auto got = q->queue.receive(std::span(buffer).first(q->msgsize), &priority, *timeout);
      if (!got) return system_error(interp, kind, "mq_receive failed", ETIMEDOUT);
      n = *got;
    } else {
      n = q->queue.receive(std::span(buffer).first(q->msgsize), &priority);
    }
    q->last_priority = priority;
    Tcl_Obj* message = Tcl_NewByteArrayObj(reinterpret_cast<const unsigned char*>(buffer.data()),
                                           static_cast<Tcl_Size>(n));
    if (args == 2) {
      Tcl_IncrRefCount(message);
      Tcl_Obj* set = Tcl_ObjSetVar2(interp, objv[first + 1], nullptr, Tcl_NewWideIntObj(priority),
                                    TCL_LEAVE_ERR_MSG);
      if (set == nullptr) {
        Tcl_DecrRefCount(message);
        return TCL_ERROR;
      }
      Tcl_SetObjResult(interp, message);
      Tcl_DecrRefCount(message);
      return TCL_OK;
    }
    Tcl_SetObjResult(interp, message);
    return TCL_OK;
  });
}

// mq unlink queuename
int unlink_command(ClientData, Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  if (objc != 2) {
    Tcl_WrongNumArgs(interp, 1, objv, "queuename");
    return TCL_ERROR;
  }
  return run(interp, kind, [&] {
    mmipc::message_queue::unlink(native_name(Tcl_GetString(objv[1])));
    return TCL_OK;
  });
}

}  // namespace

void register_mq_commands(Tcl_Interp* interp) {
  Tcl_CreateNamespace(interp, "::posixipc::mq", nullptr, nullptr);
  Tcl_CreateObjCommand(interp, "::posixipc::mq::open", open_command, nullptr, nullptr);
  Tcl_CreateObjCommand(interp, "::posixipc::mq::send", send_command, nullptr, nullptr);
  Tcl_CreateObjCommand(interp, "::posixipc::mq::receive", receive_command, nullptr, nullptr);
  Tcl_CreateObjCommand(interp, "::posixipc::mq::unlink", unlink_command, nullptr, nullptr);
}

}  // namespace posixipc
