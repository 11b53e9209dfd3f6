// list_sorting — sorting a shopper's pick list with a network that predicts
// the next item picked, greedily, one item at a time.
//
// Data (store.hpp): a seeded simulator of chains of grocery stores, their
// layouts, shoppers with habits and the orders they picked; the assumptions
// are in docs/examples/list_sorting.md. Orders in the stores kept for
// training are split into train / validation / test; each chain's last store
// is never seen in training, and its orders test what the model says about a
// new store (through an "unknown store" token it learns by store dropout).
//
// Models (picks.hpp): the article's initial architecture (embeddings, dense
// layers and a fan-out layer over the whole catalogue) and its final one (a
// scorer shared by every candidate, fed the product, department and aisle
// of the candidate and of the last pick). Both train with
// MaskedSoftmaxCrossEntropy, the softmax over the candidates only.
//
// Reported (stdout, metrics.json): next-pick accuracy and top-3 accuracy,
// parameters, seconds per epoch, the time to sort a 20-item list; whole lists
// sorted greedily against the control, human, TSP and shortest sorts
// (Kendall's tau to the actual order, walking distance); how the product
// embedding clusters by department. Files: catalogue.csv, stores.csv,
// <model>/{history.csv, curves.png}, embedding_<model>.png, lists.csv, speed.csv,
// initial.nn, final.nn (for sort_list), metrics.json.
#include <nn/nn.hpp>

#include <Eigen/Dense>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>

#include "../common/example.hpp"
#include "picks.hpp"
#include "sorts.hpp"
#include "store.hpp"

namespace {
using F = float;
using picks::Kind;

struct Settings {
  int orders = 30000, unseen_orders = 2000, products = 2000, departments = 20, chains = 5, stores_per_chain = 10,
      shoppers = 200, list_items = 20, timing_lists = 30;
  double store_dropout = 0.1, fastest = 1.0;
  std::string models = "initial,final";
};

struct Split {
  std::vector<store::Order> train, val, test, unseen;
  std::vector<store::Order> test_trained, unseen_trained;  // the orders of shoppers whose orders were trained on
  std::vector<int> fast;        // with --fastest: the shoppers kept for training, fastest first
  std::vector<int> fastest_at;  // with --fastest, per store: the fastest kept shopper with training orders there
  // The shopper the models sort an order as: its own, or with --fastest the
  // fastest kept shopper of the store the model is shown (the overall
  // fastest for the unknown-store token or a store nobody kept shops in).
  int sort_as(const store::Order& o, int store_shown) const {
    if (fast.empty()) return o.shopper;
    if (store_shown >= 0 && store_shown < int(fastest_at.size()) && fastest_at[std::size_t(store_shown)] >= 0)
      return fastest_at[std::size_t(store_shown)];
    return fast[0];
  }
};

// How much further the shopper walked than the shortest route (0.25: 25%).
double excess(const store::World& w, const store::Order& o) {
  return w.walk(o.store, o.picks) / w.walk(o.store, w.shortest(o.store, o.picks)) - 1;
}
double mean_excess(const store::World& w, const std::vector<store::Order>& orders) {
  double e = 0;
  for (const auto& o : orders) e += excess(w, o);
  return orders.empty() ? 0.0 : e / double(orders.size());
}

// --fastest X: keeps the training and validation orders of the fraction X of
// shoppers whose training orders walk least over the shortest route (in a
// real store: the fastest pickers), as the article learns from its fastest
// shoppers. Shoppers with fewer than 5 training orders are not ranked.
void keep_fastest(const store::World& w, Split& sp, double fraction) {
  std::vector<double> total(w.shoppers.size(), 0);  // then the mean
  std::vector<int> n(w.shoppers.size(), 0);
  for (const auto& o : sp.train) {
    total[std::size_t(o.shopper)] += excess(w, o);
    ++n[std::size_t(o.shopper)];
  }
  std::vector<int> ranked;
  for (std::size_t h = 0; h < n.size(); ++h)
    if (n[h] >= 5) total[h] /= n[h], ranked.push_back(int(h));
  if (ranked.empty()) throw std::runtime_error("--fastest: no shopper has 5 training orders");
  std::sort(ranked.begin(), ranked.end(), [&](int a, int b) { return total[std::size_t(a)] < total[std::size_t(b)]; });
  ranked.resize(std::max<std::size_t>(1, std::size_t(std::lround(fraction * double(ranked.size())))));
  sp.fast.assign(ranked.begin(), ranked.end());
  sp.fastest_at.assign(std::size_t(w.num_stores()), -1);
  for (int h : ranked)  // fastest first: the first kept shopper seen in a store is its fastest
    for (const auto& o : sp.train)
      if (o.shopper == h && sp.fastest_at[std::size_t(o.store)] < 0) sp.fastest_at[std::size_t(o.store)] = h;
  auto keep = [&](std::vector<store::Order>& v) {
    std::vector<store::Order> k;
    for (auto& o : v)
      if (std::find(ranked.begin(), ranked.end(), o.shopper) != ranked.end()) k.push_back(std::move(o));
    v = std::move(k);
  };
  keep(sp.train), keep(sp.val);
  sp.test_trained = sp.test, sp.unseen_trained = sp.unseen;
  keep(sp.test_trained), keep(sp.unseen_trained);
}

// Orders: a shopper, one of their stores (seen ones for train / val / test,
// the held-out store of a chain for `unseen`), items by popularity.
Split simulate(const store::World& w, const Settings& s, std::uint64_t seed) {
  std::mt19937_64 rng(nn::data::mix_seed(seed, 0x0DE5));
  Split sp;
  std::vector<int> seen, unseen;
  for (int k = 0; k < w.num_stores(); ++k) (w.stores[std::size_t(k)].seen ? seen : unseen).push_back(k);
  auto shopper_at = [&](int store) {  // a shopper who shops there, else anyone
    std::vector<int> who;
    for (std::size_t h = 0; h < w.home_stores.size(); ++h)
      if (std::find(w.home_stores[h].begin(), w.home_stores[h].end(), store) != w.home_stores[h].end()) who.push_back(int(h));
    if (who.empty()) return int(rng() % w.shoppers.size());
    return who[rng() % who.size()];
  };
  std::vector<store::Order> all;
  while (int(all.size()) < s.orders) {
    const int h = int(rng() % w.shoppers.size());
    std::vector<int> homes;
    for (int st : w.home_stores[std::size_t(h)])
      if (w.stores[std::size_t(st)].seen) homes.push_back(st);
    if (homes.empty()) continue;
    all.push_back(store::simulate_order(w, homes[rng() % homes.size()], h, rng));
  }
  const std::size_t n_val = all.size() / 10, n_test = all.size() / 10;
  sp.val.assign(all.begin(), all.begin() + std::ptrdiff_t(n_val));
  sp.test.assign(all.begin() + std::ptrdiff_t(n_val), all.begin() + std::ptrdiff_t(n_val + n_test));
  sp.train.assign(all.begin() + std::ptrdiff_t(n_val + n_test), all.end());
  for (int k = 0; k < s.unseen_orders; ++k) {
    const int st = unseen[rng() % unseen.size()];
    sp.unseen.push_back(store::simulate_order(w, st, shopper_at(st), rng));
  }
  sp.test_trained = sp.test, sp.unseen_trained = sp.unseen;
  return sp;
}

struct Accuracy {
  double top1 = 0, top3 = 0;
  long decisions = 0;
};
// What the model is told about the store of an order: its id, the
// unknown-store token, or the id of a store of the same chain that it has
// seen (how one would deploy it in a new store of a known chain).
enum class StoreAs { Itself, Unknown, Sibling };
int store_token(const store::World& w, int store, StoreAs as) {
  if (as == StoreAs::Itself) return store;
  if (as == StoreAs::Unknown) return w.num_stores();
  for (int k = 0; k < w.num_stores(); ++k)
    if (w.stores[std::size_t(k)].seen && w.stores[std::size_t(k)].chain == w.stores[std::size_t(store)].chain) return k;
  return w.num_stores();
}

Accuracy next_pick_accuracy(nn::Graph<F>& g, const store::World& w, const std::vector<store::Order>& orders, StoreAs as) {
  const auto v = picks::vocab(w);
  std::vector<picks::Sample> samples;
  for (const auto& st : picks::steps_of(orders)) {
    const auto& o = orders[std::size_t(st.order)];
    samples.push_back(picks::sample_of(o, st.t, store_token(w, o.store, as), v.start_product()));
  }
  const auto sc = picks::score(g, w, samples);
  Accuracy a;
  for (const auto& r : sc) {
    long above = 0;  // candidates scored above the true one (index 0); ties count for the truth
    for (std::size_t k = 1; k < r.size(); ++k) above += r[k] > r[0];
    a.top1 += above < 1, a.top3 += above < 3;
  }
  a.decisions = long(sc.size());
  a.top1 /= double(std::max<long>(a.decisions, 1)), a.top3 /= double(std::max<long>(a.decisions, 1));
  return a;
}

// The simulator's own reference: the remaining item that comes first on the
// route the shopper meant to take (it knows the layout, the shopper's
// direction and start). It misses only where the noise (forgotten items,
// swaps) changed the order, so it shows how predictable the picks are.
Accuracy route_oracle(const store::World& w, const std::vector<store::Order>& orders) {
  Accuracy a;
  for (const auto& o : orders) {
    const auto route = store::intended_route(w, o.store, o.shopper, o.picks, o.started_favourite);
    for (std::size_t t = 0; t + 1 < o.picks.size(); ++t) {
      std::vector<int> left(o.picks.begin() + std::ptrdiff_t(t), o.picks.end());
      int rank = 0;  // place of the true next pick among the remaining items, by route order
      for (int p : route)
        if (std::find(left.begin(), left.end(), p) != left.end()) {
          if (p == o.picks[t]) break;
          ++rank;
        }
      a.top1 += rank < 1, a.top3 += rank < 3, ++a.decisions;
    }
  }
  a.top1 /= double(std::max<long>(a.decisions, 1)), a.top3 /= double(std::max<long>(a.decisions, 1));
  return a;
}

struct Trained {
  Kind kind;
  nn::Graph<F> model;
  long params = 0;
  double seconds_per_epoch = 0, samples_per_second = 0;
  nn::History history;
};

Trained train(Kind kind, const store::World& w, const Split& sp, int C, const Settings& s, const example::Common& c) {
  const std::string name = picks::kind_name(kind), dir = c.out + "/" + name;
  std::filesystem::create_directories(dir);
  Trained t{kind, picks::build(kind, picks::vocab(w), C, c.seed), 0, 0, 0, {}};
  std::printf("\n==== %s model\n", name.c_str());
  std::cout << t.model.summary();
  t.params = long(t.model.num_parameters());
  picks::PickDataset train(kind, w, sp.train, C, s.store_dropout, nn::data::mix_seed(c.seed, 0x57D));
  picks::PickDataset val(kind, w, sp.val, C);
  nn::MaskedSoftmaxCrossEntropy<F> loss;
  nn::Losses<F> losses;
  losses.add("next", loss, 1.0, {"masked_accuracy", "masked_top3_accuracy"});
  nn::Adam<F> opt(t.model.parameters(), {c.lr});
  nn::FitOptions<F> o;
  o.epochs = c.epochs, o.batch_size = c.batch, o.seed = c.seed, o.validation_data = &val;
  o.callbacks = {std::make_shared<nn::LRScheduler<F>>(std::make_shared<nn::CosineLR>(c.epochs, 0.0), c.lr),
                 std::make_shared<nn::CSVLogger<F>>(dir + "/history.csv")};
  t.history = nn::fit(t.model, losses, opt, train, o);
  if (t.history.epochs() == 0) throw std::runtime_error(name + " model: training stopped before an epoch ended: " + t.history.stop_reason);
  const auto& secs = t.history["seconds"];
  for (double v : secs) t.seconds_per_epoch += v / double(secs.size());
  for (double v : t.history["images_per_second"]) t.samples_per_second += v / double(secs.size());
  nn::plot::save_history_plot(dir + "/curves.png", t.history, "list sorting, " + name + " model");
  return t;
}

// The product embedding of a trained model: the rows of `ids`.
Eigen::MatrixXd product_embedding(nn::Graph<F>& g, const std::vector<int>& ids) {
  for (std::size_t i = 0; i < g.num_layers(); ++i)
    if (g.layer_name(i) == "product_embedding") {
      auto& e = dynamic_cast<nn::Embedding<F>&>(g.layer(i));
      const auto& wt = e.weight();
      Eigen::MatrixXd m(Eigen::Index(ids.size()), wt.dim(1));
      for (std::size_t r = 0; r < ids.size(); ++r)
        for (nn::Index d = 0; d < wt.dim(1); ++d) m(Eigen::Index(r), d) = wt[nn::Index(ids[r]) * wt.dim(1) + d];
      return m;
    }
  throw std::runtime_error("the model has no layer named product_embedding");
}

// How much the embedding groups products by department: the fraction whose
// nearest neighbour (cosine) is in the same department, against chance (the
// probability that two random products share a department).
std::pair<double, double> department_neighbours(const Eigen::MatrixXd& e, const std::vector<int>& ids,
                                                const store::World& w) {
  Eigen::MatrixXd u = e;
  for (Eigen::Index r = 0; r < u.rows(); ++r) u.row(r) /= std::max(u.row(r).norm(), 1e-12);
  const Eigen::MatrixXd cos = u * u.transpose();
  long same = 0;
  for (Eigen::Index r = 0; r < u.rows(); ++r) {
    Eigen::Index best = -1;
    double bv = -2;
    for (Eigen::Index q = 0; q < u.rows(); ++q)
      if (q != r && cos(r, q) > bv) bv = cos(r, q), best = q;
    same += w.products[std::size_t(ids[std::size_t(r)])].department == w.products[std::size_t(ids[std::size_t(best)])].department;
  }
  std::vector<double> share(w.departments.size(), 0);
  for (int p : ids) share[std::size_t(w.products[std::size_t(p)].department)] += 1.0 / double(ids.size());
  double chance = 0;
  for (double q : share) chance += q * q;
  return {double(same) / double(u.rows()), chance};
}

// PCA of the product embedding to 2-D, coloured by department.
void save_embedding_png(const std::string& path, const Eigen::MatrixXd& e, const std::vector<int>& ids,
                        const store::World& w, const std::string& title) {
  const Eigen::MatrixXd x = e.rowwise() - e.colwise().mean();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(x.transpose() * x / double(x.rows()));
  const Eigen::Index d = x.cols();
  const Eigen::MatrixXd proj = x * eig.eigenvectors().rightCols(std::min<Eigen::Index>(2, d));
  const double total = eig.eigenvalues().sum();
  const double explained = d >= 2 ? (eig.eigenvalues()(d - 1) + eig.eigenvalues()(d - 2)) / total : 1.0;
  std::vector<nn::plot::Point> pts;
  for (Eigen::Index r = 0; r < proj.rows(); ++r)
    pts.push_back({proj(r, proj.cols() - 1), proj.cols() > 1 ? proj(r, 0) : 0.0,
                   w.products[std::size_t(ids[std::size_t(r)])].department});
  nn::plot::PlotOptions o;
  char sub[96];
  std::snprintf(sub, sizeof sub, " (PCA, %.0f%% of the variance)", 100 * explained);
  o.title = title + sub, o.xlabel = "first principal component (x), second (y)", o.width = 720, o.height = 560;
  nn::plot::save_scatter_plot(path, pts, w.departments, o);
}

// Training speed against catalogue size: both models built for P products
// (the other vocabularies as in the world) and trained on random decisions
// (random ids, 2-30 candidates) for a few batches: forward, loss, backward,
// Adam step, and building the batch's targets. Synthetic data: only the time
// is measured.
struct Speed {
  int products = 0;
  long params[2] = {0, 0};
  double samples_per_second[2] = {0, 0};
  double ms[2][4] = {};  // per batch: inputs and targets, forward, loss, backward + Adam step
};
Speed training_speed(const store::World& w, int products, int C, int batch, int batches, std::uint64_t seed) {
  Speed sp;
  sp.products = products;
  picks::Vocab v = picks::vocab(w);
  v.products = products;
  // made-up products beyond the catalogue take product 0's department and aisle
  store::World fake = w;
  fake.products.resize(std::size_t(products), w.products[0]);
  std::mt19937_64 rng(seed);
  for (Kind kind : {Kind::Initial, Kind::Final}) {
    auto g = picks::build(kind, v, C, seed);
    sp.params[int(kind)] = long(g.num_parameters());
    nn::Adam<F> opt(g.parameters(), {1e-3});
    nn::MaskedSoftmaxCrossEntropy<F> loss;
    const auto names = picks::input_names(kind);
    const nn::Index per = kind == Kind::Final ? C : 1, K = kind == Kind::Final ? C : products;
    // buffers kept across batches, as fit() keeps its batch and gradient tensors
    std::vector<nn::Tensor<F>> xs;
    for (std::size_t k = 0; k < names.size(); ++k) xs.emplace_back(nn::Shape{nn::Index(batch), per});
    nn::Tensor<F> target({nn::Index(batch), K}), grad;
    double secs = 0;
    using clock = std::chrono::steady_clock;
    auto since = [](clock::time_point t) { return std::chrono::duration<double, std::milli>(clock::now() - t).count(); };
    for (int b = -1; b < batches; ++b) {  // batch -1 warms up
      std::vector<picks::Sample> samples(static_cast<std::size_t>(batch));
      for (auto& x : samples) {
        x.last = int(rng() % std::uint64_t(products)), x.store = int(rng() % std::uint64_t(v.stores));
        x.shopper = int(rng() % std::uint64_t(v.shoppers));
        const int n = 2 + int(rng() % std::uint64_t(C - 1));
        while (int(x.candidates.size()) < n) {
          const int p = int(rng() % std::uint64_t(products));
          if (std::find(x.candidates.begin(), x.candidates.end(), p) == x.candidates.end()) x.candidates.push_back(p);
        }
      }
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < batch; ++i) {
        std::vector<F*> row;
        for (auto& x : xs) row.push_back(x.data() + nn::Index(i) * per);
        picks::write(kind, fake, v, C, samples[std::size_t(i)], row, target.data() + nn::Index(i) * K);
      }
      std::vector<const nn::Tensor<F>*> ptrs;
      for (auto& x : xs) ptrs.push_back(&x);
      double part[4];
      part[0] = since(t0);
      auto t1 = clock::now();
      g.train();
      g.zero_grad();
      const auto& y = *g.forward(ptrs, true)[0];
      part[1] = since(t1), t1 = clock::now();
      loss.compute(y, target, &grad);
      part[2] = since(t1), t1 = clock::now();
      g.backward({&grad});
      opt.step();
      part[3] = since(t1);
      if (b >= 0) {
        secs += std::chrono::duration<double>(clock::now() - t0).count();
        for (int q = 0; q < 4; ++q) sp.ms[int(kind)][q] += part[q] / batches;
      }
    }
    sp.samples_per_second[int(kind)] = double(batch) * batches / secs;
  }
  return sp;
}

struct ListScore {
  std::vector<double> tau, metres;
};

}  // namespace

int main(int argc, char** argv) {
  example::Example ex("list_sorting",
                      "Sorts shopping lists with a network that predicts the next pick (simulated stores and shoppers).",
                      {/*epochs*/ 12, /*batch*/ 256, /*lr*/ 3e-3, "runs/list_sorting"});
  Settings s;
  ex.cli()
      .option("--orders", &s.orders, "N", "simulated orders in the training stores (80% train, 10% validation, 10% test)")
      .option("--unseen-orders", &s.unseen_orders, "N", "simulated orders in the stores held out of training")
      .option("--products", &s.products, "N", "products in the catalogue")
      .option("--departments", &s.departments, "N", "departments (2-20)")
      .option("--chains", &s.chains, "N", "store chains")
      .option("--stores-per-chain", &s.stores_per_chain, "N", "stores per chain (the last of each is held out)")
      .option("--shoppers", &s.shoppers, "N", "shoppers")
      .option("--store-dropout", &s.store_dropout, "X", "fraction of training samples shown the unknown-store token")
      .option("--models", &s.models, "LIST", "models to train: initial,final")
      .option("--fastest", &s.fastest, "X", "train on the fraction X of shoppers who walk least over the shortest route, "
                                             "and sort as the fastest one would");
  ex.parse(argc, argv);
  auto& c = ex.common();
  if (s.models != "initial,final" && s.models != "initial" && s.models != "final")
    ex.fail("--models is initial,final, initial or final");
  if (s.orders < 100 || s.unseen_orders < 10) ex.fail("--orders >= 100, --unseen-orders >= 10");
  if (s.products < 100 || s.departments < 2 || s.departments > 20 || s.chains < 1 || s.stores_per_chain < 2 || s.shoppers < 1)
    ex.fail("--products >= 100, --departments 2-20, --chains >= 1, --stores-per-chain >= 2, --shoppers >= 1");
  if (!(s.store_dropout >= 0 && s.store_dropout < 1)) ex.fail("--store-dropout must be in [0, 1)");
  if (!(s.fastest > 0 && s.fastest <= 1)) ex.fail("--fastest must be in (0, 1]");
  return ex.run([&] {
    if (c.quick) {
      c.epochs = std::min(c.epochs, 2);
      s.orders = std::min(s.orders, 800), s.unseen_orders = std::min(s.unseen_orders, 100);
      s.products = std::min(s.products, 300), s.departments = std::min(s.departments, 10);
      s.chains = std::min(s.chains, 2), s.stores_per_chain = std::min(s.stores_per_chain, 4);
      s.shoppers = std::min(s.shoppers, 30), s.timing_lists = 5;
    }
    std::cout << "build: " << nn::build_info() << "\n";
    std::filesystem::create_directories(c.out);
    store::WorldConfig wc;
    wc.products = s.products, wc.departments = s.departments, wc.chains = s.chains;
    wc.stores_per_chain = s.stores_per_chain, wc.shoppers = s.shoppers, wc.seed = c.seed;
    const store::World w = store::make_world(wc);
    Split sp = simulate(w, s, c.seed);
    const double excess_all = mean_excess(w, sp.train);
    if (s.fastest < 1) keep_fastest(w, sp, s.fastest);
    const int C = wc.max_items;  // candidate slots of the final model: the longest list
    std::printf("simulated world (seed %llu): %d products in %d departments and %d aisles, %d chains x %d stores "
                "(%d held out), %d shoppers\n",
                static_cast<unsigned long long>(c.seed), s.products, s.departments, w.num_aisles(), s.chains,
                s.stores_per_chain, s.chains, s.shoppers);
    std::printf("orders: %zu train, %zu validation, %zu test (seen stores), %zu in unseen stores; "
                "%zu training decisions%s\n",
                sp.train.size(), sp.val.size(), sp.test.size(), sp.unseen.size(), picks::steps_of(sp.train).size(),
                c.quick ? " (--quick)" : "");
    if (s.fastest < 1)
      std::printf("--fastest %g: training on the orders of %zu shoppers (%zu orders); their routes walk %.1f%% over the "
                  "shortest, all shoppers' %.1f%%; next-pick accuracy on their test orders; the models sort every list "
                  "as the fastest of them who shops in the store would\n",
                  s.fastest, sp.fast.size(), sp.train.size(), 100 * mean_excess(w, sp.train), 100 * excess_all);
    {
      std::string cat = "id,name,department,aisle,popularity\n";
      for (std::size_t p = 0; p < w.products.size(); ++p)
        cat += std::to_string(p) + "," + w.products[p].name + "," + w.departments[std::size_t(w.products[p].department)] +
               "," + std::to_string(w.products[p].aisle) + "," + std::to_string(w.popularity[p]) + "\n";
      nn::io::write_file_atomic(c.out + "/catalogue.csv", cat);
      std::string st = "store,chain,trained,walking_order\n";
      for (int k = 0; k < w.num_stores(); ++k) {
        const auto& x = w.stores[std::size_t(k)];
        st += std::to_string(k) + "," + std::to_string(x.chain) + "," + (x.seen ? "yes" : "no") + ",";
        for (std::size_t d = 0; d < x.department_order.size(); ++d)
          st += (d ? " " : "") + w.departments[std::size_t(x.department_order[d])];
        st += "\n";
      }
      nn::io::write_file_atomic(c.out + "/stores.csv", st);
    }

    std::vector<Trained> models;
    for (Kind k : {Kind::Initial, Kind::Final})
      if (s.models.find(picks::kind_name(k)) != std::string::npos) models.push_back(train(k, w, sp, C, s, c));

    nn::io::JsonObject j;
    // next-pick accuracy
    std::printf("\n== next pick (decisions with >= 2 candidates)\n");
    std::printf("%-8s %9s %8s %10s %10s   %-24s %-24s %-24s %-24s\n", "model", "params", "s/epoch", "samples/s",
                "sort 20 ms", "test, seen stores", "test, store unknown", "unseen stores, unknown", "unseen, sibling store");
    for (auto& t : models) {
      const Accuracy seen = next_pick_accuracy(t.model, w, sp.test_trained, StoreAs::Itself);
      const Accuracy hidden = next_pick_accuracy(t.model, w, sp.test_trained, StoreAs::Unknown);
      const Accuracy unseen = next_pick_accuracy(t.model, w, sp.unseen_trained, StoreAs::Unknown);
      const Accuracy sibling = next_pick_accuracy(t.model, w, sp.unseen_trained, StoreAs::Sibling);
      // sorting one 20-item list: one model call per position, batch of one
      std::mt19937_64 rng(nn::data::mix_seed(c.seed, 0x7133));
      std::vector<double> ms;
      for (int k = 0; k < s.timing_lists; ++k) {
        const auto& o = sp.test[std::size_t(k) % sp.test.size()];
        store::Order big = store::simulate_order(w, o.store, o.shopper, rng);
        while (int(big.picks.size()) < s.list_items) big = store::simulate_order(w, o.store, o.shopper, rng);
        big.picks.resize(std::size_t(s.list_items));
        const auto t0 = std::chrono::steady_clock::now();
        picks::greedy_sort(t.model, w, {{o.store, o.shopper, big.picks}});
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      const double sort_ms = nn::stats::median(ms);
      std::printf("%-8s %9ld %8.1f %10.0f %10.2f   top1 %5.1f%% top3 %5.1f%%  top1 %5.1f%% top3 %5.1f%%  "
                  "top1 %5.1f%% top3 %5.1f%%  top1 %5.1f%% top3 %5.1f%%\n",
                  picks::kind_name(t.kind), t.params, t.seconds_per_epoch, t.samples_per_second, sort_ms,
                  100 * seen.top1, 100 * seen.top3, 100 * hidden.top1, 100 * hidden.top3, 100 * unseen.top1,
                  100 * unseen.top3, 100 * sibling.top1, 100 * sibling.top3);
      nn::io::JsonObject m;
      m.set("params", t.params).set("epochs", t.history.epochs()).set("seconds_per_epoch", t.seconds_per_epoch)
          .set("samples_per_second", t.samples_per_second).set("sort_20_items_ms_median", sort_ms)
          .set("test_top1", seen.top1).set("test_top3", seen.top3).set("test_decisions", seen.decisions)
          .set("test_store_unknown_top1", hidden.top1).set("test_store_unknown_top3", hidden.top3)
          .set("unseen_stores_top1", unseen.top1).set("unseen_stores_top3", unseen.top3)
          .set("unseen_sibling_store_top1", sibling.top1).set("unseen_sibling_store_top3", sibling.top3)
          .set("unseen_decisions", unseen.decisions).set("final_val_loss", t.history.last("val_loss"))
          .set("stop_reason", t.history.stop_reason);
      j.set(picks::kind_name(t.kind), m);
    }

    {
      const Accuracy seen = route_oracle(w, sp.test_trained), unseen = route_oracle(w, sp.unseen_trained);
      std::printf("%-8s %9s %8s %10s %10s   top1 %5.1f%% top3 %5.1f%%  %-24s top1 %5.1f%% top3 %5.1f%%\n", "route",
                  "-", "-", "-", "-", 100 * seen.top1, 100 * seen.top3, "(the simulator's own route)", 100 * unseen.top1,
                  100 * unseen.top3);
      std::printf("(decisions: %ld test, %ld in unseen stores)\n", seen.decisions, unseen.decisions);
      nn::io::JsonObject m;
      m.set("test_top1", seen.top1).set("test_top3", seen.top3).set("unseen_stores_top1", unseen.top1)
          .set("unseen_stores_top3", unseen.top3);
      j.set("route_oracle", m);
    }

    // whole lists, sorted by each method
    const auto human = sorts::human_orders(w), tsp = sorts::tsp_orders(w);
    std::string lists_csv = "set,order,store,shopper,items,method,kendall_tau,metres\n";
    nn::io::JsonObject lists_json;
    for (const auto& [set, orders] : {std::pair<std::string, const std::vector<store::Order>*>{"test", &sp.test},
                                      {"unseen", &sp.unseen}}) {
      // in unseen stores the models sort with the unknown-store token, and
      // again ("<model>-sibling") with a seen store of the same chain
      std::vector<std::string> methods = {"actual", "control", "human", "tsp"};
      std::map<std::string, ListScore> score;
      std::map<std::string, std::vector<std::vector<int>>> sorted;
      for (StoreAs as : set == "unseen" ? std::vector<StoreAs>{StoreAs::Unknown, StoreAs::Sibling}
                                        : std::vector<StoreAs>{StoreAs::Itself}) {
        std::vector<picks::List> lists;
        for (const auto& o : *orders) {
          const int shown = store_token(w, o.store, as);
          lists.push_back({shown, sp.sort_as(o, shown), o.picks});
        }
        for (auto& t : models) {
          const std::string m = std::string(picks::kind_name(t.kind)) + (as == StoreAs::Sibling ? "-sibling" : "");
          sorted[m] = picks::greedy_sort(t.model, w, lists);
          methods.push_back(m);
        }
      }
      methods.push_back("shortest");
      for (std::size_t i = 0; i < orders->size(); ++i) {
        const auto& o = (*orders)[i];
        const int chain = w.stores[std::size_t(o.store)].chain;
        std::map<std::string, std::vector<int>> by;
        by.emplace("actual", o.picks);
        by["control"] = sorts::by_departments(w, o.picks, sorts::random_departments(w, nn::data::mix_seed(c.seed, i, 0xC0)));
        by["human"] = sorts::by_departments(w, o.picks, human[std::size_t(chain)]);
        by["tsp"] = sorts::by_departments(w, o.picks, tsp[std::size_t(chain)]);
        for (const auto& [m, lists] : sorted) by.emplace(m, lists[i]);
        by["shortest"] = w.shortest(o.store, o.picks);
        const double bound = w.walk(o.store, by["shortest"]);
        for (const auto& m : methods) {
          const double d = w.walk(o.store, by[m]), tau = sorts::kendall_tau(o.picks, by[m]);
          if (d < bound - 1e-6) throw std::logic_error("a " + m + " route is shorter than the shortest one");
          score[m].tau.push_back(tau), score[m].metres.push_back(d);
          char row[160];
          std::snprintf(row, sizeof row, "%s,%zu,%d,%d,%zu,%s,%.4f,%.1f\n", set.c_str(), i, o.store, o.shopper,
                        o.picks.size(), m.c_str(), tau, d);
          lists_csv += row;
        }
      }
      std::printf("\n== whole lists, %s (%zu orders): Kendall's tau to the actual order, walking distance\n",
                  set == "test" ? "test orders in seen stores" : "orders in unseen stores (models: unknown-store token; -sibling: a seen store of the chain)",
                  orders->size());
      std::printf("%-16s %8s %10s %12s %14s\n", "sort", "tau", "metres", "vs shortest", "vs actual");
      const double best = nn::stats::mean(score["shortest"].metres), actual = nn::stats::mean(score["actual"].metres);
      nn::io::JsonObject sj;
      for (const auto& m : methods) {
        const double tau = nn::stats::mean(score[m].tau), metres = nn::stats::mean(score[m].metres);
        std::printf("%-16s %8.3f %10.1f %11.1f%% %+13.1f%%\n", m.c_str(), tau, metres, 100 * (metres / best - 1),
                    100 * (metres / actual - 1));
        nn::io::JsonObject mj;
        mj.set("kendall_tau", tau).set("metres", metres).set("metres_over_shortest", metres / best);
        sj.set(m, mj);
      }
      lists_json.set(set, sj);
    }
    nn::io::write_file_atomic(c.out + "/lists.csv", lists_csv);
    j.set("lists", lists_json);

    // the product embeddings
    // products picked often enough in training for their embedding to have
    // moved from its random start (most of a Zipf catalogue is rare)
    std::vector<int> picked(w.products.size(), 0), frequent;
    for (const auto& o : sp.train)
      for (int p : o.picks) ++picked[std::size_t(p)];
    const int min_picks = c.quick ? 3 : 20;
    for (std::size_t p = 0; p < picked.size(); ++p)
      if (picked[p] >= min_picks) frequent.push_back(int(p));
    std::printf("\n== product embeddings of the %zu products picked >= %d times in training: nearest neighbour "
                "(cosine) in the same department\n", frequent.size(), min_picks);
    for (auto& t : models) {
      if (frequent.size() < 3) break;
      const auto e = product_embedding(t.model, frequent);
      const auto [same, chance] = department_neighbours(e, frequent, w);
      std::printf("%-8s %.1f%% (chance %.1f%%)\n", picks::kind_name(t.kind), 100 * same, 100 * chance);
      save_embedding_png(c.out + "/embedding_" + picks::kind_name(t.kind) + ".png", e, frequent, w,
                         std::string("product embedding, ") + picks::kind_name(t.kind) + " model");
      nn::io::JsonObject m;
      m.set("products", long(frequent.size())).set("min_training_picks", min_picks)
          .set("neighbour_same_department", same).set("neighbour_chance", chance);
      j.set(std::string("embedding_") + picks::kind_name(t.kind), m);
    }

    // training speed against the catalogue's size
    {
      std::printf("\n== training speed against catalogue size (synthetic decisions, batch %d)\n", c.batch);
      std::printf("%10s %14s %14s %14s %14s %12s\n", "products", "initial params", "final params", "initial samp/s",
                  "final samp/s", "final/initial");
      std::string csv = "products,initial_params,final_params,initial_samples_per_second,final_samples_per_second,"
                        "initial_ms_inputs,initial_ms_forward,initial_ms_loss,initial_ms_backward_step,"
                        "final_ms_inputs,final_ms_forward,final_ms_loss,final_ms_backward_step\n";
      std::vector<nn::io::JsonObject> rows;
      nn::io::JsonObject sj;
      for (int P : c.quick ? std::vector<int>{s.products, 10 * s.products}
                           : std::vector<int>{s.products, 10 * s.products, 100 * s.products}) {
        const Speed r = training_speed(w, P, C, c.batch, c.quick ? 2 : 8, c.seed);
        std::printf("%10d %14ld %14ld %14.0f %14.0f %11.2fx\n", P, r.params[0], r.params[1], r.samples_per_second[0],
                    r.samples_per_second[1], r.samples_per_second[1] / r.samples_per_second[0]);
        for (int k = 0; k < 2; ++k)
          std::printf("%10s %s: ms per batch: inputs+targets %.2f, forward %.2f, loss %.2f, backward+step %.2f\n", "",
                      k ? "final  " : "initial", r.ms[k][0], r.ms[k][1], r.ms[k][2], r.ms[k][3]);
        char row[320];
        std::snprintf(row, sizeof row, "%d,%ld,%ld,%.1f,%.1f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f\n", P, r.params[0],
                      r.params[1], r.samples_per_second[0], r.samples_per_second[1], r.ms[0][0], r.ms[0][1], r.ms[0][2],
                      r.ms[0][3], r.ms[1][0], r.ms[1][1], r.ms[1][2], r.ms[1][3]);
        csv += row;
        nn::io::JsonObject o;
        o.set("initial_params", r.params[0]).set("final_params", r.params[1])
            .set("initial_samples_per_second", r.samples_per_second[0]).set("final_samples_per_second", r.samples_per_second[1]);
        sj.set(std::to_string(P), o);
      }
      nn::io::write_file_atomic(c.out + "/speed.csv", csv);
      j.set("speed_by_catalogue_size", sj);
    }

    // save, reload, and check that the reloaded model scores the same
    for (auto& t : models) {
      const std::string path = c.out + "/" + picks::kind_name(t.kind) + ".nn";
      nn::save_model(path, t.model);
      auto again = nn::load_graph<F>(path);
      std::vector<picks::Sample> probe;
      const auto v = picks::vocab(w);
      for (std::size_t k = 0; k < std::min<std::size_t>(sp.test.size(), 50); ++k)
        probe.push_back(picks::sample_of(sp.test[k], 0, sp.test[k].store, v.start_product()));
      if (picks::score(again, w, probe) != picks::score(t.model, w, probe))
        throw std::runtime_error(path + ": the reloaded model scores differently");
      std::printf("saved %s; reloaded, it gives the same scores\n", path.c_str());
    }

    nn::io::JsonObject world;
    world.set("products", s.products).set("departments", s.departments).set("aisles", w.num_aisles())
        .set("chains", s.chains).set("stores", w.num_stores()).set("shoppers", s.shoppers)
        .set("train_orders", long(sp.train.size())).set("validation_orders", long(sp.val.size()))
        .set("test_orders", long(sp.test.size())).set("unseen_orders", long(sp.unseen.size()))
        .set("train_decisions", long(picks::steps_of(sp.train).size()));
    if (s.fastest < 1) {
      nn::io::JsonObject f;
      f.set("fraction", s.fastest).set("shoppers", long(sp.fast.size())).set("fastest_shopper", sp.fast[0])
          .set("their_excess_over_shortest", mean_excess(w, sp.train)).set("all_excess_over_shortest", excess_all);
      j.set("fastest", f);
    }
    j.set("world", world).set("store_dropout", s.store_dropout).set("epochs", c.epochs).set("batch_size", c.batch)
        .set("lr", c.lr).set("seed", long(c.seed)).set("threads", nn::num_threads()).set("quick", c.quick)
        .set("build", nn::build_info());
    j.save(c.out + "/metrics.json");
    std::printf("\nwrote %s/{catalogue.csv, stores.csv, lists.csv, speed.csv, metrics.json, <model>/{history.csv, curves.png}, "
                "embedding_<model>.png, <model>.nn}\n",
                c.out.c_str());
    return 0;
  });
}
