#include "mmipc/ipc_name.hpp"

#include <cerrno>
#include <string>

namespace mmipc {

void validate_ipc_name(std::string_view name, ipc_kind kind) {
  const bool queue = kind == ipc_kind::message_queue;
  std::string what = queue                             ? "message queue"
                     : kind == ipc_kind::shared_memory ? "shared memory"
                                                       : "semaphore";
  // The errno the system gives for each fault: mq_open's for a queue (measured on Linux 6),
  // sem_open's EINVAL for the others (the semaphore is what posixipc opens first).
  auto refuse = [&](const std::string& message, int queue_errno) {
    throw invalid_name_error(message, name, queue ? queue_errno : EINVAL);
  };
  // Checked first: a NUL would cut the message short, so the name is not quoted then.
  if (name.find('\0') != std::string_view::npos) {
    refuse("invalid " + what + " name: contains a NUL character", EINVAL);
  }
  std::string prefix = "invalid " + what + " name " + "\"" + std::string(name) + "\"" + ": ";
  if (name.empty() || name.front() != '/') {
    refuse(prefix + "must start with \"/\" and contain no other \"/\"", EINVAL);
  }
  if (name.find('/', 1) != std::string_view::npos) {
    refuse(prefix + "must start with \"/\" and contain no other \"/\"", EACCES);
  }
  std::string_view rest = name.substr(1);
  if (rest.empty()) refuse(prefix + "needs a name after the \"/\"", ENOENT);
  if (rest == "." || rest == "..") refuse(prefix + "needs a name after the \"/\"", EACCES);
  // Queues live directly under NAME_MAX; shm objects and their semaphores ("sem." + name)
  // share a tighter bound so an object and its semaphore always fit. The system counts bytes.
  const std::size_t max = queue ? 255 : 251;
  if (rest.size() > max) {
    refuse(prefix + "longer than " + std::to_string(max) + " bytes after the \"/\"", ENAMETOOLONG);
  }
}

}  // namespace mmipc
