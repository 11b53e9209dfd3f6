// freiburg_groceries — grocery product recognition on the Freiburg Groceries
// dataset (25 classes of shelf and kitchen photos).
//
//   --model seed    the grocery blog's small ConvNet (40,453 parameters for 5
//                   classes), on its setting: the 5 largest classes, a seeded
//                   70/20/10 split, classes balanced by augmented oversampling,
//                   Adam, early stopping on validation accuracy.
//   --model strong  a VGG-style net with batch norm and global average pooling,
//                   on all 25 classes and the dataset's five official
//                   train/test splits, with flip/crop/rotation/colour
//                   augmentation, label smoothing and a cosine schedule.
//   --model resnet  a residual network (a Graph: basic blocks with projection
//                   shortcuts, 32-256 channels), trained as the strong one.
//   --loss bce      trains with Keras' binary cross-entropy on the softmax
//                   (nn::SoftmaxBCE), as the blog did, instead of softmax
//                   cross-entropy. Every run records both the categorical
//                   accuracy and Keras' binary accuracy (history, metrics.json).
//   --keras-defaults  seed model: batch norm and Adam with Keras' defaults
//                   (moving averages kept with 0.99, i.e. momentum 0.01 in
//                   nn's PyTorch convention; batch-norm eps 1e-3; Adam eps
//                   1e-7) instead of PyTorch's (0.1, 1e-5, 1e-8).
//   --balance before-split  the blog's order: augmented balancing copies are
//                   made over all images first, then the set is shuffled and
//                   split, so copies of one photo can be in training and in
//                   validation or test. The default (train) balances the
//                   training part only, after the split; none does not balance.
//
// Writes to --out (for --split all: one folder per split plus a summary):
//   history.csv, curves.png, metrics.json, confusion.png, confusion.csv,
//   predictions.png (test images with predicted and true class; wrong ones in
//   red), model.nn, classes.txt (for groceries_predict), last.nn (the latest
//   epoch, with optimizer state), best.nn (random split: the best epoch on
//   the validation split).
#include <nn/nn.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <numeric>
#include <set>

#include "../common/example.hpp"
#include "../common/freiburg.hpp"
#include "../common/resnet.hpp"

namespace {

using F = float;
namespace fs = std::filesystem;

// The example's own flags; the common ones (epochs, batch, lr, seed, ...)
// are in example::Common, where 0 means "the model's default".
struct Settings : example::Common {
  std::string model = "seed", classes, split, loss = "ce", balance = "train";
  int image_size = 0, patience = 40;
  bool keras_defaults = false;
  bool skip_bad = false;
};

// The blog's table: ZeroPadding 1, then five valid 3x3 convs of 32 filters
// (ReLU; batch norm after the first), each followed by 2x2 max pooling and
// dropout, Dense 64 ReLU + dropout, Dense classes. Keras folds the ReLUs into
// the Conv2D/Dense rows; here they are rows of their own. Weights start from
// Keras' default, Glorot uniform.
nn::Sequential<F> seed_model(int size, int classes, std::uint64_t seed, bool keras_defaults) {
  const nn::Init glorot = nn::Init::GlorotUniform;
  nn::Sequential<F> m(nn::Shape{3, size, size}, seed);
  m.add(nn::ZeroPadding2D<F>(1));
  m.add<nn::Conv2D<F>>(32, 3, 1, nn::Padding::valid(), 1, true, glorot);
  m.add(nn::ReLU<F>());
  m.add(keras_defaults ? nn::BatchNorm<F>(0.01, 1e-3) : nn::BatchNorm<F>());
  m.add(nn::MaxPool2D<F>(2));
  m.add(nn::Dropout<F>(0.2));
  for (int i = 0; i < 4; ++i) {
    m.add<nn::Conv2D<F>>(32, 3, 1, nn::Padding::valid(), 1, true, glorot);
    m.add(nn::ReLU<F>());
    m.add(nn::MaxPool2D<F>(2));
    m.add(nn::Dropout<F>(0.2));
  }
  m.add(nn::Flatten<F>());
  m.add(nn::Dense<F>(64, true, glorot));
  m.add(nn::ReLU<F>());
  m.add(nn::Dropout<F>(0.2));
  m.add(nn::Dense<F>(classes, true, glorot));
  return m;
}

// conv 3x3 (same padding, no bias) + batch norm + ReLU
void conv_bn_relu(nn::Sequential<F>& m, int filters) {
  m.add<nn::Conv2D<F>>(filters, 3, 1, nn::Padding::same(), 1, false);
  m.add(nn::BatchNorm<F>());
  m.add(nn::ReLU<F>());
}

// VGG-style: 32 | 64 64 | 128 128 | 256 256 channels, max pooling between
// stages, global average pooling, dropout, linear classifier.
nn::Sequential<F> strong_model(int size, int classes, std::uint64_t seed) {
  nn::Sequential<F> m(nn::Shape{3, size, size}, seed);
  conv_bn_relu(m, 32);
  m.add(nn::MaxPool2D<F>(2));
  conv_bn_relu(m, 64);
  conv_bn_relu(m, 64);
  m.add(nn::MaxPool2D<F>(2));
  conv_bn_relu(m, 128);
  conv_bn_relu(m, 128);
  m.add(nn::MaxPool2D<F>(2));
  conv_bn_relu(m, 256);
  conv_bn_relu(m, 256);
  m.add(nn::GlobalAvgPool2D<F>());
  m.add(nn::Flatten<F>());
  m.add(nn::Dropout<F>(0.3));
  m.add(nn::Dense<F>(classes));
  return m;
}

std::unique_ptr<nn::Model<F>> make_model(const Settings& s, int classes) {
  try {
    if (s.model == "resnet") return std::make_unique<nn::Graph<F>>(resnet::build<F>(s.image_size, classes, s.seed));
    return std::make_unique<nn::Sequential<F>>(s.model == "seed" ? seed_model(s.image_size, classes, s.seed, s.keras_defaults)
                                                                 : strong_model(s.image_size, classes, s.seed));
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("--image-size " + std::to_string(s.image_size) + " is too small for the " + s.model +
                             " model (" + std::string(s.model == "seed" ? "it needs at least 92" : "it needs at least 8") +
                             "): " + e.what());
  }
}

// The seed model's augmentation: flips, shifts of a tenth of the image, rotations up to 15 degrees.
nn::data::Augment seed_augment(int image_size) {
  nn::data::Augment a;
  a.hflip = true;
  a.translate = image_size / 10;
  a.rotate_degrees = 15;
  return a;
}

// The blog's data preparation: minority classes are topped up with augmented
// copies over the whole image set, then the set is shuffled and split
// 70/20/10. ds holds every original once and each copy as its own, fixed
// augmented image; shared[k] counts the samples of part k whose photo is
// also in part 0 (training), as itself or as a copy.
struct LeakySplit {
  std::unique_ptr<nn::data::TensorDataset<F>> ds;
  std::vector<std::vector<nn::Index>> parts;
  std::size_t shared[3] = {0, 0, 0};
};

LeakySplit balance_then_split(const groceries::Images& imgs, const nn::data::Augment& aug, std::uint64_t seed) {
  std::vector<nn::Index> all(imgs.labels.size());
  std::iota(all.begin(), all.end(), nn::Index(0));
  const std::vector<nn::Index> order = nn::data::balance_by_oversampling(all, imgs.labels, seed);
  const nn::Shape xs = imgs.ds->input_shape(), ys = imgs.ds->target_shape();
  const nn::Index n = nn::Index(order.size()), dx = xs.size(), dy = ys.size();
  nn::Tensor<F> x(xs.with_batch(n)), y(ys.with_batch(n));
  std::vector<int> labels(order.size());
  std::vector<char> seen(imgs.labels.size(), 0);
  nn::Rng rng(seed ^ 0x6c65616b79ULL);
  for (nn::Index i = 0; i < n; ++i) {
    const nn::Index src = order[std::size_t(i)];
    imgs.ds->load(src, x.data() + i * dx, y.data() + i * dy);
    labels[std::size_t(i)] = imgs.labels[std::size_t(src)];
    if (seen[std::size_t(src)]) aug.apply(x.data() + i * dx, xs[0], xs[1], xs[2], rng);
    seen[std::size_t(src)] = 1;
  }
  LeakySplit l;
  l.parts = nn::data::stratified_split(labels, {0.7, 0.2, 0.1}, seed);
  std::vector<char> in_train(imgs.labels.size(), 0);
  for (nn::Index i : l.parts[0]) in_train[std::size_t(order[std::size_t(i)])] = 1;
  for (int k = 1; k < 3; ++k)
    for (nn::Index i : l.parts[std::size_t(k)]) l.shared[k] += in_train[std::size_t(order[std::size_t(i)])];
  l.ds = std::make_unique<nn::data::TensorDataset<F>>(std::move(x), std::move(y));
  return l;
}

struct RunResult {
  double test_accuracy = 0, test_loss = 0, train_seconds = 0, images_per_second = 0, test_binary_accuracy = 0;
  int epochs = 0;
  nn::ConfusionMatrix confusion{1};
};

// Trains one model on `train`, monitors `val`, scores `test`; writes every output to `out`.
RunResult train_and_test(const example::Example& ex, const Settings& s, const std::vector<std::string>& names, const nn::data::Dataset<F>& train,
                         const nn::data::Dataset<F>& val, const nn::data::Dataset<F>& test, const std::string& out,
                         const std::string& title, const std::string& val_note) {
  fs::create_directories(out);
  const int K = int(names.size());
  auto owned = make_model(s, K);
  nn::Model<F>& model = *owned;
  if (auto* seq = dynamic_cast<nn::Sequential<F>*>(&model)) std::cout << seq->summary();
  if (auto* graph = dynamic_cast<nn::Graph<F>*>(&model)) std::cout << graph->summary();
  const bool ours = s.model != "seed";  // strong and resnet train the same way
  const double smoothing = ours ? 0.1 : 0.0;
  std::unique_ptr<nn::Loss<F>> loss_owned;
  if (s.loss == "bce") loss_owned = std::make_unique<nn::SoftmaxBCE<F>>();
  else loss_owned = std::make_unique<nn::SoftmaxCrossEntropy<F>>(nn::Reduction::Mean, smoothing);
  const nn::Loss<F>& loss = *loss_owned;
  std::unique_ptr<nn::Optimizer<F>> opt;
  nn::AdamOptions ao;
  ao.lr = s.lr;
  if (s.keras_defaults) ao.eps = 1e-7;
  if (ours) {
    ao.weight_decay = 0.05;
    opt = std::make_unique<nn::AdamW<F>>(model.parameters(), ao);
  } else {
    opt = std::make_unique<nn::Adam<F>>(model.parameters(), ao);
  }

  nn::FitOptions<F> o;
  o.epochs = s.epochs;
  o.batch_size = s.batch;
  o.seed = s.seed;
  o.validation = &val;
  o.metrics = {"accuracy", "binary_accuracy"};  // the categorical accuracy, and what Keras reports under a BCE loss
  // best.nn: the best epoch on the validation split (random split only); last.nn: the latest epoch
  o.callbacks = ex.callbacks(out, &val != &test ? "val_accuracy" : "");
  if (s.model == "seed") {
    // the blog: rotations, shifts and flips for the balancing copies; early stopping
    o.augment = seed_augment(s.image_size);
    // only on a real validation split: the official splits have none, and
    // stopping or restoring on their test set would select on it
    if (&val != &test)
      o.callbacks.push_back(std::make_shared<nn::EarlyStopping<F>>("val_accuracy", s.patience, 0.0, true));
  } else {
    o.augment.hflip = true;
    o.augment.translate = s.image_size / 8;
    o.augment.rotate_degrees = 10;
    o.augment.brightness = 0.1;
    o.augment.contrast = 0.2;
    o.callbacks.push_back(std::make_shared<nn::WarmupCosine<F>>(s.lr, s.epochs > 1 ? 1.0 : 0.5, s.epochs));
  }
  // the loss of every training batch, to show it went down within the first epoch
  std::vector<double> first_epoch;
  o.callbacks.push_back(std::make_shared<nn::LambdaCallback<F>>(
      [&](nn::TrainContext<F>& c) {
        if (c.epoch == 0) first_epoch.push_back(c.batch_loss);
      },
      nullptr));
  const example::Trained trained = example::train(model, loss, *opt, train, o);
  const std::size_t q = std::max<std::size_t>(1, first_epoch.size() / 4);
  const double initial_loss = std::accumulate(first_epoch.begin(), first_epoch.begin() + long(q), 0.0) / double(q);
  const double final_loss = std::accumulate(first_epoch.end() - long(q), first_epoch.end(), 0.0) / double(q);
  std::printf("first epoch: mean batch loss %.4f over its first %zu batches, %.4f over its last %zu\n", initial_loss, q,
              final_loss, q);

  auto [tx, ty] = example::gather(test);
  example::TestReport t = example::test_report(model, loss, tx, ty, names, trained, out, title);
  nn::SoftmaxBinaryAccuracy<F> binary;
  binary.update(t.logits, ty);
  std::printf("test binary accuracy (Keras' metric under a BCE loss): %.2f%%\n", 100 * binary.value());
  const auto& vb = trained.history["val_binary_accuracy"];
  groceries::save_predictions_sheet(out + "/predictions.png", tx, ty, t.logits, names, s.seed, title + ": test predictions");
  example::save_and_check(model, out + "/model.nn", tx, t.logits);
  groceries::save_class_names(out + "/classes.txt", names);

  std::vector<double> per_class;
  for (int c = 0; c < K; ++c) per_class.push_back(double(t.confusion(c, c)) / double(std::max<long>(1, t.confusion.row(c))));
  nn::io::JsonObject j = ex.metrics(t, trained);
  j.set("model", s.model)
      .set("loss", s.loss)
      .set("keras_defaults", s.keras_defaults)
      .set("balance", s.balance)
      .set("test_binary_accuracy", binary.value())
      .set("best_val_binary_accuracy", *std::max_element(vb.begin(), vb.end()))
      .set("final_val_binary_accuracy", vb.back())
      .set("title", title)
      .set("classes", K)
      .set_array("class_names", names)
      .set("image_size", s.image_size)
      .set("train_images", long(train.size()))
      .set("validation_images", long(val.size()))
      .set("validation_is", val_note)
      .set("first_epoch_loss_start", initial_loss)
      .set("first_epoch_loss_end", final_loss)
      .set_array("per_class_accuracy", per_class);
  example::quantize_report(ex, model, train, tx, ty, t, j);
  j.save(out + "/metrics.json");
  std::printf("wrote %s/{history.csv, curves.png, metrics.json, confusion.png, confusion.csv, predictions.png, model.nn, "
              "classes.txt}\n", out.c_str());
  std::printf("train time %.1fs over %d epochs, %.0f images/s\n", trained.seconds, trained.history.epochs(),
              trained.images_per_second);
  RunResult r;
  r.test_accuracy = t.accuracy, r.test_loss = t.loss, r.train_seconds = trained.seconds;
  r.test_binary_accuracy = binary.value();
  r.images_per_second = trained.images_per_second, r.epochs = trained.history.epochs();
  r.confusion = std::move(t.confusion);
  return r;
}

// --split all: test accuracy per split, mean and sample standard deviation,
// and the confusion matrix summed over the five test sets (together they hold
// every image once).
void write_summary(const Settings& s, const std::vector<std::string>& names, const std::vector<int>& splits,
                   const std::vector<RunResult>& results, const nn::ConfusionMatrix& total) {
  std::vector<double> acc, secs;
  std::string csv = "split,test_accuracy,test_binary_accuracy,test_loss,epochs,train_seconds,images_per_second\n";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    acc.push_back(r.test_accuracy), secs.push_back(r.train_seconds);
    char line[160];
    std::snprintf(line, sizeof line, "%d,%.6f,%.6f,%.6f,%d,%.1f,%.1f\n", splits[i], r.test_accuracy,
                  r.test_binary_accuracy, r.test_loss, r.epochs, r.train_seconds, r.images_per_second);
    csv += line;
  }
  const double n = double(acc.size());
  const double mean = std::accumulate(acc.begin(), acc.end(), 0.0) / n;
  double var = 0;
  for (double a : acc) var += (a - mean) * (a - mean);
  const double sd = std::sqrt(var / std::max(1.0, n - 1));
  nn::io::write_file_atomic(s.out + "/results.csv", csv);
  std::vector<double> per_class;
  std::printf("\n=== %s model, %zu official splits ===\n", s.model.c_str(), results.size());
  for (std::size_t i = 0; i < results.size(); ++i)
    std::printf("split %d: test accuracy %.2f%%  (%d epochs, %.0f s)\n", splits[i], 100 * acc[i], results[i].epochs, secs[i]);
  std::printf("mean test accuracy %.2f%% +- %.2f (sd over splits); total training time %.0f s\n\nper-class accuracy "
              "(all test sets together):\n", 100 * mean, 100 * sd, std::accumulate(secs.begin(), secs.end(), 0.0));
  for (std::size_t c = 0; c < names.size(); ++c) {
    per_class.push_back(double(total(nn::Index(c), nn::Index(c))) / double(std::max<long>(1, total.row(nn::Index(c)))));
    std::printf("  %-14s %5.1f%%  (%ld images)\n", names[c].c_str(), 100 * per_class.back(), total.row(nn::Index(c)));
  }
  total.save_csv(s.out + "/confusion.csv");
  nn::plot::save_confusion_png(s.out + "/confusion.png", total, "freiburg " + s.model + ", 5 official test sets");
  nn::io::JsonObject j;
  j.set("model", s.model)
      .set("loss", s.loss)
      .set("splits", long(results.size()))
      .set_array("test_accuracy_per_split", acc)
      .set("mean_test_accuracy", mean)
      .set("sd_test_accuracy", sd)
      .set_array("train_seconds_per_split", secs)
      .set("total_train_seconds", std::accumulate(secs.begin(), secs.end(), 0.0))
      .set_array("class_names", names)
      .set_array("per_class_accuracy", per_class)
      .set("overall_accuracy", total.accuracy())
      .set("macro_f1", total.macro_f1())
      .set("image_size", s.image_size)
      .set("epochs", s.epochs)
      .set("seed", long(s.seed))
      .set("threads", nn::num_threads())
      .set("quick", s.quick)
      .set("build", nn::build_info());
  j.save(s.out + "/metrics.json");
  std::printf("wrote %s/{results.csv, metrics.json, confusion.png, confusion.csv} and split0..4/\n", s.out.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  example::Example ex("freiburg_groceries", "Trains a grocery product classifier on the Freiburg Groceries dataset.",
                      {/*epochs*/ 0, /*batch*/ 0, /*lr*/ 0, "runs/freiburg"});  // 0: the model's default
  Settings s;
  ex.cli()
      .option("--model", &s.model, "seed|strong|resnet",
              "the blog's ConvNet, the stronger VGG-style net, or a residual network")
      .option("--classes", &s.classes, "LIST|all|topK",
              "comma-separated class names, all 25, or the K largest; default: top5 (seed), all (strong, resnet)")
      .option("--split", &s.split, "0..4|all|random",
              "an official train/test split, all five, or a seeded 70/20/10 split; default: random (seed), all (others)")
      .option("--image-size", &s.image_size, "N", "images resized to N x N; 0: 104 (seed), 64 (strong, resnet)")
      .option("--patience", &s.patience, "N", "seed model, random split: early stopping patience in epochs")
      .option("--loss", &s.loss, "ce|bce",
              "softmax cross-entropy, or Keras' binary cross-entropy on the softmax (the blog's loss)")
      .flag("--keras-defaults", &s.keras_defaults,
            "seed model: Keras' batch-norm (momentum 0.99 as Keras counts it, eps 1e-3) and Adam (eps 1e-7) defaults")
      .option("--balance", &s.balance, "train|before-split|none",
              "random split: balance the training part by augmented copies, balance all images before splitting "
              "(the blog's order: copies of a photo can land in validation and test), or do not balance")
      .flag("--skip-bad", &s.skip_bad, "leave out (and count) images that are missing or cannot be decoded");
  // epochs 0: 200 with early stopping (seed), 20 (strong, resnet); batch 0: 32 / 64;
  // lr 0: 1e-3 Adam (seed), 2e-3 AdamW with 1 warm-up epoch and cosine decay (strong, resnet)
  ex.parse(argc, argv, [&](example::Common& c) {
    const bool seed = s.model == "seed";
    if (!seed && s.model != "strong" && s.model != "resnet") ex.fail("--model must be seed, strong or resnet");
    if (s.loss != "ce" && s.loss != "bce") ex.fail("--loss must be ce or bce");
    if (s.balance != "train" && s.balance != "before-split" && s.balance != "none")
      ex.fail("--balance must be train, before-split or none");
    if (s.classes.empty()) s.classes = seed ? "top5" : "all";
    if (s.split.empty()) s.split = seed ? "random" : "all";
    if (s.split != "all" && s.split != "random" && !(s.split.size() == 1 && s.split[0] >= '0' && s.split[0] <= '4'))
      ex.fail("--split must be 0, 1, 2, 3, 4, all or random");
    if (s.image_size == 0) s.image_size = seed ? 104 : c.quick ? 32 : 64;
    if (c.epochs == 0) c.epochs = seed ? 200 : 20;
    if (c.batch == 0) c.batch = c.quick ? 16 : seed ? 32 : 64;
    if (c.lr == 0) c.lr = seed ? 1e-3 : 2e-3;
    if (c.quick) c.epochs = 1;
    if (s.image_size < 1 || s.patience < 1) ex.fail("--image-size >= 1, --patience >= 1");
  });
  static_cast<example::Common&>(s) = ex.common();

  return ex.run([&] {
    s.data = ex.data_dir("freiburg-groceries");
    groceries::Catalogue cat(s.data);
    const std::vector<int> chosen = cat.select(s.classes, s.quick ? 3 : 0);
    std::vector<std::string> names;
    for (int c : chosen) names.push_back(cat.names[std::size_t(c)]);
    std::cout << names.size() << " classes:";
    for (auto& n : names) std::cout << " " << n;
    std::cout << "\n";
    if (s.quick)
      std::cout << "--quick: " << names.size() << " classes, at most " << 200 << " images per class, " << s.image_size
                << "x" << s.image_size << " images, 1 epoch\n";
    make_model(s, int(names.size()));  // a too small --image-size fails here, before any image is read

    nn::data::ImageOptions io;
    io.width = io.height = s.image_size;
    io.skip_bad = s.skip_bad;
    const int per_class_cap = s.quick ? 200 : 0;

    if (s.split == "random" && s.balance == "before-split") {
      groceries::Images imgs = cat.load_folder(chosen, io, per_class_cap);
      LeakySplit l = balance_then_split(imgs, seed_augment(s.image_size), s.seed);
      std::printf("the blog's order: %lld images balanced to %lld by augmented copies, then split 70/20/10: %zu train, "
                  "%zu validation, %zu test; %zu validation and %zu test images are a photo (or a copy of one) "
                  "that is also in training\n",
                  static_cast<long long>(imgs.ds->size()), static_cast<long long>(l.ds->size()), l.parts[0].size(),
                  l.parts[1].size(), l.parts[2].size(), l.shared[1], l.shared[2]);
      nn::data::Subset<F> train(*l.ds, l.parts[0]), val(*l.ds, l.parts[1]), test(*l.ds, l.parts[2]);
      train_and_test(ex, s, names, train, val, test, s.out, "freiburg " + s.model + ", balanced before the split",
                     "validation split (balanced before splitting)");
      return 0;
    }
    if (s.split == "random") {
      groceries::Images imgs = cat.load_folder(chosen, io, per_class_cap);
      auto parts = nn::data::stratified_split(imgs.labels, {0.7, 0.2, 0.1}, s.seed);
      const auto balanced =
          s.balance == "none" ? parts[0] : nn::data::balance_by_oversampling(parts[0], imgs.labels, s.seed);
      std::printf("seeded stratified 70/20/10 split: %zu train (%zu %s), %zu validation, %zu test\n", parts[0].size(),
                  balanced.size(), s.balance == "none" ? "used as they are, not balanced" : "after balancing by augmented oversampling",
                  parts[1].size(), parts[2].size());
      nn::data::Subset<F> train(*imgs.ds, balanced), val(*imgs.ds, parts[1]), test(*imgs.ds, parts[2]);
      train_and_test(ex, s, names, train, val, test, s.out, "freiburg " + s.model + ", random split", "validation split");
      return 0;
    }

    std::vector<int> splits;
    if (s.split == "all") splits = {0, 1, 2, 3, 4};
    else splits = {s.split[0] - '0'};
    std::vector<RunResult> results;
    nn::ConfusionMatrix total(int(names.size()), names);
    for (int k : splits) {
      groceries::Images tr = cat.load_split_file("train", k, chosen, io, per_class_cap);
      groceries::Images te = cat.load_split_file("test", k, chosen, io, per_class_cap);
      std::printf("\n=== official split %d: %lld train images (duplicates in train%d.txt removed), %lld test ===\n", k,
                  static_cast<long long>(tr.ds->size()), k, static_cast<long long>(te.ds->size()));
      const std::string out = splits.size() > 1 ? s.out + "/split" + std::to_string(k) : s.out;
      RunResult r = train_and_test(ex, s, names, *tr.ds, *te.ds, *te.ds, out,
                                   "freiburg " + s.model + ", split " + std::to_string(k),
                                   "the split's test set, monitored only (no early stopping or model selection)");
      for (int t = 0; t < int(names.size()); ++t)
        for (int p = 0; p < int(names.size()); ++p) total.add(t, p, r.confusion(t, p));
      results.push_back(std::move(r));
    }
    if (splits.size() > 1) write_summary(s, names, splits, results, total);
    return 0;
  });
}
