// nn/optim/schedule.hpp — learning-rate schedules, by epoch.
//   StepLR(step, gamma):          lr = base * gamma^floor(epoch / step)
//   ExponentialLR(gamma):         lr = base * gamma^epoch
//   CosineLR(t_max, min_lr):      lr = min + (base - min) * (1 + cos(pi * epoch / t_max)) / 2,
//                                 held at min after t_max
//   ReduceLROnPlateau:            multiplies the optimizer's lr by `factor` when
//                                 a watched metric has not improved for
//                                 `patience` epochs (PyTorch's rules: relative
//                                 threshold, cooldown, min_lr).
// The closed-form schedules give lr_at(epoch, base); apply() sets it on an
// optimizer. Epochs count from 0.
#pragma once
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>

#include "nn/optim/optimizer.hpp"

namespace nn {

class LRSchedule {
 public:
  virtual ~LRSchedule() = default;
  virtual double lr_at(int epoch, double base) const = 0;
  template <class T>
  void apply(Optimizer<T>& opt, int epoch, double base) const {
    opt.set_lr(lr_at(epoch, base));
  }
};

class StepLR : public LRSchedule {
 public:
  StepLR(int step, double gamma = 0.1) : step_(step), gamma_(gamma) {
    if (step < 1) throw std::invalid_argument("StepLR: step must be >= 1");
  }
  double lr_at(int epoch, double base) const override { return base * std::pow(gamma_, epoch / step_); }

 private:
  int step_;
  double gamma_;
};

class ExponentialLR : public LRSchedule {
 public:
  explicit ExponentialLR(double gamma) : gamma_(gamma) {}
  double lr_at(int epoch, double base) const override { return base * std::pow(gamma_, epoch); }

 private:
  double gamma_;
};

class CosineLR : public LRSchedule {
 public:
  explicit CosineLR(int t_max, double min_lr = 0.0) : t_max_(t_max), min_(min_lr) {
    if (t_max < 1) throw std::invalid_argument("CosineLR: t_max must be >= 1");
  }
  double lr_at(int epoch, double base) const override {
    const int e = std::min(epoch, t_max_);
    return min_ + (base - min_) * 0.5 * (1.0 + std::cos(3.14159265358979323846 * e / t_max_));
  }

 private:
  int t_max_;
  double min_;
};

class ReduceLROnPlateau {
 public:
  enum Mode { Min, Max };
  explicit ReduceLROnPlateau(Mode mode = Min, double factor = 0.1, int patience = 10, double threshold = 1e-4,
                             int cooldown = 0, double min_lr = 0.0)
      : mode_(mode), factor_(factor), patience_(patience), threshold_(threshold), cooldown_(cooldown), min_lr_(min_lr) {
    if (!(factor > 0 && factor < 1)) throw std::invalid_argument("ReduceLROnPlateau: factor must be in (0, 1)");
    best_ = mode == Min ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  }
  // Call once per epoch with the watched metric. Returns true when it reduced lr.
  template <class T>
  bool step(Optimizer<T>& opt, double metric) {
    const bool better = mode_ == Min ? metric < best_ * (1.0 - threshold_) : metric > best_ * (1.0 + threshold_);
    if (better) {
      best_ = metric;
      bad_ = 0;
    } else {
      ++bad_;
    }
    if (cool_ > 0) {
      --cool_;
      bad_ = 0;
    }
    if (bad_ > patience_) {
      const double lr = std::max(opt.lr() * factor_, min_lr_);
      const bool changed = opt.lr() - lr > 1e-12;
      opt.set_lr(lr);
      cool_ = cooldown_;
      bad_ = 0;
      return changed;
    }
    return false;
  }
  double best() const { return best_; }

 private:
  Mode mode_;
  double factor_;
  int patience_;
  double threshold_;
  int cooldown_;
  double min_lr_;
  double best_;
  int bad_ = 0, cool_ = 0;
};

}  // namespace nn
