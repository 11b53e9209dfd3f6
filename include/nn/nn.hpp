// nn/nn.hpp — umbrella header: everything in the nn library.
#pragma once

#include "nn/config.hpp"

#include "nn/tensor/random.hpp"
#include "nn/tensor/shape.hpp"
#include "nn/tensor/tensor.hpp"

#include "nn/kernels/activations.hpp"
#include "nn/kernels/batchnorm.hpp"
#include "nn/kernels/conv2d.hpp"
#include "nn/kernels/conv2d_pool.hpp"
#include "nn/kernels/conv2d_winograd.hpp"
#include "nn/kernels/winograd_transforms.hpp"
#include "nn/kernels/conv2d_direct.hpp"
#include "nn/kernels/epilogue.hpp"
#include "nn/kernels/gemm.hpp"
#include "nn/kernels/parallel.hpp"
#include "nn/kernels/pool2d.hpp"

#include "nn/init/init.hpp"

#include "nn/layers/activation.hpp"
#include "nn/layers/batch_norm.hpp"
#include "nn/layers/conv2d.hpp"
#include "nn/layers/dense.hpp"
#include "nn/layers/dropout.hpp"
#include "nn/layers/embedding.hpp"
#include "nn/layers/layer.hpp"
#include "nn/layers/pooling.hpp"
#include "nn/layers/reshape.hpp"

#include "nn/losses/binary_cross_entropy.hpp"
#include "nn/losses/cross_entropy.hpp"
#include "nn/losses/hinge.hpp"
#include "nn/losses/loss.hpp"
#include "nn/losses/mse.hpp"
#include "nn/losses/soft_f1.hpp"

#include "nn/optim/adam.hpp"
#include "nn/optim/optimizer.hpp"
#include "nn/optim/rmsprop.hpp"
#include "nn/optim/schedule.hpp"
#include "nn/optim/sgd.hpp"

#include "nn/model/sequential.hpp"

#include "nn/data/augment.hpp"
#include "nn/data/batch.hpp"
#include "nn/data/dataset.hpp"
#include "nn/data/find_dataset.hpp"
#include "nn/data/idx.hpp"
#include "nn/data/image_folder.hpp"
#include "nn/data/split.hpp"

#include "nn/io/atomic_file.hpp"
#include "nn/io/json.hpp"
#include "nn/io/layer_factory.hpp"
#include "nn/io/plot.hpp"
#include "nn/io/serialize.hpp"

#include "nn/train/callbacks.hpp"
#include "nn/train/fit.hpp"
#include "nn/train/history.hpp"
#include "nn/train/metrics.hpp"
#include "nn/train/progress.hpp"
#include "nn/train/stats.hpp"
