#include "mmipc/semaphore.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "mmipc/error.hpp"
#include "test_util.hpp"

namespace {

using mmipc::named_semaphore;
using mmipc::testing::errno_of;
using namespace std::chrono_literals;

struct sem_name {
  std::string name = "/" + mmipc::testing::unique_name("mmipc-sem");
  ~sem_name() { ::sem_unlink(name.c_str()); }
};

TEST(NamedSemaphoreTest, CountsDownAndUp) {
  sem_name n;
  auto sem = named_semaphore::open(n.name, O_CREAT | O_EXCL, 0600, 2);
  EXPECT_EQ(sem.value(), 2);
  sem.wait();
  EXPECT_TRUE(sem.try_wait());
  EXPECT_EQ(sem.value(), 0);
  EXPECT_FALSE(sem.try_wait());
  EXPECT_FALSE(sem.wait_for(10ms));
  sem.post();
  EXPECT_TRUE(sem.wait_for(10ms));
}

TEST(NamedSemaphoreTest, OpenExistingAndUnlink) {
  sem_name n;
  EXPECT_EQ(errno_of([&] { named_semaphore::open(n.name, 0); }), ENOENT);
  auto a = named_semaphore::open(n.name, O_CREAT, 0600, 0);
  auto b = named_semaphore::open(n.name, 0);
  b.post();
  EXPECT_EQ(a.value(), 1);
  EXPECT_EQ(errno_of([&] { named_semaphore::open(n.name, O_CREAT | O_EXCL, 0600, 1); }), EEXIST);
  named_semaphore::unlink(n.name);
  EXPECT_EQ(errno_of([&] { named_semaphore::unlink(n.name); }), ENOENT);
  EXPECT_THROW(named_semaphore::open("bad", O_CREAT), std::invalid_argument);
}

TEST(NamedSemaphoreTest, MoveLeavesTheSourceEmpty) {
  sem_name n;
  auto a = named_semaphore::open(n.name, O_CREAT, 0600, 1);
  named_semaphore b = std::move(a);
  EXPECT_FALSE(a);
  EXPECT_TRUE(b);
  EXPECT_EQ(b.name(), n.name);
}

extern "C" void ignore_signal(int) {}

TEST(NamedSemaphoreTest, WaitsSurviveSignals) {
  sem_name n;
  auto sem = named_semaphore::open(n.name, O_CREAT, 0600, 0);
  // A handler without SA_RESTART: sem_wait itself returns EINTR on every signal.
  struct sigaction action {};
  struct sigaction old {};
  action.sa_handler = ignore_signal;
  ::sigaction(SIGUSR1, &action, &old);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    for (int i = 0; i < 5; ++i) {
      ::kill(parent, SIGUSR1);
      ::usleep(20000);
    }
    try {
      named_semaphore::open(n.name, 0).post();
      ::kill(parent, SIGUSR1);
      named_semaphore::open(n.name, 0).post();
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  EXPECT_NO_THROW(sem.wait());
  EXPECT_TRUE(sem.wait_for(60s));
  const int status = mmipc::testing::reap(pid);
  ::sigaction(SIGUSR1, &old, nullptr);
  EXPECT_EQ(status, 0);
}

// A moved-from or default-constructed handle refuses every operation with os_error(EBADF),
// as an empty message_queue does, instead of calling sem_* on a null pointer.
TEST(NamedSemaphoreTest, EmptyHandleRefusesEveryOperationWithEbadf) {
  sem_name n;
  auto source = named_semaphore::open(n.name, O_CREAT, 0600, 1);
  named_semaphore target = std::move(source);
  named_semaphore never_opened;
  for (named_semaphore* empty : {&source, &never_opened}) {
    EXPECT_FALSE(*empty);
    EXPECT_EQ(errno_of([&] { empty->value(); }), EBADF);
    EXPECT_EQ(errno_of([&] { empty->try_wait(); }), EBADF);
    EXPECT_EQ(errno_of([&] { empty->post(); }), EBADF);
    EXPECT_EQ(errno_of([&] { empty->wait(); }), EBADF);
    EXPECT_EQ(errno_of([&] { empty->wait_for(10ms); }), EBADF);
  }
  // The semaphore itself is untouched, and assignment makes a moved-from handle usable again.
  EXPECT_EQ(target.value(), 1);
  source = named_semaphore::open(n.name, 0);
  EXPECT_TRUE(source.try_wait());
  EXPECT_EQ(target.value(), 0);
}

// hours::max() used to overflow in the conversion to milliseconds (signed overflow) and time
// out at once; it saturates into a wait without limit.
TEST(NamedSemaphoreTest, LongestTimeoutWaitsForThePost) {
  sem_name n;
  auto sem = named_semaphore::open(n.name, O_CREAT, 0600, 0);
  std::thread poster([&] {
    std::this_thread::sleep_for(200ms);
    named_semaphore::open(n.name, 0).post();
  });
  const auto start = std::chrono::steady_clock::now();
  const bool got = sem.wait_for(std::chrono::hours::max());
  const auto waited = std::chrono::steady_clock::now() - start;
  poster.join();
  EXPECT_TRUE(got);
  EXPECT_GE(waited, 150ms);  // it waited for the post instead of timing out at once
  EXPECT_EQ(sem.value(), 0);
}

// Any duration is accepted: mmipc::forever, floating seconds, negative (only tries).
TEST(NamedSemaphoreTest, WaitForTakesAnyDuration) {
  sem_name n;
  auto sem = named_semaphore::open(n.name, O_CREAT, 0600, 0);
  EXPECT_FALSE(sem.wait_for(std::chrono::duration<double>(0.02)));
  EXPECT_FALSE(sem.wait_for(-1s));
  EXPECT_FALSE(sem.wait_for(std::chrono::nanoseconds::min()));
  sem.post();
  EXPECT_TRUE(sem.wait_for(-1s));  // a positive value is taken without waiting
  std::thread poster([&] {
    std::this_thread::sleep_for(100ms);
    named_semaphore::open(n.name, 0).post();
  });
  EXPECT_TRUE(sem.wait_for(mmipc::forever));
  poster.join();
  EXPECT_EQ(sem.value(), 0);
}

}  // namespace
