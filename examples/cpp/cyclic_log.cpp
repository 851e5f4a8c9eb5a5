// A fixed-size log file that always holds the most recent messages, written through a
// shared mapping with mmipc::cursor's cyclic writes. Run: cyclic_log FILE SIZE MESSAGES
//
// The file is created (or resized) to SIZE bytes, MESSAGES lines are appended cyclically,
// and the surviving lines are printed in order, oldest first.

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "mmipc/cursor.hpp"
#include "mmipc/error.hpp"
#include "mmipc/mapping.hpp"
#include "mmipc/unique_fd.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: cyclic_log FILE SIZE MESSAGES\n";
    return 2;
  }
  try {
    const std::string path = argv[1];
    const long size = std::stol(argv[2]);
    const long messages = std::stol(argv[3]);
    if (size <= 0 || messages < 0)
      throw std::invalid_argument("SIZE and MESSAGES must be positive");
    {
      auto fd = mmipc::unique_fd::open(path, O_RDWR | O_CREAT, 0644);
      if (::ftruncate(fd.get(), size) != 0) mmipc::throw_errno("ftruncate", path);
    }
    mmipc::map_options options;
    options.access = mmipc::access_mode::read_write;
    auto log = mmipc::mapping::map(path, 0, std::nullopt, options);
    // Start from blank lines so the unwritten part reads as empty.
    std::fill(log.data(), log.data() + log.size(), std::byte{'\n'});

    mmipc::cursor out(log);
    for (long i = 1; i <= messages; ++i) {
      const std::string line = "message " + std::to_string(i) + "\n";
      out.write(std::as_bytes(std::span(line)));
    }
    log.sync();

    // The oldest surviving byte is at the write position: print from there, wrapping once,
    // skipping the partial line that the newest writes cut.
    std::string text(reinterpret_cast<const char*>(log.data()), log.size());
    text = text.substr(out.tell()) + text.substr(0, out.tell());
    const auto first = text.find('\n');
    std::cout << text.substr(first + 1);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "cyclic_log: " << e.what() << "\n";
    return 1;
  }
}
