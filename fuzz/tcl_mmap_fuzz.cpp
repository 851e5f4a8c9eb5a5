// Fuzzes the Tcl package mmap through Tcl itself: the mmap command's option parsing (-shared,
// -length, -offset, --, channel names of every kind), mmap::sync, and the channel commands
// (seek, read, puts, chan configure) on an mmap channel, with argument words taken from the
// input. Contract: every call returns TCL_OK or TCL_ERROR; nothing crashes, hangs, leaks a
// channel or touches memory it should not (AddressSanitizer). The package is built into this
// program (linked with libtcl, not the stubs) and initialised in a fresh interpreter.

#include <tcl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

extern "C" int Mmap_Init(Tcl_Interp* interp);

namespace {

Tcl_Interp* interp = nullptr;
std::string path;

void check(bool ok) {
  if (!ok) std::abort();
}

int eval(const std::string& script) {
  return Tcl_EvalEx(interp, script.c_str(), static_cast<int>(script.size()), TCL_EVAL_GLOBAL);
}

void setup() {
  Tcl_FindExecutable(nullptr);
  interp = Tcl_CreateInterp();
  check(Mmap_Init(interp) == TCL_OK);
  char name[] = "/tmp/mmipc-tcl-fuzz-XXXXXX";
  const int fd = ::mkstemp(name);
  check(fd >= 0);
  const std::string contents(10000, 'x');
  check(::write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size()));
  ::close(fd);
  path = name;
  std::atexit([] { ::unlink(path.c_str()); });
  // Channels of every kind for the arguments: read-write, read-only, write-only (not
  // mappable), a closed one, and one mmap channel kept open.
  Tcl_SetVar(interp, "path", path.c_str(), TCL_GLOBAL_ONLY);
  check(eval("set rw [open $path r+]; set ro [open $path r]; set wo [open $path WRONLY];"
             "set closed [open $path r]; close $closed;"
             "set kept [mmap -shared $rw]; set base [chan names]") == TCL_OK);
}

// The input's words: separated by newlines, so any other byte can be part of a word.
std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    words.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return words;
}

// A channel name for the mapping commands: one of ours, or something that is none.
std::string channel(unsigned selector) {
  static const char* const names[] = {"$rw", "$ro", "$wo", "$closed", "$kept", "stdin", "nosuch"};
  return names[selector % (sizeof names / sizeof names[0])];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (interp == nullptr) setup();
  if (size < 2) return 0;
  const std::vector<std::string> words =
      words_of(std::string_view(reinterpret_cast<const char*>(data + 2), size - 2));
  Tcl_Obj* args = Tcl_NewListObj(0, nullptr);
  Tcl_IncrRefCount(args);
  for (const std::string& word : words) {
    Tcl_ListObjAppendElement(nullptr, args,
                             Tcl_NewStringObj(word.data(), static_cast<int>(word.size())));
  }
  Tcl_SetVar2Ex(interp, "args", nullptr, args, TCL_GLOBAL_ONLY);
  Tcl_DecrRefCount(args);

  std::string script;
  const std::string chan = channel(data[1]);
  switch (data[0] % 8) {
    case 0:
      script = "mmap {*}$args " + chan;
      break;
    case 1:
      script = "mmap {*}$args";
      break;
    case 2:
      script = "mmap::sync {*}$args";
      break;
    case 3:
      script = "set m [mmap -shared $rw]; seek $m {*}$args";
      break;
    case 4:
      script = "set m [mmap {*}[lrange $args 1 end] $rw]; read $m {*}[lrange $args 0 0]";
      break;
    case 5:
      script =
          "set m [mmap -shared $rw]; seek $m [lindex $args 0]; puts -nonewline $m "
          "[lindex $args 1]; flush $m";
      break;
    case 6:
      script = "chan configure $kept {*}$args";
      break;
    default:
      script = "set m [mmap -shared $rw]; chan configure $m {*}$args; gets $m; mmap::sync $m";
      break;
  }
  const int code = eval(script);
  check(code == TCL_OK || code == TCL_ERROR);
  // Close what the call opened, so channels never pile up (their leak would show in RSS).
  check(eval("foreach c [chan names] {if {$c ni $base} {close $c}}; "
             "chan configure $kept -translation auto -buffering none -blocking 1") == TCL_OK);
  return 0;
}
