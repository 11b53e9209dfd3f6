// nn/kernels/conv2d_pool.hpp — a convolution, its epilogue (bias, ReLU) and
// a max pool in one pass, and the matching backward; Sequential uses them
// for Conv2D -> ReLU -> MaxPool2D (layers/layer.hpp, "max-pool fusion").
//
// Unfused, the convolution writes its whole output (32 channels of 24x24 for
// a batch of 64: 4.7 MB, more than the L2 caches hold), the pool reads it back, and in
// backward the pool writes a dense gradient of that size that the weight
// gradient reads back and transposes. Here, where the direct kernel runs the
// layer, the forward pools each 8-channel block of a sample while it is in
// cache, and the weight gradient scatters the pool's gradient straight into
// its transposed per-sample buffer: the full-size output and its gradient
// never exist. Elsewhere (other algorithms, or when the layer needs its input
// gradient) the same results come from the unfused kernels, through a
// workspace buffer.
//
// Results: the pooled output and argmax are those of the unfused layers
// (the same sums, epilogue and pool kernel); the weight gradient too, bit for
// bit (the same gradient values, added in the same order); the bias gradient
// equals the unfused one up to float rounding (summed in another order).
//
// Where conv_select.hpp chooses Winograd (5x5 and 3x3 convolutions with 16+
// input channels and a 2x2 / stride 2 pool, policy Auto), forward and
// backward run conv2d_winograd.hpp: faster, equal to the unfused layers up to
// float rounding (~1e-5 relative) instead of bit for bit.
#pragma once
#include <cstdint>
#include <type_traits>
#include <vector>

#include "nn/kernels/conv2d.hpp"
#include "nn/kernels/conv2d_winograd.hpp"
#include "nn/kernels/pool2d.hpp"

namespace nn::kernels {

template <class T>
struct ConvPoolWorkspace {
  ConvWorkspace<T> conv;
  winograd::Workspace wino;  // float only
  std::vector<T> y;  // the unfused path's full convolution output / its gradient
};

// yp (N, OC, POH, POW) = maxpool(epilogue(conv(x, w) + b)), pool geometry pg
// over the convolution's (OC, OH, OW) output (pg.N is ignored); argmax (same
// shape as yp), unless null, as maxpool2d_forward writes it.
template <class T>
void conv2d_forward_maxpool(const T* x, const T* w, const T* b, T* yp, std::int32_t* argmax, const Conv2DGeom& g,
                            const Pool2DGeom& pg, ConvPoolWorkspace<T>& ws, const Epilogue<T>& ep = {}) {
  if constexpr (std::is_same<T, float>::value) {
    const ConvKernel algo = choose_conv<T>(g, &pg).pool_forward;
    if (algo == ConvKernel::Winograd) {
      winograd::forward_maxpool(x, w, ep.scale, fold_bias(b, ep, g.OC, ws.conv.shift), ep.relu, yp, argmax, g, pg,
                                ws.wino);
      return;
    }
    if (algo == ConvKernel::Direct) {
      const float* shift = fold_bias(b, ep, g.OC, ws.conv.shift);
      detail::direct_pack_weights(w, g, ws.conv);
      const direct::Plane pl = detail::direct_plane(g);
      const Index P = g.OH * g.OW, PQ = pg.OH * pg.OW, wide = pl.wide();
      direct::run_to(x, g.N, g.OC, pl, ws.conv.direct, direct::kOC * P,
                     [&](Index n, Index o0, Index o1, const float* wo, int tid) {
                       float* t = ws.conv.direct.tmp[static_cast<std::size_t>(tid)].data();
                       for (Index o = o0; o < o1; ++o) {
                         const float a = ep.scale ? ep.scale[o] : 1.0f, s = shift ? shift[o] : 0.0f;
                         for (Index oh = 0; oh < g.OH; ++oh)
                           epilogue_row(wo + (o - o0) * wide + oh * pl.Wp, t + (o - o0) * P + oh * g.OW, g.OW, a, s,
                                        ep.relu);
                       }
                       Pool2DGeom qb = pg;  // this block's channels of one sample; serial inside the region
                       qb.N = 1, qb.C = o1 - o0;
                       const Index off = (n * g.OC + o0) * PQ;
                       maxpool2d_forward(static_cast<const float*>(t), yp + off, argmax ? argmax + off : nullptr, qb);
                     });
      return;
    }
  }
  ws.y.resize(static_cast<std::size_t>(g.N * g.OC * g.OH * g.OW));
  conv2d_forward(x, w, b, ws.y.data(), g, ws.conv, ep);
  Pool2DGeom q = pg;
  q.N = g.N;
  maxpool2d_forward(static_cast<const T*>(ws.y.data()), yp, argmax, q);
}

// The backward of conv2d_forward_maxpool with a ReLU epilogue (relu_y: the
// pooled output yp) or none (relu_y null): dyp (N, OC, POH, POW) the pooled
// output's gradient, argmax from the training forward. dx overwritten unless
// null, dw and db accumulated, as conv2d_backward.
template <class T>
void conv2d_backward_maxpool(const T* x, const T* w, const T* dyp, const std::int32_t* argmax, const T* relu_y,
                             T* dx, T* dw, T* db, const Conv2DGeom& g, const Pool2DGeom& pg,
                             ConvPoolWorkspace<T>& ws) {
  if constexpr (std::is_same<T, float>::value) {
    const ConvKernel algo = choose_conv<T>(g, &pg, dx != nullptr).pool_backward;
    if (algo == ConvKernel::Winograd) {
      winograd::backward_maxpool(x, w, dyp, argmax, relu_y, dx, dw, db, g, pg, ws.wino);
      return;
    }
    if (algo == ConvKernel::Direct) {
      PooledGrad<float> pooled;
      pooled.dy = dyp, pooled.argmax = argmax, pooled.relu_y = relu_y, pooled.PQ = pg.OH * pg.OW;
      conv2d_backward(x, w, static_cast<const float*>(nullptr), dx, dw, db, g, ws.conv, &pooled);
      return;
    }
  }
  Pool2DGeom q = pg;
  q.N = g.N;
  ws.y.resize(static_cast<std::size_t>(g.N * g.OC * g.OH * g.OW));
  maxpool2d_backward(dyp, argmax, ws.y.data(), q, relu_y);
  conv2d_backward(x, w, static_cast<const T*>(ws.y.data()), dx, dw, db, g, ws.conv);
}

}  // namespace nn::kernels
