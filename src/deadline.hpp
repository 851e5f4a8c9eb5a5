#pragma once
// Absolute deadlines for the timed waits (mq_timedsend, sem_clockwait, ...): computed once,
// so retrying after EINTR does not extend the wait.

#include <time.h>

#include <algorithm>
#include <chrono>

namespace mmipc::detail {

/// The time on `clock` that is `timeout` from now (a negative timeout counts as zero).
inline timespec deadline_after(clockid_t clock, std::chrono::milliseconds timeout) {
  timespec at{};
  ::clock_gettime(clock, &at);
  const auto ms = std::max<std::chrono::milliseconds::rep>(timeout.count(), 0);
  at.tv_sec += static_cast<time_t>(ms / 1000);
  at.tv_nsec += static_cast<long>(ms % 1000) * 1000000L;
  if (at.tv_nsec >= 1000000000L) {
    at.tv_sec += 1;
    at.tv_nsec -= 1000000000L;
  }
  return at;
}

}  // namespace mmipc::detail
