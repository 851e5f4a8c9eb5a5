// Uses the installed headers and library: maps anonymous memory and writes through a cursor,
// then waits on an empty semaphore (a timed wait of any duration, through the library).
#include <mmipc/cursor.hpp>
#include <mmipc/error.hpp>
#include <mmipc/mapping.hpp>
#include <mmipc/semaphore.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>

// The standard the consumer asked for is the one it gets: the package adds no -std of its own.
#if defined(MMIPC_CONSUMER_STANDARD) && MMIPC_CONSUMER_STANDARD > 20
static_assert(__cplusplus > 202002L, "the package overrode the consumer's -std");
#endif

int main() {
  mmipc::map_options options;
  options.access = mmipc::access_mode::read_write;
  auto memory = mmipc::mapping::anonymous(16, options);
  mmipc::cursor cursor(memory);
  const char text[] = "installed mmipc works";
  cursor.write(std::as_bytes(std::span(text, std::strlen(text))));
  std::fwrite(memory.data(), 1, memory.size(), stdout);
  std::puts("");
  try {
    mmipc::named_semaphore empty;
    empty.wait_for(std::chrono::hours::max());
    std::puts("an empty semaphore: no error");
  } catch (const mmipc::os_error& e) {
    std::puts(e.error_number() == EBADF ? "an empty semaphore: EBADF" : e.what());
  }
  return 0;
}
