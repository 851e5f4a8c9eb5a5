// Load, crash and signal tests of message queues and shared memory with real processes:
// - 4 producers and 4 consumers exchange messages of mixed priorities: none lost, none
//   duplicated, each producer's order kept within each priority;
// - 8 processes rewrite and read whole shared memory blocks: no torn block ever seen;
// - processes killed with SIGKILL at random moments: the others never hang and lose nothing
//   they already received; a shared memory lock holder's death is repaired by the next
//   locker without a timed wait;
// - pairs of processes opening one shared memory name at once with different sizes: both
//   map the creator's size, share the object, and nothing is left behind;
// - signals sent at a high rate: blocking calls neither fail with EINTR nor lose data.
// `make check` runs short variants; `make stress` (MMIPC_STRESS=1) the long ones.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <mqueue.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "mmipc/mapping.hpp"
#include "mmipc/message_queue.hpp"
#include "mmipc/shared_memory.hpp"
#include "stress_util.hpp"
#include "test_util.hpp"

namespace {

using mmipc::mapping;
using mmipc::message_queue;
using mmipc::shared_memory;
using mmipc::testing::queue_name;
using mmipc::testing::reap;
using mmipc::testing::report_figure;
using mmipc::testing::scaled;
using mmipc::testing::shm_name;
using mmipc::testing::spawn;
using namespace std::chrono_literals;

// Memory shared with the children forked later.
mapping shared_counters(std::size_t bytes) {
  mmipc::map_options options;
  options.access = mmipc::access_mode::read_write;
  options.shared = true;
  return mapping::anonymous(bytes, options);
}

struct message {
  std::uint32_t producer;
  std::uint32_t priority;
  std::uint32_t seq;
};

std::span<const std::byte> bytes_of(const message& m) {
  return std::as_bytes(std::span(&m, 1));
}

// ---- load ---------------------------------------------------------------------------------

TEST(MessageQueueLoadTest, FourProducersFourConsumersLoseAndDuplicateNothing) {
  constexpr int producers = 4;
  constexpr int consumers = 4;
  constexpr unsigned priorities = 5;
  const std::uint32_t per_producer = scaled(5000u, 100000u);
  queue_name q;
  auto queue = message_queue::open(q.name, O_RDWR | O_CREAT | O_EXCL, 0600,
                                   mmipc::mq_capacity{10, sizeof(message)});
  // How many times each message was received, counted by the consumers.
  auto counts = shared_counters(producers * per_producer);
  auto* count = reinterpret_cast<unsigned char*>(counts.data());

  std::vector<pid_t> consumer_pids;
  for (int c = 0; c < consumers; ++c) {
    consumer_pids.push_back(spawn([&] {
      auto in = message_queue::open(q.name, O_RDONLY);
      // Within one priority, one producer's messages must arrive in the order sent.
      std::vector<std::int64_t> last(producers * priorities, -1);
      message m{};
      for (;;) {
        unsigned priority = 0;
        const std::size_t n = in.receive(std::as_writable_bytes(std::span(&m, 1)), &priority);
        if (n == 0) return 0;  // the end marker
        if (n != sizeof m || m.producer >= producers || m.seq >= per_producer) return 2;
        if (m.priority != priority) return 3;
        std::int64_t& previous = last[m.producer * priorities + priority];
        if (static_cast<std::int64_t>(m.seq) <= previous) return 4;
        previous = m.seq;
        __atomic_fetch_add(&count[m.producer * per_producer + m.seq], 1, __ATOMIC_RELAXED);
      }
    }));
  }
  std::vector<pid_t> producer_pids;
  for (std::uint32_t p = 0; p < producers; ++p) {
    producer_pids.push_back(spawn([&] {
      auto out = message_queue::open(q.name, O_WRONLY);
      for (std::uint32_t seq = 0; seq < per_producer; ++seq) {
        // Mixed priorities, a different pattern for each producer.
        const std::uint32_t priority = (seq * 7 + seq / 3 + p) % priorities;
        message m{p, priority, seq};
        out.send(bytes_of(m), priority);
      }
      return 0;
    }));
  }
  for (pid_t pid : producer_pids) EXPECT_EQ(reap(pid), 0);
  // Every message is in the queue or taken: end markers at the lowest priority come last.
  for (int c = 0; c < consumers; ++c) queue.send({}, 0);
  for (pid_t pid : consumer_pids) EXPECT_EQ(reap(pid), 0);

  std::size_t lost = 0;
  std::size_t duplicated = 0;
  for (std::size_t i = 0; i < producers * per_producer; ++i) {
    if (count[i] == 0) ++lost;
    if (count[i] > 1) ++duplicated;
  }
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(duplicated, 0u);
  report_figure("messages exchanged by 4 producers and 4 consumers, each checked",
                producers * per_producer);
}

TEST(MessageQueueEdgeTest, EmptyMessagesGoThroughFromAnEmptySpan) {
  // An empty span may hold a null pointer, which mq_send must never be given (the load tests'
  // end markers are such messages; UBSan caught it).
  queue_name q;
  auto queue = message_queue::open(q.name, O_RDWR | O_CREAT | O_EXCL | O_NONBLOCK, 0600,
                                   mmipc::mq_capacity{2, 16});
  queue.send(std::span<const std::byte>{}, 3);
  EXPECT_TRUE(queue.send(std::span<const std::byte>{}, 0, 10ms));
  unsigned priority = 0;
  EXPECT_EQ(queue.receive_string(&priority), "");
  EXPECT_EQ(priority, 3u);
  EXPECT_EQ(queue.receive_string(), "");
}

TEST(SharedMemoryLoadTest, EightProcessesNeverSeeATornBlock) {
  constexpr int processes = 8;
  constexpr std::size_t block = 4096;
  const int rounds = scaled(2000, 50000);
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT | O_EXCL, 0600, block);
  auto totals = shared_counters(sizeof(std::uint64_t) * 2);
  auto* checked = reinterpret_cast<std::uint64_t*>(totals.data());
  auto* torn = checked + 1;

  std::vector<pid_t> pids;
  for (int k = 0; k < processes; ++k) {
    pids.push_back(spawn([&, k] {
      auto mine = shared_memory::open(n.name, O_RDWR);
      const std::string letter(block, static_cast<char>('A' + k));
      std::string seen(block, '\0');
      for (int i = 0; i < rounds; ++i) {
        if (i % 2 == 0) {
          mine.write_at(0, mmipc::testing::bytes_of(letter));
        } else {
          if (mine.read_at(0, std::as_writable_bytes(std::span(seen))) != block) return 2;
          // A whole block of one letter (or the zeros it started as), never a mix.
          if (seen.find_first_not_of(seen[0]) != std::string::npos) {
            __atomic_fetch_add(torn, 1, __ATOMIC_RELAXED);
          }
          __atomic_fetch_add(checked, 1, __ATOMIC_RELAXED);
        }
      }
      return 0;
    }));
  }
  for (pid_t pid : pids) EXPECT_EQ(reap(pid), 0);
  EXPECT_EQ(*torn, 0u);
  EXPECT_EQ(*checked, static_cast<std::uint64_t>(processes * (rounds / 2)));
  report_figure("whole shared memory blocks read back and checked by 8 processes", *checked);
}

TEST(SharedMemoryRaceTest, OpensRacingWithDifferentSizesAgreeOnOneObject) {
  // Two processes started together open one new name with O_CREAT, one asking for 4 KiB and
  // the other for 1 MiB. The creator's size wins and only the creator sets it: both succeed,
  // map the same size, see each other's writes, and keep the object that the name still
  // refers to; shared_memory::unlink then leaves nothing.
  const int pairs = scaled(500, 5000);
  struct race {
    std::uint32_t ready, go, opened, written;
    std::uint64_t size[2];
    std::uint32_t created[2];
  };
  auto shared = shared_counters(sizeof(race));
  int failed = 0, sizes_differ = 0, creators_wrong = 0, left_behind = 0;
  for (int round = 0; round < pairs; ++round) {
    shm_name n;
    auto* r = new (shared.data()) race{};
    pid_t pids[2];
    for (int k = 0; k < 2; ++k) {
      pids[k] = spawn([&, k] {
        const std::uint64_t wanted = k == 0 ? 4096 : 1 << 20;
        __atomic_fetch_add(&r->ready, 1, __ATOMIC_RELEASE);
        while (__atomic_load_n(&r->go, __ATOMIC_ACQUIRE) == 0) ::sched_yield();
        shared_memory shm;
        int code = 0;
        try {
          shm = shared_memory::open(n.name, O_RDWR | O_CREAT, 0600, wanted);
          r->size[k] = shm.size();
          r->created[k] = shm.created() ? 1 : 0;
        } catch (const std::exception& e) {
          std::fprintf(stderr, "open %d: %s\n", k, e.what());
          code = 2;
        }
        // Both opened (or failed) before either writes; both wrote before either reads.
        __atomic_fetch_add(&r->opened, 1, __ATOMIC_ACQ_REL);
        while (__atomic_load_n(&r->opened, __ATOMIC_ACQUIRE) < 2) ::sched_yield();
        if (code != 0) {
          __atomic_fetch_add(&r->written, 1, __ATOMIC_ACQ_REL);
          return code;
        }
        const std::uint64_t mine = 0x5eed0000u + static_cast<std::uint64_t>(round * 2 + k);
        shm.write_at(8 * static_cast<std::uint64_t>(k), std::as_bytes(std::span(&mine, 1)));
        __atomic_fetch_add(&r->written, 1, __ATOMIC_ACQ_REL);
        while (__atomic_load_n(&r->written, __ATOMIC_ACQUIRE) < 2) ::sched_yield();
        std::uint64_t theirs = 0;
        shm.read_at(8 * static_cast<std::uint64_t>(1 - k),
                    std::as_writable_bytes(std::span(&theirs, 1)));
        if (theirs != 0x5eed0000u + static_cast<std::uint64_t>(round * 2 + 1 - k)) return 3;
        // The object we map is the one the name refers to, not one a failed open removed.
        struct stat ours {
        }, named{};
        const int fd = ::shm_open(n.name.c_str(), O_RDONLY, 0);
        if (fd < 0 || ::fstat(fd, &named) != 0 || ::fstat(shm.native_handle(), &ours) != 0 ||
            ours.st_ino != named.st_ino || ours.st_nlink == 0) {
          return 4;
        }
        ::close(fd);
        return 0;
      });
    }
    while (__atomic_load_n(&r->ready, __ATOMIC_ACQUIRE) < 2) ::sched_yield();
    __atomic_store_n(&r->go, 1, __ATOMIC_RELEASE);
    for (pid_t pid : pids) {
      if (reap(pid) != 0) ++failed;
    }
    if (r->size[0] != r->size[1]) ++sizes_differ;
    if (r->created[0] + r->created[1] != 1) ++creators_wrong;
    EXPECT_NO_THROW(shared_memory::unlink(n.name));
    if (mmipc::testing::shm_exists(n.name) || mmipc::testing::semaphore_exists(n.name) ||
        mmipc::testing::shm_exists(shared_memory::lock_name(n.name))) {
      ++left_behind;
    }
  }
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(sizes_differ, 0);
  EXPECT_EQ(creators_wrong, 0);
  EXPECT_EQ(left_behind, 0);
  report_figure("pairs of processes racing to open one name with different sizes", pairs);
}

// ---- kill -9 at random moments --------------------------------------------------------------

TEST(KillTest, SharedMemoryUsersKilledAtRandomMomentsNeverStopTheOthers) {
  // Victims rewrite block 0 in a loop and are killed with SIGKILL at a random moment, often
  // while holding the exclusion. A survivor rewrites and checks block 1 all along: it must
  // keep going (a dead holder's lock is repaired) and its block is never damaged.
  constexpr std::size_t block = 1024;
  const int kills = scaled(60, 600);
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT | O_EXCL, 0600, 2 * block);
  shm.set_abandon_timeout(20ms);
  auto shared = shared_counters(sizeof(std::uint64_t) * 4);
  auto* stop = reinterpret_cast<std::uint64_t*>(shared.data());
  auto* survivor_ops = stop + 1;
  auto* damaged = stop + 2;
  auto* victim_ops = stop + 3;

  pid_t survivor = spawn([&] {
    auto mine = shared_memory::open(n.name, O_RDWR);
    mine.set_abandon_timeout(20ms);
    std::string seen(block, '\0');
    for (std::uint64_t i = 0; __atomic_load_n(stop, __ATOMIC_ACQUIRE) == 0; ++i) {
      const std::string mark(block, static_cast<char>('a' + i % 26));
      mine.write_at(block, mmipc::testing::bytes_of(mark));
      mine.read_at(block, std::as_writable_bytes(std::span(seen)));
      if (seen != mark) __atomic_fetch_add(damaged, 1, __ATOMIC_RELAXED);
      __atomic_fetch_add(survivor_ops, 1, __ATOMIC_RELEASE);
    }
    return 0;
  });

  std::mt19937 rng(static_cast<unsigned>(::getpid()));
  int killed_holding = 0;
  for (int round = 0; round < kills; ++round) {
    pid_t victim = spawn([&] {
      auto mine = shared_memory::open(n.name, O_RDWR);
      mine.set_abandon_timeout(20ms);
      const std::string mark(block, 'V');
      for (;;) {
        mine.write_at(0, mmipc::testing::bytes_of(mark));
        __atomic_fetch_add(victim_ops, 1, __ATOMIC_RELEASE);
      }
      return 0;
    });
    // Kill it at a random moment once it is at work.
    const std::uint64_t victim_before = __atomic_load_n(victim_ops, __ATOMIC_ACQUIRE);
    while (__atomic_load_n(victim_ops, __ATOMIC_ACQUIRE) == victim_before) ::usleep(50);
    ::usleep(std::uniform_int_distribution<useconds_t>(0, 500)(rng));
    ::kill(victim, SIGKILL);
    ASSERT_EQ(reap(victim), 128 + SIGKILL);
    if (mmipc::testing::semaphore_value(n.name) == 0) ++killed_holding;
    // This process too gets through, whatever state the victim died in.
    const std::uint64_t before = __atomic_load_n(survivor_ops, __ATOMIC_ACQUIRE);
    shm.write_at(0, mmipc::testing::bytes_of("parent"));
    // And the survivor makes progress after each kill (waits as long as it takes: a hang is
    // caught by the test's timeout, not by a time limit here).
    while (__atomic_load_n(survivor_ops, __ATOMIC_ACQUIRE) < before + 2) ::usleep(100);
  }
  __atomic_store_n(stop, 1, __ATOMIC_RELEASE);
  EXPECT_EQ(reap(survivor), 0);
  EXPECT_EQ(*damaged, 0u);
  report_figure("shm users killed with SIGKILL at random moments", kills);
  report_figure("... of them while holding the exclusion semaphore", killed_holding);
  report_figure("survivor operations completed meanwhile", *survivor_ops);
}

TEST(KillTest, LockHoldersKilledAtRandomAreRepairedByTheNextLockerAtOnce) {
  // Victims take the lock with lock() and rewrite block 0 under it in a loop, saying when
  // they hold it; two hammerers rewrite and check blocks 1 and 2 all along; victims are
  // killed with SIGKILL at random moments. Every victim killed holding the lock must be found
  // dead by the next locker (owner_deaths), and none of those deaths may cost a wait of the
  // abandon timeout (semaphore_takeovers): the kernel hands the mutex over, and the dead
  // holder's semaphore is taken over at once. Only a death inside the lock's own few
  // instructions between taking the semaphore and recording it can need that wait.
  constexpr std::size_t block = 1024;
  const int kills = scaled(60, 600);
  shm_name n;
  auto shm = shared_memory::open(n.name, O_RDWR | O_CREAT | O_EXCL, 0600, 3 * block);
  constexpr auto abandon = 50ms;
  shm.set_abandon_timeout(abandon);
  auto shared = shared_counters(sizeof(std::uint64_t) * 6);
  auto* stop = reinterpret_cast<std::uint64_t*>(shared.data());
  auto* hammer_ops = stop + 1;  // two counters
  auto* damaged = stop + 3;
  auto* victim_ops = stop + 4;
  auto* holding = stop + 5;

  std::vector<pid_t> hammerers;
  for (int h = 0; h < 2; ++h) {
    hammerers.push_back(spawn([&, h] {
      auto mine = shared_memory::open(n.name, O_RDWR);
      mine.set_abandon_timeout(abandon);
      const std::uint64_t offset = block * static_cast<std::uint64_t>(1 + h);
      std::string seen(block, '\0');
      for (std::uint64_t i = 0; __atomic_load_n(stop, __ATOMIC_ACQUIRE) == 0; ++i) {
        const std::string mark(block, static_cast<char>('a' + (i + h) % 26));
        mine.write_at(offset, mmipc::testing::bytes_of(mark));
        mine.read_at(offset, std::as_writable_bytes(std::span(seen)));
        if (seen != mark) __atomic_fetch_add(damaged, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&hammer_ops[h], 1, __ATOMIC_RELEASE);
      }
      return 0;
    }));
  }

  std::mt19937 rng(static_cast<unsigned>(::getpid()) * 3u);
  int killed_holding = 0;
  for (int round = 0; round < kills; ++round) {
    pid_t victim = spawn([&] {
      auto mine = shared_memory::open(n.name, O_RDWR);
      mine.set_abandon_timeout(abandon);
      const std::string mark(block, 'V');
      for (;;) {
        auto guard = mine.lock();
        __atomic_store_n(holding, 1, __ATOMIC_RELEASE);
        guard.write_at(0, mmipc::testing::bytes_of(mark));
        __atomic_fetch_add(victim_ops, 1, __ATOMIC_RELEASE);
        __atomic_store_n(holding, 0, __ATOMIC_RELEASE);
      }
      return 0;
    });
    const std::uint64_t before = __atomic_load_n(victim_ops, __ATOMIC_ACQUIRE);
    while (__atomic_load_n(victim_ops, __ATOMIC_ACQUIRE) == before) ::usleep(50);
    ::usleep(std::uniform_int_distribution<useconds_t>(0, 300)(rng));
    ::kill(victim, SIGKILL);
    ASSERT_EQ(reap(victim), 128 + SIGKILL);
    if (__atomic_exchange_n(holding, 0, __ATOMIC_ACQ_REL) == 1) ++killed_holding;
    // Everyone gets on: this process, and both hammerers.
    shm.write_at(0, mmipc::testing::bytes_of("parent"));
    for (int h = 0; h < 2; ++h) {
      const std::uint64_t seen = __atomic_load_n(&hammer_ops[h], __ATOMIC_ACQUIRE);
      while (__atomic_load_n(&hammer_ops[h], __ATOMIC_ACQUIRE) < seen + 2) ::usleep(100);
    }
  }
  __atomic_store_n(stop, 1, __ATOMIC_RELEASE);
  for (pid_t pid : hammerers) EXPECT_EQ(reap(pid), 0);
  const std::uint64_t deaths = shm.owner_deaths();
  const std::uint64_t takeovers = shm.semaphore_takeovers();
  EXPECT_EQ(*damaged, 0u);
  EXPECT_GT(killed_holding, 0);
  EXPECT_GE(deaths, static_cast<std::uint64_t>(killed_holding));
  EXPECT_LE(deaths, static_cast<std::uint64_t>(kills));
  EXPECT_LE(takeovers, deaths - static_cast<std::uint64_t>(killed_holding));
  EXPECT_EQ(mmipc::testing::semaphore_value(n.name), 1);
  report_figure("lock holders killed with SIGKILL at random moments", kills);
  report_figure("... of them while holding the lock (each repaired at once)", killed_holding);
  report_figure("dead holders found by the next locker", deaths);
  report_figure("... of which needed the abandon timeout (died inside lock/unlock)", takeovers);
  report_figure("hammerer operations completed meanwhile", hammer_ops[0] + hammer_ops[1]);
}

TEST(KillTest, QueueConsumersKilledAtRandomMomentsLoseNothingForTheOthers) {
  // One producer sends numbered messages; a surviving consumer and a series of victim
  // consumers take them, and the victims are killed with SIGKILL at random moments. Each
  // consumer records every message right after receiving it. The survivor keeps receiving,
  // in order; no message is received twice; the only messages nobody recorded are at most
  // one per kill (received by a victim that died before recording it).
  const std::uint32_t total = scaled(4000u, 40000u);
  queue_name q;
  auto queue = message_queue::open(q.name, O_RDWR | O_CREAT | O_EXCL, 0600,
                                   mmipc::mq_capacity{10, sizeof(message)});
  auto records = shared_counters(total + sizeof(std::uint64_t));
  auto* taken = reinterpret_cast<std::uint64_t*>(records.data());  // by victims
  auto* count = reinterpret_cast<unsigned char*>(records.data()) + sizeof(std::uint64_t);

  pid_t producer = spawn([&] {
    auto out = message_queue::open(q.name, O_WRONLY);
    for (std::uint32_t seq = 0; seq < total; ++seq) {
      out.send(bytes_of(message{0, 0, seq}), 1);
      ::usleep(50);  // paced, so that many consumers get killed while it runs
    }
    return 0;
  });
  pid_t survivor = spawn([&] {
    auto in = message_queue::open(q.name, O_RDONLY);
    std::int64_t previous = -1;
    message m{};
    for (;;) {
      const std::size_t n = in.receive(std::as_writable_bytes(std::span(&m, 1)));
      if (n == 0) return 0;
      if (n != sizeof m || m.seq >= total || static_cast<std::int64_t>(m.seq) <= previous) {
        return 2;
      }
      previous = m.seq;
      __atomic_fetch_add(&count[m.seq], 1, __ATOMIC_RELAXED);
      // Slow enough that the victims get their share.
      ::usleep(20);
    }
  });

  std::mt19937 rng(static_cast<unsigned>(::getpid()) * 7u);
  int kills = 0;
  int producer_status = -1;
  const auto producer_done = [&] {
    int status = 0;
    if (producer_status < 0 && ::waitpid(producer, &status, WNOHANG) == producer) {
      producer_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return producer_status >= 0;
  };
  while (!producer_done()) {
    pid_t victim = spawn([&] {
      auto in = message_queue::open(q.name, O_RDONLY);
      message m{};
      for (;;) {
        const std::size_t n = in.receive(std::as_writable_bytes(std::span(&m, 1)));
        if (n == sizeof m && m.seq < total) __atomic_fetch_add(&count[m.seq], 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(taken, 1, __ATOMIC_RELEASE);
      }
      return 0;
    });
    // Kill it at a random moment once it has taken a message (or the producer is done).
    const std::uint64_t taken_before = __atomic_load_n(taken, __ATOMIC_ACQUIRE);
    while (__atomic_load_n(taken, __ATOMIC_ACQUIRE) == taken_before && !producer_done()) {
      ::usleep(50);
    }
    ::usleep(std::uniform_int_distribution<useconds_t>(0, 1000)(rng));
    ::kill(victim, SIGKILL);
    EXPECT_EQ(reap(victim), 128 + SIGKILL);
    ++kills;
  }
  EXPECT_EQ(producer_status, 0);
  queue.send({}, 0);  // the end marker, behind every numbered message (priority 1)
  EXPECT_EQ(reap(survivor), 0);

  std::size_t unrecorded = 0;
  std::size_t duplicated = 0;
  for (std::uint32_t i = 0; i < total; ++i) {
    if (count[i] == 0) ++unrecorded;
    if (count[i] > 1) ++duplicated;
  }
  EXPECT_EQ(duplicated, 0u);
  EXPECT_LE(unrecorded, static_cast<std::size_t>(kills));
  report_figure("queue consumers killed with SIGKILL at random moments", kills);
  report_figure("messages sent, each accounted for", total);
  report_figure("messages taken by a victim in its last instant (allowed: one per kill)",
                unrecorded);
}

// ---- leaks ----------------------------------------------------------------------------------

// Open descriptors of this process, mappings of files whose path contains `tag` (ours), and
// all mappings (under AddressSanitizer its allocator maps memory as it likes, so the total is
// only compared in other builds).
struct counts {
  std::size_t fds = 0;
  std::size_t ours = 0;
  std::size_t maps = 0;
  bool operator==(const counts& other) const {
#if defined(__SANITIZE_ADDRESS__)
    return fds == other.fds && ours == other.ours;
#else
    return fds == other.fds && ours == other.ours && maps == other.maps;
#endif
  }
};
std::ostream& operator<<(std::ostream& out, const counts& c) {
  return out << "fds " << c.fds << ", mappings of ours " << c.ours << ", mappings " << c.maps;
}

counts resources(const std::vector<std::string>& tags) {
  counts c;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++c.fds;
  }
  std::ifstream in("/proc/self/maps");
  for (std::string line; std::getline(in, line);) {
    ++c.maps;
    for (const std::string& tag : tags) {
      if (line.find(tag) != std::string::npos) ++c.ours;
    }
  }
  return c;
}

TEST(LeakTest, OpeningAndClosingManyObjectsGivesEverythingBack) {
  const int rounds = scaled(10000, 100000);
  mmipc::testing::temp_file file(std::string(10000, 'x'));
  queue_name q;
  shm_name s;
  message_queue::open(q.name, O_RDWR | O_CREAT | O_EXCL, 0600, mmipc::mq_capacity{2, 16});
  shared_memory::open(s.name, O_RDWR | O_CREAT | O_EXCL, 0600, 4096);
  const std::vector<std::string> tags = {file.path().filename().native(), s.name.substr(1)};
  const auto before = resources(tags);
  mmipc::map_options rw;
  rw.access = mmipc::access_mode::read_write;
  for (int i = 0; i < rounds; ++i) {
    auto m = mapping::map(file.path(), static_cast<std::uint64_t>(i % 5000), 100, rw);
    auto queue = message_queue::open(q.name, O_RDWR | O_NONBLOCK);
    queue.send(mmipc::testing::bytes_of("x"), 0);
    std::byte buffer[16];
    queue.receive(buffer);
    auto shm = shared_memory::open(s.name, O_RDWR);
    shm.write_at(0, mmipc::testing::bytes_of("y"));
    // And failures on the way: none may keep what it took.
    EXPECT_THROW(mapping::map(file.path(), 20000), std::invalid_argument);
    EXPECT_THROW(message_queue::open(q.name + "-missing", O_RDONLY), mmipc::os_error);
    EXPECT_THROW(shared_memory::open(s.name, O_RDWR | O_CREAT | O_EXCL, 0600, 1), mmipc::os_error);
  }
  EXPECT_EQ(resources(tags), before);
  report_figure("mappings, queues and shm objects opened and closed (each, with failures)", rounds);
}

// ---- EINTR ----------------------------------------------------------------------------------

volatile sig_atomic_t signals_seen = 0;
void count_signal(int) {
  signals_seen = signals_seen + 1;
}

// Installs a SIGUSR1 handler WITHOUT SA_RESTART, so every blocking call it interrupts fails
// with EINTR unless the library retries it.
void interrupt_with_sigusr1() {
  struct sigaction action {};
  action.sa_handler = count_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  ::sigaction(SIGUSR1, &action, nullptr);
}

TEST(SignalTest, BlockingCallsSurviveSignalsAtAHighRate) {
  // A sender and a receiver exchange numbered messages through a queue of two slots (so both
  // block often), and the receiver also takes the shared memory exclusion and waits on a
  // semaphore, while this process sends them SIGUSR1 as fast as it can.
  const std::uint32_t total = scaled(20000u, 200000u);
  queue_name q;
  shm_name s;
  auto queue = message_queue::open(q.name, O_RDWR | O_CREAT | O_EXCL, 0600,
                                   mmipc::mq_capacity{2, sizeof(message)});
  auto shm = shared_memory::open(s.name, O_RDWR | O_CREAT | O_EXCL, 0600, 64);

  auto ready = shared_counters(sizeof(std::uint64_t));
  auto* started = reinterpret_cast<std::uint64_t*>(ready.data());
  pid_t sender = spawn([&] {
    interrupt_with_sigusr1();
    __atomic_fetch_add(started, 1, __ATOMIC_RELEASE);
    auto out = message_queue::open(q.name, O_WRONLY);
    for (std::uint32_t seq = 0; seq < total; ++seq) {
      if (seq % 2 == 0) {
        out.send(bytes_of(message{0, 0, seq}), 0);
      } else {
        while (!out.send(bytes_of(message{0, 0, seq}), 0, 10s)) {
        }
      }
    }
    return signals_seen > 0 ? 0 : 5;
  });
  pid_t receiver = spawn([&] {
    interrupt_with_sigusr1();
    __atomic_fetch_add(started, 1, __ATOMIC_RELEASE);
    auto in = message_queue::open(q.name, O_RDONLY);
    auto mine = shared_memory::open(s.name, O_RDWR);
    message m{};
    for (std::uint32_t expected = 0; expected < total; ++expected) {
      std::size_t n = 0;
      if (expected % 2 == 0) {
        n = in.receive(std::as_writable_bytes(std::span(&m, 1)));
      } else {
        auto got = in.receive(std::as_writable_bytes(std::span(&m, 1)), nullptr, 10s);
        if (!got) return 2;
        n = *got;
      }
      if (n != sizeof m || m.seq != expected) return 3;
      if (expected % 64 == 0) mine.write_at(0, bytes_of(m));
    }
    return signals_seen > 0 ? 0 : 5;
  });

  while (__atomic_load_n(started, __ATOMIC_ACQUIRE) < 2) ::usleep(100);
  std::uint64_t sent = 0;
  int sender_status = -1;
  int receiver_status = -1;
  while (sender_status < 0 || receiver_status < 0) {
    for (int i = 0; i < 50; ++i) {
      if (sender_status < 0 && ::kill(sender, SIGUSR1) == 0) ++sent;
      if (receiver_status < 0 && ::kill(receiver, SIGUSR1) == 0) ++sent;
    }
    int status = 0;
    pid_t done = ::waitpid(-1, &status, WNOHANG);
    const int code = mmipc::testing::exit_code_of(status);
    if (done == sender) sender_status = code;
    if (done == receiver) receiver_status = code;
  }
  EXPECT_EQ(sender_status, 0);
  EXPECT_EQ(receiver_status, 0);
  report_figure("signals sent to blocked senders and receivers", sent);
  report_figure("messages passed through them intact and in order", total);
}

}  // namespace
