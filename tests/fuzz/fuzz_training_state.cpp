// libFuzzer target: the training-state loader (load_training_state_from_bytes)
// into a fixed model and optimizer. Rejection must be an nn::io::FormatError.
// Input: one mode byte, then a file or a payload (as_file).
#include <nn/nn.hpp>

#include "fuzz_util.hpp"
#include "model_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<unsigned char> bytes = fuzz::as_file(data, size);
  nn::Sequential<float> m(nn::Shape{3}, 1);
  m.add(nn::Dense<float>(2));
  m.add(nn::BatchNorm<float>());
  nn::SGD<float> opt(m.parameters(), {0.1, 0.9});
  fuzz::expect_only<nn::io::FormatError>([&] { nn::load_training_state_from_bytes(bytes, "fuzz.nn", m, opt); });
  nn::Adam<float> adam(m.parameters());
  fuzz::expect_only<nn::io::FormatError>([&] { nn::load_training_state_from_bytes(bytes, "fuzz.nn", m, adam); });
  return 0;
}
