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
