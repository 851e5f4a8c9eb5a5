#include "mmipc/error.hpp"

namespace mmipc {
namespace {

std::string describe(std::string_view op, std::string_view name) {
  std::string what(op);
  if (!name.empty()) {
    what += ' ';
    what += name;
  }
  return what;
}

}  // namespace

os_error::os_error(int err, std::string_view op, std::string_view name)
    : std::system_error(err, std::generic_category(), describe(op, name)), op_(op), name_(name) {}

void throw_os_error(int err, std::string_view op, std::string_view name) {
  throw os_error(err, op, name);
}

}  // namespace mmipc
