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
// Several inputs and outputs (a Graph): a MultiDataset whose input names are
// the graph's input names, and one loss per trained output, matched by name
// to a target of the dataset:
//   nn::Losses<float> losses;
//   losses.add("category", ce, 1.0, {"accuracy"}).add("tags", bce, 0.5, {"macro_f1"});
//   o.validation_data = &val_multi;           // or validation_split
//   nn::History h = nn::fit(graph, losses, opt, train_multi, o);
// The loss minimized is the weighted sum; the history records it as "loss"
// and each output's as "<output>_loss", with metrics "<output>_<metric>"
// (and "val_" versions). Outputs without a loss get a zero gradient.
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
// "subset_accuracy" and "macro_f1" (multi-label, threshold 0.5), "mean_iou"
// (segmentation), "binary_accuracy" (Keras' binary accuracy of a softmax).
// With label targets the default is {"accuracy"}.
#pragma once
#include <chrono>
#include <cmath>
#include <exception>
#include <iostream>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "nn/data/batch.hpp"
#include "nn/data/multi.hpp"
#include "nn/data/split.hpp"
#include "nn/kernels/activations.hpp"
#include "nn/losses/loss.hpp"
#include "nn/model/model.hpp"
#include "nn/model/sequential.hpp"
#include "nn/train/callbacks.hpp"
#include "nn/train/data_parallel.hpp"
#include "nn/train/metrics.hpp"
#include "nn/train/progress.hpp"

namespace nn {

template <class T>
std::unique_ptr<Metric<T>> make_metric(const std::string& name) {
  if (name == "accuracy") return std::make_unique<Accuracy<T>>();
  if (name == "subset_accuracy") return std::make_unique<SubsetAccuracy<T>>();
  if (name == "macro_f1") return std::make_unique<MultilabelF1<T>>();
  if (name == "mean_iou") return std::make_unique<MeanIoU<T>>();
  if (name == "binary_accuracy") return std::make_unique<SoftmaxBinaryAccuracy<T>>();
  if (name == "masked_accuracy") return std::make_unique<MaskedTopKAccuracy<T>>(1);
  if (name.size() > 19 && name.compare(0, 10, "masked_top") == 0 && name.compare(name.size() - 9, 9, "_accuracy") == 0) {
    const int k = std::atoi(name.substr(10, name.size() - 19).c_str());
    if (k >= 1) return std::make_unique<MaskedTopKAccuracy<T>>(k);
  }
  if (name.size() > 12 && name.compare(0, 3, "top") == 0 && name.compare(name.size() - 9, 9, "_accuracy") == 0) {
    const int k = std::atoi(name.substr(3, name.size() - 12).c_str());
    if (k >= 1) return std::make_unique<TopKAccuracy<T>>(k);
  }
  throw std::invalid_argument("unknown metric '" + name +
                              "' (known: accuracy, topK_accuracy, subset_accuracy, macro_f1, mean_iou, binary_accuracy, masked_accuracy, "
                              "masked_topK_accuracy)");
}

// The loss of one output of a model, its weight in the total and its metrics.
template <class T>
struct OutputLoss {
  std::string output;
  const Loss<T>* loss = nullptr;  // not owned: it must outlive fit()
  double weight = 1.0;
  std::vector<std::string> metrics;  // empty: {"accuracy"} for label targets
};
template <class T>
class Losses {
 public:
  Losses& add(std::string output, const Loss<T>& loss, double weight = 1.0, std::vector<std::string> metrics = {}) {
    if (!(weight >= 0 && std::isfinite(weight)))
      throw std::invalid_argument("Losses::add: the weight of '" + output + "' must be finite and >= 0");
    for (const auto& h : heads_)
      if (h.output == output) throw std::invalid_argument("Losses::add: two losses for output '" + output + "'");
    heads_.push_back({std::move(output), &loss, weight, std::move(metrics)});
    return *this;
  }
  const std::vector<OutputLoss<T>>& heads() const { return heads_; }

 private:
  std::vector<OutputLoss<T>> heads_;
};

template <class T>
struct FitOptions {
  int epochs = 10;
  int initial_epoch = 0;  // resume: the first epoch to run (from load_training_state)
  Index batch_size = 32;
  std::uint64_t seed = 0;
  bool shuffle = true;
  const data::Dataset<T>* validation = nullptr;             // fit on a Dataset
  const data::MultiDataset<T>* validation_data = nullptr;   // fit on a MultiDataset
  double validation_split = 0.0;  // used without a validation set: a seeded random fraction of train
  std::vector<std::string> metrics;  // fit on a Dataset; empty: {"accuracy"} for label targets
  std::vector<std::shared_ptr<Callback<T>>> callbacks;
  data::Augment augment;  // applied to training batches only
  bool stop_on_nan = true;
  Progress progress = Progress::Auto;
  std::ostream* out = &std::cout;
  // Data-parallel training over several processes (nn/train/data_parallel.hpp;
  // nn::dist::MpiDataParallel in nn/dist/mpi.hpp); not owned.
  DataParallel<T>* parallel = nullptr;
};

namespace detail {
template <class T>
bool all_finite_grads(Model<T>& m) {
  for (auto& p : m.parameters())
    if (!p.grad->all_finite()) return false;
  return true;
}
template <class T>
bool all_finite_params(Model<T>& m) {
  for (auto& p : m.parameters())
    if (!p.value->all_finite()) return false;
  return true;
}

// A loss bound to a model output and a dataset target.
template <class T>
struct Head {
  std::size_t out = 0, target = 0;
  const Loss<T>* loss = nullptr;
  double weight = 1.0;
  std::string prefix;  // "" with one loss, else "<output>_"
  std::vector<std::string> metric_names;
  std::vector<std::unique_ptr<Metric<T>>> metrics;
  Tensor<T> grad;
  double sum = 0;  // sum over samples of the loss (for a mean loss: loss * n)
};

// How a model meets a dataset: model input i reads dataset input input_of[i].
template <class T>
struct Binding {
  std::vector<std::size_t> input_of;
  std::vector<Head<T>> heads;
  std::vector<char> has_head;  // per model output
  std::vector<Tensor<T>> zeros;  // gradients of outputs without a loss

  // by_position: one input and one output, matched whatever their names.
  Binding(Model<T>& m, const data::MultiDataset<T>& ds, const std::vector<OutputLoss<T>>& losses, bool by_position) {
    const auto in_names = ds.input_names(), t_names = ds.target_names();
    const auto in_shapes = ds.input_shapes(), t_shapes = ds.target_shapes();
    auto find = [](const std::vector<std::string>& v, const std::string& n) {
      for (std::size_t i = 0; i < v.size(); ++i)
        if (v[i] == n) return i;
      return v.size();
    };
    auto list = [](const std::vector<std::string>& v) {
      std::string r;
      for (auto& n : v) r += (r.empty() ? "'" : ", '") + n + "'";
      return r.empty() ? std::string("none") : r;
    };
    if (losses.empty()) throw std::invalid_argument("fit: no loss given");
    for (std::size_t i = 0; i < m.num_inputs(); ++i) {
      const std::size_t k = by_position ? 0 : find(in_names, m.input_name(i));
      if (k >= in_names.size())
        throw std::invalid_argument("fit: the model's input '" + m.input_name(i) +
                                    "' has no dataset input of that name (the dataset has " + list(in_names) + ")");
      if (in_shapes[k] != m.input_shape(i))
        throw std::invalid_argument("fit: the dataset's samples are " + in_shapes[k].str() + ", the model takes " +
                                    m.input_shape(i).str() + (by_position ? "" : " at input '" + m.input_name(i) + "'"));
      input_of.push_back(k);
    }
    has_head.assign(m.num_outputs(), 0);
    std::vector<std::string> out_names;
    for (std::size_t o = 0; o < m.num_outputs(); ++o) out_names.push_back(m.output_name(o));
    for (const auto& l : losses) {
      Head<T> h;
      h.out = by_position ? 0 : find(out_names, l.output);
      if (h.out >= out_names.size())
        throw std::invalid_argument("fit: a loss for output '" + l.output + "', which the model does not have (it has " +
                                    list(out_names) + ")");
      h.target = by_position ? 0 : find(t_names, l.output);
      if (h.target >= t_names.size())
        throw std::invalid_argument("fit: the dataset has no target '" + l.output + "' for the output of that name (it has " +
                                    list(t_names) + ")");
      h.loss = l.loss;
      h.weight = l.weight;
      h.prefix = losses.size() > 1 ? l.output + "_" : "";
      h.metric_names = l.metrics;
      if (h.metric_names.empty() && t_shapes[h.target].rank() == 0) h.metric_names = {"accuracy"};
      for (auto& n : h.metric_names) h.metrics.push_back(make_metric<T>(n));
      has_head[h.out] = 1;
      heads.push_back(std::move(h));
    }
    zeros.resize(m.num_outputs());
  }
  void reset() {
    for (auto& h : heads) {
      h.sum = 0;
      for (auto& mt : h.metrics) mt->reset();
    }
  }
  // One batch: forward, losses (weighted, into each head's sum), metrics;
  // with grads, the weighted loss gradients per output in dys. Returns the
  // batch's total loss (the weighted sum of the heads' losses).
  double run(Model<T>& m, const std::vector<Tensor<T>>& xs, const std::vector<Tensor<T>>& ys, bool training,
             std::vector<const Tensor<T>*>* dys) {
    xptr.clear();
    for (auto k : input_of) xptr.push_back(&xs[k]);
    const auto& outs = m.forward(xptr, training);
    const Index n = xs[0].dim(0);
    double total = 0;
    if (dys) dys->assign(outs.size(), nullptr);
    for (auto& h : heads) {
      const T l = h.loss->compute(*outs[h.out], ys[h.target], dys ? &h.grad : nullptr);
      total += h.weight == 1.0 ? double(l) : h.weight * double(l);
      h.sum += double(l) * (h.loss->reduction() == Reduction::Mean ? double(n) : 1.0);
      if (dys) {
        if (h.weight != 1.0) h.grad.array() *= static_cast<T>(h.weight);
        (*dys)[h.out] = &h.grad;
      }
      for (auto& mt : h.metrics) mt->update(*outs[h.out], ys[h.target]);
    }
    if (dys)
      for (std::size_t o = 0; o < outs.size(); ++o)
        if (!has_head[o]) {
          zeros[o].resize(outs[o]->shape());
          zeros[o].zero();
          (*dys)[o] = &zeros[o];
        }
    return total;
  }
  // Per-sample losses and metric values after `seen` samples, by history key.
  std::vector<std::pair<std::string, double>> values(double total_sum, Index seen) const {
    std::vector<std::pair<std::string, double>> v;
    const double denom = double(std::max<Index>(seen, 1));
    v.push_back({"loss", total_sum / denom});
    if (heads.size() > 1)
      for (auto& h : heads) v.push_back({h.prefix + "loss", h.loss->reduction() == Reduction::Mean ? h.sum / denom : h.sum});
    for (auto& h : heads)
      for (auto& mt : h.metrics) v.push_back({h.prefix + mt->name(), mt->value()});
    return v;
  }
  std::vector<const Tensor<T>*> xptr;
};

// Sums `extra`, the heads' loss sums and the metrics' states over the ranks
// (a rank that saw nothing has empty metric states: their lengths are
// agreed first); returns the summed `extra`.
template <class T>
std::vector<double> combine(Binding<T>& b, std::vector<double> extra, DataParallel<T>& dp) {
  std::vector<std::vector<double>> st;
  std::vector<double> len;
  for (auto& h : b.heads)
    for (auto& m : h.metrics) st.push_back(m->state()), len.push_back(double(st.back().size()));
  dp.max(len);
  std::vector<double> v = extra;
  for (auto& h : b.heads) v.push_back(h.sum);
  for (std::size_t i = 0; i < st.size(); ++i) {
    st[i].resize(std::size_t(len[i]), 0.0);
    v.insert(v.end(), st[i].begin(), st[i].end());
  }
  dp.sum(v);
  std::size_t k = extra.size(), i = 0;
  for (auto& h : b.heads) h.sum = v[k++];
  for (auto& h : b.heads)
    for (auto& m : h.metrics) {
      m->set_state(std::vector<double>(v.begin() + std::ptrdiff_t(k), v.begin() + std::ptrdiff_t(k + std::size_t(len[i]))));
      k += std::size_t(len[i++]);
    }
  return std::vector<double>(v.begin(), v.begin() + std::ptrdiff_t(extra.size()));
}

// Loss and metrics on a whole dataset, in eval mode; with dp, each rank
// evaluates its share and the results are combined.
template <class T>
std::map<std::string, double> evaluate(Model<T>& model, Binding<T>& b, const data::MultiDataset<T>& ds,
                                       Index batch_size, DataParallel<T>* dp = nullptr) {
  if (ds.size() == 0) throw std::invalid_argument("evaluate: empty dataset");
  b.reset();
  std::vector<Index> order(static_cast<std::size_t>(ds.size()));
  std::iota(order.begin(), order.end(), 0);
  if (dp) order = shard(order, dp->rank(), dp->ranks(), false);
  data::MultiBatchIterator<T> it(ds, order, batch_size);
  std::vector<Tensor<T>> xs, ys;
  while (it.next(xs, ys)) b.run(model, xs, ys, false, nullptr);
  if (dp) combine(b, {}, *dp);
  std::map<std::string, double> r;
  double total = 0;
  for (auto& h : b.heads) {
    const double v = h.loss->reduction() == Reduction::Mean ? h.sum / double(ds.size()) : h.sum;
    total += h.weight * v;
    if (b.heads.size() > 1) r[h.prefix + "loss"] = v;
    for (auto& mt : h.metrics) r[h.prefix + mt->name()] = mt->value();
  }
  r["loss"] = total;
  return r;
}

template <class T>
History fit(Model<T>& model, Binding<T>& b, Optimizer<T>& opt, const data::MultiDataset<T>& train,
            const data::MultiDataset<T>* val, const FitOptions<T>& o);
}  // namespace detail

// Loss and metrics of a one-input, one-output model on `ds`, in eval mode.
// Keys: "loss" and the metric names.
template <class T>
std::map<std::string, double> evaluate(Model<T>& model, const data::Dataset<T>& ds, const Loss<T>& loss,
                                       std::vector<std::string> metrics = {}, Index batch_size = 256) {
  const data::Single<T> single(ds);
  detail::Binding<T> b(model, single, {{"output", &loss, 1.0, std::move(metrics)}}, true);
  return detail::evaluate(model, b, single, batch_size);
}
// Losses and metrics of a model on a MultiDataset, in eval mode: keys as in
// fit's history ("loss", "<output>_loss", "<output>_<metric>").
template <class T>
std::map<std::string, double> evaluate(Model<T>& model, const data::MultiDataset<T>& ds, const Losses<T>& losses,
                                       Index batch_size = 256) {
  detail::Binding<T> b(model, ds, losses.heads(), false);
  return detail::evaluate(model, b, ds, batch_size);
}

// Model outputs for inputs xs[i] (N, input i...), in eval mode, in batches:
// one tensor per output.
template <class T>
std::vector<Tensor<T>> predict(Model<T>& model, const std::vector<const Tensor<T>*>& xs, Index batch_size = 256) {
  if (xs.size() != model.num_inputs())
    throw std::invalid_argument("predict: " + std::to_string(xs.size()) + " inputs given, the model has " +
                                std::to_string(model.num_inputs()));
  if (xs.empty() || !xs[0] || xs[0]->rank() < 1 || xs[0]->dim(0) == 0)
    throw std::invalid_argument("predict: empty input");
  const Index N = xs[0]->dim(0);
  std::vector<Tensor<T>> out, xb(xs.size());
  std::vector<const Tensor<T>*> ptrs;
  for (auto& t : xb) ptrs.push_back(&t);
  for (Index s = 0; s < N; s += batch_size) {
    const Index n = std::min(batch_size, N - s);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      if (!xs[i] || xs[i]->rank() < 1 || xs[i]->dim(0) != N)
        throw std::invalid_argument("predict: input " + std::to_string(i) + " does not have " + std::to_string(N) +
                                    " samples");
      const Index d = xs[i]->size() / N;
      xb[i].resize(xs[i]->shape().tail().with_batch(n));
      std::copy(xs[i]->data() + s * d, xs[i]->data() + (s + n) * d, xb[i].data());
    }
    const auto& ys = model.forward(ptrs, false);
    if (s == 0)
      for (auto* y : ys) out.emplace_back(y->shape().tail().with_batch(N));
    for (std::size_t k = 0; k < ys.size(); ++k) {
      const Index dy = ys[k]->size() / n;
      std::copy(ys[k]->data(), ys[k]->data() + ys[k]->size(), out[k].data() + s * dy);
    }
  }
  return out;
}
// Model outputs for inputs (N, ...) of a one-input, one-output model.
template <class T>
Tensor<T> predict(Model<T>& model, const Tensor<T>& x, Index batch_size = 256) {
  if (x.rank() < 1 || x.dim(0) == 0) throw std::invalid_argument("predict: empty input " + x.shape().str());
  if (model.num_outputs() != 1)
    throw std::invalid_argument("predict: the model has " + std::to_string(model.num_outputs()) +
                                " outputs; pass its inputs as a vector");
  return std::move(predict(model, std::vector<const Tensor<T>*>{&x}, batch_size)[0]);
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
Tensor<T> predict_proba(Model<T>& model, const Tensor<T>& x, Index batch_size = 256) {
  return softmax(predict(model, x, batch_size));
}

// Trains a one-input, one-output model (a Sequential is built for the
// dataset's samples if it is not built yet).
template <class T>
History fit(Model<T>& model, const Loss<T>& loss, Optimizer<T>& opt, const data::Dataset<T>& train,
            const FitOptions<T>& o = {}) {
  if (o.validation_data) throw std::invalid_argument("fit: validation_data is for MultiDatasets; use validation");
  if (train.size() == 0) throw std::invalid_argument("fit: empty training set");
  if (auto* seq = dynamic_cast<Sequential<T>*>(&model); seq && !seq->built()) seq->build(train.input_shape());
  const data::Single<T> single(train);
  std::unique_ptr<data::Single<T>> val;
  if (o.validation) val = std::make_unique<data::Single<T>>(*o.validation);
  detail::Binding<T> b(model, single, {{"output", &loss, 1.0, o.metrics}}, true);
  return detail::fit(model, b, opt, single, val.get(), o);
}
// Trains a model on a MultiDataset with one loss per trained output.
template <class T>
History fit(Model<T>& model, const Losses<T>& losses, Optimizer<T>& opt, const data::MultiDataset<T>& train,
            const FitOptions<T>& o = {}) {
  if (o.validation) throw std::invalid_argument("fit: validation is for Datasets; use validation_data");
  if (!o.metrics.empty()) throw std::invalid_argument("fit: give a MultiDataset's metrics per output in Losses::add");
  detail::Binding<T> b(model, train, losses.heads(), false);
  return detail::fit(model, b, opt, train, o.validation_data, o);
}

namespace detail {
template <class T>
History fit(Model<T>& model, Binding<T>& b, Optimizer<T>& opt, const data::MultiDataset<T>& train,
            const data::MultiDataset<T>* val, const FitOptions<T>& o) {
  if (o.epochs < 1 || o.batch_size < 1) throw std::invalid_argument("fit: epochs and batch_size must be >= 1");
  if (o.initial_epoch < 0 || o.initial_epoch > o.epochs)
    throw std::invalid_argument("fit: initial_epoch must be in [0, epochs]");
  if (!(o.validation_split >= 0 && o.validation_split < 1))
    throw std::invalid_argument("fit: validation_split must be in [0, 1)");
  if (train.size() == 0) throw std::invalid_argument("fit: empty training set");

  // training indices and validation set
  std::vector<Index> train_idx(static_cast<std::size_t>(train.size()));
  std::iota(train_idx.begin(), train_idx.end(), 0);
  std::unique_ptr<data::MultiSubset<T>> val_split;
  if (!val && o.validation_split > 0) {
    auto parts = data::split_indices(train.size(), {1 - o.validation_split, o.validation_split},
                                     data::mix_seed(o.seed, 0xFA11));
    if (parts[1].empty() || parts[0].empty()) throw std::invalid_argument("fit: validation_split leaves an empty part");
    train_idx = parts[0];
    std::sort(train_idx.begin(), train_idx.end());
    val_split = std::make_unique<data::MultiSubset<T>>(train, parts[1]);
    val = val_split.get();
  }

  DataParallel<T>* dp = o.parallel;
  History history;
  TrainContext<T> ctx(model, opt, history);
  ctx.epochs = o.epochs;
  ctx.rank = dp ? dp->rank() : 0;
  ProgressDisplay progress(ctx.rank == 0 ? o.progress : Progress::Off, *o.out);
  if (dp) dp->start(model);
  struct StopGuard {  // the runtime's hooks leave the model however fit ends
    DataParallel<T>* dp;
    Model<T>& m;
    ~StopGuard() {
      if (dp) dp->stop(m);
    }
  } stop_guard{dp, model};
  for (auto& cb : o.callbacks) cb->on_train_begin(ctx);
  detail::Snapshot<T> epoch_start;

  std::vector<Tensor<T>> xs, ys;
  std::vector<const Tensor<T>*> dys;
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
    if (dp) order = shard(order, dp->rank(), dp->ranks(), true);
    for (auto& cb : o.callbacks) cb->on_epoch_begin(ctx);
    if (o.stop_on_nan) epoch_start.take(model);
    data::MultiBatchIterator<T> it(train, order, o.batch_size, &o.augment, o.seed, epoch);
    ctx.batches = it.batches();
    progress.begin_epoch(epoch + 1, o.epochs, ctx.batches);
    b.reset();
    double loss_sum = 0;
    Index seen = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (ctx.batch = 0;; ++ctx.batch) {
      // With several ranks, a rank whose batch fails (a bad sample file, a
      // NaN input, a shape error) must not leave the others waiting in the
      // gradient average: the failure is caught, every rank learns of it
      // below, and every rank throws.
      std::exception_ptr failure;
      bool more = false, skip = false;
      double l = 0;
      try {
        more = it.next(xs, ys);
        skip = !more || (xs[0].dim(0) == 1 && ctx.batch > 0);  // a trailing single sample: batch norm cannot train on it
        if (!skip) {
          model.zero_grad();
          l = b.run(model, xs, ys, true, &dys);
        }
      } catch (...) {
        if (!dp) throw;
        failure = std::current_exception();
      }
      bool finite_loss = skip || std::isfinite(l);
      if (dp) {  // every rank must take the same branch: one failure or non-finite loss stops all
        std::vector<double> flags{finite_loss ? 0.0 : 1.0, failure ? 1.0 : 0.0};
        dp->sum(flags);
        finite_loss = flags[0] == 0;
        if (flags[1] > 0) {
          std::vector<double> who{failure ? double(dp->rank()) : -1.0};
          dp->max(who);
          if (failure) std::rethrow_exception(failure);
          throw std::runtime_error("fit: rank " + std::to_string(int(who[0])) + " of " + std::to_string(dp->ranks()) +
                                   " failed at epoch " + std::to_string(epoch + 1) + ", batch " +
                                   std::to_string(ctx.batch + 1) + " (its error is on its output); every rank stops");
        }
      }
      if (!more) break;
      if (skip) continue;
      const Index n = xs[0].dim(0);
      ctx.batch_loss = l;
      if (finite_loss) {
        model.backward(dys);
        if (dp) dp->average_gradients(model);
      }
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
      loss_sum += l * double(n);
      seen += n;
      for (auto& cb : o.callbacks) cb->on_batch_end(ctx);
      const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      progress.batch(ctx.batch + 1, b.values(loss_sum, seen), double(seen) / std::max(el, 1e-9), el);
      if (ctx.stop) break;
    }
    if (non_finite || (ctx.stop && seen == 0)) break;
    if (dp) {  // the epoch's loss and metrics over every rank's samples
      const auto e = combine(b, {loss_sum, double(seen)}, *dp);
      loss_sum = e[0], seen = Index(e[1]);
      dp->end_epoch(model);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ctx.logs.clear();
    std::vector<std::pair<std::string, double>> shown;
    auto log = [&](const std::string& k, double v, bool show = true) {
      ctx.logs[k] = v;
      history.add(k, v);
      if (show) shown.push_back({k, v});
    };
    log("epoch", epoch + 1, false);
    for (const auto& kv : b.values(loss_sum, seen)) log(kv.first, kv.second);
    if (val) {
      const auto keys = b.values(loss_sum, seen);
      auto r = detail::evaluate(model, b, *val, std::max<Index>(o.batch_size, 256), dp);
      for (const auto& kv : keys) log("val_" + kv.first, r[kv.first]);
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
}  // namespace detail

}  // namespace nn
