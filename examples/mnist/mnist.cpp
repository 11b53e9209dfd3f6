// mnist — trains a convnet on MNIST with a hand-written loop (forward, loss,
// backward, optimizer step) and reports the test accuracy.
//
//   mnist [--data DIR] [--epochs N] [--batch-size N] [--lr X] [--seed N]
//         [--threads N] [--model cnn|mlp] [--quick]
#include <nn/nn.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <numeric>

namespace {

struct Options {
  std::string data, model = "cnn";
  int epochs = 3, batch = 64, threads = 0;
  double lr = 1e-3;
  std::uint64_t seed = 1;
  bool quick = false;
};

[[noreturn]] void usage(const char* msg) {
  if (msg) std::fprintf(stderr, "mnist: %s\n", msg);
  std::fprintf(stderr,
               "usage: mnist [--data DIR] [--epochs N] [--batch-size N] [--lr X] [--seed N] [--threads N]\n"
               "             [--model cnn|mlp] [--quick]\n");
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage((a + " needs a value").c_str());
      return argv[++i];
    };
    try {
      if (a == "--data") o.data = value();
      else if (a == "--epochs") o.epochs = std::stoi(value());
      else if (a == "--batch-size") o.batch = std::stoi(value());
      else if (a == "--lr") o.lr = std::stod(value());
      else if (a == "--seed") o.seed = std::stoull(value());
      else if (a == "--threads") o.threads = std::stoi(value());
      else if (a == "--model") o.model = value();
      else if (a == "--quick") o.quick = true;
      else if (a == "--help" || a == "-h") usage(nullptr);
      else usage(("unknown flag " + a).c_str());
    } catch (const std::logic_error&) {
      usage(("bad value for " + a).c_str());
    }
  }
  if (o.model != "cnn" && o.model != "mlp") usage("--model must be cnn or mlp");
  if (o.epochs < 1 || o.batch < 1) usage("--epochs and --batch-size must be >= 1");
  return o;
}

nn::Sequential<float> make_model(const std::string& kind, std::uint64_t seed) {
  using F = float;
  nn::Sequential<F> m(nn::Shape{1, 28, 28}, seed);
  if (kind == "mlp") {
    m.add(nn::Flatten<F>());
    m.add(nn::Dense<F>(256));
    m.add(nn::ReLU<F>());
    m.add(nn::Dense<F>(10));
    return m;
  }
  m.add<nn::Conv2D<F>>(32, 5);
  m.add(nn::BatchNorm<F>());
  m.add(nn::ReLU<F>());
  m.add(nn::MaxPool2D<F>(2));
  m.add<nn::Conv2D<F>>(64, 5);
  m.add(nn::BatchNorm<F>());
  m.add(nn::ReLU<F>());
  m.add(nn::MaxPool2D<F>(2));
  m.add(nn::Flatten<F>());
  m.add(nn::Dense<F>(128));
  m.add(nn::BatchNorm<F>());
  m.add(nn::ReLU<F>());
  m.add(nn::Dropout<F>(0.3));
  m.add(nn::Dense<F>(10));
  return m;
}

// Copies samples idx[from, from + n) of (x, y) into a batch.
void gather(const nn::Tensor<float>& x, const nn::Tensor<float>& y, const std::vector<nn::Index>& idx,
            std::size_t from, nn::Index n, nn::Tensor<float>& bx, nn::Tensor<float>& by) {
  const nn::Index d = x.size() / x.dim(0);
  bx.resize(x.shape().tail().with_batch(n));
  by.resize(nn::Shape{n});
  for (nn::Index i = 0; i < n; ++i) {
    const nn::Index s = idx[from + static_cast<std::size_t>(i)];
    std::memcpy(bx.data() + i * d, x.data() + s * d, static_cast<std::size_t>(d) * sizeof(float));
    by[i] = y[s];
  }
}

double accuracy(nn::Sequential<float>& m, const nn::Tensor<float>& x, const nn::Tensor<float>& y) {
  std::vector<nn::Index> idx(static_cast<std::size_t>(x.dim(0)));
  std::iota(idx.begin(), idx.end(), 0);
  nn::Tensor<float> bx, by;
  nn::Index correct = 0;
  for (std::size_t s = 0; s < idx.size(); s += 500) {
    const nn::Index n = std::min<nn::Index>(500, nn::Index(idx.size() - s));
    gather(x, y, idx, s, n, bx, by);
    const auto& out = m.forward(bx, false);
    for (nn::Index i = 0; i < n; ++i) {
      nn::Index best = 0;
      for (nn::Index c = 1; c < 10; ++c)
        if (out(i, c) > out(i, best)) best = c;
      correct += best == nn::Index(by[i]);
    }
  }
  return double(correct) / double(x.dim(0));
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    if (o.threads > 0) nn::set_num_threads(o.threads);
    std::cout << nn::build_info() << "\n";
    const std::string dir = o.data.empty() ? nn::data::find_dataset("mnist") : o.data;
    std::cout << "data: " << dir << "\n";
    auto mn = nn::data::load_mnist<float>(dir);
    nn::Index n_train = mn.train_x.dim(0);
    int epochs = o.epochs;
    if (o.quick) n_train = std::min<nn::Index>(n_train, 6000), epochs = 1;

    auto model = make_model(o.model, o.seed);
    std::cout << model.summary();
    nn::SoftmaxCrossEntropy<float> loss;
    nn::AdamOptions ao;
    ao.lr = o.lr;
    nn::Adam<float> opt(model.parameters(), ao);

    nn::Rng rng(o.seed);
    std::vector<nn::Index> order(static_cast<std::size_t>(n_train));
    nn::Tensor<float> bx, by, grad;
    const auto t0 = std::chrono::steady_clock::now();
    for (int e = 0; e < epochs; ++e) {
      std::iota(order.begin(), order.end(), 0);
      for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
      double sum = 0;
      int steps = 0;
      for (std::size_t s = 0; s < order.size(); s += static_cast<std::size_t>(o.batch)) {
        const nn::Index n = std::min<nn::Index>(o.batch, nn::Index(order.size() - s));
        if (n < 2) continue;  // batch norm needs two samples
        gather(mn.train_x, mn.train_y, order, s, n, bx, by);
        model.zero_grad();
        sum += loss.compute(model.forward(bx, true), by, &grad);
        model.backward(grad);
        opt.step();
        ++steps;
      }
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("epoch %d/%d  loss %.4f  %.1fs  %.0f images/s\n", e + 1, epochs, sum / steps, secs,
                  double(n_train) * (e + 1) / secs);
      std::fflush(stdout);
    }
    const double acc = accuracy(model, mn.test_x, mn.test_y);
    std::printf("test accuracy: %.2f%% (%lld images)\n", 100 * acc, static_cast<long long>(mn.test_x.dim(0)));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mnist: error: %s\n", e.what());
    return 1;
  }
}
