// nn/io/layer_factory.hpp — rebuilds a layer or a merge from its LayerConfig
// (the inverse of config()), for loading saved models. Every layer and merge
// of the library registers itself (nn/layers/registry.hpp); this header
// includes them all so that a loader knows every type.
#pragma once
#include <memory>

#include "nn/layers/activation.hpp"
#include "nn/layers/batch_norm.hpp"
#include "nn/layers/conv2d.hpp"
#include "nn/layers/conv2d_transpose.hpp"
#include "nn/layers/dense.hpp"
#include "nn/layers/dropout.hpp"
#include "nn/layers/embedding.hpp"
#include "nn/layers/merge.hpp"
#include "nn/layers/normalize.hpp"
#include "nn/layers/pooling.hpp"
#include "nn/layers/registry.hpp"
#include "nn/layers/reshape.hpp"
#include "nn/layers/upsample.hpp"

namespace nn {

template <class T>
std::unique_ptr<Layer<T>> make_layer(const LayerConfig& c) {
  return Registry<Layer<T>>::make(c);
}
template <class T>
std::unique_ptr<Merge<T>> make_merge(const LayerConfig& c) {
  return Registry<Merge<T>>::make(c);
}

}  // namespace nn
