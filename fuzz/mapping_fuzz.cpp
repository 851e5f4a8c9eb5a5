// Fuzzes the numbers a user gives mmipc::mapping (file size, offset, length, flags, huge page
// size) and the ranges given to sync() and advise(). The contract: a region that fits in
// the file maps, with exactly the file's bytes; anything else is refused with an exception;
// nothing is ever mapped past the end of the file (reading every byte must not fault).

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

#include "fuzz_input.hpp"
#include "mmipc/error.hpp"
#include "mmipc/guarded_copy.hpp"
#include "mmipc/mapping.hpp"
#include "mmipc/unique_fd.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// An in-memory file of `size` bytes whose byte i is i * 13 (truncated to a byte).
mmipc::unique_fd make_file(std::size_t size) {
  mmipc::unique_fd fd(::memfd_create("mmipc-fuzz", MFD_CLOEXEC));
  check(static_cast<bool>(fd));
  std::string bytes(size, '\0');
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(i * 13);
  check(::pwrite(fd.get(), bytes.data(), size, 0) == static_cast<ssize_t>(size));
  return fd;
}

// Reads small numbers often and extreme ones sometimes, so both paths get explored.
std::uint64_t number(mmipc::fuzzing::input& in, std::uint64_t file_size) {
  switch (in.next<std::uint8_t>() % 4) {
    case 0:
      return in.next<std::uint64_t>();  // anything, including huge values
    case 1:
      return file_size + static_cast<std::int8_t>(in.next<std::uint8_t>());
    default:
      return in.next<std::uint16_t>();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mmipc::fuzzing::input in(data, size);
  const std::size_t file_size = in.next<std::uint16_t>() % (4 * 4096 + 100);
  const std::uint64_t offset = number(in, file_size);
  std::optional<std::uint64_t> length;
  if (in.next<std::uint8_t>() & 1) length = number(in, file_size);
  const auto flags = in.next<std::uint8_t>();
  mmipc::map_options options;
  options.access = (flags & 1) ? mmipc::access_mode::read_write : mmipc::access_mode::read_only;
  options.shared = (flags & 2) != 0;
  options.populate = (flags & 4) != 0;
  options.noreserve = (flags & 8) != 0;
  if (flags & 16) options.huge_page_size = in.next<std::uint32_t>();

  const bool fits = offset <= file_size &&
                    (length ? *length != 0 && *length <= file_size - offset : offset < file_size);
  auto fd = make_file(file_size);
  mmipc::mapping m;
  try {
    m = mmipc::mapping::map(fd.get(), offset, length, options, "fuzz");
  } catch (const std::invalid_argument&) {
    check(!fits || options.huge_page_size != 0);
    return 0;
  } catch (const mmipc::os_error&) {
    // The system may refuse huge pages (none reserved, or not on this file system).
    check(options.huge_page_size != 0);
    return 0;
  }
  check(fits);
  const std::size_t expected = length ? *length : file_size - offset;
  check(m.size() == expected && m.offset() == offset);
  std::string copy(m.size(), '\0');
  mmipc::guarded_copy(copy.data(), m.data(), m.size(), "read");  // a fault would throw
  for (std::size_t i = 0; i < copy.size(); ++i) {
    check(copy[i] == static_cast<char>((offset + i) * 13));
  }

  // Ranges for sync() and advise(): within the region they work, an offset past it throws.
  for (int step = 0; step < 4 && !in.empty(); ++step) {
    const std::uint64_t at = number(in, m.size());
    const std::uint64_t count = number(in, m.size());
    try {
      if (in.next<std::uint8_t>() & 1) {
        m.sync(at, count, mmipc::sync_mode::async);
      } else {
        m.advise(static_cast<mmipc::advice>(in.next<std::uint8_t>() % 5), at, count);
      }
      check(at <= m.size());
    } catch (const std::invalid_argument&) {
      check(at > m.size());
    }
  }
  return 0;
}
