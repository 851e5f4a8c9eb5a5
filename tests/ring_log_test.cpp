// The ring log (include/mmipc/ring_log.hpp): each rule of ring-log.md with its test. The
// load and fault tests scale up under `make stress` (MMIPC_STRESS=1).

#include "mmipc/ring_log.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mmipc/error.hpp"
#include "mmipc/guarded_copy.hpp"
#include "mmipc/robust_mutex.hpp"
#include "ring_log_format.hpp"
#include "ring_log_util.hpp"
#include "sigbus_util.hpp"
#include "stress_util.hpp"
#include "system_call_seam.hpp"
#include "test_util.hpp"
#include "thread_identity.hpp"
#include "tmpfs_util.hpp"

namespace {

using mmipc::log_record;
using mmipc::ring_log;
using mmipc::ring_log_error;
using mmipc::ring_log_reader;
using mmipc::testing::log_path;
using mmipc::testing::read_as_documented;
using mmipc::testing::reap;
using namespace std::chrono_literals;

namespace lf = mmipc::detail::log_format;

// What a reader gives, copied out of its buffer.
struct seen {
  std::uint64_t seq;
  std::string data;
  std::uint64_t missed;
  mmipc::log_time time;
};

std::vector<seen> read_all(mmipc::ring_log_reader& reader) {
  std::vector<seen> out;
  while (auto r = reader.next())
    out.push_back({r->seq, std::string(r->text()), r->missed, r->time});
  return out;
}

std::vector<seen> read_all(const ring_log& log) {
  auto reader = log.reader();
  return read_all(reader);
}

// The same through next_batch(), batches of about `max_bytes`.
std::vector<seen> read_all_batched(mmipc::ring_log_reader& reader, std::size_t max_bytes) {
  std::vector<seen> out;
  for (;;) {
    const auto batch = reader.next_batch(max_bytes);
    if (batch.empty()) return out;
    for (const log_record& r : batch) {
      out.push_back({r.seq, std::string(r.text()), r.missed, r.time});
    }
  }
}

// Both ways of reading give the same records, numbers, times and missed counts.
void expect_same(const std::vector<seen>& batched, const std::vector<seen>& one_by_one) {
  ASSERT_EQ(batched.size(), one_by_one.size());
  for (std::size_t i = 0; i < batched.size(); ++i) {
    ASSERT_EQ(batched[i].seq, one_by_one[i].seq) << i;
    ASSERT_EQ(batched[i].data, one_by_one[i].data) << i;
    ASSERT_EQ(batched[i].missed, one_by_one[i].missed) << i;
    ASSERT_EQ(batched[i].time, one_by_one[i].time) << i;
  }
}

// The message of the exception `call` throws (of type E), or "" when it throws none.
template <class E>
std::string message_of(auto&& call) {
  try {
    call();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// --- A record: bytes, a sequence number, a time ------------------------------------------

TEST(RingLogTest, RecordsComeBackWithTheirNumbersAndTimes) {
  log_path path;
  auto log = ring_log::create(path, 64 * 1024);
  const auto before = std::chrono::system_clock::now();
  const std::string binary("a\0b\n\xff", 5);
  EXPECT_EQ(log.append("first"), 1u);
  EXPECT_EQ(log.append(""), 2u);  // empty records are records
  EXPECT_EQ(log.append(binary), 3u);
  const auto after = std::chrono::system_clock::now();
  const auto records = read_all(log);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].data, "first");
  EXPECT_EQ(records[1].data, "");
  EXPECT_EQ(records[2].data, binary);
  for (std::size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].seq, i + 1);
    EXPECT_EQ(records[i].missed, 0u);
    EXPECT_GE(records[i].time, before);
    EXPECT_LE(records[i].time, after);
    if (i > 0) {
      EXPECT_GE(records[i].time, records[i - 1].time);
    }
  }
  // The file is what doc/ring-log-format.md says.
  const auto raw = read_as_documented(path);
  ASSERT_EQ(raw.size(), 3u);
  EXPECT_EQ(raw[2].data, binary);
  EXPECT_EQ(raw[2].seq, 3u);
  EXPECT_EQ(raw[0].time_ns, records[0].time.time_since_epoch().count());
}

TEST(RingLogTest, CreateMakesAFileOfTheSizeAskedWithEveryBlockReserved) {
  log_path path;
  const std::uint64_t size = 1024 * 1024 + 100;
  auto log = ring_log::create(path, size, 0640);
  struct stat st {};
  ASSERT_EQ(::stat(path.path().c_str(), &st), 0);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), size);
  EXPECT_GE(static_cast<std::uint64_t>(st.st_blocks) * 512, size);  // no holes
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777 & ~0640, 0u);  // the mode, less the umask
  EXPECT_EQ(log.file_size(), size);
  EXPECT_EQ(log.capacity(), (size - 4096) / 8 * 8);
  EXPECT_EQ(log.max_record_size(), log.capacity() - 32);
  EXPECT_TRUE(log.writable());
  const auto stats = log.stats();
  EXPECT_EQ(stats.records, 0u);
  EXPECT_EQ(stats.bytes_used, 0u);
  EXPECT_EQ(stats.capacity, log.capacity());
  // Nothing else was left in the directory (the scratch file was renamed into place).
  for (const auto& entry : std::filesystem::directory_iterator(path.path().parent_path())) {
    EXPECT_FALSE(
        contains(entry.path().filename().native(), "." + path.path().filename().native() + ".new-"))
        << entry.path();
  }
}

TEST(RingLogTest, CreateRefusesAnExistingFileAndBadSizesAndLeavesNothing) {
  mmipc::testing::temp_file existing("keep me");
  EXPECT_EQ(mmipc::testing::errno_of([&] { ring_log::create(existing.path(), 64 * 1024); }),
            EEXIST);
  EXPECT_EQ(existing.contents(), "keep me");

  log_path path;
  const std::string small =
      message_of<std::invalid_argument>([&] { ring_log::create(path, ring_log::min_size - 1); });
  EXPECT_TRUE(contains(small, "is too small (at least 4160 bytes")) << small;
  EXPECT_FALSE(std::filesystem::exists(path.path()));
  EXPECT_NO_THROW(ring_log::create(path, ring_log::min_size));
  std::filesystem::remove(path.path());

  const auto missing = path.path().parent_path() / mmipc::testing::unique_name("no-such-dir") / "x";
  EXPECT_EQ(mmipc::testing::errno_of([&] { ring_log::create(missing, 64 * 1024); }), ENOENT);
  EXPECT_FALSE(std::filesystem::exists(missing.parent_path()));
}

TEST(RingLogTest, ARecordLargerThanTheLogIsRefusedNamingBothSizes) {
  log_path path;
  auto log = ring_log::create(path, 4096 + 1000);
  const std::uint64_t max = log.max_record_size();
  EXPECT_EQ(max, 1000u / 8 * 8 - 32);
  const std::string too_big(max + 1, 'x');
  const std::string text = message_of<std::invalid_argument>([&] { log.append(too_big); });
  EXPECT_TRUE(contains(text, std::to_string(max + 1) + " bytes")) << text;
  EXPECT_TRUE(contains(text, "(" + std::to_string(max) + " bytes)")) << text;
  EXPECT_EQ(log.stats().records, 0u);  // nothing was dropped for it
  // The largest record fits, alone: it replaces everything.
  log.append("small");
  EXPECT_EQ(log.append(std::string(max, 'M')), 2u);
  const auto records = read_all(log);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].data, std::string(max, 'M'));
  EXPECT_EQ(log.stats().dropped, 1u);
}

TEST(RingLogTest, ReopeningContinuesAfterTheLastRecord) {
  log_path path;
  {
    auto log = ring_log::create(path, 4096 + 512);
    for (int i = 0; i < 20; ++i) log.append("before " + std::to_string(i));
  }
  const auto before = read_all(ring_log::open(path));
  ASSERT_FALSE(before.empty());
  EXPECT_EQ(before.back().seq, 20u);
  auto log = ring_log::open(path);
  EXPECT_EQ(log.append("after"), 21u);
  const auto after = read_all(log);
  // Only the oldest made room: every record before kept its place after the oldest ones.
  ASSERT_EQ(after.back().data, "after");
  for (std::size_t i = 1; i < after.size(); ++i) EXPECT_EQ(after[i].seq, after[i - 1].seq + 1);
  EXPECT_EQ(after[after.size() - 2].data, "before 19");
  EXPECT_GE(after.front().seq, before.front().seq);
}

// A ring_log or reader with nothing open (made by default, or moved from) refuses every
// operation with os_error(EBADF) naming it, never crashes; its bool is false; a moved-to one
// carries on with the log.
TEST(RingLogTest, AnEmptyOrMovedFromLogAndReaderRefuseEveryOperationWithEbadf) {
  using mmipc::testing::errno_of;
  log_path path;
  ring_log none;
  EXPECT_FALSE(none);
  auto log = ring_log::create(path, 4096 + 512);
  EXPECT_TRUE(log);
  EXPECT_EQ(log.append("one"), 1u);
  auto reader = log.reader();
  ring_log moved = std::move(log);
  ring_log_reader moved_reader = std::move(reader);
  ring_log_reader no_reader;
  for (ring_log* empty : {&none, &log}) {
    EXPECT_FALSE(*empty);
    EXPECT_EQ(errno_of([&] { empty->append("no"); }), EBADF);
    EXPECT_EQ(errno_of([&] { empty->sync(); }), EBADF);
    EXPECT_EQ(errno_of([&] { (void)empty->stats(); }), EBADF);
    EXPECT_EQ(errno_of([&] { (void)empty->reader(); }), EBADF);
    EXPECT_EQ(errno_of([&] { (void)empty->reader(1); }), EBADF);
    EXPECT_EQ(errno_of([&] { (void)empty->path(); }), EBADF);
    EXPECT_EQ(errno_of([&] { (void)empty->capacity(); }), EBADF);
    EXPECT_EQ(errno_of([&] { (void)empty->max_record_size(); }), EBADF);
  }
  for (ring_log_reader* empty : {&no_reader, &reader}) {
    EXPECT_EQ(errno_of([&] { (void)empty->next(); }), EBADF);
    EXPECT_EQ(errno_of([&] { (void)empty->next_batch(); }), EBADF);
    EXPECT_EQ(errno_of([&] { (void)empty->wait_for(std::chrono::milliseconds(1)); }), EBADF);
    EXPECT_EQ(errno_of([&] { (void)empty->next_for(std::chrono::milliseconds(1)); }), EBADF);
  }
  try {
    none.append("no");
    ADD_FAILURE() << "append on an empty ring_log did not throw";
  } catch (const mmipc::os_error& e) {
    EXPECT_NE(std::string(e.what()).find("none open"), std::string::npos) << e.what();
  }
  // The moved-to ones carry on.
  EXPECT_EQ(moved.append("two"), 2u);
  const auto first = moved_reader.next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->seq, 1u);
}

// The reference: the layout rules of ring-log.md and doc/ring-log-format.md in a few lines
// (records contiguous, a record that does not fit before the end of the area starts the next
// lap, the oldest dropped until the new one fits).
struct model_log {
  struct entry {
    std::uint64_t pos, span;
    bool record;
    std::uint64_t seq;
    std::string data;
  };
  std::uint64_t capacity = 0;
  std::uint64_t head = 0, tail = 0, next_seq = 1;
  std::deque<entry> entries;

  void append(const std::string& data) {
    const std::uint64_t need = 32 + (data.size() + 7) / 8 * 8;
    const std::uint64_t room = capacity - head % capacity;
    const std::uint64_t start = need <= room ? head : head + room;
    const std::uint64_t end = start + need;
    while (end - tail > capacity) {
      if (tail >= head) {
        tail = start;
        entries.clear();
        break;
      }
      entries.pop_front();
      tail = entries.empty() ? head : entries.front().pos;
    }
    if (start != head && tail <= head) entries.push_back({head, room, false, 0, ""});
    entries.push_back({start, need, true, next_seq++, data});
    head = end;
  }
  std::vector<const entry*> records() const {
    std::vector<const entry*> out;
    for (const auto& e : entries) {
      if (e.record) out.push_back(&e);
    }
    return out;
  }
};

TEST(RingLogTest, LayoutMatchesAReferenceModelThroughAppendsWrapsDropsAndReopens) {
  std::mt19937_64 rng(20261202);
  const int rounds = mmipc::testing::scaled(12, 60);
  const int ops_per_round = mmipc::testing::scaled(400, 2000);
  long checked = 0;
  for (int round = 0; round < rounds; ++round) {
    // Sizes from the smallest log up, some not a multiple of 8.
    const std::uint64_t size = ring_log::min_size + rng() % (round % 3 == 0 ? 200 : 3000);
    log_path path;
    auto log = ring_log::create(path, size);
    model_log model;
    model.capacity = log.capacity();
    const std::uint64_t max = log.max_record_size();
    for (int op = 0; op < ops_per_round; ++op) {
      const unsigned what = rng() % 100;
      if (what < 80) {
        std::uint64_t n;
        const unsigned how = rng() % 10;
        const std::uint64_t room = model.capacity - model.head % model.capacity;
        if (how == 0) {
          n = 0;
        } else if (how == 1) {
          n = max;
        } else if (how == 2 && room >= 32) {
          n = room - 32 - rng() % 8;  // exactly fills the lap, or nearly
          if (n > max) n = max;
        } else if (how < 6) {
          n = rng() % 24;
        } else {
          n = rng() % (max + 1);
        }
        std::string data(n, '\0');
        for (auto& c : data) c = static_cast<char>(rng());
        const std::uint64_t seq = log.append(data);
        model.append(data);
        ASSERT_EQ(seq, model.next_seq - 1);
      } else if (what < 85) {
        log = ring_log::open(path);  // reopen: nothing changes
      } else if (what < 92) {
        const auto records = read_all(log);
        const auto expected = model.records();
        {
          // next_batch() in batches of any size gives the same.
          static constexpr std::size_t sizes[] = {0, 1, 40, 64, 300, 1000, 1 << 20};
          auto batched = log.reader();
          expect_same(read_all_batched(batched, sizes[rng() % std::size(sizes)]), records);
        }
        ASSERT_EQ(records.size(), expected.size()) << "round " << round << " op " << op;
        for (std::size_t i = 0; i < records.size(); ++i) {
          ASSERT_EQ(records[i].seq, expected[i]->seq);
          ASSERT_EQ(records[i].data, expected[i]->data);
          ASSERT_EQ(records[i].missed, 0u);
        }
        const auto raw = read_as_documented(path);
        ASSERT_EQ(raw.size(), expected.size());
        for (std::size_t i = 0; i < raw.size(); ++i) {
          ASSERT_EQ(raw[i].pos, expected[i]->pos);
          ASSERT_EQ(raw[i].data, expected[i]->data);
        }
        const auto stats = log.stats();
        ASSERT_EQ(stats.bytes_used, model.head - model.tail);
        ASSERT_EQ(stats.records, expected.size());
        ASSERT_EQ(stats.first_seq, expected.empty() ? 0 : expected.front()->seq);
        ASSERT_EQ(stats.last_seq, expected.empty() ? 0 : expected.back()->seq);
        ASSERT_EQ(stats.dropped, (expected.empty() ? model.next_seq : expected.front()->seq) - 1);
        checked += static_cast<long>(records.size());
      } else {
        // A reader from any number: from there, or from the oldest with the gap as missed.
        const std::uint64_t from = 1 + rng() % (model.next_seq + 1);
        auto reader = log.reader(from);
        const bool batched = rng() % 2 == 0;
        const auto records = batched ? read_all_batched(reader, rng() % 2000) : read_all(reader);
        const auto expected = model.records();
        std::vector<const model_log::entry*> wanted;
        for (auto* e : expected) {
          if (e->seq >= from) wanted.push_back(e);
        }
        ASSERT_EQ(records.size(), wanted.size());
        for (std::size_t i = 0; i < records.size(); ++i) {
          ASSERT_EQ(records[i].seq, wanted[i]->seq);
          ASSERT_EQ(records[i].missed, i == 0 ? wanted[i]->seq - from : 0u);
        }
        ASSERT_EQ(reader.next_seq(), wanted.empty() ? from : wanted.back()->seq + 1);
      }
    }
  }
  mmipc::testing::report_figure("records checked against the model", checked);
}

TEST(RingLogTest, AReaderFromANumberStartsThereOrSaysWhatItMissed) {
  log_path path;
  auto log = ring_log::create(path, 4096 + 1024);
  for (int i = 1; i <= 100; ++i) log.append("record " + std::to_string(i));
  const auto stats = log.stats();
  ASSERT_GT(stats.first_seq, 1u);
  ASSERT_EQ(stats.last_seq, 100u);
  EXPECT_EQ(stats.dropped, stats.first_seq - 1);
  EXPECT_EQ(stats.records, 100 - stats.first_seq + 1);

  auto middle = log.reader(95);
  auto r = middle.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->seq, 95u);
  EXPECT_EQ(r->text(), "record 95");
  EXPECT_EQ(r->missed, 0u);

  auto dropped = log.reader(3);
  r = dropped.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->seq, stats.first_seq);
  EXPECT_EQ(r->missed, stats.first_seq - 3);
  EXPECT_EQ(dropped.missed(), stats.first_seq - 3);

  auto future = log.reader(102);
  EXPECT_FALSE(future.next());
  log.append("record 101");
  EXPECT_FALSE(future.next());  // below 102: skipped, not missed
  log.append("record 102");
  r = future.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->seq, 102u);
  EXPECT_EQ(future.missed(), 0u);

  auto oldest = log.reader();
  EXPECT_EQ(oldest.next_seq(), 0u);
  r = oldest.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->missed, 0u);  // no number was asked for: nothing counts as missed
  EXPECT_EQ(oldest.next_seq(), r->seq + 1);
}

// --- Opening: anything that is not a valid ring log is refused clearly -------------------

class DamagedHeaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = ring_log::create(path, 4096 + 4096);
    for (int i = 0; i < 10; ++i) log.append("record " + std::to_string(i));
  }
  // The message open() refuses the file with ("" when it opens it).
  std::string refusal(bool writable = true) {
    return message_of<ring_log_error>([&] { ring_log::open(path, writable); });
  }
  void recompute_identity_check() {
    const std::string bytes = mmipc::testing::read_bytes(path, 0, 60);
    mmipc::testing::write_value<std::uint32_t>(
        path, 60, static_cast<std::uint32_t>(XXH3_64bits(bytes.data(), 60)));
  }
  log_path path;
};

TEST_F(DamagedHeaderTest, TheGoodFileOpens) {
  EXPECT_EQ(refusal(), "");
  EXPECT_EQ(read_all(ring_log::open(path)).size(), 10u);
}

TEST_F(DamagedHeaderTest, NotALogAtAll) {
  mmipc::testing::write_bytes(path, 0, "hello world, this is a text file\n");
  EXPECT_TRUE(contains(refusal(), "not a ring log (it does not begin with \"MMIPCLOG\")"))
      << refusal();
  mmipc::testing::temp_file tiny("MMIPCLOG");
  const std::string text = message_of<ring_log_error>([&] { ring_log::open(tiny.path()); });
  EXPECT_TRUE(contains(text, "not a ring log (8 bytes, smaller than a ring log's header")) << text;
  mmipc::testing::temp_file empty;
  EXPECT_TRUE(contains(message_of<ring_log_error>([&] { ring_log::open(empty.path()); }),
                       "not a ring log (0 bytes"));
}

TEST_F(DamagedHeaderTest, NotARegularFile) {
  const auto dir = path.path().parent_path();
  EXPECT_TRUE(contains(message_of<ring_log_error>([&] { ring_log::open(dir, false); }),
                       "not a regular file"));
  EXPECT_TRUE(contains(message_of<ring_log_error>([&] { ring_log::open("/dev/zero", false); }),
                       "not a regular file"));
  // A FIFO: opening it must not wait for a writer to come.
  const auto fifo = dir / mmipc::testing::unique_name("mmipc-fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string text = message_of<ring_log_error>([&] { ring_log::open(fifo, false); });
  std::filesystem::remove(fifo);
  EXPECT_TRUE(contains(text, "not a regular file")) << text;
}

TEST_F(DamagedHeaderTest, AnotherFormatVersion) {
  mmipc::testing::write_value<std::uint32_t>(path, 8, 2);
  EXPECT_TRUE(contains(refusal(), "ring log format version 2.0 is not supported")) << refusal();
}

TEST_F(DamagedHeaderTest, AFlippedBitInTheIdentity) {
  auto capacity = mmipc::testing::read_value<std::uint64_t>(path, 40);
  mmipc::testing::write_value<std::uint64_t>(path, 40, capacity ^ 0x100);
  EXPECT_TRUE(contains(refusal(), "the checksum of its header does not match")) << refusal();
}

TEST_F(DamagedHeaderTest, SizesThatDoNotAddUp) {
  mmipc::testing::write_value<std::uint64_t>(path, 40, 4096 + 8);  // capacity beyond the file
  recompute_identity_check();
  EXPECT_TRUE(contains(refusal(), "its header gives a data area of 4104 bytes in a file of 8192"))
      << refusal();
  mmipc::testing::write_value<std::uint64_t>(path, 40, 4096);
  mmipc::testing::write_value<std::uint32_t>(path, 16, 512);  // header size
  recompute_identity_check();
  EXPECT_TRUE(contains(refusal(), "a layout version 1 does not use")) << refusal();
}

TEST_F(DamagedHeaderTest, ATruncatedOrExtendedFile) {
  ASSERT_EQ(::truncate(path.path().c_str(), 8192 - 8), 0);
  EXPECT_TRUE(contains(refusal(), "the file is 8184 bytes but the ring log's header says 8192"))
      << refusal();
  ASSERT_EQ(::truncate(path.path().c_str(), 8192 + 4096), 0);
  EXPECT_TRUE(contains(refusal(), "it was truncated or extended")) << refusal();
}

TEST_F(DamagedHeaderTest, PositionsThatCannotBe) {
  mmipc::testing::write_value<std::uint64_t>(path, 192, 1000);  // tail past head
  EXPECT_TRUE(contains(refusal(), "damaged ring log: its head and tail positions")) << refusal();
  mmipc::testing::write_value<std::uint64_t>(path, 192, 0);
  mmipc::testing::write_value<std::uint64_t>(path, 200, 3 * 4096);  // more than the capacity
  EXPECT_TRUE(contains(refusal(false), "its head and tail positions")) << refusal(false);
}

TEST_F(DamagedHeaderTest, ANextNumberBelowTheNewestRecordIsRepairedOnOpening) {
  // Numbering from it would give a record a number below those already there.
  mmipc::testing::write_value<std::uint64_t>(path, 216, 3);
  EXPECT_EQ(read_all(ring_log::open(path, false)).back().seq, 10u);  // readers do not mind
  auto log = ring_log::open(path);
  EXPECT_EQ(log.append("next"), 11u);
  // A damaged `last` likewise.
  mmipc::testing::write_value<std::uint64_t>(path, 208, 12345);
  EXPECT_EQ(ring_log::open(path).append("next again"), 12u);
  // And a next number equal to the newest record's, as a writer that has published its
  // record but not yet counted it would leave for an instant (with the lock held).
  mmipc::testing::write_value<std::uint64_t>(path, 216, 12);
  EXPECT_EQ(ring_log::open(path).append("and again"), 13u);
}

TEST_F(DamagedHeaderTest, ADamagedLockIsRefusedForWritingOnly) {
  mmipc::testing::write_bytes(path, 64, std::string(64, '\x5a'));
  EXPECT_TRUE(contains(refusal(), "its writers' lock does not hold a lock")) << refusal();
  EXPECT_EQ(refusal(false), "");
  EXPECT_EQ(read_all(ring_log::open(path, false)).size(), 10u);
}

TEST_F(DamagedHeaderTest, ALockOfAnotherPlatformIsRefusedForWritingOnly) {
  mmipc::testing::write_value<std::uint32_t>(path, 56, 0x00020030);
  recompute_identity_check();
  EXPECT_TRUE(contains(refusal(), "laid out by another platform")) << refusal();
  EXPECT_TRUE(contains(refusal(), "open it read-only")) << refusal();
  EXPECT_EQ(read_all(ring_log::open(path, false)).size(), 10u);
}

TEST_F(DamagedHeaderTest, RandomBytesAnywhereInTheHeaderNeverCrash) {
  // The fuzzer (fuzz/ring_log_fuzz.cpp) does this at length; here a quick sample of single
  // damaged bytes, each opened, read, examined and appended to when it opens.
  const std::string good = mmipc::testing::read_bytes(path, 0, 8192);
  std::mt19937 rng(7);
  int refused = 0, opened = 0;
  for (int i = 0; i < mmipc::testing::scaled(300, 5000); ++i) {
    std::string bytes = good;
    const int damage = 1 + static_cast<int>(rng() % 4);
    for (int d = 0; d < damage; ++d) bytes[rng() % 4096] = static_cast<char>(rng());
    // Leave the lock word alone: a lock word naming a live thread is waited for, by design.
    std::memcpy(bytes.data() + 64, good.data() + 64, 4);
    mmipc::testing::write_bytes(path, 0, bytes);
    try {
      auto log = ring_log::open(path);
      ++opened;
      (void)read_all(log);
      (void)log.stats();
      log.append("still writable");
    } catch (const ring_log_error&) {
      ++refused;
    } catch (const mmipc::os_error&) {
      ++refused;  // e.g. a lock left in a state no one can recover (ENOTRECOVERABLE)
    }
  }
  EXPECT_GT(refused, 0);
  mmipc::testing::report_figure("damaged headers refused", refused);
  mmipc::testing::report_figure("damaged headers opened and used", opened);
}

TEST(RingLogTest, DamagedRecordsAreSkippedAndCountedAsMissed) {
  log_path path;
  {
    auto log = ring_log::create(path, 4096 + 4096);
    for (int i = 1; i <= 10; ++i) log.append("record number " + std::to_string(i));
  }
  // Flip a byte inside record 4's payload: its checksum no longer matches.
  const auto raw = read_as_documented(path);
  ASSERT_EQ(raw.size(), 10u);
  mmipc::testing::write_bytes(path, 4096 + raw[3].pos % 4096 + 35, "#");
  auto log = ring_log::open(path);
  const auto records = read_all(log);
  for (std::size_t size : {0, 100, 1 << 20}) {
    auto batched = log.reader();
    expect_same(read_all_batched(batched, size), records);
  }
  ASSERT_EQ(records.size(), 9u);
  EXPECT_EQ(records[2].seq, 3u);
  EXPECT_EQ(records[3].seq, 5u);
  EXPECT_EQ(records[3].missed, 1u);
  // A damaged length must not make a reader skip whole records: record 6 claims to run
  // over 7 and 8, a reader wanting 8 on still finds 8.
  mmipc::testing::write_value<std::uint32_t>(path, 4096 + raw[5].pos % 4096 + 8,
                                             static_cast<std::uint32_t>(raw[8].pos - raw[5].pos));
  auto from_eight = log.reader(8);
  const auto wanted = read_all(from_eight);
  auto from_eight_batched = log.reader(8);
  expect_same(read_all_batched(from_eight_batched, 1 << 20), wanted);
  ASSERT_EQ(wanted.size(), 3u);
  EXPECT_EQ(wanted[0].seq, 8u);
  EXPECT_EQ(wanted[0].missed, 0u);
  // Writers go on, and drop the damaged records in turn.
  for (int i = 0; i < 200; ++i) log.append("more");
  const auto later = read_all(log);
  for (std::size_t i = 1; i < later.size(); ++i) EXPECT_EQ(later[i].seq, later[i - 1].seq + 1);
}

// --- Many writers ------------------------------------------------------------------------

TEST(RingLogTest, ThreadsAppendWholeRecordsEachNumberedOnce) {
  log_path path;
  auto log = ring_log::create(path, 4 * 1024 * 1024);
  constexpr int threads = 4;
  const int each = mmipc::testing::scaled(5000, 50000);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < each; ++i) log.append("t" + std::to_string(t) + " " + std::to_string(i));
    });
  }
  for (auto& thread : pool) thread.join();
  const auto records = read_all(log);
  const auto stats = log.stats();
  EXPECT_EQ(stats.last_seq, static_cast<std::uint64_t>(threads) * each);
  std::map<int, int> next;  // per thread: the number expected next
  std::uint64_t seq = records.empty() ? 0 : records.front().seq - 1;
  for (const auto& r : records) {
    EXPECT_EQ(r.seq, ++seq);
    int t = -1, i = -1;
    ASSERT_EQ(std::sscanf(r.data.c_str(), "t%d %d", &t, &i), 2) << r.data;
    if (next.count(t) == 0) next[t] = i;
    EXPECT_EQ(i, next[t]) << "thread " << t;  // in order, none lost, none twice
    next[t] = i + 1;
  }
  for (const auto& [t, n] : next) EXPECT_EQ(n, each);
}

TEST(RingLogTest, AForkedChildAppendsThroughTheLogItInherited) {
  log_path path;
  auto log = ring_log::create(path, 64 * 1024);
  log.append("parent");
  EXPECT_EQ(mmipc::testing::in_child([&] { return log.append("child") == 2 ? 0 : 1; }), 0);
  log.append("parent again");
  const auto records = read_all(log);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].data, "child");
}

// The payload of record `n` of writer incarnation `inc`: its identity, then filler derived
// from both, so that any byte out of place shows.
std::string kill_test_payload(int inc, long n) {
  std::string out = "I" + std::to_string(inc) + " N" + std::to_string(n) + " ";
  const std::size_t filler = static_cast<std::size_t>((inc * 31 + n * 7) % 150);
  for (std::size_t i = 0; i < filler; ++i) out += static_cast<char>('a' + (inc + n + i) % 26);
  return out;
}

bool parse_kill_test_payload(const std::string& data, int& inc, long& n) {
  if (std::sscanf(data.c_str(), "I%d N%ld ", &inc, &n) != 2) return false;
  return data == kill_test_payload(inc, n);
}

// Shared with the children of the kill test: what each writer incarnation has appended for
// sure (the count of append() calls that returned), and the reader's verdict.
struct kill_test_board {
  std::uint64_t confirmed[4096];
  std::uint32_t stop;
  std::uint32_t reader_failures;
  std::uint64_t reader_records;
  std::uint64_t reader_missed;
};

pid_t spawn_kill_test_writer(const std::filesystem::path& path, kill_test_board* board, int inc) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  try {
    auto log = ring_log::open(path);
    for (long n = 0;; ++n) {
      log.append(kill_test_payload(inc, n));
      std::atomic_ref<std::uint64_t>(board->confirmed[inc])
          .store(static_cast<std::uint64_t>(n + 1));
    }
  } catch (...) {
  }
  ::_exit(3);
}

// Follows the log while writers are killed around it: every record whole and in order.
pid_t spawn_kill_test_reader(const std::filesystem::path& path, kill_test_board* board) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  int code = 0;
  try {
    auto log = ring_log::open(path);
    auto reader = log.reader(1);
    std::map<int, long> last_n;
    std::uint64_t last_seq = 0;
    while (std::atomic_ref<std::uint32_t>(board->stop).load() == 0) {
      auto r = reader.next_for(50ms);
      if (!r) continue;
      int inc = -1;
      long n = -1;
      if (!parse_kill_test_payload(std::string(r->text()), inc, n)) ++board->reader_failures;
      if (last_seq != 0 && r->seq != last_seq + 1 + r->missed) ++board->reader_failures;
      if (last_n.count(inc) != 0 && n <= last_n[inc]) ++board->reader_failures;
      last_n[inc] = n;
      last_seq = r->seq;
      ++board->reader_records;
      board->reader_missed += r->missed;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kill test reader: %s\n", e.what());
    code = 4;
  }
  ::_exit(code);
}

// ring-log.md: "A writer killed at any instant (kill -9) loses at most the record it was
// appending; the next writer carries on, and no reader ever returns a partial or mixed
// record." Writers append without pause; one at a time is killed at a random moment and
// replaced, while a reader follows and a follower is killed in its sleep now and then.
TEST(RingLogTest, WritersKilledAtRandomLoseAtMostTheRecordTheyWereAppending) {
  log_path path;
  (void)ring_log::create(path, 64 * 1024);
  mmipc::map_options writable;
  writable.access = mmipc::access_mode::read_write;
  auto shared = mmipc::mapping::anonymous(sizeof(kill_test_board), writable);
  auto* board = new (shared.data()) kill_test_board{};
  constexpr int writers = 3;
  const int kills = mmipc::testing::scaled(40, 1500);
  std::mt19937 rng(static_cast<unsigned>(::getpid()));
  std::vector<pid_t> pids(writers);
  std::vector<int> incarnation(writers);
  int next_incarnation = 0;
  for (int w = 0; w < writers; ++w) {
    incarnation[w] = next_incarnation++;
    pids[w] = spawn_kill_test_writer(path, board, incarnation[w]);
  }
  const pid_t reader = spawn_kill_test_reader(path, board);
  int follower_kills = 0;
  for (int k = 0; k < kills; ++k) {
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 8000));
    const int w = static_cast<int>(rng() % writers);
    ::kill(pids[w], SIGKILL);
    int status = 0;
    ::waitpid(pids[w], &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "a writer stopped by itself: " << status;
    incarnation[w] = next_incarnation++;
    ASSERT_LT(next_incarnation, 4096);
    pids[w] = spawn_kill_test_writer(path, board, incarnation[w]);
    if (k % 10 == 0) {
      // A follower killed while it sleeps leaves a flag set: writers must not mind.
      const pid_t follower = ::fork();
      if (follower == 0) {
        auto log = ring_log::open(path);
        auto tail = log.reader(log.stats().last_seq + 1000000);
        tail.wait_for(mmipc::forever);
        ::_exit(0);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
      ::kill(follower, SIGKILL);
      ::waitpid(follower, &status, 0);
      ++follower_kills;
    }
  }
  std::atomic_ref<std::uint32_t>(board->stop).store(1);
  int status = 0;
  ASSERT_EQ(::waitpid(reader, &status, 0), reader);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  for (pid_t pid : pids) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  EXPECT_EQ(board->reader_failures, 0u);
  EXPECT_GT(board->reader_records, 0u);

  // Every record that survived: whole (checksum, payload), numbered without gaps, each
  // incarnation's records in order and contiguous, and at most one beyond what it was sure
  // of (the record it was appending when killed).
  auto log = ring_log::open(path);
  const auto records = read_all(log);
  ASSERT_FALSE(records.empty());
  const auto raw = read_as_documented(path);  // checks every checksum independently
  ASSERT_EQ(raw.size(), records.size());
  std::map<int, std::vector<long>> by_incarnation;
  for (std::size_t i = 0; i < records.size(); ++i) {
    int inc = -1;
    long n = -1;
    ASSERT_TRUE(parse_kill_test_payload(records[i].data, inc, n)) << records[i].data;
    if (i > 0) {
      ASSERT_EQ(records[i].seq, records[i - 1].seq + 1);
    }
    by_incarnation[inc].push_back(n);
  }
  for (const auto& [inc, ns] : by_incarnation) {
    for (std::size_t i = 1; i < ns.size(); ++i)
      ASSERT_EQ(ns[i], ns[i - 1] + 1) << "incarnation " << inc;
    const auto sure = static_cast<long>(board->confirmed[inc]);
    ASSERT_LE(ns.back(), sure) << "incarnation " << inc;  // at most the one in flight
    ASSERT_GE(ns.back(), sure - 1) << "incarnation " << inc << ": a confirmed record is missing";
  }
  // The next writer carries on, numbering after the last.
  const auto before = log.stats();
  EXPECT_EQ(log.append("after the storm"), before.last_seq + 1);
  EXPECT_EQ(before.locks_recovered, 0u);  // the kernel handed every lock over itself
  mmipc::testing::report_figure("writers killed with SIGKILL while appending", kills);
  mmipc::testing::report_figure("torn appends repaired", before.repairs);
  mmipc::testing::report_figure("followers killed in their sleep", follower_kills);
  mmipc::testing::report_figure("records followed by the racing reader", board->reader_records);
  mmipc::testing::report_figure("... of which it missed (dropped before it read them)",
                                board->reader_missed);
  mmipc::testing::report_figure("records checked at the end", records.size());
  board->~kill_test_board();
}

// --- Readers -----------------------------------------------------------------------------

// A reader racing a writer that laps it, reading one record at a time or in batches.
void lapped_reader(bool batched) {
  log_path path;
  auto log = ring_log::create(path, 4096 + 4096);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (long n = 0; !stop; ++n) log.append(kill_test_payload(1, n));
  });
  auto reader = log.reader(1);
  std::uint64_t last_seq = 0, missed = 0, read = 0, lapped = 0;
  long last_n = -1;
  const int wanted = mmipc::testing::scaled(2000, 50000);
  std::vector<seen> pending;
  while (read < static_cast<std::uint64_t>(wanted)) {
    if (pending.empty()) {
      if (batched) {
        for (const log_record& r : reader.next_batch(256)) {
          pending.push_back({r.seq, std::string(r.text()), r.missed, r.time});
        }
      } else if (auto r = reader.next()) {
        pending.push_back({r->seq, std::string(r->text()), r->missed, r->time});
      }
      std::reverse(pending.begin(), pending.end());
      if (pending.empty()) continue;
    }
    const seen r = pending.back();
    pending.pop_back();
    int inc = 0;
    long n = 0;
    ASSERT_TRUE(parse_kill_test_payload(r.data, inc, n)) << r.data;
    if (last_seq != 0) {
      ASSERT_EQ(r.seq, last_seq + 1 + r.missed);
      ASSERT_EQ(n, last_n + 1 + static_cast<long>(r.missed));
    }
    if (r.missed != 0) ++lapped;
    missed += r.missed;
    last_seq = r.seq;
    last_n = n;
    ++read;
    if (read % 50 == 0) std::this_thread::sleep_for(1ms);  // let the writer lap it
  }
  stop = true;
  writer.join();
  EXPECT_GT(lapped, 0u);
  // What the reader handed out so far, less the records still pending here.
  std::uint64_t pending_missed = 0;
  for (const seen& r : pending) pending_missed += r.missed;
  EXPECT_EQ(reader.missed(), missed + pending_missed);
  mmipc::testing::report_figure("records read while being lapped", read);
  mmipc::testing::report_figure("times lapped", lapped);
  mmipc::testing::report_figure("records missed", missed);
}

TEST(RingLogTest, AReaderLappedByWritersSkipsToTheOldestAndCountsWhatItMissed) {
  lapped_reader(false);
}

TEST(RingLogTest, ABatchReaderLappedByWritersSkipsToTheOldestAndCountsWhatItMissed) {
  lapped_reader(true);
}

TEST(RingLogTest, WaitingWithNothingNewTimesOut) {
  log_path path;
  auto log = ring_log::create(path, 64 * 1024);
  log.append("old");
  auto reader = log.reader();
  ASSERT_TRUE(reader.next());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(reader.wait_for(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_FALSE(reader.wait_for(0ms));
  EXPECT_FALSE(reader.wait_for(-5s));
  EXPECT_FALSE(reader.next_for(20ms));
  log.append("new");
  EXPECT_TRUE(reader.wait_for(0ms));  // something to read already: no waiting
  EXPECT_TRUE(reader.wait_for(mmipc::forever));
}

// Appends `text` to the log at `path` from another process after `delay`.
pid_t append_later(const std::filesystem::path& path, std::chrono::milliseconds delay,
                   const std::string& text) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::this_thread::sleep_for(delay);
  try {
    ring_log::open(path).append(text);
  } catch (...) {
    ::_exit(1);
  }
  ::_exit(0);
}

TEST(RingLogTest, AFollowerWakesWhenAnotherProcessAppends) {
  log_path path;
  auto log = ring_log::create(path, 64 * 1024);
  auto reader = log.reader();
  const pid_t writer = append_later(path, 100ms, "news");
  ASSERT_TRUE(reader.wait_for(30s));
  auto r = reader.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text(), "news");
  EXPECT_EQ(reap(writer), 0);
  // The same through next_for, twice in a row.
  const pid_t again = append_later(path, 50ms, "more news");
  r = reader.next_for(30s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text(), "more news");
  EXPECT_EQ(reap(again), 0);
}

TEST(RingLogTest, AReadOnlyFollowerSeesNewRecordsToo) {
  log_path path;
  (void)ring_log::create(path, 64 * 1024);
  ASSERT_EQ(::chmod(path.path().c_str(), 0444), 0);
  auto log = ring_log::open(path, false);
  EXPECT_FALSE(log.writable());
  EXPECT_EQ(mmipc::testing::errno_of([&] { log.append("no"); }), EBADF);
  auto reader = log.reader();
  const pid_t writer = append_later(path, 100ms, "seen read-only");
  auto r = reader.next_for(30s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->text(), "seen read-only");
  EXPECT_EQ(reap(writer), 0);
}

// Counts the FUTEX_WAKE system calls on shared futexes (the ring log's) a process makes
// while it appends `count` records to `path` (strace; the helper test below is the process).
int shared_futex_wakes(const std::filesystem::path& path, int count) {
  if (::system("command -v strace >/dev/null 2>&1") != 0) return -1;
  log_path trace;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("MMIPC_RING_LOG_HELPER", path.c_str(), 1);
    ::setenv("MMIPC_RING_LOG_HELPER_COUNT", std::to_string(count).c_str(), 1);
    // LeakSanitizer cannot run under ptrace; the traced helper only appends.
    const char* asan = std::getenv("ASAN_OPTIONS");
    ::setenv("ASAN_OPTIONS", (std::string(asan != nullptr ? asan : "") + ":detect_leaks=0").c_str(),
             1);
    char self[4096];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) ::_exit(126);
    self[n] = '\0';
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::execlp("strace", "strace", "-f", "-qq", "-e", "trace=futex", "-o", trace.path().c_str(), self,
             "--gtest_also_run_disabled_tests",
             "--gtest_filter=RingLogHelper.DISABLED_AppendForStrace", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  if (reap(pid) != 0) return -2;
  const std::string text = mmipc::testing::read_bytes(
      trace, 0, static_cast<std::size_t>(std::filesystem::file_size(trace.path())));
  int wakes = 0;
  for (std::size_t at = 0; (at = text.find("FUTEX_WAKE,", at)) != std::string::npos; ++at) ++wakes;
  return wakes;
}

// Not a test: the process WritersMakeNoSystemCallUnlessAFollowerSleeps traces.
TEST(RingLogHelper, DISABLED_AppendForStrace) {
  const char* path = std::getenv("MMIPC_RING_LOG_HELPER");
  if (path == nullptr) GTEST_SKIP() << "run by WritersMakeNoSystemCallUnlessAFollowerSleeps";
  auto log = ring_log::open(path);
  const int count = std::atoi(std::getenv("MMIPC_RING_LOG_HELPER_COUNT"));
  for (int i = 0; i < count; ++i) log.append("traced");
}

TEST(RingLogTest, WritersMakeNoSystemCallUnlessAFollowerSleeps) {
  log_path path;
  (void)ring_log::create(path, 64 * 1024);
  const int quiet = shared_futex_wakes(path, 1000);
  if (quiet == -1) GTEST_SKIP() << "strace is not installed";
  EXPECT_EQ(quiet, 0);

  // A follower asleep: the writer wakes it (each wake-up is one call).
  const pid_t follower = ::fork();
  if (follower == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    auto log = ring_log::open(path);
    auto reader = log.reader(log.stats().last_seq + 1);
    for (;;) {
      while (reader.next()) {
      }
      reader.wait_for(mmipc::forever);
    }
  }
  // Wait until it sleeps: it has set the sleepers flag in the header.
  for (int i = 0; i < 20000 && mmipc::testing::read_value<std::uint32_t>(path, 260) == 0; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(mmipc::testing::read_value<std::uint32_t>(path, 260), 1u);
  EXPECT_GE(shared_futex_wakes(path, 1000), 1);

  // Killed in its sleep, it cannot clear its flag: one writer pays one wake-up for it, then
  // appends are free again.
  for (int i = 0; i < 20000 && mmipc::testing::read_value<std::uint32_t>(path, 260) == 0; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  ::kill(follower, SIGKILL);
  reap(follower);
  EXPECT_LE(shared_futex_wakes(path, 1000), 1);
  EXPECT_EQ(mmipc::testing::read_value<std::uint32_t>(path, 260), 0u);
  EXPECT_EQ(shared_futex_wakes(path, 1000), 0);
}

// --- A lock no one will hand over --------------------------------------------------------

// Offsets of doc/ring-log-format.md.
constexpr std::uint64_t lock_word_at = 64;
constexpr std::uint64_t owner_tid_at = 128, owner_pidns_at = 136, owner_start_at = 144,
                        owner_boot_at = 152;

// A process that sleeps until killed: a live thread id that holds nothing.
struct sleeper {
  pid_t pid = ::fork();
  sleeper() {
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      for (;;) ::pause();
    }
  }
  ~sleeper() {
    ::kill(pid, SIGKILL);
    reap(pid);
  }
};

// A thread id that no longer exists.
pid_t dead_tid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  reap(pid);
  return pid;
}

// Makes the log at `path` look as if thread `tid` held its lock, stamped with `boot`,
// `pidns` and `start` (owner_tid `stamped`).
void pretend_held(const std::filesystem::path& path, pid_t tid, std::uint32_t stamped,
                  std::uint64_t boot, std::uint64_t pidns, std::uint64_t start) {
  mmipc::testing::write_value<std::int32_t>(path, lock_word_at, tid);
  mmipc::testing::write_value<std::uint32_t>(path, owner_tid_at, stamped);
  mmipc::testing::write_value<std::uint64_t>(path, owner_boot_at, boot);
  mmipc::testing::write_value<std::uint64_t>(path, owner_pidns_at, pidns);
  mmipc::testing::write_value<std::uint64_t>(path, owner_start_at, start);
}

// Appends from a child process; returns its pid (exit status 0 when the append returned).
pid_t append_in_child(const std::filesystem::path& path) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  try {
    ring_log::open(path).append("from the child");
  } catch (...) {
    ::_exit(1);
  }
  ::_exit(0);
}

// True when `pid` is still running after `wait`.
bool still_running_after(pid_t pid, std::chrono::milliseconds wait) {
  std::this_thread::sleep_for(wait);
  int status = 0;
  return ::waitpid(pid, &status, WNOHANG) == 0;
}

class LostLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = ring_log::create(path, 64 * 1024);
    for (int i = 0; i < 5; ++i) log.append("before " + std::to_string(i));
  }
  // Appends, expecting the lock to be recovered; checks the log is whole afterwards.
  void expect_recovered() {
    auto log = ring_log::open(path);
    EXPECT_EQ(log.append("after"), 6u);
    const auto stats = log.stats();
    EXPECT_EQ(stats.locks_recovered, 1u);
    EXPECT_EQ(stats.repairs, 1u);
    const auto records = read_all(log);
    ASSERT_EQ(records.size(), 6u);
    EXPECT_EQ(records.back().data, "after");
  }
  log_path path;
};

TEST_F(LostLockTest, AFileCopiedWhileAWriterHeldItsLock) {
  // A real holder: a child that takes the lock of its mapping and sleeps.
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t holder = ::fork();
  if (holder == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    auto log = ring_log::open(path);
    log.append("the holder's");  // stamps the header with this thread
    mmipc::map_options options;
    options.access = mmipc::access_mode::read_write;
    auto map = mmipc::mapping::map(path.path(), 0, std::nullopt, options);
    auto* lock = std::launder(reinterpret_cast<mmipc::robust_mutex*>(map.data() + lock_word_at));
    (void)lock->lock();
    (void)!::write(ready[1], "x", 1);
    for (;;) ::pause();
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  ::close(ready[1]);
  log_path copy;
  std::filesystem::copy_file(path.path(), copy.path());
  // The original: the kernel hands the lock over when the holder dies.
  const pid_t waiter = append_in_child(path);
  EXPECT_TRUE(still_running_after(waiter, 300ms));  // a live holder is waited for
  ::kill(holder, SIGKILL);
  reap(holder);
  EXPECT_EQ(reap(waiter), 0);
  auto original = ring_log::open(path).stats();
  EXPECT_EQ(original.repairs, 1u);
  EXPECT_EQ(original.locks_recovered, 0u);
  // The copy: its lock names the dead thread, and no kernel will ever release it.
  auto log = ring_log::open(copy);
  EXPECT_EQ(log.append("in the copy"), 7u);
  const auto stats = log.stats();
  EXPECT_EQ(stats.locks_recovered, 1u);
  EXPECT_EQ(stats.repairs, 1u);
  const auto records = read_all(log);
  ASSERT_EQ(records.size(), 7u);
  EXPECT_EQ(records[5].data, "the holder's");
}

TEST_F(LostLockTest, AHolderFromBeforeTheMachineRestarted) {
  // Its thread id names a live process now; the boot differs.
  sleeper live;
  pretend_held(path, live.pid, static_cast<std::uint32_t>(live.pid),
               mmipc::detail::boot_fingerprint() ^ 1, mmipc::detail::pid_namespace_id(), 1234);
  expect_recovered();
}

TEST_F(LostLockTest, AHolderWhoseThreadIdWasReused) {
  sleeper live;
  pretend_held(path, live.pid, static_cast<std::uint32_t>(live.pid),
               mmipc::detail::boot_fingerprint(), mmipc::detail::pid_namespace_id(),
               mmipc::detail::thread_start_time(live.pid) + 1);
  expect_recovered();
}

TEST_F(LostLockTest, AHolderThatDiedBeforeSayingWhoItWas) {
  pretend_held(path, dead_tid(), 0, 0, 0, 0);
  expect_recovered();
}

TEST_F(LostLockTest, ALockWordThatNamesNoThread) {
  mmipc::testing::write_value<std::uint32_t>(path, lock_word_at, 0x80000000u);  // waiters bit
  expect_recovered();
}

TEST_F(LostLockTest, ALiveStampedHolderIsWaitedFor) {
  sleeper live;
  pretend_held(path, live.pid, static_cast<std::uint32_t>(live.pid),
               mmipc::detail::boot_fingerprint(), mmipc::detail::pid_namespace_id(),
               mmipc::detail::thread_start_time(live.pid));
  const pid_t waiter = append_in_child(path);
  EXPECT_TRUE(still_running_after(waiter, 1500ms));
  ::kill(waiter, SIGKILL);
  reap(waiter);
}

TEST_F(LostLockTest, OpeningNeverWaitsForTheLock) {
  // A live holder, and a header that needs repair: opening leaves the repair to whoever
  // takes the lock next instead of waiting for it.
  sleeper live;
  pretend_held(path, live.pid, static_cast<std::uint32_t>(live.pid),
               mmipc::detail::boot_fingerprint(), mmipc::detail::pid_namespace_id(),
               mmipc::detail::thread_start_time(live.pid));
  mmipc::testing::write_value<std::uint64_t>(path, 216, 2);  // next_seq below the newest
  const pid_t opener = ::fork();
  if (opener == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    try {
      auto log = ring_log::open(path);
      ::_exit(read_all(log).size() == 5 ? 0 : 1);
    } catch (...) {
      ::_exit(2);
    }
  }
  int status = 0;
  bool ended = false;
  for (int i = 0; i < 1000 && !ended; ++i) {
    ended = ::waitpid(opener, &status, WNOHANG) == opener;
    if (!ended) std::this_thread::sleep_for(10ms);
  }
  if (!ended) {
    ::kill(opener, SIGKILL);
    reap(opener);
    FAIL() << "open() waited for the lock";
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(LostLockTest, AHolderNamedInAnotherPidNamespaceIsWaitedFor) {
  // Its id means nothing here: gone or not, it cannot be judged, so it is not recovered.
  pretend_held(path, dead_tid(), 0, 0, 0, 0);
  mmipc::testing::write_value<std::uint32_t>(
      path, owner_tid_at, mmipc::testing::read_value<std::uint32_t>(path, lock_word_at));
  mmipc::testing::write_value<std::uint64_t>(path, owner_boot_at,
                                             mmipc::detail::boot_fingerprint());
  mmipc::testing::write_value<std::uint64_t>(path, owner_pidns_at,
                                             mmipc::detail::pid_namespace_id() + 1);
  const pid_t waiter = append_in_child(path);
  EXPECT_TRUE(still_running_after(waiter, 1500ms));
  ::kill(waiter, SIGKILL);
  reap(waiter);
}

// --- The file under the log ---------------------------------------------------------------

TEST(RingLogTest, SyncWritesTheLogOut) {
  log_path path;
  auto log = ring_log::create(path, 64 * 1024);
  log.append("durable");
  EXPECT_NO_THROW(log.sync());
  EXPECT_NO_THROW(ring_log::open(path, false).sync());
  EXPECT_EQ(read_as_documented(path).back().data, "durable");  // through read(): the same bytes
}

TEST(RingLogTest, AFileTruncatedUnderTheLogIsAnErrorNotACrash) {
  log_path path;
  auto log = ring_log::create(path, 64 * 1024);
  for (int i = 0; i < 2000; ++i) log.append("record " + std::to_string(i));
  auto reader = log.reader();
  mmipc::testing::truncate_from_other_process(path, 4096 + 4096);  // the header stays
  int lost = 0;
  auto count_lost = [&](auto&& call) {
    try {
      call();
    } catch (const mmipc::lost_pages_error& e) {
      EXPECT_EQ(e.error_number(), EFAULT) << e.what();
      ++lost;
    }
  };
  count_lost([&] { read_all(reader); });
  count_lost([&] { (void)log.stats(); });
  for (int i = 0; i < 200; ++i) count_lost([&] { log.append("into the lost pages"); });
  EXPECT_GE(lost, 3);
  // The lock was released on the way out of every failed append.
  EXPECT_EQ(mmipc::testing::read_value<std::int32_t>(path, lock_word_at), 0);
  // And a log of the wrong size is not opened again.
  EXPECT_TRUE(contains(message_of<ring_log_error>([&] { ring_log::open(path); }),
                       "it was truncated or extended"));
}

int futex_fails_with_efault(int*, int, const timespec*) {
  errno = EFAULT;
  return -1;
}

TEST(RingLogTest, AWaitForTheLockWhosePageWentIsALostPagesErrorNotAnAbort) {
  // The kernel fails a futex wait on a page a truncation took away with EFAULT (the window is
  // between a writer's look at the lock word and its wait; robust_mutex_test shows the
  // kernel's answer), which glibc's own wait turned into an abort of the process.
  log_path path;
  auto log = ring_log::create(path, 64 * 1024);
  log.append("before");
  mmipc::map_options options;
  options.access = mmipc::access_mode::read_write;
  auto map = mmipc::mapping::map(path.path(), 0, std::nullopt, options);
  auto* lock = std::launder(reinterpret_cast<mmipc::robust_mutex*>(map.data() + lock_word_at));
  std::atomic<bool> held{false};
  std::atomic<bool> release{false};
  std::thread holder([&] {
    EXPECT_EQ(lock->lock(), mmipc::lock_status::acquired);
    held = true;
    while (!release) std::this_thread::sleep_for(1ms);
    lock->unlock();
  });
  while (!held) std::this_thread::sleep_for(1ms);
  {
    mmipc::testing::replaced_call seam(&mmipc::detail::system_calls::futex_wait,
                                       futex_fails_with_efault);
    try {
      log.append("waits for the lock");
      ADD_FAILURE() << "append returned";
    } catch (const mmipc::lost_pages_error& e) {
      EXPECT_EQ(e.error_number(), EFAULT);
      EXPECT_TRUE(contains(e.what(), "the mapped file shrank under the mapping")) << e.what();
    }
  }
  release = true;
  holder.join();
  // The failed append took nothing: the next one goes through.
  EXPECT_EQ(log.append("after"), 2u);
  EXPECT_EQ(read_all(log).back().data, "after");
}

TEST(RingLogTest, TruncatedToNothingUnderAppendingThreadsTheProcessLivesOn) {
  // The header's page itself goes, possibly while a thread holds the lock kept in it.
  const int rounds = mmipc::testing::scaled(20, 300);
  int errors = 0;
  for (int round = 0; round < rounds; ++round) {
    log_path path;
    {
      auto log = ring_log::create(path, 64 * 1024);
      std::atomic<int> failed{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&] {
          try {
            for (;;) log.append("doomed");
          } catch (const mmipc::lost_pages_error&) {
            ++failed;
          }
        });
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200 + round * 37 % 800));
      mmipc::testing::truncate_from_other_process(path, 0);
      for (auto& thread : threads) thread.join();
      EXPECT_EQ(failed.load(), 2);
      errors += failed.load();
    }
    // This thread's robust mutexes still work (glibc's list of them was not broken).
    mmipc::map_options writable;
    writable.access = mmipc::access_mode::read_write;
    auto shared = mmipc::mapping::anonymous(sizeof(mmipc::robust_mutex), writable);
    auto* other = new (shared.data()) mmipc::robust_mutex;
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(other->lock(), mmipc::lock_status::acquired);
      other->unlock();
    }
  }
  mmipc::testing::report_figure("appending threads whose log was truncated to nothing", errors);
}

// --- A full disk: an error at creation, never later ----------------------------------------

TEST(RingLogFullDiskTest, CreatingALogTheDiskHasNoRoomForFailsAtOnce) {
  const auto outcome = mmipc::testing::on_small_tmpfs({"/tmp"}, 64 * 4096, []() -> std::string {
    const int err = mmipc::testing::errno_of([] { ring_log::create("/tmp/big.log", 1 << 20); });
    if (err != ENOSPC) return "expected ENOSPC, got " + std::to_string(err);
    for (const auto& entry : std::filesystem::directory_iterator("/tmp")) {
      return "left behind: " + entry.path().native();
    }
    return "";
  });
  if (outcome.skipped) GTEST_SKIP() << outcome.message;
  EXPECT_EQ(outcome.message, "");
}

TEST(RingLogFullDiskTest, ALogKeepsWorkingWhenTheDiskFillsUp) {
  const auto outcome = mmipc::testing::on_small_tmpfs({"/tmp"}, 64 * 4096, []() -> std::string {
    auto log = ring_log::create("/tmp/small.log", 32 * 4096);
    // Another file takes every block left.
    const int fd = ::open("/tmp/filler", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    const std::string block(4096, 'f');
    while (::write(fd, block.data(), block.size()) > 0) {
    }
    const int full = errno;
    ::close(fd);
    if (full != ENOSPC) return "the filler did not fill the disk";
    // Many laps of the full log: every page of it already has its block.
    for (int i = 0; i < 20000; ++i)
      log.append("record " + std::to_string(i) + std::string(50, '.'));
    auto reader = log.reader();
    std::uint64_t count = 0, last = 0;
    while (auto r = reader.next()) {
      ++count;
      last = r->seq;
    }
    if (last != 20000 || count == 0) return "lost records: last " + std::to_string(last);
    return "";
  });
  if (outcome.skipped) GTEST_SKIP() << outcome.message;
  EXPECT_EQ(outcome.message, "");
}

}  // namespace
