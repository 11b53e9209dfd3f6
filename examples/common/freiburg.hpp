// examples/common/freiburg.hpp — Freiburg Groceries for the examples: the class list,
// class selection, image loading for the official split files and the random
// split, the predictions contact sheet and the classes.txt next to a model.
#pragma once
#include <nn/nn.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace groceries {

using F = float;

inline std::string upper(std::string s) {
  for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Loaded images (N, 3, S, S) in [0, 1] with labels 0..K-1 over the chosen classes.
struct Images {
  std::unique_ptr<nn::data::TensorDataset<F>> ds;
  std::vector<int> labels;
};

class Catalogue {
 public:
  explicit Catalogue(std::string root) : root_(std::move(root)) {
    names = nn::data::read_class_ids(root_ + "/classid.txt");
    for (const auto& n : names) {
      long c = 0;
      std::error_code ec;
      if (std::filesystem::is_directory(root_ + "/images/" + n, ec))
        for (const auto& e : std::filesystem::directory_iterator(root_ + "/images/" + n))
          c += e.is_regular_file() && nn::data::is_image_file(e.path());
      counts.push_back(c);
    }
  }

  // "all", "topK" (the K classes with most images) or "NAME,NAME,..." (any
  // case). Returns class ids in classid.txt order. With limit > 0 only the
  // first `limit` of the selection are kept.
  std::vector<int> select(const std::string& spec, int limit = 0) const {
    std::vector<int> ids;
    const int C = int(names.size());
    if (spec == "all") {
      for (int c = 0; c < C; ++c) ids.push_back(c);
    } else if (spec.size() > 3 && spec.rfind("top", 0) == 0 &&
               spec.find_first_not_of("0123456789", 3) == std::string::npos) {
      const int k = std::stoi(spec.substr(3));
      if (k < 2 || k > C) throw std::runtime_error("--classes " + spec + ": K must be in 2.." + std::to_string(C));
      std::vector<int> order(std::size_t(C), 0);
      for (int c = 0; c < C; ++c) order[std::size_t(c)] = c;
      std::stable_sort(order.begin(), order.end(),
                       [&](int a, int b) { return counts[std::size_t(a)] > counts[std::size_t(b)]; });
      ids.assign(order.begin(), order.begin() + k);
    } else {
      std::stringstream ss(spec);
      std::string item;
      while (std::getline(ss, item, ',')) {
        const auto it = std::find(names.begin(), names.end(), upper(item));
        if (it == names.end()) {
          std::string all;
          for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
          throw std::runtime_error("--classes: unknown class '" + item + "' (the classes are: " + all + ")");
        }
        const int id = int(it - names.begin());
        if (std::find(ids.begin(), ids.end(), id) != ids.end())
          throw std::runtime_error("--classes: class '" + item + "' given twice");
        ids.push_back(id);
      }
    }
    if (ids.size() < 2) throw std::runtime_error("--classes " + spec + ": choose at least two classes");
    std::sort(ids.begin(), ids.end());
    if (limit > 0 && int(ids.size()) > limit) ids.resize(std::size_t(limit));
    return ids;
  }

  // Every image of the chosen classes in images/<CLASS>/ (at most cap per class when cap > 0).
  Images load_folder(const std::vector<int>& chosen, const nn::data::ImageOptions& o, int cap = 0) const {
    nn::data::ImageList list;
    for (std::size_t k = 0; k < chosen.size(); ++k) {
      const std::string dir = root_ + "/images/" + names[std::size_t(chosen[k])];
      std::error_code ec;
      if (!std::filesystem::is_directory(dir, ec)) throw std::runtime_error(dir + ": no such folder");
      std::vector<std::string> files;
      for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.is_regular_file() && nn::data::is_image_file(e.path())) files.push_back(e.path().string());
      std::sort(files.begin(), files.end());
      if (cap > 0 && int(files.size()) > cap) files.resize(std::size_t(cap));
      for (auto& f : files) list.paths.push_back(f), list.labels.push_back(int(k));
    }
    return load(list, chosen, o);
  }

  // The official split file splits/<kind><k>.txt ("train" or "test"), keeping
  // the chosen classes, each image once (the train files repeat images of
  // small classes to balance them), at most cap per class when cap > 0.
  Images load_split_file(const std::string& kind, int k, const std::vector<int>& chosen,
                         const nn::data::ImageOptions& o, int cap = 0) const {
    const std::string file = root_ + "/splits/" + kind + std::to_string(k) + ".txt";
    const auto all = nn::data::read_split_file(file, root_ + "/images", names);
    std::map<int, int> remap;
    for (std::size_t i = 0; i < chosen.size(); ++i) remap[chosen[i]] = int(i);
    nn::data::ImageList list;
    std::set<std::string> seen;
    std::map<int, int> per_class;
    for (std::size_t i = 0; i < all.size(); ++i) {
      const auto it = remap.find(all.labels[i]);
      if (it == remap.end() || !seen.insert(all.paths[i]).second) continue;
      if (cap > 0 && per_class[it->second]++ >= cap) continue;
      list.paths.push_back(all.paths[i]), list.labels.push_back(it->second);
    }
    if (list.paths.empty()) throw std::runtime_error(file + ": no images of the chosen classes");
    return load(list, chosen, o);
  }

  std::vector<std::string> names;  // classid.txt order
  std::vector<long> counts;        // image files per class folder

 private:
  Images load(nn::data::ImageList list, const std::vector<int>& chosen, const nn::data::ImageOptions& o) const {
    for (int c : chosen) list.class_names.push_back(names[std::size_t(c)]);
    nn::data::LoadReport rep;
    Images out;
    out.ds = std::make_unique<nn::data::TensorDataset<F>>(nn::data::load_images<F>(list, o, &rep));
    if (rep.skipped > 0) {
      std::printf("skipped %lld of %zu images (--skip-bad):\n", static_cast<long long>(rep.skipped), list.size());
      for (std::size_t i = 0; i < rep.skipped_files.size() && i < 10; ++i) std::printf("  %s\n", rep.skipped_files[i].c_str());
      if (rep.skipped_files.size() > 10) std::printf("  ...\n");
    }
    std::size_t next_skip = 0;
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (next_skip < rep.skipped_indices.size() && rep.skipped_indices[next_skip] == nn::Index(i)) {
        ++next_skip;
        continue;
      }
      out.labels.push_back(list.labels[i]);
    }
    return out;
  }
  std::string root_;
};

// A grid of up to 24 test images (a seeded random choice) captioned with the
// predicted class and its probability and the true class; wrong ones in red.
inline void save_predictions_sheet(const std::string& path, const nn::Tensor<F>& x, const nn::Tensor<F>& y,
                                   const nn::Tensor<F>& logits, const std::vector<std::string>& names,
                                   std::uint64_t seed, const std::string& title) {
  const nn::Index n = x.dim(0), K = logits.dim(1), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  std::vector<nn::Index> order(static_cast<std::size_t>(n));
  for (nn::Index i = 0; i < n; ++i) order[std::size_t(i)] = i;
  nn::Rng rng(seed ^ 0x5EEDull);
  nn::data::shuffle(order, rng);
  order.resize(std::min<std::size_t>(order.size(), 24));
  const nn::Tensor<F> prob = nn::softmax(logits);
  std::vector<nn::plot::Tile> tiles;
  for (nn::Index i : order) {
    const F* p = prob.data() + i * K;
    const nn::Index best = std::max_element(p, p + K) - p, truth = nn::Index(y[i]);
    nn::plot::Tile t;
    t.channels = int(C), t.height = int(H), t.width = int(W);
    t.chw.assign(x.data() + i * C * H * W, x.data() + (i + 1) * C * H * W);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s %.0f%%", names[std::size_t(best)].c_str(), 100.0 * p[best]);
    t.line1 = buf;
    t.line2 = "true: " + names[std::size_t(truth)];
    t.flagged = best != truth;
    tiles.push_back(std::move(t));
  }
  nn::plot::save_contact_sheet(path, tiles, title + " (red: wrong)", 6, 112);
}

// classes.txt: "<name> <label>" lines, the format of the dataset's classid.txt.
inline void save_class_names(const std::string& path, const std::vector<std::string>& names) {
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i) s += names[i] + " " + std::to_string(i) + "\n";
  nn::io::write_file_atomic(path, s.data(), s.size());
}

}  // namespace groceries
