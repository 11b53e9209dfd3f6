// mnist_predict — classifies digit images with a model saved by `mnist`.
//   mnist_predict [--model runs/mnist/model.nn] [--invert auto|yes|no] IMAGE...
// Images are read as greyscale and resized to 28x28. MNIST digits are white on
// black; with --invert auto (the default) an image that is mostly light is
// inverted first.
#include <nn/nn.hpp>

#include <cstdio>

#include "../common/cli.hpp"

int main(int argc, char** argv) {
  std::string model_path = "runs/mnist/model.nn", invert = "auto";
  std::vector<std::string> images;
  cli::Cli cli("mnist_predict", "Classifies digit images (PNG, JPEG, ...) with a saved MNIST model.");
  cli.option("--model", &model_path, "FILE", "saved model").option("--invert", &invert, "auto|yes|no", "invert grey levels");
  cli.positional(&images, "IMAGE");
  cli.parse(argc, argv);
  if (images.empty()) cli.fail("give at least one image");
  if (invert != "auto" && invert != "yes" && invert != "no") cli.fail("--invert must be auto, yes or no");
  try {
    auto model = nn::load_model<float>(model_path);
    if (model.input_shape() != nn::Shape{1, 28, 28})
      throw std::runtime_error(model_path + ": expects inputs " + model.input_shape().str() + ", not an MNIST model (1, 28, 28)");
    nn::data::ImageOptions o;
    o.width = o.height = 28;
    o.channels = 1;
    int failures = 0;
    for (const auto& path : images) {
      try {
        nn::Tensor<float> x = nn::data::load_image<float>(path, o);
        const bool inv = invert == "yes" || (invert == "auto" && x.array().mean() > 0.5f);
        if (inv) x.array() = 1.0f - x.array();
        x.reshape({1, 1, 28, 28});
        const nn::Tensor<float> p = nn::predict_proba(model, x);
        int best = 0;
        for (int c = 1; c < 10; ++c)
          if (p[c] > p[best]) best = c;
        std::printf("%s: %d (%.1f%%)%s\n  ", path.c_str(), best, 100 * p[best], inv ? " [inverted]" : "");
        for (int c = 0; c < 10; ++c) std::printf("%d:%.3f ", c, p[c]);
        std::printf("\n");
      } catch (const std::exception& e) {
        std::fprintf(stderr, "mnist_predict: error: %s\n", e.what());
        ++failures;
      }
    }
    return failures ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist_predict: error: %s\n", e.what());
    return 1;
  }
}
