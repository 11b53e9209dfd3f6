// Winograd F(4x4, 5x5) with ReLU and a 2x2 max pool (nn/kernels/conv2d_winograd.hpp):
// its matrices against the definition, and the kernel against the naive
// convolution + epilogue + pool in double.
#include <cmath>
#include <limits>

#include "../support/naive.hpp"
#include "../support/test_util.hpp"

using namespace testutil;
using nn::kernels::Conv2DGeom;
using nn::kernels::Pool2DGeom;
namespace wg = nn::kernels::winograd;

TEST_CASE_TEMPLATE("Winograd F(4x4, RxR): A^T [(G g G^T) * (B^T d B)] A is the RxR correlation of the NxN tile", F,
                   wg::F5, wg::F3) {
  constexpr int N = F::N, R = F::R;
  nn::Rng rng(71);
  for (int trial = 0; trial < 20; ++trial) {
    double d[N][N], g[R][R], U[N][N] = {}, V[N][N] = {}, t[N][N] = {}, M[N][N], y[4][4] = {}, u[4][N] = {};
    for (auto& r : d)
      for (double& v : r) v = rng.normal();
    for (auto& r : g)
      for (double& v : r) v = rng.normal();
    for (int i = 0; i < N; ++i)  // U = G g G^T
      for (int j = 0; j < N; ++j)
        for (int k = 0; k < R; ++k)
          for (int l = 0; l < R; ++l) U[i][j] += double(F::G[i][k]) * g[k][l] * double(F::G[j][l]);
    for (int i = 0; i < N; ++i)  // V = B^T d B
      for (int l = 0; l < N; ++l)
        for (int k = 0; k < N; ++k) t[i][l] += double(F::BT[i][k]) * d[k][l];
    for (int i = 0; i < N; ++i)
      for (int j = 0; j < N; ++j)
        for (int l = 0; l < N; ++l) V[i][j] += t[i][l] * double(F::BT[j][l]);
    for (int i = 0; i < N; ++i)
      for (int j = 0; j < N; ++j) M[i][j] = U[i][j] * V[i][j];
    for (int a = 0; a < 4; ++a)  // y = A^T M A
      for (int j = 0; j < N; ++j)
        for (int i = 0; i < N; ++i) u[a][j] += double(F::AT[a][i]) * M[i][j];
    for (int a = 0; a < 4; ++a)
      for (int b = 0; b < 4; ++b)
        for (int j = 0; j < N; ++j) y[a][b] += u[a][j] * double(F::AT[b][j]);
    for (int a = 0; a < 4; ++a)
      for (int b = 0; b < 4; ++b) {
        double ref = 0;
        for (int k = 0; k < R; ++k)
          for (int l = 0; l < R; ++l) ref += d[a + k][b + l] * g[k][l];
        // G's entries are floats (1/18, 1/45, ... rounded): 1e-6 relative
        CHECK(std::abs(y[a][b] - ref) <= 1e-6 * (1.0 + std::abs(ref)));
      }
  }
}

namespace {
// Whether the selector (conv_select.hpp) runs this convolution + pool as Winograd.
bool winograd_runs(const nn::kernels::Conv2DGeom& g, const nn::kernels::Pool2DGeom& pg) {
  return nn::kernels::choose_conv<float>(g, &pg).pool_forward == nn::kernels::ConvKernel::Winograd;
}
// Reference: conv in double, then scale/shift, ReLU, 2x2 pool; returns the
// pooled values and, per window, the winner and the gap to the runner-up.
struct Ref {
  Tensor<double> y;
  std::vector<std::int32_t> arg;
  std::vector<double> gap;
};
Ref reference(const Tensor<float>& x, const Tensor<float>& w, const Tensor<float>& b, const float* scale, bool relu,
              const Conv2DGeom& g, const Pool2DGeom& pg) {
  const Tensor<double> xd = to_double(x), wd = to_double(w), bd = to_double(b);
  Tensor<double> yc({g.N, g.OC, g.OH, g.OW});
  naive::conv2d_forward(xd.data(), wd.data(), bd.data(), yc.data(), g);
  const Index P = g.OH * g.OW;
  for (Index i = 0; i < yc.size(); ++i) {
    double v = yc[i];
    if (scale) {  // scale * (conv + b), as fold_bias folds the bias
      const Index o = (i / P) % g.OC;
      v *= double(scale[o]);
    }
    yc[i] = relu ? std::max(v, 0.0) : v;
  }
  Ref r{Tensor<double>({g.N, g.OC, pg.OH, pg.OW}), {}, {}};
  r.arg.resize(static_cast<std::size_t>(r.y.size()));
  r.gap.resize(r.arg.size());
  for (Index pl = 0; pl < g.N * g.OC; ++pl)
    for (Index ph = 0; ph < pg.OH; ++ph)
      for (Index pw = 0; pw < pg.OW; ++pw) {
        double best = -1e300, second = -1e300;
        std::int32_t bi = -1;
        for (Index a = 0; a < 2; ++a)
          for (Index c = 0; c < 2; ++c) {
            const Index idx = (2 * ph + a) * g.OW + 2 * pw + c;
            const double v = yc[pl * P + idx];
            if (v > best) second = best, best = v, bi = static_cast<std::int32_t>(idx);
            else second = std::max(second, v);
          }
        const Index o = (pl * pg.OH + ph) * pg.OW + pw;
        r.y[o] = best, r.arg[static_cast<std::size_t>(o)] = bi, r.gap[static_cast<std::size_t>(o)] = best - second;
      }
  return r;
}

// A random geometry Winograd runs, with a 2x2 pool: partial tiles, odd
// outputs, channel tails, chunks of samples with a tail; 3x3 on odd trials.
// trial 0 is W1's second layer, trial 1 `named` (a W3 layer). Returns false
// when the output is too small to pool.
bool random_geometry(nn::Rng& rng, int trial, Index max_oc, const Conv2DGeom& named, Conv2DGeom& g,
                     Pool2DGeom& pg) {
  g = Conv2DGeom{};
  g.N = 1 + Index(rng.below(trial % 3 == 0 ? 9 : 4));      // chunks of 3 samples with a tail
  g.C = 16 + Index(rng.below(trial % 2 ? 40 : 4));        // 16-channel vectors with a tail
  g.OC = 1 + Index(rng.below(trial % 2 ? max_oc : 20));  // output-channel vectors with a tail
  g.KH = g.KW = trial % 2 ? 3 : 5;                        // F(4x4, 3x3) and F(4x4, 5x5)
  g.PT = Index(rng.below(3)), g.PB = Index(rng.below(3)), g.PL = Index(rng.below(3)), g.PR = Index(rng.below(3));
  g.H = 5 + Index(rng.below(14)), g.W = 5 + Index(rng.below(14));
  if (trial == 0) g.N = 7, g.C = 32, g.OC = 64, g.H = g.W = 12, g.PT = g.PB = g.PL = g.PR = 0;  // W1's layer 2
  if (trial == 1) g = named;
  g.infer_output();
  if (g.OH < 2 || g.OW < 2) return false;
  pg = Pool2DGeom{};
  pg.N = g.N, pg.C = g.OC, pg.H = g.OH, pg.W = g.OW;
  pg.infer_output();
  return true;
}

Conv2DGeom w3_layer(Index C, Index OC, Index HW) {
  Conv2DGeom g;
  g.N = 5, g.C = C, g.OC = OC, g.H = g.W = HW, g.KH = g.KW = 3, g.PT = g.PB = g.PL = g.PR = 1;
  return g;
}
}  // namespace

TEST_CASE("Winograd conv + ReLU + max pool (5x5 and 3x3) equals the naive reference in double") {
  if (!nn::kernels::avx512_enabled()) NN_SKIP("nn's AVX-512 kernels are off here (no AVX-512, or NN_SIMD=portable)");
  nn::Rng rng(73);
  nn::kernels::ConvPoolWorkspace<float> shared;  // one workspace through every geometry
  for (int threads : {1, 2}) {
    nn::set_num_threads(threads);
    for (int trial = 0; trial < 24; ++trial) {
      Conv2DGeom g;
      Pool2DGeom pg;
      if (!random_geometry(rng, trial, 70, w3_layer(32, 32, 32), g, pg)) continue;  // trial 1: W3's layer 2
      REQUIRE(winograd_runs(g, pg));
      const bool relu = trial % 4 != 3, use_scale = trial % 5 == 2;
      INFO("threads " << threads << " trial " << trial << " N" << g.N << " C" << g.C << " " << g.H << "x" << g.W
                      << " OC" << g.OC << " K" << g.KH << " P" << g.PT << "," << g.PB << "," << g.PL << "," << g.PR
                      << " relu " << relu << " scale " << use_scale);
      auto x = randn<float>({g.N, g.C, g.H, g.W}, rng());
      auto w = randn<float>({g.OC, g.C, g.KH, g.KW}, rng(), 0.05);
      auto b = randn<float>({g.OC}, rng());
      auto scale = randn<float>({g.OC}, rng());
      const Ref r = reference(x, w, b, use_scale ? scale.data() : nullptr, relu, g, pg);

      nn::Epilogue<float> ep;
      ep.relu = relu, ep.scale = use_scale ? scale.data() : nullptr;
      nn::kernels::ConvPoolWorkspace<float> ws;
      Tensor<float> yp({g.N, g.OC, pg.OH, pg.OW}), yp2(yp.shape());
      std::vector<std::int32_t> arg(static_cast<std::size_t>(yp.size()), -7);
      yp.fill(-123.0f), yp2.fill(-123.0f);
      for (int rep = 0; rep < 2; ++rep)  // a workspace used twice gives the same
        nn::kernels::conv2d_forward_maxpool(x.data(), w.data(), b.data(), yp.data(), arg.data(), g, pg, ws, ep);
      double scale_y = 1e-3;
      for (Index i = 0; i < r.y.size(); ++i) scale_y = std::max(scale_y, std::abs(r.y[i]));
      Index where = -1;
      CHECK(worst(yp.data(), r.y.data(), yp.size(), 2e-5 * scale_y, 0.0, &where) <= 1.0);
      Index arg_mismatch = 0;
      for (std::size_t i = 0; i < arg.size(); ++i)
        if (arg[i] != r.arg[i] && !(relu && r.y[Index(i)] == 0.0) && r.gap[i] > 1e-4 * scale_y) ++arg_mismatch;
      CHECK(arg_mismatch == 0);
      // inference: no argmax, the same values
      nn::kernels::conv2d_forward_maxpool(x.data(), w.data(), b.data(), yp2.data(), static_cast<std::int32_t*>(nullptr),
                                          g, pg, ws, ep);
      CHECK(std::memcmp(yp2.data(), yp.data(), static_cast<std::size_t>(yp.size()) * sizeof(float)) == 0);
      // a workspace that saw other geometries (buffers kept, not re-zeroed, when the geometry repeats)
      yp2.fill(-5.0f);
      nn::kernels::conv2d_forward_maxpool(x.data(), w.data(), b.data(), yp2.data(), static_cast<std::int32_t*>(nullptr),
                                          g, pg, shared, ep);
      CHECK(std::memcmp(yp2.data(), yp.data(), static_cast<std::size_t>(yp.size()) * sizeof(float)) == 0);
    }
  }
  nn::set_num_threads(1);
}

TEST_CASE("Winograd conv + pool: a NaN input gives NaN outputs, ConvAlgorithm::Direct switches it off") {
  if (!nn::kernels::avx512_enabled()) NN_SKIP("nn's AVX-512 kernels are off here (no AVX-512, or NN_SIMD=portable)");
  Conv2DGeom g;
  g.N = 2, g.C = 32, g.OC = 64, g.H = g.W = 12, g.KH = g.KW = 5;
  g.infer_output();
  Pool2DGeom pg;
  pg.N = g.N, pg.C = g.OC, pg.H = g.OH, pg.W = g.OW;
  pg.infer_output();
  CHECK(winograd_runs(g, pg));
  auto x = randn<float>({g.N, g.C, g.H, g.W}, 5);
  auto w = randn<float>({g.OC, g.C, 5, 5}, 6, 0.05);
  auto b = randn<float>({g.OC}, 7);
  x[(1 * g.C + 3) * 144 + 5 * 12 + 6] = std::numeric_limits<float>::quiet_NaN();  // sample 1, channel 3, (5, 6)
  nn::Epilogue<float> ep;
  ep.relu = true;
  nn::kernels::ConvPoolWorkspace<float> ws;
  Tensor<float> yp({g.N, g.OC, pg.OH, pg.OW});
  std::vector<std::int32_t> arg(static_cast<std::size_t>(yp.size()));
  nn::kernels::conv2d_forward_maxpool(x.data(), w.data(), b.data(), yp.data(), arg.data(), g, pg, ws, ep);
  const Index PQ = pg.OH * pg.OW;
  for (Index i = 0; i < g.OC * PQ; ++i) CHECK(std::isfinite(yp[i]));  // sample 0 untouched
  for (Index o = 0; o < g.OC; ++o) {  // sample 1: output (3, 3) reads (5, 6) in every channel: pooled (1, 1)
    const Index i = (g.OC + o) * PQ + 1 * pg.OW + 1;
    CHECK(std::isnan(yp[i]));
    const std::int32_t a = arg[static_cast<std::size_t>(i)];
    CHECK((a == 2 * 8 + 2 || a == 2 * 8 + 3 || a == 3 * 8 + 2 || a == 3 * 8 + 3));
  }

  nn::kernels::set_conv_algorithm(nn::kernels::ConvAlgorithm::Direct);
  CHECK_FALSE(winograd_runs(g, pg));
  nn::kernels::set_conv_algorithm(nn::kernels::ConvAlgorithm::Auto);
  g.C = 8;  // too few input channels to pay
  CHECK_FALSE(winograd_runs(g, pg));
  g.C = 32, g.KH = g.KW = 3;  // F(4x4, 3x3)
  g.infer_output();
  pg.H = g.OH, pg.W = g.OW;
  pg.infer_output();
  CHECK(winograd_runs(g, pg));
  g.KH = g.KW = 7;  // no transform for 7x7
  g.H = g.W = 14;
  g.infer_output();
  pg.H = g.OH, pg.W = g.OW;
  pg.infer_output();
  CHECK_FALSE(winograd_runs(g, pg));
}

TEST_CASE("Winograd backward (conv + ReLU + max pool, 5x5 and 3x3) equals the naive backward in double") {
  if (!nn::kernels::avx512_enabled()) NN_SKIP("nn's AVX-512 kernels are off here (no AVX-512, or NN_SIMD=portable)");
  nn::Rng rng(79);
  nn::kernels::ConvPoolWorkspace<float> ws;  // one workspace through every geometry
  for (int threads : {1, 2}) {
    nn::set_num_threads(threads);
    for (int trial = 0; trial < 16; ++trial) {
      Conv2DGeom g;
      Pool2DGeom pg;  // up to 90 output channels: 1 to 6 vectors
      if (!random_geometry(rng, trial, 90, w3_layer(64, 64, 16), g, pg)) continue;  // trial 1: W3's layer 4
      REQUIRE(winograd_runs(g, pg));
      const bool relu = trial % 4 != 3, with_dx = trial % 5 != 4, with_db = trial % 6 != 5;
      INFO("threads " << threads << " trial " << trial << " N" << g.N << " C" << g.C << " " << g.H << "x" << g.W
                      << " OC" << g.OC << " K" << g.KH << " P" << g.PT << "," << g.PB << "," << g.PL << "," << g.PR
                      << " relu " << relu << " dx " << with_dx << " db " << with_db);
      auto x = randn<float>({g.N, g.C, g.H, g.W}, rng());
      auto w = randn<float>({g.OC, g.C, g.KH, g.KW}, rng(), 0.05);
      auto b = randn<float>({g.OC}, rng(), 0.1);
      nn::Epilogue<float> ep;
      ep.relu = relu;
      Tensor<float> yp({g.N, g.OC, pg.OH, pg.OW});
      std::vector<std::int32_t> arg(static_cast<std::size_t>(yp.size()));
      nn::kernels::conv2d_forward_maxpool(x.data(), w.data(), b.data(), yp.data(), arg.data(), g, pg, ws, ep);
      auto dyp = randn<float>(yp.shape(), rng());

      // reference: the dense gradient the pool routes (through the forward's argmax), the naive backward
      Tensor<double> dy({g.N, g.OC, g.OH, g.OW});
      dy.fill(0.0);
      const Index PQ = pg.OH * pg.OW, P = g.OH * g.OW;
      for (Index i = 0; i < yp.size(); ++i)
        if (!relu || yp[i] > 0.0f) dy[(i / PQ) * P + arg[static_cast<std::size_t>(i)]] += double(dyp[i]);
      const Tensor<double> xd = to_double(x), wd = to_double(w);
      Tensor<double> dxr(xd.shape()), dwr(wd.shape()), dbr({g.OC});
      dwr.fill(0.5), dbr.fill(0.25);
      naive::conv2d_backward(xd.data(), wd.data(), dy.data(), dxr.data(), dwr.data(), dbr.data(), g);

      Tensor<float> dx(x.shape()), dw(w.shape()), db({g.OC});
      dx.fill(77.0f), dw.fill(0.5f), db.fill(0.25f);
      nn::kernels::conv2d_backward_maxpool(x.data(), w.data(), dyp.data(), arg.data(), relu ? yp.data() : nullptr,
                                           with_dx ? dx.data() : static_cast<float*>(nullptr), dw.data(),
                                           with_db ? db.data() : static_cast<float*>(nullptr), g, pg, ws);
      auto max_abs = [](const Tensor<double>& t, double floor) {
        double m = floor;
        for (Index i = 0; i < t.size(); ++i) m = std::max(m, std::abs(t[i]));
        return m;
      };
      const double sdw = max_abs(dwr, 1e-3);
      CHECK(worst(dw.data(), dwr.data(), dw.size(), 3e-5 * sdw, 0.0) <= 1.0);
      if (with_dx) {
        const double sdx = max_abs(dxr, 1e-3);
        CHECK(worst(dx.data(), dxr.data(), dx.size(), 3e-5 * sdx, 0.0) <= 1.0);
      } else {
        for (Index i = 0; i < dx.size(); ++i) REQUIRE(dx[i] == 77.0f);
      }
      if (with_db) CHECK(worst(db.data(), dbr.data(), db.size(), 1e-4, 1e-5) <= 1.0);
      else CHECK(db[0] == 0.25f);
    }
  }
  nn::set_num_threads(1);
}

TEST_CASE("Winograd: a workspace reused for a grid of the same size but another shape gives the fresh results") {
  if (!nn::kernels::avx512_enabled()) NN_SKIP("nn's AVX-512 kernels are off here (no AVX-512, or NN_SIMD=portable)");
  // 12x12 input, 3x3: padding (0, 4) gives 14x10 outputs, (4, 0) 10x14; the tile grids are 4x3 and 3x4 tiles,
  // so the padded grids hold as many floats but place the input's pixels differently
  nn::kernels::ConvPoolWorkspace<float> shared;
  for (int pass = 0; pass < 3; ++pass) {
    Conv2DGeom g;
    g.N = 2, g.C = 16, g.OC = 16, g.H = g.W = 12, g.KH = g.KW = 3;
    const bool tall = pass != 1;
    g.PT = 0, g.PB = tall ? 4 : 0, g.PL = 0, g.PR = tall ? 0 : 4;
    g.infer_output();
    Pool2DGeom pg;
    pg.N = g.N, pg.C = g.OC, pg.H = g.OH, pg.W = g.OW;
    pg.infer_output();
    REQUIRE(winograd_runs(g, pg));
    auto x = randn<float>({g.N, g.C, g.H, g.W}, 11 + pass);
    auto w = randn<float>({g.OC, g.C, 3, 3}, 12, 0.1);
    auto b = randn<float>({g.OC}, 13);
    nn::Epilogue<float> ep;
    ep.relu = true;
    Tensor<float> y1({g.N, g.OC, pg.OH, pg.OW}), y2(y1.shape());
    nn::kernels::ConvPoolWorkspace<float> fresh;
    nn::kernels::conv2d_forward_maxpool(x.data(), w.data(), b.data(), y1.data(), static_cast<std::int32_t*>(nullptr), g,
                                        pg, fresh, ep);
    nn::kernels::conv2d_forward_maxpool(x.data(), w.data(), b.data(), y2.data(), static_cast<std::int32_t*>(nullptr), g,
                                        pg, shared, ep);
    INFO("pass " << pass);
    CHECK(std::memcmp(y1.data(), y2.data(), static_cast<std::size_t>(y1.size()) * sizeof(float)) == 0);
  }
}
