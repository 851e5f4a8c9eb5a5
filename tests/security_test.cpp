// Security rules of the core, seen from outside:
// - names are validated before any system call (checked under a seccomp filter that makes
//   every call that could reach the object fail with a marker errno);
// - objects get exactly the permissions asked for, filtered by the umask (read back with
//   fstat on the object itself);
// - exclusive creation is O_EXCL: an existing object is refused and kept intact;
// - a symbolic link planted where an object or its semaphore would be is never followed.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <mqueue.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "mmipc/error.hpp"
#include "mmipc/message_queue.hpp"
#include "mmipc/semaphore.hpp"
#include "mmipc/shared_memory.hpp"
#include "stress_util.hpp"
#include "test_util.hpp"

namespace {

using mmipc::message_queue;
using mmipc::named_semaphore;
using mmipc::shared_memory;

struct names {
  std::string name = "/" + mmipc::testing::unique_name("mmipc-sec");
  ~names() {
    ::mq_unlink(name.c_str());
    ::shm_unlink(name.c_str());
    ::sem_unlink(name.c_str());
    ::shm_unlink(shared_memory::lock_name(name).c_str());
  }
};

constexpr int marker = ENOTRECOVERABLE;  // what the filtered system calls fail with

// From now on, in this process, every system call that could open, create or remove a
// queue, a shared memory object or a semaphore fails with `marker`.
bool forbid_object_system_calls() {
#if defined(__x86_64__)
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mq_open, 6, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mq_unlink, 5, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_open, 4, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 3, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unlink, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unlinkat, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (marker & SECCOMP_RET_DATA)),
  };
  struct sock_fprog program = {static_cast<unsigned short>(std::size(filter)), filter};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
#else
  return false;
#endif
}

// 0 when `call` throws std::invalid_argument (refused before any system call), 1 when it
// throws os_error with the marker (it reached the kernel), 2 otherwise.
template <class Call>
int outcome(Call&& call) {
  try {
    call();
  } catch (const mmipc::os_error& e) {
    return e.error_number() == marker ? 1 : 2;
  } catch (const std::invalid_argument&) {
    return 0;
  } catch (...) {
  }
  return 2;
}

TEST(SecurityTest, NamesAreValidatedBeforeAnySystemCall) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "the seccomp filter is written for x86-64";
#endif
  const std::vector<std::string> bad = {"",
                                        "noslash",
                                        "/two/slashes",
                                        "/",
                                        "/.",
                                        "/..",
                                        "//x",
                                        "/a/",
                                        "/" + std::string(300, 'x'),
                                        std::string("/nul\0inside", 11)};
  const int status = mmipc::testing::in_child([&] {
    if (!forbid_object_system_calls()) return 10;
    int code = 0;
    for (const std::string& name : bad) {
      const int results[] = {
          outcome([&] { message_queue::open(name, O_RDWR | O_CREAT, 0600); }),
          outcome([&] { message_queue::unlink(name); }),
          outcome([&] { shared_memory::open(name, O_RDWR | O_CREAT, 0600, 16); }),
          outcome([&] { shared_memory::unlink(name); }),
          outcome([&] { named_semaphore::open(name, O_RDWR | O_CREAT, 0600, 1); }),
          outcome([&] { named_semaphore::unlink(name); }),
      };
      for (int r : results) code |= r == 0 ? 0 : 1;
    }
    // The control: a valid name does reach the (filtered) system calls.
    const std::string good = "/mmipc-sec-control";
    if (outcome([&] { message_queue::open(good, O_RDWR | O_CREAT, 0600); }) != 1 ||
        outcome([&] { shared_memory::open(good, O_RDWR | O_CREAT, 0600, 16); }) != 1 ||
        outcome([&] { named_semaphore::open(good, O_RDWR | O_CREAT, 0600, 1); }) != 1) {
      code |= 2;
    }
    return code;
  });
  EXPECT_EQ(status, 0) << "1: a bad name reached a system call; 2: the filter is blind; "
                          "10: seccomp unavailable";
}

mode_t mode_of(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return static_cast<mode_t>(-1);
  return st.st_mode & 07777;
}

TEST(SecurityTest, PermissionsAreExactlyThoseAskedForFilteredByTheUmask) {
  const mode_t umasks[] = {0, 022, 027, 077};
  const mode_t modes[] = {0600, 0640, 0644, 0660, 0666, 0400};
  int checked = 0;
  for (mode_t umask : umasks) {
    for (mode_t mode : modes) {
      SCOPED_TRACE("umask " + std::to_string(umask) + " mode " + std::to_string(mode));
      names n;
      const mode_t old = ::umask(umask);
      auto queue =
          message_queue::open(n.name, O_RDWR | O_CREAT | O_EXCL, mode, mmipc::mq_capacity{1, 16});
      auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT | O_EXCL, mode, 16);
      ::umask(old);
      EXPECT_EQ(mode_of(queue.native_handle()), mode & ~umask);
      EXPECT_EQ(mode_of(shm.native_handle()), mode & ~umask);
      // The semaphore and the lock object that guard the object get the same permissions.
      struct stat st {};
      ASSERT_EQ(::stat(("/dev/shm/sem." + n.name.substr(1)).c_str(), &st), 0);
      EXPECT_EQ(st.st_mode & 07777, mode & ~umask);
      ASSERT_EQ(::stat(("/dev/shm" + shared_memory::lock_name(n.name)).c_str(), &st), 0);
      EXPECT_EQ(st.st_mode & 07777, mode & ~umask);
      checked += 4;
    }
  }
  mmipc::testing::report_figure("object modes read back", checked);
}

TEST(SecurityTest, ExclusiveCreationRefusesAndKeepsAnExistingObject) {
  names n;
  auto first = shared_memory::open(n.name, O_RDWR | O_CREAT | O_EXCL, 0600, 16);
  first.write_at(0, mmipc::testing::bytes_of("kept"));
  EXPECT_EQ(mmipc::testing::errno_of(
                [&] { shared_memory::open(n.name, O_RDWR | O_CREAT | O_EXCL, 0600, 16); }),
            EEXIST);
  auto queue =
      message_queue::open(n.name, O_RDWR | O_CREAT | O_EXCL, 0600, mmipc::mq_capacity{1, 16});
  EXPECT_EQ(mmipc::testing::errno_of(
                [&] { message_queue::open(n.name, O_RDWR | O_CREAT | O_EXCL, 0600); }),
            EEXIST);
  std::string seen(4, '\0');
  auto again = shared_memory::open(n.name, O_RDONLY);
  again.read_at(0, std::as_writable_bytes(std::span(seen)));
  EXPECT_EQ(seen, "kept");
}

// A file another user might want to damage, which a planted link points at.
struct target_file {
  mmipc::testing::temp_file file{"precious"};
  bool intact() const { return file.contents() == "precious"; }
};

TEST(SecurityTest, LinkPlantedAtTheObjectNameIsNotFollowed) {
  names n;
  target_file target;
  const std::string link = "/dev/shm" + n.name;
  ASSERT_EQ(::symlink(target.file.path().c_str(), link.c_str()), 0);
  EXPECT_NE(
      mmipc::testing::errno_of([&] { shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 4096); }),
      0);
  EXPECT_NE(mmipc::testing::errno_of([&] { shared_memory::open(n.name, O_RDWR); }), 0);
  EXPECT_TRUE(target.intact());
  EXPECT_TRUE(std::filesystem::is_symlink(link));  // not replaced either
}

TEST(SecurityTest, LinkPlantedAtTheSemaphoreNameIsNotFollowed) {
  names n;
  target_file target;
  const std::string link = "/dev/shm/sem." + n.name.substr(1);
  ASSERT_EQ(::symlink(target.file.path().c_str(), link.c_str()), 0);
  EXPECT_NE(
      mmipc::testing::errno_of([&] { shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, 4096); }),
      0);
  EXPECT_TRUE(target.intact());
  // The failed open removed the object and the lock object it had created, and nothing else.
  EXPECT_FALSE(std::filesystem::exists("/dev/shm" + n.name));
  EXPECT_FALSE(std::filesystem::exists("/dev/shm" + shared_memory::lock_name(n.name)));
  EXPECT_TRUE(std::filesystem::is_symlink(link));
}

}  // namespace
