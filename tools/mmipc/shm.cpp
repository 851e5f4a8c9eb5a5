// mmipc shm: POSIX shared memory from the shell (ls, create, cat, write, stat, rm), on the
// core's mmipc::shared_memory: cat and write hold the object's semaphore exactly as the Tcl
// package posixipc does (with the core's protection against a holder that died), so they
// never see or leave a torn block.

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "cli.hpp"
#include "groups.hpp"
#include "ipc_args.hpp"
#include "json.hpp"
#include "mmipc/semaphore.hpp"
#include "mmipc/shared_memory.hpp"

namespace mmipc::cli {
namespace {

// Where glibc's shm_open keeps the objects, and sem_open the semaphores ("sem." + name).
constexpr std::string_view shm_dir = "/dev/shm";
constexpr std::string_view semaphore_prefix = "sem.";

std::string object_path(const std::string& name) {
  return std::string(shm_dir) + name;
}

std::string semaphore_path(const std::string& name) {
  return std::string(shm_dir) + "/" + std::string(semaphore_prefix) + name.substr(1);
}

std::string lock_object_path(const std::string& name) {
  return std::string(shm_dir) + shared_memory::lock_name(name);
}

// True for the files of /dev/shm that are not shared memory objects of their own: the
// semaphores (of posixipc objects and any others) and the lock objects of the core (named
// after their object by shared_memory::lock_name, a name no object of ours can take; also
// those that posixipc 1.0's unlink leaves behind).
bool package_file(std::string_view entry) {
  static const std::string lock_suffix = shared_memory::lock_name("/x").substr(2);
  return entry.starts_with(semaphore_prefix) ||
         (entry.size() > lock_suffix.size() && entry.ends_with(lock_suffix));
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

struct object_info {
  std::string name;
  struct stat status {};
  bool semaphore = false;
  std::optional<std::int64_t> semaphore_value;  // unset: none, or not ours to open
};

object_info describe(const std::string& name, const struct stat& st) {
  object_info info{name, st, false, std::nullopt};
  info.semaphore = exists(semaphore_path(name));
  if (info.semaphore) {
    try {
      // Opening an existing semaphore creates nothing and changes nothing.
      info.semaphore_value = named_semaphore::open(name, 0).value();
    } catch (const std::exception&) {
    }
  }
  return info;
}

std::string json_of(const object_info& o) {
  json_object j;
  j.add_string("name", o.name);
  j.add_number("size", static_cast<std::int64_t>(o.status.st_size));
  j.add_string("mode", mode_text(o.status.st_mode));
  j.add_string("owner", user_name(o.status.st_uid));
  j.add_string("group", group_name(o.status.st_gid));
  j.add_bool("semaphore", o.semaphore);
  j.add_number("semaphore_value", o.semaphore_value);
  return j.line();
}

// The object's status, without opening it (so without creating its semaphore).
struct stat status_of(const std::string& name) {
  validate_ipc_name(name, ipc_kind::shared_memory);
  struct stat st {};
  if (::lstat(object_path(name).c_str(), &st) != 0) throw_errno("shm_open", name);
  if (!S_ISREG(st.st_mode)) throw_os_error(EINVAL, "shm_open", name);
  return st;
}

// ---- commands -------------------------------------------------------------------------------

void ls(bool json) {
  const std::string dir(shm_dir);
  std::set<std::string> entries;
  {
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) throw failure(dir, std::strerror(errno));
    while (dirent* e = ::readdir(d.get())) {
      const std::string_view entry = e->d_name;
      if (entry != "." && entry != "..") entries.insert(std::string(entry));
    }
  }
  std::string json_out;
  table rows;
  for (const std::string& entry : entries) {
    if (package_file(entry)) continue;
    struct stat st {};
    if (::lstat((dir + "/" + entry).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const object_info o = describe("/" + entry, st);
    if (json) {
      json_out += json_of(o);
    } else {
      rows.add({o.name, std::to_string(st.st_size), mode_text(st.st_mode), user_name(st.st_uid),
                o.semaphore ? "yes" : "no"});
    }
  }
  if (json) {
    write_all(json_out);
  } else {
    rows.print([](std::size_t column) { return column == 1; });
  }
}

struct create_options {
  std::string name;
  std::string size;
  std::optional<std::string> mode;
};

void create(const create_options& o) {
  const std::string name = ipc_name(o.name);
  try {
    const std::uint64_t size = parse_size(o.size);
    const mode_t mode = o.mode ? parse_octal_permissions(*o.mode) : default_mode();
    // The object, its semaphore and its lock object are made whole, or not at all (the core
    // undoes a half).
    signals_held held;
    shared_memory::open(name, O_RDWR | O_CREAT | O_EXCL, mode, size);
  } catch (...) {
    throw failure_of_current_exception(name);
  }
}

// Bytes as `hexdump -C -s offset` shows them, given piece by piece (each piece a multiple of
// 16 bytes but the last), offsets counted from the start of the object.
class hex_dumper {
 public:
  explicit hex_dumper(std::uint64_t offset) : offset_(offset) {}

  std::string add(std::span<const std::byte> bytes) {
    std::string out;
    char line[128];
    for (std::size_t i = 0; i < bytes.size(); i += 16) {
      const std::size_t n = std::min<std::size_t>(16, bytes.size() - i);
      // A full line equal to the one before is shown as one "*" for the whole run.
      if (n == 16 && previous_full_ && std::memcmp(&bytes[i], previous_, 16) == 0) {
        if (!repeating_) out += "*\n";
        repeating_ = true;
        offset_ += 16;
        continue;
      }
      repeating_ = false;
      previous_full_ = n == 16;
      std::memcpy(previous_, &bytes[i], n);
      int at =
          std::snprintf(line, sizeof line, "%08llx  ", static_cast<unsigned long long>(offset_));
      for (std::size_t k = 0; k < 16; ++k) {
        if (k < n) {
          at += std::snprintf(line + at, sizeof line - at, "%02x ",
                              static_cast<unsigned>(bytes[i + k]));
        } else {
          at += std::snprintf(line + at, sizeof line - at, "   ");
        }
        if (k == 7) line[at++] = ' ';
      }
      line[at++] = ' ';
      line[at++] = '|';
      for (std::size_t k = 0; k < n; ++k) {
        const auto c = static_cast<unsigned char>(bytes[i + k]);
        line[at++] = c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '.';
      }
      line[at++] = '|';
      line[at++] = '\n';
      out.append(line, static_cast<std::size_t>(at));
      offset_ += n;
    }
    return out;
  }

  // The offset where the bytes ended (hexdump's last line).
  std::string finish() const {
    char line[32];
    std::snprintf(line, sizeof line, "%08llx\n", static_cast<unsigned long long>(offset_));
    return line;
  }

 private:
  std::uint64_t offset_;
  std::byte previous_[16] = {};
  bool previous_full_ = false;
  bool repeating_ = false;
};

struct cat_options {
  std::string name;
  std::string offset = "0";
  std::optional<std::string> length;
  bool hex = false;
};

// The most copied under one hold of the semaphore (and held in memory): a larger range is
// copied in pieces of this size, each whole.
constexpr std::size_t cat_piece = 64 << 20;

// The object's lock, waited for with the signals that signals_held holds let in, so that a
// Ctrl-C while another process holds it ends the command at once (cli.md), having changed
// nothing; once it is held they wait again, so the copy under it is done whole.
shared_memory::lock_guard lock_letting_signals_in(const shared_memory& shm) {
  std::optional<shared_memory::lock_guard> guard;
  let_signals_in([&] {
    guard.emplace(shm.lock());
    return true;
  });
  return std::move(*guard);
}

void cat(const cat_options& o) {
  const std::string name = ipc_name(o.name);
  try {
    const std::uint64_t offset = parse_size(o.offset);
    const std::uint64_t asked = o.length ? parse_size(*o.length) : UINT64_MAX;
    const auto past_end = [&](std::uint64_t size) {
      return failure(name, "offset " + std::to_string(offset) + " is past the end of the object (" +
                               std::to_string(size) + " bytes)");
    };
    // Checked before the open, which makes the semaphore and lock object of an object that
    // lacks them: a command that fails makes nothing.
    const auto size = static_cast<std::uint64_t>(status_of(name).st_size);
    if (offset > size) throw past_end(size);
    shared_memory shm;
    {
      // Whatever the open makes for the exclusion (a missing semaphore) is made whole before
      // a Ctrl-C takes effect.
      signals_held held;
      shm = shared_memory::open(name, O_RDONLY);
    }
    if (offset > shm.size()) throw past_end(shm.size());
    const std::uint64_t available = shm.size() - offset;
    const std::uint64_t total = std::min(asked, available);
    hex_dumper hex(offset);
    std::vector<std::byte> data(
        static_cast<std::size_t>(std::min<std::uint64_t>(total, cat_piece)));
    for (std::uint64_t done = 0; done < total;) {
      data.resize(static_cast<std::size_t>(std::min<std::uint64_t>(total - done, cat_piece)));
      std::size_t got = 0;
      {
        // One hold of the semaphore for the piece: a block that another process writes whole
        // is seen whole, before or after; the semaphore is released before a Ctrl-C acts.
        signals_held held;
        got = lock_letting_signals_in(shm).read_at(offset + done, data);
      }
      data.resize(got);
      write_all(o.hex ? std::string_view(hex.add(data))
                      : std::string_view(reinterpret_cast<const char*>(data.data()), got));
      done += got;
      if (got == 0) break;  // pages lost to another process's ftruncate: what was there
    }
    // hexdump prints where the bytes ended, unless none was asked for.
    if (o.hex && asked != 0) write_all(hex.finish());
  } catch (...) {
    throw failure_of_current_exception(name);
  }
}

struct write_options {
  std::string name;
  std::string offset = "0";
  std::optional<std::string> data;
};

void write(const write_options& o) {
  const std::string name = ipc_name(o.name);
  try {
    const std::uint64_t offset = parse_size(o.offset);
    // The size now, without opening (standard input may take long to come: nothing is held
    // or made meanwhile, so Ctrl-C leaves everything as it was).
    const auto size = static_cast<std::uint64_t>(status_of(name).st_size);
    const auto refuse = [&](std::uint64_t length, std::uint64_t object_size) {
      return failure(name, std::to_string(length) + " bytes at offset " + std::to_string(offset) +
                               " do not fit in the object's " + std::to_string(object_size) +
                               " bytes (it never grows)");
    };
    if (offset > size) throw refuse(o.data ? o.data->size() : 0, size);
    std::string data;
    if (o.data) {
      data = *o.data;
      // Refused before the open, which makes what an object lacks for its lock.
      if (data.size() > size - offset) throw refuse(data.size(), size);
    } else {
      // Standard input, up to one byte more than fits (which is enough to refuse it).
      const std::uint64_t room = size - offset;
      const std::uint64_t limit = room + 1;
      char buffer[65536];
      while (data.size() < limit) {
        const auto want =
            static_cast<std::size_t>(std::min<std::uint64_t>(sizeof buffer, limit - data.size()));
        const ssize_t n = ::read(0, buffer, want);
        if (n < 0) {
          if (errno == EINTR) continue;
          throw failure("standard input", std::strerror(errno));
        }
        if (n == 0) break;
        data.append(buffer, static_cast<std::size_t>(n));
      }
      if (data.size() > room) {
        throw failure(name, "standard input does not fit in the object's " + std::to_string(size) +
                                " bytes from offset " + std::to_string(offset) +
                                " (it never grows)");
      }
    }
    signals_held held;
    const shared_memory shm = shared_memory::open(name, O_RDWR);
    // The size the object has now decides (it cannot grow, but another process may have
    // replaced it meanwhile).
    if (offset > shm.size() || data.size() > shm.size() - offset) {
      throw refuse(data.size(), shm.size());
    }
    if (!data.empty()) {
      lock_letting_signals_in(shm).write_at(offset,
                                            std::as_bytes(std::span(data.data(), data.size())));
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
  object_info info;
  try {
    info = describe(name, status_of(name));
  } catch (...) {
    throw failure_of_current_exception(name);
  }
  if (o.json) {
    write_all(json_of(info));
    return;
  }
  std::string out = "name: " + info.name + "\n";
  out += "size: " + std::to_string(info.status.st_size) + "\n";
  out += "mode: " + mode_text(info.status.st_mode) + "\n";
  out += "owner: " + user_name(info.status.st_uid) + "\n";
  out += "group: " + group_name(info.status.st_gid) + "\n";
  out += std::string("semaphore: ") + (info.semaphore ? "yes" : "no") + "\n";
  out += "semaphore_value: " +
         (info.semaphore_value ? std::to_string(*info.semaphore_value) : std::string("-")) + "\n";
  write_all(out);
}

void rm(const std::vector<std::string>& arguments) {
  const auto check = [](const std::string& name) {
    validate_ipc_name(name, ipc_kind::shared_memory);
    if (!exists(object_path(name)) && !exists(semaphore_path(name)) &&
        !exists(lock_object_path(name))) {
      throw_os_error(ENOENT, "shm_unlink", name);
    }
  };
  // The object, its semaphore and its lock object.
  remove_all(arguments, check, [](const std::string& name) { shared_memory::unlink(name); });
}

}  // namespace

void add_shm_commands(CLI::App& program) {
  CLI::App* shm = add_group(program, "shm", "POSIX shared memory guarded by a semaphore");

  auto ls_json = std::make_shared<bool>(false);
  CLI::App* c = add_command(*shm, "ls", "List the objects of /dev/shm and their semaphores",
                            "shm ls [--json]", [ls_json] { ls(*ls_json); });
  c->add_flag("--json", *ls_json, "One JSON object per object and line");

  auto cr = std::make_shared<create_options>();
  c = add_command(*shm, "create",
                  "Create an object, its semaphore and its lock (fails if it exists)",
                  "shm create NAME --size N [--mode OCTAL]", [cr] { create(*cr); });
  c->add_option("NAME", cr->name, "Object name (/board; a missing leading / is added)")
      ->type_name("")
      ->required();
  add_size_option(*c, cr->size, "Size in bytes, K/M/G suffixes");
  add_mode_option(*c, cr->mode);

  auto ca = std::make_shared<cat_options>();
  c = add_command(*shm, "cat", "Print the object's bytes, read under its semaphore",
                  "shm cat NAME [--offset N] [--length N] [--hex]", [ca] { cat(*ca); });
  c->add_option("NAME", ca->name, "Object name")->type_name("")->required();
  c->add_option("--offset", ca->offset, "Start at this byte (default 0), K/M/G suffixes")
      ->type_name("N")
      ->check(size_check());
  c->add_option("--length", ca->length, "At most this many bytes (default: to the end)")
      ->type_name("N")
      ->check(size_check());
  c->add_flag("--hex", ca->hex, "As hexdump -C shows them");

  auto wr = std::make_shared<write_options>();
  c = add_command(*shm, "write",
                  "Write DATA (or standard input) under the object's semaphore; what does not "
                  "fit is refused",
                  "shm write NAME [--offset N] [DATA]", [wr] { write(*wr); });
  c->add_option("NAME", wr->name, "Object name")->type_name("")->required();
  c->add_option("DATA", wr->data, "The bytes to write (default: standard input)")->type_name("");
  c->add_option("--offset", wr->offset, "Write at this byte (default 0), K/M/G suffixes")
      ->type_name("N")
      ->check(size_check());

  auto st = std::make_shared<stat_options>();
  c = add_command(*shm, "stat", "Show an object's size, mode, owner and semaphore",
                  "shm stat NAME [--json]", [st] { stat(*st); });
  c->add_option("NAME", st->name, "Object name")->type_name("")->required();
  c->add_flag("--json", st->json, "One JSON object");

  auto names = std::make_shared<std::vector<std::string>>();
  c = add_command(*shm, "rm",
                  "Remove objects with their semaphores and locks (none, if one cannot be)",
                  "shm rm NAME...", [names] { rm(*names); });
  c->add_option("NAME", *names, "Object names")->type_name("")->required();
  accept_end_of_options(*c);
}

}  // namespace mmipc::cli
