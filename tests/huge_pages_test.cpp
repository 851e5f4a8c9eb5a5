#include "mmipc/huge_pages.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace {

TEST(HugePagesTest, SmallBuffersAreLeftAlone) {
  std::vector<char> small(64 * 1024);
  EXPECT_FALSE(mmipc::prefault_buffer(small.data(), small.size()));
  EXPECT_FALSE(mmipc::prefault_buffer(nullptr, 64 * 1024 * 1024));
}

TEST(HugePagesTest, PreparedBufferKeepsWhatIsWrittenAndAroundIt) {
  // A buffer from new[], as a binding gets from Tcl or Perl: preparing it must not disturb it
  // or the bytes on either side of the pages it touches (populating never zeroes a page that
  // is already there).
  const std::size_t size = 9 * 1024 * 1024 + 123;
  std::unique_ptr<char[]> buffer(new char[size]);
  std::memset(buffer.get(), 'x', size);
  mmipc::prefault_buffer(buffer.get(), size);
  for (std::size_t i = 0; i < size; i += 4096) ASSERT_EQ(buffer[i], 'x') << i;
  EXPECT_EQ(buffer[size - 1], 'x');
  for (std::size_t i = 0; i < size; ++i) buffer[i] = static_cast<char>(i % 251);
  for (std::size_t i = 0; i < size; i += 997) ASSERT_EQ(buffer[i], static_cast<char>(i % 251));
}

TEST(HugePagesTest, FreshMemoryIsPopulatedOnLinux514AndLater) {
  utsname u{};
  ASSERT_EQ(::uname(&u), 0);
  int major = 0;
  int minor = 0;
  std::sscanf(u.release, "%d.%d", &major, &minor);
  if (major < 5 || (major == 5 && minor < 14)) GTEST_SKIP() << "no MADV_POPULATE_WRITE";
  const std::size_t size = 16 * 1024 * 1024;
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_TRUE(mmipc::prefault_buffer(p, size));
  // Every page is now resident.
  std::vector<unsigned char> resident(size / 4096);
  ASSERT_EQ(::mincore(p, size, resident.data()), 0);
  for (std::size_t i = 0; i < resident.size(); ++i) ASSERT_TRUE(resident[i] & 1) << i;
  ::munmap(p, size);
}

}  // namespace
