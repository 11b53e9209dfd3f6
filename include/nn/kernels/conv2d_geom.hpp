// nn/kernels/conv2d_geom.hpp — the shape of a 2-D convolution: input, kernel,
// stride, padding, dilation and the output size they imply.
#pragma once
#include <stdexcept>
#include <string>

#include "nn/tensor/tensor.hpp"

namespace nn::kernels {

struct Conv2DGeom {
  Index N = 0, C = 0, H = 0, W = 0;      // input (N, C, H, W)
  Index OC = 0, KH = 0, KW = 0;          // weights (OC, C, KH, KW)
  Index SH = 1, SW = 1;                  // stride
  Index PT = 0, PB = 0, PL = 0, PR = 0;  // zero padding: top, bottom, left, right
  Index DH = 1, DW = 1;                  // dilation
  Index OH = 0, OW = 0;                  // output (N, OC, OH, OW)

  Index col_rows() const { return C * KH * KW; }
  Index col_cols() const { return OH * OW; }
  // Fills OH/OW from the rest; throws when the geometry is impossible.
  void infer_output() {
    if (KH < 1 || KW < 1 || SH < 1 || SW < 1 || DH < 1 || DW < 1 || PT < 0 || PB < 0 || PL < 0 || PR < 0)
      throw std::invalid_argument("conv2d: kernel, stride and dilation must be >= 1 and padding >= 0");
    const Index eh = DH * (KH - 1) + 1, ew = DW * (KW - 1) + 1;
    const Index hp = H + PT + PB, wp = W + PL + PR;
    if (hp < eh || wp < ew)
      throw std::invalid_argument("conv2d: input " + std::to_string(H) + "x" + std::to_string(W) +
                                  " (padded " + std::to_string(hp) + "x" + std::to_string(wp) +
                                  ") is smaller than the dilated kernel " + std::to_string(eh) + "x" +
                                  std::to_string(ew));
    OH = (hp - eh) / SH + 1;
    OW = (wp - ew) / SW + 1;
  }
};

}  // namespace nn::kernels
