// nn/data/idx.hpp — the IDX format of MNIST and Fashion-MNIST.
//
// An idx file is a big-endian header — magic 0x0000 TT NN (TT = element type,
// 0x08 for unsigned bytes; NN = number of dimensions), then NN uint32
// dimensions — followed by the raw elements. Files may be gzip-compressed;
// zlib reads both forms.
//
//   read_idx(path)                      -> IdxFile {dims, bytes}, validated
//   load_idx_images<T>(path, mean, std) -> (N, 1, H, W), pixels scaled to [0, 1],
//                                          then (v - mean) / std (defaults 0 and 1)
//   load_idx_labels<T>(path)            -> (N) labels as T
//   load_mnist<T>(dir, mean, std)       -> {train_x, train_y, test_x, test_y}
//   (MNIST's own statistics are mean 0.1307, std 0.3081)
// Errors (missing file, bad magic, wrong dimension count, truncated data,
// trailing bytes, corrupt gzip) throw std::runtime_error naming the file.
#pragma once
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/tensor/tensor.hpp"

namespace nn::data {

struct IdxFile {
  std::vector<Index> dims;
  std::vector<std::uint8_t> bytes;
};

namespace detail {
struct GzFile {
  gzFile f = nullptr;
  std::string path;
  std::uintmax_t file_bytes = 0;  // on disk (compressed or not)
  explicit GzFile(const std::string& p) : path(p) {
    std::error_code ec;
    const auto st = std::filesystem::status(p, ec);
    if (ec || !std::filesystem::exists(st)) throw std::runtime_error(p + ": cannot open file (no such file)");
    if (!std::filesystem::is_regular_file(st)) throw std::runtime_error(p + ": is not a regular file");
    file_bytes = std::filesystem::file_size(p, ec);
    f = gzopen(p.c_str(), "rb");
    if (!f) throw std::runtime_error(p + ": cannot open file");
  }
  bool compressed() { return gzdirect(f) == 0; }
  ~GzFile() {
    if (f) gzclose(f);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;
  // Reads up to n bytes; fewer only at the end of the data.
  std::size_t read_some(unsigned char* p, std::size_t n, const std::string& what) {
    std::size_t got = 0;
    while (got < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - got, 1u << 30));
      const int r = gzread(f, p + got, chunk);
      if (r < 0) {
        int err = 0;
        const char* msg = gzerror(f, &err);
        throw std::runtime_error(path + ": corrupt or unreadable data (" + std::string(msg ? msg : "zlib error") +
                                 ") while reading " + what);
      }
      if (r == 0) break;
      got += static_cast<std::size_t>(r);
    }
    return got;
  }
  // Reads exactly n bytes or throws with `what` in the message.
  void read(void* dst, std::size_t n, const std::string& what) {
    const std::size_t got = read_some(static_cast<unsigned char*>(dst), n, what);
    if (got < n)
      throw std::runtime_error(path + ": truncated: " + what + " needs " + std::to_string(n) + " bytes, file has " +
                               std::to_string(got));
  }
  // Reads exactly n bytes into out, growing it as the bytes arrive (at most
  // 64 MiB ahead of them): a header that claims more than the file holds
  // costs no more memory than the file's real contents.
  void read_growing(std::vector<std::uint8_t>& out, std::size_t n, const std::string& what) {
    constexpr std::size_t kStep = std::size_t(64) << 20;
    out.clear();
    std::size_t got = 0;
    try {
      while (got < n) {
        const std::size_t want = std::min(n - got, std::max(kStep, got));
        out.resize(got + want);
        const std::size_t r = read_some(out.data() + got, want, what);
        got += r;
        if (r < want) break;
      }
    } catch (const std::bad_alloc&) {
      throw std::runtime_error(path + ": not enough memory for the " + std::to_string(n) + " bytes of " + what);
    }
    out.resize(got);
    if (got < n)
      throw std::runtime_error(path + ": truncated: " + what + " needs " + std::to_string(n) + " bytes, file has " +
                               std::to_string(got));
  }
  // True at a clean end of file; throws when a gzip stream ends early (a cut
  // in the gzip trailer still yields all the data, but is corruption).
  bool at_end() {
    unsigned char c;
    const int r = gzread(f, &c, 1);
    int err = Z_OK;
    gzerror(f, &err);
    if (r < 0 || (err != Z_OK && err != Z_STREAM_END))
      throw std::runtime_error(path + ": corrupt or truncated gzip stream at the end of the file");
    return r == 0;
  }
};
inline std::uint32_t be32(const unsigned char* b) {
  return (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) | b[3];
}
// "name" or "name.gz", whichever exists.
inline std::string with_gz(const std::string& p) {
  std::error_code ec;
  if (std::filesystem::exists(p, ec)) return p;
  if (std::filesystem::exists(p + ".gz", ec)) return p + ".gz";
  throw std::runtime_error(p + "(.gz): no such file");
}
}  // namespace detail

// Reads and validates an unsigned-byte idx file with `expect_rank` dimensions
// (0 = any).
inline IdxFile read_idx(const std::string& path, int expect_rank = 0) {
  detail::GzFile f(path);
  unsigned char head[4];
  f.read(head, 4, "the magic number");
  if (head[0] != 0 || head[1] != 0)
    throw std::runtime_error(path + ": bad magic number (not an idx file, or not decompressed)");
  if (head[2] != 0x08)
    throw std::runtime_error(path + ": element type 0x" + std::to_string(head[2]) + " is not unsigned byte (0x08)");
  const int rank = head[3];
  if (rank < 1 || rank > 4) throw std::runtime_error(path + ": bad magic number: " + std::to_string(rank) + " dimensions");
  if (expect_rank && rank != expect_rank)
    throw std::runtime_error(path + ": has " + std::to_string(rank) + " dimensions, expected " +
                             std::to_string(expect_rank));
  IdxFile out;
  std::size_t total = 1;
  for (int i = 0; i < rank; ++i) {
    unsigned char b[4];
    f.read(b, 4, "the header");
    const std::uint32_t d = detail::be32(b);
    if (d == 0 || d > (1u << 28)) throw std::runtime_error(path + ": implausible dimension " + std::to_string(d));
    out.dims.push_back(static_cast<Index>(d));
    total *= d;
    if (total > (std::size_t(1) << 34)) throw std::runtime_error(path + ": header claims more than 16 GiB of data");
  }
  // Before any allocation: an uncompressed file must hold exactly the bytes
  // its header announces; a gzip stream cannot expand more than deflate's
  // maximum ratio (1032:1).
  const std::size_t head_bytes = 4 + 4 * std::size_t(rank);
  if (!f.compressed() && f.file_bytes != head_bytes + total)
    throw std::runtime_error(path + ": " +
                             (f.file_bytes < head_bytes + total ? "truncated" : "trailing bytes after the data") +
                             ": the header announces " + std::to_string(total) + " bytes of data, the file holds " +
                             std::to_string(f.file_bytes - head_bytes));
  if (f.compressed() && total > 1032 * std::max<std::uintmax_t>(f.file_bytes, 1))
    throw std::runtime_error(path + ": corrupt: the header announces " + std::to_string(total) +
                             " bytes of data, more than a " + std::to_string(f.file_bytes) +
                             "-byte gzip file can hold");
  f.read_growing(out.bytes, total, "the data the header announces");
  if (!f.at_end()) throw std::runtime_error(path + ": trailing bytes after the data the header announces");
  return out;
}

// (N, 1, H, W) with pixels / 255, then (v - mean) / std.
template <class T = float>
Tensor<T> load_idx_images(const std::string& path, double mean = 0.0, double stddev = 1.0) {
  if (!(stddev > 0)) throw std::invalid_argument("load_idx_images: std must be > 0");
  IdxFile f = read_idx(path, 3);
  Tensor<T> x({f.dims[0], 1, f.dims[1], f.dims[2]});
  const T s = T(1 / (255.0 * stddev)), m = T(mean / stddev);
  for (Index i = 0; i < x.size(); ++i) x[i] = static_cast<T>(f.bytes[static_cast<std::size_t>(i)]) * s - m;
  return x;
}

template <class T = float>
Tensor<T> load_idx_labels(const std::string& path) {
  IdxFile f = read_idx(path, 1);
  Tensor<T> y({f.dims[0]});
  for (Index i = 0; i < y.size(); ++i) y[i] = static_cast<T>(f.bytes[static_cast<std::size_t>(i)]);
  return y;
}

template <class T = float>
struct Mnist {
  Tensor<T> train_x, train_y, test_x, test_y;
};

// Loads MNIST or Fashion-MNIST (same file names) from `dir`.
template <class T = float>
Mnist<T> load_mnist(const std::string& dir, double mean = 0.0, double stddev = 1.0) {
  const std::string d = dir + "/";
  Mnist<T> m;
  m.train_x = load_idx_images<T>(detail::with_gz(d + "train-images-idx3-ubyte"), mean, stddev);
  m.train_y = load_idx_labels<T>(detail::with_gz(d + "train-labels-idx1-ubyte"));
  m.test_x = load_idx_images<T>(detail::with_gz(d + "t10k-images-idx3-ubyte"), mean, stddev);
  m.test_y = load_idx_labels<T>(detail::with_gz(d + "t10k-labels-idx1-ubyte"));
  if (m.train_x.dim(0) != m.train_y.dim(0) || m.test_x.dim(0) != m.test_y.dim(0))
    throw std::runtime_error(dir + ": image and label counts differ (" + std::to_string(m.train_x.dim(0)) + "/" +
                             std::to_string(m.train_y.dim(0)) + " train, " + std::to_string(m.test_x.dim(0)) + "/" +
                             std::to_string(m.test_y.dim(0)) + " test)");
  return m;
}

}  // namespace nn::data
