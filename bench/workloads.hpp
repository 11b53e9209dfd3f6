// bench/workloads.hpp — the performance issue's model workloads, built with nn.
//   W1 mnist-lenet   batch 64,  1x28x28
//   W2 grocery-seed  batch 32,  3x104x104 (the grocery blog's model, 5 classes)
//   W3 small-cifar   batch 128, 3x32x32
//   W4 resnet-64     batch 32,  3x64x64 (the Freiburg example's residual network, 25 classes; a Graph)
//   W5 fcn-64        batch 32,  1x64x64 (the segmentation example's FCN with --upsample transposed:
//                    dilated, strided and transposed convs, skip concatenations; 11 logits per pixel; a Graph)
// bench/compare/torch_models.py builds the same networks in PyTorch.
#pragma once
#include <nn/nn.hpp>

#include <string>

#include "../examples/common/resnet.hpp"
#include "../examples/segmentation/fcn.hpp"

namespace workloads {
using F = float;

struct Workload {
  std::string name;
  nn::Index batch;
  nn::Shape input;
  nn::Index classes;
};

inline Workload get(const std::string& name) {
  if (name == "W1") return {"W1", 64, nn::Shape{1, 28, 28}, 10};
  if (name == "W2") return {"W2", 32, nn::Shape{3, 104, 104}, 5};
  if (name == "W3") return {"W3", 128, nn::Shape{3, 32, 32}, 10};
  if (name == "W4") return {"W4", 32, nn::Shape{3, 64, 64}, 25};
  if (name == "W5") return {"W5", 32, nn::Shape{1, 64, 64}, 11};
  throw std::invalid_argument("unknown workload " + name + " (W1, W2, W3, W4, W5)");
}

inline bool is_graph(const std::string& name) { return name == "W4" || name == "W5"; }
inline bool per_pixel(const std::string& name) { return name == "W5"; }

// W4, the residual network; W5, the segmentation network.
inline nn::Graph<F> build_graph(const std::string& name, std::uint64_t seed = 1) {
  const Workload w = get(name);
  if (!is_graph(name)) throw std::invalid_argument(name + " is a Sequential workload");
  if (name == "W5") return fcn::build("dilated", w.input[1], w.input[2], 16, int(w.classes), seed, "transposed");
  return resnet::build<F>(w.input[1], w.classes, seed);
}

// W1-W3.
inline nn::Sequential<F> build(const std::string& name, std::uint64_t seed = 1) {
  const Workload w = get(name);
  nn::Sequential<F> m(w.input, seed);
  if (name == "W1") {
    m.add<nn::Conv2D<F>>(32, 5);
    m.add(nn::ReLU<F>());
    m.add(nn::MaxPool2D<F>(2));
    m.add<nn::Conv2D<F>>(64, 5);
    m.add(nn::ReLU<F>());
    m.add(nn::MaxPool2D<F>(2));
    m.add(nn::Flatten<F>());
    m.add(nn::Dense<F>(128));
    m.add(nn::ReLU<F>());
    m.add(nn::Dense<F>(10));
  } else if (name == "W2") {
    m.add(nn::ZeroPadding2D<F>(1));
    m.add<nn::Conv2D<F>>(32, 3);
    m.add(nn::BatchNorm<F>());
    m.add(nn::ReLU<F>());
    m.add(nn::MaxPool2D<F>(2));
    m.add(nn::Dropout<F>(0.2));
    for (int i = 0; i < 4; ++i) {
      m.add<nn::Conv2D<F>>(32, 3);
      m.add(nn::ReLU<F>());
      m.add(nn::MaxPool2D<F>(2));
      m.add(nn::Dropout<F>(0.2));
    }
    m.add(nn::Flatten<F>());
    m.add(nn::Dense<F>(64));
    m.add(nn::ReLU<F>());
    m.add(nn::Dropout<F>(0.2));
    m.add(nn::Dense<F>(5));
  } else {
    m.add<nn::Conv2D<F>>(32, 3, 1, 1);
    m.add(nn::ReLU<F>());
    m.add<nn::Conv2D<F>>(32, 3, 1, 1);
    m.add(nn::ReLU<F>());
    m.add(nn::MaxPool2D<F>(2));
    m.add<nn::Conv2D<F>>(64, 3, 1, 1);
    m.add(nn::ReLU<F>());
    m.add<nn::Conv2D<F>>(64, 3, 1, 1);
    m.add(nn::ReLU<F>());
    m.add(nn::MaxPool2D<F>(2));
    m.add(nn::Flatten<F>());
    m.add(nn::Dense<F>(512));
    m.add(nn::ELU<F>());
    m.add(nn::Dense<F>(10));
  }
  return m;
}
}  // namespace workloads
