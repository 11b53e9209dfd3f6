// Merges (Add, Multiply, Concat, Dot, CosineSimilarity) and L2Normalize:
// values against direct computation, gradients against finite differences
// in double, shape errors.
#include "../support/test_util.hpp"

#include <filesystem>
#include <fstream>

using namespace testutil;
using D = double;

namespace {
// A graph with two inputs of shapes a and b merged by m (the output).
template <class M>
void merge_gradcheck(M m, const Shape& a, const Shape& b, std::uint64_t seed) {
  nn::Graph<D> g(1);
  auto x = g.input(a, "a"), y = g.input(b, "b");
  g.output(g.add(std::move(m), {x, y}));
  check_graph_gradients(g, list(randn(a.with_batch(3), seed), randn(b.with_batch(3), seed + 1)));
}
}  // namespace

TEST_CASE("Add, Multiply: values and gradients, three inputs") {
  nn::Graph<D> g(1);
  auto a = g.input({2, 3}), b = g.input({2, 3}), c = g.input({2, 3});
  auto s = g.add(nn::Add<D>(), {a, b, c});
  auto p = g.add(nn::Multiply<D>(), {a, b, c});
  g.output(s, "sum");
  g.output(p, "product");
  auto xa = randn({2, 2, 3}, 1), xb = randn({2, 2, 3}, 2), xc = randn({2, 2, 3}, 3);
  const auto& out = g.forward({&xa, &xb, &xc}, false);
  for (Index i = 0; i < xa.size(); ++i) {
    CHECK((*out[0])[i] == doctest::Approx(xa[i] + xb[i] + xc[i]));
    CHECK((*out[1])[i] == doctest::Approx(xa[i] * xb[i] * xc[i]));
  }
  check_graph_gradients(g, list(xa.clone(), xb.clone(), xc.clone()), {}, {1.0, 0.5});
}

TEST_CASE("Concat along every axis: values and gradients") {
  for (int axis : {0, 1, 2, -1}) {
    CAPTURE(axis);
    nn::Graph<D> g(1);
    Shape sa{2, 3, 4}, sb{2, 3, 4};
    const int ax = axis < 0 ? axis + 3 : axis;
    sb[ax] = 5;
    auto a = g.input(sa), b = g.input(sb);
    g.output(g.add(nn::Concat<D>(axis), {a, b}));
    Shape want = sa;
    want[ax] = sa[ax] + sb[ax];
    REQUIRE(g.output_shape(0) == want);
    auto xa = randn(sa.with_batch(2), 4), xb = randn(sb.with_batch(2), 5);
    const Tensor<D>& y = *g.forward({&xa, &xb}, false)[0];
    // naive: y[n, i, j, k] comes from a where the axis index is < sa[ax], else from b
    for (Index n = 0; n < 2; ++n)
      for (Index i = 0; i < want[0]; ++i)
        for (Index j = 0; j < want[1]; ++j)
          for (Index k = 0; k < want[2]; ++k) {
            Index idx[3] = {i, j, k};
            const bool from_a = idx[ax] < sa[ax];
            const Shape& s = from_a ? sa : sb;
            if (!from_a) idx[ax] -= sa[ax];
            const Tensor<D>& src = from_a ? xa : xb;
            const D v = src[((n * s[0] + idx[0]) * s[1] + idx[1]) * s[2] + idx[2]];
            CHECK(y[((n * want[0] + i) * want[1] + j) * want[2] + k] == v);
          }
    check_graph_gradients(g, list(xa.clone(), xb.clone()));
  }
}

TEST_CASE("Dot and CosineSimilarity: values, shapes, gradients") {
  nn::Graph<D> g(1);
  auto a = g.input({3, 4}), b = g.input({3, 4});
  auto d_last = g.add(nn::Dot<D>(-1), {a, b});
  auto d_first = g.add(nn::Dot<D>(0), {a, b});
  auto cos = g.add(nn::CosineSimilarity<D>(), {a, b});
  g.output(d_last);
  g.output(d_first);
  g.output(cos);
  CHECK(g.output_shape(0) == Shape{3});
  CHECK(g.output_shape(1) == Shape{4});
  auto xa = randn({2, 3, 4}, 6), xb = randn({2, 3, 4}, 7);
  const auto& out = g.forward({&xa, &xb}, false);
  for (Index n = 0; n < 2; ++n)
    for (Index i = 0; i < 3; ++i) {
      D ab = 0, aa = 0, bb = 0;
      for (Index k = 0; k < 4; ++k) {
        const D u = xa[(n * 3 + i) * 4 + k], v = xb[(n * 3 + i) * 4 + k];
        ab += u * v, aa += u * u, bb += v * v;
      }
      CHECK((*out[0])[n * 3 + i] == doctest::Approx(ab));
      CHECK((*out[2])[n * 3 + i] == doctest::Approx(ab / std::sqrt(aa * bb)));
    }
  for (Index n = 0; n < 2; ++n)
    for (Index k = 0; k < 4; ++k) {
      D ab = 0;
      for (Index i = 0; i < 3; ++i) ab += xa[(n * 3 + i) * 4 + k] * xb[(n * 3 + i) * 4 + k];
      CHECK((*out[1])[n * 4 + k] == doctest::Approx(ab));
    }
  check_graph_gradients(g, list(xa.clone(), xb.clone()), {}, {1.0, 0.3, 2.0});
  // vectors: (d) . (d) -> (1)
  merge_gradcheck(nn::Dot<D>(), Shape{5}, Shape{5}, 8);
  merge_gradcheck(nn::CosineSimilarity<D>(), Shape{5}, Shape{5}, 9);
}

TEST_CASE("CosineSimilarity of a zero vector is 0 with a finite gradient") {
  nn::Graph<D> g(1);
  auto a = g.input({3}), b = g.input({3});
  g.output(g.add(nn::CosineSimilarity<D>(), {a, b}));
  Tensor<D> xa({1, 3}), xb = randn({1, 3}, 1);
  xa.zero();
  const Tensor<D>& y = *g.forward({&xa, &xb}, true)[0];
  CHECK(y[0] == 0.0);
  Tensor<D> dy({1, 1});
  dy.fill(1.0);
  auto gx = g.backward({&dy}, true);
  CHECK(gx[0]->all_finite());
  CHECK(gx[1]->all_finite());
}

TEST_CASE("L2Normalize: unit vectors along the axis, gradients") {
  nn::L2Normalize<D> last, first(0);
  nn::Rng rng(1);
  last.build({3, 4}, rng);
  first.build({3, 4}, rng);
  auto x = randn({2, 3, 4}, 3);
  const auto& y = last.forward(x, false);
  for (Index r = 0; r < 6; ++r) {
    D s = 0;
    for (Index k = 0; k < 4; ++k) s += y[r * 4 + k] * y[r * 4 + k];
    CHECK(s == doctest::Approx(1.0));
  }
  check_layer_gradients(last, x);
  check_layer_gradients(first, x);
  nn::L2Normalize<D> v;
  v.build({7}, rng);
  check_layer_gradients(v, randn({3, 7}, 4));
}

TEST_CASE("merges refuse inputs that do not fit, naming the node and the shapes") {
  nn::Graph<float> g(1);
  auto a = g.input({3, 4}, "a"), b = g.input({3, 5}, "b"), c = g.input({2, 4}, "c");
  CHECK_THROWS_WITH_AS(g.add(nn::Add<float>(), {a, b}, "sum"),
                       doctest::Contains("node 'sum' cannot merge nodes 'a', 'b'"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(g.add(nn::Add<float>(), {a}), doctest::Contains("at least 2 inputs"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(g.add(nn::Concat<float>(1), {a, c}), doctest::Contains("differ outside axis 1"),
                       std::invalid_argument);
  CHECK_NOTHROW(g.add(nn::Concat<float>(0), {a, c}));
  CHECK_THROWS_WITH_AS(g.add(nn::Concat<float>(2), {a, b}), doctest::Contains("no axis 2"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(g.add(nn::Dot<float>(), {a, b}), doctest::Contains("one shape"), std::invalid_argument);
  CHECK_THROWS_AS(g.add(nn::Dot<float>(), {a, a, a}), std::invalid_argument);
}

TEST_CASE("merges and L2Normalize round-trip through their configs") {
  auto c = nn::make_merge<float>(nn::Concat<float>(-2).config());
  CHECK(c->describe() == "Concat(axis -2)");
  auto d = nn::make_merge<float>(nn::CosineSimilarity<float>(1).config());
  CHECK(d->describe() == "CosineSimilarity(axis 1)");
  auto l = nn::make_layer<float>(nn::L2Normalize<float>(0).config());
  CHECK(l->describe() == "L2Normalize(axis 0)");
  nn::LayerConfig bad = nn::Concat<float>(0).config();
  bad.values[0].second = 7;
  CHECK_THROWS_WITH_AS(nn::make_merge<float>(bad), doctest::Contains("'axis'"), std::invalid_argument);
  nn::LayerConfig unknown;
  unknown.type = "Frobnicate";
  CHECK_THROWS_WITH_AS(nn::make_layer<float>(unknown), doctest::Contains("unknown layer type 'Frobnicate'"),
                       std::invalid_argument);
}

// Every layer and merge the library defines (a `type()` returning a name in
// include/nn/layers/) is known to the loader, for float and double: a new
// layer missing from NN_LIBRARY_LAYERS fails here.
TEST_CASE("the loader knows every layer and merge type defined in include/nn/layers") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(NN_GOLDEN_DIR) / ".." / ".." / "include" / "nn" / "layers";
  REQUIRE(fs::is_directory(dir));
  const std::string marker = "type() const override { return \"";
  int seen = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const bool merges = entry.path().filename() == "merge.hpp";
    for (auto at = text.find(marker); at != std::string::npos; at = text.find(marker, at + 1)) {
      const auto begin = at + marker.size();
      nn::LayerConfig c;
      c.type = text.substr(begin, text.find('"', begin) - begin);
      CAPTURE(c.type);
      const auto known = [&](auto make) {
        try {
          make(c);
        } catch (const std::invalid_argument& e) {  // a missing config value is fine here
          return std::string(e.what()).find("unknown layer type") == std::string::npos;
        }
        return true;
      };
      if (merges) {
        CHECK(known([](const nn::LayerConfig& k) { nn::make_merge<float>(k); }));
        CHECK(known([](const nn::LayerConfig& k) { nn::make_merge<double>(k); }));
      } else {
        CHECK(known([](const nn::LayerConfig& k) { nn::make_layer<float>(k); }));
        CHECK(known([](const nn::LayerConfig& k) { nn::make_layer<double>(k); }));
      }
      ++seen;
    }
  }
  CHECK(seen >= 26);
}
