#include "ipc_args.hpp"

#include <fcntl.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

#include "mmipc/message_queue.hpp"
#include "mmipc/shared_memory.hpp"

namespace mmipc {
namespace {

[[noreturn]] void fail(std::string message) {
  throw std::invalid_argument(message);
}

// A bad value of the argument or option named `argument`.
[[noreturn]] void fail(std::string_view argument, std::string message) {
  throw argument_error(message, argument);
}

std::string quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

constexpr long long max_permissions = 07777;

std::string bad_permissions(std::string_view text) {
  return "invalid permissions " + quoted(text) + ": must be between 0 and 07777";
}

std::string option_name(ipc_kind kind) {
  return kind == ipc_kind::message_queue ? "queue" : "shared memory";
}

std::vector<std::string> split_at_white_space(std::string_view text) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    std::size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

long long read_integer(const argument_syntax& syntax, std::string_view text) {
  return syntax.integer ? syntax.integer(text) : parse_integer(text);
}

}  // namespace

unsigned check_priority_limit(long long value, std::string_view argument) {
  constexpr auto limit = message_queue::priority_limit;
  if (value >= limit) {
    fail(argument, "invalid message priority " + std::to_string(value) + ": must be less than " +
                       std::to_string(limit) + " (MQ_PRIO_MAX)");
  }
  return static_cast<unsigned>(value);
}

std::chrono::milliseconds parse_timeout_ms(long long ms) {
  if (ms < 0) {
    fail("-timeout", "negative values for -timeout are not allowed: got " + std::to_string(ms));
  }
  return std::chrono::milliseconds(ms);
}

std::string original_detail(const os_error& e) {
  const std::string& op = e.op();
  if (op == "mq_open" || op == "mq_unlink" || op == "shm_open" || op == "shm_unlink" ||
      op == "sem_unlink") {
    return e.name();  // "posixipc mq: /foobar: no such file or directory"
  }
  if (op == "sem_open") return "cannot open shared memory exclusive access semaphore";
  if (op == "mq_timedsend") return "mq_send failed";
  if (op == "mq_timedreceive") return "mq_receive failed";
  return op + " failed";
}

bool is_access_word(std::string_view text) noexcept {
  return !text.empty() && text.front() >= 'a' && text.front() <= 'z';
}

open_access parse_access_word(std::string_view word) {
  // The original accepted 'b' as the second or third character.
  struct entry {
    std::string_view word;
    int flags;
  };
  static constexpr entry table[] = {
      {"r", O_RDONLY},
      {"rb", O_RDONLY},
      {"r+", O_RDWR},
      {"r+b", O_RDWR},
      {"rb+", O_RDWR},
      {"w", O_WRONLY | O_CREAT},
      {"wb", O_WRONLY | O_CREAT},
      {"w+", O_RDWR | O_CREAT},
      {"w+b", O_RDWR | O_CREAT},
      {"wb+", O_RDWR | O_CREAT},
  };
  for (const entry& e : table) {
    if (e.word == word) return {e.flags, word.find('b') != std::string_view::npos};
  }
  // Verbatim from posixipc 1.0, missing comma included: scripts may match on it.
  fail("access", "unknown open mode, " + quoted(word) +
                     ": should be one of r, r+ rb, rb+, w, w+, wb, or wb+");
}

open_access parse_access_flags(std::span<const std::string_view> flags) {
  open_access access;
  int modes = 0;
  for (std::string_view flag : flags) {
    if (flag == "RDONLY") {
      access.flags |= O_RDONLY;
      ++modes;
    } else if (flag == "WRONLY") {
      access.flags |= O_WRONLY;
      ++modes;
    } else if (flag == "RDWR") {
      access.flags |= O_RDWR;
      ++modes;
    } else if (flag == "CREAT") {
      access.flags |= O_CREAT;
    } else if (flag == "EXCL") {
      access.flags |= O_EXCL;
    } else if (flag == "NONBLOCK") {
      access.flags |= O_NONBLOCK;
    } else if (flag == "BINARY") {
      access.binary = true;
    } else {
      fail("access", "invalid access mode " + quoted(flag) +
                         ": must be BINARY, CREAT, EXCL, NONBLOCK, RDONLY, RDWR, or WRONLY");
    }
  }
  // Counting (rather than testing bits) also catches "RDONLY RDONLY" and "RDONLY WRONLY".
  if (modes != 1) {
    fail("access", "access mode must specify exactly one of RDONLY, WRONLY, or RDWR");
  }
  return access;
}

open_access parse_access(std::string_view text, const argument_syntax& syntax) {
  if (is_access_word(text)) return parse_access_word(text);
  const std::vector<std::string> words =
      syntax.list ? syntax.list(text) : split_at_white_space(text);
  const std::vector<std::string_view> flags(words.begin(), words.end());
  return parse_access_flags(flags);
}

long long parse_integer(std::string_view text) {
  std::string_view rest = trim(text);
  bool negative = false;
  if (!rest.empty() && (rest.front() == '+' || rest.front() == '-')) {
    negative = rest.front() == '-';
    rest.remove_prefix(1);
  }
  int base = 10;
  bool legacy_octal = false;
  if (rest.size() > 1 && rest[0] == '0') {
    char p = rest[1];
    if (p == 'x' || p == 'X') {
      base = 16;
      rest.remove_prefix(2);
    } else if (p == 'o' || p == 'O') {
      base = 8;
      rest.remove_prefix(2);
    } else if (p == 'b' || p == 'B') {
      base = 2;
      rest.remove_prefix(2);
    } else {
      // Tcl 8.6 reads a leading 0 as octal; so does the original's "0666".
      base = 8;
      legacy_octal = true;
      rest.remove_prefix(1);
    }
  }
  std::string bad = "expected integer but got " + quoted(text);
  if (rest.empty()) fail(bad);
  unsigned long long value = 0;
  for (char c : rest) {
    int d = digit_value(c);
    if (d >= base) {
      if (legacy_octal && d < 10) fail(bad + " (looks like invalid octal number)");
      fail(bad);
    }
    if (value > (ULLONG_MAX - static_cast<unsigned>(d)) / static_cast<unsigned>(base)) {
      fail("integer value too large to represent: " + quoted(text));
    }
    value = value * static_cast<unsigned>(base) + static_cast<unsigned>(d);
  }
  const unsigned long long limit =
      negative ? static_cast<unsigned long long>(LLONG_MAX) + 1 : LLONG_MAX;
  if (value > limit) fail("integer value too large to represent: " + quoted(text));
  if (negative) return value == limit ? LLONG_MIN : -static_cast<long long>(value);
  return static_cast<long long>(value);
}

mode_t parse_permissions(std::string_view text, const argument_syntax& syntax) {
  // A 0 followed by an octal digit makes the permissions octal ("0640"), whatever the front
  // end's integers say: Tcl 9 reads other integers with a leading 0 as decimal, but its open
  // still reads permissions this way (Tcl 8.6 reads every such integer as octal). Any other
  // form ("0o640", "420", and "08" or "0649" in Tcl 9) is the front end's integer.
  const std::string_view digits = trim(text);
  if (digits.size() > 1 && digits[0] == '0' && digits[1] >= '0' && digits[1] <= '7') {
    try {
      const long long value = parse_integer("0o" + std::string(digits.substr(1)));
      if (value <= 07777) return static_cast<mode_t>(value);
    } catch (const std::invalid_argument&) {
      // Not octal digits: the front end's integer (and its message).
    }
  }
  long long value = read_integer(syntax, text);
  if (value < 0 || value > max_permissions) fail("permissions", bad_permissions(text));
  return static_cast<mode_t>(value);
}

mode_t parse_octal_permissions(std::string_view text) {
  // Digits only (no sign, no white space, no prefix): at most 5 of them with a leading 0.
  if (text.empty() || text.size() > 5 ||
      text.find_first_not_of("01234567") != std::string_view::npos) {
    fail("permissions", bad_permissions(text) + " in octal");
  }
  long long value = 0;
  for (char c : text) value = value * 8 + (c - '0');
  if (value > max_permissions) fail("permissions", bad_permissions(text) + " in octal");
  return static_cast<mode_t>(value);
}

open_request parse_open_request(ipc_kind kind, std::span<const std::string_view> args,
                                const argument_syntax& syntax) {
  open_request request;
  std::size_t i = 0;
  const bool mq = kind == ipc_kind::message_queue;
  while (i < args.size() && !args[i].empty() && args[i].front() == '-') {
    std::string_view option = args[i];
    if (option == "--") {
      ++i;
      break;
    }
    if (mq && (option == "-curmsgs" || option == "-lastpriority")) {
      throw option_error("option, " + std::string(option) +
                             ", cannot be set on open: should be one of: -maxmsg, -msgsize, or "
                             "-priority",
                         option, false);
    }
    const bool known = mq ? option == "-maxmsg" || option == "-msgsize" || option == "-priority"
                          : option == "-size";
    if (!known) {
      throw option_error("bad option " + quoted(option) + ": should be one of: " +
                             (mq ? "-maxmsg, -msgsize, or -priority" : "-size"),
                         option, true);
    }
    if (i + 1 >= args.size()) throw usage_error("value for " + quoted(option) + " missing");
    long long value = read_integer(syntax, args[i + 1]);
    i += 2;
    if (!mq) {
      if (value < 0) fail(option, shm_size_error().what());
      request.size = static_cast<std::uint64_t>(value);
      continue;
    }
    if (option == "-priority") {
      if (value < 0) {
        fail(option, "negative values for option, " + quoted(option) + ", are not allowed: got " +
                         std::to_string(value));
      }
      // mq_send refuses priorities from MQ_PRIO_MAX up; say so now, not at each send.
      request.priority = check_priority_limit(value, option);
    } else if (value > LONG_MAX || value < LONG_MIN) {
      fail(option, "integer value too large to represent: " + quoted(args[i - 1]));
    } else if (option == "-maxmsg") {
      // Any value: the system refuses one it cannot create a queue with (EINVAL), and
      // ignores it when the queue exists, as posixipc 1.0 did.
      request.max_messages = static_cast<long>(value);
    } else {
      request.message_size = static_cast<long>(value);
    }
  }
  const std::size_t positional = args.size() - i;
  if (positional < 1 || positional > 3) {
    throw usage_error(std::string("wrong # args: ") + option_name(kind));
  }
  // The name last: posixipc 1.0 read access and permissions first, and the name reached the
  // system only when it opened the object.
  if (positional >= 2) request.access = parse_access(args[i + 1], syntax);
  if (positional >= 3) request.permissions = parse_permissions(args[i + 2], syntax);
  request.name = std::string(args[i]);
  validate_ipc_name(request.name, kind);
  return request;
}

}  // namespace mmipc
