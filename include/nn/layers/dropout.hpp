// nn/layers/dropout.hpp — inverted dropout.
//   Training: y = x * m / (1 - rate), m ~ Bernoulli(1 - rate) per element.
//   Eval: y = x. Any shape.
// The mask comes from the layer's own generator, seeded from the model's rng
// at build time (so the model seed fixes it) or with seed().
#pragma once
#include "nn/layers/layer.hpp"

namespace nn {

template <class T>
class Dropout : public Layer<T> {
 public:
  explicit Dropout(double rate = 0.5) : rate_(rate) {
    if (!(rate >= 0 && rate < 1)) throw std::invalid_argument("Dropout: rate must be in [0, 1)");
  }
  std::string type() const override { return "Dropout"; }
  std::string describe() const override {
    std::ostringstream os;
    os << "Dropout(" << rate_ << ")";
    return os.str();
  }
  std::unique_ptr<Layer<T>> clone() const override { return this->template clone_as<Dropout>(); }
  void seed(std::uint64_t s) override { rng_.reseed(s); }
  double rate() const { return rate_; }

 protected:
  void add_config(LayerConfig& c) const override { c.set("rate", rate_); }
  Shape do_build(const Shape& in, Rng& rng) override {
    rng_ = rng.split();
    return in;
  }
  const Tensor<T>& do_forward(const Tensor<T>& x, bool training) override {
    this->out_.resize(x.shape());
    active_ = training && rate_ > 0;
    if (!active_) {
      this->out_.array() = x.array();
      return this->out_;
    }
    mask_.resize(x.shape());
    const T keep = static_cast<T>(1.0 / (1.0 - rate_));
    // Threshold on the top 32 bits: P(keep) = 1 - rate.
    const std::uint64_t thr = static_cast<std::uint64_t>(rate_ * 4294967296.0);
    for (Index i = 0; i < x.size(); ++i) mask_[i] = ((rng_() >> 32) >= thr) ? keep : T(0);
    this->out_.array() = x.array() * mask_.array();
    return this->out_;
  }
  const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>&, const Tensor<T>& dy) override {
    if (!this->input_grad()) return this->none_;
    this->dx_.resize(x.shape());
    if (active_) this->dx_.array() = dy.array() * mask_.array();
    else this->dx_.array() = dy.array();
    return this->dx_;
  }

 private:
  double rate_;
  Rng rng_;
  bool active_ = false;
  DeepTensor<T> mask_;
};

}  // namespace nn
