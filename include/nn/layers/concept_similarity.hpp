// nn/layers/concept_similarity.hpp — ConceptSimilarity: the cosine between
// each sample's embedding and every row of a learned concept table.
//   x (N, D) -> y (N, K), y[n][k] = cos(x_n, w_k) = x_n·w_k / (|x_n| |w_k|)
//   weight (K, D): one vector per concept, initialized N(0, 1) as Embedding's.
// Norms are clipped below at eps (as L2Normalize / PyTorch's F.normalize), so
// a zero vector gives cosines of 0, not NaN. With unit vectors
// |x̂ - ŵ|² = 2 - 2 cos, so a distance loss on the concept table can be
// written on these cosines (CosinePushPull in losses/hinge.hpp).
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/layers/layer.hpp"

namespace nn {

template <class T>
class ConceptSimilarity : public Layer<T> {
 public:
  explicit ConceptSimilarity(Index concepts, Init init = Init::normal(1.0), double eps = 1e-12)
      : k_(concepts), init_(init), eps_(eps) {
    if (concepts < 1) throw std::invalid_argument("ConceptSimilarity: the number of concepts must be >= 1");
    if (!(eps > 0)) throw std::invalid_argument("ConceptSimilarity: eps must be > 0");
  }
  std::string type() const override { return "ConceptSimilarity"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig& c) {
    return std::make_unique<ConceptSimilarity>(c.get_size("concepts"), Init::normal(1.0), c.get_real("eps"));
  }
  std::string describe() const override { return "ConceptSimilarity(" + std::to_string(k_) + ")"; }
  std::vector<Param<T>> parameters() override { return {{"weight", &w_, &dw_}}; }
  std::unique_ptr<Layer<T>> clone() const override { return this->template clone_as<ConceptSimilarity>(); }
  // (K, D): row k is concept k's vector (not normalized; the layer normalizes it).
  Tensor<T>& weight() { return w_; }
  const Tensor<T>& weight() const { return w_; }

 protected:
  void add_config(LayerConfig& c) const override {
    c.set("concepts", double(k_));
    c.set("eps", eps_);
  }
  Shape do_build(const Shape& in, Rng& rng) override {
    if (in.rank() != 1) this->fail_shape(in, "needs (N, D) embeddings");
    d_ = in[0];
    w_ = Tensor<T>({k_, d_});
    dw_ = Tensor<T>({k_, d_});
    initialize(w_, init_, k_, d_, rng);
    return Shape{k_};
  }
  const Tensor<T>& do_forward(const Tensor<T>& x, bool) override {
    const Index N = x.dim(0);
    normalize(x.data(), N, xh_, xn_);
    normalize(w_.data(), k_, wh_, wn_);
    this->out_.resize(this->output_shape().with_batch(N));
    // y (N, K) = x̂ (N, D) · ŵᵀ (D, K)
    for (Index n = 0; n < N; ++n)
      for (Index k = 0; k < k_; ++k) {
        T s = 0;
        for (Index d = 0; d < d_; ++d) s += xh_[std::size_t(n * d_ + d)] * wh_[std::size_t(k * d_ + d)];
        this->out_[n * k_ + k] = s;
      }
    return this->out_;
  }
  // dx̂ = dy ŵ (N, D), dŵ = dyᵀ x̂ (K, D); through each normalization
  // dv = (dv̂ - v̂ (v̂·dv̂)) / |v| where |v| > eps, dv̂ / eps where clipped.
  // The unit vectors are recomputed from x and the weight, not kept from
  // forward: a shared layer runs forward for several nodes before backward.
  const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>&, const Tensor<T>& dy) override {
    const Index N = x.dim(0);
    normalize(x.data(), N, xh_, xn_);
    normalize(w_.data(), k_, wh_, wn_);
    std::vector<T> g(static_cast<std::size_t>(std::max(N, k_) * d_));
    std::fill(g.begin(), g.begin() + std::ptrdiff_t(k_ * d_), T(0));
    for (Index n = 0; n < N; ++n)
      for (Index k = 0; k < k_; ++k) {
        const T a = dy[n * k_ + k];
        if (a == T(0)) continue;
        for (Index d = 0; d < d_; ++d) g[std::size_t(k * d_ + d)] += a * xh_[std::size_t(n * d_ + d)];
      }
    unnormalize(g.data(), wh_, wn_, k_, dw_.data(), true);
    if (!this->input_grad()) return this->none_;
    this->dx_.resize(x.shape());
    for (Index n = 0; n < N; ++n)
      for (Index d = 0; d < d_; ++d) {
        T s = 0;
        for (Index k = 0; k < k_; ++k) s += dy[n * k_ + k] * wh_[std::size_t(k * d_ + d)];
        g[std::size_t(n * d_ + d)] = s;
      }
    unnormalize(g.data(), xh_, xn_, N, this->dx_.data(), false);
    return this->dx_;
  }

 private:
  // rows (R, D) -> unit rows and their clipped norms
  void normalize(const T* v, Index R, std::vector<T>& vh, std::vector<T>& norms) const {
    vh.resize(static_cast<std::size_t>(R * d_));
    norms.resize(static_cast<std::size_t>(R));
    for (Index r = 0; r < R; ++r) {
      T s = 0;
      for (Index d = 0; d < d_; ++d) s += v[r * d_ + d] * v[r * d_ + d];
      const T n = std::max(std::sqrt(s), static_cast<T>(eps_));
      norms[std::size_t(r)] = n;
      for (Index d = 0; d < d_; ++d) vh[std::size_t(r * d_ + d)] = v[r * d_ + d] / n;
    }
  }
  // gradient w.r.t. unit rows g (R, D) -> gradient w.r.t. the raw rows, written or added to out
  void unnormalize(const T* g, const std::vector<T>& vh, const std::vector<T>& norms, Index R, T* out,
                   bool accumulate) const {
    for (Index r = 0; r < R; ++r) {
      const T n = norms[std::size_t(r)];
      T dot = 0;
      if (n > static_cast<T>(eps_))
        for (Index d = 0; d < d_; ++d) dot += vh[std::size_t(r * d_ + d)] * g[r * d_ + d];
      for (Index d = 0; d < d_; ++d) {
        const T v = (g[r * d_ + d] - vh[std::size_t(r * d_ + d)] * dot) / n;
        out[r * d_ + d] = accumulate ? out[r * d_ + d] + v : v;
      }
    }
  }
  Index k_, d_ = 0;
  Init init_;
  double eps_;
  DeepTensor<T> w_, dw_;
  std::vector<T> xh_, xn_, wh_, wn_;
};

}  // namespace nn
