// nn/layers/merge.hpp — layers with several inputs, for graph models.
//
// ============================== THE MERGE CONTRACT ==============================
// A merge takes k >= 2 tensors of one batch size N and returns one. It has no
// parameters; every call in a graph is its own merge object.
//
// build(in) -> out
//   `in` holds the k per-sample input shapes; build checks that they fit
//   together (otherwise std::invalid_argument naming the merge and every
//   shape) and returns the per-sample output shape.
// forward(xs) -> const Tensor& y
//   xs[i] is (N, in[i]...). y is a merge-owned buffer, valid until the next
//   forward. A merge's forward does not depend on training mode.
// backward(xs, y, dy) -> const std::vector<Tensor>& dxs
//   xs and y are the latest forward's inputs and output, dy has y's shape.
//   OVERWRITES and returns one gradient per input (merge-owned buffers,
//   valid until the next backward).
//
// Loading finds a merge by type name: the library's are listed in
// NN_LIBRARY_MERGES (nn/io/layer_factory.hpp); others use NN_REGISTER_MERGE.
// ================================================================================
//
//   Add, Multiply:    k inputs of one shape s -> s (element-wise sum, product)
//   Concat(axis):     inputs equal but along `axis` (a per-sample axis; -1 is
//                     the last) -> their concatenation along it
//   Dot(axis), CosineSimilarity(axis, eps):
//                     two inputs of one shape s -> s without `axis` ((1) when
//                     nothing is left): per sample a·b, and
//                     a·b / (max(|a|, eps) · max(|b|, eps))
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/layers/layer.hpp"

namespace nn {

template <class T>
class Merge {
 public:
  virtual ~Merge() = default;
  virtual std::string type() const = 0;
  virtual std::string describe() const { return type(); }
  LayerConfig config() const {
    LayerConfig c;
    c.type = type();
    add_config(c);
    return c;
  }
  Shape build(const std::vector<Shape>& in) {
    if (in.size() < 2) throw std::invalid_argument(describe() + ": needs at least 2 inputs, got " + std::to_string(in.size()));
    out_shape_ = do_build(in);
    in_shapes_ = in;
    built_ = true;
    return out_shape_;
  }
  bool built() const { return built_; }
  const std::vector<Shape>& input_shapes() const { return in_shapes_; }
  const Shape& output_shape() const { return out_shape_; }

  const Tensor<T>& forward(const std::vector<const Tensor<T>*>& xs) {
    check_inputs(xs);
    out_.resize(out_shape_.with_batch(xs[0]->dim(0)));
    do_forward(xs, out_);
    return out_;
  }
  const std::vector<Tensor<T>>& backward(const std::vector<const Tensor<T>*>& xs, const Tensor<T>& y,
                                         const Tensor<T>& dy) {
    check_inputs(xs);
    if (dy.shape() != y.shape() || y.shape() != out_shape_.with_batch(xs[0]->dim(0)))
      throw std::invalid_argument(describe() + "::backward: gradient shape " + dy.shape().str() +
                                  " does not match output shape " + y.shape().str());
    dx_.resize(xs.size());
    for (std::size_t i = 0; i < xs.size(); ++i) dx_[i].resize(xs[i]->shape());
    do_backward(xs, y, dy, dx_);
    return dx_;
  }
  virtual std::unique_ptr<Merge<T>> clone() const = 0;

 protected:
  Merge() = default;
  Merge(const Merge& o) : in_shapes_(o.in_shapes_), out_shape_(o.out_shape_), built_(o.built_) {}
  Merge& operator=(const Merge&) = delete;

  virtual void add_config(LayerConfig&) const {}
  virtual Shape do_build(const std::vector<Shape>& in) = 0;
  virtual void do_forward(const std::vector<const Tensor<T>*>& xs, Tensor<T>& y) = 0;
  virtual void do_backward(const std::vector<const Tensor<T>*>& xs, const Tensor<T>& y, const Tensor<T>& dy,
                           std::vector<Tensor<T>>& dxs) = 0;

  [[noreturn]] void fail_shapes(const std::vector<Shape>& in, const std::string& why) const {
    std::string s;
    for (std::size_t i = 0; i < in.size(); ++i) s += (i ? ", " : "") + batch_str(in[i]);
    throw std::invalid_argument(describe() + ": inputs " + s + " " + why);
  }
  void require_equal(const std::vector<Shape>& in) const {
    for (const auto& s : in)
      if (s != in[0]) fail_shapes(in, "must have one shape");
  }
  // A per-sample axis in [-rank, rank) as an index in [0, rank).
  int resolve_axis(int axis, const std::vector<Shape>& in) const {
    const int r = in[0].rank();
    if (r < 1 || axis < -r || axis >= r) fail_shapes(in, "have no axis " + std::to_string(axis));
    return axis < 0 ? axis + r : axis;
  }
  template <class D>
  std::unique_ptr<Merge<T>> clone_as() const {
    return std::make_unique<D>(static_cast<const D&>(*this));
  }

 private:
  void check_inputs(const std::vector<const Tensor<T>*>& xs) const {
    if (!built_) throw std::logic_error(describe() + ": forward/backward before build()");
    if (xs.size() != in_shapes_.size())
      throw std::invalid_argument(describe() + ": built for " + std::to_string(in_shapes_.size()) + " inputs, got " +
                                  std::to_string(xs.size()));
    for (std::size_t i = 0; i < xs.size(); ++i) {
      if (!xs[i] || xs[i]->rank() < 1 || xs[i]->dim(0) < 1)
        throw std::invalid_argument(describe() + ": input " + std::to_string(i) + " is empty");
      if (xs[i]->shape().tail() != in_shapes_[i] || xs[i]->dim(0) != xs[0]->dim(0))
        throw std::invalid_argument(describe() + ": input " + std::to_string(i) + " is " + xs[i]->shape().str() +
                                    ", expected " + in_shapes_[i].with_batch(xs[0]->dim(0)).str());
    }
  }
  std::vector<Shape> in_shapes_;
  Shape out_shape_;
  bool built_ = false;

 protected:
  Tensor<T> out_;
  std::vector<Tensor<T>> dx_;
};

template <class T>
class Add : public Merge<T> {
 public:
  std::string type() const override { return "Add"; }
  std::unique_ptr<Merge<T>> clone() const override { return this->template clone_as<Add>(); }
  static std::unique_ptr<Merge<T>> from_config(const LayerConfig&) { return std::make_unique<Add>(); }

 protected:
  Shape do_build(const std::vector<Shape>& in) override {
    this->require_equal(in);
    return in[0];
  }
  void do_forward(const std::vector<const Tensor<T>*>& xs, Tensor<T>& y) override {
    y.array() = xs[0]->array();
    for (std::size_t i = 1; i < xs.size(); ++i) y.array() += xs[i]->array();
  }
  void do_backward(const std::vector<const Tensor<T>*>&, const Tensor<T>&, const Tensor<T>& dy,
                   std::vector<Tensor<T>>& dxs) override {
    for (auto& d : dxs) d.array() = dy.array();
  }
};

template <class T>
class Multiply : public Merge<T> {
 public:
  std::string type() const override { return "Multiply"; }
  std::unique_ptr<Merge<T>> clone() const override { return this->template clone_as<Multiply>(); }
  static std::unique_ptr<Merge<T>> from_config(const LayerConfig&) { return std::make_unique<Multiply>(); }

 protected:
  Shape do_build(const std::vector<Shape>& in) override {
    this->require_equal(in);
    return in[0];
  }
  void do_forward(const std::vector<const Tensor<T>*>& xs, Tensor<T>& y) override {
    y.array() = xs[0]->array();
    for (std::size_t i = 1; i < xs.size(); ++i) y.array() *= xs[i]->array();
  }
  // dL/dx_i = dy * prod_{j != i} x_j (computed without dividing by x_i, which may be 0).
  void do_backward(const std::vector<const Tensor<T>*>& xs, const Tensor<T>&, const Tensor<T>& dy,
                   std::vector<Tensor<T>>& dxs) override {
    for (std::size_t i = 0; i < xs.size(); ++i) {
      dxs[i].array() = dy.array();
      for (std::size_t j = 0; j < xs.size(); ++j)
        if (j != i) dxs[i].array() *= xs[j]->array();
    }
  }
};

template <class T>
class Concat : public Merge<T> {
 public:
  explicit Concat(int axis = 0) : axis_(axis) {}
  std::string type() const override { return "Concat"; }
  std::string describe() const override { return "Concat(axis " + std::to_string(axis_) + ")"; }
  std::unique_ptr<Merge<T>> clone() const override { return this->template clone_as<Concat>(); }
  static std::unique_ptr<Merge<T>> from_config(const LayerConfig& c) {
    return std::make_unique<Concat>(static_cast<int>(c.get_int("axis", -4, 3)));
  }

 protected:
  void add_config(LayerConfig& c) const override { c.set("axis", axis_); }
  Shape do_build(const std::vector<Shape>& in) override {
    a_ = this->resolve_axis(axis_, in);
    Shape out = in[0];
    out[a_] = 0;
    for (const auto& s : in) {
      if (s.rank() != in[0].rank()) this->fail_shapes(in, "differ in rank");
      for (int d = 0; d < s.rank(); ++d)
        if (d != a_ && s[d] != in[0][d]) this->fail_shapes(in, "differ outside axis " + std::to_string(axis_));
      out[a_] += s[a_];
    }
    return out;
  }
  // Per sample, each input is (outer, len_i * inner) with outer = the product
  // of the dimensions before the axis and inner the product after it.
  void do_forward(const std::vector<const Tensor<T>*>& xs, Tensor<T>& y) override {
    const auto& in = this->input_shapes();
    const Index outer = xs[0]->dim(0) * prefix(in[0]), yrow = this->output_shape().size() / prefix(in[0]);
    Index off = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const Index row = in[i].size() / prefix(in[i]);
      for (Index o = 0; o < outer; ++o)
        std::memcpy(y.data() + o * yrow + off, xs[i]->data() + o * row, static_cast<std::size_t>(row) * sizeof(T));
      off += row;
    }
  }
  void do_backward(const std::vector<const Tensor<T>*>& xs, const Tensor<T>&, const Tensor<T>& dy,
                   std::vector<Tensor<T>>& dxs) override {
    const auto& in = this->input_shapes();
    const Index outer = xs[0]->dim(0) * prefix(in[0]), yrow = this->output_shape().size() / prefix(in[0]);
    Index off = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const Index row = in[i].size() / prefix(in[i]);
      for (Index o = 0; o < outer; ++o)
        std::memcpy(dxs[i].data() + o * row, dy.data() + o * yrow + off, static_cast<std::size_t>(row) * sizeof(T));
      off += row;
    }
  }

 private:
  Index prefix(const Shape& s) const {
    Index p = 1;
    for (int d = 0; d < a_; ++d) p *= s[d];
    return p;
  }
  int axis_;
  int a_ = 0;
};

namespace detail {
// Two inputs reduced along one per-sample axis: per sample (outer, len, inner).
template <class T>
class AxisPair : public Merge<T> {
 protected:
  explicit AxisPair(int axis) : axis_(axis) {}
  Shape do_build(const std::vector<Shape>& in) override {
    if (in.size() != 2) this->fail_shapes(in, "are not two tensors");
    this->require_equal(in);
    a_ = this->resolve_axis(axis_, in);
    outer_ = 1, len_ = in[0][a_], inner_ = 1;
    Shape out;
    for (int d = 0; d < in[0].rank(); ++d) {
      if (d < a_) outer_ *= in[0][d];
      if (d > a_) inner_ *= in[0][d];
      if (d != a_) out.push_back(in[0][d]);
    }
    if (out.rank() == 0) out.push_back(1);
    return out;
  }
  // fn(a, b, stride, o) for each reduced vector; o indexes y.
  template <class Fn>
  void each(Index N, Fn fn) const {
    for (Index n = 0; n < N * outer_; ++n)
      for (Index i = 0; i < inner_; ++i) fn(n * len_ * inner_ + i, n * inner_ + i);
  }
  int axis_;
  int a_ = 0;
  Index outer_ = 1, len_ = 1, inner_ = 1;
};
}  // namespace detail

template <class T>
class Dot : public detail::AxisPair<T> {
 public:
  explicit Dot(int axis = -1) : detail::AxisPair<T>(axis) {}
  std::string type() const override { return "Dot"; }
  std::string describe() const override { return "Dot(axis " + std::to_string(this->axis_) + ")"; }
  std::unique_ptr<Merge<T>> clone() const override { return this->template clone_as<Dot>(); }
  static std::unique_ptr<Merge<T>> from_config(const LayerConfig& c) {
    return std::make_unique<Dot>(static_cast<int>(c.get_int("axis", -4, 3)));
  }

 protected:
  void add_config(LayerConfig& c) const override { c.set("axis", this->axis_); }
  void do_forward(const std::vector<const Tensor<T>*>& xs, Tensor<T>& y) override {
    const T *a = xs[0]->data(), *b = xs[1]->data();
    const Index L = this->len_, s = this->inner_;
    this->each(xs[0]->dim(0), [&](Index base, Index o) {
      T acc = 0;
      for (Index k = 0; k < L; ++k) acc += a[base + k * s] * b[base + k * s];
      y[o] = acc;
    });
  }
  void do_backward(const std::vector<const Tensor<T>*>& xs, const Tensor<T>&, const Tensor<T>& dy,
                   std::vector<Tensor<T>>& dxs) override {
    const T *a = xs[0]->data(), *b = xs[1]->data();
    const Index L = this->len_, s = this->inner_;
    this->each(xs[0]->dim(0), [&](Index base, Index o) {
      for (Index k = 0; k < L; ++k) {
        dxs[0][base + k * s] = dy[o] * b[base + k * s];
        dxs[1][base + k * s] = dy[o] * a[base + k * s];
      }
    });
  }
};

template <class T>
class CosineSimilarity : public detail::AxisPair<T> {
 public:
  explicit CosineSimilarity(int axis = -1, double eps = 1e-8) : detail::AxisPair<T>(axis), eps_(eps) {
    if (!(eps > 0)) throw std::invalid_argument("CosineSimilarity: eps must be > 0");
  }
  std::string type() const override { return "CosineSimilarity"; }
  std::string describe() const override { return "CosineSimilarity(axis " + std::to_string(this->axis_) + ")"; }
  std::unique_ptr<Merge<T>> clone() const override { return this->template clone_as<CosineSimilarity>(); }
  static std::unique_ptr<Merge<T>> from_config(const LayerConfig& c) {
    return std::make_unique<CosineSimilarity>(static_cast<int>(c.get_int("axis", -4, 3)), c.get_real("eps"));
  }

 protected:
  void add_config(LayerConfig& c) const override {
    c.set("axis", this->axis_);
    c.set("eps", eps_);
  }
  void do_forward(const std::vector<const Tensor<T>*>& xs, Tensor<T>& y) override {
    const T *a = xs[0]->data(), *b = xs[1]->data();
    const Index L = this->len_, s = this->inner_;
    this->each(xs[0]->dim(0), [&](Index base, Index o) {
      T ab = 0, aa = 0, bb = 0;
      for (Index k = 0; k < L; ++k) {
        const T u = a[base + k * s], v = b[base + k * s];
        ab += u * v, aa += u * u, bb += v * v;
      }
      y[o] = ab / (norm(aa) * norm(bb));
    });
  }
  // y = a·b / (na nb) with na = max(|a|, eps): dy/da = b / (na nb) - y a / |a|^2
  // where |a| > eps (the second term vanishes where na is the constant eps).
  void do_backward(const std::vector<const Tensor<T>*>& xs, const Tensor<T>& y, const Tensor<T>& dy,
                   std::vector<Tensor<T>>& dxs) override {
    const T *a = xs[0]->data(), *b = xs[1]->data();
    const Index L = this->len_, s = this->inner_;
    const T e = static_cast<T>(eps_);
    this->each(xs[0]->dim(0), [&](Index base, Index o) {
      T aa = 0, bb = 0;
      for (Index k = 0; k < L; ++k) {
        aa += a[base + k * s] * a[base + k * s];
        bb += b[base + k * s] * b[base + k * s];
      }
      const T na = norm(aa), nb = norm(bb), inv = T(1) / (na * nb);
      const T ca = std::sqrt(aa) > e ? y[o] / aa : T(0), cb = std::sqrt(bb) > e ? y[o] / bb : T(0);
      for (Index k = 0; k < L; ++k) {
        const T u = a[base + k * s], v = b[base + k * s];
        dxs[0][base + k * s] = dy[o] * (v * inv - ca * u);
        dxs[1][base + k * s] = dy[o] * (u * inv - cb * v);
      }
    });
  }

 private:
  T norm(T sq) const { return std::max(std::sqrt(sq), static_cast<T>(eps_)); }
  double eps_;
};

}  // namespace nn
