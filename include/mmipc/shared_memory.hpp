#pragma once
// shared_memory: a POSIX named shared memory object (shm_open) mapped whole, with the
// exclusion protocol of the Tcl package posixipc: every read and write holds the POSIX named
// semaphore that has the object's name (initial value 1), so whole operations of different
// processes never interleave. Programs written for posixipc 1.0 rely on that name and protocol,
// so it is kept.
//
// Robustness: a process killed while holding a semaphore would leave it at 0 and hang everyone
// else. So an mmipc process first takes an exclusive flock() on its own descriptor of the
// object (the kernel drops it when the holder dies, even on kill -9), then the semaphore.
// Only the flock holder ever waits on the semaphore; if that wait lasts longer than
// abandon_timeout(), no live mmipc process can be holding the semaphore (it would hold the
// flock too), so its holder died (or a foreign program holds it for that long): the waiter
// takes the semaphore over, and its release sets it back to 1.
//
// A shared_memory also has a position, like a file: read() stops at the end, write() stops
// at the end and then fails with ENOSPC, seek() stays within [0, size()].

#include <fcntl.h>  // O_* flags for open()
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "mmipc/cursor.hpp"
#include "mmipc/error.hpp"
#include "mmipc/mapping.hpp"
#include "mmipc/semaphore.hpp"
#include "mmipc/unique_fd.hpp"

namespace mmipc {

class shared_memory {
 public:
  /// An empty handle.
  shared_memory() noexcept = default;
  shared_memory(shared_memory&&) noexcept = default;
  shared_memory& operator=(shared_memory&&) noexcept = default;
  shared_memory(const shared_memory&) = delete;
  shared_memory& operator=(const shared_memory&) = delete;
  ~shared_memory() = default;

  /// Opens (with O_CREAT: creates) object `name` and its semaphore, and maps the object.
  /// `flags`: O_RDONLY, O_WRONLY or O_RDWR, with O_CREAT, O_EXCL. `permissions` (less the
  /// umask) apply to what is created. A created object (or an existing one of size 0) gets
  /// `size` bytes, which must then be positive; an existing object keeps its own size.
  /// O_WRONLY opens read-write underneath (Linux cannot map write-only) but only writes are
  /// allowed. On failure removes only what this call created. Throws std::invalid_argument
  /// (bad name, missing size) or os_error (op "sem_open" when the semaphore failed).
  static shared_memory open(std::string_view name, int flags, mode_t permissions = 0666,
                            std::optional<std::uint64_t> size = std::nullopt);

  /// Removes the object and its semaphore; os_error(ENOENT) only when neither exists.
  static void unlink(std::string_view name);

  /// Exclusive access to the object, held until destruction.
  class lock_guard {
   public:
    lock_guard(lock_guard&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    lock_guard& operator=(lock_guard&&) = delete;
    ~lock_guard() { release(); }
    /// Gives up the exclusive access now.
    void release() noexcept;

   private:
    friend class shared_memory;
    explicit lock_guard(const shared_memory* owner) noexcept : owner_(owner) {}
    const shared_memory* owner_;
  };

  /// Waits for exclusive access (flock, then the semaphore, repairing an abandoned one).
  [[nodiscard]] lock_guard lock() const;

  /// Under the lock: copies bytes from `offset` into `out`, stopping at the end; returns the
  /// count (0 at or past the end).
  std::size_t read_at(std::uint64_t offset, std::span<std::byte> out) const;
  /// Under the lock: copies `in` to `offset`, stopping at the end; returns the count. Throws
  /// os_error(ENOSPC) when nothing fits, EBADF when opened read-only.
  std::size_t write_at(std::uint64_t offset, std::span<const std::byte> in) const;

  /// read_at() the position, then advances it.
  std::size_t read(std::span<std::byte> out);
  /// write_at() the position, then advances it.
  std::size_t write(std::span<const std::byte> in);
  /// Moves the position; a result outside [0, size()] throws os_error(EINVAL) and leaves it.
  std::uint64_t seek(std::int64_t offset, whence origin = whence::start);
  /// The position.
  std::uint64_t tell() const noexcept { return pos_; }

  /// Size of the object (as mapped).
  std::size_t size() const noexcept { return map_.size(); }
  /// The mapped bytes, for callers that do their own locking.
  std::span<std::byte> bytes() const noexcept { return map_.bytes(); }
  /// True when opened for reading (O_RDONLY or O_RDWR).
  bool readable() const noexcept { return readable_; }
  /// True when opened for writing (O_WRONLY or O_RDWR).
  bool writable() const noexcept { return writable_; }
  /// True when this open created the object.
  bool created() const noexcept { return created_; }
  /// The object's name.
  const std::string& name() const noexcept { return name_; }
  /// The object's descriptor (the flock is on it).
  int native_handle() const noexcept { return fd_.get(); }
  /// The semaphore guarding the object.
  const named_semaphore& semaphore() const noexcept { return sem_; }

  /// How long the flock holder waits on the semaphore before it declares it abandoned.
  std::chrono::milliseconds abandon_timeout() const noexcept { return abandon_timeout_; }
  /// Sets abandon_timeout() (default 1 s).
  void set_abandon_timeout(std::chrono::milliseconds timeout) noexcept {
    abandon_timeout_ = timeout;
  }

  /// True when something is open.
  explicit operator bool() const noexcept { return static_cast<bool>(fd_); }

 private:
  void unlock() const noexcept;

  unique_fd fd_;
  named_semaphore sem_;
  mapping map_;
  std::string name_;
  std::uint64_t pos_ = 0;
  std::chrono::milliseconds abandon_timeout_{1000};
  bool readable_ = false;
  bool writable_ = false;
  bool created_ = false;
};

}  // namespace mmipc
