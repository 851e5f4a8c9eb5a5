#pragma once
// ipc_args: internal to mmipc (not installed; the Tcl package posixipc and the mmipc tool use
// it). The arguments shared by the "open" commands of POSIX message queues and shared memory
// objects (`mq open` and `shm open` of posixipc): access modes in their two forms,
// permissions, integers in Tcl's syntax and the open options, with posixipc 1.0's messages;
// and the words posixipc 1.0 reported a failed system call in (original_detail).
//
// The rules and the exact error messages live here, once, so every front end behaves the
// same and the parser can be fuzzed on its own. Errors are std::invalid_argument whose what()
// is the message to show the user verbatim; a wrong number of arguments is a usage_error, so
// a front end can print its own usage line instead. The names themselves are checked by the
// public mmipc/ipc_name.hpp.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mmipc/error.hpp"

#include "mmipc/ipc_name.hpp"

namespace mmipc {

/// A wrong number of arguments (the binding shows its usage line).
class usage_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A bad value of a named argument ("access", "permissions") or option ("-priority"), so a
/// front end can say which (Tcl: errorCode MMIPC INVALID <argument>).
class argument_error : public std::invalid_argument {
 public:
  argument_error(const std::string& what, std::string_view argument)
      : std::invalid_argument(what), argument_(argument) {}
  /// The argument's name as a usage line gives it, or the option.
  const std::string& argument() const noexcept { return argument_; }

 private:
  std::string argument_;
};

/// An option misused in an argument list: unknown (unknown() is true) or not allowed there.
class option_error : public std::invalid_argument {
 public:
  option_error(const std::string& what, std::string_view option, bool unknown)
      : std::invalid_argument(what), option_(option), unknown_(unknown) {}
  /// The option as given, e.g. "-foo".
  const std::string& option() const noexcept { return option_; }
  /// True when the command has no such option at all.
  bool unknown() const noexcept { return unknown_; }

 private:
  std::string option_;
  bool unknown_;
};

/// How a front end reads the integers and lists in its arguments. The defaults follow Tcl 8.6
/// (parse_integer; a list is split at white space); a binding to a language passes that
/// language's own readers, so that their errors are the language's own (message and error
/// code). A reader reports a bad value by throwing; whatever it throws goes to the caller.
struct argument_syntax {
  std::function<long long(std::string_view)> integer;
  std::function<std::vector<std::string>(std::string_view)> list;
};

/// How to open: open(2)-style flags (O_RDONLY/O_WRONLY/O_RDWR, O_CREAT, O_EXCL, O_NONBLOCK)
/// and whether the front end should treat the data as binary.
struct open_access {
  int flags = 0;  // O_RDONLY
  bool binary = false;
};

/// True when `text` is a mode word (form 1: "r", "w+b", ...) rather than a list of flags
/// (form 2: "RDWR CREAT"): Tcl's own rule, a mode word starts with a lower-case letter.
bool is_access_word(std::string_view text) noexcept;

/// Parses a mode word: r rb r+ r+b rb+ w wb w+ w+b wb+.
open_access parse_access_word(std::string_view word);

/// Parses a list of flags: BINARY CREAT EXCL NONBLOCK RDONLY RDWR WRONLY, exactly one of
/// RDONLY, WRONLY and RDWR.
open_access parse_access_flags(std::span<const std::string_view> flags);

/// Parses either form; a flag list is split by syntax.list (default: at white space).
open_access parse_access(std::string_view text, const argument_syntax& syntax = {});

/// Parses an integer as Tcl 8.6 does: optional white space and sign, then decimal, 0x hex,
/// 0o or leading-0 octal, or 0b binary. Throws `expected integer but got "text"`.
long long parse_integer(std::string_view text);

/// Parses permissions; must lie in [0, 07777]. A 0 then an octal digit is octal ("0640"),
/// whatever syntax.integer says (as Tcl 9's open reads them, where other integers with a
/// leading 0 are decimal); anything else is read by syntax.integer (default: parse_integer).
mode_t parse_permissions(std::string_view text, const argument_syntax& syntax = {});

/// Parses permissions written in octal digits only, as chmod(1) reads them ("640" is 0640);
/// must lie in [0, 07777]. For front ends whose users write modes the shell's way.
mode_t parse_octal_permissions(std::string_view text);

/// Checks a message priority that is not negative (each front end words that check in its
/// original's terms) against message_queue::priority_limit, which mq_send refuses from; returns
/// it. Throws argument_error for `argument`: "invalid message priority N: must be less than
/// 32768 (MQ_PRIO_MAX)".
unsigned check_priority_limit(long long value, std::string_view argument);

/// The value of posixipc's `-timeout ms` option (mq send, mq receive): not negative (an
/// argument_error for "-timeout": "negative values for -timeout are not allowed: got -5"),
/// any length; the core's timed waits take one past the clock's range as forever
/// (mmipc::to_timeout).
std::chrono::milliseconds parse_timeout_ms(long long ms);

/// How posixipc 1.0 named a failed system call in its message "posixipc mq: <detail>:
/// <error>": the object's name for opening and unlinking it (`/foobar`), "cannot open shared
/// memory exclusive access semaphore" for the semaphore, the untimed call for a timed send or
/// receive ("mq_send failed"), else "<call> failed". Keyed on the core's operation names, so
/// it lives beside them (ipc_args_test makes each call fail for real and checks the words).
std::string original_detail(const os_error& e);

/// Everything `mq open` or `shm open` was asked for.
struct open_request {
  std::string name;
  open_access access;
  mode_t permissions = 0666;
  // Message queues: capacity used when the queue is created (unset: the system default; not
  // checked here: the system refuses what it cannot create, and ignores it when the queue
  // exists), and the priority of messages written through the channel.
  std::optional<long> max_messages;
  std::optional<long> message_size;
  unsigned priority = 0;
  // Shared memory: the size given to a created object (unset: none given).
  std::optional<std::uint64_t> size;
};

/// Parses `?options? name ?access? ?permissions?` (the words after "open"): options first,
/// "--" ends them, the first word not starting with "-" is the name. Options: -maxmsg,
/// -msgsize, -priority (queues), -size (shared memory); any other is an option_error.
open_request parse_open_request(ipc_kind kind, std::span<const std::string_view> args,
                                const argument_syntax& syntax = {});

}  // namespace mmipc
