// nn/kernels/batchnorm.hpp — batch normalization over (N, C, S): statistics
// per channel c over the N*S values (S = H*W after a conv, S = 1 after a dense
// layer). Parallel over channels. Variance is biased (divides by N*S) for
// normalization; the layer keeps the unbiased one in its running statistics,
// as PyTorch does.
#pragma once
#include <cmath>

#include "nn/runtime/parallel.hpp"
#include "nn/tensor/tensor.hpp"

namespace nn::kernels {

namespace detail {
inline bool bn_parallel(Index C, Index work) { return C > 1 && work > 16384; }
}

// x (N, C, S) -> mean (C), var (C) biased. Two passes (mean, then squared
// deviations); each row of S values is reduced with SIMD in T, and the rows
// are accumulated in double.
template <class T>
void batchnorm_stats(const T* x, Index N, Index C, Index S, T* mean, T* var) {
  const double M = static_cast<double>(N * S);
  nn::detail::parallel_for(C, detail::bn_parallel(C, N * C * S), 1, [&](Index c, int) {
    double s = 0;
    for (Index n = 0; n < N; ++n) s += static_cast<double>(ConstArrayMap<T>(x + (n * C + c) * S, S).sum());
    const double mu = s / M;
    const T mut = static_cast<T>(mu);
    double q = 0;
    for (Index n = 0; n < N; ++n) q += static_cast<double>((ConstArrayMap<T>(x + (n * C + c) * S, S) - mut).square().sum());
    mean[c] = mut;
    var[c] = static_cast<T>(q / M);
  });
}

// y (N, C, S) = gamma[c] * (x - mean[c]) * invstd[c] + beta[c]
template <class T>
void batchnorm_apply(const T* x, Index N, Index C, Index S, const T* mean, const T* invstd, const T* gamma,
                     const T* beta, T* y) {
  nn::detail::parallel_for(N * C, detail::bn_parallel(N * C, N * C * S), 8, [&](Index nc, int) {
    const Index c = nc % C;
    const T a = gamma[c] * invstd[c];
    const T b = beta[c] - mean[c] * a;
    ArrayMap<T>(y + nc * S, S) = ConstArrayMap<T>(x + nc * S, S) * a + b;
  });
}

// Backward of training-mode batch norm, given the batch mean and invstd used
// in forward:
//   dx (N, C, S) overwritten:  gamma*invstd/M * (M*dy - sum(dy) - xhat*sum(dy*xhat))
//   dgamma (C), dbeta (C) accumulated (+=)
template <class T>
void batchnorm_backward(const T* x, const T* dy, Index N, Index C, Index S, const T* mean, const T* invstd,
                        const T* gamma, T* dx, T* dgamma, T* dbeta) {
  const double M = static_cast<double>(N * S);
  nn::detail::parallel_for(C, detail::bn_parallel(C, N * C * S), 1, [&](Index c, int) {
    const T mu = mean[c], is = invstd[c];
    double sdy = 0, sdyx = 0;
    for (Index n = 0; n < N; ++n) {
      const auto d = ConstArrayMap<T>(dy + (n * C + c) * S, S);
      sdy += static_cast<double>(d.sum());
      sdyx += static_cast<double>((d * (ConstArrayMap<T>(x + (n * C + c) * S, S) - mu)).sum()) * is;
    }
    dgamma[c] += static_cast<T>(sdyx);
    dbeta[c] += static_cast<T>(sdy);
    if (!dx) return;
    const T k = gamma[c] * is;
    const T mdy = static_cast<T>(sdy / M), mdyx = static_cast<T>(sdyx / M);
    for (Index n = 0; n < N; ++n) {
      const Index off = (n * C + c) * S;
      ArrayMap<T>(dx + off, S) =
          k * (ConstArrayMap<T>(dy + off, S) - mdy - (ConstArrayMap<T>(x + off, S) - mu) * (is * mdyx));
    }
  });
}

// The pieces of batchnorm_stats and batchnorm_backward for statistics that
// are summed over several processes between the passes (synchronized batch
// norm); each accumulates in double, per channel, like the fused kernels.
//   x (N, C, S) -> sum (C):  sum[c] = sum of x over n, s           (center null)
//                            sum[c] = sum of (x - center[c])^2     (else)
template <class T>
void batchnorm_sums(const T* x, Index N, Index C, Index S, const T* center, double* sum) {
  nn::detail::parallel_for(C, detail::bn_parallel(C, N * C * S), 1, [&](Index c, int) {
    double s = 0;
    for (Index n = 0; n < N; ++n) {
      const auto row = ConstArrayMap<T>(x + (n * C + c) * S, S);
      s += static_cast<double>(center ? (row - center[c]).square().sum() : row.sum());
    }
    sum[c] = s;
  });
}
//   x, dy (N, C, S) -> sdy (C) = sum of dy,  sdyx (C) = sum of dy * xhat
template <class T>
void batchnorm_backward_sums(const T* x, const T* dy, Index N, Index C, Index S, const T* mean, const T* invstd,
                             double* sdy, double* sdyx) {
  nn::detail::parallel_for(C, detail::bn_parallel(C, N * C * S), 1, [&](Index c, int) {
    const T mu = mean[c], is = invstd[c];
    double a = 0, b = 0;
    for (Index n = 0; n < N; ++n) {
      const auto d = ConstArrayMap<T>(dy + (n * C + c) * S, S);
      a += static_cast<double>(d.sum());
      b += static_cast<double>((d * (ConstArrayMap<T>(x + (n * C + c) * S, S) - mu)).sum()) * is;
    }
    sdy[c] = a;
    sdyx[c] = b;
  });
}
//   dx (N, C, S) = gamma*invstd * (dy - mdy[c] - xhat * mdyx[c]), where mdy
//   and mdyx are the means of dy and dy * xhat over all M values
template <class T>
void batchnorm_backward_dx(const T* x, const T* dy, Index N, Index C, Index S, const T* mean, const T* invstd,
                           const T* gamma, const T* mdy, const T* mdyx, T* dx) {
  nn::detail::parallel_for(N * C, detail::bn_parallel(N * C, N * C * S), 8, [&](Index nc, int) {
    const Index c = nc % C;
    const T is = invstd[c], k = gamma[c] * is;
    ArrayMap<T>(dx + nc * S, S) =
        k * (ConstArrayMap<T>(dy + nc * S, S) - mdy[c] - (ConstArrayMap<T>(x + nc * S, S) - mean[c]) * (is * mdyx[c]));
  });
}

}  // namespace nn::kernels
