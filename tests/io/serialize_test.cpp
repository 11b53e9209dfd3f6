#include "../support/test_util.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
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
  m.add(nn::LogSoftmax<F>());
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
  // Flatten, Embedding, ReLU, ConceptSimilarity live in a second model (Embedding needs id inputs)
  nn::Sequential<F> e(Shape{5}, 2);
  e.add(nn::Embedding<F>(9, 3));
  e.add(nn::ReLU<F>());
  e.add(nn::Flatten<F>());
  e.add(nn::Dense<F>(2));
  e.add(nn::ConceptSimilarity<F>(4));
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

namespace {
// Rewrites the envelope of a model file around a changed payload: the length
// field and the CRC-32 made valid again, as a forger would.
std::vector<char> reseal(std::vector<char> f, const std::vector<char>& extra_payload = {}) {
  std::uint64_t len = 0;
  std::memcpy(&len, f.data() + 12, 8);
  f.resize(20 + len);  // drop the old CRC
  f.insert(f.end(), extra_payload.begin(), extra_payload.end());
  len += extra_payload.size();
  std::memcpy(f.data() + 12, &len, 8);
  const auto crc = static_cast<std::uint32_t>(::crc32(0L, reinterpret_cast<const Bytef*>(f.data() + 20), uInt(len)));
  const char* c = reinterpret_cast<const char*>(&crc);
  f.insert(f.end(), c, c + 4);
  return f;
}
}  // namespace

TEST_CASE("a forged size field fails before the loader allocates what it claims") {
  nn::Sequential<F> m(Shape{8}, 1);
  m.add(nn::Dense<F>(4));
  const std::string p = tmp_path("forged.nn"), q = tmp_path("forged_bad.nn");
  nn::save_model(p, m);
  auto f = slurp(p);
  // payload: u32 scalar code, u64 seed, u32 input rank, u64 input dimension at file offset 36
  for (std::uint64_t claim : {std::uint64_t(1) << 25, std::uint64_t(1) << 31}) {
    CAPTURE(claim);
    auto bad = f;
    std::memcpy(bad.data() + 36, &claim, 8);
    spit(q, reseal(bad));
    // Any tensor allocation past 16 MiB fails in this scope: the loader must
    // stop at its own, smaller limit with a FormatError first.
    nn::detail::AllocationLimit cap(16 << 20);
    CHECK_THROWS_WITH_AS(nn::load_model<F>(q), doctest::Contains("layer 0 (Dense)"), nn::io::FormatError);
  }
  // the limit nests: an allocation counts against every enclosing one
  {
    nn::detail::AllocationLimit outer(1 << 20);
    nn::detail::AllocationLimit inner(1 << 30);
    CHECK_THROWS_AS(Tensor<F>({1 << 19}), std::length_error);
    CHECK_NOTHROW(Tensor<F>({1 << 10}));
  }
  CHECK_NOTHROW(Tensor<F>({1 << 19}));  // no limit outside the scopes
  std::remove(p.c_str());
  std::remove(q.c_str());
}

TEST_CASE("layers built for loading are not initialized, and load the stored weights") {
  {
    nn::SkipInitialization no_init;
    nn::Sequential<F> m(Shape{5}, 3);
    m.add(nn::Dense<F>(4));
    for (auto& p : m.parameters()) CHECK(p.value->array().abs().maxCoeff() == 0);
  }
  nn::Sequential<F> m(Shape{5}, 3);
  m.add(nn::Dense<F>(4));
  CHECK(m.parameters()[0].value->array().abs().maxCoeff() > 0);  // initialized again outside the scope
  const std::string p = tmp_path("init.nn");
  nn::save_model(p, m);
  auto l = nn::load_model<F>(p);
  check_close(*l.parameters()[0].value, *m.parameters()[0].value, 0, 0, "loaded weight");
  std::remove(p.c_str());
}

TEST_CASE("junk after the last field, a directory and an out-of-range config value are FormatErrors") {
  nn::Sequential<F> m(Shape{3}, 1);
  m.add(nn::Dense<F>(2));
  const std::string p = tmp_path("junk.nn"), q = tmp_path("junk_bad.nn");
  nn::SGD<F> opt(m.parameters(), {0.1, 0.9});
  for (bool with_state : {false, true}) {
    CAPTURE(with_state);
    nn::save_model(p, m, with_state ? &opt : nullptr, 2);
    spit(q, reseal(slurp(p), std::vector<char>(64, 'j')));
    CHECK_THROWS_WITH_AS(nn::load_model<F>(q), doctest::Contains("64 unexpected bytes after the model"),
                         nn::io::FormatError);
    CHECK_NOTHROW(nn::load_model<F>(p));
  }
  CHECK_THROWS_WITH_AS(nn::load_training_state(q, m, opt), doctest::Contains("unexpected bytes"), nn::io::FormatError);
  const std::string dir = tmp_path("a_directory");
  fs::create_directories(dir);
  CHECK_THROWS_WITH_AS(nn::load_model<F>(dir), doctest::Contains((dir + ": is a directory").c_str()), nn::io::FormatError);
  fs::remove(dir);
  // Dense's "units" forged to 1e300: no float-to-integer overflow, a message
  nn::save_model(p, m);
  auto f = slurp(p);
  const std::string key = "units";
  auto at = std::search(f.begin(), f.end(), key.begin(), key.end());
  REQUIRE(at != f.end());
  const double huge = 1e300;
  std::memcpy(&*(at + long(key.size())), &huge, 8);
  spit(q, reseal(f));
  CHECK_THROWS_WITH_AS(nn::load_model<F>(q), doctest::Contains("'units'"), nn::io::FormatError);
  std::remove(p.c_str());
  std::remove(q.c_str());
}

TEST_CASE("a save removes temporary files that killed processes left, and keeps live ones") {
  nn::Sequential<F> m(Shape{3}, 1);
  m.add(nn::Dense<F>(2));
  const std::string p = tmp_path("stale.nn");
  const std::string dead = p + ".tmp.999999999";  // above Linux's pid_max: no such process
  const std::string live = p + ".tmp." + std::to_string(::getppid());
  const std::string other = p + ".tmp.notapid";
  for (const auto& s : {dead, live, other}) spit(s, std::vector<char>(10, 'x'));
  nn::save_model(p, m);
  CHECK_FALSE(fs::exists(dead));
  CHECK(fs::exists(live));
  CHECK(fs::exists(other));
  CHECK_NOTHROW(nn::load_model<F>(p));
  for (const auto& s : {p, live, other}) std::remove(s.c_str());
}

namespace {
// Two inputs, a shared tower with batch norm, merges, two outputs.
nn::Graph<F> small_graph(std::uint64_t seed) {
  nn::Graph<F> g(seed);
  auto a = g.input({6}, "left"), b = g.input({6}, "right");
  auto fc = g.share(nn::Dense<F>(4), "tower");
  auto bn = g.share(nn::BatchNorm<F>(), "tower_bn");
  auto ea = g.add(nn::L2Normalize<F>(), g.add(bn, g.add(fc, a)), "emb_left");
  auto eb = g.add(nn::L2Normalize<F>(), g.add(bn, g.add(fc, b)), "emb_right");
  g.output(g.add(nn::CosineSimilarity<F>(), {ea, eb}), "similarity");
  auto both = g.add(nn::Concat<F>(), {g.add(nn::Multiply<F>(), {ea, eb}), g.add(nn::Add<F>(), {ea, eb})});
  g.output(g.add(nn::Dense<F>(3), g.add(nn::Dropout<F>(0.2), both)), "logits");
  return g;
}
}  // namespace

TEST_CASE("a graph round-trips: structure, names, shared layers, weights, buffers, outputs") {
  auto g = small_graph(4);
  auto xa = randn<F>({5, 6}, 1), xb = randn<F>({5, 6}, 2);
  for (int k = 0; k < 3; ++k) g.forward({&xa, &xb}, true);  // moves the running statistics
  g.eval();
  const auto& out = g.forward({&xa, &xb});
  const Tensor<F> s0 = out[0]->clone(), l0 = out[1]->clone();
  const std::string p = tmp_path("graph.nn");
  nn::save_model(p, g);
  auto h = nn::load_graph<F>(p);
  CHECK_FALSE(h.is_training());
  CHECK(h.summary() == g.summary());
  CHECK(h.output_name(1) == "logits");
  CHECK(h.input_name(1) == "right");
  const auto& out2 = h.forward({&xa, &xb});
  CHECK(std::equal(s0.begin(), s0.end(), out2[0]->begin()));
  CHECK(std::equal(l0.begin(), l0.end(), out2[1]->begin()));
  auto pg = g.buffers(), ph = h.buffers();
  REQUIRE(pg.size() == ph.size());
  for (std::size_t k = 0; k < pg.size(); ++k) CHECK(std::equal(pg[k].second->begin(), pg[k].second->end(), ph[k].second->begin()));
  // a Sequential's loader names the other loader
  CHECK_THROWS_WITH_AS(nn::load_model<F>(p), doctest::Contains("load it with nn::load_graph"), nn::io::FormatError);
  // every truncation is a FormatError naming the file
  const auto good = slurp(p);
  const std::string q = tmp_path("graph_bad.nn");
  for (size_t n = 0; n < good.size(); n += 3) {
    spit(q, std::vector<char>(good.begin(), good.begin() + long(n)));
    CAPTURE(n);
    CHECK_THROWS_WITH_AS(nn::load_graph<F>(q), doctest::Contains(q.c_str()), nn::io::FormatError);
  }
  std::remove(p.c_str());
  std::remove(q.c_str());
}

TEST_CASE("a Sequential's file loads as a chain graph with the same outputs") {
  nn::Sequential<F> m(Shape{1, 8, 8}, 3);
  m.add<nn::Conv2D<F>>(3, 3);
  m.add(nn::BatchNorm<F>());
  m.add(nn::ReLU<F>());
  m.add(nn::MaxPool2D<F>(2));
  m.add(nn::Flatten<F>());
  m.add(nn::Dense<F>(2));
  m.eval();
  const std::string p = tmp_path("chain.nn");
  nn::save_model(p, m);
  auto g = nn::load_graph<F>(p);
  auto x = randn<F>({3, 1, 8, 8}, 5);
  const Tensor<F> a = m.forward(x).clone();
  const Tensor<F>& b = g.forward(x);
  CHECK(std::equal(a.begin(), a.end(), b.begin()));
  CHECK(g.parameters()[0].name == "0.weight");
  // and its training state restores into a graph of that structure
  nn::SGD<F> opt(m.parameters(), {0.1, 0.9});
  nn::save_model(p, m, &opt, 4);
  auto g2 = nn::load_graph<F>(p);
  nn::SGD<F> opt2(g2.parameters(), {0.1, 0.9});
  CHECK(nn::load_training_state(p, g2, opt2) == 4);
  std::remove(p.c_str());
}

TEST_CASE("a graph's training state round-trips, a node reading a later node is a FormatError") {
  auto g = small_graph(6);
  nn::Adam<F> adam(g.parameters());
  auto xa = randn<F>({4, 6}, 1), xb = randn<F>({4, 6}, 2);
  const auto& o = g.forward({&xa, &xb}, true);
  Tensor<F> d0(o[0]->shape()), d1(o[1]->shape());
  d0.fill(1.f), d1.fill(0.5f);
  g.backward({&d0, &d1});
  adam.step();
  const std::string p = tmp_path("graph_state.nn");
  nn::save_model(p, g, &adam, 7);
  auto h = small_graph(99);  // other initial weights
  nn::Adam<F> adam2(h.parameters());
  CHECK(nn::load_training_state(p, h, adam2) == 7);
  auto pg = g.parameters(), ph = h.parameters();
  for (std::size_t k = 0; k < pg.size(); ++k)
    CHECK(std::equal(pg[k].value->begin(), pg[k].value->end(), ph[k].value->begin()));
  CHECK(adam2.steps() == 1);
  // forge: node 1 ("d", a layer call) claims to read itself
  nn::Graph<F> t(1);
  t.output(t.add(nn::Dense<F>(2), t.input({3}, "x"), "d"));
  nn::save_model(p, t);
  auto f = slurp(p);
  const char rec[] = {1, 1, 0, 0, 0, 'd', 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
  auto at = std::search(f.begin(), f.end(), rec, rec + sizeof(rec));
  REQUIRE(at != f.end());
  at[sizeof(rec) - 4] = 1;
  spit(p, reseal(f));
  CHECK_THROWS_WITH_AS(nn::load_graph<F>(p), doctest::Contains("reads node 1, not an earlier one"),
                       nn::io::FormatError);
  std::remove(p.c_str());
}

namespace {
// A layer from outside the library: y = scale * x.
template <class T>
class Scale : public nn::Layer<T> {
 public:
  explicit Scale(double s) : s_(s) {}
  std::string type() const override { return "Scale"; }
  static std::unique_ptr<nn::Layer<T>> from_config(const nn::LayerConfig& c) {
    return std::make_unique<Scale>(c.get_real("scale"));
  }
  std::unique_ptr<nn::Layer<T>> clone() const override { return this->template clone_as<Scale>(); }

 protected:
  void add_config(nn::LayerConfig& c) const override { c.set("scale", s_); }
  Shape do_build(const Shape& in, nn::Rng&) override { return in; }
  const Tensor<T>& do_forward(const Tensor<T>& x, bool) override {
    this->out_.resize(x.shape());
    for (nn::Index i = 0; i < x.size(); ++i) this->out_[i] = static_cast<T>(s_) * x[i];
    return this->out_;
  }
  const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>&, const Tensor<T>& dy) override {
    this->dx_.resize(x.shape());
    for (nn::Index i = 0; i < x.size(); ++i) this->dx_[i] = static_cast<T>(s_) * dy[i];
    return this->dx_;
  }

 private:
  double s_;
};
NN_REGISTER_LAYER(Scale)
}  // namespace

TEST_CASE("a layer registered outside the library loads, a second factory for a name is an error") {
  nn::Sequential<F> m(Shape{3}, 2);
  m.add(nn::Dense<F>(4));
  m.add(Scale<F>(2.5));
  auto x = randn<F>({2, 3}, 1);
  Tensor<F> before = m.forward(x).clone();
  const std::string p = tmp_path("custom.nn");
  nn::save_model(p, m);
  auto loaded = nn::load_model<F>(p);
  CHECK(loaded.summary() == m.summary());
  const auto& after = loaded.forward(x);
  CHECK(std::memcmp(after.data(), before.data(), size_t(before.size()) * sizeof(F)) == 0);
  std::remove(p.c_str());
  // the library's layers are known once a load has run for this scalar type
  CHECK_THROWS_WITH_AS(nn::Registry<nn::Layer<F>>::add("Dense", &Scale<F>::from_config),
                       doctest::Contains("two different factories for layer type 'Dense'"), std::logic_error);
  CHECK_NOTHROW(nn::Registry<nn::Layer<F>>::add("Scale", &Scale<F>::from_config));
}
