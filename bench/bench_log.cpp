// Ring log benchmarks (group "cxx"): appending a 64-byte record with mmipc::ring_log against
// what a program would do instead to keep a log that survives its crash: write(2) of each
// line to a file opened with O_APPEND, and spdlog's file sink flushing each line (when
// libspdlog-dev is installed). Then four writer processes appending at once, against one.
//
//   bench_log [--reps N] [--quick] [--smoke] [--dir DIR] [--only GROUP]
//
// Prints `sample` lines (see harness.hpp) for bench/run, and a `note` when a peer is missing.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <mmipc/ring_log.hpp>
#include <string>
#include <vector>

#if MMIPC_BENCH_SPDLOG
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#endif

#include "harness.hpp"

namespace {

constexpr std::size_t record_size = 64;
// One case, so that every contender runs in every round, in turn (harness.hpp).
const std::string append_case = "ring log append of a 64 B record";

std::string record() {
  std::string line = "2026-12-02T05:59:00.123456789Z INFO request 4711 served in 12 ms";
  line.resize(record_size, '.');
  return line;
}

std::filesystem::path scratch(const bench::settings& s, const std::string& what) {
  return std::filesystem::path(s.dir) / ("mmipc-bench-" + what + "-" + std::to_string(::getpid()));
}

// Runs `work(k)` in `n` child processes started together: prepare() forks them (they wait
// on a pipe), run() lets them go and waits for all. Untimed: the forks; timed: the work.
class process_team {
 public:
  template <class Work>
  void start(int n, Work work) {
    int go[2];
    if (::pipe(go) != 0) throw std::runtime_error("pipe failed");
    for (int k = 0; k < n; ++k) {
      const pid_t pid = ::fork();
      if (pid < 0) throw std::runtime_error("fork failed");
      if (pid == 0) {
        ::close(go[1]);
        char c;
        (void)!::read(go[0], &c, 1);  // returns 0 when the parent closes its end
        int code = 0;
        try {
          work(k);
        } catch (...) {
          code = 1;
        }
        ::_exit(code);
      }
      pids_.push_back(pid);
    }
    ::close(go[0]);
    go_ = go[1];
  }
  void run() {
    ::close(go_);
    go_ = -1;
    for (pid_t pid : pids_) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "bench_log: a writer process failed\n");
        std::exit(1);
      }
    }
    pids_.clear();
  }

 private:
  std::vector<pid_t> pids_;
  int go_ = -1;
};

void appends(const bench::settings& s) {
  const std::uint64_t ops = s.smoke ? 20000 : s.quick ? 1000000 : 4000000;
  const std::uint64_t log_size = s.smoke ? 1 << 20 : 64 << 20;
  const std::string line = record();
  const std::string line_nl = line + "\n";

  const auto log_path = scratch(s, "ring-log");
  std::filesystem::remove(log_path);
  auto log = mmipc::ring_log::create(log_path, log_size);

  const auto append_path = scratch(s, "o-append");
  int append_fd = -1;

  std::vector<bench::contender> c;
  c.push_back({"mmipc ring_log, 1 writer", "ours", [&] {
                 for (std::uint64_t i = 0; i < ops; ++i) log.append(line);
               }});
  c.push_back({"write(2) of each line, O_APPEND file", "peer",
               [&] {
                 for (std::uint64_t i = 0; i < ops; ++i) {
                   if (::write(append_fd, line_nl.data(), line_nl.size()) !=
                       static_cast<ssize_t>(line_nl.size())) {
                     std::abort();
                   }
                 }
               },
               [&] {
                 if (append_fd >= 0) ::close(append_fd);
                 append_fd = ::open(append_path.c_str(),
                                    O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
                 if (append_fd < 0) throw std::runtime_error("cannot open " + append_path.native());
               }});
#if MMIPC_BENCH_SPDLOG
  const auto spdlog_path = scratch(s, "spdlog");
  std::shared_ptr<spdlog::logger> logger;
  c.push_back({"spdlog basic_file_sink, flush each line", "peer",
               [&] {
                 for (std::uint64_t i = 0; i < ops; ++i) logger->info(line);
               },
               [&] {
                 logger.reset();
                 spdlog::drop("bench");
                 logger = spdlog::basic_logger_mt("bench", spdlog_path.native(), true);
                 logger->set_pattern("%v");  // the message only: spdlog's cheapest
                 logger->flush_on(spdlog::level::trace);
               }});
#else
  std::printf(
      "note\tcxx\tspdlog not measured: libspdlog-dev was not installed when bench_log "
      "was built (scripts/install-deps bench)\n");
#endif
  // Four processes at once, each a quarter of the records: the time per record is the
  // aggregate's.
  process_team team;
  c.push_back({"mmipc ring_log, 4 writer processes", "ours-alt", [&] { team.run(); },
               [&] {
                 team.start(4, [&](int) {
                   for (std::uint64_t i = 0; i < ops / 4; ++i) log.append(line);
                 });
               }});
  c.push_back(
      {"write(2) of each line, O_APPEND file, 4 writer processes", "peer", [&] { team.run(); },
       [&] {
         if (append_fd >= 0) ::close(append_fd);
         append_fd =
             ::open(append_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
         if (append_fd < 0) throw std::runtime_error("cannot open " + append_path.native());
         team.start(4, [&](int) {
           for (std::uint64_t i = 0; i < ops / 4; ++i) {
             if (::write(append_fd, line_nl.data(), line_nl.size()) !=
                 static_cast<ssize_t>(line_nl.size())) {
               std::abort();
             }
           }
         });
       }});
  bench::run_case(s, "cxx", append_case, ops, record_size, std::move(c));

  if (append_fd >= 0) ::close(append_fd);
  std::filesystem::remove(append_path);
  std::filesystem::remove(log_path);
#if MMIPC_BENCH_SPDLOG
  logger.reset();
  spdlog::drop("bench");
  std::filesystem::remove(spdlog_path);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  try {
    appends(bench::parse_settings(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_log: %s\n", e.what());
    return 1;
  }
  return 0;
}
