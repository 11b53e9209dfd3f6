// Synchronized batch norm (BatchNorm::set_sync): two "processes" — two
// threads whose sums meet in a rendezvous — each normalizing half a batch
// give the outputs, input gradients, running statistics and (summed)
// parameter gradients of one layer on the whole batch. Under MPI the same
// is tested across ranks (tests/dist/mpi_test.cpp).
#include "../support/test_util.hpp"

#include <condition_variable>
#include <mutex>
#include <thread>

using namespace testutil;
using D = double;

namespace {
// Adds the vectors of `parties` callers element-wise; each gets the total.
class Rendezvous {
 public:
  explicit Rendezvous(int parties) : parties_(parties) {}
  void sum(std::vector<double>& v) {
    std::unique_lock<std::mutex> lk(m_);
    const long gen = gen_;
    if (arrived_ == 0) acc_.assign(v.size(), 0.0);
    if (acc_.size() != v.size()) throw std::logic_error("Rendezvous: vectors of different lengths");
    for (std::size_t i = 0; i < v.size(); ++i) acc_[i] += v[i];
    if (++arrived_ == parties_) {
      total_ = acc_;
      arrived_ = 0;
      ++gen_;
      cv_.notify_all();
    } else {
      cv_.wait(lk, [&] { return gen_ != gen; });
    }
    v = total_;
    ++calls_;
  }
  int calls() const { return calls_; }

 private:
  int parties_, arrived_ = 0, calls_ = 0;
  long gen_ = 0;
  std::vector<double> acc_, total_;
  std::mutex m_;
  std::condition_variable cv_;
};

struct Result {
  Tensor<D> y, dx, dgamma, dbeta, rmean, rvar;
};
// forward (training) and backward of `bn` on x with upstream gradient dy
Result run(nn::BatchNorm<D>& bn, const Tensor<D>& x, const Tensor<D>& dy) {
  bn.zero_grad();
  Result r;
  r.y = bn.forward(x, true).clone();
  r.dx = bn.backward(x, r.y, dy).clone();
  auto p = bn.parameters();
  r.dgamma = p[0].grad->clone();
  r.dbeta = p[1].grad->clone();
  r.rmean = bn.running_mean().clone();
  r.rvar = bn.running_var().clone();
  return r;
}
}  // namespace

TEST_CASE("synchronized batch norm on two halves equals one batch norm on the whole batch") {
  for (const nn::Shape shape : {nn::Shape{8, 3, 2, 2}, nn::Shape{6, 5}}) {
    CAPTURE(shape.str());
    const Index N = shape[0], h = N / 2;
    auto x = randn(shape, 1, 2.0);
    for (auto& v : x) v += 3.0;  // away from zero mean
    const auto dy = randn(shape, 2);
    nn::Rng rng(3);
    nn::BatchNorm<D> ref, a, b;
    ref.build(shape.tail(), rng);
    a.build(shape.tail(), rng);
    b.build(shape.tail(), rng);
    ref.parameters()[0].value->fill_normal(rng, 1.0, 0.3);
    ref.parameters()[1].value->fill_normal(rng, 0.0, 0.3);
    for (auto* l : {&a, &b})
      for (std::size_t k = 0; k < 2; ++k) l->parameters()[k].value->copy_from(*ref.parameters()[k].value);
    const Result whole = run(ref, x, dy);

    Rendezvous meet(2);
    a.set_sync([&](std::vector<double>& v) { meet.sum(v); });
    b.set_sync([&](std::vector<double>& v) { meet.sum(v); });
    CHECK(a.synced());
    Result ra, rb;
    const auto xa = rows(x, 0, h), xb = rows(x, h, N - h), da = rows(dy, 0, h), db = rows(dy, h, N - h);
    std::thread t([&] { rb = run(b, xb, db); });
    ra = run(a, xa, da);
    t.join();
    CHECK(meet.calls() == 2 * 3);  // per process: count + sums, squared deviations, backward sums

    check_close(ra.y, rows(whole.y, 0, h), 1e-12, 1e-12, "first half's output");
    check_close(rb.y, rows(whole.y, h, N - h), 1e-12, 1e-12, "second half's output");
    check_close(ra.dx, rows(whole.dx, 0, h), 1e-12, 1e-12, "first half's dx");
    check_close(rb.dx, rows(whole.dx, h, N - h), 1e-12, 1e-12, "second half's dx");
    for (const Result* r : {&ra, &rb}) {
      check_close(r->rmean, whole.rmean, 1e-12, 1e-12, "running mean");
      check_close(r->rvar, whole.rvar, 1e-12, 1e-12, "running variance");
    }
    // each process keeps its share of the parameter gradients; their sum is the whole's
    Tensor<D> dg = ra.dgamma.clone(), dbeta = ra.dbeta.clone();
    dg.array() += rb.dgamma.array();
    dbeta.array() += rb.dbeta.array();
    check_close(dg, whole.dgamma, 1e-12, 1e-12, "dgamma");
    check_close(dbeta, whole.dbeta, 1e-12, 1e-12, "dbeta");

    // the control: without sync each half is normalized on its own
    a.set_sync(nullptr);
    CHECK_FALSE(a.synced());
    const Result alone = run(a, xa, da);
    CHECK(std::abs(alone.y[0] - whole.y[0]) > 1e-3);
    // a copy never joins the original's processes
    b.set_sync([&](std::vector<double>& v) { meet.sum(v); });
    CHECK_FALSE(static_cast<nn::BatchNorm<D>&>(*b.clone()).synced());
  }
}

TEST_CASE("synchronized batch norm: eval mode exchanges nothing, a total of one value per channel is an error") {
  Rendezvous one(1);
  nn::BatchNorm<D> bn;
  nn::Rng rng(1);
  bn.build({3}, rng);
  bn.set_sync([&](std::vector<double>& v) { one.sum(v); });
  bn.forward(randn({4, 3}, 5), false);
  CHECK(one.calls() == 0);
  CHECK_THROWS_WITH_AS(bn.forward(randn({1, 3}, 6), true), doctest::Contains("more than one value per channel"),
                       std::invalid_argument);
}
