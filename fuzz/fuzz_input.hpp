#pragma once
// Reads typed values from a fuzzer's input, front to back; past the end every value is zero,
// so each input, however short, is a complete and deterministic program.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace mmipc::fuzzing {

class input {
 public:
  input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  /// True when every byte has been consumed.
  bool empty() const { return pos_ >= size_; }

  /// The next sizeof(T) bytes as an integer of type T.
  template <class T>
  T next() {
    T value{};
    const std::size_t n = std::min(sizeof(T), size_ - std::min(pos_, size_));
    if (n != 0) std::memcpy(&value, data_ + pos_, n);
    pos_ += sizeof(T);
    return value;
  }

  /// Up to `n` of the next bytes as a string (fewer at the end of the input).
  std::string bytes(std::size_t n) {
    const std::size_t left = size_ - std::min(pos_, size_);
    n = std::min(n, left);
    std::string out(reinterpret_cast<const char*>(data_ + std::min(pos_, size_)), n);
    pos_ += n;
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

}  // namespace mmipc::fuzzing
