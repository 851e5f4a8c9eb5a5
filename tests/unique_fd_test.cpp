#include "mmipc/unique_fd.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "mmipc/error.hpp"
#include "system_call_seam.hpp"
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

// The rule of every handle type: an empty (moved-from or default) owner refuses its operations
// with os_error(EBADF) and reports -1.
TEST(UniqueFdTest, EmptyOwnerRefusesDupWithEbadf) {
  mmipc::testing::temp_file file("abc");
  auto source = mmipc::unique_fd::open(file.path(), O_RDONLY);
  mmipc::unique_fd target(std::move(source));
  mmipc::unique_fd never_opened;
  for (mmipc::unique_fd* empty : {&source, &never_opened}) {
    EXPECT_FALSE(*empty);
    EXPECT_EQ(empty->get(), -1);
    EXPECT_EQ(mmipc::testing::errno_of([&] { empty->dup(); }), EBADF);
    EXPECT_EQ(empty->release(), -1);
  }
  source = target.dup();
  EXPECT_TRUE(is_open(source.get()));
}

// EINTR injected through the system-call seam: open() is retried until it stops being
// interrupted, and any other failure is reported at once.
int interrupted_opens = 0;
int open_interrupted_twice(const char* path, int flags, mode_t mode) {
  if (++interrupted_opens <= 2) {
    errno = EINTR;
    return -1;
  }
  return mmipc::detail::libc_calls.open(path, flags, mode);
}

TEST(UniqueFdTest, OpenRetriesInterruptedCalls) {
  mmipc::testing::temp_file file("abc");
  interrupted_opens = 0;
  {
    mmipc::testing::replaced_call seam(&mmipc::detail::system_calls::open, open_interrupted_twice);
    auto fd = mmipc::unique_fd::open(file.path(), O_RDONLY);
    EXPECT_TRUE(is_open(fd.get()));
  }
  EXPECT_EQ(interrupted_opens, 3);
  mmipc::testing::replaced_call seam(
      &mmipc::detail::system_calls::open, +[](const char*, int, mode_t) {
        errno = EACCES;
        return -1;
      });
  EXPECT_EQ(mmipc::testing::errno_of([&] { mmipc::unique_fd::open(file.path(), O_RDONLY); }),
            EACCES);
}

}  // namespace
