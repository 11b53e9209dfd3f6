// segment — segments digit images with a model saved by `segmentation` and
// writes each predicted mask as a colour PNG (fcn.hpp's colours: the ten
// digits, black for the background).
//   segment [--model runs/segmentation/model.nn] [--out DIR] IMAGE...
// Images are read as grey, white digits on black as in MNIST, and resized to
// the model's input size. The mask of a.png is DIR/a.mask.png (DIR: the
// image's folder by default); the digits found are printed with their pixels.
#include <nn/nn.hpp>

#include <cstdio>
#include <filesystem>

#include "../common/cli.hpp"
#include "fcn.hpp"

int main(int argc, char** argv) {
  std::string model_path = "runs/segmentation/model.nn", out_dir;
  int min_pixels = 20;
  std::vector<std::string> images;
  cli::Cli cli("segment", "Writes the predicted digit mask of each image as a colour PNG.");
  cli.option("--model", &model_path, "FILE", "model saved by segmentation")
      .option("--out", &out_dir, "DIR", "folder for the masks; default: next to each image")
      .option("--min-pixels", &min_pixels, "N", "pixels a digit class needs to be listed as found");
  cli.positional(&images, "IMAGE");
  cli.parse(argc, argv);
  if (images.empty()) cli.fail("give at least one image");
  if (min_pixels < 1) cli.fail("--min-pixels must be >= 1");
  try {
    auto model = nn::load_graph<float>(model_path);
    const nn::Shape in = model.input_shape(), out = model.output_shape();
    if (in.rank() != 3 || in[0] != 1 || out.rank() != 3 || out[1] != in[1] || out[2] != in[2])
      throw std::runtime_error(model_path + ": maps " + in.str() + " to " + out.str() +
                               ", not a grey image (1, H, W) to per-pixel logits (C, H, W)");
    if (!out_dir.empty()) std::filesystem::create_directories(out_dir);
    nn::data::ImageOptions o;
    o.channels = 1, o.height = int(in[1]), o.width = int(in[2]);
    int failures = 0;
    for (const auto& path : images) {
      try {
        nn::Tensor<float> x = nn::data::load_image<float>(path, o);
        x.reshape({1, 1, in[1], in[2]});
        const auto logits = nn::predict(model, x);
        const auto mask = fcn::argmax_mask(logits.data(), out[0], out[1], out[2]);
        const std::filesystem::path p(path);
        const auto dst = (out_dir.empty() ? p.parent_path() : std::filesystem::path(out_dir)) /
                         (p.stem().string() + ".mask.png");
        fcn::save_mask_png(dst.string(), mask, out[1], out[2]);
        std::vector<long> count(static_cast<std::size_t>(out[0]), 0);
        for (int k : mask) ++count[std::size_t(k)];
        std::printf("%s -> %s; digits:", path.c_str(), dst.string().c_str());
        int found = 0;
        for (nn::Index k = 0; k < out[0]; ++k)
          if (k != 10 && count[std::size_t(k)] >= min_pixels)
            std::printf(" %s (%ld px)", fcn::class_name(int(k)).c_str(), count[std::size_t(k)]), ++found;
        std::printf("%s\n", found ? "" : " none");
      } catch (const std::exception& e) {
        std::fprintf(stderr, "segment: error: %s\n", e.what());
        ++failures;
      }
    }
    return failures ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "segment: error: %s\n", e.what());
    return 1;
  }
}
