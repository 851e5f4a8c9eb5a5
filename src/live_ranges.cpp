#include "live_ranges.hpp"

#include <algorithm>

namespace mmipc::detail {

void live_ranges::add(const void* owner, const std::byte* first, std::size_t length) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.push_back({owner, reinterpret_cast<std::uintptr_t>(first), length});
}

void live_ranges::remove(const void* owner) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  std::erase_if(entries_, [owner](const entry& e) { return e.owner == owner; });
}

const void* live_ranges::find(std::uintptr_t address, std::size_t length,
                              void (*keep)(const void*)) const noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const entry& e : entries_) {
    // Overflow-free: address - first <= length of the entry - length.
    if (address >= e.first && length <= e.length && address - e.first <= e.length - length) {
      if (keep) keep(e.owner);
      return e.owner;
    }
  }
  return nullptr;
}

}  // namespace mmipc::detail
