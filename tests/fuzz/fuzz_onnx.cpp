// libFuzzer target: the ONNX importer (nn::onnx::load_from_bytes, behind
// nn::onnx::load) and read_tensor. Rejection must be nn::io::FormatError
// (a damaged file) or nn::onnx::Unsupported (a valid model nn does not
// read). A model that loads runs once on a batch of one when small.
// Input: the bytes of a model file. Built when nn::onnx exists.
#include <nn/io/onnx.hpp>
#include <nn/nn.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<unsigned char> bytes(data, data + size);
  fuzz::expect_only<nn::io::FormatError>([&] {
    try {
      auto g = nn::onnx::load_from_bytes<float>(bytes, "fuzz.onnx");
      for (const auto& n : g.nodes())
        if (n.shape.size() > (nn::Index(1) << 20)) return;
      if (g.num_parameters() > (1 << 20)) return;
      std::vector<nn::Tensor<float>> xs;
      for (std::size_t i = 0; i < g.num_inputs(); ++i) {
        if (g.input_shape(i).size() > 4096) return;
        xs.emplace_back(g.input_shape(i).with_batch(1));
      }
      std::vector<const nn::Tensor<float>*> ptrs;
      for (auto& x : xs) ptrs.push_back(&x);
      try {
        g.forward(ptrs, false);
      } catch (const std::invalid_argument&) {  // valid to build, not to run (e.g. an embedding id): not a crash
      }
    } catch (const nn::onnx::Unsupported&) {
    }
  });
  fuzz::MemFile f(data, size);
  fuzz::expect_only<nn::io::FormatError>([&] {
    try {
      nn::onnx::read_tensor<float>(f.path());
    } catch (const nn::onnx::Unsupported&) {
    }
  });
  return 0;
}
