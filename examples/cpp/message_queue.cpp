// A work queue between two processes: a POSIX message queue, the kernel's priority-ordered
// queue of bounded messages. Run: message_queue NAME   (a queue name, such as /jobs)
//
// The parent creates the queue and sends three jobs with priorities, then an empty message
// that says "no more". A worker process (fork) opens the queue by its name and takes the jobs,
// highest priority first, until the empty message; a last receive with a timeout finds the
// queue empty instead of waiting for ever. The parent removes the queue's name at the end.

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mmipc/message_queue.hpp"

namespace {

std::span<const std::byte> bytes(std::string_view text) {
  return std::as_bytes(std::span(text));
}

// The worker, in the child process: returns its exit status.
int work(const std::string& name) {
  try {
    auto jobs = mmipc::message_queue::open(name, O_RDONLY);  // exists: no capacity needed
    unsigned priority = 0;
    for (std::string job; !(job = jobs.receive_string(&priority)).empty();)
      std::cout << "job: " << job << " (priority " << priority << ")\n";
    std::vector<std::byte> buffer(static_cast<std::size_t>(jobs.message_size()));
    if (!jobs.receive(buffer, nullptr, std::chrono::milliseconds(100)))
      std::cout << "no more jobs\n";
    return 0;
  } catch (const std::exception& e) {  // mmipc::os_error: errno, operation, queue name
    std::cerr << "worker: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: message_queue NAME\n";
    return 2;
  }
  const std::string name = argv[1];
  bool created = false;
  try {
    // O_EXCL: a queue of that name that already exists is someone else's. A small capacity
    // (8 messages of 256 bytes) leaves room in the per-user budget (RLIMIT_MSGQUEUE).
    auto queue = mmipc::message_queue::open(name, O_WRONLY | O_CREAT | O_EXCL, 0600,
                                            mmipc::mq_capacity{8, 256});
    created = true;
    queue.send(bytes("write the report"), 0);
    queue.send(bytes("answer the customer"), 9);
    queue.send(bytes("order paper"), 5);
    queue.send(bytes(""), 0);  // after the jobs of its priority: the end

    std::cout.flush();  // nothing buffered may be written twice, by both processes
    const pid_t worker = ::fork();
    if (worker < 0) mmipc::throw_errno("fork");
    if (worker == 0) {
      const int status = work(name);
      std::cout.flush();
      ::_exit(status);
    }
    int status = 0;
    if (::waitpid(worker, &status, 0) < 0) mmipc::throw_errno("waitpid");
    mmipc::message_queue::unlink(name);  // the queue goes when its last descriptor closes
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "message_queue: " << e.what() << "\n";
    if (created) mmipc::message_queue::unlink(name);
    return 1;
  }
}
