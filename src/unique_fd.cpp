#include "mmipc/unique_fd.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "mmipc/error.hpp"
#include "retry.hpp"
#include "system_calls.hpp"

namespace mmipc {

unique_fd unique_fd::open(const std::filesystem::path& path, int flags, mode_t mode) {
  int fd = retry_on_eintr([&] { return detail::sys.open(path.c_str(), flags | O_CLOEXEC, mode); });
  if (fd < 0) throw_errno("open", path.native());
  return unique_fd(fd);
}

unique_fd unique_fd::dup() const {
  if (fd_ < 0) throw_os_error(EBADF, "dup");
  int fd = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) throw_errno("dup");
  return unique_fd(fd);
}

void unique_fd::reset(int fd) noexcept {
  // Never retry close(): on Linux the descriptor is released even when close reports EINTR.
  if (fd_ >= 0 && fd_ != fd) ::close(fd_);
  fd_ = fd;
}

}  // namespace mmipc
