#include "mmipc/ring_log.hpp"

#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// xxHash compiled into this file (XXH_INLINE_ALL): the 64-byte record's checksum is inlined,
// and users of the static library link no extra library.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <mutex>
#include <new>
#include <random>
#include <utility>

#include "deadline.hpp"
#include "guarded_access.hpp"
#include "mmipc/error.hpp"
#include "mmipc/guarded_copy.hpp"
#include "mmipc/mapping.hpp"
#include "mmipc/robust_mutex.hpp"
#include "mmipc/unique_fd.hpp"
#include "retry.hpp"
#include "ring_log_format.hpp"
#include "thread_identity.hpp"

namespace mmipc {

namespace lf = detail::log_format;
static_assert(ring_log::header_size == lf::header_size);
static_assert(ring_log::min_size == lf::header_size + lf::min_capacity);
static_assert(sizeof(robust_mutex) <= sizeof(lf::header::lock));
static_assert(alignof(robust_mutex) <= 64);

namespace detail {

// A logical position and its offset in the data area, kept together so that a writer
// divides (pos % capacity: tens of cycles) only when it must.
struct place {
  std::uint64_t pos;
  std::uint64_t off;
};

// What a ring_log and its readers share: the mapped file.
struct log_state {
  std::filesystem::path path;
  mapping map;
  bool writable = false;
  lf::header* header = nullptr;
  std::byte* data = nullptr;
  std::uint64_t capacity = 0;
  std::uint64_t file_size = 0;
  std::uint64_t max_record = 0;
  robust_mutex* lock = nullptr;
  // This process's boot and PID namespace (detail::boot_fingerprint, pid_namespace_id), read
  // once when the log is opened, for the owner stamp each writer checks (stamp_owner).
  std::uint64_t boot = 0;
  std::uint64_t pidns = 0;
  // Set when this process's hold on the writers' lock was lost with the header's page (the
  // file was truncated under a writer): glibc still lists the lock among the thread's robust
  // mutexes, so its address must stay mapped for good.
  std::atomic<bool> keep_mapped{false};
  // The head and tail this process's writers left, with their offsets in the data area
  // (see place_of in ring_log.cpp); used only under the writers' lock.
  place last_head{UINT64_MAX, 0};
  place last_tail{UINT64_MAX, 0};

  log_state() = default;
  log_state(const log_state&) = delete;
  log_state& operator=(const log_state&) = delete;
  ~log_state() {
    if (keep_mapped.load()) {
      static std::mutex guard;
      static auto* kept = new std::vector<mapping>;  // reachable until exit, never unmapped
      const std::lock_guard<std::mutex> hold(guard);
      kept->push_back(std::move(map));
    }
  }
};

}  // namespace detail

namespace {

using detail::log_state;
using detail::place;
using namespace std::chrono_literals;

template <class T>
std::atomic_ref<T> atom(T& field) noexcept {
  return std::atomic_ref<T>(field);
}

// Cold and out of line: the checks on the append path build no string.
[[noreturn, gnu::cold, gnu::noinline]] void damaged(const log_state& s, const char* what) {
  throw ring_log_error(s.path, std::string("damaged ring log: ") + what);
}

std::int64_t realtime_ns() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Runs `body` with SIGBUS on the log's mapping turned into lost_pages_error, and so the
// EFAULT of a wait for the writers' lock whose page went (robust_mutex: where a touch of the
// page raises SIGBUS, the kernel's futex wait says EFAULT).
template <class Body>
void guarded(const log_state& s, std::string_view op, Body&& body) {
  try {
    detail::guarded_access(s.map.data(), s.map.size(), op, s.path.native(),
                           std::forward<Body>(body));
  } catch (const lost_pages_error&) {
    throw;
  } catch (const os_error& e) {
    if (e.error_number() != EFAULT) throw;
    throw lost_pages_error(EFAULT, op, s.path.native());
  }
}

// Logical positions grow for ever; the byte at logical position p is data[p % capacity].
std::byte* bytes_at(const log_state& s, std::uint64_t pos) noexcept {
  return s.data + pos % s.capacity;
}
std::uint64_t room_at(const log_state& s, std::uint64_t pos) noexcept {
  return s.capacity - pos % s.capacity;
}

lf::record_header header_at(const log_state& s, std::uint64_t pos) noexcept {
  lf::record_header h;
  std::memcpy(&h, bytes_at(s, pos), sizeof h);
  return h;
}

// The checksum of an entry at logical position `pos`: its 24 header bytes after the checksum
// (at `fields`), hashed with a seed that is the position, mixed (for a record) with the hash
// of its payload. A writer hashes the payload before it takes the lock, and only the 24
// bytes under it.
std::uint64_t payload_hash(const void* payload, std::uint64_t length) {
  return XXH3_64bits(payload, length);
}
std::uint64_t checksum_of(const void* fields, std::uint64_t payload_seed, std::uint64_t pos) {
  return XXH3_64bits_withSeed(fields, lf::record_header_size - 8, payload_seed ^ pos);
}

enum class entry_kind { record, padding, invalid };

// What the header `h` at a position with `room` bytes to the end of the data area claims to
// be (its checksum not yet verified).
inline entry_kind kind_of(const log_state& s, const lf::record_header& h,
                          std::uint64_t room) noexcept {
  if (h.kind == lf::kind_record && h.seq != 0 && h.length <= s.max_record &&
      lf::record_span(h.length) <= room) {
    return entry_kind::record;
  }
  if (h.kind == lf::kind_padding && room >= lf::record_header_size &&
      h.length == room - lf::record_header_size) {
    return entry_kind::padding;
  }
  return entry_kind::invalid;
}

// True when the entry at `pos` (header `h`, bytes at `entry`) is whole.
bool whole(const lf::record_header& h, const std::byte* entry, std::uint64_t pos) {
  const std::uint64_t payload =
      h.kind == lf::kind_record ? payload_hash(entry + lf::record_header_size, h.length) : 0;
  return checksum_of(entry + 8, payload, pos) == h.checksum;
}

// The end of the entry (record, padding or the few bytes too short for a header) at `pos`,
// when it is a whole entry that ends at or before `limit`; 0 otherwise. `h` receives the
// header (kind 0 for a short end).
std::uint64_t whole_entry_end(const log_state& s, std::uint64_t pos, std::uint64_t limit,
                              lf::record_header& h) {
  const std::uint64_t room = room_at(s, pos);
  if (room < lf::record_header_size) {
    h = lf::record_header{};
    return pos + room <= limit ? pos + room : 0;
  }
  h = header_at(s, pos);
  const entry_kind kind = kind_of(s, h, room);
  if (kind == entry_kind::invalid || !whole(h, bytes_at(s, pos), pos)) return 0;
  const std::uint64_t end = pos + (kind == entry_kind::record ? lf::record_span(h.length) : room);
  return end <= limit ? end : 0;
}

// After damage (a crash lost pages that were never synced, or a foreign write): the first
// position in [from, limit) where a whole entry starts (a record numbered at least
// `min_seq`, or a padding), or `limit`. The checksum is seeded with the position, so a stale
// record of an earlier lap cannot pass for one of this lap.
std::uint64_t resync(const log_state& s, std::uint64_t from, std::uint64_t limit,
                     std::uint64_t min_seq) {
  std::uint64_t pos = (from + lf::record_alignment - 1) & ~(lf::record_alignment - 1);
  while (pos < limit) {
    lf::record_header h;
    if (room_at(s, pos) >= lf::record_header_size && whole_entry_end(s, pos, limit, h) != 0 &&
        (h.kind == lf::kind_padding || h.seq >= min_seq)) {
      return pos;
    }
    pos += lf::record_alignment;
  }
  return limit;
}

// The newest record in [from, head) when every entry from `from` is whole and they end
// exactly at `head`: its position and header.
struct newest {
  std::uint64_t pos;
  lf::record_header header;
};
std::optional<newest> newest_record(const log_state& s, std::uint64_t from, std::uint64_t head) {
  std::optional<newest> found;
  std::uint64_t pos = from;
  while (pos < head) {
    lf::record_header h;
    const std::uint64_t end = whole_entry_end(s, pos, head, h);
    if (end == 0) return std::nullopt;
    if (h.kind == lf::kind_record) found = newest{pos, h};
    pos = end;
  }
  return pos == head ? found : std::nullopt;
}

// The publication state, read in the order writers publish it.
struct published {
  std::uint64_t tail, head, last, next_seq;
};
published load_published(const log_state& s, std::memory_order order) {
  auto& h = *s.header;
  published p{};
  p.tail = atom(h.tail).load(order);
  p.head = atom(h.head).load(order);
  p.last = atom(h.last).load(order);
  p.next_seq = atom(h.next_seq).load(order);
  return p;
}

// The publication state as readers see it while writers run: head and tail read between
// two reads of an unchanged tail, so they belong together (a tail read long before the head
// could lag it by more than the capacity).
published snapshot(const log_state& s) {
  auto& h = *s.header;
  for (;;) {
    const published p = load_published(s, std::memory_order_acquire);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (atom(h.tail).load(std::memory_order_relaxed) == p.tail) return p;
  }
}

bool consistent(const log_state& s, const published& p) {
  return p.tail <= p.head && p.head - p.tail <= s.capacity &&
         (p.tail | p.head) % lf::record_alignment == 0 && p.next_seq != 0;
}

// --- Writers (all under the writers' lock) ----------------------------------------------

// The offset of `pos`, from the positions this process's writers used last when it is one
// of them (the common case: nobody else appended in between), else by division. Only
// called under the writers' lock, which orders the cache between this process's threads.
place place_of(log_state& s, std::uint64_t pos) {
  if (pos == s.last_head.pos) return s.last_head;
  if (pos == s.last_tail.pos) return s.last_tail;
  return {pos, pos % s.capacity};
}

// Moves `t` past the entry there (an entry writers are about to drop), resyncing past
// damage; never beyond `head`.
void drop_entry(const log_state& s, place& t, const place& head) {
  const std::uint64_t room = s.capacity - t.off;
  std::uint64_t span = room;  // a short end or a padding: up to the end of the area
  if (room >= lf::record_header_size) {
    lf::record_header h;
    std::memcpy(&h, s.data + t.off, sizeof h);
    const entry_kind kind = kind_of(s, h, room);
    if (kind == entry_kind::record) span = lf::record_span(h.length);
    if (kind == entry_kind::invalid || t.pos + span > head.pos) {
      const std::uint64_t next = resync(s, t.pos + lf::record_alignment, head.pos, 0);
      t = next == head.pos ? head : place{next, next % s.capacity};
      return;
    }
  }
  if (t.pos + span >= head.pos) {
    t = head;
    return;
  }
  t.pos += span;
  t.off = t.off + span == s.capacity ? 0 : t.off + span;
}

// Appends, under the lock, a record whose time and payload hash were taken before it.
std::uint64_t append_locked(log_state& s, std::span<const std::byte> data, std::int64_t time_ns,
                            std::uint64_t payload) {
  auto& h = *s.header;
  const published p = load_published(s, std::memory_order_relaxed);
  if (!consistent(s, p)) damaged(s, "its head and tail positions are inconsistent");

  const std::uint64_t need = lf::record_span(data.size());
  const place head = place_of(s, p.head);
  const std::uint64_t room = s.capacity - head.off;
  // Each record is contiguous: one that does not fit before the end of the data area
  // starts the next lap, after a padding (or, when fewer than 32 bytes remain, nothing).
  const place start = need <= room ? head : place{p.head + room, 0};
  const place end{start.pos + need, start.off + need == s.capacity ? 0 : start.off + need};
  place tail = place_of(s, p.tail);
  while (end.pos - tail.pos > s.capacity) {
    if (tail.pos >= head.pos) {
      tail = start;  // everything dropped, the padding too
      break;
    }
    drop_entry(s, tail, head);
  }
  if (tail.pos != p.tail) {
    atom(h.tail).store(tail.pos, std::memory_order_relaxed);
    // Readers must see the new tail before any byte of the dropped records changes: a reader
    // that copied such bytes finds its record behind the tail when it looks again.
    std::atomic_thread_fence(std::memory_order_release);
  }
  if (start.pos != head.pos && room >= lf::record_header_size && tail.pos <= head.pos) {
    lf::record_header pad{0, static_cast<std::uint32_t>(room - lf::record_header_size),
                          lf::kind_padding, 0, 0};
    pad.checksum = checksum_of(&pad.length, 0, head.pos);
    std::memcpy(s.data + head.off, &pad, sizeof pad);
  }
  const std::uint64_t seq = p.next_seq;
  lf::record_header record{0, static_cast<std::uint32_t>(data.size()), lf::kind_record, seq,
                           time_ns};
  record.checksum = checksum_of(&record.length, payload, start.pos);
  std::byte* entry = s.data + start.off;
  std::memcpy(entry, &record, sizeof record);
  if (!data.empty()) std::memcpy(entry + lf::record_header_size, data.data(), data.size());
  // The commit: readers read up to head. Sequentially consistent, so that either this writer
  // sees a follower's `sleepers` flag or the follower sees the new head (wake_followers).
  atom(h.head).store(end.pos, std::memory_order_seq_cst);
  atom(h.last).store(start.pos, std::memory_order_relaxed);
  atom(h.next_seq).store(seq + 1, std::memory_order_relaxed);
  s.last_head = end;
  s.last_tail = tail;
  // The next append reads the oldest record's header (to drop it) and writes at `end`.
  __builtin_prefetch(s.data + tail.off);
  __builtin_prefetch(s.data + end.off, 1);
  return seq;
}

// A writer died holding the lock (or its lock was recovered): make the header agree with
// the records again. Only head, last and next_seq can disagree: the dead writer moved the
// tail before touching any byte, and wrote its record beyond head, where no reader looks.
void repair(log_state& s) {
  auto& h = *s.header;
  const published p = load_published(s, std::memory_order_relaxed);
  if (!consistent(s, p)) damaged(s, "its head and tail positions are inconsistent");
  if (p.tail == p.head) return;  // empty: the dead writer had not committed
  // It died before or after moving head; if after, its record follows `last`.
  const bool last_held = p.last >= p.tail && p.last < p.head && p.last % 8 == 0;
  std::optional<newest> found = newest_record(s, last_held ? p.last : p.tail, p.head);
  if (!found && last_held) found = newest_record(s, p.tail, p.head);
  std::uint64_t head = p.head;
  if (!found) {
    // Some bytes before head are not whole: pages lost in a machine crash before they were
    // synced. Keep the whole records before the first broken one.
    std::uint64_t pos = p.tail;
    for (;;) {
      lf::record_header entry;
      const std::uint64_t end = whole_entry_end(s, pos, p.head, entry);
      if (end == 0) break;
      if (entry.kind == lf::kind_record) found = newest{pos, entry};
      pos = end;
    }
    head = found ? pos : p.tail;
    atom(h.head).store(head, std::memory_order_seq_cst);
  }
  if (found) {
    atom(h.last).store(found->pos, std::memory_order_relaxed);
    // Never lower: a number once given is not given again.
    atom(h.next_seq).store(std::max(p.next_seq, found->header.seq + 1), std::memory_order_relaxed);
  }
}

// True when the newest record (found from `last`) ends at head and is numbered just below
// next_seq. Without the lock, a writer publishing a record right now makes this false for an
// instant: check again under the lock before repairing.
bool newest_agrees(const log_state& s) {
  const published p = snapshot(s);
  if (!consistent(s, p)) return false;
  if (p.tail == p.head) return true;
  const bool last_held = p.last >= p.tail && p.last < p.head && p.last % 8 == 0;
  if (!last_held) return false;
  const auto found = newest_record(s, p.last, p.head);
  return found && found->header.seq + 1 == p.next_seq;
}

// Says who holds the lock now, so that a waiter can later tell this holder from a thread
// the kernel never knew. Fields first, then the thread id (release): a waiter that reads
// the same id before and after the fields has this holder's.
// The thread's id and start time, as stamp_owner last looked them up (one thread-local
// access per append).
struct thread_stamp {
  std::uint32_t tid = 0;
  std::uint64_t start = 0;
};

[[gnu::noinline]] void write_stamp(log_state& s, std::uint32_t me, thread_stamp& mine) {
  auto& h = *s.header;
  if (mine.tid != me) {
    mine.tid = me;
    mine.start = detail::thread_start_time(static_cast<pid_t>(me));
  }
  if (atom(h.owner_tid).load(std::memory_order_relaxed) == me &&
      atom(h.owner_start).load(std::memory_order_relaxed) == mine.start &&
      atom(h.owner_boot).load(std::memory_order_relaxed) == s.boot &&
      atom(h.owner_pidns).load(std::memory_order_relaxed) == s.pidns) {
    return;
  }
  atom(h.owner_tid).store(0, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  atom(h.owner_start).store(mine.start, std::memory_order_relaxed);
  atom(h.owner_boot).store(s.boot, std::memory_order_relaxed);
  atom(h.owner_pidns).store(s.pidns, std::memory_order_relaxed);
  atom(h.owner_tid).store(me, std::memory_order_release);
}

inline void stamp_owner(log_state& s) {
  auto& h = *s.header;
  const auto me = static_cast<std::uint32_t>(s.lock->holder());  // from the word we own
  thread_local thread_stamp mine;
  // The common case (this thread held the lock last): the stamp is already this thread's.
  if (mine.tid == me && atom(h.owner_tid).load(std::memory_order_relaxed) == me &&
      atom(h.owner_start).load(std::memory_order_relaxed) == mine.start &&
      atom(h.owner_boot).load(std::memory_order_relaxed) == s.boot &&
      atom(h.owner_pidns).load(std::memory_order_relaxed) == s.pidns) [[likely]] {
    return;
  }
  write_stamp(s, me, mine);
}

// Watches a holder that keeps the lock for long.
struct holder_watch {
  pid_t tid = -1;
  std::chrono::steady_clock::time_point unstamped_since{};
};

// True when the lock's holder is gone although the kernel could not know it: the holder ran
// in another boot of the machine, or its thread no longer exists, or another thread has its
// id now. `watch.tid` is then the holder to recover. A holder named in another PID namespace
// cannot be judged from here and is waited for.
bool holder_is_lost(const log_state& s, holder_watch& watch) {
  auto& h = *s.header;
  const pid_t holder = s.lock->holder();
  if (holder == 0) {
    // Held by no thread, yet not free: the lock word is damaged (recovering a lock that was
    // just released changes nothing).
    watch.tid = 0;
    return true;
  }
  const std::uint32_t stamped = atom(h.owner_tid).load(std::memory_order_acquire);
  const std::uint64_t boot = atom(h.owner_boot).load(std::memory_order_relaxed);
  const std::uint64_t pidns = atom(h.owner_pidns).load(std::memory_order_relaxed);
  const std::uint64_t start = atom(h.owner_start).load(std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  const bool stamp_is_holders = stamped == static_cast<std::uint32_t>(holder) &&
                                atom(h.owner_tid).load(std::memory_order_relaxed) == stamped;
  const detail::thread_presence presence = detail::thread_exists(holder);
  if (stamp_is_holders) {
    watch.unstamped_since = {};
    watch.tid = holder;
    const std::uint64_t my_boot = s.boot;
    const std::uint64_t my_pidns = s.pidns;
    if (boot != 0 && my_boot != 0 && boot != my_boot) return true;
    if (pidns != 0 && my_pidns != 0 && pidns != my_pidns) return false;
    if (presence == detail::thread_presence::gone) return true;
    const std::uint64_t now_start = detail::thread_start_time(holder);
    return now_start != 0 && start != 0 && now_start != start;
  }
  // Not stamped yet: a holder stamps an instant after taking the lock, so a holder that
  // stays unstamped for a second, and does not exist, died in that instant on a machine that
  // has since restarted (or in a file since copied).
  if (presence != detail::thread_presence::gone) {
    watch.unstamped_since = {};
    return false;
  }
  const auto now = std::chrono::steady_clock::now();
  if (watch.tid != holder || watch.unstamped_since == std::chrono::steady_clock::time_point{}) {
    watch.tid = holder;
    watch.unstamped_since = now;
    return false;
  }
  return now - watch.unstamped_since >= 1s;
}

// The lock is busy: spin briefly (a holder keeps it for well under a microsecond), then yield,
// then wait in slices, checking between them whether the holder is lost.
lock_status wait_for_lock(const log_state& s, bool& recovered) {
  for (int i = 0; i < 32; ++i) {
    for (int k = 0; k < 4; ++k) cpu_relax();
    if (s.lock->holder() == 0) {
      if (auto got = s.lock->try_lock()) return *got;
    }
  }
  for (int i = 0; i < 16; ++i) {
    ::sched_yield();
    if (auto got = s.lock->try_lock()) return *got;
  }
  holder_watch watch;
  for (;;) {
    if (auto got = s.lock->try_lock_for(100ms)) return *got;
    if (holder_is_lost(s, watch) && s.lock->recover_lost_holder(watch.tid)) recovered = true;
  }
}

// Counts one more in a counter of the header, under the writers' lock.
void bump(std::uint64_t& counter) {
  atom(counter).store(atom(counter).load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// The rest of lock_writers, out of line: the lock busy or its holder dead, or a repair to
// make.
[[gnu::noinline]] bool lock_writers_slow(log_state& s, volatile bool& locked, bool wait,
                                         std::optional<lock_status> got) {
  bool recovered = false;
  if (!got && !wait) return false;
  if (!got) got = wait_for_lock(s, recovered);
  locked = true;
  auto& h = *s.header;
  if (*got == lock_status::owner_died) {
    // Noted in the file before the mutex is declared consistent: should the repair fail
    // (damage) or this writer die too, the next writer repairs.
    atom(h.repair_pending).store(1, std::memory_order_relaxed);
    s.lock->mark_consistent();
  }
  stamp_owner(s);
  if (recovered) bump(h.locks_recovered);
  if (atom(h.repair_pending).load(std::memory_order_relaxed) != 0) {
    repair(s);
    atom(h.repair_pending).store(0, std::memory_order_relaxed);
    bump(h.repairs);
  }
  return true;
}

// Takes the writers' lock and leaves the log repaired if a writer died holding it.
// With `wait` false, gives up (returns false) when another thread holds the lock.
inline bool lock_writers(log_state& s, volatile bool& locked, bool wait = true) {
  if (!s.lock->valid()) [[unlikely]]
    damaged(s, "its writers' lock does not hold a lock");
  const std::optional<lock_status> got = s.lock->try_lock();
  if (got != lock_status::acquired ||
      atom(s.header->repair_pending).load(std::memory_order_relaxed) != 0) [[unlikely]] {
    return lock_writers_slow(s, locked, wait, got);
  }
  locked = true;
  stamp_owner(s);
  return true;
}

// Releases the lock after an exception left it held; when the header's page is gone with
// it, keeps the mapping for good (see log_state::keep_mapped).
void unlock_after_failure(log_state& s) noexcept {
  try {
    guarded(s, "unlock", [&] { s.lock->unlock(); });
  } catch (const lost_pages_error&) {
    s.keep_mapped = true;
  } catch (...) {
  }
}

// Runs `body` holding the writers' lock, inside the guard. With `wait` false, does nothing
// when another thread holds the lock.
template <class Body>
void with_writers_lock(log_state& s, std::string_view op, Body&& body, bool wait = true) {
  volatile bool locked = false;
  try {
    guarded(s, op, [&] {
      if (!lock_writers(s, locked, wait)) return;
      body();
      s.lock->unlock();
      locked = false;
    });
  } catch (...) {
    if (locked) unlock_after_failure(s);
    throw;
  }
}

// Wakes sleeping followers, if any; the only system call an append may make.
void wake_followers(log_state& s) {
  auto& h = *s.header;
  if (atom(h.sleepers).load(std::memory_order_seq_cst) == 0) return;
  if (atom(h.sleepers).exchange(0) == 0) return;
  atom(h.wake).fetch_add(1);
  ::syscall(SYS_futex, &h.wake, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

// --- Opening and creating ---------------------------------------------------------------

std::uint32_t identity_check_of(const lf::header& h) {
  return static_cast<std::uint32_t>(XXH3_64bits(&h, offsetof(lf::header, identity_check)));
}

std::string size_text(std::uint64_t n) {
  return std::to_string(n) + " bytes";
}

// Refuses a header that does not describe a version-1 ring log of `file_size` bytes.
void check_identity(const std::filesystem::path& path, const lf::header& h, std::uint64_t file_size,
                    bool writable) {
  auto refuse = [&](const std::string& what) { throw ring_log_error(path, what); };
  if (std::memcmp(h.magic, lf::magic, sizeof h.magic) != 0) {
    refuse("not a ring log (it does not begin with \"MMIPCLOG\")");
  }
  if (h.version_major != lf::version_major) {
    refuse("ring log format version " + std::to_string(h.version_major) + "." +
           std::to_string(h.version_minor) + " is not supported (this library reads version " +
           std::to_string(lf::version_major) + ")");
  }
  if (h.identity_check != identity_check_of(h)) {
    refuse("damaged ring log: the checksum of its header does not match");
  }
  if (h.header_size != lf::header_size || h.data_offset != lf::header_size ||
      h.record_alignment != lf::record_alignment) {
    refuse("damaged ring log: its header describes a layout version 1 does not use");
  }
  if (h.capacity % lf::record_alignment != 0 || h.capacity < lf::min_capacity ||
      h.file_size < lf::header_size || h.capacity > h.file_size - lf::header_size ||
      h.file_size - lf::header_size - h.capacity >= lf::record_alignment) {
    refuse("damaged ring log: its header gives a data area of " + size_text(h.capacity) +
           " in a file of " + size_text(h.file_size));
  }
  if (h.file_size != file_size) {
    refuse("the file is " + size_text(file_size) + " but the ring log's header says " +
           size_text(h.file_size) + ": it was truncated or extended");
  }
  if (writable && h.lock_abi != lf::lock_abi()) {
    refuse("its writers' lock was laid out by another platform (lock ABI " +
           std::to_string(h.lock_abi) + ", here " + std::to_string(lf::lock_abi()) +
           "): open it read-only");
  }
}

std::shared_ptr<log_state> open_state(unique_fd fd, const std::filesystem::path& path,
                                      bool writable) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw_errno("fstat", path.native());
  if (!S_ISREG(st.st_mode)) throw ring_log_error(path, "not a ring log (not a regular file)");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < lf::header_size) {
    throw ring_log_error(path, "not a ring log (" + size_text(size) +
                                   ", smaller than a ring log's header of " +
                                   size_text(lf::header_size) + ")");
  }
  // The header through read(), not the mapping: nothing here can raise SIGBUS.
  auto h = std::make_unique<lf::header>();
  auto* out = reinterpret_cast<unsigned char*>(h.get());
  for (std::size_t done = 0; done < sizeof(lf::header);) {
    const ssize_t n = retry_on_eintr(
        [&] { return ::pread(fd.get(), out + done, sizeof(lf::header) - done, done); });
    if (n < 0) throw_errno("read", path.native());
    if (n == 0) throw ring_log_error(path, "not a ring log (it shrank while it was opened)");
    done += static_cast<std::size_t>(n);
  }
  check_identity(path, *h, size, writable);

  auto s = std::make_shared<log_state>();
  s->path = path;
  s->writable = writable;
  map_options options;
  options.access = writable ? access_mode::read_write : access_mode::read_only;
  s->map = mapping::map(fd.get(), 0, std::nullopt, options, path.native());
  s->header = reinterpret_cast<lf::header*>(s->map.data());
  s->data = s->map.data() + lf::header_size;
  s->capacity = h->capacity;
  s->file_size = size;
  s->max_record = std::min<std::uint64_t>(h->capacity - lf::record_header_size,
                                          UINT32_MAX & ~(lf::record_alignment - 1));
  s->lock = std::launder(reinterpret_cast<robust_mutex*>(s->header->lock));
  s->boot = detail::boot_fingerprint();
  s->pidns = detail::pid_namespace_id();
  bool lock_ok = true;
  bool state_ok = true;
  guarded(*s, "open", [&] {
    state_ok = consistent(*s, snapshot(*s));
    lock_ok = !writable || s->lock->valid();
  });
  if (!state_ok) damaged(*s, "its head and tail positions are inconsistent");
  if (!lock_ok) damaged(*s, "its writers' lock does not hold a lock");
  // The newest record and the number the next one gets must agree, or a writer would number
  // a record below those already there. A writer killed mid-append leaves them apart; any
  // other disagreement is damage. Either way it is repaired now, under the lock, if the
  // lock is free: opening never waits. (A held lock means a writer at work, which leaves
  // them agreeing, or a dead one, whose lock makes the next writer repair.)
  bool agree = true;
  guarded(*s, "open", [&] { agree = newest_agrees(*s); });
  if (!agree && writable) {
    with_writers_lock(
        *s, "open",
        [&] {
          if (!newest_agrees(*s)) repair(*s);
        },
        false);
  }
  return s;
}

// A name for the file being prepared next to `path`, unique to this process and call.
// The random part comes from std::random_device at each call, not from a thread_local
// engine: the 2.5 KiB of a thread_local mt19937_64 overflow the static TLS that a library
// loaded with dlopen (a Tcl or Perl binding) gets, since the SIGBUS guard's thread_local is
// initial-exec.
std::filesystem::path scratch_name(const std::filesystem::path& path) {
  static std::atomic<unsigned> counter{0};
  const std::string name = "." + path.filename().native() + ".new-" + std::to_string(::getpid()) +
                           "-" + std::to_string(++counter) + "-" +
                           std::to_string(std::random_device{}() % 1000000);
  return path.parent_path() / name;
}

}  // namespace

// --- ring_log ---------------------------------------------------------------------------

ring_log::ring_log(std::shared_ptr<detail::log_state> state) noexcept : state_(std::move(state)) {}
ring_log::~ring_log() = default;

const detail::log_state& ring_log::state(const char* op) const {
  if (!state_) throw_os_error(EBADF, op, "ring log (none open)");
  return *state_;
}

ring_log ring_log::create(const std::filesystem::path& path, std::uint64_t size, mode_t mode) {
  if (size < min_size || size > static_cast<std::uint64_t>(INT64_MAX)) {
    throw std::invalid_argument(
        "cannot create ring log \"" + path.native() + "\": size " + std::to_string(size) +
        (size < min_size ? " is too small (at least " + std::to_string(min_size) +
                               " bytes: a 4096-byte header and 64 bytes "
                               "of records)"
                         : " is too large"));
  }
  if (path.filename().empty()) {
    throw std::invalid_argument("cannot create ring log \"" + path.native() + "\": no file name");
  }
  // Prepared under a scratch name and linked into place whole: no one ever opens a log
  // half made, and a failure leaves nothing behind.
  std::filesystem::path scratch;
  unique_fd fd;
  for (int attempt = 0; !fd; ++attempt) {
    scratch = scratch_name(path);
    const int raw = ::open(scratch.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (raw >= 0) {
      fd.reset(raw);
    } else if (errno != EEXIST || attempt > 100) {
      throw_errno("create", path.native());
    }
  }
  struct remove_scratch {
    const std::filesystem::path* path;
    ~remove_scratch() {
      if (path != nullptr) ::unlink(path->c_str());
    }
  } cleanup{&scratch};

  // Every block now: a full disk fails here, not in a page fault later.
  int err;
  do {
    err = ::posix_fallocate(fd.get(), 0, static_cast<off_t>(size));
  } while (err == EINTR);
  if (err != 0) throw_os_error(err, "posix_fallocate", path.native());

  auto h = std::make_unique<lf::header>();
  std::memset(h.get(), 0, sizeof(lf::header));
  std::memcpy(h->magic, lf::magic, sizeof h->magic);
  h->version_major = lf::version_major;
  h->version_minor = lf::version_minor;
  h->header_size = lf::header_size;
  h->record_alignment = lf::record_alignment;
  h->file_size = size;
  h->data_offset = lf::header_size;
  h->capacity = (size - lf::header_size) & ~(lf::record_alignment - 1);
  h->created_ns = realtime_ns();
  h->lock_abi = lf::lock_abi();
  h->identity_check = identity_check_of(*h);
  new (h->lock) robust_mutex;  // its bytes hold no address: they may be written anywhere
  h->next_seq = 1;
  const auto* in = reinterpret_cast<const unsigned char*>(h.get());
  for (std::size_t done = 0; done < sizeof(lf::header);) {
    const ssize_t n = retry_on_eintr(
        [&] { return ::pwrite(fd.get(), in + done, sizeof(lf::header) - done, done); });
    if (n <= 0) throw_errno("write", path.native());
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) throw_errno("fsync", path.native());

  if (::renameat2(AT_FDCWD, scratch.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno != EINVAL && errno != ENOSYS) throw_errno("create", path.native());
    // A filesystem without RENAME_NOREPLACE: link() fails just as well if the name exists.
    if (::link(scratch.c_str(), path.c_str()) != 0) throw_errno("create", path.native());
  } else {
    cleanup.path = nullptr;
  }
  // The directory entry too, so a crash now does not lose the new log (best effort).
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  try {
    return ring_log(open_state(std::move(fd), path, true));
  } catch (...) {
    ::unlink(path.c_str());  // ours, linked a moment ago
    throw;
  }
}

ring_log ring_log::open(const std::filesystem::path& path, bool writable) {
  // O_NONBLOCK: a FIFO given by mistake is refused at once instead of waiting for a writer
  // (it changes nothing for a regular file).
  return ring_log(open_state(unique_fd::open(path, (writable ? O_RDWR : O_RDONLY) | O_NONBLOCK),
                             path, writable));
}

std::uint64_t ring_log::append(std::span<const std::byte> data) {
  auto& s = const_cast<log_state&>(state("append"));
  if (!s.writable) throw_os_error(EBADF, "append", s.path.native() + " (opened read-only)");
  if (data.size() > s.max_record) {
    throw std::invalid_argument(
        "ring log " + s.path.native() + ": a record of " + std::to_string(data.size()) +
        " bytes is larger than the log can hold (" + std::to_string(s.max_record) + " bytes)");
  }
  // Outside the lock, to keep it short for other writers: the time (so concurrent writers'
  // records may be a few hundred nanoseconds out of time order) and the payload's hash.
  const std::int64_t time_ns = realtime_ns();
  const std::uint64_t payload = payload_hash(data.data(), data.size());
  std::uint64_t seq = 0;
  volatile bool locked = false;
  try {
    guarded(s, "append", [&] {
      lock_writers(s, locked);
      seq = append_locked(s, data, time_ns, payload);
      s.lock->unlock();
      locked = false;
      wake_followers(s);
    });
  } catch (...) {
    if (locked) unlock_after_failure(s);
    throw;
  }
  return seq;
}

void ring_log::sync() const {
  state("msync").map.sync(sync_mode::sync);
}

log_stats ring_log::stats() const {
  auto& s = const_cast<log_state&>(state("stat"));
  log_stats st;
  st.file_size = s.file_size;
  st.capacity = s.capacity;
  st.max_record_size = s.max_record;
  // Optimistic: read without the lock, and check that the oldest record stayed while it was
  // read. Writers that keep dropping it make that fail; then hold the lock a moment.
  auto take = [&](bool check) -> bool {
    auto& h = *s.header;
    const published p = snapshot(s);
    if (!consistent(s, p)) damaged(s, "its head and tail positions are inconsistent");
    st.repairs = atom(h.repairs).load(std::memory_order_relaxed);
    st.locks_recovered = atom(h.locks_recovered).load(std::memory_order_relaxed);
    st.created = log_time(std::chrono::nanoseconds(h.created_ns));
    st.bytes_used = p.head - p.tail;
    st.records = st.first_seq = st.last_seq = 0;
    st.first_time = st.last_time = log_time{};
    st.dropped = p.next_seq - 1;
    std::uint64_t pos = p.tail;
    std::optional<newest> first;
    while (pos < p.head && !first) {
      lf::record_header entry;
      const std::uint64_t end = whole_entry_end(s, pos, p.head, entry);
      if (end == 0) {
        pos = resync(s, pos + lf::record_alignment, p.head, 0);
      } else if (entry.kind == lf::kind_record) {
        first = newest{pos, entry};
      } else {
        pos = end;
      }
    }
    std::optional<newest> last;
    if (first) {
      const bool last_held = p.last >= first->pos && p.last < p.head && p.last % 8 == 0;
      last = newest_record(s, last_held ? p.last : first->pos, p.head);
      if (!last) last = first;  // damage after the oldest: at least the oldest is known
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (check && atom(h.tail).load(std::memory_order_relaxed) != p.tail) return false;
    if (first && last) {
      st.first_seq = first->header.seq;
      st.first_time = log_time(std::chrono::nanoseconds(first->header.time_ns));
      st.last_seq = std::max(last->header.seq, first->header.seq);
      st.last_time = log_time(std::chrono::nanoseconds(last->header.time_ns));
      st.records = st.last_seq - st.first_seq + 1;
      st.dropped = st.first_seq - 1;
    }
    return true;
  };
  for (int attempt = 0;; ++attempt) {
    bool done = false;
    if (attempt >= 32 && s.writable) {
      with_writers_lock(s, "stat", [&] { done = take(false); });
      return st;
    }
    guarded(s, "stat", [&] { done = take(attempt < 10000); });
    if (done) return st;
    if (attempt >= 8) ::sched_yield();
  }
}

ring_log_reader ring_log::reader() const {
  state("read");
  return ring_log_reader(state_, 0);
}

ring_log_reader ring_log::reader(std::uint64_t from_seq) const {
  state("read");
  return ring_log_reader(state_, from_seq == 0 ? 1 : from_seq);
}

const std::filesystem::path& ring_log::path() const {
  return state("path").path;
}
std::uint64_t ring_log::file_size() const {
  return state("size").file_size;
}
std::uint64_t ring_log::capacity() const {
  return state("size").capacity;
}
std::uint64_t ring_log::max_record_size() const {
  return state("size").max_record;
}
bool ring_log::writable() const {
  return state("writable").writable;
}

// --- ring_log_reader --------------------------------------------------------------------

ring_log_reader::ring_log_reader(std::shared_ptr<detail::log_state> state, std::uint64_t from_seq)
    : state_(std::move(state)), expected_(from_seq), from_seq_(from_seq) {
  if (!state_) throw_os_error(EBADF, "read", "ring log (none open)");
  const log_state& s = *state_;
  guarded(s, "read", [&] {
    const published p = snapshot(s);
    if (!consistent(s, p)) damaged(s, "its head and tail positions are inconsistent");
    pos_ = p.tail;
    if (from_seq_ <= 1 || p.tail == p.head) return;
    // Past the newest record: start at the end (records below from_seq are skipped anyway).
    const bool last_held = p.last >= p.tail && p.last < p.head && p.last % 8 == 0;
    if (!last_held) return;
    const auto found = newest_record(s, p.last, p.head);
    if (found && found->header.seq < from_seq_) pos_ = p.head;
  });
}

ring_log_reader::~ring_log_reader() = default;

std::optional<log_record> ring_log_reader::next() {
  if (!state_) throw_os_error(EBADF, "read", "ring log reader (none open)");
  std::optional<log_record> result;
  guarded(*state_, "read", [&] { result = next_guarded(); });
  return result;
}

std::optional<log_record> ring_log_reader::next_guarded() {
  const log_state& s = *state_;
  auto& h = *s.header;
  for (;;) {
    const published p = snapshot(s);
    if (!consistent(s, p)) damaged(s, "its head and tail positions are inconsistent");
    const std::uint64_t tail = p.tail;
    const std::uint64_t head = p.head;
    // Overtaken: what was at pos_ was dropped. The gap shows in the next record's number.
    if (pos_ < tail) pos_ = tail;
    if (pos_ > head) pos_ = head;  // the log was repaired after a crash: its end moved back
    if (pos_ == head) return std::nullopt;
    const std::uint64_t room = room_at(s, pos_);
    if (room < lf::record_header_size) {
      pos_ += room;
      continue;
    }
    const lf::record_header peek = header_at(s, pos_);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (atom(h.tail).load(std::memory_order_relaxed) > pos_) continue;  // dropped meanwhile
    const entry_kind kind = kind_of(s, peek, room);
    if (kind == entry_kind::padding || (kind == entry_kind::record && peek.seq < from_seq_)) {
      // A padding, or a record below the first number wanted (skipped, not missed): checked
      // in place before its length is trusted, then not read.
      lf::record_header entry;
      const std::uint64_t end = whole_entry_end(s, pos_, head, entry);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (atom(h.tail).load(std::memory_order_relaxed) > pos_) continue;
      if (end != 0 && (entry.kind == lf::kind_padding || entry.seq < from_seq_)) {
        pos_ = end;
        continue;
      }
    }
    // Copy the whole entry, then check it: still not dropped, and whole.
    const std::uint64_t length = kind == entry_kind::record ? peek.length : 0;
    buffer_.resize(lf::record_header_size + length);
    std::memcpy(buffer_.data(), bytes_at(s, pos_), buffer_.size());
    std::atomic_thread_fence(std::memory_order_acquire);
    if (atom(h.tail).load(std::memory_order_relaxed) > pos_) continue;
    lf::record_header record;
    std::memcpy(&record, buffer_.data(), sizeof record);
    if (kind != entry_kind::record || record.length != length ||
        pos_ + lf::record_span(length) > head || !whole(record, buffer_.data(), pos_) ||
        (expected_ != 0 && record.seq < expected_)) {
      // Damaged bytes (or a record numbered before one already read): go on at the next
      // whole record; what is skipped shows as missed.
      pos_ = resync(s, pos_ + lf::record_alignment, head, std::max(expected_, from_seq_));
      continue;
    }
    log_record out;
    out.seq = record.seq;
    out.time = log_time(std::chrono::nanoseconds(record.time_ns));
    out.data = std::span<const std::byte>(buffer_.data() + lf::record_header_size, length);
    out.missed = expected_ != 0 && record.seq > expected_ ? record.seq - expected_ : 0;
    missed_ += out.missed;
    expected_ = record.seq + 1;
    pos_ += lf::record_span(length);
    return out;
  }
}

std::span<const log_record> ring_log_reader::next_batch(std::size_t max_bytes) {
  if (!state_) throw_os_error(EBADF, "read", "ring log reader (none open)");
  batch_count_ = 0;
  guarded(*state_, "read", [&] { batch_guarded(max_bytes); });
  return {batch_.data(), batch_count_};
}

// The records from pos_ up to head, the end of the data area or about `max_bytes`, whichever
// comes first: copied at once, then checked as next_guarded() checks one record (the copy is
// still there: the tail did not pass its start; each entry whole, numbered in order). What
// the fast path does not handle (an overtaken reader, damage) is left to next_guarded().
void ring_log_reader::batch_guarded(std::size_t max_bytes) {
  const log_state& s = *state_;
  auto& h = *s.header;
  const published p = snapshot(s);
  if (!consistent(s, p)) damaged(s, "its head and tail positions are inconsistent");
  if (pos_ < p.tail) pos_ = p.tail;
  if (pos_ > p.head) pos_ = p.head;
  if (pos_ == p.head) return;
  const std::uint64_t room = room_at(s, pos_);
  std::uint64_t length = std::min<std::uint64_t>(p.head - pos_, room);
  std::uint64_t wanted = max_bytes;
  if (room >= lf::record_header_size) {
    // At least the first entry, however long (its length is checked again in the copy).
    const lf::record_header first = header_at(s, pos_);
    if (kind_of(s, first, room) == entry_kind::record) {
      wanted = std::max(wanted, lf::record_span(first.length));
    }
  }
  length = std::min(length, std::max<std::uint64_t>(wanted, lf::record_alignment));
  if (batch_bytes_.size() < length) batch_bytes_.resize(length);
  // Room for as many records as the copy can hold (each takes 32 bytes at least).
  if (batch_.size() < length / lf::record_header_size + 1) {
    batch_.resize(length / lf::record_header_size + 1);
  }
  log_record* records = batch_.data();
  std::byte* copy = batch_bytes_.data();
  const std::byte* from = bytes_at(s, pos_);
#ifdef MADV_POPULATE_READ
  if (length >= 64 * 1024) {
    // The pages at once rather than a fault every few of them (best effort: Linux 5.14).
    const auto page = static_cast<std::uintptr_t>(mapping::page_size());
    const auto start = reinterpret_cast<std::uintptr_t>(from) & ~(page - 1);
    ::madvise(reinterpret_cast<void*>(start),
              reinterpret_cast<std::uintptr_t>(from) + length - start, MADV_POPULATE_READ);
  }
#endif
  std::memcpy(copy, from, length);
  std::atomic_thread_fence(std::memory_order_acquire);
  std::uint64_t at = 0;
  if (atom(h.tail).load(std::memory_order_relaxed) <= pos_) {
    while (at < length) {
      const std::uint64_t pos = pos_ + at;
      const std::uint64_t left = room - at;  // to the end of the data area
      if (left < lf::record_header_size) {
        at += left;  // a short end, up to the end of the area (and of the copy)
        continue;
      }
      if (length - at < lf::record_header_size) break;
      lf::record_header entry;
      std::memcpy(&entry, copy + at, sizeof entry);
      const entry_kind kind = kind_of(s, entry, left);
      const std::uint64_t span = kind == entry_kind::record ? lf::record_span(entry.length) : left;
      if (kind == entry_kind::invalid || at + span > length || !whole(entry, copy + at, pos)) {
        break;
      }
      if (kind == entry_kind::padding || entry.seq < from_seq_) {
        at += span;  // a padding, or a record below the first wanted: skipped, not missed
        continue;
      }
      if (expected_ != 0 && entry.seq < expected_) break;  // out of order: next_guarded()
      log_record& out = records[batch_count_++];
      out.seq = entry.seq;
      out.time = log_time(std::chrono::nanoseconds(entry.time_ns));
      out.data = std::span<const std::byte>(copy + at + lf::record_header_size, entry.length);
      out.missed = expected_ != 0 && entry.seq > expected_ ? entry.seq - expected_ : 0;
      missed_ += out.missed;
      expected_ = entry.seq + 1;
      at += span;
    }
  }
  pos_ += at;
  if (batch_count_ == 0) {
    // Overtaken while copying, damage, or only skipped entries so far: one record the
    // careful way.
    if (auto record = next_guarded()) {
      if (batch_.empty()) batch_.resize(1);
      batch_[batch_count_++] = *record;
    }
  }
}

bool ring_log_reader::available() const {
  auto& h = *state_->header;
  const std::uint64_t tail = atom(h.tail).load(std::memory_order_seq_cst);
  const std::uint64_t head = atom(h.head).load(std::memory_order_seq_cst);
  return std::max(pos_, tail) < head || pos_ > head;
}

bool ring_log_reader::wait_ns(std::chrono::nanoseconds timeout) {
  if (!state_) throw_os_error(EBADF, "wait", "ring log reader (none open)");
  const log_state& s = *state_;
  auto& h = *s.header;
  const bool endless = timeout == forever;
  const timespec deadline = detail::deadline_after(CLOCK_MONOTONIC, endless ? 0ns : timeout);
  for (;;) {
    bool ready = false;
    std::uint32_t seen = 0;
    guarded(s, "wait", [&] {
      ready = available();
      if (ready) return;
      if (s.writable) {
        // Announce the sleep, then look again: a writer that committed before seeing the
        // flag has its record seen here (both sides are sequentially consistent).
        atom(h.sleepers).store(1, std::memory_order_seq_cst);
      }
      seen = atom(h.wake).load(std::memory_order_seq_cst);
      ready = available();
    });
    if (ready) return true;
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const auto left = endless ? std::chrono::nanoseconds(forever)
                              : std::chrono::seconds(deadline.tv_sec - now.tv_sec) +
                                    std::chrono::nanoseconds(deadline.tv_nsec - now.tv_nsec);
    if (left <= 0ns) return false;
    // Sleep in slices: a writer killed between its commit and the wake-up cannot leave a
    // follower asleep for long, and a read-only follower (which cannot announce itself)
    // looks again every 100 ms.
    const auto slice = std::min<std::chrono::nanoseconds>(left, s.writable ? 1s : 100ms);
    const timespec until = detail::deadline_after(CLOCK_MONOTONIC, slice);
    const long r = ::syscall(SYS_futex, &h.wake, FUTEX_WAIT_BITSET, seen, &until, nullptr,
                             FUTEX_BITSET_MATCH_ANY);
    if (r != 0 && errno == EFAULT) {
      // The header's page went (the file was truncated): as a touch of it would say.
      throw lost_pages_error(EFAULT, "wait", s.path.native());
    }
    if (r != 0 && errno != ETIMEDOUT && errno != EAGAIN && errno != EINTR) {
      throw_errno("futex wait", s.path.native());
    }
  }
}

std::optional<log_record> ring_log_reader::next_within(std::chrono::nanoseconds timeout) {
  const bool endless = timeout == forever;
  const auto until = std::chrono::steady_clock::now() + (endless ? 0ns : timeout);
  for (;;) {
    if (auto record = next()) return record;
    const auto left = endless ? forever : until - std::chrono::steady_clock::now();
    if (left <= 0ns || !wait_ns(left)) return next();
  }
}

}  // namespace mmipc
