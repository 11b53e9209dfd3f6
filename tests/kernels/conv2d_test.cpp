#include "../support/naive.hpp"
#include "../support/test_util.hpp"

using namespace testutil;
using nn::kernels::Conv2DGeom;

namespace {
Conv2DGeom random_geom(nn::Rng& r) {
  Conv2DGeom g;
  g.N = 1 + Index(r.below(4));
  g.C = 1 + Index(r.below(5));
  g.OC = 1 + Index(r.below(6));
  g.KH = 1 + Index(r.below(4));
  g.KW = 1 + Index(r.below(4));
  g.SH = 1 + Index(r.below(3));
  g.SW = 1 + Index(r.below(3));
  g.DH = 1 + Index(r.below(2));
  g.DW = 1 + Index(r.below(2));
  g.PT = Index(r.below(3));
  g.PB = Index(r.below(3));
  g.PL = Index(r.below(3));
  g.PR = Index(r.below(3));
  g.H = g.DH * (g.KH - 1) + 1 + Index(r.below(9));
  g.W = g.DW * (g.KW - 1) + 1 + Index(r.below(9));
  g.infer_output();
  return g;
}
}  // namespace

TEST_CASE_TEMPLATE("conv2d forward and backward match the direct reference", T, float, double) {
  const double tol = std::is_same<T, float>::value ? 2e-4 : 1e-11;
  nn::Rng rng(5);
  for (int threads : {1, 2}) {
    nn::set_num_threads(threads);
    for (int trial = 0; trial < 30; ++trial) {
      const Conv2DGeom g = random_geom(rng);
      INFO("threads " << threads << " trial " << trial << " N" << g.N << " C" << g.C << " " << g.H << "x" << g.W
                      << " OC" << g.OC << " K" << g.KH << "x" << g.KW << " S" << g.SH << "x" << g.SW << " P" << g.PT
                      << "," << g.PB << "," << g.PL << "," << g.PR << " D" << g.DH << "x" << g.DW);
      auto x = randn<T>({g.N, g.C, g.H, g.W}, rng());
      auto w = randn<T>({g.OC, g.C, g.KH, g.KW}, rng());
      auto b = randn<T>({g.OC}, rng());
      auto dy = randn<T>({g.N, g.OC, g.OH, g.OW}, rng());
      const bool bias = trial % 4 != 0;
      Tensor<T> y({g.N, g.OC, g.OH, g.OW}), yr({g.N, g.OC, g.OH, g.OW});
      nn::kernels::ConvWorkspace<T> ws;
      // im2col in chunks of output rows: one row, a few rows, or all at once
      ws.chunk_elems = trial % 3 == 0 ? 1 : trial % 3 == 1 ? 2 * g.col_rows() * g.OW + 1 : ws.chunk_elems;
      CAPTURE(nn::kernels::conv_chunk_rows(g, ws.chunk_elems));
      nn::kernels::conv2d_forward(x.data(), w.data(), bias ? b.data() : nullptr, y.data(), g, ws);
      naive::conv2d_forward(x.data(), w.data(), bias ? b.data() : nullptr, yr.data(), g);
      CHECK(worst(y.data(), yr.data(), y.size(), tol, tol) <= 1.0);

      Tensor<T> dx(x.shape()), dxr(x.shape()), dw(w.shape(), T(0.5)), dwr(w.shape(), T(0.5)), db({g.OC}, T(1)),
          dbr({g.OC}, T(1));  // grads start non-zero: they must accumulate
      nn::kernels::conv2d_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), g, ws);
      naive::conv2d_backward(x.data(), w.data(), dy.data(), dxr.data(), dwr.data(), dbr.data(), g);
      CHECK(worst(dx.data(), dxr.data(), dx.size(), tol, tol) <= 1.0);
      CHECK(worst(dw.data(), dwr.data(), dw.size(), tol * 10, tol) <= 1.0);
      CHECK(worst(db.data(), dbr.data(), db.size(), tol * 10, tol) <= 1.0);
      Tensor<T> dx2(x.shape(), T(7));  // the input gradient alone (a transposed conv's forward): overwritten
      nn::kernels::conv2d_backward_data(w.data(), dy.data(), dx2.data(), g, ws);
      CHECK(worst(dx2.data(), dxr.data(), dx2.size(), tol, tol) <= 1.0);
    }
  }
  nn::set_num_threads(1);
}

TEST_CASE("conv2d forward epilogue: per-channel affine and ReLU equal the separate passes") {
  nn::Rng rng(8);
  for (int threads : {1, 2}) {
    nn::set_num_threads(threads);
    for (int trial = 0; trial < 12; ++trial) {
      const Conv2DGeom g = random_geom(rng);
      auto x = randn<float>({g.N, g.C, g.H, g.W}, rng());
      auto w = randn<float>({g.OC, g.C, g.KH, g.KW}, rng());
      auto b = randn<float>({g.OC}, rng());
      auto scale = randn<float>({g.OC}, rng());
      auto shift = randn<float>({g.OC}, rng());
      const bool bias = trial % 2 == 0, use_scale = trial % 3 != 0, use_shift = trial % 4 != 1, relu = trial % 5 != 2;
      INFO("trial " << trial << " bias " << bias << " scale " << use_scale << " shift " << use_shift << " relu " << relu);
      Tensor<float> y({g.N, g.OC, g.OH, g.OW}), yr({g.N, g.OC, g.OH, g.OW});
      naive::conv2d_forward(x.data(), w.data(), bias ? b.data() : nullptr, yr.data(), g);
      const Index P = g.OH * g.OW;
      for (Index i = 0; i < yr.size(); ++i) {
        const Index o = (i / P) % g.OC;
        float v = yr[i] * (use_scale ? scale[o] : 1.0f) + (use_shift ? shift[o] : 0.0f);
        yr[i] = relu ? std::max(v, 0.0f) : v;
      }
      nn::Epilogue<float> ep;
      ep.scale = use_scale ? scale.data() : nullptr;
      ep.shift = use_shift ? shift.data() : nullptr;
      ep.relu = relu;
      nn::kernels::ConvWorkspace<float> ws;
      if (trial % 2) ws.chunk_elems = 1;  // one output row per chunk
      nn::kernels::conv2d_forward(x.data(), w.data(), bias ? b.data() : nullptr, y.data(), g, ws, ep);
      CHECK(worst(y.data(), yr.data(), y.size(), 2e-4, 2e-4) <= 1.0);
    }
  }
  nn::set_num_threads(1);
}

TEST_CASE("direct conv (stride 1): forward, input and weight gradients match the reference, and the im2col path") {
  using nn::kernels::ConvAlgorithm;
  if (!nn::kernels::avx512_enabled())
    MESSAGE("nn's AVX-512 kernels are off here: the direct kernel is not used here, only im2col is checked");
  nn::Rng rng(21);
  for (int threads : {1, 2}) {
    nn::set_num_threads(threads);
    for (int trial = 0; trial < 24; ++trial) {
      Conv2DGeom g;
      g.N = 1 + Index(rng.below(3));
      g.C = 1 + Index(rng.below(trial % 3 == 0 ? 20 : 5));
      g.OC = 1 + Index(rng.below(trial % 2 ? 19 : 9));  // not always a multiple of 8
      g.KH = 1 + Index(rng.below(5)), g.KW = 1 + Index(rng.below(5));
      g.PT = Index(rng.below(4)), g.PB = Index(rng.below(4)), g.PL = Index(rng.below(4)), g.PR = Index(rng.below(4));
      g.H = g.KH + Index(rng.below(trial % 4 == 0 ? 60 : 12));  // wide enough for several 48-pixel tiles
      g.W = g.KW + Index(rng.below(trial % 4 == 1 ? 70 : 12));
      if (trial == 5)  // W1's second conv: direct weight gradient, input gradient by im2col (too much padding)
        g.C = 3, g.H = g.W = 12, g.OC = 5, g.KH = g.KW = 5, g.PT = g.PB = g.PL = g.PR = 0;
      g.infer_output();
      if (trial == 5 && nn::kernels::avx512_enabled()) {
        const auto c = nn::kernels::choose_conv<float>(g);
        CHECK(c.weight_grad == nn::kernels::ConvKernel::Direct);
        CHECK(c.input_grad == nn::kernels::ConvInputGrad::Im2colOwn);
      }
      INFO("threads " << threads << " trial " << trial << " N" << g.N << " C" << g.C << " " << g.H << "x" << g.W
                      << " OC" << g.OC << " K" << g.KH << "x" << g.KW << " P" << g.PT << "," << g.PB << "," << g.PL
                      << "," << g.PR);
      if (nn::kernels::avx512_enabled() && !(g.KH == 1 && g.KW == 1 && g.PT + g.PB + g.PL + g.PR == 0))
        CHECK(nn::kernels::choose_conv<float>(g).weight_grad == nn::kernels::ConvKernel::Direct);
      auto x = randn<float>({g.N, g.C, g.H, g.W}, rng());
      auto w = randn<float>({g.OC, g.C, g.KH, g.KW}, rng());
      auto b = randn<float>({g.OC}, rng());
      auto dy = randn<float>({g.N, g.OC, g.OH, g.OW}, rng());
      const Tensor<double> xd = to_double(x), wd = to_double(w), bd = to_double(b), dyd = to_double(dy);
      Tensor<double> yr({g.N, g.OC, g.OH, g.OW}), dxr(xd.shape()), dwr(wd.shape()), dbr(bd.shape());
      naive::conv2d_forward(xd.data(), wd.data(), bd.data(), yr.data(), g);
      naive::conv2d_backward(xd.data(), wd.data(), dyd.data(), dxr.data(), dwr.data(), dbr.data(), g);
      for (ConvAlgorithm algo : {ConvAlgorithm::Auto, ConvAlgorithm::Im2col}) {
        nn::kernels::set_conv_algorithm(algo);
        CAPTURE(int(algo));
        Tensor<float> y({g.N, g.OC, g.OH, g.OW}), dx(x.shape()), dw(w.shape()), db(b.shape());
        nn::kernels::ConvWorkspace<float> ws;
        nn::kernels::conv2d_forward(x.data(), w.data(), b.data(), y.data(), g, ws);
        CHECK(worst(y.data(), yr.data(), y.size(), 1e-4, 1e-4) <= 1.0);
        dx.fill(123.0f);  // must be overwritten
        nn::kernels::conv2d_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), g, ws);
        CHECK(worst(dx.data(), dxr.data(), dx.size(), 1e-4, 1e-4) <= 1.0);
        CHECK(worst(dw.data(), dwr.data(), dw.size(), 1e-3, 1e-4) <= 1.0);
        CHECK(worst(db.data(), dbr.data(), db.size(), 1e-3, 1e-4) <= 1.0);
        // without the input gradient (a model's first layer): weight gradient only
        Tensor<float> dw2(w.shape()), db2(b.shape());
        nn::kernels::conv2d_backward(x.data(), w.data(), dy.data(), static_cast<float*>(nullptr), dw2.data(),
                                     db2.data(), g, ws);
        CHECK(worst(dw2.data(), dwr.data(), dw2.size(), 1e-3, 1e-4) <= 1.0);
        CHECK(worst(db2.data(), dbr.data(), db2.size(), 1e-3, 1e-4) <= 1.0);
        Tensor<float> dx3(x.shape(), 5.0f);  // the input gradient alone, by the same choice of kernel
        nn::kernels::conv2d_backward_data(w.data(), dy.data(), dx3.data(), g, ws);
        CHECK(worst(dx3.data(), dxr.data(), dx3.size(), 1e-4, 1e-4) <= 1.0);
      }
      nn::kernels::set_conv_algorithm(ConvAlgorithm::Auto);
    }
  }
  nn::set_num_threads(1);
}

TEST_CASE("direct weight gradient: several samples per kernel call on small maps, any remainder") {
  // Groups of ceil(N / 16) samples, taken up to direct_dw_samples (4 on 8x8
  // outputs) at a time: N = 37 gives groups of 3 (one short call), N = 70
  // groups of 5 (a call of 4 and one of 1).
  nn::Rng rng(33);
  for (Index N : {Index(37), Index(70)})
    for (int threads : {1, 2}) {
      nn::set_num_threads(threads);
      Conv2DGeom g;
      g.N = N, g.C = 3, g.H = g.W = 12, g.OC = 40, g.KH = g.KW = 5;  // OC: 32 + a padded block
      g.infer_output();
      CHECK(nn::kernels::detail::direct_dw_samples(g) == 4);
      INFO("N " << N << " threads " << threads);
      auto x = randn<float>({g.N, g.C, g.H, g.W}, rng());
      auto w = randn<float>({g.OC, g.C, g.KH, g.KW}, rng());
      auto dy = randn<float>({g.N, g.OC, g.OH, g.OW}, rng());
      const Tensor<double> xd = to_double(x), wd = to_double(w), dyd = to_double(dy);
      Tensor<double> dxr(xd.shape()), dwr(wd.shape()), dbr({g.OC});
      naive::conv2d_backward(xd.data(), wd.data(), dyd.data(), dxr.data(), dwr.data(), dbr.data(), g);
      Tensor<float> dw(w.shape()), db({g.OC});
      nn::kernels::ConvWorkspace<float> ws;
      nn::kernels::conv2d_backward(x.data(), w.data(), dy.data(), static_cast<float*>(nullptr), dw.data(), db.data(),
                                   g, ws);
      CHECK(worst(dw.data(), dwr.data(), dw.size(), 1e-3, 1e-4) <= 1.0);
      CHECK(worst(db.data(), dbr.data(), db.size(), 1e-3, 1e-4) <= 1.0);
    }
  nn::set_num_threads(1);
}

TEST_CASE("conv2d geometry rejects impossible shapes") {
  Conv2DGeom g;
  g.C = 1, g.H = 2, g.W = 2, g.OC = 1, g.KH = 3, g.KW = 3;
  CHECK_THROWS_WITH_AS(g.infer_output(), doctest::Contains("smaller than the dilated kernel"), std::invalid_argument);
  g.KH = 0;
  CHECK_THROWS_AS(g.infer_output(), std::invalid_argument);
}

TEST_CASE("build_info names the convolution algorithm in use") {
  using nn::kernels::ConvAlgorithm;
  nn::kernels::set_conv_algorithm(ConvAlgorithm::Im2col);
  CHECK(nn::build_info().find("| conv: im2col |") != std::string::npos);
  nn::kernels::set_conv_algorithm(ConvAlgorithm::Direct);
  const bool direct = nn::build_info().find("| conv: direct AVX-512 (stride 1) + im2col |") != std::string::npos;
  CHECK(direct == nn::kernels::avx512_enabled());
  nn::kernels::set_conv_algorithm(ConvAlgorithm::Auto);
  const bool wino = nn::build_info().find("| conv: Winograd 3x3/5x5+pool, direct AVX-512") != std::string::npos;
  CHECK(wino == nn::kernels::avx512_enabled());
}

TEST_CASE("direct::transpose16 and direct::transpose move every element and touch nothing else") {
  if (!nn::kernels::avx512_enabled()) NN_SKIP("nn's AVX-512 kernels are off here (no AVX-512, or NN_SIMD=portable)");
  const Index lds = 19, ldd = 23;
  std::vector<float> src(16 * lds), dst(16 * ldd + 7, -1.0f);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = float(i);
  nn::kernels::direct::transpose16(src.data(), lds, dst.data(), ldd);
  int wrong = 0;
  for (Index i = 0; i < static_cast<Index>(dst.size()); ++i) {
    const Index r = i / ldd, c = i % ldd;
    const float want = r < 16 && c < 16 ? src[static_cast<std::size_t>(c * lds + r)] : -1.0f;
    wrong += dst[static_cast<std::size_t>(i)] != want;
  }
  CHECK(wrong == 0);

  // direct::transpose: whole blocks and ragged edges (37 x 21), strided both sides
  const Index rows = 37, cols = 21, ls = 25, ld = 40;
  std::vector<float> a(static_cast<std::size_t>(rows * ls)), t(static_cast<std::size_t>(cols * ld), -1.0f);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = float(i);
  nn::kernels::direct::transpose(a.data(), rows, cols, ls, t.data(), ld);
  wrong = 0;
  for (Index c = 0; c < cols; ++c)
    for (Index r = 0; r < ld; ++r)
      wrong += t[static_cast<std::size_t>(c * ld + r)] != (r < rows ? a[static_cast<std::size_t>(r * ls + c)] : -1.0f);
  CHECK(wrong == 0);
}
