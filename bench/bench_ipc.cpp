// IPC benchmarks (group "posixipc"): message round trips between two processes through
// mmipc::message_queue, raw mq_send/mq_receive (the limit, also the reference for the Tcl
// round trips) and Boost.Interprocess message_queue; 4 KiB written and read back in POSIX
// shared memory through mmipc::shared_memory and with raw calls under its semaphore (the limit
// of both the C++ class and the Tcl shm channel); and how soon the next locker gets in after
// the holder of a shared memory lock is killed.
//
//   bench_ipc [--reps N] [--quick] [--smoke]
//
// Every queue is created with room for one message of at most 8 KiB (well inside the default
// limits), named after this process, and unlinked before the program ends, even on failure.
// Prints `sample` lines (see harness.hpp).

#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/interprocess/ipc/message_queue.hpp>
#include <cstdio>
#include <mmipc/error.hpp>
#include <mmipc/message_queue.hpp>
#include <mmipc/shared_memory.hpp>
#include <optional>
#include <string>
#include <vector>

#include "harness.hpp"

namespace {

namespace bip = boost::interprocess;
constexpr std::size_t max_size = 8192;

std::string unique(const std::string& stem) {
  return "/mmipc-bench-" + std::to_string(::getpid()) + "-" + stem;
}

/// Calls `open` until it does not fail with EMFILE, for at most a minute. EMFILE is the
/// per-user RLIMIT_MSGQUEUE budget, shared with every other program of this user (parallel
/// test suites): a moment later there is room again.
template <class Open>
auto open_with_budget_retry(Open open) -> decltype(open()) {
  for (int attempt = 0;; ++attempt) {
    try {
      return open();
    } catch (const mmipc::os_error& e) {
      if (e.error_number() != EMFILE || attempt >= 120) throw;
    }
    std::fprintf(stderr, "bench_ipc: the message queue budget is full; retrying\n");
    ::usleep(500 * 1000);
  }
}

/// Removes the named objects of this run when it ends, however it ends.
struct cleanup {
  std::vector<std::string> queues, boost_queues, shms, sems;
  ~cleanup() {
    for (auto& n : queues) ::mq_unlink(n.c_str());
    for (auto& n : boost_queues) bip::message_queue::remove(n.c_str());
    for (auto& n : shms) ::shm_unlink(n.c_str());
    for (auto& n : sems) ::sem_unlink(n.c_str());
  }
};

/// An echo server in a child process: receives on one queue, sends each message back on the
/// other, exits on an empty message. The client side is returned as a round-trip function.
class echo_pair {
 public:
  // The derived classes stop their child politely; this is for a child they could not stop.
  virtual ~echo_pair() {
    if (child_ > 0) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
    }
  }
  /// Sends `message` and waits for it to come back.
  virtual void round_trip(std::span<const std::byte> message) = 0;

 protected:
  virtual void stop() = 0;
  /// Forks; the child runs `serve` and exits.
  template <class F>
  void start(F serve) {
    std::fflush(stdout);
    child_ = ::fork();
    if (child_ < 0) throw std::runtime_error("fork failed");
    if (child_ == 0) {
      // Never outlive the benchmark, however it ends (a sanitizer report exits at once).
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() == 1) ::_exit(1);
      try {
        serve();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_ipc echo server: %s\n", e.what());
        ::_exit(1);
      }
      ::_exit(0);
    }
  }
  pid_t child_ = -1;
  std::byte buffer_[max_size];
};

class raw_pair : public echo_pair {
 public:
  explicit raw_pair(cleanup& names) {
    mq_attr attr{};
    attr.mq_maxmsg = 1;
    attr.mq_msgsize = max_size;
    std::string req = unique("raw-req"), resp = unique("raw-resp");
    names.queues.push_back(req);
    names.queues.push_back(resp);
    auto open = [&attr](const std::string& name) {
      return open_with_budget_retry([&] {
        mqd_t q = ::mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
        if (q == -1) mmipc::throw_errno("mq_open", name);
        return q;
      });
    };
    req_ = open(req);
    resp_ = open(resp);
    start([this] {
      for (;;) {
        ssize_t n = ::mq_receive(req_, reinterpret_cast<char*>(buffer_), max_size, nullptr);
        if (n <= 0) return;
        ::mq_send(resp_, reinterpret_cast<char*>(buffer_), static_cast<std::size_t>(n), 0);
      }
    });
  }
  ~raw_pair() override {
    stop_and_wait();
    ::mq_close(req_);
    ::mq_close(resp_);
  }
  void round_trip(std::span<const std::byte> m) override {
    if (::mq_send(req_, reinterpret_cast<const char*>(m.data()), m.size(), 0) != 0 ||
        ::mq_receive(resp_, reinterpret_cast<char*>(buffer_), max_size, nullptr) !=
            static_cast<ssize_t>(m.size())) {
      throw std::runtime_error("raw round trip failed");
    }
  }

 private:
  void stop() override { ::mq_send(req_, "", 0, 0); }
  void stop_and_wait() {
    if (child_ > 0) {
      stop();
      ::waitpid(child_, nullptr, 0);
      child_ = -1;
    }
  }
  mqd_t req_ = -1, resp_ = -1;
};

class mmipc_pair : public echo_pair {
 public:
  explicit mmipc_pair(cleanup& names) {
    std::string req = unique("mmipc-req"), resp = unique("mmipc-resp");
    names.queues.push_back(req);
    names.queues.push_back(resp);
    mmipc::mq_capacity capacity{1, static_cast<long>(max_size)};
    auto open = [&capacity](const std::string& name) {
      return open_with_budget_retry([&] {
        return mmipc::message_queue::open(name, O_RDWR | O_CREAT | O_EXCL, 0600, capacity);
      });
    };
    req_ = open(req);
    resp_ = open(resp);
    start([this] {
      for (;;) {
        std::size_t n = req_.receive(buffer_);
        if (n == 0) return;
        resp_.send(std::span<const std::byte>(buffer_, n));
      }
    });
  }
  ~mmipc_pair() override {
    if (child_ > 0) {
      stop();
      ::waitpid(child_, nullptr, 0);
      child_ = -1;
    }
  }
  void round_trip(std::span<const std::byte> m) override {
    req_.send(m);
    if (resp_.receive(buffer_) != m.size()) throw std::runtime_error("mmipc round trip failed");
  }

 private:
  // An empty message over a real buffer (an empty span's null pointer is not for mq_send).
  void stop() override { req_.send(std::span<const std::byte>(buffer_, 0)); }
  mmipc::message_queue req_, resp_;
};

class boost_pair : public echo_pair {
 public:
  explicit boost_pair(cleanup& names)
      : req_name_(unique("boost-req").substr(1)), resp_name_(unique("boost-resp").substr(1)) {
    names.boost_queues.push_back(req_name_);
    names.boost_queues.push_back(resp_name_);
    req_.emplace(bip::create_only, req_name_.c_str(), 1, max_size);
    resp_.emplace(bip::create_only, resp_name_.c_str(), 1, max_size);
    start([this] {
      for (;;) {
        bip::message_queue::size_type n = 0;
        unsigned priority = 0;
        req_->receive(buffer_, max_size, n, priority);
        if (n == 0) return;
        resp_->send(buffer_, n, 0);
      }
    });
  }
  ~boost_pair() override {
    if (child_ > 0) {
      stop();
      ::waitpid(child_, nullptr, 0);
      child_ = -1;
    }
  }
  void round_trip(std::span<const std::byte> m) override {
    req_->send(m.data(), m.size(), 0);
    bip::message_queue::size_type n = 0;
    unsigned priority = 0;
    resp_->receive(buffer_, max_size, n, priority);
    if (n != m.size()) throw std::runtime_error("boost round trip failed");
  }

 private:
  void stop() override { req_->send(buffer_, 0, 0); }
  std::string req_name_, resp_name_;
  std::optional<bip::message_queue> req_, resp_;
};

void round_trips(const bench::settings& s, cleanup& names) {
  const std::uint64_t ops = s.smoke ? 50 : s.quick ? 1000 : 4000;
  raw_pair raw(names);
  mmipc_pair ours(names);
  boost_pair boost(names);
  for (std::size_t size : {std::size_t{64}, std::size_t{1024}, std::size_t{8192}}) {
    std::vector<std::byte> message(size, std::byte{'m'});
    const std::string label =
        size >= 1024 ? std::to_string(size / 1024) + " KiB" : std::to_string(size) + " B";
    auto loop = [&message, ops](echo_pair& pair) {
      return [&message, &pair, ops] {
        for (std::uint64_t i = 0; i < ops; ++i) pair.round_trip(message);
      };
    };
    std::vector<bench::contender> c;
    c.push_back({"mmipc::message_queue", "ours", loop(ours)});
    c.push_back({"boost::interprocess::message_queue", "peer", loop(boost)});
    // The raw exchange is also the reference of the Tcl round trips (bench/tcl_posixipc.tcl).
    c.push_back(
        {"raw mq_send/mq_receive (C++)",
         "limit",
         loop(raw),
         {},
         {"mq send/receive round trip, " + label, "channel puts/gets round trip, " + label}});
    bench::run_case(s, "posixipc", "C++ message_queue round trip, " + label, ops, size,
                    std::move(c));
  }
}

/// 4 KiB written at offset 0 and read back, each under the object's exclusion: through
/// mmipc::shared_memory (robust mutex, then the semaphore), and with raw calls under the
/// semaphore alone, the limit of both the C++ class and the Tcl shm channel's `puts`+`read`.
void shared_memory(const bench::settings& s, cleanup& names) {
  const std::uint64_t ops = s.smoke ? 100 : s.quick ? 10000 : 40000;
  constexpr std::size_t size = 4096;
  std::string name = unique("shm");
  names.shms.push_back(name);
  names.shms.push_back(mmipc::shared_memory::lock_name(name));
  names.sems.push_back(name);
  auto shm = mmipc::shared_memory::open(name, O_RDWR | O_CREAT | O_EXCL, 0600, size);
  int fd = ::shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("shm_open failed");
  auto* base =
      static_cast<std::byte*>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ::close(fd);
  if (base == MAP_FAILED) throw std::runtime_error("mmap failed");
  sem_t* sem = ::sem_open(name.c_str(), 0);
  if (sem == SEM_FAILED) throw std::runtime_error("sem_open failed");
  alignas(64) static std::byte in[size], out[size];
  std::memset(in, 'a', size);
  const std::string cxx_case = "C++ shared_memory 4 KiB write_at + read_at";
  std::vector<bench::contender> c;
  c.push_back({"mmipc::shared_memory write_at+read_at", "ours", [&] {
                 for (std::uint64_t i = 0; i < ops; ++i) {
                   shm.write_at(0, in);
                   shm.read_at(0, out);
                   bench::escape(out);
                 }
               }});
  c.push_back({"raw memcpy under sem_wait/sem_post (C++)",
               "limit",
               [&] {
                 for (std::uint64_t i = 0; i < ops; ++i) {
                   ::sem_wait(sem);
                   std::memcpy(base, in, size);
                   ::sem_post(sem);
                   ::sem_wait(sem);
                   std::memcpy(out, base, size);
                   ::sem_post(sem);
                   bench::escape(out);
                 }
               },
               {},
               {"shm 4 KiB write + read back"}});
  bench::run_case(s, "posixipc", cxx_case, ops, size, std::move(c));
  ::sem_close(sem);
  ::munmap(base, size);
}

/// A process that takes a lock and waits to be killed while holding it: `hold(held)` locks,
/// then calls held(), which tells the parent (through a pipe) and never returns.
class doomed_holder {
 public:
  template <class Hold>
  explicit doomed_holder(Hold hold) {
    int ready[2];
    if (::pipe(ready) != 0) throw std::runtime_error("pipe failed");
    std::fflush(stdout);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      try {
        hold([&] {
          (void)!::write(ready[1], "x", 1);
          for (;;) ::pause();
        });
      } catch (...) {
      }
      ::_exit(1);
    }
    ::close(ready[1]);
    char c = 0;
    const bool holds = ::read(ready[0], &c, 1) == 1;
    ::close(ready[0]);
    if (!holds) throw std::runtime_error("the lock holder failed");
  }
  ~doomed_holder() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  doomed_holder(const doomed_holder&) = delete;
  doomed_holder& operator=(const doomed_holder&) = delete;
  void kill() const { ::kill(pid_, SIGKILL); }

 private:
  pid_t pid_ = -1;
};

/// How long the next locker waits after the holder of the lock was killed with SIGKILL: from
/// kill() to the return of lock() in the process waiting for it. The limit is a bare robust
/// pthread mutex, which the kernel hands over when its owner dies.
void lock_after_kill(const bench::settings& s, cleanup& names) {
  std::string name = unique("shm-kill");
  names.shms.push_back(name);
  names.shms.push_back(mmipc::shared_memory::lock_name(name));
  names.sems.push_back(name);
  auto shm = mmipc::shared_memory::open(name, O_RDWR | O_CREAT | O_EXCL, 0600, 4096);
  auto* raw = static_cast<pthread_mutex_t*>(::mmap(
      nullptr, sizeof(pthread_mutex_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (raw == MAP_FAILED) throw std::runtime_error("mmap failed");
  pthread_mutexattr_t attr;
  ::pthread_mutexattr_init(&attr);
  ::pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  ::pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  ::pthread_mutex_init(raw, &attr);
  ::pthread_mutexattr_destroy(&attr);

  std::optional<doomed_holder> ours, limit;
  std::vector<bench::contender> c;
  c.push_back({"mmipc::shared_memory lock()", "ours",
               [&] {
                 ours->kill();
                 auto guard = shm.lock();
               },
               [&] {
                 ours.reset();
                 ours.emplace([&](auto held) {
                   auto own = mmipc::shared_memory::open(name, O_RDWR);
                   auto guard = own.lock();
                   held();
                 });
               }});
  c.push_back({"robust pthread_mutex_lock alone (C++)", "limit",
               [&] {
                 limit->kill();
                 if (::pthread_mutex_lock(raw) == EOWNERDEAD) ::pthread_mutex_consistent(raw);
                 ::pthread_mutex_unlock(raw);
               },
               [&] {
                 limit.reset();
                 limit.emplace([&](auto held) {
                   ::pthread_mutex_lock(raw);
                   held();
                 });
               }});
  bench::run_case(s, "posixipc", "next lock after its holder is killed (SIGKILL)", 1, 0,
                  std::move(c));
  ours.reset();
  limit.reset();
  ::munmap(raw, sizeof(pthread_mutex_t));
}

}  // namespace

int main(int argc, char** argv) {
  cleanup names;
  try {
    auto s = bench::parse_settings(argc, argv);
    round_trips(s, names);
    shared_memory(s, names);
    lock_after_kill(s, names);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ipc: %s\n", e.what());
    return 1;
  }
  return 0;
}
