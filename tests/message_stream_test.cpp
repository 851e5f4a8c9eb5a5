// Tests of mmipc::message_stream (message_queue.hpp), the queue-as-a-byte-stream that the Tcl
// channel driver reads through. A binary of its own because it interposes mq_receive and
// mq_timedreceive: the library is linked statically, so the definitions below replace the C
// library's for every call the core makes in this program. They forward to the real calls on
// a real queue, and fail with EINTR, EAGAIN or ETIMEDOUT first when a test asks them to, so
// failures can be injected at any point of a stream, not only where a real queue would give
// them. Nothing else in this binary receives from a queue.
//
// The rule under test: no failure may expose bytes that were not received. A read that fails
// (EAGAIN, a timeout) hands out nothing, leaves nothing pending and loses no message; a read
// interrupted by a signal (EINTR) is resumed; an empty message reads as 0 bytes (the end of
// file of a channel read).

#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <mqueue.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "mmipc/error.hpp"
#include "mmipc/message_queue.hpp"
#include "test_util.hpp"

namespace {

// What the interposed receive calls do before the real call. Each injected failure is spent
// by one call: first `eintr` calls fail with EINTR, then one fails with `fail_with` (if not 0).
struct injection {
  int eintr = 0;
  int fail_with = 0;
  int calls = 0;  // calls of mq_receive / mq_timedreceive made, injected or real
};
injection inject;

// Returns -1 with errno set when a failure is due, else 0.
int injected_failure() {
  ++inject.calls;
  if (inject.eintr > 0) {
    --inject.eintr;
    errno = EINTR;
    return -1;
  }
  if (inject.fail_with != 0) {
    errno = std::exchange(inject.fail_with, 0);
    return -1;
  }
  return 0;
}

template <class Function>
Function real(const char* name) {
  void* symbol = ::dlsym(RTLD_NEXT, name);
  if (symbol == nullptr) std::abort();
  return reinterpret_cast<Function>(symbol);
}

}  // namespace

extern "C" ssize_t mq_receive(mqd_t mqd, char* buffer, size_t length, unsigned* priority) {
  using function = ssize_t (*)(mqd_t, char*, size_t, unsigned*);
  static const function call = real<function>("mq_receive");
  if (injected_failure() != 0) return -1;
  return call(mqd, buffer, length, priority);
}

extern "C" ssize_t mq_timedreceive(mqd_t mqd, char* __restrict buffer, size_t length,
                                   unsigned* __restrict priority,
                                   const struct timespec* __restrict at) {
  using function = ssize_t (*)(mqd_t, char*, size_t, unsigned*, const struct timespec*);
  static const function call = real<function>("mq_timedreceive");
  if (injected_failure() != 0) return -1;
  return call(mqd, buffer, length, priority, at);
}

namespace {

using mmipc::message_queue;
using mmipc::message_stream;
using mmipc::testing::bytes_of;
using mmipc::testing::errno_of;
using mmipc::testing::queue_name;
using namespace std::chrono_literals;

// Small queues: the per-user RLIMIT_MSGQUEUE budget is shared with other tests.
constexpr mmipc::mq_capacity small{4, 64};

class MessageStreamTest : public ::testing::Test {
 protected:
  void SetUp() override { inject = {}; }
  void TearDown() override { inject = {}; }
};

// Reads at most n bytes through the stream; the bytes handed out.
std::string read_some(message_stream& stream, const message_queue& mq, std::size_t n,
                      unsigned& priority) {
  std::string out(n, '\xAA');
  out.resize(stream.read(mq, std::as_writable_bytes(std::span(out)), priority));
  return out;
}

TEST_F(MessageStreamTest, SmallReadsTakeWholeMessagesInPieces) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT | O_NONBLOCK, 0600, small);
  mq.send(bytes_of("abcdef"), 3);
  mq.send(bytes_of("xyz"), 1);
  message_stream stream;
  unsigned priority = 0;
  EXPECT_EQ(read_some(stream, mq, 4, priority), "abcd");
  EXPECT_EQ(priority, 3u);
  EXPECT_TRUE(stream.pending());
  EXPECT_EQ(read_some(stream, mq, 4, priority), "ef");
  EXPECT_FALSE(stream.pending());
  EXPECT_EQ(read_some(stream, mq, 100, priority), "xyz");  // >= message size: received directly
  EXPECT_EQ(priority, 1u);
  EXPECT_EQ(errno_of([&] { read_some(stream, mq, 4, priority); }), EAGAIN);
  EXPECT_EQ(read_some(stream, mq, 0, priority), "");
}

// Issue 14: a small read of an empty non-blocking queue fails with EAGAIN; before the fix the
// stream then reported its zero-filled buffer as pending and handed out ~8 KiB of NULs.
TEST_F(MessageStreamTest, AFailedSmallReadExposesNothing) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT | O_NONBLOCK, 0600, small);
  message_stream stream;
  unsigned priority = 0;
  mq.send(bytes_of("one\ntw"), 0);
  EXPECT_EQ(read_some(stream, mq, 16, priority), "one\ntw");
  EXPECT_EQ(errno_of([&] { read_some(stream, mq, 16, priority); }), EAGAIN);
  EXPECT_FALSE(stream.pending());
  mq.send(bytes_of("o\n"), 0);
  EXPECT_EQ(read_some(stream, mq, 16, priority), "o\n");
  EXPECT_FALSE(stream.pending());
}

// Issue 14: the same fault handed out a message a second time (Tcl's -buffersize 16).
TEST_F(MessageStreamTest, AFailedReadNeverRepeatsTheLastMessage) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT | O_NONBLOCK, 0600, small);
  message_stream stream;
  unsigned priority = 0;
  mq.send(bytes_of("secret-1\n"), 0);
  EXPECT_EQ(read_some(stream, mq, 16, priority), "secret-1\n");
  EXPECT_EQ(errno_of([&] { read_some(stream, mq, 16, priority); }), EAGAIN);
  EXPECT_EQ(errno_of([&] { read_some(stream, mq, 16, priority); }), EAGAIN);
  EXPECT_FALSE(stream.pending());
}

TEST_F(MessageStreamTest, AnEmptyMessageReadsAsZeroBytes) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT | O_NONBLOCK, 0600, small);
  mq.send(bytes_of("one\n"), 0);
  mq.send(bytes_of(""), 5);
  mq.send(bytes_of("two\n"), 0);
  mq.send(bytes_of(""), 0);
  message_stream stream;
  unsigned priority = 0;
  // The empty message of priority 5 comes first; small and large reads alike return 0 for it.
  EXPECT_EQ(read_some(stream, mq, 2, priority), "");
  EXPECT_EQ(priority, 5u);
  EXPECT_EQ(read_some(stream, mq, 2, priority), "on");
  EXPECT_EQ(priority, 0u);
  EXPECT_EQ(read_some(stream, mq, 2, priority), "e\n");
  EXPECT_EQ(read_some(stream, mq, 100, priority), "two\n");
  priority = 9;
  EXPECT_EQ(read_some(stream, mq, 100, priority), "");
  EXPECT_EQ(priority, 0u);
  EXPECT_EQ(errno_of([&] { read_some(stream, mq, 2, priority); }), EAGAIN);
}

TEST_F(MessageStreamTest, ATimedReadThatTimesOutExposesNothing) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT, 0600, small);
  message_stream stream;
  unsigned priority = 7;
  std::string out(8, '\xAA');
  auto buffer = std::as_writable_bytes(std::span(out));
  EXPECT_EQ(stream.read(mq, buffer, priority, 5ms), std::nullopt);
  EXPECT_FALSE(stream.pending());
  EXPECT_EQ(priority, 7u);
  mq.send(bytes_of("0123456789"), 2);
  EXPECT_EQ(stream.read(mq, buffer, priority, 5ms), std::optional<std::size_t>(8));
  EXPECT_EQ(out, "01234567");
  EXPECT_EQ(priority, 2u);
  // The rest is pending: handed out without waiting, even with a zero timeout.
  EXPECT_EQ(stream.read(mq, buffer, priority, 0ms), std::optional<std::size_t>(2));
  EXPECT_EQ(out.substr(0, 2), "89");
  EXPECT_EQ(stream.read(mq, buffer, priority, 0ms), std::nullopt);
}

TEST_F(MessageStreamTest, InterruptedReceivesAreResumed) {
  queue_name q;
  auto mq = message_queue::open(q, O_RDWR | O_CREAT, 0600, small);
  message_stream stream;
  unsigned priority = 0;
  mq.send(bytes_of("hello"), 1);
  inject.eintr = 3;
  EXPECT_EQ(read_some(stream, mq, 2, priority), "he");
  EXPECT_EQ(inject.calls, 4);
  mq.send(bytes_of("world"), 1);
  inject = {};
  inject.eintr = 2;
  EXPECT_EQ(read_some(stream, mq, 3, priority), "llo");  // pending: no receive at all
  EXPECT_EQ(inject.calls, 0);
  std::string out(5, '\0');
  EXPECT_EQ(stream.read(mq, std::as_writable_bytes(std::span(out)), priority, 1s),
            std::optional<std::size_t>(5));
  EXPECT_EQ(out, "world");
  EXPECT_EQ(inject.calls, 3);
}

// ---- the model test -----------------------------------------------------------------------

// What the queue and the stream should hold, kept without any queue: the messages in the
// queue, and the unread rest of the message the stream took last.
struct reference {
  struct message {
    unsigned priority;
    std::uint64_t seq;
    std::string bytes;
  };
  std::vector<message> queued;
  std::string rest;
  std::uint64_t next_seq = 0;

  void send(std::string bytes, unsigned priority) {
    queued.push_back({priority, next_seq++, std::move(bytes)});
  }
  // The message mq_receive takes next: the highest priority, the oldest of that priority.
  message take() {
    auto next = std::min_element(queued.begin(), queued.end(), [](const auto& a, const auto& b) {
      return a.priority != b.priority ? a.priority > b.priority : a.seq < b.seq;
    });
    message m = std::move(*next);
    queued.erase(next);
    return m;
  }
};

std::uint64_t test_seed() {
  if (const char* text = std::getenv("MMIPC_SEED")) return std::strtoull(text, nullptr, 10);
  return std::random_device{}();
}

// Random operations on a real queue, read through a message_stream and predicted by a
// reference: sends of random messages (empty ones included, random bytes including NULs,
// random priorities), reads of random sizes (below and above the message size), untimed or
// timed, in blocking or non-blocking mode (switched at random), with EINTR, EAGAIN and
// timeouts injected at random points, besides the real EAGAIN and timeouts of an empty queue.
TEST_F(MessageStreamTest, MatchesAReferenceModelUnderInjectedFailures) {
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE("MMIPC_SEED=" + std::to_string(seed));
  std::mt19937_64 random(seed);
  auto chance = [&](int percent) {
    return std::uniform_int_distribution<int>(0, 99)(random) < percent;
  };
  auto between = [&](std::size_t low, std::size_t high) {
    return std::uniform_int_distribution<std::size_t>(low, high)(random);
  };

  std::uint64_t reads = 0, failures = 0, empties = 0, interrupted = 0;
  for (int round = 0; round < 12; ++round) {
    const long msgsize = static_cast<long>(between(1, 96));
    const long maxmsg = static_cast<long>(between(1, 8));
    queue_name q;
    auto mq = message_queue::open(q, O_RDWR | O_CREAT | O_EXCL, 0600,
                                  mmipc::mq_capacity{maxmsg, msgsize});
    bool nonblocking = false;
    message_stream stream;
    reference model;
    for (int step = 0; step < 600; ++step) {
      SCOPED_TRACE("round " + std::to_string(round) + " step " + std::to_string(step));
      if (chance(8)) {
        nonblocking = !nonblocking;
        mq.set_nonblocking(nonblocking);
        continue;
      }
      if (model.queued.size() < static_cast<std::size_t>(maxmsg) && chance(40)) {
        std::string bytes(chance(15) ? 0 : between(1, static_cast<std::size_t>(msgsize)), '\0');
        for (char& c : bytes) c = static_cast<char>(between(0, 255));
        const auto priority = static_cast<unsigned>(between(0, 3));
        mq.send(bytes_of(bytes), priority);
        model.send(std::move(bytes), priority);
        continue;
      }
      // A read. An untimed blocking read of an empty queue would wait forever: time it.
      const std::size_t size = chance(50) ? between(1, static_cast<std::size_t>(msgsize))
                                          : between(1, 2 * static_cast<std::size_t>(msgsize) + 1);
      const bool would_wait = !nonblocking && model.rest.empty() && model.queued.empty();
      const bool timed = would_wait || chance(30);
      inject = {};
      inject.eintr = chance(25) ? static_cast<int>(between(1, 3)) : 0;
      if (chance(20)) {
        if (nonblocking) {
          inject.fail_with = EAGAIN;
        } else if (timed) {
          inject.fail_with = ETIMEDOUT;
        }
      }
      const int eintr = inject.eintr;
      const bool injected_failure = inject.fail_with != 0;

      std::string out(size, '\xAA');
      auto buffer = std::as_writable_bytes(std::span(out));
      unsigned priority = 12345;
      std::optional<std::size_t> got;
      int err = 0;
      try {
        if (timed) {
          got = stream.read(mq, buffer, priority, std::chrono::milliseconds(between(0, 2)));
        } else {
          got = stream.read(mq, buffer, priority);
        }
      } catch (const mmipc::os_error& e) {
        err = e.error_number();
      }
      ++reads;

      if (!model.rest.empty()) {
        // Pending bytes are handed out without a receive.
        const std::size_t n = std::min(size, model.rest.size());
        ASSERT_EQ(err, 0);
        ASSERT_EQ(got, std::optional<std::size_t>(n));
        ASSERT_EQ(out.substr(0, n), model.rest.substr(0, n));
        ASSERT_EQ(inject.calls, 0);
        model.rest.erase(0, n);
      } else if (injected_failure || model.queued.empty()) {
        // Nothing to receive (really, or by injection): nothing handed out, nothing lost.
        ++failures;
        if (nonblocking) {
          ASSERT_EQ(err, EAGAIN);
        } else {
          ASSERT_EQ(err, 0);
          ASSERT_EQ(got, std::nullopt);
        }
        ASSERT_EQ(priority, 12345u);
        ASSERT_EQ(inject.calls, eintr + 1);
      } else {
        const reference::message m = model.take();
        const std::size_t n = std::min(size, m.bytes.size());
        ASSERT_EQ(err, 0);
        ASSERT_EQ(got, std::optional<std::size_t>(n));
        ASSERT_EQ(out.substr(0, n), m.bytes.substr(0, n));
        ASSERT_EQ(priority, m.priority);
        ASSERT_EQ(inject.calls, eintr + 1);
        model.rest = m.bytes.substr(n);
        if (m.bytes.empty()) ++empties;
        if (eintr > 0) ++interrupted;
      }
      ASSERT_EQ(stream.pending(), !model.rest.empty());
      ASSERT_EQ(mq.attributes().current_messages, static_cast<long>(model.queued.size()));
    }
  }
  // The run exercised every path.
  EXPECT_GT(failures, 100u);
  EXPECT_GT(empties, 10u);
  EXPECT_GT(interrupted, 50u);
  std::printf(
      "message_stream model: %llu reads, %llu failed, %llu empty messages, %llu resumed "
      "after EINTR\n",
      static_cast<unsigned long long>(reads), static_cast<unsigned long long>(failures),
      static_cast<unsigned long long>(empties), static_cast<unsigned long long>(interrupted));
}

}  // namespace
