#pragma once
// Replacing one system call of the core (src/system_calls.hpp) for the length of a test.

#include "system_calls.hpp"

namespace mmipc::testing {

/// Puts `replacement` in the place of one entry of mmipc::detail::sys, and the old entry back
/// when it goes away:  replaced_call open_fails(&system_calls::open, fake_open);
template <class Fn>
class replaced_call {
 public:
  replaced_call(Fn detail::system_calls::*entry, Fn replacement)
      : entry_(entry), old_(detail::sys.*entry) {
    detail::sys.*entry_ = replacement;
  }
  replaced_call(const replaced_call&) = delete;
  replaced_call& operator=(const replaced_call&) = delete;
  ~replaced_call() { detail::sys.*entry_ = old_; }

 private:
  Fn detail::system_calls::*entry_;
  Fn old_;
};

}  // namespace mmipc::testing
