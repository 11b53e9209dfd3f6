// The input-gradient kernels against short naive references: the small GEMM
// (nn/kernels/gemm_small.hpp), the gathering col2im
// (nn/kernels/conv2d_input_grad.hpp), and the whole input gradient of
// conv2d_backward on the geometries that use them.
#include "../support/naive.hpp"
#include "../support/test_util.hpp"

using namespace testutil;
using nn::kernels::Conv2DGeom;
namespace ig = nn::kernels::input_grad;
namespace small = nn::kernels::small;

TEST_CASE("small::gemm equals the naive product for every tile shape, tail and leading dimension") {
  if (!nn::kernels::avx512_enabled()) NN_SKIP("nn's AVX-512 kernels are off here (no AVX-512, or NN_SIMD=portable)");
  nn::Rng rng(31);
  // columns around the 16-lane vectors and 64-column tiles; rows around the tile heights 6, 8, 12
  for (Index N : {1, 7, 16, 17, 40, 48, 63, 64, 65, 100, 130}) {
    for (Index M : {1, 5, 6, 13, 25, 800}) {
      const Index K = 1 + Index(rng.below(40)), ldb = N + Index(rng.below(3)), ldc = N + Index(rng.below(3));
      INFO("M " << M << " N " << N << " K " << K << " ldb " << ldb << " ldc " << ldc);
      // A is given transposed (K, M), as the convolution's weights are
      auto At = randn<float>({K, M}, rng());
      auto B = randn<float>({K, ldb}, rng());
      std::vector<float> Ap;
      small::pad_rows_transposed(At.data(), K, M, Ap);
      REQUIRE(static_cast<Index>(Ap.size()) == small::padded_rows(M) * K);
      REQUIRE(small::padded_rows(M) % small::kRowPad == 0);
      // C sits in a buffer with guard values around it and between its rows
      constexpr float guard = -7.0f;
      std::vector<float> C(static_cast<std::size_t>(M * ldc + 32), guard);
      small::gemm(Ap.data(), M, K, B.data(), ldb, N, C.data() + 16, ldc);
      double bad = 0;
      Index overwritten = 0;
      for (Index i = 0; i < static_cast<Index>(C.size()); ++i) {
        const Index j = i - 16, m = j / ldc, n = j % ldc;
        if (j < 0 || m >= M || n >= N) {
          overwritten += C[static_cast<std::size_t>(i)] != guard;
          continue;
        }
        double ref = 0;
        for (Index k = 0; k < K; ++k) ref += double(At[k * M + m]) * double(B[k * ldb + n]);
        bad = std::max(bad, std::abs(C[static_cast<std::size_t>(i)] - ref) / (1e-4 + 1e-4 * std::abs(ref)));
      }
      CHECK(bad <= 1.0);
      CHECK(overwritten == 0);
    }
  }
}

TEST_CASE("input_grad::col2im_gather adds the same as the scatter col2im, for any rows, stride, padding, dilation") {
  if (!nn::kernels::avx512_enabled()) NN_SKIP("nn's AVX-512 kernels are off here (no AVX-512, or NN_SIMD=portable)");
  nn::Rng rng(32);
  for (int trial = 0; trial < 200; ++trial) {
    Conv2DGeom g;
    g.C = 1 + Index(rng.below(3));
    g.KH = 1 + Index(rng.below(5)), g.KW = 1 + Index(rng.below(5));
    g.SH = 1 + Index(rng.below(3)), g.SW = 1;
    g.DH = 1 + Index(rng.below(2)), g.DW = 1 + Index(rng.below(2));
    g.PT = Index(rng.below(4)), g.PB = Index(rng.below(4)), g.PL = Index(rng.below(4)), g.PR = Index(rng.below(4));
    g.H = g.DH * (g.KH - 1) + 1 + Index(rng.below(10));
    g.W = g.DW * (g.KW - 1) + 1 + Index(rng.below(trial % 3 == 0 ? 40 : 12));  // several 16-wide pieces
    g.infer_output();
    const Index oh0 = Index(rng.below(static_cast<std::uint64_t>(g.OH)));
    const Index oh1 = oh0 + 1 + Index(rng.below(static_cast<std::uint64_t>(g.OH - oh0)));
    INFO("trial " << trial << " C" << g.C << " " << g.H << "x" << g.W << " K" << g.KH << "x" << g.KW << " SH" << g.SH
                  << " D" << g.DH << "x" << g.DW << " P" << g.PT << "," << g.PB << "," << g.PL << "," << g.PR
                  << " rows " << oh0 << ".." << oh1);
    auto col = randn<float>({g.col_rows(), (oh1 - oh0) * g.OW}, rng());
    auto start = randn<float>({g.C, g.H, g.W}, rng());  // both add into the same values
    Tensor<float> a = start.clone(), b = start.clone();
    nn::kernels::col2im(col.data(), g, a.data(), oh0, oh1);
    ig::col2im_gather(col.data(), g, b.data(), oh0, oh1);
    CHECK(worst(b.data(), a.data(), a.size(), 1e-5, 1e-5) <= 1.0);
  }
}

TEST_CASE("conv2d_backward's input gradient by nn's columns matches the double reference") {
  if (!nn::kernels::avx512_enabled()) NN_SKIP("nn's AVX-512 kernels are off here (no AVX-512, or NN_SIMD=portable)");
  nn::Rng rng(33);
  for (int threads : {1, 2}) {
    nn::set_num_threads(threads);
    for (int trial = 0; trial < 12; ++trial) {
      Conv2DGeom g;
      g.N = 1 + Index(rng.below(4));
      switch (trial % 4) {
        case 0:  // W1's second convolution, fewer channels
          g.C = 6, g.H = g.W = 12, g.OC = 10, g.KH = g.KW = 5;
          break;
        case 1:  // stride 2: the direct kernels do not apply
          g.C = 3, g.H = 15, g.W = 21, g.OC = 7, g.KH = g.KW = 3, g.SH = g.SW = 2, g.PT = g.PB = g.PL = g.PR = 1;
          break;
        case 2:  // stride 2 down only, dilation 2, a map wider than 16 and more than 64 pixels per sample
          g.C = 2, g.H = 17, g.W = 37, g.OC = 9, g.KH = 3, g.KW = 4, g.SH = 2, g.DH = g.DW = 2, g.PT = 2, g.PL = 3;
          break;
        default:  // a 1x1 convolution
          g.C = 5, g.H = 9, g.W = 11, g.OC = 3, g.KH = g.KW = 1;
          break;
      }
      g.infer_output();
      INFO("threads " << threads << " trial " << trial);
      CHECK(nn::kernels::choose_conv<float>(g).input_grad == nn::kernels::ConvInputGrad::Im2colOwn);
      auto x = randn<float>({g.N, g.C, g.H, g.W}, rng());
      auto w = randn<float>({g.OC, g.C, g.KH, g.KW}, rng());
      auto dy = randn<float>({g.N, g.OC, g.OH, g.OW}, rng());
      const Tensor<double> xd = to_double(x), wd = to_double(w), dyd = to_double(dy);
      Tensor<double> dxr(xd.shape()), dwr(wd.shape()), dbr({g.OC});
      naive::conv2d_backward(xd.data(), wd.data(), dyd.data(), dxr.data(), dwr.data(), dbr.data(), g);
      Tensor<float> dx(x.shape(), 99.0f), dw(w.shape()), db({g.OC});  // dx must be overwritten
      nn::kernels::ConvWorkspace<float> ws;
      if (trial % 3 == 2) ws.chunk_elems = 1;  // one output row per column chunk
      nn::kernels::conv2d_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), g, ws);
      CHECK(worst(dx.data(), dxr.data(), dx.size(), 1e-4, 1e-4) <= 1.0);
      CHECK(worst(dw.data(), dwr.data(), dw.size(), 1e-3, 1e-4) <= 1.0);
      CHECK(worst(db.data(), dbr.data(), db.size(), 1e-3, 1e-4) <= 1.0);
    }
  }
  nn::set_num_threads(1);
}
