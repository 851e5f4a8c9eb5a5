// Shared memory between processes: a counter in a POSIX shared memory object, incremented by
// several processes at once under the object's lock, which survives a holder's death.
// Run: shared_memory NAME PROCESSES ROUNDS   (a name such as /board)
//
// First a process takes the lock and is killed while it holds it (SIGKILL: no cleanup at
// all). The next locker is told (owner_died()) and goes on at once: nobody hangs. Then
// PROCESSES processes each add 1 to the counter ROUNDS times, each addition a read and a
// write under one lock: the counter ends at PROCESSES x ROUNDS exactly.

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "mmipc/shared_memory.hpp"

namespace {

std::uint64_t read_counter(const mmipc::shared_memory::lock_guard& guard) {
  std::uint64_t value = 0;
  guard.read_at(0, std::as_writable_bytes(std::span(&value, 1)));
  return value;
}

void write_counter(const mmipc::shared_memory::lock_guard& guard, std::uint64_t value) {
  guard.write_at(0, std::as_bytes(std::span(&value, 1)));
}

// One process's share of the work, in a child: returns its exit status.
int add(const std::string& name, long rounds) {
  try {
    auto shm = mmipc::shared_memory::open(name, O_RDWR);  // exists: its own size
    for (long i = 0; i < rounds; ++i) {
      auto guard = shm.lock();  // held until the end of the iteration
      write_counter(guard, read_counter(guard) + 1);
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "child: " << e.what() << "\n";
    return 1;
  }
}

// Starts `body` in a child process; returns its pid.
template <class Body>
pid_t spawn(Body body) {
  std::cout.flush();
  const pid_t pid = ::fork();
  if (pid < 0) mmipc::throw_errno("fork");
  if (pid == 0) ::_exit(body());
  return pid;
}

bool succeeded(pid_t pid) {
  int status = 0;
  return ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: shared_memory NAME PROCESSES ROUNDS\n";
    return 2;
  }
  const std::string name = argv[1];
  const long processes = std::stol(argv[2]);
  const long rounds = std::stol(argv[3]);
  bool created = false;
  try {
    // Creates the object (4 KiB of zeros), its semaphore and its lock object (NAME.lck).
    auto shm = mmipc::shared_memory::open(name, O_RDWR | O_CREAT | O_EXCL, 0600, 4096);
    created = true;

    const pid_t doomed = spawn([&] {
      auto guard = shm.lock();
      std::raise(SIGKILL);  // dies holding the lock
      return 1;
    });
    int status = 0;
    ::waitpid(doomed, &status, 0);
    {
      auto guard = shm.lock();  // at once: the kernel hands the lock on
      if (guard.owner_died()) std::cout << "the previous holder died holding the lock\n";
    }

    std::vector<pid_t> children;
    for (long p = 0; p < processes; ++p)
      children.push_back(spawn([&] { return add(name, rounds); }));
    bool ok = true;
    for (pid_t child : children) ok = succeeded(child) && ok;

    std::cout << "counter: " << read_counter(shm.lock()) << " (" << processes << " processes x "
              << rounds << " rounds)\n";
    mmipc::shared_memory::unlink(name);  // the object, its semaphore and its lock object
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "shared_memory: " << e.what() << "\n";
    if (created) mmipc::shared_memory::unlink(name);
    return 1;
  }
}
