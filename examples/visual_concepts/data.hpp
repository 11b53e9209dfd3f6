// data.hpp — Fashion-MNIST with its targets for the multi-task network:
// category (10 classes), super-category (5), tags (tags.hpp) and the
// concept targets of the embedding (every category, super-category and
// trained tag is a concept; a sample's active concepts are its category, its
// super-category and its tags).
//
// Tags are split in two: the trained tags (targets of the tag head and
// concepts of the embedding) and the probe tags, held out of all training,
// which only the linear probe on frozen features predicts.
#pragma once
#include <nn/nn.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tags.hpp"

namespace vcdata {

using F = float;

struct Part {
  nn::Tensor<F> x;                   // (N, 1, 28, 28) in [0, 1]
  std::vector<int> category, super;  // (N)
  std::vector<std::vector<int>> tags;  // (N, all tags) 0/1
  nn::Index size() const { return x.dim(0); }
};

struct Data {
  Part train, val, test;
  std::vector<int> trained_tags, probe_tags;  // indices into tags::rules()
  tags::Thresholds thresholds;
  std::vector<std::string> concept_names;  // categories, super-categories, trained tags

  int num_concepts() const { return int(concept_names.size()); }
};

inline std::vector<int> parse_tag_list(const std::string& list) {
  std::vector<int> out;
  std::stringstream ss(list);
  std::string name;
  while (std::getline(ss, name, ',')) {
    if (name.empty()) continue;
    int found = -1;
    for (int k = 0; k < tags::count(); ++k)
      if (name == tags::rules()[std::size_t(k)].name) found = k;
    if (found < 0) {
      std::string known;
      for (const auto& r : tags::rules()) known += std::string(known.empty() ? "" : ", ") + r.name;
      throw std::invalid_argument("unknown tag '" + name + "' (tags: " + known + ")");
    }
    out.push_back(found);
  }
  return out;
}

inline Part take(const nn::Tensor<F>& x, const nn::Tensor<F>& y, const std::vector<nn::Index>& idx) {
  Part p;
  const nn::Index per = x.size() / x.dim(0);
  p.x = nn::Tensor<F>({nn::Index(idx.size()), 1, tags::kSide, tags::kSide});
  for (std::size_t i = 0; i < idx.size(); ++i) {
    std::memcpy(p.x.data() + nn::Index(i) * per, x.data() + idx[i] * per, std::size_t(per) * sizeof(F));
    p.category.push_back(int(y[idx[i]]));
    p.super.push_back(tags::super_of(p.category.back()));
  }
  return p;
}

inline std::vector<tags::Features> features(const Part& p) {
  std::vector<tags::Features> f(std::size_t(p.size()));
  const nn::Index per = tags::kSide * tags::kSide;
  for (nn::Index i = 0; i < p.size(); ++i) f[std::size_t(i)] = tags::measure(p.x.data() + i * per);
  return f;
}

// Loads Fashion-MNIST from dir; a seeded validation split of `val` images
// from the training set; tags from thresholds fitted on the training part.
// quick: 3,000 / 500 / 1,000 images.
inline Data load(const std::string& dir, int val, std::uint64_t seed, const std::vector<int>& probe_tags, bool quick) {
  auto m = nn::data::load_mnist<F>(dir);
  if (m.train_x.rank() != 4 || m.train_x.dim(2) != tags::kSide || m.train_x.dim(3) != tags::kSide)
    throw std::runtime_error(dir + ": expected 28x28 images, got " + m.train_x.shape().str());
  const nn::Index n_train = m.train_x.dim(0);
  if (val < 1 || val >= n_train) throw std::invalid_argument("--val must be in [1, " + std::to_string(n_train) + ")");
  std::vector<nn::Index> order(static_cast<std::size_t>(n_train));
  for (nn::Index i = 0; i < n_train; ++i) order[std::size_t(i)] = i;
  nn::Rng rng(seed);
  nn::data::shuffle(order, rng);
  std::vector<nn::Index> vi(order.begin(), order.begin() + val), ti(order.begin() + val, order.end());
  std::vector<nn::Index> si(static_cast<std::size_t>(m.test_x.dim(0)));
  for (std::size_t i = 0; i < si.size(); ++i) si[i] = nn::Index(i);
  if (quick) ti.resize(std::min<std::size_t>(ti.size(), 3000)), vi.resize(std::min<std::size_t>(vi.size(), 500)),
      si.resize(std::min<std::size_t>(si.size(), 1000));
  Data d;
  d.train = take(m.train_x, m.train_y, ti);
  d.val = take(m.train_x, m.train_y, vi);
  d.test = take(m.test_x, m.test_y, si);
  const auto ftrain = features(d.train);
  d.thresholds = tags::fit(ftrain);
  for (auto* p : {&d.train, &d.val, &d.test}) {
    const auto f = p == &d.train ? ftrain : features(*p);
    for (const auto& fi : f) p->tags.push_back(tags::apply(fi, d.thresholds));
  }
  d.probe_tags = probe_tags;
  const std::set<int> held(probe_tags.begin(), probe_tags.end());
  for (int k = 0; k < tags::count(); ++k)
    if (!held.count(k)) d.trained_tags.push_back(k);
  if (d.trained_tags.empty()) throw std::invalid_argument("every tag is a probe tag: none is left to train on");
  d.concept_names = tags::categories();
  for (const auto& s : tags::super_categories()) d.concept_names.push_back(s);
  for (int k : d.trained_tags) d.concept_names.push_back(tags::rules()[std::size_t(k)].name);
  return d;
}

// The targets of a part as named tensors: "category" (N), "super" (N),
// "tags" (N, trained tags), "concepts" (N, K) with 1 for active concepts.
inline nn::data::TensorMultiDataset<F> dataset(const Data& d, const Part& p) {
  const nn::Index N = p.size(), T = nn::Index(d.trained_tags.size()), K = d.num_concepts();
  nn::Tensor<F> cat({N}), sup({N}), tg({N, T}), con({N, K});
  con.zero();
  for (nn::Index n = 0; n < N; ++n) {
    cat[n] = F(p.category[std::size_t(n)]), sup[n] = F(p.super[std::size_t(n)]);
    con[n * K + p.category[std::size_t(n)]] = 1;
    con[n * K + 10 + p.super[std::size_t(n)]] = 1;
    for (nn::Index t = 0; t < T; ++t) {
      const int on = p.tags[std::size_t(n)][std::size_t(d.trained_tags[std::size_t(t)])];
      tg[n * T + t] = F(on);
      con[n * K + 15 + t] = F(on);
    }
  }
  nn::data::TensorMultiDataset<F> ds;
  ds.add_input("image", p.x.clone());
  ds.add_target("category", std::move(cat)).add_target("super", std::move(sup)).add_target("tags", std::move(tg));
  ds.add_target("concepts", std::move(con));
  return ds;
}

// The tags of a part as a (N, tags) 0/1 table for the listed tag indices.
inline std::vector<std::vector<int>> tag_columns(const Part& p, const std::vector<int>& which) {
  std::vector<std::vector<int>> out(which.size(), std::vector<int>(std::size_t(p.size())));
  for (std::size_t k = 0; k < which.size(); ++k)
    for (nn::Index n = 0; n < p.size(); ++n) out[k][std::size_t(n)] = p.tags[std::size_t(n)][std::size_t(which[k])];
  return out;
}

// Tag frequencies (train, test), P(tag | category) and the correlation
// ratio eta^2 = 1 - E[Var(tag | category)] / Var(tag): the share of a tag's
// variance that the category explains (0: unrelated, 1: determined by it).
// Prints the table and returns it as CSV.
inline std::string tag_table(const Data& d) {
  const auto& R = tags::rules();
  std::string csv = "tag,rule,train_frequency,test_frequency,eta2_category";
  for (const auto& c : tags::categories()) csv += ",p_given_" + c;
  csv += "\n";
  std::printf("\n%-13s %6s %6s %6s   P(tag | category): %s\n", "tag", "train", "test", "eta^2",
              "T-sh Trou Pull Dres Coat Sand Shir Snea Bag  Boot");
  for (std::size_t k = 0; k < R.size(); ++k) {
    double pos_train = 0, pos_test = 0;
    std::vector<double> n_cat(10, 0), pos_cat(10, 0);
    for (nn::Index n = 0; n < d.train.size(); ++n) {
      const int on = d.train.tags[std::size_t(n)][k], c = d.train.category[std::size_t(n)];
      pos_train += on, n_cat[std::size_t(c)] += 1, pos_cat[std::size_t(c)] += on;
    }
    for (nn::Index n = 0; n < d.test.size(); ++n) pos_test += d.test.tags[std::size_t(n)][k];
    const double N = double(d.train.size()), p = pos_train / N;
    double within = 0;
    for (int c = 0; c < 10; ++c)
      if (n_cat[std::size_t(c)] > 0) {
        const double pc = pos_cat[std::size_t(c)] / n_cat[std::size_t(c)];
        within += n_cat[std::size_t(c)] / N * pc * (1 - pc);
      }
    const double eta2 = p > 0 && p < 1 ? 1.0 - within / (p * (1 - p)) : 0.0;
    const bool probe = std::find(d.probe_tags.begin(), d.probe_tags.end(), int(k)) != d.probe_tags.end();
    std::printf("%-13s %5.1f%% %5.1f%% %6.3f  ", (std::string(R[k].name) + (probe ? "*" : "")).c_str(), 100 * p,
                100 * pos_test / double(d.test.size()), eta2);
    char row[160];
    std::snprintf(row, sizeof row, "%s,\"%s\",%.4f,%.4f,%.4f", R[k].name, R[k].about, p, pos_test / double(d.test.size()), eta2);
    csv += row;
    for (int c = 0; c < 10; ++c) {
      const double pc = n_cat[std::size_t(c)] > 0 ? pos_cat[std::size_t(c)] / n_cat[std::size_t(c)] : 0.0;
      std::printf(" %4.0f", 100 * pc);
      char cell[32];
      std::snprintf(cell, sizeof cell, ",%.4f", pc);
      csv += cell;
    }
    std::printf("\n");
    csv += "\n";
  }
  std::printf("(* probe tags: held out of training; P(tag | category) in %%)\n");
  return csv;
}

}  // namespace vcdata
