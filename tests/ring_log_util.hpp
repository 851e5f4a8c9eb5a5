#pragma once
// Helpers for the ring log tests: a log file that is always removed, raw access to its bytes
// (through read/write, as a damaging process or another language would), and an independent
// reader of the format written from doc/ring-log-format.md alone.

#include <fcntl.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace mmipc::testing {

/// A path for a log in the temporary directory, removed (with any scratch file the library
/// left, which it never should) when the test ends.
class log_path {
 public:
  log_path() {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::filesystem::path(dir && *dir ? dir : "/tmp") / unique_name("mmipc-log");
  }
  log_path(const log_path&) = delete;
  log_path& operator=(const log_path&) = delete;
  ~log_path() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }
  operator const std::filesystem::path&() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Reads `n` bytes of `path` at `offset` with pread.
inline std::string read_bytes(const std::filesystem::path& path, std::uint64_t offset,
                              std::size_t n) {
  std::string out(n, '\0');
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path.native());
  const ssize_t got = ::pread(fd, out.data(), n, static_cast<off_t>(offset));
  ::close(fd);
  if (got != static_cast<ssize_t>(n)) throw std::runtime_error("short read of " + path.native());
  return out;
}

/// Writes `bytes` into `path` at `offset` with pwrite (the file does not grow unless asked).
inline void write_bytes(const std::filesystem::path& path, std::uint64_t offset,
                        const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path.native());
  const ssize_t put = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
  ::close(fd);
  if (put != static_cast<ssize_t>(bytes.size())) throw std::runtime_error("short write");
}

template <class T>
T read_value(const std::filesystem::path& path, std::uint64_t offset) {
  const std::string bytes = read_bytes(path, offset, sizeof(T));
  T value;
  std::memcpy(&value, bytes.data(), sizeof value);
  return value;
}

template <class T>
void write_value(const std::filesystem::path& path, std::uint64_t offset, T value) {
  std::string bytes(sizeof value, '\0');
  std::memcpy(bytes.data(), &value, sizeof value);
  write_bytes(path, offset, bytes);
}

/// A record as the independent reader finds it.
struct raw_record {
  std::uint64_t pos;
  std::uint64_t seq;
  std::int64_t time_ns;
  std::string data;
};

/// Reads every record of the log file at `path` following doc/ring-log-format.md only (not
/// the library): from the tail to the head, checking each checksum. Throws on anything the
/// document says cannot be.
inline std::vector<raw_record> read_as_documented(const std::filesystem::path& path) {
  const std::string header = read_bytes(path, 0, 4096);
  auto u32 = [&](std::size_t at) {
    std::uint32_t v;
    std::memcpy(&v, header.data() + at, 4);
    return v;
  };
  auto u64 = [&](std::size_t at) {
    std::uint64_t v;
    std::memcpy(&v, header.data() + at, 8);
    return v;
  };
  if (header.compare(0, 8, "MMIPCLOG") != 0) throw std::runtime_error("magic");
  if (u32(8) != 1) throw std::runtime_error("version");
  if (static_cast<std::uint32_t>(XXH3_64bits(header.data(), 60)) != u32(60)) {
    throw std::runtime_error("identity check");
  }
  const std::uint64_t data_offset = u64(32);
  const std::uint64_t capacity = u64(40);
  const std::uint64_t tail = u64(192);
  const std::uint64_t head = u64(200);
  if (tail > head || head - tail > capacity) throw std::runtime_error("tail/head");
  const std::string area = read_bytes(path, data_offset, capacity);
  std::vector<raw_record> out;
  std::uint64_t pos = tail;
  while (pos < head) {
    const std::uint64_t off = pos % capacity;
    const std::uint64_t room = capacity - off;
    if (room < 32) {
      pos += room;
      continue;
    }
    std::uint64_t checksum, seq;
    std::uint32_t length, kind;
    std::int64_t time_ns;
    std::memcpy(&checksum, area.data() + off, 8);
    std::memcpy(&length, area.data() + off + 8, 4);
    std::memcpy(&kind, area.data() + off + 12, 4);
    std::memcpy(&seq, area.data() + off + 16, 8);
    std::memcpy(&time_ns, area.data() + off + 24, 8);
    if (kind == 2) {
      if (XXH3_64bits_withSeed(area.data() + off + 8, 24, pos) != checksum) {
        throw std::runtime_error("padding checksum at " + std::to_string(pos));
      }
      pos += room;
      continue;
    }
    if (kind != 1 || 32 + length > room)
      throw std::runtime_error("entry at " + std::to_string(pos));
    const std::uint64_t payload = XXH3_64bits(area.data() + off + 32, length);
    if (XXH3_64bits_withSeed(area.data() + off + 8, 24, payload ^ pos) != checksum) {
      throw std::runtime_error("record checksum at " + std::to_string(pos));
    }
    out.push_back({pos, seq, time_ns, area.substr(off + 32, length)});
    pos += 32 + ((length + 7) & ~std::uint64_t{7});
  }
  if (pos != head) throw std::runtime_error("records overrun the head");
  return out;
}

}  // namespace mmipc::testing
