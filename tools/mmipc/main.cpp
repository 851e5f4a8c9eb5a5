// mmipc: the command line for POSIX message queues, shared memory and ring logs (see mmipc.1). The
// program is its subcommand groups, each registered by one function of its own file; this
// file parses the command line and turns the outcome into an exit status:
//   0 done; 1 a command failed ("mmipc: <object>: <reason>" on standard error);
//   2 a usage error (the message and the usage lines); a signal ends the process by itself.

#include <fcntl.h>
#include <unistd.h>

#include <iostream>
#include <memory>

#include "cli.hpp"
#include "groups.hpp"

namespace {

using mmipc::cli::exit_failure;
using mmipc::cli::exit_usage;

// The groups of the program, in the order --help lists them.
constexpr void (*groups[])(CLI::App&) = {
    mmipc::cli::add_mq_commands,
    mmipc::cli::add_shm_commands,
    mmipc::cli::add_log_commands,
};

// Descriptors 0, 1 and 2 are where they belong: a queue or object opened while one of them
// is closed would take its number, and a message meant for the terminal would go to it.
void keep_standard_descriptors() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0 && ::open("/dev/null", O_RDWR) != fd) ::_exit(exit_failure);
  }
}

// The deepest command the parser entered, whose usage a usage error shows.
const CLI::App* command_of(const CLI::App& app) {
  const CLI::App* at = &app;
  for (;;) {
    const auto selected = at->get_subcommands();
    if (selected.empty()) return at;
    at = selected.front();
  }
}

// A message kept to one line: control characters (of names and arguments) as C escapes.
std::string one_line(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[byte >> 4];
      out += hex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

std::string path_of(const CLI::App* app) {
  std::string path;
  for (; app != nullptr && app->get_parent() != nullptr; app = app->get_parent()) {
    path = app->get_name() + (path.empty() ? "" : " " + path);
  }
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  keep_standard_descriptors();
  CLI::App app(
      "mmipc: inspect, create, feed and drain POSIX message queues, shared memory and ring logs",
      "mmipc");
  app.formatter(std::make_shared<mmipc::cli::formatter>());
  app.require_subcommand(1);
  app.footer("See mmipc(1) for the output formats, --json keys and exit statuses.");
  for (auto add : groups) add(app);
  try {
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    const CLI::App* command = command_of(app);
    const std::string path = path_of(command);
    std::string what = e.what();
    // CLI11 checks that a command was given before it looks at a word it did not know.
    const auto rest = command->remaining();
    if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr && !rest.empty()) {
      what = "The following argument was not expected: " + rest.front();
      if (!rest.front().starts_with("-")) {
        std::string names;
        for (const CLI::App* sub : command->get_subcommands([](const CLI::App*) { return true; })) {
          names += (names.empty() ? "" : ", ") + sub->get_name();
        }
        what = "unknown command \"" + rest.front() + "\": should be one of " + names;
      }
    }
    std::string message = "mmipc: " + (path.empty() ? "" : path + ": ") + one_line(what) + "\n";
    message += mmipc::cli::formatter().make_usage(command, "");
    message += "Run 'mmipc" + (path.empty() ? "" : " " + path) + " --help' for more.\n";
    std::cerr << message << std::flush;
    return exit_usage;
  } catch (...) {
    const mmipc::cli::failure f = mmipc::cli::failure_of_current_exception("mmipc");
    std::cerr << "mmipc: " << one_line(f.object()) << ": " << one_line(f.reason()) << "\n"
              << std::flush;
    return exit_failure;
  }
}
