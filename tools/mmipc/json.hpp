#pragma once
// The --json output of the mmipc tool: JSON Lines, one flat object per line, keys in the order
// added (each command documents its keys in mmipc(1), and keeps them).
//
// Strings are bytes (names and data come from the system, in no particular encoding): valid
// UTF-8 is written as it is, with '"', '\' and the control characters escaped; each byte that
// is not part of valid UTF-8 is written as the escape \udcXX (XX its value), the lone
// surrogate that Python's "surrogateescape" error handler uses, so no byte is lost:
// json.loads(line)["name"].encode("utf-8", "surrogateescape") gives the bytes back.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mmipc::cli {

/// `bytes` as a JSON string literal, quotes included.
std::string json_string(std::string_view bytes);

/// One JSON object on one line. The add functions have distinct names on purpose: with
/// overloads, a string literal would be taken for a bool.
class json_object {
 public:
  json_object& add_string(std::string_view key, std::string_view bytes);
  json_object& add_number(std::string_view key, std::int64_t value);
  json_object& add_number(std::string_view key, std::optional<std::int64_t> value);  // null
  json_object& add_bool(std::string_view key, bool value);
  json_object& add_null(std::string_view key);

  /// The object and a newline.
  std::string line() const;

 private:
  void key(std::string_view name);
  std::string text_;
};

}  // namespace mmipc::cli
