// libFuzzer target: the model-file loader (nn::load_model_from_bytes, the
// parser behind nn::load_model). Rejection must be an nn::io::FormatError.
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
