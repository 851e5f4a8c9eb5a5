#include "mmipc/unique_fd.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "mmipc/error.hpp"
#include "test_util.hpp"

namespace {

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

TEST(UniqueFdTest, DefaultIsEmpty) {
  mmipc::unique_fd fd;
  EXPECT_FALSE(fd);
  EXPECT_EQ(fd.get(), -1);
}

TEST(UniqueFdTest, ClosesOnDestruction) {
  mmipc::testing::temp_file file("abc");
  int raw = -1;
  {
    auto fd = mmipc::unique_fd::open(file.path(), O_RDONLY);
    raw = fd.get();
    EXPECT_TRUE(is_open(raw));
  }
  EXPECT_FALSE(is_open(raw));
}

TEST(UniqueFdTest, OpensCloseOnExec) {
  mmipc::testing::temp_file file("abc");
  auto fd = mmipc::unique_fd::open(file.path(), O_RDONLY);
  EXPECT_TRUE(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC);
  auto copy = fd.dup();
  EXPECT_NE(copy.get(), fd.get());
  EXPECT_TRUE(::fcntl(copy.get(), F_GETFD) & FD_CLOEXEC);
}

TEST(UniqueFdTest, MoveLeavesSourceEmpty) {
  mmipc::testing::temp_file file("abc");
  auto fd = mmipc::unique_fd::open(file.path(), O_RDONLY);
  int raw = fd.get();
  mmipc::unique_fd moved(std::move(fd));
  EXPECT_FALSE(fd);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  EXPECT_EQ(moved.get(), raw);
  mmipc::unique_fd assigned;
  assigned = std::move(moved);
  EXPECT_FALSE(moved);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(assigned.get(), raw);
  EXPECT_TRUE(is_open(raw));
}

TEST(UniqueFdTest, ReleaseGivesUpOwnership) {
  mmipc::testing::temp_file file("abc");
  int raw = -1;
  {
    auto fd = mmipc::unique_fd::open(file.path(), O_RDONLY);
    raw = fd.release();
    EXPECT_FALSE(fd);
  }
  EXPECT_TRUE(is_open(raw));
  ::close(raw);
}

TEST(UniqueFdTest, OpenFailureNamesThePath) {
  try {
    mmipc::unique_fd::open("/nonexistent/mmipc/file", O_RDONLY);
    FAIL() << "no exception";
  } catch (const mmipc::os_error& e) {
    EXPECT_EQ(e.error_number(), ENOENT);
    EXPECT_EQ(e.op(), "open");
    EXPECT_EQ(e.name(), "/nonexistent/mmipc/file");
  }
}

}  // namespace
