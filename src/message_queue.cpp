#include "mmipc/message_queue.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>

#include "deadline.hpp"
#include "mmipc/ipc_name.hpp"
#include "retry.hpp"

namespace mmipc {
namespace {

constexpr const char* mqueue_dir = "/proc/sys/fs/mqueue/";
// Linux's HARD_MSGMAX and HARD_MSGSIZEMAX: the bounds even CAP_SYS_RESOURCE cannot pass.
constexpr long hard_msg_max = 65536;
constexpr long hard_msgsize_max = 16L * 1024 * 1024;

long read_proc_long(const char* file) {
  std::ifstream in(std::string(mqueue_dir) + file);
  long value = -1;
  if (!(in >> value)) return -1;
  return value;
}

bool has_cap_sys_resource() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      unsigned long long caps = std::stoull(line.substr(7), nullptr, 16);
      return (caps >> 24) & 1;  // CAP_SYS_RESOURCE
    }
  }
  return false;
}

std::string path_of(const char* file) {
  return std::string(mqueue_dir) + file;
}

}  // namespace

mq_limits mq_limits::current() {
  mq_limits limits;
  limits.msg_max = read_proc_long("msg_max");
  limits.msgsize_max = read_proc_long("msgsize_max");
  limits.queues_max = read_proc_long("queues_max");
  limits.msg_default = read_proc_long("msg_default");
  limits.msgsize_default = read_proc_long("msgsize_default");
  rlimit rl{};
  if (::getrlimit(RLIMIT_MSGQUEUE, &rl) == 0) {
    limits.rlimit_unlimited = rl.rlim_cur == RLIM_INFINITY;
    limits.rlimit_msgqueue = rl.rlim_cur;
  }
  limits.privileged = has_cap_sys_resource();
  return limits;
}

mq_capacity mq_limits::capacity(std::optional<long> max_messages,
                                std::optional<long> message_size) const noexcept {
  const mq_capacity fallback;  // the kernel's defaults, when /proc cannot be read
  return {max_messages.value_or(msg_default > 0 ? msg_default : fallback.max_messages),
          message_size.value_or(msgsize_default > 0 ? msgsize_default : fallback.message_size)};
}

std::string explain_mq_limit(int err, const mq_capacity& capacity, const mq_limits& limits) {
  const std::string want = std::to_string(capacity.max_messages) + " messages of " +
                           std::to_string(capacity.message_size) + " bytes";
  switch (err) {
    case EINVAL: {
      if (capacity.max_messages <= 0 || capacity.message_size <= 0) {
        return "a queue holds at least 1 message of at least 1 byte; asked for " + want;
      }
      if (limits.privileged) {
        if (capacity.max_messages > hard_msg_max) {
          return "asked for " + want + "; the kernel's hard limit is " +
                 std::to_string(hard_msg_max) + " messages";
        }
        if (capacity.message_size > hard_msgsize_max) {
          return "asked for " + want + "; the kernel's hard limit is " +
                 std::to_string(hard_msgsize_max) + " bytes per message";
        }
        return "";
      }
      std::string why;
      if (limits.msg_max >= 0 && capacity.max_messages > limits.msg_max) {
        why = "asked for " + std::to_string(capacity.max_messages) +
              " messages but the system limit " + path_of("msg_max") + " is " +
              std::to_string(limits.msg_max);
      }
      if (limits.msgsize_max >= 0 && capacity.message_size > limits.msgsize_max) {
        if (!why.empty()) why += "; and ";
        why += "asked for messages of " + std::to_string(capacity.message_size) +
               " bytes but the system limit " + path_of("msgsize_max") + " is " +
               std::to_string(limits.msgsize_max);
      }
      return why;
    }
    case EMFILE: {
      // Linux charges maxmsg * msgsize plus bookkeeping to the creating user.
      const unsigned long long need = static_cast<unsigned long long>(capacity.max_messages) *
                                      static_cast<unsigned long long>(capacity.message_size);
      rlimit files{};
      ::getrlimit(RLIMIT_NOFILE, &files);
      std::string budget = limits.rlimit_unlimited
                               ? std::string("unlimited")
                               : std::to_string(limits.rlimit_msgqueue) + " bytes";
      std::string why;
      if (!limits.rlimit_unlimited && need > limits.rlimit_msgqueue) {
        why = "a queue of " + want + " needs more than " + std::to_string(need) +
              " bytes, over the per-user message queue budget RLIMIT_MSGQUEUE of " + budget;
      } else {
        why = "the per-user message queue budget RLIMIT_MSGQUEUE of " + budget +
              " (shared by all of this user's queues) has no room for a queue of " + want +
              " (more than " + std::to_string(need) +
              " bytes), or this process has reached RLIMIT_NOFILE of " +
              std::to_string(files.rlim_cur) + " open descriptors";
      }
      return why;
    }
    case ENOSPC:
      if (limits.privileged) return "";
      return "the system-wide limit of " + std::to_string(limits.queues_max) + " queues (" +
             path_of("queues_max") + ") is reached";
    default:
      return "";
  }
}

message_queue::message_queue(message_queue&& other) noexcept
    : mqd_(std::exchange(other.mqd_, static_cast<mqd_t>(-1))),
      name_(std::exchange(other.name_, {})) {}

message_queue& message_queue::operator=(message_queue&& other) noexcept {
  if (this != &other) {
    reset();
    mqd_ = std::exchange(other.mqd_, static_cast<mqd_t>(-1));
    name_ = std::exchange(other.name_, {});
  }
  return *this;
}

void message_queue::reset() noexcept {
  if (*this) ::mq_close(mqd_);
  mqd_ = static_cast<mqd_t>(-1);
  name_.clear();
}

mqd_t message_queue::handle(const char* op) const {
  if (!*this) throw_os_error(EBADF, op);
  return mqd_;
}

message_queue message_queue::open(std::string_view name, int flags, mode_t permissions,
                                  std::optional<mq_capacity> capacity) {
  validate_ipc_name(name, ipc_kind::message_queue);
  const std::string path(name);
  mq_attr attr{};
  mq_attr* attr_ptr = nullptr;
  if (capacity && (flags & O_CREAT)) {
    attr.mq_maxmsg = capacity->max_messages;
    attr.mq_msgsize = capacity->message_size;
    attr_ptr = &attr;
  }
  // Linux makes every queue descriptor close-on-exec by itself.
  mqd_t mqd = retry_on_eintr([&] { return ::mq_open(path.c_str(), flags, permissions, attr_ptr); });
  if (mqd == static_cast<mqd_t>(-1)) {
    const int err = errno;
    if (err == EMFILE || ((flags & O_CREAT) && (err == EINVAL || err == ENOSPC))) {
      mq_limits limits = mq_limits::current();
      mq_capacity asked = capacity.value_or(limits.capacity(std::nullopt, std::nullopt));
      std::string why;
      if (flags & O_CREAT) {
        why = explain_mq_limit(err, asked, limits);
      } else {
        rlimit files{};
        ::getrlimit(RLIMIT_NOFILE, &files);
        why = "this process has reached RLIMIT_NOFILE of " + std::to_string(files.rlim_cur) +
              " open descriptors";
      }
      if (!why.empty()) throw mq_limit_error(err, "mq_open", name, why);
    }
    throw_os_error(err, "mq_open", name);
  }
  return message_queue(mqd, path);
}

void message_queue::unlink(std::string_view name) {
  validate_ipc_name(name, ipc_kind::message_queue);
  const std::string path(name);
  if (::mq_unlink(path.c_str()) != 0) throw_errno("mq_unlink", name);
}

namespace {

// mq_send's buffer must not be null even for an empty message, which an empty span may hold.
const char* send_buffer(std::span<const std::byte> message) {
  static const char none = 0;
  return message.empty() ? &none : reinterpret_cast<const char*>(message.data());
}

}  // namespace

void message_queue::send(std::span<const std::byte> message, unsigned priority) const {
  const mqd_t mqd = handle("mq_send");
  const char* data = send_buffer(message);
  if (retry_on_eintr([&] { return ::mq_send(mqd, data, message.size(), priority); }) != 0) {
    throw_errno("mq_send", name_);
  }
}

bool message_queue::send_for(std::span<const std::byte> message, unsigned priority,
                             std::chrono::nanoseconds timeout) const {
  const mqd_t mqd = handle("mq_timedsend");
  if (timeout == forever) {
    send(message, priority);
    return true;
  }
  const char* data = send_buffer(message);
  const timespec at = detail::deadline_after(CLOCK_REALTIME, timeout);
  if (retry_on_eintr([&] { return ::mq_timedsend(mqd, data, message.size(), priority, &at); }) ==
      0) {
    return true;
  }
  if (errno == ETIMEDOUT) return false;
  throw_errno("mq_timedsend", name_);
}

std::size_t message_queue::receive(std::span<std::byte> buffer, unsigned* priority) const {
  const mqd_t mqd = handle("mq_receive");
  char* data = reinterpret_cast<char*>(buffer.data());
  ssize_t n = retry_on_eintr([&] { return ::mq_receive(mqd, data, buffer.size(), priority); });
  if (n < 0) throw_errno("mq_receive", name_);
  return static_cast<std::size_t>(n);
}

std::optional<std::size_t> message_queue::receive_for(std::span<std::byte> buffer,
                                                      unsigned* priority,
                                                      std::chrono::nanoseconds timeout) const {
  const mqd_t mqd = handle("mq_timedreceive");
  if (timeout == forever) return receive(buffer, priority);
  char* data = reinterpret_cast<char*>(buffer.data());
  const timespec at = detail::deadline_after(CLOCK_REALTIME, timeout);
  ssize_t n =
      retry_on_eintr([&] { return ::mq_timedreceive(mqd, data, buffer.size(), priority, &at); });
  if (n >= 0) return static_cast<std::size_t>(n);
  if (errno == ETIMEDOUT) return std::nullopt;
  throw_errno("mq_timedreceive", name_);
}

std::string message_queue::receive_string(unsigned* priority) const {
  std::string out(static_cast<std::size_t>(message_size()), '\0');
  out.resize(receive(std::as_writable_bytes(std::span(out)), priority));
  return out;
}

void message_queue::set_nonblocking(bool nonblocking) const {
  const mqd_t mqd = handle("mq_setattr");
  mq_attr attr{};
  attr.mq_flags = nonblocking ? O_NONBLOCK : 0;
  if (::mq_setattr(mqd, &attr, nullptr) != 0) throw_errno("mq_setattr", name_);
}

mq_attributes message_queue::attributes() const {
  const mqd_t mqd = handle("mq_getattr");
  mq_attr attr{};
  if (::mq_getattr(mqd, &attr) != 0) throw_errno("mq_getattr", name_);
  return {attr.mq_maxmsg, attr.mq_msgsize, attr.mq_curmsgs, (attr.mq_flags & O_NONBLOCK) != 0};
}

template <class Receive>
std::optional<std::size_t> message_stream::read_with(const message_queue& queue,
                                                     std::span<std::byte> out, unsigned& priority,
                                                     Receive&& receive) {
  if (out.empty()) return 0;
  if (!pending()) {
    const auto size = static_cast<std::size_t>(queue.message_size());
    // Room for any message: receive straight into the caller's buffer. A failed receive
    // reports nothing, so whatever it left in `out` is never counted.
    if (out.size() >= size) return receive(out, &priority);
    // Otherwise receive whole into our buffer, and mark its bytes readable only once the
    // receive succeeded: a failure must leave nothing pending (issue 14: the zero-filled or
    // stale buffer was handed out as data after EAGAIN).
    begin_ = end_ = 0;
    buffer_.resize(size);
    unsigned got_priority = 0;
    const std::optional<std::size_t> got = receive(std::span(buffer_), &got_priority);
    if (!got) return std::nullopt;
    end_ = *got;
    priority = got_priority;
    if (end_ == 0) return 0;  // an empty message: end of file
  }
  const std::size_t n = std::min(out.size(), end_ - begin_);
  std::memcpy(out.data(), buffer_.data() + begin_, n);
  begin_ += n;
  return n;
}

std::size_t message_stream::read(const message_queue& queue, std::span<std::byte> out,
                                 unsigned& priority) {
  return *read_with(queue, out, priority,
                    [&](std::span<std::byte> into, unsigned* p) -> std::optional<std::size_t> {
                      return queue.receive(into, p);
                    });
}

std::optional<std::size_t> message_stream::read(const message_queue& queue,
                                                std::span<std::byte> out, unsigned& priority,
                                                std::chrono::milliseconds timeout) {
  return read_with(queue, out, priority, [&](std::span<std::byte> into, unsigned* p) {
    return queue.receive(into, p, timeout);
  });
}

}  // namespace mmipc
