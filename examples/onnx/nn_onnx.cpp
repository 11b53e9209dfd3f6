// nn-onnx — ONNX models as nn sees them (built when CMake finds ONNX).
//   nn-onnx info MODEL.onnx                 the model as nn imports it (or why it cannot)
//   nn-onnx run MODEL.onnx INPUT...         outputs for tensor files (.pb, a whole batch)
//                                           or images (resized to the model's input, / 255)
//   nn-onnx import MODEL.onnx OUT.nn        an ONNX model as an nn model file (for programs
//                                           built without ONNX: nn::load_graph reads it)
//   nn-onnx export MODEL.nn OUT.onnx        an nn model file as ONNX (checked before it is written)
//   nn-onnx check MODEL.onnx                the ONNX checker with strict shape inference
#include <nn/io/onnx.hpp>
#include <nn/nn.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "../common/cli.hpp"

namespace {

bool is_tensor_file(const std::string& p) { return p.size() > 3 && p.compare(p.size() - 3, 3, ".pb") == 0; }

// One output row: the top classes of a vector, else the shape and range.
void print_row(const nn::Tensor<float>& y, nn::Index i) {
  const nn::Index per = y.size() / y.dim(0);
  const float* r = y.data() + i * per;
  if (y.rank() == 2) {
    std::vector<nn::Index> idx(static_cast<std::size_t>(per));
    for (nn::Index k = 0; k < per; ++k) idx[std::size_t(k)] = k;
    const auto top = std::min<nn::Index>(5, per);
    std::partial_sort(idx.begin(), idx.begin() + top, idx.end(), [&](nn::Index a, nn::Index b) { return r[a] > r[b]; });
    std::printf("  top %ld:", long(top));
    for (nn::Index k = 0; k < top; ++k) std::printf(" %ld:%.4g", long(idx[std::size_t(k)]), double(r[idx[std::size_t(k)]]));
    std::printf("\n");
  } else {
    const auto [lo, hi] = std::minmax_element(r, r + per);
    std::printf("  %s, min %.4g, max %.4g\n", y.shape().tail().str().c_str(), double(*lo), double(*hi));
  }
}

int run(const std::string& model_path, const std::vector<std::string>& inputs) {
  auto g = nn::onnx::load<float>(model_path);
  if (g.num_inputs() != 1) throw std::runtime_error(model_path + ": run takes models with one input");
  const nn::Shape in = g.input_shape(0);
  int failures = 0;
  for (const auto& path : inputs) {
    try {
      nn::Tensor<float> x;
      if (is_tensor_file(path)) {
        x = nn::onnx::read_tensor<float>(path);
        if (x.rank() < 1 || x.shape().tail() != in)
          throw std::runtime_error(path + ": tensor " + x.shape().str() + ", the model takes " + nn::batch_str(in));
      } else {
        if (in.rank() != 3 || (in[0] != 1 && in[0] != 3))
          throw std::runtime_error(model_path + ": takes " + nn::batch_str(in) + ", not images");
        nn::data::ImageOptions o;
        o.channels = int(in[0]);
        o.height = int(in[1]);
        o.width = int(in[2]);
        x = nn::data::load_image<float>(path, o);
        x.reshape({1, in[0], in[1], in[2]});
      }
      const auto& ys = g.forward({&x}, false);
      std::printf("%s:\n", path.c_str());
      for (std::size_t k = 0; k < ys.size(); ++k) {
        std::printf(" output '%s' %s\n", g.output_name(k).c_str(), ys[k]->shape().str().c_str());
        for (nn::Index i = 0; i < ys[k]->dim(0); ++i) print_row(*ys[k], i);
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "nn-onnx: error: %s\n", e.what());
      ++failures;
    }
  }
  return failures ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args;
  cli::Cli cli("nn-onnx",
               "ONNX models as nn sees them. Commands: info MODEL.onnx | run MODEL.onnx INPUT... | "
               "import MODEL.onnx OUT.nn | export MODEL.nn OUT.onnx | check MODEL.onnx");
  cli.positional(&args, "COMMAND ARG...");
  cli.parse(argc, argv);
  if (args.empty()) cli.fail("give a command: info, run, import, export or check");
  const std::string cmd = args[0];
  const std::size_t n = args.size() - 1;
  if ((cmd == "info" || cmd == "check") && n != 1) cli.fail(cmd + " takes one model");
  if (cmd == "run" && n < 2) cli.fail("run takes a model and at least one input");
  if (cmd == "export" && n != 2) cli.fail("export takes MODEL.nn and OUT.onnx");
  if (cmd == "import" && n != 2) cli.fail("import takes MODEL.onnx and OUT.nn");
  if (cmd != "info" && cmd != "run" && cmd != "import" && cmd != "export" && cmd != "check")
    cli.fail("unknown command '" + cmd + "'");
  try {
    if (cmd == "info") {
      auto g = nn::onnx::load<float>(args[1]);
      std::printf("%s", g.summary().c_str());
      return 0;
    }
    if (cmd == "run") return run(args[1], std::vector<std::string>(args.begin() + 2, args.end()));
    if (cmd == "import") {
      auto g = nn::onnx::load<float>(args[1]);
      nn::save_model(args[2], g);
      std::printf("%s -> %s: %zu layers, %ld parameters\n", args[1].c_str(), args[2].c_str(), g.num_layers(),
                  long(g.num_parameters()));
      return 0;
    }
    if (cmd == "check") {
      const auto bytes = nn::io::read_file(args[1]);
      onnx::ModelProto m;
      if (!m.ParseFromArray(bytes.data(), int(bytes.size())))
        throw nn::io::FormatError(args[1] + ": not an ONNX model (the protobuf does not parse)");
      try {
        nn::onnx::check(m);
      } catch (const std::exception& e) {
        throw std::runtime_error(args[1] + ": the ONNX checker: " + e.what());
      }
      std::printf("%s: passes the ONNX checker and strict shape inference (opset %ld, %d nodes)\n", args[1].c_str(),
                  long(m.opset_import_size() ? m.opset_import(0).version() : 0), m.graph().node_size());
      try {
        nn::onnx::load_from_bytes<float>(bytes, args[1]);
        std::printf("%s: nn imports it\n", args[1].c_str());
      } catch (const nn::onnx::Unsupported& e) {
        std::printf("nn does not import it: %s\n", e.what());
      }
      return 0;
    }
    auto g = nn::load_graph<float>(args[1]);
    const auto m = nn::onnx::to_model(g);
    try {
      nn::onnx::check(m);
    } catch (const std::exception& e) {
      throw std::runtime_error("the exported model fails the ONNX checker (nothing written): " + std::string(e.what()));
    }
    nn::onnx::save(args[2], g);
    std::printf("%s -> %s: %d nodes, %d initializers, opset 13, batch dimension N\n", args[1].c_str(), args[2].c_str(),
                m.graph().node_size(), m.graph().initializer_size());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nn-onnx: error: %s\n", e.what());
    return 1;
  }
}
