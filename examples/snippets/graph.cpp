// docs/api.md's graph snippets: a residual block, a two-head model, a shared
// tower. The test suite builds and runs this program.
#include <nn/nn.hpp>

#include <iostream>

using F = float;

// A residual block with a projection shortcut: ReLU(BN(conv(ReLU(BN(conv x)))) + conv1x1(x)).
nn::NodeRef residual_block(nn::Graph<F>& g, nn::NodeRef x, nn::Index filters, nn::Index stride) {
  auto h = g.add(nn::Conv2D<F>(filters, 3, stride, nn::Padding::same(), 1, /*bias=*/false), x);
  h = g.add(nn::ReLU<F>(), g.add(nn::BatchNorm<F>(), h));
  h = g.add(nn::Conv2D<F>(filters, 3, 1, nn::Padding::same(), 1, false), h);
  h = g.add(nn::BatchNorm<F>(), h);
  auto shortcut = g.add(nn::Conv2D<F>(filters, 1, stride), x);
  return g.add(nn::ReLU<F>(), g.add(nn::Add<F>(), {h, shortcut}));
}

int main() {
  // 1. A small residual network.
  nn::Graph<F> resnet(/*seed=*/1);
  auto image = resnet.input({3, 32, 32}, "image");
  auto h = resnet.add(nn::Conv2D<F>(16, 3, 1, nn::Padding::same()), image);
  h = residual_block(resnet, h, 32, 2);
  h = residual_block(resnet, h, 64, 2);
  h = resnet.add(nn::GlobalAvgPool2D<F>(), h);
  resnet.output(resnet.add(nn::Dense<F>(10), h), "logits");
  std::cout << resnet.summary();

  // 2. Two heads on one trunk: a category (softmax) and multi-label tags (sigmoids).
  nn::Graph<F> tagger(2);
  auto x = tagger.input({1, 28, 28}, "image");
  auto t = tagger.add(nn::MaxPool2D<F>(2), tagger.add(nn::ReLU<F>(), tagger.add(nn::Conv2D<F>(16, 5), x)));
  t = tagger.add(nn::ReLU<F>(), tagger.add(nn::Dense<F>(64), tagger.add(nn::Flatten<F>(), t)));
  tagger.output(tagger.add(nn::Dense<F>(10), t), "category");
  tagger.output(tagger.add(nn::Dense<F>(6), t), "tags");
  nn::SoftmaxCrossEntropy<F> ce;
  nn::BCEWithLogits<F> bce;
  nn::Losses<F> losses;
  losses.add("category", ce, 1.0, {"accuracy"}).add("tags", bce, 0.5, {"macro_f1"});
  // nn::fit(tagger, losses, opt, dataset, options) with a MultiDataset holding the
  // input "image" and the targets "category" and "tags".

  // 3. One tower applied to two images (siamese), compared by cosine similarity.
  nn::Graph<F> siamese(3);
  auto a = siamese.input({1, 28, 28}, "anchor"), b = siamese.input({1, 28, 28}, "other");
  auto flat = siamese.share(nn::Flatten<F>(), "flatten");
  auto embed = siamese.share(nn::Dense<F>(32), "embed");
  auto ea = siamese.add(nn::L2Normalize<F>(), siamese.add(embed, siamese.add(flat, a)));
  auto eb = siamese.add(nn::L2Normalize<F>(), siamese.add(embed, siamese.add(flat, b)));
  siamese.output(siamese.add(nn::CosineSimilarity<F>(), {ea, eb}), "similarity");
  std::cout << siamese.summary();

  // Run each once.
  nn::Tensor<F> images({4, 3, 32, 32}), digits({4, 1, 28, 28}), others({4, 1, 28, 28});
  nn::Rng rng(4);
  images.fill_normal(rng, 0, 1), digits.fill_normal(rng, 0, 1), others.fill_normal(rng, 0, 1);
  std::cout << "logits " << resnet.forward(images, false).shape().str() << "\n";
  const auto& heads = tagger.forward({&digits}, false);
  std::cout << "category " << heads[0]->shape().str() << ", tags " << heads[1]->shape().str() << "\n";
  std::cout << "similarity " << siamese.forward({&digits, &others}, false)[0]->shape().str() << "\n";
  std::cout << "plan of the residual network in training:\n" << resnet.plan(true);
}
