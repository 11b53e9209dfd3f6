// Run-time dispatch (nn/kernels/cpu.hpp): forcing the portable path switches
// off every AVX-512 kernel, and a model gives the same results on both paths
// up to float rounding. ctest also runs the whole suite with NN_SIMD=portable
// (nn_tests_portable), which is what a CPU without AVX-512 runs.
#include "../support/test_util.hpp"

using namespace testutil;
namespace k = nn::kernels;

TEST_CASE("Simd::Portable turns off every AVX-512 kernel choice") {
  SimdGuard guard;
  k::set_simd(k::Simd::Portable);
  CHECK_FALSE(k::avx512_enabled());
  CHECK_FALSE(k::vnni_enabled());  // the int8 and bf16 kernels too
  CHECK_FALSE(k::bf16_enabled());
  k::Conv2DGeom g;
  g.N = 8, g.C = 16, g.H = g.W = 12, g.OC = 32, g.KH = g.KW = 3;
  g.infer_output();
  k::Pool2DGeom pg;
  pg.C = g.OC, pg.H = g.OH, pg.W = g.OW;
  pg.infer_output();
  CHECK(k::choose_conv<float>(g, &pg, false) == k::choose_conv<double>(g, &pg, false));  // the reference kernels
  CHECK(k::choose_conv<float>(g).forward == k::ConvKernel::Im2col);
  CHECK_FALSE(k::detail::use_packed<float>(512, 512, 512));
  CHECK(nn::build_info().find("nn kernels: portable") != std::string::npos);

  k::set_simd(k::Simd::Auto);
  CHECK(k::avx512_enabled() == k::cpu_has_avx512());
  CHECK(k::vnni_enabled() == k::cpu_has_avx512_vnni());
  CHECK(k::bf16_enabled() == k::cpu_has_avx512_bf16());
  CHECK((k::choose_conv<float>(g).weight_grad == k::ConvKernel::Direct) == k::cpu_has_avx512());
  CHECK((k::choose_conv<float>(g, &pg).pool_forward == k::ConvKernel::Winograd) == k::cpu_has_avx512());
  CHECK(k::detail::use_packed<float>(512, 512, 512) == k::cpu_has_avx512());
  CHECK((nn::build_info().find("nn kernels: AVX-512") != std::string::npos) == k::cpu_has_avx512());
}

TEST_CASE("a convnet's outputs and gradients agree on the AVX-512 and portable paths") {
  if (!k::cpu_has_avx512()) NN_SKIP("this CPU has no AVX-512: only the portable path exists here");
  SimdGuard guard;
  auto run = [](k::Simd s, std::vector<Tensor<float>>& grads) {
    k::set_simd(s);
    nn::Sequential<float> m(Shape{16, 14, 14}, 3);
    m.add<nn::Conv2D<float>>(32, 5, 1, nn::Padding::same());  // Winograd + pool on AVX-512
    m.add(nn::ReLU<float>());
    m.add(nn::MaxPool2D<float>(2));
    m.add<nn::Conv2D<float>>(16, 3);  // direct on AVX-512
    m.add(nn::ReLU<float>());
    m.add(nn::Flatten<float>());
    m.add(nn::Dense<float>(200));  // packed SGEMM for a batch of 128 on AVX-512
    m.add(nn::ReLU<float>());
    m.add(nn::Dense<float>(10));
    auto x = randn<float>({128, 16, 14, 14}, 5);
    Tensor<float> y = m.forward(x, true).clone();
    m.zero_grad();
    m.backward(randn<float>(y.shape(), 6));
    for (auto& p : m.parameters()) grads.push_back(p.grad->clone());
    return y;
  };
  std::vector<Tensor<float>> ga, gp;
  const Tensor<float> ya = run(k::Simd::Auto, ga), yp = run(k::Simd::Portable, gp);
  check_close(ya, yp, 1e-4, 1e-4, "output");
  for (std::size_t i = 0; i < ga.size(); ++i) check_close(ga[i], gp[i], 2e-3, 1e-3, "gradient " + std::to_string(i));
}
