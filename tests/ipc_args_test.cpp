#include "ipc_args.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "mmipc/message_queue.hpp"
#include "mmipc/semaphore.hpp"
#include "mmipc/shared_memory.hpp"
#include "test_util.hpp"

namespace {

using mmipc::ipc_kind;
using mmipc::open_request;

std::string error_of(auto&& call) {
  try {
    call();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

open_request parse(ipc_kind kind, std::vector<std::string_view> args) {
  return mmipc::parse_open_request(kind, args);
}

TEST(IpcArgsTest, ModeWordsMapToFlags) {
  EXPECT_EQ(mmipc::parse_access("r").flags, O_RDONLY);
  EXPECT_EQ(mmipc::parse_access("r+").flags, O_RDWR);
  EXPECT_EQ(mmipc::parse_access("w").flags, O_WRONLY | O_CREAT);
  EXPECT_EQ(mmipc::parse_access("w+").flags, O_RDWR | O_CREAT);
  for (const char* word : {"rb", "r+b", "rb+", "wb", "w+b", "wb+"}) {
    EXPECT_TRUE(mmipc::parse_access(word).binary) << word;
  }
  EXPECT_FALSE(mmipc::parse_access("w+").binary);
  EXPECT_EQ(mmipc::parse_access("rb+").flags, O_RDWR);
  EXPECT_EQ(mmipc::parse_access("wb").flags, O_WRONLY | O_CREAT);
}

TEST(IpcArgsTest, UnknownModeWordHasTheOriginalMessage) {
  EXPECT_EQ(error_of([] { mmipc::parse_access("a"); }),
            "unknown open mode, \"a\": should be one of r, r+ rb, rb+, w, w+, wb, or wb+");
  EXPECT_EQ(error_of([] { mmipc::parse_access("rw"); }),
            "unknown open mode, \"rw\": should be one of r, r+ rb, rb+, w, w+, wb, or wb+");
}

TEST(IpcArgsTest, FlagListsMapToFlags) {
  EXPECT_EQ(mmipc::parse_access("RDWR CREAT EXCL NONBLOCK").flags,
            O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK);
  EXPECT_EQ(mmipc::parse_access("WRONLY").flags, O_WRONLY);
  auto binary = mmipc::parse_access("  BINARY\tRDONLY ");
  EXPECT_EQ(binary.flags, O_RDONLY);
  EXPECT_TRUE(binary.binary);
}

TEST(IpcArgsTest, BadFlagListsAreRefused) {
  EXPECT_EQ(error_of([] { mmipc::parse_access("RDWR FOO"); }),
            "invalid access mode \"FOO\": must be BINARY, CREAT, EXCL, NONBLOCK, RDONLY, RDWR, "
            "or WRONLY");
  const std::string exactly_one = "access mode must specify exactly one of RDONLY, WRONLY, or RDWR";
  EXPECT_EQ(error_of([] { mmipc::parse_access("CREAT"); }), exactly_one);
  EXPECT_EQ(error_of([] { mmipc::parse_access("RDONLY WRONLY"); }), exactly_one);
  EXPECT_EQ(error_of([] { mmipc::parse_access("RDONLY RDONLY"); }), exactly_one);
  EXPECT_EQ(error_of([] { mmipc::parse_access(""); }), exactly_one);
}

TEST(IpcArgsTest, IntegersFollowTclRules) {
  EXPECT_EQ(mmipc::parse_integer("42"), 42);
  EXPECT_EQ(mmipc::parse_integer(" -7 "), -7);
  EXPECT_EQ(mmipc::parse_integer("0640"), 0640);
  EXPECT_EQ(mmipc::parse_integer("0o17"), 017);
  EXPECT_EQ(mmipc::parse_integer("0x1F"), 31);
  EXPECT_EQ(mmipc::parse_integer("0b101"), 5);
  EXPECT_EQ(mmipc::parse_integer("0"), 0);
  EXPECT_EQ(error_of([] { mmipc::parse_integer("foo"); }), "expected integer but got \"foo\"");
  EXPECT_EQ(error_of([] { mmipc::parse_integer(""); }), "expected integer but got \"\"");
  EXPECT_EQ(error_of([] { mmipc::parse_integer("08"); }),
            "expected integer but got \"08\" (looks like invalid octal number)");
  EXPECT_EQ(error_of([] { mmipc::parse_integer("99999999999999999999"); }),
            "integer value too large to represent: \"99999999999999999999\"");
}

TEST(IpcArgsTest, PermissionsAreOctalAndBounded) {
  EXPECT_EQ(mmipc::parse_permissions("0640"), 0640u);
  EXPECT_EQ(mmipc::parse_permissions("384"), 0600u);
  EXPECT_EQ(error_of([] { mmipc::parse_permissions("foo"); }), "expected integer but got \"foo\"");
  EXPECT_EQ(error_of([] { mmipc::parse_permissions("-1"); }),
            "invalid permissions \"-1\": must be between 0 and 07777");
  EXPECT_EQ(error_of([] { mmipc::parse_permissions("010000"); }),
            "invalid permissions \"010000\": must be between 0 and 07777");
}

TEST(IpcArgsTest, PermissionsWithALeadingZeroAreOctalWhateverTheIntegerSyntax) {
  // Tcl 9 reads "0640" as decimal 640, but its open reads permissions "0640" as octal, and so
  // must these; any other form is the front end's integer ("08" is 8 in Tcl 9).
  mmipc::argument_syntax decimal;
  decimal.integer = [](std::string_view text) -> long long {
    std::size_t used = 0;
    const long long value = std::stoll(std::string(text), &used, 10);
    if (used != text.size()) throw std::invalid_argument("not decimal");
    return value;
  };
  EXPECT_EQ(mmipc::parse_permissions("0640", decimal), 0640u);
  EXPECT_EQ(mmipc::parse_permissions(" 0600 ", decimal), 0600u);
  EXPECT_EQ(mmipc::parse_permissions("00644", decimal), 0644u);
  EXPECT_EQ(mmipc::parse_permissions("420", decimal), 0644u);
  EXPECT_EQ(mmipc::parse_permissions("08", decimal), 8u);
  EXPECT_EQ(mmipc::parse_permissions("0649", decimal), 649u);
  EXPECT_EQ(error_of([] { mmipc::parse_permissions("017777"); }),
            "invalid permissions \"017777\": must be between 0 and 07777");
}

// The shell's way (chmod, the mmipc tool's --mode): digits are octal without a leading 0.
TEST(IpcArgsTest, OctalPermissionsNeedNoLeadingZero) {
  EXPECT_EQ(mmipc::parse_octal_permissions("640"), 0640u);
  EXPECT_EQ(mmipc::parse_octal_permissions("0640"), 0640u);
  EXPECT_EQ(mmipc::parse_octal_permissions("7777"), 07777u);
  EXPECT_EQ(mmipc::parse_octal_permissions("0"), 0u);
  for (const char* bad : {"", "8", "0x1f", "-1", "+640", " 640", "640 ", "10000", "017777",
                          "000000640", "rw-r--r--"}) {
    EXPECT_EQ(
        error_of([&] { mmipc::parse_octal_permissions(bad); }),
        "invalid permissions \"" + std::string(bad) + "\": must be between 0 and 07777 in octal")
        << bad;
  }
}

TEST(IpcArgsTest, NamesMustStartWithOneSlash) {
  for (const char* good : {"/a", "/queue-1.x"}) {
    EXPECT_NO_THROW(mmipc::validate_ipc_name(good, ipc_kind::message_queue)) << good;
  }
  EXPECT_EQ(error_of([] { mmipc::validate_ipc_name("foo", ipc_kind::message_queue); }),
            "invalid message queue name \"foo\": must start with \"/\" and contain no other "
            "\"/\"");
  EXPECT_EQ(error_of([] { mmipc::validate_ipc_name("/a/b", ipc_kind::shared_memory); }),
            "invalid shared memory name \"/a/b\": must start with \"/\" and contain no other "
            "\"/\"");
  EXPECT_EQ(error_of([] { mmipc::validate_ipc_name("/", ipc_kind::message_queue); }),
            "invalid message queue name \"/\": needs a name after the \"/\"");
  EXPECT_EQ(error_of([] { mmipc::validate_ipc_name("/..", ipc_kind::message_queue); }),
            "invalid message queue name \"/..\": needs a name after the \"/\"");
  EXPECT_NE(error_of([] {
              mmipc::validate_ipc_name(std::string_view("/a\0b", 4), ipc_kind::message_queue);
            }).find("contains a NUL character"),
            std::string::npos);
  EXPECT_NO_THROW(mmipc::validate_ipc_name("/" + std::string(255, 'q'), ipc_kind::message_queue));
  EXPECT_THROW(mmipc::validate_ipc_name("/" + std::string(256, 'q'), ipc_kind::message_queue),
               std::invalid_argument);
  EXPECT_NO_THROW(mmipc::validate_ipc_name("/" + std::string(251, 'q'), ipc_kind::shared_memory));
  EXPECT_THROW(mmipc::validate_ipc_name("/" + std::string(252, 'q'), ipc_kind::shared_memory),
               std::invalid_argument);
}

// Issue 14: the limit is in bytes (the name in the system's encoding), and the message says so:
// 128 two-byte characters are 256 bytes.
TEST(IpcArgsTest, NameLengthIsCountedInBytes) {
  std::string name = "/";
  for (int i = 0; i < 128; ++i) name += "\xC3\xA9";  // U+00E9 in UTF-8
  EXPECT_EQ(error_of([&] { mmipc::validate_ipc_name(name, ipc_kind::message_queue); }),
            "invalid message queue name \"" + name + "\": longer than 255 bytes after the \"/\"");
  name.resize(name.size() - 2);
  EXPECT_NO_THROW(mmipc::validate_ipc_name(name, ipc_kind::message_queue));
}

int name_errno(std::string_view name, ipc_kind kind) {
  try {
    mmipc::validate_ipc_name(name, kind);
  } catch (const mmipc::invalid_name_error& e) {
    return e.error_number();
  }
  return 0;
}

// The errno mq_open gives for each bad queue name (measured on Linux); sem_open's EINVAL for
// shared memory, whose semaphore posixipc opens first.
TEST(IpcArgsTest, BadNamesCarryTheSystemsErrno) {
  EXPECT_EQ(name_errno("foo", ipc_kind::message_queue), EINVAL);
  EXPECT_EQ(name_errno("/", ipc_kind::message_queue), ENOENT);
  EXPECT_EQ(name_errno("/a/b", ipc_kind::message_queue), EACCES);
  EXPECT_EQ(name_errno("/.", ipc_kind::message_queue), EACCES);
  EXPECT_EQ(name_errno("/..", ipc_kind::message_queue), EACCES);
  EXPECT_EQ(name_errno("/" + std::string(256, 'q'), ipc_kind::message_queue), ENAMETOOLONG);
  EXPECT_EQ(name_errno(std::string_view("/a\0b", 4), ipc_kind::message_queue), EINVAL);
  for (std::string_view bad : {"foo", "/", "/a/b", "/..", "//x"}) {
    EXPECT_EQ(name_errno(bad, ipc_kind::shared_memory), EINVAL) << bad;
    EXPECT_EQ(name_errno(bad, ipc_kind::semaphore), EINVAL) << bad;
  }
  EXPECT_EQ(name_errno("/" + std::string(252, 'q'), ipc_kind::shared_memory), EINVAL);
}

TEST(IpcArgsTest, OpenRequestDefaults) {
  auto r = parse(ipc_kind::message_queue, {"/q"});
  EXPECT_EQ(r.name, "/q");
  EXPECT_EQ(r.access.flags, O_RDONLY);
  EXPECT_EQ(r.permissions, 0666u);
  EXPECT_FALSE(r.max_messages);
  EXPECT_FALSE(r.message_size);
  EXPECT_EQ(r.priority, 0u);
}

TEST(IpcArgsTest, OpenRequestReadsOptionsAndPositionals) {
  auto r = parse(ipc_kind::message_queue,
                 {"-maxmsg", "5", "-msgsize", "0x100", "-priority", "3", "/q", "w+", "0600"});
  EXPECT_EQ(*r.max_messages, 5);
  EXPECT_EQ(*r.message_size, 256);
  EXPECT_EQ(r.priority, 3u);
  EXPECT_EQ(r.access.flags, O_RDWR | O_CREAT);
  EXPECT_EQ(r.permissions, 0600u);
  auto s = parse(ipc_kind::shared_memory, {"-size", "4096", "--", "/s", "RDWR CREAT"});
  EXPECT_EQ(*s.size, 4096u);
  EXPECT_EQ(s.access.flags, O_RDWR | O_CREAT);
}

TEST(IpcArgsTest, OpenRequestErrorsAreVerbatim) {
  EXPECT_EQ(error_of([] {
              parse(ipc_kind::message_queue, {"-curmsgs", "3", "/q"});
            }),
            "option, -curmsgs, cannot be set on open: should be one of: -maxmsg, -msgsize, or "
            "-priority");
  EXPECT_EQ(error_of([] {
              parse(ipc_kind::message_queue, {"-lastpriority", "3", "/q"});
            }),
            "option, -lastpriority, cannot be set on open: should be one of: -maxmsg, "
            "-msgsize, or -priority");
  EXPECT_EQ(error_of([] {
              parse(ipc_kind::message_queue, {"-priority", "-30", "/q"});
            }),
            "negative values for option, \"-priority\", are not allowed: got -30");
  EXPECT_EQ(error_of([] {
              parse(ipc_kind::message_queue, {"-maxm", "3", "/q"});
            }),
            "bad option \"-maxm\": should be one of: -maxmsg, -msgsize, or -priority");
  EXPECT_EQ(error_of([] {
              parse(ipc_kind::message_queue, {"-priority", "32768", "/q"});
            }),
            "invalid message priority 32768: must be less than 32768 (MQ_PRIO_MAX)");
  EXPECT_EQ(error_of([] {
              parse(ipc_kind::shared_memory, {"-size", "-1", "/s"});
            }),
            "shared memory size must be positive");
  EXPECT_EQ(error_of([] {
              parse(ipc_kind::shared_memory, {"-maxmsg", "1", "/s"});
            }),
            "bad option \"-maxmsg\": should be one of: -size");
  EXPECT_EQ(error_of([] {
              parse(ipc_kind::shared_memory, {"-size", "big", "/s"});
            }),
            "expected integer but got \"big\"");
  EXPECT_EQ(error_of([] {
              parse(ipc_kind::message_queue, {"/q", "r", "foo"});
            }),
            "expected integer but got \"foo\"");
}

TEST(IpcArgsTest, MisusedOptionsAreOptionErrors) {
  auto option_of = [](ipc_kind kind, std::vector<std::string_view> args) {
    try {
      parse(kind, std::move(args));
    } catch (const mmipc::option_error& e) {
      return e.option() + (e.unknown() ? " unknown" : " misplaced");
    }
    return std::string("(no option_error)");
  };
  EXPECT_EQ(option_of(ipc_kind::message_queue, {"-foo", "1", "/q"}), "-foo unknown");
  EXPECT_EQ(option_of(ipc_kind::message_queue, {"-size", "1", "/q"}), "-size unknown");
  EXPECT_EQ(option_of(ipc_kind::message_queue, {"-curmsgs", "1", "/q"}), "-curmsgs misplaced");
  EXPECT_EQ(option_of(ipc_kind::shared_memory, {"-size", "16", "-foo", "1", "/s", "w+"}),
            "-foo unknown");
  EXPECT_EQ(option_of(ipc_kind::shared_memory, {"-blocking", "1", "/s"}), "-blocking unknown");
}

TEST(IpcArgsTest, BadValuesNameTheirArgument) {
  auto argument_of = [](ipc_kind kind, std::vector<std::string_view> args) {
    try {
      parse(kind, std::move(args));
    } catch (const mmipc::argument_error& e) {
      return e.argument();
    }
    return std::string("(no argument_error)");
  };
  EXPECT_EQ(argument_of(ipc_kind::message_queue, {"/q", "a"}), "access");
  EXPECT_EQ(argument_of(ipc_kind::message_queue, {"/q", "RDWR FOO"}), "access");
  EXPECT_EQ(argument_of(ipc_kind::message_queue, {"/q", "CREAT"}), "access");
  EXPECT_EQ(argument_of(ipc_kind::message_queue, {"/q", "r", "077777"}), "permissions");
  EXPECT_EQ(argument_of(ipc_kind::message_queue, {"-priority", "-1", "/q"}), "-priority");
  EXPECT_EQ(argument_of(ipc_kind::message_queue, {"-priority", "32768", "/q"}), "-priority");
  EXPECT_EQ(argument_of(ipc_kind::shared_memory, {"-size", "-1", "/s"}), "-size");
}

// Issue 20: the capacity is the system's to check, and only when it creates the queue.
TEST(IpcArgsTest, CapacityIsPassedOnUnchecked) {
  auto r = parse(ipc_kind::message_queue, {"-maxmsg", "-1", "-msgsize", "-5", "/q", "r"});
  EXPECT_EQ(*r.max_messages, -1);
  EXPECT_EQ(*r.message_size, -5);
}

TEST(IpcArgsTest, AFrontEndMayReadIntegersAndListsItsOwnWay) {
  mmipc::argument_syntax syntax;
  std::vector<std::string> seen;
  syntax.integer = [&](std::string_view text) -> long long {
    seen.emplace_back(text);
    if (text == "seven") return 7;
    throw std::runtime_error("not mine");
  };
  syntax.list = [&](std::string_view text) {
    seen.emplace_back(text);
    return std::vector<std::string>{"RDWR", "CREAT"};
  };
  const std::vector<std::string_view> args{"-maxmsg", "seven", "/q", "{RDWR {CREAT}}", "seven"};
  auto r = mmipc::parse_open_request(ipc_kind::message_queue, args, syntax);
  EXPECT_EQ(*r.max_messages, 7);
  EXPECT_EQ(r.permissions, 7u);
  EXPECT_EQ(r.access.flags, O_RDWR | O_CREAT);
  EXPECT_EQ(seen, (std::vector<std::string>{"seven", "{RDWR {CREAT}}", "seven"}));
  // What the reader throws reaches the caller unchanged. (Permissions with a leading 0 and an
  // octal digit never reach it: see PermissionsWithALeadingZeroAreOctalWhateverTheIntegerSyntax.)
  const std::vector<std::string_view> bad{"/q", "r", "six"};
  EXPECT_THROW(mmipc::parse_open_request(ipc_kind::message_queue, bad, syntax), std::runtime_error);
  // Mode words are not lists.
  EXPECT_EQ(mmipc::parse_access("w+", syntax).flags, O_RDWR | O_CREAT);
}

TEST(IpcArgsTest, WrongArgumentCountsAreUsageErrors) {
  EXPECT_THROW(parse(ipc_kind::message_queue, {}), mmipc::usage_error);
  EXPECT_THROW(parse(ipc_kind::message_queue, {"-maxmsg"}), mmipc::usage_error);
  EXPECT_THROW(parse(ipc_kind::message_queue, {"-maxmsg", "3"}), mmipc::usage_error);
  EXPECT_THROW(parse(ipc_kind::message_queue, {"/q", "r", "0600", "extra"}), mmipc::usage_error);
}

TEST(IpcArgsTest, DoubleDashAllowsNoOptions) {
  auto r = parse(ipc_kind::message_queue, {"--", "/q", "r+"});
  EXPECT_EQ(r.name, "/q");
  EXPECT_EQ(r.access.flags, O_RDWR);
}

}  // namespace

namespace {

// posixipc 1.0's words for each failing call, from the core's real failures: a renamed
// operation in the core shows up here, not in what users see.
std::string detail_of(auto&& call) {
  try {
    call();
  } catch (const mmipc::os_error& e) {
    return mmipc::original_detail(e);
  }
  return "(no error)";
}

TEST(IpcArgsTest, OriginalDetailNamesEachFailingCallAsPosixipcDid) {
  const mmipc::testing::queue_name q;
  const mmipc::testing::shm_name s;
  EXPECT_EQ(detail_of([&] { mmipc::message_queue::open(q.name, O_RDONLY); }), q.name);
  EXPECT_EQ(detail_of([&] { mmipc::message_queue::unlink(q.name); }), q.name);
  EXPECT_EQ(detail_of([&] { mmipc::shared_memory::unlink(s.name); }), s.name);
  EXPECT_EQ(detail_of([&] { mmipc::named_semaphore::open(s.name, 0); }),
            "cannot open shared memory exclusive access semaphore");
  // A full (then empty) non-blocking queue fails a timed send (receive) at once with EAGAIN.
  auto queue = mmipc::message_queue::open(q.name, O_RDWR | O_CREAT | O_NONBLOCK, 0600,
                                          mmipc::mq_capacity{1, 16});
  const auto byte = std::as_bytes(std::span("x", 1));
  queue.send(byte, 0);
  EXPECT_EQ(detail_of([&] { queue.send(byte, 0); }), "mq_send failed");
  EXPECT_EQ(detail_of([&] { queue.send(byte, 0, std::chrono::seconds(1)); }), "mq_send failed");
  std::byte buffer[16];
  queue.receive(buffer, nullptr);
  EXPECT_EQ(detail_of([&] { queue.receive(buffer, nullptr, std::chrono::seconds(1)); }),
            "mq_receive failed");
  EXPECT_EQ(detail_of([&] { queue.receive(buffer, nullptr); }), "mq_receive failed");
}

TEST(IpcArgsTest, TimeoutIsMillisecondsNeverNegativeAnyLength) {
  EXPECT_EQ(mmipc::parse_timeout_ms(0), std::chrono::milliseconds(0));
  EXPECT_EQ(mmipc::parse_timeout_ms(250), std::chrono::milliseconds(250));
  EXPECT_EQ(mmipc::to_timeout(mmipc::parse_timeout_ms(LLONG_MAX)), mmipc::forever);
  EXPECT_EQ(error_of([] { mmipc::parse_timeout_ms(-5); }),
            "negative values for -timeout are not allowed: got -5");
  try {
    mmipc::parse_timeout_ms(-1);
  } catch (const mmipc::argument_error& e) {
    EXPECT_EQ(e.argument(), "-timeout");
  }
}

}  // namespace
