// libFuzzer target: the IDX reader, plain and gzip. The first byte picks the
// form: even, the rest of the input is the file as it is (plain, or a gzip
// stream the fuzzer mutates); odd, the rest is gzip-compressed first, so
// that valid streams carry fuzzed IDX content. Rejection must be a
// std::runtime_error.
#include <zlib.h>

#include <nn/nn.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::vector<std::uint8_t> file(data + 1, data + size);
  if (data[0] & 1) {
    uLongf n = compressBound(static_cast<uLong>(file.size())) + 32;
    std::vector<std::uint8_t> gz(n);
    z_stream z{};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;  // 15 + 16: gzip wrapper
    z.next_in = file.data(), z.avail_in = static_cast<uInt>(file.size());
    z.next_out = gz.data(), z.avail_out = static_cast<uInt>(gz.size());
    deflate(&z, Z_FINISH);
    gz.resize(z.total_out);
    deflateEnd(&z);
    file.swap(gz);
  }
  fuzz::MemFile f(file.data(), file.size());
  fuzz::expect_only<std::runtime_error>([&] { nn::data::read_idx(f.path()); });
  fuzz::expect_only<std::runtime_error>([&] { nn::data::load_idx_labels<float>(f.path()); });
  return 0;
}
