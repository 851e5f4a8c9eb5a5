// Regressions found by the bad-input scripts of the bindings (bindings/tcl/tests/
// badinput_worker.tcl, bindings/perl/t/10-badinput.t), pinned here in the core where the fix
// lives. Each test names the input that used to crash or misbehave.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

#include "mmipc/mapping.hpp"
#include "mmipc/unique_fd.hpp"

namespace {

// Touches every byte of the region in a child process, so a SIGBUS kills only the child;
// returns the child's wait status.
int touch_in_child(const mmipc::mapping& m) {
  pid_t pid = ::fork();
  if (pid == 0) {
    unsigned sum = 0;
    for (std::size_t i = 0; i < m.size(); ++i) sum += static_cast<unsigned>(m.data()[i]);
    ::_exit(sum == 0 ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

// `mmap -shared -length 32768 -offset 32767 $devzero` used to die with SIGBUS on the first read
// past the first pages: a shared /dev/zero mapping is a shm object the size of the mapping,
// and the offset placed the mapping past that object's end.
TEST(BadInputTest, SharedDevZeroWithAnOffsetIsReadable) {
  auto fd = mmipc::unique_fd::open("/dev/zero", O_RDWR);
  for (std::uint64_t offset :
       {std::uint64_t{1}, std::uint64_t{4096}, std::uint64_t{32767}, std::uint64_t{1} << 40}) {
    mmipc::map_options options;
    options.access = mmipc::access_mode::read_write;
    options.shared = true;
    auto m = mmipc::mapping::map(fd.get(), offset, 32768, options, "/dev/zero");
    EXPECT_EQ(m.size(), 32768u);
    EXPECT_EQ(m.offset(), offset);
    const int status = touch_in_child(m);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "offset " << offset << ": child status " << status;
    // Still shared memory: written here, the bytes stay (and reach children, see mapping_test).
    std::memset(m.data(), 'z', m.size());
    EXPECT_EQ(m.data()[m.size() - 1], std::byte{'z'});
  }
}

TEST(BadInputTest, PrivateDevZeroWithAnOffsetIsReadable) {
  auto fd = mmipc::unique_fd::open("/dev/zero", O_RDONLY);
  mmipc::map_options options;
  options.shared = false;
  auto m = mmipc::mapping::map(fd.get(), 12345, 65536, options, "/dev/zero");
  const int status = touch_in_child(m);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
