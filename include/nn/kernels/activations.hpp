// nn/kernels/activations.hpp — element-wise activations, vectorized through
// Eigen arrays. All take flat buffers of n elements (any shape).
// Backward functions overwrite dx; they may read x (input) and/or y (output).
#pragma once
#include <cmath>

#include "nn/runtime/parallel.hpp"
#include "nn/tensor/tensor.hpp"

namespace nn::kernels {

namespace detail {
template <class T>
using CA = ConstArrayMap<T>;  // short names for the maps in tensor.hpp
template <class T>
using A = ArrayMap<T>;
}  // namespace detail

// SELU constants (Klambauer et al. 2017), as in PyTorch.
template <class T> constexpr T kSeluAlpha = T(1.6732632423543772848170429916717);
template <class T> constexpr T kSeluScale = T(1.0507009873554804934193349852946);

// y = max(x, 0)
template <class T> void relu_forward(const T* x, T* y, Index n) {
  nn::detail::parallel_chunks(n, [&](Index i0, Index i1) {
    detail::A<T>(y + i0, i1 - i0) = detail::CA<T>(x + i0, i1 - i0).max(T(0));
  });
}
// dx = dy * (x > 0)
template <class T> void relu_backward(const T* x, const T* dy, T* dx, Index n) {
  nn::detail::parallel_chunks(n, [&](Index i0, Index i1) {
    detail::A<T>(dx + i0, i1 - i0) = (detail::CA<T>(x + i0, i1 - i0) > T(0)).select(detail::CA<T>(dy + i0, i1 - i0), T(0));
  });
}
// y = x > 0 ? x : slope * x
template <class T> void leaky_relu_forward(const T* x, T* y, Index n, T slope) {
  nn::detail::parallel_chunks(n, [&](Index i0, Index i1) {
    auto a = detail::CA<T>(x + i0, i1 - i0);
    detail::A<T>(y + i0, i1 - i0) = (a > T(0)).select(a, a * slope);
  });
}
template <class T> void leaky_relu_backward(const T* x, const T* dy, T* dx, Index n, T slope) {
  nn::detail::parallel_chunks(n, [&](Index i0, Index i1) {
    auto d = detail::CA<T>(dy + i0, i1 - i0);
    detail::A<T>(dx + i0, i1 - i0) = (detail::CA<T>(x + i0, i1 - i0) > T(0)).select(d, d * slope);
  });
}
// y = x > 0 ? x : alpha * (exp(x) - 1)
template <class T> void elu_forward(const T* x, T* y, Index n, T alpha) {
  nn::detail::parallel_chunks(n, [&](Index i0, Index i1) {
    auto a = detail::CA<T>(x + i0, i1 - i0);
    detail::A<T>(y + i0, i1 - i0) = (a > T(0)).select(a, alpha * (a.min(T(0)).exp() - T(1)));
  });
}
// dx = dy * (x > 0 ? 1 : y + alpha)
template <class T> void elu_backward(const T* x, const T* y, const T* dy, T* dx, Index n, T alpha) {
  nn::detail::parallel_chunks(n, [&](Index i0, Index i1) {
    auto d = detail::CA<T>(dy + i0, i1 - i0);
    detail::A<T>(dx + i0, i1 - i0) = (detail::CA<T>(x + i0, i1 - i0) > T(0)).select(d, d * (detail::CA<T>(y + i0, i1 - i0) + alpha));
  });
}
// y = scale * (x > 0 ? x : alpha * (exp(x) - 1))
template <class T> void selu_forward(const T* x, T* y, Index n) {
  nn::detail::parallel_chunks(n, [&](Index i0, Index i1) {
    auto a = detail::CA<T>(x + i0, i1 - i0);
    detail::A<T>(y + i0, i1 - i0) =
        kSeluScale<T> * (a > T(0)).select(a, kSeluAlpha<T> * (a.min(T(0)).exp() - T(1)));
  });
}
// dx = dy * (x > 0 ? scale : y + scale * alpha)
template <class T> void selu_backward(const T* x, const T* y, const T* dy, T* dx, Index n) {
  nn::detail::parallel_chunks(n, [&](Index i0, Index i1) {
    auto d = detail::CA<T>(dy + i0, i1 - i0);
    detail::A<T>(dx + i0, i1 - i0) = (detail::CA<T>(x + i0, i1 - i0) > T(0))
                              .select(d * kSeluScale<T>, d * (detail::CA<T>(y + i0, i1 - i0) + kSeluScale<T> * kSeluAlpha<T>));
  });
}
// y = 1 / (1 + exp(-x)), computed without overflow for large |x|
template <class T> void sigmoid_forward(const T* x, T* y, Index n) {
  nn::detail::parallel_chunks(n, [&](Index i0, Index i1) {
    auto a = detail::CA<T>(x + i0, i1 - i0);
    auto e = (-a.abs()).exp();  // in (0, 1]
    detail::A<T>(y + i0, i1 - i0) = (a >= T(0)).select(T(1) / (T(1) + e), e / (T(1) + e));
  });
}
// dx = dy * y * (1 - y)
template <class T> void sigmoid_backward(const T* y, const T* dy, T* dx, Index n) {
  nn::detail::parallel_chunks(n, [&](Index i0, Index i1) {
    auto b = detail::CA<T>(y + i0, i1 - i0);
    detail::A<T>(dx + i0, i1 - i0) = detail::CA<T>(dy + i0, i1 - i0) * b * (T(1) - b);
  });
}
template <class T> void tanh_forward(const T* x, T* y, Index n) {
  nn::detail::parallel_chunks(n, [&](Index i0, Index i1) {
    detail::A<T>(y + i0, i1 - i0) = detail::CA<T>(x + i0, i1 - i0).tanh();
  });
}
// dx = dy * (1 - y^2)
template <class T> void tanh_backward(const T* y, const T* dy, T* dx, Index n) {
  nn::detail::parallel_chunks(n, [&](Index i0, Index i1) {
    auto b = detail::CA<T>(y + i0, i1 - i0);
    detail::A<T>(dx + i0, i1 - i0) = detail::CA<T>(dy + i0, i1 - i0) * (T(1) - b * b);
  });
}

// Row-wise softmax: x (rows, cols) -> y (rows, cols), max-subtracted.
template <class T> void softmax_forward(const T* x, T* y, Index rows, Index cols) {
  for (Index r = 0; r < rows; ++r) {
    auto xr = detail::CA<T>(x + r * cols, cols);
    auto yr = detail::A<T>(y + r * cols, cols);
    yr = (xr - xr.maxCoeff()).exp();
    yr /= yr.sum();
  }
}
// dx = y * (dy - sum(dy * y)) row-wise
template <class T> void softmax_backward(const T* y, const T* dy, T* dx, Index rows, Index cols) {
  for (Index r = 0; r < rows; ++r) {
    auto yr = detail::CA<T>(y + r * cols, cols);
    auto dr = detail::CA<T>(dy + r * cols, cols);
    const T s = (yr * dr).sum();
    detail::A<T>(dx + r * cols, cols) = yr * (dr - s);
  }
}
// Row-wise log-softmax: x (rows, cols) -> y (rows, cols), as
// (x - max) - log(sum(exp(x - max))). Adding max and the log first would
// round the log away next to large logits (1e4 in float: ulp 1e-3).
template <class T> void log_softmax_forward(const T* x, T* y, Index rows, Index cols) {
  for (Index r = 0; r < rows; ++r) {
    auto xr = detail::CA<T>(x + r * cols, cols);
    auto yr = detail::A<T>(y + r * cols, cols);
    yr = xr - xr.maxCoeff();
    yr -= std::log(yr.exp().sum());
  }
}
// Backward of log-softmax from its output: dx = dy - exp(y) * sum(dy), row-wise
template <class T> void log_softmax_backward(const T* y, const T* dy, T* dx, Index rows, Index cols) {
  for (Index r = 0; r < rows; ++r) {
    auto dr = detail::CA<T>(dy + r * cols, cols);
    const T s = dr.sum();
    detail::A<T>(dx + r * cols, cols) = dr - detail::CA<T>(y + r * cols, cols).exp() * s;
  }
}

}  // namespace nn::kernels
