// A ring log: a cyclic log file shared by writer and reader processes, beside the hand-made
// cyclic log of cyclic_log.cpp. Run: ring_log FILE WRITERS RECORDS
//
// Creates FILE as a 64 KiB ring log. A follower process reads records as they come, WRITERS
// writer processes append RECORDS records each at the same time, then the follower says what
// it saw: every record, or the ones it was too slow for, counted as missed (the writers
// never wait for readers). Last, the records the log still holds are printed, oldest first:
// the newest ones, in order, whole. The file is removed at the end.

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "mmipc/ring_log.hpp"

namespace {

template <class Body>
pid_t spawn(Body body) {
  std::cout.flush();
  const pid_t pid = ::fork();
  if (pid < 0) return pid;
  if (pid == 0) {
    int status = 1;
    try {
      status = body();
    } catch (const std::exception& e) {
      std::cerr << "ring_log child: " << e.what() << "\n";
    }
    std::cout.flush();
    ::_exit(status);
  }
  return pid;
}

bool succeeded(pid_t pid) {
  int status = 0;
  return pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: ring_log FILE WRITERS RECORDS\n";
    return 2;
  }
  const std::filesystem::path path = argv[1];
  const long writers = std::stol(argv[2]);
  const long records = std::stol(argv[3]);
  const auto total = static_cast<std::uint64_t>(writers * records);
  bool created = false;
  try {
    auto log = mmipc::ring_log::create(path, 64 * 1024, 0600);  // fails if FILE exists
    created = true;

    // The follower: from record 1 on (those dropped before it reads them count as missed),
    // waiting for each (on a futex: no polling).
    auto reader = log.reader(1);
    const pid_t follower = spawn([&] {
      std::uint64_t seen = 0, last = 0;
      while (last < total) {
        auto record = reader.next_for(std::chrono::seconds(10));
        if (!record) break;  // the writers stopped early
        ++seen;
        last = record->seq;
      }
      std::cout << "follower: saw " << seen << ", missed " << reader.missed() << ", up to " << last
                << "\n";
      return seen + reader.missed() == total && last == total ? 0 : 1;
    });

    std::vector<pid_t> children;
    for (long w = 1; w <= writers; ++w) {
      children.push_back(spawn([&, w] {
        auto mine = mmipc::ring_log::open(path);  // each process opens the file itself
        for (long i = 1; i <= records; ++i)
          mine.append("writer " + std::to_string(w) + " record " + std::to_string(i));
        return 0;
      }));
    }
    bool ok = true;
    for (pid_t child : children) ok = succeeded(child) && ok;
    ok = succeeded(follower) && ok;

    const auto stats = log.stats();
    std::cout << "held: " << stats.records << " records, " << stats.first_seq << " to "
              << stats.last_seq << "; dropped: " << stats.dropped << "\n";
    auto oldest_first = log.reader();
    while (auto record = oldest_first.next())
      std::cout << record->seq << " " << record->text() << "\n";
    std::filesystem::remove(path);
    return ok ? 0 : 1;
  } catch (const std::exception& e) {  // os_error, ring_log_error, std::invalid_argument
    std::cerr << "ring_log: " << e.what() << "\n";
    if (created) std::filesystem::remove(path);
    return 1;
  }
}
