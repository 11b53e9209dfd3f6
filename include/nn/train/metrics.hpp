// nn/train/metrics.hpp — classification metrics.
//
// Streaming metrics for fit()/evaluate() (update per batch, value at the end):
//   Accuracy, TopKAccuracy(k)                       logits (N, C), labels (N), or per position
//                                                   (N, C, d...) and (N, d...)
//   MeanIoU                                         the same; segmentation mean IoU
//   SoftmaxBinaryAccuracy                           logits (N, C), labels (N): Keras' binary
//                                                   accuracy of a softmax output
//   SubsetAccuracy(threshold), MacroF1Multilabel    logits (N, C), multi-hot (N, C)
//   MaskedTopKAccuracy(k)                           logits (N, K), candidate targets (N, K) as
//                                                   for MaskedSoftmaxCrossEntropy (1 true, 0 other
//                                                   candidate, -1 not a candidate)
// and a ConfusionMatrix with everything computed from it:
//   per-class precision / recall / F1, macro and micro F1, accuracy,
//   segmentation pixel accuracy, mean pixel (class) accuracy and mean IoU;
//   printed with class names, or saved as CSV.
// Metrics are tested on small inputs against values computed by hand.
#pragma once
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/io/atomic_file.hpp"
#include "nn/kernels/activations.hpp"
#include "nn/tensor/tensor.hpp"

namespace nn {

template <class T>
class Metric {
 public:
  virtual ~Metric() = default;
  virtual std::string name() const = 0;
  virtual void reset() = 0;
  virtual void update(const Tensor<T>& logits, const Tensor<T>& targets) = 0;
  virtual double value() const = 0;
  virtual std::unique_ptr<Metric<T>> clone() const = 0;
  // The counts behind value(), for combining the metric over parts of a
  // dataset (data-parallel training): the element-wise sum of the parts'
  // states is the whole's state. Empty when nothing has been seen; zeros of
  // a seen state's length mean the same.
  virtual std::vector<double> state() const { throw std::logic_error(name() + ": cannot be combined across processes"); }
  virtual void set_state(const std::vector<double>&) {
    throw std::logic_error(name() + ": cannot be combined across processes");
  }
};

namespace detail {
// {hits, count} of the accuracy-like metrics.
inline std::vector<double> count_state(long hit, long n) {
  return n ? std::vector<double>{double(hit), double(n)} : std::vector<double>{};
}
inline void set_count_state(const std::vector<double>& s, long& hit, long& n, const std::string& who) {
  if (s.empty()) {
    hit = n = 0;
    return;
  }
  if (s.size() != 2) throw std::invalid_argument(who + "::set_state: expected 2 counts, got " + std::to_string(s.size()));
  hit = long(s[0]), n = long(s[1]);
}
}  // namespace detail

namespace detail {
// Positions per sample of logits (N, C) with labels (N), or of per-position
// logits (N, C, d1, ..., dk) with labels (N, d1, ..., dk); anything else throws.
template <class T>
Index positions(const Tensor<T>& x, const Tensor<T>& y, const std::string& who) {
  bool ok = x.rank() >= 2 && y.rank() == x.rank() - 1 && y.dim(0) == x.dim(0) && x.dim(1) >= 1;
  for (int d = 2; ok && d < x.rank(); ++d) ok = y.dim(d - 1) == x.dim(d);
  if (!ok)
    throw std::invalid_argument(who + ": needs logits (N, C) and labels (N), or (N, C, d...) and (N, d...), got " +
                                x.shape().str() + " and " + y.shape().str());
  return x.dim(0) ? x.size() / (x.dim(0) * x.dim(1)) : 1;
}
}  // namespace detail

// Fraction of samples whose true label is among the k largest logits.
template <class T>
class TopKAccuracy : public Metric<T> {
 public:
  explicit TopKAccuracy(int k = 5) : k_(k) {
    if (k < 1) throw std::invalid_argument("TopKAccuracy: k must be >= 1");
  }
  std::string name() const override { return k_ == 1 ? "accuracy" : "top" + std::to_string(k_) + "_accuracy"; }
  void reset() override { hit_ = n_ = 0; }
  void update(const Tensor<T>& x, const Tensor<T>& y) override {
    const Index S = detail::positions(x, y, name());
    const Index C = x.dim(1);
    for (Index i = 0; i < x.dim(0) * S; ++i) {
      const T* r = x.data() + (i / S) * C * S + i % S;  // class c at r[c * S]
      const Index label = static_cast<Index>(y[i]);
      if (label < 0 || label >= C) throw std::invalid_argument(name() + ": label out of range");
      Index above = 0;  // classes strictly better than the true one (ties count for the label)
      for (Index c = 0; c < C; ++c) above += r[c * S] > r[label * S];
      hit_ += above < k_;
      ++n_;
    }
  }
  double value() const override { return n_ ? double(hit_) / double(n_) : 0.0; }
  std::unique_ptr<Metric<T>> clone() const override { return std::make_unique<TopKAccuracy>(*this); }
  std::vector<double> state() const override { return detail::count_state(hit_, n_); }
  void set_state(const std::vector<double>& s) override { detail::set_count_state(s, hit_, n_, name()); }

 private:
  int k_;
  long hit_ = 0, n_ = 0;
};

template <class T>
class Accuracy : public TopKAccuracy<T> {
 public:
  Accuracy() : TopKAccuracy<T>(1) {}
  std::unique_ptr<Metric<T>> clone() const override { return std::make_unique<Accuracy>(*this); }
};

// Fraction of samples whose true candidate is among the k best-scored
// candidates; entries marked -1 (not candidates) are ignored, whatever their
// logits, as MaskedSoftmaxCrossEntropy ignores them. Ties count for the truth.
template <class T>
class MaskedTopKAccuracy : public Metric<T> {
 public:
  explicit MaskedTopKAccuracy(int k = 1) : k_(k) {
    if (k < 1) throw std::invalid_argument("MaskedTopKAccuracy: k must be >= 1");
  }
  std::string name() const override {
    return k_ == 1 ? "masked_accuracy" : "masked_top" + std::to_string(k_) + "_accuracy";
  }
  void reset() override { hit_ = n_ = 0; }
  void update(const Tensor<T>& x, const Tensor<T>& y) override {
    if (x.rank() != 2 || x.shape() != y.shape())
      throw std::invalid_argument(name() + ": needs logits (N, K) and candidate targets (N, K), got " +
                                  x.shape().str() + " and " + y.shape().str());
    const Index K = x.dim(1);
    for (Index n = 0; n < x.dim(0); ++n) {
      const T* r = x.data() + n * K;
      const T* t = y.data() + n * K;
      Index truth = -1;
      for (Index k = 0; k < K; ++k)
        if (t[k] == T(1)) {
          if (truth >= 0) throw std::invalid_argument(name() + ": target row " + std::to_string(n) + " has two true candidates");
          truth = k;
        }
      if (truth < 0) throw std::invalid_argument(name() + ": target row " + std::to_string(n) + " has no true candidate");
      Index above = 0;
      for (Index k = 0; k < K; ++k) above += t[k] >= 0 && r[k] > r[truth];
      hit_ += above < k_;
      ++n_;
    }
  }
  double value() const override { return n_ ? double(hit_) / double(n_) : 0.0; }
  std::unique_ptr<Metric<T>> clone() const override { return std::make_unique<MaskedTopKAccuracy>(*this); }
  std::vector<double> state() const override { return detail::count_state(hit_, n_); }
  void set_state(const std::vector<double>& s) override { detail::set_count_state(s, hit_, n_, name()); }

 private:
  int k_;
  long hit_ = 0, n_ = 0;
};

// Keras' binary_accuracy on a softmax output: the fraction of the N x C
// entries where round(softmax(x)) equals the one-hot target (labels (N)) or
// the target thresholded at 0.5 ((N, C)). round is half-to-even, so 0.5 counts
// as 0. With C classes a model that predicts nothing scores (C - 1) / C.
template <class T>
class SoftmaxBinaryAccuracy : public Metric<T> {
 public:
  std::string name() const override { return "binary_accuracy"; }
  void reset() override { hit_ = n_ = 0; }
  void update(const Tensor<T>& x, const Tensor<T>& y) override {
    const bool labels = y.rank() == 1;
    if (x.rank() != 2 || (labels ? y.dim(0) != x.dim(0) : y.shape() != x.shape()))
      throw std::invalid_argument(name() + ": needs logits (N, C) and labels (N) or targets (N, C), got " +
                                  x.shape().str() + " and " + y.shape().str());
    const Index C = x.dim(1);
    std::vector<T> p(static_cast<std::size_t>(C));
    for (Index i = 0; i < x.dim(0); ++i) {
      kernels::softmax_forward(x.data() + i * C, p.data(), 1, C);
      for (Index c = 0; c < C; ++c) {
        const bool on = p[std::size_t(c)] > T(0.5);
        const bool truth = labels ? Index(y[i]) == c : y(i, c) > T(0.5);
        hit_ += on == truth;
      }
      n_ += C;
    }
  }
  double value() const override { return n_ ? double(hit_) / double(n_) : 0.0; }
  std::unique_ptr<Metric<T>> clone() const override { return std::make_unique<SoftmaxBinaryAccuracy>(*this); }
  std::vector<double> state() const override { return detail::count_state(hit_, n_); }
  void set_state(const std::vector<double>& s) override { detail::set_count_state(s, hit_, n_, name()); }

 private:
  long hit_ = 0, n_ = 0;
};

// Multi-label: a sample counts when every tag's prediction (sigmoid(logit) >=
// threshold) equals its target.
template <class T>
class SubsetAccuracy : public Metric<T> {
 public:
  explicit SubsetAccuracy(double threshold = 0.5) : thr_(std::log(threshold / (1 - threshold))) {}
  std::string name() const override { return "subset_accuracy"; }
  void reset() override { hit_ = n_ = 0; }
  void update(const Tensor<T>& x, const Tensor<T>& y) override {
    if (x.shape() != y.shape() || x.rank() != 2) throw std::invalid_argument("subset_accuracy: needs (N, C) logits and targets");
    const Index C = x.dim(1);
    for (Index i = 0; i < x.dim(0); ++i) {
      bool all = true;
      for (Index c = 0; c < C; ++c) all &= (x(i, c) >= thr_) == (y(i, c) >= T(0.5));
      hit_ += all;
      ++n_;
    }
  }
  double value() const override { return n_ ? double(hit_) / double(n_) : 0.0; }
  std::unique_ptr<Metric<T>> clone() const override { return std::make_unique<SubsetAccuracy>(*this); }
  std::vector<double> state() const override { return detail::count_state(hit_, n_); }
  void set_state(const std::vector<double>& s) override { detail::set_count_state(s, hit_, n_, name()); }

 private:
  double thr_;  // the threshold as a logit
  long hit_ = 0, n_ = 0;
};

// Multi-label per-tag F1 over everything seen, thresholded; value() is the macro average.
template <class T>
class MultilabelF1 : public Metric<T> {
 public:
  explicit MultilabelF1(double threshold = 0.5) : thr_(std::log(threshold / (1 - threshold))) {}
  std::string name() const override { return "macro_f1"; }
  void reset() override { tp_.clear(), fp_.clear(), fn_.clear(); }
  void update(const Tensor<T>& x, const Tensor<T>& y) override {
    if (x.shape() != y.shape() || x.rank() != 2) throw std::invalid_argument("macro_f1: needs (N, C) logits and targets");
    const std::size_t C = std::size_t(x.dim(1));
    if (tp_.empty()) tp_.assign(C, 0), fp_.assign(C, 0), fn_.assign(C, 0);
    for (Index i = 0; i < x.dim(0); ++i)
      for (std::size_t c = 0; c < C; ++c) {
        const bool p = x(i, Index(c)) >= thr_, t = y(i, Index(c)) >= T(0.5);
        tp_[c] += p && t, fp_[c] += p && !t, fn_[c] += !p && t;
      }
  }
  // F1 of each tag (0 when a tag has no positives and no predictions).
  std::vector<double> per_tag() const {
    std::vector<double> f(tp_.size());
    for (std::size_t c = 0; c < f.size(); ++c) {
      const double d = 2.0 * tp_[c] + fp_[c] + fn_[c];
      f[c] = d > 0 ? 2.0 * tp_[c] / d : 0.0;
    }
    return f;
  }
  double value() const override {
    auto f = per_tag();
    double s = 0;
    for (double v : f) s += v;
    return f.empty() ? 0.0 : s / double(f.size());
  }
  std::unique_ptr<Metric<T>> clone() const override { return std::make_unique<MultilabelF1>(*this); }
  // tp, fp, fn per tag
  std::vector<double> state() const override {
    std::vector<double> v;
    for (const auto* c : {&tp_, &fp_, &fn_}) v.insert(v.end(), c->begin(), c->end());
    return v;
  }
  void set_state(const std::vector<double>& s) override {
    if (s.size() % 3) throw std::invalid_argument("macro_f1::set_state: expected 3 counts per tag");
    const std::size_t C = s.size() / 3;
    tp_.assign(s.begin(), s.begin() + std::ptrdiff_t(C));
    fp_.assign(s.begin() + std::ptrdiff_t(C), s.begin() + std::ptrdiff_t(2 * C));
    fn_.assign(s.begin() + std::ptrdiff_t(2 * C), s.end());
  }

 private:
  double thr_;
  std::vector<long> tp_, fp_, fn_;
};

// Rows: true class; columns: predicted class.
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(Index classes, std::vector<std::string> names = {})
      : C_(classes), m_(std::size_t(classes * classes), 0), names_(std::move(names)) {
    if (classes < 1) throw std::invalid_argument("ConfusionMatrix: needs at least one class");
    if (!names_.empty() && Index(names_.size()) != classes)
      throw std::invalid_argument("ConfusionMatrix: " + std::to_string(names_.size()) + " names for " +
                                  std::to_string(classes) + " classes");
    if (names_.empty())
      for (Index c = 0; c < classes; ++c) names_.push_back(std::to_string(c));
  }
  void add(Index truth, Index pred, long count = 1) {
    if (truth < 0 || truth >= C_ || pred < 0 || pred >= C_)
      throw std::out_of_range("ConfusionMatrix::add: class out of range");
    m_[std::size_t(truth * C_ + pred)] += count;
  }
  // From logits (N, C) (argmax) and labels (N), or per position from
  // (N, C, d...) and (N, d...) (a segmentation's pixels).
  template <class T>
  void add_batch(const Tensor<T>& logits, const Tensor<T>& labels) {
    const Index S = detail::positions(logits, labels, "ConfusionMatrix::add_batch"), C = logits.dim(1);
    if (C != C_)
      throw std::invalid_argument("ConfusionMatrix::add_batch: logits of " + std::to_string(C) + " classes for a matrix of " +
                                  std::to_string(C_));
    for (Index i = 0; i < logits.dim(0) * S; ++i) {
      const T* r = logits.data() + (i / S) * C * S + i % S;
      Index best = 0;
      for (Index c = 1; c < C; ++c)
        if (r[c * S] > r[best * S]) best = c;
      add(Index(labels[i]), best);
    }
  }
  Index classes() const { return C_; }
  long operator()(Index t, Index p) const { return m_[std::size_t(t * C_ + p)]; }
  const std::vector<std::string>& names() const { return names_; }
  long total() const {
    long s = 0;
    for (long v : m_) s += v;
    return s;
  }
  long row(Index t) const {
    long s = 0;
    for (Index p = 0; p < C_; ++p) s += (*this)(t, p);
    return s;
  }
  long col(Index p) const {
    long s = 0;
    for (Index t = 0; t < C_; ++t) s += (*this)(t, p);
    return s;
  }
  double accuracy() const {
    long d = 0;
    for (Index c = 0; c < C_; ++c) d += (*this)(c, c);
    return total() ? double(d) / double(total()) : 0.0;
  }
  // 0 where undefined (no predictions / no samples of the class).
  double precision(Index c) const { return col(c) ? double((*this)(c, c)) / double(col(c)) : 0.0; }
  double recall(Index c) const { return row(c) ? double((*this)(c, c)) / double(row(c)) : 0.0; }
  double f1(Index c) const {
    const double d = double(row(c) + col(c));
    return d > 0 ? 2.0 * double((*this)(c, c)) / d : 0.0;
  }
  double macro_f1() const {
    double s = 0;
    for (Index c = 0; c < C_; ++c) s += f1(c);
    return s / double(C_);
  }
  // Micro F1 pools TP/FP/FN over classes; for single-label data it equals accuracy.
  double micro_f1() const {
    long tp = 0, fp = 0, fn = 0;
    for (Index c = 0; c < C_; ++c) tp += (*this)(c, c), fp += col(c) - (*this)(c, c), fn += row(c) - (*this)(c, c);
    const double d = 2.0 * double(tp) + double(fp + fn);
    return d > 0 ? 2.0 * double(tp) / d : 0.0;
  }
  // Segmentation (a matrix over pixels): pixel accuracy, mean of per-class
  // recall over classes present, mean IoU over classes present.
  double pixel_accuracy() const { return accuracy(); }
  double mean_pixel_accuracy() const {
    double s = 0;
    int n = 0;
    for (Index c = 0; c < C_; ++c)
      if (row(c)) s += recall(c), ++n;
    return n ? s / n : 0.0;
  }
  double iou(Index c) const {
    const double u = double(row(c) + col(c) - (*this)(c, c));
    return u > 0 ? double((*this)(c, c)) / u : 0.0;
  }
  double mean_iou() const {
    double s = 0;
    int n = 0;
    for (Index c = 0; c < C_; ++c)
      if (row(c) + col(c)) s += iou(c), ++n;
    return n ? s / n : 0.0;
  }

  // The matrix with class names, then per-class precision/recall/F1.
  std::string str() const {
    std::ostringstream os;
    std::size_t w = 5;
    for (auto& n : names_) w = std::max(w, n.size());
    const int cw = int(std::max<std::size_t>(5, std::to_string(total()).size())) + 1;
    os << std::setw(int(w)) << "true\\pred";
    for (Index p = 0; p < C_; ++p) os << std::setw(cw) << names_[std::size_t(p)].substr(0, std::size_t(cw - 1));
    os << "\n";
    for (Index t = 0; t < C_; ++t) {
      os << std::setw(int(w)) << names_[std::size_t(t)];
      for (Index p = 0; p < C_; ++p) os << std::setw(cw) << (*this)(t, p);
      os << "\n";
    }
    os << "\n" << std::setw(int(w)) << "class" << "  precision  recall      f1  support\n" << std::fixed << std::setprecision(4);
    for (Index c = 0; c < C_; ++c)
      os << std::setw(int(w)) << names_[std::size_t(c)] << std::setw(11) << precision(c) << std::setw(8) << recall(c)
         << std::setw(8) << f1(c) << std::setw(9) << row(c) << "\n";
    os << "accuracy " << accuracy() << "  macro F1 " << macro_f1() << "  micro F1 " << micro_f1() << "\n";
    return os.str();
  }
  // CSV: header "true\pred,<names>", one row per true class.
  std::string csv() const {
    std::ostringstream os;
    os << "true\\pred";
    for (auto& n : names_) os << "," << n;
    os << "\n";
    for (Index t = 0; t < C_; ++t) {
      os << names_[std::size_t(t)];
      for (Index p = 0; p < C_; ++p) os << "," << (*this)(t, p);
      os << "\n";
    }
    return os.str();
  }
  void save_csv(const std::string& path) const { io::write_file_atomic(path, csv()); }

 private:
  Index C_;
  std::vector<long> m_;
  std::vector<std::string> names_;
};

// Segmentation: mean IoU over the classes present in the truth or the
// prediction, from per-position logits (N, C, d...) and labels (N, d...)
// (or (N, C) and (N)), over everything seen since reset().
template <class T>
class MeanIoU : public Metric<T> {
 public:
  std::string name() const override { return "mean_iou"; }
  void reset() override { m_.reset(); }
  void update(const Tensor<T>& x, const Tensor<T>& y) override {
    detail::positions(x, y, name());
    if (!m_) m_.emplace(x.dim(1));
    m_->add_batch(x, y);
  }
  double value() const override { return m_ ? m_->mean_iou() : 0.0; }
  std::unique_ptr<Metric<T>> clone() const override { return std::make_unique<MeanIoU>(*this); }
  // the confusion matrix, row-major
  std::vector<double> state() const override {
    std::vector<double> v;
    if (m_)
      for (Index t = 0; t < m_->classes(); ++t)
        for (Index p = 0; p < m_->classes(); ++p) v.push_back(double((*m_)(t, p)));
    return v;
  }
  void set_state(const std::vector<double>& s) override {
    m_.reset();
    if (s.empty()) return;
    const Index C = Index(std::lround(std::sqrt(double(s.size()))));
    if (C * C != Index(s.size())) throw std::invalid_argument("mean_iou::set_state: not a square matrix of counts");
    m_.emplace(C);
    for (Index t = 0; t < C; ++t)
      for (Index p = 0; p < C; ++p) m_->add(t, p, long(s[std::size_t(t * C + p)]));
  }

 private:
  std::optional<ConfusionMatrix> m_;  // made on the first batch, which gives the number of classes
};

}  // namespace nn
