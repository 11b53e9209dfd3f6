// nn/image/integral.hpp — integral images (summed-area tables): the sum, mean
// and variance of any axis-aligned rectangle of a plane in four look-ups.
//
//   auto ii = nn::image::integral_image(plane, /*squares=*/true);   // plane (H, W) or (1, H, W)
//   double s = ii.sum(r0, c0, r1, c1);       // rows [r0, r1), columns [c0, c1)
//   double v = ii.variance(r0, c0, r1, c1);  // needs squares
//
// Tables: S (H + 1, W + 1) with S[i][j] = sum of x[r][c] over r < i, c < j
// (and Q likewise for x^2), accumulated in double; then
//   sum = S[r1][c1] - S[r0][c1] - S[r1][c0] + S[r0][c0].
// Building costs one pass over the plane; every rectangle costs O(1) after,
// where a direct sum costs its area. A rectangle outside the plane throws
// std::out_of_range naming it; an empty one sums to 0.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/tensor/tensor.hpp"

namespace nn::image {

class IntegralImage {
 public:
  IntegralImage() = default;
  // x: H x W values, row-major; squares: also build the table of x^2.
  template <class T>
  IntegralImage(const T* x, Index H, Index W, bool squares = false) : H_(H), W_(W), squares_(squares) {
    if (H < 0 || W < 0) throw std::invalid_argument("IntegralImage: negative size");
    const std::size_t n = static_cast<std::size_t>((H + 1) * (W + 1));
    s_.assign(n, 0.0);
    if (squares) q_.assign(n, 0.0);
    for (Index r = 0; r < H; ++r) {
      double row = 0, row_sq = 0;  // running sums of row r up to column c
      for (Index c = 0; c < W; ++c) {
        const double v = static_cast<double>(x[r * W + c]);
        row += v;
        s_[at(r + 1, c + 1)] = s_[at(r, c + 1)] + row;
        if (squares) {
          row_sq += v * v;
          q_[at(r + 1, c + 1)] = q_[at(r, c + 1)] + row_sq;
        }
      }
    }
  }
  Index height() const { return H_; }
  Index width() const { return W_; }
  bool has_squares() const { return squares_; }

  // Rows [r0, r1), columns [c0, c1).
  double sum(Index r0, Index c0, Index r1, Index c1) const {
    check(r0, c0, r1, c1);
    return corners(s_, r0, c0, r1, c1);
  }
  double sum_squares(Index r0, Index c0, Index r1, Index c1) const {
    check(r0, c0, r1, c1);
    need_squares();
    return corners(q_, r0, c0, r1, c1);
  }
  double area(Index r0, Index c0, Index r1, Index c1) const {
    check(r0, c0, r1, c1);
    return static_cast<double>((r1 - r0) * (c1 - c0));
  }
  // Mean and (population) variance of the rectangle; 0 when it is empty.
  double mean(Index r0, Index c0, Index r1, Index c1) const {
    const double a = area(r0, c0, r1, c1);
    return a > 0 ? corners(s_, r0, c0, r1, c1) / a : 0.0;
  }
  double variance(Index r0, Index c0, Index r1, Index c1) const {
    const double a = area(r0, c0, r1, c1);
    need_squares();
    if (!(a > 0)) return 0.0;
    const double m = corners(s_, r0, c0, r1, c1) / a;
    const double v = corners(q_, r0, c0, r1, c1) / a - m * m;
    return v > 0 ? v : 0.0;  // rounding can leave a tiny negative
  }

 private:
  std::size_t at(Index r, Index c) const { return static_cast<std::size_t>(r * (W_ + 1) + c); }
  void check(Index r0, Index c0, Index r1, Index c1) const {
    if (r0 < 0 || c0 < 0 || r1 > H_ || c1 > W_ || r0 > r1 || c0 > c1)
      throw std::out_of_range("IntegralImage: rectangle rows [" + std::to_string(r0) + ", " + std::to_string(r1) +
                              ") columns [" + std::to_string(c0) + ", " + std::to_string(c1) + ") is not inside a " +
                              std::to_string(H_) + "x" + std::to_string(W_) + " plane");
  }
  void need_squares() const {
    if (!squares_) throw std::logic_error("IntegralImage: built without the table of squares");
  }
  // The table's four corners of a rectangle already checked.
  double corners(const std::vector<double>& t, Index r0, Index c0, Index r1, Index c1) const {
    if (r0 == r1 || c0 == c1) return 0.0;  // exactly: the four terms need not cancel in rounding
    return t[at(r1, c1)] - t[at(r0, c1)] - t[at(r1, c0)] + t[at(r0, c0)];
  }
  Index H_ = 0, W_ = 0;
  bool squares_ = false;
  std::vector<double> s_, q_;
};

// The integral image of a plane (H, W) or a one-channel image (1, H, W).
template <class T>
IntegralImage integral_image(const Tensor<T>& plane, bool squares = false) {
  if (!(plane.rank() == 2 || (plane.rank() == 3 && plane.dim(0) == 1)))
    throw std::invalid_argument("integral_image: needs a plane (H, W) or (1, H, W), got " + plane.shape().str());
  const Index H = plane.dim(plane.rank() - 2), W = plane.dim(plane.rank() - 1);
  return IntegralImage(plane.data(), H, W, squares);
}

}  // namespace nn::image
