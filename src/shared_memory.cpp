#include "mmipc/shared_memory.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "mmipc/error.hpp"
#include "mmipc/guarded_copy.hpp"
#include "mmipc/ipc_args.hpp"
#include "retry.hpp"

namespace mmipc {
namespace {

constexpr const char* size_message = "shared memory size must be positive";

// Opens the object, creating it when asked; reports whether this call created it. Creation is
// tried with O_EXCL first so "created" is exact even when others race to create it too.
unique_fd open_object(const std::string& name, int flags, mode_t permissions, bool& created) {
  const int access = (flags & O_ACCMODE) == O_RDONLY ? O_RDONLY : O_RDWR;
  for (;;) {
    if (flags & O_CREAT) {
      // The creator opens read-write whatever was asked, so it can give the object its size.
      int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, permissions);
      if (fd >= 0) {
        created = true;
        return unique_fd(fd);
      }
      if (errno != EEXIST || (flags & O_EXCL)) throw_errno("shm_open", name);
    }
    int fd = ::shm_open(name.c_str(), access, 0);
    if (fd >= 0) return unique_fd(fd);
    // Removed between the two calls: try creating again.
    if (errno == ENOENT && (flags & O_CREAT)) continue;
    throw_errno("shm_open", name);
  }
}

named_semaphore open_semaphore(const std::string& name, mode_t permissions, bool& created) {
  for (;;) {
    try {
      named_semaphore sem = named_semaphore::open(name, O_CREAT | O_EXCL, permissions, 1);
      created = true;
      return sem;
    } catch (const os_error& e) {
      if (e.error_number() != EEXIST) throw;
    }
    try {
      return named_semaphore::open(name, 0);
    } catch (const os_error& e) {
      if (e.error_number() != ENOENT) throw;
    }
  }
}

}  // namespace

shared_memory shared_memory::open(std::string_view name, int flags, mode_t permissions,
                                  std::optional<std::uint64_t> size) {
  validate_ipc_name(name, ipc_kind::shared_memory);
  shared_memory shm;
  shm.name_ = std::string(name);
  const int mode = flags & O_ACCMODE;
  shm.readable_ = mode == O_RDONLY || mode == O_RDWR;
  shm.writable_ = mode == O_WRONLY || mode == O_RDWR;

  bool sem_created = false;
  // Undoes only what this call created when a later step fails.
  struct rollback {
    const std::string& name;
    bool& object;
    bool& sem;
    bool armed = true;
    ~rollback() {
      if (!armed) return;
      if (object) ::shm_unlink(name.c_str());
      if (sem) ::sem_unlink(name.c_str());
    }
  } undo{shm.name_, shm.created_, sem_created};

  shm.fd_ = open_object(shm.name_, flags, permissions, shm.created_);
  struct stat st {};
  if (::fstat(shm.fd_.get(), &st) != 0) throw_errno("fstat", name);
  std::uint64_t actual = static_cast<std::uint64_t>(st.st_size);
  if (actual == 0) {
    // A new object, or one whose creator has not sized it yet: it needs a size from us.
    if (!size || *size == 0) throw std::invalid_argument(size_message);
    // Only a creator or a writer may size it (ftruncate needs a writable descriptor).
    if (!shm.writable_ && !shm.created_) throw std::invalid_argument(size_message);
    if (retry_on_eintr([&] { return ::ftruncate(shm.fd_.get(), static_cast<off_t>(*size)); }) !=
        0) {
      throw_errno("ftruncate", name);
    }
    actual = *size;
  }
  if (actual > SIZE_MAX) throw_os_error(EFBIG, "mmap", name);

  shm.sem_ = open_semaphore(shm.name_, permissions, sem_created);
  map_options options;
  // Write-only is mapped read-write: PROT_WRITE alone is not possible on Linux.
  options.access = shm.writable_ ? access_mode::read_write : access_mode::read_only;
  shm.map_ = mapping::map(shm.fd_.get(), 0, actual, options, name);
  undo.armed = false;
  return shm;
}

void shared_memory::unlink(std::string_view name) {
  validate_ipc_name(name, ipc_kind::shared_memory);
  const std::string path(name);
  const bool object = ::shm_unlink(path.c_str()) == 0;
  const int object_err = errno;
  const bool sem = ::sem_unlink(path.c_str()) == 0;
  const int sem_err = errno;
  if (object || sem) return;
  if (object_err != ENOENT) throw_os_error(object_err, "shm_unlink", name);
  if (sem_err != ENOENT) throw_os_error(sem_err, "sem_unlink", name);
  throw_os_error(ENOENT, "shm_unlink", name);
}

shared_memory::lock_guard shared_memory::lock() const {
  // The flock serialises mmipc processes and is dropped by the kernel if we die.
  if (retry_on_eintr([&] { return ::flock(fd_.get(), LOCK_EX); }) != 0) {
    throw_errno("flock", name_);
  }
  try {
    for (;;) {
      if (sem_.wait_for(abandon_timeout_)) break;
      // We hold the flock, so no live mmipc process holds the semaphore: its holder died.
      // Take it over (it stays at 0); our release brings it back to 1.
      if (sem_.value() == 0) break;
    }
  } catch (...) {
    ::flock(fd_.get(), LOCK_UN);
    throw;
  }
  return lock_guard(this);
}

void shared_memory::unlock() const noexcept {
  // Post only from 0, so a takeover racing a slow foreign holder's post cannot push the
  // semaphore above 1 and let two processes in later.
  try {
    if (sem_.value() <= 0) sem_.post();
  } catch (...) {
  }
  ::flock(fd_.get(), LOCK_UN);
}

void shared_memory::lock_guard::release() noexcept {
  if (owner_ != nullptr) owner_->unlock();
  owner_ = nullptr;
}

std::size_t shared_memory::read_at(std::uint64_t offset, std::span<std::byte> out) const {
  if (!readable_) throw_os_error(EBADF, "read", name_);
  if (offset >= size()) return 0;
  const std::size_t n = std::min<std::size_t>(out.size(), size() - offset);
  lock_guard guard = lock();
  // The bytes before a page lost to another process's ftruncate, as a file read would.
  return guarded_copy_prefix(out.data(), map_.data() + offset, n, "read");
}

std::size_t shared_memory::write_at(std::uint64_t offset, std::span<const std::byte> in) const {
  if (!writable_) throw_os_error(EBADF, "write", name_);
  if (in.empty()) return 0;
  if (offset >= size()) throw_os_error(ENOSPC, "write", name_);
  const std::size_t n = std::min<std::size_t>(in.size(), size() - offset);
  lock_guard guard = lock();
  guarded_copy(map_.data() + offset, in.data(), n, "write");
  return n;
}

std::size_t shared_memory::read(std::span<std::byte> out) {
  const std::size_t n = read_at(pos_, out);
  pos_ += n;
  return n;
}

std::size_t shared_memory::write(std::span<const std::byte> in) {
  const std::size_t n = write_at(pos_, in);
  pos_ += n;
  return n;
}

std::uint64_t shared_memory::seek(std::int64_t offset, whence origin) {
  const std::int64_t base = origin == whence::start     ? 0
                            : origin == whence::current ? static_cast<std::int64_t>(pos_)
                                                        : static_cast<std::int64_t>(size());
  // Compare without overflow: the target must lie in [0, size()].
  if ((offset < 0 && -(offset + 1) >= base) ||
      (offset > 0 && offset > static_cast<std::int64_t>(size()) - base)) {
    throw_os_error(EINVAL, "seek", name_);
  }
  pos_ = static_cast<std::uint64_t>(base + offset);
  return pos_;
}

}  // namespace mmipc
