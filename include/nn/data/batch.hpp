// nn/data/batch.hpp — batches of a dataset, in a given order, with optional
// augmentation.
//
//   BatchIterator<float> it(ds, order, 64, &augment, seed, epoch);
//   Tensor<float> x, y;
//   while (it.next(x, y)) { ... }          // the last batch may be partial
//
// x is (n, input...) and y is (n, target...) ((n) for labels). Samples are
// loaded in parallel; sample k of the epoch is augmented with its own
// generator Rng(mix(seed, epoch, k)), so results do not depend on threads.
#pragma once
#include <exception>
#include <mutex>
#include <vector>

#include "nn/data/augment.hpp"
#include "nn/data/dataset.hpp"
#include "nn/runtime/parallel.hpp"

namespace nn::data {

inline std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b, std::uint64_t c = 0) {
  Rng r(a ^ (0x9E3779B97F4A7C15ull * (b + 1)) ^ (0xC2B2AE3D27D4EB4Full * (c + 1)));
  return r();
}

template <class T>
class BatchIterator {
 public:
  BatchIterator(const Dataset<T>& ds, std::vector<Index> order, Index batch_size, const Augment* aug = nullptr,
                std::uint64_t seed = 0, int epoch = 0)
      : ds_(&ds), order_(std::move(order)), bs_(batch_size), aug_(aug && aug->any() ? aug : nullptr), seed_(seed),
        epoch_(epoch) {
    if (batch_size < 1) throw std::invalid_argument("BatchIterator: batch size must be >= 1");
    const Shape in = ds.input_shape();
    if (aug_ && in.rank() != 3)
      throw std::invalid_argument("BatchIterator: augmentation needs (C, H, W) images, inputs are " + in.str());
  }
  Index batches() const { return (Index(order_.size()) + bs_ - 1) / bs_; }
  Index samples() const { return Index(order_.size()); }
  bool next(Tensor<T>& x, Tensor<T>& y) {
    if (pos_ >= Index(order_.size())) return false;
    const Index n = std::min<Index>(bs_, Index(order_.size()) - pos_);
    const Shape in = ds_->input_shape();
    x.resize(in.with_batch(n));
    y.resize(ds_->target_shape().with_batch(n));
    const Index dx = in.size(), dy = ds_->target_shape().size();
    const Index start = pos_;
    std::exception_ptr error;  // an exception must not leave the parallel region
    std::mutex error_m;
    nn::detail::parallel_for(n, n > 8, 4, [&](Index i, int) {
      try {
        const Index k = start + i;
        ds_->load(order_[static_cast<std::size_t>(k)], x.data() + i * dx, y.data() + i * dy);
        if (aug_) {
          Rng rng(mix_seed(seed_, std::uint64_t(epoch_), std::uint64_t(k)));
          aug_->apply(x.data() + i * dx, in[0], in[1], in[2], rng);
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_m);
        if (!error) error = std::current_exception();
      }
    });
    if (error) std::rethrow_exception(error);
    pos_ += n;
    return true;
  }

 private:
  const Dataset<T>* ds_;
  std::vector<Index> order_;
  Index bs_;
  const Augment* aug_;
  std::uint64_t seed_;
  int epoch_;
  Index pos_ = 0;
};

}  // namespace nn::data
