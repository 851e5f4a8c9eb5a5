#pragma once
// shared_memory: a POSIX named shared memory object (shm_open) mapped whole, whose reads and
// writes exclude each other between processes and threads, compatible with the Tcl package
// posixipc 1.0.
//
//   auto shm = mmipc::shared_memory::open("/board", O_RDWR | O_CREAT, 0600, 4096);
//   shm.write_at(0, std::as_bytes(std::span("hello", 5)));  // one exclusive operation
//   {
//     auto guard = shm.lock();                              // several, as one
//     if (guard.owner_died()) repair(guard);                // a holder died mid-update
//     guard.read_at(0, buffer);
//     guard.write_at(0, update);
//   }                                                       // released here
//
// Exclusion. Every read_at() and write_at(), and every lock(), holds two things, in order:
// - a robust, process-shared mutex (mmipc::robust_mutex) kept in a small companion shared
//   memory object, the "lock object", named after the object with ".lck" appended ("/board"
//   has "/board.lck"; lock_name() gives it). It excludes processes and threads alike (each
//   thread is an owner of its own, and so is a child made by fork()), takes no system call
//   when it is free, and when its holder dies, even by kill -9, the kernel hands it to the
//   next locker at once;
// - the POSIX named semaphore with the object's own name (initial value 1): the protocol of
//   posixipc 1.0. Programs using the original package alongside this one still exclude each
//   other, and the object's bytes are exactly the user's, laid out as the original did.
//
// After a holder died. The next locker learns it (lock_guard::owner_died(); owner_deaths()
// counts the deaths, for read_at()/write_at() callers) and repairs the exclusion before it gets
// in: when the dead holder had the semaphore, the new one takes it over at once. The bytes
// are as the dead holder left them: a write it was making may be half done. Only one kind of
// holder cannot be told dead by the kernel: a program outside mmipc (posixipc 1.0) holding
// the semaphore. The mutex holder waits abandon_timeout() for the semaphore and then takes it
// over, as the only way to get past such a program killed while holding it. (The same wait
// happens in one rare case of ours: a holder killed in the few instructions between taking
// the semaphore and recording that it did, or between recording and making its release.)
//
// The lock object. open() creates it when it is missing (whoever created the shared memory
// object, posixipc 1.0 included), with the permissions the semaphore gets; every process
// that locks needs read and write permission on it, as on the semaphore. open() and unlink()
// also take an flock() on it while they create, size or remove, so opens racing for one name
// see one object: only the open that creates the object gives it its size, every other open
// maps the size the object has. unlink() removes it with the object and the semaphore; a
// failed open() removes only what that very call created, and never an object that another
// process may have opened. posixipc 1.0's own `shm unlink` leaves the lock object behind,
// where the next open reuses it.
//
// Thread safety. The const members (read_at, write_at, lock, size, name, ...) may be called
// on one shared_memory from several threads at once: the lock excludes threads as it excludes
// processes. The members that are not const (read, write, seek, set_abandon_timeout, reset,
// the assignments) change the object and need the caller's synchronisation, as for any
// standard type. A lock_guard belongs to the thread that locked: release it there.
//
// Under a held lock. Use the guard's read_at()/write_at()/bytes(). The object's own
// read_at()/write_at() also work in the thread holding the lock (through any shared_memory
// open on the same name): they see that this thread holds it, and neither wait for it nor
// release it. Calling lock() again in that thread throws os_error(EDEADLK).
//
// Moves and the empty state. A shared_memory is move-only. A lock_guard shares the ownership
// of what the object opened, so it stays valid across a move of the object and even after
// its destruction. A moved-from (or default-constructed) shared_memory is empty, under the
// rule of every mmipc handle (error.hpp): it accepts destruction, assignment, reset() and
// `explicit operator bool` (false); its observers give empty values (size() 0, name() "",
// native_handle() -1, ...); every other operation (read_at, write_at, read, write, seek,
// lock, set_abandon_timeout) throws os_error(EBADF) with op() naming the call and name()
// empty, never a count of 0 that would look like the end of the object. A released or
// moved-from lock_guard refuses its read_at, write_at and bytes the same way.
//
// A shared_memory also has a position, like a file: read() stops at the end, write() stops
// at the end and then fails with ENOSPC, seek() stays within [0, size()].

#include <fcntl.h>  // O_* flags for open()
#include <pthread.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "mmipc/cursor.hpp"
#include "mmipc/error.hpp"
#include "mmipc/timeout.hpp"

namespace mmipc {

namespace detail {
struct shm_state;
}

/// open() asked to create an object without a positive size; what() is posixipc 1.0's
/// words, "shared memory size must be positive", which front ends also give for a negative
/// size they refuse themselves.
class shm_size_error : public std::invalid_argument {
 public:
  shm_size_error() : std::invalid_argument("shared memory size must be positive") {}
};

class shared_memory {
 public:
  /// An empty handle.
  shared_memory() noexcept = default;
  shared_memory(shared_memory&&) noexcept = default;
  shared_memory& operator=(shared_memory&&) noexcept = default;
  shared_memory(const shared_memory&) = delete;
  shared_memory& operator=(const shared_memory&) = delete;
  ~shared_memory() = default;

  /// Opens (with O_CREAT: creates) object `name`, its lock object and its semaphore, and maps
  /// the object. `flags`: O_RDONLY, O_WRONLY or O_RDWR, with O_CREAT, O_EXCL. `permissions`
  /// (less the umask) apply to what is created. Only the open that creates the object gives it
  /// `size` bytes, which must then be positive; every other open maps the object's own size
  /// and ignores `size`. O_WRONLY opens read-write underneath (Linux cannot map write-only)
  /// but only writes are allowed. On failure removes only what this call created. Throws
  /// std::invalid_argument (bad name, missing size, an object of size 0 that this call did
  /// not create, a lock object name taken by something else) or os_error (op "sem_open" when
  /// the semaphore failed; an explained_error for EACCES on an O_WRONLY open: the object must
  /// be readable too).
  static shared_memory open(std::string_view name, int flags, mode_t permissions = 0666,
                            std::optional<std::uint64_t> size = std::nullopt);

  /// Removes the object, its semaphore and its lock object; os_error(ENOENT) only when none
  /// of them exists.
  static void unlink(std::string_view name);

  /// The name of the lock object of object `name`: `name` followed by ".lck".
  static std::string lock_name(std::string_view name);

  /// Exclusive access to the object, held until release() or destruction.
  class lock_guard {
   public:
    lock_guard(lock_guard&& other) noexcept;
    lock_guard& operator=(lock_guard&&) = delete;
    lock_guard(const lock_guard&) = delete;
    lock_guard& operator=(const lock_guard&) = delete;
    /// Releases, as release() does (errors ignored).
    ~lock_guard();

    /// Gives up the exclusive access now. Throws os_error(EPERM) in a thread other than the
    /// one that locked (the lock stays held). In a child made by fork() while the guard was
    /// held it does nothing: the lock is the parent's.
    void release();
    /// True until released (or moved from).
    bool owns_lock() const noexcept { return state_ != nullptr; }
    /// True when the previous holder died holding the lock: the bytes may be half written.
    bool owner_died() const noexcept { return owner_died_; }

    /// read_at() under this lock (see shared_memory::read_at).
    std::size_t read_at(std::uint64_t offset, std::span<std::byte> out) const;
    /// write_at() under this lock (see shared_memory::write_at).
    std::size_t write_at(std::uint64_t offset, std::span<const std::byte> in) const;
    /// The mapped bytes, for access in place while the lock is held. The unguarded escape
    /// hatch: unlike read_at()/write_at(), a page lost to another process's ftruncate()
    /// raises SIGBUS here (see guarded_copy.hpp), and nothing stops a use after release().
    std::span<std::byte> bytes() const;

   private:
    friend class shared_memory;
    lock_guard(std::shared_ptr<detail::shm_state> state, bool owner_died,
               std::uint64_t fork_generation) noexcept;
    std::shared_ptr<detail::shm_state> state_;
    pthread_t thread_;
    std::uint64_t fork_generation_;
    bool owner_died_;
  };

  /// Waits for exclusive access (the lock object's mutex, then the semaphore, repairing what
  /// a dead holder left). Throws os_error(EDEADLK) when this thread holds it already.
  [[nodiscard]] lock_guard lock() const&;
  /// Locking a temporary would unlock a dead object: refused at compile time.
  lock_guard lock() const&& = delete;

  /// Under the lock: copies bytes from `offset` into `out`, stopping at the end; returns the
  /// count (0 at or past the end). Throws os_error(EBADF) when opened write-only.
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
  /// The position (0 when empty).
  std::uint64_t tell() const noexcept;

  /// Size of the object, as mapped (0 when empty).
  std::size_t size() const noexcept;
  /// True when opened for reading (O_RDONLY or O_RDWR).
  bool readable() const noexcept;
  /// True when opened for writing (O_WRONLY or O_RDWR).
  bool writable() const noexcept;
  /// True when this open created the object.
  bool created() const noexcept;
  /// The object's name ("" when empty).
  const std::string& name() const noexcept;
  /// The object's descriptor (-1 when empty).
  int native_handle() const noexcept;
  /// How many holders of the lock died holding it, over the life of the lock object and in
  /// every process (each was found by the next locker, which repaired the exclusion):
  /// compare it before and after read_at()/write_at() to learn of a death in between.
  std::uint64_t owner_deaths() const noexcept;
  /// How many times, over the life of the lock object, a mutex holder took the semaphore
  /// over after abandon_timeout() (see the top of this file).
  std::uint64_t semaphore_takeovers() const noexcept;

  /// How long the mutex holder waits for the semaphore before it takes it over from a holder
  /// presumed dead (a program outside mmipc; see the top of this file). Default 1 s (0 when
  /// empty).
  std::chrono::nanoseconds abandon_timeout() const noexcept;
  /// Sets abandon_timeout(): any duration, saturated (mmipc::forever: never take over).
  template <class Rep, class Period>
  void set_abandon_timeout(std::chrono::duration<Rep, Period> timeout) {
    set_abandon_timeout_ns(to_timeout(timeout));
  }

  /// Unmaps and closes this handle (a lock_guard keeps what it needs) and leaves it empty.
  void reset() noexcept { state_.reset(); }
  /// True when something is open.
  explicit operator bool() const noexcept { return state_ != nullptr; }

 private:
  detail::shm_state& state(const char* op) const;
  void set_abandon_timeout_ns(std::chrono::nanoseconds timeout);

  std::shared_ptr<detail::shm_state> state_;
};

}  // namespace mmipc
