// Fuzzes the parsers of user input shared by `mq open` and `shm open` (include/mmipc/
// ipc_args.hpp): integers, permissions, names, access modes and whole argument lists. The
// first input byte picks the parser, the rest is the text. Contract: every input is either
// accepted with a result that obeys the rules, or refused with std::invalid_argument (a
// usage_error for a wrong argument count), never anything else; names and integers are also
// checked against independent models.

#include <fcntl.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ipc_args.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// The rule of validate_ipc_name, written independently: "/", then 1 to `max` bytes,
// none of them "/" or NUL, and not "." or "..".
bool valid_name(std::string_view name, mmipc::ipc_kind kind) {
  const std::size_t max = kind == mmipc::ipc_kind::message_queue ? 255 : 251;
  if (name.find('\0') != std::string_view::npos) return false;
  if (name.size() < 2 || name[0] != '/') return false;
  const std::string_view rest = name.substr(1);
  if (rest.find('/') != std::string_view::npos) return false;
  return rest != "." && rest != ".." && rest.size() <= max;
}

void fuzz_integer(std::string_view text) {
  long long value = 0;
  try {
    value = mmipc::parse_integer(text);
  } catch (const std::invalid_argument& e) {
    const std::string_view what = e.what();
    check(starts_with(what, "expected integer but got ") ||
          starts_with(what, "integer value too large to represent: "));
    return;
  }
  // Round trip through the decimal form.
  check(mmipc::parse_integer(std::to_string(value)) == value);
  // Plain decimal text agrees with strtoll.
  const std::string s(text);
  std::size_t i = s.find_first_not_of(" \t\n\v\f\r");
  if (i == std::string::npos) return;
  if (s[i] == '+' || s[i] == '-') ++i;
  if (i < s.size() && s[i] >= '1' && s[i] <= '9' && s.find('\0') == std::string::npos) {
    errno = 0;
    char* end = nullptr;
    const long long expected = std::strtoll(s.c_str(), &end, 10);
    if (errno == 0 && s.find_first_not_of(" \t\n\v\f\r", end - s.c_str()) == std::string::npos) {
      check(expected == value);
    }
  }
}

void fuzz_permissions(std::string_view text) {
  try {
    const mode_t mode = mmipc::parse_permissions(text);
    check(mode <= 07777);
  } catch (const std::invalid_argument&) {
  }
}

void fuzz_name(std::string_view text, mmipc::ipc_kind kind) {
  bool accepted = true;
  try {
    mmipc::validate_ipc_name(text, kind);
  } catch (const std::invalid_argument&) {
    accepted = false;
  }
  check(accepted == valid_name(text, kind));
}

void check_access(const mmipc::open_access& access) {
  const int mode = access.flags & O_ACCMODE;
  check(mode == O_RDONLY || mode == O_WRONLY || mode == O_RDWR);
  check((access.flags & ~(O_ACCMODE | O_CREAT | O_EXCL | O_NONBLOCK)) == 0);
}

void fuzz_access(std::string_view text) {
  try {
    check_access(mmipc::parse_access(text));
  } catch (const std::invalid_argument&) {
  }
}

void fuzz_request(std::string_view text, mmipc::ipc_kind kind) {
  // Words are separated by newlines, so any other byte (spaces included) can be in a word.
  std::vector<std::string_view> words;
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    words.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  try {
    const mmipc::open_request request = mmipc::parse_open_request(kind, words);
    check(valid_name(request.name, kind));
    check_access(request.access);
    check(request.permissions <= 07777);
    check(request.priority < 32768);
  } catch (const std::invalid_argument&) {
    // usage_error is an invalid_argument too
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto kind = static_cast<mmipc::ipc_kind>(data[0] / 8 % 3);
  switch (data[0] % 8) {
    case 0:
      fuzz_integer(text);
      break;
    case 1:
      fuzz_permissions(text);
      break;
    case 2:
      fuzz_name(text, kind);
      break;
    case 3:
      fuzz_access(text);
      break;
    default:
      fuzz_request(text,
                   kind == mmipc::ipc_kind::semaphore ? mmipc::ipc_kind::message_queue : kind);
      break;
  }
  return 0;
}
