// nn/train/callbacks.hpp — hooks into fit().
//
// A Callback sees a TrainContext at train begin/end, epoch begin/end and
// after every batch, and can stop training (ctx.stop = true). Built in:
//   EarlyStopping       monitor, mode, patience, min_delta, restore best weights
//   ModelCheckpoint     best and/or last, atomic, optionally with optimizer state
//   LRScheduler         sets the optimizer's lr each epoch from an LRSchedule
//   WarmupCosine        per-step lr: linear warm-up, then cosine decay to min_lr
//   ReduceLROnPlateauCallback   wraps ReduceLROnPlateau on a monitored value
//   CSVLogger           rewrites the history CSV (atomically) after each epoch
//   LambdaCallback      your functions on batch end and epoch end
// The NaN/Inf guard is part of fit() itself (FitOptions::stop_on_nan).
#pragma once
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>

#include "nn/io/serialize.hpp"
#include "nn/optim/schedule.hpp"
#include "nn/train/history.hpp"

namespace nn {

template <class T>
struct TrainContext {
  TrainContext(Model<T>& m, Optimizer<T>& o, History& h) : model(m), opt(o), history(h) {}
  Model<T>& model;  // a Sequential or a Graph
  // The model as a Sequential (for its layers); throws if it is another kind.
  Sequential<T>& sequential() const {
    auto* s = dynamic_cast<Sequential<T>*>(&model);
    if (!s) throw std::logic_error("TrainContext::sequential(): the model being trained is not a Sequential");
    return *s;
  }
  Optimizer<T>& opt;
  History& history;
  int epoch = 0;   // current epoch, from 0
  int epochs = 0;  // total epochs of the run
  long batch = 0, batches = 0;
  double batch_loss = 0;
  std::map<std::string, double> logs;  // this epoch's values (at epoch end)
  bool stop = false;
  std::string stop_reason;
  // This process's rank in data-parallel training (FitOptions::parallel),
  // else 0. Only rank 0 writes files; with several ranks, batch_loss is this
  // rank's, and a callback that stops inside an epoch must decide the same
  // on every rank.
  int rank = 0;
};

template <class T>
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(TrainContext<T>&) {}
  virtual void on_epoch_begin(TrainContext<T>&) {}
  virtual void on_batch_end(TrainContext<T>&) {}
  virtual void on_epoch_end(TrainContext<T>&) {}
  virtual void on_train_end(TrainContext<T>&) {}
};

enum class Mode { Auto, Min, Max };

namespace detail {
inline bool minimize(Mode m, const std::string& monitor) {
  if (m != Mode::Auto) return m == Mode::Min;
  return monitor.find("loss") != std::string::npos;  // losses down, accuracies up
}
inline double monitored(const std::map<std::string, double>& logs, const std::string& key) {
  auto it = logs.find(key);
  if (it == logs.end()) {
    std::string have;
    for (auto& kv : logs) have += " " + kv.first;
    throw std::invalid_argument("callback monitors '" + key + "', which fit() does not log (it logs:" + have + ")");
  }
  return it->second;
}
// Copies of every parameter and buffer, to restore later.
template <class T>
struct Snapshot {
  std::vector<Tensor<T>> tensors;
  void take(Model<T>& m) {
    tensors.clear();
    for (auto& p : m.parameters()) tensors.push_back(p.value->clone());
    for (auto& b : m.buffers()) tensors.push_back(b.second->clone());
  }
  void restore(Model<T>& m) const {
    std::size_t i = 0;
    for (auto& p : m.parameters()) p.value->copy_from(tensors.at(i++));
    for (auto& b : m.buffers()) b.second->copy_from(tensors.at(i++));
  }
  bool empty() const { return tensors.empty(); }
};
}  // namespace detail

template <class T>
class EarlyStopping : public Callback<T> {
 public:
  explicit EarlyStopping(std::string monitor = "val_loss", int patience = 5, double min_delta = 0.0,
                         bool restore_best_weights = true, Mode mode = Mode::Auto)
      : monitor_(std::move(monitor)), patience_(patience), min_delta_(min_delta), restore_(restore_best_weights),
        min_(detail::minimize(mode, monitor_)) {}
  void on_train_begin(TrainContext<T>&) override {
    best_ = min_ ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
    wait_ = 0;
    best_epoch_ = -1;
  }
  void on_epoch_end(TrainContext<T>& ctx) override {
    const double v = detail::monitored(ctx.logs, monitor_);
    const bool better = min_ ? v < best_ - min_delta_ : v > best_ + min_delta_;
    if (better) {
      best_ = v, wait_ = 0, best_epoch_ = ctx.epoch;
      if (restore_) best_weights_.take(ctx.model);
    } else if (++wait_ >= patience_) {
      ctx.stop = true;
      ctx.stop_reason = "early stopping: " + monitor_ + " did not improve for " + std::to_string(patience_) +
                        " epochs (best " + std::to_string(best_) + " at epoch " + std::to_string(best_epoch_ + 1) + ")";
    }
  }
  void on_train_end(TrainContext<T>& ctx) override {
    if (restore_ && !best_weights_.empty()) best_weights_.restore(ctx.model);
  }
  int best_epoch() const { return best_epoch_; }
  double best() const { return best_; }

 private:
  std::string monitor_;
  int patience_;
  double min_delta_;
  bool restore_, min_;
  double best_ = 0;
  int wait_ = 0, best_epoch_ = -1;
  detail::Snapshot<T> best_weights_;
};

// Saves the model (atomically) to best_path when `monitor` improves and/or to
// last_path after every epoch; with_optimizer adds the optimizer state and the
// next epoch, so training can resume from the file.
template <class T>
class ModelCheckpoint : public Callback<T> {
 public:
  ModelCheckpoint(std::string best_path, std::string last_path = "", std::string monitor = "val_loss",
                  bool with_optimizer = true, Mode mode = Mode::Auto)
      : best_path_(std::move(best_path)), last_path_(std::move(last_path)), monitor_(std::move(monitor)),
        with_opt_(with_optimizer), min_(detail::minimize(mode, monitor_)) {}
  void on_train_begin(TrainContext<T>&) override {
    best_ = min_ ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  }
  void on_epoch_end(TrainContext<T>& ctx) override {
    if (ctx.rank != 0) return;
    Optimizer<T>* opt = with_opt_ ? &ctx.opt : nullptr;
    if (!best_path_.empty()) {
      const double v = detail::monitored(ctx.logs, monitor_);
      if (std::isfinite(v) && (min_ ? v < best_ : v > best_)) {
        best_ = v;
        save_model(best_path_, ctx.model, opt, ctx.epoch + 1);
      }
    }
    if (!last_path_.empty()) save_model(last_path_, ctx.model, opt, ctx.epoch + 1);
  }

 private:
  std::string best_path_, last_path_, monitor_;
  bool with_opt_, min_;
  double best_ = 0;
};

template <class T>
class LRScheduler : public Callback<T> {
 public:
  LRScheduler(std::shared_ptr<LRSchedule> schedule, double base_lr) : s_(std::move(schedule)), base_(base_lr) {}
  void on_epoch_begin(TrainContext<T>& ctx) override { ctx.opt.set_lr(s_->lr_at(ctx.epoch, base_)); }

 private:
  std::shared_ptr<LRSchedule> s_;
  double base_;
};

// Sets the learning rate before every step from the training progress t in
// (fractional) epochs: lr = base * t / warmup while t < warmup (at least 1% of
// base), then min + (base - min) * (1 + cos(pi * (t - warmup) / (epochs -
// warmup))) / 2. Warm-up keeps Adam and large learning rates from throwing a
// freshly initialized deep network off course in its first steps.
template <class T>
class WarmupCosine : public Callback<T> {
 public:
  WarmupCosine(double base_lr, double warmup_epochs, int epochs, double min_lr = 0.0)
      : base_(base_lr), warm_(warmup_epochs), epochs_(epochs), min_(min_lr) {
    if (!(base_lr > 0) || !(warmup_epochs >= 0) || epochs < 1 || !(warmup_epochs < epochs) || !(min_lr >= 0))
      throw std::invalid_argument("WarmupCosine: needs base_lr > 0, 0 <= warmup_epochs < epochs, min_lr >= 0");
  }
  double lr_at(double t) const {
    if (t < warm_) return base_ * std::max(t / warm_, 0.01);
    const double f = std::min(1.0, (t - warm_) / (epochs_ - warm_));
    return min_ + (base_ - min_) * 0.5 * (1.0 + std::cos(3.14159265358979323846 * f));
  }
  void on_epoch_begin(TrainContext<T>& ctx) override { ctx.opt.set_lr(lr_at(ctx.epoch)); }
  void on_batch_end(TrainContext<T>& ctx) override {
    ctx.opt.set_lr(lr_at(ctx.epoch + double(ctx.batch + 1) / double(std::max<long>(ctx.batches, 1))));
  }

 private:
  double base_, warm_;
  int epochs_;
  double min_;
};

template <class T>
class ReduceLROnPlateauCallback : public Callback<T> {
 public:
  explicit ReduceLROnPlateauCallback(std::string monitor = "val_loss", double factor = 0.1, int patience = 10,
                                     double min_lr = 0.0)
      : monitor_(std::move(monitor)),
        p_(detail::minimize(Mode::Auto, monitor_) ? ReduceLROnPlateau::Min : ReduceLROnPlateau::Max, factor, patience,
           1e-4, 0, min_lr) {}
  void on_epoch_end(TrainContext<T>& ctx) override { p_.step(ctx.opt, detail::monitored(ctx.logs, monitor_)); }

 private:
  std::string monitor_;
  ReduceLROnPlateau p_;
};

// Rewrites the whole history CSV after every epoch (fit() appends the
// epoch's row before on_epoch_end), so a crash keeps every finished epoch.
template <class T>
class CSVLogger : public Callback<T> {
 public:
  explicit CSVLogger(std::string path) : path_(std::move(path)) {}
  void on_epoch_end(TrainContext<T>& ctx) override {
    if (ctx.rank == 0) ctx.history.save_csv(path_);
  }

 private:
  std::string path_;
};

template <class T>
class LambdaCallback : public Callback<T> {
 public:
  using Fn = std::function<void(TrainContext<T>&)>;
  LambdaCallback(Fn on_batch_end, Fn on_epoch_end) : batch_(std::move(on_batch_end)), epoch_(std::move(on_epoch_end)) {}
  void on_batch_end(TrainContext<T>& ctx) override {
    if (batch_) batch_(ctx);
  }
  void on_epoch_end(TrainContext<T>& ctx) override {
    if (epoch_) epoch_(ctx);
  }

 private:
  Fn batch_, epoch_;
};

}  // namespace nn
