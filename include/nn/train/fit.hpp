// nn/train/fit.hpp — fit(), evaluate() and predict().
//
//   nn::FitOptions<float> o;
//   o.epochs = 10; o.batch_size = 64; o.seed = 1;
//   o.validation_split = 0.1;                 // or o.validation = &val_dataset
//   o.metrics = {"accuracy"};
//   o.callbacks = {std::make_shared<nn::EarlyStopping<float>>("val_accuracy", 3)};
//   nn::History h = nn::fit(model, loss, opt, train_dataset, o);
//   auto scores = nn::evaluate(model, test_dataset, loss, {"accuracy"});
//   nn::Tensor<float> logits = nn::predict(model, images);
//
// Each epoch: the model is put in training mode, its dropout streams are
// reseeded from (seed, epoch), the training order is shuffled with
// Rng(seed, epoch), and batches are augmented per (seed, epoch, sample). So a
// seed fixes everything, and a run resumed at `initial_epoch` from a
// checkpoint continues exactly as an uninterrupted one would (1 thread).
// A trailing batch of one sample is skipped in training (batch norm cannot
// normalize a single value).
//
// NaN/Inf guard (stop_on_nan, on by default): before each optimizer step the
// loss and the gradients are checked; if either is not finite, training stops
// with a message naming the epoch and batch, the step is not taken, and the
// model keeps the last good weights. Checkpoints written earlier stay intact.
//
// Metrics by name: "accuracy", "topK_accuracy" (e.g. "top5_accuracy"),
// "subset_accuracy" and "macro_f1" (multi-label, threshold 0.5). With label
// targets the default is {"accuracy"}.
#pragma once
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "nn/data/batch.hpp"
#include "nn/kernels/activations.hpp"
#include "nn/data/split.hpp"
#include "nn/losses/loss.hpp"
#include "nn/train/callbacks.hpp"
#include "nn/train/metrics.hpp"
#include "nn/train/progress.hpp"

namespace nn {

template <class T>
std::unique_ptr<Metric<T>> make_metric(const std::string& name) {
  if (name == "accuracy") return std::make_unique<Accuracy<T>>();
  if (name == "subset_accuracy") return std::make_unique<SubsetAccuracy<T>>();
  if (name == "macro_f1") return std::make_unique<MultilabelF1<T>>();
  if (name.size() > 12 && name.compare(0, 3, "top") == 0 && name.compare(name.size() - 9, 9, "_accuracy") == 0) {
    const int k = std::atoi(name.substr(3, name.size() - 12).c_str());
    if (k >= 1) return std::make_unique<TopKAccuracy<T>>(k);
  }
  throw std::invalid_argument("unknown metric '" + name +
                              "' (known: accuracy, topK_accuracy, subset_accuracy, macro_f1)");
}

template <class T>
struct FitOptions {
  int epochs = 10;
  int initial_epoch = 0;  // resume: the first epoch to run (from load_training_state)
  Index batch_size = 32;
  std::uint64_t seed = 0;
  bool shuffle = true;
  const data::Dataset<T>* validation = nullptr;
  double validation_split = 0.0;  // used when validation is null: a seeded random fraction of train
  std::vector<std::string> metrics;  // empty: {"accuracy"} for label targets
  std::vector<std::shared_ptr<Callback<T>>> callbacks;
  data::Augment augment;  // applied to training batches only
  bool stop_on_nan = true;
  Progress progress = Progress::Auto;
  std::ostream* out = &std::cout;
};

namespace detail {
template <class T>
std::vector<std::string> default_metrics(const data::Dataset<T>& ds, const std::vector<std::string>& given) {
  if (!given.empty()) return given;
  if (ds.target_shape().rank() == 0) return {"accuracy"};
  return {};
}
template <class T>
bool all_finite_grads(Sequential<T>& m) {
  for (auto& p : m.parameters())
    if (!p.grad->all_finite()) return false;
  return true;
}
template <class T>
bool all_finite_params(Sequential<T>& m) {
  for (auto& p : m.parameters())
    if (!p.value->all_finite()) return false;
  return true;
}
}  // namespace detail

// Loss and metrics of `model` on `ds`, in eval mode. Keys: "loss" and the metric names.
template <class T>
std::map<std::string, double> evaluate(Sequential<T>& model, const data::Dataset<T>& ds, const Loss<T>& loss,
                                       std::vector<std::string> metrics = {}, Index batch_size = 256) {
  if (ds.size() == 0) throw std::invalid_argument("evaluate: empty dataset");
  metrics = detail::default_metrics(ds, metrics);
  std::vector<std::unique_ptr<Metric<T>>> ms;
  for (auto& n : metrics) ms.push_back(make_metric<T>(n));
  std::vector<Index> order(static_cast<std::size_t>(ds.size()));
  std::iota(order.begin(), order.end(), 0);
  data::BatchIterator<T> it(ds, order, batch_size);
  Tensor<T> x, y;
  double sum = 0;
  while (it.next(x, y)) {
    const Tensor<T>& out = model.forward(x, false);
    const T l = loss.compute(out, y, nullptr);
    sum += double(l) * (loss.reduction() == Reduction::Mean ? double(x.dim(0)) : 1.0);
    for (auto& m : ms) m->update(out, y);
  }
  std::map<std::string, double> r;
  r["loss"] = loss.reduction() == Reduction::Mean ? sum / double(ds.size()) : sum;
  for (auto& m : ms) r[m->name()] = m->value();
  return r;
}

// Model outputs for inputs (N, ...), in eval mode, in batches.
template <class T>
Tensor<T> predict(Sequential<T>& model, const Tensor<T>& x, Index batch_size = 256) {
  if (x.rank() < 1 || x.dim(0) == 0) throw std::invalid_argument("predict: empty input " + x.shape().str());
  const Index N = x.dim(0), d = x.size() / N;
  Tensor<T> out, xb;
  for (Index s = 0; s < N; s += batch_size) {
    const Index n = std::min(batch_size, N - s);
    xb.resize(x.shape().tail().with_batch(n));
    std::copy(x.data() + s * d, x.data() + (s + n) * d, xb.data());
    const Tensor<T>& y = model.forward(xb, false);
    if (s == 0) out = Tensor<T>(y.shape().tail().with_batch(N));
    const Index dy = y.size() / n;
    std::copy(y.data(), y.data() + y.size(), out.data() + s * dy);
  }
  return out;
}

// Probabilities from logits (N, classes): the softmax of each row.
template <class T>
Tensor<T> softmax(const Tensor<T>& logits) {
  if (logits.rank() != 2 || logits.dim(1) < 1)
    throw std::invalid_argument("softmax: logits " + logits.shape().str() + " are not (N, classes)");
  Tensor<T> p(logits.shape());
  kernels::softmax_forward(logits.data(), p.data(), logits.dim(0), logits.dim(1));
  return p;
}

// Class probabilities for inputs (N, ...): softmax(predict(model, x)).
template <class T>
Tensor<T> predict_proba(Sequential<T>& model, const Tensor<T>& x, Index batch_size = 256) {
  return softmax(predict(model, x, batch_size));
}

template <class T>
History fit(Sequential<T>& model, const Loss<T>& loss, Optimizer<T>& opt, const data::Dataset<T>& train,
            const FitOptions<T>& o = {}) {
  if (o.epochs < 1 || o.batch_size < 1) throw std::invalid_argument("fit: epochs and batch_size must be >= 1");
  if (o.initial_epoch < 0 || o.initial_epoch > o.epochs)
    throw std::invalid_argument("fit: initial_epoch must be in [0, epochs]");
  if (!(o.validation_split >= 0 && o.validation_split < 1))
    throw std::invalid_argument("fit: validation_split must be in [0, 1)");
  if (train.size() == 0) throw std::invalid_argument("fit: empty training set");
  if (!model.built()) model.build(train.input_shape());
  if (train.input_shape() != model.input_shape())
    throw std::invalid_argument("fit: the dataset's samples are " + train.input_shape().str() + ", the model takes " +
                                model.input_shape().str());

  // training indices and validation set
  std::vector<Index> train_idx(static_cast<std::size_t>(train.size()));
  std::iota(train_idx.begin(), train_idx.end(), 0);
  std::unique_ptr<data::Subset<T>> val_split;
  const data::Dataset<T>* val = o.validation;
  if (!val && o.validation_split > 0) {
    auto parts = data::split_indices(train.size(), {1 - o.validation_split, o.validation_split},
                                     data::mix_seed(o.seed, 0xFA11));
    if (parts[1].empty() || parts[0].empty()) throw std::invalid_argument("fit: validation_split leaves an empty part");
    train_idx = parts[0];
    std::sort(train_idx.begin(), train_idx.end());
    val_split = std::make_unique<data::Subset<T>>(train, parts[1]);
    val = val_split.get();
  }
  const auto metric_names = detail::default_metrics(train, o.metrics);
  std::vector<std::unique_ptr<Metric<T>>> metrics;
  for (auto& n : metric_names) metrics.push_back(make_metric<T>(n));

  History history;
  TrainContext<T> ctx(model, opt, history);
  ctx.epochs = o.epochs;
  ProgressDisplay progress(o.progress, *o.out);
  for (auto& cb : o.callbacks) cb->on_train_begin(ctx);
  detail::Snapshot<T> epoch_start;

  Tensor<T> x, y, grad;
  bool non_finite = false;
  for (int epoch = o.initial_epoch; epoch < o.epochs && !ctx.stop; ++epoch) {
    ctx.epoch = epoch;
    model.train();
    model.reseed_layers(data::mix_seed(o.seed, std::uint64_t(epoch), 1));
    std::vector<Index> order = train_idx;
    if (o.shuffle) {
      Rng rng(data::mix_seed(o.seed, std::uint64_t(epoch), 2));
      data::shuffle(order, rng);
    }
    for (auto& cb : o.callbacks) cb->on_epoch_begin(ctx);
    if (o.stop_on_nan) epoch_start.take(model);
    data::BatchIterator<T> it(train, order, o.batch_size, &o.augment, o.seed, epoch);
    ctx.batches = it.batches();
    progress.begin_epoch(epoch + 1, o.epochs, ctx.batches);
    for (auto& m : metrics) m->reset();
    double loss_sum = 0;
    Index seen = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (ctx.batch = 0; it.next(x, y); ++ctx.batch) {
      const Index n = x.dim(0);
      if (n == 1 && ctx.batch > 0) continue;  // a trailing single sample: batch norm cannot train on it
      model.zero_grad();
      const Tensor<T>& out = model.forward(x, true);
      const T l = loss.compute(out, y, &grad);
      for (auto& m : metrics) m->update(out, y);
      ctx.batch_loss = double(l);
      const bool finite_loss = std::isfinite(ctx.batch_loss);
      if (finite_loss) model.backward(grad);
      if (o.stop_on_nan && (!finite_loss || !detail::all_finite_grads(model))) {
        std::string kept = "kept the weights from before this batch";
        if (!detail::all_finite_params(model)) {
          epoch_start.restore(model);
          kept = "restored the weights from the start of the epoch";
        }
        ctx.stop = non_finite = true;
        ctx.stop_reason = std::string("non-finite ") + (finite_loss ? "gradient" : "loss (" + std::to_string(ctx.batch_loss) + ")") +
                          " at epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(ctx.batch + 1) + "/" +
                          std::to_string(ctx.batches) + "; training stopped and " + kept;
        break;
      }
      opt.step();
      loss_sum += double(l) * double(n);
      seen += n;
      for (auto& cb : o.callbacks) cb->on_batch_end(ctx);
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::vector<std::pair<std::string, double>> running{{"loss", loss_sum / double(seen)}};
      for (auto& m : metrics) running.push_back({m->name(), m->value()});
      progress.batch(ctx.batch + 1, running, double(seen) / std::max(el, 1e-9), el);
      if (ctx.stop) break;
    }
    if (non_finite || (ctx.stop && seen == 0)) break;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ctx.logs.clear();
    std::vector<std::pair<std::string, double>> shown;
    auto log = [&](const std::string& k, double v, bool show = true) {
      ctx.logs[k] = v;
      history.add(k, v);
      if (show) shown.push_back({k, v});
    };
    log("epoch", epoch + 1, false);
    log("loss", loss_sum / double(std::max<Index>(seen, 1)));
    for (auto& m : metrics) log(m->name(), m->value());
    if (val) {
      auto r = evaluate(model, *val, loss, metric_names, std::max<Index>(o.batch_size, 256));
      log("val_loss", r["loss"]);
      for (auto& m : metrics) log("val_" + m->name(), r[m->name()]);
    }
    log("lr", opt.lr());
    log("seconds", secs, false);
    log("images_per_second", double(seen) / std::max(secs, 1e-9), false);
    progress.end_epoch(shown, secs, double(seen) / std::max(secs, 1e-9));
    for (auto& cb : o.callbacks) cb->on_epoch_end(ctx);
  }
  if (ctx.stop && !ctx.stop_reason.empty()) progress.message(ctx.stop_reason);
  history.stop_reason = ctx.stop_reason;
  for (auto& cb : o.callbacks) cb->on_train_end(ctx);
  model.eval();
  return history;
}

}  // namespace nn
