#include "mmipc/error.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "retry.hpp"

namespace {

TEST(OsErrorTest, CarriesErrnoOperationAndName) {
  mmipc::os_error error(ENOENT, "mq_open", "/queue");
  EXPECT_EQ(error.error_number(), ENOENT);
  EXPECT_EQ(error.code(), std::errc::no_such_file_or_directory);
  EXPECT_EQ(error.op(), "mq_open");
  EXPECT_EQ(error.name(), "/queue");
  EXPECT_STREQ(error.what(), (std::string("mq_open /queue: ") + std::strerror(ENOENT)).c_str());
}

TEST(OsErrorTest, OmitsAnEmptyName) {
  mmipc::os_error error(EINVAL, "seek");
  EXPECT_STREQ(error.what(), (std::string("seek: ") + std::strerror(EINVAL)).c_str());
}

TEST(OsErrorTest, ThrowErrnoUsesCurrentErrno) {
  errno = EACCES;
  try {
    mmipc::throw_errno("open", "/x");
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EACCES);
  }
}

TEST(RetryOnEintrTest, RetriesOnlyInterruptedCalls) {
  int calls = 0;
  int result = mmipc::retry_on_eintr([&] {
    ++calls;
    if (calls < 3) {
      errno = EINTR;
      return -1;
    }
    return 7;
  });
  EXPECT_EQ(result, 7);
  EXPECT_EQ(calls, 3);

  calls = 0;
  result = mmipc::retry_on_eintr([&] {
    ++calls;
    errno = EAGAIN;
    return -1;
  });
  EXPECT_EQ(result, -1);
  EXPECT_EQ(calls, 1);
}

void on_alarm(int) {}

TEST(RetryOnEintrTest, SurvivesARealSignal) {
  // A read from an empty pipe interrupted by SIGALRM (installed without SA_RESTART) fails
  // with EINTR; the helper retries until data arrives from the writer child.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  struct sigaction action {};
  action.sa_handler = on_alarm;
  struct sigaction old {};
  ASSERT_EQ(::sigaction(SIGALRM, &action, &old), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::usleep(300 * 1000);
    char c = 'x';
    _exit(::write(fds[1], &c, 1) == 1 ? 0 : 1);
  }
  ::alarm(0);
  ::ualarm(50 * 1000, 0);
  char c = 0;
  ssize_t n = mmipc::retry_on_eintr([&] { return ::read(fds[0], &c, 1); });
  EXPECT_EQ(n, 1);
  EXPECT_EQ(c, 'x');
  int status = 0;
  ::waitpid(child, &status, 0);
  ::sigaction(SIGALRM, &old, nullptr);
  ::close(fds[0]);
  ::close(fds[1]);
}

}  // namespace
