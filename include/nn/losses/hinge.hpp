// nn/losses/hinge.hpp — two hinge-embedding losses.
//
// 1. HingeEmbedding — PyTorch's HingeEmbeddingLoss over (distance, label) pairs:
//      x (any shape): distances; y (same shape): +1 (similar) or -1 (dissimilar)
//      l = x                     where y = +1
//      l = max(0, margin - x)    where y = -1
//    Mean divides by the number of elements. margin defaults to 1.
//
// 2. ConceptPushPull — embeds a sample near its active concepts and away from
//    the inactive ones (a "push/pull" hinge on a concept table):
//      e (N, D): sample embeddings;  W (K, D): concept vectors
//      active[n]:   ids of the concepts present in sample n (any count, may be 0)
//      inactive[n]: ids to push away; empty list of lists = all non-active ids
//      l_n = sum_{k in active[n]}   ||e_n - W_k||^2
//          + sum_{k in inactive[n]} max(0, margin - ||e_n - W_k||)
//    Mean divides by N. Gradients go to both e and W (W is usually an
//    Embedding's weight or any trainable table).
//
// 3. CosinePushPull — ConceptPushPull on unit vectors, written on their
//    cosines, so that it is an ordinary Loss of a graph output (the output of
//    a ConceptSimilarity layer, which holds the concept table):
//      c (N, K): cos(e_n, w_k);  t (N, K): 1 where concept k is active, else 0
//      with unit vectors |e - w|^2 = 2 - 2c, so
//      l_n = sum_{t=1} (2 - 2c) + sum_{t=0} max(0, margin - sqrt(2 - 2c))
//    The default margin sqrt(2) pushes inactive concepts to cos <= 0; active
//    ones are pulled toward cos = 1. Mean divides by N.
#pragma once
#include <cmath>
#include <vector>

#include "nn/losses/loss.hpp"

namespace nn {

template <class T>
class HingeEmbedding : public Loss<T> {
 public:
  explicit HingeEmbedding(double margin = 1.0, Reduction r = Reduction::Mean)
      : Loss<T>(r), margin_(static_cast<T>(margin)) {}
  std::string name() const override { return "HingeEmbedding"; }
  T compute(const Tensor<T>& x, const Tensor<T>& y, Tensor<T>* grad) const override {
    this->check_same(x, y);
    const double norm = this->reduction_ == Reduction::Mean ? static_cast<double>(x.size()) : 1.0;
    double loss = 0;
    if (grad) grad->resize(x.shape());
    for (Index i = 0; i < x.size(); ++i) {
      T g = 0;
      if (y[i] == T(1)) {
        loss += x[i];
        g = 1;
      } else if (y[i] == T(-1)) {
        const T m = margin_ - x[i];
        if (m >= 0) loss += m, g = -1;
      } else {
        std::ostringstream os;
        os << "target element " << i << " is " << y[i] << "; targets must be +1 or -1";
        this->fail(os.str());
      }
      if (grad) (*grad)[i] = static_cast<T>(g / norm);
    }
    return static_cast<T>(loss / norm);
  }

 private:
  T margin_;
};

template <class T>
class ConceptPushPull {
 public:
  explicit ConceptPushPull(double margin = 1.0, Reduction r = Reduction::Mean) : margin_(margin), reduction_(r) {}
  std::string name() const { return "ConceptPushPull"; }

  // grad_e (N, D) and grad_w (K, D) are overwritten when not null.
  T compute(const Tensor<T>& e, const Tensor<T>& W, const std::vector<std::vector<int>>& active,
            const std::vector<std::vector<int>>& inactive, Tensor<T>* grad_e, Tensor<T>* grad_w) const {
    if (e.rank() != 2 || e.dim(0) == 0) fail("embeddings must be a non-empty (N, D), got " + e.shape().str());
    if (W.rank() != 2 || W.dim(1) != e.dim(1))
      fail("concepts must be (K, D) with D = " + std::to_string(e.dim(1)) + ", got " + W.shape().str());
    const Index N = e.dim(0), D = e.dim(1), K = W.dim(0);
    if (static_cast<Index>(active.size()) != N)
      fail(std::to_string(active.size()) + " active-concept lists for " + std::to_string(N) + " samples");
    if (!inactive.empty() && static_cast<Index>(inactive.size()) != N)
      fail(std::to_string(inactive.size()) + " inactive-concept lists for " + std::to_string(N) + " samples");
    const double norm = reduction_ == Reduction::Mean ? static_cast<double>(N) : 1.0;
    if (grad_e) {
      grad_e->resize(e.shape());
      grad_e->zero();
    }
    if (grad_w) {
      grad_w->resize(W.shape());
      grad_w->zero();
    }
    auto check_id = [&](int k, Index n) {
      if (k < 0 || k >= K)
        fail("concept id " + std::to_string(k) + " of sample " + std::to_string(n) + " is not in [0, " +
             std::to_string(K) + ")");
    };
    std::vector<char> is_active(static_cast<std::size_t>(K));
    double loss = 0;
    for (Index n = 0; n < N; ++n) {
      const T* en = e.data() + n * D;
      std::fill(is_active.begin(), is_active.end(), 0);
      // pull: squared distance to active concepts
      for (int k : active[static_cast<std::size_t>(n)]) {
        check_id(k, n);
        is_active[static_cast<std::size_t>(k)] = 1;
        const T* wk = W.data() + k * D;
        for (Index d = 0; d < D; ++d) {
          const double diff = static_cast<double>(en[d]) - wk[d];
          loss += diff * diff;
          const T g = static_cast<T>(2.0 * diff / norm);
          if (grad_e) (*grad_e)[n * D + d] += g;
          if (grad_w) (*grad_w)[k * D + d] -= g;
        }
      }
      // push: hinge on the distance to inactive concepts
      auto push = [&](int k) {
        const T* wk = W.data() + k * D;
        double dist2 = 0;
        for (Index d = 0; d < D; ++d) {
          const double diff = static_cast<double>(en[d]) - wk[d];
          dist2 += diff * diff;
        }
        const double dist = std::sqrt(dist2);
        if (dist >= margin_) return;
        loss += margin_ - dist;
        if (dist == 0) return;  // gradient undefined at the concept itself; 0 by convention
        for (Index d = 0; d < D; ++d) {
          const T g = static_cast<T>(-(static_cast<double>(en[d]) - wk[d]) / dist / norm);
          if (grad_e) (*grad_e)[n * D + d] += g;
          if (grad_w) (*grad_w)[k * D + d] -= g;
        }
      };
      if (inactive.empty()) {
        for (Index k = 0; k < K; ++k)
          if (!is_active[static_cast<std::size_t>(k)]) push(static_cast<int>(k));
      } else {
        for (int k : inactive[static_cast<std::size_t>(n)]) {
          check_id(k, n);
          push(k);
        }
      }
    }
    return static_cast<T>(loss / norm);
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const { throw std::invalid_argument(name() + ": " + msg); }
  double margin_;
  Reduction reduction_;
};

template <class T>
class CosinePushPull : public Loss<T> {
 public:
  explicit CosinePushPull(double margin = std::sqrt(2.0), Reduction r = Reduction::Mean)
      : Loss<T>(r), margin_(margin) {
    if (!(margin > 0 && margin <= 2)) throw std::invalid_argument("CosinePushPull: margin must be in (0, 2]");
  }
  std::string name() const override { return "CosinePushPull"; }
  T compute(const Tensor<T>& c, const Tensor<T>& t, Tensor<T>* grad) const override {
    this->check_same(c, t);
    if (c.rank() != 2) this->fail("cosines must be (N, K), got " + c.shape().str());
    const double norm = this->reduction_ == Reduction::Mean ? static_cast<double>(c.dim(0)) : 1.0;
    if (grad) grad->resize(c.shape());
    double loss = 0;
    for (Index i = 0; i < c.size(); ++i) {
      const double cv = static_cast<double>(c[i]);
      if (!(cv >= -1.0001 && cv <= 1.0001)) {
        std::ostringstream os;
        os << "input element " << i << " is " << c[i] << ", not a cosine in [-1, 1]";
        this->fail(os.str());
      }
      double g = 0;
      if (t[i] == T(1)) {  // pull
        loss += 2.0 - 2.0 * cv;
        g = -2.0;
      } else if (t[i] == T(0)) {  // push
        const double d = std::sqrt(std::max(0.0, 2.0 - 2.0 * cv));
        if (d < margin_) {
          loss += margin_ - d;
          if (d > 0) g = 1.0 / d;  // at d = 0 the gradient is undefined; 0 as in ConceptPushPull
        }
      } else {
        std::ostringstream os;
        os << "target element " << i << " is " << t[i] << "; targets must be 1 (active) or 0 (inactive)";
        this->fail(os.str());
      }
      if (grad) (*grad)[i] = static_cast<T>(g / norm);
    }
    return static_cast<T>(loss / norm);
  }
  double margin() const { return margin_; }

 private:
  double margin_;
};

}  // namespace nn
