// A training loop in which one rank fails (a bad data file, say) while the
// others wait in the gradient all-reduce: Communicator::abort must end every
// rank with a non-zero exit, not leave them waiting (mpi_failure_test.sh).
//   mpirun -np 2 nn_mpi_fail [FAILING_RANK]
#include <nn/dist/mpi.hpp>
#include <nn/nn.hpp>

#include <cstdlib>
#include <stdexcept>

int main(int argc, char** argv) {
  nn::dist::Environment env(&argc, &argv);
  nn::dist::Communicator comm;
  const int failing = argc > 1 ? std::atoi(argv[1]) : 1;
  try {
    nn::Sequential<float> m(1);
    m.add(nn::Dense<float>(4));
    m.add(nn::ReLU<float>());
    m.add(nn::Dense<float>(2));
    m.build({3});
    nn::dist::broadcast_model(comm, m);
    nn::dist::GradientAverager<float> avg(comm, m.parameters());
    nn::SGD<float> opt(m.parameters(), {0.1});
    nn::SoftmaxCrossEntropy<float> loss;
    nn::Tensor<float> x({2, 3}), y({2}), g;
    x.fill(0.5f), y.zero();
    for (int step = 0; step < 1000000; ++step) {
      if (step == 3 && comm.rank() == failing) throw std::runtime_error("train.idx: truncated at byte 1234 (simulated)");
      m.zero_grad();
      loss.compute(m.forward(x, true), y, &g);
      m.backward(g);
      avg.average();  // the other ranks wait here for the failed one
      opt.step();
    }
  } catch (const std::exception& e) {
    comm.abort(e.what());
  }
  return 0;
}
