// libFuzzer target: the image loader (stb_image behind nn's header and size
// checks, then resizing and normalization), grey and RGB, stretched and
// letterboxed. Rejection must be an nn::data::ImageError. (stb_image itself
// comes from Debian's libstb, which is not instrumented.)
#include <nn/nn.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::MemFile f(data, size);
  nn::data::ImageOptions o;
  o.width = 17, o.height = 9;
  o.max_pixels = 1 << 22;  // keeps each run short; the check is the same
  for (int variant = 0; variant < 2; ++variant) {
    o.channels = variant ? 3 : 1;
    o.resize = variant ? nn::data::ImageOptions::Letterbox : nn::data::ImageOptions::Stretch;
    fuzz::expect_only<nn::data::ImageError>([&] {
      auto x = nn::data::load_image<float>(f.path(), o);
      if (!x.all_finite()) std::abort();
    });
  }
  return 0;
}
