#include "live_ranges.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace {

using mmipc::detail::live_ranges;

std::uintptr_t at(const std::byte* p) {
  return reinterpret_cast<std::uintptr_t>(p);
}

TEST(LiveRangesTest, FindsRangesInsideARegisteredOne) {
  std::byte memory[100]{};
  int owner = 0;
  live_ranges ranges;
  ranges.add(&owner, memory, 100);
  EXPECT_EQ(ranges.find(at(memory), 100), &owner);
  EXPECT_EQ(ranges.find(at(memory) + 10, 90), &owner);
  EXPECT_EQ(ranges.find(at(memory) + 100, 0), &owner);
  EXPECT_EQ(ranges.find(at(memory) + 10, 91), nullptr);
  EXPECT_EQ(ranges.find(at(memory) - 1, 2), nullptr);
  EXPECT_EQ(ranges.find(at(memory) + 1, SIZE_MAX), nullptr);
  EXPECT_EQ(ranges.find(UINTPTR_MAX, 1), nullptr);
}

TEST(LiveRangesTest, RemoveForgetsTheOwner) {
  std::byte a[10]{}, b[10]{};
  int first = 0, second = 0;
  live_ranges ranges;
  ranges.add(&first, a, 10);
  ranges.add(&second, b, 10);
  ranges.remove(&first);
  EXPECT_EQ(ranges.find(at(a), 1), nullptr);
  EXPECT_EQ(ranges.find(at(b), 1), &second);
}

int kept = 0;
void keep(const void*) {
  ++kept;
}

TEST(LiveRangesTest, KeepIsCalledForAFoundOwner) {
  std::byte a[10]{};
  int owner = 0;
  live_ranges ranges;
  ranges.add(&owner, a, 10);
  kept = 0;
  ranges.find(at(a), 5, keep);
  ranges.find(at(a) + 20, 5, keep);
  EXPECT_EQ(kept, 1);
}

}  // namespace
