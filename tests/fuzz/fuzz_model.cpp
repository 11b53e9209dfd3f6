// libFuzzer target: the model-file loader (nn::load_model_from_bytes, the
// parser behind nn::load_model). Rejection must be an nn::io::FormatError.
// Input: one mode byte, then a file or a payload (as_file).
#include <nn/nn.hpp>

#include "fuzz_util.hpp"
#include "model_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<unsigned char> bytes = fuzz::as_file(data, size);
  fuzz::expect_only<nn::io::FormatError>([&] {
    auto m = nn::load_model_from_bytes<float>(bytes, "fuzz.nn");
    // A model that loads must run: one forward pass on a batch of one, if small.
    if (m.input_shape().size() <= 4096 && m.num_parameters() <= (1 << 20)) {
      nn::Shape s{1};
      for (int i = 0; i < m.input_shape().rank(); ++i) s.push_back(m.input_shape()[i]);
      try {
        m.forward(nn::Tensor<float>(s), false);
      } catch (const std::invalid_argument&) {  // a layer stack valid to build but not to run is not a crash
      }
    }
  });
  return 0;
}
