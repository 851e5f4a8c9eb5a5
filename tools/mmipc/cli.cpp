#include "cli.hpp"

#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <new>
#include <sstream>
#include <vector>

#include "ipc_args.hpp"
#include "mmipc/error.hpp"
#include "mmipc/message_queue.hpp"

namespace mmipc::cli {
namespace {

// The synopsis of each command, and which apps are groups (whose usage lists their commands).
std::map<const CLI::App*, std::string>& usages() {
  static std::map<const CLI::App*, std::string> table;
  return table;
}

std::string quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

// A check that runs `parse` on the option's text; its std::invalid_argument is the message.
CLI::Validator check_with(std::string name, std::function<void(std::string_view)> parse) {
  return CLI::Validator(
      [parse = std::move(parse)](std::string& text) -> std::string {
        try {
          parse(text);
          return {};
        } catch (const std::invalid_argument& e) {
          return e.what();
        }
      },
      "", std::move(name));
}

// The signal mask before signals_held blocked the signals it holds (what waits let in).
sigset_t held_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

int hold_depth = 0;
sigset_t mask_before_hold;

[[noreturn]] void output_gone() {
  // As any filter whose reader went away: die of SIGPIPE, unless the caller ignores it.
  ::raise(SIGPIPE);
  throw failure("standard output", std::strerror(EPIPE));
}

}  // namespace

failure::failure(std::string object, std::string reason)
    : std::runtime_error(object + ": " + reason),
      object_(std::move(object)),
      reason_(std::move(reason)) {}

failure failure_of_current_exception(std::string_view object) {
  try {
    throw;
  } catch (const failure& e) {
    return e;
  } catch (const explained_error& e) {
    // The same explanation (of a system limit, ...) as the Tcl package gives (the core's).
    return failure(std::string(object),
                   std::string(std::strerror(e.error_number())) + " (" + e.explanation() + ")");
  } catch (const os_error& e) {
    std::string reason = std::strerror(e.error_number());
    // The name's own open or removal is the command itself; any other step is named.
    static constexpr std::string_view plain[] = {"mq_open", "mq_unlink", "shm_open", "shm_unlink"};
    if (std::find(std::begin(plain), std::end(plain), e.op()) == std::end(plain)) {
      reason = e.op() + ": " + reason;
    }
    return failure(std::string(object), reason);
  } catch (const std::bad_alloc&) {
    return failure(std::string(object), std::strerror(ENOMEM));
  } catch (const std::exception& e) {
    return failure(std::string(object), e.what());
  }
}

// ---- registration ---------------------------------------------------------------------------

CLI::App* add_group(CLI::App& program, const std::string& name, const std::string& description) {
  CLI::App* group = program.add_subcommand(name, description);
  group->require_subcommand(1);
  return group;
}

CLI::App* add_command(CLI::App& group, const std::string& name, const std::string& description,
                      const std::string& usage, std::function<void()> run) {
  CLI::App* command = group.add_subcommand(name, description);
  usages()[command] = usage;
  command->callback(std::move(run));
  return command;
}

void accept_end_of_options(CLI::App& command) {
  // Added after the list it follows, which takes every word first: this one stays empty.
  static std::string never_filled;
  command.add_option("END_OF_OPTIONS", never_filled)->expected(1)->group("");
}

std::string usage_of(const CLI::App& app) {
  auto found = usages().find(&app);
  if (found != usages().end()) return "mmipc " + found->second + "\n";
  std::string out;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    out += usage_of(*sub);
  }
  return out;
}

std::string formatter::make_usage(const CLI::App* app, std::string) const {
  std::string lines = usage_of(*app);
  std::string out;
  std::istringstream in(lines);
  bool first = true;
  for (std::string line; std::getline(in, line); first = false) {
    out += (first ? "Usage: " : "       ") + line + "\n";
  }
  return out;
}

// ---- arguments ------------------------------------------------------------------------------

std::string ipc_name(std::string_view argument) {
  if (!argument.empty() && argument.front() == '/') return std::string(argument);
  return "/" + std::string(argument);
}

void remove_all(const std::vector<std::string>& arguments,
                const std::function<void(const std::string&)>& check,
                const std::function<void(const std::string&)>& remove) {
  std::vector<std::string> names;
  for (const std::string& argument : arguments) {
    std::string name = ipc_name(argument);
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  for (const std::string& name : names) {
    try {
      check(name);
    } catch (...) {
      throw failure_of_current_exception(name);
    }
  }
  signals_held held;
  for (const std::string& name : names) {
    try {
      remove(name);
    } catch (...) {
      throw failure_of_current_exception(name);
    }
  }
}

namespace {

// Decimal digits to a value; false when empty, not all digits, or too large.
bool parse_digits(std::string_view text, std::uint64_t& value) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end;
}

}  // namespace

std::uint64_t parse_size(std::string_view text) {
  std::string_view digits = text;
  unsigned shift = 0;
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'K':
      case 'k':
        shift = 10;
        break;
      case 'M':
      case 'm':
        shift = 20;
        break;
      case 'G':
      case 'g':
        shift = 30;
        break;
      default:
        break;
    }
    if (shift != 0) digits.remove_suffix(1);
  }
  std::uint64_t value = 0;
  if (!parse_digits(digits, value)) {
    throw std::invalid_argument("invalid size " + quoted(text) +
                                ": must be a number of bytes, with an optional suffix K, M or G "
                                "(powers of 1024)");
  }
  if (value > (UINT64_MAX >> shift)) {
    throw std::invalid_argument("invalid size " + quoted(text) + ": too large");
  }
  return value << shift;
}

std::uint64_t parse_count(std::string_view text) {
  std::uint64_t value = 0;
  if (!parse_digits(text, value)) {
    throw std::invalid_argument("invalid count " + quoted(text) +
                                ": must be a whole number, 0 or more");
  }
  return value;
}

std::chrono::nanoseconds parse_seconds(std::string_view text) {
  // Digits, at most one '.', at least one digit: no sign, exponent, "inf" or "nan".
  const bool well_formed = !text.empty() &&
                           text.find_first_not_of("0123456789.") == std::string_view::npos &&
                           std::count(text.begin(), text.end(), '.') <= 1 && text != ".";
  double seconds = 0;
  if (well_formed) {
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc() || ptr != text.data() + text.size()) seconds = -1;
  }
  if (!well_formed || seconds < 0) {
    throw std::invalid_argument("invalid time " + quoted(text) +
                                ": must be a number of seconds, 0 or more (such as 2 or 0.5)");
  }
  // A century or more waits without limit (and cannot overflow).
  if (seconds >= 100.0 * 365 * 24 * 3600) return std::chrono::nanoseconds::max();
  return std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(seconds * 1e9)));
}

namespace {

// `digits` decimal digits at the front of `text` (consumed), or -1.
int take_digits(std::string_view& text, std::size_t digits) {
  if (text.size() < digits) return -1;
  int value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    if (text[i] < '0' || text[i] > '9') return -1;
    value = value * 10 + (text[i] - '0');
  }
  text.remove_prefix(digits);
  return value;
}

bool take(std::string_view& text, char c) {
  if (text.empty() || text.front() != c) return false;
  text.remove_prefix(1);
  return true;
}

// ".123" (1 to 9 digits) at the front of `text`, as nanoseconds; 0 when absent, -1 if bad.
long take_fraction(std::string_view& text) {
  if (!take(text, '.')) return 0;
  long ns = 0;
  std::size_t n = 0;
  while (!text.empty() && text.front() >= '0' && text.front() <= '9') {
    if (n < 9) ns = ns * 10 + (text.front() - '0');
    ++n;
    text.remove_prefix(1);
  }
  if (n == 0) return -1;
  for (; n < 9; ++n) ns *= 10;
  return ns;
}

// A time in nanoseconds, which reach only from 1677 to 2262: a later one is the latest.
std::chrono::sys_time<std::chrono::nanoseconds> clamped_time(std::int64_t seconds, long ns) {
  using namespace std::chrono;
  constexpr std::int64_t limit = nanoseconds::max().count() / 1000000000 - 1;
  if (seconds > limit) return sys_time<nanoseconds>(nanoseconds::max());
  return sys_time<nanoseconds>(std::chrono::seconds(seconds) + nanoseconds(ns));
}

}  // namespace

std::chrono::sys_time<std::chrono::nanoseconds> parse_time(std::string_view text) {
  using namespace std::chrono;
  const auto bad = [&] {
    return std::invalid_argument(
        "invalid time " + quoted(text) +
        ": must be a date and time as in RFC 3339 (2026-12-02T10:00:00Z, "
        "2026-12-02 10:00:00.5+01:00, 2026-12-02; local time without an offset) or @SECONDS "
        "since the epoch");
  };
  std::string_view rest = text;
  if (take(rest, '@')) {
    // Seconds since the epoch: digits, an optional fraction.
    const std::string_view digits = rest.substr(0, rest.find_first_not_of("0123456789"));
    if (digits.empty() || digits.size() > 12) throw bad();
    std::uint64_t whole = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), whole);
    rest.remove_prefix(digits.size());
    const long ns = take_fraction(rest);
    if (ns < 0 || !rest.empty()) throw bad();
    return clamped_time(static_cast<std::int64_t>(whole), ns);
  }
  std::tm tm{};
  const int year = take_digits(rest, 4);
  const bool date_ok = year >= 1970 && take(rest, '-');
  const int month = date_ok ? take_digits(rest, 2) : -1;
  const int day = month >= 1 && month <= 12 && take(rest, '-') ? take_digits(rest, 2) : -1;
  if (day < 1 || day > 31) throw bad();
  int hour = 0, minute = 0, second = 0;
  long ns = 0;
  bool local = true;
  int offset = 0;  // seconds east of UTC
  if (!rest.empty()) {
    if (!take(rest, 'T') && !take(rest, 't') && !take(rest, ' ')) throw bad();
    hour = take_digits(rest, 2);
    minute = take(rest, ':') ? take_digits(rest, 2) : -1;
    if (take(rest, ':')) {
      second = take_digits(rest, 2);
      ns = take_fraction(rest);
    }
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60 || ns < 0) {
      throw bad();
    }
    if (take(rest, 'Z') || take(rest, 'z')) {
      local = false;
    } else if (!rest.empty() && (rest.front() == '+' || rest.front() == '-')) {
      const int sign = rest.front() == '-' ? -1 : 1;
      rest.remove_prefix(1);
      const int hours = take_digits(rest, 2);
      const int minutes = take(rest, ':') ? take_digits(rest, 2) : -1;
      if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59) throw bad();
      offset = sign * (hours * 3600 + minutes * 60);
      local = false;
    }
    if (!rest.empty()) throw bad();
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  tm.tm_isdst = -1;
  const std::tm asked = tm;
  const time_t t = local ? ::mktime(&tm) : ::timegm(&tm);
  // A day that the month does not have (2026-02-30) is refused, not moved on.
  if (t == static_cast<time_t>(-1) || tm.tm_mday != asked.tm_mday || tm.tm_mon != asked.tm_mon) {
    throw bad();
  }
  return clamped_time(static_cast<std::int64_t>(t) - offset, ns);
}

CLI::Validator time_check() {
  return check_with("TIME", [](std::string_view text) { parse_time(text); });
}

CLI::Validator size_check() {
  return check_with("SIZE", [](std::string_view text) { parse_size(text); });
}

CLI::Validator count_check() {
  return check_with("COUNT", [](std::string_view text) { parse_count(text); });
}

CLI::Validator seconds_check() {
  return check_with("SECONDS", [](std::string_view text) { parse_seconds(text); });
}

CLI::Validator mode_check() {
  return check_with("OCTAL", [](std::string_view text) { parse_octal_permissions(text); });
}

void add_size_option(CLI::App& command, std::string& size, const std::string& what) {
  command.add_option("--size", size, what)->type_name("N")->required()->check(size_check());
}

void add_mode_option(CLI::App& command, std::optional<std::string>& mode) {
  command.add_option("--mode", mode, "Permissions in octal (default 666, less the umask)")
      ->type_name("OCTAL")
      ->check(mode_check());
}

mode_t default_mode() {
  return open_request{}.permissions;
}

std::string seconds_text(std::chrono::nanoseconds timeout) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%g", std::chrono::duration<double>(timeout).count());
  return std::string(buffer) + (std::string_view(buffer) == "1" ? " second" : " seconds");
}

// ---- output ---------------------------------------------------------------------------------

void write_all(std::span<const std::byte> data, int fd) {
  const char* p = reinterpret_cast<const char*>(data.data());
  std::size_t left = data.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) output_gone();
      throw failure(fd == 1 ? "standard output" : "standard error", std::strerror(errno));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void write_all(std::string_view text, int fd) {
  write_all(std::as_bytes(std::span(text.data(), text.size())), fd);
}

void time_formatter::append(std::string& out,
                            std::chrono::sys_time<std::chrono::nanoseconds> time) {
  const std::int64_t ns = time.time_since_epoch().count();
  std::int64_t second = ns / 1000000000;
  std::int64_t fraction = ns % 1000000000;
  if (fraction < 0) {
    fraction += 1000000000;
    --second;
  }
  if (second != second_) {
    const auto t = static_cast<time_t>(second);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    std::strftime(prefix_, sizeof prefix_, "%Y-%m-%dT%H:%M:%S", &tm);
    second_ = second;
  }
  char digits[16];
  std::snprintf(digits, sizeof digits, ".%09lldZ", static_cast<long long>(fraction));
  out += prefix_;
  out += digits;
}

std::string mode_text(mode_t mode) {
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "%04o", static_cast<unsigned>(mode & 07777));
  return buffer;
}

std::string user_name(uid_t uid) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found) {
    return found->pw_name;
  }
  return std::to_string(uid);
}

std::string group_name(gid_t gid) {
  std::vector<char> buffer(16384);
  group entry{};
  group* found = nullptr;
  if (::getgrgid_r(gid, &entry, buffer.data(), buffer.size(), &found) == 0 && found) {
    return found->gr_name;
  }
  return std::to_string(gid);
}

void table::add(std::vector<std::string> row) {
  rows_.push_back(std::move(row));
}

void table::print(const std::function<bool(std::size_t)>& right_aligned) const {
  std::vector<std::size_t> width;
  for (const auto& row : rows_) {
    if (width.size() < row.size()) width.resize(row.size());
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      const std::string pad(width[i] - row[i].size(), ' ');
      if (i > 0) out += ' ';
      if (right_aligned(i)) {
        out += pad + row[i];
      } else {
        out += row[i];
        if (i + 1 < row.size()) out += pad;  // no trailing blanks
      }
    }
    out += '\n';
  }
  write_all(out);
}

// ---- signals --------------------------------------------------------------------------------

signals_held::signals_held() {
  const sigset_t held = held_signals();
  ::sigprocmask(SIG_BLOCK, &held, &before_);
  if (hold_depth++ == 0) mask_before_hold = before_;
}

signals_held::~signals_held() {
  --hold_depth;
  // A signal that came meanwhile is delivered here, and ends the process (its default action).
  ::sigprocmask(SIG_SETMASK, &before_, nullptr);
}

bool let_signals_in(const std::function<bool()>& wait) {
  if (hold_depth == 0) return wait();
  sigset_t held;
  ::sigprocmask(SIG_SETMASK, &mask_before_hold, &held);
  // Restored however `wait` ends (the signals let in end the process by themselves).
  struct restore {
    sigset_t mask;
    ~restore() { ::sigprocmask(SIG_SETMASK, &mask, nullptr); }
  } hold_again{held};
  return wait();
}

void check_output() {
  pollfd p{1, 0, 0};
  if (::poll(&p, 1, 0) == 1) {
    if (p.revents & (POLLERR | POLLHUP)) output_gone();
    if (p.revents & POLLNVAL) throw failure("standard output", std::strerror(EBADF));
  }
}

readiness wait_until_ready(int fd, short events, std::optional<std::chrono::nanoseconds> timeout) {
  sigset_t current;
  ::sigprocmask(SIG_SETMASK, nullptr, &current);
  const sigset_t* during = hold_depth > 0 ? &mask_before_hold : &current;
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    pollfd fds[2] = {{fd, events, 0}, {1, 0, 0}};
    timespec wait{};
    timespec* limit = nullptr;
    if (timeout && *timeout != std::chrono::nanoseconds::max()) {
      auto left = *timeout - (std::chrono::steady_clock::now() - start);
      if (left < std::chrono::nanoseconds::zero()) left = std::chrono::nanoseconds::zero();
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      wait.tv_sec = static_cast<time_t>(ns / 1000000000);
      wait.tv_nsec = static_cast<long>(ns % 1000000000);
      limit = &wait;
    }
    // The held signals are let in only here, atomically with the wait.
    const int n = ::ppoll(fds, 2, limit, during);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("ppoll");
    }
    if (fds[1].revents & (POLLERR | POLLHUP)) output_gone();
    if (fds[1].revents & POLLNVAL) throw failure("standard output", std::strerror(EBADF));
    if (fds[0].revents != 0) return readiness::ready;
    if (n == 0) return readiness::timed_out;
  }
}

}  // namespace mmipc::cli
