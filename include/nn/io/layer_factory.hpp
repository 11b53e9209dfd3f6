// nn/io/layer_factory.hpp — rebuilds a layer from its LayerConfig (the
// inverse of Layer::config()), for loading saved models.
#pragma once
#include <cmath>
#include <memory>
#include <stdexcept>

#include "nn/layers/activation.hpp"
#include "nn/layers/batch_norm.hpp"
#include "nn/layers/conv2d.hpp"
#include "nn/layers/dense.hpp"
#include "nn/layers/dropout.hpp"
#include "nn/layers/embedding.hpp"
#include "nn/layers/pooling.hpp"
#include "nn/layers/reshape.hpp"

namespace nn {

template <class T>
std::unique_ptr<Layer<T>> make_layer(const LayerConfig& c) {
  // Integer fields: whole numbers in [0, 2^31] (a file's value must not
  // reach a float-to-integer conversion it would overflow).
  auto I = [&](const char* k) {
    const double v = c.get(k);
    if (!(v >= 0 && v <= 2147483648.0) || v != std::floor(v))
      throw std::invalid_argument(c.type + ": '" + k + "' = " + std::to_string(v) + " is not a size");
    return static_cast<Index>(v);
  };
  auto D = [&](const char* k) {  // real-valued fields: finite, and within float's range
    const double v = c.get(k);
    if (!(std::abs(v) <= 1e30)) throw std::invalid_argument(c.type + ": '" + k + "' = " + std::to_string(v));
    return v;
  };
  const std::string& t = c.type;
  if (t == "Dense") return std::make_unique<Dense<T>>(I("units"), c.get("bias") != 0);
  if (t == "Conv2D") {
    Padding p = Padding::explicit_(I("pad_top"), I("pad_bottom"), I("pad_left"), I("pad_right"));
    const Index mode = I("padding_mode");
    if (mode > Index(Padding::Explicit)) throw std::invalid_argument("Conv2D: padding mode " + std::to_string(mode));
    p.mode = static_cast<Padding::Mode>(mode);
    return std::make_unique<Conv2D<T>>(I("filters"), Size2(I("kernel_h"), I("kernel_w")),
                                       Size2(I("stride_h"), I("stride_w")), p, Size2(I("dilation_h"), I("dilation_w")),
                                       c.get("bias") != 0);
  }
  if (t == "MaxPool2D")
    return std::make_unique<MaxPool2D<T>>(Size2(I("kernel_h"), I("kernel_w")), Size2(I("stride_h"), I("stride_w")),
                                          Size2(I("pad_h"), I("pad_w")));
  if (t == "AvgPool2D")
    return std::make_unique<AvgPool2D<T>>(Size2(I("kernel_h"), I("kernel_w")), Size2(I("stride_h"), I("stride_w")),
                                          Size2(I("pad_h"), I("pad_w")));
  if (t == "GlobalAvgPool2D") return std::make_unique<GlobalAvgPool2D<T>>();
  if (t == "ZeroPadding2D") return std::make_unique<ZeroPadding2D<T>>(I("top"), I("bottom"), I("left"), I("right"));
  if (t == "BatchNorm") return std::make_unique<BatchNorm<T>>(D("momentum"), D("eps"));
  if (t == "Dropout") return std::make_unique<Dropout<T>>(D("rate"));
  if (t == "Flatten") return std::make_unique<Flatten<T>>();
  if (t == "Embedding") return std::make_unique<Embedding<T>>(I("num"), I("dim"));
  if (t == "ReLU") return std::make_unique<ReLU<T>>();
  if (t == "LeakyReLU") return std::make_unique<LeakyReLU<T>>(D("slope"));
  if (t == "ELU") return std::make_unique<ELU<T>>(D("alpha"));
  if (t == "SELU") return std::make_unique<SELU<T>>();
  if (t == "Sigmoid") return std::make_unique<Sigmoid<T>>();
  if (t == "Tanh") return std::make_unique<Tanh<T>>();
  if (t == "Softmax") return std::make_unique<Softmax<T>>();
  throw std::invalid_argument("make_layer: unknown layer type '" + t + "'");
}

}  // namespace nn
