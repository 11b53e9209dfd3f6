// nn/data/split.hpp — seeded splits and class balancing, over sample indices.
//
//   split_indices(n, {0.7, 0.2, 0.1}, seed)          shuffled, sizes by fraction
//   stratified_split(labels, {0.7, 0.2, 0.1}, seed)  the same per class
//   balance_by_oversampling(indices, labels, seed)   repeats minority-class
//     samples (drawn at random) until every class has as many as the largest;
//     with augmentation on, each repeat is a different augmented image.
// Fractions must be positive and sum to 1 (within 1e-6); the last part takes
// the rounding remainder.
#pragma once
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "nn/tensor/random.hpp"
#include "nn/tensor/shape.hpp"

namespace nn::data {

inline void shuffle(std::vector<Index>& v, Rng& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<std::size_t>(rng.below(i))]);
}

namespace detail {
inline void check_fractions(const std::vector<double>& f) {
  double s = 0;
  for (double x : f) {
    if (!(x > 0)) throw std::invalid_argument("split: fractions must be > 0");
    s += x;
  }
  if (f.empty() || std::abs(s - 1.0) > 1e-6) throw std::invalid_argument("split: fractions must sum to 1");
}
inline std::vector<std::vector<Index>> cut(const std::vector<Index>& v, const std::vector<double>& f) {
  std::vector<std::vector<Index>> parts(f.size());
  std::size_t start = 0;
  double acc = 0;
  for (std::size_t k = 0; k < f.size(); ++k) {
    acc += f[k];
    const std::size_t end = k + 1 == f.size() ? v.size() : static_cast<std::size_t>(std::llround(acc * double(v.size())));
    parts[k].assign(v.begin() + long(start), v.begin() + long(std::max(start, end)));
    start = std::max(start, end);
  }
  return parts;
}
}  // namespace detail

inline std::vector<std::vector<Index>> split_indices(Index n, const std::vector<double>& fractions, std::uint64_t seed) {
  detail::check_fractions(fractions);
  std::vector<Index> all(static_cast<std::size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  Rng rng(seed);
  shuffle(all, rng);
  return detail::cut(all, fractions);
}

inline std::vector<std::vector<Index>> stratified_split(const std::vector<int>& labels,
                                                        const std::vector<double>& fractions, std::uint64_t seed) {
  detail::check_fractions(fractions);
  std::map<int, std::vector<Index>> by_class;
  for (std::size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(static_cast<Index>(i));
  Rng rng(seed);
  std::vector<std::vector<Index>> parts(fractions.size());
  for (auto& [c, idx] : by_class) {
    shuffle(idx, rng);
    auto p = detail::cut(idx, fractions);
    for (std::size_t k = 0; k < p.size(); ++k) parts[k].insert(parts[k].end(), p[k].begin(), p[k].end());
  }
  for (auto& p : parts) shuffle(p, rng);
  return parts;
}

inline std::vector<Index> balance_by_oversampling(const std::vector<Index>& indices, const std::vector<int>& labels,
                                                  std::uint64_t seed) {
  std::map<int, std::vector<Index>> by_class;
  for (Index i : indices) by_class[labels.at(static_cast<std::size_t>(i))].push_back(i);
  std::size_t most = 0;
  for (auto& kv : by_class) most = std::max(most, kv.second.size());
  Rng rng(seed);
  std::vector<Index> out;
  for (auto& [c, idx] : by_class) {
    out.insert(out.end(), idx.begin(), idx.end());
    for (std::size_t k = idx.size(); k < most; ++k) out.push_back(idx[static_cast<std::size_t>(rng.below(idx.size()))]);
  }
  shuffle(out, rng);
  return out;
}

}  // namespace nn::data
