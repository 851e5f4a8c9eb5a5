#pragma once
// Who holds a lock kept in a file: the facts that tell a live holder from one the kernel
// cannot know is gone (the machine crashed, or the file was copied, while it held the lock).
// A thread id alone is not enough: ids are reused, and start again from small numbers after
// a reboot. With the thread's start time, the boot and the PID namespace it is named in, a
// holder can be recognised.

#include <sys/types.h>

#include <cstdint>

namespace mmipc::detail {

/// Whether a thread exists.
enum class thread_presence { alive, gone, unknown };

/// Whether thread `tid` of this PID namespace exists (kill(tid, 0) reaches any thread;
/// EPERM means it exists and belongs to someone else).
thread_presence thread_exists(pid_t tid) noexcept;

/// When thread `tid` started, in clock ticks since boot (field 22 of /proc/<tid>/stat):
/// tells it from a later thread that got the same id. 0 when it cannot be read.
std::uint64_t thread_start_time(pid_t tid) noexcept;

/// A fingerprint of this boot of the machine (/proc/sys/kernel/random/boot_id); 0 when
/// unknown. Read once per process.
std::uint64_t boot_fingerprint() noexcept;

/// The id (inode) of this process's PID namespace, in which thread ids are meant; 0 when
/// unknown. Read once per process.
std::uint64_t pid_namespace_id() noexcept;

}  // namespace mmipc::detail
