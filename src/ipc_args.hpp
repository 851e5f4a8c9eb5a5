#pragma once
// ipc_args: the arguments shared by the "open" commands of POSIX message queues and shared
// memory objects (`mq open` and `shm open` of the Tcl package posixipc, and any other front
// end): object names, access modes in their two forms, permissions and the open options.
//
// The rules and the exact error messages live here, once, so every binding behaves the same
// and the parser can be fuzzed on its own. Errors are std::invalid_argument whose what() is
// the message to show the user verbatim; a wrong number of arguments is a usage_error, so a
// binding can print its own usage line instead.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mmipc {

/// A wrong number of arguments (the binding shows its usage line).
class usage_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A name the system cannot take (see validate_ipc_name). error_number() is the errno the
/// system's own call gives for such a name, so a front end can also report it in the system's
/// words: for a queue, mq_open's (EINVAL without a leading "/", ENOENT for "/" alone, EACCES
/// for another "/" or for "." and "..", ENAMETOOLONG past 255 bytes); for shared memory and
/// semaphores, sem_open's EINVAL.
class invalid_name_error : public std::invalid_argument {
 public:
  invalid_name_error(const std::string& what, std::string_view name, int err)
      : std::invalid_argument(what), name_(name), error_number_(err) {}
  /// The name refused.
  const std::string& name() const noexcept { return name_; }
  /// The errno the system gives for this name.
  int error_number() const noexcept { return error_number_; }

 private:
  std::string name_;
  int error_number_;
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

/// What a name is given to.
enum class ipc_kind { message_queue, shared_memory, semaphore };

/// Checks a POSIX IPC name: "/" then 1 to 255 bytes (a queue) or 251 bytes (shared memory and
/// semaphores: the semaphore's "sem." prefix must fit in NAME_MAX too), none of them "/" or
/// NUL, and not "." or "..". Bytes, not characters: the name in the system's encoding.
/// Throws invalid_name_error.
void validate_ipc_name(std::string_view name, ipc_kind kind);

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
