#pragma once
// Timeouts: every timed wait of mmipc (semaphores, queues, robust mutexes, ring log readers)
// takes any std::chrono::duration and converts it here, once. The conversion saturates, so
// `std::chrono::hours::max()` means "forever" instead of overflowing into "already expired",
// and a negative timeout means "do not wait".
//
//   sem.wait_for(std::chrono::seconds(2));
//   mutex.try_lock_for(mmipc::forever);          // the same as lock()

#include <chrono>
#include <cstdint>

namespace mmipc {

/// The longest wait; a timeout this long (or longer) waits forever.
inline constexpr std::chrono::nanoseconds forever = std::chrono::nanoseconds::max();

/// `timeout` in nanoseconds: negative becomes zero, too long to represent becomes `forever`.
template <class Rep, class Period>
constexpr std::chrono::nanoseconds to_timeout(std::chrono::duration<Rep, Period> timeout) noexcept {
  // Compared in long double nanoseconds: exact enough at both ends, and no integer overflow
  // whatever the caller's representation (hours::max(), picoseconds, floating seconds).
  const std::chrono::duration<long double, std::nano> wide = timeout;
  if (!(wide.count() > 0)) return std::chrono::nanoseconds::zero();
  if (wide.count() >= static_cast<long double>(forever.count())) return forever;
  return std::chrono::nanoseconds(static_cast<std::int64_t>(wide.count()));
}

}  // namespace mmipc
