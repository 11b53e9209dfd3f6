// Writes the seed corpus of fuzz_onnx (tests/fuzz/corpus/onnx/): small models
// written by nn::onnx::save, covering the operators the importer reads, and
// a tensor file. Built when nn::onnx exists.
//   fuzz_make_onnx_seeds tests/fuzz/corpus/onnx
#include <nn/io/onnx.hpp>
#include <nn/nn.hpp>
#include <onnx/onnx_pb.h>

#include <cstdio>
#include <fstream>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_onnx_seeds DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  using F = float;
  nn::Sequential<F> a({2, 6, 6}, 1);
  a.add(nn::ZeroPadding2D<F>(1));
  a.add(nn::Conv2D<F>(3, 3, 1, nn::Padding::same(), 1));
  a.add(nn::BatchNorm<F>());
  a.add(nn::ReLU<F>());
  a.add(nn::MaxPool2D<F>(2));
  a.add(nn::Upsample2D<F>(2, nn::Upsample2D<F>::Mode::Bilinear));
  a.add(nn::Conv2DTranspose<F>(2, 3, 2, 1, 1));
  a.add(nn::AvgPool2D<F>(2));
  a.add(nn::Flatten<F>());
  a.add(nn::Dense<F>(4));
  a.add(nn::LogSoftmax<F>());
  nn::onnx::save(dir + "/chain.onnx", a);
  nn::Graph<F> g(2);
  auto x = g.input({2, 4, 4}, "x");
  auto c = g.add(nn::Tanh<F>(), g.add(nn::Conv2D<F>(2, 3, 1, 1), x));
  auto m = g.add(nn::Multiply<F>(), {g.add(nn::Add<F>(), {c, x}), x});
  auto cat = g.add(nn::Concat<F>(0), {m, c});
  auto gp = g.add(nn::GlobalAvgPool2D<F>(), cat);
  g.output(g.add(nn::Softmax<F>(), g.add(nn::Dense<F>(3), g.add(nn::Reshape<F>({2, 2}), gp))), "y");
  nn::onnx::save(dir + "/graph.onnx", g);
  nn::Graph<F> e(3);
  auto ids = e.input({2}, "ids");
  e.output(e.add(nn::Dense<F>(2), e.add(nn::Flatten<F>(), e.add(nn::Embedding<F>(5, 3), ids))), "y");
  nn::onnx::save(dir + "/embedding.onnx", e);
  onnx::TensorProto t;
  t.set_data_type(onnx::TensorProto::FLOAT);
  for (int d : {1, 2, 3}) t.add_dims(d);
  for (int i = 0; i < 6; ++i) t.add_float_data(float(i) / 2);
  std::ofstream(dir + "/tensor.pb", std::ios::binary) << t.SerializeAsString();
  std::printf("wrote 4 seeds to %s\n", dir.c_str());
  return 0;
}
