#pragma once
// harness: a small benchmark runner that measures every contender of a case in the same run,
// interleaved, and prints one line per repetition for bench/run to reduce.
//
// Why not Google Benchmark: it runs each benchmark to completion before the next, so a noisy
// neighbour on a 2-core machine skews one contender and not the other. Here repetition r runs
// every contender once (in an order that rotates with r), so noise hits all of them alike, and
// bench/run takes the median of the repetitions.
//
// Output, one tab-separated line per timed run:
//   sample <group> <case> <contender> <role> <ns per op> <bytes per op>
// where role is `ours`, `peer` or `limit`.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

/// Keeps the compiler from discarding a computation whose result is otherwise unused.
template <class T>
inline void do_not_optimize(T const& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}

/// Keeps the compiler from discarding writes to memory nobody reads.
inline void clobber_memory() {
  asm volatile("" : : : "memory");
}

/// Makes `p` escape, so writes into what it points to must really happen (a "memory" clobber
/// alone does not cover a local buffer whose address never left the function).
inline void escape(const void* p) {
  asm volatile("" : : "g"(p) : "memory");
}

/// One way of doing the work of a case.
struct contender {
  std::string name;
  /// `ours`, `peer` or `limit`.
  std::string role;
  /// Does the work of one repetition; only this is timed.
  std::function<void()> run;
  /// Optional: untimed preparation before each repetition (e.g. dropping a buffer).
  std::function<void()> prepare = {};
  /// Other cases this measurement also belongs to (a limit several cases compare with).
  std::vector<std::string> also_in = {};
};

/// Command-line settings shared by the benchmark programs.
struct settings {
  int reps = 7;
  bool quick = false;
  /// Tiny sizes and one repetition: checks that the program still runs (make check).
  bool smoke = false;
  std::string dir = "/tmp";
  /// Only cases whose group starts with this (empty: all).
  std::string only;
};

/// Parses --reps N, --quick, --smoke, --dir PATH, --only GROUP.
inline settings parse_settings(int argc, char** argv) {
  settings s;
  if (const char* tmp = std::getenv("TMPDIR"); tmp && *tmp) s.dir = tmp;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--reps") {
      s.reps = std::stoi(value());
    } else if (arg == "--quick") {
      s.quick = true;
    } else if (arg == "--smoke") {
      s.smoke = true;
    } else if (arg == "--dir") {
      s.dir = value();
    } else if (arg == "--only") {
      s.only = value();
    } else {
      throw std::invalid_argument("unknown argument " + arg +
                                  " (expected --reps N, --quick, --smoke, --dir PATH, --only G)");
    }
  }
  if (s.smoke) s.reps = 1;
  if (s.reps < 1) throw std::invalid_argument("--reps must be at least 1");
  return s;
}

/// Runs every contender once untimed (warm-up: page cache, page tables, branch predictors),
/// then `reps` timed rounds, each running every contender once in a rotating order.
/// `ops` is the number of operations one run performs, `bytes_per_op` the bytes each moves
/// (0 when the case is about latency only).
inline void run_case(const settings& s, const std::string& group, const std::string& name,
                     std::uint64_t ops, std::uint64_t bytes_per_op,
                     std::vector<contender> contenders) {
  if (!s.only.empty() && group.rfind(s.only, 0) != 0) return;
  for (auto& c : contenders) {
    if (c.prepare) c.prepare();
    c.run();
  }
  const std::size_t n = contenders.size();
  for (int r = 0; r < s.reps; ++r) {
    for (std::size_t k = 0; k < n; ++k) {
      auto& c = contenders[(k + static_cast<std::size_t>(r)) % n];
      if (c.prepare) c.prepare();
      auto start = std::chrono::steady_clock::now();
      c.run();
      auto stop = std::chrono::steady_clock::now();
      double ns = std::chrono::duration<double, std::nano>(stop - start).count();
      std::printf("sample\t%s\t%s\t%s\t%s\t%.3f\t%.0f\n", group.c_str(), name.c_str(),
                  c.name.c_str(), c.role.c_str(), ns / static_cast<double>(ops),
                  static_cast<double>(bytes_per_op));
      for (const auto& other : c.also_in) {
        std::printf("sample\t%s\t%s\t%s\t%s\t%.3f\t%.0f\n", group.c_str(), other.c_str(),
                    c.name.c_str(), c.role.c_str(), ns / static_cast<double>(ops),
                    static_cast<double>(bytes_per_op));
      }
      std::fflush(stdout);
    }
  }
}

}  // namespace bench
