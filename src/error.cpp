#include "mmipc/error.hpp"

#include <utility>

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

explained_error::explained_error(int err, std::string_view op, std::string_view name,
                                 std::string explanation)
    : os_error(err, op, name),
      explanation_(std::move(explanation)),
      what_(std::string(os_error::what()) + " (" + explanation_ + ")") {}

void throw_os_error(int err, std::string_view op, std::string_view name) {
  throw os_error(err, op, name);
}

}  // namespace mmipc
