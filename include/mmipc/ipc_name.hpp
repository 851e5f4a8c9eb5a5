#pragma once
// ipc_name: the rule for the names of POSIX IPC objects (message queues, shared memory
// objects, named semaphores), checked by every open() and unlink() of the library before the
// system sees the name, so that a bad name is refused with a reason instead of the system's
// bare errno.
//
//   try {
//     mmipc::validate_ipc_name("/jobs/today", mmipc::ipc_kind::message_queue);
//   } catch (const mmipc::invalid_name_error& e) {
//     // e.what(): invalid message queue name "/jobs/today": must start with "/" and contain
//     // no other "/"; e.error_number(): EACCES, what mq_open says to that name
//   }

#include <stdexcept>
#include <string>
#include <string_view>

namespace mmipc {

/// A name the system cannot take (see validate_ipc_name). error_number() is the errno the
/// system's own call gives for such a name, so a front end can also report it in the system's
/// words: for a queue, mq_open's (EINVAL without a leading "/", ENOENT for "/" alone, EACCES
/// for another "/" or for "." and "..", ENAMETOOLONG past 255 bytes); for shared memory and
/// semaphores, sem_open's EINVAL.
class invalid_name_error : public std::invalid_argument {
 public:
  invalid_name_error(const std::string& what, std::string_view name, int err)
      : std::invalid_argument(what), name_(name), error_number_(err) {}
  /// The name refused.
  const std::string& name() const noexcept { return name_; }
  /// The errno the system gives for this name.
  int error_number() const noexcept { return error_number_; }

 private:
  std::string name_;
  int error_number_;
};

/// What a name is given to.
enum class ipc_kind { message_queue, shared_memory, semaphore };

/// Checks a POSIX IPC name: "/" then 1 to 255 bytes (a queue) or 251 bytes (shared memory and
/// semaphores: the semaphore's "sem." prefix must fit in NAME_MAX too), none of them "/" or
/// NUL, and not "." or "..". Bytes, not characters: the name in the system's encoding.
/// Throws invalid_name_error.
void validate_ipc_name(std::string_view name, ipc_kind kind);

}  // namespace mmipc
