// elu_vs_relu — does ELU in the fully-connected layers learn faster than ReLU?
//
// For each seed, trains the same ConvNet twice: once with ELU (alpha 1) in the
// fully-connected layers and once with ReLU; the convolutional layers use ReLU
// in both. Both runs of a seed start from bit-identical weights (checked) and
// see the same shuffling and augmentation order. Per epoch it records the
// held-out validation accuracy, the training loss and the mean activation of
// each fully-connected layer, then reports mean +- sd over seeds and a paired
// t-test of ELU - ReLU per epoch.
//
// --paper-mlp instead reproduces the ELU paper's MNIST setting: an MLP with 8
// hidden layers of 128 units, comparing training-loss curves of ELU, ReLU and
// LeakyReLU from the same initialization.
//
// Writes to --out: elu_vs_relu.csv (or paper_mlp.csv), elu_vs_relu.png (or
// paper_mlp.png) and metrics.json. --quick: 2 seeds, 2 epochs, 4,000 images.
#include <nn/nn.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "../common/example.hpp"
#include "../common/freiburg.hpp"

namespace {
using F = float;

std::unique_ptr<nn::Layer<F>> activation(const std::string& act) {
  if (act == "ELU") return std::make_unique<nn::ELU<F>>(1.0);
  if (act == "LeakyReLU") return std::make_unique<nn::LeakyReLU<F>>(0.01);
  return std::make_unique<nn::ReLU<F>>();
}

// Conv layers with ReLU; the two hidden fully-connected layers with `act`.
nn::Sequential<F> convnet(const nn::Shape& in, nn::Index classes, const std::string& act, std::uint64_t seed,
                          std::vector<std::size_t>& fc_outputs) {
  nn::Sequential<F> m(in, seed);
  m.add<nn::Conv2D<F>>(32, 3);
  m.add(nn::ReLU<F>());
  m.add(nn::MaxPool2D<F>(2));
  m.add<nn::Conv2D<F>>(64, 3);
  m.add(nn::ReLU<F>());
  m.add(nn::MaxPool2D<F>(2));
  m.add(nn::Flatten<F>());
  fc_outputs.clear();
  for (nn::Index units : {256, 128}) {
    m.add(nn::Dense<F>(units));
    m.add(activation(act));
    fc_outputs.push_back(m.size() - 1);
  }
  m.add(nn::Dense<F>(classes));
  return m;
}

nn::Sequential<F> paper_mlp(const std::string& act, std::uint64_t seed, std::vector<std::size_t>& fc_outputs) {
  nn::Sequential<F> m(nn::Shape{1, 28, 28}, seed);
  m.add(nn::Flatten<F>());
  fc_outputs.clear();
  for (int i = 0; i < 8; ++i) {
    m.add(nn::Dense<F>(128));
    m.add(activation(act));
    fc_outputs.push_back(m.size() - 1);
  }
  m.add(nn::Dense<F>(10));
  return m;
}

std::vector<F> flat_weights(nn::Sequential<F>& m) {
  std::vector<F> w;
  for (auto& p : m.parameters()) w.insert(w.end(), p.value->begin(), p.value->end());
  return w;
}

// Mean output of the given layers on x, in eval mode.
std::vector<double> layer_means(nn::Sequential<F>& m, const nn::Tensor<F>& x, const std::vector<std::size_t>& which) {
  std::vector<double> out;
  const nn::Tensor<F>* cur = &x;
  for (std::size_t i = 0; i < m.size(); ++i) {
    cur = &m.layer(i).forward(*cur, false);
    if (std::find(which.begin(), which.end(), i) != which.end()) out.push_back(double(cur->array().mean()));
  }
  return out;
}

struct Run {
  std::vector<double> val_acc, train_loss;
  std::vector<std::vector<double>> fc_mean;  // [epoch][layer]
};

std::string pm(const std::vector<double>& v, double scale = 100) {
  char b[64];
  std::snprintf(b, sizeof b, "%6.2f +- %4.2f", scale * nn::stats::mean(v), scale * nn::stats::stddev(v));
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  example::Example ex("elu_vs_relu",
                      "Trains the same ConvNet with ELU and with ReLU in its fully-connected layers, over seeds.",
                      {/*epochs*/ 10, /*batch*/ 64, /*lr (SGD, momentum 0.9)*/ 0.01, "runs/elu_vs_relu"});
  std::string dataset = "fashion-mnist";
  int seeds = 5, image_size = 32;
  bool mlp = false, augment = false;
  ex.cli()
      .option("--dataset", &dataset, "fashion-mnist|freiburg", "data set")
      .option("--seeds", &seeds, "N", "seeds (pairs of runs): 1000 * --seed + 0 .. N-1")
      .option("--image-size", &image_size, "N", "freiburg: images resized to N x N")
      .flag("--augment", &augment, "random flips and 2-pixel shifts (same order for both activations)")
      .flag("--paper-mlp", &mlp, "the ELU paper's MNIST MLP: 8 x 128, ELU vs ReLU vs LeakyReLU training loss");
  ex.parse(argc, argv);
  auto& c = ex.common();
  if (dataset != "fashion-mnist" && dataset != "freiburg") ex.fail("--dataset must be fashion-mnist or freiburg");
  if (seeds < 2 || image_size < 16) ex.fail("--seeds >= 2, --image-size >= 16");
  if (c.quick) seeds = 2, c.epochs = 2;  // and 4,000 training images
  const int epochs = c.epochs, batch = c.batch;
  const double lr = c.lr;
  const bool quick = c.quick;
  const std::string& out = c.out;

  return ex.run([&] {
    const std::string name = mlp ? "mnist" : dataset == "freiburg" ? "freiburg-groceries" : "fashion-mnist";
    const std::string data = ex.data_dir(name);

    // train / held-out validation
    std::unique_ptr<nn::data::TensorDataset<F>> all, val_own;
    std::vector<nn::Index> train_idx, val_idx;
    std::vector<std::string> class_names;
    if (name == "freiburg-groceries") {  // official split 0, each training image once
      groceries::Catalogue cat(data);
      const auto ids = cat.select("all");
      nn::data::ImageOptions io;
      io.width = io.height = image_size;
      all = cat.load_split_file("train", 0, ids, io).ds;
      val_own = cat.load_split_file("test", 0, ids, io).ds;
      class_names = cat.names;
    } else {
      auto mn = nn::data::load_mnist<F>(data);
      all = std::make_unique<nn::data::TensorDataset<F>>(std::move(mn.train_x), std::move(mn.train_y));
    }
    if (val_own) {
      train_idx.resize(std::size_t(all->size()));
      std::iota(train_idx.begin(), train_idx.end(), 0);
    } else {
      auto parts = nn::data::split_indices(all->size(), {5.0 / 6, 1.0 / 6}, 2024);  // 50k / 10k, fixed for every run
      train_idx = parts[0], val_idx = parts[1];
    }
    if (quick) train_idx.resize(std::min<std::size_t>(train_idx.size(), 4000)), val_idx.resize(std::min<std::size_t>(val_idx.size(), 2000));
    nn::data::Subset<F> train(*all, train_idx);
    std::unique_ptr<nn::data::Subset<F>> val_split;
    const nn::data::Dataset<F>* val = val_own.get();
    if (!val) val_split = std::make_unique<nn::data::Subset<F>>(*all, val_idx), val = val_split.get();
    const nn::Index classes = name == "freiburg-groceries" ? 25 : 10;
    std::cout << "train " << train.size() << ", held-out validation " << val->size() << " images, " << classes << " classes\n";

    // a fixed probe batch for the mean activations
    const nn::Index probe_n = std::min<nn::Index>(1000, val->size());
    nn::Tensor<F> probe(val->input_shape().with_batch(probe_n)), probe_y({probe_n});
    for (nn::Index i = 0; i < probe_n; ++i) val->load(i, probe.data() + i * val->input_shape().size(), probe_y.data() + i);

    const std::vector<std::string> acts = mlp ? std::vector<std::string>{"ELU", "ReLU", "LeakyReLU"}
                                              : std::vector<std::string>{"ELU", "ReLU"};
    std::map<std::string, std::vector<Run>> runs;
    std::vector<std::size_t> fc;
    nn::SoftmaxCrossEntropy<F> loss;
    bool printed_summary = false;
    for (int s = 0; s < seeds; ++s) {
      const std::uint64_t seed = 1000 * c.seed + std::uint64_t(s);
      std::vector<F> first_init;
      for (const auto& act : acts) {
        auto model = mlp ? paper_mlp(act, seed, fc) : convnet(train.input_shape(), classes, act, seed, fc);
        if (!printed_summary) std::cout << model.summary(), printed_summary = true;
        const auto w0 = flat_weights(model);
        if (first_init.empty()) first_init = w0;
        else if (w0.size() != first_init.size() || std::memcmp(w0.data(), first_init.data(), w0.size() * sizeof(F)) != 0)
          throw std::runtime_error("seed " + std::to_string(seed) + ": " + act + " does not start from the same weights");
        else
          std::printf("seed %llu: %s starts from the same %zu weights as %s (bit-identical)\n",
                      static_cast<unsigned long long>(seed), act.c_str(), w0.size(), acts[0].c_str());
        nn::SGD<F> opt(model.parameters(), {lr, 0.9});
        Run run;
        nn::FitOptions<F> o;
        o.epochs = epochs;
        o.batch_size = batch;
        o.seed = seed;
        o.validation = val;
        o.progress = nn::Progress::Off;
        if (augment) o.augment.hflip = true, o.augment.translate = 2;
        o.callbacks = {std::make_shared<nn::LambdaCallback<F>>(nullptr, [&](nn::TrainContext<F>& c) {
          run.fc_mean.push_back(layer_means(c.sequential(), probe, fc));
        })};
        auto h = nn::fit(model, loss, opt, train, o);
        if (h.epochs() != epochs) throw std::runtime_error(act + ", seed " + std::to_string(seed) + ": " + h.stop_reason);
        run.val_acc = h["val_accuracy"];
        run.train_loss = h["loss"];
        std::printf("seed %llu %-9s val accuracy by epoch:", static_cast<unsigned long long>(seed), act.c_str());
        for (double v : run.val_acc) std::printf(" %.2f", 100 * v);
        std::printf("  (%.0fs)\n", [&] { double t = 0; for (double v : h["seconds"]) t += v; return t; }());
        std::fflush(stdout);
        runs[act].push_back(std::move(run));
      }
    }

    // per-run CSV
    std::ostringstream csv;
    csv << "epoch,activation,seed,val_accuracy,train_loss";
    for (std::size_t l = 0; l < fc.size(); ++l) csv << ",fc" << l + 1 << "_mean_activation";
    csv << "\n";
    for (const auto& act : acts)
      for (int s = 0; s < seeds; ++s)
        for (int e = 0; e < epochs; ++e) {
          const Run& r = runs[act][std::size_t(s)];
          csv << e + 1 << "," << act << "," << 1000 * c.seed + std::uint64_t(s) << "," << r.val_acc[std::size_t(e)] << "," << r.train_loss[std::size_t(e)];
          for (double m : r.fc_mean[std::size_t(e)]) csv << "," << m;
          csv << "\n";
        }
    const std::string stem = mlp ? "paper_mlp" : "elu_vs_relu";
    nn::io::write_file_atomic(out + "/" + stem + ".csv", csv.str());

    // summary table, article format plus spread and the paired test
    auto column = [&](const std::string& act, int e, bool acc) {
      std::vector<double> v;
      for (const auto& r : runs[act]) v.push_back(acc ? r.val_acc[std::size_t(e)] : r.train_loss[std::size_t(e)]);
      return v;
    };
    nn::io::JsonObject j;
    j.set("dataset", name).set("seeds", seeds).set("epochs", epochs).set("batch_size", batch).set("lr", lr)
        .set("quick", quick).set("identical_init", true).set("train_images", long(train.size()))
        .set("validation_images", long(val->size())).set("build", nn::build_info());
    const std::string metric_name = mlp ? "training loss" : "validation accuracy (%)";
    std::printf("\n%s over %d seeds, mean +- sd\n", metric_name.c_str(), seeds);
    std::printf("epoch");
    for (const auto& a : acts) std::printf(" %16s", a.c_str());
    std::printf(" %16s %7s %7s\n", (acts[0] + "-" + acts[1]).c_str(), "t", "p");
    for (int e = 0; e < epochs; ++e) {
      std::printf("%5d", e + 1);
      const double scale = mlp ? 1.0 : 100.0;
      for (const auto& a : acts) std::printf(" %16s", pm(column(a, e, !mlp), scale).c_str());
      const auto t = nn::stats::paired_t_test(column(acts[0], e, !mlp), column(acts[1], e, !mlp));
      char d[64];
      std::snprintf(d, sizeof d, "%+6.2f +- %4.2f", scale * t.mean_diff, scale * t.sd_diff);
      std::printf(" %16s %7.2f %7.3f\n", d, t.t, t.p);
      nn::io::JsonObject ej;
      for (const auto& a : acts) {
        ej.set(a + "_mean", nn::stats::mean(column(a, e, !mlp))).set(a + "_sd", nn::stats::stddev(column(a, e, !mlp)));
      }
      ej.set("diff_mean", t.mean_diff).set("diff_sd", t.sd_diff).set("t", t.t).set("p", t.p);
      j.set("epoch_" + std::to_string(e + 1), ej);
    }
    // mean activations of the fully-connected layers after the last epoch
    std::printf("\nmean activation of each fully-connected layer after epoch %d (probe of %lld held-out images):\n", epochs,
                static_cast<long long>(probe_n));
    for (const auto& a : acts) {
      std::printf("%-10s", a.c_str());
      std::vector<double> per_layer;
      for (std::size_t l = 0; l < fc.size(); ++l) {
        std::vector<double> v;
        for (const auto& r : runs[a]) v.push_back(r.fc_mean.back()[l]);
        per_layer.push_back(nn::stats::mean(v));
        std::printf(" fc%zu %s", l + 1, pm(v, 1.0).c_str());
      }
      std::printf("\n");
      j.set_array(a + "_final_fc_mean_activation", per_layer);
    }
    j.save(out + "/metrics.json");

    // plot: the curves with +-sd bands
    const int pw = 560, ph = 440;
    const int panels = mlp ? 1 : 2;
    nn::plot::Image img(pw * panels, ph);
    std::vector<double> ep;
    for (int e = 1; e <= epochs; ++e) ep.push_back(e);
    for (int p = 0; p < panels; ++p) {
      const bool acc = !mlp && p == 0;
      std::vector<nn::plot::Series> series;
      for (std::size_t a = 0; a < acts.size(); ++a) {
        nn::plot::Series s;
        s.name = acts[a] + " (" + std::to_string(seeds) + " seeds, +-sd)";
        s.x = ep;
        s.color = int(a);
        for (int e = 0; e < epochs; ++e) {
          const auto v = column(acts[a], e, acc);
          const double m = nn::stats::mean(v) * (acc ? 100 : 1), sd = nn::stats::stddev(v) * (acc ? 100 : 1);
          s.y.push_back(m), s.lo.push_back(m - sd), s.hi.push_back(m + sd);
        }
        series.push_back(s);
      }
      nn::plot::PlotOptions po;
      po.title = (mlp ? "MNIST MLP 8x128" : name) + (acc ? ": validation accuracy %" : ": training loss");
      po.xlabel = "epoch";
      nn::plot::draw_line_plot(img, p * pw, 0, pw, ph, series, po);
    }
    img.save_png(out + "/" + stem + ".png");
    std::printf("\nwrote %s/{%s.csv, %s.png, metrics.json}\n", out.c_str(), stem.c_str(), stem.c_str());
    return 0;
  });
}
