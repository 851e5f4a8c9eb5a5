// Tests of the mmipc command-line tool: the real binary, run as separate processes, on real
// queues and shared memory objects; the Tcl package posixipc (real tclsh processes) on the
// other side of the round trips; its man page, README section and bash completion. Every
// queue and object has a name unique to this run and is removed however the test ends.
//
// MMIPC_CLI_WRAPPER (words separated by spaces), when set, is put before every run of the
// tool: scripts/valgrind runs these tests with the tool under valgrind that way. The bad-input
// test reads MMIPC_FUZZ_SEED, MMIPC_CLI_FUZZ_CALLS (default 400; 4000 with MMIPC_STRESS) and
// MMIPC_FUZZ_HANG (seconds a run may take before it counts as waiting, default 1).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli.hpp"
#include "cli_test_config.hpp"
#include "json.hpp"
#include "mmipc/message_queue.hpp"
#include "mmipc/ring_log.hpp"
#include "mmipc/semaphore.hpp"
#include "mmipc/shared_memory.hpp"
#include "test_util.hpp"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using mmipc::message_queue;
using mmipc::shared_memory;
using mmipc::testing::bytes_of;
using mmipc::testing::reap;
using mmipc::testing::spawn;
using mmipc::testing::temp_file;
using mmipc::testing::unique_name;

// ---- processes ------------------------------------------------------------------------------

// How a process ended, and what it wrote.
struct outcome {
  int status = -1;  // the exit status, or 128 + the signal that ended it (as a shell says)
  int signal = 0;   // that signal, or 0
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const outcome& o) {
  return os << "status " << o.status << " (signal " << o.signal << ")\nstdout: [" << o.out
            << "]\nstderr: [" << o.err << "]";
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::istringstream in{std::string(text)};
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// A child process with pipes on its standard input, output and error.
class process {
 public:
  process(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
    // A child that exits without reading its input must not kill this process.
    ::signal(SIGPIPE, SIG_IGN);
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 ||
        ::pipe2(err, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe");
    }
    std::vector<std::string> environment;
    for (char** e = environ; *e != nullptr; ++e) environment.emplace_back(*e);
    for (const std::string& e : env) environment.push_back(e);
    std::vector<char*> args, envp;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (const std::string& e : environment) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      // Signals as a shell gives them to a command (the test runner may block some).
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::signal(SIGPIPE, SIG_DFL);
      ::signal(SIGINT, SIG_DFL);
      ::execvpe(args[0], args.data(), envp.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    in_ = in[1];
    out_ = out[0];
    err_ = err[0];
  }
  process(const process&) = delete;
  process& operator=(const process&) = delete;
  ~process() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    for (int fd : {in_, out_, err_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  pid_t pid() const { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }
  void close_input() {
    if (in_ >= 0) ::close(in_);
    in_ = -1;
  }
  // Closes our end of its standard output: its reader goes away.
  void close_output() {
    if (out_ >= 0) ::close(out_);
    out_ = -1;
  }

  // The next line of its standard output (without the newline), or nullopt when it ended
  // or `limit` passed first.
  std::optional<std::string> read_line(std::chrono::milliseconds limit = 60s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      const std::size_t newline = out_buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = out_buffer_.substr(0, newline);
        out_buffer_.erase(0, newline + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms || out_ < 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::read(out_, buffer, sizeof buffer);
      if (n <= 0) return std::nullopt;
      out_buffer_.append(buffer, static_cast<std::size_t>(n));
    }
  }

  // True when it has not ended within `limit` (it is left running).
  bool still_running_after(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        status_ = status;
        return false;
      }
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }

  // Gives it `input` (then end of file), collects its output until it exits, and reaps it;
  // a process still running after `limit` is killed, and the test fails.
  // With `interrupt_after`, a process still running then gets SIGINT (and *interrupted is
  // set), before it is reaped, so the signal never reaches another process.
  outcome finish(std::string_view input = {}, std::chrono::seconds limit = 120s,
                 std::optional<std::chrono::milliseconds> interrupt_after = std::nullopt,
                 bool* interrupted = nullptr) {
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + limit;
    if (in_ >= 0) ::fcntl(in_, F_SETFL, O_NONBLOCK);
    std::size_t written = 0;
    if (input.empty()) close_input();
    outcome o;
    o.out = std::move(out_buffer_);
    while (out_ >= 0 || err_ >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) {
        ADD_FAILURE() << "process " << pid_ << " still running after " << limit.count() << " s";
        ::kill(pid_, SIGKILL);
        break;
      }
      auto wait = left;
      if (interrupt_after && !(interrupted && *interrupted)) {
        const auto until = std::chrono::duration_cast<std::chrono::milliseconds>(
            start + *interrupt_after - std::chrono::steady_clock::now());
        if (until <= 0ms) {
          ::kill(pid_, SIGINT);
          if (interrupted) *interrupted = true;
          interrupt_after.reset();
          continue;
        }
        wait = std::min(wait, until);
      }
      pollfd fds[3] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}, {in_, POLLOUT, 0}};
      if (::poll(fds, 3, static_cast<int>(wait.count())) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        char buffer[65536];
        const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
        if (n > 0) {
          (i == 0 ? o.out : o.err).append(buffer, static_cast<std::size_t>(n));
        } else {
          ::close(fds[i].fd);
          (i == 0 ? out_ : err_) = -1;
        }
      }
      if (fds[2].fd >= 0 && fds[2].revents != 0) {
        const ssize_t n = ::write(in_, input.data() + written, input.size() - written);
        if (n > 0) written += static_cast<std::size_t>(n);
        if (n < 0 || written == input.size()) close_input();
      }
    }
    close_input();
    int status = status_;
    if (!reaped_) {
      ::waitpid(pid_, &status, 0);
      reaped_ = true;
    }
    if (WIFEXITED(status)) {
      o.status = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      o.signal = WTERMSIG(status);
      o.status = 128 + o.signal;
    }
    return o;
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1, err_ = -1;
  std::string out_buffer_;
  bool reaped_ = false;
  int status_ = 0;
};

// The command line that runs the tool with `args` (under MMIPC_CLI_WRAPPER when set).
std::vector<std::string> tool(const std::vector<std::string>& args) {
  std::vector<std::string> argv;
  if (const char* wrapper = std::getenv("MMIPC_CLI_WRAPPER")) argv = split_words(wrapper);
  argv.push_back(MMIPC_CLI_PATH);
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// Runs the tool to its end.
outcome mmipc(const std::vector<std::string>& args, std::string_view input = {}) {
  process p(tool(args));
  return p.finish(input);
}

bool have_tcl() {
  return MMIPC_CLI_HAVE_TCL != 0;
}

// The environment of a tclsh that loads the posixipc package of this build.
std::vector<std::string> tcl_environment() {
  std::vector<std::string> env = MMIPC_CLI_TCL_ENV;
  env.push_back(std::string("TCLLIBPATH=") + MMIPC_CLI_TCLLIBPATH);
  return env;
}

// A Tcl script (after `package require posixipc` and the imports of mq and shm) in a file
// that lives as long as this object.
struct tcl_script {
  temp_file file;
  explicit tcl_script(const std::string& body)
      : file("package require posixipc\nnamespace import ::posixipc::mq ::posixipc::shm\n" + body +
             "\n") {}
  std::vector<std::string> argv(const std::vector<std::string>& args) const {
    std::vector<std::string> v = {MMIPC_CLI_TCLSH, file.path().string()};
    v.insert(v.end(), args.begin(), args.end());
    return v;
  }
};

outcome tcl(const std::string& body, const std::vector<std::string>& args = {}) {
  tcl_script script(body);
  process p(script.argv(args), tcl_environment());
  return p.finish();
}

// Runs a shell script (bash -c) with `args` as $0, $1...
outcome shell(const std::string& script, const std::vector<std::string>& args = {},
              std::string_view input = {}) {
  std::vector<std::string> argv = {"/bin/bash", "-c", script};
  argv.insert(argv.end(), args.begin(), args.end());
  process p(argv);
  return p.finish(input);
}

bool command_exists(const std::string& name) {
  return shell("command -v \"$0\" >/dev/null", {name}).status == 0;
}

// True when this process may make private mount and IPC namespaces (root, unshare allowed).
bool can_unshare() {
  static const bool yes = shell("unshare -im true 2>/dev/null").status == 0;
  return yes;
}

// ---- names ----------------------------------------------------------------------------------

// A queue name unique to this run, removed at the end of the test.
struct queue {
  std::string name = "/" + unique_name("mmipc-cli-q");
  ~queue() { ::mq_unlink(name.c_str()); }
  // The name as a user may give it, without its "/".
  std::string bare() const { return name.substr(1); }
};

// A shared memory name unique to this run; the object and what the core made for it (its
// semaphore) are removed at the end of the test.
struct object {
  std::string name = "/" + unique_name("mmipc-cli-s");
  ~object() {
    try {
      shared_memory::unlink(name);
    } catch (const std::exception&) {
    }
  }
  std::string bare() const { return name.substr(1); }
  std::string path() const { return "/dev/shm" + name; }
  std::string semaphore_path() const { return "/dev/shm/sem." + bare(); }
  std::string lock_path() const { return "/dev/shm" + shared_memory::lock_name(name); }
};

// A directory of its own for the files of a test, removed with all it holds at the end.
struct scratch_dir {
  std::filesystem::path path;
  scratch_dir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/mmipc-cli-log.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path = pattern;
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  // The names of what it holds.
  std::set<std::string> entries() const {
    std::set<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path)) {
      names.insert(e.path().filename().string());
    }
    return names;
  }
};

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

bool queue_exists(const std::string& name) {
  try {
    message_queue::open(name, O_RDONLY);
    return true;
  } catch (const mmipc::os_error& e) {
    return e.error_number() != ENOENT;
  }
}

std::string file_contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The messages in a queue, drained (priority order).
std::vector<std::string> drain(const std::string& name) {
  auto q = message_queue::open(name, O_RDONLY | O_NONBLOCK);
  std::vector<std::string> out;
  for (;;) {
    try {
      out.push_back(q.receive_string());
    } catch (const mmipc::os_error& e) {
      if (e.error_number() == EAGAIN) return out;
      throw;
    }
  }
}

long current_messages(const std::string& name) {
  return message_queue::open(name, O_RDONLY).attributes().current_messages;
}

// The lines of `text`.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// One line on standard error, "mmipc: <object>: <reason>", and nothing on standard output.
void expect_failure(const outcome& o, const std::string& object, const std::string& reason) {
  EXPECT_EQ(o.status, 1) << o;
  EXPECT_EQ(o.out, "") << o;
  EXPECT_EQ(o.err, "mmipc: " + object + ": " + reason + "\n") << o;
}

// ---- arguments and output, directly ---------------------------------------------------------

TEST(CliArgumentsTest, SizesTakeKMGSuffixesInPowersOf1024) {
  using mmipc::cli::parse_size;
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("4096"), 4096u);
  EXPECT_EQ(parse_size("4K"), 4096u);
  EXPECT_EQ(parse_size("4k"), 4096u);
  EXPECT_EQ(parse_size("2M"), 2u << 20);
  EXPECT_EQ(parse_size("3G"), 3ull << 30);
  EXPECT_EQ(parse_size("17179869183G"), 17179869183ull << 30);
  for (const char* bad : {"", "K", "-1", "+1", "1.5K", "1T", "1KB", "1 K", " 1", "0x10", "abc",
                          "17179869184G", "99999999999999999999"}) {
    EXPECT_THROW(parse_size(bad), std::invalid_argument) << bad;
  }
}

TEST(CliArgumentsTest, NamesWithoutTheirSlashGetIt) {
  EXPECT_EQ(mmipc::cli::ipc_name("jobs"), "/jobs");
  EXPECT_EQ(mmipc::cli::ipc_name("/jobs"), "/jobs");
  EXPECT_EQ(mmipc::cli::ipc_name(""), "/");
  EXPECT_EQ(mmipc::cli::ipc_name("a/b"), "/a/b");  // refused later, by the core
}

TEST(CliArgumentsTest, SecondsAreNonNegativeDecimals) {
  using mmipc::cli::parse_seconds;
  EXPECT_EQ(parse_seconds("2"), 2s);
  EXPECT_EQ(parse_seconds("0.5"), 500ms);
  EXPECT_EQ(parse_seconds("0"), 0s);
  EXPECT_EQ(parse_seconds(".25"), 250ms);
  EXPECT_EQ(parse_seconds("99999999999"), std::chrono::nanoseconds::max());
  for (const char* bad : {"", ".", "-1", "+1", "1e3", "inf", "nan", "1.2.3", "1s", " 1"}) {
    EXPECT_THROW(parse_seconds(bad), std::invalid_argument) << bad;
  }
}

TEST(CliArgumentsTest, TimesAreRfc3339OrSecondsSinceTheEpoch) {
  using mmipc::cli::parse_time;
  using std::chrono::sys_days;
  using namespace std::chrono;
  const auto day = sys_days(year(2026) / 12 / 2);
  EXPECT_EQ(parse_time("2026-12-02T10:00:00Z"), day + 10h);
  EXPECT_EQ(parse_time("2026-12-02t10:00:00.123456789z"), day + 10h + 123456789ns);
  EXPECT_EQ(parse_time("2026-12-02 10:00:00.5+01:00"), day + 9h + 500ms);
  EXPECT_EQ(parse_time("2026-12-02T10:00-02:30"), day + 12h + 30min);
  EXPECT_EQ(parse_time("@0"), sys_time<nanoseconds>{});
  // Beyond what nanoseconds reach (2262): the latest time there is.
  EXPECT_EQ(parse_time("2999-01-01T00:00:00Z"), sys_time<nanoseconds>(nanoseconds::max()));
  EXPECT_EQ(parse_time("@999999999999"), sys_time<nanoseconds>(nanoseconds::max()));
  EXPECT_EQ(parse_time("@1764669600.25"), sys_seconds(1764669600s) + 250ms);
  // Without an offset: local time, as date(1) reads it.
  const outcome date = shell("date -d '2026-12-02 10:00:00' +%s");
  ASSERT_EQ(date.status, 0) << date;
  EXPECT_EQ(parse_time("2026-12-02T10:00:00"), sys_seconds(seconds(std::stoll(date.out))));
  EXPECT_EQ(parse_time("2026-12-02 10:00"), parse_time("2026-12-02T10:00:00"));
  for (const char* bad : {"", "yesterday", "2026-02-30", "2026-13-01", "2026-12-02T25:00Z",
                          "2026-12-02T10", "2026-12-02T10:00:00+1", "2026-12-02T10:00:00.Z",
                          "2026-12-02T10:00:00Zx", "@", "@-1", "@1e3", "1969-12-31", "@1.2.3"}) {
    EXPECT_THROW(parse_time(bad), std::invalid_argument) << bad;
  }
  std::string text;
  mmipc::cli::time_formatter times;
  times.append(text, day + 10h + 5ns);
  text += ' ';
  times.append(text, sys_time<nanoseconds>{} + 1500ms);
  EXPECT_EQ(text, "2026-12-02T10:00:00.000000005Z 1970-01-01T00:00:01.500000000Z");
}

TEST(CliJsonTest, StringsEscapeQuotesControlsAndBytesOutsideUtf8) {
  using mmipc::cli::json_string;
  EXPECT_EQ(json_string("plain /jobs"), "\"plain /jobs\"");
  EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_string("\n\t\r\b\f"), "\"\\n\\t\\r\\b\\f\"");
  EXPECT_EQ(json_string(std::string("\x01\x1f\x7f\0", 4)), "\"\\u0001\\u001f\\u007f\\u0000\"");
  // Valid UTF-8 stays as it is: 2, 3 and 4 bytes.
  EXPECT_EQ(json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  // Each byte outside UTF-8 is \udcXX: lone bytes, truncated sequences, overlong forms,
  // surrogates, code points above U+10FFFF.
  EXPECT_EQ(json_string("\xff"), "\"\\udcff\"");
  EXPECT_EQ(json_string("a\xc3"), "\"a\\udcc3\"");
  EXPECT_EQ(json_string("\xe2\x82"), "\"\\udce2\\udc82\"");
  EXPECT_EQ(json_string("\xc0\x80"), "\"\\udcc0\\udc80\"");
  EXPECT_EQ(json_string("\xe0\x80\xaf"), "\"\\udce0\\udc80\\udcaf\"");
  EXPECT_EQ(json_string("\xed\xa0\x80"), "\"\\udced\\udca0\\udc80\"");
  EXPECT_EQ(json_string("\xf4\x90\x80\x80"), "\"\\udcf4\\udc90\\udc80\\udc80\"");
  EXPECT_EQ(json_string("\x80x"), "\"\\udc80x\"");
}

TEST(CliJsonTest, ObjectsAreOneLineWithTheirKeysInOrder) {
  mmipc::cli::json_object o;
  o.add_string("name", "/q").add_number("n", std::int64_t{-3}).add_bool("b", true);
  o.add_number("missing", std::optional<std::int64_t>()).add_null("z");
  EXPECT_EQ(o.line(), "{\"name\":\"/q\",\"n\":-3,\"b\":true,\"missing\":null,\"z\":null}\n");
  EXPECT_EQ(mmipc::cli::json_object().line(), "{}\n");
}

// ---- the program: help, usage errors, failures ----------------------------------------------

// The synopsis of cli.md, line for line.
const std::vector<std::string> synopsis = {
    "mmipc mq ls [--json]",
    "mmipc mq create NAME [--maxmsg N] [--msgsize N] [--mode OCTAL]",
    "mmipc mq send NAME [--priority P] [--timeout SECONDS] [MESSAGE...]",
    "mmipc mq recv NAME [-n COUNT] [--follow] [--timeout SECONDS] [--priority] [-0]",
    "mmipc mq stat NAME [--json]",
    "mmipc mq rm NAME...",
    "mmipc shm ls [--json]",
    "mmipc shm create NAME --size N [--mode OCTAL]",
    "mmipc shm cat NAME [--offset N] [--length N] [--hex]",
    "mmipc shm write NAME [--offset N] [DATA]",
    "mmipc shm stat NAME [--json]",
    "mmipc shm rm NAME...",
    "mmipc log create FILE --size N [--mode OCTAL]",
    "mmipc log append FILE [MESSAGE...]",
    "mmipc log cat FILE [--from SEQ] [--since TIME] [--seq] [--json]",
    "mmipc log tail FILE [-n COUNT] [-f]",
    "mmipc log stat FILE [--json]",
};

TEST(CliTest, EveryLevelAnswersHelpWithTheSynopsis) {
  outcome top = mmipc({"--help"});
  EXPECT_EQ(top.status, 0) << top;
  EXPECT_EQ(top.err, "");
  for (const std::string& line : synopsis) {
    EXPECT_NE(top.out.find(line + "\n"), std::string::npos) << line << "\n" << top.out;
    // The command's own help and its group's show it too.
    std::vector<std::string> words = split_words(line);
    outcome group = mmipc({words[1], "--help"});
    EXPECT_EQ(group.status, 0) << group;
    EXPECT_NE(group.out.find(line + "\n"), std::string::npos) << group.out;
    outcome command = mmipc({words[1], words[2], "-h"});
    EXPECT_EQ(command.status, 0) << command;
    EXPECT_NE(command.out.find("Usage: " + line + "\n"), std::string::npos) << command.out;
  }
}

TEST(CliTest, UsageErrorsExitTwoWithTheUsageLine) {
  queue q;
  object s;
  struct usage_case {
    std::vector<std::string> args;
    std::string first_line;  // the message
    std::string usage;       // the first usage line shown
  };
  const std::vector<usage_case> cases = {
      {{}, "mmipc: A subcommand is required", synopsis[0]},
      {{"frobnicate"},
       "mmipc: unknown command \"frobnicate\": should be one of mq, shm, log",
       synopsis[0]},
      {{"--json"}, "mmipc: The following argument was not expected: --json", synopsis[0]},
      {{"mq"}, "mmipc: mq: A subcommand is required", synopsis[0]},
      {{"shm", "send"},
       "mmipc: shm: unknown command \"send\": should be one of ls, create, cat, write, stat, rm",
       synopsis[6]},
      {{"mq", "send"}, "mmipc: mq send: NAME is required", synopsis[2]},
      {{"mq", "recv", q.name, "--bogus"},
       "mmipc: mq recv: The following argument was not expected: --bogus",
       synopsis[3]},
      {{"mq", "recv", q.name, "-n", "2x"},
       "mmipc: mq recv: -n: invalid count \"2x\": must be a whole number, 0 or more",
       synopsis[3]},
      {{"mq", "recv", q.name, "--timeout", "-1"},
       "mmipc: mq recv: --timeout: invalid time \"-1\": must be a number of seconds, 0 or more "
       "(such as 2 or 0.5)",
       synopsis[3]},
      {{"mq", "send", q.name, "--priority", "32768", "x"},
       "mmipc: mq send: --priority: Value 32768 not in range 0 to 32767",
       synopsis[2]},
      {{"mq", "create", q.name, "--mode", "8"},
       "mmipc: mq create: --mode: invalid permissions \"8\": must be between 0 and 07777 in "
       "octal",
       synopsis[1]},
      {{"mq", "create", q.name, "--msgsize", "1T"},
       "mmipc: mq create: --msgsize: invalid size \"1T\": must be a number of bytes, with an "
       "optional suffix K, M or G (powers of 1024)",
       synopsis[1]},
      {{"shm", "create", s.name}, "mmipc: shm create: --size is required", synopsis[7]},
      {{"shm", "cat", s.name, "--length"},
       "mmipc: shm cat: --length: 1 required N missing",
       synopsis[8]},
      {{"shm", "write", s.name, "a", "b"},
       "mmipc: shm write: The following argument was not expected: b",
       synopsis[9]},
      {{"log", "create", "x.log"}, "mmipc: log create: --size is required", synopsis[12]},
      {{"log", "create", "x.log", "--size", "-1"},
       "mmipc: log create: --size: invalid size \"-1\": must be a number of bytes, with an "
       "optional suffix K, M or G (powers of 1024)",
       synopsis[12]},
      {{"log", "cat", "x.log", "--since", "yesterday"},
       "mmipc: log cat: --since: invalid time \"yesterday\": must be a date and time as in RFC "
       "3339 (2026-12-02T10:00:00Z, 2026-12-02 10:00:00.5+01:00, 2026-12-02; local time "
       "without an offset) or @SECONDS since the epoch",
       synopsis[14]},
      {{"log", "tail", "x.log", "-n", "-1"},
       "mmipc: log tail: -n: invalid count \"-1\": must be a whole number, 0 or more",
       synopsis[15]},
      {{"log", "stat"}, "mmipc: log stat: FILE is required", synopsis[16]},
  };
  for (const usage_case& c : cases) {
    outcome o = mmipc(c.args);
    EXPECT_EQ(o.status, 2) << o;
    EXPECT_EQ(o.out, "");
    const std::vector<std::string> lines = lines_of(o.err);
    ASSERT_GE(lines.size(), 3u) << o;
    EXPECT_EQ(lines[0], c.first_line) << o;
    EXPECT_EQ(lines[1], "Usage: " + c.usage) << o;
    EXPECT_TRUE(lines.back().starts_with("Run 'mmipc")) << o;
  }
  EXPECT_FALSE(queue_exists(q.name));
  EXPECT_FALSE(exists(s.path()));
  EXPECT_FALSE(exists(s.semaphore_path()));
  EXPECT_FALSE(exists("x.log"));
}

// ---- mq create, stat, rm --------------------------------------------------------------------

TEST(CliMqTest, CreateGivesTheQueueItsCapacityAndMode) {
  queue q;
  outcome o =
      mmipc({"mq", "create", q.bare(), "--maxmsg", "3", "--msgsize", "1K", "--mode", "640"});
  EXPECT_EQ(o.status, 0) << o;
  EXPECT_EQ(o.out + o.err, "");
  auto mq = message_queue::open(q.name, O_RDONLY);
  EXPECT_EQ(mq.attributes().max_messages, 3);
  EXPECT_EQ(mq.attributes().message_size, 1024);
  struct stat st {};
  ASSERT_EQ(::fstat(mq.native_handle(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);

  outcome text = mmipc({"mq", "stat", q.name});
  EXPECT_EQ(text.status, 0) << text;
  EXPECT_EQ(text.out, "name: " + q.name +
                          "\nmessages: 0\nmax_messages: 3\nmessage_size: 1024\nmode: 0640\n"
                          "owner: " +
                          mmipc::cli::user_name(st.st_uid) +
                          "\ngroup: " + mmipc::cli::group_name(st.st_gid) + "\n");
  outcome json = mmipc({"mq", "stat", q.bare(), "--json"});
  EXPECT_EQ(json.status, 0) << json;
  EXPECT_EQ(json.out, "{\"name\":\"" + q.name +
                          "\",\"messages\":0,\"max_messages\":3,\"message_size\":1024,"
                          "\"mode\":\"0640\",\"owner\":\"" +
                          mmipc::cli::user_name(st.st_uid) + "\",\"group\":\"" +
                          mmipc::cli::group_name(st.st_gid) + "\"}\n");
}

TEST(CliMqTest, CreateWithOneSizeTakesTheSystemDefaultForTheOther) {
  queue a, b;
  ASSERT_EQ(mmipc({"mq", "create", a.name, "--msgsize", "100"}).status, 0);
  ASSERT_EQ(mmipc({"mq", "create", b.name, "--maxmsg", "2"}).status, 0);
  const mmipc::mq_capacity defaults =
      mmipc::mq_limits::current().capacity(std::nullopt, std::nullopt);
  const auto qa = message_queue::open(a.name, O_RDONLY).attributes();
  const auto qb = message_queue::open(b.name, O_RDONLY).attributes();
  EXPECT_EQ(qa.max_messages, defaults.max_messages);
  EXPECT_EQ(qa.message_size, 100);
  EXPECT_EQ(qb.max_messages, 2);
  EXPECT_EQ(qb.message_size, defaults.message_size);
  // The default mode is the Tcl package's: 0666 less the umask.
  struct stat st {};
  ASSERT_EQ(::fstat(message_queue::open(a.name, O_RDONLY).native_handle(), &st), 0);
  const mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(st.st_mode & 07777, 0666u & ~mask);
}

TEST(CliMqTest, CreateRefusesAnExistingQueueAndLeavesIt) {
  queue q;
  ASSERT_EQ(mmipc({"mq", "create", q.name, "--maxmsg", "2", "--msgsize", "64"}).status, 0);
  message_queue::open(q.name, O_WRONLY).send(bytes_of("kept"));
  expect_failure(mmipc({"mq", "create", q.name}), q.name, "File exists");
  EXPECT_EQ(drain(q.name), std::vector<std::string>{"kept"});
}

// The explanation of a system limit is the core's, the same the Tcl package gives.
TEST(CliMqTest, AQueueLargerThanTheSystemLimitsIsExplainedAsInTcl) {
  for (const std::vector<std::string>& sizes :
       {std::vector<std::string>{"--maxmsg", "100000"}, {"--msgsize", "100M"}}) {
    queue q;
    std::vector<std::string> args = {"mq", "create", q.name};
    args.insert(args.end(), sizes.begin(), sizes.end());
    outcome o = mmipc(args);
    EXPECT_EQ(o.status, 1) << o;
    const std::string prefix = "mmipc: " + q.name + ": Invalid argument (";
    ASSERT_TRUE(o.err.starts_with(prefix) && o.err.ends_with(")\n")) << o;
    const std::string explanation = o.err.substr(prefix.size(), o.err.size() - prefix.size() - 2);
    EXPECT_TRUE(explanation.find("msg_max is") != std::string::npos ||
                explanation.find("msgsize_max is") != std::string::npos ||
                explanation.find("hard limit is") != std::string::npos)
        << explanation;
    EXPECT_FALSE(queue_exists(q.name));
    if (!have_tcl()) continue;
    // posixipc's -maxmsg and -msgsize: the same request, the same words (in errorInfo).
    const std::string option = sizes[0] == "--maxmsg" ? "-maxmsg" : "-msgsize";
    const std::string value = sizes[0] == "--maxmsg" ? "100000" : "104857600";
    outcome t = tcl("catch {mq open " + option + " " + value + " [lindex $argv 0] w+}\n" +
                        "puts -nonewline $::errorInfo",
                    {q.name});
    EXPECT_NE(t.out.find(explanation), std::string::npos) << t << "\nCLI: " << explanation;
  }
}

TEST(CliMqTest, AnExhaustedQueueBudgetIsExplained) {
  queue q;
  outcome o = shell("ulimit -q 1024 && exec \"$@\"", [&] {
    std::vector<std::string> a = {"sh"};
    for (const std::string& w : tool({"mq", "create", q.name})) a.push_back(w);
    return a;
  }());
  EXPECT_EQ(o.status, 1) << o;
  EXPECT_TRUE(o.err.starts_with("mmipc: " + q.name + ": Too many open files (")) << o;
  EXPECT_NE(o.err.find("RLIMIT_MSGQUEUE of 1024 bytes"), std::string::npos) << o;
  EXPECT_FALSE(queue_exists(q.name));
}

TEST(CliMqTest, ANameWithASecondSlashIsRefusedByEveryCommand) {
  queue q;
  const std::string bad = q.name + "/x";
  const std::string reason = "invalid message queue name \"" + bad +
                             "\": must start with \"/\" and contain no other \"/\"";
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"mq", "create", bad},
                                             {"mq", "send", bad, "x"},
                                             {"mq", "recv", bad},
                                             {"mq", "stat", bad},
                                             {"mq", "rm", bad}}) {
    expect_failure(mmipc(args), bad, reason);
  }
  // Without its first "/" too: the name gets one, and is refused for the other.
  expect_failure(mmipc({"mq", "create", bad.substr(1)}), bad, reason);
  EXPECT_FALSE(queue_exists(q.name));
}

TEST(CliMqTest, RmRemovesEveryNamedQueue) {
  queue a, b;
  for (const queue* q : {&a, &b}) {
    ASSERT_EQ(mmipc({"mq", "create", q->name, "--maxmsg", "1", "--msgsize", "8"}).status, 0);
  }
  outcome o = mmipc({"mq", "rm", a.bare(), b.name, a.name});
  EXPECT_EQ(o.status, 0) << o;
  EXPECT_FALSE(queue_exists(a.name));
  EXPECT_FALSE(queue_exists(b.name));
}

TEST(CliMqTest, RmWithOneMissingNameRemovesNone) {
  queue a, missing, b;
  for (const queue* q : {&a, &b}) {
    ASSERT_EQ(mmipc({"mq", "create", q->name, "--maxmsg", "1", "--msgsize", "8"}).status, 0);
  }
  expect_failure(mmipc({"mq", "rm", a.name, missing.name, b.name}), missing.name,
                 "No such file or directory");
  EXPECT_TRUE(queue_exists(a.name));
  EXPECT_TRUE(queue_exists(b.name));
  expect_failure(mmipc({"mq", "stat", missing.name}), missing.name, "No such file or directory");
}

// ---- mq send and recv -----------------------------------------------------------------------

struct small_queue : queue {
  explicit small_queue(long max_messages = 4, long message_size = 64) {
    message_queue::open(name, O_RDWR | O_CREAT | O_EXCL, 0600,
                        mmipc::mq_capacity{max_messages, message_size});
  }
};

TEST(CliMqTest, SendSendsEachArgumentAsOneMessage) {
  small_queue q;
  outcome o = mmipc({"mq", "send", q.bare(), "first one", "", "-5", "--", "--not-an-option"});
  EXPECT_EQ(o.status, 0) << o;
  EXPECT_EQ(o.out + o.err, "");
  EXPECT_EQ(drain(q.name), (std::vector<std::string>{"first one", "", "-5", "--not-an-option"}));
}

TEST(CliMqTest, SendSendsEachLineOfStandardInputWithoutItsNewline) {
  small_queue q;
  outcome o = mmipc({"mq", "send", q.name}, "one\n\nthree\nlast, without newline");
  EXPECT_EQ(o.status, 0) << o;
  EXPECT_EQ(drain(q.name), (std::vector<std::string>{"one", "", "three", "last, without newline"}));
  EXPECT_EQ(mmipc({"mq", "send", q.name}, "").status, 0);
  EXPECT_EQ(current_messages(q.name), 0);
}

TEST(CliMqTest, SendGivesThePriorityAndRecvTakesTheHighestFirst) {
  small_queue q;
  ASSERT_EQ(mmipc({"mq", "send", q.name, "low"}).status, 0);
  ASSERT_EQ(mmipc({"mq", "send", q.name, "--priority", "32767", "top"}).status, 0);
  ASSERT_EQ(mmipc({"mq", "send", q.name, "--priority", "5", "mid"}).status, 0);
  outcome o = mmipc({"mq", "recv", q.name, "-n", "3", "--priority"});
  EXPECT_EQ(o.status, 0) << o;
  EXPECT_EQ(o.out, "32767\ttop\n5\tmid\n0\tlow\n");
}

TEST(CliMqTest, SendRefusesATooLongMessageBeforeSendingAny) {
  small_queue q(4, 8);
  expect_failure(mmipc({"mq", "send", q.name, "fits", "123456789", "x"}), q.name,
                 "message 2 (9 bytes) is longer than the queue's message size of 8 bytes");
  EXPECT_EQ(current_messages(q.name), 0);
  // Lines are sent as they come: those before the long one are in the queue, and it says so.
  expect_failure(mmipc({"mq", "send", q.name}, "ok\n123456789\nnever\n"), q.name,
                 "line 2 is longer than the queue's message size of 8 bytes (1 message sent)");
  EXPECT_EQ(drain(q.name), std::vector<std::string>{"ok"});
}

TEST(CliMqTest, SendToAFullQueueTimesOutAndSaysHowManyWereSent) {
  small_queue q(2, 16);
  ASSERT_EQ(mmipc({"mq", "send", q.name, "a"}).status, 0);
  expect_failure(mmipc({"mq", "send", q.name, "--timeout", "0.2", "b", "c", "d"}), q.name,
                 "the queue stayed full for 0.2 seconds (1 of 3 messages sent)");
  expect_failure(mmipc({"mq", "send", q.name, "--timeout", "0", "e"}), q.name,
                 "the queue stayed full for 0 seconds");
  EXPECT_EQ(drain(q.name), (std::vector<std::string>{"a", "b"}));
}

TEST(CliMqTest, SendAndRecvOfAMissingQueueCreateNothing) {
  queue q;
  expect_failure(mmipc({"mq", "send", q.name, "x"}), q.name, "No such file or directory");
  expect_failure(mmipc({"mq", "recv", q.name, "--timeout", "0"}), q.name,
                 "No such file or directory");
  EXPECT_FALSE(queue_exists(q.name));
}

TEST(CliMqTest, RecvPrintsOneMessageAndANewlineByDefault) {
  small_queue q;
  ASSERT_EQ(mmipc({"mq", "send", q.name, "one", "two"}).status, 0);
  outcome o = mmipc({"mq", "recv", q.bare()});
  EXPECT_EQ(o.status, 0) << o;
  EXPECT_EQ(o.out, "one\n");
  EXPECT_EQ(drain(q.name), std::vector<std::string>{"two"});
}

TEST(CliMqTest, RecvZeroEndsEachMessageWithANul) {
  small_queue q;
  ASSERT_EQ(mmipc({"mq", "send", q.name, "line\nbreak", "b"}).status, 0);
  outcome o = mmipc({"mq", "recv", q.name, "-n", "2", "-0"});
  EXPECT_EQ(o.status, 0) << o;
  EXPECT_EQ(o.out, std::string("line\nbreak\0b\0", 13));
}

TEST(CliMqTest, RecvPassesEveryByteThrough) {
  small_queue q(4, 256);
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  message_queue::open(q.name, O_WRONLY).send(bytes_of(all), 3);
  outcome o = mmipc({"mq", "recv", q.name, "--priority", "-0"});
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out, "3\t" + all + std::string(1, '\0'));
}

TEST(CliMqTest, RecvTimeoutFailsWhenNoMessageCame) {
  small_queue q;
  expect_failure(mmipc({"mq", "recv", q.name, "--timeout", "0.1"}), q.name,
                 "no message came within 0.1 seconds");
  ASSERT_EQ(mmipc({"mq", "send", q.name, "only"}).status, 0);
  outcome o = mmipc({"mq", "recv", q.name, "-n", "3", "--timeout", "0"});
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.out, "only\n");
  EXPECT_EQ(o.err, "mmipc: " + q.name + ": no message came within 0 seconds (1 of 3 received)\n");
}

TEST(CliMqTest, RecvWaitsForWhatAnotherProcessSends) {
  if (!have_tcl()) GTEST_SKIP() << "the Tcl package posixipc is not built";
  small_queue q;
  process receiver(tool({"mq", "recv", q.name, "-n", "2"}));
  EXPECT_TRUE(receiver.still_running_after(200ms));  // waiting: nothing in the queue yet
  outcome t =
      tcl("set q [mq open [lindex $argv 0] w]\n"
          "mq send $q {from tcl} 1\n"
          "mq send $q {and again}\n"
          "close $q",
          {q.name});
  ASSERT_EQ(t.status, 0) << t;
  outcome r = receiver.finish();
  EXPECT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, "from tcl\nand again\n");
}

TEST(CliMqTest, FollowReceivesFromAnotherProcessUntilSigintEndsItWith130) {
  if (!have_tcl()) GTEST_SKIP() << "the Tcl package posixipc is not built";
  small_queue q;
  process follower(tool({"mq", "recv", q.name, "--follow"}));
  tcl_script sender(
      "set q [mq open [lindex $argv 0] w]\n"
      "foreach line {one two three four five six} { mq send $q $line }\n"
      "close $q");
  process tclsh(sender.argv({q.name}), tcl_environment());
  for (const char* expected : {"one", "two", "three", "four", "five", "six"}) {
    EXPECT_EQ(follower.read_line(), expected);
  }
  EXPECT_EQ(tclsh.finish().status, 0);
  EXPECT_TRUE(follower.still_running_after(100ms));  // following: it never stops by itself
  follower.signal(SIGINT);
  outcome o = follower.finish({}, 30s);
  EXPECT_EQ(o.signal, SIGINT) << o;
  EXPECT_EQ(o.status, 130) << o;
  EXPECT_EQ(o.out + o.err, "");
  // The queue is as it was: there, empty, and what comes now stays in it.
  message_queue::open(q.name, O_WRONLY).send(bytes_of("after"));
  EXPECT_EQ(drain(q.name), std::vector<std::string>{"after"});
}

TEST(CliMqTest, SigintWhileWaitingEndsAtOnceAndLeavesTheQueueAsItWas) {
  small_queue q(2, 16);
  // recv waiting for a message.
  process recv(tool({"mq", "recv", q.name}));
  EXPECT_TRUE(recv.still_running_after(200ms));
  recv.signal(SIGINT);
  EXPECT_EQ(recv.finish({}, 30s).status, 130);
  // send waiting for room: what it had sent stays, what it had not is not half sent.
  ASSERT_EQ(mmipc({"mq", "send", q.name, "a"}).status, 0);
  process send(tool({"mq", "send", q.name, "b", "c"}));
  // Once "b" is in, it waits for room for "c".
  for (int i = 0; i < 3000 && current_messages(q.name) < 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(current_messages(q.name), 2);
  EXPECT_TRUE(send.still_running_after(100ms));
  send.signal(SIGINT);
  EXPECT_EQ(send.finish({}, 30s).status, 130);
  // send waiting for standard input.
  process reader(tool({"mq", "send", q.name}));
  EXPECT_TRUE(reader.still_running_after(200ms));
  reader.signal(SIGINT);
  EXPECT_EQ(reader.finish({}, 30s).status, 130);
  EXPECT_EQ(drain(q.name), (std::vector<std::string>{"a", "b"}));
}

// A Ctrl-C at any moment of `recv --follow`: every message is either printed whole or still
// in the queue, in order, none twice.
TEST(CliMqTest, SigintNeverLosesNorRepeatsAMessage) {
  std::mt19937 random(static_cast<unsigned>(::getpid()));
  const int rounds = std::getenv("MMIPC_STRESS") ? 500 : 20;
  for (int round = 0; round < rounds; ++round) {
    small_queue q(10, 16);
    const int total = 150;
    std::thread sender([&] {
      auto mq = message_queue::open(q.name, O_WRONLY);
      for (int i = 0; i < total; ++i) mq.send(bytes_of(std::to_string(i)));
    });
    process follower(tool({"mq", "recv", q.name, "--follow"}));
    const int before_signal = static_cast<int>(random() % 100);
    std::vector<std::string> got;
    for (int i = 0; i < before_signal; ++i) {
      auto line = follower.read_line();
      if (!line) break;
      got.push_back(*line);
    }
    follower.signal(SIGINT);
    outcome o = follower.finish({}, 30s);
    EXPECT_EQ(o.status, 130) << o;
    for (const std::string& line : lines_of(o.out)) got.push_back(line);
    // Drain the rest while the sender finishes.
    auto mq = message_queue::open(q.name, O_RDONLY);
    std::vector<std::byte> buffer(16);
    while (static_cast<int>(got.size()) < total) {
      auto n = mq.receive(buffer, nullptr, 10s);
      if (!n) break;
      got.emplace_back(reinterpret_cast<const char*>(buffer.data()), *n);
    }
    sender.join();
    ASSERT_EQ(static_cast<int>(got.size()), total) << "round " << round;
    for (int i = 0; i < total; ++i) ASSERT_EQ(got[i], std::to_string(i)) << "round " << round;
  }
}

// `mmipc mq recv --follow /q | head -1`: when its reader goes away, it ends without taking
// the next message.
TEST(CliMqTest, FollowEndsWhenItsReaderGoesAwayAndTakesNothingMore) {
  small_queue q;
  process follower(tool({"mq", "recv", q.name, "--follow"}));
  message_queue::open(q.name, O_WRONLY).send(bytes_of("first"));
  EXPECT_EQ(follower.read_line(), "first");
  follower.close_output();
  outcome o = follower.finish({}, 30s);
  EXPECT_EQ(o.signal, SIGPIPE) << o;
  message_queue::open(q.name, O_WRONLY).send(bytes_of("second"));
  EXPECT_EQ(drain(q.name), std::vector<std::string>{"second"});
}

// ---- log ------------------------------------------------------------------------------------

// A ring log file in a scratch directory of its own.
struct log_file {
  scratch_dir dir;
  std::string path = dir.file("app.log");
};

// The records of a log as `log cat --seq` prints them: "seq\tdata" lines.
std::vector<std::string> cat_lines(const std::string& path, std::vector<std::string> options = {}) {
  std::vector<std::string> args = {"log", "cat", path};
  args.insert(args.end(), options.begin(), options.end());
  const outcome o = mmipc(args);
  EXPECT_EQ(o.status, 0) << o;
  EXPECT_EQ(o.err, "") << o;
  return lines_of(o.out);
}

// The value of `key` in `log stat` output ("key: value" lines).
std::string stat_value(const std::string& stat, const std::string& key) {
  for (const std::string& line : lines_of(stat)) {
    if (line.starts_with(key + ": ")) return line.substr(key.size() + 2);
  }
  return "(no " + key + ")";
}

bool is_rfc3339_ns(const std::string& text) {
  static const std::regex form(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z)");
  return std::regex_match(text, form);
}

TEST(CliLogTest, CreateAppendAndCatRoundTrip) {
  log_file log;
  outcome c = mmipc({"log", "create", log.path, "--size", "64K", "--mode", "600"});
  EXPECT_EQ(c.status, 0) << c;
  EXPECT_EQ(c.out + c.err, "");
  struct stat st {};
  ASSERT_EQ(::stat(log.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 65536);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Each argument one record, the empty one too, in order; nothing printed.
  outcome a = mmipc({"log", "append", log.path, "first", "two words", "", "-- not an option"});
  EXPECT_EQ(a.status, 0) << a;
  EXPECT_EQ(a.out + a.err, "");
  EXPECT_EQ(mmipc({"log", "append", log.path, "--", "-n"}).status, 0);
  const outcome cat = mmipc({"log", "cat", log.path});
  EXPECT_EQ(cat.status, 0) << cat;
  EXPECT_EQ(cat.out, "first\ntwo words\n\n-- not an option\n-n\n");
  EXPECT_EQ(cat_lines(log.path, {"--seq"}),
            (std::vector<std::string>{"1\tfirst", "2\ttwo words", "3\t", "4\t-- not an option",
                                      "5\t-n"}));
  // Reopened by every command: numbering goes on.
  EXPECT_EQ(mmipc({"log", "append", log.path, "sixth"}).status, 0);
  EXPECT_EQ(cat_lines(log.path, {"--seq", "--from", "6"}), std::vector<std::string>{"6\tsixth"});
}

TEST(CliLogTest, AppendTakesEachLineOfStandardInputAsOneRecord) {
  log_file log;
  ASSERT_EQ(mmipc({"log", "create", log.path, "--size", "8K"}).status, 0);
  // Empty lines are empty records; a last line without its newline is one too.
  outcome a = mmipc({"log", "append", log.path}, "alpha\n\nbeta gamma\nlast");
  EXPECT_EQ(a.status, 0) << a;
  EXPECT_EQ(cat_lines(log.path, {"--seq"}),
            (std::vector<std::string>{"1\talpha", "2\t", "3\tbeta gamma", "4\tlast"}));
  // Bytes pass through as they are.
  EXPECT_EQ(mmipc({"log", "append", log.path}, std::string("\xff\x01 \0x\tt\n", 8)).status, 0);
  const outcome cat = mmipc({"log", "cat", log.path, "--from", "5"});
  EXPECT_EQ(cat.out, std::string("\xff\x01 \0x\tt\n", 8));
}

TEST(CliLogTest, CatFromSinceSeqAndJson) {
  log_file log;
  ASSERT_EQ(mmipc({"log", "create", log.path, "--size", "8K"}).status, 0);
  ASSERT_EQ(mmipc({"log", "append", log.path, "one", "two", "three"}).status, 0);
  ASSERT_EQ(mmipc({"log", "append", log.path}, std::string("bin\xff\0\"q\"\n", 9)).status, 0);
  // --json: seq, time (RFC 3339, UTC, nanoseconds), data (bytes outside UTF-8 as \udcXX).
  const std::vector<std::string> json = cat_lines(log.path, {"--json"});
  ASSERT_EQ(json.size(), 4u);
  static const std::regex line(R"re(\{"seq":(\d+),"time":"([^"]*)","data":(.*)\})re");
  std::vector<std::string> times;
  for (std::size_t i = 0; i < json.size(); ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(json[i], m, line)) << json[i];
    EXPECT_EQ(m[1], std::to_string(i + 1));
    EXPECT_TRUE(is_rfc3339_ns(m[2])) << m[2];
    times.push_back(m[2]);
  }
  EXPECT_TRUE(json[0].ends_with(R"("data":"one"})"));
  EXPECT_TRUE(json[3].ends_with(R"("data":"bin\udcff\u0000\"q\""})")) << json[3];
  EXPECT_LE(times[0], times[3]);
  // --since: from a time as --json printed it; the epoch: all; the far future: none.
  const auto since = cat_lines(log.path, {"--since", times[2], "--seq"});
  ASSERT_FALSE(since.empty());
  EXPECT_EQ(since.front(), "3\tthree");
  EXPECT_EQ(cat_lines(log.path, {"--since", "@0"}).size(), 4u);
  EXPECT_EQ(cat_lines(log.path, {"--since", "2999-01-01T00:00:00Z"}).size(), 0u);
  // --from a number past the newest: nothing; --from and --seq together.
  EXPECT_EQ(cat_lines(log.path, {"--from", "99"}).size(), 0u);
  EXPECT_EQ(cat_lines(log.path, {"--from", "2", "--seq"}).front(), "2\ttwo");
}

TEST(CliLogTest, CatOfAWrappedLogStartsAtTheOldestRecordKept) {
  log_file log;
  ASSERT_EQ(mmipc({"log", "create", log.path, "--size", "5120"}).status, 0);
  std::string input;
  for (int i = 1; i <= 500; ++i) input += "record " + std::to_string(i) + "\n";
  ASSERT_EQ(mmipc({"log", "append", log.path}, input).status, 0);
  const auto lines = cat_lines(log.path, {"--seq"});
  ASSERT_GT(lines.size(), 5u);
  ASSERT_LT(lines.size(), 100u);
  EXPECT_EQ(lines.back(), "500\trecord 500");
  const int first = std::stoi(lines.front());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i], std::to_string(first + static_cast<int>(i)) + "\trecord " +
                            std::to_string(first + static_cast<int>(i)));
  }
}

TEST(CliLogTest, TailPrintsTheLastRecords) {
  log_file log;
  ASSERT_EQ(mmipc({"log", "create", log.path, "--size", "64K"}).status, 0);
  outcome empty = mmipc({"log", "tail", log.path});
  EXPECT_EQ(empty.status, 0) << empty;
  EXPECT_EQ(empty.out, "");
  std::string input;
  for (int i = 1; i <= 25; ++i) input += "line " + std::to_string(i) + "\n";
  ASSERT_EQ(mmipc({"log", "append", log.path}, input).status, 0);
  std::string last10;
  for (int i = 16; i <= 25; ++i) last10 += "line " + std::to_string(i) + "\n";
  EXPECT_EQ(mmipc({"log", "tail", log.path}).out, last10);
  EXPECT_EQ(mmipc({"log", "tail", log.path, "-n", "2"}).out, "line 24\nline 25\n");
  EXPECT_EQ(mmipc({"log", "tail", log.path, "-n", "0"}).out, "");
  EXPECT_EQ(lines_of(mmipc({"log", "tail", log.path, "-n", "100"}).out).size(), 25u);
}

TEST(CliLogTest, TailFollowSeesWhatOtherProcessesAppendUntilSigintEndsItWith130) {
  log_file log;
  ASSERT_EQ(mmipc({"log", "create", log.path, "--size", "64K"}).status, 0);
  ASSERT_EQ(mmipc({"log", "append", log.path, "old", "before"}).status, 0);
  process follower(tool({"log", "tail", log.path, "-n", "1", "-f"}));
  EXPECT_EQ(follower.read_line(), "before");
  EXPECT_EQ(mmipc({"log", "append", log.path, "one", "two"}).status, 0);
  EXPECT_EQ(follower.read_line(), "one");
  EXPECT_EQ(follower.read_line(), "two");
  // A writer of another kind: the shell's own process, through the core's C++ API here.
  mmipc::ring_log::open(log.path).append("three");
  EXPECT_EQ(follower.read_line(), "three");
  EXPECT_TRUE(follower.still_running_after(300ms));  // following: it never stops by itself
  const std::string bytes_before = file_contents(log.path);
  follower.signal(SIGINT);
  outcome o = follower.finish({}, 30s);
  EXPECT_EQ(o.signal, SIGINT) << o;
  EXPECT_EQ(o.status, 130) << o;
  EXPECT_EQ(o.out + o.err, "");
  // The log is as it was, byte for byte: following never changes it.
  EXPECT_EQ(file_contents(log.path), bytes_before);
  EXPECT_EQ(cat_lines(log.path).size(), 5u);
}

TEST(CliLogTest, TailFollowEndsWhenItsReaderGoesAway) {
  log_file log;
  ASSERT_EQ(mmipc({"log", "create", log.path, "--size", "8K"}).status, 0);
  ASSERT_EQ(mmipc({"log", "append", log.path, "first"}).status, 0);
  process follower(tool({"log", "tail", log.path, "-f"}));
  EXPECT_EQ(follower.read_line(), "first");
  follower.close_output();
  outcome o = follower.finish({}, 30s);
  EXPECT_EQ(o.signal, SIGPIPE) << o;
}

TEST(CliLogTest, StatShowsSizesRecordsNumbersTimesAndDrops) {
  log_file log;
  ASSERT_EQ(mmipc({"log", "create", log.path, "--size", "5120"}).status, 0);
  outcome empty = mmipc({"log", "stat", log.path});
  EXPECT_EQ(empty.status, 0) << empty;
  EXPECT_EQ(stat_value(empty.out, "records"), "0");
  EXPECT_EQ(stat_value(empty.out, "first_time"), "-");
  EXPECT_NE(mmipc({"log", "stat", log.path, "--json"}).out.find("\"first_time\":null,"),
            std::string::npos);
  std::string input;
  for (int i = 1; i <= 100; ++i) input += "record " + std::to_string(i) + "\n";
  ASSERT_EQ(mmipc({"log", "append", log.path}, input).status, 0);
  const outcome st = mmipc({"log", "stat", log.path});
  EXPECT_EQ(st.status, 0) << st;
  EXPECT_EQ(stat_value(st.out, "file"), log.path);
  EXPECT_EQ(stat_value(st.out, "file_size"), "5120");
  EXPECT_EQ(stat_value(st.out, "capacity"), "1024");
  EXPECT_EQ(stat_value(st.out, "max_record_size"), "992");
  EXPECT_EQ(stat_value(st.out, "last_seq"), "100");
  const auto lines = cat_lines(log.path, {"--seq"});
  const std::uint64_t first = std::stoull(lines.front());
  EXPECT_EQ(stat_value(st.out, "first_seq"), std::to_string(first));
  EXPECT_EQ(stat_value(st.out, "records"), std::to_string(lines.size()));
  EXPECT_EQ(stat_value(st.out, "dropped"), std::to_string(first - 1));
  EXPECT_EQ(stat_value(st.out, "repaired"), "0");
  const std::uint64_t used = std::stoull(stat_value(st.out, "bytes_used"));
  EXPECT_GT(used, 1024u - 64);
  EXPECT_LE(used, 1024u);
  for (const char* key : {"first_time", "last_time", "created"}) {
    EXPECT_TRUE(is_rfc3339_ns(stat_value(st.out, key))) << key << ": " << st.out;
  }
  EXPECT_LE(stat_value(st.out, "first_time"), stat_value(st.out, "last_time"));
  // --json: the same values, one object.
  const outcome j = mmipc({"log", "stat", log.path, "--json"});
  EXPECT_EQ(j.status, 0) << j;
  EXPECT_TRUE(j.out.starts_with("{\"file\":" + mmipc::cli::json_string(log.path) +
                                ",\"file_size\":5120,\"capacity\":1024,\"max_record_size\":992,"))
      << j.out;
  EXPECT_NE(j.out.find(",\"records\":" + std::to_string(lines.size()) + ",\"first_seq\":" +
                       std::to_string(first) + ",\"last_seq\":100,\"first_time\":\"" +
                       stat_value(st.out, "first_time") + "\""),
            std::string::npos)
      << j.out;
  EXPECT_NE(j.out.find(",\"dropped\":" + std::to_string(first - 1) + ",\"repaired\":0,"),
            std::string::npos)
      << j.out;
  EXPECT_EQ(std::count(j.out.begin(), j.out.end(), '\n'), 1);
}

// One file, two front ends: what a Tcl script logs with mmap::log, the shell reads with
// mmipc log cat, and what the shell appends, the script reads back with mmap::log records.
TEST(CliLogTest, ALogWrittenByTclIsReadByMmipcAndTheOtherWayRound) {
  if (!have_tcl()) GTEST_SKIP() << "the Tcl package mmap is not built";
  log_file log;
  outcome t =
      tcl("package require mmap\n"
          "set log [mmap::log create [lindex $argv 0] 16384]\n"
          "puts $log {first line}\n"
          "puts $log {}\n"
          "mmap::log append $log \"two\\nlines\"\n"
          "close $log",
          {log.path});
  ASSERT_EQ(t.status, 0) << t;
  EXPECT_EQ(cat_lines(log.path, {"--seq"}),
            (std::vector<std::string>{"1\tfirst line", "2\t", "3\ttwo", "lines"}));
  EXPECT_EQ(stat_value(mmipc({"log", "stat", log.path}).out, "records"), "3");
  ASSERT_EQ(mmipc({"log", "append", log.path, "from the shell"}).status, 0);
  outcome r =
      tcl("package require mmap\n"
          "foreach {seq time data} [mmap::log records [lindex $argv 0] -from 3] {\n"
          "  puts [list $seq [string is wide $time] $data]\n"
          "}",
          {log.path});
  EXPECT_EQ(r.status, 0) << r;
  EXPECT_EQ(r.out, "3 1 {two\nlines}\n4 1 {from the shell}\n");
}

TEST(CliLogTest, ErrorsSayWhatIsWrongAndChangeNothing) {
  log_file log;
  const std::string missing = log.dir.file("missing.log");
  // A missing file: every command fails, and none makes it.
  for (const std::vector<std::string>& args : {std::vector<std::string>{"append", missing, "x"},
                                               {"append", missing},
                                               {"cat", missing},
                                               {"tail", missing},
                                               {"tail", missing, "-f"},
                                               {"stat", missing}}) {
    std::vector<std::string> command = {"log"};
    command.insert(command.end(), args.begin(), args.end());
    expect_failure(mmipc(command, "from stdin\n"), missing, "No such file or directory");
  }
  EXPECT_TRUE(log.dir.entries().empty());
  // Not a ring log: a text file, a directory, a short file.
  const std::string text = log.dir.file("text.log");
  std::ofstream(text) << std::string(5000, 't');
  expect_failure(mmipc({"log", "cat", text}), text,
                 "not a ring log (it does not begin with \"MMIPCLOG\")");
  expect_failure(mmipc({"log", "append", text, "x"}), text,
                 "not a ring log (it does not begin with \"MMIPCLOG\")");
  EXPECT_EQ(file_contents(text), std::string(5000, 't'));
  expect_failure(mmipc({"log", "stat", log.dir.path.string()}), log.dir.path.string(),
                 "not a ring log (not a regular file)");
  // Sizes: too small for the core (status 1, nothing made), malformed (usage, status 2).
  expect_failure(mmipc({"log", "create", log.path, "--size", "4K"}), log.path,
                 "size 4096 is too small (at least 4160 bytes: a 4096-byte header and 64 "
                 "bytes of records)");
  for (const char* bad : {"1T", "abc", "", "4.5K"}) {
    EXPECT_EQ(mmipc({"log", "create", log.path, "--size", bad}).status, 2) << bad;
  }
  EXPECT_EQ(log.dir.entries(), std::set<std::string>{"text.log"});
  // An existing file is never replaced.
  expect_failure(mmipc({"log", "create", text, "--size", "8K"}), text, "File exists");
  EXPECT_EQ(file_contents(text), std::string(5000, 't'));
  // A record too large: the arguments are all checked first, nothing is appended.
  ASSERT_EQ(mmipc({"log", "create", log.path, "--size", "5120"}).status, 0);
  const std::string bytes_before = file_contents(log.path);
  expect_failure(mmipc({"log", "append", log.path, "fits", std::string(2000, 'x'), "too"}),
                 log.path, "a record of 2000 bytes is larger than the log can hold (992 bytes)");
  EXPECT_EQ(file_contents(log.path), bytes_before);
  // From standard input, the lines before it are appended, and the message says so.
  expect_failure(mmipc({"log", "append", log.path}, "a\nb\n" + std::string(2000, 'x') + "\nc\n"),
                 log.path,
                 "a record of 2000 bytes is larger than the log can hold (992 bytes) "
                 "(2 records appended)");
  EXPECT_EQ(cat_lines(log.path), (std::vector<std::string>{"a", "b"}));
  // A log the caller may only read: read, not appended to.
  if (::geteuid() != 0) {
    ::chmod(log.path.c_str(), 0400);
    expect_failure(mmipc({"log", "append", log.path, "x"}), log.path, "Permission denied");
    EXPECT_EQ(cat_lines(log.path).size(), 2u);
  }
}

// make demo's examples/demo/45-log.sh: two writers and a follower on one 64 KiB log, one
// writer killed with kill -9, the log read back intact.
TEST(CliDocsTest, DemoKillsALogWriterAndReadsTheLogBackIntact) {
  std::vector<std::string> env = {
      "MMIPC_BUILD_DIR=" +
      std::filesystem::path(MMIPC_CLI_PATH).parent_path().parent_path().string()};
  scratch_dir dir;
  env.push_back("MMIPC_DEMO_DIR=" + dir.path.string());
  process demo({"/bin/bash", std::string(MMIPC_CLI_SOURCE_DIR) + "/examples/demo/45-log.sh"}, env);
  outcome o = demo.finish({}, 120s);
  EXPECT_EQ(o.status, 0) << o;
  EXPECT_NE(o.out.find("killed with kill -9"), std::string::npos) << o;
  EXPECT_NE(o.out.find("every record whole, each writer's in order, none twice"), std::string::npos)
      << o;
  EXPECT_NE(o.out.find("    repaired: "), std::string::npos) << o;
  EXPECT_EQ(o.err, "") << o;
}

// ---- mq ls ----------------------------------------------------------------------------------

// Runs `script` with the tool as $0 in private IPC and mount namespaces (the queues and
// mounts there are this test's alone), with umask 022.
outcome in_private_namespaces(const std::string& script) {
  std::vector<std::string> argv = {
      "unshare", "-im", "/bin/bash", "-c", "set -e; umask 022\n" + script, MMIPC_CLI_PATH};
  process p(argv);
  return p.finish();
}

TEST(CliMqTest, LsListsEachQueueWithItsAttributesModeAndOwner) {
  if (!can_unshare()) GTEST_SKIP() << "unshare -im is not permitted here";
  outcome o = in_private_namespaces(
      "d=$(mktemp -d); mount -t mqueue none \"$d\"\n"
      "\"$0\" mq create b-longer-name --maxmsg 10 --msgsize 1K\n"
      "\"$0\" mq create a --maxmsg 2 --msgsize 100 --mode 600\n"
      "\"$0\" mq send a x\n"
      "\"$0\" mq ls; \"$0\" mq ls --json\n"
      "umount \"$d\"; rmdir \"$d\"");
  EXPECT_EQ(o.status, 0) << o;
  const std::string owner = mmipc::cli::user_name(::getuid());
  const std::string group = mmipc::cli::group_name(::getgid());
  EXPECT_EQ(o.out, "/a             1  2  100 0600 " + owner + "\n" +
                       "/b-longer-name 0 10 1024 0644 " + owner + "\n" +
                       "{\"name\":\"/a\",\"messages\":1,\"max_messages\":2,\"message_size\":100,"
                       "\"mode\":\"0600\",\"owner\":\"" +
                       owner + "\",\"group\":\"" + group + "\"}\n" +
                       "{\"name\":\"/b-longer-name\",\"messages\":0,\"max_messages\":10,"
                       "\"message_size\":1024,\"mode\":\"0644\",\"owner\":\"" +
                       owner + "\",\"group\":\"" + group + "\"}\n");
  EXPECT_EQ(o.err, "");
}

TEST(CliMqTest, LsWithoutTheMqueueMountSaysSoAndGivesTheCommand) {
  if (!can_unshare()) GTEST_SKIP() << "unshare -im is not permitted here";
  // Every mqueue mount is removed in the private mount namespace (the system's stay).
  outcome o = in_private_namespaces(
      "for m in $(findmnt -rn -t mqueue -o TARGET); do umount \"$m\"; done\n"
      "\"$0\" mq ls");
  EXPECT_EQ(o.status, 1) << o;
  EXPECT_EQ(o.out, "");
  const std::string command = exists("/dev/mqueue") ? "mount -t mqueue none /dev/mqueue"
                                                    : "mkdir -p /dev/mqueue && mount -t "
                                                      "mqueue none /dev/mqueue";
  EXPECT_EQ(o.err,
            "mmipc: /dev/mqueue: the mqueue file system is not mounted, and only it lists the "
            "queues; mount it (as root) with: " +
                command + "\n");
}

// ---- round trips with Tcl -------------------------------------------------------------------

TEST(CliMqTest, AQueueMadeAndFilledByMmipcIsDrainedByTcl) {
  if (!have_tcl()) GTEST_SKIP() << "the Tcl package posixipc is not built";
  queue q;
  ASSERT_EQ(mmipc({"mq", "create", q.name, "--maxmsg", "5", "--msgsize", "128"}).status, 0);
  ASSERT_EQ(mmipc({"mq", "send", q.name, "--priority", "2", "two"}).status, 0);
  ASSERT_EQ(mmipc({"mq", "send", q.name}, "line one\nline two\n").status, 0);
  ASSERT_EQ(mmipc({"mq", "send", q.name, "--priority", "9", "nine"}).status, 0);
  outcome t =
      tcl("set q [mq open [lindex $argv 0] r]\n"
          "puts [fconfigure $q -maxmsg]/[fconfigure $q -msgsize]\n"
          "while {[fconfigure $q -curmsgs] > 0} {\n"
          "  set m [mq receive $q p]\n"
          "  puts \"$p $m\"\n"
          "}\n"
          "close $q",
          {q.name});
  EXPECT_EQ(t.status, 0) << t;
  EXPECT_EQ(t.out, "5/128\n9 nine\n2 two\n0 line one\n0 line two\n");
}

TEST(CliMqTest, AQueueMadeAndFilledByTclIsDrainedByMmipc) {
  if (!have_tcl()) GTEST_SKIP() << "the Tcl package posixipc is not built";
  queue q;
  outcome t =
      tcl("set q [mq open -maxmsg 6 -msgsize 100 [lindex $argv 0] w+ 0640]\n"
          "fconfigure $q -buffering line\n"
          "puts $q {a line}\n"
          "mq send $q urgent 7\n"
          "mq send $q [binary format c3 {0 1 2}] 1\n"
          "close $q",
          {q.name});
  ASSERT_EQ(t.status, 0) << t;
  outcome st = mmipc({"mq", "stat", q.name, "--json"});
  EXPECT_NE(st.out.find("\"messages\":3,\"max_messages\":6,\"message_size\":100,\"mode\":"
                        "\"0640\""),
            std::string::npos)
      << st;
  outcome o = mmipc({"mq", "recv", q.name, "-n", "3", "--priority"});
  EXPECT_EQ(o.status, 0) << o;
  // Tcl's line buffering sends the line with its newline.
  EXPECT_EQ(o.out, std::string("7\turgent\n1\t\0\1\2\n0\ta line\n\n", 25));
  EXPECT_EQ(mmipc({"mq", "rm", q.name}).status, 0);
  EXPECT_FALSE(queue_exists(q.name));
}

// ---- shm ------------------------------------------------------------------------------------

TEST(CliShmTest, CreateMakesTheObjectAndItsSemaphore) {
  object s;
  outcome o = mmipc({"shm", "create", s.bare(), "--size", "4K", "--mode", "600"});
  EXPECT_EQ(o.status, 0) << o;
  EXPECT_EQ(o.out + o.err, "");
  struct stat st {};
  ASSERT_EQ(::lstat(s.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 4096);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(file_contents(s.path()), std::string(4096, '\0'));
  EXPECT_EQ(mmipc::named_semaphore::open(s.name, 0).value(), 1);
  EXPECT_TRUE(exists(s.lock_path()));
}

TEST(CliShmTest, CreateRefusesAnExistingObjectAndASizeOfZero) {
  object s, zero;
  ASSERT_EQ(mmipc({"shm", "create", s.name, "--size", "16"}).status, 0);
  ASSERT_EQ(mmipc({"shm", "write", s.name, "kept"}).status, 0);
  expect_failure(mmipc({"shm", "create", s.name, "--size", "32"}), s.name, "File exists");
  EXPECT_EQ(file_contents(s.path()), "kept" + std::string(12, '\0'));
  expect_failure(mmipc({"shm", "create", zero.name, "--size", "0"}), zero.name,
                 "shared memory size must be positive");
  EXPECT_FALSE(exists(zero.path()));
  EXPECT_FALSE(exists(zero.semaphore_path()));
  EXPECT_FALSE(exists(zero.lock_path()));
}

TEST(CliShmTest, WriteAndCatAtOffsetsAndLengths) {
  object s;
  ASSERT_EQ(mmipc({"shm", "create", s.name, "--size", "32"}).status, 0);
  outcome w = mmipc({"shm", "write", s.bare(), "hello world"});
  EXPECT_EQ(w.status, 0) << w;
  EXPECT_EQ(w.out + w.err, "");
  ASSERT_EQ(mmipc({"shm", "write", s.name, "--offset", "28", "tail"}).status, 0);
  outcome all = mmipc({"shm", "cat", s.name});
  EXPECT_EQ(all.status, 0) << all;
  EXPECT_EQ(all.out, "hello world" + std::string(17, '\0') + "tail");
  EXPECT_EQ(mmipc({"shm", "cat", s.name, "--offset", "6", "--length", "5"}).out, "world");
  EXPECT_EQ(mmipc({"shm", "cat", s.name, "--offset", "28", "--length", "1K"}).out, "tail");
  outcome end = mmipc({"shm", "cat", s.name, "--offset", "32"});
  EXPECT_EQ(end.status, 0);
  EXPECT_EQ(end.out, "");
  expect_failure(mmipc({"shm", "cat", s.name, "--offset", "33"}), s.name,
                 "offset 33 is past the end of the object (32 bytes)");
}

TEST(CliShmTest, WriteTakesStandardInputWhenNoDataIsGiven) {
  object s;
  ASSERT_EQ(mmipc({"shm", "create", s.name, "--size", "1K"}).status, 0);
  std::string bytes;
  for (int c = 0; c < 256; ++c) bytes += static_cast<char>(c);
  outcome w = mmipc({"shm", "write", s.name, "--offset", "512"}, bytes);
  EXPECT_EQ(w.status, 0) << w;
  EXPECT_EQ(mmipc({"shm", "cat", s.name, "--offset", "512", "--length", "256"}).out, bytes);
  // Exactly to the end fits.
  EXPECT_EQ(mmipc({"shm", "write", s.name, "--offset", "768"}, bytes).status, 0);
}

TEST(CliShmTest, WriteRefusesWhatDoesNotFitAndWritesNothing) {
  object s;
  ASSERT_EQ(mmipc({"shm", "create", s.name, "--size", "16"}).status, 0);
  ASSERT_EQ(mmipc({"shm", "write", s.name, "0123456789abcdef"}).status, 0);
  expect_failure(mmipc({"shm", "write", s.name, "--offset", "10", "1234567"}), s.name,
                 "7 bytes at offset 10 do not fit in the object's 16 bytes (it never grows)");
  expect_failure(mmipc({"shm", "write", s.name, "--offset", "17", ""}), s.name,
                 "0 bytes at offset 17 do not fit in the object's 16 bytes (it never grows)");
  expect_failure(mmipc({"shm", "write", s.name}, std::string(100000, 'x')), s.name,
                 "standard input does not fit in the object's 16 bytes from offset 0 (it "
                 "never grows)");
  EXPECT_EQ(file_contents(s.path()), "0123456789abcdef");
  struct stat st {};
  ASSERT_EQ(::lstat(s.path().c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 16);
}

TEST(CliShmTest, ReadingOrWritingAMissingObjectCreatesNothing) {
  object s;
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"shm", "cat", s.name}, {"shm", "write", s.name, "x"}, {"shm", "stat", s.name}}) {
    expect_failure(mmipc(args), s.name, "No such file or directory");
  }
  expect_failure(mmipc({"shm", "write", s.name}, "from stdin"), s.name,
                 "No such file or directory");
  EXPECT_FALSE(exists(s.path()));
  EXPECT_FALSE(exists(s.semaphore_path()));
  EXPECT_FALSE(exists(s.lock_path()));
}

// An object made by another program has no semaphore nor lock object: cat and write make
// them (as posixipc does), but not when they fail.
TEST(CliShmTest, FailingOnAnObjectOfAnotherProgramMakesNoSemaphoreNorLock) {
  object s;
  const int fd = ::shm_open(s.name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 8), 0);
  ::close(fd);
  expect_failure(mmipc({"shm", "cat", s.name, "--offset", "9"}), s.name,
                 "offset 9 is past the end of the object (8 bytes)");
  expect_failure(mmipc({"shm", "write", s.name, "123456789"}), s.name,
                 "9 bytes at offset 0 do not fit in the object's 8 bytes (it never grows)");
  expect_failure(mmipc({"shm", "write", s.name}, "123456789"), s.name,
                 "standard input does not fit in the object's 8 bytes from offset 0 (it never "
                 "grows)");
  EXPECT_FALSE(exists(s.semaphore_path()));
  EXPECT_FALSE(exists(s.lock_path()));
  // What succeeds makes them.
  EXPECT_EQ(mmipc({"shm", "write", s.name, "12345678"}).status, 0);
  EXPECT_TRUE(exists(s.semaphore_path()));
  EXPECT_TRUE(exists(s.lock_path()));
  EXPECT_EQ(mmipc({"shm", "cat", s.name}).out, "12345678");
}

TEST(CliShmTest, ANameWithASecondSlashIsRefusedByEveryCommand) {
  object s;
  const std::string bad = s.name + "/x";
  const std::string reason = "invalid shared memory name \"" + bad +
                             "\": must start with \"/\" and contain no other \"/\"";
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"shm", "create", bad, "--size", "8"},
                                             {"shm", "cat", bad},
                                             {"shm", "write", bad, "x"},
                                             {"shm", "stat", bad},
                                             {"shm", "rm", bad}}) {
    expect_failure(mmipc(args), bad, reason);
  }
  EXPECT_FALSE(exists(s.path()));
}

TEST(CliShmTest, CatHexShowsWhatHexdumpShows) {
  if (!command_exists("hexdump")) GTEST_SKIP() << "no hexdump";
  object s;
  ASSERT_EQ(mmipc({"shm", "create", s.name, "--size", "200"}).status, 0);
  std::string data = "hello\tworld\x7f\x80\xff";
  data += std::string(70, 'z');  // repeated lines: hexdump's "*"
  data += "end";
  ASSERT_EQ(mmipc({"shm", "write", s.name, "--offset", "3"}, data).status, 0);
  for (const std::vector<std::string>& range :
       std::vector<std::vector<std::string>>{{},
                                             {"--offset", "3", "--length", "5"},
                                             {"--offset", "17"},
                                             {"--length", "16"},
                                             {"--offset", "199"},
                                             {"--offset", "200"},
                                             {"--length", "0"}}) {
    std::vector<std::string> args = {"shm", "cat", s.name, "--hex"};
    args.insert(args.end(), range.begin(), range.end());
    outcome ours = mmipc(args);
    EXPECT_EQ(ours.status, 0) << ours;
    std::string offset = "0", length = "";
    for (std::size_t i = 0; i + 1 < range.size(); i += 2) {
      (range[i] == "--offset" ? offset : length) = range[i + 1];
    }
    std::vector<std::string> hexdump = {"-C", "-s", offset};
    if (!length.empty()) hexdump.insert(hexdump.end(), {"-n", length});
    hexdump.push_back(s.path());
    outcome theirs = shell("exec hexdump \"$@\"", [&] {
      std::vector<std::string> a = {"hexdump"};
      a.insert(a.end(), hexdump.begin(), hexdump.end());
      return a;
    }());
    EXPECT_EQ(ours.out, theirs.out) << "offset " << offset << " length " << length;
  }
}

TEST(CliShmTest, LsShowsObjectsButNotTheirSemaphoresNorLockObjects) {
  object with, without, leftover;
  ASSERT_EQ(mmipc({"shm", "create", with.name, "--size", "4K", "--mode", "640"}).status, 0);
  // posixipc 1.0's shm unlink removes the object and its semaphore, not the lock object.
  ASSERT_EQ(mmipc({"shm", "create", leftover.name, "--size", "8"}).status, 0);
  ASSERT_EQ(::shm_unlink(leftover.name.c_str()), 0);
  ASSERT_EQ(::sem_unlink(leftover.name.c_str()), 0);
  ASSERT_TRUE(exists(leftover.lock_path()));
  // An object made without the package has no semaphore; a lone semaphore is no object.
  const int fd = ::shm_open(without.name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 10), 0);
  ::close(fd);
  object lone;
  mmipc::named_semaphore::open(lone.name, O_CREAT | O_EXCL, 0600, 1);
  outcome o = mmipc({"shm", "ls"});
  EXPECT_EQ(o.status, 0) << o;
  const std::string owner = mmipc::cli::user_name(::getuid());
  std::vector<std::string> ours;
  for (const std::string& line : lines_of(o.out)) {
    if (line.find("mmipc-cli-s-" + std::to_string(::getpid()) + "-") != std::string::npos) {
      // Columns are aligned with everyone's objects: compare words.
      std::istringstream words(line);
      std::string joined, word;
      while (words >> word) joined += (joined.empty() ? "" : " ") + word;
      ours.push_back(joined);
    }
    EXPECT_EQ(line.find("/sem."), std::string::npos) << line;
    EXPECT_EQ(line.find(".lck "), std::string::npos) << line;
  }
  std::vector<std::string> expected = {with.name + " 4096 0640 " + owner + " yes",
                                       without.name + " 10 0600 " + owner + " no"};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ours, expected);
  outcome json = mmipc({"shm", "ls", "--json"});
  EXPECT_EQ(json.status, 0) << json;
  const std::string group = mmipc::cli::group_name(::getgid());
  EXPECT_NE(
      json.out.find("{\"name\":\"" + with.name + "\",\"size\":4096,\"mode\":\"0640\",\"owner\":\"" +
                    owner + "\",\"group\":\"" + group +
                    "\",\"semaphore\":true,\"semaphore_value\":1}\n"),
      std::string::npos)
      << json.out;
  EXPECT_NE(
      json.out.find("{\"name\":\"" + without.name +
                    "\",\"size\":10,\"mode\":\"0600\",\"owner\":\"" + owner + "\",\"group\":\"" +
                    group + "\",\"semaphore\":false,\"semaphore_value\":null}\n"),
      std::string::npos)
      << json.out;
  EXPECT_EQ(json.out.find(lone.name), std::string::npos);
  EXPECT_EQ(json.out.find(leftover.name), std::string::npos);
  EXPECT_EQ(o.out.find(leftover.name), std::string::npos);
}

TEST(CliShmTest, StatShowsSizeModeOwnerAndTheSemaphoreHeldOrFree) {
  object s;
  ASSERT_EQ(mmipc({"shm", "create", s.name, "--size", "1M", "--mode", "600"}).status, 0);
  const std::string owner = mmipc::cli::user_name(::getuid());
  const std::string group = mmipc::cli::group_name(::getgid());
  outcome o = mmipc({"shm", "stat", s.bare()});
  EXPECT_EQ(o.status, 0) << o;
  EXPECT_EQ(o.out, "name: " + s.name + "\nsize: 1048576\nmode: 0600\nowner: " + owner +
                       "\ngroup: " + group + "\nsemaphore: yes\nsemaphore_value: 1\n");
  // While another process holds it, the value is 0 (stat neither waits nor changes it).
  auto sem = mmipc::named_semaphore::open(s.name, 0);
  sem.wait();
  outcome held = mmipc({"shm", "stat", s.name, "--json"});
  sem.post();
  EXPECT_EQ(held.out,
            "{\"name\":\"" + s.name + "\",\"size\":1048576,\"mode\":\"0600\",\"owner\":\"" + owner +
                "\",\"group\":\"" + group + "\",\"semaphore\":true,\"semaphore_value\":0}\n");
  EXPECT_EQ(sem.value(), 1);
}

TEST(CliShmTest, RmRemovesTheObjectsAndTheirSemaphores) {
  object a, b;
  for (const object* s : {&a, &b}) {
    ASSERT_EQ(mmipc({"shm", "create", s->name, "--size", "8"}).status, 0);
  }
  outcome o = mmipc({"shm", "rm", a.bare(), b.name});
  EXPECT_EQ(o.status, 0) << o;
  for (const object* s : {&a, &b}) {
    EXPECT_FALSE(exists(s->path()));
    EXPECT_FALSE(exists(s->semaphore_path()));
    EXPECT_FALSE(exists(s->lock_path()));
  }
}

TEST(CliShmTest, RmWithOneMissingNameRemovesNone) {
  object a, missing;
  ASSERT_EQ(mmipc({"shm", "create", a.name, "--size", "8"}).status, 0);
  expect_failure(mmipc({"shm", "rm", a.name, missing.name}), missing.name,
                 "No such file or directory");
  EXPECT_TRUE(exists(a.path()));
  EXPECT_TRUE(exists(a.semaphore_path()));
  EXPECT_TRUE(exists(a.lock_path()));
}

TEST(CliShmTest, AnObjectWrittenByTclIsShownByCat) {
  if (!have_tcl()) GTEST_SKIP() << "the Tcl package posixipc is not built";
  object s;
  outcome t =
      tcl("set s [shm open -size 64 [lindex $argv 0] w+ 0600]\n"
          "fconfigure $s -translation binary\n"
          "puts -nonewline $s \"written by tcl [pid]\"\n"
          "close $s\n"
          "puts [pid]",
          {s.name});
  ASSERT_EQ(t.status, 0) << t;
  const std::string text = "written by tcl " + lines_of(t.out).at(0);
  outcome o = mmipc({"shm", "cat", s.name, "--length", std::to_string(text.size())});
  EXPECT_EQ(o.status, 0) << o;
  EXPECT_EQ(o.out, text);
  EXPECT_EQ(mmipc({"shm", "cat", s.name}).out, text + std::string(64 - text.size(), '\0'));
}

TEST(CliShmTest, AnObjectMadeAndWrittenByMmipcIsReadByTcl) {
  if (!have_tcl()) GTEST_SKIP() << "the Tcl package posixipc is not built";
  object s;
  ASSERT_EQ(mmipc({"shm", "create", s.name, "--size", "32"}).status, 0);
  ASSERT_EQ(mmipc({"shm", "write", s.name, "--offset", "4", "from the shell"}).status, 0);
  outcome t =
      tcl("set s [shm open [lindex $argv 0] r]\n"
          "fconfigure $s -translation binary\n"
          "puts [fconfigure $s -size]\n"
          "seek $s 4\n"
          "puts [read $s 14]\n"
          "close $s\n"
          "shm unlink [lindex $argv 0]",
          {s.name});
  EXPECT_EQ(t.status, 0) << t;
  EXPECT_EQ(t.out, "32\nfrom the shell\n");
  EXPECT_FALSE(exists(s.path()));
  EXPECT_FALSE(exists(s.semaphore_path()));
}

// cat and write wait while another process holds the object: they take its lock.
TEST(CliShmTest, CatAndWriteWaitWhileAnotherProcessHoldsTheObject) {
  object s;
  ASSERT_EQ(mmipc({"shm", "create", s.name, "--size", "8"}).status, 0);
  auto shm = shared_memory::open(s.name, O_RDWR);
  {
    auto guard = shm.lock();
    process writer(tool({"shm", "write", s.name, "new"}));
    process reader(tool({"shm", "cat", s.name}));
    EXPECT_TRUE(writer.still_running_after(300ms));
    EXPECT_TRUE(reader.still_running_after(10ms));
    EXPECT_EQ(file_contents(s.path()), std::string(8, '\0'));
    guard.release();
    EXPECT_EQ(writer.finish().status, 0);
    outcome r = reader.finish();
    EXPECT_EQ(r.status, 0);
    // The reader got the object whole, before or after the write.
    EXPECT_TRUE(r.out == std::string(8, '\0') || r.out == "new" + std::string(5, '\0')) << r;
  }
  EXPECT_EQ(file_contents(s.path()), "new" + std::string(5, '\0'));
}

// A holder that dies (kill -9) with the object locked does not stop the tool: its waiting
// write goes on as soon as the kernel hands the lock over, as for the Tcl channels. And a
// Ctrl-C while the tool waits for a live holder ends it with 130, the object untouched.
TEST(CliShmTest, AHolderKilledWithTheLockDoesNotStopCatNorWriteAndCtrlCEndsAWait) {
  object s;
  ASSERT_EQ(mmipc({"shm", "create", s.name, "--size", "8"}).status, 0);
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  const pid_t holder = spawn([&] {
    auto shm = shared_memory::open(s.name, O_RDWR);
    auto guard = shm.lock();
    const char byte = 1;
    if (::write(ready[1], &byte, 1) != 1) ::_exit(3);
    for (;;) ::pause();
    return 0;
  });
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  // Waiting for a live holder: Ctrl-C ends it at once, nothing written.
  process waiting(tool({"shm", "write", s.name, "no"}));
  EXPECT_TRUE(waiting.still_running_after(200ms));
  waiting.signal(SIGINT);
  EXPECT_EQ(waiting.finish({}, 30s).status, 130);
  EXPECT_EQ(file_contents(s.path()), std::string(8, '\0'));
  // The holder dies holding the lock: the waiting write and a cat after it go through.
  process writer(tool({"shm", "write", s.name, "new"}));
  EXPECT_TRUE(writer.still_running_after(200ms));
  ASSERT_EQ(::kill(holder, SIGKILL), 0);
  EXPECT_EQ(reap(holder), 128 + SIGKILL);
  EXPECT_EQ(writer.finish({}, 30s).status, 0);
  outcome c = mmipc({"shm", "cat", s.name, "--length", "3"});
  EXPECT_EQ(c.status, 0) << c;
  EXPECT_EQ(c.out, "new");
}

// The torn-block check of posixipc.test 8.6, with `mmipc shm cat` as one reader: Tcl writers
// rewrite a whole block with their own letter; no cat ever shows a block mixing two.
TEST(CliShmTest, CatNeverShowsATornBlockWhileTclWritersWrite) {
  if (!have_tcl()) GTEST_SKIP() << "the Tcl package posixipc is not built";
  object s;
  // Blocks of 256 KiB rather than 4 KiB: a copy takes long enough that a reader not holding
  // the semaphore tears blocks within the few hundred reads a test of processes can make.
  const std::size_t block = 256 << 10;
  ASSERT_EQ(mmipc({"shm", "create", s.name, "--size", std::to_string(block)}).status, 0);
  const std::string stop = "/tmp/" + unique_name("mmipc-cli-stop");
  tcl_script writer(
      "lassign $argv name letter stop\n"
      "set s [shm open $name r+]\n"
      "fconfigure $s -translation binary -buffersize 1048576 -buffering full\n"
      "set block [string repeat $letter [file size /dev/shm$name]]\n"
      "while {![file exists $stop]} {\n"
      "  for {set i 0} {$i < 50} {incr i} { seek $s 0; puts -nonewline $s $block; "
      "flush $s }\n"
      "}\n"
      "close $s");
  std::vector<std::unique_ptr<process>> writers;
  for (const char* letter : {"a", "b", "c"}) {
    writers.push_back(
        std::make_unique<process>(writer.argv({s.name, letter, stop}), tcl_environment()));
  }
  std::set<char> seen;
  int reads = 0, torn = 0;
  // Under AddressSanitizer (make asan) each run of the tool and of tclsh is many times slower:
  // the point there is a clean run of the same code, not the count, so fewer reads.
#if defined(__SANITIZE_ADDRESS__)
  const int enough = 40;
#else
  const int enough = 400;
#endif
  for (int attempt = 0; attempt < 3000 && (reads < enough || seen.size() < 2); ++attempt) {
    outcome o = mmipc({"shm", "cat", s.name});
    ASSERT_EQ(o.status, 0) << o;
    ASSERT_EQ(o.out.size(), block);
    if (o.out[0] == '\0') continue;  // before the first write
    ++reads;
    seen.insert(o.out[0]);
    if (o.out != std::string(block, o.out[0])) ++torn;
  }
  std::ofstream{stop};
  for (auto& w : writers) EXPECT_EQ(w->finish().status, 0);
  std::filesystem::remove(stop);
  EXPECT_EQ(torn, 0) << "of " << reads << " reads";
  EXPECT_GE(seen.size(), 2u) << "the reads never overlapped the writers";
}

// Names are the system's bytes: --json keeps every one (see json.hpp).
TEST(CliShmTest, JsonKeepsEveryByteOfANameOutsideUtf8) {
  object s;
  s.name += "-\xff\x01\"\xc3\xa9";
  ASSERT_EQ(mmipc({"shm", "create", s.name, "--size", "8"}).status, 0);
  outcome o = mmipc({"shm", "stat", s.name, "--json"});
  EXPECT_EQ(o.status, 0) << o;
  const std::string escaped = s.name.substr(0, s.name.size() - 6) + "-\\udcff\\u0001\\\"\xc3\xa9";
  EXPECT_TRUE(o.out.starts_with("{\"name\":\"" + escaped + "\",\"size\":8,")) << o.out;
  EXPECT_NE(mmipc({"shm", "ls", "--json"}).out.find("{\"name\":\"" + escaped + "\""),
            std::string::npos);
}

// ---- documents: man page, README, completion ------------------------------------------------

std::string source_file(const std::string& relative) {
  return file_contents(std::string(MMIPC_CLI_SOURCE_DIR) + "/" + relative);
}

// roff as the man page writes it, as text.
std::string unroff(std::string text) {
  const std::pair<std::string, std::string> escapes[] = {
      {"\\-", "-"}, {"\\fB", ""}, {"\\fI", ""}, {"\\fR", ""}, {"\\e", "\\"}, {"\\(aq", "'"}};
  for (const auto& [from, to] : escapes) {
    for (std::size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size()) {
      text.replace(at, from.size(), to);
    }
  }
  return text;
}

TEST(CliDocsTest, ManPageHasTheSynopsisEveryOptionAndEveryJsonKey) {
  const std::string page = unroff(source_file("tools/mmipc/mmipc.1"));
  for (const std::string& line : synopsis) {
    EXPECT_NE(page.find(line + "\n"), std::string::npos) << line;
    // Every option the command's --help lists is described.
    std::vector<std::string> words = split_words(line);
    for (const std::string& help_line : lines_of(mmipc({words[1], words[2], "--help"}).out)) {
      if (!help_line.starts_with("  -") || help_line.starts_with("  -h,--help")) continue;
      for (std::string option : split_words(help_line.substr(2, help_line.find(' ', 2) - 2))) {
        std::istringstream names(option);
        for (std::string name; std::getline(names, name, ',');) {
          EXPECT_NE(page.find(name), std::string::npos) << name << " of " << line;
        }
      }
    }
  }
  // Every key --json prints is documented, in bold, in the section on JSON.
  const std::string raw = source_file("tools/mmipc/mmipc.1");
  const std::size_t json_start = raw.find(".SH JSON OUTPUT");
  const std::string json_section =
      raw.substr(json_start, raw.find(".SH", json_start + 1) - json_start);
  queue q;
  object s;
  ASSERT_EQ(mmipc({"mq", "create", q.name, "--maxmsg", "1", "--msgsize", "8"}).status, 0);
  ASSERT_EQ(mmipc({"shm", "create", s.name, "--size", "8"}).status, 0);
  scratch_dir dir;
  const std::string log = dir.file("keys.log");
  ASSERT_EQ(mmipc({"log", "create", log, "--size", "8K"}).status, 0);
  ASSERT_EQ(mmipc({"log", "append", log, "one"}).status, 0);
  for (const std::string& json :
       {mmipc({"mq", "stat", q.name, "--json"}).out, mmipc({"shm", "stat", s.name, "--json"}).out,
        mmipc({"log", "stat", log, "--json"}).out, mmipc({"log", "cat", log, "--json"}).out}) {
    ASSERT_FALSE(json.empty());
    for (std::size_t at = 0; (at = json.find("\":", at)) != std::string::npos; ++at) {
      const std::size_t start = json.rfind('"', at - 1) + 1;
      const std::string key = json.substr(start, at - start);
      EXPECT_NE(json_section.find("\\fB" + key + "\\fR"), std::string::npos) << key;
    }
  }
}

TEST(CliDocsTest, ManPageRendersWithoutWarnings) {
  if (!command_exists("man")) GTEST_SKIP() << "no man";
  outcome o = shell("MANWIDTH=100 man --warnings -l \"$0\" 2>&1 >/dev/null",
                    {std::string(MMIPC_CLI_SOURCE_DIR) + "/tools/mmipc/mmipc.1"});
  EXPECT_EQ(o.status, 0) << o;
  EXPECT_EQ(o.out, "") << o;
}

// The commands ("$ " lines) and their output in a block of text, as a shell transcript.
struct transcript {
  std::vector<std::string> commands;
  std::string expected;  // "$ command" lines followed by their output
};

transcript transcript_of(const std::string& block) {
  transcript t;
  for (const std::string& line : lines_of(block)) {
    if (line.starts_with("$ ")) t.commands.push_back(line.substr(2));
    t.expected += line + "\n";
  }
  return t;
}

// Runs a transcript's commands in private namespaces (queues, /dev/shm and mounts of its
// own, so names like /jobs are safe), with the tool on the PATH as `mmipc`; returns what a
// terminal would show.
outcome run_transcript(const transcript& t) {
  std::string script =
      "mount -t tmpfs tmpfs /dev/shm\n"
      "d=$(mktemp -d); mount -t mqueue none \"$d\"\n"
      "export PATH=\"$(dirname \"$0\"):$PATH\"\n"
      "set +e\n";
  for (const std::string& command : t.commands) {
    std::string quoted;
    for (char c : command) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    script += "printf '%s\\n' '$ " + quoted + "'\n" + command + " 2>&1\n";
  }
  script += "umount \"$d\"; rmdir \"$d\"\n";
  return in_private_namespaces(script);
}

TEST(CliDocsTest, ManPageExamplesRunAsShown) {
  if (!can_unshare()) GTEST_SKIP() << "unshare -im is not permitted here";
  const std::string page = source_file("tools/mmipc/mmipc.1");
  const std::size_t start = page.find(".SH EXAMPLES\n.nf\n");
  ASSERT_NE(start, std::string::npos);
  const std::size_t end = page.find(".fi\n", start);
  const transcript t = transcript_of(unroff(page.substr(start + 17, end - start - 17)));
  ASSERT_GE(t.commands.size(), 10u);
  outcome o = run_transcript(t);
  EXPECT_EQ(o.status, 0) << o;
  EXPECT_EQ(o.out, t.expected);
}

TEST(CliDocsTest, ReadmeFromTheShellRunsAsShown) {
  if (!can_unshare()) GTEST_SKIP() << "unshare -im is not permitted here";
  const std::string readme = source_file("README.md");
  const std::size_t section = readme.find("## From the shell");
  ASSERT_NE(section, std::string::npos);
  const std::size_t start = readme.find("```console\n", section);
  ASSERT_NE(start, std::string::npos);
  const std::size_t end = readme.find("```\n", start + 11);
  const transcript t = transcript_of(readme.substr(start + 11, end - start - 11));
  ASSERT_GE(t.commands.size(), 4u);
  outcome o = run_transcript(t);
  EXPECT_EQ(o.status, 0) << o;
  EXPECT_EQ(o.out, t.expected);
}

// make demo's examples/demo/25-mmipc.sh: the Tcl demo's server answered from the shell.
TEST(CliDocsTest, DemoAnswersTheTclServerFromTheShell) {
  if (!have_tcl()) GTEST_SKIP() << "the Tcl package posixipc is not built";
  std::vector<std::string> env = tcl_environment();
  env.push_back("MMIPC_BUILD_DIR=" +
                std::filesystem::path(MMIPC_CLI_PATH).parent_path().parent_path().string());
  process demo({"/bin/bash", std::string(MMIPC_CLI_SOURCE_DIR) + "/examples/demo/25-mmipc.sh"},
               env);
  outcome o = demo.finish({}, 120s);
  EXPECT_EQ(o.status, 0) << o;
  EXPECT_NE(o.out.find("  $ reply=$(mmipc mq recv /demo-replies-"), std::string::npos) << o;
  EXPECT_NE(o.out.find("\n    42\n"), std::string::npos) << o;
  EXPECT_NE(o.out.find("\n    bye\n"), std::string::npos) << o;
  // mq ls shows the two queues (columns as wide as every queue of the system needs), or says
  // how to mount what it needs.
  EXPECT_TRUE(std::regex_search(o.out, std::regex("/demo-replies-[0-9]+ +0 +4 +256 0600 ")) ||
              o.out.find("mount -t mqueue none /dev/mqueue") != std::string::npos)
      << o;
  EXPECT_NE(o.out.find("queues and shared memory removed"), std::string::npos) << o;
}

// What bash completion offers after `words` (the last one being completed).
std::string complete(const std::vector<std::string>& words) {
  std::string script =
      "[[ -f /usr/share/bash-completion/bash_completion ]] && "
      ". /usr/share/bash-completion/bash_completion\n"
      ". \"$0\"\n"
      "COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); COMP_LINE=\"$*\"; COMP_POINT=${#COMP_LINE}\n"
      "_mmipc\n"
      "((${#COMPREPLY[@]})) && printf '%s\\n' \"${COMPREPLY[@]}\" | sort | tr '\\n' ' '\n"
      "exit 0";
  std::vector<std::string> args = {std::string(MMIPC_CLI_SOURCE_DIR) + "/tools/mmipc/mmipc.bash",
                                   MMIPC_CLI_PATH};
  args.insert(args.end(), words.begin(), words.end());
  outcome o = shell(script, args);
  EXPECT_EQ(o.status, 0) << o;
  return o.out;
}

TEST(CliDocsTest, BashCompletionOffersCommandsOptionsAndNames) {
  EXPECT_EQ(complete({""}), "--help log mq shm ");
  EXPECT_EQ(complete({"log", ""}), "--help append cat create stat tail ");
  EXPECT_EQ(complete({"log", "tail", "x.log", "-"}), "--follow --help -f -n ");
  EXPECT_EQ(complete({"mq", ""}), "--help create ls recv rm send stat ");
  EXPECT_EQ(complete({"shm", "c"}), "cat create ");
  EXPECT_EQ(complete({"mq", "recv", "/q", "--p"}), "--priority ");
  EXPECT_EQ(complete({"shm", "cat", "/s", "--offset", ""}), "");  // a value: nothing
  // Every option of every command, as its --help lists them.
  for (const std::string& line : synopsis) {
    std::vector<std::string> words = split_words(line);
    std::set<std::string> help;
    for (const std::string& help_line : lines_of(mmipc({words[1], words[2], "--help"}).out)) {
      if (!help_line.starts_with("  -")) continue;
      std::istringstream names(help_line.substr(2, help_line.find(' ', 2) - 2));
      for (std::string name; std::getline(names, name, ',');) {
        if (name != "-h") help.insert(name);
      }
    }
    std::set<std::string> offered;
    for (const std::string& w : split_words(complete({words[1], words[2], "-"}))) offered.insert(w);
    EXPECT_EQ(offered, help) << line;
  }
  // Names of the objects that exist, with or without the "/".
  object a, b;
  ASSERT_EQ(mmipc({"shm", "create", a.name, "--size", "8"}).status, 0);
  ASSERT_EQ(mmipc({"shm", "create", b.name, "--size", "8"}).status, 0);
  const std::string stem = a.name.substr(0, a.name.rfind('-'));
  std::vector<std::string> expected = {a.name, b.name};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(complete({"shm", "cat", stem}), expected[0] + " " + expected[1] + " ");
  EXPECT_EQ(complete({"shm", "rm", a.name, stem.substr(1)}),
            expected[0].substr(1) + " " + expected[1].substr(1) + " ");
  EXPECT_EQ(complete({"shm", "cat", a.name, stem}), "");  // cat takes one name
}

// ---- bad input ------------------------------------------------------------------------------

long env_number(const char* name, long fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::strtol(value, nullptr, 10) : fallback;
}

// Random argument lists: every run ends with status 0, 1 (one line "mmipc: ...") or 2 (the
// usage), never a crash or a sanitizer report; a run that waits ends at once on SIGINT; and
// one that fails (or is interrupted) creates, removes and writes nothing.
//
// Random words become names (`mq create --json 64` makes "/64"): the test runs in IPC and
// mount namespaces of its own, with a tmpfs on /dev/shm and the mqueue file system mounted on
// /dev/shm/mq, so it sees every queue and object there is and the system's are out of reach.
// The log commands get file names of a directory of that /dev/shm (their current directory),
// where one log exists and another may be made. Whatever a run made outside the few names
// kept is removed after it.
TEST(CliBadInputTest, RandomArgumentListsNeverCrashHangOrChangeAnythingWhenTheyFail) {
  const char* mqueue_dir = std::getenv("MMIPC_CLI_FUZZ_MQUEUE");
  if (mqueue_dir == nullptr) {
    if (!can_unshare()) {
      GTEST_SKIP() << "needs private IPC and mount namespaces (unshare -im): random words "
                      "become names, which must not reach the system's queues and objects";
    }
    process inside({"unshare", "-im", "/bin/bash", "-c",
                    "mount -t tmpfs tmpfs /dev/shm && mkdir /dev/shm/mq && "
                    "mount -t mqueue none /dev/shm/mq && "
                    // The one test, whatever shard of the suite this process runs.
                    "unset GTEST_TOTAL_SHARDS GTEST_SHARD_INDEX && "
                    "MMIPC_CLI_FUZZ_MQUEUE=/dev/shm/mq exec \"$0\" "
                    "--gtest_filter=CliBadInputTest.RandomArgumentLists*",
                    std::filesystem::read_symlink("/proc/self/exe").string()});
    const outcome o = inside.finish({}, std::chrono::seconds(850));
    std::printf("%s", o.out.c_str());
    EXPECT_EQ(o.status, 0) << o;
    EXPECT_NE(o.out.find("[  PASSED  ] 1 test."), std::string::npos) << o;
    return;
  }
  const long seed = env_number("MMIPC_FUZZ_SEED", static_cast<long>(::time(nullptr) % 1000000));
  const bool stress = std::getenv("MMIPC_STRESS") != nullptr;
  // Each call is a process: far fewer than the Tcl worker's calls in the same time.
  const long calls = env_number("MMIPC_CLI_FUZZ_CALLS", stress ? 4000 : 400);
  const auto hang = std::chrono::seconds(env_number("MMIPC_FUZZ_HANG", 1));
  std::printf("cli bad input: seed %ld, %ld calls (replay: MMIPC_FUZZ_SEED=%ld)\n", seed, calls,
              seed);
  std::mt19937 random(static_cast<unsigned>(seed));
  const auto pick = [&](const std::vector<std::string>& from) {
    return from[random() % from.size()];
  };
  const std::string prefix = "mmipc-clibad-" + std::to_string(::getpid()) + "-";
  // The only names that can make something: all removed at the end.
  const std::vector<std::string> valid = {
      "/" + prefix + "q0", prefix + "q0",       "/" + prefix + "q1",      "/" + prefix + "s0",
      prefix + "s0",       "/" + prefix + "s1", "/" + prefix + "\xff\x01"};
  const std::vector<std::string> invalid = {"",
                                            "/",
                                            "//",
                                            "/.",
                                            "/..",
                                            "a/b",
                                            "../etc/passwd",
                                            "/" + prefix + "q0/x",
                                            std::string(300, 'n'),
                                            "/" + std::string(256, 'n')};
  const std::vector<std::string> groups = {"mq", "shm", "mq", "shm", "log", "--help", "", "-h"};
  const std::vector<std::string> commands = {"ls",     "create", "send",  "recv", "stat",
                                             "rm",     "cat",    "write", "rm",   "x",
                                             "--json", "append", "tail"};
  const std::vector<std::string> options = {
      "--json",    "--maxmsg", "--msgsize", "--mode", "--priority", "--timeout",
      "-n",        "--follow", "-f",        "-0",     "--offset",   "--length",
      "--hex",     "--help",   "--bogus",   "--",     "-x",         "--priority=3",
      "--size=1K", "--seq",    "--from",    "--since"};
  const std::vector<std::string> values = {
      "0",   "1",    "3",  "-1",   "10",  "32767", "32768", "4K",   "1M",
      "1G",  "2G",   "64", "0.05", "0.0", "1e3",   "nan",   "inf",  "abc",
      "777", "0600", "8",  "",     " ",   "\n",    "\xff",  "x\ny", "99999999999999999999",
      "-0",  "0x10", "1T"};
  const std::vector<std::string> inputs = {
      "", "one line\n", "a\nb\n\nc", std::string(300, 'x'), std::string("\0\1\2\xff", 4), "\n\n\n"};

  // What a failing run must leave as it was: the objects and semaphores (with the objects'
  // bytes) of /dev/shm, and the queues, that carry the prefix.
  // What a failing run must leave as it was: every object and semaphore of /dev/shm (with
  // the objects' bytes) and every queue: all are this test's.
  // Ring logs: files of a directory of the private /dev/shm, the current directory from here
  // on, with names of their own (a log is a path: the IPC names would be files in "/").
  const std::filesystem::path log_dir = "/dev/shm/mmipc-clibad-logs";
  std::filesystem::create_directory(log_dir);
  std::filesystem::current_path(log_dir);
  const std::vector<std::string> log_names = {"fz0.log",       "fz0.log", "fz1.log", "fz1.log",
                                              "missing/x.log", "",        ".",       "sub"};
  std::filesystem::create_directory(log_dir / "sub");  // a directory, not a log
  {
    auto log = mmipc::ring_log::create("fz0.log", 5120);
    for (const char* record : {"one", "two", "", "three"}) log.append(record);
  }
  const auto snapshot = [&] {
    std::map<std::string, std::string> state;
    for (const auto& entry : std::filesystem::directory_iterator(log_dir)) {
      state["log " + entry.path().filename().string()] =
          entry.is_regular_file() ? file_contents(entry.path()) : "(not a file)";
    }
    for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
      if (!entry.is_regular_file()) continue;  // the mqueue mount point
      const std::string name = entry.path().filename().string();
      state["shm " + name] = name.starts_with("sem.") ? "" : file_contents(entry.path());
    }
    for (const auto& entry : std::filesystem::directory_iterator(mqueue_dir)) {
      state["mq " + entry.path().filename().string()] = "";
    }
    return state;
  };
  // Removes what a run made under any name but the valid ones (so the queues never take more
  // than a few of the per-user budget).
  const auto remove_strays = [&] {
    std::set<std::string> kept;
    for (const std::string& name : valid) kept.insert(mmipc::cli::ipc_name(name).substr(1));
    for (const auto& entry : std::filesystem::directory_iterator(mqueue_dir)) {
      const std::string name = entry.path().filename().string();
      if (!kept.contains(name)) ::mq_unlink(("/" + name).c_str());
    }
    for (const auto& entry : std::filesystem::directory_iterator(log_dir)) {
      const std::string name = entry.path().filename().string();
      if (name != "fz0.log" && name != "fz1.log" && name != "sub") {
        std::filesystem::remove_all(entry.path());
      }
    }
    for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
      std::string name = entry.path().filename().string();
      if (!entry.is_regular_file()) continue;
      if (name.starts_with("sem.")) name.erase(0, 4);
      if (name.ends_with(".lck")) name.erase(name.size() - 4);
      if (!kept.contains(name)) std::filesystem::remove(entry.path());
    }
  };

  // Mostly well-formed commands with bad or extreme values (to reach the commands
  // themselves), sometimes anything at all.
  const std::map<std::string, std::vector<std::string>> command_options = {
      {"mq ls", {"--json"}},
      {"mq create", {"--maxmsg", "--msgsize", "--mode"}},
      {"mq send", {"--priority", "--timeout"}},
      {"mq recv", {"-n", "--follow", "--timeout", "--priority", "-0"}},
      {"mq stat", {"--json"}},
      {"mq rm", {}},
      {"shm ls", {"--json"}},
      {"shm create", {"--size", "--mode"}},
      {"shm cat", {"--offset", "--length", "--hex"}},
      {"shm write", {"--offset"}},
      {"shm stat", {"--json"}},
      {"shm rm", {}},
      {"log create", {"--size", "--mode"}},
      {"log append", {}},
      {"log cat", {"--from", "--since", "--seq", "--json"}},
      {"log tail", {"-n", "-f"}},
      {"log stat", {"--json"}}};
  const std::set<std::string> flags = {"--json", "--follow", "--priority", "-0",
                                       "--hex",  "--seq",    "-f"};
  std::vector<std::string> known;
  for (const auto& [command, unused] : command_options) known.push_back(command);
  const std::vector<std::string> size_values = {
      "0", "1", "8", "1K", "8K", "64K", "-1", "1T", "abc", "99999999999999999999", "0x10", ""};
  const std::vector<std::string> good_values = {
      "0", "1", "2", "8", "64", "1K", "0.05", "600", "@0", "3", "2026-12-02T10:00:00Z"};
  // One object made by another program: no semaphore, no lock object.
  {
    const std::string foreign = "/" + prefix + "s1";
    const int fd = ::shm_open(foreign.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0);
    EXPECT_EQ(::ftruncate(fd, 64), 0);
    ::close(fd);
  }
  std::map<std::string, int> seen;
  for (long call = 0; call < calls; ++call) {
    std::vector<std::string> args;
    std::string command = pick(known);
    if (random() % 8 == 0) {
      // Anything at all.
      const std::string group = pick(groups);
      if (!group.empty()) args.push_back(group);
      if (random() % 10 != 0) args.push_back(pick(commands));
      command.clear();
    } else {
      args = split_words(command);
    }
    if (random() % 8 != 0) {
      if (command.starts_with("log ")) {
        args.push_back(pick(log_names));
      } else {
        args.push_back(random() % 4 == 0 ? pick(invalid) : pick(valid));
      }
    }
    const int extra = static_cast<int>(random() % 5);
    for (int i = 0; i < extra; ++i) {
      const auto own = command_options.find(command);
      switch (random() % 8) {
        case 0:
          args.push_back(pick(options));
          break;
        case 1:
          args.push_back(random() % 3 == 0 ? pick(invalid) : pick(valid));
          break;
        case 2:
          args.push_back(pick(values));
          break;
        default:
          if (own == command_options.end() || own->second.empty()) break;
          // --priority is a flag of recv and takes a value in send.
          const std::string option = pick(own->second);
          args.push_back(option);
          if (option == "--size") {
            // Objects stay small: the snapshots read them whole.
            args.push_back(pick(size_values));
          } else if (!flags.contains(option) || (command == "mq send" && option == "--priority")) {
            if (random() % 8 != 0) args.push_back(random() % 2 ? pick(good_values) : pick(values));
          }
      }
    }
    const std::string input = pick(inputs);
    std::string shown;
    for (const std::string& a : args) shown += " '" + a + "'";
    const auto before = snapshot();
    process p(tool(args));
    // If it still runs after `hang`, it waits (for a message, for room): Ctrl-C must end it.
    bool interrupted = false;
    outcome o = p.finish(input, std::chrono::seconds(120), hang, &interrupted);
    SCOPED_TRACE("call " + std::to_string(call) + ": mmipc" + shown);
    if (interrupted) {
      EXPECT_TRUE(o.signal == SIGINT || o.status <= 2) << o;
    } else {
      EXPECT_TRUE(o.status >= 0 && o.status <= 2) << o;
    }
    if (o.status == 1) {
      EXPECT_TRUE(o.err.starts_with("mmipc: ")) << o;
      EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o;
    } else if (o.status == 2) {
      EXPECT_TRUE(o.err.starts_with("mmipc: ")) << o;
      EXPECT_NE(o.err.find("\nUsage: mmipc "), std::string::npos) << o;
    } else if (o.status == 0) {
      EXPECT_EQ(o.err, "") << o;
    }
    if (o.status != 0) {
      EXPECT_EQ(snapshot(), before) << o;
    }
    ++seen[interrupted ? "interrupted" : "status " + std::to_string(o.status)];
    remove_strays();
    if (HasFailure()) break;
  }
  std::string summary;
  for (const auto& [what, count] : seen) summary += " " + what + ": " + std::to_string(count);
  std::printf("cli bad input:%s\n", summary.c_str());
  // Everything made goes with the namespaces.
}

}  // namespace
