#include "mmipc/shared_memory.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mmipc/error.hpp"
#include "mmipc/guarded_copy.hpp"
#include "mmipc/mapping.hpp"
#include "test_util.hpp"

namespace {

using mmipc::shared_memory;
using mmipc::whence;
using mmipc::testing::bytes_of;
using mmipc::testing::errno_of;
using mmipc::testing::reap;
using mmipc::testing::semaphore_exists;
using mmipc::testing::semaphore_value;
using mmipc::testing::shm_exists;
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

// A pipe for "I got this far" from a child or a thread.
struct signal_pipe {
  int fd[2];
  signal_pipe() {
    if (::pipe(fd) != 0) throw std::runtime_error("pipe");
  }
  ~signal_pipe() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
  void tell() const { (void)!::write(fd[1], "x", 1); }
  bool heard() const {
    char c;
    return ::read(fd[0], &c, 1) == 1;
  }
};

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
  EXPECT_EQ(semaphore_value(n.name), 1);
}

TEST(SharedMemoryTest, SizeRules) {
  shm_name n;
  EXPECT_EQ(message_of([&] { shared_memory::open(n.name, O_RDWR | O_CREAT, 0600); }),
            "shared memory size must be positive");
  EXPECT_EQ(message_of([&] { shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 0); }),
            "shared memory size must be positive");
  // The failed creations left nothing behind.
  EXPECT_FALSE(shm_exists(n.name));
  EXPECT_FALSE(semaphore_exists(n.name));
  EXPECT_FALSE(shm_exists(shared_memory::lock_name(n.name)));
  auto a = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 100);
  // An existing object keeps its size, with or without -size.
  EXPECT_EQ(shared_memory::open(n.name, O_RDWR, 0600, 5000).size(), 100u);
  EXPECT_EQ(shared_memory::open(n.name, O_RDONLY).size(), 100u);
}

TEST(SharedMemoryTest, AnObjectOfSizeZeroIsSizedOnlyByItsCreator) {
  // Made elsewhere and never sized (or its creator died first): an open that did not create
  // it refuses it with the real reason, whatever its access, and leaves it as it is.
  shm_name n;
  const int fd = ::shm_open(n.name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  const std::string reason = "shared memory \"" + n.name +
                             "\" has size 0: only the open that creates an object gives it its "
                             "size, and its creator has not";
  EXPECT_EQ(message_of([&] { shared_memory::open(n.name, O_RDONLY, 0600, 4096); }), reason);
  EXPECT_EQ(message_of([&] { shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 4096); }), reason);
  EXPECT_EQ(message_of([&] { shared_memory::open(n.name, O_RDWR); }), reason);
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_TRUE(shm_exists(n.name));  // not ours to remove
  // Once its creator sizes it, it opens.
  ASSERT_EQ(::ftruncate(fd, 64), 0);
  EXPECT_EQ(shared_memory::open(n.name, O_RDONLY, 0600, 4096).size(), 64u);
  ::close(fd);
}

TEST(SharedMemoryTest, LockObjectIsNamedAfterTheObject) {
  EXPECT_EQ(shared_memory::lock_name("/board"), "/board.lck");
  EXPECT_EQ(shared_memory::lock_name("/" + std::string(251, 'n')),
            "/" + std::string(251, 'n') + ".lck");
  EXPECT_THROW(shared_memory::lock_name("board"), std::invalid_argument);
  // The longest name an object may have still gives a lock object that the system accepts.
  shm_name n;
  n.name =
      "/" + std::string(251 - std::to_string(::getpid()).size(), 'L') + std::to_string(::getpid());
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT | O_EXCL, 0600, 16);
  EXPECT_TRUE(shm_exists(shared_memory::lock_name(n.name)));
  EXPECT_EQ(shm.write_at(0, bytes_of("long")), 4u);
}

TEST(SharedMemoryTest, OpenCreatesTheLockObjectAndUnlinkRemovesIt) {
  shm_name n;
  const std::string lock = shared_memory::lock_name(n.name);
  // An object made as posixipc 1.0 makes it: the object and the semaphore, no lock object.
  {
    const int fd = ::shm_open(n.name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 32), 0);
    ::close(fd);
    sem_t* sem = ::sem_open(n.name.c_str(), O_CREAT | O_EXCL, 0600, 1);
    ASSERT_NE(sem, SEM_FAILED);
    ::sem_close(sem);
  }
  EXPECT_FALSE(shm_exists(lock));
  {
    auto shm = shared_memory::open(n.name, O_RDONLY);
    EXPECT_FALSE(shm.created());
    EXPECT_TRUE(shm_exists(lock));
  }
  // It outlives the handles, like the object and the semaphore.
  EXPECT_TRUE(shm_exists(lock));
  shared_memory::unlink(n.name);
  EXPECT_FALSE(shm_exists(n.name));
  EXPECT_FALSE(semaphore_exists(n.name));
  EXPECT_FALSE(shm_exists(lock));
  // A lock object left alone (posixipc 1.0's unlink leaves it) is removed too, without error.
  shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 8);
  ASSERT_EQ(::shm_unlink(n.name.c_str()), 0);
  ASSERT_EQ(::sem_unlink(n.name.c_str()), 0);
  EXPECT_NO_THROW(shared_memory::unlink(n.name));
  EXPECT_FALSE(shm_exists(lock));
  EXPECT_EQ(errno_of([&] { shared_memory::unlink(n.name); }), ENOENT);
}

TEST(SharedMemoryTest, LockObjectGetsThePermissionsOfTheSemaphore) {
  shm_name n;
  const mode_t old = ::umask(027);
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0664, 16);
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat(("/dev/shm" + shared_memory::lock_name(n.name)).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  ASSERT_EQ(::stat(("/dev/shm/sem." + n.name.substr(1)).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(SharedMemoryTest, FailedOpensRemoveOnlyTheLockObjectTheyCreated) {
  shm_name n;
  const std::string lock = shared_memory::lock_name(n.name);
  // A missing object: the lock object this call made goes again.
  EXPECT_EQ(errno_of([&] { shared_memory::open(n.name, O_RDWR); }), ENOENT);
  EXPECT_FALSE(shm_exists(lock));
  // An existing one stays, with the object, when an exclusive creation fails.
  auto owner = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16);
  EXPECT_EQ(errno_of([&] { shared_memory::open(n.name, O_RDWR | O_CREAT | O_EXCL, 0600, 16); }),
            EEXIST);
  EXPECT_TRUE(shm_exists(lock));
  EXPECT_EQ(owner.write_at(0, bytes_of("still locks")), 11u);
}

TEST(SharedMemoryTest, ALockObjectNameTakenBySomethingElseIsRefused) {
  shm_name n;
  const std::string lock = shared_memory::lock_name(n.name);
  const int fd = ::shm_open(lock.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "someone else's data", 19), 19);
  EXPECT_EQ(
      message_of([&] { shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16); }),
      "shared memory \"" + lock + "\" is not an mmipc lock object (something else has its name)");
  EXPECT_FALSE(shm_exists(n.name));
  char back[19] = {};
  EXPECT_EQ(::pread(fd, back, sizeof back, 0), 19);
  EXPECT_EQ(std::string(back, 19), "someone else's data");
  ::close(fd);
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
  auto guard = shm.lock();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(guard.bytes().data()) + 5, 3), "123");
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
  EXPECT_FALSE(shm_exists(n.name));
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
  EXPECT_TRUE(shm_exists(n.name));
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
  EXPECT_FALSE(shm_exists(n.name));
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
  for (pid_t pid : writers) EXPECT_EQ(reap(pid), 0);
  EXPECT_EQ(torn, 0);
  EXPECT_GE(letters.size(), 2u);  // the writers really ran while we read
  EXPECT_EQ(semaphore_value(n.name), 1);
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
      guard.bytes()[0] = std::byte{'A'};
      (void)!::write(ready[1], "x", 1);
      ::usleep(300000);
      guard.bytes()[0] = std::byte{'B'};
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
  EXPECT_EQ(reap(pid), 0);
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
        sem_t* sem = ::sem_open(name.c_str(), 0);
        if (sem == SEM_FAILED || ::sem_wait(sem) != 0) ::_exit(2);
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
  EXPECT_EQ(reap(pid), 128 + SIGKILL);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(SharedMemoryTest, HolderKilledWithSigkillDoesNotHangOthers) {
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16);
  // No timed wait is involved: the kernel tells the next locker that the holder died.
  shm.set_abandon_timeout(mmipc::forever);
  kill_holder(n.name, false);
  EXPECT_EQ(semaphore_value(n.name), 0);  // the dead holder's semaphore stays taken
  shm.write_at(0, bytes_of("after"));     // would hang forever without the repair
  EXPECT_EQ(semaphore_value(n.name), 1);  // and it is repaired for everyone
  EXPECT_EQ(shm.owner_deaths(), 1u);
  EXPECT_EQ(shm.semaphore_takeovers(), 0u);
  auto other = shared_memory::open(n.name, O_RDONLY);
  std::string seen(5, '\0');
  other.read_at(0, std::as_writable_bytes(std::span(seen)));
  EXPECT_EQ(seen, "after");
}

TEST(SharedMemoryTest, SemaphoreOnlyHolderKilledIsRepairedToo) {
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16);
  // A holder outside mmipc can only be presumed dead after abandon_timeout.
  shm.set_abandon_timeout(100ms);
  kill_holder(n.name, true);
  EXPECT_EQ(semaphore_value(n.name), 0);
  shm.write_at(0, bytes_of("ok"));
  EXPECT_EQ(semaphore_value(n.name), 1);
  EXPECT_EQ(shm.owner_deaths(), 0u);
  EXPECT_EQ(shm.semaphore_takeovers(), 1u);
}

TEST(SharedMemoryTest, ALatePostOfAHolderTakenOverFromDoesNotLetTwoIn) {
  // A program outside mmipc holds the semaphore longer than the abandon timeout: it is
  // presumed dead and taken over. When it posts after all, during the new holder's lock, the
  // new holder's release must not post again: the semaphore stays at 1, never 2.
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16);
  shm.set_abandon_timeout(50ms);
  signal_pipe holding, posted;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sem_t* sem = ::sem_open(n.name.c_str(), 0);
    if (sem == SEM_FAILED || ::sem_wait(sem) != 0) ::_exit(1);
    holding.tell();
    ::usleep(200000);
    ::sem_post(sem);
    posted.tell();
    ::_exit(0);
  }
  ASSERT_TRUE(holding.heard());
  {
    auto guard = shm.lock();
    EXPECT_EQ(shm.semaphore_takeovers(), 1u);
    ASSERT_TRUE(posted.heard());
    EXPECT_EQ(semaphore_value(n.name), 1);
  }
  EXPECT_EQ(semaphore_value(n.name), 1);
  EXPECT_EQ(reap(pid), 0);
}

TEST(SharedMemoryTest, PagesLostToAnotherProcessAreReportedWithTheObjectsName) {
  shm_name n;
  const auto page = mmipc::mapping::page_size();
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 2 * page);
  const int fd = ::shm_open(n.name.c_str(), O_RDWR, 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(page)), 0);
  ::close(fd);
  std::string out(8, '\0');
  for (const bool reading : {true, false}) {
    try {
      if (reading) {
        shm.read_at(page, std::as_writable_bytes(std::span(out)));
      } else {
        shm.write_at(page, bytes_of("x"));
      }
      ADD_FAILURE() << "no error";
    } catch (const mmipc::lost_pages_error& e) {
      EXPECT_EQ(e.error_number(), EFAULT);
      EXPECT_EQ(e.op(), reading ? "read" : "write");
      EXPECT_EQ(e.name(), n.name);
    }
  }
  // And the lock was given back on the way out.
  EXPECT_EQ(semaphore_value(n.name), 1);
}

TEST(SharedMemoryTest, BadNamesAreRefused) {
  EXPECT_THROW(shared_memory::open("nope", O_RDWR | O_CREAT, 0600, 1), std::invalid_argument);
  EXPECT_THROW(shared_memory::unlink("/a/b"), std::invalid_argument);
}

TEST(SharedMemoryTest, MissingObjectIsEnoent) {
  shm_name n;
  EXPECT_EQ(errno_of([&] { shared_memory::open(n.name, O_RDONLY); }), ENOENT);
}

// ---- who holds the lock: processes, threads, the same thread ---------------------------------

std::string first_bytes(const shared_memory::lock_guard& guard, std::size_t n) {
  std::string out(n, '\0');
  guard.read_at(0, std::as_writable_bytes(std::span(out)));
  return out;
}

TEST(SharedMemoryTest, AForkedChildWaitsForItsParentsLock) {
  // The child inherits the object (the same open file), yet the lock is not shared with it:
  // even with a tiny abandon timeout it waits for as long as its parent holds the lock.
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16);
  shm.set_abandon_timeout(10ms);
  signal_pipe trying;
  auto guard = shm.lock();
  guard.write_at(0, bytes_of("parent"));
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    trying.tell();
    try {
      shm.write_at(0, bytes_of("child!"));
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  ASSERT_TRUE(trying.heard());
  ::usleep(300000);  // 30 times the abandon timeout: time enough to misbehave
  EXPECT_EQ(first_bytes(guard, 6), "parent");
  EXPECT_EQ(semaphore_value(n.name), 0);
  guard.release();
  EXPECT_EQ(reap(pid), 0);
  auto after = shm.lock();
  EXPECT_EQ(first_bytes(after, 6), "child!");
}

TEST(SharedMemoryTest, AStoppedForkedWriterIsWaitedForNotRobbed) {
  // A writer stopped with SIGSTOP in the middle of a write is alive: the reader waits until it
  // is continued and has finished, and never reads the half-written block.
  shm_name n;
  constexpr std::size_t block = 4096;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, block);
  shm.set_abandon_timeout(10ms);
  signal_pipe half_written;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      auto guard = shm.lock();
      guard.write_at(0, bytes_of(std::string(block / 2, 'w')));
      half_written.tell();
      ::raise(SIGSTOP);
      guard.write_at(block / 2, bytes_of(std::string(block / 2, 'w')));
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  ASSERT_TRUE(half_written.heard());
  std::atomic<bool> continued{false};
  std::thread waker([&] {
    ::usleep(300000);
    continued = true;
    ::kill(pid, SIGCONT);
  });
  std::string seen(block, '\0');
  shm.read_at(0, std::as_writable_bytes(std::span(seen)));
  const bool after_continue = continued;
  waker.join();
  EXPECT_TRUE(after_continue);
  EXPECT_EQ(seen, std::string(block, 'w'));
  EXPECT_EQ(reap(pid), 0);
  EXPECT_EQ(shm.owner_deaths(), 0u);
}

TEST(SharedMemoryTest, AForkedWriterKilledMidWriteIsReportedToTheNextLocker) {
  shm_name n;
  constexpr std::size_t block = 4096;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, block);
  shm.set_abandon_timeout(mmipc::forever);  // the kernel tells: no timed wait
  signal_pipe half_written;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      auto guard = shm.lock();
      guard.write_at(0, bytes_of(std::string(block / 2, 'k')));
      half_written.tell();
      for (;;) ::pause();
    } catch (...) {
    }
    ::_exit(1);
  }
  ASSERT_TRUE(half_written.heard());
  ::kill(pid, SIGKILL);
  EXPECT_EQ(reap(pid), 128 + SIGKILL);
  {
    auto guard = shm.lock();
    EXPECT_TRUE(guard.owner_died());
    EXPECT_EQ(first_bytes(guard, 2), "kk");  // as the dead writer left them
    guard.write_at(0, bytes_of(std::string(block, 'r')));
  }
  EXPECT_EQ(shm.owner_deaths(), 1u);
  EXPECT_EQ(shm.semaphore_takeovers(), 0u);
  EXPECT_EQ(semaphore_value(n.name), 1);
  // Only the next locker is told.
  auto again = shm.lock();
  EXPECT_FALSE(again.owner_died());
}

TEST(SharedMemoryTest, AWriterKilledMidWriteIsCountedForReadAtCallers) {
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 64);
  kill_holder(n.name, false);
  const std::uint64_t before = shm.owner_deaths();
  std::string seen(8, '\0');
  EXPECT_EQ(shm.read_at(0, std::as_writable_bytes(std::span(seen))), 8u);
  EXPECT_EQ(shm.owner_deaths(), before + 1);
  // Every handle sees the same count: it is the lock object's.
  EXPECT_EQ(shared_memory::open(n.name, O_RDONLY).owner_deaths(), before + 1);
}

TEST(SharedMemoryTest, ThreadsExcludeEachOther) {
  // Two threads share one object. While A holds the lock, B's write waits, even with a tiny
  // abandon timeout; and read-modify-write cycles of both never lose an update.
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 64);
  shm.set_abandon_timeout(10ms);
  signal_pipe trying;
  std::atomic<bool> released{false};
  bool wrote_after_release = false;
  auto guard = shm.lock();
  guard.write_at(0, bytes_of("A"));
  std::thread b([&] {
    trying.tell();
    shm.write_at(0, bytes_of("B"));
    wrote_after_release = released;
  });
  ASSERT_TRUE(trying.heard());
  ::usleep(300000);
  EXPECT_EQ(first_bytes(guard, 1), "A");
  released = true;
  guard.release();
  b.join();
  EXPECT_TRUE(wrote_after_release);

  constexpr int rounds = 2000;
  auto add = [&] {
    for (int i = 0; i < rounds; ++i) {
      auto g = shm.lock();
      std::uint64_t value = 0;
      g.read_at(8, std::as_writable_bytes(std::span(&value, 1)));
      std::this_thread::yield();
      ++value;
      g.write_at(8, std::as_bytes(std::span(&value, 1)));
    }
  };
  std::thread t1(add), t2(add);
  t1.join();
  t2.join();
  std::uint64_t total = 0;
  shm.read_at(8, std::as_writable_bytes(std::span(&total, 1)));
  EXPECT_EQ(total, 2u * rounds);
  EXPECT_EQ(semaphore_value(n.name), 1);
}

TEST(SharedMemoryTest, OperationsUnderTheLockOfTheSameThreadNeitherWaitNorRelease) {
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16);
  auto other = shared_memory::open(n.name, O_RDWR);
  shm.set_abandon_timeout(mmipc::forever);  // a wait for ourselves would never end
  other.set_abandon_timeout(mmipc::forever);
  auto guard = shm.lock();
  EXPECT_EQ(shm.write_at(0, bytes_of("one")), 3u);
  std::string seen(3, '\0');
  EXPECT_EQ(shm.read_at(0, std::as_writable_bytes(std::span(seen))), 3u);
  EXPECT_EQ(seen, "one");
  // Through another handle of the same object too: the lock is this thread's.
  EXPECT_EQ(other.write_at(0, bytes_of("two")), 3u);
  EXPECT_EQ(guard.write_at(3, bytes_of("!")), 1u);
  EXPECT_EQ(first_bytes(guard, 4), "two!");
  // Still held, for other processes too.
  EXPECT_EQ(semaphore_value(n.name), 0);
  EXPECT_EQ(mmipc::testing::in_child([&] {
              sem_t* sem = ::sem_open(n.name.c_str(), 0);
              return sem != SEM_FAILED && ::sem_trywait(sem) != 0 && errno == EAGAIN ? 0 : 1;
            }),
            0);
  EXPECT_EQ(errno_of([&] { auto second = shm.lock(); }), EDEADLK);
  EXPECT_TRUE(guard.owns_lock());
  guard.release();
  EXPECT_FALSE(guard.owns_lock());
  EXPECT_EQ(semaphore_value(n.name), 1);
}

TEST(SharedMemoryTest, AGuardCopiedByForkDoesNotReleaseTheParentsLock) {
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16);
  auto guard = shm.lock();
  EXPECT_EQ(mmipc::testing::in_child([&] {
              guard.release();  // the child's copy: does nothing
              return semaphore_value(n.name) == 0 ? 0 : 1;
            }),
            0);
  EXPECT_EQ(semaphore_value(n.name), 0);
  EXPECT_TRUE(guard.owns_lock());
  guard.release();
  EXPECT_EQ(semaphore_value(n.name), 1);
}

TEST(SharedMemoryTest, AGuardIsReleasedOnlyByItsThread) {
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16);
  auto guard = shm.lock();
  int err = 0;
  std::thread([&] { err = errno_of([&] { guard.release(); }); }).join();
  EXPECT_EQ(err, EPERM);
  EXPECT_TRUE(guard.owns_lock());
  EXPECT_EQ(semaphore_value(n.name), 0);
  guard.release();
  EXPECT_EQ(semaphore_value(n.name), 1);
}

// ---- lifetimes ------------------------------------------------------------------------------

// Locking a temporary would leave the guard with a dead object: it does not compile.
template <class T>
concept lockable = requires(T&& shm) {
  std::forward<T>(shm).lock();
};
static_assert(lockable<shared_memory&>);
static_assert(lockable<const shared_memory&>);
static_assert(!lockable<shared_memory>);
static_assert(!lockable<shared_memory&&>);
static_assert(!lockable<const shared_memory&&>);

TEST(SharedMemoryTest, AGuardFollowsAMoveOfItsObject) {
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16);
  auto guard = shm.lock();
  shared_memory moved = std::move(shm);
  EXPECT_FALSE(shm);
  EXPECT_EQ(guard.write_at(0, bytes_of("moved")), 5u);
  guard.release();
  EXPECT_EQ(semaphore_value(n.name), 1);
  std::string seen(5, '\0');
  moved.read_at(0, std::as_writable_bytes(std::span(seen)));
  EXPECT_EQ(seen, "moved");
}

TEST(SharedMemoryTest, AGuardOutlivesItsObject) {
  shm_name n;
  std::optional<shared_memory::lock_guard> guard;
  {
    auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16);
    guard.emplace(shm.lock());
  }
  EXPECT_EQ(guard->write_at(0, bytes_of("kept")), 4u);
  EXPECT_EQ(semaphore_value(n.name), 0);
  guard.reset();
  EXPECT_EQ(semaphore_value(n.name), 1);
  auto again = shared_memory::open(n.name, O_RDONLY);
  std::string seen(4, '\0');
  again.read_at(0, std::as_writable_bytes(std::span(seen)));
  EXPECT_EQ(seen, "kept");
}

// An empty shared_memory: observers give empty values, every operation throws EBADF naming
// itself (the rule of every mmipc handle, error.hpp).
void expect_empty(shared_memory& shm) {
  EXPECT_FALSE(shm);
  EXPECT_EQ(shm.size(), 0u);
  EXPECT_EQ(shm.tell(), 0u);
  EXPECT_FALSE(shm.readable());
  EXPECT_FALSE(shm.writable());
  EXPECT_FALSE(shm.created());
  EXPECT_EQ(shm.name(), "");
  EXPECT_EQ(shm.native_handle(), -1);
  EXPECT_EQ(shm.owner_deaths(), 0u);
  EXPECT_EQ(shm.semaphore_takeovers(), 0u);
  EXPECT_EQ(shm.abandon_timeout(), 0ns);
  std::byte buffer[4];
  const auto in = bytes_of("data");
  const auto refused = [](auto&& call, const char* op) {
    try {
      call();
    } catch (const mmipc::os_error& e) {
      EXPECT_EQ(e.error_number(), EBADF) << op;
      EXPECT_EQ(e.op(), op);
      EXPECT_EQ(e.name(), "");
      return;
    }
    ADD_FAILURE() << op << " did not throw";
  };
  refused([&] { shm.read_at(0, buffer); }, "read_at");
  refused([&] { shm.write_at(0, in); }, "write_at");
  refused([&] { shm.read(buffer); }, "read");
  refused([&] { shm.write(in); }, "write");
  refused([&] { shm.seek(0); }, "seek");
  refused([&] { auto guard = shm.lock(); }, "lock");
  refused([&] { shm.set_abandon_timeout(1s); }, "set_abandon_timeout");
  shm.reset();
  EXPECT_FALSE(shm);
}

TEST(SharedMemoryTest, AMovedFromObjectIsEmpty) {
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16);
  shared_memory moved = std::move(shm);
  expect_empty(shm);
  shared_memory never_opened;
  expect_empty(never_opened);
  // Assignment makes it whole again.
  shm = shared_memory::open(n.name, O_RDWR);
  EXPECT_TRUE(shm);
  EXPECT_EQ(shm.write_at(0, bytes_of("back")), 4u);
  never_opened = std::move(moved);
  EXPECT_EQ(never_opened.size(), 16u);
  // reset() empties it; a guard keeps working on what it holds.
  auto guard = never_opened.lock();
  never_opened.reset();
  expect_empty(never_opened);
  EXPECT_EQ(guard.write_at(0, bytes_of("kept")), 4u);
}

TEST(SharedMemoryTest, AReleasedGuardRefusesAccess) {
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 16);
  auto guard = shm.lock();
  auto moved = std::move(guard);
  EXPECT_FALSE(guard.owns_lock());
  moved.release();
  moved.release();  // again: nothing to do
  std::byte buffer[4];
  for (const auto* g : {&guard, &moved}) {
    EXPECT_EQ(errno_of([&] { g->read_at(0, buffer); }), EBADF);
    EXPECT_EQ(errno_of([&] { g->write_at(0, bytes_of("x")); }), EBADF);
    EXPECT_EQ(errno_of([&] { g->bytes(); }), EBADF);
  }
  EXPECT_EQ(semaphore_value(n.name), 1);
}

}  // namespace
