// nn/train/stats.hpp — small statistics for comparing runs across seeds.
//   mean(v), stddev(v) (sample, n - 1), median(v) (the mean of the middle two when n is even)
//   paired_t_test(a, b) -> {mean_diff, sd_diff, t, df, p}  (two-sided)
//   wilson_interval(k, n, z) -> {low, high}: a binomial proportion's interval
//   average_precision(scores, labels): the area under the precision-recall steps
// The p-value uses Student's t distribution through the regularized
// incomplete beta function: p = I_{df / (df + t^2)}(df / 2, 1 / 2).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace nn::stats {

inline double mean(const std::vector<double>& v) {
  if (v.empty()) throw std::invalid_argument("stats::mean of nothing");
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

inline double stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double m = mean(v);
  double q = 0;
  for (double x : v) q += (x - m) * (x - m);
  return std::sqrt(q / double(v.size() - 1));
}

inline double median(std::vector<double> v) {
  if (v.empty()) throw std::invalid_argument("median: no values");
  const std::size_t h = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(h), v.end());
  if (v.size() % 2) return v[h];
  return (v[h] + *std::max_element(v.begin(), v.begin() + std::ptrdiff_t(h))) / 2;
}

namespace detail {
// Continued fraction of the incomplete beta function (modified Lentz).
inline double beta_cf(double a, double b, double x) {
  const double tiny = 1e-300;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::abs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 500; ++m) {
    const double m2 = 2.0 * m;
    double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    c = 1 + num / c;
    if (std::abs(d) < tiny) d = tiny;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    c = 1 + num / c;
    if (std::abs(d) < tiny) d = tiny;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < 1e-15) break;
  }
  return h;
}
}  // namespace detail

// Regularized incomplete beta I_x(a, b), a, b > 0, x in [0, 1].
inline double incomplete_beta(double a, double b, double x) {
  if (!(x >= 0 && x <= 1)) throw std::invalid_argument("incomplete_beta: x must be in [0, 1]");
  if (x == 0 || x == 1) return x;
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return front * detail::beta_cf(a, b, x) / a;
  return 1 - front * detail::beta_cf(b, a, 1 - x) / b;
}

// Two-sided p-value of Student's t statistic with df degrees of freedom.
inline double t_two_sided_p(double t, double df) {
  if (!(df > 0)) throw std::invalid_argument("t_two_sided_p: df must be > 0");
  if (std::isinf(t)) return 0.0;
  return incomplete_beta(df / 2, 0.5, df / (df + t * t));
}

struct PairedTest {
  double mean_diff = 0, sd_diff = 0, t = 0, p = 1;
  int df = 0;
};

// Paired t-test of a[i] - b[i]. With a zero spread of differences, t is
// +-inf (p = 0) when the mean difference is not zero, else 0 (p = 1).
inline PairedTest paired_t_test(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size() || a.size() < 2)
    throw std::invalid_argument("paired_t_test: needs two samples of the same size >= 2");
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  PairedTest r;
  r.mean_diff = mean(d);
  r.sd_diff = stddev(d);
  r.df = int(d.size()) - 1;
  const double se = r.sd_diff / std::sqrt(double(d.size()));
  if (se == 0) {
    r.t = r.mean_diff == 0 ? 0.0 : std::copysign(std::numeric_limits<double>::infinity(), r.mean_diff);
  } else {
    r.t = r.mean_diff / se;
  }
  r.p = t_two_sided_p(r.t, r.df);
  return r;
}

struct Interval {
  double low = 0, high = 0;
};

// Wilson's score interval for k successes in n trials (z = 1.96: 95%). Unlike
// p ± z sqrt(p (1 - p) / n) it stays inside [0, 1] and does not collapse to a
// point at k = 0 or k = n.
inline Interval wilson_interval(long k, long n, double z = 1.959963984540054) {
  if (n < 1 || k < 0 || k > n || !(z > 0))
    throw std::invalid_argument("wilson_interval: needs 0 <= k <= n, n >= 1, z > 0");
  const double N = double(n), p = double(k) / N, z2 = z * z;
  const double centre = (p + z2 / (2 * N)) / (1 + z2 / N);
  const double half = z / (1 + z2 / N) * std::sqrt(p * (1 - p) / N + z2 / (4 * N * N));
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

// Average precision of a ranking (as scikit-learn's average_precision_score):
// samples sorted by score, highest first; at each distinct score the recall
// gained times the precision there, summed. Tied scores form one step.
// labels: 1 positive, 0 negative. No positive at all gives 0.
inline double average_precision(const std::vector<double>& scores, const std::vector<int>& labels) {
  if (scores.size() != labels.size())
    throw std::invalid_argument("average_precision: " + std::to_string(scores.size()) + " scores for " +
                                std::to_string(labels.size()) + " labels");
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  long positives = 0;
  for (int l : labels) {
    if (l != 0 && l != 1) throw std::invalid_argument("average_precision: labels must be 0 or 1");
    positives += l;
  }
  if (positives == 0) return 0.0;
  double ap = 0, recall_before = 0;
  long tp = 0, seen = 0;
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    for (; j < order.size() && scores[order[j]] == scores[order[i]]; ++j) tp += labels[order[j]];
    seen += long(j - i);
    const double recall = double(tp) / double(positives);
    ap += (recall - recall_before) * double(tp) / double(seen);
    recall_before = recall;
    i = j;
  }
  return ap;
}

}  // namespace nn::stats
