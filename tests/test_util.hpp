#pragma once
// Helpers shared by the C++ tests: temporary files that are always removed, and names that
// are unique to this test run.

#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "mmipc/error.hpp"
#include "mmipc/shared_memory.hpp"

namespace mmipc::testing {

/// The bytes of a string, for the core's span-based read/write calls.
inline std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span(s));
}

/// Runs `call`; returns the errno of the mmipc::os_error it throws, or 0 when it returns.
inline int errno_of(auto&& call) {
  try {
    call();
  } catch (const mmipc::os_error& e) {
    return e.error_number();
  }
  return 0;
}

/// The exit code in a wait status, or 128 + the signal that ended the process.
inline int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Waits for child `pid` (resuming after EINTR) and returns exit_code_of() its status; -1
/// when waitpid fails otherwise (never loops on such a failure). The one wait for a child
/// in the tests.
inline int reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return exit_code_of(status);
}

/// Runs `body` (returning an exit code) in a forked child and returns its pid at once. The
/// child exits with body's code, 98 when it threw a std::exception (printed on stderr), 99
/// when it threw anything else; an alarm ends a child that hangs (SIGALRM, after 10 minutes)
/// so that it fails instead of hanging the run.
template <class Body>
pid_t spawn(Body&& body) {
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::alarm(600);
    int code = 99;
    try {
      code = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child %d: %s\n", static_cast<int>(::getpid()), e.what());
      code = 98;
    } catch (...) {
    }
    ::_exit(code);
  }
  return pid;
}

/// Runs `body` in a forked child (spawn) and waits for it: its exit code (reap).
inline int in_child(auto&& body) {
  return reap(spawn(body));
}

/// A name unique to this process and call, for files, queues and shared memory objects.
inline std::string unique_name(std::string_view stem) {
  static int counter = 0;
  return std::string(stem) + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

/// A message queue name unique to this run, unlinked when the test ends however it ends.
struct queue_name {
  std::string name = "/" + unique_name("mmipc-mq");
  ~queue_name() { ::mq_unlink(name.c_str()); }
  operator std::string_view() const { return name; }
};

/// A shared memory name unique to this run; the object, its semaphore (same name) and its
/// lock object are removed when the test ends however it ends.
struct shm_name {
  std::string name = "/" + unique_name("mmipc-shm");
  ~shm_name() {
    ::shm_unlink(name.c_str());
    ::sem_unlink(name.c_str());
    ::shm_unlink(mmipc::shared_memory::lock_name(name).c_str());
  }
};

/// True when the shared memory object `name` exists.
inline bool shm_exists(const std::string& name) {
  int fd = ::shm_open(name.c_str(), O_RDONLY, 0);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

/// True when the named semaphore `name` exists.
inline bool semaphore_exists(const std::string& name) {
  sem_t* sem = ::sem_open(name.c_str(), 0);
  if (sem == SEM_FAILED) return false;
  ::sem_close(sem);
  return true;
}

/// The value of the named semaphore `name` as another process sees it (-1 when it is
/// missing).
inline int semaphore_value(const std::string& name) {
  sem_t* sem = ::sem_open(name.c_str(), 0);
  if (sem == SEM_FAILED) return -1;
  int value = -1;
  ::sem_getvalue(sem, &value);
  ::sem_close(sem);
  return value;
}

/// A file in the temporary directory, removed when the object goes away.
class temp_file {
 public:
  /// Creates the file holding `contents`.
  explicit temp_file(std::string_view contents = {}) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::filesystem::path(dir && *dir ? dir : "/tmp") / unique_name("mmipc-test");
    int fd = ::open(path_.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + path_.native());
    for (std::size_t done = 0; done < contents.size();) {
      ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
      if (n <= 0) {
        ::close(fd);
        throw std::runtime_error("cannot write " + path_.native());
      }
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  ~temp_file() { std::filesystem::remove(path_); }

  const std::filesystem::path& path() const { return path_; }

  /// The file's bytes as they are on disk now (read with read(), not through a mapping).
  std::string contents() const {
    std::string out;
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open " + path_.native());
    char buffer[65536];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) out.append(buffer, n);
    ::close(fd);
    return out;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace mmipc::testing
