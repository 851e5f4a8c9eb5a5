// Tcl package mmap: a region of a file mapped into memory, read and written as a Tcl channel.
//
//   mmap ?-shared? ?-length bytes? ?-offset bytes? ?--? channelId   -> new channel "mmapN"
//   mmap::sync channelId ?-async?
//   mmap::read channelId ?numBytes?                                   -> byte array
//
// Every rule of the channel (reads stop at the end, writes are cyclic, seeks are bounded) is
// mmipc::cursor's, and the mapping itself is mmipc::mapping's. What this file adds is Tcl's:
// the driver procedures over them, what a Tcl channel needs that a cursor does not know (the
// end of file after a read that ran into lost pages, undoing the output end-of-file
// character Tcl 8.6 writes at close, chan event readiness), and the commands.
// Laid out like Tcl's unix/tclUnixChan.c: the driver procedures, then the channel type table,
// then the commands and the package entry points.

#include <tcl.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "mmap_log.hpp"
#include "mmipc/cursor.hpp"
#include "mmipc/error.hpp"
#include "mmipc/guarded_copy.hpp"
#include "mmipc/huge_pages.hpp"
#include "mmipc/mapping.hpp"
#include "tcl_support.hpp"

namespace {

using mmipc::tcl::guarded;

// Buffer size: Tcl's default (4 KiB) is kept on purpose. Measured over a 256 MiB file, a
// 64 KiB buffer made `read` of the whole region no faster (the cost is Tcl's own copy into the
// result) but made seek+read of small records five times slower, since every seek discards
// the buffer and the next read refills all of it from the mapping.

constexpr std::uint64_t no_position = UINT64_MAX;

// One mmap channel: the mapping, the position over it and the event source state.
struct mmap_channel {
  mmipc::mapping region;
  mmipc::cursor cursor;
  Tcl_Channel channel = nullptr;
  int mode = 0;                     // TCL_READABLE and/or TCL_WRITABLE
  mmipc::tcl::always_ready events;  // chan event notifications
  bool written = false;             // written since the last synchronous msync
  // Where the last read ended, until the position moves otherwise (see input_proc).
  std::uint64_t read_ended_at = no_position;
  // The last write, when it was of one byte: where, and the byte it replaced (see close_proc).
  std::uint64_t last_byte_at = no_position;
  std::byte last_byte_before{};
};

// The output end-of-file character of `channel` (0 when there is none, as always in Tcl 9).
char output_eofchar(Tcl_Channel channel) {
  if (!mmipc::tcl::has_output_eofchar) return 0;
  Tcl_DString value;
  Tcl_DStringInit(&value);
  char eofchar = 0;
  if (Tcl_GetChannelOption(nullptr, channel, "-eofchar", &value) == TCL_OK) {
    // One element per direction the channel has, the output one last.
    Tcl_Size count = 0;
    const char** words = nullptr;
    if (Tcl_SplitList(nullptr, Tcl_DStringValue(&value), &count, &words) == TCL_OK) {
      if (count > 0) eofchar = words[count - 1][0];
      Tcl_Free(reinterpret_cast<char*>(words));
    }
  }
  Tcl_DStringFree(&value);
  return eofchar;
}

// Close handler: Tcl writes the output end-of-file character when a channel closes, at the
// position; a region has no end to append it to, and the write would wrap into the data (a
// script that only read would damage byte 0 of the file). Close handlers run before Tcl's
// last flush of the user's output and before that write: clearing -eofchar here leaves the
// user's bytes to be flushed and nothing else.
void clear_output_eofchar(void* instance) {
  auto* chan = static_cast<mmap_channel*>(instance);
  Tcl_SetChannelOption(nullptr, chan->channel, "-eofchar", "");
}

// ---- channel driver procedures ------------------------------------------------------------

int close_proc(void* instance, Tcl_Interp* /*interp*/, int flags) {
  // Half-closing a mapping means nothing; Tcl then closes the whole channel as for files.
  auto* chan = static_cast<mmap_channel*>(instance);
  if ((flags & TCL_CLOSE_WRITE) != 0) {
    // A half-close of the write side runs no close handler: Tcl has just written the output
    // end-of-file character (its last write before this call). Put back the byte it replaced.
    const char eofchar = output_eofchar(chan->channel);
    if (eofchar != 0 && chan->last_byte_at != no_position) {
      try {
        std::byte* at = chan->region.bytes().data() + chan->last_byte_at;
        std::byte now{};
        mmipc::guarded_copy(&now, at, 1, "read");
        if (now == static_cast<std::byte>(eofchar)) {
          mmipc::guarded_copy(at, &chan->last_byte_before, 1, "write");
          chan->cursor.seek(static_cast<std::int64_t>(chan->last_byte_at));
        }
      } catch (...) {
        // The page is lost: nothing is left to put back.
      }
      chan->last_byte_at = no_position;
    }
  }
  if ((flags & (TCL_CLOSE_READ | TCL_CLOSE_WRITE)) != 0) return EINVAL;
  int result = 0;
  // Durability: what was written through a shared mapping reaches the disk before close
  // returns (the destructor never syncs implicitly).
  if (chan->written && chan->region.shared() && chan->region.writable()) {
    try {
      chan->region.sync(mmipc::sync_mode::sync);
    } catch (...) {
      result = mmipc::tcl::current_exception_errno();
    }
  }
  delete chan;  // unmaps
  return result;
}

int input_proc(void* instance, char* buf, int to_read, int* error_code) {
  auto* chan = static_cast<mmap_channel*>(instance);
  chan->last_byte_at = no_position;
  try {
    const std::size_t count = chan->cursor.read(
        std::span<std::byte>(reinterpret_cast<std::byte*>(buf), static_cast<std::size_t>(to_read)));
    chan->read_ended_at = count > 0 ? chan->cursor.tell() : no_position;
    return static_cast<int>(count);
  } catch (const mmipc::lost_pages_error&) {
    // Pages lost to a truncated file. A read that ran into them (the last read ended here)
    // gets end-of-file, as from a file cut there: Tcl drops what a read command has gathered
    // when the driver fails, and this keeps those bytes for the script. The next read from
    // here, like one that starts here after a seek, reports the error.
    if (chan->read_ended_at == chan->cursor.tell()) {
      chan->read_ended_at = no_position;
      return 0;
    }
    *error_code = mmipc::tcl::channel_exception_errno(chan->channel, true);
    return -1;
  } catch (...) {
    *error_code = mmipc::tcl::channel_exception_errno(chan->channel, true);
    return -1;
  }
}

int output_proc(void* instance, const char* buf, int to_write, int* error_code) {
  auto* chan = static_cast<mmap_channel*>(instance);
  chan->read_ended_at = no_position;
  chan->last_byte_at = no_position;
  try {
    const std::uint64_t at = chan->cursor.tell() % std::max<std::size_t>(chan->cursor.size(), 1);
    std::byte before{};
    if (to_write == 1) mmipc::guarded_copy(&before, chan->region.bytes().data() + at, 1, "write");
    auto written = chan->cursor.write(std::span<const std::byte>(
        reinterpret_cast<const std::byte*>(buf), static_cast<std::size_t>(to_write)));
    chan->written = true;
    if (to_write == 1) {
      chan->last_byte_at = at;
      chan->last_byte_before = before;
    }
    return static_cast<int>(written);
  } catch (...) {
    *error_code = mmipc::tcl::channel_exception_errno(chan->channel, false);
    return -1;
  }
}

Tcl_WideInt wide_seek_proc(void* instance, Tcl_WideInt offset, int mode, int* error_code) {
  auto* chan = static_cast<mmap_channel*>(instance);
  mmipc::whence origin{};
  if (!mmipc::tcl::to_whence(mode, origin)) {
    *error_code = EINVAL;
    return -1;
  }
  // `tell` asks for a seek by 0 from the current position: that moves nothing.
  if (origin != mmipc::whence::current || offset != 0) {
    chan->read_ended_at = no_position;
    chan->last_byte_at = no_position;
  }
  try {
    return static_cast<Tcl_WideInt>(chan->cursor.seek(offset, origin));
  } catch (...) {
    *error_code = mmipc::tcl::current_exception_errno();
    return -1;
  }
}

// The read-only options, in the order `chan configure` lists them.
constexpr const char* option_names[] = {"-length", "-offset", "-shared"};

int set_option_proc(void* /*instance*/, Tcl_Interp* interp, const char* name,
                    const char* /*value*/) noexcept {
  for (const char* option : option_names) {
    if (std::strcmp(name, option) == 0) {
      return mmipc::tcl::refuse_read_only_option(interp, name, "the region is mapped");
    }
  }
  // None of the driver's options can be set: list only the generic ones.
  return Tcl_BadChannelOption(interp, name, "");
}

int get_option_proc(void* instance, Tcl_Interp* interp, const char* name,
                    Tcl_DString* out) noexcept {
  auto* chan = static_cast<mmap_channel*>(instance);
  // Formatted into stack buffers: nothing here can throw into Tcl.
  char values[3][24];
  std::snprintf(values[0], sizeof values[0], "%zu", chan->region.size());
  std::snprintf(values[1], sizeof values[1], "%llu",
                static_cast<unsigned long long>(chan->region.offset()));
  std::snprintf(values[2], sizeof values[2], "%d", chan->region.shared() ? 1 : 0);
  if (name == nullptr) {  // all options, as -name value pairs
    for (std::size_t i = 0; i < std::size(option_names); ++i) {
      Tcl_DStringAppendElement(out, option_names[i]);
      Tcl_DStringAppendElement(out, values[i]);
    }
    return TCL_OK;
  }
  for (std::size_t i = 0; i < std::size(option_names); ++i) {
    if (std::strcmp(name, option_names[i]) == 0) {
      Tcl_DStringAppendElement(out, values[i]);
      return TCL_OK;
    }
  }
  return Tcl_BadChannelOption(interp, name, "length offset shared");
}

void watch_proc(void* instance, int mask) {
  auto* chan = static_cast<mmap_channel*>(instance);
  chan->events.watch(chan->channel, mask, chan->mode);
}

int get_handle_proc(void* /*instance*/, int /*direction*/, void** /*handle*/) {
  return TCL_ERROR;  // the descriptor was not kept: the mapping does not need it
}

int block_mode_proc(void* /*instance*/, int /*mode*/) {
  return 0;  // memory never blocks: both modes behave the same
}

void thread_action_proc(void* instance, int action) {
  // Timers belong to the thread that created them: drop ours when the channel is cut from
  // this thread (thread::transfer). The new thread re-arms it through watchProc.
  if (action == TCL_CHANNEL_THREAD_REMOVE) static_cast<mmap_channel*>(instance)->events.stop();
}

int truncate_proc(void* /*instance*/, Tcl_WideInt /*length*/) {
  return EINVAL;  // the region has a fixed size: writes wrap around instead of growing it
}

// The mmap channel type.
const Tcl_ChannelType mmap_channel_type = {
    "mmap",                               // typeName: shown by `chan configure` and errors
    TCL_CHANNEL_VERSION_5,                // version: wide seek, thread action, truncate
    MMIPC_TCL_CLOSE_PROC,                 // closeProc: Tcl 8.6 marker for close2Proc
    input_proc,                           // inputProc: copies from the region, 0 at its end
    output_proc,                          // outputProc: cyclic write into the region
    MMIPC_TCL_SEEK_PROC(wide_seek_proc),  // seekProc: Tcl 8.6 only
    set_option_proc,                      // setOptionProc: the driver's options are read-only
    get_option_proc,                      // getOptionProc: -length, -offset, -shared
    watch_proc,                           // watchProc: always readable/writable, timer driven
    get_handle_proc,                      // getHandleProc: no OS handle
    close_proc,                           // close2Proc: msync if written, then unmap
    block_mode_proc,                      // blockModeProc: memory never blocks
    nullptr,                              // flushProc: reserved by Tcl
    nullptr,                              // handlerProc: not a stacked channel
    wide_seek_proc,                       // wideSeekProc: 64-bit bounded seek
    thread_action_proc,                   // threadActionProc: drops the timer on thread::transfer
    truncate_proc,                        // truncateProc: refused, the size is fixed
};

// ---- commands -----------------------------------------------------------------------------

std::atomic<unsigned> channel_counter{0};

// The options of the mmap command, for Tcl_GetIndexFromObjStruct.
struct option_entry {
  const char* name;
};
const option_entry mmap_options[] = {{"-shared"}, {"-length"}, {"-offset"}, {"--"}, {nullptr}};
enum { opt_shared, opt_length, opt_offset, opt_end };

// True when `word` is one of the mmap command's options.
bool is_mmap_option(const char* word) {
  for (const auto& option : mmap_options) {
    if (option.name != nullptr && std::strcmp(word, option.name) == 0) return true;
  }
  return false;
}

constexpr const char mmap_usage[] = "?-shared? ?-length bytes? ?-offset bytes? ?--? channelId";

// What `mmap ?options? channelId` asked for.
struct mmap_request {
  bool shared = false;
  std::optional<std::uint64_t> length;
  std::uint64_t offset = 0;
  Tcl_Obj* source = nullptr;  // the channelId word
};

// Reads the options and the channel word; on a usage or value error, sets it and returns
// TCL_ERROR. Options come first; the last word is always the channel, so an option whose
// value would take it leaves no channel: a usage error.
int parse_mmap_args(Tcl_Interp* interp, int objc, Tcl_Obj* const objv[], mmap_request& out) {
  int i = 1;
  for (; i < objc - 1; ++i) {
    const char* word = Tcl_GetString(objv[i]);
    if (word[0] != '-') break;
    int index = 0;
    if (Tcl_GetIndexFromObjStruct(interp, objv[i], mmap_options, sizeof(option_entry), "option", 0,
                                  &index) != TCL_OK) {
      return TCL_ERROR;
    }
    if (index == opt_end) {
      ++i;
      break;
    }
    if (index == opt_shared) {
      out.shared = true;
      continue;
    }
    if (i + 1 >= objc - 1) {
      Tcl_WrongNumArgs(interp, 1, objv, mmap_usage);
      return TCL_ERROR;
    }
    std::uint64_t value = 0;
    if (mmipc::tcl::get_size(interp, objv[++i], index == opt_length ? "length" : "offset", value) !=
        TCL_OK) {
      return TCL_ERROR;
    }
    if (index == opt_length) {
      out.length = value;
    } else {
      out.offset = value;
    }
  }
  // The last word must be a channel: an option there means the channel was left out.
  if (i != objc - 1 || is_mmap_option(Tcl_GetString(objv[i]))) {
    Tcl_WrongNumArgs(interp, 1, objv, mmap_usage);
    return TCL_ERROR;
  }
  out.source = objv[i];
  return TCL_OK;
}

// The descriptor of channel `source_name` and its Tcl mode, once it is known to be a
// readable file whose buffered output (if any) has reached the file; else the error is set
// and TCL_ERROR returned.
int source_descriptor(Tcl_Interp* interp, const char* source_name, int& fd, int& source_mode) {
  Tcl_Channel source = Tcl_GetChannel(interp, source_name, &source_mode);
  if (source == nullptr) return TCL_ERROR;
  source_mode = Tcl_GetChannelMode(source);
  if ((source_mode & TCL_READABLE) == 0) {
    std::string message = "channel \"";
    message += source_name;
    message += "\" wasn't opened for reading: a mapping can only be made of a readable file";
    return mmipc::tcl::error(interp, message,
                             mmipc::tcl::error_code(mmipc::tcl::code_invalid, "channelId"));
  }
  void* handle = nullptr;
  if (Tcl_GetChannelHandle(source, TCL_READABLE, &handle) != TCL_OK) {
    std::string message = "channel \"";
    message += source_name;
    message += "\" has no file descriptor to map";
    return mmipc::tcl::error(interp, message,
                             mmipc::tcl::error_code(mmipc::tcl::code_invalid, "channelId"));
  }
  fd = static_cast<int>(reinterpret_cast<std::intptr_t>(handle));
  // What the script wrote and Tcl still buffers belongs in the file before it is mapped.
  if ((source_mode & TCL_WRITABLE) != 0 && Tcl_Flush(source) != TCL_OK) {
    return mmipc::tcl::posix_error(interp, Tcl_GetErrno(),
                                   std::string("error flushing \"") + source_name + "\"");
  }
  return TCL_OK;
}

// Maps the region of `fd` asked for into `chan` (mapping and cursor), read-write when the
// source channel is writable; the core's refusals become Tcl errors.
int map_region(Tcl_Interp* interp, const mmap_request& request, int fd, const char* source_name,
               bool writable, mmap_channel& chan) {
  mmipc::map_options how;
  how.shared = request.shared;
  how.access = writable ? mmipc::access_mode::read_write : mmipc::access_mode::read_only;
  try {
    chan.region = mmipc::mapping::map(fd, request.offset, request.length, how, source_name);
  } catch (const mmipc::os_error& e) {
    return mmipc::tcl::posix_error(interp, e.error_number(),
                                   std::string("couldn't map \"") + source_name + "\"");
  } catch (const std::invalid_argument& e) {
    // The core's refusal of the region (zero length, past the end, a device without size).
    return mmipc::tcl::error(interp, e.what(),
                             mmipc::tcl::error_code(mmipc::tcl::code_invalid, "region"));
  }
  chan.cursor = mmipc::cursor(chan.region);
  chan.mode = writable ? (TCL_READABLE | TCL_WRITABLE) : TCL_READABLE;
  return TCL_OK;
}

// Makes `chan` a Tcl channel "mmapN" registered in `interp`, set as the result; the channel
// owns it from here (close frees it).
int create_channel(Tcl_Interp* interp, std::unique_ptr<mmap_channel> chan) {
  char name[32];
  std::snprintf(name, sizeof name, "mmap%u", channel_counter.fetch_add(1));
  chan->channel = Tcl_CreateChannel(&mmap_channel_type, name, chan.get(), chan->mode);
  mmap_channel* raw = chan.release();  // owned by the channel from here; freed by close
  Tcl_RegisterChannel(interp, raw->channel);
  if (mmipc::tcl::has_output_eofchar) {
    Tcl_CreateCloseHandler(raw->channel, clear_output_eofchar, raw);
  }
  // The seed's default: unbuffered output, so every puts reaches the mapping at once. The
  // seed calls the channel "non-blocking by nature": the driver never waits, so Tcl's
  // -blocking stays 1, as for a file (in non-blocking mode Tcl takes a read that reached the
  // end for "no more data yet" and eof stays 0: the seed's own example prints eof after read).
  // Users may change both; the channel stays correct either way.
  Tcl_SetChannelOption(nullptr, raw->channel, "-buffering", "none");
  // The name Tcl knows the channel by: Tcl makes a new channel stdin, stdout or stderr
  // when that standard channel was closed.
  Tcl_SetObjResult(interp, Tcl_NewStringObj(Tcl_GetChannelName(raw->channel), -1));
  return TCL_OK;
}

// mmap ?-shared? ?-length bytes? ?-offset bytes? ?--? channelId
int mmap_impl(Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  mmap_request request;
  if (parse_mmap_args(interp, objc, objv, request) != TCL_OK) return TCL_ERROR;
  const char* source_name = Tcl_GetString(request.source);
  int fd = -1;
  int source_mode = 0;
  if (source_descriptor(interp, source_name, fd, source_mode) != TCL_OK) return TCL_ERROR;
  auto chan = std::make_unique<mmap_channel>();
  const bool writable = (source_mode & TCL_WRITABLE) != 0;
  if (map_region(interp, request, fd, source_name, writable, *chan) != TCL_OK) return TCL_ERROR;
  return create_channel(interp, std::move(chan));
}

// mmap::sync channelId ?-async?
int sync_impl(Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  static const option_entry options[] = {{"-async"}, {nullptr}};
  if (objc < 2 || objc > 3) {
    Tcl_WrongNumArgs(interp, 1, objv, "channelId ?-async?");
    return TCL_ERROR;
  }
  auto mode = mmipc::sync_mode::sync;
  if (objc == 3) {
    int index = 0;
    if (Tcl_GetIndexFromObjStruct(interp, objv[2], options, sizeof(option_entry), "option", 0,
                                  &index) != TCL_OK) {
      return TCL_ERROR;
    }
    mode = mmipc::sync_mode::async;
  }
  Tcl_Channel channel = nullptr;
  if (mmipc::tcl::get_channel_of_type(interp, objv[1], &mmap_channel_type, "an mmap channel",
                                      channel) != TCL_OK) {
    return TCL_ERROR;
  }
  // Tcl's own buffer first, so the sync covers everything the script wrote.
  if ((Tcl_GetChannelMode(channel) & TCL_WRITABLE) != 0 && Tcl_Flush(channel) != TCL_OK) {
    return mmipc::tcl::posix_error(
        interp, Tcl_GetErrno(), std::string("error flushing \"") + Tcl_GetString(objv[1]) + "\"");
  }
  auto* chan = static_cast<mmap_channel*>(Tcl_GetChannelInstanceData(channel));
  try {
    chan->region.sync(mode);
  } catch (const mmipc::os_error& e) {
    return mmipc::tcl::posix_error(interp, e.error_number(),
                                   std::string("couldn't sync \"") + Tcl_GetString(objv[1]) + "\"");
  }
  if (mode == mmipc::sync_mode::sync) chan->written = false;
  return TCL_OK;
}

// mmap::read channelId ?numBytes?
// The region from the channel's position as a byte array made with one copy: what `read` of
// a -translation binary channel returns, without Tcl's channel buffers in between, and with
// a large result pre-faulted with huge pages (on a VM the page faults of a new 256 MiB value, not
// the copy, set the speed of `read`).
int read_impl(Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  if (objc < 2 || objc > 3) {
    Tcl_WrongNumArgs(interp, 1, objv, "channelId ?numBytes?");
    return TCL_ERROR;
  }
  Tcl_Channel channel = nullptr;
  if (mmipc::tcl::get_channel_of_type(interp, objv[1], &mmap_channel_type, "an mmap channel",
                                      channel) != TCL_OK) {
    return TCL_ERROR;
  }
  if ((Tcl_GetChannelMode(channel) & TCL_READABLE) == 0) {
    return mmipc::tcl::error(
        interp, std::string("channel \"") + Tcl_GetString(objv[1]) + "\" wasn't opened for reading",
        mmipc::tcl::error_code(mmipc::tcl::code_invalid, "channelId"));
  }
  std::uint64_t wanted = UINT64_MAX;
  if (objc == 3 && mmipc::tcl::get_size(interp, objv[2], "numBytes", wanted) != TCL_OK) {
    return TCL_ERROR;
  }
  // Tcl's buffers first: pending output goes into the mapping and buffered input is dropped,
  // so the driver's position becomes the script's.
  if (Tcl_Seek(channel, 0, SEEK_CUR) < 0) {
    return mmipc::tcl::posix_error(interp, Tcl_GetErrno(),
                                   std::string("error reading \"") + Tcl_GetString(objv[1]) + "\"");
  }
  auto* chan = static_cast<mmap_channel*>(Tcl_GetChannelInstanceData(channel));
  const auto count =
      static_cast<std::size_t>(std::min<std::uint64_t>(wanted, chan->cursor.remaining()));
  if (count > mmipc::tcl::max_value_size) {
    return mmipc::tcl::error(interp,
                             std::string("numBytes is too large for ") + mmipc::tcl::max_value_text,
                             mmipc::tcl::error_code(mmipc::tcl::code_invalid, "numBytes"));
  }
  Tcl_Obj* result = Tcl_NewByteArrayObj(nullptr, 0);
  // Freed however this ends: the copy may throw (lost pages), and the value may be large.
  Tcl_IncrRefCount(result);
  const std::unique_ptr<Tcl_Obj, void (*)(Tcl_Obj*)> hold(
      result, [](Tcl_Obj* obj) { Tcl_DecrRefCount(obj); });
  unsigned char* bytes = Tcl_SetByteArrayLength(result, static_cast<Tcl_Size>(count));
  mmipc::prefault_buffer(bytes, count);
  // The count read, not the one asked for: a read may stop early (a cursor that guards
  // against pages lost to a truncated file returns the bytes before them).
  const std::size_t got =
      chan->cursor.read(std::span<std::byte>(reinterpret_cast<std::byte*>(bytes), count));
  chan->read_ended_at = got > 0 ? chan->cursor.tell() : no_position;
  Tcl_SetByteArrayLength(result, static_cast<Tcl_Size>(got));
  Tcl_SetObjResult(interp, result);
  return TCL_OK;
}

// The commands as Tcl sees them: any C++ exception becomes a Tcl error here.
int mmap_command(void* /*data*/, Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  return guarded(interp, [&] { return mmap_impl(interp, objc, objv); });
}

int sync_command(void* /*data*/, Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  return guarded(interp, [&] { return sync_impl(interp, objc, objv); });
}

int read_command(void* /*data*/, Tcl_Interp* interp, int objc, Tcl_Obj* const objv[]) {
  return guarded(interp, [&] { return read_impl(interp, objc, objv); });
}

int init(Tcl_Interp* interp) {
  if (mmipc::tcl::init_package(interp, "mmap", "it gives direct access to files and memory") !=
      TCL_OK)
    return TCL_ERROR;
  if (Tcl_CreateNamespace(interp, "::mmap", nullptr, nullptr) == nullptr) return TCL_ERROR;
  Tcl_CreateObjCommand(interp, "::mmap", mmap_command, nullptr, nullptr);
  Tcl_CreateObjCommand(interp, "::mmap::sync", sync_command, nullptr, nullptr);
  Tcl_CreateObjCommand(interp, "::mmap::read", read_command, nullptr, nullptr);
  mmipc::tcl::register_log_command(interp);
  return Tcl_PkgProvide(interp, PACKAGE_NAME, PACKAGE_VERSION);
}

}  // namespace

extern "C" {

/// Entry point of `load`: defines mmap and mmap::sync and provides the package.
__attribute__((visibility("default"))) int Mmap_Init(Tcl_Interp* interp) {
  return init(interp);
}

/// Entry point for safe interpreters: always refuses, with the reason (see init()).
__attribute__((visibility("default"))) int Mmap_SafeInit(Tcl_Interp* interp) {
  return init(interp);
}

}  // extern "C"
