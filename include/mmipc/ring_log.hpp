#pragma once
// ring_log: a cyclic log file. One plain file of fixed size (a header, then a data area)
// always holding the most recent records, oldest dropped first; persistent, shared by any
// number of writer and reader processes, and safe against a writer killed at any instant.
//
//   auto log = mmipc::ring_log::create("app.log", 64 * 1024);   // or ring_log::open(path)
//   log.append("started");                                       // returns the record's seq
//
//   auto reader = log.reader();                                  // from the oldest record
//   while (auto record = reader.next()) use(record->seq, record->time, record->text());
//   if (reader.wait_for(std::chrono::seconds(5))) ...            // follow: new records came
//
// What a user may rely on (doc/ring-log-format.md has the bytes):
// - A record is a byte string (binary-safe, may be empty) with a sequence number (from 1,
//   never reused, one more for each record) and a CLOCK_REALTIME timestamp in nanoseconds,
//   both given when it is appended (the time just before the writers' lock is taken, so
//   the records of concurrent writers may be a few hundred nanoseconds out of time order).
//   Records are read back in sequence order.
// - Appending never waits for readers. When the data area is full, the oldest records are
//   dropped to make room. A record larger than max_record_size() is refused
//   (std::invalid_argument naming both sizes). Reopening continues after the last record.
// - Writers in any threads and processes exclude each other with a robust mutex kept in the
//   header; each record is stored whole, contiguous, with a checksum. A writer killed at any
//   instant loses at most the record it was appending: the next writer repairs the log
//   (stats().repairs counts it) and no reader ever returns a partial or mixed record. A lock
//   left held by a thread this kernel never knew (the machine crashed, or the file was
//   copied, while it was held) is recognised as lost and recovered after a short wait.
// - Readers take no lock. A reader that writers overtake (its next record was dropped)
//   skips to the oldest record still there and says how many it missed.
// - Following: wait_for() sleeps on a futex in the header until a writer appends; writers
//   make the wake-up system call only when someone sleeps. A log opened read-only cannot
//   announce its followers, so they look again every 100 ms.
// - Durability: an append is in the page cache when it returns (it survives the writer's
//   crash); sync() writes the log to its device (it survives the machine's crash).
// - create() reserves every block of the file (posix_fallocate): a full disk is an error
//   then, never later. A file truncated under an open log makes its operations fail with
//   lost_pages_error (guarded_copy.hpp), never kills the process.
// - open() refuses, with ring_log_error, any file that is not a valid version-1 ring log,
//   whatever it holds.
// - One ring_log may be used by many threads at once; a ring_log_reader by one at a time.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "mmipc/timeout.hpp"

namespace mmipc {

namespace detail {
struct log_state;
}

/// The time of a record: nanoseconds since the epoch (CLOCK_REALTIME).
using log_time = std::chrono::sys_time<std::chrono::nanoseconds>;

/// A file that is not a ring log, or a ring log whose bytes are damaged. what() reads
/// "<path>: <what is wrong>".
class ring_log_error : public std::invalid_argument {
 public:
  ring_log_error(const std::filesystem::path& path, const std::string& problem)
      : std::invalid_argument(path.native() + ": " + problem), path_(path) {}
  /// The log file.
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// A record read back.
struct log_record {
  /// Its sequence number.
  std::uint64_t seq = 0;
  /// When it was appended.
  log_time time{};
  /// Its bytes; valid until the reader's next call.
  std::span<const std::byte> data;
  /// Records the reader never saw just before this one: dropped (or damaged) before it
  /// could read them. 0 normally.
  std::uint64_t missed = 0;
  /// The bytes as characters.
  std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(data.data()), data.size()};
  }
};

/// A snapshot of a log (what `mmipc log stat` prints).
struct log_stats {
  std::uint64_t file_size = 0;        ///< bytes of the file
  std::uint64_t capacity = 0;         ///< bytes of the data area
  std::uint64_t max_record_size = 0;  ///< the longest record it accepts
  std::uint64_t bytes_used = 0;       ///< bytes of the data area the records hold
  std::uint64_t records = 0;          ///< records held
  std::uint64_t first_seq = 0;        ///< oldest record held (0 when none)
  std::uint64_t last_seq = 0;         ///< newest record held (0 when none)
  log_time first_time{};              ///< time of the oldest record held
  log_time last_time{};               ///< time of the newest record held
  std::uint64_t dropped = 0;          ///< records appended, then dropped to make room
  std::uint64_t repairs = 0;          ///< torn appends repaired (writers killed mid-append)
  std::uint64_t locks_recovered = 0;  ///< locks recovered from holders the kernel never knew
  log_time created{};                 ///< when the log was created
};

/// Reads the records of a ring_log in sequence order, without locking; follows new ones.
/// Keeps the log's file mapped while it lives. Not for concurrent use by several threads.
class ring_log_reader {
 public:
  /// Nothing open, as is a moved-from reader: next(), next_batch(), wait_for() and
  /// next_for() throw os_error(EBADF).
  ring_log_reader() noexcept = default;
  ring_log_reader(ring_log_reader&&) noexcept = default;
  ring_log_reader& operator=(ring_log_reader&&) noexcept = default;
  ring_log_reader(const ring_log_reader&) = delete;
  ring_log_reader& operator=(const ring_log_reader&) = delete;
  ~ring_log_reader();

  /// The next record, or std::nullopt when there is none yet. Throws lost_pages_error when
  /// the file was truncated under the log, ring_log_error when its header is damaged.
  std::optional<log_record> next();

  /// The next records, oldest first: those there now, up to about `max_bytes` of them (at
  /// least one when there is any, however long), or none yet. Each record's data (and the
  /// span) stays valid until the reader's next call. The same records, checks and `missed`
  /// counts as calling next() repeatedly, but one copy and one look at the writers' state per
  /// batch instead of per record: for reading a whole log fast (`mmipc log cat`). Throws as
  /// next() does.
  std::span<const log_record> next_batch(std::size_t max_bytes = 1 << 20);

  /// Waits at most `timeout` (`forever`: without limit) until next() may have a record:
  /// true when a writer appended (or there was something to read already), false when the
  /// time ran out.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) {
    return wait_ns(to_timeout(timeout));
  }
  /// The next record, waiting at most `timeout` for one to come.
  template <class Rep, class Period>
  std::optional<log_record> next_for(std::chrono::duration<Rep, Period> timeout) {
    return next_within(to_timeout(timeout));
  }

  /// The sequence number this reader expects next (0 before the first record of a reader
  /// that began at the oldest): a reader made from it later resumes here.
  std::uint64_t next_seq() const noexcept { return expected_ != 0 ? expected_ : from_seq_; }
  /// Records missed so far (the sum of log_record::missed).
  std::uint64_t missed() const noexcept { return missed_; }

 private:
  friend class ring_log;
  ring_log_reader(std::shared_ptr<detail::log_state> state, std::uint64_t from_seq);
  bool wait_ns(std::chrono::nanoseconds timeout);
  std::optional<log_record> next_within(std::chrono::nanoseconds timeout);
  std::optional<log_record> next_guarded();
  void batch_guarded(std::size_t max_bytes);
  bool available() const;

  std::shared_ptr<detail::log_state> state_;
  std::uint64_t pos_ = 0;       // logical position of the next record to look at
  std::uint64_t expected_ = 0;  // the sequence number expected next; 0: not known yet
  std::uint64_t from_seq_ = 0;  // records below this are skipped, not missed
  std::uint64_t missed_ = 0;
  std::vector<std::byte> buffer_;       // the last record read, header included
  std::vector<std::byte> batch_bytes_;  // the entries of the last batch, copied whole
  std::vector<log_record> batch_;       // the last batch: its first batch_count_ records
  std::size_t batch_count_ = 0;
};

class ring_log {
 public:
  /// The header's size: the data area follows it.
  static constexpr std::uint64_t header_size = 4096;
  /// The smallest file create() accepts: the header and 64 bytes of records.
  static constexpr std::uint64_t min_size = header_size + 64;

  /// Creates the log file `path` of `size` bytes (header included), with `mode` less the
  /// umask, and opens it read-write. Fails if `path` exists. Every block is reserved now
  /// (os_error ENOSPC when the disk is full); nothing is left behind on failure. Throws
  /// std::invalid_argument for a size below min_size.
  static ring_log create(const std::filesystem::path& path, std::uint64_t size, mode_t mode = 0666);
  /// Opens an existing log, for appending and reading (`writable`) or reading only. Throws
  /// os_error when the file cannot be opened, ring_log_error when it is not a valid log.
  static ring_log open(const std::filesystem::path& path, bool writable = true);

  /// Nothing open, as is a moved-from log: every operation but destruction, assignment and
  /// `bool` throws os_error(EBADF) ("ring log (none open)").
  ring_log() noexcept = default;
  ring_log(ring_log&&) noexcept = default;
  ring_log& operator=(ring_log&&) noexcept = default;
  ring_log(const ring_log&) = delete;
  ring_log& operator=(const ring_log&) = delete;
  /// Unmaps (readers made from it keep the file mapped until they go).
  ~ring_log();

  /// Appends one record; returns its sequence number. Throws std::invalid_argument when it
  /// is larger than max_record_size(), os_error(EBADF) on a log opened read-only.
  std::uint64_t append(std::span<const std::byte> data);
  /// Appends the characters of `text` as one record.
  std::uint64_t append(std::string_view text) { return append(std::as_bytes(std::span(text))); }

  /// Writes the log to its device and waits (msync MS_SYNC).
  void sync() const;
  /// A snapshot of the log.
  log_stats stats() const;

  /// A reader from the oldest record.
  ring_log_reader reader() const;
  /// A reader from record `from_seq` on: records below it are skipped; when `from_seq` was
  /// already dropped, the reader starts at the oldest and reports the difference as missed.
  ring_log_reader reader(std::uint64_t from_seq) const;

  /// The file.
  const std::filesystem::path& path() const;
  /// Bytes of the file.
  std::uint64_t file_size() const;
  /// Bytes of the data area.
  std::uint64_t capacity() const;
  /// The longest record append() accepts.
  std::uint64_t max_record_size() const;
  /// True when opened for appending.
  bool writable() const;
  /// True when a log is open.
  explicit operator bool() const noexcept { return state_ != nullptr; }

 private:
  explicit ring_log(std::shared_ptr<detail::log_state> state) noexcept;
  const detail::log_state& state(const char* op) const;

  std::shared_ptr<detail::log_state> state_;
};

}  // namespace mmipc
