// examples/list_sorting/store.hpp — a seeded grocery-store simulator: a
// catalogue, chains of stores with their own layouts, shoppers with habits,
// and the pick sequences of their orders. Every assumption is listed in
// docs/examples/list_sorting.md ("The simulator").
//
// Geometry: a store is one closed walk (a loop of aisles) of length L metres
// that starts and ends at the entrance, where the checkouts are. Departments
// are consecutive stretches of the loop in the store's walking order, aisles
// consecutive stretches of their department, products points on their aisle.
// A shopper walks along the loop in either direction; the distance between two
// points is the shorter way round.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace store {

struct WorldConfig {
  int products = 2000, departments = 20, chains = 5, stores_per_chain = 10, shoppers = 200;
  int min_items = 5, max_items = 30;
  double aisle_metres = 12, corridor_metres = 30;  // aisle length; entrance-to-first-aisle and back
  double zipf = 1.0;                                // popularity of the product of rank r ~ 1 / r^zipf
  std::uint64_t seed = 1;
};

struct Product {
  std::string name;
  int department = 0, aisle = 0;  // aisle: a global aisle id
};

struct Store {
  int chain = 0;
  bool seen = true;                 // false: held out of training (its orders test generalization)
  std::vector<int> department_order;  // walking order of departments
  std::vector<double> position;     // per product: metres along the loop from the entrance
  std::vector<double> dept_centre;  // per department: the middle of its stretch
  double length = 0;                // the loop's length in metres
};

struct Shopper {
  bool clockwise = true;      // walks the loop in the store's walking order (else the other way)
  int favourite = 0;          // a department they like to start in
  double p_favourite = 0;     // how often they start there when the order has items in it
  double strictness = 1;      // probability that an item is picked when the route passes it
};

struct Order {
  int store = 0, shopper = 0;
  std::vector<int> picks;         // product ids in the order they were picked
  bool started_favourite = false;  // the shopper began in their favourite department
};

const char* department_name(int d);

struct World {
  WorldConfig cfg;
  std::vector<std::string> departments;
  std::vector<int> aisle_department;         // per global aisle
  std::vector<Product> products;
  std::vector<double> popularity;            // per product, sums to 1
  std::vector<Store> stores;
  std::vector<Shopper> shoppers;
  std::vector<std::vector<int>> home_stores;  // per shopper: the stores they shop in

  int num_aisles() const { return int(aisle_department.size()); }
  int num_stores() const { return int(stores.size()); }

  // The shorter way round the loop between two points of store s.
  double gap(int s, double a, double b) const {
    const double d = std::abs(a - b), L = stores[std::size_t(s)].length;
    return std::min(d, L - d);
  }
  // Walking distance of picking `seq` in store s, entrance to entrance.
  double walk(int s, const std::vector<int>& seq) const {
    const auto& pos = stores[std::size_t(s)].position;
    double d = 0, at = 0;
    for (int p : seq) d += gap(s, at, pos[std::size_t(p)]), at = pos[std::size_t(p)];
    return d + gap(s, at, 0);
  }
  // The shortest pick order of `items` in store s. On a loop that starts and
  // ends at the entrance the optimum either walks the whole loop or turns back
  // once: out one way to the item before some gap, back, out the other way to
  // the item after it, and back; trying every gap is exact.
  std::vector<int> shortest(int s, std::vector<int> items) const;
};

// Builds the world from the configuration (deterministic in cfg.seed).
World make_world(const WorldConfig& cfg);

// Simulates one order: the items (sampled by popularity) and the sequence in
// which the shopper picks them.
Order simulate_order(const World& w, int store, int shopper, std::mt19937_64& rng);

// The route the shopper means to take (their direction and start) before the
// noise of forgotten items and swaps.
std::vector<int> intended_route(const World& w, int store, int shopper, std::vector<int> items, bool start_favourite);

// ---------------------------------------------------------------------------

inline const char* department_name(int d) {
  static const char* names[] = {"produce", "bakery", "deli", "meat-seafood", "dairy", "cheese", "frozen",
                                "snacks", "beverages", "breakfast", "pantry", "canned", "pasta-rice",
                                "international", "baking", "condiments", "household", "personal-care",
                                "baby", "pets", "wine-beer", "flowers", "pharmacy", "bulk"};
  constexpr int n = int(sizeof names / sizeof names[0]);
  return d >= 0 && d < n ? names[d] : "department";
}

inline World make_world(const WorldConfig& cfg) {
  if (cfg.products < 10 || cfg.departments < 2 || cfg.departments > 24 || cfg.chains < 1 ||
      cfg.stores_per_chain < 2 || cfg.shoppers < 1 || cfg.min_items < 2 || cfg.max_items < cfg.min_items ||
      cfg.max_items > cfg.products)
    throw std::invalid_argument("store::make_world: bad configuration");
  World w;
  w.cfg = cfg;
  std::mt19937_64 rng(cfg.seed * 0x9E3779B97F4A7C15ull + 17);
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto pick = [&](int n) { return int(std::uniform_int_distribution<int>(0, n - 1)(rng)); };
  const int D = cfg.departments;
  for (int d = 0; d < D; ++d) w.departments.push_back(department_name(d));
  // departments differ in size (share of the catalogue) and have 2-4 aisles
  std::vector<double> share(static_cast<std::size_t>(D));
  std::vector<std::vector<int>> dept_aisles(static_cast<std::size_t>(D));
  for (int d = 0; d < D; ++d) {
    share[std::size_t(d)] = uni(0.5, 1.5);
    const int a = 2 + pick(3);
    for (int k = 0; k < a; ++k) {
      dept_aisles[std::size_t(d)].push_back(int(w.aisle_department.size()));
      w.aisle_department.push_back(d);
    }
  }
  // products: a department by share, an aisle of it, a made-up name
  std::discrete_distribution<int> dept_of(share.begin(), share.end());
  static const char* syll[] = {"ka", "lo", "mi", "ren", "to", "sa", "vel", "du", "ni", "por", "ba", "qui",
                               "zen", "fo", "la", "mu", "ter", "gi", "hal", "sor", "pe", "wen", "ci", "dor"};
  for (int p = 0; p < cfg.products; ++p) {
    Product pr;
    pr.department = dept_of(rng);
    const auto& as = dept_aisles[std::size_t(pr.department)];
    pr.aisle = as[std::size_t(pick(int(as.size())))];
    std::string nm;
    for (int k = 0, n = 2 + pick(2); k < n; ++k) nm += syll[pick(24)];
    pr.name = w.departments[std::size_t(pr.department)] + "/" + nm + "-" + std::to_string(p);
    w.products.push_back(std::move(pr));
  }
  // popularity: Zipf over a random ranking of the products
  std::vector<int> rank(std::size_t(cfg.products));
  std::iota(rank.begin(), rank.end(), 1);
  std::shuffle(rank.begin(), rank.end(), rng);
  double z = 0;
  for (int p = 0; p < cfg.products; ++p) z += 1.0 / std::pow(double(rank[std::size_t(p)]), cfg.zipf);
  for (int p = 0; p < cfg.products; ++p) w.popularity.push_back(1.0 / std::pow(double(rank[std::size_t(p)]), cfg.zipf) / z);

  // chains: a department walking order, an aisle order within departments and
  // a shelf position (0-1 along the aisle) for every product
  for (int c = 0; c < cfg.chains; ++c) {
    // a noisy copy of a typical layout (department d at place d: produce by
    // the entrance, ...), so chains differ but are not unrelated
    std::vector<double> place(static_cast<std::size_t>(D));
    std::normal_distribution<double> jitter(0.0, D / 5.0);
    for (int d = 0; d < D; ++d) place[std::size_t(d)] = d + jitter(rng);
    std::vector<int> order(static_cast<std::size_t>(D));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return place[std::size_t(a)] < place[std::size_t(b)]; });
    std::vector<std::vector<int>> aisle_order = dept_aisles;
    for (auto& a : aisle_order) std::shuffle(a.begin(), a.end(), rng);
    std::vector<double> shelf(std::size_t(cfg.products));
    for (auto& s : shelf) s = uni(0.02, 0.98);
    for (int k = 0; k < cfg.stores_per_chain; ++k) {
      // a store keeps most of its chain's layout: 0-3 departments moved by up
      // to 3 places, each department's aisles reshuffled with probability 0.3
      Store st;
      st.chain = c;
      st.seen = k + 1 < cfg.stores_per_chain;  // the chain's last store is held out
      st.department_order.assign(order.begin(), order.end());
      for (int m = 0, moves = pick(4); m < moves; ++m) {
        const int from = pick(D);
        const int to = std::clamp(from + pick(7) - 3, 0, D - 1);
        const int d = st.department_order[std::size_t(from)];
        st.department_order.erase(st.department_order.begin() + from);
        st.department_order.insert(st.department_order.begin() + to, d);
      }
      auto aisles = aisle_order;
      for (auto& a : aisles)
        if (uni(0, 1) < 0.3) std::shuffle(a.begin(), a.end(), rng);
      std::vector<double> aisle_start(w.aisle_department.size());
      st.dept_centre.assign(std::size_t(D), 0);
      double at = cfg.corridor_metres / 2;
      for (int d : st.department_order) {
        const double begin = at;
        for (int a : aisles[std::size_t(d)]) aisle_start[std::size_t(a)] = at, at += cfg.aisle_metres;
        st.dept_centre[std::size_t(d)] = (begin + at) / 2;
      }
      st.length = at + cfg.corridor_metres / 2;
      for (int p = 0; p < cfg.products; ++p)
        st.position.push_back(aisle_start[std::size_t(w.products[std::size_t(p)].aisle)] +
                              shelf[std::size_t(p)] * cfg.aisle_metres);
      w.stores.push_back(std::move(st));
    }
  }
  // shoppers: habits, and 1-3 stores they shop in (any store, seen or not)
  for (int h = 0; h < cfg.shoppers; ++h) {
    Shopper s;
    s.clockwise = uni(0, 1) < 0.65;
    s.favourite = pick(D);
    s.p_favourite = uni(0, 0.6);
    s.strictness = uni(0.80, 1.0);
    w.shoppers.push_back(s);
    std::vector<int> homes;
    for (int k = 0, n = 1 + pick(3); k < n; ++k) {
      const int st = pick(w.num_stores());
      if (std::find(homes.begin(), homes.end(), st) == homes.end()) homes.push_back(st);
    }
    w.home_stores.push_back(homes);
  }
  return w;
}

inline std::vector<int> intended_route(const World& w, int store, int shopper, std::vector<int> items,
                                       bool start_favourite) {
  const Store& st = w.stores[std::size_t(store)];
  const Shopper& sh = w.shoppers[std::size_t(shopper)];
  // the start: the entrance, or the near end of the favourite department
  double start = 0;
  if (start_favourite) {
    const int d = sh.favourite;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (std::size_t p = 0; p < w.products.size(); ++p)
      if (w.products[p].department == d) lo = std::min(lo, st.position[p]), hi = std::max(hi, st.position[p]);
    if (std::isfinite(lo)) start = sh.clockwise ? lo - 1e-6 : hi + 1e-6;
  }
  const double L = st.length;
  auto key = [&](int p) {
    const double x = st.position[std::size_t(p)];
    double k = sh.clockwise ? x - start : start - x;
    while (k < 0) k += L;
    return k;
  };
  std::stable_sort(items.begin(), items.end(), [&](int a, int b) { return key(a) < key(b); });
  return items;
}

inline Order simulate_order(const World& w, int store, int shopper, std::mt19937_64& rng) {
  auto uni = [&]() { return std::uniform_real_distribution<double>(0, 1)(rng); };
  const int n = std::uniform_int_distribution<int>(w.cfg.min_items, w.cfg.max_items)(rng);
  // n distinct products by popularity (rejection: the catalogue is far larger than an order)
  std::discrete_distribution<int> by_pop(w.popularity.begin(), w.popularity.end());
  std::vector<int> items;
  while (int(items.size()) < n) {
    const int p = by_pop(rng);
    if (std::find(items.begin(), items.end(), p) == items.end()) items.push_back(p);
  }
  const Shopper& sh = w.shoppers[std::size_t(shopper)];
  bool fav = false;
  if (uni() < sh.p_favourite)
    for (int p : items) fav = fav || w.products[std::size_t(p)].department == sh.favourite;
  std::vector<int> route = intended_route(w, store, shopper, items, fav);
  // forgotten items: passed by (probability 1 - strictness) and picked at a
  // random later point of the route
  std::vector<int> seq;
  std::vector<int> forgotten;
  for (int p : route) {
    if (uni() > sh.strictness) forgotten.push_back(p);
    else seq.push_back(p);
  }
  for (int p : forgotten) {
    const auto it = std::find(route.begin(), route.end(), p);
    const int was = int(it - route.begin());
    // insert after the items of the route that come after it and are already placed
    int after = 0;
    for (int k = 0; k < int(seq.size()); ++k) {
      const int r = int(std::find(route.begin(), route.end(), seq[std::size_t(k)]) - route.begin());
      if (r <= was) after = k + 1;
    }
    const int at = after + int(uni() * double(int(seq.size()) - after + 1));
    seq.insert(seq.begin() + std::min(at, int(seq.size())), p);
  }
  // small swaps of neighbours
  for (std::size_t k = 0; k + 1 < seq.size(); ++k)
    if (uni() < 0.05) std::swap(seq[k], seq[k + 1]);
  return {store, shopper, seq, fav};
}

inline std::vector<int> World::shortest(int s, std::vector<int> items) const {
  const auto& pos = stores[std::size_t(s)].position;
  const double L = stores[std::size_t(s)].length;
  std::sort(items.begin(), items.end(), [&](int a, int b) { return pos[std::size_t(a)] < pos[std::size_t(b)]; });
  const std::size_t n = items.size();
  if (n == 0) return items;
  // split after item i (i = 0..n, 0 = nothing clockwise): clockwise out to
  // items[i-1] and back, then the other way to items[i] and back
  double best = L;  // the whole loop, clockwise
  std::size_t split = n;
  bool full = true;
  for (std::size_t i = 0; i <= n; ++i) {
    const double cw = i ? pos[std::size_t(items[i - 1])] : 0.0;
    const double ccw = i < n ? L - pos[std::size_t(items[i])] : 0.0;
    const double d = 2 * (cw + ccw);
    if (d < best) best = d, split = i, full = false;
  }
  if (full) return items;
  std::vector<int> r(items.begin(), items.begin() + std::ptrdiff_t(split));
  for (std::size_t k = n; k > split; --k) r.push_back(items[k - 1]);
  return r;
}

}  // namespace store
