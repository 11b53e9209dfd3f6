// int8 kernels (nn/kernels/quant8.hpp, conv2d_int8.hpp, dense_int8.hpp)
// against naive integer references, bit for bit, on the VNNI path (where the
// CPU has it) and the portable one, on random odd shapes.
#include "../support/test_util.hpp"

#include <nn/kernels/conv2d_int8.hpp>
#include <nn/kernels/dense_int8.hpp>

using namespace testutil;
namespace k = nn::kernels;
namespace q8 = nn::kernels::q8;

namespace {


std::vector<std::uint8_t> random_u8(Index n, std::uint64_t seed) {
  nn::Rng r(seed);
  std::vector<std::uint8_t> v(static_cast<std::size_t>(n));
  for (auto& b : v) b = static_cast<std::uint8_t>(r() & 255);
  return v;
}
std::vector<std::int8_t> random_s8(Index n, std::uint64_t seed) {
  nn::Rng r(seed);
  std::vector<std::int8_t> v(static_cast<std::size_t>(n));
  for (auto& b : v) b = static_cast<std::int8_t>(int(r() % 255) - 127);
  return v;
}

// (N, C, H, W) bytes -> C4 bytes, lanes past C = zp.
std::vector<std::uint8_t> to_c4(const std::vector<std::uint8_t>& x, Index N, Index C, Index HW, std::uint8_t zp) {
  const Index Cq = q8::quads(C);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(N * Cq * HW * 4), zp);
  for (Index n = 0; n < N; ++n)
    for (Index c = 0; c < C; ++c)
      for (Index i = 0; i < HW; ++i)
        out[std::size_t(((n * Cq + c / 4) * HW + i) * 4 + c % 4)] = x[std::size_t((n * C + c) * HW + i)];
  return out;
}

q8::Requant random_requant(Index O, const std::vector<std::int32_t>& wsum, std::int32_t zp, std::uint64_t seed) {
  nn::Rng r(seed);
  q8::Requant rq;
  for (Index o = 0; o < O; ++o) {
    rq.mult.push_back(float(1e-4 * (1 + r.uniform())));
    rq.bias.push_back(float(r.uniform() - 0.5));
    rq.offset.push_back(zp * wsum[std::size_t(o)]);
  }
  return rq;
}

// The epilogue's rule for one sum.
float affine(std::int32_t acc, const q8::Requant& rq, Index o, bool relu) {
  const auto so = std::size_t(o);
  const float f = std::fma(float(acc - rq.offset[so]), rq.mult[so], rq.bias[so]);
  return relu ? std::max(f, 0.0f) : f;
}
}  // namespace

TEST_CASE("int8: quantize and dequantize in the C4 and vector layouts") {
  SimdGuard guard;
  const auto q = q8::QParams::cover(-1.5f, 3.0f);
  CHECK(q.zero_point == 85);
  CHECK(q8::QParams::cover(0.0f, 2.0f).zero_point == 0);
  CHECK(q8::QParams::cover(0.5f, 2.0f).zero_point == 0);  // widened to contain 0
  CHECK_THROWS_AS(q8::QParams::cover(0.0f, INFINITY), std::invalid_argument);
  const Shape s{5, 3, 7};
  auto x = randn<float>(Shape{2, 5, 3, 7}, 1, 2.0);
  x[0] = NAN, x[1] = INFINITY, x[2] = -INFINITY, x[3] = 0.5f * q.scale;  // a tie: rounds to even
  std::vector<std::vector<std::uint8_t>> outs;
  for (auto p : simd_paths(k::cpu_has_avx512_vnni())) {
    k::set_simd(p);
    std::vector<std::uint8_t> b(std::size_t(2 * q8::row_bytes(s)));
    q8::quantize(x.data(), s, 2, q, b.data());
    outs.push_back(b);
  }
  for (auto& o : outs) CHECK(o == outs[0]);
  const auto& b = outs[0];
  const float inv = q.inv_scale();
  for (Index n = 0; n < 2; ++n)
    for (Index c = 0; c < 8; ++c)
      for (Index i = 0; i < 21; ++i) {
        const std::uint8_t got = b[std::size_t(((n * 2 + c / 4) * 21 + i) * 4 + c % 4)];
        const std::uint8_t want = c < 5 ? q8::quantize_one(x[(n * 5 + c) * 21 + i], inv, q.zero_point) : 85;
        REQUIRE(got == want);
      }
  CHECK(b[0] == 0);    // NaN
  CHECK(b[4] == 255);  // +inf
  CHECK(b[8] == 0);    // -inf
  CHECK(b[12] == 85);  // 0.5 rounds to 0, then + zero point
  Tensor<float> y(x.shape());
  q8::dequantize(b.data(), s, 2, q, y.data());
  for (Index i = 4; i < x.size(); ++i) CHECK(std::abs(y[i] - std::clamp(x[i], -85 * q.scale, 170 * q.scale)) <= 0.5001f * q.scale);

  const Shape v{6};  // vectors: padded to 8 bytes with the zero point
  std::vector<std::uint8_t> bv(std::size_t(q8::row_bytes(v)));
  q8::quantize(x.data(), v, 1, q, bv.data());
  CHECK(bv.size() == 8);
  CHECK(bv[6] == 85);
  CHECK(bv[7] == 85);
}

TEST_CASE("int8: per-channel symmetric weight quantization") {
  const float w[6] = {0.5f, -1.0f, 0.25f, 0, 0, 0};
  std::int8_t q[6];
  float s[2];
  q8::quantize_weights(w, 2, 3, q, s);
  CHECK(s[0] == doctest::Approx(1.0 / 127));
  CHECK(q[0] == 64);  // 63.5 rounds to even
  CHECK(q[1] == -127);
  CHECK(q[2] == 32);
  CHECK(s[1] == 1.0f);  // an all-zero channel
  CHECK(q[3] == 0);
  const float bad[2] = {1, NAN};
  CHECK_THROWS_AS(q8::quantize_weights(bad, 1, 2, q, s), std::invalid_argument);
}

TEST_CASE("int8: conv2d_int8 equals a naive integer convolution, bit for bit") {
  SimdGuard guard;
  struct Case {
    Index N, C, H, W, OC, K, S, P, D;
    bool relu, pool, float_out;
  };
  const Case cases[] = {
      {2, 3, 11, 13, 7, 3, 1, 1, 1, false, false, false}, {1, 1, 9, 9, 8, 5, 1, 2, 1, true, false, false},
      {3, 5, 10, 7, 9, 1, 1, 0, 1, true, true, false},    {2, 8, 13, 11, 17, 3, 2, 1, 1, true, false, false},
      {1, 13, 12, 12, 16, 5, 2, 2, 1, false, true, true}, {2, 6, 15, 9, 3, 3, 1, 2, 2, true, false, true},
      {4, 16, 8, 8, 32, 3, 1, 1, 1, true, true, false},   {1, 4, 7, 5, 1, 1, 2, 0, 1, false, false, false},
      {2, 3, 104, 20, 32, 3, 1, 1, 1, true, true, false},
      // folded layouts (few channels, stride 1 in width): dilation, padding, pools, float output
      {3, 2, 11, 14, 10, 3, 1, 2, 2, true, false, false}, {2, 1, 28, 28, 32, 5, 1, 0, 1, true, true, false},
      {1, 1, 9, 12, 5, 7, 1, 3, 1, false, false, true},
  };
  std::uint64_t seed = 10;
  for (const Case& cs : cases) {
    INFO("C ", cs.C, " H ", cs.H, " W ", cs.W, " OC ", cs.OC, " K ", cs.K, " S ", cs.S, " P ", cs.P, " D ", cs.D,
         " pool ", cs.pool);
    k::Conv2DGeom g;
    g.N = cs.N, g.C = cs.C, g.H = cs.H, g.W = cs.W, g.OC = cs.OC, g.KH = g.KW = cs.K, g.SH = g.SW = cs.S;
    g.PT = g.PB = g.PL = g.PR = cs.P, g.DH = g.DW = cs.D;
    g.PR += cs.S - 1;  // asymmetric padding too
    g.infer_output();
    const std::uint8_t zp = std::uint8_t(seed * 37 % 200);
    const auto x = random_u8(cs.N * cs.C * cs.H * cs.W, ++seed);
    const auto w = random_s8(cs.OC * cs.C * cs.K * cs.K, ++seed);
    const auto L = q8::conv_layout(g);
    CHECK(L.folded == (cs.S == 1 && cs.K > 1 && q8::quads(cs.C * cs.K) < q8::quads(cs.C) * cs.K));
    const auto pw = q8::pack_conv_weights(w.data(), L);
    const auto rq = random_requant(cs.OC, pw.wsum, zp, ++seed);
    k::Pool2DGeom pg;
    pg.C = g.OC, pg.H = g.OH, pg.W = g.OW;
    pg.infer_output();
    q8::ConvOut out{&rq, cs.relu, cs.pool ? &pg : nullptr, cs.float_out, q8::QParams{0.05f, 3}};
    const Index OH = cs.pool ? pg.OH : g.OH, OW = cs.pool ? pg.OW : g.OW;

    // Naive: sums, affine, pool, output.
    std::vector<float> ref(std::size_t(cs.N * cs.OC * OH * OW));
    std::vector<float> full(std::size_t(g.OH * g.OW));
    for (Index n = 0; n < cs.N; ++n)
      for (Index o = 0; o < cs.OC; ++o) {
        for (Index oh = 0; oh < g.OH; ++oh)
          for (Index ow = 0; ow < g.OW; ++ow) {
            std::int32_t acc = 0;
            for (Index c = 0; c < cs.C; ++c)
              for (Index kh = 0; kh < cs.K; ++kh)
                for (Index kw = 0; kw < cs.K; ++kw) {
                  const Index ih = oh * g.SH - g.PT + kh * g.DH, iw = ow * g.SW - g.PL + kw * g.DW;
                  const std::int32_t xv = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W
                                              ? x[std::size_t(((n * cs.C + c) * g.H + ih) * g.W + iw)]
                                              : zp;
                  acc += xv * w[std::size_t(((o * cs.C + c) * cs.K + kh) * cs.K + kw)];
                }
            full[std::size_t(oh * g.OW + ow)] = affine(acc, rq, o, cs.relu);
          }
        for (Index oh = 0; oh < OH; ++oh)
          for (Index ow = 0; ow < OW; ++ow) {
            float m = full[std::size_t(oh * g.OW + ow)];
            if (cs.pool)
              m = std::max({full[std::size_t(2 * oh * g.OW + 2 * ow)], full[std::size_t(2 * oh * g.OW + 2 * ow + 1)],
                            full[std::size_t((2 * oh + 1) * g.OW + 2 * ow)],
                            full[std::size_t((2 * oh + 1) * g.OW + 2 * ow + 1)]});
            ref[std::size_t(((n * cs.OC + o) * OH + oh) * OW + ow)] = m;
          }
      }
    const auto xc4 = to_c4(x, cs.N, cs.C, cs.H * cs.W, zp);
    for (auto p : simd_paths(k::cpu_has_avx512_vnni())) {
      k::set_simd(p);
      CAPTURE(int(p));
      if (cs.float_out) {
        std::vector<float> y(ref.size(), -1.0f);
        q8::conv2d_int8(xc4.data(), cs.N, L, pw, zp, out, y.data());
        CHECK(std::memcmp(y.data(), ref.data(), ref.size() * sizeof(float)) == 0);
      } else {
        std::vector<std::uint8_t> y(std::size_t(cs.N * q8::quads(cs.OC) * OH * OW * 4), 1);
        q8::conv2d_int8(xc4.data(), cs.N, L, pw, zp, out, y.data());
        std::vector<std::uint8_t> want(y.size());
        for (Index n = 0; n < cs.N; ++n)
          for (Index o = 0; o < q8::quads(cs.OC) * 4; ++o)
            for (Index i = 0; i < OH * OW; ++i)
              want[std::size_t(((n * q8::quads(cs.OC) + o / 4) * OH * OW + i) * 4 + o % 4)] =
                  o < cs.OC ? q8::quantize_one(ref[std::size_t((n * cs.OC + o) * OH * OW + i)], out.q.inv_scale(), 3)
                            : 3;
        CHECK(y == want);
      }
    }
  }
}

TEST_CASE("int8: dense_int8 equals a naive integer product, bit for bit") {
  SimdGuard guard;
  struct Case {
    Index N, K, O;
    bool relu, float_out;
  };
  const Case cases[] = {{1, 4, 1, false, true},   {3, 37, 10, true, false}, {5, 128, 64, true, true},
                        {9, 803, 77, false, false}, {4, 2048, 130, true, false}, {17, 12, 200, false, true}};
  std::uint64_t seed = 100;
  for (const Case& cs : cases) {
    INFO("N ", cs.N, " K ", cs.K, " O ", cs.O);
    const Index Kq = q8::quads(cs.K);
    const std::uint8_t zp = std::uint8_t(seed % 256);
    auto x = random_u8(cs.N * Kq * 4, ++seed);
    auto w = random_s8(cs.O * Kq * 4, ++seed);
    for (Index o = 0; o < cs.O; ++o)  // bytes past K: input holds zp, weights 0
      for (Index kk = cs.K; kk < Kq * 4; ++kk) w[std::size_t(o * Kq * 4 + kk)] = 0;
    const auto pw = q8::pack_dense_weights(w.data(), cs.O, Kq);
    const auto rq = random_requant(cs.O, pw.wsum, zp, ++seed);
    q8::DenseOut out{&rq, cs.relu, cs.float_out, q8::QParams{0.02f, 7}};
    const Index ldy = cs.float_out ? cs.O : q8::quads(cs.O) * 4;
    std::vector<float> ref(std::size_t(cs.N * cs.O));
    for (Index n = 0; n < cs.N; ++n)
      for (Index o = 0; o < cs.O; ++o) {
        std::int32_t acc = 0;
        for (Index kk = 0; kk < Kq * 4; ++kk) acc += x[std::size_t(n * Kq * 4 + kk)] * w[std::size_t(o * Kq * 4 + kk)];
        ref[std::size_t(n * cs.O + o)] = affine(acc, rq, o, cs.relu);
      }
    for (auto p : simd_paths(k::cpu_has_avx512_vnni())) {
      k::set_simd(p);
      CAPTURE(int(p));
      if (cs.float_out) {
        std::vector<float> y(ref.size());
        q8::dense_int8(x.data(), cs.N, pw, out, y.data());
        CHECK(std::memcmp(y.data(), ref.data(), ref.size() * sizeof(float)) == 0);
      } else {
        std::vector<std::uint8_t> y(std::size_t(cs.N * ldy), 1);
        q8::dense_int8(x.data(), cs.N, pw, out, y.data());
        bool same = true;
        for (Index n = 0; n < cs.N; ++n)
          for (Index o = 0; o < ldy; ++o)
            same = same && y[std::size_t(n * ldy + o)] ==
                               (o < cs.O ? q8::quantize_one(ref[std::size_t(n * cs.O + o)], out.q.inv_scale(), 7) : 7);
        CHECK(same);
      }
    }
  }
}

TEST_CASE("int8: depths the int32 sums cannot hold are refused") {
  k::Conv2DGeom g;
  g.N = 1, g.C = 4096, g.H = g.W = 5, g.OC = 1, g.KH = g.KW = 3;
  CHECK_THROWS_WITH_AS(q8::conv_layout(g), doctest::Contains("safe depth"), std::invalid_argument);
  std::vector<std::int8_t> w(std::size_t(40000));
  CHECK_THROWS_WITH_AS(q8::pack_dense_weights(w.data(), 1, 10000), doctest::Contains("safe depth"),
                       std::invalid_argument);
}
