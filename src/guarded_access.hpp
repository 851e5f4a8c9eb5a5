#pragma once
// guarded_access: the SIGBUS guard of guarded_copy (include/mmipc/guarded_copy.hpp) for code
// that works on mapped memory in place rather than copying it: atomics, a lock kept in a
// mapped file, a checksum over mapped bytes. A SIGBUS raised on the guarded range while the
// body runs becomes a lost_pages_error, worded like guarded_copy's.
//
//   detail::guarded_access(map.data(), map.size(), "append", path, [&] {
//     ... touch the mapping ...
//   });
//
// A fault leaves the body abruptly (siglongjmp), skipping the rest of it and the destructors
// of what it holds: while the body touches the guarded bytes, no object with a non-trivial
// destructor may be alive in it (or in what it calls), and whatever it leaves half-done
// (a lock it took) must be visible to the caller, which cleans up after the exception. An
// exception thrown by the body passes through unchanged. Guarded sections and copies nest.

#include <cstddef>
#include <memory>
#include <string_view>
#include <type_traits>

namespace mmipc::detail {

/// Runs `body(context)` with SIGBUS on [begin, begin + n) turned into lost_pages_error
/// (`op` the operation, `name` the mapped file or object, as for guarded_copy).
void guarded_call(const void* begin, std::size_t n, std::string_view op, std::string_view name,
                  void (*body)(void*), void* context);

/// Runs `body()` guarded like guarded_call (see the rules above).
template <class Body>
void guarded_access(const void* begin, std::size_t n, std::string_view op, std::string_view name,
                    Body&& body) {
  using body_type = std::remove_reference_t<Body>;
  guarded_call(
      begin, n, op, name, [](void* context) { (*static_cast<body_type*>(context))(); },
      const_cast<void*>(static_cast<const void*>(std::addressof(body))));
}

}  // namespace mmipc::detail
