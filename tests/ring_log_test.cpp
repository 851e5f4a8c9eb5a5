// The ring log (include/mmipc/ring_log.hpp): each rule of ring-log.md with its test. The
// load and fault tests scale up under `make stress` (MMIPC_STRESS=1).

#include "mmipc/ring_log.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
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
#include "stress_util.hpp"
#include "test_util.hpp"

namespace {

using mmipc::log_record;
using mmipc::ring_log;
using mmipc::ring_log_error;
using mmipc::testing::log_path;
using mmipc::testing::read_as_documented;
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
        const auto records = read_all(reader);
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
  ASSERT_EQ(records.size(), 9u);
  EXPECT_EQ(records[2].seq, 3u);
  EXPECT_EQ(records[3].seq, 5u);
  EXPECT_EQ(records[3].missed, 1u);
  // Writers go on, and drop the damaged record in turn.
  for (int i = 0; i < 200; ++i) log.append("more");
  const auto later = read_all(log);
  for (std::size_t i = 1; i < later.size(); ++i) EXPECT_EQ(later[i].seq, later[i - 1].seq + 1);
}

}  // namespace
