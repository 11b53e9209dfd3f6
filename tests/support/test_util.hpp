// tests/support/test_util.hpp — helpers shared by the tests: random tensors,
// closeness checks, finite-difference gradient checks, golden fixtures.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>

#include <nn/nn.hpp>

namespace testutil {
using nn::Index;
using nn::Shape;
using nn::Tensor;

template <class T = double>
Tensor<T> randn(const Shape& s, std::uint64_t seed, double stddev = 1.0) {
  Tensor<T> t(s);
  nn::Rng r(seed);
  t.fill_normal(r, 0.0, stddev);
  return t;
}

// A double copy of a tensor (for references computed in double).
template <class T>
Tensor<double> to_double(const Tensor<T>& t) {
  Tensor<double> d(t.shape());
  for (Index i = 0; i < t.size(); ++i) d[i] = double(t[i]);
  return d;
}

// Largest |a - b| / (atol + rtol * max(|a|, |b|)); <= 1 means close.
template <class A, class B>
double worst(const A* a, const B* b, Index n, double atol, double rtol, Index* where = nullptr) {
  double w = 0;
  for (Index i = 0; i < n; ++i) {
    const double x = double(a[i]), y = double(b[i]);
    if (x == y) continue;
    const double r = std::abs(x - y) / (atol + rtol * std::max(std::abs(x), std::abs(y)));
    if (!(r <= w)) {  // also catches NaN
      w = std::isnan(r) ? INFINITY : r;
      if (where) *where = i;
    }
  }
  return w;
}

template <class A, class B>
void check_close(const Tensor<A>& a, const Tensor<B>& b, double atol, double rtol, const std::string& what) {
  INFO(what);
  REQUIRE_MESSAGE(a.shape() == b.shape(), a.shape().str() << " vs " << b.shape().str());
  Index at = 0;
  const double w = worst(a.data(), b.data(), a.size(), atol, rtol, &at);
  CHECK_MESSAGE(w <= 1.0, what << ": element " << at << " is " << double(a[at]) << ", expected " << double(b[at]));
}

// Finite-difference gradient check of a layer in double.
// f(x, θ) = sum(forward(x) * R) for a fixed random R, so dL/dy = R.
// Checks dL/dx and every parameter gradient by central differences.
struct GradCheck {
  double h = 1e-6, atol = 1e-7, rtol = 1e-5;
  bool training = true;
  std::uint64_t seed = 7;
};

// Central differences of f() with respect to every element of t (restored after).
inline Tensor<double> numeric_gradient(Tensor<double>& t, const std::function<double()>& f, double h = 1e-6) {
  Tensor<double> g(t.shape());
  for (Index i = 0; i < t.size(); ++i) {
    const double v = t[i];
    t[i] = v + h;
    const double fp = f();
    t[i] = v - h;
    const double fm = f();
    t[i] = v;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

inline void check_layer_gradients(nn::Layer<double>& layer, const Tensor<double>& x0, const GradCheck& o = {}) {
  Tensor<double> x = x0.clone();
  auto fwd = [&]() -> const Tensor<double>& {
    layer.seed(o.seed);  // dropout draws the same mask every time
    return layer.forward(x, o.training);
  };
  const Tensor<double>& y0 = fwd();
  Tensor<double> R = randn(y0.shape(), 99);
  auto f = [&]() {
    const Tensor<double>& y = fwd();
    double s = 0;
    for (Index i = 0; i < y.size(); ++i) s += y[i] * R[i];
    return s;
  };
  // analytic
  layer.zero_grad();
  const Tensor<double>& y = fwd();
  Tensor<double> dx = layer.backward(x, y, R).clone();
  std::vector<Tensor<double>> pgrads;
  for (auto& p : layer.parameters()) pgrads.push_back(p.grad->clone());
  check_close(dx, numeric_gradient(x, f, o.h), o.atol, o.rtol, layer.describe() + " dL/dx");
  auto params = layer.parameters();
  for (std::size_t k = 0; k < params.size(); ++k)
    check_close(pgrads[k], numeric_gradient(*params[k].value, f, o.h), o.atol, o.rtol,
                layer.describe() + " dL/d" + params[k].name);
}

// A vector of move-only tensors (an initializer list would copy).
template <class... Ts>
std::vector<Tensor<double>> list(Ts&&... ts) {
  std::vector<Tensor<double>> v;
  (v.push_back(std::move(ts)), ...);
  return v;
}

// Finite-difference gradient check of a whole graph in double:
// f = sum over outputs o of weight[o] * sum(output_o * R_o), for fixed random
// R_o. Checks dL/d(every input) and every parameter gradient.
inline void check_graph_gradients(nn::Graph<double>& g, std::vector<Tensor<double>> xs, const GradCheck& o = {},
                                  std::vector<double> weights = {}) {
  weights.resize(g.num_outputs(), 1.0);
  std::vector<const Tensor<double>*> ptrs;
  for (auto& x : xs) ptrs.push_back(&x);
  auto fwd = [&]() -> const std::vector<const Tensor<double>*>& {
    g.reseed_layers(o.seed);
    return g.forward(ptrs, o.training);
  };
  std::vector<Tensor<double>> R;
  {
    const auto& ys = fwd();
    for (std::size_t k = 0; k < ys.size(); ++k) R.push_back(randn(ys[k]->shape(), 99 + k));
  }
  auto f = [&]() {
    const auto& ys = fwd();
    double s = 0;
    for (std::size_t k = 0; k < ys.size(); ++k)
      for (Index i = 0; i < ys[k]->size(); ++i) s += weights[k] * (*ys[k])[i] * R[k][i];
    return s;
  };
  g.zero_grad();
  fwd();
  std::vector<Tensor<double>> dys;
  for (std::size_t k = 0; k < R.size(); ++k) {
    dys.push_back(R[k].clone());
    dys.back().array() *= weights[k];
  }
  std::vector<const Tensor<double>*> dptrs;
  for (auto& d : dys) dptrs.push_back(&d);
  const auto gx = g.backward(dptrs, true);
  std::vector<Tensor<double>> dx;
  for (auto* t : gx) dx.push_back(t->clone());
  std::vector<Tensor<double>> pgrads;
  for (auto& p : g.parameters()) pgrads.push_back(p.grad->clone());
  for (std::size_t k = 0; k < xs.size(); ++k)
    check_close(dx[k], numeric_gradient(xs[k], f, o.h), o.atol, o.rtol, "graph dL/d" + g.input_name(k));
  auto params = g.parameters();
  for (std::size_t k = 0; k < params.size(); ++k)
    check_close(pgrads[k], numeric_gradient(*params[k].value, f, o.h), o.atol, o.rtol, "graph dL/d" + params[k].name);
}

// Finite-difference check of a loss's gradient with respect to its prediction.
inline void check_loss_gradient(const nn::Loss<double>& loss, const Tensor<double>& pred0, const Tensor<double>& target,
                                double h = 1e-6, double atol = 1e-8, double rtol = 1e-5) {
  Tensor<double> pred = pred0.clone(), g;
  loss.compute(pred, target, &g);
  check_close(g, numeric_gradient(pred, [&] { return double(loss(pred, target)); }, h), atol, rtol,
              loss.name() + " gradient");
}

// A dataset's directory (find_dataset), or "" when it is not there: the
// caller skips with NN_SKIP.
inline std::string find_or_empty(const std::string& name) {
  try {
    return nn::data::find_dataset(name);
  } catch (const nn::data::DatasetNotFound&) {
    return "";
  }
}

// Golden fixtures written by tests/golden/make_golden.py.
class Golden {
 public:
  explicit Golden(const std::string& name) {
    const std::string path = std::string(NN_GOLDEN_DIR) + "/" + name + ".txt";
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot open fixture " << path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream hs(line);
      std::string key;
      int rank = 0;
      hs >> key >> rank;
      Shape s;
      for (int i = 0; i < rank; ++i) {
        Index d;
        hs >> d;
        s.push_back(d);
      }
      std::getline(in, line);
      std::istringstream vs(line);
      Tensor<double> t(s);
      for (Index i = 0; i < t.size(); ++i) vs >> t[i];
      REQUIRE_MESSAGE(!vs.fail(), "short record " << key << " in " << path);
      data_.emplace(key, std::move(t));
    }
  }
  const Tensor<double>& operator[](const std::string& key) const {
    auto it = data_.find(key);
    if (it == data_.end()) throw std::runtime_error("fixture has no record " + key);
    return it->second;
  }
  template <class T>
  Tensor<T> as(const std::string& key) const {
    return (*this)[key].template cast<T>();
  }

 private:
  std::map<std::string, Tensor<double>> data_;
};

// Rows [begin, begin + n) of x (N, ...): a part of a batch.
template <class T>
Tensor<T> rows(const Tensor<T>& x, Index begin, Index n) {
  Shape s = x.shape();
  s[0] = n;
  Tensor<T> r(s);
  const Index per = x.size() / x.dim(0);
  std::copy(x.data() + begin * per, x.data() + (begin + n) * per, r.data());
  return r;
}

// Restores the SIMD path (nn/kernels/cpu.hpp) a test case changes.
struct SimdGuard {
  nn::kernels::Simd saved = nn::kernels::simd();
  ~SimdGuard() { nn::kernels::set_simd(saved); }
};

// The paths a kernel test runs: portable always, plus the CPU's own when it
// has the instructions (`fast`).
inline std::vector<nn::kernels::Simd> simd_paths(bool fast) {
  std::vector<nn::kernels::Simd> p{nn::kernels::Simd::Portable};
  if (fast) p.push_back(nn::kernels::Simd::Auto);
  return p;
}

}  // namespace testutil

// Skips the current test case: ctest reports it as "Skipped" (the tests are
// registered with SKIP_REGULAR_EXPRESSION "\[nn-skip\]"), with the reason.
#define NN_SKIP(reason)                      \
  do {                                       \
    MESSAGE("[nn-skip] " << reason);         \
    return;                                  \
  } while (0)
