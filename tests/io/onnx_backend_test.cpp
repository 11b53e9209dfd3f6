// The ONNX backend node tests (Debian's libonnx-testdata: test_*/model.onnx
// with test_data_set_*/input_*.pb and output_*.pb) through nn::onnx::load.
// Every test whose operator and attributes nn supports must pass; the others
// must be refused with nn::onnx::Unsupported. Prints how many passed, how
// many were skipped as unsupported and why (grouped), and every failure.
//
//   nn_onnx_backend_tests [NODE_TEST_DIR] [--list]
//
// The node tests pass weights (a convolution's W, Resize's scales) as graph
// inputs with test data, where a model file has initializers. The runner
// first imports the model as it is; if nn refuses it, it makes every input
// but the first (then every input but the last, for Gather's table) an
// initializer holding the test data, as an exporter would, and retries.
// Outputs match within |nn - onnx| <= 1e-5 + 1e-4 |onnx| (float).
#include <nn/io/onnx.hpp>
#include <nn/nn.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using nn::Index;
using nn::Tensor;

namespace {

std::vector<unsigned char> bytes_of(const std::string& s) { return std::vector<unsigned char>(s.begin(), s.end()); }

// The model with the graph inputs named in `freeze` turned into
// initializers holding the data set's values.
std::string frozen(const onnx::ModelProto& m, const std::vector<std::string>& freeze, const fs::path& set,
                   const std::vector<std::string>& input_names) {
  onnx::ModelProto c = m;
  auto* g = c.mutable_graph();
  google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> kept;
  for (const auto& in : g->input()) {
    if (std::find(freeze.begin(), freeze.end(), in.name()) == freeze.end()) {
      *kept.Add() = in;
      continue;
    }
    const auto k = std::find(input_names.begin(), input_names.end(), in.name()) - input_names.begin();
    onnx::TensorProto t;
    const auto raw = nn::io::read_file((set / ("input_" + std::to_string(k) + ".pb")).string());
    if (!t.ParseFromArray(raw.data(), int(raw.size()))) throw std::runtime_error("cannot parse input " + in.name());
    t.set_name(in.name());
    *g->add_initializer() = t;
  }
  g->mutable_input()->Swap(&kept);
  return c.SerializeAsString();
}

// "Conv: group 2" from "file: node 0 'x' (Conv): group 2 (grouped ...)"
std::string reason(const std::string& what) {
  std::string s = what;
  const auto p = s.find(".onnx: ");
  if (p != std::string::npos) s = s.substr(p + 7);
  const auto op = s.find(" (");
  if (s.rfind("node ", 0) == 0 && op != std::string::npos) {
    const auto close = s.find("): ", op);
    if (close != std::string::npos) s = s.substr(op + 2, close - op - 2) + ": " + s.substr(close + 3);
  } else if (s.rfind("input '", 0) == 0) {
    const auto q = s.find("': ");
    if (q != std::string::npos) s = "input: " + s.substr(q + 3);
  }
  const auto paren = s.find(" (");
  if (paren != std::string::npos) s = s.substr(0, paren);
  for (char& ch : s)
    if (ch >= '0' && ch <= '9') ch = '#';  // "group 2" and "group 3" count as one reason
  return s.size() > 90 ? s.substr(0, 90) : s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/usr/share/libonnx-testdata/data/node";
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--list") list = true;
    else dir = a;
  }
  if (!fs::is_directory(dir)) {
    std::printf("[nn-skip] ONNX backend test data not found at %s (Debian: libonnx-testdata, or "
                "scripts/install-deps.sh --onnx)\n", dir.c_str());
    return 0;
  }
  std::vector<fs::path> tests;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_", 0) == 0 && fs::exists(e.path() / "model.onnx"))
      tests.push_back(e.path());
  std::sort(tests.begin(), tests.end());
  int passed = 0, skipped = 0, failed = 0;
  std::map<std::string, int> reasons;
  std::vector<std::string> passed_names;
  for (const auto& t : tests) {
    const std::string name = t.filename().string();
    try {
      onnx::ModelProto m;
      const auto raw = nn::io::read_file((t / "model.onnx").string());
      if (!m.ParseFromArray(raw.data(), int(raw.size()))) throw std::runtime_error("model.onnx does not parse");
      std::vector<fs::path> sets;
      for (const auto& e : fs::directory_iterator(t))
        if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
      std::sort(sets.begin(), sets.end());
      if (sets.empty()) throw std::runtime_error("no test data set");
      std::vector<std::string> inputs;  // graph inputs that are not initializers, in order
      std::set<std::string> inits, tensors;
      for (const auto& i : m.graph().initializer()) inits.insert(i.name());
      for (const auto& i : m.graph().input())
        if (!inits.count(i.name())) {
          inputs.push_back(i.name());
          if (i.type().has_tensor_type()) tensors.insert(i.name());
        }
      // the ways to import: as it is; inputs but the first as initializers;
      // but the last (only tensors become initializers)
      std::vector<std::vector<std::string>> tries{{}};
      auto all_tensors = [&](const std::vector<std::string>& v) {
        return std::all_of(v.begin(), v.end(), [&](const std::string& s) { return tensors.count(s) > 0; });
      };
      if (inputs.size() > 1) {
        for (auto v : {std::vector<std::string>(inputs.begin() + 1, inputs.end()),
                       std::vector<std::string>(inputs.begin(), inputs.end() - 1)})
          if (all_tensors(v)) tries.push_back(v);
      }
      bool ok = true;
      std::string why;
      for (const auto& set : sets) {
        nn::Graph<float> g;
        const std::vector<std::string>* used = nullptr;
        for (const auto& freeze : tries) {
          try {
            g = nn::onnx::load_from_bytes<float>(bytes_of(frozen(m, freeze, set, inputs)), name + "/model.onnx");
            used = &freeze;
            break;
          } catch (const nn::onnx::Unsupported& e) {
            // the reason: the model as it is, unless the try with its weights
            // as initializers got further
            if (why.empty() || &freeze == &tries[1]) why = e.what();
          }
        }
        if (!used) {
          ok = false;
          break;
        }
        std::vector<Tensor<float>> xs;
        for (std::size_t k = 0; k < inputs.size(); ++k)
          if (std::find(used->begin(), used->end(), inputs[k]) == used->end())
            xs.push_back(nn::onnx::read_tensor<float>((set / ("input_" + std::to_string(k) + ".pb")).string()));
        std::vector<const Tensor<float>*> ptrs;
        for (auto& x : xs) ptrs.push_back(&x);
        const auto& ys = g.forward(ptrs, false);
        for (std::size_t k = 0; k < ys.size(); ++k) {
          const auto want = nn::onnx::read_tensor<float>((set / ("output_" + std::to_string(k) + ".pb")).string());
          if (want.shape() != ys[k]->shape())
            throw std::runtime_error(set.filename().string() + " output " + std::to_string(k) + ": shape " +
                                     ys[k]->shape().str() + ", expected " + want.shape().str());
          double worst = 0;
          Index at = 0;
          for (Index i = 0; i < want.size(); ++i) {
            const double d = std::abs(double((*ys[k])[i]) - double(want[i])) - 1e-4 * std::abs(double(want[i]));
            if (!(d <= worst)) worst = d, at = i;
          }
          if (!(worst <= 1e-5))
            throw std::runtime_error(set.filename().string() + " output " + std::to_string(k) + " element " +
                                     std::to_string(at) + ": " + std::to_string((*ys[k])[at]) + ", expected " +
                                     std::to_string(want[at]));
        }
      }
      if (ok) {
        ++passed;
        passed_names.push_back(name);
      } else {
        ++skipped;
        ++reasons[reason(why)];
        if (list) std::printf("skip %s: %s\n", name.c_str(), why.c_str());
      }
    } catch (const std::exception& e) {
      ++failed;
      std::printf("FAIL %s: %s\n", name.c_str(), e.what());
    }
  }
  std::vector<std::pair<int, std::string>> by_count;
  for (const auto& kv : reasons) by_count.push_back({kv.second, kv.first});
  std::sort(by_count.rbegin(), by_count.rend());
  std::printf("skipped as unsupported, by reason (top 25 of %zu):\n", by_count.size());
  for (std::size_t i = 0; i < by_count.size() && i < 25; ++i)
    std::printf("  %4d  %s\n", by_count[i].first, by_count[i].second.c_str());
  std::printf("passed:");
  for (const auto& n : passed_names) std::printf(" %s", n.c_str() + 5);
  std::printf("\nONNX backend node tests: %d passed, %d skipped as unsupported, %d failed, of %zu\n", passed, skipped,
              failed, tests.size());
  return failed ? 1 : 0;
}
