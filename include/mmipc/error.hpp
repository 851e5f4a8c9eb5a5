#pragma once
// The one error model of mmipc: a failed system call becomes an mmipc::os_error (a
// std::system_error carrying errno, the operation and the object it was applied to); a bad
// argument from the caller becomes a std::invalid_argument with a message that says what was
// wrong. Library code never aborts or exits: it runs inside someone else's interpreter.
//
//   try {
//     auto q = mmipc::message_queue::open("/jobs", O_RDONLY);
//   } catch (const mmipc::os_error& e) {
//     // e.error_number(): ENOENT; e.op(): "mq_open"; e.name(): "/jobs";
//     // e.what(): "mq_open /jobs: No such file or directory"
//   }
//
// Empty handles: every handle type (unique_fd, mapping, message_queue, named_semaphore and
// shared_memory) is empty when default-constructed or moved from. An empty handle accepts
// destruction, assignment, reset() and `explicit operator bool` (false), and its observers
// give empty values; any other operation throws os_error(EBADF) with op() naming the call and
// name() empty. Never a crash, and never a result that looks like success.

#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>

namespace mmipc {

/// A failed system call: errno (code()), the operation (op()) and the object's name (name()).
class os_error : public std::system_error {
 public:
  /// Builds the error; what() reads "<op> <name>: <strerror>" (name omitted when empty).
  os_error(int err, std::string_view op, std::string_view name = {});

  /// The failing operation, e.g. "mmap" or "mq_open".
  const std::string& op() const noexcept { return op_; }
  /// The file or object the operation was applied to; may be empty.
  const std::string& name() const noexcept { return name_; }
  /// errno of the failure.
  int error_number() const noexcept { return code().value(); }

 private:
  std::string op_;
  std::string name_;
};

/// An os_error that the core can explain beyond errno: why the system refused, in words a user
/// can act on. what() is os_error's followed by " (<explanation>)"; front ends that word the
/// error themselves show explanation() beside it (Tcl: in errorInfo).
class explained_error : public os_error {
 public:
  explained_error(int err, std::string_view op, std::string_view name, std::string explanation);
  /// The explanation alone.
  const std::string& explanation() const noexcept { return explanation_; }
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::string explanation_;
  std::string what_;
};

/// Throws os_error for `err`.
[[noreturn]] void throw_os_error(int err, std::string_view op, std::string_view name = {});

/// Throws os_error for the current errno.
[[noreturn]] inline void throw_errno(std::string_view op, std::string_view name = {}) {
  throw_os_error(errno, op, name);
}

}  // namespace mmipc
