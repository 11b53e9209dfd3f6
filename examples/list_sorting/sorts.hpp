// examples/list_sorting/sorts.hpp — the sorts a model is compared with, and
// how a sorted list is scored.
//   control   departments in a random order, items alphabetical within them
//   human     departments in the chain's average walking order (what a person
//             with the chain's floor plans would write), items alphabetical
//   tsp       departments in the shortest closed tour over the chain's
//             average inter-department walking distances (exact, Held-Karp),
//             walked in the direction of the chain's layout, items alphabetical
//   shortest  the store's true shortest order (store::World::shortest): the bound
// Scores: Kendall's tau against the order the shopper actually picked, and
// the walking distance in the store.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "store.hpp"

namespace sorts {

// Kendall's tau-a of `sorted` against `actual` (the same items, no ties):
// (concordant - discordant) / pairs; 1 = the same order, -1 = reversed.
inline double kendall_tau(const std::vector<int>& actual, const std::vector<int>& sorted) {
  const std::size_t n = actual.size();
  if (n != sorted.size()) throw std::invalid_argument("kendall_tau: lists differ in length");
  if (n < 2) return 1.0;
  std::vector<std::size_t> rank_of(n);  // position in `sorted` of actual[i]
  for (std::size_t i = 0; i < n; ++i) {
    const auto it = std::find(sorted.begin(), sorted.end(), actual[i]);
    if (it == sorted.end()) throw std::invalid_argument("kendall_tau: lists hold different items");
    rank_of[i] = std::size_t(it - sorted.begin());
  }
  long s = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) s += rank_of[i] < rank_of[j] ? 1 : -1;
  return double(s) / (double(n) * double(n - 1) / 2);
}

// Items grouped by department in `dept_order`, alphabetical within each.
inline std::vector<int> by_departments(const store::World& w, std::vector<int> items, const std::vector<int>& dept_order) {
  std::vector<int> place(w.departments.size(), 0);
  for (std::size_t k = 0; k < dept_order.size(); ++k) place[std::size_t(dept_order[k])] = int(k);
  std::sort(items.begin(), items.end(), [&](int a, int b) {
    const auto& pa = w.products[std::size_t(a)];
    const auto& pb = w.products[std::size_t(b)];
    const int da = place[std::size_t(pa.department)], db = place[std::size_t(pb.department)];
    return da != db ? da < db : pa.name < pb.name;
  });
  return items;
}

inline std::vector<int> random_departments(const store::World& w, std::uint64_t seed) {
  std::vector<int> d(w.departments.size());
  for (std::size_t k = 0; k < d.size(); ++k) d[k] = int(k);
  std::mt19937_64 rng(seed);
  std::shuffle(d.begin(), d.end(), rng);
  return d;
}

// Per chain: departments by their mean place in the walking order of the
// chain's seen stores.
inline std::vector<std::vector<int>> human_orders(const store::World& w) {
  const std::size_t D = w.departments.size();
  std::vector<std::vector<int>> out;
  for (int c = 0; c < w.cfg.chains; ++c) {
    std::vector<double> mean(D, 0);
    for (const auto& st : w.stores)
      if (st.chain == c && st.seen)
        for (std::size_t k = 0; k < D; ++k) mean[std::size_t(st.department_order[k])] += double(k);
    std::vector<int> d(D);
    for (std::size_t k = 0; k < D; ++k) d[k] = int(k);
    std::stable_sort(d.begin(), d.end(), [&](int a, int b) { return mean[std::size_t(a)] < mean[std::size_t(b)]; });
    out.push_back(d);
  }
  return out;
}

// Per chain: the shortest closed tour entrance -> every department ->
// entrance over the mean distances (the shorter way round the loop between
// department centres) in the chain's seen stores; exact by Held-Karp
// dynamic programming (2^D x D states).
inline std::vector<std::vector<int>> tsp_orders(const store::World& w) {
  const int D = int(w.departments.size()), N = D + 1;  // node D: the entrance
  if (D > 22) throw std::invalid_argument("tsp_orders: too many departments for an exact tour");
  const auto humans = human_orders(w);
  std::vector<std::vector<int>> out;
  for (int c = 0; c < w.cfg.chains; ++c) {
    std::vector<double> dist(std::size_t(N * N), 0);
    int stores = 0;
    for (int s = 0; s < w.num_stores(); ++s) {
      const auto& st = w.stores[std::size_t(s)];
      if (st.chain != c || !st.seen) continue;
      ++stores;
      auto at = [&](int n) { return n == D ? 0.0 : st.dept_centre[std::size_t(n)]; };
      for (int a = 0; a < N; ++a)
        for (int b = 0; b < N; ++b) dist[std::size_t(a * N + b)] += w.gap(s, at(a), at(b));
    }
    for (auto& d : dist) d /= std::max(stores, 1);
    // best[mask][j]: shortest path from the entrance through the departments
    // in mask, ending at j (j in mask)
    const std::size_t M = std::size_t(1) << D;
    std::vector<float> best(M * std::size_t(D), std::numeric_limits<float>::infinity());
    std::vector<std::int8_t> prev(M * std::size_t(D), -1);
    for (int j = 0; j < D; ++j) best[(std::size_t(1) << j) * std::size_t(D) + std::size_t(j)] = float(dist[std::size_t(D * N + j)]);
    for (std::size_t mask = 1; mask < M; ++mask)
      for (int j = 0; j < D; ++j) {
        if (!(mask >> j & 1)) continue;
        const float bj = best[mask * std::size_t(D) + std::size_t(j)];
        if (!std::isfinite(bj)) continue;
        for (int k = 0; k < D; ++k) {
          if (mask >> k & 1) continue;
          const std::size_t m2 = mask | (std::size_t(1) << k);
          const float v = bj + float(dist[std::size_t(j * N + k)]);
          float& slot = best[m2 * std::size_t(D) + std::size_t(k)];
          if (v < slot) slot = v, prev[m2 * std::size_t(D) + std::size_t(k)] = std::int8_t(j);
        }
      }
    const std::size_t full = M - 1;
    int end = 0;
    float tour = std::numeric_limits<float>::infinity();
    for (int j = 0; j < D; ++j) {
      const float v = best[full * std::size_t(D) + std::size_t(j)] + float(dist[std::size_t(j * N + D)]);
      if (v < tour) tour = v, end = j;
    }
    std::vector<int> order;
    for (std::size_t mask = full; end >= 0;) {
      order.push_back(end);
      const int p = prev[mask * std::size_t(D) + std::size_t(end)];
      mask &= ~(std::size_t(1) << end);
      end = p;
    }
    std::reverse(order.begin(), order.end());
    // a closed tour has no direction: walk it the way the chain's average
    // walking order goes (the way the store is laid out to be walked)
    const auto& human = humans[std::size_t(c)];
    auto place = [&](int d) { return int(std::find(human.begin(), human.end(), d) - human.begin()); };
    long agree = 0;
    for (std::size_t i = 0; i < order.size(); ++i)
      for (std::size_t k = i + 1; k < order.size(); ++k) agree += place(order[i]) < place(order[k]) ? 1 : -1;
    if (agree < 0) std::reverse(order.begin(), order.end());
    out.push_back(order);
  }
  return out;
}

}  // namespace sorts
