// nn/io/onnx.hpp — ONNX import and export (optional: link nn::onnx, which
// exists when CMake finds ONNX and protobuf; nn::nn never needs it).
//
//   nn::Graph<float> g = nn::onnx::load<float>("model.onnx");   // eval mode
//   const auto& y = g.forward({&x});                              // x (N, C, H, W)
//   nn::Tensor<float> t = nn::onnx::read_tensor<float>("input_0.pb");
//   nn::onnx::save("model.onnx", model);                         // Graph or Sequential
//
// Export writes opset 13 with a dynamic batch dimension ("N") on every input
// and output, the nn input and output names, and the parameters as
// initializers; to_model() in nn/io/onnx/export.hpp lists the operators
// each layer becomes.
//
// The ONNX graph becomes a Graph: the first dimension of every graph input
// and output is the batch (any size; the file's value, fixed or symbolic, is
// ignored), the others must be fixed. Initializers become weights.
// Operators (default domain, opsets 6 to 17) and what is supported of them:
//   Conv (2-D, group 1, any strides, pads, dilations, auto_pad),
//   ConvTranspose (2-D, group 1, symmetric pads, output_padding, dilations),
//   Gemm (transA 0, alpha, beta), MatMul by an initializer (+ Add of a bias
//   initializer: one Dense), Relu, LeakyRelu, Elu, Selu (default constants),
//   Sigmoid, Tanh, Softmax and LogSoftmax (over the last axis), MaxPool and
//   AveragePool (2-D, symmetric pads, ceil_mode 0; AveragePool with pads
//   counts them: count_include_pad 1), GlobalAveragePool, BatchNormalization
//   (inference), Dropout (inference), Flatten (axis 1), Reshape to a constant
//   shape that keeps the batch first (0 or -1), Pad (constant zeros, H and W),
//   Concat (not along the batch), Add and Mul of two tensors of one shape,
//   Resize / Upsample (integer scales on H and W: nearest as PyTorch exports
//   it, bilinear with half-pixel centres), Gather from an initializer along
//   axis 0 (an Embedding), Cast (to float, or to integers for Gather's
//   indices), Identity, Constant.
// Anything else throws nn::onnx::Unsupported naming the node, the operator
// and what is missing, before any computation: a model either loads with
// the meaning it has in ONNX or does not load. A file that is not a valid
// ONNX model throws nn::io::FormatError naming the file and the fault; sizes
// in the file are checked against the bytes actually present before
// anything is allocated from them.
//
// The parts: nn/io/onnx/tensor.hpp (errors, tensor files), import.hpp,
// export.hpp.
#pragma once
#include "nn/io/onnx/export.hpp"
#include "nn/io/onnx/import.hpp"
#include "nn/io/onnx/tensor.hpp"

