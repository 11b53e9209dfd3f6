// nn/train/data_parallel.hpp — what fit() asks of a data-parallel runtime
// when FitOptions::parallel is set. nn/dist/mpi.hpp implements it over MPI
// (nn::dist::MpiDataParallel); this header needs nothing beyond nn::nn.
//
// With it, every rank runs fit() on the same dataset with the same options:
// each epoch's seeded order is the same on every rank and rank r trains on
// positions r, r + N, r + 2N, ... (padded with the order's first samples so
// that every rank runs the same number of batches), so step k of N ranks
// with batch B covers the same N * B samples as step k of one process with
// batch N * B. Gradients are averaged in every step (an implementation may
// start during backward); after each epoch the ranks' buffers (batch-norm
// running statistics) are made equal; the epoch's loss
// and metrics and the validation loss and metrics (each rank evaluates a
// share of the validation set) are combined over the ranks, so every rank's
// history, early stopping and schedules agree. Only rank 0 shows progress
// and writes files (CSVLogger, ModelCheckpoint: TrainContext::rank).
#pragma once
#include <vector>

#include "nn/model/model.hpp"

namespace nn {

template <class T>
class DataParallel {
 public:
  virtual ~DataParallel() = default;
  virtual int rank() const = 0;
  virtual int ranks() const = 0;
  // Before training: checks that every rank has the same architecture and
  // makes every rank's parameters and buffers rank 0's.
  virtual void start(Model<T>& model) = 0;
  // After backward: every parameter's gradient becomes its mean over the
  // ranks (an implementation may have started during backward, through
  // Model::set_gradient_hook).
  virtual void average_gradients(Model<T>& model) = 0;
  // After an epoch's steps, before validation: the ranks' buffers (batch
  // norm's running statistics, which each rank updates from its own
  // batches) become equal.
  virtual void end_epoch(Model<T>& /*model*/) {}
  // After training, also when fit() throws: removes what start() attached
  // to the model (hooks).
  virtual void stop(Model<T>& /*model*/) {}
  // Element-wise sum / maximum over the ranks, in place (every rank passes
  // a vector of the same length).
  virtual void sum(std::vector<double>& v) = 0;
  virtual void max(std::vector<double>& v) = 0;
};

namespace detail {
// Rank r's share of an epoch's order: positions r, r + ranks, ...; with
// `pad`, the order is first extended with its own first entries to a
// multiple of ranks (equal shares), else shares differ by at most one.
inline std::vector<Index> shard(const std::vector<Index>& order, int rank, int ranks, bool pad) {
  const std::size_t n = order.size(), R = std::size_t(ranks);
  const std::size_t total = pad && n > 0 ? (n + R - 1) / R * R : n;
  std::vector<Index> mine;
  for (std::size_t k = std::size_t(rank); k < total; k += R) mine.push_back(order[k % n]);
  return mine;
}
}  // namespace detail

}  // namespace nn
