// tests/fuzz/model_file.hpp — the input of the model-file targets.
#pragma once
#include <zlib.h>

#include <cstdint>
#include <nn/nn.hpp>
#include <vector>

namespace fuzz {
// First byte even: the rest is the file as it is. Odd: the rest is a
// payload, wrapped in a valid envelope (magic, version, length, CRC-32), so
// that mutations reach the parser behind the checksum; the version is 3 (an
// int8 quantized model) when the first byte has bit 2 set, else 2 (a graph)
// when it has bit 1 set, else 1 (a Sequential).
inline std::vector<unsigned char> as_file(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || !(data[0] & 1)) return std::vector<unsigned char>(data + (size ? 1 : 0), data + size);
  nn::io::Writer w;
  for (char c : nn::io::kMagic) w.pod<char>(c);
  w.pod<std::uint32_t>((data[0] & 4)   ? nn::io::kQuantizedVersion
                       : (data[0] & 2) ? nn::io::kGraphVersion
                                       : nn::io::kSequentialVersion);
  w.pod<std::uint64_t>(size - 1);
  auto& out = w.bytes();
  out.insert(out.end(), data + 1, data + size);
  w.pod<std::uint32_t>(static_cast<std::uint32_t>(::crc32(0L, data + 1, static_cast<uInt>(size - 1))));
  return out;
}
}  // namespace fuzz
