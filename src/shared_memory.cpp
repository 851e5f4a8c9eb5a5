#include "mmipc/shared_memory.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <new>
#include <stdexcept>
#include <thread>

#include "mmipc/error.hpp"
#include "mmipc/guarded_copy.hpp"
#include "mmipc/ipc_name.hpp"
#include "mmipc/mapping.hpp"
#include "mmipc/robust_mutex.hpp"
#include "mmipc/semaphore.hpp"
#include "mmipc/unique_fd.hpp"
#include "retry.hpp"
#include "seek.hpp"

namespace mmipc {
namespace {

constexpr std::string_view lock_suffix = ".lck";
// Names of objects are at most 251 bytes after the "/" (so that the semaphore, "sem." + name,
// fits NAME_MAX): the lock object's name always fits too.
static_assert(251 + lock_suffix.size() <= NAME_MAX);

constexpr std::chrono::nanoseconds default_abandon_timeout = std::chrono::seconds(1);

// What the lock object holds. Version 1 of the layout; `magic` is written last, so a block
// whose magic is 0 was never finished (its creator died first) and nobody has used it.
struct lock_block {
  static constexpr std::uint64_t magic_v1 = 0x314b4c6370696d6dULL;  // "mmipcLK1", little endian
  std::uint64_t magic;
  std::uint32_t layout;  // sizeof(lock_block): processes of another ABI are refused
  // What the mutex holder is doing with the semaphore (a sem_step), for the next owner when
  // it dies: only the mutex holder writes it.
  std::uint32_t sem_step;
  robust_mutex mutex;
  std::uint64_t deaths;     // holders found dead holding the mutex, ever
  std::uint64_t takeovers;  // semaphores taken over after abandon_timeout, ever
};

void count(std::uint64_t& counter) {
  std::atomic_ref<std::uint64_t>(counter).fetch_add(1, std::memory_order_relaxed);
}
std::uint64_t counted(std::uint64_t& counter) {
  return std::atomic_ref<std::uint64_t>(counter).load(std::memory_order_relaxed);
}

enum sem_step : std::uint32_t {
  sem_free = 0,     // the mutex holder does not hold the semaphore
  sem_taking = 1,   // it is taking it: it may or may not hold it
  sem_held = 2,     // it holds it
  sem_posting = 3,  // it is releasing it: it may or may not hold it still
};

std::uint32_t step_of(lock_block& block) {
  return std::atomic_ref<std::uint32_t>(block.sem_step).load(std::memory_order_relaxed);
}
void set_step(lock_block& block, sem_step step) {
  std::atomic_ref<std::uint32_t>(block.sem_step).store(step, std::memory_order_relaxed);
}

// The fork() generation of this process: a lock_guard copied into a child by fork() must not
// release its parent's lock.
std::atomic<std::uint64_t> fork_generation{0};
std::uint64_t current_fork_generation() {
  static const bool registered = [] {
    ::pthread_atfork(nullptr, nullptr,
                     [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
    return true;
  }();
  static_cast<void>(registered);
  return fork_generation.load(std::memory_order_relaxed);
}

}  // namespace

namespace detail {

// Everything an open shared memory has; shared by the shared_memory and its lock guards.
struct shm_state {
  unique_fd fd;
  named_semaphore sem;
  mapping map;
  mapping lock_map;
  lock_block* block = nullptr;
  std::string name;
  std::uint64_t pos = 0;
  std::chrono::nanoseconds abandon_timeout = default_abandon_timeout;
  bool readable = false;
  bool writable = false;
  bool created = false;
};

}  // namespace detail

namespace {

using detail::shm_state;

// ---- the lock -------------------------------------------------------------------------------

// The semaphore is not waited for longer than this at a time. A waiter that is woken and then
// killed before it takes the semaphore takes the wake-up with it, and nothing passes it on:
// another waiter would sleep until the next post, which may never come; so a lost wake-up
// costs at most this long. (robust_mutex::lock() bounds its own waits the same way.)
constexpr std::chrono::milliseconds wait_slice{10};

// Takes the semaphore for the mutex holder. Only mutex holders of mmipc take it, so whoever
// holds it now is outside mmipc (or one of ours that died as it took it): wait for it, and
// take it over from a holder that lets abandon_timeout pass.
void take_semaphore(shm_state& s) {
  lock_block& block = *s.block;
  set_step(block, sem_taking);
  try {
    if (!s.sem.try_wait()) {
      const auto since = std::chrono::steady_clock::now();
      const auto slice = std::min<std::chrono::nanoseconds>(wait_slice, s.abandon_timeout);
      for (;;) {
        if (s.sem.wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(slice))) break;
        // A post racing the timeout leaves the value at 1: then take it the ordinary way.
        if (s.abandon_timeout != forever &&
            std::chrono::steady_clock::now() - since >= s.abandon_timeout && s.sem.value() == 0) {
          count(block.takeovers);
          break;
        }
      }
    }
  } catch (...) {
    set_step(block, sem_free);
    throw;
  }
  set_step(block, sem_held);
}

// Locks the mutex, repairs what a dead holder left and takes the semaphore; returns true when
// the previous holder had died. Throws os_error(EDEADLK) when this thread holds it already.
bool acquire(shm_state& s) {
  lock_block& block = *s.block;
  const bool died = block.mutex.lock() == lock_status::owner_died;
  try {
    bool have_semaphore = false;
    if (died) {
      const bool dead_held = step_of(block) == sem_held;
      // First of all, so that no failure below can leave the mutex unrecoverable.
      block.mutex.mark_consistent();
      count(block.deaths);
      // The dead holder's step says whether the semaphore went with it. Held and still at 0:
      // it is ours now (nobody else can have taken it since). Anything else is settled by
      // taking it: at once when it is free, after abandon_timeout when the dead holder was
      // half-way through taking or releasing it and the value alone cannot tell.
      have_semaphore = dead_held && s.sem.value() == 0;
      if (!have_semaphore) set_step(block, sem_free);
    }
    if (!have_semaphore) take_semaphore(s);
  } catch (...) {
    block.mutex.unlock();
    throw;
  }
  return died;
}

void release(shm_state& s) noexcept {
  lock_block& block = *s.block;
  set_step(block, sem_posting);
  try {
    // Post only from 0: after a takeover, the late post of a holder presumed wrongly dead
    // may have brought it back to 1, and a second post would let two in. Until a first
    // takeover, nothing can have posted in between (and the check costs a call per unlock).
    if (counted(block.takeovers) == 0 || s.sem.value() <= 0) s.sem.post();
  } catch (...) {
  }
  set_step(block, sem_free);
  try {
    block.mutex.unlock();
  } catch (...) {
  }
}

// The exclusion for one read_at()/write_at(): taken and released here, unless this thread
// holds it already (a lock_guard of its own), which the error-checking mutex reports.
class scoped_hold {
 public:
  explicit scoped_hold(shm_state& s) : s_(&s) {
    try {
      acquire(s);
    } catch (const os_error& e) {
      if (e.error_number() != EDEADLK) throw;
      s_ = nullptr;
    }
  }
  ~scoped_hold() {
    if (s_ != nullptr) release(*s_);
  }
  scoped_hold(const scoped_hold&) = delete;
  scoped_hold& operator=(const scoped_hold&) = delete;

 private:
  shm_state* s_;
};

// ---- copies, with the lock held -------------------------------------------------------------

std::size_t read_locked(shm_state& s, std::uint64_t offset, std::span<std::byte> out, bool hold) {
  if (!s.readable) throw_os_error(EBADF, "read", s.name);
  const std::size_t size = s.map.size();
  if (offset >= size) return 0;
  const std::size_t n = std::min<std::size_t>(out.size(), size - offset);
  std::optional<scoped_hold> held;
  if (hold) held.emplace(s);
  // The bytes before a page lost to another process's ftruncate, as a file read would.
  return guarded_copy_prefix(out.data(), s.map.data() + offset, n, "read", s.name);
}

std::size_t write_locked(shm_state& s, std::uint64_t offset, std::span<const std::byte> in,
                         bool hold) {
  if (!s.writable) throw_os_error(EBADF, "write", s.name);
  if (in.empty()) return 0;
  const std::size_t size = s.map.size();
  if (offset >= size) throw_os_error(ENOSPC, "write", s.name);
  const std::size_t n = std::min<std::size_t>(in.size(), size - offset);
  std::optional<scoped_hold> held;
  if (hold) held.emplace(s);
  guarded_copy(s.map.data() + offset, in.data(), n, "write", s.name);
  return n;
}

// ---- opening --------------------------------------------------------------------------------

// The flock() on the lock object that open() and unlink() hold while they create, size or
// remove; the kernel drops it if the holder dies.
class open_flock {
 public:
  explicit open_flock(int fd) : fd_(fd) {}
  ~open_flock() { ::flock(fd_, LOCK_UN); }
  open_flock(const open_flock&) = delete;
  open_flock& operator=(const open_flock&) = delete;

 private:
  int fd_;
};

void flock_exclusive(int fd, const std::string& name) {
  if (retry_on_eintr([&] { return ::flock(fd, LOCK_EX); }) != 0) throw_errno("flock", name);
}

bool still_linked(int fd, const std::string& name) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_errno("fstat", name);
  return st.st_nlink > 0;
}

// Opens the lock object (creating it when missing, with `permissions`) and flocks it. An open
// that failed, or an unlink, may have removed it while we waited for the flock: then again.
unique_fd open_lock_object(const std::string& path, mode_t permissions, bool& created) {
  for (;;) {
    created = false;
    int fd = ::shm_open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, permissions);
    if (fd >= 0) {
      created = true;
    } else {
      if (errno != EEXIST) throw_errno("shm_open", path);
      fd = ::shm_open(path.c_str(), O_RDWR, 0);
      if (fd < 0) {
        if (errno == ENOENT) continue;
        throw_errno("shm_open", path);
      }
    }
    unique_fd lock_fd(fd);
    flock_exclusive(lock_fd.get(), path);
    if (still_linked(lock_fd.get(), path)) return lock_fd;
    ::flock(lock_fd.get(), LOCK_UN);
  }
}

// Maps the lock object and makes its block (under the flock: one process at a time).
mapping map_lock_block(int fd, const std::string& path, lock_block*& block) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_errno("fstat", path);
  if (st.st_size != 0 && st.st_size != static_cast<off_t>(sizeof(lock_block))) {
    throw std::invalid_argument("shared memory \"" + path +
                                "\" is not an mmipc lock object (something else has its name)");
  }
  if (st.st_size == 0 && retry_on_eintr([&] { return ::ftruncate(fd, sizeof(lock_block)); }) != 0) {
    throw_errno("ftruncate", path);
  }
  map_options options;
  options.access = access_mode::read_write;
  mapping map = mapping::map(fd, 0, sizeof(lock_block), options, path);
  block = reinterpret_cast<lock_block*>(map.data());
  std::atomic_ref<std::uint64_t> magic(block->magic);
  const std::uint64_t found = magic.load(std::memory_order_acquire);
  if (found == 0) {
    // New, or left unfinished by a creator that died: nobody has used it.
    new (&block->mutex) robust_mutex;
    block->layout = sizeof(lock_block);
    block->sem_step = sem_free;
    block->deaths = 0;
    block->takeovers = 0;
    magic.store(lock_block::magic_v1, std::memory_order_release);
  } else if (found != lock_block::magic_v1 || block->layout != sizeof(lock_block)) {
    throw std::invalid_argument("shared memory \"" + path +
                                "\" is not an mmipc lock object of this version and ABI");
  }
  return map;
}

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
    // Removed between the two calls (by a program that does not take the flock): again.
    if (errno == ENOENT && (flags & O_CREAT)) continue;
    if (errno == EACCES && (flags & O_ACCMODE) == O_WRONLY) {
      throw explained_error(
          EACCES, "shm_open", name,
          "write-only access needs read permission too: Linux cannot map memory write-only");
    }
    throw_errno("shm_open", name);
  }
}

std::uint64_t size_of(int fd, const std::string& name) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_errno("fstat", name);
  return static_cast<std::uint64_t>(st.st_size);
}

// The size of an object this open did not create. Creators of mmipc size it under the flock
// we hold, so a size of 0 means a program outside mmipc created it and is about to size it,
// or never will: wait for it as long as for an abandoned semaphore, never size it ourselves.
std::uint64_t wait_for_size(int fd, const std::string& name) {
  const auto until = std::chrono::steady_clock::now() + default_abandon_timeout;
  auto pause = std::chrono::microseconds(100);
  for (;;) {
    if (const std::uint64_t size = size_of(fd, name); size != 0) return size;
    if (std::chrono::steady_clock::now() >= until) {
      throw std::invalid_argument("shared memory \"" + name +
                                  "\" has size 0: only the open that creates an object gives "
                                  "it its size, and its creator has not");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(10));
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

// ---- shared_memory --------------------------------------------------------------------------

std::string shared_memory::lock_name(std::string_view name) {
  validate_ipc_name(name, ipc_kind::shared_memory);
  return std::string(name) + std::string(lock_suffix);
}

shared_memory shared_memory::open(std::string_view name, int flags, mode_t permissions,
                                  std::optional<std::uint64_t> size) {
  const std::string lock_path = lock_name(name);
  auto state = std::make_shared<shm_state>();
  shm_state& s = *state;
  s.name = std::string(name);
  const int mode = flags & O_ACCMODE;
  s.readable = mode == O_RDONLY || mode == O_RDWR;
  s.writable = mode == O_WRONLY || mode == O_RDWR;

  // Everything below happens under the lock object's flock, so that no other open of mmipc
  // sees the object before it has its size, or keeps an object that a failed open removes.
  bool lock_created = false;
  const unique_fd lock_fd = open_lock_object(lock_path, permissions, lock_created);
  const open_flock held(lock_fd.get());
  bool sem_created = false;
  // Undoes only what this call created when a later step fails (before the flock goes).
  struct rollback {
    const shm_state& s;
    const std::string& lock_path;
    bool& lock;
    bool& sem;
    bool armed = true;
    ~rollback() {
      if (!armed) return;
      if (s.created) ::shm_unlink(s.name.c_str());
      if (sem) ::sem_unlink(s.name.c_str());
      if (lock) ::shm_unlink(lock_path.c_str());
    }
  } undo{s, lock_path, lock_created, sem_created};

  s.lock_map = map_lock_block(lock_fd.get(), lock_path, s.block);
  s.fd = open_object(s.name, flags, permissions, s.created);
  std::uint64_t actual = 0;
  if (s.created) {
    if (!size || *size == 0) throw shm_size_error();
    if (retry_on_eintr([&] { return ::ftruncate(s.fd.get(), static_cast<off_t>(*size)); }) != 0) {
      throw_errno("ftruncate", name);
    }
    actual = *size;
  } else {
    actual = size_of(s.fd.get(), s.name);
    if (actual == 0) actual = wait_for_size(s.fd.get(), s.name);
  }
  if (actual > SIZE_MAX) throw_os_error(EFBIG, "mmap", name);

  s.sem = open_semaphore(s.name, permissions, sem_created);
  map_options options;
  // Write-only is mapped read-write: PROT_WRITE alone is not possible on Linux.
  options.access = s.writable ? access_mode::read_write : access_mode::read_only;
  s.map = mapping::map(s.fd.get(), 0, actual, options, name);
  undo.armed = false;
  shared_memory shm;
  shm.state_ = std::move(state);
  return shm;
}

void shared_memory::unlink(std::string_view name) {
  const std::string lock_path = lock_name(name);
  const std::string path(name);
  // The flock (a read-only descriptor is enough for it) keeps the removal from interleaving
  // with an open that creates or sizes; without a lock object there is nothing to wait for.
  unique_fd lock_fd;
  for (;;) {
    lock_fd.reset(::shm_open(lock_path.c_str(), O_RDONLY, 0));
    if (!lock_fd) break;
    flock_exclusive(lock_fd.get(), lock_path);
    if (still_linked(lock_fd.get(), lock_path)) break;
    ::flock(lock_fd.get(), LOCK_UN);
  }
  const bool object = ::shm_unlink(path.c_str()) == 0;
  const int object_err = errno;
  const bool sem = ::sem_unlink(path.c_str()) == 0;
  const int sem_err = errno;
  const bool lock = ::shm_unlink(lock_path.c_str()) == 0;
  if (lock_fd) ::flock(lock_fd.get(), LOCK_UN);
  if (object || sem || lock) return;
  if (object_err != ENOENT) throw_os_error(object_err, "shm_unlink", name);
  if (sem_err != ENOENT) throw_os_error(sem_err, "sem_unlink", name);
  throw_os_error(ENOENT, "shm_unlink", name);
}

detail::shm_state& shared_memory::state(const char* op) const {
  if (!state_) throw_os_error(EBADF, op);
  return *state_;
}

shared_memory::lock_guard shared_memory::lock() const& {
  shm_state& s = state("lock");
  const std::uint64_t generation = current_fork_generation();
  const bool died = acquire(s);
  return lock_guard(state_, died, generation);
}

std::size_t shared_memory::read_at(std::uint64_t offset, std::span<std::byte> out) const {
  return read_locked(state("read_at"), offset, out, true);
}

std::size_t shared_memory::write_at(std::uint64_t offset, std::span<const std::byte> in) const {
  return write_locked(state("write_at"), offset, in, true);
}

std::size_t shared_memory::read(std::span<std::byte> out) {
  shm_state& s = state("read");
  const std::size_t n = read_locked(s, s.pos, out, true);
  s.pos += n;
  return n;
}

std::size_t shared_memory::write(std::span<const std::byte> in) {
  shm_state& s = state("write");
  const std::size_t n = write_locked(s, s.pos, in, true);
  s.pos += n;
  return n;
}

std::uint64_t shared_memory::seek(std::int64_t offset, whence origin) {
  shm_state& s = state("seek");
  s.pos = detail::bounded_seek(s.map.size(), s.pos, offset, origin, s.name);
  return s.pos;
}

std::uint64_t shared_memory::tell() const noexcept {
  return state_ ? state_->pos : 0;
}
std::size_t shared_memory::size() const noexcept {
  return state_ ? state_->map.size() : 0;
}
bool shared_memory::readable() const noexcept {
  return state_ && state_->readable;
}
bool shared_memory::writable() const noexcept {
  return state_ && state_->writable;
}
bool shared_memory::created() const noexcept {
  return state_ && state_->created;
}
const std::string& shared_memory::name() const noexcept {
  static const std::string none;
  return state_ ? state_->name : none;
}
int shared_memory::native_handle() const noexcept {
  return state_ ? state_->fd.get() : -1;
}
std::uint64_t shared_memory::owner_deaths() const noexcept {
  return state_ ? counted(state_->block->deaths) : 0;
}
std::uint64_t shared_memory::semaphore_takeovers() const noexcept {
  return state_ ? counted(state_->block->takeovers) : 0;
}
std::chrono::nanoseconds shared_memory::abandon_timeout() const noexcept {
  return state_ ? state_->abandon_timeout : std::chrono::nanoseconds::zero();
}
void shared_memory::set_abandon_timeout_ns(std::chrono::nanoseconds timeout) {
  state("set_abandon_timeout").abandon_timeout = timeout;
}

// ---- lock_guard -----------------------------------------------------------------------------

shared_memory::lock_guard::lock_guard(std::shared_ptr<detail::shm_state> state, bool owner_died,
                                      std::uint64_t fork_generation) noexcept
    : state_(std::move(state)),
      thread_(::pthread_self()),
      fork_generation_(fork_generation),
      owner_died_(owner_died) {}

shared_memory::lock_guard::lock_guard(lock_guard&& other) noexcept
    : state_(std::move(other.state_)),
      thread_(other.thread_),
      fork_generation_(other.fork_generation_),
      owner_died_(other.owner_died_) {}

shared_memory::lock_guard::~lock_guard() {
  try {
    release();
  } catch (...) {
  }
}

void shared_memory::lock_guard::release() {
  if (!state_) return;
  if (fork_generation_ != current_fork_generation()) {
    // A copy made by fork(): the lock is the parent's, and stays so.
    state_.reset();
    return;
  }
  if (!::pthread_equal(thread_, ::pthread_self())) {
    throw_os_error(EPERM, "release", state_->name);
  }
  mmipc::release(*state_);
  state_.reset();
}

std::size_t shared_memory::lock_guard::read_at(std::uint64_t offset,
                                               std::span<std::byte> out) const {
  if (!state_) throw_os_error(EBADF, "read_at");
  return read_locked(*state_, offset, out, false);
}

std::size_t shared_memory::lock_guard::write_at(std::uint64_t offset,
                                                std::span<const std::byte> in) const {
  if (!state_) throw_os_error(EBADF, "write_at");
  return write_locked(*state_, offset, in, false);
}

std::span<std::byte> shared_memory::lock_guard::bytes() const {
  if (!state_) throw_os_error(EBADF, "bytes");
  return state_->map.bytes();
}

}  // namespace mmipc
