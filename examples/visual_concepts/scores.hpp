// scores.hpp — what the visual-concepts example measures on a trained model:
// tag precision / recall / F1 / average precision, nearest-neighbour search
// by cosine, the cosine of images with their tag concepts, and a linear
// probe on frozen features.
#pragma once
#include <nn/nn.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

namespace scores {

using F = float;

struct TagScore {
  double precision = 0, recall = 0, f1 = 0, ap = 0, threshold = 0.5;
};

struct TagReport {
  std::vector<TagScore> at_half, at_best;  // per tag: threshold 0.5, and the threshold best on validation
  double macro_f1 = 0, micro_f1 = 0, macro_f1_best = 0, map = 0;
};

// column k of a (N, K) tensor
inline std::vector<double> column(const nn::Tensor<F>& t, nn::Index k) {
  std::vector<double> v(std::size_t(t.dim(0)));
  for (nn::Index n = 0; n < t.dim(0); ++n) v[std::size_t(n)] = t[n * t.dim(1) + k];
  return v;
}

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Logits (N, T) -> per-column probabilities: T vectors of N sigmoids.
inline std::vector<std::vector<double>> sigmoid_columns(const nn::Tensor<F>& logits) {
  std::vector<std::vector<double>> p;
  for (nn::Index k = 0; k < logits.dim(1); ++k) {
    p.push_back(column(logits, k));
    for (auto& v : p.back()) v = sigmoid(v);
  }
  return p;
}

struct Counts {
  long tp = 0, fp = 0, fn = 0;
  double f1() const { return 2.0 * double(tp) + double(fp + fn) > 0 ? 2.0 * double(tp) / (2.0 * double(tp) + double(fp + fn)) : 0.0; }
};
inline Counts count(const std::vector<double>& p, const std::vector<int>& y, double thr) {
  Counts c;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const bool on = p[i] >= thr;
    c.tp += on && y[i], c.fp += on && !y[i], c.fn += !on && y[i];
  }
  return c;
}

// The threshold in {0.05, 0.10, ..., 0.95} with the best F1 on (p, y).
inline double best_threshold(const std::vector<double>& p, const std::vector<int>& y) {
  double best = 0.5, best_f1 = -1;
  for (int k = 1; k < 20; ++k) {
    const double t = 0.05 * k, f = count(p, y, t).f1();
    if (f > best_f1) best_f1 = f, best = t;
  }
  return best;
}

// probs (N, T) in [0, 1] on test and validation; truth as per-tag columns.
inline TagReport tag_report(const std::vector<std::vector<double>>& test_p, const std::vector<std::vector<int>>& test_y,
                            const std::vector<std::vector<double>>& val_p, const std::vector<std::vector<int>>& val_y) {
  TagReport r;
  Counts micro;
  for (std::size_t k = 0; k < test_p.size(); ++k) {
    TagScore h, b;
    const Counts c = count(test_p[k], test_y[k], 0.5);
    micro.tp += c.tp, micro.fp += c.fp, micro.fn += c.fn;
    h.precision = c.tp + c.fp ? double(c.tp) / double(c.tp + c.fp) : 0.0;
    h.recall = c.tp + c.fn ? double(c.tp) / double(c.tp + c.fn) : 0.0;
    h.f1 = c.f1();
    h.ap = b.ap = nn::stats::average_precision(test_p[k], test_y[k]);
    b.threshold = best_threshold(val_p[k], val_y[k]);
    const Counts cb = count(test_p[k], test_y[k], b.threshold);
    b.precision = cb.tp + cb.fp ? double(cb.tp) / double(cb.tp + cb.fp) : 0.0;
    b.recall = cb.tp + cb.fn ? double(cb.tp) / double(cb.tp + cb.fn) : 0.0;
    b.f1 = cb.f1();
    r.at_half.push_back(h), r.at_best.push_back(b);
    r.macro_f1 += h.f1 / double(test_p.size());
    r.macro_f1_best += b.f1 / double(test_p.size());
    r.map += h.ap / double(test_p.size());
  }
  r.micro_f1 = micro.f1();
  return r;
}

// Rows of x (N, D) scaled to unit length (a zero row stays zero).
inline nn::Tensor<F> unit_rows(const nn::Tensor<F>& x) {
  nn::Tensor<F> u = x.clone();
  const nn::Index N = x.dim(0), D = x.size() / std::max<nn::Index>(1, x.dim(0));
  for (nn::Index n = 0; n < N; ++n) {
    double s = 0;
    for (nn::Index d = 0; d < D; ++d) s += double(x[n * D + d]) * x[n * D + d];
    const double inv = s > 0 ? 1.0 / std::sqrt(s) : 0.0;
    for (nn::Index d = 0; d < D; ++d) u[n * D + d] = F(x[n * D + d] * inv);
  }
  return u;
}

// The k rows of `index` (unit rows, (M, D)) most cosine-similar to `query`
// (a unit row of length D), best first; `skip` (e.g. the query itself) left out.
inline std::vector<std::pair<nn::Index, double>> nearest(const nn::Tensor<F>& index, const F* query, int k,
                                                         nn::Index skip = -1) {
  const nn::Index M = index.dim(0), D = index.dim(1);
  std::vector<std::pair<nn::Index, double>> all;
  all.reserve(std::size_t(M));
  for (nn::Index m = 0; m < M; ++m) {
    if (m == skip) continue;
    double s = 0;
    for (nn::Index d = 0; d < D; ++d) s += double(index[m * D + d]) * query[d];
    all.push_back({m, s});
  }
  const std::size_t kk = std::min<std::size_t>(std::size_t(k), all.size());
  std::partial_sort(all.begin(), all.begin() + std::ptrdiff_t(kk), all.end(),
                    [](const auto& a, const auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); });
  all.resize(kk);
  return all;
}

struct Search {
  double precision_at_10 = 0;  // share of the 10 nearest with the query's category
  double tag_jaccard_at_10 = 0;  // mean Jaccard of the neighbours' tag sets with the query's
};

// Each of the first `queries` images against all the others.
inline Search search(const nn::Tensor<F>& emb, const std::vector<int>& category, const std::vector<std::vector<int>>& tags,
                     nn::Index queries) {
  const nn::Tensor<F> u = unit_rows(emb);
  Search s;
  queries = std::min(queries, u.dim(0));
  for (nn::Index q = 0; q < queries; ++q) {
    const auto nb = nearest(u, u.data() + q * u.dim(1), 10, q);
    for (const auto& [m, sim] : nb) {
      s.precision_at_10 += category[std::size_t(m)] == category[std::size_t(q)];
      int inter = 0, uni = 0;
      for (std::size_t t = 0; t < tags[std::size_t(q)].size(); ++t) {
        const int a = tags[std::size_t(q)][t], b = tags[std::size_t(m)][t];
        inter += a && b, uni += a || b;
      }
      s.tag_jaccard_at_10 += uni ? double(inter) / double(uni) : 1.0;
    }
  }
  const double n = double(queries) * 10.0;
  s.precision_at_10 /= n, s.tag_jaccard_at_10 /= n;
  return s;
}

// Cosines of images with tag concepts, split by whether the tag is present.
struct CosineSplit {
  std::vector<double> present, absent;
  double present_above_half() const {
    return present.empty() ? 0.0 : double(std::count_if(present.begin(), present.end(), [](double c) { return c > 0.5; })) / double(present.size());
  }
  double absent_at_most_zero() const {
    return absent.empty() ? 0.0 : double(std::count_if(absent.begin(), absent.end(), [](double c) { return c <= 0.0; })) / double(absent.size());
  }
};

// A linear probe: logistic regression (one Dense layer, sigmoid BCE, Adam)
// on standardized frozen features, for the tags in `y` (per-tag columns).
// Returns the probe's probabilities on each of `score` (feature tensors),
// one column per tag.
inline std::vector<std::vector<std::vector<double>>> linear_probe(const nn::Tensor<F>& train_f,
                                                                  const std::vector<std::vector<int>>& train_y,
                                                                  const std::vector<const nn::Tensor<F>*>& score,
                                                                  int epochs, std::uint64_t seed) {
  const nn::Index N = train_f.dim(0), D = train_f.dim(1), T = nn::Index(train_y.size());
  std::vector<double> mu(std::size_t(D), 0), sd(std::size_t(D), 0);
  for (nn::Index n = 0; n < N; ++n)
    for (nn::Index d = 0; d < D; ++d) mu[std::size_t(d)] += train_f[n * D + d] / double(N);
  for (nn::Index n = 0; n < N; ++n)
    for (nn::Index d = 0; d < D; ++d) sd[std::size_t(d)] += std::pow(train_f[n * D + d] - mu[std::size_t(d)], 2) / double(N);
  for (auto& s : sd) s = std::sqrt(s) + 1e-6;
  auto standardize = [&](const nn::Tensor<F>& f) {
    nn::Tensor<F> z(f.shape());
    for (nn::Index n = 0; n < f.dim(0); ++n)
      for (nn::Index d = 0; d < D; ++d) z[n * D + d] = F((f[n * D + d] - mu[std::size_t(d)]) / sd[std::size_t(d)]);
    return z;
  };
  nn::Tensor<F> y({N, T});
  for (nn::Index n = 0; n < N; ++n)
    for (nn::Index t = 0; t < T; ++t) y[n * T + t] = F(train_y[std::size_t(t)][std::size_t(n)]);
  nn::data::TensorDataset<F> ds(standardize(train_f), std::move(y));
  nn::Sequential<F> probe(nn::Shape{D}, seed);
  probe.add(nn::Dense<F>(T));
  nn::BCEWithLogits<F> loss;
  nn::Adam<F> opt(probe.parameters(), {1e-2});
  nn::FitOptions<F> o;
  o.epochs = epochs, o.batch_size = 256, o.seed = seed, o.progress = nn::Progress::Off;
  o.metrics = {"macro_f1"};
  nn::fit(probe, loss, opt, ds, o);
  std::vector<std::vector<std::vector<double>>> out;
  for (const auto* f : score) {
    out.push_back(sigmoid_columns(nn::predict(probe, standardize(*f))));
  }
  return out;
}

}  // namespace scores
