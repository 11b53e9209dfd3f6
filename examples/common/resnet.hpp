// examples/common/resnet.hpp — the residual network of the Freiburg example,
// also benchmark workload W4 (bench/workloads.hpp).
//
// A 3x3 stem of 32 channels (batch norm, ReLU), four stages of two basic
// blocks with 32 | 64 | 128 | 256 channels (stride 2 into each stage after
// the first), global average pooling, dropout 0.3, a linear classifier.
// A basic block: two 3x3 conv (padding 1) + batch norm, ReLU between them and after the
// sum; the shortcut is a 1x1 conv + batch norm where the shape changes.
#pragma once
#include <nn/nn.hpp>

namespace resnet {

template <class F>
nn::NodeRef basic_block(nn::Graph<F>& g, nn::NodeRef x, nn::Index filters, nn::Index stride) {
  auto h = g.add(nn::Conv2D<F>(filters, 3, stride, 1, 1, false), x);
  h = g.add(nn::ReLU<F>(), g.add(nn::BatchNorm<F>(), h));
  h = g.add(nn::BatchNorm<F>(), g.add(nn::Conv2D<F>(filters, 3, 1, 1, 1, false), h));
  nn::NodeRef shortcut = x;
  if (stride != 1 || g.nodes()[std::size_t(x.id)].shape[0] != filters)
    shortcut = g.add(nn::BatchNorm<F>(), g.add(nn::Conv2D<F>(filters, 1, stride, nn::Padding::valid(), 1, false), x));
  return g.add(nn::ReLU<F>(), g.add(nn::Add<F>(), {h, shortcut}));
}

template <class F>
nn::Graph<F> build(nn::Index size, nn::Index classes, std::uint64_t seed) {
  nn::Graph<F> g(seed);
  auto x = g.input({3, size, size}, "image");
  auto h = g.add(nn::Conv2D<F>(32, 3, 1, 1, 1, false), x);
  h = g.add(nn::ReLU<F>(), g.add(nn::BatchNorm<F>(), h));
  int stage = 0;
  for (nn::Index filters : {32, 64, 128, 256}) {
    h = basic_block(g, h, filters, stage++ == 0 ? 1 : 2);
    h = basic_block(g, h, filters, 1);
  }
  h = g.add(nn::Dropout<F>(0.3), g.add(nn::GlobalAvgPool2D<F>(), h));
  g.output(g.add(nn::Dense<F>(classes), h), "logits");
  return g;
}

}  // namespace resnet
