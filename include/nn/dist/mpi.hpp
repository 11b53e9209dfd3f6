// nn/dist/mpi.hpp — data-parallel training over MPI (optional: link
// nn::mpi, which exists when CMake finds MPI; nn::nn never needs it).
//
//   nn::dist::Environment env(&argc, &argv);          // MPI_Init_thread ... MPI_Finalize
//   nn::dist::Communicator comm;                      // MPI_COMM_WORLD
//   nn::dist::check_same_model(comm, model);          // same layers and parameter shapes everywhere
//   nn::dist::broadcast_model(comm, model);           // rank 0's parameters and buffers to all
//   nn::dist::GradientAverager<float> avg(comm, model.parameters());
//   avg.attach(model);                                // optional: start during backward
//   nn::dist::sync_batch_norm(model, comm);           // optional: batch norm over all ranks
//   nn::dist::DistributedSampler sampler(n, comm.size(), comm.rank(), seed);
//   for each step: model.zero_grad(); forward, loss, backward on this rank's
//                  batch; avg.finish(); opt.step();
// or let fit() do all of it: FitOptions::parallel = &mpi_data_parallel
// (MpiDataParallel below; nn/train/data_parallel.hpp says what fit does).
//
// Gradients are averaged with MPI_Allreduce in buckets of about
// bucket_bytes (parameters taken from the last layer back, as backward
// finishes them), each packed into one buffer. With overlap, a bucket's
// non-blocking all-reduce starts during backward as soon as its gradients
// are final (Model::set_gradient_hook); the rest are reduced after
// backward; the averages are unpacked when all have arrived.
// With equal local batches the average of the ranks' mean-loss gradients is
// the gradient of the mean loss over the union of their batches, so N ranks
// with batch B step exactly as one process with batch N * B (to rounding:
// the sums run in another order).
//
// Errors: MPI calls that fail throw std::runtime_error naming the call.
// A rank that cannot go on calls Communicator::abort(message), which prints
// the message with the rank and ends every rank (MPI_Abort), so that the
// others do not wait forever in a collective.
#pragma once
// nn uses MPI's C interface; skip the deprecated C++ bindings (Open MPI's
// warn under -Wextra)
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "nn/data/batch.hpp"
#include "nn/data/split.hpp"
#include "nn/layers/batch_norm.hpp"
#include "nn/model/model.hpp"
#include "nn/tensor/random.hpp"
#include "nn/train/data_parallel.hpp"

namespace nn::dist {

namespace detail {
inline void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw std::runtime_error(std::string(call) + " failed: " + std::string(msg, std::size_t(len)));
}
template <class T>
MPI_Datatype type() {
  static_assert(std::is_same<T, float>::value || std::is_same<T, double>::value, "nn::dist: float or double");
  return std::is_same<T, float>::value ? MPI_FLOAT : MPI_DOUBLE;
}
}  // namespace detail

// Initializes MPI (with MPI_THREAD_FUNNELED: only the main thread calls MPI;
// OpenMP threads inside a rank are fine) unless it already is, and finalizes
// what it initialized.
class Environment {
 public:
  Environment(int* argc, char*** argv) {
    int done = 0;
    MPI_Initialized(&done);
    if (done) return;
    int provided = 0;
    detail::check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    owner_ = true;
  }
  ~Environment() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owner_ && !finalized) MPI_Finalize();
  }
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

 private:
  bool owner_ = false;
};

class Communicator {
 public:
  explicit Communicator(MPI_Comm comm = MPI_COMM_WORLD) : comm_(comm) {
    detail::check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    detail::check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  MPI_Comm get() const { return comm_; }

  void barrier() const { detail::check(MPI_Barrier(comm_), "MPI_Barrier"); }
  template <class T>
  void broadcast(T* data, std::size_t count, int root = 0) const {
    detail::check(MPI_Bcast(data, int(count), detail::type<T>(), root, comm_), "MPI_Bcast");
  }
  // Element-wise sums over the ranks, in place.
  void sum(std::vector<double>& v) const {
    detail::check(MPI_Allreduce(MPI_IN_PLACE, v.data(), int(v.size()), MPI_DOUBLE, MPI_SUM, comm_), "MPI_Allreduce");
  }
  double sum(double x) const {
    std::vector<double> v{x};
    sum(v);
    return v[0];
  }
  void max(std::vector<double>& v) const {
    detail::check(MPI_Allreduce(MPI_IN_PLACE, v.data(), int(v.size()), MPI_DOUBLE, MPI_MAX, comm_), "MPI_Allreduce");
  }
  // Every rank's value, in rank order.
  std::vector<std::uint64_t> gather_all(std::uint64_t x) const {
    std::vector<std::uint64_t> all(static_cast<std::size_t>(size_));
    detail::check(MPI_Allgather(&x, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, comm_), "MPI_Allgather");
    return all;
  }
  // Prints "nn: rank R of N: <message>" on stderr and ends every rank with
  // `code` (MPI_Abort).
  [[noreturn]] void abort(const std::string& message, int code = 1) const {
    std::fprintf(stderr, "nn: rank %d of %d: %s\n", rank_, size_, message.c_str());
    std::fflush(stderr);
    MPI_Abort(comm_, code);
    std::abort();  // MPI_Abort does not return; this tells the compiler
  }

 private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

// FNV-1a over a parameter's name, shape and, with `values`, its bytes.
namespace detail {
inline void fnv(std::uint64_t& h, const void* p, std::size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001B3ull;
}
template <class T>
std::uint64_t model_hash(Model<T>& m, bool values) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  for (auto& p : m.parameters()) {
    fnv(h, p.name.data(), p.name.size());
    for (int d = 0; d < p.value->rank(); ++d) {
      const Index n = p.value->dim(d);
      fnv(h, &n, sizeof n);
    }
    if (values) fnv(h, p.value->data(), std::size_t(p.value->size()) * sizeof(T));
  }
  for (auto& b : m.buffers()) {
    fnv(h, b.first.data(), b.first.size());
    const Index n = b.second->size();
    fnv(h, &n, sizeof n);
    if (values) fnv(h, b.second->data(), std::size_t(n) * sizeof(T));
  }
  return h;
}
}  // namespace detail

// A hash of the model's parameter and buffer values (to check that ranks
// agree bit for bit).
template <class T>
std::uint64_t parameter_hash(Model<T>& m) {
  return detail::model_hash(m, true);
}

// Throws, on every rank, when the ranks' models differ in their parameters'
// names, shapes or count (each rank names the ranks that differ from rank 0).
template <class T>
void check_same_model(const Communicator& comm, Model<T>& m) {
  Index count = 0;
  for (auto& p : m.parameters()) count += p.value->size();
  const auto sig = comm.gather_all(detail::model_hash(m, false));
  const auto counts = comm.gather_all(std::uint64_t(count));
  std::ostringstream bad;
  for (int r = 1; r < comm.size(); ++r)
    if (sig[std::size_t(r)] != sig[0])
      bad << " rank " << r << " (" << counts[std::size_t(r)] << " parameters, rank 0: " << counts[0] << ")";
  if (!bad.str().empty())
    throw std::runtime_error("nn::dist: the ranks' models differ in their layers or parameter shapes:" + bad.str());
}

// Copies root's buffers (batch-norm statistics) to every rank.
template <class T>
void broadcast_buffers(const Communicator& comm, Model<T>& m, int root = 0) {
  for (auto& b : m.buffers()) comm.broadcast(b.second->data(), std::size_t(b.second->size()), root);
}
// Copies root's parameters and buffers to every rank.
template <class T>
void broadcast_model(const Communicator& comm, Model<T>& m, int root = 0) {
  for (auto& p : m.parameters()) comm.broadcast(p.value->data(), std::size_t(p.value->size()), root);
  broadcast_buffers(comm, m, root);
}

// Synchronized batch norm: every BatchNorm among model.layers() normalizes
// in training over the union of the ranks' batches (BatchNorm::set_sync);
// on = false gives each rank its own statistics again. `comm` must outlive
// the training. (A shared BatchNorm's later calls in a Graph run on copies
// made when the graph was built and keep per-rank statistics.) Returns the
// number of layers set.
template <class T>
int sync_batch_norm(Model<T>& model, const Communicator& comm, bool on = true) {
  int n = 0;
  for (Layer<T>* l : model.layers())
    if (auto* bn = dynamic_cast<BatchNorm<T>*>(l)) {
      if (on)
        bn->set_sync([c = &comm](std::vector<double>& v) { c->sum(v); });
      else
        bn->set_sync(nullptr);
      ++n;
    }
  return n;
}

// Averages the gradients of `params` over the ranks (see the top of the file).
//
// Without a hook: backward, then average() (= start() + finish()).
// With overlap: attach(model) installs the model's gradient hook, and
// backward calls ready(layer) as each layer's gradients complete; a bucket's
// all-reduce starts as soon as all its parameters are ready (buckets start
// in a fixed order, the same on every rank, as MPI requires of collectives),
// and MPI is given a chance to progress the running ones at every later
// layer. finish() then starts whatever is left (an unused branch of a graph
// reports late) and waits. detach(model) removes the hook.
template <class T>
class GradientAverager {
 public:
  struct Options {
    std::size_t bucket_bytes = std::size_t(4) << 20;  // about 4 MiB of gradients per all-reduce
    bool overlap = true;  // MpiDataParallel: start buckets during backward (attach) or only after it
  };
  // Seconds this rank spent averaging, on its critical path: packing and
  // starting buckets inside backward (in_backward) and in finish() (after
  // backward: starting the rest, waiting, unpacking).
  struct Stats {
    std::int64_t averages = 0;
    double in_backward = 0, after_backward = 0;
  };
  GradientAverager(const Communicator& comm, std::vector<Param<T>> params, Options o = {})
      : comm_(&comm), params_(std::move(params)) {
    if (o.bucket_bytes < sizeof(T)) throw std::invalid_argument("GradientAverager: bucket_bytes is too small");
    // from the last parameter back: the order in which backward finishes them
    Bucket cur;
    std::size_t bytes = 0;
    for (std::size_t i = params_.size(); i-- > 0;) {
      cur.params.push_back(i);
      bytes += std::size_t(params_[i].grad->size()) * sizeof(T);
      if (bytes >= o.bucket_bytes) buckets_.push_back(std::move(cur)), cur = {}, bytes = 0;
    }
    if (!cur.params.empty()) buckets_.push_back(std::move(cur));
    bucket_of_.resize(params_.size());
    for (std::size_t k = 0; k < buckets_.size(); ++k) {
      std::size_t n = 0;
      for (std::size_t i : buckets_[k].params) n += std::size_t(params_[i].grad->size()), bucket_of_[i] = k;
      buckets_[k].buffer.resize(n);
    }
    for (std::size_t i = 0; i < params_.size(); ++i) index_[params_[i].grad] = i;
    ready_.assign(params_.size(), 0);
    reset();
  }
  GradientAverager(const GradientAverager&) = delete;
  GradientAverager& operator=(const GradientAverager&) = delete;
  std::size_t buckets() const { return buckets_.size(); }
  // Buckets whose all-reduce has started in the current average.
  std::size_t started() const { return next_; }
  const Stats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

  // Overlap: backward of `model` reports each layer here (Model::set_gradient_hook).
  void attach(Model<T>& model) {
    model.set_gradient_hook([this](Layer<T>& l) { ready(l); });
  }
  static void detach(Model<T>& model) { model.set_gradient_hook({}); }

  // `layer`'s gradients are complete for this step: starts every bucket, in
  // order, whose parameters are all ready, then lets MPI progress the
  // running ones.
  void ready(Layer<T>& layer) {
    const auto t0 = MPI_Wtime();
    auto it = layer_params_.find(&layer);
    if (it == layer_params_.end()) {
      std::vector<std::size_t> ids;
      for (auto& p : layer.parameters()) {
        auto f = index_.find(p.grad);
        if (f != index_.end()) ids.push_back(f->second);
      }
      it = layer_params_.emplace(&layer, std::move(ids)).first;
    }
    for (std::size_t i : it->second)
      if (!ready_[i]) ready_[i] = 1, --pending_[bucket_of_[i]];
    while (next_ < buckets_.size() && pending_[next_] == 0) start_bucket(next_++);
    if (next_ > 0) {  // MPI progresses non-blocking collectives only inside MPI calls
      int done = 0;
      detail::check(MPI_Testall(int(next_), requests_.data(), &done, MPI_STATUSES_IGNORE), "MPI_Testall");
    }
    stats_.in_backward += MPI_Wtime() - t0;
  }
  // Starts the all-reduce of every bucket not yet started.
  void start() {
    while (next_ < buckets_.size()) start_bucket(next_++);
  }
  // Reduces what has not started (blocking MPI_Allreduce: Open MPI's
  // blocking algorithms move 1-16 MiB 1.5-2x faster than its non-blocking
  // ones, docs/distributed.md), waits for the started buckets
  // and writes the averages into the gradients; the next step starts afresh.
  void finish() {
    const auto t0 = MPI_Wtime();
    for (; next_ < buckets_.size(); ++next_) {
      Bucket& b = buckets_[next_];
      pack(b);
      detail::check(MPI_Allreduce(MPI_IN_PLACE, b.buffer.data(), int(b.buffer.size()), detail::type<T>(), MPI_SUM,
                                  comm_->get()),
                    "MPI_Allreduce");
    }
    detail::check(MPI_Waitall(int(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
    const T scale = T(1) / T(comm_->size());
    for (auto& b : buckets_) {
      const T* src = b.buffer.data();
      for (std::size_t i : b.params) {
        Tensor<T>& g = *params_[i].grad;
        ArrayMap<T>(g.data(), g.size()) = ConstArrayMap<T>(src, g.size()) * scale;
        src += g.size();
      }
    }
    reset();
    stats_.after_backward += MPI_Wtime() - t0;
    ++stats_.averages;
  }
  void average() { finish(); }

 private:
  struct Bucket {
    std::vector<std::size_t> params;
    std::vector<T> buffer;
  };
  void pack(Bucket& b) {
    T* dst = b.buffer.data();
    for (std::size_t i : b.params) {
      const Tensor<T>& g = *params_[i].grad;
      std::memcpy(dst, g.data(), std::size_t(g.size()) * sizeof(T));
      dst += g.size();
    }
  }
  void start_bucket(std::size_t k) {
    Bucket& b = buckets_[k];
    pack(b);
    detail::check(MPI_Iallreduce(MPI_IN_PLACE, b.buffer.data(), int(b.buffer.size()), detail::type<T>(), MPI_SUM,
                                 comm_->get(), &requests_[k]),
                  "MPI_Iallreduce");
  }
  void reset() {
    next_ = 0;
    std::fill(ready_.begin(), ready_.end(), char(0));
    pending_.assign(buckets_.size(), 0);
    for (std::size_t k = 0; k < buckets_.size(); ++k) pending_[k] = buckets_[k].params.size();
    requests_.assign(buckets_.size(), MPI_REQUEST_NULL);
  }

  const Communicator* comm_;
  std::vector<Param<T>> params_;
  std::vector<Bucket> buckets_;
  std::vector<std::size_t> bucket_of_, pending_;
  std::vector<char> ready_;
  std::vector<MPI_Request> requests_;
  std::size_t next_ = 0;
  std::unordered_map<const Tensor<T>*, std::size_t> index_;
  std::unordered_map<const Layer<T>*, std::vector<std::size_t>> layer_params_;
  Stats stats_;
};

// fit() on several processes: FitOptions::parallel = &dp (the contract is in
// nn/train/data_parallel.hpp).
//   nn::dist::MpiDataParallel<float> dp(comm);
//   opts.parallel = &dp;
//   nn::fit(model, loss, opt, train, opts);   // the same call on every rank
template <class T>
class MpiDataParallel : public DataParallel<T> {
 public:
  struct Options : GradientAverager<T>::Options {
    // Batch norm over the union of the ranks' batches (SyncBatchNorm) rather
    // than over each rank's own samples.
    bool sync_batch_norm = false;
  };
  explicit MpiDataParallel(const Communicator& comm, Options o = {}) : comm_(&comm), opts_(o) {}
  int rank() const override { return comm_->rank(); }
  int ranks() const override { return comm_->size(); }
  void start(Model<T>& model) override {
    check_same_model(*comm_, model);
    broadcast_model(*comm_, model);
    avg_ = std::make_unique<GradientAverager<T>>(*comm_, model.parameters(), opts_);
    model_ = &model;
    if (opts_.overlap) avg_->attach(model);
    if (opts_.sync_batch_norm) sync_batch_norm(model, *comm_);
  }
  void average_gradients(Model<T>& model) override {
    if (!avg_ || model_ != &model) throw std::logic_error("MpiDataParallel: start() was not called for this model");
    avg_->finish();
  }
  void end_epoch(Model<T>& model) override { broadcast_buffers(*comm_, model); }  // as PyTorch's DDP does
  void stop(Model<T>& model) override {
    GradientAverager<T>::detach(model);
    if (opts_.sync_batch_norm) sync_batch_norm(model, *comm_, false);
  }
  void sum(std::vector<double>& v) override { comm_->sum(v); }
  void max(std::vector<double>& v) override { comm_->max(v); }
  // The last fit's averaging times (GradientAverager::Stats).
  typename GradientAverager<T>::Stats stats() const { return avg_ ? avg_->stats() : typename GradientAverager<T>::Stats{}; }

 private:
  const Communicator* comm_;
  Options opts_;
  std::unique_ptr<GradientAverager<T>> avg_;
  Model<T>* model_ = nullptr;
};

// Each rank's share of every epoch: the epoch's permutation of [0, n) is the
// same on every rank (seeded by seed and epoch), and rank r takes positions
// r, r + ranks, r + 2 ranks, ... When n is not a multiple of the ranks,
// Tail::Pad repeats the permutation's first samples so that every rank has
// ceil(n / ranks) (a few samples count twice per epoch; PyTorch's default),
// Tail::Drop leaves out the last n mod ranks (every rank has floor(n / ranks)).
// Every rank gets the same count either way, so they run the same number of
// steps.
class DistributedSampler {
 public:
  enum class Tail { Pad, Drop };
  DistributedSampler(Index n, int ranks, int rank, std::uint64_t seed, Tail tail = Tail::Pad, bool shuffle = true)
      : n_(n), ranks_(ranks), rank_(rank), seed_(seed), tail_(tail), shuffle_(shuffle) {
    if (n < 1 || ranks < 1 || rank < 0 || rank >= ranks)
      throw std::invalid_argument("DistributedSampler: needs n >= 1 and 0 <= rank < ranks");
    if (tail == Tail::Drop && n < ranks)
      throw std::invalid_argument("DistributedSampler: dropping the tail of " + std::to_string(n) + " samples over " +
                                  std::to_string(ranks) + " ranks leaves none");
  }
  Index per_rank() const { return tail_ == Tail::Pad ? (n_ + ranks_ - 1) / ranks_ : n_ / ranks_; }
  std::vector<Index> indices(int epoch) const {
    std::vector<Index> perm(static_cast<std::size_t>(n_));
    std::iota(perm.begin(), perm.end(), Index(0));
    if (shuffle_) {
      Rng rng(data::mix_seed(seed_, std::uint64_t(epoch), 0xD157));
      data::shuffle(perm, rng);
    }
    if (tail_ == Tail::Drop) perm.resize(static_cast<std::size_t>(per_rank() * ranks_));
    return nn::detail::shard(perm, rank_, ranks_, tail_ == Tail::Pad);
  }

 private:
  Index n_;
  int ranks_, rank_;
  std::uint64_t seed_;
  Tail tail_;
  bool shuffle_;
};

}  // namespace nn::dist
