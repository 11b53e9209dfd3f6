// Builds and trains a tiny convnet for a few steps: proves the installed
// package carries its include paths, Eigen, stb and OpenMP.
#include <nn/nn.hpp>
#include <stb_image_write.h>

#include <iostream>

int main() {
  nn::Sequential<float> model({1, 8, 8}, 1);
  model.add<nn::Conv2D<float>>(4, 3, 1, nn::Padding::same());
  model.add(nn::ReLU<float>());
  model.add(nn::Flatten<float>());
  model.add(nn::Dense<float>(2));
  nn::Tensor<float> x({4, 1, 8, 8}), y = nn::Tensor<float>::from({4}, {0, 1, 0, 1}), grad;
  nn::Rng rng(1);
  x.fill_normal(rng, 0, 1);
  nn::SoftmaxCrossEntropy<float> loss;
  nn::Adam<float> opt(model.parameters());
  float first = 0, last = 0;
  for (int step = 0; step < 20; ++step) {
    model.zero_grad();
    last = loss.compute(model.forward(x, true), y, &grad);
    if (step == 0) first = last;
    model.backward(grad);
    opt.step();
  }
  unsigned char px[4] = {0, 255, 255, 0};
  int png_len = 0;
  stbi_write_png_to_func([](void* ctx, void*, int n) { *static_cast<int*>(ctx) += n; }, &png_len, 2, 2, 1, px, 2);
  std::cout << "consumer: loss " << first << " -> " << last << ", threads " << nn::num_threads() << "\n";
  return last < first && png_len > 0 ? 0 : 1;
}
