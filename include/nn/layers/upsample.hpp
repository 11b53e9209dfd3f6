// nn/layers/upsample.hpp — Upsample2D: integer-factor upsampling of images.
//   x (N, C, H, W) -> y (N, C, H * sh, W * sw)
//   Nearest: y[oh, ow] = x[oh / sh, ow / sw].
//   Bilinear: PyTorch's align_corners=False rule: the source coordinate of
//   output row oh is max((oh + 0.5) / sh - 0.5, 0), interpolated between its
//   floor and the next row (clamped at the last).
#pragma once
#include <algorithm>
#include <vector>

#include "nn/layers/layer.hpp"
#include "nn/runtime/parallel.hpp"

namespace nn {

template <class T>
class Upsample2D : public Layer<T> {
 public:
  enum class Mode { Nearest = 0, Bilinear = 1 };
  explicit Upsample2D(Size2 scale = 2, Mode mode = Mode::Nearest) : s_(scale), mode_(mode) {
    if (s_.h < 1 || s_.w < 1) throw std::invalid_argument("Upsample2D: scale must be >= 1");
  }
  std::string type() const override { return "Upsample2D"; }
  static std::unique_ptr<Layer<T>> from_config(const LayerConfig& c) {
    return std::make_unique<Upsample2D>(Size2(c.get_int("scale_h", 1, 1 << 16), c.get_int("scale_w", 1, 1 << 16)),
                                        static_cast<Mode>(c.get_int("mode", 0, 1)));
  }
  std::string describe() const override {
    return "Upsample2D(" + s_.str() + (mode_ == Mode::Nearest ? ", nearest)" : ", bilinear)");
  }
  std::unique_ptr<Layer<T>> clone() const override { return this->template clone_as<Upsample2D>(); }

 protected:
  void add_config(LayerConfig& c) const override {
    c.set("scale_h", double(s_.h)), c.set("scale_w", double(s_.w));
    c.set("mode", double(static_cast<int>(mode_)));
  }
  Shape do_build(const Shape& in, Rng&) override {
    if (in.rank() != 3) this->fail_shape(in, "is not (C, H, W)");
    C_ = in[0], H_ = in[1], W_ = in[2];
    rows_ = taps(H_, s_.h);
    cols_ = taps(W_, s_.w);
    return Shape{C_, H_ * s_.h, W_ * s_.w};
  }
  // Each output pixel reads up to 2 x 2 input pixels: rows (r0, r1) with
  // weights (1 - a, a), columns likewise (nearest: one tap, weight 1).
  const Tensor<T>& do_forward(const Tensor<T>& x, bool) override {
    this->out_.resize(this->output_shape().with_batch(x.dim(0)));
    const Index OH = H_ * s_.h, OW = W_ * s_.w, SH = s_.h, SW = s_.w;
    nn::detail::parallel_for(x.dim(0) * C_, x.dim(0) * C_ * OH * OW >= (1 << 15), 1, [&](Index p, int) {
      const T* xp = x.data() + p * H_ * W_;
      T* yp = this->out_.data() + p * OH * OW;
      if (mode_ == Mode::Nearest) {  // each input pixel fills an SH x SW block
        for (Index h = 0; h < H_; ++h) {
          T* row = yp + h * SH * OW;
          for (Index w = 0; w < W_; ++w)
            for (Index j = 0; j < SW; ++j) row[w * SW + j] = xp[h * W_ + w];
          for (Index i = 1; i < SH; ++i) std::copy(row, row + OW, row + i * OW);
        }
        return;
      }
      for (Index oh = 0; oh < OH; ++oh) {
        const Tap& r = rows_[static_cast<std::size_t>(oh)];
        for (Index ow = 0; ow < OW; ++ow) {
          const Tap& c = cols_[static_cast<std::size_t>(ow)];
          yp[oh * OW + ow] = (1 - r.a) * ((1 - c.a) * xp[r.i0 * W_ + c.i0] + c.a * xp[r.i0 * W_ + c.i1]) +
                             r.a * ((1 - c.a) * xp[r.i1 * W_ + c.i0] + c.a * xp[r.i1 * W_ + c.i1]);
        }
      }
    });
    return this->out_;
  }
  // Each plane's gradient comes from its own output plane: planes run in parallel.
  const Tensor<T>& do_backward(const Tensor<T>& x, const Tensor<T>&, const Tensor<T>& dy) override {
    if (!this->input_grad()) return this->none_;
    this->dx_.resize(x.shape());
    const Index OH = H_ * s_.h, OW = W_ * s_.w, SH = s_.h, SW = s_.w;
    nn::detail::parallel_for(x.dim(0) * C_, x.dim(0) * C_ * OH * OW >= (1 << 15), 1, [&](Index p, int) {
      const T* g = dy.data() + p * OH * OW;
      T* dxp = this->dx_.data() + p * H_ * W_;
      if (mode_ == Mode::Nearest) {  // each input pixel sums its SH x SW block
        for (Index h = 0; h < H_; ++h)
          for (Index w = 0; w < W_; ++w) {
            T acc = 0;
            for (Index i = 0; i < SH; ++i)
              for (Index j = 0; j < SW; ++j) acc += g[(h * SH + i) * OW + w * SW + j];
            dxp[h * W_ + w] = acc;
          }
        return;
      }
      std::fill(dxp, dxp + H_ * W_, T(0));
      for (Index oh = 0; oh < OH; ++oh) {
        const Tap& r = rows_[static_cast<std::size_t>(oh)];
        for (Index ow = 0; ow < OW; ++ow) {
          const Tap& c = cols_[static_cast<std::size_t>(ow)];
          const T v = g[oh * OW + ow];
          dxp[r.i0 * W_ + c.i0] += (1 - r.a) * (1 - c.a) * v;
          dxp[r.i0 * W_ + c.i1] += (1 - r.a) * c.a * v;
          dxp[r.i1 * W_ + c.i0] += r.a * (1 - c.a) * v;
          dxp[r.i1 * W_ + c.i1] += r.a * c.a * v;
        }
      }
    });
    return this->dx_;
  }

 private:
  struct Tap {
    Index i0 = 0, i1 = 0;
    T a = 0;
  };
  std::vector<Tap> taps(Index n, Index s) const {
    std::vector<Tap> t(static_cast<std::size_t>(n * s));
    for (Index o = 0; o < n * s; ++o) {
      Tap& k = t[static_cast<std::size_t>(o)];
      if (mode_ == Mode::Nearest) {
        k.i0 = k.i1 = o / s;
        continue;
      }
      const double src = std::max((double(o) + 0.5) / double(s) - 0.5, 0.0);
      k.i0 = std::min<Index>(static_cast<Index>(src), n - 1);
      k.i1 = std::min<Index>(k.i0 + 1, n - 1);
      k.a = static_cast<T>(src - double(k.i0));
    }
    return t;
  }
  Size2 s_;
  Mode mode_;
  Index C_ = 0, H_ = 0, W_ = 0;
  std::vector<Tap> rows_, cols_;
};

}  // namespace nn
