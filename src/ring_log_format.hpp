#pragma once
// The bytes of a ring log file, version 1 (doc/ring-log-format.md describes them for readers
// in other languages; keep the two in step). All integers are little-endian; the file is
// only ever used on the machine (and architecture) that writes it.

#include <pthread.h>

#include <cstddef>
#include <cstdint>

namespace mmipc::detail::log_format {

inline constexpr char magic[8] = {'M', 'M', 'I', 'P', 'C', 'L', 'O', 'G'};
inline constexpr std::uint32_t version_major = 1;  // readers refuse any other
inline constexpr std::uint32_t version_minor = 0;  // additions a version-1 reader may ignore
inline constexpr std::uint64_t header_size = 4096;
inline constexpr std::uint64_t record_alignment = 8;
inline constexpr std::uint64_t record_header_size = 32;
inline constexpr std::uint64_t min_capacity = 64;

inline constexpr std::uint32_t kind_record = 1;
inline constexpr std::uint32_t kind_padding = 2;

/// What the 64 bytes of the writers' lock mean: glibc's robust pthread_mutex_t on this
/// architecture. Writers refuse a log whose lock another platform laid out; readers never
/// touch the lock.
constexpr std::uint32_t lock_abi() {
#if defined(__GLIBC__) && defined(__x86_64__) && !defined(__ILP32__)
  return 0x00010000u | static_cast<std::uint32_t>(sizeof(pthread_mutex_t));
#elif defined(__GLIBC__) && defined(__aarch64__)
  return 0x00020000u | static_cast<std::uint32_t>(sizeof(pthread_mutex_t));
#else
  return 0x00ff0000u | static_cast<std::uint32_t>(sizeof(pthread_mutex_t));
#endif
}

/// The header: the first 4096 bytes of the file. Fields are grouped by who writes them,
/// one cache line per group, so readers polling `head` do not slow the lock down.
struct header {
  // Identity: written once at creation, checked by every open (bytes 0..63).
  char magic[8];                   // "MMIPCLOG"
  std::uint32_t version_major;     // 1
  std::uint32_t version_minor;     // 0
  std::uint32_t header_size;       // 4096: the data area starts here
  std::uint32_t record_alignment;  // 8
  std::uint64_t file_size;         // the file's size, fixed at creation
  std::uint64_t data_offset;       // == header_size
  std::uint64_t capacity;          // bytes of the data area (a multiple of 8)
  std::int64_t created_ns;         // CLOCK_REALTIME at creation
  std::uint32_t lock_abi;          // see lock_abi()
  std::uint32_t identity_check;    // low 32 bits of XXH3_64bits(bytes 0..59)

  // The writers' lock (bytes 64..127): an mmipc::robust_mutex.
  alignas(64) unsigned char lock[64];

  // Written by writers under the lock (bytes 128..191).
  std::uint32_t owner_tid;        // who took the lock last (the holder, while it holds it)
  std::uint32_t repair_pending;   // nonzero: a writer died holding the lock; repair first
  std::uint64_t owner_pidns;      // its PID namespace
  std::uint64_t owner_start;      // its start time (ticks since boot)
  std::uint64_t owner_boot;       // the boot it ran in
  std::uint64_t repairs;          // torn appends repaired (writers that died holding the lock)
  std::uint64_t locks_recovered;  // locks recovered from holders the kernel did not know
  std::uint64_t reserved0[2];

  // Publication (bytes 192..255): the state readers follow.
  alignas(64) std::uint64_t tail;  // logical position of the oldest record
  std::uint64_t head;              // logical end of the newest record: the commit point
  std::uint64_t last;              // logical position of the newest record
  std::uint64_t next_seq;          // the sequence number the next record gets
  std::uint64_t reserved1[4];

  // Followers (bytes 256..319).
  alignas(64) std::uint32_t wake;  // futex word: bumped when sleeping followers are woken
  std::uint32_t sleepers;          // nonzero: a follower sleeps on `wake`
  std::uint32_t reserved2[14];

  unsigned char reserved3[log_format::header_size - 320];  // zero
};
static_assert(sizeof(header) == header_size);
static_assert(offsetof(header, lock_abi) == 56);
static_assert(offsetof(header, identity_check) == 60);
static_assert(offsetof(header, lock) == 64);
static_assert(offsetof(header, owner_tid) == 128);
static_assert(offsetof(header, repairs) == 160);
static_assert(offsetof(header, tail) == 192);
static_assert(offsetof(header, next_seq) == 216);
static_assert(offsetof(header, wake) == 256);
static_assert(offsetof(header, sleepers) == 260);

/// The header of a record (or of a padding that fills the data area up to its end),
/// at a multiple of 8 in the data area.
struct record_header {
  std::uint64_t checksum;  // XXH3 of bytes 8..31, seed: position ^ XXH3 of the payload
  std::uint32_t length;    // payload bytes (padding: bytes after this header to the end)
  std::uint32_t kind;      // kind_record or kind_padding
  std::uint64_t seq;       // 1, 2, 3... (padding: 0)
  std::int64_t time_ns;    // CLOCK_REALTIME when appended (padding: 0)
};
static_assert(sizeof(record_header) == record_header_size);

/// Bytes a record of `length` payload bytes takes in the data area.
constexpr std::uint64_t record_span(std::uint64_t length) {
  return record_header_size + ((length + record_alignment - 1) & ~(record_alignment - 1));
}

}  // namespace mmipc::detail::log_format
