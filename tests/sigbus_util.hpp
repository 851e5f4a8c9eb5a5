#pragma once
// Helpers for the SIGBUS tests: a file whose pages another process cuts off under a mapping.

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "mmipc/mapping.hpp"
#include "test_util.hpp"

namespace mmipc::testing {

/// Truncates `path` to `size` bytes from a forked child process, as an unrelated process
/// would, and waits for it.
inline void truncate_from_other_process(const std::filesystem::path& path, off_t size) {
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) _exit(::truncate(path.c_str(), size) == 0 ? 0 : 1);
  if (reap(pid) != 0) {
    throw std::runtime_error("truncate " + path.native() + " failed in the child");
  }
}

/// A file of `pages` pages (page i filled with the letter 'a' + i) mapped shared and
/// read-write, then cut down to `kept` pages by another process: the pages from `kept` on
/// are gone, and touching them raises SIGBUS.
struct shrunk_mapping {
  shrunk_mapping(std::size_t pages, std::size_t kept) : file(contents(pages)) {
    map_options options;
    options.access = access_mode::read_write;
    map = mapping::map(file.path(), 0, std::nullopt, options);
    truncate_from_other_process(file.path(), static_cast<off_t>(kept * mapping::page_size()));
  }
  static std::string contents(std::size_t pages) {
    std::string out;
    for (std::size_t i = 0; i < pages; ++i) {
      out.append(mapping::page_size(), static_cast<char>('a' + i));
    }
    return out;
  }
  /// First byte of page `i` of the mapping.
  std::byte* page(std::size_t i) const { return map.data() + i * mapping::page_size(); }

  temp_file file;
  mapping map;
};

}  // namespace mmipc::testing
