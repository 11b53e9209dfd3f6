// The README's short program, built so it stays correct.
#include <nn/nn.hpp>

#include <iostream>

int main() {
  using F = float;
  auto data = nn::data::load_mnist<F>(nn::data::find_dataset("mnist"));

  nn::Sequential<F> model({1, 28, 28}, /*seed=*/1);   // per-sample input shape
  model.add<nn::Conv2D<F>>(32, 5);                    // 32 filters, 5x5
  model.add(nn::BatchNorm<F>());
  model.add(nn::ReLU<F>());
  model.add(nn::MaxPool2D<F>(2));
  model.add(nn::Flatten<F>());
  model.add(nn::Dense<F>(10));
  std::cout << model.summary();

  nn::SoftmaxCrossEntropy<F> loss;                    // fused, from logits
  nn::Adam<F> opt(model.parameters());
  nn::Tensor<F> x({64, 1, 28, 28}), y({64}), grad;
  for (int step = 0; step < 100; ++step) {
    for (nn::Index i = 0; i < 64; ++i) {              // a batch (no shuffling here)
      std::copy_n(&data.train_x(step * 64 + i, 0, 0, 0), 784, &x(i, 0, 0, 0));
      y[i] = data.train_y[step * 64 + i];
    }
    model.zero_grad();
    float l = loss.compute(model.forward(x, /*training=*/true), y, &grad);
    model.backward(grad);
    opt.step();
    if (step % 20 == 0) std::cout << "step " << step << " loss " << l << "\n";
  }
}
