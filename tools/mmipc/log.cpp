// mmipc log: ring logs from the shell (create, append, cat, tail, stat), on the core's
// mmipc::ring_log, so sizes, limits and every message about a log are the core's, as in the
// Tcl package mmap (mmap::log).
//
// The reading commands open the log read-only: they never change it (a follower that cannot
// announce itself to writers looks again every 100 ms, see ring_log.hpp) and need only read
// permission. `log cat` reads in batches (ring_log_reader::next_batch) and writes in large
// blocks: a full 64 MiB log goes to /dev/null within a small factor of cat(1).

#include <unistd.h>

#include <charconv>
#include <cstring>
#include <memory>
#include <vector>

#include "cli.hpp"
#include "groups.hpp"
#include "ipc_args.hpp"
#include "json.hpp"
#include "mmipc/error.hpp"
#include "mmipc/guarded_copy.hpp"
#include "mmipc/ring_log.hpp"

namespace mmipc::cli {
namespace {

using namespace std::chrono_literals;

// Output is written in blocks of about this size.
constexpr std::size_t output_block = 256 * 1024;
// A reader's batch: what one next_batch() copies at most (bar one long record).
constexpr std::size_t batch_bytes = 64 * 1024;

// The failure about log `path` for the exception in flight. The core's messages about a log
// begin with its path, which the tool prints first already: they are given without it.
failure log_failure(const std::string& path) {
  try {
    throw;
  } catch (const lost_pages_error& e) {
    return failure(path, e.explanation());
  } catch (const ring_log_error& e) {
    std::string_view reason = e.what();
    const std::string prefix = e.path().native() + ": ";
    if (reason.starts_with(prefix)) reason.remove_prefix(prefix.size());
    return failure(path, std::string(reason));
  } catch (const os_error& e) {
    // Opening or making the file is the command itself; any other step is named.
    if (e.op() == "open" || e.op() == "create")
      return failure(path, std::strerror(e.error_number()));
    return failure_of_current_exception(path);
  } catch (const std::invalid_argument& e) {
    std::string_view reason = e.what();
    for (const std::string& prefix :
         {"cannot create ring log \"" + path + "\": ", "ring log " + path + ": "}) {
      if (reason.starts_with(prefix)) reason.remove_prefix(prefix.size());
    }
    return failure(path, std::string(reason));
  } catch (...) {
    return failure_of_current_exception(path);
  }
}

// Collects output and writes it in large blocks.
class output {
 public:
  output() { text_.reserve(output_block + 4096); }
  std::string& text() { return text_; }
  // Writes what was collected once it is a block (or, with `all`, whatever there is).
  void flush(bool all = false) {
    if (text_.size() >= output_block || (all && !text_.empty())) {
      write_all(text_);
      text_.clear();
    }
  }

 private:
  std::string text_;
};

void append_number(std::string& out, std::uint64_t n) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

// How cat and tail print records.
struct record_format {
  bool seq = false;
  bool json = false;
  std::optional<log_time> since;
  time_formatter times;

  void add(std::string& out, const log_record& r) {
    if (since && r.time < *since) return;
    if (json) {
      out += "{\"seq\":";
      append_number(out, r.seq);
      out += ",\"time\":\"";
      times.append(out, r.time);
      out += "\",\"data\":";
      out += json_string(r.text());
      out += "}\n";
      return;
    }
    if (seq) {
      append_number(out, r.seq);
      out += '\t';
    }
    out += r.text();
    out += '\n';
  }
};

// Prints the records `reader` has now, up to number `last` (0: no limit); returns false when
// it reached `last`.
bool print_available(ring_log_reader& reader, record_format& format, output& out,
                     std::uint64_t last) {
  const bool plain = !format.seq && !format.json && !format.since;
  for (;;) {
    const auto batch = reader.next_batch(batch_bytes);
    if (batch.empty()) return true;
    std::string& text = out.text();
    for (const log_record& r : batch) {
      if (last != 0 && r.seq > last) {
        out.flush(true);
        return false;
      }
      if (plain) {
        // The common case, kept short: the bytes and a newline.
        text.append(reinterpret_cast<const char*>(r.data.data()), r.data.size());
        text.push_back('\n');
      } else {
        format.add(text, r);
      }
    }
    out.flush();
  }
}

// ---- commands -------------------------------------------------------------------------------

struct create_options {
  std::string path;
  std::string size;
  std::optional<std::string> mode;
};

void create(const create_options& o) {
  try {
    const std::uint64_t size = parse_size(o.size);
    const mode_t mode = o.mode ? parse_octal_permissions(*o.mode) : default_mode();
    ring_log::create(o.path, size, mode);
  } catch (...) {
    throw log_failure(o.path);
  }
}

struct append_options {
  std::string path;
  std::vector<std::string> messages;
};

void append(const append_options& o) {
  std::uint64_t appended = 0;
  try {
    ring_log log = ring_log::open(o.path);
    const std::uint64_t max = log.max_record_size();
    if (!o.messages.empty()) {
      // All are checked before the first is appended: the core refuses one too large
      // (with its message) before it touches the log.
      for (const std::string& message : o.messages) {
        if (message.size() > max) log.append(message);
      }
      for (const std::string& message : o.messages) {
        log.append(message);
        ++appended;
      }
      return;
    }
    // Each line of standard input as it comes; a line longer than a record can be is not
    // kept beyond that, and refused by the core.
    std::string line;
    std::vector<char> buffer(65536);
    for (;;) {
      const ssize_t n = ::read(0, buffer.data(), buffer.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        throw failure("standard input", std::strerror(errno));
      }
      if (n == 0) break;
      std::string_view chunk(buffer.data(), static_cast<std::size_t>(n));
      while (!chunk.empty()) {
        const std::size_t newline = chunk.find('\n');
        line.append(chunk.substr(0, newline));
        if (line.size() > max) log.append(line);  // throws
        if (newline == std::string_view::npos) break;
        log.append(line);
        ++appended;
        line.clear();
        chunk.remove_prefix(newline + 1);
      }
    }
    if (!line.empty()) {
      log.append(line);  // a last line without its newline
      ++appended;
    }
  } catch (...) {
    failure f = log_failure(o.path);
    if (appended > 0 && f.object() == o.path) {
      throw failure(f.object(), f.reason() + " (" + std::to_string(appended) +
                                    (appended == 1 ? " record" : " records") + " appended)");
    }
    throw f;
  }
}

struct cat_options {
  std::string path;
  std::optional<std::string> from;
  std::optional<std::string> since;
  bool seq = false;
  bool json = false;
};

void cat(const cat_options& o) {
  try {
    record_format format;
    format.seq = o.seq;
    format.json = o.json;
    if (o.since) format.since = parse_time(*o.since);
    const std::uint64_t from = o.from ? parse_count(*o.from) : 0;
    const ring_log log = ring_log::open(o.path, false);
    // Every record there when it starts: those appended while it reads are not waited for.
    const std::uint64_t last = log.stats().last_seq;
    if (last == 0) return;
    ring_log_reader reader = from != 0 ? log.reader(from) : log.reader();
    output out;
    print_available(reader, format, out, last);
    out.flush(true);
  } catch (const failure&) {
    throw;
  } catch (...) {
    throw log_failure(o.path);
  }
}

struct tail_options {
  std::string path;
  std::string count = "10";
  bool follow = false;
};

void tail(const tail_options& o) {
  try {
    const std::uint64_t count = parse_count(o.count);
    const ring_log log = ring_log::open(o.path, false);
    const std::uint64_t last = log.stats().last_seq;
    // The last `count` records (from after the newest for 0).
    const std::uint64_t from = count > last ? 1 : last - count + 1;
    ring_log_reader reader = log.reader(from);
    record_format format;
    output out;
    if (!o.follow) {
      if (last != 0 && count != 0) print_available(reader, format, out, last);
      out.flush(true);
      return;
    }
    // Following: Ctrl-C, SIGTERM and SIGHUP are let in only while it waits, so a record is
    // printed whole; there the signal ends the process at once (status 130 for Ctrl-C), and
    // the log is as it was: reading never changes it.
    signals_held held;
    for (;;) {
      print_available(reader, format, out, 0);
      out.flush(true);
      while (!let_signals_in([&] { return reader.wait_for(200ms); })) {
        // Nothing new: end (as by SIGPIPE) when nobody reads the output any more.
        check_output();
      }
    }
  } catch (const failure&) {
    throw;
  } catch (...) {
    throw log_failure(o.path);
  }
}

struct stat_options {
  std::string path;
  bool json = false;
};

void stat(const stat_options& o) {
  log_stats st;
  try {
    st = ring_log::open(o.path, false).stats();
  } catch (...) {
    throw log_failure(o.path);
  }
  time_formatter times;
  const auto time_of = [&](log_time t, bool known) -> std::optional<std::string> {
    if (!known) return std::nullopt;
    std::string text;
    times.append(text, t);
    return text;
  };
  const bool any = st.records != 0;
  const std::vector<std::pair<std::string, std::optional<std::string>>> times_shown = {
      {"first_time", time_of(st.first_time, any)},
      {"last_time", time_of(st.last_time, any)},
  };
  const auto number = [](std::uint64_t n) { return static_cast<std::int64_t>(n); };
  const std::vector<std::pair<std::string, std::uint64_t>> counts = {
      {"file_size", st.file_size},
      {"capacity", st.capacity},
      {"max_record_size", st.max_record_size},
      {"bytes_used", st.bytes_used},
      {"records", st.records},
      {"first_seq", st.first_seq},
      {"last_seq", st.last_seq},
  };
  const std::vector<std::pair<std::string, std::uint64_t>> events = {
      {"dropped", st.dropped},
      {"repaired", st.repairs},
      {"locks_recovered", st.locks_recovered},
  };
  const std::optional<std::string> created = time_of(st.created, true);
  if (o.json) {
    json_object j;
    j.add_string("file", o.path);
    for (const auto& [key, value] : counts) j.add_number(key, number(value));
    for (const auto& [key, value] : times_shown) {
      if (value) {
        j.add_string(key, *value);
      } else {
        j.add_null(key);
      }
    }
    for (const auto& [key, value] : events) j.add_number(key, number(value));
    j.add_string("created", *created);
    write_all(j.line());
    return;
  }
  std::string out = "file: " + o.path + "\n";
  for (const auto& [key, value] : counts) out += key + ": " + std::to_string(value) + "\n";
  for (const auto& [key, value] : times_shown) out += key + ": " + value.value_or("-") + "\n";
  for (const auto& [key, value] : events) out += key + ": " + std::to_string(value) + "\n";
  out += "created: " + *created + "\n";
  write_all(out);
}

}  // namespace

void add_log_commands(CLI::App& program) {
  CLI::App* log = add_group(program, "log", "Ring logs: cyclic log files of records");

  auto cr = std::make_shared<create_options>();
  CLI::App* c =
      add_command(*log, "create", "Create a ring log file of a fixed size (fails if it exists)",
                  "log create FILE --size N [--mode OCTAL]", [cr] { create(*cr); });
  c->add_option("FILE", cr->path, "The log file")->type_name("")->required();
  add_size_option(*c, cr->size, "Size of the file in bytes, K/M/G suffixes (header included)");
  add_mode_option(*c, cr->mode);

  auto ap = std::make_shared<append_options>();
  c = add_command(*log, "append",
                  "Append each MESSAGE as one record; without any, each line of standard input",
                  "log append FILE [MESSAGE...]", [ap] { append(*ap); });
  c->add_option("FILE", ap->path, "The log file")->type_name("")->required();
  c->add_option("MESSAGE", ap->messages, "Records, one each")->type_name("");
  accept_end_of_options(*c);

  auto ca = std::make_shared<cat_options>();
  c = add_command(*log, "cat", "Print every record, oldest first, one per line",
                  "log cat FILE [--from SEQ] [--since TIME] [--seq] [--json]", [ca] { cat(*ca); });
  c->add_option("FILE", ca->path, "The log file")->type_name("")->required();
  c->add_option("--from", ca->from, "Start at record number SEQ")
      ->type_name("SEQ")
      ->check(count_check());
  c->add_option("--since", ca->since,
                "Only records appended at TIME or later (2026-12-02T10:00:00Z, @SECONDS)")
      ->type_name("TIME")
      ->check(time_check());
  c->add_flag("--seq", ca->seq, "Print each record's sequence number and a tab first");
  c->add_flag("--json", ca->json, "One JSON object per record and line: seq, time, data");

  auto ta = std::make_shared<tail_options>();
  c = add_command(*log, "tail", "Print the last records; -f: then follow new ones",
                  "log tail FILE [-n COUNT] [-f]", [ta] { tail(*ta); });
  c->add_option("FILE", ta->path, "The log file")->type_name("")->required();
  c->add_option("-n", ta->count, "Print the last COUNT records (default 10)")
      ->type_name("COUNT")
      ->check(count_check());
  c->add_flag("-f,--follow", ta->follow, "Then print new records as they come, until interrupted");

  auto st = std::make_shared<stat_options>();
  c = add_command(*log, "stat", "Show a log's size, records, numbers, times and repairs",
                  "log stat FILE [--json]", [st] { stat(*st); });
  c->add_option("FILE", st->path, "The log file")->type_name("")->required();
  c->add_flag("--json", st->json, "One JSON object");
}

}  // namespace mmipc::cli
