#pragma once
// A small filesystem that fills up, for the full-disk tests: a forked child enters a private
// mount namespace (unshare -m) and mounts a tmpfs of a few pages over a directory there
// (/tmp, /dev/shm), so nothing outside the child sees it and it vanishes with the child.

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace mmipc::testing {

/// What a run on a small tmpfs found.
struct tmpfs_outcome {
  bool skipped = false;
  /// Why it was skipped, or what failed (empty when everything held).
  std::string message;
};

/// Runs `body` in a forked child whose private mount namespace has a tmpfs of `size` bytes
/// mounted on each directory of `targets`. `body` returns an empty string when its checks
/// held, else what failed. When the system does not let the child mount (no CAP_SYS_ADMIN,
/// a seccomp filter), the outcome is "skipped" with the reason.
inline tmpfs_outcome on_small_tmpfs(const std::vector<std::string>& targets, std::size_t size,
                                    const std::function<std::string()>& body) {
  int channel[2];
  if (::pipe2(channel, O_CLOEXEC) != 0) return {false, "pipe2 failed"};
  const pid_t pid = ::fork();
  if (pid < 0) return {false, "fork failed"};
  if (pid == 0) {
    ::close(channel[0]);
    auto report = [&](int code, const std::string& text) {
      (void)!::write(channel[1], text.data(), text.size());
      ::_exit(code);
    };
    if (::unshare(CLONE_NEWNS) != 0) {
      report(77, std::string("unshare(CLONE_NEWNS) not permitted: ") + std::strerror(errno));
    }
    // Mounts made here must not propagate back to the parent's namespace.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      report(77, std::string("cannot make / private: ") + std::strerror(errno));
    }
    const std::string options = "size=" + std::to_string(size) + ",mode=1777";
    for (const auto& target : targets) {
      if (::mount("mmipc-test", target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) !=
          0) {
        report(77, "cannot mount a tmpfs on " + target + ": " + std::strerror(errno));
      }
    }
    std::string failure;
    try {
      failure = body();
    } catch (const std::exception& e) {
      failure = std::string("unexpected exception: ") + e.what();
    } catch (...) {
      failure = "unexpected exception";
    }
    report(failure.empty() ? 0 : 1, failure);
  }
  ::close(channel[1]);
  std::string text;
  char buffer[512];
  for (ssize_t n; (n = ::read(channel[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(channel[0]);
  const int status = reap(pid);
  if (status == 77) return {true, text};
  if (status == 0) return {false, ""};
  if (text.empty()) text = "the child ended with status " + std::to_string(status);
  return {false, text};
}

}  // namespace mmipc::testing
