#include "../support/naive.hpp"
#include "../support/test_util.hpp"

using namespace testutil;
using nn::kernels::Pool2DGeom;

TEST_CASE_TEMPLATE("max and average pooling match the naive reference", T, float, double) {
  nn::Rng rng(3);
  for (int threads : {1, 2}) {
    nn::set_num_threads(threads);
    for (int trial = 0; trial < 40; ++trial) {
      Pool2DGeom g;
      g.N = 1 + Index(rng.below(3)), g.C = 1 + Index(rng.below(4));
      g.KH = 1 + Index(rng.below(4)), g.KW = 1 + Index(rng.below(4));
      g.SH = 1 + Index(rng.below(3)), g.SW = 1 + Index(rng.below(3));
      g.PH = Index(rng.below(size_t(g.KH / 2 + 1))), g.PW = Index(rng.below(size_t(g.KW / 2 + 1)));
      g.H = g.KH + Index(rng.below(12)), g.W = g.KW + Index(rng.below(12));
      if (trial == 0) g.N = 8, g.C = 16, g.H = g.W = 24;  // large enough for the parallel path
      if (trial % 5 == 1)  // the specialized 2x2 / stride 2 path, odd sizes included; rows of 8+ outputs
        g.KH = g.KW = g.SH = g.SW = 2, g.PH = g.PW = 0, g.H = 2 + Index(rng.below(9)),
        g.W = 2 + Index(rng.below(9)) + (trial % 10 == 1 ? 14 : trial % 10 == 6 ? 30 : 0);
      g.infer_output();
      CAPTURE(trial);
      auto x = randn<T>({g.N, g.C, g.H, g.W}, rng());
      Tensor<T> y({g.N, g.C, g.OH, g.OW}), yr(y.shape());
      std::vector<std::int32_t> arg(size_t(y.size()));
      nn::kernels::maxpool2d_forward(x.data(), y.data(), arg.data(), g);
      naive::maxpool2d_forward(x.data(), yr.data(), g);
      CHECK(worst(y.data(), yr.data(), y.size(), 1e-30, 0) <= 1.0);  // exact
      const Tensor<T> ymax = y.clone();
      nn::kernels::avgpool2d_forward(x.data(), y.data(), g);
      naive::avgpool2d_forward(x.data(), yr.data(), g);
      CHECK(worst(y.data(), yr.data(), y.size(), 1e-6, 1e-6) <= 1.0);

      // backward: <dy, pool(x)> is linear for avg pool, so dx = pool^T dy;
      // check against a finite difference of the naive forward, at about 150
      // inputs spread over the tensor (each probe is a whole naive forward).
      auto dy = randn<T>(y.shape(), rng());
      Tensor<T> dx(x.shape());
      nn::kernels::avgpool2d_backward(dy.data(), dx.data(), g);
      const Index step = std::max<Index>(1, x.size() / 150);
      for (Index i = Index(rng.below(std::size_t(step))); i < x.size(); i += step + Index(rng.below(3))) {
        Tensor<T> xp = x.clone();
        xp[i] += T(1);
        Tensor<T> y1(y.shape());
        naive::avgpool2d_forward(xp.data(), y1.data(), g);
        double s = 0;
        for (Index j = 0; j < y.size(); ++j) s += double(dy[j]) * (double(y1[j]) - double(yr[j]));
        CHECK(double(dx[i]) == doctest::Approx(s).epsilon(1e-4));
      }
      nn::kernels::maxpool2d_backward(dy.data(), arg.data(), dx.data(), g);
      Tensor<T> ref(x.shape());
      for (Index j = 0; j < y.size(); ++j) {
        const Index plane = j / (g.OH * g.OW);
        ref[plane * g.H * g.W + arg[size_t(j)]] += dy[j];
        CHECK(x[plane * g.H * g.W + arg[size_t(j)]] == ymax[j]);  // argmax points at the max
      }
      CHECK(worst(dx.data(), ref.data(), dx.size(), 1e-12, 1e-6) <= 1.0);

      // with the pool's output as a ReLU mask: equal to the pool's backward then
      // the ReLU's (mask x > 0), bit for bit; x's negative half matters here
      Tensor<T> dxr(x.shape()), masked(x.shape());
      nn::kernels::relu_backward(x.data(), dx.data(), masked.data(), x.size());
      nn::kernels::maxpool2d_backward(dy.data(), arg.data(), dxr.data(), g, ymax.data());
      CHECK(worst(dxr.data(), masked.data(), dx.size(), 0, 0) <= 1.0);
    }
  }
  nn::set_num_threads(1);
}

TEST_CASE("max pooling propagates NaN in both the generic and the 2x2 path, with and without argmax") {
  for (Index k : {2, 3}) {
    Pool2DGeom g;
    g.N = 1, g.C = 1, g.H = g.W = 4, g.KH = g.KW = k, g.SH = g.SW = k == 2 ? 2 : 1;
    g.infer_output();
    std::vector<float> x(16, 1.0f), y(size_t(g.OH * g.OW));
    std::vector<std::int32_t> arg(y.size());
    x[5] = NAN;  // (1, 1): inside the first window
    nn::kernels::maxpool2d_forward(x.data(), y.data(), arg.data(), g);
    CAPTURE(k);
    CHECK(std::isnan(y[0]));
    CHECK(arg[0] == 5);
    std::fill(y.begin(), y.end(), 0.0f);
    nn::kernels::maxpool2d_forward(x.data(), y.data(), static_cast<std::int32_t*>(nullptr), g);
    CHECK(std::isnan(y[0]));
  }
  // a wide 2x2 row (the vectorized path: 20 outputs, NaN in the second block of 16)
  Pool2DGeom g;
  g.N = 1, g.C = 1, g.H = 2, g.W = 40;
  g.infer_output();
  std::vector<float> x(80, 1.0f), y(20);
  std::vector<std::int32_t> arg(20);
  x[2 * 17 + 40 + 1] = NAN;  // output 17, the window's last position
  x[2 * 3 + 1] = 5.0f;       // output 3: position 1
  nn::kernels::maxpool2d_forward(x.data(), y.data(), arg.data(), g);
  CHECK(std::isnan(y[17]));
  CHECK(arg[17] == 2 * 17 + 40 + 1);
  CHECK(y[3] == 5.0f);
  CHECK(arg[3] == 7);
  CHECK(y[19] == 1.0f);
  CHECK(arg[19] == 38);
}

TEST_CASE("2x2 max pooling: ties go to the first in window order, and the argmax-free path agrees") {
  nn::Rng rng(12);
  for (int trial = 0; trial < 20; ++trial) {
    Pool2DGeom g;
    g.N = 2, g.C = 3, g.KH = g.KW = g.SH = g.SW = 2;
    g.H = 2 + Index(rng.below(40)), g.W = 2 + Index(rng.below(40));
    g.infer_output();
    Tensor<float> x({g.N, g.C, g.H, g.W});
    for (Index i = 0; i < x.size(); ++i) x[i] = float(rng.below(3));  // many ties
    Tensor<float> y({g.N, g.C, g.OH, g.OW}), y2(y.shape());
    std::vector<std::int32_t> arg(size_t(y.size()));
    nn::kernels::maxpool2d_forward(x.data(), y.data(), arg.data(), g);
    nn::kernels::maxpool2d_forward(x.data(), y2.data(), static_cast<std::int32_t*>(nullptr), g);
    CHECK(worst(y.data(), y2.data(), y.size(), 0, 0) <= 1.0);
    for (Index j = 0; j < y.size(); ++j) {
      const Index plane = j / (g.OH * g.OW), oh = (j % (g.OH * g.OW)) / g.OW, ow = j % g.OW;
      const float* p = x.data() + plane * g.H * g.W;
      const Index order[4] = {2 * oh * g.W + 2 * ow, 2 * oh * g.W + 2 * ow + 1, (2 * oh + 1) * g.W + 2 * ow,
                              (2 * oh + 1) * g.W + 2 * ow + 1};
      Index first = order[0];
      for (Index k : order)
        if (p[k] > p[first]) first = k;
      CHECK(arg[size_t(j)] == first);
    }
  }
}
