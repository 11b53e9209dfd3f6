// nn/io/layer_factory.hpp — rebuilds a layer or a merge from its LayerConfig
// (the inverse of config()), for loading saved models.
//
// The library's layers and merges are listed here and join the registry
// (nn/layers/registry.hpp) on the first make_layer<T> / make_merge<T> for
// that T. Registering them at program start instead would compile every
// layer for float and double in each translation unit that includes
// nn/nn.hpp: 34 s instead of 4 s per translation unit at -O3 (g++ 12).
// A new library layer adds its name to NN_LIBRARY_LAYERS.
#pragma once
#include <memory>

#include "nn/layers/activation.hpp"
#include "nn/layers/batch_norm.hpp"
#include "nn/layers/concept_similarity.hpp"
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

#define NN_LIBRARY_LAYERS(X)                                                                        \
  X(Dense) X(Conv2D) X(Conv2DTranspose) X(BatchNorm) X(Dropout) X(Embedding) X(MaxPool2D)          \
  X(AvgPool2D) X(GlobalAvgPool2D) X(Upsample2D) X(Flatten) X(Reshape) X(ZeroPadding2D)             \
  X(L2Normalize) X(ConceptSimilarity) X(ReLU) X(LeakyReLU) X(ELU) X(SELU) X(Sigmoid) X(Tanh) X(Softmax) X(LogSoftmax)
#define NN_LIBRARY_MERGES(X) X(Add) X(Multiply) X(Concat) X(Dot) X(CosineSimilarity)

namespace nn {
namespace detail {

template <class T>
void register_library_layers() {
  static const bool once = [] {
#define NN_ADD_LAYER_(L) Registry<Layer<T>>::add(#L, &L<T>::from_config);
#define NN_ADD_MERGE_(M) Registry<Merge<T>>::add(#M, &M<T>::from_config);
    NN_LIBRARY_LAYERS(NN_ADD_LAYER_)
    NN_LIBRARY_MERGES(NN_ADD_MERGE_)
#undef NN_ADD_LAYER_
#undef NN_ADD_MERGE_
    return true;
  }();
  (void)once;
}

}  // namespace detail

template <class T>
std::unique_ptr<Layer<T>> make_layer(const LayerConfig& c) {
  detail::register_library_layers<T>();
  return Registry<Layer<T>>::make(c);
}
template <class T>
std::unique_ptr<Merge<T>> make_merge(const LayerConfig& c) {
  detail::register_library_layers<T>();
  return Registry<Merge<T>>::make(c);
}

}  // namespace nn
