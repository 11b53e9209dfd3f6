// libFuzzer target: the training-state loader (load_training_state_from_bytes)
// into a fixed model and optimizer. Rejection must be an nn::io::FormatError.
// Input: one mode byte, then a file or a payload (as_file).
#include <zlib.h>

#include <nn/nn.hpp>

#include "fuzz_util.hpp"

namespace {
// First byte even: the rest is the file as it is. Odd: the rest is a
// payload, wrapped in a valid envelope (magic, version, length, CRC-32), so
// that mutations reach the parser behind the checksum.
std::vector<unsigned char> as_file(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || !(data[0] & 1)) return std::vector<unsigned char>(data + (size ? 1 : 0), data + size);
  nn::io::Writer w;
  for (char c : nn::io::kMagic) w.pod<char>(c);
  w.pod<std::uint32_t>(nn::io::kFormatVersion);
  w.pod<std::uint64_t>(size - 1);
  auto& out = w.bytes();
  out.insert(out.end(), data + 1, data + size);
  w.pod<std::uint32_t>(static_cast<std::uint32_t>(::crc32(0L, data + 1, static_cast<uInt>(size - 1))));
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<unsigned char> bytes = as_file(data, size);
  nn::Sequential<float> m(nn::Shape{3}, 1);
  m.add(nn::Dense<float>(2));
  m.add(nn::BatchNorm<float>());
  nn::SGD<float> opt(m.parameters(), {0.1, 0.9});
  fuzz::expect_only<nn::io::FormatError>([&] { nn::load_training_state_from_bytes(bytes, "fuzz.nn", m, opt); });
  nn::Adam<float> adam(m.parameters());
  fuzz::expect_only<nn::io::FormatError>([&] { nn::load_training_state_from_bytes(bytes, "fuzz.nn", m, adam); });
  return 0;
}
