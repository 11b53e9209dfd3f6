// visual_concepts_search — what a trained visual-concepts model (variant c)
// says about one image, and the most similar images of its index.
//
//   visual_concepts_search --model runs/visual_concepts/model.nn
//                          --index runs/visual_concepts runs/visual_concepts/query.png
//   (one command line)
//
// The image is read as grey and resized to 28 x 28 (Fashion-MNIST's form: a
// light product on a black background). Prints the category and the
// super-category with their probabilities, the tags by the tag head's
// probability and by the cosine of the image with each tag's concept, and
// the --k nearest images of the index (index.nn: their unit embeddings as a
// ConceptSimilarity table; index.csv: what each row is; concepts.txt: the
// concept names of the model's table).
#include <nn/nn.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include "../common/cli.hpp"

namespace {
using F = float;

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) lines.push_back(l);
  return lines;
}

std::vector<int> top(const std::vector<double>& v, int k) {
  std::vector<int> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min<int>(k, int(idx.size()));
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) { return v[std::size_t(a)] > v[std::size_t(b)]; });
  idx.resize(std::size_t(k));
  return idx;
}

// The softmax of a (1, C) row of logits, as doubles.
std::vector<double> softmax_row(const nn::Tensor<F>& logits) {
  const auto p = nn::softmax(logits);
  return std::vector<double>(p.begin(), p.end());
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, index_dir;
  int k = 8, top_tags = 5;
  cli::Cli c("visual_concepts_search", "Category, tags and the nearest indexed images of one image, by a visual_concepts model.");
  c.option("--model", &model_path, "FILE", "model.nn of a visual_concepts run (variant c)")
      .option("--index", &index_dir, "DIR", "folder with index.nn, index.csv and concepts.txt")
      .option("--k", &k, "N", "nearest images to print")
      .option("--top-tags", &top_tags, "N", "tags to print");
  std::vector<std::string> rest;
  c.positional(&rest, "IMAGE");
  c.parse(argc, argv);
  if (model_path.empty() || index_dir.empty() || rest.size() != 1) c.fail("needs --model FILE --index DIR and one IMAGE");
  if (k < 1 || top_tags < 1) c.fail("--k and --top-tags must be >= 1");
  try {
    auto model = nn::load_graph<F>(model_path);
    for (const char* o : {"category", "super", "tags", "embedding", "concepts"}) model.output_index(o);  // throws if absent
    auto index = nn::load_model<F>(index_dir + "/index.nn");
    const auto rows = read_lines(index_dir + "/index.csv");
    const auto concepts = read_lines(index_dir + "/concepts.txt");
    const nn::Index n_index = index.output_shape()[0];
    if (nn::Index(rows.size()) != n_index + 1)
      throw std::runtime_error(index_dir + "/index.csv: " + std::to_string(rows.size() ? rows.size() - 1 : 0) +
                               " rows for an index of " + std::to_string(n_index) + " images");
    const nn::Index K = model.output_shape(std::size_t(model.output_index("concepts")))[0];
    if (nn::Index(concepts.size()) != K)
      throw std::runtime_error(index_dir + "/concepts.txt: " + std::to_string(concepts.size()) + " names for the model's " +
                               std::to_string(K) + " concepts");
    if (index.input_shape() != model.output_shape(std::size_t(model.output_index("embedding"))))
      throw std::runtime_error(index_dir + "/index.nn: embeddings of " + index.input_shape().str() + ", the model's are " +
                               model.output_shape(std::size_t(model.output_index("embedding"))).str());

    nn::data::ImageOptions io;
    io.width = io.height = 28, io.channels = 1;
    const auto img = nn::data::load_image<F>(rest[0], io);
    nn::Tensor<F> x({1, 1, 28, 28});
    std::copy(img.begin(), img.end(), x.begin());
    const auto out = nn::predict(model, std::vector<const nn::Tensor<F>*>{&x});
    auto get = [&](const char* name) -> const nn::Tensor<F>& { return out[std::size_t(model.output_index(name))]; };

    const auto pc = softmax_row(get("category")), ps = softmax_row(get("super"));
    const int cat = top(pc, 1)[0], sup = top(ps, 1)[0];
    std::printf("%s\ncategory: %s (%.1f%%)\nsuper-category: %s (%.1f%%)\n", rest[0].c_str(),
                concepts[std::size_t(cat)].c_str(), 100 * pc[std::size_t(cat)], concepts[std::size_t(10 + sup)].c_str(),
                100 * ps[std::size_t(sup)]);
    const auto& tl = get("tags");
    const auto& cos = get("concepts");
    std::vector<double> prob, cosine;
    for (nn::Index t = 0; t < tl.dim(1); ++t) prob.push_back(1.0 / (1.0 + std::exp(-double(tl[t]))));
    for (nn::Index t = 15; t < K; ++t) cosine.push_back(cos[t]);
    std::printf("tags by probability (tag head) and by cosine with the tag's concept (present: cos > 0.5):\n");
    for (int t : top(prob, top_tags))
      std::printf("  %-13s p %.2f  cos %+.2f\n", concepts[std::size_t(15 + t)].c_str(), prob[std::size_t(t)],
                  cosine[std::size_t(t)]);
    const auto sims = nn::predict(index, get("embedding"));
    std::vector<double> sv(sims.begin(), sims.end());
    std::printf("nearest indexed images (cosine):\n");
    for (int m : top(sv, k)) std::printf("  %.3f  %s\n", sv[std::size_t(m)], rows[std::size_t(m) + 1].c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "visual_concepts_search: error: %s\n", e.what());
    return 1;
  }
}
