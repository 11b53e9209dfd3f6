// docs/data.md's snippet: an image folder to balanced, augmented batches.
//   data_snippet <folder with one sub-folder per class>
#include <nn/nn.hpp>

#include <iostream>

int main(int argc, char** argv) {
  using F = float;
  if (argc < 2) {
    std::cerr << "usage: data_snippet IMAGE_FOLDER\n";
    return 2;
  }
  nn::data::ImageList list = nn::data::list_image_folder(argv[1]);
  nn::data::ImageOptions o;
  o.width = o.height = 64;
  o.resize = nn::data::ImageOptions::Letterbox;  // keep the product's aspect ratio
  o.skip_bad = true;
  nn::data::LoadReport report;
  nn::data::TensorDataset<F> all = nn::data::load_images<F>(list, o, &report);
  std::cout << report.loaded << " images, " << report.skipped << " skipped\n";

  std::vector<int> labels(list.labels.begin(), list.labels.end());
  if (report.skipped == 0) {
    auto parts = nn::data::stratified_split(labels, {0.7, 0.2, 0.1}, /*seed=*/42);
    auto balanced = nn::data::balance_by_oversampling(parts[0], labels, 42);
    nn::data::Augment aug;
    aug.hflip = true, aug.translate = 4, aug.rotate_degrees = 10, aug.brightness = 0.1, aug.contrast = 0.1;
    nn::data::BatchIterator<F> batches(all, balanced, 32, &aug, /*seed=*/42, /*epoch=*/0);
    nn::Tensor<F> x, y;
    while (batches.next(x, y)) std::cout << "batch " << x.shape() << " " << y.shape() << "\n";
  }
}
