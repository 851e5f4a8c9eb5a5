// Fuzzes the ring log opener and everything that trusts what it opened: a file of any bytes
// (raw, or a real log with fuzzed damage, its header checksum mended or not) is opened, read
// from the oldest and from a number, examined, and appended to. The contract
// (ring-log.md): whatever the file holds, open() refuses it with an exception or opens it;
// an opened log is read without a crash, a hang or a record out of order, and takes new
// records that read back after the others.

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "fuzz_input.hpp"
#include "mmipc/error.hpp"
#include "mmipc/ring_log.hpp"
#include "mmipc/unique_fd.hpp"

namespace {

// A broken promise: say which, and stop with the reproducer.
#define check(ok) check_at((ok), __LINE__)
void check_at(bool ok, int line) {
  if (ok) return;
  std::fprintf(stderr, "ring_log_fuzz: check at line %d failed\n", line);
  std::abort();
}

// A real log (wrapped several times, so records sit across the end of the data area) to
// damage: made once with the library, then kept as bytes.
const std::string& good_log() {
  static const std::string bytes = [] {
    const char* dir = std::getenv("TMPDIR");
    const auto path = std::filesystem::path(dir && *dir ? dir : "/tmp") /
                      ("mmipc-fuzz-log-" + std::to_string(::getpid()));
    std::filesystem::remove(path);
    std::string out;
    {
      auto log = mmipc::ring_log::create(path, 4096 + 1024);
      for (int i = 0; i < 300; ++i)
        log.append(std::string(static_cast<std::size_t>(i % 57), 'a' + i % 26));
    }
    const mmipc::unique_fd fd = mmipc::unique_fd::open(path, O_RDONLY);
    out.resize(std::filesystem::file_size(path));
    check(::pread(fd.get(), out.data(), out.size(), 0) == static_cast<ssize_t>(out.size()));
    std::filesystem::remove(path);
    return out;
  }();
  return bytes;
}

// Reads every record: numbers only go up, and each record's `missed` accounts for the gap.
std::uint64_t read_all(mmipc::ring_log_reader& reader, std::uint64_t from) {
  std::uint64_t last = 0, count = 0;
  while (auto r = reader.next()) {
    check(r->seq >= from);
    if (last != 0) check(r->seq == last + 1 + r->missed);
    check(r->data.size() <= 1u << 20);
    last = r->seq;
    check(++count < 1000000);
  }
  return last;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mmipc::fuzzing::input in(data, size);
  const auto mode = in.next<std::uint8_t>();
  std::string file;
  if (mode % 4 == 0) {
    file = in.bytes(8192);  // any bytes at all
  } else {
    // A real log, damaged: a few runs of fuzzer bytes written over it anywhere.
    file = good_log();
    const int runs = 1 + in.next<std::uint8_t>() % 4;
    for (int i = 0; i < runs && !in.empty(); ++i) {
      const std::size_t at = in.next<std::uint16_t>() % file.size();
      const std::string run = in.bytes(1 + in.next<std::uint8_t>() % 16);
      file.replace(at, std::min(run.size(), file.size() - at), run.substr(0, file.size() - at));
    }
    // Mostly with the header's own checksum mended, so the damage gets past the first check.
    if (mode % 4 != 3) {
      const auto sum = static_cast<std::uint32_t>(XXH3_64bits(file.data(), 60));
      std::memcpy(file.data() + 60, &sum, sizeof sum);
    }
  }

  mmipc::unique_fd fd(::memfd_create("mmipc-ring-log-fuzz", MFD_CLOEXEC));
  check(static_cast<bool>(fd));
  check(::pwrite(fd.get(), file.data(), file.size(), 0) == static_cast<ssize_t>(file.size()));
  const std::string path = "/proc/self/fd/" + std::to_string(fd.get());

  try {
    const bool writable = (mode & 0x10) == 0;
    auto log = mmipc::ring_log::open(path, writable);
    auto oldest = log.reader();
    const std::uint64_t last = read_all(oldest, 0);
    const std::uint64_t from = in.next<std::uint16_t>();
    auto numbered = log.reader(from);
    read_all(numbered, from);
    const auto stats = log.stats();
    check(stats.bytes_used <= stats.capacity);
    check(stats.records == 0 || stats.first_seq <= stats.last_seq);
    // Append only where the lock is free: a lock word naming a live thread is waited for
    // (by design), and one naming a lost one is recovered only after a wait.
    std::int32_t lock_word;
    std::memcpy(&lock_word, file.data() + 64, sizeof lock_word);
    if (writable && lock_word == 0) {
      const std::string record = in.bytes(in.next<std::uint16_t>() % 1200);
      const std::uint64_t seq = log.append(record);
      check(seq > last);
      auto again = log.reader(seq);
      auto r = again.next();
      check(r && r->seq == seq && r->text() == record);
    }
  } catch (const std::exception&) {
    // Refused (ring_log_error, os_error, invalid_argument): what a bad file must get.
  }
  return 0;
}
