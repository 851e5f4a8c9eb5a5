// IPC benchmarks (group "posixipc"): message round trips between two processes through
// mmipc::message_queue, raw mq_send/mq_receive (the limit, also the reference for the Tcl
// round trips) and Boost.Interprocess message_queue; and 4 KiB written and read back in POSIX
// shared memory under its semaphore with raw calls (the reference for the Tcl shm channel).
//
//   bench_ipc [--reps N] [--quick] [--smoke]
//
// Every queue is created with room for one message of at most 8 KiB (well inside the default
// limits), named after this process, and unlinked before the program ends, even on failure.
// Prints `sample` lines (see harness.hpp).

#include <fcntl.h>
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

/// 4 KiB written at offset 0 and read back, each under the object's semaphore, as the Tcl
/// shm channel does: the raw limit of its `puts`+`read`.
void shared_memory(const bench::settings& s, cleanup& names) {
  const std::uint64_t ops = s.smoke ? 100 : s.quick ? 10000 : 40000;
  constexpr std::size_t size = 4096;
  std::string name = unique("shm");
  names.shms.push_back(name);
  names.sems.push_back(name);
  int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 || ::ftruncate(fd, size) != 0) throw std::runtime_error("shm_open failed");
  auto* base =
      static_cast<std::byte*>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ::close(fd);
  if (base == MAP_FAILED) throw std::runtime_error("mmap failed");
  sem_t* sem = ::sem_open(name.c_str(), O_CREAT | O_EXCL, 0600, 1);
  if (sem == SEM_FAILED) throw std::runtime_error("sem_open failed");
  alignas(64) static std::byte in[size], out[size];
  std::memset(in, 'a', size);
  std::vector<bench::contender> c;
  c.push_back({"raw memcpy under sem_wait/sem_post (C++)", "limit", [&] {
                 for (std::uint64_t i = 0; i < ops; ++i) {
                   ::sem_wait(sem);
                   std::memcpy(base, in, size);
                   ::sem_post(sem);
                   ::sem_wait(sem);
                   std::memcpy(out, base, size);
                   ::sem_post(sem);
                   bench::escape(out);
                 }
               }});
  bench::run_case(s, "posixipc", "shm 4 KiB write + read back", ops, size, std::move(c));
  ::sem_close(sem);
  ::munmap(base, size);
}

}  // namespace

int main(int argc, char** argv) {
  cleanup names;
  try {
    auto s = bench::parse_settings(argc, argv);
    round_trips(s, names);
    shared_memory(s, names);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ipc: %s\n", e.what());
    return 1;
  }
  return 0;
}
