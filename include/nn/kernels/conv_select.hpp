// nn/kernels/conv_select.hpp — the one place that decides how a 2-D
// convolution runs. choose_conv() maps a geometry (and the max pool that
// follows, if the plan fuses one) to the kernels of the forward pass, the
// weight gradient and the input gradient. The kernels (conv2d.hpp,
// conv2d_pool.hpp) run what it returns; the plan (nn/model/plan.hpp) records
// it per convolution, and plan() / profile() print it.
//
// Inputs to the choice besides the geometry: the scalar type (the fast
// kernels are float only), whether the CPU runs nn's AVX-512 kernels
// (nn/kernels/cpu.hpp: NN_SIMD), and the policy below (NN_CONV). Each
// environment variable is read once, on first use.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <type_traits>

#include "nn/kernels/conv2d_direct.hpp"  // direct::kPix: the direct kernel's pixel tile
#include "nn/kernels/conv2d_geom.hpp"
#include "nn/kernels/cpu.hpp"
#include "nn/kernels/pool2d.hpp"

namespace nn::kernels {

// The policy. Auto: the fastest kernel that applies. Direct: the same
// without Winograd (every output a plain sum, as im2col's). Im2col: always
// im2col + GEMM (for A/B measurements and tests). The default comes from the
// environment variable NN_CONV=auto|direct|im2col, else Auto.
enum class ConvAlgorithm { Auto, Im2col, Direct };

namespace detail {
inline std::atomic<int>& conv_algorithm_state() {
  static std::atomic<int> a{[] {
    const char* e = std::getenv("NN_CONV");
    const std::string v = e ? e : "";
    return v == "im2col" ? int(ConvAlgorithm::Im2col) : v == "direct" ? int(ConvAlgorithm::Direct)
                                                                       : int(ConvAlgorithm::Auto);
  }()};
  return a;
}
}  // namespace detail

inline void set_conv_algorithm(ConvAlgorithm a) { detail::conv_algorithm_state() = int(a); }
inline ConvAlgorithm conv_algorithm() { return ConvAlgorithm(detail::conv_algorithm_state().load()); }

enum class ConvKernel : std::uint8_t {
  Im2col,    // im2col + GEMM (gemm.hpp: Eigen, or nn's packed SGEMM)
  Gemm1x1,   // 1x1, stride 1, no padding: one GEMM on the input itself
  Direct,    // conv2d_direct.hpp: stride 1, dilation 1, float, AVX-512
  Channels,  // conv2d_oc.hpp: output channels in SIMD lanes, for small maps
  Winograd,  // conv2d_winograd.hpp: F(4x4, 3x3 | 5x5), with ReLU and a 2x2 max pool
  Unfused,   // (with a pool) the forward kernel, then the pool, through a buffer
};
enum class ConvInputGrad : std::uint8_t {
  Im2col,     // GEMM (Eigen) then col2im
  Im2colOwn,  // gemm_small.hpp's GEMM then conv2d_input_grad.hpp's col2im gather
  Direct,     // the direct kernel on dy padded by kernel - 1 - padding
};

inline const char* name(ConvKernel k) {
  static const char* names[] = {"im2col", "1x1 gemm", "direct", "channel-blocked", "winograd", "unfused"};
  return names[static_cast<int>(k)];
}
inline const char* name(ConvInputGrad k) {
  static const char* names[] = {"im2col", "im2col (own gemm + gather)", "direct"};
  return names[static_cast<int>(k)];
}

struct ConvChoice {
  ConvKernel forward = ConvKernel::Im2col;      // conv2d_forward
  ConvKernel weight_grad = ConvKernel::Im2col;  // conv2d_backward: Direct or Im2col
  ConvInputGrad input_grad = ConvInputGrad::Im2col;
  // With a max pool (conv2d_forward_maxpool / conv2d_backward_maxpool):
  // Winograd; Direct (the pool reads each block of the direct kernel's output
  // in cache; backward, only without an input gradient: the weight gradient
  // reads the pool's gradient scattered, the dense one never written); or
  // Unfused.
  bool pooled = false;
  ConvKernel pool_forward = ConvKernel::Unfused;
  ConvKernel pool_backward = ConvKernel::Unfused;

  bool operator==(const ConvChoice& o) const {
    return forward == o.forward && weight_grad == o.weight_grad && input_grad == o.input_grad &&
           pooled == o.pooled && pool_forward == o.pool_forward && pool_backward == o.pool_backward;
  }
  // "forward direct" (eval) or "forward direct; dW direct; dX direct" (training).
  std::string str(bool training, bool input_grad_needed = true) const {
    std::string s = "forward ";
    s += name(pooled && pool_forward != ConvKernel::Unfused ? pool_forward : forward);
    if (pooled && pool_forward == ConvKernel::Unfused) s += " + pool";
    if (!training) return s;
    if (pooled && pool_backward == ConvKernel::Winograd) return s + "; backward winograd";
    s += "; dW ";
    s += name(weight_grad);
    if (pooled && pool_backward == ConvKernel::Direct) s += " (from the pool's gradient)";
    if (input_grad_needed) {
      s += "; dX ";
      s += name(input_grad);
    }
    return s;
  }
};

// g: the convolution (g.N is ignored); pool: the max pool fused after it, if
// any, over the convolution's output (pool->N is ignored); input_grad: whether
// the backward computes dx.
template <class T>
ConvChoice choose_conv(const Conv2DGeom& g, const Pool2DGeom* pool = nullptr, bool input_grad = true) {
  ConvChoice c;
  const bool unpadded = g.PT + g.PB + g.PL + g.PR == 0;
  const bool pointwise = g.KH == 1 && g.KW == 1 && unpadded;
  if (pointwise && g.SH == 1 && g.SW == 1) c.forward = ConvKernel::Gemm1x1;
  c.pooled = pool != nullptr;
  if constexpr (std::is_same<T, float>::value) {
    const ConvAlgorithm policy = conv_algorithm();
    const bool fast = policy != ConvAlgorithm::Im2col && avx512_enabled();
    const bool direct = fast && g.SH == 1 && g.SW == 1 && g.DH == 1 && g.DW == 1 && !pointwise;
    if (direct) {
      c.forward = c.weight_grad = ConvKernel::Direct;
      // Small maps: the wide direct kernel computes whole 48-pixel tiles over
      // padded rows; where that wastes more than a quarter of its work (a 5x5
      // kernel with 8x8 outputs computes 96 pixels for 64) and the taps are
      // enough to pay for a transpose, the channel-blocked kernel runs.
      const Index Wp = g.W + g.PL + g.PR;
      const Index wide = (g.OH * Wp + direct::kPix - 1) / direct::kPix * direct::kPix;
      if (g.col_rows() >= 64 && double(wide) > 1.25 * double(g.OH * g.OW)) c.forward = ConvKernel::Channels;
      // The direct input gradient convolves dy padded by kernel - 1 - padding:
      // it needs padding < kernel on every side, and on small maps with large
      // kernels it computes mostly zeros (a 5x5 kernel on 8x8 maps: 3x the
      // useful work); above 1.5x, im2col does the input gradient.
      const double wide_pixels = double(g.H) * double(g.OW + 2 * (g.KW - 1) - g.PL - g.PR);
      if (g.PT < g.KH && g.PB < g.KH && g.PL < g.KW && g.PR < g.KW &&
          wide_pixels <= 1.5 * double(g.OH) * double(g.OW))
        c.input_grad = ConvInputGrad::Direct;
    }
    if (fast && c.input_grad != ConvInputGrad::Direct) c.input_grad = ConvInputGrad::Im2colOwn;
    if (pool) {
      const Pool2DGeom& p = *pool;
      const bool pool2x2 = p.KH == 2 && p.KW == 2 && p.SH == 2 && p.SW == 2 && p.PH == 0 && p.PW == 0 &&
                           p.H == g.OH && p.W == g.OW;
      // Winograd: 5x5 or 3x3 with 16+ input channels (fewer leave its GEMMs too
      // short to pay for the transforms), a 2x2 / stride 2 pool, policy Auto.
      const bool wino = direct && policy == ConvAlgorithm::Auto && pool2x2 && g.C >= 16 &&
                        ((g.KH == 5 && g.KW == 5) || (g.KH == 3 && g.KW == 3));
      if (wino) {
        c.pool_forward = c.pool_backward = ConvKernel::Winograd;
      } else {
        if (c.forward == ConvKernel::Direct) c.pool_forward = ConvKernel::Direct;
        if (direct && !input_grad) c.pool_backward = ConvKernel::Direct;
      }
    }
  }
  (void)input_grad;
  return c;
}

}  // namespace nn::kernels
