// tests/support/naive.hpp — short, obviously-correct reference kernels. The
// optimized kernels in include/nn/kernels are tested against these.
#pragma once
#include <cmath>
#include <limits>
#include <vector>

#include <nn/kernels/conv2d.hpp>
#include <nn/kernels/pool2d.hpp>

namespace naive {
using nn::Index;

// C (M,N) = alpha op(A) op(B) + beta C
template <class T>
void gemm(bool ta, bool tb, Index M, Index N, Index K, T alpha, const T* A, Index lda, const T* B, Index ldb, T beta,
          T* C, Index ldc) {
  for (Index i = 0; i < M; ++i)
    for (Index j = 0; j < N; ++j) {
      double s = 0;
      for (Index k = 0; k < K; ++k) s += double(ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
      C[i * ldc + j] = T(alpha * s + (beta == T(0) ? 0.0 : double(beta) * C[i * ldc + j]));
    }
}

// Direct convolution: y[n,o,oh,ow] = b[o] + sum x[n,c,ih,iw] w[o,c,kh,kw]
template <class T>
void conv2d_forward(const T* x, const T* w, const T* b, T* y, const nn::kernels::Conv2DGeom& g) {
  for (Index n = 0; n < g.N; ++n)
    for (Index o = 0; o < g.OC; ++o)
      for (Index oh = 0; oh < g.OH; ++oh)
        for (Index ow = 0; ow < g.OW; ++ow) {
          double s = b ? b[o] : 0.0;
          for (Index c = 0; c < g.C; ++c)
            for (Index kh = 0; kh < g.KH; ++kh)
              for (Index kw = 0; kw < g.KW; ++kw) {
                const Index ih = oh * g.SH - g.PT + kh * g.DH, iw = ow * g.SW - g.PL + kw * g.DW;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                s += double(x[((n * g.C + c) * g.H + ih) * g.W + iw]) * w[((o * g.C + c) * g.KH + kh) * g.KW + kw];
              }
          y[((n * g.OC + o) * g.OH + oh) * g.OW + ow] = T(s);
        }
}

// Same loops, scattering dy: dx overwritten, dw/db accumulated.
template <class T>
void conv2d_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, const nn::kernels::Conv2DGeom& g) {
  std::fill(dx, dx + g.N * g.C * g.H * g.W, T(0));
  for (Index n = 0; n < g.N; ++n)
    for (Index o = 0; o < g.OC; ++o)
      for (Index oh = 0; oh < g.OH; ++oh)
        for (Index ow = 0; ow < g.OW; ++ow) {
          const T d = dy[((n * g.OC + o) * g.OH + oh) * g.OW + ow];
          if (db) db[o] += d;
          for (Index c = 0; c < g.C; ++c)
            for (Index kh = 0; kh < g.KH; ++kh)
              for (Index kw = 0; kw < g.KW; ++kw) {
                const Index ih = oh * g.SH - g.PT + kh * g.DH, iw = ow * g.SW - g.PL + kw * g.DW;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                const Index xi = ((n * g.C + c) * g.H + ih) * g.W + iw, wi = ((o * g.C + c) * g.KH + kh) * g.KW + kw;
                dx[xi] += d * w[wi];
                dw[wi] += d * x[xi];
              }
        }
}

// Max pool: first maximum in row-major window order wins.
template <class T>
void maxpool2d_forward(const T* x, T* y, const nn::kernels::Pool2DGeom& g) {
  for (Index p = 0; p < g.N * g.C; ++p)
    for (Index oh = 0; oh < g.OH; ++oh)
      for (Index ow = 0; ow < g.OW; ++ow) {
        T m = -std::numeric_limits<T>::infinity();
        for (Index kh = 0; kh < g.KH; ++kh)
          for (Index kw = 0; kw < g.KW; ++kw) {
            const Index ih = oh * g.SH - g.PH + kh, iw = ow * g.SW - g.PW + kw;
            if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) m = std::max(m, x[(p * g.H + ih) * g.W + iw]);
          }
        y[(p * g.OH + oh) * g.OW + ow] = m;
      }
}

template <class T>
void avgpool2d_forward(const T* x, T* y, const nn::kernels::Pool2DGeom& g) {
  for (Index p = 0; p < g.N * g.C; ++p)
    for (Index oh = 0; oh < g.OH; ++oh)
      for (Index ow = 0; ow < g.OW; ++ow) {
        double s = 0;
        for (Index kh = 0; kh < g.KH; ++kh)
          for (Index kw = 0; kw < g.KW; ++kw) {
            const Index ih = oh * g.SH - g.PH + kh, iw = ow * g.SW - g.PW + kw;
            if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) s += x[(p * g.H + ih) * g.W + iw];
          }
        y[(p * g.OH + oh) * g.OW + ow] = T(s / double(g.KH * g.KW));
      }
}

// Per-channel mean and biased variance of x (N, C, S), textbook two-pass.
template <class T>
void batchnorm_stats(const T* x, Index N, Index C, Index S, T* mean, T* var) {
  for (Index c = 0; c < C; ++c) {
    double s = 0, q = 0;
    for (Index n = 0; n < N; ++n)
      for (Index i = 0; i < S; ++i) s += x[(n * C + c) * S + i];
    const double mu = s / double(N * S);
    for (Index n = 0; n < N; ++n)
      for (Index i = 0; i < S; ++i) q += (x[(n * C + c) * S + i] - mu) * (x[(n * C + c) * S + i] - mu);
    mean[c] = T(mu);
    var[c] = T(q / double(N * S));
  }
}

// Scalar activations.
inline double relu(double x) { return x > 0 ? x : 0; }
inline double leaky(double x, double s) { return x > 0 ? x : s * x; }
inline double elu(double x, double a) { return x > 0 ? x : a * (std::exp(x) - 1); }
inline double selu(double x) {
  return 1.0507009873554804934193349852946 * (x > 0 ? x : 1.6732632423543772848170429916717 * (std::exp(x) - 1));
}
inline double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

}  // namespace naive
