// segmentation — semantic segmentation of canvases of real MNIST digits with a
// fully convolutional network (fcn.hpp): dilated context, skip connections,
// per-pixel logits for the ten digits and the background.
//
// The data (canvas.hpp) is made from MNIST at start-up, the same for every
// run: training and validation canvases from disjoint parts of MNIST's
// training digits, test canvases from its test digits only. The background
// covers most pixels, which is what makes the choice of loss matter:
//   --loss ce        per-pixel softmax cross-entropy (--bg-weight weighs the background class)
//   --loss dice      the soft F1 (Dice) of the softmax, macro over the 11 classes
//   --loss ce+dice   their sum
// --compare trains, for each of --seeds seeds, the three losses with the
// dilated context and --loss with the plain one (same parameters), and writes
// the table of test pixel accuracy, mean pixel accuracy and mean IoU.
// --upsample transposed learns the decoder's upsampling (2x2 transposed
// convolutions of stride 2) instead of repeating pixels.
//
// Writes to --out: history.csv, curves.png, metrics.json, confusion.csv,
// overlays.png (input, truth, prediction of 8 test canvases), model.nn and
// test_canvas.png (an input for `segment`); with --compare, compare.csv,
// compare.json and compare/<variant>_seed<k>.csv histories instead.
#include <nn/nn.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>

#include "../common/example.hpp"
#include "canvas.hpp"
#include "fcn.hpp"

namespace {
using F = float;

struct Settings {
  std::string loss = "ce+dice", context = "dilated", upsample = "nearest";
  double bg_weight = 1.0;
  int width = 16, side = 64, train_canvases = 6000, val_canvases = 500, test_canvases = 1000;
  std::uint64_t canvas_seed = 1;
};

struct Data {
  nn::data::TensorDataset<F> train, val;  // canvases (N, 1, H, W) and their label maps (N, H, W)
  segdata::Canvases test;
};

struct Result {
  nn::ConfusionMatrix cm{segdata::kClasses};
  example::Trained trained;
  double receptive_field = 0;
  long params = 0;
  nn::Tensor<F> first_logits;  // the first 8 test canvases
};

nn::Tensor<F> rows(const nn::Tensor<F>& t, nn::Index begin, nn::Index count) {
  nn::Shape s = t.shape();
  const nn::Index per = t.size() / t.dim(0);
  nn::Tensor<F> out(s.tail().with_batch(count));
  std::memcpy(out.data(), t.data() + begin * per, std::size_t(count * per) * sizeof(F));
  return out;
}

// The losses by name; the objects live in `keep`.
const nn::Loss<F>& make_loss(const std::string& name, double bg_weight, std::vector<std::unique_ptr<nn::Loss<F>>>& keep) {
  std::vector<F> w;
  if (bg_weight != 1.0) {
    w.assign(segdata::kClasses, 1.0f);
    w[segdata::kBackground] = F(bg_weight);
  }
  auto ce = std::make_unique<nn::SoftmaxCrossEntropy<F>>(nn::Reduction::Mean, 0.0, w);
  auto dice = std::make_unique<nn::SoftmaxDice<F>>();
  if (name == "ce") return *keep.emplace_back(std::move(ce));
  if (name == "dice") return *keep.emplace_back(std::move(dice));
  const nn::Loss<F>* a = keep.emplace_back(std::move(ce)).get();
  const nn::Loss<F>* b = keep.emplace_back(std::move(dice)).get();
  return *keep.emplace_back(std::make_unique<nn::WeightedSum<F>>(std::vector<std::pair<const nn::Loss<F>*, double>>{{a, 1.0}, {b, 1.0}}));
}

// Trains one variant and scores it on the test canvases.
Result run(const Data& d, const Settings& s, const std::string& context, const std::string& loss_name,
           std::uint64_t seed, const example::Common& c, const std::string& history_csv, bool verbose,
           nn::Graph<F>* keep_model = nullptr) {
  auto model = fcn::build(context, s.side, s.side, s.width, segdata::kClasses, seed, s.upsample);
  Result r;
  r.receptive_field = fcn::receptive_field(model);
  r.params = long(model.num_parameters());
  if (verbose) std::cout << model.summary();
  std::vector<std::unique_ptr<nn::Loss<F>>> keep;
  const auto& loss = make_loss(loss_name, s.bg_weight, keep);
  nn::Adam<F> opt(model.parameters(), {c.lr});
  nn::FitOptions<F> o;
  o.epochs = c.epochs, o.batch_size = c.batch, o.seed = seed, o.validation = &d.val;
  o.metrics = {"accuracy", "mean_iou"};
  if (!verbose) o.progress = nn::Progress::Off;
  o.callbacks = {std::make_shared<nn::LRScheduler<F>>(std::make_shared<nn::CosineLR>(c.epochs, 0.0), c.lr),
                 std::make_shared<nn::CSVLogger<F>>(history_csv)};
  r.trained = example::train(model, loss, opt, d.train, o);
  model.eval();
  const nn::Index N = d.test.x.dim(0);
  for (nn::Index b = 0; b < N; b += 100) {  // (100, 11, H, W) logits at a time
    const nn::Index n = std::min<nn::Index>(100, N - b);
    auto logits = nn::predict(model, rows(d.test.x, b, n));
    r.cm.add_batch(logits, rows(d.test.y, b, n));
    if (b == 0) r.first_logits = rows(logits, 0, std::min<nn::Index>(8, n));
  }
  if (keep_model) *keep_model = std::move(model);
  return r;
}

std::vector<double> per_class_iou(const nn::ConfusionMatrix& cm) {
  std::vector<double> v;
  for (nn::Index k = 0; k < cm.classes(); ++k) v.push_back(cm.iou(k));
  return v;
}

void print_scores(const nn::ConfusionMatrix& cm) {
  std::printf("test pixel accuracy %.4f  mean pixel accuracy %.4f  mean IoU %.4f\nIoU per class:", cm.pixel_accuracy(),
              cm.mean_pixel_accuracy(), cm.mean_iou());
  for (nn::Index k = 0; k < cm.classes(); ++k) std::printf(" %s %.3f", fcn::class_name(int(k)).c_str(), cm.iou(k));
  std::printf("\n");
}

// overlays.png: per row a test canvas, its true mask and the predicted mask.
void save_overlays(const std::string& path, const segdata::Canvases& test, const nn::Tensor<F>& logits,
                   const std::string& title) {
  const nn::Index rows_n = logits.dim(0), H = test.x.dim(2), W = test.x.dim(3), C = logits.dim(1);
  const int scale = 3, cell = int(W) * scale + 12, top = 48;
  nn::plot::Image img(std::max(3 * cell + 20, 560), top + int(rows_n) * (int(H) * scale + 8) + 40);
  img.text(10, 8, title);
  const char* heads[] = {"input", "truth", "prediction"};
  for (int k = 0; k < 3; ++k) img.text(10 + k * cell, 30, heads[k], {0, 0, 0}, 1);
  for (nn::Index n = 0; n < rows_n; ++n) {
    const int y0 = top + int(n) * (int(H) * scale + 8);
    std::vector<int> truth(std::size_t(H * W));
    for (nn::Index p = 0; p < H * W; ++p) truth[std::size_t(p)] = int(test.y[n * H * W + p]);
    const auto pred = fcn::argmax_mask(logits.data() + n * C * H * W, C, H, W);
    fcn::draw(img, 10, y0, scale, H, W, test.x.data() + n * H * W, nullptr);
    fcn::draw(img, 10 + cell, y0, scale, H, W, nullptr, truth.data());
    fcn::draw(img, 10 + 2 * cell, y0, scale, H, W, nullptr, pred.data());
  }
  fcn::draw_legend(img, 10, img.height() - 28);
  img.save_png(path);
}

// The first test canvas as a grey PNG: an input for `segment`.
void save_canvas_png(const std::string& path, const segdata::Canvases& test) {
  nn::plot::Image img{int(test.x.dim(3)), int(test.x.dim(2))};
  fcn::draw(img, 0, 0, 1, test.x.dim(2), test.x.dim(3), test.x.data(), nullptr);
  img.save_png(path);
}

}  // namespace

int main(int argc, char** argv) {
  example::Example ex("segmentation",
                      "Trains a fully convolutional network to segment canvases of MNIST digits (11 classes per pixel).",
                      {/*epochs*/ 8, /*batch*/ 32, /*lr*/ 3e-3, "runs/segmentation"});
  Settings s;
  bool compare = false;
  int seeds = 3;
  ex.cli()
      .option("--loss", &s.loss, "ce|dice|ce+dice", "per-pixel loss")
      .option("--context", &s.context, "dilated|plain", "the context module's convolutions")
      .option("--upsample", &s.upsample, "nearest|transposed", "the decoder's x2 upsampling")
      .option("--bg-weight", &s.bg_weight, "X", "cross-entropy weight of the background class")
      .option("--width", &s.width, "N", "channels of the first layer (x2, x4 deeper)")
      .option("--canvas", &s.side, "N", "canvas side in pixels, a multiple of 4, >= 32")
      .option("--train-canvases", &s.train_canvases, "N", "training canvases")
      .option("--test-canvases", &s.test_canvases, "N", "test canvases")
      .option("--canvas-seed", &s.canvas_seed, "N", "seed of the canvases (the same data for every run)")
      .flag("--compare", &compare, "compare the losses and the two context modules over --seeds seeds")
      .option("--seeds", &seeds, "N", "seeds per variant with --compare");
  ex.parse(argc, argv);
  if (s.loss != "ce" && s.loss != "dice" && s.loss != "ce+dice") ex.fail("--loss must be ce, dice or ce+dice");
  if (s.context != "dilated" && s.context != "plain") ex.fail("--context must be dilated or plain");
  if (s.upsample != "nearest" && s.upsample != "transposed") ex.fail("--upsample must be nearest or transposed");
  if (!(s.bg_weight > 0)) ex.fail("--bg-weight must be > 0");
  if (s.width < 1 || s.side < 32 || s.side % 4 || s.train_canvases < 1 || s.test_canvases < 1)
    ex.fail("--width >= 1, --canvas >= 32 and a multiple of 4, --train-canvases and --test-canvases >= 1");
  if (seeds < 1) ex.fail("--seeds must be >= 1");
  auto& c = ex.common();
  return ex.run([&] {
    const std::string dir = ex.data_dir("mnist");
    auto mn = nn::data::load_mnist<F>(dir);
    if (c.quick) s.train_canvases = 400, s.val_canvases = 100, s.test_canvases = 100, c.epochs = std::min(c.epochs, 2);
    if (c.quick && compare) seeds = std::min(seeds, 2), s.train_canvases = 200, c.epochs = 1;
    // MNIST's training digits: the first 55,000 draw the training canvases, the last 5,000 the validation ones.
    std::vector<nn::Index> train_pool(55000), val_pool(5000), test_pool(std::size_t(mn.test_y.size()));
    for (nn::Index i = 0; i < 55000; ++i) train_pool[std::size_t(i)] = i;
    for (nn::Index i = 0; i < 5000; ++i) val_pool[std::size_t(i)] = 55000 + i;
    for (nn::Index i = 0; i < mn.test_y.size(); ++i) test_pool[std::size_t(i)] = i;
    auto tr = segdata::make_canvases(mn.train_x, mn.train_y, train_pool, s.train_canvases, s.side, s.side, s.canvas_seed);
    auto va = segdata::make_canvases(mn.train_x, mn.train_y, val_pool, s.val_canvases, s.side, s.side, s.canvas_seed + 1000);
    const Data d{{std::move(tr.x), std::move(tr.y)},
                 {std::move(va.x), std::move(va.y)},
                 segdata::make_canvases(mn.test_x, mn.test_y, test_pool, s.test_canvases, s.side, s.side, s.canvas_seed + 2000)};
    const auto shares = segdata::class_shares(d.train.targets());
    std::printf("canvases %dx%d: %d train, %d validation (MNIST train digits), %d test (MNIST test digits)\n", s.side,
                s.side, s.train_canvases, s.val_canvases, s.test_canvases);
    std::printf("training pixels: background %.1f%%, digits 0-9 %.2f%%-%.2f%% each\n", 100 * shares[10],
                100 * *std::min_element(shares.begin(), shares.begin() + 10),
                100 * *std::max_element(shares.begin(), shares.begin() + 10));

    if (compare) {
      struct Variant {
        std::string context, loss;
      };
      const std::vector<Variant> variants{{"dilated", "ce"}, {"dilated", "dice"}, {"dilated", "ce+dice"}, {"plain", s.loss}};
      std::filesystem::create_directories(c.out + "/compare");
      std::string csv = "context,loss,seed,pixel_accuracy,mean_pixel_accuracy,mean_iou,train_seconds,receptive_field,params\n";
      std::map<std::string, std::vector<double>> pa, mpa, miou, secs;
      std::map<std::string, double> rf;
      std::map<std::string, long> params;
      for (int k = 0; k < seeds; ++k)
        for (const auto& v : variants) {
          const std::uint64_t seed = c.seed + std::uint64_t(k);
          const std::string name = v.context + " " + v.loss;
          std::printf("\n== %s, seed %llu\n", name.c_str(), static_cast<unsigned long long>(seed));
          std::fflush(stdout);
          auto r = run(d, s, v.context, v.loss, seed, c,
                       c.out + "/compare/" + v.context + "_" + v.loss + "_seed" + std::to_string(seed) + ".csv", false);
          print_scores(r.cm);
          std::printf("%.1fs\n", r.trained.seconds);
          pa[name].push_back(r.cm.pixel_accuracy()), mpa[name].push_back(r.cm.mean_pixel_accuracy());
          miou[name].push_back(r.cm.mean_iou()), secs[name].push_back(r.trained.seconds);
          rf[name] = r.receptive_field, params[name] = r.params;
          char row[256];
          std::snprintf(row, sizeof row, "%s,%s,%llu,%.6f,%.6f,%.6f,%.2f,%.0f,%ld\n", v.context.c_str(), v.loss.c_str(),
                        static_cast<unsigned long long>(seed), r.cm.pixel_accuracy(), r.cm.mean_pixel_accuracy(),
                        r.cm.mean_iou(), r.trained.seconds, r.receptive_field, r.params);
          csv += row;
          nn::io::write_file_atomic(c.out + "/compare.csv", csv);
        }
      nn::io::JsonObject j;
      std::printf("\n| context | loss | pixel accuracy | mean pixel accuracy | mean IoU | receptive field | trainable params | s/run |\n"
                  "|---|---|---|---|---|---|---|---|\n");
      for (const auto& v : variants) {
        const std::string name = v.context + " " + v.loss;
        auto ms = [&](const std::vector<double>& x) {
          char b[64];
          std::snprintf(b, sizeof b, "%.4f ± %.4f", nn::stats::mean(x), x.size() > 1 ? nn::stats::stddev(x) : 0.0);
          return std::string(b);
        };
        std::printf("| %s | %s | %s | %s | %s | %.0f | %ld | %.0f |\n", v.context.c_str(), v.loss.c_str(),
                    ms(pa[name]).c_str(), ms(mpa[name]).c_str(), ms(miou[name]).c_str(), rf[name], params[name],
                    nn::stats::mean(secs[name]));
        nn::io::JsonObject o;
        o.set_array("pixel_accuracy", pa[name]).set_array("mean_pixel_accuracy", mpa[name]).set_array("mean_iou", miou[name]);
        o.set_array("train_seconds", secs[name]).set("receptive_field", rf[name]).set("params", params[name]);
        j.set(name, o);
      }
      if (seeds >= 2) {
        const std::string a = "dilated " + s.loss, b = "plain " + s.loss;
        const auto t = nn::stats::paired_t_test(miou[a], miou[b]);
        std::printf("\nmean IoU, dilated - plain (%s, paired over %d seeds): %+.4f ± %.4f, t = %.2f, p = %.3f\n",
                    s.loss.c_str(), seeds, t.mean_diff, t.sd_diff, t.t, t.p);
        j.set("dilated_minus_plain_mean_iou", t.mean_diff).set("dilated_minus_plain_p", t.p);
      }
      j.set("seeds", seeds).set("epochs", c.epochs).set("train_canvases", s.train_canvases)
          .set("test_canvases", s.test_canvases).set("canvas", s.side).set("width", s.width)
          .set("bg_weight", s.bg_weight).set("upsample", s.upsample).set("quick", c.quick).set("build", nn::build_info());
      j.save(c.out + "/compare.json");
      std::printf("wrote %s/{compare.csv, compare.json, compare/}\n", c.out.c_str());
      return 0;
    }

    nn::Graph<F> model;
    auto r = run(d, s, s.context, s.loss, c.seed, c, c.out + "/history.csv", true, &model);
    std::printf("receptive field %.0f pixels (canvas %d)\n", r.receptive_field, s.side);
    std::cout << "\n" << r.cm.str();
    print_scores(r.cm);
    r.cm.save_csv(c.out + "/confusion.csv");
    nn::plot::save_history_plot(c.out + "/curves.png", r.trained.history, "segmentation " + s.context + " " + s.loss);
    save_overlays(c.out + "/overlays.png", d.test, r.first_logits,
                  "test canvases: " + s.context + " context, " + s.loss + " loss");
    save_canvas_png(c.out + "/test_canvas.png", d.test);
    example::save_and_check(model, c.out + "/model.nn", rows(d.test.x, 0, r.first_logits.dim(0)), r.first_logits);

    const auto& h = r.trained.history;
    nn::io::JsonObject j;
    j.set("pixel_accuracy", r.cm.pixel_accuracy())
        .set("mean_pixel_accuracy", r.cm.mean_pixel_accuracy())
        .set("mean_iou", r.cm.mean_iou())
        .set_array("per_class_iou", per_class_iou(r.cm))
        .set_array("train_class_shares", shares)
        .set("loss", s.loss)
        .set("context", s.context)
        .set("upsample", s.upsample)
        .set("bg_weight", s.bg_weight)
        .set("receptive_field", r.receptive_field)
        .set("params", r.params)
        .set("epochs", h.epochs())
        .set("train_seconds", r.trained.seconds)
        .set("images_per_second", r.trained.images_per_second)
        .set("train_canvases", s.train_canvases)
        .set("test_canvases", s.test_canvases)
        .set("canvas", s.side)
        .set("seed", long(c.seed))
        .set("threads", nn::num_threads())
        .set("quick", c.quick)
        .set("stop_reason", h.stop_reason)
        .set("build", nn::build_info());
    if (h.has("val_mean_iou")) j.set("final_val_mean_iou", h["val_mean_iou"].back());
    j.save(c.out + "/metrics.json");
    std::printf("wrote %s/{history.csv, curves.png, metrics.json, confusion.csv, overlays.png, test_canvas.png, model.nn}\n",
                c.out.c_str());
    std::printf("train time %.1fs over %d epochs, %.0f canvases/s\n", r.trained.seconds, h.epochs(),
                r.trained.images_per_second);
    return 0;
  });
}
