#include "mmipc/posix_map.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <stdexcept>

namespace {

using mmipc::access_mode;
using mmipc::decode_posix_map;

TEST(PosixMapTest, ProtectionBecomesAccess) {
  EXPECT_EQ(decode_posix_map(PROT_NONE, MAP_SHARED).options.access, access_mode::none);
  EXPECT_EQ(decode_posix_map(PROT_READ, MAP_SHARED).options.access, access_mode::read_only);
  EXPECT_EQ(decode_posix_map(PROT_WRITE, MAP_SHARED).options.access, access_mode::read_write);
  auto exec = decode_posix_map(PROT_EXEC, MAP_PRIVATE).options;
  EXPECT_EQ(exec.access, access_mode::read_only);
  EXPECT_TRUE(exec.executable);
}

TEST(PosixMapTest, FlagsBecomeOptions) {
  auto r = decode_posix_map(
      PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_NORESERVE | MAP_LOCKED);
  EXPECT_TRUE(r.anonymous);
  EXPECT_FALSE(r.options.shared);
  EXPECT_TRUE(r.options.populate);
  EXPECT_TRUE(r.options.noreserve);
  EXPECT_TRUE(r.options.locked);
  EXPECT_EQ(r.options.huge_page_size, 0u);
  EXPECT_TRUE(decode_posix_map(PROT_READ, MAP_SHARED | MAP_FILE).options.shared);
}

TEST(PosixMapTest, HugePageSizes) {
  EXPECT_EQ(decode_posix_map(PROT_READ, MAP_SHARED | MAP_HUGETLB).options.huge_page_size,
            std::size_t{2} << 20);
  EXPECT_EQ(
      decode_posix_map(PROT_READ, MAP_SHARED | MAP_HUGETLB | (30 << 26)).options.huge_page_size,
      std::size_t{1} << 30);
  EXPECT_THROW(decode_posix_map(PROT_READ, MAP_SHARED | (21 << 26)), std::invalid_argument);
}

TEST(PosixMapTest, RefusesWhatMmapWouldRefuse) {
  EXPECT_THROW(decode_posix_map(PROT_READ, 0), std::invalid_argument);
  EXPECT_THROW(decode_posix_map(PROT_READ, MAP_SHARED | MAP_PRIVATE), std::invalid_argument);
  EXPECT_THROW(decode_posix_map(PROT_READ, MAP_SHARED | MAP_FIXED), std::invalid_argument);
  EXPECT_THROW(decode_posix_map(0x100, MAP_SHARED), std::invalid_argument);
  EXPECT_THROW(decode_posix_map(-1, MAP_SHARED), std::invalid_argument);
  EXPECT_THROW(decode_posix_map(PROT_READ, -1), std::invalid_argument);
}

TEST(PosixMapTest, SyncFlagsBecomeSyncArguments) {
  using mmipc::decode_posix_sync;
  using mmipc::sync_mode;
  EXPECT_EQ(decode_posix_sync(MS_SYNC).mode, sync_mode::sync);
  EXPECT_EQ(decode_posix_sync(0).mode, sync_mode::sync);
  EXPECT_EQ(decode_posix_sync(MS_ASYNC).mode, sync_mode::async);
  EXPECT_FALSE(decode_posix_sync(MS_ASYNC).invalidate);
  EXPECT_TRUE(decode_posix_sync(MS_SYNC | MS_INVALIDATE).invalidate);
  EXPECT_THROW(decode_posix_sync(MS_SYNC | MS_ASYNC), std::invalid_argument);
  EXPECT_THROW(decode_posix_sync(0x100), std::invalid_argument);
  EXPECT_THROW(decode_posix_sync(-1), std::invalid_argument);
}

}  // namespace
