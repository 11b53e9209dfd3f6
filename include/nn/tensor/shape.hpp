// nn/tensor/shape.hpp — the shape of a tensor: rank 0..5, row-major, batch first.
#pragma once
#include <array>
#include <cstddef>
#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>

namespace nn {

using Index = std::ptrdiff_t;  // same as Eigen::Index

// A rank 0..5 shape, e.g. (N, C, H, W). Dimensions are >= 0.
class Shape {
 public:
  static constexpr int kMaxRank = 5;

  Shape() = default;
  Shape(std::initializer_list<Index> dims) {
    if (dims.size() > static_cast<std::size_t>(kMaxRank))
      throw std::invalid_argument("nn::Shape: rank " + std::to_string(dims.size()) + " > 5");
    for (Index d : dims) push_back(d);
  }
  template <class It>
  static Shape from_range(It first, It last) {
    Shape s;
    for (; first != last; ++first) s.push_back(static_cast<Index>(*first));
    return s;
  }

  int rank() const { return rank_; }
  Index operator[](int i) const { return d_[static_cast<std::size_t>(i)]; }
  Index& operator[](int i) { return d_[static_cast<std::size_t>(i)]; }
  // The number of elements; throws std::length_error when it does not fit
  // in an Index (only forged or absurd shapes get there).
  Index size() const {
    Index n = 1;
    for (int i = 0; i < rank_; ++i)
      if (__builtin_mul_overflow(n, d_[static_cast<std::size_t>(i)], &n))
        throw std::length_error("nn::Shape: " + str() + " has more elements than an index holds");
    return n;
  }
  void push_back(Index d) {
    if (rank_ == kMaxRank) throw std::invalid_argument("nn::Shape: rank would exceed 5");
    if (d < 0) throw std::invalid_argument("nn::Shape: negative dimension " + std::to_string(d));
    d_[static_cast<std::size_t>(rank_++)] = d;
  }
  // The shape without its first dimension (the per-sample shape of a batch).
  Shape tail() const {
    Shape s;
    for (int i = 1; i < rank_; ++i) s.push_back((*this)[i]);
    return s;
  }
  // `n` followed by this shape: the batch shape of a per-sample shape.
  Shape with_batch(Index n) const {
    Shape s{n};
    for (int i = 0; i < rank_; ++i) s.push_back((*this)[i]);
    return s;
  }
  bool operator==(const Shape& o) const {
    if (rank_ != o.rank_) return false;
    for (int i = 0; i < rank_; ++i)
      if ((*this)[i] != o[i]) return false;
    return true;
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }

  std::string str() const {
    std::ostringstream os;
    os << '(';
    for (int i = 0; i < rank_; ++i) os << (i ? ", " : "") << (*this)[i];
    os << ')';
    return os.str();
  }

 private:
  std::array<Index, kMaxRank> d_{};
  int rank_ = 0;
};

inline std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

}  // namespace nn
