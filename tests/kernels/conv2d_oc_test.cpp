// The forward kernel vectorized over output channels (nn/kernels/conv2d_oc.hpp)
// against the naive reference: the kernel itself on any stride, dilation and
// padding, and conv2d_forward on the small maps that choose it.
#include "../support/naive.hpp"
#include "../support/test_util.hpp"

using namespace testutil;
using nn::kernels::Conv2DGeom;

TEST_CASE("oc::forward_sample equals the naive convolution for any stride, dilation, padding and channel count") {
  if (!nn::kernels::avx512_enabled()) NN_SKIP("nn's AVX-512 kernels are off here (no AVX-512, or NN_SIMD=portable)");
  nn::Rng rng(41);
  for (int trial = 0; trial < 60; ++trial) {
    Conv2DGeom g;
    g.N = 1;
    g.C = 1 + Index(rng.below(trial % 4 == 0 ? 12 : 4));  // K past the 128-tap blocks sometimes
    g.OC = 1 + Index(rng.below(trial % 3 == 0 ? 70 : 20));  // every number of 16-channel vectors, with tails
    g.KH = 1 + Index(rng.below(5)), g.KW = 1 + Index(rng.below(5));
    g.SH = 1 + Index(rng.below(2)), g.SW = 1 + Index(rng.below(2));
    g.DH = 1 + Index(rng.below(2)), g.DW = 1 + Index(rng.below(2));
    g.PT = Index(rng.below(3)), g.PB = Index(rng.below(3)), g.PL = Index(rng.below(3)), g.PR = Index(rng.below(3));
    g.H = g.DH * (g.KH - 1) + 1 + Index(rng.below(10));
    g.W = g.DW * (g.KW - 1) + 1 + Index(rng.below(10));
    g.infer_output();
    const bool relu = trial % 2 == 1, use_scale = trial % 3 == 1, use_shift = trial % 5 != 0;
    INFO("trial " << trial << " C" << g.C << " " << g.H << "x" << g.W << " OC" << g.OC << " K" << g.KH << "x"
                  << g.KW << " S" << g.SH << "x" << g.SW << " D" << g.DH << "x" << g.DW << " P" << g.PT << ","
                  << g.PB << "," << g.PL << "," << g.PR << " relu " << relu << " scale " << use_scale << " shift "
                  << use_shift);
    auto x = randn<float>({1, g.C, g.H, g.W}, rng());
    auto w = randn<float>({g.OC, g.C, g.KH, g.KW}, rng());
    auto scale = randn<float>({g.OC}, rng());
    auto shift = randn<float>({g.OC}, rng());
    const Tensor<double> xd = to_double(x), wd = to_double(w);
    Tensor<double> yr({1, g.OC, g.OH, g.OW});
    naive::conv2d_forward(xd.data(), wd.data(), static_cast<const double*>(nullptr), yr.data(), g);
    const Index P = g.OH * g.OW;
    for (Index i = 0; i < yr.size(); ++i) {
      const Index o = i / P;
      const double v = yr[i] * (use_scale ? scale[o] : 1.0f) + (use_shift ? shift[o] : 0.0f);
      yr[i] = relu ? std::max(v, 0.0) : v;
    }
    const Index OCp = nn::kernels::oc::padded_channels(g.OC);
    std::vector<float> wv, sc(static_cast<std::size_t>(OCp)), sh(static_cast<std::size_t>(OCp));
    std::copy(scale.data(), scale.data() + g.OC, sc.begin());
    std::copy(shift.data(), shift.data() + g.OC, sh.begin());
    std::vector<Index> toff, poff;
    nn::kernels::oc::pack_weights(w.data(), g.OC, g.C * g.KH * g.KW, wv);
    nn::kernels::oc::offsets(g, toff, poff);
    const nn::kernels::direct::Plane pl = nn::kernels::detail::direct_plane(g);
    std::vector<float> xp(static_cast<std::size_t>(pl.padded_size())), yT(static_cast<std::size_t>(P * OCp));
    nn::kernels::direct::pad_sample(x.data(), pl, xp.data());
    Tensor<float> y({1, g.OC, g.OH, g.OW}, 1234.0f);  // every value overwritten
    nn::kernels::oc::forward_sample(xp.data(), toff, poff, wv.data(), g.OC, use_scale ? sc.data() : nullptr,
                                    use_shift ? sh.data() : nullptr, relu, yT.data(), y.data());
    CHECK(worst(y.data(), yr.data(), y.size(), 1e-4, 1e-4) <= 1.0);
  }
}

TEST_CASE("conv2d_forward on small maps (W1's second layer) takes the channel-vectorized kernel and matches the reference") {
  if (!nn::kernels::avx512_enabled()) NN_SKIP("nn's AVX-512 kernels are off here (no AVX-512, or NN_SIMD=portable)");
  nn::Rng rng(42);
  for (int threads : {1, 2}) {
    nn::set_num_threads(threads);
    for (int trial = 0; trial < 6; ++trial) {
      Conv2DGeom g;
      g.N = 1 + Index(rng.below(5));
      g.C = trial % 2 ? 6 : 32, g.H = g.W = 12, g.OC = trial % 3 == 0 ? 64 : 21, g.KH = g.KW = 5;
      if (trial == 5) g.H = 9, g.W = 7, g.KH = g.KW = 3, g.PT = g.PB = g.PL = g.PR = 1, g.C = 9;  // padded, 7 wide
      g.infer_output();
      INFO("threads " << threads << " trial " << trial << " N" << g.N << " C" << g.C << " OC" << g.OC);
      CHECK(nn::kernels::choose_conv<float>(g).forward == nn::kernels::ConvKernel::Channels);
      auto x = randn<float>({g.N, g.C, g.H, g.W}, rng());
      auto w = randn<float>({g.OC, g.C, g.KH, g.KW}, rng());
      auto b = randn<float>({g.OC}, rng());
      const Tensor<double> xd = to_double(x), wd = to_double(w), bd = to_double(b);
      Tensor<double> yr({g.N, g.OC, g.OH, g.OW});
      naive::conv2d_forward(xd.data(), wd.data(), bd.data(), yr.data(), g);
      nn::Epilogue<float> ep;
      ep.relu = trial % 2 == 0;
      if (ep.relu)
        for (Index i = 0; i < yr.size(); ++i) yr[i] = std::max(yr[i], 0.0);
      Tensor<float> y({g.N, g.OC, g.OH, g.OW});
      nn::kernels::ConvWorkspace<float> ws;
      nn::kernels::conv2d_forward(x.data(), w.data(), b.data(), y.data(), g, ws, ep);
      CHECK(worst(y.data(), yr.data(), y.size(), 1e-4, 1e-4) <= 1.0);
    }
  }
  nn::set_num_threads(1);
}
