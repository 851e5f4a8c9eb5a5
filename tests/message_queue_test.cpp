#include "mmipc/message_queue.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>

#include "mmipc/error.hpp"
#include "test_util.hpp"

namespace {

using mmipc::message_queue;
using mmipc::mq_capacity;
using mmipc::testing::bytes_of;
using mmipc::testing::errno_of;
using mmipc::testing::in_child;
using mmipc::testing::queue_name;
using namespace std::chrono_literals;

// Capacities stay small: the per-user RLIMIT_MSGQUEUE budget (800 KiB by default) is shared
// with other tests.
constexpr mq_capacity small{4, 64};

TEST(MessageQueueTest, CreateSendReceiveUnlink) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT, 0600, small);
  ASSERT_TRUE(mq);
  EXPECT_EQ(mq.name(), q.name);
  mq.send(bytes_of("hello"), 0);
  unsigned priority = 99;
  EXPECT_EQ(mq.receive_string(&priority), "hello");
  EXPECT_EQ(priority, 0u);
  message_queue::unlink(q);
  EXPECT_EQ(errno_of([&] { message_queue::open(q, O_RDONLY); }), ENOENT);
  EXPECT_EQ(errno_of([&] { message_queue::unlink(q); }), ENOENT);
}

TEST(MessageQueueTest, BadNamesAreRefusedBeforeTheKernel) {
  EXPECT_THROW(message_queue::open("noslash", O_RDONLY), std::invalid_argument);
  EXPECT_THROW(message_queue::open("/two/slashes", O_RDONLY), std::invalid_argument);
  EXPECT_THROW(message_queue::open("/" + std::string(300, 'x'), O_RDONLY), std::invalid_argument);
  EXPECT_THROW(message_queue::unlink("bad"), std::invalid_argument);
}

TEST(MessageQueueTest, HigherPrioritiesComeFirst) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT, 0600, small);
  mq.send(bytes_of("low"), 1);
  mq.send(bytes_of("high"), 9);
  mq.send(bytes_of("mid"), 5);
  mq.send(bytes_of("high2"), 9);
  unsigned p = 0;
  EXPECT_EQ(mq.receive_string(&p), "high");
  EXPECT_EQ(p, 9u);
  EXPECT_EQ(mq.receive_string(&p), "high2");
  EXPECT_EQ(mq.receive_string(&p), "mid");
  EXPECT_EQ(p, 5u);
  EXPECT_EQ(mq.receive_string(&p), "low");
  EXPECT_EQ(p, 1u);
}

TEST(MessageQueueTest, AttributesReportCapacityAndCount) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT, 0600, mq_capacity{3, 100});
  auto a = mq.attributes();
  EXPECT_EQ(a.max_messages, 3);
  EXPECT_EQ(a.message_size, 100);
  EXPECT_EQ(a.current_messages, 0);
  EXPECT_FALSE(a.nonblocking);
  mq.send(bytes_of("x"));
  mq.send(bytes_of("y"));
  EXPECT_EQ(mq.attributes().current_messages, 2);
  EXPECT_EQ(mq.message_size(), 100);
}

TEST(MessageQueueTest, ExistingQueueKeepsItsCapacity) {
  queue_name q;
  auto first = message_queue::open(q, O_RDWR | O_CREAT, 0600, mq_capacity{2, 32});
  auto second = message_queue::open(q, O_RDWR | O_CREAT, 0600, mq_capacity{5, 64});
  EXPECT_EQ(second.attributes().max_messages, 2);
  EXPECT_EQ(second.attributes().message_size, 32);
  EXPECT_EQ(errno_of([&] { message_queue::open(q, O_RDWR | O_CREAT | O_EXCL, 0600, small); }),
            EEXIST);
}

TEST(MessageQueueTest, PermissionsApplyWhenCreated) {
  queue_name q;
  mode_t old = ::umask(022);
  auto mq = message_queue::open(q, O_RDWR | O_CREAT, 0640, small);
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::fstat(mq.native_handle(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(MessageQueueTest, NonBlockingEmptyAndFullFailWithEagain) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT | O_NONBLOCK, 0600, mq_capacity{2, 16});
  EXPECT_TRUE(mq.attributes().nonblocking);
  EXPECT_EQ(errno_of([&] { mq.receive_string(); }), EAGAIN);
  mq.send(bytes_of("1"));
  mq.send(bytes_of("2"));
  EXPECT_EQ(errno_of([&] { mq.send(bytes_of("3")); }), EAGAIN);
}

TEST(MessageQueueTest, SetNonblockingTogglesTheMode) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT, 0600, small);
  mq.set_nonblocking(true);
  EXPECT_TRUE(mq.attributes().nonblocking);
  EXPECT_EQ(errno_of([&] { mq.receive_string(); }), EAGAIN);
  mq.set_nonblocking(false);
  EXPECT_FALSE(mq.attributes().nonblocking);
}

TEST(MessageQueueTest, TimedOperationsReportTimeouts) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT, 0600, mq_capacity{1, 16});
  char buffer[16];
  EXPECT_FALSE(mq.receive(std::as_writable_bytes(std::span(buffer)), nullptr, 20ms));
  EXPECT_TRUE(mq.send(bytes_of("a"), 2, 20ms));
  EXPECT_FALSE(mq.send(bytes_of("b"), 0, 20ms));
  unsigned p = 0;
  auto n = mq.receive(std::as_writable_bytes(std::span(buffer)), &p, 20ms);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(p, 2u);
}

// A timeout too long for nanoseconds (mq receive -timeout 1152921504606846976 in Tcl) once
// overflowed in the conversion (undefined behaviour, caught by UBSan) into a deadline already
// past: the receive gave up at once instead of waiting for the message sent later.
TEST(MessageQueueTest, HugeTimeoutsWaitInsteadOfOverflowing) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT, 0600, mq_capacity{1, 16});
  const std::chrono::milliseconds huge(1152921504606846976);
  std::thread sender([&] {
    std::this_thread::sleep_for(50ms);
    mq.send(bytes_of("late"), 0);
  });
  char buffer[16];
  auto n = mq.receive(std::as_writable_bytes(std::span(buffer)), nullptr, huge);
  sender.join();
  ASSERT_TRUE(n);
  EXPECT_EQ(std::string(buffer, *n), "late");
  EXPECT_TRUE(mq.send(bytes_of("b"), 0, std::chrono::milliseconds::max()));
}

TEST(MessageQueueTest, OverlongMessagesAndSmallBuffersAreRefused) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT, 0600, mq_capacity{2, 8});
  EXPECT_EQ(errno_of([&] { mq.send(bytes_of("123456789")); }), EMSGSIZE);
  mq.send(bytes_of("12345678"));
  char small_buffer[4];
  EXPECT_EQ(errno_of([&] { mq.receive(std::as_writable_bytes(std::span(small_buffer))); }),
            EMSGSIZE);
  EXPECT_EQ(mq.receive_string(), "12345678");
}

TEST(MessageQueueTest, NativeHandleWorksWithPoll) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT, 0600, mq_capacity{1, 16});
  pollfd pfd{mq.native_handle(), POLLIN | POLLOUT, 0};
  ASSERT_EQ(::poll(&pfd, 1, 0), 1);
  EXPECT_EQ(pfd.revents, POLLOUT);  // empty: writable, not readable
  mq.send(bytes_of("x"));
  pfd.revents = 0;
  ASSERT_EQ(::poll(&pfd, 1, 0), 1);
  EXPECT_EQ(pfd.revents, POLLIN);  // full: readable, not writable
}

TEST(MessageQueueTest, MoveLeavesTheSourceEmpty) {
  queue_name q;
  auto a = message_queue::open(q, O_RDWR | O_CREAT, 0600, small);
  int fd = a.native_handle();
  message_queue b = std::move(a);
  EXPECT_FALSE(a);
  EXPECT_EQ(a.native_handle(), -1);
  EXPECT_EQ(b.native_handle(), fd);
  message_queue c;
  c = std::move(b);
  EXPECT_FALSE(b);
  EXPECT_EQ(c.native_handle(), fd);
}

TEST(MessageQueueTest, DescriptorsAreCloseOnExec) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT, 0600, small);
  EXPECT_TRUE(::fcntl(mq.native_handle(), F_GETFD) & FD_CLOEXEC);
}

TEST(MessageQueueTest, MessagesCrossProcesses) {
  queue_name q;
  auto requests = message_queue::open(q, O_RDWR | O_CREAT, 0600, small);
  queue_name r;
  auto replies = message_queue::open(r, O_RDWR | O_CREAT, 0600, small);
  // The child opens the queues by name, as an unrelated process would.
  const pid_t pid = mmipc::testing::spawn([&] {
    auto in = message_queue::open(q.name, O_RDONLY);
    auto out = message_queue::open(r.name, O_WRONLY);
    for (int i = 0; i < 20; ++i) out.send(bytes_of("echo:" + in.receive_string()), 0);
    return 0;
  });
  for (int i = 0; i < 20; ++i) {
    requests.send(bytes_of(std::to_string(i)));
    EXPECT_EQ(replies.receive_string(), "echo:" + std::to_string(i));
  }
  EXPECT_EQ(mmipc::testing::reap(pid), 0);
}

TEST(MessageQueueTest, OversizedQueueExplainsTheLimit) {
  queue_name q;
  try {
    // Above even the kernel's hard limit, so refused for root as well.
    message_queue::open(q, O_RDWR | O_CREAT, 0600, mq_capacity{100000, 16});
    FAIL() << "opened a queue of 100000 messages";
  } catch (const mmipc::mq_limit_error& e) {
    EXPECT_EQ(e.error_number(), EINVAL);
    std::string what = e.what();
    EXPECT_NE(what.find("mq_open " + q.name + ": Invalid argument ("), std::string::npos) << what;
    EXPECT_NE(what.find("100000 messages"), std::string::npos) << what;
    EXPECT_TRUE(what.find("msg_max is") != std::string::npos ||
                what.find("hard limit is 65536") != std::string::npos)
        << what;
  }
}

// Drops CAP_SYS_RESOURCE from the effective set so the /proc/sys/fs/mqueue limits apply even
// when the tests run as root.
bool drop_sys_resource() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  data[CAP_SYS_RESOURCE / 32].effective &= ~(1u << (CAP_SYS_RESOURCE % 32));
  return ::syscall(SYS_capset, &header, data) == 0;
}

// message_stream is tested in message_stream_test.cpp.

// Runs `attempt` in a forked child. It returns the child's exit code and may fill in a
// message, which reaches the parent through a pipe. Returns {exit status, message}.
std::pair<int, std::string> in_child_with_message(auto&& attempt) {
  int fds[2];
  if (::pipe(fds) != 0) return {-1, {}};
  int status = in_child([&] {
    std::string message;
    int code = attempt(message);
    (void)!::write(fds[1], message.data(), message.size());
    return code;
  });
  ::close(fds[1]);
  std::string message;
  char buffer[1024];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) message.append(buffer, n);
  ::close(fds[0]);
  return {status, message};
}

TEST(MessageQueueTest, UnprivilegedOversizeNamesMsgMaxAndItsValue) {
  queue_name q;
  const auto limits = mmipc::mq_limits::current();
  ASSERT_GT(limits.msg_max, 0);
  auto [status, message] = in_child_with_message([&](std::string& what) {
    if (!drop_sys_resource()) return 2;
    try {
      message_queue::open(q.name, O_RDWR | O_CREAT, 0600, mq_capacity{limits.msg_max + 1, 16});
      return 3;
    } catch (const mmipc::mq_limit_error& e) {
      what = e.what();
      return 0;
    }
  });
  ASSERT_EQ(status, 0);
  EXPECT_NE(message.find("/proc/sys/fs/mqueue/msg_max is " + std::to_string(limits.msg_max)),
            std::string::npos)
      << message;
}

TEST(MessageQueueTest, ExhaustedByteBudgetNamesRlimitMsgqueue) {
  queue_name q;
  auto [status, message] = in_child_with_message([&](std::string& what) {
    // A budget too small for the queue: the kernel answers EMFILE, "too many open files".
    rlimit tiny{1024, 1024};
    if (::setrlimit(RLIMIT_MSGQUEUE, &tiny) != 0) return 2;
    try {
      message_queue::open(q.name, O_RDWR | O_CREAT, 0600, mq_capacity{4, 1024});
      return 3;
    } catch (const mmipc::mq_limit_error& e) {
      if (e.error_number() != EMFILE) return 4;
      what = e.what();
      return 0;
    }
  });
  ASSERT_EQ(status, 0);
  EXPECT_NE(message.find("RLIMIT_MSGQUEUE of 1024 bytes"), std::string::npos) << message;
}

TEST(MessageQueueTest, ExplanationsNameEachLimit) {
  mmipc::mq_limits limits;
  limits.msg_max = 10;
  limits.msgsize_max = 8192;
  limits.queues_max = 256;
  limits.rlimit_msgqueue = 819200;
  EXPECT_EQ(mmipc::explain_mq_limit(EINVAL, {20, 100}, limits),
            "asked for 20 messages but the system limit /proc/sys/fs/mqueue/msg_max is 10");
  EXPECT_EQ(mmipc::explain_mq_limit(EINVAL, {5, 9000}, limits),
            "asked for messages of 9000 bytes but the system limit "
            "/proc/sys/fs/mqueue/msgsize_max is 8192");
  EXPECT_NE(mmipc::explain_mq_limit(EINVAL, {0, 10}, limits).find("at least 1 message"),
            std::string::npos);
  EXPECT_EQ(mmipc::explain_mq_limit(ENOSPC, {5, 10}, limits),
            "the system-wide limit of 256 queues (/proc/sys/fs/mqueue/queues_max) is reached");
  EXPECT_NE(mmipc::explain_mq_limit(EMFILE, {1000, 8192}, limits)
                .find("over the per-user message queue budget RLIMIT_MSGQUEUE of 819200 bytes"),
            std::string::npos);
  EXPECT_NE(mmipc::explain_mq_limit(EMFILE, {10, 8192}, limits).find("has no room"),
            std::string::npos);
  EXPECT_EQ(mmipc::explain_mq_limit(EACCES, {10, 8192}, limits), "");
}

// What `mq open -maxmsg 4` (or the mmipc tool's `mq create --maxmsg 4`) creates: the size
// not given is the system's default, as for a queue created without attributes.
TEST(MessageQueueTest, CapacityTakesTheSystemDefaultForWhatIsUnset) {
  mmipc::mq_limits limits;
  limits.msg_default = 7;
  limits.msgsize_default = 300;
  EXPECT_EQ(limits.capacity(4, std::nullopt).max_messages, 4);
  EXPECT_EQ(limits.capacity(4, std::nullopt).message_size, 300);
  EXPECT_EQ(limits.capacity(std::nullopt, 64).max_messages, 7);
  EXPECT_EQ(limits.capacity(std::nullopt, 64).message_size, 64);
  EXPECT_EQ(limits.capacity(2, 3).max_messages, 2);
  EXPECT_EQ(limits.capacity(2, 3).message_size, 3);
  // Unreadable defaults (no /proc): Linux's own, 10 messages of 8192 bytes.
  const mmipc::mq_capacity fallback = mmipc::mq_limits{}.capacity(std::nullopt, std::nullopt);
  EXPECT_EQ(fallback.max_messages, 10);
  EXPECT_EQ(fallback.message_size, 8192);
  // The defaults in force are the ones a queue created without attributes gets.
  queue_name q;
  const mmipc::mq_capacity now = mmipc::mq_limits::current().capacity(std::nullopt, 16);
  auto mq = message_queue::open(q, O_RDWR | O_CREAT, 0600, now);
  queue_name plain;
  auto kernel = message_queue::open(plain, O_RDWR | O_CREAT, 0600);
  EXPECT_EQ(mq.attributes().max_messages, kernel.attributes().max_messages);
  EXPECT_EQ(mq.attributes().message_size, 16);
}

// A moved-from or default-constructed queue refuses every operation with os_error(EBADF).
TEST(MessageQueueTest, EmptyHandleRefusesEveryOperationWithEbadf) {
  queue_name q;
  auto source = message_queue::open(q, O_RDWR | O_CREAT, 0600, small);
  message_queue target = std::move(source);
  message_queue never_opened;
  char buffer[64];
  const auto out = std::as_writable_bytes(std::span(buffer));
  for (message_queue* empty : {&source, &never_opened}) {
    EXPECT_FALSE(*empty);
    EXPECT_EQ(empty->native_handle(), -1);
    EXPECT_EQ(errno_of([&] { empty->send(bytes_of("x")); }), EBADF);
    EXPECT_EQ(errno_of([&] { empty->send(bytes_of("x"), 0, 10ms); }), EBADF);
    EXPECT_EQ(errno_of([&] { empty->receive(out); }), EBADF);
    EXPECT_EQ(errno_of([&] { empty->receive(out, nullptr, 10ms); }), EBADF);
    EXPECT_EQ(errno_of([&] { empty->receive_string(); }), EBADF);
    EXPECT_EQ(errno_of([&] { empty->set_nonblocking(true); }), EBADF);
    EXPECT_EQ(errno_of([&] { empty->attributes(); }), EBADF);
    EXPECT_EQ(errno_of([&] { empty->message_size(); }), EBADF);
  }
  target.send(bytes_of("kept"));
  source = message_queue::open(q, O_RDWR);
  EXPECT_EQ(source.receive_string(), "kept");
}

// hours::max() used to overflow in the conversion to milliseconds and time out at once; it
// saturates into a wait without limit, for receive and for send.
TEST(MessageQueueTest, LongestTimeoutWaitsForTheOtherSide) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT, 0600, mq_capacity{1, 16});
  char buffer[16];
  std::thread sender([&] {
    std::this_thread::sleep_for(200ms);
    message_queue::open(q, O_WRONLY).send(bytes_of("late"));
  });
  auto n =
      mq.receive(std::as_writable_bytes(std::span(buffer)), nullptr, std::chrono::hours::max());
  sender.join();
  ASSERT_TRUE(n);
  EXPECT_EQ(std::string(buffer, *n), "late");

  mq.send(bytes_of("full"));
  std::thread receiver([&] {
    std::this_thread::sleep_for(200ms);
    message_queue::open(q, O_RDONLY).receive_string();
  });
  const bool sent = mq.send(bytes_of("room"), 0, std::chrono::hours::max());
  receiver.join();
  EXPECT_TRUE(sent);
  EXPECT_EQ(mq.receive_string(), "room");
}

// Any duration is accepted: mmipc::forever, floating seconds, negative (does not wait).
TEST(MessageQueueTest, TimedOperationsTakeAnyDuration) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT, 0600, mq_capacity{1, 16});
  char buffer[16];
  const auto out = std::as_writable_bytes(std::span(buffer));
  EXPECT_FALSE(mq.receive(out, nullptr, std::chrono::duration<double>(0.02)));
  EXPECT_FALSE(mq.receive(out, nullptr, -1s));
  EXPECT_TRUE(mq.send(bytes_of("a"), 0, mmipc::forever));
  EXPECT_FALSE(mq.send(bytes_of("b"), 0, std::chrono::nanoseconds::min()));
  EXPECT_EQ(mq.receive(out, nullptr, -1s), 1u);  // a waiting message is taken at once
  std::thread sender([&] {
    std::this_thread::sleep_for(100ms);
    message_queue::open(q, O_WRONLY).send(bytes_of("late"));
  });
  EXPECT_EQ(mq.receive(out, nullptr, mmipc::forever), 4u);
  sender.join();
}

}  // namespace
