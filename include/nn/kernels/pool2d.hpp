// nn/kernels/pool2d.hpp — max and average pooling over NCHW, with stride and
// zero padding (floor output size, as PyTorch and Keras 'valid'). Parallel
// over the N*C planes.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif
#include <limits>
#include <stdexcept>
#include <string>

#include "nn/kernels/cpu.hpp"
#include "nn/runtime/parallel.hpp"
#include "nn/tensor/tensor.hpp"

namespace nn::kernels {

struct Pool2DGeom {
  Index N = 0, C = 0, H = 0, W = 0;  // input (N, C, H, W)
  Index KH = 2, KW = 2, SH = 2, SW = 2, PH = 0, PW = 0;
  Index OH = 0, OW = 0;  // output (N, C, OH, OW)
  void infer_output() {
    if (KH < 1 || KW < 1 || SH < 1 || SW < 1 || PH < 0 || PW < 0)
      throw std::invalid_argument("pool2d: kernel and stride must be >= 1 and padding >= 0");
    if (PH * 2 > KH || PW * 2 > KW)
      throw std::invalid_argument("pool2d: padding must be at most half the kernel size");
    if (H + 2 * PH < KH || W + 2 * PW < KW)
      throw std::invalid_argument("pool2d: input " + std::to_string(H) + "x" + std::to_string(W) +
                                  " is smaller than the window " + std::to_string(KH) + "x" + std::to_string(KW));
    OH = (H + 2 * PH - KH) / SH + 1;
    OW = (W + 2 * PW - KW) / SW + 1;
  }
};

namespace detail {
inline bool pool_parallel(Index planes, Index work) { return planes > 1 && work > 4096; }
}

namespace detail {
#if defined(__x86_64__) && defined(__GNUC__)
#define NN_POOL_AVX512 1
// The first pass of maxpool2x2_row for float on AVX-512, 16 outputs per step
// (the even and odd columns split by permutes, masked loads for the tail):
// GCC's own vectorization of the stride-2 loop is several times slower on
// rows of 24. Returns whether the row holds a NaN.
__attribute__((target("avx512f"))) inline bool maxpool2x2_row_avx512(const float* r0, const float* r1, Index W,
                                                                      Index OW, std::int32_t base, float* y,
                                                                      std::int32_t* arg) {
  const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
  const __m512i one = _mm512_set1_epi32(1), wv = _mm512_set1_epi32(static_cast<std::int32_t>(W)),
                w1 = _mm512_set1_epi32(static_cast<std::int32_t>(W) + 1);
  __mmask16 nan = 0;
  for (Index ow = 0; ow < OW; ow += 16) {
    const Index n = std::min<Index>(16, OW - ow);
    const __mmask16 lo = n >= 8 ? __mmask16(0xFFFF) : __mmask16((1u << (2 * n)) - 1);
    const __mmask16 hi = n > 8 ? __mmask16((1u << (2 * (n - 8))) - 1) : __mmask16(0);
    const __mmask16 out = __mmask16((1u << n) - 1);
    const __m512 x0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * ow), x1 = _mm512_maskz_loadu_ps(hi, r0 + 2 * ow + 16);
    const __m512 z0 = _mm512_maskz_loadu_ps(lo, r1 + 2 * ow), z1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * ow + 16);
    const __m512 a = _mm512_permutex2var_ps(x0, ev, x1), b = _mm512_permutex2var_ps(x0, od, x1);
    const __m512 c = _mm512_permutex2var_ps(z0, ev, z1), d = _mm512_permutex2var_ps(z0, od, z1);
    __m512 best = a;
    __m512i bi = _mm512_setzero_si512();
    __mmask16 m = _mm512_cmp_ps_mask(b, best, _CMP_GT_OQ);
    best = _mm512_mask_mov_ps(best, m, b), bi = _mm512_mask_mov_epi32(bi, m, one);
    m = _mm512_cmp_ps_mask(c, best, _CMP_GT_OQ);
    best = _mm512_mask_mov_ps(best, m, c), bi = _mm512_mask_mov_epi32(bi, m, wv);
    m = _mm512_cmp_ps_mask(d, best, _CMP_GT_OQ);
    best = _mm512_mask_mov_ps(best, m, d), bi = _mm512_mask_mov_epi32(bi, m, w1);
    nan |= _mm512_mask_cmp_ps_mask(out, a, a, _CMP_UNORD_Q) | _mm512_mask_cmp_ps_mask(out, b, b, _CMP_UNORD_Q) |
           _mm512_mask_cmp_ps_mask(out, c, c, _CMP_UNORD_Q) | _mm512_mask_cmp_ps_mask(out, d, d, _CMP_UNORD_Q);
    _mm512_mask_storeu_ps(y + ow, out, best);
    if (arg) {
      // base + 2 * (ow + lane) + bi
      const __m512i col = _mm512_add_epi32(_mm512_set1_epi32(base + static_cast<std::int32_t>(2 * ow)), ev);
      _mm512_mask_storeu_epi32(arg + ow, out, _mm512_add_epi32(col, bi));
    }
  }
  return nan != 0;
}
inline bool pool_avx512() { return avx512_enabled(); }
#else
#define NN_POOL_AVX512 0
#endif

// One output row of the 2x2 / stride 2 max pool: r0, r1 are the two input
// rows, base the flat index of r0[0] in its plane. First maximum in window
// order (a, b, c, d); NaN wins, as in PyTorch. The loop is written with
// selects so that GCC vectorizes it; a row holding a NaN is redone exactly.
// On AVX-512, float rows of 12+ outputs take maxpool2x2_row_avx512 instead.
template <class T, bool Arg>
void maxpool2x2_row(const T* r0, const T* r1, Index W, Index OW, std::int32_t base, T* y, std::int32_t* arg) {
  const std::int32_t w32 = static_cast<std::int32_t>(W);
  int nan = 0;
  bool vector_done = false;
#if NN_POOL_AVX512
  if constexpr (std::is_same<T, float>::value)
    if (OW >= 12 && pool_avx512()) {  // shorter rows: GCC's loop is as fast or faster (per-row setup)
      if (!maxpool2x2_row_avx512(r0, r1, W, OW, base, y, Arg ? arg : nullptr)) return;
      vector_done = true, nan = 1;  // only the exact redo below
    }
#endif
  if (!vector_done)  // (a branch, not a loop bound of 0: cheaper on small maps)
    for (Index ow = 0; ow < OW; ++ow) {
      const T a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
      // masks (0 or -1) select without branches
      T best = a;
      const std::int32_t mb = -std::int32_t(b > best);
      best = b > best ? b : best;
      const std::int32_t mc = -std::int32_t(c > best);
      best = c > best ? c : best;
      const std::int32_t md = -std::int32_t(d > best);
      best = d > best ? d : best;
      if (Arg) {
        std::int32_t bi = mb & 1;
        bi = (bi & ~mc) | (w32 & mc);
        bi = (bi & ~md) | ((w32 + 1) & md);
        arg[ow] = base + std::int32_t(2 * ow) + bi;
      }
      y[ow] = best;
      nan |= (a != a) | (b != b) | (c != c) | (d != d);
    }
  if (!nan) return;
  for (Index ow = 0; ow < OW; ++ow) {
    const T a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
    T best = a;
    std::int32_t bi = 0;
    if ((b > best || b != b) && best == best) best = b, bi = 1;
    if ((c > best || c != c) && best == best) best = c, bi = w32;
    if ((d > best || d != d) && best == best) best = d, bi = w32 + 1;
    y[ow] = best;
    if (Arg) arg[ow] = base + std::int32_t(2 * ow) + bi;
  }
}
// v where keep, else +0, by masking its bits: GCC turns a plain select on
// the (random) argmax position into a branch that mispredicts a quarter of
// the time (a 4x slower 8x8 pool backward).
template <class T>
inline T keep_if(T v, bool keep) {
  using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  U b;
  std::memcpy(&b, &v, sizeof b);
  b &= U(0) - U(keep);
  std::memcpy(&v, &b, sizeof b);
  return v;
}

// One output row of the 2x2 / stride 2 max pool backward: dy routed to the
// window position its argmax names (flat index base + 2*ow + {0, 1, W, W+1}),
// zeros elsewhere, into the two input rows d0, d1 (2*OW each). With y (the
// pool's output) only where y > 0 (a folded ReLU). Each value is 0 + g, as the
// scatter into a zeroed plane computes it, so the two agree bit for bit.
template <class T, bool Relu>
void maxpool2x2_backward_row(const T* dy, const std::int32_t* arg, const T* y, Index W, Index OW, std::int32_t base,
                             T* d0, T* d1) {
  const std::int32_t w32 = static_cast<std::int32_t>(W);
  for (Index ow = 0; ow < OW; ++ow) {
    T gv = dy[ow];
    if (Relu) gv = keep_if(gv, y[ow] > T(0));
    const std::int32_t r = arg[ow] - base - std::int32_t(2 * ow);
    d0[2 * ow] = T(0) + keep_if(gv, r == 0);
    d0[2 * ow + 1] = T(0) + keep_if(gv, r == 1);
    d1[2 * ow] = T(0) + keep_if(gv, r == w32);
    d1[2 * ow + 1] = T(0) + keep_if(gv, r == w32 + 1);
  }
}

// dx plane (H, W) from one plane's dy, argmax (and y): 2x2 / stride 2.
template <class T, bool Relu>
void maxpool2x2_backward_plane(const T* dy, const std::int32_t* arg, const T* y, Index H, Index W, Index OH, Index OW,
                               T* dx) {
  for (Index oh = 0; oh < OH; ++oh) {
    T* r0 = dx + 2 * oh * W;
    maxpool2x2_backward_row<T, Relu>(dy + oh * OW, arg + oh * OW, Relu ? y + oh * OW : nullptr, W, OW,
                                     static_cast<std::int32_t>(2 * oh * W), r0, r0 + W);
    if (W > 2 * OW) r0[W - 1] = r0[2 * W - 1] = T(0);  // an odd last column
  }
  if (H > 2 * OH) std::fill(dx + (H - 1) * W, dx + H * W, T(0));  // an odd last row
}
}  // namespace detail

// y (N, C, OH, OW) = max over each window of x (N, C, H, W); padding never wins.
// argmax (N, C, OH, OW), unless null, receives the flat index h*W + w of the
// winner in its plane (training keeps it for backward; inference skips it).
template <class T>
void maxpool2d_forward(const T* x, T* y, std::int32_t* argmax, const Pool2DGeom& g) {
  const Index planes = g.N * g.C;
  if (g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2 && g.PH == 0 && g.PW == 0) {
    // The common 2x2 / stride 2 case, vectorized.
    nn::detail::parallel_for(planes, detail::pool_parallel(planes, planes * g.H * g.W), 16, [&](Index pl, int) {
      const T* xp = x + pl * g.H * g.W;
      T* yp = y + pl * g.OH * g.OW;
      for (Index oh = 0; oh < g.OH; ++oh) {
        const T* r0 = xp + 2 * oh * g.W;
        const auto base = static_cast<std::int32_t>(2 * oh * g.W);
        if (argmax)
          detail::maxpool2x2_row<T, true>(r0, r0 + g.W, g.W, g.OW, base, yp + oh * g.OW,
                                          argmax + pl * g.OH * g.OW + oh * g.OW);
        else
          detail::maxpool2x2_row<T, false>(r0, r0 + g.W, g.W, g.OW, base, yp + oh * g.OW, nullptr);
      }
    });
    return;
  }
  nn::detail::parallel_for(planes, detail::pool_parallel(planes, planes * g.H * g.W), 16, [&](Index pl, int) {
    const T* xp = x + pl * g.H * g.W;
    T* yp = y + pl * g.OH * g.OW;
    std::int32_t* ap = argmax ? argmax + pl * g.OH * g.OW : nullptr;
    for (Index oh = 0; oh < g.OH; ++oh)
      for (Index ow = 0; ow < g.OW; ++ow) {
        const Index h0 = oh * g.SH - g.PH, w0 = ow * g.SW - g.PW;
        T best = -std::numeric_limits<T>::infinity();
        Index bi = -1;
        for (Index kh = 0; kh < g.KH; ++kh) {
          const Index ih = h0 + kh;
          if (ih < 0 || ih >= g.H) continue;
          for (Index kw = 0; kw < g.KW; ++kw) {
            const Index iw = w0 + kw;
            if (iw < 0 || iw >= g.W) continue;
            const T v = xp[ih * g.W + iw];
            if (v > best || bi < 0 || v != v) {  // NaN propagates, as in PyTorch
              best = v;
              bi = ih * g.W + iw;
              if (v != v) break;
            }
          }
        }
        yp[oh * g.OW + ow] = best;
        if (ap) ap[oh * g.OW + ow] = static_cast<std::int32_t>(bi);
      }
  });
}

// dx (N, C, H, W) is overwritten: dy (N, C, OH, OW) routed to each window's argmax.
// With relu_y (the pool's output y, N, C, OH, OW) the input was a ReLU's
// output and dx is the gradient before that ReLU: dy routed only where y > 0.
template <class T>
void maxpool2d_backward(const T* dy, const std::int32_t* argmax, T* dx, const Pool2DGeom& g,
                        const T* relu_y = nullptr) {
  const Index planes = g.N * g.C;
  if (g.KH == 2 && g.KW == 2 && g.SH == 2 && g.SW == 2 && g.PH == 0 && g.PW == 0 && g.OW >= 8) {
    // 2x2 / stride 2: the windows tile the plane, so each input row pair is
    // written once, vectorized, instead of zero-filled and then scattered into
    // (1.3-1.5x on 24x24-56x56 planes; on rows under 8 outputs the scalar
    // remainder loses: 3x slower on 8x8).
    nn::detail::parallel_for(planes, detail::pool_parallel(planes, planes * g.H * g.W), 16, [&](Index pl, int) {
      const Index o = pl * g.OH * g.OW;
      if (relu_y)
        detail::maxpool2x2_backward_plane<T, true>(dy + o, argmax + o, relu_y + o, g.H, g.W, g.OH, g.OW,
                                                   dx + pl * g.H * g.W);
      else
        detail::maxpool2x2_backward_plane<T, false>(dy + o, argmax + o, nullptr, g.H, g.W, g.OH, g.OW,
                                                    dx + pl * g.H * g.W);
    });
    return;
  }
  nn::detail::parallel_for(planes, detail::pool_parallel(planes, planes * g.H * g.W), 16, [&](Index pl, int) {
    T* dxp = dx + pl * g.H * g.W;
    std::fill(dxp, dxp + g.H * g.W, T(0));
    const T* dyp = dy + pl * g.OH * g.OW;
    const std::int32_t* ap = argmax + pl * g.OH * g.OW;
    if (relu_y) {
      const T* yp = relu_y + pl * g.OH * g.OW;
      for (Index i = 0; i < g.OH * g.OW; ++i) dxp[ap[i]] += yp[i] > T(0) ? dyp[i] : T(0);
    } else {
      for (Index i = 0; i < g.OH * g.OW; ++i) dxp[ap[i]] += dyp[i];
    }
  });
}

// y (N, C, OH, OW) = mean of each window of x (N, C, H, W). Padded zeros count
// in the divisor (PyTorch's default count_include_pad=True).
template <class T>
void avgpool2d_forward(const T* x, T* y, const Pool2DGeom& g) {
  const Index planes = g.N * g.C;
  const T inv = T(1) / static_cast<T>(g.KH * g.KW);
  nn::detail::parallel_for(planes, detail::pool_parallel(planes, planes * g.H * g.W), 16, [&](Index pl, int) {
    const T* xp = x + pl * g.H * g.W;
    T* yp = y + pl * g.OH * g.OW;
    for (Index oh = 0; oh < g.OH; ++oh)
      for (Index ow = 0; ow < g.OW; ++ow) {
        const Index h0 = oh * g.SH - g.PH, w0 = ow * g.SW - g.PW;
        T s = 0;
        for (Index ih = std::max<Index>(h0, 0); ih < std::min(h0 + g.KH, g.H); ++ih)
          for (Index iw = std::max<Index>(w0, 0); iw < std::min(w0 + g.KW, g.W); ++iw) s += xp[ih * g.W + iw];
        yp[oh * g.OW + ow] = s * inv;
      }
  });
}

// dx (N, C, H, W) is overwritten from dy (N, C, OH, OW).
template <class T>
void avgpool2d_backward(const T* dy, T* dx, const Pool2DGeom& g) {
  const Index planes = g.N * g.C;
  const T inv = T(1) / static_cast<T>(g.KH * g.KW);
  nn::detail::parallel_for(planes, detail::pool_parallel(planes, planes * g.H * g.W), 16, [&](Index pl, int) {
    T* dxp = dx + pl * g.H * g.W;
    std::fill(dxp, dxp + g.H * g.W, T(0));
    const T* dyp = dy + pl * g.OH * g.OW;
    for (Index oh = 0; oh < g.OH; ++oh)
      for (Index ow = 0; ow < g.OW; ++ow) {
        const Index h0 = oh * g.SH - g.PH, w0 = ow * g.SW - g.PW;
        const T v = dyp[oh * g.OW + ow] * inv;
        for (Index ih = std::max<Index>(h0, 0); ih < std::min(h0 + g.KH, g.H); ++ih)
          for (Index iw = std::max<Index>(w0, 0); iw < std::min(w0 + g.KW, g.W); ++iw) dxp[ih * g.W + iw] += v;
      }
  });
}

}  // namespace nn::kernels
