// mmipc mq: POSIX message queues from the shell (ls, create, send, recv, stat, rm), on the
// core's mmipc::message_queue, so names, capacities and the explanations of system limits are
// the same as in the Tcl package posixipc.

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <vector>

#include "cli.hpp"
#include "groups.hpp"
#include "ipc_args.hpp"
#include "json.hpp"
#include "mmipc/message_queue.hpp"
#include "mmipc/unique_fd.hpp"

namespace mmipc::cli {
namespace {

// ---- what ls and stat print -----------------------------------------------------------------

struct queue_info {
  std::string name;
  std::optional<mq_attributes> attributes;  // unset: the queue cannot be opened by us
  std::optional<struct stat> status;
};

queue_info describe(const message_queue& queue) {
  queue_info info{queue.name(), queue.attributes(), std::nullopt};
  struct stat st {};
  // On Linux the queue descriptor is a file of the mqueue file system: its mode and owner.
  if (::fstat(queue.native_handle(), &st) == 0) info.status = st;
  return info;
}

std::string json_of(const queue_info& q) {
  json_object o;
  o.add_string("name", q.name);
  if (q.attributes) {
    o.add_number("messages", std::int64_t{q.attributes->current_messages});
    o.add_number("max_messages", std::int64_t{q.attributes->max_messages});
    o.add_number("message_size", std::int64_t{q.attributes->message_size});
  } else {
    o.add_null("messages").add_null("max_messages").add_null("message_size");
  }
  if (q.status) {
    o.add_string("mode", mode_text(q.status->st_mode));
    o.add_string("owner", user_name(q.status->st_uid));
    o.add_string("group", group_name(q.status->st_gid));
  } else {
    o.add_null("mode").add_null("owner").add_null("group");
  }
  return o.line();
}

// ---- where the queues are listed --------------------------------------------------------------

// A mount point as /proc/self/mountinfo writes it: space, tab, newline and '\' in octal.
std::string unescape_mount_point(std::string_view field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string_view digits = field.substr(i + 1, 3);
      if (digits.find_first_not_of("01234567") == std::string_view::npos) {
        out +=
            static_cast<char>((digits[0] - '0') * 64 + (digits[1] - '0') * 8 + (digits[2] - '0'));
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

// The directory where the mqueue file system is mounted (/dev/mqueue if it is there, else the
// last mount listed: an mqueue mount inherited from another IPC namespace lists its queues,
// not ours, and a process that mounts its own does so after it), or "".
std::string mqueue_mount() {
  std::ifstream in("/proc/self/mountinfo");
  std::string found;
  for (std::string line; std::getline(in, line);) {
    // "<id> <parent> <dev> <root> <mount point> <options> [optional...] - <type> <source> ..."
    std::vector<std::string_view> fields;
    std::string_view rest = line;
    while (!rest.empty()) {
      const std::size_t space = rest.find(' ');
      fields.push_back(rest.substr(0, space));
      if (space == std::string_view::npos) break;
      rest.remove_prefix(space + 1);
    }
    auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 5 || dash == fields.end() || dash + 1 == fields.end()) continue;
    if (*(dash + 1) != "mqueue") continue;
    std::string point = unescape_mount_point(fields[4]);
    if (point == "/dev/mqueue") return point;
    // The last one: a mount made later (in a private namespace, say) hides the earlier ones.
    found = point;
  }
  return found;
}

[[noreturn]] void not_mounted() {
  struct stat st {};
  const bool dir = ::stat("/dev/mqueue", &st) == 0 && S_ISDIR(st.st_mode);
  throw failure("/dev/mqueue",
                "the mqueue file system is not mounted, and only it lists the queues; mount it "
                "(as root) with: " +
                    std::string(dir ? "" : "mkdir -p /dev/mqueue && ") +
                    "mount -t mqueue none /dev/mqueue");
}

// ---- commands -------------------------------------------------------------------------------

void ls(bool json) {
  const std::string dir = mqueue_mount();
  if (dir.empty()) not_mounted();
  std::vector<std::string> names;
  {
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) throw failure(dir, std::strerror(errno));
    while (dirent* e = ::readdir(d.get())) {
      const std::string_view entry = e->d_name;
      if (entry == "." || entry == "..") continue;
      names.push_back(std::string(entry));
    }
  }
  std::sort(names.begin(), names.end());
  std::string json_out;
  table rows;
  for (const std::string& entry : names) {
    queue_info q{"/" + entry, std::nullopt, std::nullopt};
    try {
      // The attributes from the queue itself (read access is enough; nothing changes).
      q = describe(message_queue::open(q.name, O_RDONLY | O_NONBLOCK));
    } catch (const std::exception&) {
      // Not ours to read (or gone meanwhile): what the directory tells.
      struct stat st {};
      if (::stat((dir + "/" + entry).c_str(), &st) != 0) continue;
      q.status = st;
    }
    if (json) {
      json_out += json_of(q);
      continue;
    }
    const auto number = [&](long mq_attributes::*field) {
      return q.attributes ? std::to_string((*q.attributes).*field) : std::string("-");
    };
    rows.add({q.name, number(&mq_attributes::current_messages),
              number(&mq_attributes::max_messages), number(&mq_attributes::message_size),
              q.status ? mode_text(q.status->st_mode) : "-",
              q.status ? user_name(q.status->st_uid) : "-"});
  }
  if (json) {
    write_all(json_out);
  } else {
    rows.print([](std::size_t column) { return column >= 1 && column <= 3; });
  }
}

struct create_options {
  std::string name;
  std::optional<std::string> max_messages;
  std::optional<std::string> message_size;
  std::optional<std::string> mode;
};

void create(const create_options& o) {
  const std::string name = ipc_name(o.name);
  try {
    std::optional<mq_capacity> capacity;
    if (o.max_messages || o.message_size) {
      const auto max_messages = o.max_messages ? parse_count(*o.max_messages) : 0;
      const auto message_size = o.message_size ? parse_size(*o.message_size) : 0;
      if (max_messages > LONG_MAX || message_size > LONG_MAX) {
        throw failure(name, std::strerror(EINVAL));
      }
      // A size not given takes the system's default, as in the Tcl package.
      capacity = mq_limits::current().capacity(
          o.max_messages ? std::optional<long>(static_cast<long>(max_messages)) : std::nullopt,
          o.message_size ? std::optional<long>(static_cast<long>(message_size)) : std::nullopt);
    }
    const mode_t mode = o.mode ? parse_octal_permissions(*o.mode) : default_mode();
    message_queue::open(name, O_RDWR | O_CREAT | O_EXCL, mode, capacity);
  } catch (...) {
    throw failure_of_current_exception(name);
  }
}

struct send_options {
  std::string name;
  std::vector<std::string> messages;
  unsigned priority = 0;
  std::optional<std::string> timeout;
};

void send(const send_options& o) {
  const std::string name = ipc_name(o.name);
  std::size_t sent = 0;
  const auto progress = [&](std::size_t of) {
    if (sent == 0) return std::string();
    return " (" + std::to_string(sent) + (of ? " of " + std::to_string(of) : std::string()) +
           (sent == 1 && of <= 1 ? " message" : " messages") + " sent)";
  };
  try {
    const auto timeout = o.timeout ? std::optional(parse_seconds(*o.timeout)) : std::nullopt;
    const message_queue queue = message_queue::open(name, O_WRONLY);
    const auto size = static_cast<std::size_t>(queue.message_size());
    const auto too_long = [&](const std::string& what) {
      return failure(name, what + " is longer than the queue's message size of " +
                               std::to_string(size) + " bytes");
    };
    // One message; waits for room like the core does (Ctrl-C there takes nothing back: a
    // message is either in the queue whole or not at all).
    const auto send_one = [&](std::string_view message, std::size_t of) {
      const auto bytes = std::as_bytes(std::span(message.data(), message.size()));
      if (timeout) {
        if (!queue.send(bytes, o.priority, *timeout)) {
          throw failure(name, "the queue stayed full for " + seconds_text(*timeout) + progress(of));
        }
      } else {
        queue.send(bytes, o.priority);
      }
      ++sent;
    };
    if (!o.messages.empty()) {
      // All are checked before the first is sent.
      for (std::size_t i = 0; i < o.messages.size(); ++i) {
        if (o.messages[i].size() > size) {
          throw too_long("message " + std::to_string(i + 1) + " (" +
                         std::to_string(o.messages[i].size()) + " bytes)");
        }
      }
      for (const std::string& message : o.messages) send_one(message, o.messages.size());
      return;
    }
    // Each line of standard input, as it comes; never more than one message held.
    std::string line;
    std::size_t number = 0;
    char buffer[65536];
    for (;;) {
      const ssize_t n = ::read(0, buffer, sizeof buffer);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw failure("standard input", std::strerror(errno));
      }
      if (n == 0) break;
      std::string_view chunk(buffer, static_cast<std::size_t>(n));
      while (!chunk.empty()) {
        const std::size_t newline = chunk.find('\n');
        line.append(chunk.substr(0, newline));
        if (line.size() > size) throw too_long("line " + std::to_string(number + 1));
        if (newline == std::string_view::npos) break;
        ++number;
        send_one(line, 0);
        line.clear();
        chunk.remove_prefix(newline + 1);
      }
    }
    if (!line.empty()) send_one(line, 0);  // a last line without its newline
  } catch (...) {
    failure f = failure_of_current_exception(name);
    if (sent > 0 && !f.reason().ends_with(" sent)")) {
      throw failure(f.object(), f.reason() + progress(0));
    }
    throw f;
  }
}

struct recv_options {
  std::string name;
  std::string count = "1";
  bool follow = false;
  std::optional<std::string> timeout;
  bool priority = false;
  bool nul = false;
};

void recv(const recv_options& o) {
  const std::string name = ipc_name(o.name);
  std::uint64_t received = 0;
  try {
    const std::uint64_t count = parse_count(o.count);
    const auto timeout = o.timeout ? std::optional(parse_seconds(*o.timeout)) : std::nullopt;
    const message_queue queue = message_queue::open(name, O_RDONLY);
    std::vector<std::byte> buffer(static_cast<std::size_t>(queue.message_size()));
    // Held from here: a message taken from the queue is always printed whole before a
    // Ctrl-C ends the process, which happens while waiting, with nothing taken.
    signals_held held;
    while (o.follow || received < count) {
      if (wait_until_ready(queue.native_handle(), POLLIN, timeout) == readiness::timed_out) {
        std::string reason = "no message came within " + seconds_text(*timeout);
        if (!o.follow && count > 1) {
          reason += " (" + std::to_string(received) + " of " + std::to_string(count) + " received)";
        }
        throw failure(name, reason);
      }
      unsigned priority = 0;
      // Without waiting: another reader may have taken the message meanwhile.
      const auto n = queue.receive(buffer, &priority, std::chrono::nanoseconds::zero());
      if (!n) continue;
      ++received;
      std::string out;
      if (o.priority) out = std::to_string(priority) + "\t";
      out.append(reinterpret_cast<const char*>(buffer.data()), *n);
      out += o.nul ? '\0' : '\n';
      write_all(out);
    }
  } catch (...) {
    throw failure_of_current_exception(name);
  }
}

struct stat_options {
  std::string name;
  bool json = false;
};

void stat(const stat_options& o) {
  const std::string name = ipc_name(o.name);
  queue_info q;
  try {
    q = describe(message_queue::open(name, O_RDONLY | O_NONBLOCK));
  } catch (...) {
    throw failure_of_current_exception(name);
  }
  if (o.json) {
    write_all(json_of(q));
    return;
  }
  std::string out = "name: " + q.name + "\n";
  out += "messages: " + std::to_string(q.attributes->current_messages) + "\n";
  out += "max_messages: " + std::to_string(q.attributes->max_messages) + "\n";
  out += "message_size: " + std::to_string(q.attributes->message_size) + "\n";
  if (q.status) {
    out += "mode: " + mode_text(q.status->st_mode) + "\n";
    out += "owner: " + user_name(q.status->st_uid) + "\n";
    out += "group: " + group_name(q.status->st_gid) + "\n";
  }
  write_all(out);
}

void rm(const std::vector<std::string>& arguments) {
  const auto check = [](const std::string& name) {
    validate_ipc_name(name, ipc_kind::message_queue);
    try {
      message_queue::open(name, O_RDONLY | O_NONBLOCK);  // it exists (unreadable is fine)
    } catch (const os_error& e) {
      if (e.error_number() != EACCES) throw;
    }
  };
  remove_all(arguments, check, [](const std::string& name) { message_queue::unlink(name); });
}

}  // namespace

void add_mq_commands(CLI::App& program) {
  CLI::App* mq = add_group(program, "mq", "POSIX message queues");

  auto ls_json = std::make_shared<bool>(false);
  CLI::App* c = add_command(*mq, "ls", "List the queues (needs the mqueue file system mounted)",
                            "mq ls [--json]", [ls_json] { ls(*ls_json); });
  c->add_flag("--json", *ls_json, "One JSON object per queue and line");

  auto cr = std::make_shared<create_options>();
  c = add_command(*mq, "create", "Create a queue (fails if it exists)",
                  "mq create NAME [--maxmsg N] [--msgsize N] [--mode OCTAL]",
                  [cr] { create(*cr); });
  c->add_option("NAME", cr->name, "Queue name (/jobs; a missing leading / is added)")
      ->type_name("")
      ->required();
  c->add_option("--maxmsg", cr->max_messages, "Capacity in messages (default: the system's)")
      ->type_name("N")
      ->check(count_check());
  c->add_option("--msgsize", cr->message_size,
                "Largest message in bytes, K/M/G suffixes (default: the system's)")
      ->type_name("N")
      ->check(size_check());
  add_mode_option(*c, cr->mode);

  auto se = std::make_shared<send_options>();
  c = add_command(
      *mq, "send", "Send each MESSAGE as one message; without any, each line of standard input",
      "mq send NAME [--priority P] [--timeout SECONDS] [MESSAGE...]", [se] { send(*se); });
  c->add_option("NAME", se->name, "Queue name")->type_name("")->required();
  c->add_option("MESSAGE", se->messages, "Messages, one each")->type_name("");
  accept_end_of_options(*c);
  c->add_option("--priority", se->priority, "Priority of the messages (default 0)")
      ->type_name("P")
      ->check(CLI::Range(0u, message_queue::priority_limit - 1).description(""));
  c->add_option("--timeout", se->timeout, "Wait at most this long for room, for each message")
      ->type_name("SECONDS")
      ->check(seconds_check());

  auto re = std::make_shared<recv_options>();
  c = add_command(*mq, "recv", "Receive messages, highest priority first, one per line",
                  "mq recv NAME [-n COUNT] [--follow] [--timeout SECONDS] [--priority] [-0]",
                  [re] { recv(*re); });
  c->add_option("NAME", re->name, "Queue name")->type_name("")->required();
  c->add_option("-n", re->count, "Stop after COUNT messages (default 1)")
      ->type_name("COUNT")
      ->check(count_check());
  c->add_flag("-f,--follow", re->follow, "Never stop (until interrupted)");
  c->add_option("--timeout", re->timeout, "Wait at most this long for each message")
      ->type_name("SECONDS")
      ->check(seconds_check());
  c->add_flag("--priority", re->priority, "Print each message's priority and a tab first");
  c->add_flag("-0", re->nul, "End each message with a NUL byte instead of a newline");

  auto st = std::make_shared<stat_options>();
  c = add_command(*mq, "stat", "Show a queue's attributes, mode and owner", "mq stat NAME [--json]",
                  [st] { stat(*st); });
  c->add_option("NAME", st->name, "Queue name")->type_name("")->required();
  c->add_flag("--json", st->json, "One JSON object");

  auto names = std::make_shared<std::vector<std::string>>();
  c = add_command(*mq, "rm", "Remove queues (none, if one of them cannot be)", "mq rm NAME...",
                  [names] { rm(*names); });
  c->add_option("NAME", *names, "Queue names")->type_name("")->required();
  accept_end_of_options(*c);
}

}  // namespace mmipc::cli
