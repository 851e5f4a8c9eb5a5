// Fuzzes mmipc::cursor against a reference model that does everything one byte at a time,
// the way the contract states it: reads stop at the end, writes wrap cyclically, seeks are
// bounded to [0, size]. Any divergence, crash or sanitizer report is a finding.

#include <cstdlib>
#include <vector>

#include "fuzz_input.hpp"
#include "mmipc/cursor.hpp"
#include "mmipc/error.hpp"

namespace {

struct model {
  std::vector<std::byte> data;
  std::size_t pos = 0;

  std::vector<std::byte> read(std::size_t n) {
    std::vector<std::byte> out;
    while (out.size() < n && pos < data.size()) out.push_back(data[pos++]);
    return out;
  }
  void write(const std::string& in) {
    for (char ch : in) {
      if (pos == data.size()) pos = 0;
      data[pos++] = static_cast<std::byte>(ch);
    }
    if (pos == data.size()) pos = 0;
  }
};

void check(bool ok) {
  if (!ok) std::abort();
}

int error_of_write(mmipc::cursor& c, const std::string& in) {
  try {
    check(c.write(std::as_bytes(std::span(in))) == in.size());
  } catch (const mmipc::os_error& e) {
    return e.error_number();
  }
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mmipc::fuzzing::input in(data, size);
  const auto header = in.next<std::uint16_t>();
  const std::size_t length = header % 1025;  // 0 included: the empty region
  const bool writable = (header & 0x8000) == 0;

  // The region is a heap block of exactly `length` bytes, so AddressSanitizer catches any
  // access one byte past either end.
  std::vector<std::byte> region(length);
  for (std::size_t i = 0; i < length; ++i) region[i] = static_cast<std::byte>(i * 7);
  model ref{region, 0};
  mmipc::cursor c(std::span(region), writable);

  for (int step = 0; step < 256 && !in.empty(); ++step) {
    switch (in.next<std::uint8_t>() % 4) {
      case 0: {
        const std::size_t n = in.next<std::uint16_t>() % 4096;
        std::vector<std::byte> out(n);
        const std::size_t got = c.read(out);
        out.resize(got);
        check(out == ref.read(n));
        break;
      }
      case 1: {
        const std::size_t n = in.next<std::uint16_t>() % 4096;
        std::string bytes = in.bytes(n);
        const int err = error_of_write(c, bytes);
        if (bytes.empty()) {
          check(err == 0);
        } else if (!writable) {
          check(err == EBADF);
        } else if (length == 0) {
          check(err == ENOSPC);
        } else {
          check(err == 0);
          ref.write(bytes);
        }
        break;
      }
      case 2: {
        const auto offset = in.next<std::int64_t>();
        const auto origin = static_cast<mmipc::whence>(in.next<std::uint8_t>() % 3);
        const __int128 base = origin == mmipc::whence::start     ? 0
                              : origin == mmipc::whence::current ? ref.pos
                                                                 : length;
        const __int128 target = base + offset;
        const bool valid = target >= 0 && target <= static_cast<__int128>(length);
        try {
          const auto result = c.seek(offset, origin);
          check(valid && result == static_cast<std::uint64_t>(target));
          ref.pos = static_cast<std::size_t>(target);
        } catch (const mmipc::os_error& e) {
          check(!valid && e.error_number() == EINVAL);
        }
        break;
      }
      default:
        check(c.eof() == (ref.pos == length));
        check(c.remaining() == length - ref.pos);
        break;
    }
    check(c.tell() == ref.pos);
    check(region == ref.data);
  }
  return 0;
}
