#include "mmipc/semaphore.hpp"

#include <fcntl.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "deadline.hpp"
#include "mmipc/error.hpp"
#include "mmipc/ipc_name.hpp"
#include "retry.hpp"

namespace mmipc {

named_semaphore::named_semaphore(named_semaphore&& other) noexcept
    : sem_(std::exchange(other.sem_, nullptr)), name_(std::exchange(other.name_, {})) {}

named_semaphore& named_semaphore::operator=(named_semaphore&& other) noexcept {
  if (this != &other) {
    reset();
    sem_ = std::exchange(other.sem_, nullptr);
    name_ = std::exchange(other.name_, {});
  }
  return *this;
}

void named_semaphore::reset() noexcept {
  if (sem_ != nullptr) ::sem_close(sem_);
  sem_ = nullptr;
  name_.clear();
}

sem_t* named_semaphore::handle(const char* op) const {
  if (sem_ == nullptr) throw_os_error(EBADF, op);
  return sem_;
}

named_semaphore named_semaphore::open(std::string_view name, int flags, mode_t permissions,
                                      unsigned initial) {
  validate_ipc_name(name, ipc_kind::semaphore);
  const std::string path(name);
  sem_t* sem = ::sem_open(path.c_str(), flags & (O_CREAT | O_EXCL), permissions, initial);
  if (sem == SEM_FAILED) throw_errno("sem_open", name);
  return named_semaphore(sem, path);
}

void named_semaphore::unlink(std::string_view name) {
  validate_ipc_name(name, ipc_kind::semaphore);
  const std::string path(name);
  if (::sem_unlink(path.c_str()) != 0) throw_errno("sem_unlink", name);
}

void named_semaphore::wait() const {
  sem_t* sem = handle("sem_wait");
  if (retry_on_eintr([&] { return ::sem_wait(sem); }) != 0) throw_errno("sem_wait", name_);
}

bool named_semaphore::try_wait() const {
  sem_t* sem = handle("sem_trywait");
  if (retry_on_eintr([&] { return ::sem_trywait(sem); }) == 0) return true;
  if (errno == EAGAIN) return false;
  throw_errno("sem_trywait", name_);
}

bool named_semaphore::wait_for_ns(std::chrono::nanoseconds timeout) const {
  sem_t* sem = handle("sem_clockwait");
  if (timeout == forever) {
    wait();
    return true;
  }
  // sem_clockwait on CLOCK_MONOTONIC: a change of the wall clock cannot stretch the wait.
  const timespec at = detail::deadline_after(CLOCK_MONOTONIC, timeout);
  if (retry_on_eintr([&] { return ::sem_clockwait(sem, CLOCK_MONOTONIC, &at); }) == 0) {
    return true;
  }
  if (errno == ETIMEDOUT) return false;
  throw_errno("sem_clockwait", name_);
}

void named_semaphore::post() const {
  if (::sem_post(handle("sem_post")) != 0) throw_errno("sem_post", name_);
}

int named_semaphore::value() const {
  int value = 0;
  if (::sem_getvalue(handle("sem_getvalue"), &value) != 0) throw_errno("sem_getvalue", name_);
  return value;
}

}  // namespace mmipc
