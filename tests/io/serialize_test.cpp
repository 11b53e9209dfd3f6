#include "../support/test_util.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>

using namespace testutil;
using F = float;
namespace fs = std::filesystem;

namespace {
std::string tmp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("nn_ser_" + std::to_string(::getpid()) + "_" + name)).string();
}
std::vector<char> slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void spit(const std::string& p, const std::vector<char>& b) {
  std::ofstream(p, std::ios::binary).write(b.data(), std::streamsize(b.size()));
}
// A model with every layer type, trained for a step so BN statistics move.
nn::Sequential<F> every_layer_model() {
  nn::Sequential<F> m(Shape{3, 12, 12}, 9);
  m.add(nn::ZeroPadding2D<F>(1, 0, 2, 1));
  m.add<nn::Conv2D<F>>(4, 3, 1, nn::Padding::same(), 1);
  m.add(nn::BatchNorm<F>(0.2, 1e-4));
  m.add(nn::LeakyReLU<F>(0.05));
  m.add<nn::Conv2D<F>>(4, nn::Size2(3, 2), nn::Size2(2, 1), nn::Padding(1, 0), 1, false);
  m.add(nn::ELU<F>(0.8));
  m.add(nn::MaxPool2D<F>(2));
  m.add(nn::AvgPool2D<F>(2, 1, 1));
  m.add(nn::SELU<F>());
  m.add(nn::Dropout<F>(0.3));
  m.add(nn::GlobalAvgPool2D<F>());
  m.add(nn::Dense<F>(6));
  m.add(nn::BatchNorm<F>());
  m.add(nn::Tanh<F>());
  m.add(nn::Dense<F>(5, false));
  m.add(nn::Sigmoid<F>());
  m.add(nn::Softmax<F>());
  return m;
}
}  // namespace

TEST_CASE("save/load round trip reproduces outputs for every layer type") {
  auto m = every_layer_model();
  auto x = randn<F>({4, 3, 12, 12}, 1);
  nn::Tensor<F> g;
  m.forward(x, true);  // moves BN running stats
  m.eval();
  Tensor<F> before = m.forward(x).clone();
  const std::string p = tmp_path("every.nn");
  nn::save_model(p, m);
  auto loaded = nn::load_model<F>(p);
  CHECK(loaded.summary() == m.summary());
  const auto& after = loaded.forward(x);
  REQUIRE(after.shape() == before.shape());
  CHECK(std::memcmp(after.data(), before.data(), size_t(before.size()) * sizeof(F)) == 0);
  // Flatten, Embedding, ReLU live in a second model (Embedding needs id inputs)
  nn::Sequential<F> e(Shape{5}, 2);
  e.add(nn::Embedding<F>(9, 3));
  e.add(nn::ReLU<F>());
  e.add(nn::Flatten<F>());
  e.add(nn::Dense<F>(2));
  auto ids = Tensor<F>::from({2, 5}, {0, 1, 2, 3, 8, 8, 7, 6, 5, 4});
  Tensor<F> eb = e.forward(ids, false).clone();
  nn::save_model(p, e);
  auto el = nn::load_model<F>(p);
  const auto& ea = el.forward(ids);
  CHECK(std::memcmp(ea.data(), eb.data(), size_t(eb.size()) * sizeof(F)) == 0);
  CHECK_THROWS_WITH_AS(nn::load_model<double>(p), doctest::Contains("load it as Sequential<float>"), nn::io::FormatError);
  std::remove(p.c_str());
}

TEST_CASE("every truncation, a flipped byte, a wrong magic and a future version are clear errors") {
  nn::Sequential<F> m(Shape{3}, 1);
  m.add(nn::Dense<F>(2));
  m.add(nn::BatchNorm<F>());
  const std::string p = tmp_path("small.nn"), q = tmp_path("bad.nn");
  nn::SGD<F> opt(m.parameters(), {0.1, 0.9});
  nn::save_model(p, m, &opt, 3);
  const auto good = slurp(p);
  REQUIRE(good.size() > 40);
  for (size_t n = 0; n < good.size(); ++n) {
    spit(q, std::vector<char>(good.begin(), good.begin() + long(n)));
    CAPTURE(n);
    CHECK_THROWS_WITH_AS(nn::load_model<F>(q), doctest::Contains(q.c_str()), nn::io::FormatError);
  }
  spit(q, std::vector<char>(good.begin(), good.begin() + long(good.size() / 2)));
  CHECK_THROWS_WITH_AS(nn::load_model<F>(q), doctest::Contains("truncated"), nn::io::FormatError);
  for (size_t i = 8; i < good.size(); i += 7) {  // flip one byte at a time (past the magic)
    auto bad = good;
    bad[i] = char(bad[i] ^ 0x5a);
    spit(q, bad);
    CAPTURE(i);
    CHECK_THROWS_AS(nn::load_model<F>(q), nn::io::FormatError);
  }
  auto bad = good;
  bad[good.size() - 10] = char(bad[good.size() - 10] ^ 1);
  spit(q, bad);
  CHECK_THROWS_WITH_AS(nn::load_model<F>(q), doctest::Contains("checksum mismatch"), nn::io::FormatError);
  bad = good;
  bad[0] = 'X';
  spit(q, bad);
  CHECK_THROWS_WITH_AS(nn::load_model<F>(q), doctest::Contains("not an nn model file"), nn::io::FormatError);
  bad = good;
  bad[8] = 99;  // version (little-endian u32 after the magic)
  spit(q, bad);
  CHECK_THROWS_WITH_AS(nn::load_model<F>(q), doctest::Contains("format version 99 is newer"), nn::io::FormatError);
  CHECK_THROWS_WITH_AS(nn::load_model<F>(tmp_path("missing.nn")), doctest::Contains("cannot open"), nn::io::FormatError);
  // training state
  nn::Sequential<F> m2(Shape{3}, 5);
  m2.add(nn::Dense<F>(2));
  m2.add(nn::BatchNorm<F>());
  nn::SGD<F> opt2(m2.parameters(), {0.1, 0.9});
  CHECK(nn::load_training_state(p, m2, opt2) == 3);
  nn::Adam<F> adam(m2.parameters());
  CHECK_THROWS_WITH_AS(nn::load_training_state(p, m2, adam), doctest::Contains("holds SGD state, not Adam"),
                       nn::io::FormatError);
  std::remove(p.c_str());
  std::remove(q.c_str());
}

TEST_CASE("a failed save leaves the previous file intact") {
  nn::Sequential<F> m(Shape{3}, 1);
  m.add(nn::Dense<F>(2));
  const std::string p = tmp_path("keep.nn");
  nn::save_model(p, m);
  const auto before = slurp(p);
  CHECK_THROWS_AS(nn::save_model("/nonexistent-dir/x.nn", m), std::runtime_error);
  CHECK(slurp(p) == before);
  CHECK(!fs::exists(p + ".tmp." + std::to_string(::getpid())));
  std::remove(p.c_str());
}
