// The fused convolution + epilogue + max pool (nn/kernels/conv2d_pool.hpp)
// against the unfused kernels in a row: the same pooled output and argmax,
// the same weight and bias gradients bit for bit (C < 16: never Winograd).
#include "../support/test_util.hpp"

using namespace testutil;
using nn::kernels::Conv2DGeom;
using nn::kernels::Pool2DGeom;

namespace {
template <class T>
bool same_bits(const T* a, const T* b, Index n) {
  return std::memcmp(a, b, static_cast<std::size_t>(n) * sizeof(T)) == 0;
}
}  // namespace

TEST_CASE_TEMPLATE("conv2d + ReLU + max pool fused equals the three kernels in a row", T, float, double) {
  using nn::kernels::ConvAlgorithm;
  nn::Rng rng(57);
  for (int threads : {1, 2}) {
    nn::set_num_threads(threads);
    for (int trial = 0; trial < 16; ++trial) {
      Conv2DGeom g;
      g.N = 1 + Index(rng.below(trial % 4 == 0 ? 40 : 4));  // several samples per weight-gradient call
      g.C = 1 + Index(rng.below(4));
      g.OC = 1 + Index(rng.below(trial % 2 ? 40 : 12));  // channel blocks of 8 with a tail
      g.KH = 1 + Index(rng.below(5)), g.KW = 1 + Index(rng.below(5));
      g.PT = g.PB = Index(rng.below(2)), g.PL = g.PR = Index(rng.below(2));
      g.H = g.KH + 1 + Index(rng.below(trial % 3 == 0 ? 30 : 12));
      g.W = g.KW + 1 + Index(rng.below(trial % 3 == 0 ? 30 : 12));
      if (trial == 1)  // W1's first layer, on fewer samples
        g.N = 5, g.C = 1, g.OC = 32, g.KH = g.KW = 5, g.PT = g.PB = g.PL = g.PR = 0, g.H = g.W = 28;
      g.infer_output();
      Pool2DGeom pg;
      pg.C = g.OC, pg.H = g.OH, pg.W = g.OW;
      if (trial % 4 == 3 && g.OH >= 3 && g.OW >= 3) pg.KH = pg.KW = 3, pg.SH = pg.SW = 2;  // overlapping windows
      pg.infer_output();
      const bool relu = trial % 5 != 4, with_dx = trial % 3 == 2, im2col = trial % 7 == 6;
      INFO("threads " << threads << " trial " << trial << " N" << g.N << " C" << g.C << " " << g.H << "x" << g.W
                      << " OC" << g.OC << " K" << g.KH << "x" << g.KW << " pool " << pg.KH << " relu " << relu
                      << " dx " << with_dx << " im2col " << im2col);
      nn::kernels::set_conv_algorithm(im2col ? ConvAlgorithm::Im2col : ConvAlgorithm::Auto);
      auto x = randn<T>({g.N, g.C, g.H, g.W}, rng());
      auto w = randn<T>({g.OC, g.C, g.KH, g.KW}, rng());
      auto b = randn<T>({g.OC}, rng());
      nn::Epilogue<T> ep;
      ep.relu = relu;

      // unfused: conv (+ReLU epilogue), pool, then pool backward (ReLU folded) and conv backward
      nn::kernels::ConvWorkspace<T> ws;
      Tensor<T> y({g.N, g.OC, g.OH, g.OW}), yp({g.N, g.OC, pg.OH, pg.OW});
      std::vector<std::int32_t> arg(static_cast<std::size_t>(yp.size()));
      nn::kernels::conv2d_forward(x.data(), w.data(), b.data(), y.data(), g, ws, ep);
      pg.N = g.N;
      nn::kernels::maxpool2d_forward(y.data(), yp.data(), arg.data(), pg);
      auto dyp = randn<T>(yp.shape(), rng());
      Tensor<T> dy(y.shape()), dx(x.shape()), dw(w.shape()), db(b.shape());
      dw.fill(T(0.5)), db.fill(T(0.25));  // gradients accumulate
      nn::kernels::maxpool2d_backward(dyp.data(), arg.data(), dy.data(), pg, relu ? yp.data() : nullptr);
      nn::kernels::conv2d_backward(x.data(), w.data(), dy.data(), with_dx ? dx.data() : nullptr, dw.data(), db.data(),
                                   g, ws);

      // fused (pg.N is ignored: another value must not matter)
      pg.N = 999;
      nn::kernels::ConvPoolWorkspace<T> fws;
      Tensor<T> yp2(yp.shape()), dx2(x.shape()), dw2(w.shape()), db2(b.shape());
      std::vector<std::int32_t> arg2(arg.size(), -7);
      yp2.fill(T(-123));
      dx2.fill(T(77)), dw2.fill(T(0.5)), db2.fill(T(0.25));
      nn::kernels::conv2d_forward_maxpool(x.data(), w.data(), b.data(), yp2.data(), arg2.data(), g, pg, fws, ep);
      CHECK(same_bits(yp2.data(), yp.data(), yp.size()));
      CHECK(arg2 == arg);
      nn::kernels::conv2d_backward_maxpool(x.data(), w.data(), dyp.data(), arg2.data(), relu ? yp2.data() : nullptr,
                                           with_dx ? dx2.data() : static_cast<T*>(nullptr), dw2.data(), db2.data(), g,
                                           pg, fws);
      CHECK(same_bits(dw2.data(), dw.data(), dw.size()));
      CHECK(same_bits(db2.data(), db.data(), db.size()));
      if (with_dx) CHECK(same_bits(dx2.data(), dx.data(), dx.size()));

      // inference: no argmax, the same pooled output
      Tensor<T> yp3(yp.shape());
      nn::kernels::conv2d_forward_maxpool(x.data(), w.data(), b.data(), yp3.data(), static_cast<std::int32_t*>(nullptr),
                                          g, pg, fws, ep);
      CHECK(same_bits(yp3.data(), yp.data(), yp.size()));
    }
  }
  nn::kernels::set_conv_algorithm(ConvAlgorithm::Auto);
  nn::set_num_threads(1);
}

TEST_CASE("the fused forward and weight gradient take the direct path where it runs") {
  if (!nn::kernels::avx512_enabled()) NN_SKIP("nn's AVX-512 kernels are off here (no AVX-512, or NN_SIMD=portable)");
  Conv2DGeom g;  // W1's first layer
  g.N = 64, g.C = 1, g.H = g.W = 28, g.OC = 32, g.KH = g.KW = 5;
  g.infer_output();
  namespace k = nn::kernels;
  const auto pool_of = [](const Conv2DGeom& c) {
    Pool2DGeom p;
    p.N = c.N, p.C = c.OC, p.H = c.OH, p.W = c.OW;
    p.infer_output();
    return p;
  };
  Pool2DGeom pg = pool_of(g);
  auto c = k::choose_conv<float>(g, &pg, false);  // one input channel: no Winograd
  CHECK(c.pool_forward == k::ConvKernel::Direct);
  CHECK(c.pool_backward == k::ConvKernel::Direct);
  CHECK(k::choose_conv<float>(g, &pg, true).pool_backward == k::ConvKernel::Unfused);  // dx needs the dense gradient
  g.C = 32, g.H = g.W = 12, g.OC = 64;  // W1's second: Winograd
  g.infer_output();
  pg = pool_of(g);
  c = k::choose_conv<float>(g, &pg, true);
  CHECK(c.pool_forward == k::ConvKernel::Winograd);
  CHECK(c.pool_backward == k::ConvKernel::Winograd);
  CHECK(c.forward == k::ConvKernel::Channels);  // alone, the channel-lane forward (small map)
  k::set_conv_algorithm(k::ConvAlgorithm::Direct);  // no Winograd; the channel-lane forward does not pool in place
  c = k::choose_conv<float>(g, &pg, true);
  CHECK(c.pool_forward == k::ConvKernel::Unfused);
  CHECK(c.str(true) == "forward channel-blocked + pool; dW direct; dX im2col (own gemm + gather)");
  k::set_conv_algorithm(k::ConvAlgorithm::Auto);
}
