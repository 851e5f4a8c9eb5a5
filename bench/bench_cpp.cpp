// C++ benchmarks (group "cxx"): reading a file through mmipc::mapping and mmipc::cursor
// against what a C++ programmer would use instead (pread, std::ifstream, Boost.Interprocess),
// and the memcpy limit the Tcl group compares its channel reads with (--limit-file).
//
//   bench_cpp [--reps N] [--quick] [--smoke] [--dir DIR] [--only GROUP]
//   bench_cpp --limit-file PATH [--reps N]
//
// Prints `sample` lines (see harness.hpp) for bench/run.

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mmipc/cursor.hpp>
#include <mmipc/huge_pages.hpp>
#include <mmipc/mapping.hpp>
#include <random>
#include <string>
#include <vector>

#include "harness.hpp"

namespace {

namespace bip = boost::interprocess;
constexpr std::uint64_t mib = 1024 * 1024;

std::string size_label(std::uint64_t bytes) {
  if (bytes >= mib) return std::to_string(bytes / mib) + " MiB";
  return std::to_string(bytes / 1024) + " KiB";
}

/// A file of `size` bytes of text lines, removed when the object goes away.
class data_file {
 public:
  data_file(const std::string& dir, std::uint64_t size) {
    path_ = std::filesystem::path(dir) /
            ("mmipc-bench-" + std::to_string(::getpid()) + "-" + std::to_string(++count_));
    int fd = ::open(path_.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("cannot create " + path_.native());
    std::string block(mib, 'x');
    for (std::size_t i = 255; i < block.size(); i += 256) block[i] = '\n';
    for (std::uint64_t done = 0; done < size;) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(block.size(), size - done));
      ssize_t w = ::write(fd, block.data(), n);
      if (w <= 0) {
        ::close(fd);
        throw std::runtime_error("cannot write " + path_.native());
      }
      done += static_cast<std::uint64_t>(w);
    }
    ::close(fd);
  }
  ~data_file() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  data_file(const data_file&) = delete;
  data_file& operator=(const data_file&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  static inline int count_ = 0;
  std::filesystem::path path_;
};

int open_or_throw(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path.native());
  return fd;
}

/// Whole file in 64 KiB chunks into one buffer, opening (mapping) and closing each time.
void sequential_reads(const bench::settings& s) {
  const std::uint64_t size = s.smoke ? mib : s.quick ? 32 * mib : 256 * mib;
  constexpr std::size_t chunk = 64 * 1024;
  data_file file(s.dir, size);
  const auto& path = file.path();
  // Aligned: a misaligned destination makes every copy straddle cache lines.
  alignas(64) static std::byte buffer[chunk];
  const std::uint64_t ops = size / chunk;
  // The limit: memcpy from a mapping that already exists and is faulted in.
  mmipc::map_options populate;
  populate.populate = true;
  auto resident = mmipc::mapping::map(path, 0, std::nullopt, populate);

  std::vector<bench::contender> c;
  c.push_back({"mmipc mapping + cursor", "ours", [&] {
                 // Plain: MAP_POPULATE and madvise(SEQUENTIAL) measured no faster here.
                 auto m = mmipc::mapping::map(path);
                 mmipc::cursor cur(m);
                 while (cur.read(buffer) != 0) bench::escape(buffer);
               }});
  c.push_back({"pread", "peer", [&] {
                 int fd = open_or_throw(path);
                 off_t at = 0;
                 for (ssize_t n; (n = ::pread(fd, buffer, chunk, at)) > 0; at += n) {
                   bench::escape(buffer);
                 }
                 ::close(fd);
               }});
  c.push_back({"std::ifstream", "peer", [&] {
                 std::ifstream in(path, std::ios::binary);
                 while (in.read(reinterpret_cast<char*>(buffer), chunk) || in.gcount()) {
                   bench::escape(buffer);
                 }
               }});
  c.push_back({"boost mapped_region", "peer", [&] {
                 bip::file_mapping fm(path.c_str(), bip::read_only);
                 bip::mapped_region region(fm, bip::read_only);
                 auto* base = static_cast<const std::byte*>(region.get_address());
                 for (std::size_t at = 0; at < region.get_size(); at += chunk) {
                   std::memcpy(buffer, base + at, std::min(chunk, region.get_size() - at));
                   bench::escape(buffer);
                 }
               }});
  c.push_back({"memcpy from resident mapping", "limit", [&] {
                 for (std::size_t at = 0; at < resident.size(); at += chunk) {
                   std::memcpy(buffer, resident.data() + at, std::min(chunk, resident.size() - at));
                   bench::escape(buffer);
                 }
               }});
  bench::run_case(s, "cxx", "sequential read of a " + size_label(size) + " file, 64 KiB chunks",
                  ops, chunk, std::move(c));
}

/// Random 64-byte reads from a file that stays open (mapped).
void random_reads(const bench::settings& s) {
  const std::uint64_t size = s.smoke ? mib : s.quick ? 32 * mib : 256 * mib;
  const std::uint64_t ops = s.smoke ? 1000 : s.quick ? 200'000 : 1'000'000;
  constexpr std::size_t len = 64;
  data_file file(s.dir, size);
  const auto& path = file.path();
  std::vector<std::uint64_t> offsets(ops);
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::uint64_t> pick(0, size - len);
  for (auto& o : offsets) o = pick(rng);
  alignas(64) std::byte buffer[len];

  auto ours = mmipc::mapping::map(path);
  mmipc::cursor cur(ours);
  int fd = open_or_throw(path);
  std::ifstream in(path, std::ios::binary);
  bip::file_mapping fm(path.c_str(), bip::read_only);
  bip::mapped_region region(fm, bip::read_only);
  auto* base = static_cast<const std::byte*>(region.get_address());

  // Through a read interface: a position and a copy per call.
  std::vector<bench::contender> c;
  c.push_back({"mmipc cursor seek+read", "ours", [&] {
                 for (auto o : offsets) {
                   cur.seek(static_cast<std::int64_t>(o));
                   cur.read(buffer);
                   bench::escape(buffer);
                 }
               }});
  c.push_back({"pread", "peer", [&] {
                 for (auto o : offsets) {
                   if (::pread(fd, buffer, len, static_cast<off_t>(o)) != len) std::abort();
                   bench::escape(buffer);
                 }
               }});
  c.push_back({"std::ifstream seekg+read", "peer", [&] {
                 for (auto o : offsets) {
                   in.seekg(static_cast<std::streamoff>(o));
                   in.read(reinterpret_cast<char*>(buffer), len);
                   bench::escape(buffer);
                 }
               }});
  bench::run_case(s, "cxx", "random 64 B reads in a " + size_label(size) + " file, read API", ops,
                  len, std::move(c));

  // Straight from the mapped memory: the same copy through each library's pointer.
  std::vector<bench::contender> d;
  d.push_back({"mmipc mapping data() + memcpy", "ours", [&] {
                 for (auto o : offsets) {
                   std::memcpy(buffer, ours.data() + o, len);
                   bench::escape(buffer);
                 }
               }});
  d.push_back({"boost mapped_region + memcpy", "peer", [&] {
                 for (auto o : offsets) {
                   std::memcpy(buffer, base + o, len);
                   bench::escape(buffer);
                 }
               }});
  bench::run_case(s, "cxx", "random 64 B reads in a " + size_label(size) + " file, mapped memory",
                  ops, len, std::move(d));
  ::close(fd);
}

/// Mapping and unmapping a small file: the fixed cost of each way of mapping.
void map_unmap(const bench::settings& s) {
  const std::uint64_t ops = s.smoke ? 10 : s.quick ? 2000 : 10000;
  data_file file(s.dir, mib);
  const auto& path = file.path();
  std::vector<bench::contender> c;
  c.push_back({"mmipc mapping::map", "ours", [&] {
                 for (std::uint64_t i = 0; i < ops; ++i) {
                   auto m = mmipc::mapping::map(path);
                   bench::do_not_optimize(m.data());
                 }
               }});
  c.push_back({"boost mapped_region", "peer", [&] {
                 for (std::uint64_t i = 0; i < ops; ++i) {
                   bip::file_mapping fm(path.c_str(), bip::read_only);
                   bip::mapped_region region(fm, bip::read_only);
                   bench::do_not_optimize(region.get_address());
                 }
               }});
  c.push_back({"open+fstat+mmap+close+munmap", "limit", [&] {
                 for (std::uint64_t i = 0; i < ops; ++i) {
                   int fd = open_or_throw(path);
                   struct stat st;
                   ::fstat(fd, &st);
                   void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ,
                                    MAP_SHARED, fd, 0);
                   ::close(fd);
                   bench::do_not_optimize(p);
                   ::munmap(p, static_cast<std::size_t>(st.st_size));
                 }
               }});
  bench::run_case(s, "cxx", "map+unmap of a 1 MiB file", ops, 0, std::move(c));
}

/// The limit for the Tcl group's whole-file read: memcpy of the same bytes from a mapping of
/// the same file, into a new buffer (as a Tcl read must produce a new value) and into a
/// buffer that is reused (pages already faulted in).
void limit_file(const bench::settings& s, const std::filesystem::path& path) {
  mmipc::map_options populate;
  populate.populate = true;
  auto m = mmipc::mapping::map(path, 0, std::nullopt, populate);
  std::unique_ptr<std::byte[]> keep(new std::byte[m.size()]);
  std::memset(keep.get(), 0, m.size());
  std::vector<bench::contender> c;
  c.push_back({"memcpy into a reused buffer", "limit", [&] {
                 std::memcpy(keep.get(), m.data(), m.size());
                 bench::escape(keep.get());
               }});
  c.push_back({"memcpy into a new buffer", "limit", [&] {
                 std::unique_ptr<std::byte[]> fresh(new std::byte[m.size()]);
                 std::memcpy(fresh.get(), m.data(), m.size());
                 bench::escape(fresh.get());
               }});
  // What mmap::read does: the new buffer pre-faulted (with huge pages) before the copy.
  c.push_back({"memcpy into a new pre-faulted buffer", "limit", [&] {
                 std::unique_ptr<std::byte[]> fresh(new std::byte[m.size()]);
                 mmipc::prefault_buffer(fresh.get(), m.size());
                 std::memcpy(fresh.get(), m.data(), m.size());
                 bench::escape(fresh.get());
               }});
  bench::run_case(s, "tcl", "read whole file", 1, m.size(), std::move(c));
}

}  // namespace

int main(int argc, char** argv) {
  try {
    // --limit-file PATH is ours; the rest goes to the harness.
    std::vector<char*> rest{argv[0]};
    std::string limit;
    for (int i = 1; i < argc; ++i) {
      if (std::string(argv[i]) == "--limit-file" && i + 1 < argc) {
        limit = argv[++i];
      } else {
        rest.push_back(argv[i]);
      }
    }
    auto s = bench::parse_settings(static_cast<int>(rest.size()), rest.data());
    if (!limit.empty()) {
      limit_file(s, limit);
      return 0;
    }
    sequential_reads(s);
    random_reads(s);
    map_unmap(s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cpp: %s\n", e.what());
    return 1;
  }
  return 0;
}
