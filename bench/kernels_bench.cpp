// Kernel benchmarks (Google Benchmark). Counters report GFLOP/s or GB/s.
//   ./nn_bench_kernels --benchmark_counters_tabular=true
// Threads: NN_THREADS=1|2 (default: OpenMP's default, all cores).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <nn/nn.hpp>

namespace {
using nn::Index;

void setup_threads() {
  if (const char* t = std::getenv("NN_THREADS")) nn::set_num_threads(std::atoi(t));
}

template <class T>
std::vector<T> random_vec(Index n, std::uint64_t seed) {
  nn::Rng r(seed);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<T>(r.normal());
  return v;
}

void BM_sgemm(benchmark::State& st) {
  setup_threads();
  const Index n = st.range(0);
  auto a = random_vec<float>(n * n, 1), b = random_vec<float>(n * n, 2), c = random_vec<float>(n * n, 3);
  for (auto _ : st) {
    nn::kernels::gemm<float>(false, false, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
    benchmark::ClobberMemory();
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(n) * double(n) * double(n), benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}
BENCHMARK(BM_sgemm)->Arg(256)->Arg(512)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();

// The conv workload: N=32, 64->64 channels, 56x56, 3x3, pad 1.
nn::kernels::Conv2DGeom conv_geom(Index N) {
  nn::kernels::Conv2DGeom g;
  g.N = N, g.C = 64, g.H = 56, g.W = 56, g.OC = 64, g.KH = 3, g.KW = 3;
  g.PT = g.PB = g.PL = g.PR = 1;
  g.infer_output();
  return g;
}
double conv_flops(const nn::kernels::Conv2DGeom& g) {
  return 2.0 * double(g.N * g.OC * g.OH * g.OW) * double(g.C * g.KH * g.KW);
}

void BM_conv2d_forward(benchmark::State& st) {
  setup_threads();
  const auto g = conv_geom(st.range(0));
  auto x = random_vec<float>(g.N * g.C * g.H * g.W, 1), w = random_vec<float>(g.OC * g.C * 9, 2);
  auto b = random_vec<float>(g.OC, 3);
  std::vector<float> y(static_cast<std::size_t>(g.N * g.OC * g.OH * g.OW));
  nn::kernels::ConvWorkspace<float> ws;
  for (auto _ : st) {
    nn::kernels::conv2d_forward(x.data(), w.data(), b.data(), y.data(), g, ws);
    benchmark::ClobberMemory();
  }
  st.counters["GFLOP/s"] = benchmark::Counter(conv_flops(g), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_conv2d_forward)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();

// forward + backward (data, weights, bias): 3x the forward FLOPs
void BM_conv2d_forward_backward(benchmark::State& st) {
  setup_threads();
  const auto g = conv_geom(st.range(0));
  auto x = random_vec<float>(g.N * g.C * g.H * g.W, 1), w = random_vec<float>(g.OC * g.C * 9, 2);
  auto b = random_vec<float>(g.OC, 3);
  std::vector<float> y(static_cast<std::size_t>(g.N * g.OC * g.OH * g.OW)), dx(x.size()), dw(w.size()), db(b.size());
  auto dy = random_vec<float>(Index(y.size()), 4);
  nn::kernels::ConvWorkspace<float> ws;
  for (auto _ : st) {
    nn::kernels::conv2d_forward(x.data(), w.data(), b.data(), y.data(), g, ws);
    nn::kernels::conv2d_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), g, ws);
    benchmark::ClobberMemory();
  }
  st.counters["GFLOP/s"] = benchmark::Counter(3 * conv_flops(g), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_conv2d_forward_backward)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();

// W1's second convolution (N=64, 32->64 channels, 12x12, 5x5, valid: 8x8
// outputs), the shape that takes the small-map kernels: part 0 the forward,
// 1 the backward without the input gradient (weights and bias), 2 the whole
// backward; the input gradient alone is 2's time minus 1's. 420 MFLOP per
// pass (forward, weight gradient, input gradient). Parts 3 and 4: W1's first
// convolution (1->32 channels, 28x28, 5x5: 24x24 outputs; 59 MFLOP per pass)
// forward, and backward (weight gradient only, as a first layer).
void BM_conv2d_w1(benchmark::State& st) {
  setup_threads();
  nn::kernels::Conv2DGeom g;
  g.N = 64, g.C = 32, g.H = g.W = 12, g.OC = 64, g.KH = g.KW = 5;
  if (st.range(0) >= 3) g.C = 1, g.H = g.W = 28, g.OC = 32;
  g.infer_output();
  auto x = random_vec<float>(g.N * g.C * g.H * g.W, 1), w = random_vec<float>(g.OC * g.C * 25, 2);
  auto b = random_vec<float>(g.OC, 3);
  std::vector<float> y(static_cast<std::size_t>(g.N * g.OC * g.OH * g.OW)), dx(x.size()), dw(w.size()), db(b.size());
  auto dy = random_vec<float>(Index(y.size()), 4);
  nn::kernels::ConvWorkspace<float> ws;
  const int part = static_cast<int>(st.range(0));
  for (auto _ : st) {
    if (part == 0 || part == 3)
      nn::kernels::conv2d_forward(x.data(), w.data(), b.data(), y.data(), g, ws);
    else
      nn::kernels::conv2d_backward(x.data(), w.data(), dy.data(), part == 2 ? dx.data() : nullptr, dw.data(), db.data(),
                                   g, ws);
    benchmark::ClobberMemory();
  }
  st.counters["GFLOP/s"] = benchmark::Counter((part == 2 ? 2 : 1) * conv_flops(g), benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}
BENCHMARK(BM_conv2d_w1)->ArgName("part")->Arg(0)->Arg(1)->Arg(2)->Arg(3)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

// W1's second layer as training runs it: Conv2D -> ReLU -> MaxPool2D fused
// (nn/kernels/conv2d_pool.hpp), forward (part 0) and backward with dx
// (part 1), by Winograd F(4x4, 5x5) (algo 0, ConvAlgorithm::Auto) or the
// direct kernels (algo 1, ConvAlgorithm::Direct), side by side. GFLOP/s
// counts the direct convolution's 420 MFLOP per pass (x2 for backward), so
// the two algorithms compare as effective rates.
void BM_conv2d_pool_w1(benchmark::State& st) {
  setup_threads();
  const int part = static_cast<int>(st.range(0));
  nn::kernels::set_conv_algorithm(st.range(1) == 0 ? nn::kernels::ConvAlgorithm::Auto
                                                    : nn::kernels::ConvAlgorithm::Direct);
  nn::kernels::Conv2DGeom g;
  g.N = 64, g.C = 32, g.H = g.W = 12, g.OC = 64, g.KH = g.KW = 5;
  g.infer_output();
  nn::kernels::Pool2DGeom pg;
  pg.N = g.N, pg.C = g.OC, pg.H = g.OH, pg.W = g.OW;
  pg.infer_output();
  auto x = random_vec<float>(g.N * g.C * g.H * g.W, 1), w = random_vec<float>(g.OC * g.C * 25, 2);
  for (auto& v : w) v *= 0.1f;
  auto b = random_vec<float>(g.OC, 3);
  std::vector<float> yp(static_cast<std::size_t>(g.N * g.OC * pg.OH * pg.OW)), dx(x.size()), dw(w.size()), db(b.size());
  std::vector<std::int32_t> arg(yp.size());
  auto dyp = random_vec<float>(Index(yp.size()), 4);
  nn::Epilogue<float> ep;
  ep.relu = true;
  nn::kernels::ConvPoolWorkspace<float> ws;
  nn::kernels::conv2d_forward_maxpool(x.data(), w.data(), b.data(), yp.data(), arg.data(), g, pg, ws, ep);
  for (auto _ : st) {
    if (part == 0)
      nn::kernels::conv2d_forward_maxpool(x.data(), w.data(), b.data(), yp.data(), arg.data(), g, pg, ws, ep);
    else
      nn::kernels::conv2d_backward_maxpool(x.data(), w.data(), dyp.data(), arg.data(), yp.data(), dx.data(), dw.data(),
                                           db.data(), g, pg, ws);
    benchmark::ClobberMemory();
  }
  nn::kernels::set_conv_algorithm(nn::kernels::ConvAlgorithm::Auto);
  st.counters["GFLOP/s"] = benchmark::Counter((part == 1 ? 2 : 1) * conv_flops(g), benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}
BENCHMARK(BM_conv2d_pool_w1)->ArgNames({"part", "algo"})->Args({0, 0})->Args({0, 1})->Args({1, 0})->Args({1, 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

// 56x56 planes, and the pools of W1 (24x24, 8x8) and W3 (32x32, 16x16).
void BM_maxpool2d_forward(benchmark::State& st) {
  setup_threads();
  nn::kernels::Pool2DGeom g;
  g.H = g.W = st.range(0);
  g.N = g.H == 56 ? 32 : 64, g.C = g.H == 24 || g.H == 32 ? 32 : 64;
  g.infer_output();
  auto x = random_vec<float>(g.N * g.C * g.H * g.W, 1);
  std::vector<float> y(static_cast<std::size_t>(g.N * g.C * g.OH * g.OW));
  std::vector<std::int32_t> arg(y.size());
  for (auto _ : st) {
    nn::kernels::maxpool2d_forward(x.data(), y.data(), arg.data(), g);
    benchmark::ClobberMemory();
  }
  st.counters["GB/s"] = benchmark::Counter(double((x.size() + y.size() * 2) * 4), benchmark::Counter::kIsIterationInvariantRate,
                                           benchmark::Counter::kIs1000);
}
BENCHMARK(BM_maxpool2d_forward)->Arg(56)->Arg(32)->Arg(24)->Arg(16)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();

// The backward with the preceding ReLU folded in (relu_y), as in training;
// 56x56 planes, and W1's two pools (64 x 32 x 24x24, 64 x 64 x 8x8).
void BM_maxpool2d_backward(benchmark::State& st) {
  setup_threads();
  nn::kernels::Pool2DGeom g;
  g.H = g.W = st.range(0);
  g.N = g.H == 56 ? 32 : 64, g.C = g.H == 24 || g.H == 16 ? 32 : 64;
  g.infer_output();
  auto x = random_vec<float>(g.N * g.C * g.H * g.W, 1);
  std::vector<float> y(static_cast<std::size_t>(g.N * g.C * g.OH * g.OW)), dx(x.size());
  std::vector<std::int32_t> arg(y.size());
  nn::kernels::maxpool2d_forward(x.data(), y.data(), arg.data(), g);
  auto dy = random_vec<float>(Index(y.size()), 2);
  for (auto _ : st) {
    nn::kernels::maxpool2d_backward(dy.data(), arg.data(), dx.data(), g, y.data());
    benchmark::ClobberMemory();
  }
  st.counters["GB/s"] = benchmark::Counter(double((x.size() + y.size() * 3) * 4), benchmark::Counter::kIsIterationInvariantRate,
                                           benchmark::Counter::kIs1000);
}
BENCHMARK(BM_maxpool2d_backward)->Arg(56)->Arg(24)->Arg(16)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_batchnorm_stats(benchmark::State& st) {
  setup_threads();
  const Index N = 32, C = 64, S = 56 * 56;
  auto x = random_vec<float>(N * C * S, 1);
  std::vector<float> m(C), v(C);
  for (auto _ : st) {
    nn::kernels::batchnorm_stats(x.data(), N, C, S, m.data(), v.data());
    benchmark::ClobberMemory();
  }
  st.counters["GB/s"] = benchmark::Counter(double(x.size() * 4 * 2), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_batchnorm_stats)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_relu_forward(benchmark::State& st) {
  const Index n = 32 * 64 * 56 * 56;
  auto x = random_vec<float>(n, 1);
  std::vector<float> y(x.size());
  for (auto _ : st) {
    nn::kernels::relu_forward(x.data(), y.data(), n);
    benchmark::ClobberMemory();
  }
  st.counters["GB/s"] = benchmark::Counter(double(n * 8), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_relu_forward)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_softmax_cross_entropy(benchmark::State& st) {
  const Index N = 128, C = 1000;
  nn::Tensor<float> x({N, C}), labels({N}), g;
  nn::Rng r(1);
  x.fill_normal(r, 0, 1);
  for (Index i = 0; i < N; ++i) labels[i] = float(i % C);
  nn::SoftmaxCrossEntropy<float> ce;
  for (auto _ : st) benchmark::DoNotOptimize(ce.compute(x, labels, &g));
  st.counters["GB/s"] = benchmark::Counter(double(N * C * 4 * 2), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_softmax_cross_entropy)->Unit(benchmark::kMicrosecond)->UseRealTime();
}  // namespace

// The segmentation FCN's context layer (W5) as training runs it, forward +
// backward (data, weights) of the layer: N=32, 64->64 channels, 16x16, 3x3,
// "same" padding; dilation 1, 2, 4, 8 (args 1, 2, 4, 8): the same FLOPs, so
// GFLOP/s compares the dilated kernels with the plain one directly. Arg 0 is
// Conv2DTranspose(64, 3, stride 1, padding 1): again the same FLOPs.
void BM_context_layer(benchmark::State& st) {
  setup_threads();
  const Index d = st.range(0);
  std::unique_ptr<nn::Layer<float>> layer;
  if (d == 0) layer = std::make_unique<nn::Conv2DTranspose<float>>(64, 3, 1, 1, 0, 1, false);
  else layer = std::make_unique<nn::Conv2D<float>>(64, 3, 1, nn::Padding::same(), d, false);
  nn::Rng rng(1);
  layer->build(nn::Shape{64, 16, 16}, rng);
  nn::Tensor<float> x({32, 64, 16, 16}), dy({32, 64, 16, 16});
  x.fill_normal(rng, 0, 1), dy.fill_normal(rng, 0, 1);
  for (auto _ : st) {
    for (auto& p : layer->parameters()) p.grad->zero();
    const auto& y = layer->forward(x, true);
    benchmark::DoNotOptimize(layer->backward(x, y, dy).data());
    benchmark::ClobberMemory();
  }
  const double flops = 3 * 2.0 * 32 * 64 * 16 * 16 * 64 * 9;
  st.counters["GFLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_context_layer)->ArgName("dilation")->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();

// Region statistics of a 28x28 image (a Fashion-MNIST item): the variance of
// every K x K window, by direct sums (integral 0) or from an integral image
// with squares built for the image (integral 1, the build included). K is a
// compile-time constant, so the direct sums are unrolled as well as they can be.
template <Index K>
void BM_window_variance(benchmark::State& st) {
  constexpr Index H = 28, W = 28;
  auto x = random_vec<float>(H * W, 5);
  std::vector<double> out(static_cast<std::size_t>((H - K + 1) * (W - K + 1)));
  for (auto _ : st) {
    if (st.range(0) == 0) {
      for (Index r = 0; r + K <= H; ++r)
        for (Index c = 0; c + K <= W; ++c) {
          double s = 0, q = 0;
          for (Index i = r; i < r + K; ++i)
            for (Index j = c; j < c + K; ++j) {
              const double v = x[std::size_t(i * W + j)];
              s += v, q += v * v;
            }
          const double m = s / double(K * K);
          out[std::size_t(r * (W - K + 1) + c)] = q / double(K * K) - m * m;
        }
    } else {
      const nn::image::IntegralImage ii(x.data(), H, W, true);
      for (Index r = 0; r + K <= H; ++r)
        for (Index c = 0; c + K <= W; ++c) out[std::size_t(r * (W - K + 1) + c)] = ii.variance(r, c, r + K, c + K);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
}
BENCHMARK_TEMPLATE(BM_window_variance, 3)->ArgName("integral")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_window_variance, 7)->ArgName("integral")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_window_variance, 14)->ArgName("integral")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
