// nn/kernels/epilogue.hpp — a per-channel epilogue that a kernel applies to
// its output while it is still in cache (bias, a fused batch norm, ReLU):
//   y[n, c, ...] = scale[c] * y + shift[c], then max(y, 0) when relu.
// scale and shift may be null (1 and 0). Layers pass it through
// Layer::forward_fused (nn/layers/layer.hpp).
#pragma once
#include <vector>

#include "nn/tensor/tensor.hpp"

namespace nn {

template <class T>
struct Epilogue {
  const T* scale = nullptr;
  const T* shift = nullptr;
  bool relu = false;
  bool empty() const { return !scale && !shift && !relu; }
};

namespace kernels {

// out (n) = a * in + s, then max(0) when relu. in may equal out.
template <class T>
void epilogue_row(const T* in, T* out, Index n, T a, T s, bool relu) {
  const auto i = ConstArrayMap<T>(in, n);
  auto o = ArrayMap<T>(out, n);
  if (relu) o = (i * a + s).max(T(0));
  else if (a != T(1)) o = i * a + s;
  else if (s != T(0) || in != out) o = i + s;
}

// Folds a bias b (C, may be null) into the epilogue: shift'[c] = scale[c] *
// b[c] + shift[c], written to buf. Returns shift' (null when both are null).
template <class T>
const T* fold_bias(const T* b, const Epilogue<T>& e, Index C, std::vector<T>& buf) {
  if (!b && !e.shift) return nullptr;
  buf.resize(static_cast<std::size_t>(C));
  for (Index c = 0; c < C; ++c)
    buf[static_cast<std::size_t>(c)] = (b ? b[c] : T(0)) * (e.scale ? e.scale[c] : T(1)) + (e.shift ? e.shift[c] : T(0));
  return buf.data();
}

}  // namespace kernels
}  // namespace nn
