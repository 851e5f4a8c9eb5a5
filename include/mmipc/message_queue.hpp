#pragma once
// message_queue: a POSIX message queue (mq_open & co.), the kernel's priority-ordered queue of
// bounded messages shared by processes through a name like "/jobs".
//
//   mmipc::mq_capacity capacity{4, 256};  // 4 messages of 256 bytes at most
//   auto q = mmipc::message_queue::open("/jobs", O_RDWR | O_CREAT, 0600, capacity);
//   q.send(std::as_bytes(std::span(std::string_view("resize photo.jpg"))), 5);  // priority 5
//   unsigned priority = 0;
//   std::string job = q.receive_string(&priority);  // the highest priority first
//   mmipc::message_queue::unlink("/jobs");          // the queue lives until then
//
// What a user may rely on:
// - Ownership: a message_queue owns one queue descriptor. It is move-only and closes the
//   descriptor in its destructor; the queue itself outlives every descriptor until unlink().
//   On Linux the descriptor is a file descriptor, so native_handle() can be given to poll()
//   or an event loop: it is readable when a message waits and writable when there is room.
// - Empty state: a default-constructed or moved-from message_queue is empty. It accepts
//   destruction, assignment, reset() and `explicit operator bool` (false); native_handle()
//   is -1 and name() is "". Every other operation (send, receive, receive_string,
//   set_nonblocking, attributes, message_size) throws os_error(EBADF) with op() naming the
//   call and name() empty: the error of every empty mmipc handle.
// - Threads: the const operations may be called from any number of threads at once on one
//   object (the kernel orders the messages; each receive takes a whole message). Moving,
//   assigning and reset() need the object to themselves. set_nonblocking() changes the mode
//   for every thread (and every process) that shares the open queue description. A
//   message_stream is not thread-safe: one per reader.
// - Blocking: send() blocks while the queue is full and receive() while it is empty, unless
//   the queue is non-blocking (O_NONBLOCK, set_nonblocking(true)): then they throw
//   os_error(EAGAIN). The timed overloads wait at most their timeout (any duration;
//   mmipc::forever or longer waits without limit). Waits interrupted by a signal (EINTR) are
//   resumed, with the same deadline. open(), unlink(), attributes() never wait.
//
// When the kernel refuses to create a queue because of a system limit, the error (an
// mq_limit_error) names the limit and the value in force instead of a bare "invalid argument"
// or a misleading "too many open files".

#include <fcntl.h>  // O_* flags for open()
#include <mqueue.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mmipc/error.hpp"
#include "mmipc/timeout.hpp"

namespace mmipc {

/// The size of a queue: how many messages it holds and how large each may be.
struct mq_capacity {
  long max_messages = 10;
  long message_size = 8192;
};

/// A snapshot of mq_getattr().
struct mq_attributes {
  long max_messages = 0;
  long message_size = 0;
  long current_messages = 0;
  bool nonblocking = false;
};

/// The limits the kernel applies when a queue is created, as in force now.
struct mq_limits {
  long msg_max = -1;                       // /proc/sys/fs/mqueue/msg_max (-1: unreadable)
  long msgsize_max = -1;                   // /proc/sys/fs/mqueue/msgsize_max
  long queues_max = -1;                    // /proc/sys/fs/mqueue/queues_max
  long msg_default = -1;                   // /proc/sys/fs/mqueue/msg_default
  long msgsize_default = -1;               // /proc/sys/fs/mqueue/msgsize_default
  unsigned long long rlimit_msgqueue = 0;  // RLIMIT_MSGQUEUE soft limit, bytes per user
  bool rlimit_unlimited = false;
  bool privileged = false;  // CAP_SYS_RESOURCE: msg_max, msgsize_max, queues_max do not apply

  /// Reads the limits of the calling process.
  static mq_limits current();

  /// The capacity of a queue created with `max_messages` messages of `message_size` bytes,
  /// where one left unset takes the system default (msg_default, msgsize_default; 10 and
  /// 8192 when unreadable), as the kernel does for a queue created without attributes.
  mq_capacity capacity(std::optional<long> max_messages,
                       std::optional<long> message_size) const noexcept;
};

/// A queue creation refused because of a system limit: what() is the os_error text followed
/// by an explanation naming the limit and its value.
/// explanation(): e.g. "the queue needs 20 messages but ... msg_max is 10".
class mq_limit_error : public explained_error {
 public:
  using explained_error::explained_error;
};

/// Explains why creating a queue of `capacity` failed with `err`, or returns "" when `err`
/// is not a limit (EINVAL, EMFILE, ENOSPC are).
std::string explain_mq_limit(int err, const mq_capacity& capacity, const mq_limits& limits);

class message_queue {
 public:
  /// Highest priority + 1 (MQ_PRIO_MAX on Linux).
  static constexpr unsigned priority_limit = 32768;

  /// An empty handle.
  message_queue() noexcept = default;
  message_queue(message_queue&& other) noexcept;
  message_queue& operator=(message_queue&& other) noexcept;
  message_queue(const message_queue&) = delete;
  message_queue& operator=(const message_queue&) = delete;
  ~message_queue() { reset(); }

  /// Opens (with O_CREAT: creates) queue `name`. `flags` are open(2) flags: O_RDONLY,
  /// O_WRONLY or O_RDWR with O_CREAT, O_EXCL, O_NONBLOCK. `permissions` (less the umask)
  /// and `capacity` (unset: the system's default) apply only when the queue is created.
  /// Throws std::invalid_argument for a bad name, mq_limit_error or os_error on failure.
  static message_queue open(std::string_view name, int flags, mode_t permissions = 0666,
                            std::optional<mq_capacity> capacity = std::nullopt);

  /// Removes the name; the queue lives on until its last descriptor closes.
  static void unlink(std::string_view name);

  /// Sends one message. Blocks while the queue is full, unless non-blocking: then throws
  /// os_error(EAGAIN). EMSGSIZE when longer than message_size().
  void send(std::span<const std::byte> message, unsigned priority = 0) const;
  /// Sends, waiting at most `timeout` (any duration, on the system clock as mq_timedsend
  /// requires) for room; false when the time ran out. mmipc::forever or longer waits like
  /// send(); zero or negative does not wait.
  template <class Rep, class Period>
  bool send(std::span<const std::byte> message, unsigned priority,
            std::chrono::duration<Rep, Period> timeout) const {
    return send_for(message, priority, to_timeout(timeout));
  }

  /// Receives the oldest message of the highest priority into `buffer` (which must hold
  /// message_size() bytes) and returns its length; stores its priority in `*priority` when
  /// given. Blocks while empty unless non-blocking: then throws os_error(EAGAIN).
  std::size_t receive(std::span<std::byte> buffer, unsigned* priority = nullptr) const;
  /// Receives, waiting at most `timeout` (any duration, as for send); nullopt when the time
  /// ran out.
  template <class Rep, class Period>
  std::optional<std::size_t> receive(std::span<std::byte> buffer, unsigned* priority,
                                     std::chrono::duration<Rep, Period> timeout) const {
    return receive_for(buffer, priority, to_timeout(timeout));
  }
  /// Receives one message as a string holding exactly its bytes.
  std::string receive_string(unsigned* priority = nullptr) const;

  /// Switches O_NONBLOCK on or off for this descriptor (mq_setattr).
  void set_nonblocking(bool nonblocking) const;
  /// The queue's attributes now (mq_getattr).
  mq_attributes attributes() const;
  /// Largest message this queue takes.
  long message_size() const { return attributes().message_size; }

  /// The descriptor, for poll()/select()/epoll (a file descriptor on Linux), or -1.
  int native_handle() const noexcept { return static_cast<int>(mqd_); }
  /// The name it was opened with ("" when empty).
  const std::string& name() const noexcept { return name_; }
  /// True when a descriptor is held.
  explicit operator bool() const noexcept { return mqd_ != static_cast<mqd_t>(-1); }
  /// Closes the descriptor (errors ignored) and leaves the handle empty.
  void reset() noexcept;

 private:
  message_queue(mqd_t mqd, std::string name) noexcept : mqd_(mqd), name_(std::move(name)) {}
  bool send_for(std::span<const std::byte> message, unsigned priority,
                std::chrono::nanoseconds timeout) const;
  std::optional<std::size_t> receive_for(std::span<std::byte> buffer, unsigned* priority,
                                         std::chrono::nanoseconds timeout) const;
  /// The descriptor for `op`; throws os_error(EBADF) when empty.
  mqd_t handle(const char* op) const;
  mqd_t mqd_ = static_cast<mqd_t>(-1);
  std::string name_;
};

/// A queue read as a stream of bytes, as a channel driver needs it: a read smaller than the
/// message size still receives a whole message (mq_receive requires a full-size buffer) and
/// keeps the rest for the following reads, so no message is ever cut or refused as too long.
/// An empty message reads as 0 bytes: the end of file of a channel read, as in posixipc 1.0,
/// where a writer may send one to mark the end of a stream.
///
/// Only received bytes are ever handed out: a read that fails (EAGAIN, a timeout, any error)
/// hands out nothing, leaves nothing pending and loses no message; an interrupted receive
/// (EINTR) is resumed. Not thread-safe: one reader per stream.
class message_stream {
 public:
  /// Copies up to out.size() bytes: the rest of the pending message, or else the next message
  /// (blocking or not, as the queue is); 0 for an empty message (or an empty `out`). When a
  /// message is received, stores its priority in `priority`. Throws what
  /// message_queue::receive throws (EAGAIN when non-blocking and the queue is empty).
  std::size_t read(const message_queue& queue, std::span<std::byte> out, unsigned& priority);
  /// The same, waiting at most `timeout` for a message when none is pending; nullopt when the
  /// time ran out (nothing is handed out then). Pending bytes are handed out without waiting.
  std::optional<std::size_t> read(const message_queue& queue, std::span<std::byte> out,
                                  unsigned& priority, std::chrono::milliseconds timeout);
  /// True while part of a received message waits to be read.
  bool pending() const noexcept { return begin_ < end_; }

 private:
  template <class Receive>
  std::optional<std::size_t> read_with(const message_queue& queue, std::span<std::byte> out,
                                       unsigned& priority, Receive&& receive);

  // buffer_[begin_, end_) is the unread rest of the last message received into buffer_, and
  // nothing else: a receive into buffer_ that fails leaves begin_ == end_.
  std::vector<std::byte> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace mmipc
