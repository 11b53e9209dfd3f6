// libFuzzer target: the model-file loaders (nn::load_model_from_bytes,
// nn::load_graph_from_bytes and nn::quant::load_from_bytes, the parsers
// behind nn::load_model, nn::load_graph and nn::quant::load). Rejection must
// be an nn::io::FormatError.
// Input: one mode byte, then a file or a payload (as_file).
#include <nn/nn.hpp>

#include "fuzz_util.hpp"
#include "model_file.hpp"

namespace {
constexpr nn::Index kMaxActivation = nn::Index(1) << 20;  // per sample: a small model's activations

// A model that loads must run: one forward pass on a batch of one, if small
// (a valid file may describe a model too large to run here).
void run_once(nn::Graph<float>& m) {
  for (const auto& n : m.nodes())
    if (n.shape.size() > kMaxActivation) return;
  std::vector<nn::Tensor<float>> xs;
  for (std::size_t i = 0; i < m.num_inputs(); ++i) {
    const nn::Shape& in = m.input_shape(i);
    if (in.size() > 4096) return;
    xs.emplace_back(in.with_batch(1));
  }
  if (m.num_parameters() > (1 << 20)) return;
  std::vector<const nn::Tensor<float>*> ptrs;
  for (auto& x : xs) ptrs.push_back(&x);
  try {
    m.forward(ptrs, false);
  } catch (const std::invalid_argument&) {  // a model valid to build but not to run is not a crash
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<unsigned char> bytes = fuzz::as_file(data, size);
  fuzz::expect_only<nn::io::FormatError>([&] {
    auto g = nn::load_graph_from_bytes<float>(bytes, "fuzz.nn");
    run_once(g);
  });
  fuzz::expect_only<nn::io::FormatError>([&] {
    auto m = nn::load_model_from_bytes<float>(bytes, "fuzz.nn");
    bool small = m.input_shape().size() <= 4096 && m.num_parameters() <= (1 << 20);
    for (std::size_t i = 0; i < m.size(); ++i) small = small && m.layer(i).output_shape().size() <= kMaxActivation;
    if (small) {
      try {
        m.forward(nn::Tensor<float>(m.input_shape().with_batch(1)), false);
      } catch (const std::invalid_argument&) {
      }
    }
  });
  fuzz::expect_only<nn::io::FormatError>([&] {
    auto q = nn::quant::load_from_bytes(bytes, "fuzz.nn");
    bool small = q.input_shape().size() <= 4096 && q.weight_bytes() <= (1 << 22);
    for (const auto& s : q.steps()) small = small && s.out_shape.size() <= kMaxActivation;
    if (small) q.forward(nn::Tensor<float>(q.input_shape().with_batch(1)));
  });
  return 0;
}
