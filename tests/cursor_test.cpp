#include "mmipc/cursor.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "mmipc/error.hpp"
#include "mmipc/guarded_copy.hpp"
#include "mmipc/mapping.hpp"
#include "sigbus_util.hpp"
#include "test_util.hpp"

namespace {

using mmipc::cursor;
using mmipc::whence;
using mmipc::testing::bytes_of;

std::string read_string(cursor& c, std::size_t n) {
  std::string out(n, '\0');
  out.resize(c.read(std::as_writable_bytes(std::span(out))));
  return out;
}

struct buffer_cursor {
  explicit buffer_cursor(std::string init, bool writable = true)
      : data(std::move(init)), c(std::as_writable_bytes(std::span(data)), writable) {}
  std::string data;
  cursor c;
};

TEST(CursorTest, ReadsStopAtTheEnd) {
  buffer_cursor b("0123456789");
  EXPECT_EQ(read_string(b.c, 4), "0123");
  EXPECT_EQ(b.c.tell(), 4u);
  EXPECT_FALSE(b.c.eof());
  EXPECT_EQ(read_string(b.c, 100), "456789");
  EXPECT_TRUE(b.c.eof());
  EXPECT_EQ(read_string(b.c, 5), "");
  EXPECT_EQ(b.c.tell(), 10u);
}

TEST(CursorTest, WritesWrapAround) {
  buffer_cursor b("..........");
  b.c.seek(7);
  EXPECT_EQ(b.c.write(bytes_of("abcde")), 5u);
  EXPECT_EQ(b.data, "de.....abc");
  EXPECT_EQ(b.c.tell(), 2u);
}

TEST(CursorTest, WriteEndingAtTheEndWrapsThePosition) {
  buffer_cursor b("..........");
  b.c.seek(6);
  b.c.write(bytes_of("wxyz"));
  EXPECT_EQ(b.data, "......wxyz");
  EXPECT_EQ(b.c.tell(), 0u);
}

TEST(CursorTest, WriteLongerThanTheRegionKeepsItsTail) {
  // Written byte by byte from 3, "0123456789abcdef" (16 bytes) over 10 bytes leaves the last
  // ten bytes, 6..f, at positions (3 + 6) % 10 = 9, 0, 1, ...
  buffer_cursor b("..........");
  b.c.seek(3);
  EXPECT_EQ(b.c.write(bytes_of("0123456789abcdef")), 16u);
  EXPECT_EQ(b.data, "789abcdef6");
  EXPECT_EQ(b.c.tell(), (3u + 16u) % 10u);
}

TEST(CursorTest, WriteOfExactlyTheRegionLength) {
  buffer_cursor b("..........");
  b.c.seek(4);
  b.c.write(bytes_of("0123456789"));
  EXPECT_EQ(b.data, "6789012345");
  EXPECT_EQ(b.c.tell(), 4u);
}

TEST(CursorTest, SeekIsBounded) {
  buffer_cursor b("0123456789");
  EXPECT_EQ(b.c.seek(10), 10u);
  EXPECT_EQ(b.c.seek(-3, whence::current), 7u);
  EXPECT_EQ(b.c.seek(-10, whence::end), 0u);
  EXPECT_EQ(b.c.seek(0, whence::end), 10u);
  b.c.seek(5);
  for (auto [offset, origin] :
       {std::pair{-1L, whence::start}, std::pair{11L, whence::start},
        std::pair{6L, whence::current}, std::pair{-6L, whence::current}, std::pair{1L, whence::end},
        std::pair{-11L, whence::end}, std::pair{INT64_MAX, whence::current},
        std::pair{INT64_MIN, whence::end}}) {
    try {
      b.c.seek(offset, origin);
      ADD_FAILURE() << "seek " << offset << " accepted";
    } catch (const mmipc::os_error& e) {
      EXPECT_EQ(e.error_number(), EINVAL);
    }
    EXPECT_EQ(b.c.tell(), 5u) << "a refused seek moved the position";
  }
}

TEST(CursorTest, ReadOnlyRefusesWrites) {
  buffer_cursor b("abc", false);
  try {
    b.c.write(bytes_of("x"));
    FAIL() << "no exception";
  } catch (const mmipc::os_error& e) {
    EXPECT_EQ(e.error_number(), EBADF);
  }
  EXPECT_EQ(b.data, "abc");
}

TEST(CursorTest, EmptyRegion) {
  cursor c;
  EXPECT_TRUE(c.eof());
  EXPECT_EQ(read_string(c, 3), "");
  EXPECT_EQ(c.write({}), 0u);
  cursor w(std::span<std::byte>(), true);
  EXPECT_THROW(w.write(bytes_of("x")), mmipc::os_error);
}

TEST(CursorTest, WorksOverAMapping) {
  mmipc::testing::temp_file file("0123456789");
  mmipc::map_options o;
  o.access = mmipc::access_mode::read_write;
  auto m = mmipc::mapping::map(file.path(), 2, 5, o);
  cursor c(m);
  EXPECT_TRUE(c.writable());
  EXPECT_EQ(c.size(), 5u);
  c.seek(3);
  c.write(bytes_of("XYZ"));
  m.sync();
  EXPECT_EQ(file.contents(), "01Z34XY789");
}

// The reference model: a plain string, written byte by byte, read with substr.
struct model {
  std::string data;
  std::size_t pos = 0;
  std::string read(std::size_t n) {
    std::string out = data.substr(pos, n);
    pos += out.size();
    return out;
  }
  void write(std::string_view in) {
    for (char ch : in) {
      if (pos == data.size()) pos = 0;  // a write at the end continues at the start
      data[pos] = ch;
      pos = (pos + 1) % data.size();
    }
  }
  bool seek(std::int64_t target) {
    if (target < 0 || target > static_cast<std::int64_t>(data.size())) return false;
    pos = static_cast<std::size_t>(target);
    return true;
  }
};

TEST(CursorTest, RandomOperationsMatchTheReferenceModel) {
  std::mt19937_64 rng(20261121);
  for (int round = 0; round < 200; ++round) {
    const std::size_t size = 1 + rng() % 300;
    std::string init(size, '\0');
    for (char& ch : init) ch = static_cast<char>('a' + rng() % 26);
    buffer_cursor b(init);
    model ref{init};
    for (int step = 0; step < 500; ++step) {
      SCOPED_TRACE("round " + std::to_string(round) + " step " + std::to_string(step));
      switch (rng() % 4) {
        case 0: {
          std::size_t n = rng() % (size + 20);
          ASSERT_EQ(read_string(b.c, n), ref.read(n));
          break;
        }
        case 1: {
          std::string in(rng() % (2 * size + 5), '\0');
          for (char& ch : in) ch = static_cast<char>('A' + rng() % 26);
          ASSERT_EQ(b.c.write(bytes_of(in)), in.size());
          ref.write(in);
          break;
        }
        case 2: {
          auto origin = static_cast<whence>(rng() % 3);
          std::int64_t offset = static_cast<std::int64_t>(rng() % (size + 10)) - 5 -
                                (origin == whence::end ? static_cast<std::int64_t>(size) : 0);
          std::int64_t base = origin == whence::start     ? 0
                              : origin == whence::current ? static_cast<std::int64_t>(ref.pos)
                                                          : static_cast<std::int64_t>(size);
          bool ok = ref.seek(base + offset);
          if (ok) {
            ASSERT_EQ(b.c.seek(offset, origin), ref.pos);
          } else {
            ASSERT_THROW(b.c.seek(offset, origin), mmipc::os_error);
          }
          break;
        }
        default:
          ASSERT_EQ(b.c.eof(), ref.pos == size);
          break;
      }
      ASSERT_EQ(b.c.tell(), ref.pos);
      ASSERT_EQ(b.data, ref.data);
    }
  }
}

// Another process truncates the file under the mapping: the lost pages fail with an error,
// the process keeps running, and the pages that still exist stay usable.
TEST(CursorTest, ReadOfPagesLostToTruncationThrows) {
  mmipc::testing::shrunk_mapping m(4, 2);
  const std::size_t page = mmipc::mapping::page_size();
  cursor c(m.map);
  c.seek(static_cast<std::int64_t>(2 * page));
  std::string out(10, '\0');
  try {
    c.read(std::as_writable_bytes(std::span(out)));
    FAIL() << "read of a lost page did not fail";
  } catch (const mmipc::os_error& e) {
    EXPECT_EQ(e.error_number(), EFAULT);
    EXPECT_NE(std::string(e.what()).find("shrank"), std::string::npos) << e.what();
  }
  EXPECT_EQ(c.tell(), 2 * page);  // a failed read does not move the position
  // A read that runs from a page that exists into one that is gone returns the bytes that
  // exist, as a file read at a truncated end does; the next read fails.
  c.seek(static_cast<std::int64_t>(2 * page - 5));
  EXPECT_EQ(read_string(c, 10), "bbbbb");
  EXPECT_EQ(c.tell(), 2 * page);
  EXPECT_THROW(read_string(c, 10), mmipc::lost_pages_error);
  c.seek(static_cast<std::int64_t>(page - 2));
  EXPECT_EQ(read_string(c, 4), "aabb");
}

TEST(CursorTest, WriteToPagesLostToTruncationThrows) {
  mmipc::testing::shrunk_mapping m(3, 1);
  const std::size_t page = mmipc::mapping::page_size();
  cursor c(m.map);
  c.seek(static_cast<std::int64_t>(page + 7));
  try {
    c.write(bytes_of("lost"));
    FAIL() << "write to a lost page did not fail";
  } catch (const mmipc::os_error& e) {
    EXPECT_EQ(e.error_number(), EFAULT);
  }
  EXPECT_EQ(c.tell(), page + 7);
  c.seek(3);
  EXPECT_EQ(c.write(bytes_of("kept")), 4u);
  EXPECT_EQ(m.file.contents(), "aaakept" + std::string(page - 7, 'a'));
  // A cyclic write that wraps from the end (gone) to the start fails as well.
  c.seek(-2, whence::end);
  EXPECT_THROW(c.write(bytes_of("wrap")), mmipc::os_error);
  c.seek(0);
  EXPECT_EQ(read_string(c, 7), "aaakept");
}

// A cursor over pages mapped without access refused writes with EBADF, but read() touched
// the pages and died of SIGSEGV. Both are refused alike.
TEST(CursorTest, InaccessibleMappingRefusesReadsAsWrites) {
  mmipc::map_options none;
  none.access = mmipc::access_mode::none;
  auto m = mmipc::mapping::anonymous(100, none);
  cursor c(m);
  std::string out(10, '\0');
  using mmipc::testing::errno_of;
  EXPECT_EQ(errno_of([&] { c.read(std::as_writable_bytes(std::span(out))); }), EBADF);
  EXPECT_EQ(errno_of([&] { c.write(bytes_of("x")); }), EBADF);
  EXPECT_EQ(c.tell(), 0u);
  EXPECT_EQ(c.read({}), 0u);  // nothing asked, nothing touched
}

// lost_pages_error's name() held a sentence, so what() never named the file that shrank.
TEST(CursorTest, LostPagesErrorNamesTheFile) {
  mmipc::testing::shrunk_mapping m(3, 1);
  const std::size_t page = mmipc::mapping::page_size();
  cursor c(m.map);
  c.seek(static_cast<std::int64_t>(2 * page));
  for (int writing = 0; writing < 2; ++writing) {
    try {
      if (writing) {
        c.write(bytes_of("lost"));
      } else {
        read_string(c, 10);
      }
      FAIL() << "no exception";
    } catch (const mmipc::lost_pages_error& e) {
      EXPECT_EQ(e.name(), m.file.path().native());
      EXPECT_EQ(e.op(), writing ? "write" : "read");
      const std::string what = e.what();
      EXPECT_NE(what.find(m.file.path().native()), std::string::npos) << what;
      EXPECT_NE(what.find("the mapped file shrank under the mapping"), std::string::npos) << what;
    }
  }
}

// A cursor is a view, not a handle: moving one copies it, so the moved-from cursor is still
// a cursor over the same region, at the same position, with the same name.
TEST(CursorTest, MovedFromCursorIsUnchanged) {
  std::string data = "0123456789";
  cursor source(std::as_writable_bytes(std::span(data)), true, "a buffer with a long name");
  source.seek(4);
  cursor target(std::move(source));
  for (const cursor* c : {&source, &target}) {
    EXPECT_EQ(c->tell(), 4u);
    EXPECT_EQ(c->size(), 10u);
    EXPECT_EQ(c->name(), "a buffer with a long name");
  }
  EXPECT_EQ(read_string(source, 3), "456");  // NOLINT(bugprone-use-after-move): specified
  cursor assigned;
  assigned = std::move(target);
  EXPECT_EQ(read_string(target, 2), "45");  // NOLINT(bugprone-use-after-move): specified
  EXPECT_EQ(read_string(assigned, 2), "45");
}

}  // namespace
