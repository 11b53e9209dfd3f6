// examples/list_sorting/picks.hpp — next-pick examples, the two models of
// the article, and scoring candidates with either of them.
//
// One example: after the shopper has picked `last` (the entrance token for
// the first pick) in a store, which of the remaining items do they pick next?
//
// Initial model (inputs of shape (1); output (P) over the whole catalogue):
//   last, store, shopper -> Embedding(10) each -> Concat (30) -> Dense(64) ReLU
//   -> Dense(64) ReLU -> Dense(10) -> "fan-out" Dense(P) -> logits over all
//   products; MaskedSoftmaxCrossEntropy keeps only the candidates.
// Final model (inputs of shape (C), one entry per candidate slot; output (C)):
//   candidate and last -> one shared product Embedding(10); their departments
//   and aisles -> shared department / aisle Embeddings; store, shopper ->
//   Embeddings; Concat (C, 52) -> Dense(32) ReLU -> Dense(16) ReLU -> Dense(1):
//   one small scorer applied to every candidate slot (Dense works on the last
//   axis), Reshape -> scores (C); MaskedSoftmaxCrossEntropy over the real
//   candidates, padded slots marked -1 and never given probability.
// The context (last, store, shopper) is repeated in every slot, as Keras'
// TimeDistributed would: the first Dense then sees [candidate, context].
#pragma once
#include <nn/nn.hpp>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "store.hpp"

namespace picks {

using F = float;
enum class Kind { Initial, Final };
inline const char* kind_name(Kind k) { return k == Kind::Initial ? "initial" : "final"; }

// Ids beyond the real ones: the entrance as a "product" (and its department
// and aisle) for the first pick, padding for empty candidate slots, and a
// store token for stores the model has not seen.
struct Vocab {
  int products = 0, departments = 0, aisles = 0, stores = 0, shoppers = 0;
  int start_product() const { return products; }
  int start_department() const { return departments; }
  int start_aisle() const { return aisles; }
  int unknown_store() const { return stores; }
};
inline Vocab vocab(const store::World& w) {
  return {int(w.products.size()), int(w.departments.size()), w.num_aisles(), w.num_stores(), int(w.shoppers.size())};
}

// A pick decision: the context and the remaining items (the true next first).
struct Sample {
  int last = 0, store = 0, shopper = 0;
  std::vector<int> candidates;  // candidates[0] is the true next pick when known
};

struct Step {
  int order = 0, t = 0;  // before pick t of order `order`
};

// Every decision with at least two candidates (the last pick of an order is
// forced and says nothing).
inline std::vector<Step> steps_of(const std::vector<store::Order>& orders) {
  std::vector<Step> s;
  for (std::size_t o = 0; o < orders.size(); ++o)
    for (int t = 0; t + 1 < int(orders[o].picks.size()); ++t) s.push_back({int(o), t});
  return s;
}
inline Sample sample_of(const store::Order& o, int t, int store_token, int start_product) {
  Sample s;
  s.last = t ? o.picks[std::size_t(t - 1)] : start_product;
  s.store = store_token, s.shopper = o.shopper;
  s.candidates.assign(o.picks.begin() + t, o.picks.end());
  return s;
}

// Writes one sample's inputs. Initial: xs = {last, store, shopper}, each (1).
// Final: xs = {candidate, candidate_department, candidate_aisle, last,
// last_department, last_aisle, store, shopper}, each (C); padded slots hold
// the entrance token. `target` (optional) gets 1 / 0 / -1 per slot: (P) for
// the initial model, (C) for the final one.
inline void write(Kind kind, const store::World& w, const Vocab& v, int C, const Sample& s, const std::vector<F*>& xs,
                  F* target) {
  auto dept = [&](int p) { return p == v.start_product() ? v.start_department() : w.products[std::size_t(p)].department; };
  auto aisle = [&](int p) { return p == v.start_product() ? v.start_aisle() : w.products[std::size_t(p)].aisle; };
  if (kind == Kind::Initial) {
    xs[0][0] = F(s.last), xs[1][0] = F(s.store), xs[2][0] = F(s.shopper);
    if (target) {
      std::fill(target, target + v.products, F(-1));
      for (std::size_t k = 0; k < s.candidates.size(); ++k) target[s.candidates[k]] = k ? F(0) : F(1);
    }
    return;
  }
  if (int(s.candidates.size()) > C)
    throw std::invalid_argument("a list of " + std::to_string(s.candidates.size()) + " candidates; the model takes at most " +
                                std::to_string(C));
  for (int k = 0; k < C; ++k) {
    const bool real = k < int(s.candidates.size());
    const int p = real ? s.candidates[std::size_t(k)] : v.start_product();
    xs[0][k] = F(p), xs[1][k] = F(dept(p)), xs[2][k] = F(aisle(p));
    xs[3][k] = F(s.last), xs[4][k] = F(dept(s.last)), xs[5][k] = F(aisle(s.last));
    xs[6][k] = F(s.store), xs[7][k] = F(s.shopper);
    if (target) target[k] = !real ? F(-1) : k ? F(0) : F(1);
  }
}

inline std::vector<std::string> input_names(Kind kind) {
  if (kind == Kind::Initial) return {"last", "store", "shopper"};
  return {"candidate", "candidate_department", "candidate_aisle", "last", "last_department", "last_aisle", "store",
          "shopper"};
}

// The next-pick examples of some orders as a MultiDataset (built per sample
// as fit asks, so the initial model's (P) targets are never all in memory).
// With store_dropout > 0, that fraction of the samples (a fixed, seeded
// choice) shows the unknown-store token instead of the store: it is how the
// model learns something to say about stores it has never seen.
class PickDataset : public nn::data::MultiDataset<F> {
 public:
  PickDataset(Kind kind, const store::World& w, const std::vector<store::Order>& orders, int max_candidates,
              double store_dropout = 0, std::uint64_t seed = 0, bool all_unknown = false)
      : kind_(kind), w_(&w), orders_(&orders), v_(vocab(w)), C_(max_candidates), steps_(steps_of(orders)),
        dropout_(store_dropout), seed_(seed), all_unknown_(all_unknown) {}
  nn::Index size() const override { return nn::Index(steps_.size()); }
  std::vector<std::string> input_names() const override { return picks::input_names(kind_); }
  std::vector<nn::Shape> input_shapes() const override {
    return std::vector<nn::Shape>(input_names().size(), nn::Shape{kind_ == Kind::Initial ? 1 : C_});
  }
  std::vector<std::string> target_names() const override { return {"next"}; }
  std::vector<nn::Shape> target_shapes() const override {
    return {nn::Shape{kind_ == Kind::Initial ? nn::Index(v_.products) : nn::Index(C_)}};
  }
  void load(nn::Index i, const std::vector<F*>& xs, const std::vector<F*>& ys) const override {
    write(kind_, *w_, v_, int(C_), sample(i), xs, ys[0]);
  }
  Sample sample(nn::Index i) const {
    const Step st = steps_[std::size_t(i)];
    const auto& o = (*orders_)[std::size_t(st.order)];
    return sample_of(o, st.t, unknown(i) ? v_.unknown_store() : o.store, v_.start_product());
  }
  const std::vector<Step>& steps() const { return steps_; }

 private:
  bool unknown(nn::Index i) const {
    if (all_unknown_) return true;
    if (dropout_ <= 0) return false;
    return double(nn::data::mix_seed(seed_, std::uint64_t(i)) >> 11) * 0x1.0p-53 < dropout_;
  }
  Kind kind_;
  const store::World* w_;
  const std::vector<store::Order>* orders_;
  Vocab v_;
  nn::Index C_;
  std::vector<Step> steps_;
  double dropout_;
  std::uint64_t seed_;
  bool all_unknown_;
};

inline nn::Graph<F> build(Kind kind, const Vocab& v, int max_candidates, std::uint64_t seed) {
  nn::Graph<F> g(seed);
  if (kind == Kind::Initial) {
    auto last = g.input({1}, "last"), st = g.input({1}, "store"), sh = g.input({1}, "shopper");
    auto e = g.add(nn::Concat<F>(-1), {g.add(nn::Embedding<F>(v.products + 1, 10), last, "product_embedding"),
                                       g.add(nn::Embedding<F>(v.stores + 1, 10), st, "store_embedding"),
                                       g.add(nn::Embedding<F>(v.shoppers, 10), sh, "shopper_embedding")});
    auto h = g.add(nn::Flatten<F>(), e);
    h = g.add(nn::ReLU<F>(), g.add(nn::Dense<F>(64), h));
    h = g.add(nn::ReLU<F>(), g.add(nn::Dense<F>(64), h));
    h = g.add(nn::Dense<F>(10), h);
    g.output(g.add(nn::Dense<F>(v.products), h, "fan_out"), "next");
    return g;
  }
  const nn::Shape slots{nn::Index(max_candidates)};
  std::vector<nn::NodeRef> in;
  for (const auto& name : input_names(kind)) in.push_back(g.input(slots, name));
  auto product = g.share(nn::Embedding<F>(v.products + 1, 10), "product_embedding");
  auto dept = g.share(nn::Embedding<F>(v.departments + 1, 4), "department_embedding");
  auto aisle = g.share(nn::Embedding<F>(v.aisles + 1, 4), "aisle_embedding");
  auto e = g.add(nn::Concat<F>(-1),
                 {g.add(product, in[0]), g.add(dept, in[1]), g.add(aisle, in[2]), g.add(product, in[3]),
                  g.add(dept, in[4]), g.add(aisle, in[5]), g.add(nn::Embedding<F>(v.stores + 1, 8), in[6], "store_embedding"),
                  g.add(nn::Embedding<F>(v.shoppers, 8), in[7], "shopper_embedding")});
  auto h = g.add(nn::ReLU<F>(), g.add(nn::Dense<F>(32), e, "scorer_1"));
  h = g.add(nn::ReLU<F>(), g.add(nn::Dense<F>(16), h, "scorer_2"));
  h = g.add(nn::Dense<F>(1), h, "score");
  g.output(g.add(nn::Reshape<F>({nn::Index(max_candidates)}), h), "next");
  return g;
}

// Which kind a trained model is, from its inputs.
inline Kind kind_of(nn::Graph<F>& g) {
  if (g.num_inputs() == 3 && g.input_name(0) == "last") return Kind::Initial;
  if (g.num_inputs() == 8 && g.input_name(0) == "candidate") return Kind::Final;
  throw std::invalid_argument("not a list-sorting model (its inputs are not those of the initial or the final model)");
}
inline int max_candidates(nn::Graph<F>& g) { return kind_of(g) == Kind::Final ? int(g.input_shape(0)[0]) : 1 << 30; }

// The model's score of every candidate of every sample, in candidate order.
inline std::vector<std::vector<F>> score(nn::Graph<F>& g, const store::World& w, const std::vector<Sample>& samples,
                                         nn::Index batch = 512) {
  const Kind kind = kind_of(g);
  const Vocab v = vocab(w);
  const int C = kind == Kind::Final ? int(g.input_shape(0)[0]) : 1;
  const nn::Index per = kind == Kind::Final ? C : 1;
  const std::size_t k_in = input_names(kind).size();
  std::vector<std::vector<F>> out(samples.size());
  g.eval();
  for (std::size_t b0 = 0; b0 < samples.size(); b0 += std::size_t(batch)) {
    const std::size_t n = std::min(samples.size() - b0, std::size_t(batch));
    std::vector<nn::Tensor<F>> xs;
    for (std::size_t k = 0; k < k_in; ++k) xs.emplace_back(nn::Shape{nn::Index(n), per});
    std::vector<const nn::Tensor<F>*> ptrs;
    for (auto& x : xs) ptrs.push_back(&x);
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<F*> row;
      for (auto& x : xs) row.push_back(x.data() + nn::Index(i) * per);
      write(kind, w, v, C, samples[b0 + i], row, nullptr);
    }
    const auto& y = *g.forward(ptrs, false)[0];
    const nn::Index K = y.dim(1);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& s = samples[b0 + i];
      auto& o = out[b0 + i];
      for (std::size_t k = 0; k < s.candidates.size(); ++k)
        o.push_back(y[nn::Index(i) * K + (kind == Kind::Initial ? s.candidates[k] : nn::Index(k))]);
    }
  }
  return out;
}

// Greedy sorting: pick the best-scored remaining item, make it the last pick,
// repeat. All lists advance together, one model call per position.
struct List {
  int store = 0, shopper = 0;  // store: a store id or the unknown-store token
  std::vector<int> items;
};
inline std::vector<std::vector<int>> greedy_sort(nn::Graph<F>& g, const store::World& w, const std::vector<List>& lists,
                                                 std::vector<std::vector<double>>* step_probability = nullptr) {
  const Vocab v = vocab(w);
  std::vector<std::vector<int>> sorted(lists.size());
  std::vector<std::vector<int>> left;
  for (const auto& l : lists) left.push_back(l.items);
  if (step_probability) step_probability->assign(lists.size(), {});
  for (;;) {
    std::vector<Sample> batch;
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < lists.size(); ++i) {
      if (left[i].empty()) continue;
      if (left[i].size() == 1) {  // forced
        sorted[i].push_back(left[i][0]), left[i].clear();
        if (step_probability) (*step_probability)[i].push_back(1.0);
        continue;
      }
      Sample s;
      s.last = sorted[i].empty() ? v.start_product() : sorted[i].back();
      s.store = lists[i].store, s.shopper = lists[i].shopper, s.candidates = left[i];
      batch.push_back(std::move(s));
      which.push_back(i);
    }
    if (batch.empty()) break;
    const auto sc = score(g, w, batch);
    for (std::size_t j = 0; j < batch.size(); ++j) {
      const auto& r = sc[j];
      const std::size_t best = std::size_t(std::max_element(r.begin(), r.end()) - r.begin());
      const std::size_t i = which[j];
      if (step_probability) {
        double z = 0;
        for (F x : r) z += std::exp(double(x - r[best]));
        (*step_probability)[i].push_back(1.0 / z);
      }
      sorted[i].push_back(left[i][best]);
      left[i].erase(left[i].begin() + std::ptrdiff_t(best));
    }
  }
  return sorted;
}

}  // namespace picks
