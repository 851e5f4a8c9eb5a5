#pragma once
// Retrying interrupted system calls: internal to the core (not installed).

#include <cerrno>

namespace mmipc {

/// Calls `call` again for as long as it fails with EINTR; returns its last result.
/// The one place where mmipc retries interrupted system calls.
template <class Call>
auto retry_on_eintr(Call&& call) -> decltype(call()) {
  for (;;) {
    auto result = call();
    if (!(result == -1 && errno == EINTR)) return result;
  }
}

}  // namespace mmipc
