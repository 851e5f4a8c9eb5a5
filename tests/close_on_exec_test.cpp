// Every descriptor mmipc opens is close-on-exec: a program the user execs inherits none of
// them. Checked by a real exec: a shell started after the descriptors were opened reports
// which of their numbers are open in it.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "mmipc/mapping.hpp"
#include "mmipc/unique_fd.hpp"
#include "test_util.hpp"

namespace {

// Execs /bin/sh, which prints each number of `fds` that is an open descriptor in it.
std::string open_in_execed_child(const std::vector<int>& fds) {
  std::string script = "for fd in";
  for (int fd : fds) script += " " + std::to_string(fd);
  // `[ -e ]` is the shell's builtin: it stats /proc/self/fd/N of the shell itself.
  script += "; do [ -e /proc/self/fd/$fd ] && printf '%s ' $fd; done; exit 0";

  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);  // dup2 clears close-on-exec on the copy only
    ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(out[1]);
  std::string seen;
  char buffer[256];
  for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;) seen.append(buffer, n);
  ::close(out[0]);
  if (mmipc::testing::reap(pid) != 0) throw std::runtime_error("sh failed");
  return seen;
}

TEST(CloseOnExecTest, ExecedChildInheritsNoDescriptorOfTheCore) {
  mmipc::testing::temp_file file(std::string(10000, 'x'));
  auto fd = mmipc::unique_fd::open(file.path(), O_RDWR);
  auto copy = fd.dup();
  auto created = mmipc::unique_fd::open(file.path().native() + ".new", O_RDWR | O_CREAT, 0600);
  std::filesystem::remove(file.path().native() + ".new");
  mmipc::map_options rw;
  rw.access = mmipc::access_mode::read_write;
  auto by_fd = mmipc::mapping::map(fd.get(), 0, std::nullopt, rw);
  auto by_path = mmipc::mapping::map(file.path(), 100, 50);
  auto anonymous = mmipc::mapping::anonymous(4096);

  // The control: a descriptor opened without O_CLOEXEC must show up, or the check is blind.
  int control = ::open(file.path().c_str(), O_RDONLY);
  ASSERT_GE(control, 0);
  const std::string seen = open_in_execed_child({fd.get(), copy.get(), created.get(), control});
  ::close(control);
  EXPECT_EQ(seen, std::to_string(control) + " ");
}

}  // namespace
