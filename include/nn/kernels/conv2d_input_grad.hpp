// nn/kernels/conv2d_input_grad.hpp — col2im for the input gradient of a
// convolution, float, AVX-512 CPUs (checked at run time). conv2d_backward
// uses it where the direct kernel (conv2d_direct.hpp) would waste work —
// small maps with large kernels, such as a 5x5 kernel on 8x8 maps — or does not apply
// (stride or dilation > 1):
//   dcol (K, Pc) = w^T (K, OC) * dy[:, p0:p0+Pc] (OC, Pc)   (gemm_small.hpp)
//   dx (C, H, W) += col2im(dcol)                              (here)
// col2im_gather() sums each 16-wide piece of a dx row in a register from the
// dcol rows that reach it (masked loads) and stores it once. The scatter
// form (dx[ih][iw + kw] += ...) reads back what the previous tap stored one
// float over, store-to-load forwarding fails on every tap, and on small
// maps that scatter takes longer than the product.
#pragma once
#include <algorithm>

#include "nn/kernels/conv2d_direct.hpp"  // NN_DIRECT_CONV
#include "nn/kernels/conv2d_geom.hpp"

namespace nn::kernels::input_grad {

#if NN_DIRECT_CONV
// dx (C, H, W) += col2im(col) where col (C*KH*KW, (oh1-oh0)*OW) holds output
// rows oh0 <= oh < oh1. Needs stride 1 along the width (g.SW == 1) and
// KW <= 64.
__attribute__((target("avx512f"))) inline void col2im_gather(const float* col, const Conv2DGeom& g, float* dx, Index oh0,
                                                              Index oh1) {
  const Index Pc = (oh1 - oh0) * g.OW;
  const Index ih0 = std::max<Index>(0, oh0 * g.SH - g.PT);
  const Index ih1 = std::min<Index>(g.H, (oh1 - 1) * g.SH - g.PT + (g.KH - 1) * g.DH + 1);
  __mmask16 mk[64];  // per tap column kw: the lanes it reaches
  Index off[64];     // ... and where in the dcol row lane 0 reads
  for (Index iw0 = 0; iw0 < g.W; iw0 += 16) {
    const Index n = std::min<Index>(16, g.W - iw0);
    const __mmask16 mn = static_cast<__mmask16>((1u << n) - 1u);
    for (Index kw = 0; kw < g.KW; ++kw) {
      // lane i is iw = iw0 + i, read from ow = base + i when 0 <= ow < OW
      const Index base = iw0 + g.PL - kw * g.DW;
      const Index lo = std::max<Index>(0, -base), hi = std::min<Index>(n, g.OW - base);
      mk[kw] = lo < hi ? static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u)) : 0;
      off[kw] = kw * Pc + base;
    }
    for (Index c = 0; c < g.C; ++c)
      for (Index ih = ih0; ih < ih1; ++ih) {
        float* drow = dx + (c * g.H + ih) * g.W;
        // four partial sums, taps four at a time: one chain of dependent adds
        // waited on the add latency at every tap
        __m512 a0 = _mm512_maskz_loadu_ps(mn, drow + iw0), a1 = _mm512_setzero_ps(), a2 = a1, a3 = a1;
        for (Index kh = 0; kh < g.KH; ++kh) {
          const Index r = ih + g.PT - kh * g.DH;  // = oh * SH
          if (r < 0 || r % g.SH) continue;
          const Index oh = r / g.SH;
          if (oh < oh0 || oh >= oh1) continue;
          // masked-off lanes are not read, so addresses may start before the row
          const float* crow = col + (c * g.KH + kh) * g.KW * Pc + (oh - oh0) * g.OW;
          Index kw = 0;
          for (; kw + 4 <= g.KW; kw += 4) {
            a0 = _mm512_add_ps(a0, _mm512_maskz_loadu_ps(mk[kw], crow + off[kw]));
            a1 = _mm512_add_ps(a1, _mm512_maskz_loadu_ps(mk[kw + 1], crow + off[kw + 1]));
            a2 = _mm512_add_ps(a2, _mm512_maskz_loadu_ps(mk[kw + 2], crow + off[kw + 2]));
            a3 = _mm512_add_ps(a3, _mm512_maskz_loadu_ps(mk[kw + 3], crow + off[kw + 3]));
          }
          for (; kw < g.KW; ++kw) a3 = _mm512_add_ps(a3, _mm512_maskz_loadu_ps(mk[kw], crow + off[kw]));
        }
        _mm512_mask_storeu_ps(drow + iw0, mn, _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
      }
  }
}
#else
// Not x86-64: never called (avx512_enabled() is false).
inline void col2im_gather(const float*, const Conv2DGeom&, float*, Index, Index) {}
#endif

}  // namespace nn::kernels::input_grad
