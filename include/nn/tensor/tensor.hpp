// nn/tensor/tensor.hpp — Tensor<T>: an owning, contiguous, row-major, 64-byte
// aligned array of rank 0..5, batch first (N, C, H, W for images).
//
// - Moves are cheap (a pointer swap); copies are explicit: `b = a.clone()`.
// - reshape() changes the shape in place without touching the data.
// - matrix()/vector()/array() are Eigen::Map views over the same memory.
// - at(i, j, ...) checks bounds and throws with the index and the shape;
//   operator()(i, j, ...) and data() are the unchecked fast path.
#pragma once
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "nn/tensor/random.hpp"
#include "nn/tensor/shape.hpp"

namespace nn {

namespace detail {
constexpr std::size_t kAlign = 64;
struct AlignedFree {
  void operator()(void* p) const noexcept { std::free(p); }
};

// A cap on the bytes that tensors may allocate on this thread while an
// AllocationLimit object lives (limits nest; an allocation counts against
// each enclosing one). Loading
// a model file builds its layers under the number of bytes the file has
// been shown to hold, so a forged header cannot make the loader allocate
// more than that (nn/io/serialize.hpp).
class AllocationLimit {
 public:
  explicit AllocationLimit(std::size_t bytes) : prev_(current()), left_(bytes) { current() = this; }
  ~AllocationLimit() { current() = prev_; }
  AllocationLimit(const AllocationLimit&) = delete;
  AllocationLimit& operator=(const AllocationLimit&) = delete;
  static AllocationLimit*& current() {
    thread_local AllocationLimit* p = nullptr;
    return p;
  }
  void take(std::size_t bytes) {
    for (AllocationLimit* l = this; l; l = l->prev_)
      if (bytes > l->left_)
        throw std::length_error("needs a " + std::to_string(bytes) + "-byte tensor, more than the " +
                                std::to_string(l->left_) + " bytes left of the allocation limit");
    for (AllocationLimit* l = this; l; l = l->prev_) l->left_ -= bytes;
  }

 private:
  AllocationLimit* prev_;
  std::size_t left_;
};

template <class T>
T* aligned_new(Index n) {
  if (n == 0) return nullptr;
  if (n < 0 || static_cast<std::size_t>(n) > (std::numeric_limits<std::size_t>::max() - kAlign) / sizeof(T))
    throw std::length_error("nn::Tensor: " + std::to_string(n) + " elements cannot be allocated");
  std::size_t bytes = static_cast<std::size_t>(n) * sizeof(T);
  bytes = (bytes + kAlign - 1) / kAlign * kAlign;
  if (AllocationLimit* limit = AllocationLimit::current()) limit->take(bytes);
  void* p = std::aligned_alloc(kAlign, bytes);
  if (!p) throw std::bad_alloc();
  return static_cast<T*>(p);
}
}  // namespace detail

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MatrixMap = Eigen::Map<RowMatrix<T>, Eigen::Unaligned>;
template <class T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>, Eigen::Unaligned>;
template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>, Eigen::Unaligned>;
template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>, Eigen::Unaligned>;

template <class T>
class Tensor {
  static_assert(std::is_floating_point<T>::value, "nn::Tensor<T>: T must be float or double");

 public:
  using value_type = T;

  Tensor() = default;
  // Zero-initialized tensor of the given shape.
  explicit Tensor(const Shape& shape) : shape_(shape), cap_(shape.size()) {
    data_.reset(detail::aligned_new<T>(cap_));
    fill(T(0));
  }
  Tensor(std::initializer_list<Index> dims) : Tensor(Shape(dims)) {}
  Tensor(const Shape& shape, T value) : Tensor(shape) { fill(value); }
  // A tensor holding a copy of `values` with the given shape (sizes must agree).
  static Tensor from(const Shape& shape, const std::vector<T>& values) {
    if (static_cast<Index>(values.size()) != shape.size())
      throw std::invalid_argument("nn::Tensor::from: " + std::to_string(values.size()) +
                                  " values for shape " + shape.str());
    Tensor t(shape);
    std::copy(values.begin(), values.end(), t.data());
    return t;
  }

  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;
  Tensor(const Tensor&) = delete;             // copies are explicit:
  Tensor& operator=(const Tensor&) = delete;  //   use clone() or copy_from()
  Tensor clone() const {
    Tensor t(shape_);
    if (size()) std::memcpy(t.data(), data(), static_cast<std::size_t>(size()) * sizeof(T));
    return t;
  }
  // Copies `o` into this tensor, reusing the buffer when it is large enough.
  void copy_from(const Tensor& o) {
    resize(o.shape());
    if (size()) std::memcpy(data(), o.data(), static_cast<std::size_t>(size()) * sizeof(T));
  }
  // Gives this tensor shape `s`, keeping the allocation when it is large
  // enough (contents are then unspecified). Workspaces use this.
  void resize(const Shape& s) {
    if (s.size() > cap_) {
      data_.reset(detail::aligned_new<T>(s.size()));
      cap_ = s.size();
    }
    shape_ = s;
  }
  template <class U>
  Tensor<U> cast() const {
    Tensor<U> t(shape_);
    for (Index i = 0; i < size(); ++i) t.data()[i] = static_cast<U>(data()[i]);
    return t;
  }

  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  Index dim(int i) const { return shape_[i]; }
  Index size() const { return shape_.size(); }
  bool empty() const { return size() == 0; }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  T* begin() { return data(); }
  T* end() { return data() + size(); }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size(); }

  // Reinterprets the data with a new shape of the same size; no copy.
  Tensor& reshape(const Shape& s) & {
    if (s.size() != size())
      throw std::invalid_argument("nn::Tensor::reshape: cannot view " + shape_.str() + " as " + s.str());
    shape_ = s;
    return *this;
  }
  Tensor&& reshape(const Shape& s) && { return std::move(reshape(s)); }

  // Unchecked element access (row-major).
  template <class... I>
  T& operator()(I... idx) {
    return data_.get()[offset_unchecked(idx...)];
  }
  template <class... I>
  const T& operator()(I... idx) const {
    return data_.get()[offset_unchecked(idx...)];
  }
  T& operator[](Index i) { return data_.get()[i]; }
  const T& operator[](Index i) const { return data_.get()[i]; }

  // Bounds-checked element access.
  template <class... I>
  T& at(I... idx) {
    return data_.get()[offset_checked({static_cast<Index>(idx)...})];
  }
  template <class... I>
  const T& at(I... idx) const {
    return data_.get()[offset_checked({static_cast<Index>(idx)...})];
  }

  // Eigen views. matrix() is (dim0, size/dim0); matrix(r, c) any r*c == size().
  MatrixMap<T> matrix(Index rows, Index cols) {
    check_view(rows, cols);
    return MatrixMap<T>(data(), rows, cols);
  }
  ConstMatrixMap<T> matrix(Index rows, Index cols) const {
    check_view(rows, cols);
    return ConstMatrixMap<T>(data(), rows, cols);
  }
  MatrixMap<T> matrix() { return matrix(rank() ? dim(0) : 1, rank() && dim(0) ? size() / dim(0) : size()); }
  ConstMatrixMap<T> matrix() const {
    return matrix(rank() ? dim(0) : 1, rank() && dim(0) ? size() / dim(0) : size());
  }
  ArrayMap<T> array() { return ArrayMap<T>(data(), size()); }
  ConstArrayMap<T> array() const { return ConstArrayMap<T>(data(), size()); }

  void fill(T v) { std::fill(begin(), end(), v); }
  void zero() { fill(T(0)); }
  // Seeded fills.
  void fill_uniform(Rng& rng, double lo, double hi) {
    for (auto& v : *this) v = static_cast<T>(rng.uniform(lo, hi));
  }
  void fill_normal(Rng& rng, double mean, double stddev) {
    for (auto& v : *this) v = static_cast<T>(rng.normal(mean, stddev));
  }
  bool all_finite() const {
    for (const T& v : *this)
      if (!std::isfinite(v)) return false;
    return true;
  }

 private:
  template <class... I>
  Index offset_unchecked(I... idx) const {
    const Index ix[] = {static_cast<Index>(idx)...};
    Index off = 0;
    for (int i = 0; i < static_cast<int>(sizeof...(I)); ++i) off = off * shape_[i] + ix[i];
    return off;
  }
  Index offset_checked(std::initializer_list<Index> ix) const {
    bool ok = static_cast<int>(ix.size()) == rank();
    Index off = 0;
    int i = 0;
    for (Index v : ix) {
      if (ok && (v < 0 || v >= shape_[i])) ok = false;
      if (ok) off = off * shape_[i] + v;
      ++i;
    }
    if (!ok) {
      std::ostringstream os;
      os << "nn::Tensor::at: index (";
      i = 0;
      for (Index v : ix) os << (i++ ? ", " : "") << v;
      os << ") is out of bounds for shape " << shape_.str();
      throw std::out_of_range(os.str());
    }
    return off;
  }
  void check_view(Index rows, Index cols) const {
    if (rows * cols != size())
      throw std::invalid_argument("nn::Tensor::matrix: cannot view " + shape_.str() + " as " +
                                  std::to_string(rows) + "x" + std::to_string(cols));
  }

  std::unique_ptr<T, detail::AlignedFree> data_;
  Shape shape_{0};  // default: empty (a rank-0 shape would be a 1-element scalar)
  Index cap_ = 0;
};

// A Tensor whose copy is a deep copy. Layers, losses and optimizers hold their
// parameters, state and caches in these, so their copy constructors (and
// clone()) can be the compiler's.
template <class T>
class DeepTensor : public Tensor<T> {
 public:
  using Tensor<T>::Tensor;
  DeepTensor() = default;
  DeepTensor(const DeepTensor& o) : Tensor<T>(o.clone()) {}
  DeepTensor(DeepTensor&&) noexcept = default;
  DeepTensor& operator=(const DeepTensor& o) {
    this->copy_from(o);
    return *this;
  }
  DeepTensor& operator=(DeepTensor&&) noexcept = default;
  DeepTensor& operator=(Tensor<T>&& t) {
    Tensor<T>::operator=(std::move(t));
    return *this;
  }
};

}  // namespace nn
