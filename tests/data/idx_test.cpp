#include "../support/test_util.hpp"

#include <zlib.h>

#include <filesystem>
#include <fstream>

using namespace testutil;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("nn_test_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}
void write_bytes(const fs::path& p, const std::vector<unsigned char>& b) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}
void write_gz(const fs::path& p, const std::vector<unsigned char>& b) {
  gzFile f = gzopen(p.string().c_str(), "wb");
  REQUIRE(f);
  gzwrite(f, b.data(), unsigned(b.size()));
  gzclose(f);
}
// A valid 3-image 2x2 idx3 file.
std::vector<unsigned char> tiny_images() {
  std::vector<unsigned char> b{0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2};
  for (int i = 0; i < 12; ++i) b.push_back(static_cast<unsigned char>(i * 20));
  return b;
}
}  // namespace

TEST_CASE("real MNIST parses to 60,000 / 10,000 images with the known label histogram") {
  const std::string dir = find_or_empty("mnist");
  if (dir.empty()) NN_SKIP("MNIST not found (set NN_DATA_DIR or run datasets/download.sh)");
  auto m = nn::data::load_mnist<float>(dir);
  CHECK(m.train_x.shape() == Shape{60000, 1, 28, 28});
  CHECK(m.test_x.shape() == Shape{10000, 1, 28, 28});
  std::vector<int> train(10), test(10);
  for (auto v : m.train_y) train[size_t(v)]++;
  for (auto v : m.test_y) test[size_t(v)]++;
  CHECK(train == std::vector<int>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949});
  CHECK(test == std::vector<int>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009});
  CHECK(m.train_x.array().minCoeff() == 0.0f);
  CHECK(m.train_x.array().maxCoeff() == 1.0f);
}

TEST_CASE("Fashion-MNIST reads with the same code") {
  const std::string dir = find_or_empty("fashion-mnist");
  if (dir.empty()) NN_SKIP("Fashion-MNIST not found (set NN_DATA_DIR or run datasets/download.sh)");
  auto m = nn::data::load_mnist<float>(dir);
  CHECK(m.train_x.dim(0) == 60000);
  std::vector<int> test(10);
  for (auto v : m.test_y) test[size_t(v)]++;
  CHECK(test == std::vector<int>(10, 1000));
}

TEST_CASE("idx files: plain and gzip read the same, corrupt files name the file and the problem") {
  const fs::path d = temp_dir("idx");
  write_bytes(d / "ok", tiny_images());
  write_gz(d / "ok.gz", tiny_images());
  auto a = nn::data::load_idx_images<float>((d / "ok").string());
  auto b = nn::data::load_idx_images<float>((d / "ok.gz").string());
  CHECK(a.shape() == Shape{3, 1, 2, 2});
  CHECK(a[11] == doctest::Approx(220.0 / 255));
  CHECK(std::equal(a.begin(), a.end(), b.begin()));
  auto n = nn::data::load_idx_images<float>((d / "ok").string(), 0.5, 0.25);
  CHECK(n[0] == doctest::Approx(-2.0));                      // (0 - 0.5) / 0.25
  CHECK(n[11] == doctest::Approx((220.0 / 255 - 0.5) / 0.25));

  auto bad = tiny_images();
  bad[2] = 0x0D;  // float elements
  write_bytes(d / "type", bad);
  CHECK_THROWS_WITH(nn::data::read_idx((d / "type").string()), doctest::Contains("is not unsigned byte"));
  bad = tiny_images();
  bad[0] = 0x1f;
  write_bytes(d / "magic", bad);
  CHECK_THROWS_WITH(nn::data::read_idx((d / "magic").string()), doctest::Contains("magic"));
  CHECK_THROWS_WITH(nn::data::load_idx_labels<float>((d / "ok").string()),
                    doctest::Contains("has 3 dimensions, expected 1"));
  // every truncation of the plain and the gzip file is a clear error
  const auto full = tiny_images();
  for (size_t n = 0; n < full.size(); ++n) {
    write_bytes(d / "cut", std::vector<unsigned char>(full.begin(), full.begin() + long(n)));
    CHECK_THROWS_WITH_AS(nn::data::read_idx((d / "cut").string()), doctest::Contains((d / "cut").string().c_str()),
                         std::runtime_error);
  }
  std::ifstream gz(d / "ok.gz", std::ios::binary);
  std::vector<char> gzb((std::istreambuf_iterator<char>(gz)), std::istreambuf_iterator<char>());
  for (size_t n = 0; n + 1 < gzb.size(); n += 3) {
    std::ofstream(d / "cut.gz", std::ios::binary).write(gzb.data(), std::streamsize(n));
    CHECK_THROWS_AS(nn::data::read_idx((d / "cut.gz").string()), std::runtime_error);
  }
  auto extra = tiny_images();
  extra.push_back(1);
  write_bytes(d / "extra", extra);
  CHECK_THROWS_WITH(nn::data::read_idx((d / "extra").string()), doctest::Contains("trailing bytes"));
  CHECK_THROWS_WITH(nn::data::read_idx((d / "missing").string()), doctest::Contains("cannot open"));
  CHECK_THROWS_WITH(nn::data::read_idx(d.string()), doctest::Contains("is not a regular file"));
  fs::remove_all(d);
}

TEST_CASE("idx headers that claim more data than the file holds fail before allocating it") {
  const fs::path d = temp_dir("idx_claim");
  // 116 bytes whose header claims 2^31 bytes (2048 x 1024 x 1024): the size
  // check against the file names both numbers, before any buffer exists.
  std::vector<unsigned char> b{0, 0, 8, 3, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 4, 0};
  b.resize(116, 7);
  write_bytes(d / "claim", b);
  CHECK_THROWS_WITH(nn::data::read_idx((d / "claim").string()),
                    doctest::Contains("truncated: the header announces 2147483648 bytes of data, the file holds 100"));
  // gzip: 16 GiB claimed by a file of a few dozen bytes is beyond deflate's 1032:1
  b = {0, 0, 8, 3, 0, 0, 0x40, 0, 0, 0, 4, 0, 0, 0, 4, 0};
  b.resize(116, 7);
  write_gz(d / "claim.gz", b);
  CHECK_THROWS_WITH(nn::data::read_idx((d / "claim.gz").string()),
                    doctest::Contains("bytes of data, more than a"));
  // within the ratio, the buffer grows with the data that arrives: a clear truncation
  b = {0, 0, 8, 1, 0, 0, 0x4e, 0x20};  // 20,000 labels claimed, 100 present
  b.resize(108, 3);
  write_gz(d / "short.gz", b);
  CHECK_THROWS_WITH(nn::data::read_idx((d / "short.gz").string()), doctest::Contains("truncated"));
  fs::remove_all(d);
}

TEST_CASE("find_dataset names every place it looked") {
  const fs::path d = temp_dir("find");
  ::setenv("NN_DATA_DIR", d.string().c_str(), 1);
  try {
    nn::data::find_dataset("no-such-dataset-xyz");
    FAIL("expected DatasetNotFound");
  } catch (const nn::data::DatasetNotFound& e) {
    const std::string msg = e.what();
    CHECK(msg.find((d / "no-such-dataset-xyz").string()) != std::string::npos);
    CHECK(msg.find("datasets/no-such-dataset-xyz") != std::string::npos);
    CHECK(msg.find("shared/datasets/no-such-dataset-xyz") != std::string::npos);
  }
  // NN_DATA_DIR comes first
  fs::create_directories(d / "mine");
  CHECK(nn::data::find_dataset("mine") == (d / "mine").string());
  ::unsetenv("NN_DATA_DIR");
  fs::remove_all(d);
}
