// Integral images against direct sums.
#include "../support/test_util.hpp"

using namespace testutil;

namespace {
double naive_sum(const Tensor<double>& x, Index W, Index r0, Index c0, Index r1, Index c1, bool squares) {
  double s = 0;
  for (Index r = r0; r < r1; ++r)
    for (Index c = c0; c < c1; ++c) s += squares ? x[r * W + c] * x[r * W + c] : x[r * W + c];
  return s;
}
}  // namespace

TEST_CASE("integral image: every rectangle's sum, squares, mean and variance equal direct sums") {
  nn::Rng rng(3);
  for (auto [H, W] : {std::pair<Index, Index>{1, 1}, {1, 9}, {7, 1}, {13, 17}, {28, 28}}) {
    auto x = randn({H, W}, rng(), 2.0);
    const auto ii = nn::image::integral_image(x, true);
    CHECK(ii.height() == H);
    CHECK(ii.width() == W);
    for (int t = 0; t < 200; ++t) {
      Index r0 = Index(rng.below(std::uint64_t(H + 1))), r1 = Index(rng.below(std::uint64_t(H + 1)));
      Index c0 = Index(rng.below(std::uint64_t(W + 1))), c1 = Index(rng.below(std::uint64_t(W + 1)));
      if (r0 > r1) std::swap(r0, r1);
      if (c0 > c1) std::swap(c0, c1);
      INFO(H << "x" << W << " rows [" << r0 << ", " << r1 << ") cols [" << c0 << ", " << c1 << ")");
      const double s = naive_sum(x, W, r0, c0, r1, c1, false), q = naive_sum(x, W, r0, c0, r1, c1, true);
      CHECK(ii.sum(r0, c0, r1, c1) == doctest::Approx(s).epsilon(1e-12).scale(1.0));
      CHECK(ii.sum_squares(r0, c0, r1, c1) == doctest::Approx(q).epsilon(1e-12).scale(1.0));
      const double a = double((r1 - r0) * (c1 - c0));
      CHECK(ii.area(r0, c0, r1, c1) == a);
      if (a > 0) {
        const double m = s / a;
        double v = 0;  // two-pass variance, the reference
        for (Index r = r0; r < r1; ++r)
          for (Index c = c0; c < c1; ++c) v += (x[r * W + c] - m) * (x[r * W + c] - m);
        CHECK(ii.mean(r0, c0, r1, c1) == doctest::Approx(m).epsilon(1e-12).scale(1.0));
        CHECK(ii.variance(r0, c0, r1, c1) == doctest::Approx(v / a).epsilon(1e-9).scale(1.0));
      } else {
        CHECK(ii.sum(r0, c0, r1, c1) == 0.0);
        CHECK(ii.mean(r0, c0, r1, c1) == 0.0);
        CHECK(ii.variance(r0, c0, r1, c1) == 0.0);
      }
    }
  }
}

TEST_CASE("integral image: float planes, (1, H, W) images, and bad input") {
  auto x = Tensor<float>::from({1, 2, 3}, {1, 2, 3, 4, 5, 6});
  const auto ii = nn::image::integral_image(x);
  CHECK(ii.sum(0, 0, 2, 3) == 21.0);
  CHECK(ii.sum(1, 1, 2, 3) == 11.0);
  CHECK(ii.mean(0, 0, 1, 3) == 2.0);
  CHECK_THROWS_WITH_AS(ii.sum_squares(0, 0, 1, 1), doctest::Contains("without the table of squares"), std::logic_error);
  CHECK_THROWS_WITH_AS(ii.sum(0, 0, 3, 3), doctest::Contains("rows [0, 3) columns [0, 3) is not inside a 2x3 plane"),
                       std::out_of_range);
  CHECK_THROWS_AS(ii.sum(1, 0, 0, 3), std::out_of_range);
  CHECK_THROWS_AS(ii.sum(-1, 0, 1, 3), std::out_of_range);
  CHECK_THROWS_WITH_AS(nn::image::integral_image(Tensor<float>({2, 2, 3})), doctest::Contains("needs a plane"),
                       std::invalid_argument);
  const auto empty = nn::image::integral_image(Tensor<float>({0, 5}));
  CHECK(empty.sum(0, 0, 0, 5) == 0.0);
}
