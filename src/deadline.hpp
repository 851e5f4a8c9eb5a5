#pragma once
// Absolute deadlines for the timed waits (mq_timedsend, sem_clockwait, ...): computed once,
// so retrying after EINTR does not extend the wait.

#include <time.h>

#include <algorithm>
#include <chrono>

#include "mmipc/timeout.hpp"

namespace mmipc::detail {

/// The time on `clock` that is `timeout` from now (a negative timeout counts as zero). Any
/// duration is converted by to_timeout(), which saturates: a timeout in milliseconds too long
/// for nanoseconds must not overflow into a deadline already past. Even
/// std::chrono::nanoseconds::max() (292 years) cannot overflow a 64-bit time_t.
template <class Rep, class Period>
timespec deadline_after(clockid_t clock, std::chrono::duration<Rep, Period> timeout) {
  timespec at{};
  ::clock_gettime(clock, &at);
  const auto ns = std::max<std::chrono::nanoseconds::rep>(to_timeout(timeout).count(), 0);
  at.tv_sec += static_cast<time_t>(ns / 1000000000);
  at.tv_nsec += static_cast<long>(ns % 1000000000);
  if (at.tv_nsec >= 1000000000L) {
    at.tv_sec += 1;
    at.tv_nsec -= 1000000000L;
  }
  return at;
}

}  // namespace mmipc::detail
