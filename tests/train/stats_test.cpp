#include "../support/test_util.hpp"

TEST_CASE("Student t p-values match the textbook table") {
  // two-sided critical values: df 4 -> 2.776 at 0.05, 4.604 at 0.01; df 10 -> 2.228 at 0.05; df 1 -> 12.706 at 0.05
  CHECK(nn::stats::t_two_sided_p(2.776, 4) == doctest::Approx(0.05).epsilon(0.002));
  CHECK(nn::stats::t_two_sided_p(4.604, 4) == doctest::Approx(0.01).epsilon(0.002));
  CHECK(nn::stats::t_two_sided_p(2.228, 10) == doctest::Approx(0.05).epsilon(0.002));
  CHECK(nn::stats::t_two_sided_p(12.706, 1) == doctest::Approx(0.05).epsilon(0.002));
  CHECK(nn::stats::t_two_sided_p(0.0, 7) == doctest::Approx(1.0));
  CHECK(nn::stats::t_two_sided_p(-2.776, 4) == doctest::Approx(0.05).epsilon(0.002));
  // I_x(1, 1) = x; I_x(a, b) = 1 - I_{1-x}(b, a)
  CHECK(nn::stats::incomplete_beta(1, 1, 0.3) == doctest::Approx(0.3));
  CHECK(nn::stats::incomplete_beta(2.5, 0.5, 0.4) == doctest::Approx(1 - nn::stats::incomplete_beta(0.5, 2.5, 0.6)));
}

TEST_CASE("paired t-test by hand") {
  // differences 1, 2, 3, 4, 5: mean 3, sd sqrt(2.5), t = 3 / (sqrt(2.5) / sqrt(5)) = 4.2426
  std::vector<double> a{2, 4, 6, 8, 10}, b{1, 2, 3, 4, 5};
  auto r = nn::stats::paired_t_test(a, b);
  CHECK(r.mean_diff == doctest::Approx(3));
  CHECK(r.sd_diff == doctest::Approx(std::sqrt(2.5)));
  CHECK(r.t == doctest::Approx(4.242640687));
  CHECK(r.df == 4);
  CHECK(r.p == doctest::Approx(0.0132).epsilon(0.02));  // between the 0.02 (3.747) and 0.01 (4.604) critical values
  CHECK(nn::stats::stddev({1, 1, 1}) == 0);
  auto same = nn::stats::paired_t_test({1, 2}, {1, 2});
  CHECK(same.p == 1.0);
  CHECK_THROWS_AS(nn::stats::paired_t_test({1}, {2}), std::invalid_argument);
}

TEST_CASE("Wilson interval by hand, it stays inside [0, 1]") {
  const auto a = nn::stats::wilson_interval(50, 100);
  CHECK(a.low == doctest::Approx(0.40383).epsilon(1e-4));
  CHECK(a.high == doctest::Approx(0.59617).epsilon(1e-4));
  const auto zero = nn::stats::wilson_interval(0, 20);
  CHECK(zero.low == 0.0);
  CHECK(zero.high == doctest::Approx(0.16113).epsilon(1e-4));  // z^2 / (n + z^2)
  const auto all = nn::stats::wilson_interval(20, 20);
  CHECK(all.high == 1.0);
  CHECK(all.low == doctest::Approx(1 - 0.16113).epsilon(1e-4));
  CHECK_THROWS_AS(nn::stats::wilson_interval(5, 4), std::invalid_argument);
  CHECK_THROWS_AS(nn::stats::wilson_interval(0, 0), std::invalid_argument);
}

TEST_CASE("average precision by hand: steps, ties, perfect and reversed rankings") {
  using nn::stats::average_precision;
  // hits at ranks 1 and 3: 1/2 * 1 + 1/2 * 2/3
  CHECK(average_precision({0.9, 0.8, 0.7, 0.6}, {1, 0, 1, 0}) == doctest::Approx(0.5 + 1.0 / 3));
  CHECK(average_precision({0.1, 0.2, 0.3}, {0, 1, 1}) == doctest::Approx(1.0));
  CHECK(average_precision({0.3, 0.2, 0.1}, {0, 0, 1}) == doctest::Approx(1.0 / 3));
  CHECK(average_precision({0.5, 0.5}, {1, 0}) == doctest::Approx(0.5));  // one tied step
  CHECK(average_precision({0.5, 0.4}, {0, 0}) == 0.0);
  CHECK_THROWS_AS(average_precision({0.5}, {1, 0}), std::invalid_argument);
  CHECK_THROWS_AS(average_precision({0.5}, {2}), std::invalid_argument);
}

TEST_CASE("median by hand: odd and even counts, unsorted input, empty input throws") {
  CHECK(nn::stats::median({3, 1, 2}) == 2);
  CHECK(nn::stats::median({4, 1, 3, 2}) == 2.5);
  CHECK(nn::stats::median({7}) == 7);
  CHECK(nn::stats::median({5, 5, 1, 9, 5, 0}) == 5);
  CHECK_THROWS_AS(nn::stats::median({}), std::invalid_argument);
}
