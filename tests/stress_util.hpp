#pragma once
// Scale of the load and fault tests: `make check` runs a short variant of each, `make stress`
// (which sets MMIPC_STRESS=1) the long one.

#include <cstdlib>
#include <iostream>
#include <string_view>

namespace mmipc::testing {

/// True under `make stress`.
inline bool stress_run() {
  const char* value = std::getenv("MMIPC_STRESS");
  return value != nullptr && *value != '\0' && std::string_view(value) != "0";
}

/// `normal` in `make check`, `stress` under `make stress`.
template <class T>
T scaled(T normal, T stress) {
  return stress_run() ? stress : normal;
}

/// Prints a figure of a load or fault test (faults survived, messages checked...) so that a
/// run's log says how much was exercised.
template <class T>
void report_figure(std::string_view what, T value) {
  std::cout << "[ figure   ] " << what << ": " << value << std::endl;
}

}  // namespace mmipc::testing
