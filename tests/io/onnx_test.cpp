// ONNX import (nn/io/onnx.hpp): PyTorch-exported models (tests/golden/onnx,
// made by make_onnx_fixtures.py) give PyTorch's outputs on random inputs
// and on real images from the datasets; bad and unsupported files give
// errors that name the file, the node and the fault.
#include <nn/io/onnx.hpp>
#include <unistd.h>

#include "../../examples/common/resnet.hpp"
#include "../support/test_util.hpp"

using namespace testutil;
using F = float;

namespace {
const std::string kDir = std::string(NN_GOLDEN_DIR) + "/onnx/";

// max |a - b| / max |b|: the error relative to the output's scale
double rel_error(const Tensor<F>& a, const Tensor<F>& b) {
  REQUIRE(a.shape() == b.shape());
  double d = 0, s = 0;
  for (Index i = 0; i < a.size(); ++i) {
    d = std::max(d, std::abs(double(a[i]) - double(b[i])));
    s = std::max(s, std::abs(double(b[i])));
  }
  return d / std::max(s, 1e-30);
}

std::vector<unsigned char> bytes(const onnx::ModelProto& m) {
  const std::string s = m.SerializeAsString();
  return std::vector<unsigned char>(s.begin(), s.end());
}

// A one-node model: x (N, 2, 6, 6) -> op -> y, with the given initializers.
onnx::ModelProto one_node(const std::string& op, int opset = 13) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* o = m.add_opset_import();
  o->set_domain("");
  o->set_version(opset);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto* in = g->add_input();
  in->set_name("x");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int d : {0, 2, 6, 6}) {
    auto* dim = tt->mutable_shape()->add_dim();
    if (d) dim->set_dim_value(d);
    else dim->set_dim_param("batch");
  }
  g->add_output()->set_name("y");
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name("the_node");
  n->add_input("x");
  n->add_output("y");
  return m;
}
onnx::TensorProto* add_init(onnx::ModelProto& m, const std::string& name, std::vector<std::int64_t> dims) {
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  std::int64_t n = 1;
  for (auto d : dims) t->add_dims(d), n *= d;
  for (std::int64_t i = 0; i < n; ++i) t->add_float_data(0.5f);
  return t;
}
}  // namespace

TEST_CASE("ONNX import: PyTorch's LeNet, seed, residual and FCN models give PyTorch's outputs") {
  struct Case {
    const char* name;
    std::vector<std::string> layers;  // layer types the import must produce
  };
  const std::vector<Case> cases{
      {"lenet", {"Conv2D", "ReLU", "MaxPool2D", "Flatten", "Dense"}},
      {"grocery_seed", {"ZeroPadding2D", "Conv2D", "BatchNorm", "MaxPool2D", "Dense"}},
      // PyTorch's export folds a batch norm that follows a convolution into it
      {"resnet", {"Conv2D", "GlobalAvgPool2D", "Reshape", "LogSoftmax", "Dense", "ReLU"}},
      {"fcn", {"Conv2D", "Conv2DTranspose", "ELU", "Tanh", "Upsample2D"}},
  };
  for (const auto& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    auto g = nn::onnx::load<F>(kDir + c.name + "/model.onnx");
    std::set<std::string> types;
    for (std::size_t i = 0; i < g.num_layers(); ++i) types.insert(g.layer(i).type());
    for (const auto& t : c.layers) CHECK_MESSAGE(types.count(t), t);
    const auto x = nn::onnx::read_tensor<F>(kDir + c.name + "/test_data_set_0/input_0.pb");
    const auto want = nn::onnx::read_tensor<F>(kDir + c.name + "/test_data_set_0/output_0.pb");
    const double e = rel_error(*g.forward({&x}, false)[0], want);
    MESSAGE(name << ": " << g.num_parameters() << " parameters, relative error " << e);
    CHECK(e < 1e-5);
    // the batch is free: one sample at a time gives the same rows
    Tensor<F> one({1, x.dim(1), x.dim(2), x.dim(3)});
    std::copy(x.data(), x.data() + one.size(), one.data());
    const auto& y1 = *g.forward({&one}, false)[0];
    Tensor<F> first(y1.shape());
    std::copy(want.data(), want.data() + first.size(), first.data());
    CHECK(rel_error(y1, first) < 1e-5);
  }
}

TEST_CASE("ONNX import: PyTorch's trained LeNet on real MNIST test images") {
  const std::string dir = find_or_empty("mnist");
  if (dir.empty()) NN_SKIP("MNIST not found (set NN_DATA_DIR or run datasets/download.sh)");
  auto g = nn::onnx::load<F>(kDir + "lenet/model.onnx");
  auto mn = nn::data::load_mnist<F>(dir);  // pixels / 255, as the export script
  Tensor<F> x({100, 1, 28, 28});
  std::copy(mn.test_x.data(), mn.test_x.data() + x.size(), x.data());
  const auto want = nn::onnx::read_tensor<F>(kDir + "lenet/real_output.pb");
  const auto& y = *g.forward({&x}, false)[0];
  const double e = rel_error(y, want);
  int right = 0;
  for (Index i = 0; i < 100; ++i) {
    Index best = 0;
    for (Index k = 1; k < 10; ++k)
      if (y(i, k) > y(i, best)) best = k;
    right += best == Index(mn.test_y[i]);
  }
  MESSAGE("lenet on MNIST test images 0-99: relative error " << e << ", " << right << "/100 right");
  CHECK(e < 1e-5);
  CHECK(right >= 95);  // PyTorch's: 100/100 when the fixture was made
}

TEST_CASE("ONNX import: the grocery seed model on real Freiburg images") {
  const std::string dir = find_or_empty("freiburg-groceries");
  if (dir.empty()) NN_SKIP("Freiburg groceries not found (set NN_DATA_DIR or run datasets/download.sh)");
  std::ifstream list(kDir + "grocery_seed/real.txt");
  std::string header, file;
  std::getline(list, header);
  std::vector<std::string> files;
  while (list >> file) files.push_back(file);
  REQUIRE(files.size() == 8);
  Tensor<F> x({Index(files.size()), 3, 104, 104});
  nn::data::ImageOptions o;
  o.width = o.height = 128;  // the dataset's size: no resampling
  for (std::size_t k = 0; k < files.size(); ++k) {
    const auto img = nn::data::load_image<F>(dir + "/images/" + files[k], o);  // (3, 128, 128), / 255
    for (Index c = 0; c < 3; ++c)
      for (Index h = 0; h < 104; ++h)
        for (Index w = 0; w < 104; ++w) x(Index(k), c, h, w) = img(c, h + 12, w + 12);
  }
  auto g = nn::onnx::load<F>(kDir + "grocery_seed/model.onnx");
  const double e = rel_error(*g.forward({&x}, false)[0], nn::onnx::read_tensor<F>(kDir + "grocery_seed/real_output.pb"));
  MESSAGE("grocery seed on 8 Freiburg test images: relative error " << e);
  CHECK(e < 1e-5);
}

TEST_CASE("ONNX import: bad files name the file and the fault") {
  using nn::io::FormatError;
  CHECK_THROWS_WITH_AS(nn::onnx::load<F>("/nonexistent/m.onnx"), doctest::Contains("m.onnx: cannot open file"),
                       FormatError);
  const auto good = nn::io::read_file(kDir + "resnet/model.onnx");
  std::vector<unsigned char> cut(good.begin(), good.begin() + long(good.size() / 2));
  CHECK_THROWS_WITH_AS(nn::onnx::load_from_bytes<F>(cut, "half.onnx"),
                       doctest::Contains("half.onnx: not an ONNX model"), FormatError);
  const std::string text = "this is not a protobuf";
  CHECK_THROWS_AS(nn::onnx::load_from_bytes<F>(std::vector<unsigned char>(text.begin(), text.end()), "t.onnx"),
                  FormatError);
  // an initializer whose dims announce far more than its bytes: refused before allocating
  auto m = one_node("Conv");
  m.mutable_graph()->mutable_node(0)->add_input("W");
  auto* w = m.mutable_graph()->add_initializer();
  w->set_name("W");
  w->set_data_type(onnx::TensorProto::FLOAT);
  for (std::int64_t d : {100000, 100000, 3, 3}) w->add_dims(d);
  w->set_raw_data(std::string(16, '\0'));
  CHECK_THROWS_WITH_AS(nn::onnx::load_from_bytes<F>(bytes(m), "big.onnx"),
                       doctest::Contains("big.onnx: initializer 'W': 4 values for dims of 90000000000 elements"),
                       FormatError);
  // an input that is read before any node defines it
  auto u = one_node("Relu");
  u.mutable_graph()->mutable_node(0)->set_input(0, "ghost");
  CHECK_THROWS_WITH_AS(nn::onnx::load_from_bytes<F>(bytes(u), "u.onnx"),
                       doctest::Contains("input 'ghost' is not defined before this node"), FormatError);
}

TEST_CASE("ONNX import: what nn does not support is refused, naming node, operator and reason") {
  using nn::onnx::Unsupported;
  CHECK_THROWS_WITH_AS(nn::onnx::load_from_bytes<F>(bytes(one_node("Cos")), "cos.onnx"),
                       "cos.onnx: node 0 'the_node' (Cos): operator Cos is not supported", Unsupported);
  CHECK_THROWS_WITH_AS(nn::onnx::load_from_bytes<F>(bytes(one_node("Relu", 18)), "o.onnx"),
                       doctest::Contains("opset 18 (nn reads opsets 6 to 17)"), Unsupported);
  // grouped convolution
  auto g = one_node("Conv");
  g.mutable_graph()->mutable_node(0)->add_input("W");
  add_init(g, "W", {4, 1, 3, 3});
  auto* a = g.mutable_graph()->mutable_node(0)->add_attribute();
  a->set_name("group");
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(2);
  CHECK_THROWS_WITH_AS(nn::onnx::load_from_bytes<F>(bytes(g), "g.onnx"),
                       doctest::Contains("node 0 'the_node' (Conv): group 2 (grouped or depthwise convolution)"),
                       Unsupported);
  // an attribute nn does not know
  auto r = one_node("Relu");
  auto* b = r.mutable_graph()->mutable_node(0)->add_attribute();
  b->set_name("mystery");
  b->set_type(onnx::AttributeProto::INT);
  CHECK_THROWS_WITH_AS(nn::onnx::load_from_bytes<F>(bytes(r), "r.onnx"),
                       doctest::Contains("(Relu): attribute 'mystery' is not supported"), Unsupported);
  // softmax over the channels of an image
  auto s = one_node("Softmax");
  auto* ax = s.mutable_graph()->mutable_node(0)->add_attribute();
  ax->set_name("axis");
  ax->set_type(onnx::AttributeProto::INT);
  ax->set_i(1);
  CHECK_THROWS_WITH_AS(nn::onnx::load_from_bytes<F>(bytes(s), "s.onnx"),
                       doctest::Contains("axis 1 of a rank-4 input (nn normalizes over the last axis)"), Unsupported);
  // weights in an external file
  auto e = one_node("Conv");
  e.mutable_graph()->mutable_node(0)->add_input("W");
  auto* w = e.mutable_graph()->add_initializer();
  w->set_name("W");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  CHECK_THROWS_WITH_AS(nn::onnx::load_from_bytes<F>(bytes(e), "e.onnx"),
                       doctest::Contains("external file is not supported"), Unsupported);
  // broadcasting Add of a constant
  auto add = one_node("Add");
  add.mutable_graph()->mutable_node(0)->add_input("c");
  add_init(add, "c", {2, 1, 1});
  CHECK_THROWS_WITH_AS(nn::onnx::load_from_bytes<F>(bytes(add), "add.onnx"),
                       doctest::Contains("(Add): input 'c' is a constant where nn needs a computed tensor"),
                       Unsupported);
}

TEST_CASE("ONNX tensor files: read_tensor gives the values, bad ones name the file") {
  const auto x = nn::onnx::read_tensor<F>(kDir + "resnet/test_data_set_0/input_0.pb");
  CHECK(x.shape() == nn::Shape{2, 3, 16, 16});
  CHECK(x.all_finite());
  CHECK_THROWS_WITH_AS(nn::onnx::read_tensor<F>(kDir + "resnet/model.onnx"), doctest::Contains("model.onnx"),
                       nn::io::FormatError);
}

// ---- export ----------------------------------------------------------------
namespace {
template <class... Ts>
std::vector<Tensor<F>> flist(Ts&&... ts) {
  std::vector<Tensor<F>> v;
  (v.push_back(std::move(ts)), ...);
  return v;
}
// Parameters and batch-norm statistics away from their initial values.
template <class M>
void perturb(M& m, std::uint64_t seed) {
  nn::Rng rng(seed);
  for (auto& p : m.parameters()) p.value->fill_normal(rng, 0.1, 0.4);
  for (auto& b : m.buffers())
    for (Index i = 0; i < b.second->size(); ++i)
      (*b.second)[i] = F(b.first.find("var") != std::string::npos ? 0.5 + rng.uniform() : rng.normal() * 0.3);
}
// export -> check -> import: the same outputs
template <class M>
void round_trip(M& m, const std::vector<Tensor<F>>& xs, const std::string& what) {
  CAPTURE(what);
  const auto proto = nn::onnx::to_model(m);
  REQUIRE_NOTHROW(nn::onnx::check(proto));
  CHECK(proto.opset_import(0).version() == 13);
  // a dynamic batch on inputs and outputs
  CHECK(proto.graph().input(0).type().tensor_type().shape().dim(0).dim_param() == "N");
  CHECK(proto.graph().output(0).type().tensor_type().shape().dim(0).dim_param() == "N");
  auto back = nn::onnx::load_from_bytes<F>(bytes(proto), what);
  std::vector<const Tensor<F>*> ptrs;
  for (auto& x : xs) ptrs.push_back(&x);
  m.eval();
  std::vector<Tensor<F>> want;
  for (auto* y : m.forward(ptrs, false)) want.push_back(y->clone());
  const auto& got = back.forward(ptrs, false);
  REQUIRE(got.size() == want.size());
  for (std::size_t k = 0; k < got.size(); ++k) {
    REQUIRE(got[k]->shape() == want[k].shape());
    double d = 0;
    for (Index i = 0; i < want[k].size(); ++i) d = std::max(d, std::abs(double((*got[k])[i]) - double(want[k][i])));
    CHECK_MESSAGE(d <= 1e-6 * (1 + double(want[k].array().abs().maxCoeff())), what << ": max difference " << d);
  }
}
}  // namespace

TEST_CASE("ONNX export: every exportable layer round-trips through a checked model with the same outputs") {
  {  // images: conv, pads, pools, batch norm, activations, upsampling, transposed conv, dense
    nn::Sequential<F> m({3, 12, 12}, 5);
    m.add(nn::ZeroPadding2D<F>(1, 0, 2, 1));
    m.add(nn::Conv2D<F>(6, 3, 1, nn::Padding::same(), 2));
    m.add(nn::BatchNorm<F>());
    m.add(nn::LeakyReLU<F>(0.1));
    m.add(nn::MaxPool2D<F>(2));
    m.add(nn::Conv2D<F>(8, nn::Size2(3, 2), nn::Size2(2, 1), nn::Padding::explicit_(1, 0, 1, 1)));
    m.add(nn::ELU<F>(0.7));
    m.add(nn::Upsample2D<F>(2, nn::Upsample2D<F>::Mode::Bilinear));
    m.add(nn::Conv2DTranspose<F>(4, 3, 2, 1, 1));
    m.add(nn::SELU<F>());
    m.add(nn::Upsample2D<F>(nn::Size2(1, 2)));
    m.add(nn::AvgPool2D<F>(3, 2, 1));
    m.add(nn::Dropout<F>(0.3));
    m.add(nn::Sigmoid<F>());
    m.add(nn::Flatten<F>());
    m.add(nn::Dense<F>(7));
    m.add(nn::Tanh<F>());
    m.add(nn::Dense<F>(5, false));
    m.add(nn::LogSoftmax<F>());
    perturb(m, 1);
    round_trip(m, flist(randn<F>({2, 3, 12, 12}, 2)), "image chain");
  }
  {  // a graph: residual Add, Multiply, Concat, global pooling, reshape, dense over a non-flat input, softmax
    nn::Graph<F> g(3);
    auto x = g.input({4, 8, 8}, "pixels");
    auto a = g.add(nn::ReLU<F>(), g.add(nn::Conv2D<F>(4, 3, 1, 1), x));
    auto r = g.add(nn::Add<F>(), {a, x});
    auto mul = g.add(nn::Multiply<F>(), {r, a, x});
    auto cat = g.add(nn::Concat<F>(0), {mul, r});
    auto gp = g.add(nn::GlobalAvgPool2D<F>(), cat);
    auto rs = g.add(nn::Reshape<F>({2, -1}), gp);
    auto d = g.add(nn::Dense<F>(3), rs);  // (N, 2, 4) -> (N, 2, 3)
    g.output(g.add(nn::Softmax<F>(), d), "probabilities");
    g.output(gp, "features");
    perturb(g, 4);
    round_trip(g, flist(randn<F>({3, 4, 8, 8}, 5)), "graph");
  }
  {  // an embedding on a second input, a shared layer, concat along the last axis
    nn::Graph<F> g(7);
    auto ids = g.input({3}, "ids");
    auto feat = g.input({5}, "features");
    auto e = g.add(nn::Flatten<F>(), g.add(nn::Embedding<F>(10, 4), ids));  // (N, 12)
    auto shared = g.share(nn::Dense<F>(6), "shared");
    auto h1 = g.add(shared, e), h2 = g.add(shared, g.add(nn::Dense<F>(12), feat));
    g.output(g.add(nn::Concat<F>(-1), {h1, h2}), "out");
    perturb(g, 8);
    Tensor<F> idv({2, 3});
    for (Index i = 0; i < idv.size(); ++i) idv[i] = F(i * 3 % 10);
    round_trip(g, flist(std::move(idv), randn<F>({2, 5}, 9)), "embedding and shared layer");
  }
}

TEST_CASE("ONNX export: the MNIST and Freiburg example models pass the checker, PyTorch's models export back") {
  // the architectures of examples/mnist (cnn) and examples/freiburg_groceries (seed)
  nn::Sequential<F> cnn({1, 28, 28}, 1);
  for (Index f : {32, 64}) {
    cnn.add(nn::Conv2D<F>(f, 5));
    cnn.add(nn::BatchNorm<F>());
    cnn.add(nn::ReLU<F>());
    cnn.add(nn::MaxPool2D<F>(2));
  }
  cnn.add(nn::Flatten<F>());
  cnn.add(nn::Dense<F>(256));
  cnn.add(nn::BatchNorm<F>());
  cnn.add(nn::ReLU<F>());
  cnn.add(nn::Dropout<F>(0.4));
  cnn.add(nn::Dense<F>(10));
  perturb(cnn, 2);
  round_trip(cnn, flist(randn<F>({2, 1, 28, 28}, 3)), "mnist cnn");
  auto res = resnet::build<F>(32, 25, 3);  // the Freiburg example's --model resnet
  perturb(res, 6);
  round_trip(res, flist(randn<F>({2, 3, 32, 32}, 7)), "freiburg resnet");
  auto seed = nn::onnx::load<F>(kDir + "grocery_seed/model.onnx");  // PyTorch's, imported
  round_trip(seed, flist(randn<F>({2, 3, 104, 104}, 4)), "grocery seed (imported, exported again)");
  auto lenet = nn::onnx::load<F>(kDir + "lenet/model.onnx");
  round_trip(lenet, flist(randn<F>({2, 1, 28, 28}, 5)), "lenet (imported, exported again)");
  // save writes the file; what has no operator is refused
  const std::string path = "/tmp/nn_onnx_test_" + std::to_string(::getpid()) + ".onnx";
  nn::onnx::save(path, cnn);
  auto again = nn::onnx::load<F>(path);
  CHECK(again.num_parameters() == cnn.num_parameters());
  std::remove(path.c_str());
  nn::Sequential<F> odd({4}, 1);
  odd.add(nn::L2Normalize<F>());
  CHECK_THROWS_WITH_AS(nn::onnx::to_model(odd), doctest::Contains("L2Normalize"), nn::onnx::Unsupported);
}
