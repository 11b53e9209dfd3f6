// visual_concepts — one network that predicts a product image's category,
// its super-category and a set of visual tags, and embeds it among learned
// concept vectors; images are then compared by cosine similarity.
//
// Data (data.hpp, tags.hpp): Fashion-MNIST's real product photos; the tags
// (dark, textured, wide, symmetric, ...) are measured from each image's
// pixels with integral images, thresholds fitted on the training images.
// Some tags (--probe-tags) are held out of all training: a linear probe on
// the frozen trunk features predicts them, to test whether multi-task
// training gives features that carry more than the category.
//
// Variants (model.hpp), the same trunk, seed and budget:
//   a  category only
//   b  category + super-category + tags (--tag-loss bce|softf1)
//   c  b + concept embedding (ConceptSimilarity + CosinePushPull)
// The default run trains a, b, c and b with the other tag loss, and writes:
//   tags.csv (tag frequencies, P(tag | category), eta^2), <variant>/history.csv,
//   <variant>/curves.png, cosines.png (variant c: cos(image, tag) for present
//   and absent tags), neighbours.png (8 test queries and their 8 nearest test
//   images by variant c's embedding), metrics.json, model.nn (variant c),
//   index.nn + index.csv + concepts.txt (the test set's embeddings, for
//   visual_concepts_search) and query.png (a test image to search with).
// --compare trains a, b, c for --seeds seeds and reports the probe's mean
// average precision on the held-out tags with paired t-tests (compare.csv,
// compare.json).
#include <nn/nn.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>

#include "../common/example.hpp"
#include "data.hpp"
#include "model.hpp"
#include "scores.hpp"

namespace {
using F = float;

struct Settings {
  std::string variants = "abc", tag_loss = "bce", probe = "high_contrast,symmetric,open_centre";
  int width = 32, dim = 32, val = 6000, probe_epochs = 15, seeds = 3, queries = 1000;
  double w_super = 0.5, w_tags = 1.0, w_concepts = 0.5, margin = std::sqrt(2.0);
  bool compare = false, tags_only = false;
};

// One trained variant and what it scores on the test set.
struct Run {
  std::string name;  // "a", "b", "c", "b-softf1", ...
  char variant = 'a';
  std::string tag_loss;
  example::Trained trained;
  long params = 0;
  double category_accuracy = 0, super_accuracy = 0;
  scores::TagReport tags, probe;
  scores::Search search_features, search_embedding;
  scores::CosineSplit cosines;
  nn::Tensor<F> test_embedding;  // variant c: (N, dim)
};

// "a", "b", "c", or "b-softf1" for a tag head trained with soft-F1
std::string variant_name(char variant, const std::string& tag_loss) {
  return std::string(1, variant) + (vcmodel::has_tags(variant) && tag_loss != "bce" ? "-" + tag_loss : "");
}

double accuracy(const nn::Tensor<F>& logits, const std::vector<int>& truth, const std::vector<int>* map = nullptr) {
  const nn::Index C = logits.dim(1);
  long hit = 0;
  for (nn::Index n = 0; n < logits.dim(0); ++n) {
    const F* row = logits.data() + n * C;
    int pred = int(std::max_element(row, row + C) - row);
    if (map) pred = (*map)[std::size_t(pred)];
    hit += pred == truth[std::size_t(n)];
  }
  return double(hit) / double(logits.dim(0));
}

Run train_variant(const vcdata::Data& d, const nn::data::TensorMultiDataset<F>& train,
                  const nn::data::TensorMultiDataset<F>& val, const Settings& s, char variant,
                  const std::string& tag_loss, std::uint64_t seed, const example::Common& c, const std::string& dir,
                  bool verbose, nn::Graph<F>* keep = nullptr) {
  Run r;
  r.variant = variant, r.tag_loss = tag_loss;
  r.name = variant_name(variant, tag_loss);
  std::filesystem::create_directories(dir);
  auto g = vcmodel::build(variant, s.width, nn::Index(d.trained_tags.size()), d.num_concepts(), s.dim, seed);
  r.params = long(g.num_parameters());
  if (verbose) std::cout << g.summary();
  nn::SoftmaxCrossEntropy<F> ce;
  nn::BCEWithLogits<F> bce;
  nn::SoftF1<F> f1;
  nn::CosinePushPull<F> push_pull(s.margin);
  nn::Losses<F> losses;
  losses.add("category", ce, 1.0, {"accuracy"});
  if (vcmodel::has_tags(variant)) {
    losses.add("super", ce, s.w_super, {"accuracy"});
    losses.add("tags", tag_loss == "bce" ? static_cast<const nn::Loss<F>&>(bce) : f1, s.w_tags, {"macro_f1"});
  }
  if (vcmodel::has_concepts(variant)) losses.add("concepts", push_pull, s.w_concepts, {});
  nn::Adam<F> opt(g.parameters(), {c.lr});
  nn::FitOptions<F> o;
  o.epochs = c.epochs, o.batch_size = c.batch, o.seed = seed, o.validation_data = &val;
  if (!verbose) o.progress = nn::Progress::Off;
  o.callbacks = {std::make_shared<nn::LRScheduler<F>>(std::make_shared<nn::CosineLR>(c.epochs, 0.0), c.lr),
                 std::make_shared<nn::CSVLogger<F>>(dir + "/history.csv")};
  const auto t0 = std::chrono::steady_clock::now();
  r.trained.history = nn::fit(g, losses, opt, train, o);
  r.trained.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (r.trained.history.epochs() == 0)
    throw std::runtime_error("variant " + r.name + ": training stopped before an epoch ended: " +
                             r.trained.history.stop_reason);
  for (double v : r.trained.history["images_per_second"]) r.trained.images_per_second += v / r.trained.history.epochs();
  nn::plot::save_history_plot(dir + "/curves.png", r.trained.history, "visual concepts, variant " + r.name);

  const auto test_out = nn::predict(g, std::vector<const nn::Tensor<F>*>{&d.test.x});
  const auto val_out = nn::predict(g, std::vector<const nn::Tensor<F>*>{&d.val.x});
  auto out = [&](const std::vector<nn::Tensor<F>>& o, const char* name) -> const nn::Tensor<F>& {
    return o[std::size_t(g.output_index(name))];
  };
  std::vector<int> super_of(10);
  for (int k = 0; k < 10; ++k) super_of[std::size_t(k)] = tags::super_of(k);
  r.category_accuracy = accuracy(out(test_out, "category"), d.test.category);
  // variant a has no super-category head: its category's super-category
  r.super_accuracy = vcmodel::has_tags(variant) ? accuracy(out(test_out, "super"), d.test.super)
                                                : accuracy(out(test_out, "category"), d.test.super, &super_of);
  if (vcmodel::has_tags(variant))
    r.tags = scores::tag_report(scores::sigmoid_columns(out(test_out, "tags")), vcdata::tag_columns(d.test, d.trained_tags),
                                scores::sigmoid_columns(out(val_out, "tags")), vcdata::tag_columns(d.val, d.trained_tags));
  r.search_features = scores::search(out(test_out, "features"), d.test.category, d.test.tags, s.queries);
  if (vcmodel::has_concepts(variant)) {
    r.test_embedding = out(test_out, "embedding").clone();
    r.search_embedding = scores::search(r.test_embedding, d.test.category, d.test.tags, s.queries);
    const auto& cos = out(test_out, "concepts");
    const nn::Index K = cos.dim(1);
    for (nn::Index n = 0; n < cos.dim(0); ++n)
      for (std::size_t t = 0; t < d.trained_tags.size(); ++t) {
        const double v = cos[n * K + 15 + nn::Index(t)];
        (d.test.tags[std::size_t(n)][std::size_t(d.trained_tags[t])] ? r.cosines.present : r.cosines.absent).push_back(v);
      }
  }
  // the probe: frozen trunk features of the training images -> held-out tags
  if (!d.probe_tags.empty()) {
    const auto train_f = nn::predict(g, std::vector<const nn::Tensor<F>*>{&d.train.x});
    const auto& ftrain = train_f[std::size_t(g.output_index("features"))];
    const auto p = scores::linear_probe(ftrain, vcdata::tag_columns(d.train, d.probe_tags),
                                        {&out(test_out, "features"), &out(val_out, "features")}, s.probe_epochs, seed);
    r.probe = scores::tag_report(p[0], vcdata::tag_columns(d.test, d.probe_tags), p[1],
                                 vcdata::tag_columns(d.val, d.probe_tags));
  }
  if (keep) *keep = std::move(g);
  return r;
}

void print_run(const Run& r, const vcdata::Data& d) {
  std::printf("\n== variant %s: %ld parameters, %d epochs, %.0f s\n", r.name.c_str(), r.params,
              r.trained.history.epochs(), r.trained.seconds);
  std::printf("category accuracy %.2f%%, super-category accuracy %.2f%%\n", 100 * r.category_accuracy,
              100 * r.super_accuracy);
  if (!r.tags.at_half.empty()) {
    std::printf("tags (%s): macro-F1 %.4f at 0.5, %.4f at the best validation threshold; micro-F1 %.4f; mAP %.4f\n",
                r.tag_loss.c_str(), r.tags.macro_f1, r.tags.macro_f1_best, r.tags.micro_f1, r.tags.map);
    std::printf("  %-13s %9s %7s %6s %6s %9s\n", "tag", "precision", "recall", "F1", "AP", "F1@best");
    for (std::size_t t = 0; t < r.tags.at_half.size(); ++t) {
      const auto& h = r.tags.at_half[t];
      std::printf("  %-13s %9.3f %7.3f %6.3f %6.3f %6.3f@%.2f\n", tags::rules()[std::size_t(d.trained_tags[t])].name,
                  h.precision, h.recall, h.f1, h.ap, r.tags.at_best[t].f1, r.tags.at_best[t].threshold);
    }
  }
  std::printf("image search over the trunk features: precision@10 %.4f, tag Jaccard@10 %.4f\n",
              r.search_features.precision_at_10, r.search_features.tag_jaccard_at_10);
  if (vcmodel::has_concepts(r.variant)) {
    std::printf("image search over the concept embedding: precision@10 %.4f, tag Jaccard@10 %.4f\n",
                r.search_embedding.precision_at_10, r.search_embedding.tag_jaccard_at_10);
    std::printf("cos(image, tag): present tags > 0.5 in %.1f%% (mean %.3f), absent tags <= 0 in %.1f%% (mean %.3f)\n",
                100 * r.cosines.present_above_half(), nn::stats::mean(r.cosines.present),
                100 * r.cosines.absent_at_most_zero(), nn::stats::mean(r.cosines.absent));
  }
  if (!r.probe.at_half.empty()) {
    std::printf("linear probe on frozen features, held-out tags: mAP %.4f, macro-F1 %.4f (", r.probe.map,
                r.probe.macro_f1);
    for (std::size_t t = 0; t < r.probe.at_half.size(); ++t)
      std::printf("%s%s AP %.3f", t ? ", " : "", tags::rules()[std::size_t(d.probe_tags[t])].name, r.probe.at_half[t].ap);
    std::printf(")\n");
  }
}

nn::io::JsonObject run_json(const Run& r, const vcdata::Data& d) {
  nn::io::JsonObject j;
  j.set("variant", std::string(1, r.variant)).set("tag_loss", r.tag_loss).set("params", r.params)
      .set("epochs", r.trained.history.epochs()).set("train_seconds", r.trained.seconds)
      .set("images_per_second", r.trained.images_per_second)
      .set("category_accuracy", r.category_accuracy).set("super_accuracy", r.super_accuracy)
      .set("search_features_precision_at_10", r.search_features.precision_at_10)
      .set("search_features_tag_jaccard_at_10", r.search_features.tag_jaccard_at_10);
  auto tag_json = [&](const scores::TagReport& t, const std::vector<int>& which) {
    nn::io::JsonObject o;
    o.set("macro_f1", t.macro_f1).set("macro_f1_best_threshold", t.macro_f1_best).set("micro_f1", t.micro_f1)
        .set("map", t.map);
    for (std::size_t k = 0; k < t.at_half.size(); ++k) {
      nn::io::JsonObject one;
      one.set("precision", t.at_half[k].precision).set("recall", t.at_half[k].recall).set("f1", t.at_half[k].f1)
          .set("ap", t.at_half[k].ap).set("best_threshold", t.at_best[k].threshold).set("f1_best_threshold", t.at_best[k].f1);
      o.set(tags::rules()[std::size_t(which[k])].name, one);
    }
    return o;
  };
  if (!r.tags.at_half.empty()) j.set("tags", tag_json(r.tags, d.trained_tags));
  if (!r.probe.at_half.empty()) j.set("probe", tag_json(r.probe, d.probe_tags));
  if (vcmodel::has_concepts(r.variant)) {
    j.set("search_embedding_precision_at_10", r.search_embedding.precision_at_10)
        .set("search_embedding_tag_jaccard_at_10", r.search_embedding.tag_jaccard_at_10)
        .set("cos_present_above_half", r.cosines.present_above_half())
        .set("cos_absent_at_most_zero", r.cosines.absent_at_most_zero())
        .set("cos_present_mean", nn::stats::mean(r.cosines.present))
        .set("cos_absent_mean", nn::stats::mean(r.cosines.absent));
  }
  const auto& h = r.trained.history;
  if (h.has("val_category_accuracy")) j.set("final_val_category_accuracy", h["val_category_accuracy"].back());
  return j;
}

// cosines.png: histograms of cos(image, tag concept), present vs absent tags.
void save_cosine_histogram(const std::string& path, const scores::CosineSplit& c) {
  const int bins = 40;
  auto hist = [&](const std::vector<double>& v, const std::string& name, int color) {
    nn::plot::Series s;
    s.name = name, s.color = color;
    std::vector<double> count(bins, 0);
    for (double x : v) count[std::size_t(std::clamp(int((x + 1.0) / 2.0 * bins), 0, bins - 1))] += 1;
    for (int b = 0; b < bins; ++b) {
      s.x.push_back(-1.0 + (b + 0.5) * 2.0 / bins);
      s.y.push_back(v.empty() ? 0.0 : count[std::size_t(b)] / double(v.size()));
    }
    return s;
  };
  nn::plot::PlotOptions o;
  o.title = "cos(image embedding, tag concept) on the test set";
  o.xlabel = "cosine";
  o.ylabel = "share of (image, tag) pairs";
  nn::plot::save_line_plot(path, {hist(c.present, "tag present", 2), hist(c.absent, "tag absent", 3)}, o);
}

nn::plot::Tile tile(const vcdata::Part& p, nn::Index i, const std::string& line1, const std::string& line2, bool flag) {
  nn::plot::Tile t;
  t.channels = 1, t.height = t.width = tags::kSide;
  t.chw.assign(p.x.data() + i * 784, p.x.data() + (i + 1) * 784);
  t.line1 = line1, t.line2 = line2, t.flagged = flag;
  return t;
}

// neighbours.png: 8 test queries (one per category, the first of each), each
// followed by its 8 nearest test images; a red frame marks another category.
void save_neighbours(const std::string& path, const vcdata::Data& d, const nn::Tensor<F>& emb, const std::string& what) {
  const nn::Tensor<F> u = scores::unit_rows(emb);
  std::vector<nn::plot::Tile> tiles;
  std::vector<char> used(10, 0);
  int rows = 0;
  for (nn::Index q = 0; q < d.test.size() && rows < 8; ++q) {
    const int c = d.test.category[std::size_t(q)];
    if (used[std::size_t(c)]) continue;
    used[std::size_t(c)] = 1, ++rows;
    tiles.push_back(tile(d.test, q, "query", tags::categories()[std::size_t(c)], false));
    for (const auto& [m, sim] : scores::nearest(u, u.data() + q * u.dim(1), 8, q)) {
      char cos[32];
      std::snprintf(cos, sizeof cos, "cos %.2f", sim);
      tiles.push_back(tile(d.test, m, tags::categories()[std::size_t(d.test.category[std::size_t(m)])], cos,
                           d.test.category[std::size_t(m)] != c));
    }
  }
  nn::plot::save_contact_sheet(path, tiles, "nearest test images by " + what + " (red: another category)", 9, 56);
}

// index.nn: the test set's unit embeddings as the concept table of a
// one-layer model (cosine with every indexed image = its forward pass);
// index.csv: what each row is.
void save_index(const std::string& dir, const vcdata::Data& d, const nn::Tensor<F>& emb) {
  const nn::Tensor<F> u = scores::unit_rows(emb);
  nn::Sequential<F> index(nn::Shape{u.dim(1)}, 0);
  index.add(nn::ConceptSimilarity<F>(u.dim(0)));
  auto* layer = dynamic_cast<nn::ConceptSimilarity<F>*>(&index.layer(0));
  std::copy(u.begin(), u.end(), layer->weight().begin());
  nn::save_model(dir + "/index.nn", index);
  std::string csv = "row,source,category,tags\n";
  for (nn::Index n = 0; n < d.test.size(); ++n) {
    std::string t;
    for (int k = 0; k < tags::count(); ++k)
      if (d.test.tags[std::size_t(n)][std::size_t(k)]) t += std::string(t.empty() ? "" : " ") + tags::rules()[std::size_t(k)].name;
    csv += std::to_string(n) + ",fashion-mnist test " + std::to_string(n) + "," +
           tags::categories()[std::size_t(d.test.category[std::size_t(n)])] + "," + t + "\n";
  }
  nn::io::write_file_atomic(dir + "/index.csv", csv);
  std::string names;
  for (const auto& n : d.concept_names) names += n + "\n";
  nn::io::write_file_atomic(dir + "/concepts.txt", names);
}

// Saves the graph, loads it back and checks that every output on the first
// test images is the same, bit for bit.
void save_and_check(const std::string& path, nn::Graph<F>& g, const nn::Tensor<F>& x) {
  nn::save_model(path, g);
  auto again = nn::load_graph<F>(path);
  nn::Tensor<F> head({std::min<nn::Index>(256, x.dim(0)), 1, tags::kSide, tags::kSide});
  std::copy(x.data(), x.data() + head.size(), head.begin());
  const auto a = nn::predict(g, std::vector<const nn::Tensor<F>*>{&head});
  const auto b = nn::predict(again, std::vector<const nn::Tensor<F>*>{&head});
  for (std::size_t k = 0; k < a.size(); ++k)
    if (!std::equal(a[k].begin(), a[k].end(), b[k].begin()))
      throw std::runtime_error(path + ": the reloaded model's output '" + g.output_name(k) + "' differs");
  std::printf("saved %s; reloaded, it gives the same outputs\n", path.c_str());
}

void save_query_png(const std::string& path, const vcdata::Part& p, nn::Index i) {
  nn::plot::Image img(tags::kSide, tags::kSide);
  for (int y = 0; y < tags::kSide; ++y)
    for (int x = 0; x < tags::kSide; ++x) {
      const auto v = std::uint8_t(std::lround(255 * std::clamp(p.x[i * 784 + y * 28 + x], 0.0f, 1.0f)));
      img.set(x, y, {v, v, v});
    }
  img.save_png(path);
}

}  // namespace

int main(int argc, char** argv) {
  example::Example ex("visual_concepts",
                      "Trains a multi-task network (category, super-category, tags, concept embedding) on "
                      "Fashion-MNIST and searches images by similarity.",
                      {/*epochs*/ 6, /*batch*/ 64, /*lr*/ 2e-3, "runs/visual_concepts"});
  Settings s;
  ex.cli()
      .option("--variants", &s.variants, "LETTERS", "variants to train: a (category), b (+ super + tags), c (+ embedding)")
      .option("--tag-loss", &s.tag_loss, "bce|softf1", "the tag head's loss (the default run also trains b with the other)")
      .option("--probe-tags", &s.probe, "LIST", "tags held out of training, for the linear probe (comma-separated)")
      .option("--width", &s.width, "N", "channels of the first conv (x2, x4 deeper)")
      .option("--dim", &s.dim, "N", "embedding dimension")
      .option("--val", &s.val, "N", "validation images taken from the training set (seeded)")
      .option("--w-super", &s.w_super, "X", "loss weight of the super-category")
      .option("--w-tags", &s.w_tags, "X", "loss weight of the tags")
      .option("--w-concepts", &s.w_concepts, "X", "loss weight of the concept embedding")
      .option("--margin", &s.margin, "X", "push margin on the unit sphere (sqrt 2: absent concepts at cos <= 0)")
      .option("--probe-epochs", &s.probe_epochs, "N", "epochs of the linear probe")
      .option("--queries", &s.queries, "N", "test images used as search queries")
      .flag("--compare", &s.compare, "train a, b, c over --seeds seeds; paired tests of the probe")
      .option("--seeds", &s.seeds, "N", "seeds with --compare")
      .flag("--tags", &s.tags_only, "print the tag table and exit");
  ex.parse(argc, argv);
  if (s.tag_loss != "bce" && s.tag_loss != "softf1") ex.fail("--tag-loss must be bce or softf1");
  if (s.variants.empty() || s.variants.find_first_not_of("abc") != std::string::npos)
    ex.fail("--variants takes letters a, b, c");
  if (s.width < 1 || s.dim < 1 || s.probe_epochs < 1 || s.queries < 1 || s.seeds < 1)
    ex.fail("--width, --dim, --probe-epochs, --queries, --seeds must be >= 1");
  if (!(s.w_super >= 0 && s.w_tags >= 0 && s.w_concepts >= 0)) ex.fail("loss weights must be >= 0");
  if (!(s.margin > 0 && s.margin <= 2)) ex.fail("--margin must be in (0, 2]");
  if (s.compare && s.seeds < 2) ex.fail("--compare needs --seeds >= 2");
  auto& c = ex.common();
  return ex.run([&] {
    const auto probe = vcdata::parse_tag_list(s.probe);
    const std::string dir = ex.data_dir("fashion-mnist");
    if (c.quick) c.epochs = std::min(c.epochs, 2), s.probe_epochs = std::min(s.probe_epochs, 3), s.queries = std::min(s.queries, 200);
    if (c.quick && s.compare) s.seeds = 2, c.epochs = 1;
    const vcdata::Data d = vcdata::load(dir, c.quick ? 500 : s.val, c.seed, probe, c.quick);
    std::printf("Fashion-MNIST: %lld train, %lld validation (seeded, from the training set), %lld test images%s\n",
                static_cast<long long>(d.train.size()), static_cast<long long>(d.val.size()),
                static_cast<long long>(d.test.size()), c.quick ? " (--quick subset)" : "");
    nn::io::write_file_atomic(c.out + "/tags.csv", vcdata::tag_table(d));
    if (s.tags_only) return 0;
    const auto train = vcdata::dataset(d, d.train), val = vcdata::dataset(d, d.val);

    if (s.compare) {
      std::filesystem::create_directories(c.out + "/compare");
      std::map<char, std::vector<double>> probe_map, cat_acc;
      std::string csv = "variant,seed,category_accuracy,super_accuracy,tags_macro_f1,tags_map,probe_map,probe_macro_f1,train_seconds\n";
      for (int k = 0; k < s.seeds; ++k)
        for (char v : std::string("abc")) {
          const std::uint64_t seed = c.seed + std::uint64_t(k);
          std::printf("\n== variant %c, seed %llu\n", v, static_cast<unsigned long long>(seed));
          std::fflush(stdout);
          const Run r = train_variant(d, train, val, s, v, s.tag_loss, seed, c,
                                      c.out + "/compare/" + std::string(1, v) + "_seed" + std::to_string(seed), false);
          std::printf("category %.4f, probe mAP %.4f, %.0f s\n", r.category_accuracy, r.probe.map, r.trained.seconds);
          probe_map[v].push_back(r.probe.map), cat_acc[v].push_back(r.category_accuracy);
          char row[256];
          std::snprintf(row, sizeof row, "%c,%llu,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.1f\n", v,
                        static_cast<unsigned long long>(seed), r.category_accuracy, r.super_accuracy, r.tags.macro_f1,
                        r.tags.map, r.probe.map, r.probe.macro_f1, r.trained.seconds);
          csv += row;
          nn::io::write_file_atomic(c.out + "/compare.csv", csv);
        }
      nn::io::JsonObject j;
      std::printf("\n| variant | category accuracy | probe mAP (held-out tags) |\n|---|---|---|\n");
      for (char v : std::string("abc")) {
        std::printf("| %c | %.4f ± %.4f | %.4f ± %.4f |\n", v, nn::stats::mean(cat_acc[v]), nn::stats::stddev(cat_acc[v]),
                    nn::stats::mean(probe_map[v]), nn::stats::stddev(probe_map[v]));
        nn::io::JsonObject o;
        o.set_array("category_accuracy", cat_acc[v]).set_array("probe_map", probe_map[v]);
        j.set(std::string(1, v), o);
      }
      for (auto [x, y] : {std::pair<char, char>{'b', 'a'}, {'c', 'a'}, {'c', 'b'}}) {
        const auto t = nn::stats::paired_t_test(probe_map[x], probe_map[y]);
        std::printf("probe mAP, %c - %c (paired over %d seeds): %+.4f ± %.4f, t = %.2f, p = %.3f\n", x, y, s.seeds,
                    t.mean_diff, t.sd_diff, t.t, t.p);
        nn::io::JsonObject o;
        o.set("mean_diff", t.mean_diff).set("sd_diff", t.sd_diff).set("t", t.t).set("p", t.p);
        j.set(std::string(1, x) + "_minus_" + std::string(1, y) + "_probe_map", o);
      }
      j.set("seeds", s.seeds).set("epochs", c.epochs).set("tag_loss", s.tag_loss).set("probe_tags", s.probe)
          .set("quick", c.quick).set("build", nn::build_info());
      j.save(c.out + "/compare.json");
      std::printf("wrote %s/{compare.csv, compare.json, compare/}\n", c.out.c_str());
      return 0;
    }

    std::vector<std::pair<char, std::string>> plan;
    for (char v : s.variants) plan.push_back({v, s.tag_loss});
    if (s.variants == "abc") plan.push_back({'b', s.tag_loss == "bce" ? "softf1" : "bce"});  // the other tag loss
    std::vector<Run> runs;
    nn::Graph<F> model_c;
    for (const auto& [v, loss] : plan) {
      const std::string name = variant_name(v, loss);
      std::printf("\n==== variant %s\n", name.c_str());
      runs.push_back(train_variant(d, train, val, s, v, loss, c.seed, c, c.out + "/" + name, true,
                                   v == 'c' ? &model_c : nullptr));
      print_run(runs.back(), d);
    }
    nn::io::JsonObject j;
    for (const auto& r : runs) j.set(r.name, run_json(r, d));
    std::vector<std::string> probe_names, concept_names = d.concept_names;
    for (int k : d.probe_tags) probe_names.push_back(tags::rules()[std::size_t(k)].name);
    j.set_array("probe_tags", probe_names).set_array("concepts", concept_names)
        .set("train_images", long(d.train.size())).set("validation_images", long(d.val.size()))
        .set("test_images", long(d.test.size())).set("seed", long(c.seed)).set("epochs", c.epochs)
        .set("threads", nn::num_threads()).set("quick", c.quick).set("build", nn::build_info());
    j.save(c.out + "/metrics.json");
    std::string wrote = "tags.csv, metrics.json, <variant>/{history.csv, curves.png}";
    for (const auto& r : runs)
      if (r.variant == 'c') {
        save_cosine_histogram(c.out + "/cosines.png", r.cosines);
        save_neighbours(c.out + "/neighbours.png", d, r.test_embedding, "the concept embedding (variant c)");
        save_index(c.out, d, r.test_embedding);
        save_query_png(c.out + "/query.png", d.test, 0);
        save_and_check(c.out + "/model.nn", model_c, d.test.x);
        wrote += ", cosines.png, neighbours.png, model.nn, index.nn, index.csv, concepts.txt, query.png";
      }
    std::printf("\nwrote %s/{%s}\n", c.out.c_str(), wrote.c_str());
    return 0;
  });
}
