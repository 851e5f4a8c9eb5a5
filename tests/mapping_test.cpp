#include "mmipc/mapping.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "mmipc/error.hpp"
#include "mmipc/unique_fd.hpp"
#include "system_call_seam.hpp"
#include "test_util.hpp"

namespace {

using mmipc::access_mode;
using mmipc::map_options;
using mmipc::mapping;
using mmipc::testing::temp_file;

std::string text(const mapping& m) {
  return {reinterpret_cast<const char*>(m.data()), m.size()};
}

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 26) % 26);
  return s;
}

map_options read_write(bool shared = true) {
  map_options o;
  o.access = access_mode::read_write;
  o.shared = shared;
  return o;
}

TEST(MappingTest, DefaultIsEmpty) {
  mapping m;
  EXPECT_TRUE(m.empty());
  EXPECT_FALSE(m);
  EXPECT_EQ(m.size(), 0u);
}

TEST(MappingTest, MapsWholeFileByDefault) {
  temp_file file("hello, world");
  auto m = mapping::map(file.path());
  EXPECT_EQ(text(m), "hello, world");
  EXPECT_FALSE(m.writable());
  EXPECT_TRUE(m.shared());
  EXPECT_EQ(m.offset(), 0u);
}

TEST(MappingTest, UnalignedOffsetsAndLengths) {
  const std::string data = pattern(3 * mapping::page_size() + 123);
  temp_file file(data);
  for (std::uint64_t offset : {std::uint64_t{1}, std::uint64_t{4095}, std::uint64_t{4097},
                               std::uint64_t{mapping::page_size() * 2 + 5}}) {
    auto rest = mapping::map(file.path(), offset);
    EXPECT_EQ(text(rest), data.substr(offset)) << offset;
    EXPECT_EQ(rest.offset(), offset);
    auto part = mapping::map(file.path(), offset, 100);
    EXPECT_EQ(text(part), data.substr(offset, 100)) << offset;
  }
}

TEST(MappingTest, SharedWritesReachTheFile) {
  temp_file file(pattern(10000));
  {
    auto m = mapping::map(file.path(), 5000, 5, read_write());
    std::memcpy(m.data(), "HELLO", 5);
    m.sync();
  }
  EXPECT_EQ(file.contents().substr(5000, 5), "HELLO");
  EXPECT_EQ(file.contents().size(), 10000u);
}

TEST(MappingTest, PrivateWritesStayInMemory) {
  const std::string data = pattern(100);
  temp_file file(data);
  auto fd = mmipc::unique_fd::open(file.path(), O_RDONLY);
  // A private mapping may be written even when the file is open read-only.
  auto m = mapping::map(fd.get(), 0, std::nullopt, read_write(false));
  std::memcpy(m.data(), "PRIVATE", 7);
  EXPECT_EQ(text(m).substr(0, 7), "PRIVATE");
  EXPECT_EQ(file.contents(), data);
}

TEST(MappingTest, ReadOnlyDescriptorRefusesSharedWrite) {
  temp_file file("abc");
  auto fd = mmipc::unique_fd::open(file.path(), O_RDONLY);
  try {
    mapping::map(fd.get(), 0, std::nullopt, read_write(), "abc-file");
    FAIL() << "no exception";
  } catch (const mmipc::os_error& e) {
    EXPECT_EQ(e.error_number(), EACCES);
    EXPECT_EQ(e.op(), "mmap");
    EXPECT_EQ(e.name(), "abc-file");
  }
}

void expect_invalid(const std::function<void()>& call, const std::string& fragment) {
  try {
    call();
    ADD_FAILURE() << "no exception, expected one mentioning " << fragment;
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(MappingTest, RefusesRegionsOutsideTheFile) {
  temp_file file(pattern(1000));
  expect_invalid([&] { mapping::map(file.path(), 0, 0); }, "length must be positive");
  expect_invalid([&] { mapping::map(file.path(), 1001); }, "past the end of the file (1000 bytes)");
  expect_invalid([&] { mapping::map(file.path(), 1000); }, "at the end of the file");
  expect_invalid([&] { mapping::map(file.path(), 990, 11); }, "runs past the end of the file");
  expect_invalid([&] { mapping::map(file.path(), 0, 1001); }, "runs past the end of the file");
  expect_invalid([&] { mapping::map(file.path(), UINT64_MAX); }, "too large");
  expect_invalid([&] { mapping::map(file.path(), 1, UINT64_MAX); }, "runs past the end");
  EXPECT_EQ(mapping::map(file.path(), 990, 10).size(), 10u);
}

// Bindings phrase their own messages from the problem and the numbers, so those must be right.
mmipc::region_error region_error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const mmipc::region_error& e) {
    return e;
  }
  ADD_FAILURE() << "no region_error";
  return {mmipc::region_problem::zero_length, "", 0, 0, 0};
}

TEST(MappingTest, RegionErrorsSayWhatIsWrong) {
  using mmipc::region_problem;
  temp_file file(pattern(1000));
  auto past = region_error_of([&] { mapping::map(file.path(), 1001); });
  EXPECT_EQ(past.problem(), region_problem::offset_past_end);
  EXPECT_EQ(past.offset(), 1001u);
  EXPECT_EQ(past.file_size(), 1000u);
  EXPECT_EQ(region_error_of([&] { mapping::map(file.path(), 1000); }).problem(),
            region_problem::offset_at_end);
  auto runs = region_error_of([&] { mapping::map(file.path(), 10, 991); });
  EXPECT_EQ(runs.problem(), region_problem::runs_past_end);
  EXPECT_EQ(runs.length(), 991u);
  EXPECT_EQ(region_error_of([&] { mapping::map(file.path(), 0, 0); }).problem(),
            region_problem::zero_length);
  EXPECT_EQ(region_error_of([&] { mapping::map(file.path(), UINT64_MAX); }).problem(),
            region_problem::too_large);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  EXPECT_EQ(region_error_of([&] { mapping::map(fds[0], 0, 10); }).problem(),
            region_problem::not_mappable);
  ::close(fds[0]);
  ::close(fds[1]);
  auto zero = mmipc::unique_fd::open("/dev/zero", O_RDONLY);
  EXPECT_EQ(region_error_of([&] { mapping::map(zero.get(), 0, std::nullopt); }).problem(),
            region_problem::needs_length);
}

TEST(MappingTest, EmptyFileHasNothingToMap) {
  temp_file file;
  expect_invalid([&] { mapping::map(file.path()); }, "at the end of the file");
}

TEST(MappingTest, ErrorMessageNamesTheFile) {
  temp_file file("x");
  expect_invalid([&] { mapping::map(file.path(), 5); }, file.path().native());
}

TEST(MappingTest, DeviceNeedsALength) {
  auto fd = mmipc::unique_fd::open("/dev/zero", O_RDWR);
  expect_invalid([&] { mapping::map(fd.get(), 0, std::nullopt, {}, "/dev/zero"); },
                 "give the length");
  auto m = mapping::map(fd.get(), 0, 8192, read_write());
  EXPECT_EQ(m.size(), 8192u);
  EXPECT_EQ(m.data()[8191], std::byte{0});
}

TEST(MappingTest, RefusesFifos) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  expect_invalid([&] { mapping::map(fds[0], 0, 10); }, "not a regular file or a device");
  ::close(fds[0]);
  ::close(fds[1]);
}

// Forks a child that writes `value` into m.data()[0] and exits; returns when it is done.
void write_in_child(const mapping& m, char value) {
  ASSERT_EQ(mmipc::testing::in_child([&] {
              m.data()[0] = static_cast<std::byte>(value);
              return 0;
            }),
            0);
}

TEST(MappingTest, SharedDevZeroIsSharedWithChildren) {
  auto fd = mmipc::unique_fd::open("/dev/zero", O_RDWR);
  auto shared = mapping::map(fd.get(), 0, 4096, read_write(true));
  auto priv = mapping::map(fd.get(), 0, 4096, read_write(false));
  write_in_child(shared, 'S');
  write_in_child(priv, 'P');
  EXPECT_EQ(shared.data()[0], std::byte{'S'});
  EXPECT_EQ(priv.data()[0], std::byte{0});
}

TEST(MappingTest, AnonymousSharedAndPrivate) {
  auto shared = mapping::anonymous(100, read_write(true));
  auto priv = mapping::anonymous(100, read_write(false));
  write_in_child(shared, 'S');
  write_in_child(priv, 'P');
  EXPECT_EQ(shared.data()[0], std::byte{'S'});
  EXPECT_EQ(priv.data()[0], std::byte{0});
  expect_invalid([] { mapping::anonymous(0); }, "length must be positive");
}

TEST(MappingTest, MoveLeavesSourceEmpty) {
  temp_file file("move me");
  auto m = mapping::map(file.path());
  auto* data = m.data();
  mapping moved(std::move(m));
  EXPECT_TRUE(m.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(moved.data(), data);
  mapping assigned;
  assigned = std::move(moved);
  EXPECT_TRUE(moved.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(text(assigned), "move me");
}

bool is_mapped(const void* address) {
  // mincore fails with ENOMEM for an address that is not mapped.
  unsigned char vec = 0;
  auto page = reinterpret_cast<std::uintptr_t>(address) & ~(mapping::page_size() - 1);
  return ::mincore(reinterpret_cast<void*>(page), 1, &vec) == 0;
}

TEST(MappingTest, ResetUnmaps) {
  temp_file file(pattern(10000));
  auto m = mapping::map(file.path(), 4097, 100);
  const void* data = m.data();
  EXPECT_TRUE(is_mapped(data));
  m.reset();
  EXPECT_TRUE(m.empty());
  EXPECT_FALSE(is_mapped(data));
}

TEST(MappingTest, SyncAdviseLockOnUnalignedRegions) {
  temp_file file(pattern(5 * mapping::page_size()));
  auto m = mapping::map(file.path(), 100, 3 * mapping::page_size(), read_write());
  m.data()[0] = std::byte{'#'};
  m.sync(0, 1);
  m.sync(mmipc::sync_mode::async);
  m.sync(10, 5000, mmipc::sync_mode::sync, true);
  EXPECT_EQ(file.contents()[100], '#');
  m.advise(mmipc::advice::sequential);
  m.advise(mmipc::advice::will_need, 4000, 100);
  m.lock();
  m.unlock();
  expect_invalid([&] { m.sync(m.size() + 1, 1); }, "past the end of the mapping");
  mapping empty;
  EXPECT_THROW(empty.sync(), mmipc::os_error);
}

TEST(MappingTest, SyncOfInaccessiblePagesIsANoOp) {
  // PROT_NONE pages cannot have been written through this mapping: nothing to write back.
  temp_file file(pattern(3 * mapping::page_size()));
  auto fd = mmipc::unique_fd::open(file.path(), O_RDWR);
  map_options none;
  none.access = access_mode::none;
  auto m = mapping::map(fd.get(), 5, 2 * mapping::page_size(), none);
  EXPECT_NO_THROW(m.sync());
  EXPECT_NO_THROW(m.sync(1, 10, mmipc::sync_mode::async, true));
  EXPECT_THROW(m.sync(m.size() + 1, 1), std::invalid_argument);
}

TEST(MappingTest, HugePageSizeMustBeAPowerOfTwo) {
  map_options o = read_write();
  o.huge_page_size = 3 * 1024 * 1024;
  expect_invalid([&] { mapping::anonymous(1 << 21, o); }, "not a power of two");
}

TEST(MappingTest, LinuxFlagsAreAccepted) {
  map_options o = read_write();
  o.populate = true;
  o.noreserve = true;
  auto m = mapping::anonymous(1 << 16, o);
  m.data()[100] = std::byte{1};
  EXPECT_EQ(m.data()[100], std::byte{1});
}

TEST(MappingTest, MapsBeyondFourGibibytes) {
  temp_file file;
  const std::uint64_t offset = (std::uint64_t{5} << 30) + 3;
  {
    auto fd = mmipc::unique_fd::open(file.path(), O_RDWR);
    ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(offset + 4096)), 0);
    ASSERT_EQ(::pwrite(fd.get(), "far", 3, static_cast<off_t>(offset)), 3);
  }
  auto m = mapping::map(file.path(), offset, 3);
  EXPECT_EQ(text(m), "far");
  EXPECT_EQ(m.offset(), offset);
}

// A moved-from or default-constructed mapping refuses every operation on its pages with
// os_error(EBADF), the one error of every empty handle.
TEST(MappingTest, EmptyMappingRefusesOperationsWithEbadf) {
  auto source = mapping::anonymous(4096, read_write());
  mapping target(std::move(source));
  mapping never_mapped;
  for (mapping* empty : {&source, &never_mapped}) {
    EXPECT_FALSE(*empty);
    EXPECT_TRUE(empty->empty());
    EXPECT_EQ(empty->data(), nullptr);
    EXPECT_EQ(empty->size(), 0u);
    using mmipc::testing::errno_of;
    EXPECT_EQ(errno_of([&] { empty->sync(); }), EBADF);
    EXPECT_EQ(errno_of([&] { empty->sync(0, 1); }), EBADF);
    EXPECT_EQ(errno_of([&] { empty->advise(mmipc::advice::normal); }), EBADF);
    EXPECT_EQ(errno_of([&] { empty->lock(); }), EBADF);
    EXPECT_EQ(errno_of([&] { empty->unlock(); }), EBADF);
  }
  source = std::move(target);
  EXPECT_NO_THROW(source.sync());
}

// mapping.hpp promises not_mappable for a pipe; opening a FIFO by its path used to block
// forever in open(O_RDONLY), waiting for a writer. The child's alarm turns a hang into a
// failure.
TEST(MappingTest, MapOfAFifoPathDoesNotBlock) {
  temp_file dir_entry;
  const auto fifo = dir_entry.path().native() + ".fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int status = mmipc::testing::in_child([&] {
    ::alarm(10);
    for (access_mode access : {access_mode::read_only, access_mode::read_write}) {
      map_options o;
      o.access = access;
      try {
        mapping::map(fifo, 0, 10, o);
        return 1;
      } catch (const mmipc::region_error& e) {
        if (e.problem() != mmipc::region_problem::not_mappable) return 2;
        if (std::string(e.what()).find(fifo) == std::string::npos) return 3;
      }
    }
    return 0;
  });
  ::unlink(fifo.c_str());
  EXPECT_EQ(status, 0) << "128 + " << SIGALRM << ": map() blocked on the FIFO";
}

// Sockets and directories are not mappable either, whatever the access asked for (open(2)
// alone would say ENXIO or EISDIR).
TEST(MappingTest, MapOfASocketOrDirectoryPathIsNotMappable) {
  temp_file dir_entry;
  const auto socket_path = dir_entry.path().native() + ".sock";
  const int sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(socket_path.size(), sizeof address.sun_path);
  std::strcpy(address.sun_path, socket_path.c_str());
  ASSERT_EQ(::bind(sock, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  const auto directory = dir_entry.path().parent_path();
  for (const std::filesystem::path& path : {std::filesystem::path(socket_path), directory}) {
    for (access_mode access : {access_mode::read_only, access_mode::read_write}) {
      map_options o;
      o.access = access;
      EXPECT_EQ(region_error_of([&] { mapping::map(path, 0, 10, o); }).problem(),
                mmipc::region_problem::not_mappable)
          << path;
    }
  }
  ::close(sock);
  ::unlink(socket_path.c_str());
}

// offset + length wrapped past 2^64 and passed the size check: /dev/zero at offset INT64_MAX
// with a length of 2^63 + 1 reached mmap and failed with ENOMEM.
TEST(MappingTest, DeviceRegionWrappingPastTwoToTheSixtyFourIsTooLarge) {
  auto zero = mmipc::unique_fd::open("/dev/zero", O_RDONLY);
  const std::uint64_t offset = INT64_MAX;
  const std::uint64_t length = (std::uint64_t{1} << 63) + 1;
  auto error = region_error_of([&] { mapping::map(zero.get(), offset, length, {}, "/dev/zero"); });
  EXPECT_EQ(error.problem(), mmipc::region_problem::too_large);
  EXPECT_EQ(error.offset(), offset);
  EXPECT_EQ(error.length(), length);
  // Without the wrap, too: the region must end within off_t.
  EXPECT_EQ(region_error_of([&] { mapping::map(zero.get(), INT64_MAX - 10, 4096); }).problem(),
            mmipc::region_problem::too_large);
}

// A negative off_t converted to the unsigned offset used to be reported as "offset
// 18446744073709551615 is too large".
TEST(MappingTest, NegativeOffsetHasItsOwnMessage) {
  temp_file file(pattern(100));
  auto fd = mmipc::unique_fd::open(file.path(), O_RDONLY);
  const off_t negative = -1;
  expect_invalid([&] { mapping::map(fd.get(), negative, 10, {}, "f"); }, "offset -1 is negative");
  expect_invalid([&] { mapping::map(file.path(), negative); }, "offset -1 is negative");
  const off_t most_negative = LONG_MIN;
  auto error = region_error_of([&] { mapping::map(fd.get(), most_negative, 10); });
  EXPECT_NE(std::string(error.what()).find("offset -9223372036854775808 is negative"),
            std::string::npos)
      << error.what();
  EXPECT_EQ(std::string(error.what()).find("too large"), std::string::npos) << error.what();
}

// Huge pages, watched through the system-call seam (the machine may have none): the kernel
// rounds a huge-page mapping up to whole huge pages, and munmap refuses any other length
// with EINVAL, so unmapping with the length asked for leaked the mapping.
constexpr std::size_t huge_page = std::size_t{2} << 20;
struct huge_calls {
  int flags = 0;
  std::vector<std::pair<void*, std::size_t>> mapped;
  std::vector<std::pair<void*, std::size_t>> unmapped;
} huge_log;

void* huge_mmap(void* address, std::size_t length, int protection, int flags, int fd,
                off_t offset) {
  huge_log.flags = flags;
  // What the kernel does for MAP_HUGETLB, with ordinary pages: whole huge pages.
  const std::size_t whole = (length + huge_page - 1) / huge_page * huge_page;
  const int ordinary = flags & ~(MAP_HUGETLB | (0x3f << MAP_HUGE_SHIFT));
  void* base = mmipc::detail::libc_calls.mmap(address, whole, protection, ordinary, fd, offset);
  if (base != MAP_FAILED) huge_log.mapped.emplace_back(base, whole);
  return base;
}

int huge_munmap(void* address, std::size_t length) {
  huge_log.unmapped.emplace_back(address, length);
  if (length % huge_page != 0) {
    // The kernel's answer; the fake still unmaps, so the test leaks nothing.
    for (auto [base, whole] : huge_log.mapped) {
      if (base == address) mmipc::detail::libc_calls.munmap(base, whole);
    }
    errno = EINVAL;
    return -1;
  }
  return mmipc::detail::libc_calls.munmap(address, length);
}

TEST(MappingTest, HugePageMappingsAreUnmappedInWholeHugePages) {
  temp_file file(pattern(8192));
  auto fd = mmipc::unique_fd::open(file.path(), O_RDWR);
  huge_log = {};
  {
    mmipc::testing::replaced_call fake_mmap(&mmipc::detail::system_calls::mmap, huge_mmap);
    mmipc::testing::replaced_call fake_munmap(&mmipc::detail::system_calls::munmap, huge_munmap);
    map_options o = read_write();
    o.huge_page_size = huge_page;
    auto anonymous = mapping::anonymous(4096, o);
    EXPECT_TRUE(huge_log.flags & MAP_HUGETLB);
    EXPECT_EQ(huge_log.flags >> MAP_HUGE_SHIFT & 0x3f, 21);  // log2 of 2 MiB
    EXPECT_EQ(anonymous.size(), 4096u);
    auto file_region = mapping::map(fd.get(), 100, 4000, o, "hugetlbfs file");
    EXPECT_EQ(file_region.size(), 4000u);
    EXPECT_EQ(file_region.data(), static_cast<std::byte*>(huge_log.mapped.back().first) + 100);
    auto moved = std::move(file_region);
    anonymous.reset();
  }
  ASSERT_EQ(huge_log.mapped.size(), 2u);
  // Each mapping unmapped once, at its base, in whole huge pages.
  std::vector<std::pair<void*, std::size_t>> expected{huge_log.mapped[0], huge_log.mapped[1]};
  EXPECT_EQ(huge_log.unmapped, expected);
  for (auto [base, length] : huge_log.unmapped) EXPECT_EQ(length, huge_page);
}

TEST(MappingTest, BaseIsThePageTheRegionStartsIn) {
  temp_file file;
  {
    auto fd = mmipc::unique_fd::open(file.path(), O_RDWR);
    ASSERT_EQ(::ftruncate(fd.get(), 3 * 4096), 0);
  }
  auto m = mapping::map(file.path(), 4096 + 100, 50);
  const auto page = mapping::page_size();
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.base()) % page, 0u);
  EXPECT_EQ(m.data() - m.base(), static_cast<std::ptrdiff_t>((4096 + 100) % page));
  EXPECT_EQ(m.mapped_size(), static_cast<std::size_t>(m.data() - m.base()) + 50);
  mapping empty;
  EXPECT_EQ(empty.base(), nullptr);
  EXPECT_EQ(empty.mapped_size(), 0u);
}

TEST(MappingTest, TrailingZeroPageIsReadableAfterAPageSizedRegion) {
  const auto page = mapping::page_size();
  temp_file file;
  {
    auto fd = mmipc::unique_fd::open(file.path(), O_RDWR);
    std::string data(2 * page, 'x');
    ASSERT_EQ(::pwrite(fd.get(), data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  }
  map_options o;
  o.trailing_zero_page = true;
  {
    auto m = mapping::map(file.path(), 0, 2 * page, o);
    // Without the reserved page this byte may belong to no mapping at all.
    EXPECT_EQ(m.data()[2 * page], std::byte{0});
    EXPECT_EQ(text(m), std::string(2 * page, 'x'));
  }
  {
    auto m = mapping::anonymous(page, o);
    EXPECT_EQ(m.data()[page], std::byte{0});
    // Unmapping releases the reserved page too: mapping again reuses the address space.
    m.reset();
  }
  {
    // Inside the file the byte after is the file's next byte.
    auto m = mapping::map(file.path(), 0, page, o);
    EXPECT_EQ(m.data()[page], std::byte{'x'});
  }
  map_options rw = read_write();
  rw.trailing_zero_page = true;
  auto m = mapping::map(file.path(), page, page, rw);
  m.data()[0] = std::byte{'y'};
  EXPECT_EQ(m.data()[page], std::byte{0});
}

}  // namespace
