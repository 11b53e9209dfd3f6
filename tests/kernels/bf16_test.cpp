// bf16 kernels (nn/kernels/bf16.hpp, conv2d_bf16.hpp, dense_bf16.hpp):
// conversions exactly as specified on both paths; convolution and dense
// products against a naive reference that sums the same (exact) bf16
// products in double, on the BF16 path (where the CPU has it) and the
// portable one, on random odd shapes.
#include "../support/test_util.hpp"

#include <nn/kernels/conv2d_bf16.hpp>
#include <nn/kernels/dense_bf16.hpp>

using namespace testutil;
namespace k = nn::kernels;
namespace bf = nn::kernels::bf16;

namespace {
float bits(std::uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
std::vector<bf::bf16_t> random_bf16(Index n, std::uint64_t seed, double scale = 1.0) {
  nn::Rng r(seed);
  std::vector<bf::bf16_t> v(static_cast<std::size_t>(n));
  for (auto& h : v) h = bf::from_float(float(r.normal(0.0, scale)));
  return v;
}
// The bf16 value of word-layout element e (2 per 4-byte word) of a byte buffer.
float at(const std::vector<std::uint8_t>& b, Index e) {
  bf::bf16_t h;
  std::memcpy(&h, b.data() + 2 * e, 2);
  return bf::to_float(h);
}
}  // namespace

TEST_CASE("bf16: rounding to nearest even, denormals to zero, NaN and infinity kept") {
  CHECK(bf::from_float(1.0f) == 0x3F80);
  CHECK(bf::from_float(bits(0x3F808000)) == 0x3F80);  // halfway, even below: down
  CHECK(bf::from_float(bits(0x3F818000)) == 0x3F82);  // halfway, odd below: up
  CHECK(bf::from_float(bits(0x3F808001)) == 0x3F81);  // above halfway: up
  CHECK(bf::from_float(-2.5f) == 0xC020);
  CHECK(bf::from_float(bits(0x00400000)) == 0x0000);  // denormal -> +0
  CHECK(bf::from_float(bits(0x80400000)) == 0x8000);  // -denormal -> -0
  CHECK(bf::from_float(INFINITY) == 0x7F80);
  CHECK(bf::from_float(bits(0x7F7FFFFF)) == 0x7F80);  // the largest float rounds to infinity
  CHECK(std::isnan(bf::to_float(bf::from_float(NAN))));
  CHECK(std::isnan(bf::to_float(bf::from_float(bits(0x7F800001)))));  // a NaN whose payload is in the low bits
  // The vector and scalar conversions agree on every kind of value.
  SimdGuard guard;
  nn::Rng r(1);
  Tensor<float> x(Shape{2, 5, 7, 9});
  for (Index i = 0; i < x.size(); ++i) x[i] = bits(std::uint32_t(r()));
  x[0] = NAN, x[1] = -INFINITY, x[2] = bits(0x00000001), x[3] = -0.0f;
  std::vector<std::vector<std::uint8_t>> outs;
  for (auto p : {k::Simd::Portable, k::Simd::Auto}) {
    k::set_simd(p);
    std::vector<std::uint8_t> b(std::size_t(2 * bf::row_bytes(Shape{5, 7, 9})));
    bf::convert(x.data(), Shape{5, 7, 9}, 2, b.data());
    outs.push_back(b);
  }
  CHECK(outs[0] == outs[1]);
  const auto& b = outs[0];
  for (Index n = 0; n < 2; ++n)
    for (Index c = 0; c < 6; ++c)
      for (Index i = 0; i < 63; ++i) {
        const Index e = ((n * 3 + c / 2) * 63 + i) * 2 + c % 2;
        bf::bf16_t h;
        std::memcpy(&h, b.data() + 2 * e, 2);
        REQUIRE(h == (c < 5 ? bf::from_float(x[(n * 5 + c) * 63 + i]) : 0));
      }
  Tensor<float> y(x.shape());
  bf::convert_back(b.data(), Shape{5, 7, 9}, 2, y.data());
  for (Index i = 4; i < x.size(); ++i)
    if (std::isfinite(x[i]) && std::abs(x[i]) < 1e38f && std::abs(x[i]) > 1e-37f)
      REQUIRE(std::abs(y[i] - x[i]) <= std::abs(x[i]) * 0x1p-8f);
}

TEST_CASE("bf16: conv2d_bf16 equals a naive sum of the same products") {
  SimdGuard guard;
  struct Case {
    Index N, C, H, W, OC, K, S, P, D;
    bool relu, pool, float_out;
  };
  const Case cases[] = {
      {2, 3, 11, 13, 7, 3, 1, 1, 1, false, false, true},  {1, 1, 9, 9, 8, 5, 1, 2, 1, true, false, false},
      {3, 5, 10, 7, 9, 1, 1, 0, 1, true, true, false},    {2, 8, 13, 11, 17, 3, 2, 1, 1, true, false, true},
      {1, 13, 12, 12, 16, 5, 2, 2, 1, false, true, true}, {2, 6, 15, 9, 3, 3, 1, 2, 2, true, false, false},
      {4, 32, 8, 8, 32, 3, 1, 1, 1, true, true, false},   {2, 2, 11, 14, 10, 3, 1, 2, 2, true, false, true},
  };
  std::uint64_t seed = 10;
  for (const Case& cs : cases) {
    INFO("C ", cs.C, " H ", cs.H, " W ", cs.W, " OC ", cs.OC, " K ", cs.K, " S ", cs.S, " pool ", cs.pool);
    k::Conv2DGeom g;
    g.N = cs.N, g.C = cs.C, g.H = cs.H, g.W = cs.W, g.OC = cs.OC, g.KH = g.KW = cs.K, g.SH = g.SW = cs.S;
    g.PT = g.PB = g.PL = g.PR = cs.P, g.DH = g.DW = cs.D;
    g.infer_output();
    const auto xh = random_bf16(cs.N * cs.C * cs.H * cs.W, ++seed);
    const auto wh = random_bf16(cs.OC * cs.C * cs.K * cs.K, ++seed, 0.3);
    std::vector<float> bias(std::size_t(cs.OC));
    for (Index o = 0; o < cs.OC; ++o) bias[std::size_t(o)] = 0.1f * float(o % 5) - 0.2f;
    Tensor<float> xf(Shape{cs.N, cs.C, cs.H, cs.W});
    for (Index i = 0; i < xf.size(); ++i) xf[i] = bf::to_float(xh[std::size_t(i)]);
    std::vector<std::uint8_t> xb(std::size_t(cs.N * bf::row_bytes(Shape{cs.C, cs.H, cs.W})));
    bf::convert(xf.data(), Shape{cs.C, cs.H, cs.W}, cs.N, xb.data());
    const auto L = bf::conv_layout(g);
    const auto pw = bf::pack_conv_weights(wh.data(), L);
    k::Pool2DGeom pg;
    pg.C = g.OC, pg.H = g.OH, pg.W = g.OW;
    pg.infer_output();
    const bf::ConvOut out{bias.data(), cs.relu, cs.pool ? &pg : nullptr, cs.float_out};
    const Index OH = cs.pool ? pg.OH : g.OH, OW = cs.pool ? pg.OW : g.OW;
    // Naive: exact products summed in double; the tolerance covers float summation.
    std::vector<double> ref(std::size_t(cs.N * cs.OC * OH * OW)), tol(ref.size());
    std::vector<double> full(std::size_t(g.OH * g.OW)), mag(full.size());
    for (Index n = 0; n < cs.N; ++n)
      for (Index o = 0; o < cs.OC; ++o) {
        for (Index oh = 0; oh < g.OH; ++oh)
          for (Index ow = 0; ow < g.OW; ++ow) {
            double acc = 0, m = 0;
            for (Index c = 0; c < cs.C; ++c)
              for (Index kh = 0; kh < cs.K; ++kh)
                for (Index kw = 0; kw < cs.K; ++kw) {
                  const Index ih = oh * g.SH - g.PT + kh * g.DH, iw = ow * g.SW - g.PL + kw * g.DW;
                  if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                  const double p = double(xf[((n * cs.C + c) * g.H + ih) * g.W + iw]) *
                                   double(bf::to_float(wh[std::size_t(((o * cs.C + c) * cs.K + kh) * cs.K + kw)]));
                  acc += p, m += std::abs(p);
                }
            double v = acc + bias[std::size_t(o)];
            if (cs.relu) v = std::max(v, 0.0);
            full[std::size_t(oh * g.OW + ow)] = v;
            mag[std::size_t(oh * g.OW + ow)] = m;
          }
        for (Index oh = 0; oh < OH; ++oh)
          for (Index ow = 0; ow < OW; ++ow) {
            double v = full[std::size_t(oh * g.OW + ow)], m = mag[std::size_t(oh * g.OW + ow)];
            if (cs.pool) v = -1e300, m = 0;
            if (cs.pool)
              for (Index i = 0; i < 2; ++i)
                for (Index j = 0; j < 2; ++j) {
                  v = std::max(v, full[std::size_t((2 * oh + i) * g.OW + 2 * ow + j)]);
                  m = std::max(m, mag[std::size_t((2 * oh + i) * g.OW + 2 * ow + j)]);
                }
            const std::size_t e = std::size_t(((n * cs.OC + o) * OH + oh) * OW + ow);
            ref[e] = v;
            tol[e] = 1e-5 * (m + 1) + (cs.float_out ? 0.0 : std::abs(v) * 0x1p-8);  // + bf16 output rounding
          }
      }
    for (auto p : simd_paths(k::cpu_has_avx512_bf16())) {
      k::set_simd(p);
      CAPTURE(int(p));
      double worst = 0;
      if (cs.float_out) {
        std::vector<float> y(ref.size(), -1.0f);
        bf::conv2d_bf16(xb.data(), cs.N, L, pw, out, y.data());
        for (std::size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::abs(double(y[i]) - ref[i]) / tol[i]);
      } else {
        const Index pairs = (cs.OC + 1) / 2;
        std::vector<std::uint8_t> y(std::size_t(cs.N * pairs * OH * OW * 4), 0xAB);
        bf::conv2d_bf16(xb.data(), cs.N, L, pw, out, y.data());
        for (Index n = 0; n < cs.N; ++n)
          for (Index o = 0; o < pairs * 2; ++o)
            for (Index i = 0; i < OH * OW; ++i) {
              const float v = at(y, ((n * pairs + o / 2) * OH * OW + i) * 2 + o % 2);
              if (o >= cs.OC) {
                REQUIRE(v == 0.0f);
                continue;
              }
              const std::size_t e = std::size_t((n * cs.OC + o) * OH * OW + i);
              worst = std::max(worst, std::abs(double(v) - ref[e]) / tol[e]);
            }
      }
      CHECK(worst <= 1.0);
    }
  }
}

TEST_CASE("bf16: dense_bf16 equals a naive sum of the same products") {
  SimdGuard guard;
  struct Case {
    Index N, K, O;
    bool relu, float_out;
  };
  const Case cases[] = {{1, 2, 1, false, true},   {3, 37, 10, true, false}, {5, 128, 64, true, true},
                        {9, 803, 77, false, false}, {4, 2048, 130, true, true}, {17, 12, 201, false, false}};
  std::uint64_t seed = 100;
  for (const Case& cs : cases) {
    INFO("N ", cs.N, " K ", cs.K, " O ", cs.O);
    const Index K2 = (cs.K + 1) / 2;
    auto x = random_bf16(cs.N * K2 * 2, ++seed);
    auto w = random_bf16(cs.O * K2 * 2, ++seed, 0.1);
    for (Index n = 0; n < cs.N; ++n) x[std::size_t(n * K2 * 2 + K2 * 2 - 1)] = cs.K % 2 ? 0 : x[std::size_t(n * K2 * 2 + K2 * 2 - 1)];
    std::vector<std::uint8_t> xb(x.size() * 2);
    std::memcpy(xb.data(), x.data(), xb.size());
    const auto pw = bf::pack_dense_weights(w.data(), cs.O, K2);
    std::vector<float> bias(std::size_t(cs.O), 0.25f);
    const bf::DenseOut out{bias.data(), cs.relu, cs.float_out};
    for (auto p : simd_paths(k::cpu_has_avx512_bf16())) {
      k::set_simd(p);
      CAPTURE(int(p));
      const Index ldy = cs.float_out ? cs.O : (cs.O + 1) / 2 * 2;
      std::vector<std::uint8_t> y(std::size_t(cs.N * ldy * (cs.float_out ? 4 : 2)), 0xAB);
      bf::dense_bf16(xb.data(), cs.N, pw, out, y.data());
      double worst = 0;
      for (Index n = 0; n < cs.N; ++n) {
        for (Index o = 0; o < cs.O; ++o) {
          double acc = 0, m = 0;
          for (Index kk = 0; kk < K2 * 2; ++kk) {
            const double pr = double(bf::to_float(x[std::size_t(n * K2 * 2 + kk)])) *
                              double(bf::to_float(w[std::size_t(o * K2 * 2 + kk)]));
            acc += pr, m += std::abs(pr);
          }
          double v = acc + 0.25;
          if (cs.relu) v = std::max(v, 0.0);
          float got;
          if (cs.float_out) std::memcpy(&got, y.data() + 4 * (n * ldy + o), 4);
          else got = at(y, n * ldy + o);
          const double tol = 1e-5 * (m + 1) + (cs.float_out ? 0.0 : std::abs(v) * 0x1p-8);
          worst = std::max(worst, std::abs(double(got) - v) / tol);
        }
        if (!cs.float_out && cs.O % 2) CHECK(at(y, n * ldy + cs.O) == 0.0f);
      }
      CHECK(worst <= 1.0);
    }
  }
}
