// Uses the installed headers and library: maps anonymous memory and writes through a cursor.
#include <mmipc/cursor.hpp>
#include <mmipc/mapping.hpp>

#include <cstdio>
#include <cstring>

int main() {
  mmipc::map_options options;
  options.access = mmipc::access_mode::read_write;
  auto memory = mmipc::mapping::anonymous(16, options);
  mmipc::cursor cursor(memory);
  const char text[] = "installed mmipc works";
  cursor.write(std::as_bytes(std::span(text, std::strlen(text))));
  std::fwrite(memory.data(), 1, memory.size(), stdout);
  std::puts("");
  return 0;
}
