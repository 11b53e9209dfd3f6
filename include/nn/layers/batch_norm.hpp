// nn/layers/batch_norm.hpp — batch normalization over channels.
//   x (N, C)          after a dense layer: statistics per feature over N
//   x (N, C, L...)    after a conv layer: statistics per channel over N*L...
// Training: normalizes with the batch mean and biased variance, and updates
//   running_mean = (1 - momentum) * running_mean + momentum * batch_mean
//   running_var  = (1 - momentum) * running_var  + momentum * unbiased_batch_var
// Eval: normalizes with the running statistics. Defaults momentum 0.1 and
// eps 1e-5 are PyTorch's. Keras' BatchNormalization(momentum=m) is
// momentum = 1 - m here (Keras' default 0.99 -> 0.01; its eps default is 1e-3).
// Parameters: weight (gamma, ones) and bias (beta, zeros), both (C).
// Buffers: running_mean (zeros), running_var (ones), both (C).
// Synchronized statistics (data-parallel training, nn/dist/mpi.hpp):
// set_sync(sum), with `sum` adding a vector element-wise over the processes,
// makes training mode normalize over the union of every process's batch:
// the per-channel sums are exchanged in forward (count and sum, then the
// squared deviations from the common mean) and in backward (sum of dy and of
// dy * xhat), so every process computes the same statistics as one process
// on the combined batch. The parameter gradients stay each process's own
// share, which the gradient average then combines.
#pragma once
#include <cmath>
#include <functional>

#include "nn/kernels/batchnorm.hpp"
#include "nn/layers/layer.hpp"

namespace nn {

template <class T>
class BatchNorm : public Layer<T> {
 public:
  explicit BatchNorm(double momentum = 0.1, double eps = 1e-5) : momentum_(momentum), eps_(eps) {
    if (!(momentum >= 0 && momentum <= 1)) throw std::invalid_argument("BatchNorm: momentum must be in [0, 1]");
    if (!(eps > 0)) throw std::invalid_argument("BatchNorm: eps must be > 0");
  }
  std::string type() const override { return "BatchNorm"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig& c) {
    return std::make_unique<BatchNorm>(c.get_real("momentum"), c.get_real("eps"));
  }
  std::string describe() const override {
    std::ostringstream os;
    os << "BatchNorm(momentum " << momentum_ << ", eps " << eps_ << ")";
    return os.str();
  }
  std::vector<Param<T>> parameters() override { return {{"weight", &gamma_, &dgamma_}, {"bias", &beta_, &dbeta_}}; }
  std::vector<std::pair<std::string, Tensor<T>*>> buffers() override {
    return {{"running_mean", &rmean_}, {"running_var", &rvar_}};
  }
  // A copy normalizes over its own batch: the processes set_sync() joins
  // belong to the original.
  std::unique_ptr<Layer<T>> clone() const override {
    auto c = this->template clone_as<BatchNorm>();
    static_cast<BatchNorm&>(*c).sync_ = nullptr;
    return c;
  }
  // Eval mode as y = scale[c] * x + shift[c], computed as forward does (the
  // plan fuses it into a preceding convolution).
  void eval_channel_affine(std::vector<T>& scale, std::vector<T>& shift) const {
    scale.resize(static_cast<std::size_t>(C_));
    shift.resize(static_cast<std::size_t>(C_));
    for (Index c = 0; c < C_; ++c) {
      const T a = gamma_[c] * (T(1) / std::sqrt(rvar_[c] + static_cast<T>(eps_)));
      scale[static_cast<std::size_t>(c)] = a;
      shift[static_cast<std::size_t>(c)] = beta_[c] - rmean_[c] * a;
    }
  }
  using SumFn = std::function<void(std::vector<double>&)>;
  void set_sync(SumFn sum) { sync_ = std::move(sum); }
  bool synced() const { return static_cast<bool>(sync_); }
  Tensor<T>& running_mean() { return rmean_; }
  Tensor<T>& running_var() { return rvar_; }

 protected:
  void add_config(LayerConfig& c) const override {
    c.set("momentum", momentum_);
    c.set("eps", eps_);
  }
  Shape do_build(const Shape& in, Rng&) override {
    if (in.rank() < 1) this->fail_shape(in, "has no channel dimension");
    C_ = in[0];
    S_ = in.size() / std::max<Index>(C_, 1);
    gamma_ = Tensor<T>({C_}, T(1));
    beta_ = Tensor<T>({C_});
    dgamma_ = Tensor<T>({C_});
    dbeta_ = Tensor<T>({C_});
    rmean_ = Tensor<T>({C_});
    rvar_ = Tensor<T>({C_}, T(1));
    mean_ = Tensor<T>({C_});
    invstd_ = Tensor<T>({C_});
    var_ = Tensor<T>({C_});
    eval_invstd_ = Tensor<T>({C_});
    return in;
  }
  const Tensor<T>& do_forward(const Tensor<T>& x, bool training) override {
    const Index N = x.dim(0);
    this->out_.resize(x.shape());
    last_training_ = training;
    if (training) {
      const Index M = sync_ ? synced_stats(x) : N * S_;
      if (M < 2)
        throw std::invalid_argument(describe() + ": training needs more than one value per channel, got input " +
                                    x.shape().str());
      if (!sync_) kernels::batchnorm_stats(x.data(), N, C_, S_, mean_.data(), var_.data());
      const T mom = static_cast<T>(momentum_);
      const T unbias = static_cast<T>(M) / static_cast<T>(M - 1);
      for (Index c = 0; c < C_; ++c) {
        invstd_[c] = T(1) / std::sqrt(var_[c] + static_cast<T>(eps_));
        rmean_[c] = (T(1) - mom) * rmean_[c] + mom * mean_[c];
        rvar_[c] = (T(1) - mom) * rvar_[c] + mom * var_[c] * unbias;
      }
      kernels::batchnorm_apply(x.data(), N, C_, S_, mean_.data(), invstd_.data(), gamma_.data(), beta_.data(),
                               this->out_.data());
    } else {
      for (Index c = 0; c < C_; ++c) eval_invstd_[c] = T(1) / std::sqrt(rvar_[c] + static_cast<T>(eps_));
      kernels::batchnorm_apply(x.data(), N, C_, S_, rmean_.data(), eval_invstd_.data(), gamma_.data(), beta_.data(),
                               this->out_.data());
    }
    return this->out_;
  }
  // Training mode: through the batch statistics cached by forward.
  // Eval mode: the running statistics are constants, so dx = dy * gamma * invstd.
  const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>&, const Tensor<T>& dy) override {
    T* dx = nullptr;
    if (this->input_grad()) {
      this->dx_.resize(x.shape());
      dx = this->dx_.data();
    }
    if (!last_training_) {
      const Index N = x.dim(0);
      for (Index n = 0; n < N; ++n)
        for (Index c = 0; c < C_; ++c) {
          const Index off = (n * C_ + c) * S_;
          const T is = eval_invstd_[c], mu = rmean_[c];
          for (Index i = 0; i < S_; ++i) {
            dgamma_[c] += dy[off + i] * (x[off + i] - mu) * is;
            dbeta_[c] += dy[off + i];
            if (dx) dx[off + i] = dy[off + i] * gamma_[c] * is;
          }
        }
      return dx ? this->dx_ : this->none_;
    }
    if (sync_) {
      synced_backward(x, dy, dx);
      return dx ? this->dx_ : this->none_;
    }
    kernels::batchnorm_backward(x.data(), dy.data(), x.dim(0), C_, S_, mean_.data(), invstd_.data(), gamma_.data(),
                                dx, dgamma_.data(), dbeta_.data());
    return dx ? this->dx_ : this->none_;
  }

 private:
  // mean_ and var_ over every process's batch; returns the total count.
  Index synced_stats(const Tensor<T>& x) {
    const Index N = x.dim(0);
    const auto C = static_cast<std::size_t>(C_);
    sums_.assign(C + 1, 0.0);
    kernels::batchnorm_sums(x.data(), N, C_, S_, static_cast<const T*>(nullptr), sums_.data());
    sums_[C] = static_cast<double>(N * S_);
    sync_(sums_);
    const double M = sums_[C];
    if (M < 2) return static_cast<Index>(M);
    for (Index c = 0; c < C_; ++c) mean_[c] = static_cast<T>(sums_[static_cast<std::size_t>(c)] / M);
    sums_.assign(C, 0.0);
    kernels::batchnorm_sums(x.data(), N, C_, S_, mean_.data(), sums_.data());
    sync_(sums_);
    for (Index c = 0; c < C_; ++c) var_[c] = static_cast<T>(sums_[static_cast<std::size_t>(c)] / M);
    total_ = M;
    return static_cast<Index>(M);
  }
  void synced_backward(const Tensor<T>& x, const Tensor<T>& dy, T* dx) {
    const auto C = static_cast<std::size_t>(C_);
    sums_.assign(2 * C, 0.0);
    kernels::batchnorm_backward_sums(x.data(), dy.data(), x.dim(0), C_, S_, mean_.data(), invstd_.data(),
                                     sums_.data(), sums_.data() + C);
    for (std::size_t c = 0; c < C; ++c) {  // this process's share; the gradient average adds the others'
      dbeta_[static_cast<Index>(c)] += static_cast<T>(sums_[c]);
      dgamma_[static_cast<Index>(c)] += static_cast<T>(sums_[C + c]);
    }
    if (!dx) return;  // the same on every process: the model's structure decides
    sync_(sums_);
    mdy_.resize(C);
    mdyx_.resize(C);
    for (std::size_t c = 0; c < C; ++c) {
      mdy_[c] = static_cast<T>(sums_[c] / total_);
      mdyx_[c] = static_cast<T>(sums_[C + c] / total_);
    }
    kernels::batchnorm_backward_dx(x.data(), dy.data(), x.dim(0), C_, S_, mean_.data(), invstd_.data(), gamma_.data(),
                                   mdy_.data(), mdyx_.data(), dx);
  }

  double momentum_, eps_;
  Index C_ = 0, S_ = 1;
  bool last_training_ = false;
  DeepTensor<T> gamma_, beta_, dgamma_, dbeta_, rmean_, rvar_, mean_, var_, invstd_, eval_invstd_;
  SumFn sync_;
  std::vector<double> sums_;
  std::vector<T> mdy_, mdyx_;
  double total_ = 0;
};

}  // namespace nn
