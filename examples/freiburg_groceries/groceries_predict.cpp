// groceries_predict — classifies product photos with a model saved by
// freiburg_groceries and prints the three most likely classes.
//   groceries_predict [--model runs/freiburg/model.nn] [--classes FILE] [--top N] IMAGE...
// Images (PNG, JPEG, BMP, ...) are resized to the model's input size, as in
// training. Class names come from classes.txt next to the model unless
// --classes names another file in the same "<name> <label>" format.
#include <nn/nn.hpp>

#include <cstdio>
#include <filesystem>
#include <numeric>

#include "../common/cli.hpp"

int main(int argc, char** argv) {
  std::string model_path = "runs/freiburg/model.nn", classes_path;
  int top = 3;
  std::vector<std::string> images;
  cli::Cli cli("groceries_predict", "Classifies grocery product photos with a saved freiburg_groceries model.");
  cli.option("--model", &model_path, "FILE", "saved model")
      .option("--classes", &classes_path, "FILE", "class names; default: classes.txt next to the model")
      .option("--top", &top, "N", "how many classes to print per image");
  cli.positional(&images, "IMAGE");
  cli.parse(argc, argv);
  if (images.empty()) cli.fail("give at least one image");
  if (top < 1) cli.fail("--top must be >= 1");
  try {
    auto model = nn::load_graph<float>(model_path);  // any saved model: a Sequential's file loads as a chain
    const nn::Shape in = model.input_shape();
    if (in.rank() != 3 || in[0] != 3)
      throw std::runtime_error(model_path + ": expects inputs " + in.str() + ", not RGB images (3, H, W)");
    if (classes_path.empty())
      classes_path = (std::filesystem::path(model_path).parent_path() / "classes.txt").string();
    const auto names = nn::data::read_class_ids(classes_path);
    const nn::Index K = model.output_shape().size();
    if (nn::Index(names.size()) != K)
      throw std::runtime_error(classes_path + ": " + std::to_string(names.size()) + " class names, but " + model_path +
                               " has " + std::to_string(K) + " outputs");
    nn::data::ImageOptions o;
    o.height = int(in[1]), o.width = int(in[2]);
    int failures = 0;
    for (const auto& path : images) {
      try {
        nn::Tensor<float> x = nn::data::load_image<float>(path, o);
        x.reshape({1, 3, in[1], in[2]});
        const nn::Tensor<float> p = nn::predict_proba(model, x);
        std::vector<nn::Index> order(static_cast<std::size_t>(K));
        std::iota(order.begin(), order.end(), 0);
        const std::size_t n = std::min<std::size_t>(std::size_t(top), order.size());
        std::partial_sort(order.begin(), order.begin() + long(n), order.end(),
                          [&](nn::Index a, nn::Index b) { return p[a] > p[b]; });
        std::printf("%s:", path.c_str());
        for (std::size_t k = 0; k < n; ++k) std::printf("  %s %.1f%%", names[std::size_t(order[k])].c_str(), 100 * p[order[k]]);
        std::printf("\n");
      } catch (const std::exception& e) {
        std::fprintf(stderr, "groceries_predict: error: %s\n", e.what());
        ++failures;
      }
    }
    return failures ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "groceries_predict: error: %s\n", e.what());
    return 1;
  }
}
