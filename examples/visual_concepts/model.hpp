// model.hpp — one trunk, up to four heads, built with the graph API.
//
//   image (1, 28, 28)
//   trunk   conv 3x3 (w) + BN + ReLU, max pool 2      -> (w, 14, 14)
//           conv 3x3 (2w) + BN + ReLU, max pool 2     -> (2w, 7, 7)
//           conv 3x3 (4w) + BN + ReLU, global average -> "features" (4w)
//   heads   Dense(10)                -> "category"  (softmax cross-entropy)
//           Dense(5)                 -> "super"     (softmax cross-entropy)     variants b, c
//           Dense(tags)              -> "tags"      (sigmoid BCE or soft F1)    variants b, c
//           Dense(dim) -> "embedding" -> ConceptSimilarity(K) -> "concepts"
//                                       (CosinePushPull: cos -> 1 for active
//                                        concepts, <= 0 for the others)     variant c
// "features" is an output without a loss: the linear probe and the image
// search of variants a and b read it.
#pragma once
#include <nn/nn.hpp>

#include <string>

namespace vcmodel {

using F = float;

// a: category only; b: + super-category + tags; c: b + concept embedding
inline bool has_tags(char variant) { return variant == 'b' || variant == 'c'; }
inline bool has_concepts(char variant) { return variant == 'c'; }

inline nn::NodeRef conv_bn_relu(nn::Graph<F>& g, nn::NodeRef x, nn::Index filters) {
  auto h = g.add(nn::Conv2D<F>(filters, 3, 1, nn::Padding::same(), 1, /*bias=*/false), x);
  return g.add(nn::ReLU<F>(), g.add(nn::BatchNorm<F>(), h));
}

inline nn::Graph<F> build(char variant, nn::Index width, nn::Index tags, nn::Index concepts, nn::Index dim,
                          std::uint64_t seed) {
  nn::Graph<F> g(seed);
  auto x = g.input({1, 28, 28}, "image");
  auto h = g.add(nn::MaxPool2D<F>(2), conv_bn_relu(g, x, width));
  h = g.add(nn::MaxPool2D<F>(2), conv_bn_relu(g, h, 2 * width));
  h = g.add(nn::Flatten<F>(), g.add(nn::GlobalAvgPool2D<F>(), conv_bn_relu(g, h, 4 * width)), "trunk");
  g.output(h, "features");
  g.output(g.add(nn::Dense<F>(10), h), "category");
  if (has_tags(variant)) {
    g.output(g.add(nn::Dense<F>(5), h), "super");
    g.output(g.add(nn::Dense<F>(tags), h), "tags");
  }
  if (has_concepts(variant)) {
    auto e = g.add(nn::Dense<F>(dim), h, "embed");
    g.output(e, "embedding");
    g.output(g.add(nn::ConceptSimilarity<F>(concepts), e, "concept_table"), "concepts");
  }
  return g;
}

}  // namespace vcmodel
