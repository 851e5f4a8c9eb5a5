#pragma once
// What every subcommand group of the mmipc command-line tool shares: how a group registers
// its commands, the conversion of arguments the core does not define (names without their
// "/", sizes with K/M/G, seconds), output, the one-line error, and the handling of Ctrl-C.
//
// A group is one file (mq.cpp, shm.cpp, ...) with one registration function, listed in
// main.cpp. Its commands are CLI11 subcommands made with add_command(); each runs once the
// whole command line is parsed, and reports a failure by throwing (see failure).

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "CLI/CLI.hpp"

namespace mmipc::cli {

/// Exit statuses (a command ended by a signal dies of it: 128 + the signal for the shell).
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;
inline constexpr int exit_usage = 2;

/// A command that failed on one object: printed as "mmipc: <object>: <reason>", status 1.
class failure : public std::runtime_error {
 public:
  failure(std::string object, std::string reason);
  const std::string& object() const noexcept { return object_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string object_;
  std::string reason_;
};

/// The failure about `object` for the exception in flight (call in a catch block): an
/// os_error gives the system's message (and the core's explanation of a system limit), an
/// invalid_argument its own message, and a failure passes through unchanged.
failure failure_of_current_exception(std::string_view object);

// ---- registration ---------------------------------------------------------------------------

/// Adds command `name` to `group` (e.g. "send" to "mq"). `usage` is its synopsis without
/// "mmipc " (shown by --help and after a usage error); `run` runs it after parsing.
CLI::App* add_command(CLI::App& group, const std::string& name, const std::string& description,
                      const std::string& usage, std::function<void()> run);

/// Lets "--" end the options of `command` anywhere before its last positional arguments,
/// also after some of them (`mq send /q a -- -b`). CLI11 2.1 passes a "--" that follows a
/// filled list of positional arguments to the parent command, where what follows is refused:
/// a hidden positional argument that nothing ever fills keeps it in the command.
void accept_end_of_options(CLI::App& command);

/// Adds subcommand group `name` (e.g. "mq") to the program.
CLI::App* add_group(CLI::App& program, const std::string& name, const std::string& description);

/// The usage lines of `app`: its own synopsis, or those of every command below it.
std::string usage_of(const CLI::App& app);

/// A CLI11 formatter whose usage lines are the synopses given to add_command.
class formatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* app, std::string name) const override;
};

// ---- arguments ------------------------------------------------------------------------------

/// A queue or shared memory name as given on the command line: "jobs" means "/jobs". The
/// core checks the rest (validate_ipc_name).
std::string ipc_name(std::string_view argument);

/// A size in bytes: digits with an optional suffix K, M or G (powers of 1024, either case),
/// as util-linux reads sizes. Throws std::invalid_argument.
std::uint64_t parse_size(std::string_view text);

/// A count: decimal digits only. Throws std::invalid_argument.
std::uint64_t parse_count(std::string_view text);

/// Seconds, a non-negative decimal number ("2", "0.5"). Throws std::invalid_argument.
std::chrono::nanoseconds parse_seconds(std::string_view text);

/// A point in time as a user gives it: RFC 3339 ("2026-12-02T10:00:00Z", with a fraction
/// of a second and an offset such as "+01:00" allowed; a space for the "T"; without an
/// offset, local time; "2026-12-02" is its midnight, local time), or "@SECONDS" since the
/// epoch (fractions allowed), as date(1) takes it. Throws std::invalid_argument.
std::chrono::sys_time<std::chrono::nanoseconds> parse_time(std::string_view text);

/// CLI11 checks of the options above (a bad value is a usage error, status 2).
CLI::Validator time_check();
CLI::Validator size_check();
CLI::Validator count_check();
CLI::Validator seconds_check();
/// Permissions in octal, as chmod takes them ("640"), checked by the core.
CLI::Validator mode_check();

/// The options every create command has: `--size N` (required, K/M/G suffixes; `what` says
/// what it measures) and `--mode OCTAL` (default: default_mode()), into `size` and `mode`.
void add_size_option(CLI::App& command, std::string& size, const std::string& what);
void add_mode_option(CLI::App& command, std::optional<std::string>& mode);

/// The default permissions of what the tool creates: the core's, as for the Tcl package
/// (0666, less the umask).
mode_t default_mode();

/// "2 seconds", "0.5 seconds": a timeout as the user gave it.
std::string seconds_text(std::chrono::nanoseconds timeout);

// ---- output ---------------------------------------------------------------------------------

/// Writes all of `data` to descriptor `fd` (standard output unless said). A reader that went
/// away is a failure about "standard output" (or SIGPIPE, when not ignored).
void write_all(std::span<const std::byte> data, int fd = 1);
void write_all(std::string_view text, int fd = 1);

/// Writes times in RFC 3339, UTC, with nanoseconds: "2026-12-02T10:00:00.123456789Z".
/// Remembers the last second it wrote, so that writing many close times is cheap.
class time_formatter {
 public:
  void append(std::string& out, std::chrono::sys_time<std::chrono::nanoseconds> time);

 private:
  std::int64_t second_ = INT64_MIN;
  char prefix_[32] = {};  // "2026-12-02T10:00:00" of second_
};

/// Mode bits as four octal digits ("0640").
std::string mode_text(mode_t mode);
/// The user's or group's name, or the number when it has none.
std::string user_name(uid_t uid);
std::string group_name(gid_t gid);

/// Rows printed as aligned columns (numbers right-aligned), one line per row.
class table {
 public:
  /// Adds a row.
  void add(std::vector<std::string> row);
  /// Prints the rows to standard output; column i is aligned right when right_aligned(i).
  void print(const std::function<bool(std::size_t)>& right_aligned) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// ---- signals --------------------------------------------------------------------------------

/// While alive, SIGINT, SIGTERM and SIGHUP wait (are blocked), so that what the command does
/// to an object is done whole; wait_until_ready() lets them in while it waits. At the end a
/// signal that came meanwhile takes effect: the process dies of it, as the shell expects of a
/// program interrupted by Ctrl-C (status 130 for SIGINT). Their dispositions are never
/// changed: a signal the caller ignores stays ignored.
class signals_held {
 public:
  signals_held();
  signals_held(const signals_held&) = delete;
  signals_held& operator=(const signals_held&) = delete;
  ~signals_held();

 private:
  sigset_t before_;
};

/// Runs `wait` (a wait of the core that cannot take a signal mask, such as a ring log
/// reader's) with the signals held by signals_held let in, so that Ctrl-C ends the process
/// there, at once; returns what `wait` returns. A signal that came before is let in first.
bool let_signals_in(const std::function<bool()>& wait);

/// Ends the process as by SIGPIPE (or fails, when SIGPIPE is ignored) when the reader of
/// standard output went away; returns otherwise (a follower checks it while nothing comes).
void check_output();

/// `rm NAME...` of either kind: each name once (as ipc_name() gives it), every one passed to
/// `check` before any is passed to `remove`, so a command that fails removes nothing; the
/// removals run with signals held. Errors name the object (failure_of_current_exception).
void remove_all(const std::vector<std::string>& arguments,
                const std::function<void(const std::string&)>& check,
                const std::function<void(const std::string&)>& remove);

/// What wait_until_ready() saw.
enum class readiness { ready, timed_out };

/// Waits until `fd` is ready for `events` (POLLIN, POLLOUT), at most `timeout` (unset: no
/// limit), letting the signals held by signals_held in meanwhile (Ctrl-C ends the process
/// there, at once). Also watches standard output: when its reader went away, the process
/// ends as by SIGPIPE (or fails, when SIGPIPE is ignored) before anything more is taken.
readiness wait_until_ready(int fd, short events, std::optional<std::chrono::nanoseconds> timeout);

}  // namespace mmipc::cli
