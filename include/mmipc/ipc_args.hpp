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
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mmipc {

/// A wrong number of arguments (the binding shows its usage line).
class usage_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
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

/// Parses either form; a flag list is split at white space.
open_access parse_access(std::string_view text);

/// Parses an integer as Tcl 8.6 does: optional white space and sign, then decimal, 0x hex,
/// 0o or leading-0 octal, or 0b binary. Throws `expected integer but got "text"`.
long long parse_integer(std::string_view text);

/// Parses permissions ("0640" is octal); must lie in [0, 07777].
mode_t parse_permissions(std::string_view text);

/// Parses permissions written in octal digits only, as chmod(1) reads them ("640" is 0640);
/// must lie in [0, 07777]. For front ends whose users write modes the shell's way.
mode_t parse_octal_permissions(std::string_view text);

/// What a name is given to.
enum class ipc_kind { message_queue, shared_memory, semaphore };

/// Checks a POSIX IPC name: "/" then 1 to 251 characters, none of them "/" or NUL (251 keeps
/// every kind within NAME_MAX, the semaphore's "sem." prefix included).
void validate_ipc_name(std::string_view name, ipc_kind kind);

/// Everything `mq open` or `shm open` was asked for.
struct open_request {
  std::string name;
  open_access access;
  mode_t permissions = 0666;
  // Message queues: capacity used when the queue is created (unset: the system default),
  // and the priority of messages written through the channel.
  std::optional<long> max_messages;
  std::optional<long> message_size;
  unsigned priority = 0;
  // Shared memory: the size given to a created object (unset: none given).
  std::optional<std::uint64_t> size;
};

/// Parses `?options? name ?access? ?permissions?` (the words after "open"): options first,
/// "--" ends them, the first word not starting with "-" is the name.
open_request parse_open_request(ipc_kind kind, std::span<const std::string_view> args);

}  // namespace mmipc
