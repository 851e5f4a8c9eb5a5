// mmap::log: the ring log (mmipc::ring_log) of the mmap package, as Tcl channels and commands.
//
//   mmap::log create path size ?-permissions mode?   -> channel (read and append)
//   mmap::log open path ?access? ?-follow?           -> channel; access r (default), a, r+, a+
//   mmap::log append path|channelId data             -> the record's sequence number
//   mmap::log records path|channelId ?-from seq? ?-count n?  -> {seq time data ...}
//   mmap::log stat path|channelId                     -> dict
//
// The channel: what is written becomes records, one per line without its newline (and what
// is flushed without a final newline is a record too); what is read is the records, oldest
// first, each followed by a newline, then end-of-file, or, with -follow, new records as
// writers append them. Every rule (sizes, dropping, checks, waiting) is mmipc::ring_log's;
// this file converts. Laid out like mmap.cpp: driver procedures, the channel type, commands.
//
// Following without polling: a channel watched for readability with -follow has a thread
// that sleeps in the core's wait (a futex in the log's header, woken by writers) on a reader
// of its own, and queues a Tcl event to the channel's thread when records came; the channel
// then notifies Tcl until its own reader has read them all.

#include "mmap_log.hpp"

#include <tcl.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include "ipc_args.hpp"
#include "mmipc/error.hpp"
#include "mmipc/guarded_copy.hpp"
#include "mmipc/ring_log.hpp"
#include "mmipc/timeout.hpp"
#include "tcl_support.hpp"

namespace {

using mmipc::tcl::guarded;
using namespace std::chrono_literals;

// Tcl's largest channel buffer (MAX_CHANNEL_BUFFER_SIZE in tclIO.c, both versions).
constexpr std::uint64_t max_tcl_buffer = 1024 * 1024;
// How long the follower thread sleeps at most before it looks whether its channel closed
// (writers wake it at once). Nothing can wake it for a close, so this is how long it outlives
// its channel: short, so that a script opening and closing followers in a loop does not pile
// threads up; ten idle wake-ups a second cost next to nothing.
constexpr auto follower_slice = 100ms;

struct log_channel;

// What a channel shares with its follower thread. The thread queues events to `thread` (none
// while the channel moves between threads) until `stop`.
struct follower {
  std::mutex mutex;
  bool stop = false;
  bool queued = false;  // an event is on its way: one is enough
  Tcl_ThreadId thread = nullptr;
  log_channel* owner = nullptr;
  mmipc::ring_log_reader reader;  // the thread's own: readers are for one thread at a time
};

// One log channel.
struct log_channel {
  mmipc::ring_log log;
  mmipc::ring_log_reader reader;  // the read side
  Tcl_Channel channel = nullptr;
  int mode = 0;  // TCL_READABLE and/or TCL_WRITABLE
  bool follow = false;
  bool blocking = true;
  // A record (and its newline) that did not fit in Tcl's buffer: the part still to deliver.
  std::string pending;
  std::size_t pending_at = 0;
  // The write side: the start of a line whose end was not written yet, and whether the rest
  // of a line refused as too long is being dropped.
  std::string partial;
  bool discarding = false;
  bool drained = false;  // the last read found no more records
  int mask = 0;          // the events Tcl watches for
  Tcl_TimerToken timer = nullptr;
  std::shared_ptr<follower> watcher;
};

struct follow_event {
  Tcl_Event header;  // first: Tcl frees the event through it
  log_channel* chan;
};

// ---- errors ------------------------------------------------------------------------------

// errno for an exception caught in a driver procedure of a log channel, with the core's
// message stored on the channel. Call from inside a catch block.
int log_exception_errno(Tcl_Channel channel, bool reading) noexcept {
  try {
    throw;
  } catch (const mmipc::lost_pages_error&) {
    return mmipc::tcl::channel_exception_errno(channel, reading);
  } catch (const mmipc::os_error& e) {
    const int err = e.error_number();
    mmipc::tcl::set_channel_error(channel, reading, e.what(), mmipc::tcl::posix_error_code(err));
    return err;
  } catch (const std::invalid_argument& e) {
    // A record too large for the log (writing), a damaged log (reading).
    const std::string code =
        mmipc::tcl::error_code(mmipc::tcl::code_invalid, reading ? "path" : "data");
    mmipc::tcl::set_channel_error(channel, reading, e.what(), Tcl_NewStringObj(code.c_str(), -1));
    return EINVAL;
  } catch (...) {
    return mmipc::tcl::current_exception_errno();
  }
}

// ---- events -------------------------------------------------------------------------------

// The events Tcl may be told of now: writable always; readable while there may be records
// (a log not followed is always readable, as a file is, end-of-file included).
int ready_mask(const log_channel* chan) {
  int ready = chan->mask & TCL_WRITABLE;
  if ((chan->mask & TCL_READABLE) != 0 && (!chan->follow || !chan->drained)) ready |= TCL_READABLE;
  return ready;
}

void fire(void* instance) {
  auto* chan = static_cast<log_channel*>(instance);
  chan->timer = nullptr;
  const int ready = ready_mask(chan);
  if (ready == 0) return;
  // Re-arm before notifying, and touch nothing after: a handler may close the channel.
  chan->timer = Tcl_CreateTimerHandler(0, fire, chan);
  Tcl_NotifyChannel(chan->channel, ready);
}

void arm(log_channel* chan) {
  if (chan->timer == nullptr && ready_mask(chan) != 0) {
    chan->timer = Tcl_CreateTimerHandler(0, fire, chan);
  }
}

void disarm(log_channel* chan) {
  if (chan->timer != nullptr) {
    Tcl_DeleteTimerHandler(chan->timer);
    chan->timer = nullptr;
  }
}

// A follower thread's news, in the channel's thread: records may be there.
int follow_event_proc(Tcl_Event* event, int flags) {
  if ((flags & TCL_FILE_EVENTS) == 0) return 0;
  log_channel* chan = reinterpret_cast<follow_event*>(event)->chan;
  {
    std::lock_guard<std::mutex> lock(chan->watcher->mutex);
    chan->watcher->queued = false;
  }
  chan->drained = false;
  arm(chan);
  return 1;
}

// Removes the events queued in this thread for `chan`.
void delete_events(log_channel* chan) {
  Tcl_DeleteEvents(
      [](Tcl_Event* event, void* data) -> int {
        return event->proc == follow_event_proc &&
               reinterpret_cast<follow_event*>(event)->chan == static_cast<log_channel*>(data);
      },
      chan);
}

// Tells the channel's thread (under w.mutex).
void post(follower& w) {
  if (w.stop || w.queued || w.thread == nullptr) return;
  auto* event = static_cast<follow_event*>(static_cast<void*>(Tcl_Alloc(sizeof(follow_event))));
  event->header.proc = follow_event_proc;
  event->header.nextPtr = nullptr;
  event->chan = w.owner;
  w.queued = true;
  Tcl_ThreadQueueEvent(w.thread, &event->header, TCL_QUEUE_TAIL);
  Tcl_ThreadAlert(w.thread);
}

// The follower thread: reads what writers append (to know that they did) and sleeps in the
// core's wait between appends. A failure (the file truncated under the log) is left for the
// channel's own read to report: the thread tells the channel once more and ends.
void follow_loop(std::shared_ptr<follower> w) {
  for (;;) {
    bool came = false;
    bool failed = false;
    try {
      while (w->reader.next()) came = true;
    } catch (...) {
      came = failed = true;
    }
    {
      std::lock_guard<std::mutex> lock(w->mutex);
      if (w->stop) return;
      if (came) post(*w);
      if (failed) return;
    }
    try {
      w->reader.wait_for(follower_slice);
    } catch (...) {
      std::lock_guard<std::mutex> lock(w->mutex);
      if (!w->stop) post(*w);
      return;
    }
    std::lock_guard<std::mutex> lock(w->mutex);
    if (w->stop) return;
  }
}

void start_follower(log_channel* chan) {
  if (chan->watcher) return;
  auto w = std::make_shared<follower>();
  w->owner = chan;
  w->thread = Tcl_GetCurrentThread();
  // From the newest record on: the ones before are the channel's to read.
  w->reader = chan->log.reader(chan->log.stats().last_seq + 1);
  std::thread(follow_loop, w).detach();  // ends by itself once told to stop (see stop_follower)
  chan->watcher = std::move(w);
}

void stop_follower(log_channel* chan) {
  if (!chan->watcher) return;
  {
    std::lock_guard<std::mutex> lock(chan->watcher->mutex);
    chan->watcher->stop = true;
  }
  // Not joined, so that close never waits for the thread's sleep to end: from now on it
  // queues nothing (it looks at `stop` under the mutex before each event), touches only
  // what it shares with the channel through its own reference (`follower`, whose reader
  // keeps the file mapped), and ends at its next wake-up, within follower_slice.
  delete_events(chan);
}

// ---- channel driver procedures ------------------------------------------------------------

int close_proc(void* instance, Tcl_Interp* /*interp*/, int flags) {
  if ((flags & (TCL_CLOSE_READ | TCL_CLOSE_WRITE)) != 0) return EINVAL;  // whole channels only
  auto* chan = static_cast<log_channel*>(instance);
  disarm(chan);
  stop_follower(chan);
  int result = 0;
  if (!chan->partial.empty() && !chan->discarding) {
    // A last line without its newline is a record too.
    try {
      chan->log.append(chan->partial);
    } catch (...) {
      result = log_exception_errno(chan->channel, false);
    }
  }
  delete chan;  // unmaps
  return result;
}

int input_proc(void* instance, char* buf, int to_read, int* error_code) {
  auto* chan = static_cast<log_channel*>(instance);
  const auto want = static_cast<std::size_t>(to_read);
  std::size_t done = 0;
  try {
    for (;;) {
      if (chan->pending_at < chan->pending.size()) {
        const std::size_t n = std::min(want - done, chan->pending.size() - chan->pending_at);
        std::memcpy(buf + done, chan->pending.data() + chan->pending_at, n);
        chan->pending_at += n;
        done += n;
        if (done == want) return static_cast<int>(done);
        chan->pending.clear();
        chan->pending_at = 0;
      }
      auto record = chan->reader.next();
      if (record) {
        const std::string_view text = record->text();
        if (text.size() < want - done) {
          std::memcpy(buf + done, text.data(), text.size());
          done += text.size();
          buf[done++] = '\n';
        } else {
          chan->pending.assign(text);
          chan->pending.push_back('\n');
        }
        continue;
      }
      chan->drained = true;
      if (done > 0 || !chan->follow) return static_cast<int>(done);  // 0: end of file
      if (!chan->blocking) {
        *error_code = EAGAIN;
        return -1;
      }
      chan->reader.wait_for(mmipc::forever);  // a blocking read of a followed log waits
      chan->drained = false;
    }
  } catch (...) {
    if (done > 0) return static_cast<int>(done);  // the error comes with the next read
    *error_code = log_exception_errno(chan->channel, true);
    return -1;
  }
}

int output_proc(void* instance, const char* buf, int to_write, int* error_code) {
  auto* chan = static_cast<log_channel*>(instance);
  const auto size = static_cast<std::size_t>(to_write);
  std::size_t done = 0;
  try {
    // One record per line, without its newline. Tcl hands over what it flushes, which may
    // end inside a line (puts writes the newline apart from the text): the start of a line
    // waits here for its end, or for the channel to close.
    while (done < size) {
      const char* start = buf + done;
      const auto* newline = static_cast<const char*>(std::memchr(start, '\n', size - done));
      const std::size_t length =
          newline != nullptr ? static_cast<std::size_t>(newline - start) : size - done;
      done += length + (newline != nullptr ? 1 : 0);
      if (chan->discarding) {
        // The rest of a line already refused as too long.
      } else if (newline != nullptr && chan->partial.empty()) {
        chan->log.append(std::string_view(start, length));
      } else {
        chan->partial.append(start, length);
        if (newline != nullptr || chan->partial.size() > chan->log.max_record_size()) {
          // A whole line, or one already too long for the log: the core appends it or says
          // why not (naming both sizes), and the rest of a refused line is dropped.
          std::string line = std::move(chan->partial);
          chan->partial.clear();
          chan->discarding = newline == nullptr;
          chan->log.append(line);
        }
      }
      if (newline != nullptr) chan->discarding = false;
    }
    return to_write;
  } catch (...) {
    *error_code = log_exception_errno(chan->channel, false);
    return -1;  // Tcl drops the rest of its buffer
  }
}

int set_option_proc(void* /*instance*/, Tcl_Interp* interp, const char* name,
                    const char* /*value*/) noexcept {
  if (std::strcmp(name, "-follow") == 0) {
    return mmipc::tcl::refuse_read_only_option(interp, name, "the log is opened");
  }
  return Tcl_BadChannelOption(interp, name, "");  // none to set: only the generic ones
}

int get_option_proc(void* instance, Tcl_Interp* interp, const char* name,
                    Tcl_DString* out) noexcept {
  auto* chan = static_cast<log_channel*>(instance);
  const char* follow = chan->follow ? "1" : "0";
  if (name == nullptr) {
    Tcl_DStringAppendElement(out, "-follow");
    Tcl_DStringAppendElement(out, follow);
    return TCL_OK;
  }
  if (std::strcmp(name, "-follow") == 0) {
    Tcl_DStringAppendElement(out, follow);
    return TCL_OK;
  }
  return Tcl_BadChannelOption(interp, name, "follow");
}

void watch_proc(void* instance, int mask) {
  auto* chan = static_cast<log_channel*>(instance);
  chan->mask = mask & chan->mode;
  if (chan->follow && (chan->mask & TCL_READABLE) != 0) {
    try {
      start_follower(chan);
    } catch (...) {
      chan->drained = false;  // readable: the read reports what went wrong
    }
  }
  if (ready_mask(chan) == 0) {
    disarm(chan);
  } else {
    arm(chan);
  }
}

int get_handle_proc(void* /*instance*/, int /*direction*/, void** /*handle*/) {
  return TCL_ERROR;  // no OS handle to select on: readiness comes from the log
}

int block_mode_proc(void* instance, int mode) {
  static_cast<log_channel*>(instance)->blocking = mode == TCL_MODE_BLOCKING;
  return 0;
}

void thread_action_proc(void* instance, int action) {
  // Timers and events belong to a thread (thread::transfer): leave this one, and have the
  // follower tell the new one, which re-arms through watchProc.
  auto* chan = static_cast<log_channel*>(instance);
  if (action == TCL_CHANNEL_THREAD_REMOVE) {
    disarm(chan);
    if (chan->watcher) {
      {
        std::lock_guard<std::mutex> lock(chan->watcher->mutex);
        chan->watcher->thread = nullptr;
        chan->watcher->queued = false;
      }
      delete_events(chan);
    }
  } else {
    chan->drained = false;
    if (chan->watcher) {
      std::lock_guard<std::mutex> lock(chan->watcher->mutex);
      chan->watcher->thread = Tcl_GetCurrentThread();
    }
  }
}

// The log channel type.
const Tcl_ChannelType log_channel_type = {
    "mmaplog",              // typeName
    TCL_CHANNEL_VERSION_5,  // version: thread action
    MMIPC_TCL_CLOSE_PROC,   // closeProc: Tcl 8.6 marker for close2Proc
    input_proc,             // inputProc: the records, each followed by a newline
    output_proc,            // outputProc: one record per line
    nullptr,                // seekProc: a log has no positions to seek to
    set_option_proc,        // setOptionProc: none to set
    get_option_proc,        // getOptionProc: -follow
    watch_proc,             // watchProc: timer driven, and the follower's events
    get_handle_proc,        // getHandleProc: no OS handle
    close_proc,             // close2Proc: stops the follower, unmaps
    block_mode_proc,        // blockModeProc: a blocking read of a followed log waits
    nullptr,                // flushProc: reserved by Tcl
    nullptr,                // handlerProc: not a stacked channel
    nullptr,                // wideSeekProc: not seekable
    thread_action_proc,     // threadActionProc: moves timers and events with the channel
    nullptr,                // truncateProc: the size is fixed
};

// ---- commands -----------------------------------------------------------------------------

std::atomic<unsigned> channel_counter{0};

struct option_entry {
  const char* name;
};

// The path as the system names it (Tcl's strings are UTF-8; file names are the system's).
std::string native_path(Tcl_Obj* path) {
  Tcl_DString native;
  const char* utf = Tcl_GetString(path);
  Tcl_UtfToExternalDString(nullptr, utf, -1, &native);
  std::string out(Tcl_DStringValue(&native), static_cast<std::size_t>(Tcl_DStringLength(&native)));
  Tcl_DStringFree(&native);
  return out;
}

// The log channel named `name`, or null when it names none (it is then a path).
log_channel* find_log_channel(Tcl_Interp* interp, Tcl_Obj* name) {
  int mode = 0;
  Tcl_Channel chan = Tcl_GetChannel(interp, Tcl_GetString(name), &mode);
  if (chan == nullptr) {
    Tcl_ResetResult(interp);
    return nullptr;
  }
  for (Tcl_Channel c = chan; c != nullptr; c = Tcl_GetStackedChannel(c)) {
    if (Tcl_GetChannelType(c) == &log_channel_type) {
      // What the script wrote and Tcl still buffers belongs in the log first.
      if ((Tcl_GetChannelMode(chan) & TCL_WRITABLE) != 0) Tcl_Flush(chan);
      return static_cast<log_channel*>(Tcl_GetChannelInstanceData(c));
    }
  }
  return nullptr;
}

// The core's errors about a log file, as the commands report them: a file that cannot be
// opened or created as Tcl's open says it ("couldn't open "<path>": <errno message>",
// errorCode POSIX ...); a file that is not a log, or a damaged one, with the core's message
// (errorCode MMIPC INVALID path).
template <class Body>
int with_log_errors(Tcl_Interp* interp, Tcl_Obj* path, const char* verb, Body&& body) {
  try {
    return body();
  } catch (const mmipc::lost_pages_error&) {
    throw;  // the mapping's failure, as guarded() words it
  } catch (const mmipc::ring_log_error& e) {
    return mmipc::tcl::invalid_error(interp, "path", e.what());
  } catch (const mmipc::os_error& e) {
    return mmipc::tcl::posix_error(
        interp, e.error_number(),
        std::string("couldn't ") + verb + " \"" + Tcl_GetString(path) + "\"");
  }
}

// Makes the channel of an open log and registers it in `interp`.
int make_channel(Tcl_Interp* interp, mmipc::ring_log log, int mode, bool follow) {
  auto chan = std::make_unique<log_channel>();
  chan->reader = log.reader();
  chan->log = std::move(log);
  chan->mode = mode;
  chan->follow = follow;
  char name[32];
  std::snprintf(name, sizeof name, "mmaplog%u", channel_counter.fetch_add(1));
  chan->channel = Tcl_CreateChannel(&log_channel_type, name, chan.get(), mode);
  log_channel* raw = chan.release();  // owned by the channel from here; freed by close
  Tcl_RegisterChannel(interp, raw->channel);
  // Each line reaches the log when it is written (the spec's default); Tcl's largest buffer, so
  // that a line up to 1 MiB long reaches the driver in one piece.
  Tcl_SetChannelOption(nullptr, raw->channel, "-buffering", "line");
  Tcl_SetChannelBufferSize(raw->channel, static_cast<Tcl_Size>(max_tcl_buffer));
  Tcl_SetObjResult(interp, Tcl_NewStringObj(Tcl_GetChannelName(raw->channel), -1));
  return TCL_OK;
}

// mmap::log create path size ?-permissions mode?
int create_impl(Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  static const option_entry options[] = {{"-permissions"}, {nullptr}};
  if (objc != 4 && objc != 6) {
    Tcl_WrongNumArgs(interp, 2, objv, "path size ?-permissions mode?");
    return TCL_ERROR;
  }
  std::uint64_t size = 0;
  if (mmipc::tcl::get_size(interp, objv[3], "size", size) != TCL_OK) return TCL_ERROR;
  mode_t permissions = 0666;
  if (objc == 6) {
    int index = 0;
    if (Tcl_GetIndexFromObjStruct(interp, objv[4], options, sizeof(option_entry), "option", 0,
                                  &index) != TCL_OK) {
      return TCL_ERROR;
    }
    try {
      permissions = mmipc::parse_permissions(Tcl_GetString(objv[5]));
    } catch (const std::invalid_argument& e) {  // argument_error among them
      return mmipc::tcl::invalid_error(interp, "-permissions", e.what());
    }
  }
  const std::string path = native_path(objv[2]);
  return with_log_errors(interp, objv[2], "create", [&] {
    mmipc::ring_log log;
    try {
      log = mmipc::ring_log::create(path, size, permissions);
    } catch (const mmipc::os_error&) {
      throw;
    } catch (const std::invalid_argument& e) {
      // The core's refusal of the size (or of a path with no file name).
      return mmipc::tcl::invalid_error(
          interp, std::filesystem::path(path).filename().empty() ? "path" : "size", e.what());
    }
    return make_channel(interp, std::move(log), TCL_READABLE | TCL_WRITABLE, false);
  });
}

// mmap::log open path ?access? ?-follow?
int open_impl(Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  static const char usage[] = "path ?access? ?-follow?";
  static const option_entry accesses[] = {{"r"}, {"a"}, {"r+"}, {"a+"}, {nullptr}};
  static const int access_modes[] = {TCL_READABLE, TCL_WRITABLE, TCL_READABLE | TCL_WRITABLE,
                                     TCL_READABLE | TCL_WRITABLE};
  static const option_entry options[] = {{"-follow"}, {nullptr}};
  if (objc < 3 || objc > 5) {
    Tcl_WrongNumArgs(interp, 2, objv, usage);
    return TCL_ERROR;
  }
  int mode = TCL_READABLE;
  bool follow = false;
  bool have_access = false;
  for (int i = 3; i < objc; ++i) {
    int index = 0;
    if (Tcl_GetString(objv[i])[0] == '-') {
      if (follow) {
        Tcl_WrongNumArgs(interp, 2, objv, usage);
        return TCL_ERROR;
      }
      if (Tcl_GetIndexFromObjStruct(interp, objv[i], options, sizeof(option_entry), "option", 0,
                                    &index) != TCL_OK) {
        return TCL_ERROR;
      }
      follow = true;
    } else {
      if (have_access || follow) {
        Tcl_WrongNumArgs(interp, 2, objv, usage);
        return TCL_ERROR;
      }
      if (Tcl_GetIndexFromObjStruct(interp, objv[i], accesses, sizeof(option_entry), "access", 0,
                                    &index) != TCL_OK) {
        Tcl_SetObjErrorCode(
            interp, Tcl_NewStringObj(
                        mmipc::tcl::error_code(mmipc::tcl::code_invalid, "access").c_str(), -1));
        return TCL_ERROR;
      }
      mode = access_modes[index];
      have_access = true;
    }
  }
  if (follow && (mode & TCL_READABLE) == 0) {
    return mmipc::tcl::option_error(interp, "-follow",
                                    "-follow needs a log opened for reading (access r, r+ or a+)");
  }
  const std::string path = native_path(objv[2]);
  return with_log_errors(interp, objv[2], "open", [&] {
    // A follower opens the file read-write when it may, though it only reads: then it can
    // tell writers that it sleeps and they wake it (read-only, it looks every 100 ms).
    mmipc::ring_log log;
    if ((mode & TCL_WRITABLE) != 0) {
      log = mmipc::ring_log::open(path, true);
    } else if (follow) {
      try {
        log = mmipc::ring_log::open(path, true);
      } catch (const mmipc::os_error& e) {
        if (e.error_number() != EACCES && e.error_number() != EROFS && e.error_number() != EPERM)
          throw;
        log = mmipc::ring_log::open(path, false);
      }
    } else {
      log = mmipc::ring_log::open(path, false);
    }
    return make_channel(interp, std::move(log), mode, follow);
  });
}

// The log named by a path or a log channel, opened for the time of a command.
struct log_ref {
  mmipc::ring_log own;
  const mmipc::ring_log* log = nullptr;
};

int get_log(Tcl_Interp* interp, Tcl_Obj* name, bool writable, log_ref& out) {
  if (log_channel* chan = find_log_channel(interp, name)) {
    if (writable && (chan->mode & TCL_WRITABLE) == 0) {
      return mmipc::tcl::invalid_error(
          interp, "channelId",
          std::string("channel \"") + Tcl_GetString(name) + "\" wasn't opened for writing");
    }
    out.log = &chan->log;
    return TCL_OK;
  }
  const std::string path = native_path(name);
  return with_log_errors(interp, name, "open", [&] {
    out.own = mmipc::ring_log::open(path, writable);
    out.log = &out.own;
    return TCL_OK;
  });
}

// mmap::log append path|channelId data
int append_impl(Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  if (objc != 4) {
    Tcl_WrongNumArgs(interp, 2, objv, "path|channelId data");
    return TCL_ERROR;
  }
  Tcl_Size length = 0;
  const unsigned char* bytes = mmipc::tcl::get_bytes(interp, objv[3], &length);
  if (bytes == nullptr) return TCL_ERROR;
  log_ref ref;
  if (get_log(interp, objv[2], true, ref) != TCL_OK) return TCL_ERROR;
  std::uint64_t seq = 0;
  try {
    seq = const_cast<mmipc::ring_log*>(ref.log)->append(std::span<const std::byte>(
        reinterpret_cast<const std::byte*>(bytes), static_cast<std::size_t>(length)));
  } catch (const mmipc::os_error&) {
    throw;
  } catch (const std::invalid_argument& e) {
    return mmipc::tcl::invalid_error(interp, "data", e.what());
  }
  Tcl_SetObjResult(interp, mmipc::tcl::new_size_obj(seq));
  return TCL_OK;
}

// mmap::log records path|channelId ?-from seq? ?-count n?
int records_impl(Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  static const char usage[] = "path|channelId ?-from seq? ?-count n?";
  static const option_entry options[] = {{"-from"}, {"-count"}, {nullptr}};
  if (objc < 3 || objc % 2 == 0) {
    Tcl_WrongNumArgs(interp, 2, objv, usage);
    return TCL_ERROR;
  }
  std::uint64_t from = 0;
  std::uint64_t count = UINT64_MAX;
  for (int i = 3; i < objc; i += 2) {
    int index = 0;
    if (Tcl_GetIndexFromObjStruct(interp, objv[i], options, sizeof(option_entry), "option", 0,
                                  &index) != TCL_OK) {
      return TCL_ERROR;
    }
    if (mmipc::tcl::get_size(interp, objv[i + 1], index == 0 ? "-from" : "-count",
                             index == 0 ? from : count) != TCL_OK) {
      return TCL_ERROR;
    }
  }
  log_ref ref;
  if (get_log(interp, objv[2], false, ref) != TCL_OK) return TCL_ERROR;
  Tcl_Obj* result = Tcl_NewListObj(0, nullptr);
  Tcl_IncrRefCount(result);
  const std::unique_ptr<Tcl_Obj, void (*)(Tcl_Obj*)> hold(
      result, [](Tcl_Obj* obj) { Tcl_DecrRefCount(obj); });
  return with_log_errors(interp, objv[2], "open", [&] {
    auto reader = ref.log->reader(from);
    for (std::uint64_t n = 0; n < count; ++n) {
      auto record = reader.next();
      if (!record) break;
      Tcl_ListObjAppendElement(nullptr, result, mmipc::tcl::new_size_obj(record->seq));
      Tcl_ListObjAppendElement(nullptr, result,
                               Tcl_NewWideIntObj(record->time.time_since_epoch().count()));
      Tcl_ListObjAppendElement(
          nullptr, result,
          Tcl_NewByteArrayObj(reinterpret_cast<const unsigned char*>(record->data.data()),
                              static_cast<Tcl_Size>(record->data.size())));
    }
    Tcl_SetObjResult(interp, result);
    return TCL_OK;
  });
}

// mmap::log stat path|channelId
int stat_impl(Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  if (objc != 3) {
    Tcl_WrongNumArgs(interp, 2, objv, "path|channelId");
    return TCL_ERROR;
  }
  log_ref ref;
  if (get_log(interp, objv[2], false, ref) != TCL_OK) return TCL_ERROR;
  return with_log_errors(interp, objv[2], "open", [&] {
    const mmipc::log_stats st = ref.log->stats();
    Tcl_Obj* dict = Tcl_NewDictObj();
    auto put = [&](const char* key, Tcl_Obj* value) {
      Tcl_DictObjPut(nullptr, dict, Tcl_NewStringObj(key, -1), value);
    };
    auto ns = [](mmipc::log_time t) { return Tcl_NewWideIntObj(t.time_since_epoch().count()); };
    put("size", mmipc::tcl::new_size_obj(st.file_size));
    put("capacity", mmipc::tcl::new_size_obj(st.capacity));
    put("maxrecord", mmipc::tcl::new_size_obj(st.max_record_size));
    put("used", mmipc::tcl::new_size_obj(st.bytes_used));
    put("records", mmipc::tcl::new_size_obj(st.records));
    put("firstseq", mmipc::tcl::new_size_obj(st.first_seq));
    put("lastseq", mmipc::tcl::new_size_obj(st.last_seq));
    put("firsttime", ns(st.first_time));
    put("lasttime", ns(st.last_time));
    put("dropped", mmipc::tcl::new_size_obj(st.dropped));
    put("repaired", mmipc::tcl::new_size_obj(st.repairs));
    put("created", ns(st.created));
    Tcl_SetObjResult(interp, dict);
    return TCL_OK;
  });
}

// mmap::log subcommand ?arg ...?
int log_command(void* /*data*/, Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  static const option_entry subcommands[] = {{"append"},  {"create"}, {"open"},
                                             {"records"}, {"stat"},   {nullptr}};
  using impl = int (*)(Tcl_Interp*, int, Tcl_Obj* const[]);
  static const impl impls[] = {append_impl, create_impl, open_impl, records_impl, stat_impl};
  if (objc < 2) {
    Tcl_WrongNumArgs(interp, 1, objv, "subcommand ?arg ...?");
    return TCL_ERROR;
  }
  int index = 0;
  if (Tcl_GetIndexFromObjStruct(interp, objv[1], subcommands, sizeof(option_entry), "subcommand", 0,
                                &index) != TCL_OK) {
    return TCL_ERROR;
  }
  return guarded(interp, [&] { return impls[index](interp, objc, objv); });
}

}  // namespace

namespace mmipc::tcl {

void register_log_command(Tcl_Interp* interp) {
  Tcl_CreateObjCommand(interp, "::mmap::log", log_command, nullptr, nullptr);
}

}  // namespace mmipc::tcl
