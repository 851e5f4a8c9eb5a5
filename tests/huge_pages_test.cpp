#include "mmipc/huge_pages.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

namespace {

TEST(HugePagesTest, SmallBuffersAreLeftAlone) {
  std::vector<char> small(64 * 1024);
  EXPECT_FALSE(mmipc::prefer_huge_pages(small.data(), small.size()));
  EXPECT_FALSE(mmipc::prefer_huge_pages(nullptr, 64 * 1024 * 1024));
}

TEST(HugePagesTest, AdvisedBufferKeepsWhatIsWrittenAndAroundIt) {
  // A malloc'ed buffer, as a binding gets from Tcl or Perl: the advice must not disturb it or
  // the bytes on either side of the advised huge pages.
  const std::size_t size = 9 * 1024 * 1024 + 123;
  std::unique_ptr<char[]> buffer(new char[size]);
  std::memset(buffer.get(), 'x', size);
  mmipc::prefer_huge_pages(buffer.get(), size);  // a hint: the kernel may decline
  for (std::size_t i = 0; i < size; i += 4096) EXPECT_EQ(buffer[i], 'x') << i;
  EXPECT_EQ(buffer[size - 1], 'x');
  for (std::size_t i = 0; i < size; ++i) buffer[i] = static_cast<char>(i % 251);
  for (std::size_t i = 0; i < size; i += 997) ASSERT_EQ(buffer[i], static_cast<char>(i % 251));
}

TEST(HugePagesTest, LargeBufferIsAdvisedWhereTheKernelHasHugePages) {
  if (!std::filesystem::exists("/sys/kernel/mm/transparent_hugepage")) {
    GTEST_SKIP() << "no transparent huge pages in this kernel";
  }
  const std::size_t size = 16 * 1024 * 1024;
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_TRUE(mmipc::prefer_huge_pages(p, size));
  ::munmap(p, size);
}

}  // namespace
