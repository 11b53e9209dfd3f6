// nn/layers/dropout.hpp — inverted dropout.
//   Training: y = x * m / (1 - rate), m ~ Bernoulli(1 - rate) per element.
//   Eval: y = x. Any shape.
// The mask comes from the layer's own generator, seeded from the model's rng
// at build time (so the model seed fixes it) or with seed().
#pragma once
#include "nn/runtime/parallel.hpp"
#include "nn/layers/layer.hpp"

namespace nn {

template <class T>
class Dropout : public Layer<T> {
 public:
  explicit Dropout(double rate = 0.5) : rate_(rate) {
    if (!(rate >= 0 && rate < 1)) throw std::invalid_argument("Dropout: rate must be in [0, 1)");
  }
  std::string type() const override { return "Dropout"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig& c) {
    return std::make_unique<Dropout>(c.get_real("rate"));
  }
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
    // Each 32-bit half of a draw decides one element: P(keep) = 1 - rate.
    // Chunks get their own generator seeded from one draw of the layer's, so
    // the mask does not depend on the thread count.
    const std::uint32_t thr = static_cast<std::uint32_t>(std::min(rate_ * 4294967296.0, 4294967295.0));
    const std::uint64_t base = rng_();
    const T* xp = x.data();
    T* mp = mask_.data();
    T* yp = this->out_.data();
    nn::detail::parallel_chunks(x.size(), [&](Index b, Index e) {
      Rng r(base ^ (0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(b + 1)));
      for (Index i = b; i < e; i += 2) {
        const std::uint64_t v = r();
        mp[i] = static_cast<std::uint32_t>(v) >= thr ? keep : T(0);
        if (i + 1 < e) mp[i + 1] = static_cast<std::uint32_t>(v >> 32) >= thr ? keep : T(0);
        yp[i] = xp[i] * mp[i];
        if (i + 1 < e) yp[i + 1] = xp[i + 1] * mp[i + 1];
      }
    });
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
