#include "mmipc/guarded_copy.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csetjmp>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <mutex>

#include "guarded_access.hpp"
#include "lost_pages.hpp"
#include "mmipc/error.hpp"
#include "mmipc/mapping.hpp"

namespace mmipc {
namespace {

// Where a guarded copy resumes after a fault on its own bytes. It lives on the stack of
// guarded_copy(); the thread-local pointer below says which one is active.
struct recovery_point {
  sigjmp_buf env;
  // Page-rounded [begin, end) of the destination and of the source.
  std::uintptr_t begin[2];
  std::uintptr_t end[2];
  recovery_point* outer;         // a guarded copy interrupted by a handler that made another one
  volatile int si_code;          // written by the SIGBUS handler before it jumps back
  void* volatile fault_address;  // likewise: where the fault was, to explain it afterwards
};

// initial-exec: the handler reads this, and a dynamic TLS access may allocate on a thread's
// first touch in a dlopen()ed module (the Tcl and Perl extensions are), which a signal
// handler must never do. A pointer is small enough for the static TLS reserve of dlopen.
thread_local recovery_point* current_point __attribute__((tls_model("initial-exec"))) = nullptr;

// The handler that was installed before ours; written once, before ours is installed.
struct sigaction previous_action;
std::atomic<bool> installed{false};
std::once_flag install_once;

// mapping::page_size(), copied here by install_sigbus_guard (before any guarded access can
// run): setting up a guard, on every ring log append, reads a plain variable instead of
// calling a function with a guarded static.
std::uintptr_t guard_page_size = 0;

std::uintptr_t page_size() noexcept {
  return guard_page_size;
}

bool recoverable(const siginfo_t* info) {
  // Only faults the kernel raised for an access to a mapping: BUS_ADRERR is a page past the
  // end of the file, the others are I/O or memory errors on the backing store.
  switch (info->si_code) {
    case BUS_ADRERR:
    case BUS_OBJERR:
#ifdef BUS_MCEERR_AR
    case BUS_MCEERR_AR:
#endif
      return true;
    default:
      return false;
  }
}

bool covers(const recovery_point* point, std::uintptr_t address) {
  for (int i = 0; i < 2; ++i) {
    if (address >= point->begin[i] && address < point->end[i]) return true;
  }
  return false;
}

// Hands a SIGBUS that is not ours to whoever would have received it without mmipc.
void chain(int sig, siginfo_t* info, void* context) {
  const bool sent = info->si_code <= 0;  // by kill(), sigqueue() or tgkill(), not a fault
  if (previous_action.sa_flags & SA_SIGINFO) {
    previous_action.sa_sigaction(sig, info, context);
    return;
  }
  if (previous_action.sa_handler == SIG_IGN) {
    // A sent signal is ignored as asked; a fault cannot be (the instruction would fault again
    // forever), so it takes the default action below, as the kernel does for ignored faults.
    if (sent) return;
  } else if (previous_action.sa_handler != SIG_DFL) {
    previous_action.sa_handler(sig);
    return;
  }
  // The default action: die of SIGBUS, core dump included, as if mmipc were not there. On
  // return a fault re-executes the faulting instruction and faults again; a sent signal must
  // be raised again (it stays pending until this handler returns).
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  ::sigaction(SIGBUS, &default_action, nullptr);
  if (sent) ::raise(SIGBUS);
}

void on_sigbus(int sig, siginfo_t* info, void* context) {
  // The innermost recovery point that covers the address: a guarded section over a whole
  // mapping may hold a narrower guarded copy inside it.
  if (recoverable(info)) {
    for (recovery_point* point = current_point; point != nullptr; point = point->outer) {
      if (covers(point, reinterpret_cast<std::uintptr_t>(info->si_addr))) {
        point->si_code = info->si_code;
        point->fault_address = info->si_addr;
        siglongjmp(point->env, 1);
      }
    }
  }
  chain(sig, info, context);
}

void set_range(recovery_point& point, int i, const void* p, std::size_t n) {
  const std::uintptr_t page = page_size();
  const std::uintptr_t mask = ~(page - 1);
  const auto first = reinterpret_cast<std::uintptr_t>(p);
  point.begin[i] = first & mask;
  point.end[i] = ((first + n - 1) & mask) + page;
}

// Back from the handler: withdraw the recovery point and let SIGBUS through again. The
// handler left by siglongjmp, so SIGBUS is still blocked as it is inside a handler; with it
// blocked, the next fault would kill the process outright.
void after_fault(const recovery_point& point) {
  current_point = point.outer;
  sigset_t bus;
  sigemptyset(&bus);
  sigaddset(&bus, SIGBUS);
  ::pthread_sigmask(SIG_UNBLOCK, &bus, nullptr);
}

bool overlap(const void* a, const void* b, std::size_t n) {
  const auto x = reinterpret_cast<std::uintptr_t>(a);
  const auto y = reinterpret_cast<std::uintptr_t>(b);
  return x < y + n && y < x + n;
}

// How often a copy whose page may have come back (detail::page_loss::came_back) is tried
// again before the page is declared impossible to back.
constexpr int came_back_tries = 16;

}  // namespace

lost_pages_error::lost_pages_error(int err, std::string_view op, std::string_view name)
    : os_error(err, op, name) {
  what_ = os_error::what();
  what_ += " (";
  what_ += explanation();
  what_ += ')';
}

const char* lost_pages_error::explanation() const noexcept {
  // The one wording of the three cases (src/lost_pages.cpp tells them apart).
  switch (error_number()) {
    case EFAULT:
      return "the mapped file shrank under the mapping";
    case ENOSPC:
      return "no space left on the device for a page of this sparse file";
    default:
      return "I/O error on the mapped file's storage";
  }
}

void install_sigbus_guard() {
  std::call_once(install_once, [] {
    guard_page_size = static_cast<std::uintptr_t>(mapping::page_size());  // not in a handler
    // Read the previous action before installing ours, so a fault in another thread never
    // finds previous_action half written.
    if (::sigaction(SIGBUS, nullptr, &previous_action) != 0) throw_errno("sigaction", "SIGBUS");
    struct sigaction action {};
    action.sa_sigaction = on_sigbus;
    // SA_ONSTACK: run on the thread's alternate stack when it has one (a thread that set one
    // up may be out of ordinary stack). SA_RESTART: a SIGBUS chained to a user's handler
    // must not make unrelated system calls fail with EINTR.
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&action.sa_mask);
    if (::sigaction(SIGBUS, &action, nullptr) != 0) throw_errno("sigaction", "SIGBUS");
    installed.store(true, std::memory_order_release);
  });
}

void guarded_copy(void* dst, const void* src, std::size_t n, std::string_view op,
                  std::string_view name) {
  if (n == 0) return;
  if (!installed.load(std::memory_order_acquire)) install_sigbus_guard();

  // A copy between distinct bytes can be made again whole, so a page that came back after
  // the fault (the file shrank and grew again) is worth another try.
  const int tries = overlap(dst, src, n) ? 1 : came_back_tries;
  for (int attempt = 1;; ++attempt) {
    recovery_point point;
    set_range(point, 0, dst, n);
    set_range(point, 1, src, n);
    point.outer = current_point;
    point.si_code = 0;
    point.fault_address = nullptr;
    // savemask 0: no system call on the fast path; the failure path restores the mask itself.
    if (sigsetjmp(point.env, 0) == 0) {
      current_point = &point;
      // The handler must see the recovery point before the first byte is touched, and the
      // copy must be over before it is withdrawn: keep the compiler from moving either store.
      std::atomic_signal_fence(std::memory_order_seq_cst);
      std::memmove(dst, src, n);
      std::atomic_signal_fence(std::memory_order_seq_cst);
      current_point = point.outer;
      return;
    }
    after_fault(point);
    const auto loss = detail::explain_lost_page(point.fault_address, point.si_code);
    if (loss != detail::page_loss::came_back || attempt >= tries) {
      detail::throw_lost_page(loss, op, name);
    }
  }
}

void detail::guarded_call(const void* begin, std::size_t n, std::string_view op,
                          std::string_view name, void (*body)(void*), void* context) {
  if (!installed.load(std::memory_order_acquire)) install_sigbus_guard();
  recovery_point point;
  set_range(point, 0, begin, n == 0 ? 1 : n);
  point.begin[1] = point.end[1] = 0;  // one range only
  point.outer = current_point;
  point.si_code = 0;
  point.fault_address = nullptr;
  if (sigsetjmp(point.env, 0) == 0) {
    current_point = &point;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    try {
      body(context);
    } catch (...) {
      std::atomic_signal_fence(std::memory_order_seq_cst);
      current_point = point.outer;
      throw;
    }
    std::atomic_signal_fence(std::memory_order_seq_cst);
    current_point = point.outer;
    return;
  }
  after_fault(point);
  // The body cannot be run again (it is not a copy): the page is lost, whatever the reason.
  detail::throw_lost_page(detail::explain_lost_page(point.fault_address, point.si_code), op, name);
}

std::size_t guarded_copy_prefix(void* dst, const void* src, std::size_t n, std::string_view op,
                                std::string_view name) {
  try {
    guarded_copy(dst, src, n, op, name);
    return n;
  } catch (const lost_pages_error&) {
    // Rare: find the first lost page, one source page at a time.
  }
  auto* out = static_cast<std::byte*>(dst);
  const auto* in = static_cast<const std::byte*>(src);
  std::size_t done = 0;
  while (done < n) {
    const auto address = reinterpret_cast<std::uintptr_t>(in + done);
    const std::size_t chunk = std::min(n - done, page_size() - address % page_size());
    try {
      guarded_copy(out + done, in + done, chunk, op, name);
    } catch (const lost_pages_error&) {
      if (done == 0) throw;
      break;
    }
    done += chunk;
  }
  return done;
}

}  // namespace mmipc
