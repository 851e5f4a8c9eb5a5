#pragma once
// live_ranges: a thread-safe registry of the address ranges a binding mapped, each with its
// owner, so that an address range a user hands back can be checked against them: it must
// lie inside one mapping that is still live (Sys::Mmap's hardwire()). Internal to mmipc.

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace mmipc::detail {

class live_ranges {
 public:
  /// Registers [first, first + length) for `owner` (may throw std::bad_alloc).
  void add(const void* owner, const std::byte* first, std::size_t length);
  /// Forgets every range of `owner`.
  void remove(const void* owner) noexcept;
  /// The owner of a registered range that holds all of [address, address + length), or
  /// nullptr. `keep`, when given, is called with that owner while the registry is still
  /// locked, so the caller can take a reference before a concurrent remove() lets it go.
  const void* find(std::uintptr_t address, std::size_t length,
                   void (*keep)(const void*) = nullptr) const noexcept;

 private:
  struct entry {
    const void* owner;
    std::uintptr_t first;
    std::size_t length;
  };
  mutable std::mutex mutex_;
  std::vector<entry> entries_;
};

}  // namespace mmipc::detail
