#include "mmipc/guarded_copy.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "mmipc/error.hpp"
#include "mmipc/shared_memory.hpp"
#include "sigbus_util.hpp"
#include "stress_util.hpp"

namespace {

using mmipc::guarded_copy;
using mmipc::os_error;
using mmipc::testing::shrunk_mapping;

const std::size_t page = mmipc::mapping::page_size();

// Runs `copy` and returns the errno of the os_error it throws (0 if it does not throw).
template <class Copy>
int error_of(Copy&& copy) {
  try {
    copy();
  } catch (const os_error& e) {
    return e.error_number();
  }
  return 0;
}

TEST(GuardedCopyTest, CopiesLikeMemcpy) {
  std::string src = "the quick brown fox";
  std::string dst(src.size(), '.');
  guarded_copy(dst.data(), src.data(), src.size());
  EXPECT_EQ(dst, src);
  guarded_copy(nullptr, nullptr, 0);  // nothing to copy, nothing touched
}

TEST(GuardedCopyTest, ReadOfLostPageThrowsEfault) {
  shrunk_mapping m(4, 1);
  std::string out(100, '\0');
  try {
    guarded_copy(out.data(), m.page(2), out.size(), "read");
    FAIL() << "no error for a page past the end of the file";
  } catch (const os_error& e) {
    EXPECT_EQ(e.error_number(), EFAULT);
    EXPECT_EQ(e.op(), "read");
    EXPECT_NE(std::string(e.what()).find("the mapped file shrank under the mapping"),
              std::string::npos)
        << e.what();
  }
  // The process lives on, and the page that still exists is intact and usable.
  guarded_copy(out.data(), m.page(0), out.size(), "read");
  EXPECT_EQ(out, std::string(100, 'a'));
}

// name() is the mapped object, not a sentence, so what() names the file that shrank.
TEST(GuardedCopyTest, LostPagesErrorNamesTheObject) {
  shrunk_mapping m(2, 1);
  std::string out(10, '\0');
  const std::string file = m.file.path().native();
  for (bool prefix : {false, true}) {
    try {
      if (prefix) {
        mmipc::guarded_copy_prefix(out.data(), m.page(1), out.size(), "read", file);
      } else {
        guarded_copy(out.data(), m.page(1), out.size(), "read", file);
      }
      FAIL() << "no error for a lost page";
    } catch (const mmipc::lost_pages_error& e) {
      EXPECT_EQ(e.name(), file);
      EXPECT_STREQ(e.explanation(), "the mapped file shrank under the mapping");
      EXPECT_EQ(std::string(e.what()), "read " + file + ": " + std::strerror(EFAULT) +
                                           " (the mapped file shrank under the mapping)");
    }
  }
  // Unnamed, the message still says what happened.
  mmipc::lost_pages_error unnamed(EIO, "write");
  EXPECT_EQ(unnamed.name(), "");
  EXPECT_EQ(std::string(unnamed.what()), std::string("write: ") + std::strerror(EIO) +
                                             " (I/O error on the mapped file's storage)");
}

TEST(GuardedCopyTest, WriteToLostPageThrowsEfault) {
  shrunk_mapping m(3, 1);
  std::string in(64, 'Z');
  EXPECT_EQ(error_of([&] { guarded_copy(m.page(1), in.data(), in.size(), "write"); }), EFAULT);
  guarded_copy(m.page(0) + 10, in.data(), in.size(), "write");
  EXPECT_EQ(m.file.contents().substr(10, 64), in);
}

TEST(GuardedCopyTest, CopySpanningTheNewEndThrows) {
  shrunk_mapping m(2, 1);
  std::string out(2 * page, '\0');
  EXPECT_EQ(error_of([&] { guarded_copy(out.data(), m.page(0), out.size()); }), EFAULT);
}

TEST(GuardedCopyTest, PrefixCopyStopsAtTheFirstLostPage) {
  shrunk_mapping m(4, 2);
  std::string out(2 * page, '\0');  // from page 1 + 10 into page 3: all inside the mapping
  EXPECT_EQ(mmipc::guarded_copy_prefix(out.data(), m.page(1) + 10, out.size()), page - 10);
  EXPECT_EQ(out.substr(0, page - 10), std::string(page - 10, 'b'));
  EXPECT_EQ(mmipc::guarded_copy_prefix(out.data(), m.page(0), 2 * page), 2 * page);
  EXPECT_EQ(error_of([&] { mmipc::guarded_copy_prefix(out.data(), m.page(2), 5); }), EFAULT);
}

TEST(GuardedCopyTest, SurvivesThousandsOfFaultsInARow) {
  // Each recovery must unblock SIGBUS again: were it left blocked, the second fault would
  // kill the process.
  shrunk_mapping m(2, 1);
  char byte = 0;
  const int rounds = mmipc::testing::scaled(10000, 200000);
  for (int i = 0; i < rounds; ++i) {
    ASSERT_EQ(error_of([&] { guarded_copy(&byte, m.page(1) + i % page, 1); }), EFAULT);
    guarded_copy(&byte, m.page(0) + i % page, 1);
    ASSERT_EQ(byte, 'a');
  }
  mmipc::testing::report_figure("SIGBUS faults survived in a row", rounds);
}

TEST(GuardedCopyTest, ThreadsRecoverIndependently) {
  // Each thread has its own recovery point: faults in one never return into another.
  shrunk_mapping m(8, 4);
  std::atomic<int> faults{0};
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::string out(page, '\0');
      for (int i = 0; i < 2000; ++i) {
        const std::size_t kept = static_cast<std::size_t>((t + i) % 4);
        guarded_copy(out.data(), m.page(kept), page);
        if (out != std::string(page, static_cast<char>('a' + kept))) ++bad;
        if (error_of([&] { guarded_copy(out.data(), m.page(4 + kept), page); }) == EFAULT) {
          ++faults;
        } else {
          ++bad;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(faults.load(), 4 * 2000);
}

TEST(GuardedCopyTest, SurvivesAFileShrinkingAndGrowingDuringCopies) {
  // Another process cuts the file down to one page and grows it back, over and over, while
  // two threads copy pages out of the mapping: every copy either fails with EFAULT or
  // returns bytes the page held at some moment (its letter, or zeros once it grew back).
  const std::size_t pages = 8;
  shrunk_mapping m(pages, pages);
  const int cycles = mmipc::testing::scaled(2000, 50000);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    for (int i = 0; i < cycles; ++i) {
      if (::truncate(m.file.path().c_str(), static_cast<off_t>(page)) != 0 ||
          ::truncate(m.file.path().c_str(), static_cast<off_t>(pages * page)) != 0) {
        _exit(1);
      }
    }
    _exit(0);
  }
  std::atomic<bool> done{false};
  std::atomic<long> faults{0};
  std::atomic<long> copies{0};
  std::atomic<long> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      std::string out(page, '\0');
      for (std::size_t i = t; !done; ++i) {
        const std::size_t p = 1 + i % (pages - 1);
        if (error_of([&] { guarded_copy(out.data(), m.page(p), page); }) == EFAULT) {
          ++faults;
          continue;
        }
        ++copies;
        for (char ch : out) {
          if (ch != '\0' && ch != static_cast<char>('a' + p)) {
            ++bad;
            break;
          }
        }
      }
    });
  }
  const int status = mmipc::testing::reap(pid);
  done = true;
  for (auto& reader : readers) reader.join();
  ASSERT_EQ(status, 0);
  EXPECT_EQ(bad.load(), 0);
  mmipc::testing::report_figure("truncate/regrow cycles", cycles);
  mmipc::testing::report_figure("SIGBUS faults survived during them", faults.load());
  mmipc::testing::report_figure("page copies that succeeded", copies.load());
}

TEST(GuardedCopyTest, PagesComeBackWhenTheFileGrowsAgain) {
  shrunk_mapping m(2, 1);
  char byte = 0;
  EXPECT_EQ(error_of([&] { guarded_copy(&byte, m.page(1), 1); }), EFAULT);
  mmipc::testing::truncate_from_other_process(m.file.path(), static_cast<off_t>(2 * page));
  guarded_copy(&byte, m.page(1), 1);
  EXPECT_EQ(byte, '\0');  // the file grew back with zeros
}

TEST(GuardedCopyTest, SharedMemoryShrunkByAnotherProcessFailsWithEfault) {
  // A POSIX shared memory object is a file too: another process may ftruncate it.
  const std::string name = "/" + mmipc::testing::unique_name("mmipc-sigbus");
  struct cleanup {
    std::string name;
    ~cleanup() {
      ::shm_unlink(name.c_str());
      ::sem_unlink(name.c_str());
      ::shm_unlink(mmipc::shared_memory::lock_name(name).c_str());
    }
  } remove{name};
  auto shm = mmipc::shared_memory::open(name, O_RDWR | O_CREAT | O_EXCL, 0600, 3 * page);
  const std::string block(page, 'q');
  shm.write_at(0, mmipc::testing::bytes_of(block));
  ASSERT_EQ(mmipc::testing::in_child([&] {
              int fd = ::shm_open(name.c_str(), O_RDWR, 0);
              return fd >= 0 && ::ftruncate(fd, static_cast<off_t>(page)) == 0 ? 0 : 1;
            }),
            0);
  std::string out(page, '\0');
  EXPECT_EQ(error_of([&] { shm.read_at(2 * page, std::as_writable_bytes(std::span(out))); }),
            EFAULT);
  // A read running into the lost pages returns what exists.
  EXPECT_EQ(shm.read_at(page - 3, std::as_writable_bytes(std::span(out))), 3u);
  EXPECT_EQ(error_of([&] { shm.write_at(page + 1, mmipc::testing::bytes_of("x")); }), EFAULT);
  // The exclusion semaphore was released on the way out: the next operation does not hang.
  EXPECT_EQ(shm.read_at(0, std::as_writable_bytes(std::span(out))), page);
  EXPECT_EQ(out, block);
}

// A SIGBUS that is not a guarded copy's must do what it would have done without mmipc.
// These run in a fresh process each (threadsafe style re-executes the test binary), so
// the guard is installed exactly when the test says.
class GuardedCopyDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
  // A fault handler that returns without handling makes the access fault again forever:
  // end such a loop with SIGALRM, which fails the test instead of hanging it.
  static void limit_time() { ::alarm(20); }
};

// Under AddressSanitizer the previous handler is ASan's, which reports the fault and exits
// with a failure status instead of dying by the signal: that is the chained behaviour.
bool died_of_sigbus(int status) {
#if defined(__SANITIZE_ADDRESS__)
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) return true;
#endif
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS;
}

TEST_F(GuardedCopyDeathTest, FaultOutsideAGuardedCopyStillKills) {
  EXPECT_EXIT(
      {
        limit_time();
        shrunk_mapping m(2, 1);
        char byte = 0;
        try {
          guarded_copy(&byte, m.page(1), 1);  // installs the guard and survives
        } catch (const os_error&) {
        }
        std::filesystem::remove(m.file.path());  // the process dies: clean up first
        volatile std::byte* lost = m.page(1);
        byte = static_cast<char>(*lost);  // an unguarded access: must die
        std::_Exit(0);
      },
      died_of_sigbus, "");
}

TEST_F(GuardedCopyDeathTest, SentSigbusStillKills) {
  EXPECT_EXIT(
      {
        limit_time();
        mmipc::install_sigbus_guard();
        ::raise(SIGBUS);
        std::_Exit(0);
      },
      died_of_sigbus, "");
}

std::atomic<bool> guarded_fault_survived{false};

void exit_from_handler(int, siginfo_t* info, void*) {
  // 42: the fault that reached us is the unguarded one; 43: a guarded fault leaked to us.
  std::_Exit(guarded_fault_survived && info->si_code == BUS_ADRERR ? 42 : 43);
}

TEST_F(GuardedCopyDeathTest, ChainsToThePreviousSiginfoHandler) {
  EXPECT_EXIT(
      {
        limit_time();
        struct sigaction action {};
        action.sa_sigaction = exit_from_handler;
        action.sa_flags = SA_SIGINFO;
        sigemptyset(&action.sa_mask);
        ::sigaction(SIGBUS, &action, nullptr);
        mmipc::install_sigbus_guard();

        shrunk_mapping m(2, 1);
        char byte = 0;
        try {
          guarded_copy(&byte, m.page(1), 1);
        } catch (const os_error&) {
          guarded_fault_survived = true;
        }
        std::filesystem::remove(m.file.path());  // the process dies: clean up first
        volatile std::byte* lost = m.page(1);
        byte = static_cast<char>(*lost);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(42), "");
}

void exit_from_plain_handler(int sig) {
  std::_Exit(sig == SIGBUS ? 44 : 45);
}

TEST_F(GuardedCopyDeathTest, ChainsToThePreviousPlainHandler) {
  EXPECT_EXIT(
      {
        limit_time();
        ::signal(SIGBUS, exit_from_plain_handler);
        mmipc::install_sigbus_guard();
        ::raise(SIGBUS);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(44), "");
}

TEST_F(GuardedCopyDeathTest, KeepsAnIgnoredSentSigbusIgnored) {
  EXPECT_EXIT(
      {
        limit_time();
        ::signal(SIGBUS, SIG_IGN);
        mmipc::install_sigbus_guard();
        ::raise(SIGBUS);
        shrunk_mapping m(2, 1);
        std::filesystem::remove(m.file.path());  // _Exit skips the destructors
        char byte = 0;
        try {
          guarded_copy(&byte, m.page(1), 1);  // the guard still works
        } catch (const os_error&) {
          std::_Exit(7);
        }
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(7), "");
}

}  // namespace
