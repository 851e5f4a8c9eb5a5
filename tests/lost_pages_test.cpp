// Lost pages told apart (src/lost_pages.hpp), the guarded section for in-place work on a
// mapping (src/guarded_access.hpp), and a full disk under every kind of mapping, on a small
// tmpfs mounted in a private mount namespace.

#include "lost_pages.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "guarded_access.hpp"
#include "mmipc/cursor.hpp"
#include "mmipc/guarded_copy.hpp"
#include "mmipc/mapping.hpp"
#include "mmipc/shared_memory.hpp"
#include "mmipc/unique_fd.hpp"
#include "sigbus_util.hpp"
#include "test_util.hpp"
#include "tmpfs_util.hpp"

namespace {

using mmipc::lost_pages_error;
using mmipc::detail::explain_lost_page;
using mmipc::detail::page_loss;
using mmipc::testing::shrunk_mapping;

const std::size_t page = mmipc::mapping::page_size();
const std::string no_space_text = "no space left on the device for a page of this sparse file";

// A read-write shared mapping of a new file of `size` bytes made by ftruncate: a sparse file,
// all holes.
struct sparse_mapping {
  explicit sparse_mapping(std::size_t size, const std::string& path) : path_(path) {
    mmipc::unique_fd fd = mmipc::unique_fd::open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) throw std::runtime_error("ftruncate");
    mmipc::map_options options;
    options.access = mmipc::access_mode::read_write;
    map = mmipc::mapping::map(fd.get(), 0, std::nullopt, options, path);
  }
  ~sparse_mapping() { ::unlink(path_.c_str()); }
  sparse_mapping(const sparse_mapping&) = delete;
  sparse_mapping& operator=(const sparse_mapping&) = delete;
  std::string path_;
  mmipc::mapping map;
};

TEST(LostPagesTest, APagePastTheEndIsAShrunkFile) {
  shrunk_mapping m(4, 1);
  EXPECT_EQ(explain_lost_page(m.page(2), BUS_ADRERR), page_loss::shrank);
  EXPECT_EQ(explain_lost_page(m.page(3) + 17, BUS_ADRERR), page_loss::shrank);
}

TEST(LostPagesTest, ABackedPageInsideTheFileIsAnIoError) {
  // The page exists and holds data, the filesystem has room: only the device can have
  // failed to read or write it.
  shrunk_mapping m(2, 2);
  EXPECT_EQ(explain_lost_page(m.page(1) + 5, BUS_ADRERR), page_loss::io_error);
}

TEST(LostPagesTest, AHoleOnAFilesystemWithRoomMayHaveComeBack) {
  mmipc::testing::temp_file file;
  std::filesystem::remove(file.path());
  sparse_mapping m(4 * page, file.path());
  EXPECT_EQ(explain_lost_page(m.map.data() + 2 * page, BUS_ADRERR), page_loss::came_back);
  // Once written, the page is data: a fault there would be the device's.
  std::memset(m.map.data() + 2 * page, 'x', page);
  EXPECT_EQ(explain_lost_page(m.map.data() + 2 * page, BUS_ADRERR), page_loss::io_error);
}

TEST(LostPagesTest, HardwareAndObjectErrorsAreIoErrors) {
  shrunk_mapping m(4, 1);
  EXPECT_EQ(explain_lost_page(m.page(2), BUS_OBJERR), page_loss::io_error);
  EXPECT_EQ(explain_lost_page(m.page(2), BUS_MCEERR_AR), page_loss::io_error);
}

TEST(LostPagesTest, WithoutAFileTheSignalCodeDecides) {
  mmipc::map_options private_memory;
  private_memory.shared = false;
  auto anonymous = mmipc::mapping::anonymous(page, private_memory);
  EXPECT_EQ(explain_lost_page(anonymous.data(), BUS_ADRERR), page_loss::shrank);
  char on_stack = 0;
  EXPECT_EQ(explain_lost_page(&on_stack, BUS_ADRERR), page_loss::shrank);
}

TEST(LostPagesTest, ADeletedFileIsFoundThroughADescriptorOfThisProcess) {
  // The path in /proc/self/maps is gone; the open descriptor still names the file, so a
  // backed page inside it is told apart from a shrunk file (which the fallback would say).
  mmipc::testing::temp_file file(std::string(2 * page, 'd'));
  mmipc::unique_fd fd = mmipc::unique_fd::open(file.path(), O_RDWR);
  mmipc::map_options options;
  options.access = mmipc::access_mode::read_write;
  auto map = mmipc::mapping::map(fd.get(), 0, std::nullopt, options);
  std::filesystem::remove(file.path());
  EXPECT_EQ(explain_lost_page(map.data() + page, BUS_ADRERR), page_loss::io_error);
  ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(page)), 0);
  EXPECT_EQ(explain_lost_page(map.data() + page, BUS_ADRERR), page_loss::shrank);
}

TEST(LostPagesTest, EachCaseIsWordedOnce) {
  auto caught = [](page_loss loss) -> std::pair<int, std::string> {
    try {
      mmipc::detail::throw_lost_page(loss, "write", "/some/file");
    } catch (const lost_pages_error& e) {
      EXPECT_EQ(e.op(), "write");
      EXPECT_EQ(e.name(), "/some/file");
      EXPECT_NE(std::string(e.what()).find(e.explanation()), std::string::npos);
      return {e.error_number(), e.what()};
    }
    return {0, ""};
  };
  auto [shrank, shrank_text] = caught(page_loss::shrank);
  EXPECT_EQ(shrank, EFAULT);
  EXPECT_NE(shrank_text.find("the mapped file shrank under the mapping"), std::string::npos);
  auto [full, full_text] = caught(page_loss::no_space);
  EXPECT_EQ(full, ENOSPC);
  EXPECT_NE(full_text.find(no_space_text), std::string::npos) << full_text;
  EXPECT_EQ(caught(page_loss::came_back).first, ENOSPC);
  auto [io, io_text] = caught(page_loss::io_error);
  EXPECT_EQ(io, EIO);
  EXPECT_NE(io_text.find("I/O error on the mapped file's storage"), std::string::npos);
  // The words bindings show (explanation()) are the same.
  EXPECT_STREQ(lost_pages_error(ENOSPC, "write").explanation(), no_space_text.c_str());
}

TEST(GuardedAccessTest, AFaultInTheSectionBecomesLostPagesError) {
  shrunk_mapping m(4, 1);
  try {
    mmipc::detail::guarded_access(m.map.data(), m.map.size(), "append", "the log", [&] {
      *m.page(0) = std::byte{'A'};  // fine: the page exists
      *m.page(2) = std::byte{'B'};  // lost
    });
    FAIL() << "no error for a lost page";
  } catch (const lost_pages_error& e) {
    EXPECT_EQ(e.error_number(), EFAULT);
    EXPECT_EQ(e.op(), "append");
  }
  EXPECT_EQ(*m.page(0), std::byte{'A'});
}

TEST(GuardedAccessTest, ExceptionsPassThroughAndLeaveNoRecoveryPointBehind) {
  shrunk_mapping m(4, 1);
  EXPECT_THROW(mmipc::detail::guarded_access(m.map.data(), m.map.size(), "x", "",
                                             [] { throw std::runtime_error("mine"); }),
               std::runtime_error);
  // The next guarded operations recover as usual.
  char byte = 0;
  EXPECT_THROW(mmipc::guarded_copy(&byte, m.page(3), 1), lost_pages_error);
  EXPECT_THROW(mmipc::detail::guarded_access(m.map.data(), m.map.size(), "y", "",
                                             [&] { byte = static_cast<char>(*m.page(3)); }),
               lost_pages_error);
}

TEST(GuardedAccessTest, AnOuterSectionCatchesWhatAnInnerOneDoesNotCover) {
  shrunk_mapping m(4, 1);
  std::string where;
  try {
    mmipc::detail::guarded_access(m.map.data(), m.map.size(), "outer", "", [&] {
      try {
        // The inner section covers page 0 only; the fault on page 2 is the outer one's.
        mmipc::detail::guarded_access(m.page(0), page, "inner", "",
                                      [&] { *m.page(2) = std::byte{'x'}; });
      } catch (...) {
        where = "inner";  // never: the inner section is left by the outer one's recovery
        throw;
      }
    });
  } catch (const lost_pages_error& e) {
    where = e.op();
  }
  EXPECT_EQ(where, "outer");
  // And a copy inside a section still reports its own fault.
  try {
    mmipc::detail::guarded_access(m.map.data(), m.map.size(), "outer", "", [&] {
      char byte;
      mmipc::guarded_copy(&byte, m.page(3), 1, "inner copy");
    });
  } catch (const lost_pages_error& e) {
    where = e.op();
  }
  EXPECT_EQ(where, "inner copy");
}

class GuardedAccessDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// Under AddressSanitizer the previous handler is ASan's, which reports the fault and exits
// with a failure status instead of dying by the signal: that is the chained behaviour.
bool died_of_sigbus(int status) {
#if defined(__SANITIZE_ADDRESS__)
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) return true;
#endif
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS;
}

TEST_F(GuardedAccessDeathTest, AFaultAfterTheSectionEndedStillKills) {
  EXPECT_EXIT(
      {
        ::alarm(20);  // a fault handled wrongly would loop: fail instead of hanging
        shrunk_mapping m(4, 1);
        try {
          mmipc::detail::guarded_access(m.map.data(), m.map.size(), "x", "",
                                        [] { throw std::runtime_error("leave early"); });
        } catch (const std::runtime_error&) {
        }
        mmipc::detail::guarded_access(m.map.data(), m.map.size(), "y", "", [] {});
        std::filesystem::remove(m.file.path());  // the process dies: clean up first
        *static_cast<volatile std::byte*>(m.page(2)) = std::byte{1};  // unguarded
        std::_Exit(0);
      },
      died_of_sigbus, "");
}

// A full disk, as the README's cyclic log meets it: a sparse file (ftruncate), mapped
// shared, written page after page on a filesystem that has no room for all of them.
TEST(FullDiskTest, WritingASparseFileOnAFullFilesystemSaysNoSpace) {
  const auto outcome = mmipc::testing::on_small_tmpfs({"/tmp"}, 16 * page, [&]() -> std::string {
    sparse_mapping m(64 * page, "/tmp/sparse-log");
    const std::string block(page, 'L');
    mmipc::cursor writer(m.map);
    std::size_t written = 0;
    try {
      for (; written < 64; ++written) writer.write(mmipc::testing::bytes_of(block));
      return "64 pages written on a 16-page tmpfs";
    } catch (const lost_pages_error& e) {
      if (e.error_number() != ENOSPC) return std::string("expected ENOSPC: ") + e.what();
      if (std::string(e.what()).find(no_space_text) == std::string::npos) {
        return std::string("unexpected wording: ") + e.what();
      }
    }
    if (written == 0 || written > 16) return "failed after " + std::to_string(written) + " pages";
    // The pages written are intact, and a plain guarded copy says the same.
    std::string back(page, '\0');
    mmipc::guarded_copy(back.data(), m.map.data(), page);
    if (back != block) return "page 0 lost its bytes";
    try {
      mmipc::guarded_copy(m.map.data() + 40 * page, block.data(), page, "write");
      return "a write to a hole succeeded on a full tmpfs";
    } catch (const lost_pages_error& e) {
      if (e.error_number() != ENOSPC) return std::string("copy: expected ENOSPC: ") + e.what();
    }
    // On the same full filesystem, a page past a shrunk end is still a shrunk file.
    if (::truncate("/tmp/sparse-log", static_cast<off_t>(page)) != 0) return "truncate failed";
    try {
      mmipc::guarded_copy(back.data(), m.map.data() + 8 * page, page, "read");
      return "a read past the end succeeded";
    } catch (const lost_pages_error& e) {
      if (e.error_number() != EFAULT) return std::string("expected EFAULT: ") + e.what();
    }
    return "";
  });
  if (outcome.skipped) GTEST_SKIP() << outcome.message;
  EXPECT_EQ(outcome.message, "");
}

TEST(FullDiskTest, SharedMemoryOnAFullDevShmSaysNoSpace) {
  const auto outcome =
      mmipc::testing::on_small_tmpfs({"/dev/shm"}, 16 * page, [&]() -> std::string {
        const std::string name = "/" + mmipc::testing::unique_name("mmipc-full");
        auto shm = mmipc::shared_memory::open(name, O_RDWR | O_CREAT | O_EXCL, 0600, 64 * page);
        const std::string block(page, 'S');
        std::string failure = "64 pages written on a 16-page /dev/shm";
        for (std::size_t i = 0; i < 64; ++i) {
          try {
            shm.write_at(i * page, mmipc::testing::bytes_of(block));
          } catch (const lost_pages_error& e) {
            failure = e.error_number() == ENOSPC &&
                              std::string(e.what()).find(no_space_text) != std::string::npos
                          ? ""
                          : std::string("unexpected error: ") + e.what();
            break;
          }
        }
        mmipc::shared_memory::unlink(name);
        return failure;
      });
  if (outcome.skipped) GTEST_SKIP() << outcome.message;
  EXPECT_EQ(outcome.message, "");
}

}  // namespace
