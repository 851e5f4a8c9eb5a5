#include "mmipc/shared_memory.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "mmipc/error.hpp"
#include "test_util.hpp"

namespace {

using mmipc::shared_memory;
using mmipc::whence;
using mmipc::testing::bytes_of;
using mmipc::testing::errno_of;
using mmipc::testing::shm_name;
using namespace std::chrono_literals;

std::string read_string(shared_memory& shm, std::size_t n) {
  std::string out(n, '\0');
  out.resize(shm.read(std::as_writable_bytes(std::span(out))));
  return out;
}

std::string message_of(auto&& call) {
  try {
    call();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

bool object_exists(const std::string& name) {
  int fd = ::shm_open(name.c_str(), O_RDONLY, 0);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

bool semaphore_exists(const std::string& name) {
  sem_t* sem = ::sem_open(name.c_str(), 0);
  if (sem == SEM_FAILED) return false;
  ::sem_close(sem);
  return true;
}

int wait_status(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(SharedMemoryTest, CreatedObjectIsSharedBetweenOpens) {
  shm_name n;
  auto a = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 64);
  EXPECT_TRUE(a.created());
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a.write(bytes_of("hello")), 5u);
  auto b = shared_memory::open(n.name, O_RDONLY);
  EXPECT_FALSE(b.created());
  EXPECT_EQ(b.size(), 64u);
  EXPECT_EQ(read_string(b, 5), "hello");
  EXPECT_TRUE(semaphore_exists(n.name));
  EXPECT_EQ(b.semaphore().value(), 1);
}

TEST(SharedMemoryTest, SizeRules) {
  shm_name n;
  EXPECT_EQ(message_of([&] { shared_memory::open(n.name, O_RDWR | O_CREAT, 0600); }),
            "shared memory size must be positive");
  EXPECT_EQ(message_of([&] { shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 0); }),
            "shared memory size must be positive");
  // The failed creations left nothing behind.
  EXPECT_FALSE(object_exists(n.name));
  EXPECT_FALSE(semaphore_exists(n.name));
  auto a = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 100);
  // An existing object keeps its size, with or without -size.
  EXPECT_EQ(shared_memory::open(n.name, O_RDWR, 0600, 5000).size(), 100u);
  EXPECT_EQ(shared_memory::open(n.name, O_RDONLY).size(), 100u);
}

TEST(SharedMemoryTest, ReadsStopAtTheEnd) {
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 8);
  shm.write(bytes_of("abcdefgh"));
  shm.seek(0);
  EXPECT_EQ(read_string(shm, 5), "abcde");
  EXPECT_EQ(read_string(shm, 100), "fgh");
  EXPECT_EQ(read_string(shm, 10), "");
  EXPECT_EQ(shm.tell(), 8u);
}

TEST(SharedMemoryTest, WritesStopAtTheEndThenFail) {
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 8);
  shm.seek(5);
  EXPECT_EQ(shm.write(bytes_of("123456")), 3u);
  EXPECT_EQ(shm.tell(), 8u);
  EXPECT_EQ(errno_of([&] { shm.write(bytes_of("4")); }), ENOSPC);
  EXPECT_EQ(shm.write({}), 0u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(shm.bytes().data()) + 5, 3), "123");
}

TEST(SharedMemoryTest, SeeksAreBounded) {
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 10);
  EXPECT_EQ(shm.seek(10), 10u);
  EXPECT_EQ(shm.seek(-3, whence::end), 7u);
  EXPECT_EQ(shm.seek(-7, whence::current), 0u);
  EXPECT_EQ(shm.seek(0, whence::end), 10u);
  EXPECT_EQ(errno_of([&] { shm.seek(11); }), EINVAL);
  EXPECT_EQ(errno_of([&] { shm.seek(-1); }), EINVAL);
  EXPECT_EQ(errno_of([&] { shm.seek(1, whence::end); }), EINVAL);
  EXPECT_EQ(errno_of([&] { shm.seek(-11, whence::current); }), EINVAL);
  EXPECT_EQ(errno_of([&] { shm.seek(INT64_MIN, whence::end); }), EINVAL);
  EXPECT_EQ(errno_of([&] { shm.seek(INT64_MAX, whence::end); }), EINVAL);
  EXPECT_EQ(shm.tell(), 10u);
}

TEST(SharedMemoryTest, AccessModesAreEnforced) {
  shm_name n;
  auto writer = shared_memory::open(n.name, O_WRONLY | O_CREAT, 0600, 16);
  EXPECT_TRUE(writer.writable());
  EXPECT_FALSE(writer.readable());
  EXPECT_EQ(writer.write(bytes_of("write-only")), 10u);
  char buffer[4];
  EXPECT_EQ(errno_of([&] { writer.read(std::as_writable_bytes(std::span(buffer))); }), EBADF);
  auto reader = shared_memory::open(n.name, O_RDONLY);
  EXPECT_EQ(read_string(reader, 10), "write-only");
  EXPECT_EQ(errno_of([&] { reader.write(bytes_of("x")); }), EBADF);
}

TEST(SharedMemoryTest, PermissionsApplyWhenCreated) {
  shm_name n;
  mode_t old = ::umask(022);
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0640, 16);
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::fstat(shm.native_handle(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(SharedMemoryTest, UnlinkRemovesObjectAndSemaphore) {
  shm_name n;
  shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16);
  shared_memory::unlink(n.name);
  EXPECT_FALSE(object_exists(n.name));
  EXPECT_FALSE(semaphore_exists(n.name));
  EXPECT_EQ(errno_of([&] { shared_memory::unlink(n.name); }), ENOENT);
  // Either one alone is still removed without error.
  sem_t* sem = ::sem_open(n.name.c_str(), O_CREAT, 0600, 1);
  ASSERT_NE(sem, SEM_FAILED);
  ::sem_close(sem);
  EXPECT_NO_THROW(shared_memory::unlink(n.name));
  EXPECT_FALSE(semaphore_exists(n.name));
}

TEST(SharedMemoryTest, FailedExclusiveOpenKeepsTheExistingObject) {
  shm_name n;
  auto owner = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16);
  owner.write(bytes_of("precious"));
  EXPECT_EQ(errno_of([&] { shared_memory::open(n.name, O_RDWR | O_CREAT | O_EXCL, 0600, 16); }),
            EEXIST);
  EXPECT_TRUE(object_exists(n.name));
  EXPECT_TRUE(semaphore_exists(n.name));
  auto again = shared_memory::open(n.name, O_RDONLY);
  EXPECT_EQ(read_string(again, 8), "precious");
}

TEST(SharedMemoryTest, FailedSemaphoreRemovesOnlyTheObjectItCreated) {
  shm_name n;
  // A directory where the semaphore's file would be makes sem_open fail.
  const std::string sem_path = "/dev/shm/sem." + n.name.substr(1);
  ASSERT_EQ(::mkdir(sem_path.c_str(), 0700), 0);
  try {
    shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16);
    ADD_FAILURE() << "open succeeded without a semaphore";
  } catch (const mmipc::os_error& e) {
    EXPECT_EQ(e.op(), "sem_open");
  }
  EXPECT_FALSE(object_exists(n.name));
  struct stat st {};
  EXPECT_EQ(::stat(sem_path.c_str(), &st), 0);
  ::rmdir(sem_path.c_str());
}

TEST(SharedMemoryTest, LockExcludesOtherProcesses) {
  shm_name n;
  constexpr std::size_t block = 4096;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, block);
  // Writers run until the reader has checked enough blocks, so reads and writes overlap for
  // as long as the reader runs, however the scheduler interleaves the processes.
  auto stop = mmipc::mapping::anonymous(sizeof(int), {mmipc::access_mode::read_write, true});
  auto* stop_flag = reinterpret_cast<volatile int*>(stop.data());
  std::vector<pid_t> writers;
  for (char letter : {'a', 'b', 'c'}) {
    pid_t pid = ::fork();
    if (pid == 0) {
      try {
        auto own = shared_memory::open(n.name, O_RDWR);
        std::string data(block, letter);
        while (*stop_flag == 0) own.write_at(0, bytes_of(data));
      } catch (...) {
        ::_exit(1);
      }
      ::_exit(0);
    }
    writers.push_back(pid);
  }
  auto reader = shared_memory::open(n.name, O_RDONLY);
  std::string seen(block, '\0');
  int torn = 0;
  std::set<char> letters;
  for (int i = 0; i < 50000; ++i) {
    reader.read_at(0, std::as_writable_bytes(std::span(seen)));
    const char first = seen[0];
    letters.insert(first);
    if (std::any_of(seen.begin(), seen.end(), [&](char c) { return c != first; })) ++torn;
  }
  *stop_flag = 1;
  for (pid_t pid : writers) EXPECT_EQ(wait_status(pid), 0);
  EXPECT_EQ(torn, 0);
  EXPECT_GE(letters.size(), 2u);  // the writers really ran while we read
  EXPECT_EQ(reader.semaphore().value(), 1);
}

TEST(SharedMemoryTest, LiveHolderIsWaitedForNotRobbed) {
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 1);
  // Even with an abandon timeout far shorter than the hold, a live holder keeps its lock.
  shm.set_abandon_timeout(10ms);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    try {
      auto own = shared_memory::open(n.name, O_RDWR);
      auto guard = own.lock();
      own.bytes()[0] = std::byte{'A'};
      (void)!::write(ready[1], "x", 1);
      ::usleep(300000);
      own.bytes()[0] = std::byte{'B'};
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  std::byte seen{};
  shm.read_at(0, std::span(&seen, 1));
  EXPECT_EQ(seen, std::byte{'B'});
  EXPECT_EQ(wait_status(pid), 0);
  ::close(ready[0]);
  ::close(ready[1]);
}

// A child that takes the exclusion (its way) and is then killed with SIGKILL.
void kill_holder(const std::string& name, bool semaphore_only) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    try {
      auto own = shared_memory::open(name, O_RDWR);
      if (semaphore_only) {
        // Like a program following only the original protocol.
        own.semaphore().wait();
        (void)!::write(ready[1], "x", 1);
        ::pause();
      }
      auto guard = own.lock();
      (void)!::write(ready[1], "x", 1);
      ::pause();
    } catch (...) {
    }
    ::_exit(1);
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::kill(pid, SIGKILL);
  EXPECT_EQ(wait_status(pid), 128 + SIGKILL);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(SharedMemoryTest, HolderKilledWithSigkillDoesNotHangOthers) {
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16);
  shm.set_abandon_timeout(100ms);
  kill_holder(n.name, false);
  EXPECT_EQ(shm.semaphore().value(), 0);  // the dead holder's semaphore stays taken
  shm.write_at(0, bytes_of("after"));     // would hang forever without the repair
  EXPECT_EQ(shm.semaphore().value(), 1);  // and it is repaired for everyone
  auto other = shared_memory::open(n.name, O_RDONLY);
  std::string seen(5, '\0');
  other.read_at(0, std::as_writable_bytes(std::span(seen)));
  EXPECT_EQ(seen, "after");
}

TEST(SharedMemoryTest, SemaphoreOnlyHolderKilledIsRepairedToo) {
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16);
  shm.set_abandon_timeout(100ms);
  kill_holder(n.name, true);
  EXPECT_EQ(shm.semaphore().value(), 0);
  shm.write_at(0, bytes_of("ok"));
  EXPECT_EQ(shm.semaphore().value(), 1);
}

TEST(SharedMemoryTest, BadNamesAreRefused) {
  EXPECT_THROW(shared_memory::open("nope", O_RDWR | O_CREAT, 0600, 1), std::invalid_argument);
  EXPECT_THROW(shared_memory::unlink("/a/b"), std::invalid_argument);
}

TEST(SharedMemoryTest, MissingObjectIsEnoent) {
  shm_name n;
  EXPECT_EQ(errno_of([&] { shared_memory::open(n.name, O_RDONLY); }), ENOENT);
}

}  // namespace
