// nn/io/serialize.hpp — save and load whole models (and training state).
//
//   nn::save_model(path, model);                         // architecture + weights + BN statistics
//   nn::save_model(path, model, &optimizer, epoch);      // + optimizer state, to resume training
//   nn::Sequential<float> m = nn::load_model<float>(path);
//   nn::Graph<float> g = nn::load_graph<float>(path);  // a graph's file, or a Sequential's as a chain
//   int epoch = nn::load_training_state(path, m, optimizer);
//
// The format (little-endian, byte by byte in docs/serialization.md):
//   "NNMODEL\0" | u32 version | u64 payload bytes | payload | u32 CRC-32 of payload
// Version 1 holds a Sequential (a list of layers), version 2 a Graph (layers,
// nodes, outputs). A Sequential is still written as version 1, so files of
// either kind load in every build that knows their version.
// Files are written atomically (temp file + rename). Reading checks the magic,
// the version, the length and the checksum before parsing, and bounds-checks
// every field while parsing; every problem is an nn::io::FormatError naming
// the file.
#pragma once
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "nn/io/atomic_file.hpp"
#include "nn/io/layer_factory.hpp"
#include "nn/model/graph.hpp"
#include "nn/model/sequential.hpp"
#include "nn/optim/optimizer.hpp"

namespace nn {

namespace io {

constexpr char kMagic[8] = {'N', 'N', 'M', 'O', 'D', 'E', 'L', '\0'};
constexpr std::uint32_t kFormatVersion = 3;  // the newest version this build reads
constexpr std::uint32_t kSequentialVersion = 1, kGraphVersion = 2;
constexpr std::uint32_t kQuantizedVersion = 3;  // nn::quant::QuantizedModel (nn/quant/quantized_io.hpp)

// The error for a quantized model's file given to a float model's loader.
inline std::string quantized_file_hint() {
  return "holds an int8 quantized model (format version 3); load it with nn::quant::load";
}

class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

static_assert(sizeof(double) == 8 && sizeof(float) == 4, "nn::io assumes IEEE-754 float and double");

// Little-endian writer into a byte buffer.
class Writer {
 public:
  template <class U>
  void pod(U v) {
    static_assert(std::is_arithmetic<U>::value, "pod");
    unsigned char b[sizeof(U)];
    std::memcpy(b, &v, sizeof(U));
    if (!little_endian()) std::reverse(b, b + sizeof(U));
    buf_.insert(buf_.end(), b, b + sizeof(U));
  }
  void str(const std::string& s) {
    pod<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
    buf_.insert(buf_.end(), s.begin(), s.end());
  }
  template <class T>
  void tensor(const std::string& name, const Tensor<T>& t) {
    str(name);
    pod<std::uint32_t>(static_cast<std::uint32_t>(t.rank()));
    for (int i = 0; i < t.rank(); ++i) pod<std::uint64_t>(static_cast<std::uint64_t>(t.dim(i)));
    for (Index i = 0; i < t.size(); ++i) pod<T>(t[i]);
  }
  std::vector<unsigned char>& bytes() { return buf_; }
  static bool little_endian() {
    const std::uint16_t one = 1;
    unsigned char c;
    std::memcpy(&c, &one, 1);
    return c == 1;
  }

 private:
  std::vector<unsigned char> buf_;
};

// A tensor in a payload: name, shape, and where its values are.
struct StoredTensor {
  std::string name;
  Shape shape;
  std::size_t offset = 0, bytes = 0;
};

// Bounds-checked little-endian reader; errors name the file and the field.
class Reader {
 public:
  Reader(const unsigned char* p, std::size_t n, std::string file) : p_(p), n_(n), file_(std::move(file)) {}
  template <class U>
  U pod(const char* what) {
    need(sizeof(U), what);
    unsigned char b[sizeof(U)];
    std::memcpy(b, p_ + off_, sizeof(U));
    if (!Writer::little_endian()) std::reverse(b, b + sizeof(U));
    off_ += sizeof(U);
    U v;
    std::memcpy(&v, b, sizeof(U));
    return v;
  }
  std::string str(const char* what) {
    const auto len = pod<std::uint32_t>(what);
    need(len, what);
    std::string s(reinterpret_cast<const char*>(p_ + off_), len);
    off_ += len;
    return s;
  }
  // A stored tensor's name and shape, its values left where they are: they
  // are shown to be present (and skipped) before anything is allocated.
  template <class T>
  StoredTensor tensor_header() {
    StoredTensor t;
    t.name = str("a tensor name");
    const auto rank = pod<std::uint32_t>("a tensor rank");
    if (rank > 5) fail("tensor '" + t.name + "' has rank " + std::to_string(rank) + " (> 5)");
    std::uint64_t total = 1;
    for (std::uint32_t i = 0; i < rank; ++i) {
      const auto d = pod<std::uint64_t>("a tensor dimension");
      if (d > (std::uint64_t(1) << 40) || (d && total > (std::uint64_t(1) << 40) / d))
        fail("tensor '" + t.name + "' has an implausible shape");
      total *= d;
      t.shape.push_back(static_cast<Index>(d));
    }
    t.bytes = static_cast<std::size_t>(total) * sizeof(T);
    need(t.bytes, ("the values of tensor '" + t.name + "'").c_str());
    t.offset = off_;
    off_ += t.bytes;
    return t;
  }
  // Copies a stored tensor's values (from tensor_header) into dst.
  template <class T>
  void values(const StoredTensor& t, Tensor<T>& dst) const {
    for (Index i = 0; i < dst.size(); ++i) {
      unsigned char b[sizeof(T)];
      std::memcpy(b, p_ + t.offset + static_cast<std::size_t>(i) * sizeof(T), sizeof(T));
      if (!Writer::little_endian()) std::reverse(b, b + sizeof(T));
      std::memcpy(&dst[i], b, sizeof(T));
    }
  }
  bool done() const { return off_ == n_; }
  std::size_t left() const { return n_ - off_; }
  [[noreturn]] void fail(const std::string& msg) const { throw FormatError(file_ + ": " + msg); }

 private:
  void need(std::size_t k, const char* what) const {
    if (n_ - off_ < k)
      fail("truncated or corrupt: " + std::string(what) + " needs " + std::to_string(k) + " bytes at payload offset " +
           std::to_string(off_) + ", " + std::to_string(n_ - off_) + " left");
  }
  const unsigned char* p_;
  std::size_t n_, off_ = 0;
  std::string file_;
};

template <class T>
constexpr std::uint32_t scalar_code() {
  return std::is_same<T, float>::value ? 4u : 8u;
}

// The whole file; a directory, a missing or unreadable file is a
// FormatError naming it.
inline std::vector<unsigned char> read_file(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) throw FormatError(path + ": cannot open file (no such file)");
  if (std::filesystem::is_directory(st)) throw FormatError(path + ": is a directory, not a model file");
  if (!std::filesystem::is_regular_file(st)) throw FormatError(path + ": is not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FormatError(path + ": cannot open file");
  std::vector<unsigned char> bytes;
  try {
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::exception& e) {
    throw FormatError(path + ": read error (" + e.what() + ")");
  }
  if (in.bad()) throw FormatError(path + ": read error");
  return bytes;
}

// Checks the envelope (magic, version, length, CRC) and returns a reader over the payload.
inline Reader open_payload(const std::vector<unsigned char>& f, const std::string& path,
                           std::uint32_t* version_out = nullptr) {
  const std::size_t head = 8 + 4 + 8;
  if (f.empty()) throw FormatError(path + ": truncated: the file is empty");
  if (f.size() < 8 || std::memcmp(f.data(), kMagic, 8) != 0) {
    if (f.size() < 8 && std::memcmp(f.data(), kMagic, f.size()) == 0)
      throw FormatError(path + ": truncated: " + std::to_string(f.size()) + " bytes, not even a header");
    throw FormatError(path + ": not an nn model file (bad magic number)");
  }
  if (f.size() < head) throw FormatError(path + ": truncated: " + std::to_string(f.size()) + " bytes, not even a header");
  Reader h(f.data() + 8, 12, path);
  const auto version = h.pod<std::uint32_t>("the format version");
  const auto len = h.pod<std::uint64_t>("the payload length");
  if (version > kFormatVersion)
    throw FormatError(path + ": format version " + std::to_string(version) + " is newer than this build of nn reads (" +
                      std::to_string(kFormatVersion) + "); upgrade nn");
  if (version == 0) throw FormatError(path + ": corrupt header (format version 0)");
  if (f.size() != head + len + 4) {
    if (f.size() < head + len + 4)
      throw FormatError(path + ": truncated: " + std::to_string(f.size()) + " bytes, the header announces " +
                        std::to_string(head + len + 4));
    throw FormatError(path + ": corrupt: " + std::to_string(f.size() - head - len - 4) + " unexpected trailing bytes");
  }
  if (version_out) *version_out = version;
  Reader tail(f.data() + head + len, 4, path);
  const auto crc = tail.pod<std::uint32_t>("the checksum");
  const auto actual = static_cast<std::uint32_t>(::crc32(0L, f.data() + head, static_cast<uInt>(len)));
  if (crc != actual) throw FormatError(path + ": checksum mismatch: the file is corrupt");
  return Reader(f.data() + head, static_cast<std::size_t>(len), path);
}

}  // namespace io

namespace io {
inline void write_config(Writer& w, const LayerConfig& c) {
  w.str(c.type);
  w.pod<std::uint32_t>(static_cast<std::uint32_t>(c.values.size()));
  for (const auto& kv : c.values) {
    w.str(kv.first);
    w.pod<double>(kv.second);
  }
}
inline LayerConfig read_config(Reader& r) {
  LayerConfig c;
  c.type = r.str("a layer type");
  const auto nv = r.pod<std::uint32_t>("a layer's value count");
  for (std::uint32_t k = 0; k < nv; ++k) {
    std::string key = r.str("a config key");
    c.values.emplace_back(std::move(key), r.pod<double>("a config value"));
  }
  return c;
}
// Parameters, buffers and the optional training state: the tail of every payload.
template <class T, class Model>
void write_tensors(Writer& w, Model& model, Optimizer<T>* opt, int epoch) {
  std::vector<std::pair<std::string, Tensor<T>*>> tensors;
  for (auto& p : model.parameters()) tensors.push_back({p.name, p.value});
  for (auto& b : model.buffers()) tensors.push_back(b);
  w.pod<std::uint32_t>(static_cast<std::uint32_t>(tensors.size()));
  for (auto& [name, t] : tensors) w.tensor(name, *t);
  w.pod<std::uint8_t>(opt ? 1 : 0);
  if (opt) {
    w.str(opt->name());
    w.pod<double>(opt->lr());
    w.pod<std::int64_t>(opt->steps());
    w.pod<std::int32_t>(epoch);
    auto st = opt->state();
    w.pod<std::uint32_t>(static_cast<std::uint32_t>(st.size()));
    for (auto& [name, t] : st) w.tensor(name, *t);
  }
}
inline void write_envelope(const std::string& path, std::vector<unsigned char>& payload, std::uint32_t version) {
  Writer env;
  for (char c : kMagic) env.pod<char>(c);
  env.pod<std::uint32_t>(version);
  env.pod<std::uint64_t>(payload.size());
  auto& out = env.bytes();
  out.insert(out.end(), payload.begin(), payload.end());
  env.pod<std::uint32_t>(static_cast<std::uint32_t>(::crc32(0L, payload.data(), static_cast<uInt>(payload.size()))));
  write_file_atomic(path, out.data(), out.size());
}
}  // namespace io

// Saves architecture, hyper-parameters, weights and buffers; with an
// optimizer, also its state, step count, learning rate and `epoch`.
template <class T>
void save_model(const std::string& path, Sequential<T>& model, Optimizer<T>* opt = nullptr, int epoch = 0) {
  if (!model.built()) throw std::logic_error("save_model: the model is not built (give it an input shape)");
  io::Writer w;
  w.pod<std::uint32_t>(io::scalar_code<T>());
  w.pod<std::uint64_t>(model.seed());
  const Shape& in = model.input_shape();
  w.pod<std::uint32_t>(static_cast<std::uint32_t>(in.rank()));
  for (int i = 0; i < in.rank(); ++i) w.pod<std::uint64_t>(static_cast<std::uint64_t>(in[i]));
  w.pod<std::uint32_t>(static_cast<std::uint32_t>(model.size()));
  for (std::size_t i = 0; i < model.size(); ++i) io::write_config(w, model.layer(i).config());
  io::write_tensors(w, model, opt, epoch);
  io::write_envelope(path, w.bytes(), io::kSequentialVersion);
}

// A graph: its layers (name, config), its nodes (kind, name, then the input
// shape, the layer index or the merge config, then the nodes it reads), its
// outputs (node, name), then tensors and training state as for a Sequential.
template <class T>
void save_model(const std::string& path, Graph<T>& g, Optimizer<T>* opt = nullptr, int epoch = 0) {
  g.check();
  io::Writer w;
  w.pod<std::uint32_t>(io::scalar_code<T>());
  w.pod<std::uint64_t>(g.seed());
  w.pod<std::uint32_t>(static_cast<std::uint32_t>(g.num_layers()));
  for (std::size_t i = 0; i < g.num_layers(); ++i) {
    w.str(g.layer_name(i));
    io::write_config(w, g.layer(i).config());
  }
  const auto& nodes = g.nodes();
  w.pod<std::uint32_t>(static_cast<std::uint32_t>(nodes.size()));
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Node<T>& n = nodes[i];
    w.pod<std::uint8_t>(static_cast<std::uint8_t>(n.kind));
    w.str(n.name);
    if (n.kind == Node<T>::Kind::Input) {
      w.pod<std::uint32_t>(static_cast<std::uint32_t>(n.shape.rank()));
      for (int d = 0; d < n.shape.rank(); ++d) w.pod<std::uint64_t>(static_cast<std::uint64_t>(n.shape[d]));
    } else if (n.kind == Node<T>::Kind::Layer) {
      w.pod<std::uint32_t>(static_cast<std::uint32_t>(g.node_layer(int(i))));
    } else {
      io::write_config(w, n.merge->config());
    }
    w.pod<std::uint32_t>(static_cast<std::uint32_t>(n.inputs.size()));
    for (int j : n.inputs) w.pod<std::uint32_t>(static_cast<std::uint32_t>(j));
  }
  w.pod<std::uint32_t>(static_cast<std::uint32_t>(g.num_outputs()));
  for (std::size_t o = 0; o < g.num_outputs(); ++o) {
    w.pod<std::uint32_t>(static_cast<std::uint32_t>(g.output_nodes()[o]));
    w.str(g.output_name(o));
  }
  io::write_tensors(w, g, opt, epoch);
  io::write_envelope(path, w.bytes(), io::kGraphVersion);
}

// Saves a model of either kind (the overloads above).
template <class T>
void save_model(const std::string& path, Model<T>& model, Optimizer<T>* opt = nullptr, int epoch = 0) {
  if (auto* s = dynamic_cast<Sequential<T>*>(&model)) return save_model(path, *s, opt, epoch);
  if (auto* g = dynamic_cast<Graph<T>*>(&model)) return save_model(path, *g, opt, epoch);
  throw std::invalid_argument("save_model: nn saves Sequential and Graph models only");
}

namespace io {
// Parses the model part of a payload into a new, built Sequential. The layer
// list and every stored tensor are read (and their bytes shown to exist)
// first; the layers are then built without random initialization and under
// an allocation limit of what the stored tensors occupy, so a forged size
// field fails before it can allocate.
// The scalar type (which must be T) and the seed: the start of every payload.
template <class T>
std::uint64_t parse_scalar_and_seed(Reader& r, const char* loader) {
  const auto code = r.pod<std::uint32_t>("the scalar type");
  if (code != 4 && code != 8) r.fail("corrupt: scalar type code " + std::to_string(code));
  if (code != scalar_code<T>())
    r.fail(std::string("holds a ") + (code == 4 ? "float" : "double") + " model; load it as " + loader + "<" +
           (code == 4 ? "float" : "double") + ">");
  return r.pod<std::uint64_t>("the seed");
}
// A per-sample shape: rank 1-4, every dimension >= 1, at most 2^31 elements.
inline Shape parse_input_shape(Reader& r, const char* what) {
  const auto rank = r.pod<std::uint32_t>(what);
  if (rank < 1 || rank > 4) r.fail("corrupt: input rank " + std::to_string(rank));
  Shape in;
  std::uint64_t in_size = 1;
  for (std::uint32_t i = 0; i < rank; ++i) {
    const auto d = r.pod<std::uint64_t>(what);
    if (d < 1 || d > (std::uint64_t(1) << 31) || (in_size *= d) > (std::uint64_t(1) << 31))
      r.fail("corrupt: input shape dimension " + std::to_string(d));
    in.push_back(static_cast<Index>(d));
  }
  return in;
}
// The stored tensors' headers (their bytes shown to exist) and total size.
template <class T>
std::vector<StoredTensor> parse_tensor_headers(Reader& r, std::size_t& bytes) {
  const auto nt = r.pod<std::uint32_t>("the tensor count");
  std::vector<StoredTensor> stored;
  bytes = 0;
  for (std::uint32_t i = 0; i < nt; ++i) {
    stored.push_back(r.template tensor_header<T>());
    bytes += stored.back().bytes;
  }
  return stored;
}
// Copies the stored tensors into the model's parameters and buffers, in
// order, after checking count, names and shapes.
template <class T, class Model>
void fill_tensors(Reader& r, Model& m, const std::vector<StoredTensor>& stored) {
  std::vector<std::pair<std::string, Tensor<T>*>> slots;
  for (auto& p : m.parameters()) slots.push_back({p.name, p.value});
  for (auto& b : m.buffers()) slots.push_back(b);
  if (stored.size() != slots.size())
    r.fail("has " + std::to_string(stored.size()) + " tensors, the architecture needs " + std::to_string(slots.size()));
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const auto& [name, dst] = slots[i];
    const StoredTensor& t = stored[i];
    if (t.name != name) r.fail("expected tensor '" + name + "', found '" + t.name + "'");
    if (t.shape != dst->shape())
      r.fail("tensor '" + name + "' has shape " + t.shape.str() + ", the layer needs " + dst->shape().str());
    r.values(t, *dst);
  }
}

// Parses the model part of a version-1 payload into a new, built Sequential.
// The layer list and every stored tensor are read (and their bytes shown to
// exist) first; the layers are then built without random initialization
// and under an allocation limit of what the stored tensors occupy, so a
// forged size field fails before it can allocate.
template <class T>
Sequential<T> parse_model(Reader& r) {
  const auto seed = parse_scalar_and_seed<T>(r, "Sequential");
  const Shape in = parse_input_shape(r, "the input shape");
  const auto nl = r.pod<std::uint32_t>("the layer count");
  std::vector<LayerConfig> configs;
  for (std::uint32_t i = 0; i < nl; ++i) configs.push_back(read_config(r));
  std::size_t stored_bytes = 0;
  const auto stored = parse_tensor_headers<T>(r, stored_bytes);

  // Parameters and their gradients, each rounded up to 64 bytes, plus room
  // for layers' small fixed allocations.
  nn::detail::AllocationLimit limit(2 * stored_bytes + 128 * (configs.size() + stored.size()) + (std::size_t(1) << 20));
  SkipInitialization no_init;
  Sequential<T> m(in, seed);
  for (std::size_t i = 0; i < configs.size(); ++i) {
    try {
      m.add(make_layer<T>(configs[i]));
    } catch (const std::length_error& e) {
      r.fail("layer " + std::to_string(i) + " (" + configs[i].type + ") " + e.what() +
             ": the architecture does not match the " + std::to_string(stored_bytes) + " bytes of stored tensors");
    } catch (const std::exception& e) {
      r.fail("layer " + std::to_string(i) + ": " + e.what());
    }
  }
  fill_tensors<T>(r, m, stored);
  return m;
}

// Parses the model part of a version-2 payload into a new Graph, with the
// same order of checks as parse_model: the structure and every stored
// tensor first (each node may only read nodes before it, so the graph is a
// DAG), then the layers built under an allocation limit: what the stored
// tensors occupy, once per call of each layer (a shared layer's later calls
// run on copies). A version-1 payload becomes a chain graph whose layers
// are named "0", "1", ..., so its tensors keep their names.
template <class T>
Graph<T> parse_graph(Reader& r, std::uint32_t version) {
  if (version == kQuantizedVersion) r.fail(quantized_file_hint());
  if (version == kSequentialVersion) {
    Sequential<T> m = parse_model<T>(r);
    Graph<T> g(m.seed());
    NodeRef h = g.input(m.input_shape(), "input");
    for (std::size_t i = 0; i < m.size(); ++i) h = g.add(m.layer(i).clone(), h, std::to_string(i));
    g.output(h, "output");
    return g;
  }
  const auto seed = parse_scalar_and_seed<T>(r, "Graph");
  const auto nl = r.pod<std::uint32_t>("the layer count");
  std::vector<std::pair<std::string, LayerConfig>> layers;
  for (std::uint32_t i = 0; i < nl; ++i) {
    std::string name = r.str("a layer name");
    layers.emplace_back(std::move(name), read_config(r));
  }
  struct Stored {
    std::uint8_t kind;
    std::string name;
    Shape shape;
    std::uint32_t layer = 0;
    LayerConfig merge;
    std::vector<std::uint32_t> inputs;
  };
  const auto nn_ = r.pod<std::uint32_t>("the node count");
  std::vector<Stored> nodes;
  std::vector<std::size_t> calls(layers.size(), 0);
  for (std::uint32_t i = 0; i < nn_; ++i) {
    Stored n;
    n.kind = r.pod<std::uint8_t>("a node kind");
    n.name = r.str("a node name");
    const std::string where = "node " + std::to_string(i) + " '" + n.name + "'";
    if (n.kind == 0) {
      n.shape = parse_input_shape(r, "an input shape");
    } else if (n.kind == 1) {
      n.layer = r.pod<std::uint32_t>("a node's layer");
      if (n.layer >= layers.size()) r.fail("corrupt: " + where + " calls layer " + std::to_string(n.layer) + " of " + std::to_string(layers.size()));
      ++calls[n.layer];
    } else if (n.kind == 2) {
      n.merge = read_config(r);
    } else {
      r.fail("corrupt: " + where + " has kind " + std::to_string(n.kind));
    }
    const auto ni = r.pod<std::uint32_t>("a node's input count");
    if (ni > i) r.fail("corrupt: " + where + " reads " + std::to_string(ni) + " nodes");
    for (std::uint32_t k = 0; k < ni; ++k) {
      const auto j = r.pod<std::uint32_t>("a node's input");
      if (j >= i) r.fail("corrupt: " + where + " reads node " + std::to_string(j) + ", not an earlier one");
      n.inputs.push_back(j);
    }
    const std::uint32_t want = n.kind == 0 ? 0u : n.kind == 1 ? 1u : ni;
    if (ni != want || (n.kind == 2 && ni < 2)) r.fail("corrupt: " + where + " reads " + std::to_string(ni) + " nodes");
    nodes.push_back(std::move(n));
  }
  for (std::size_t l = 0; l < layers.size(); ++l)
    if (calls[l] == 0) r.fail("corrupt: layer " + std::to_string(l) + " '" + layers[l].first + "' is never called");
  const auto no = r.pod<std::uint32_t>("the output count");
  if (no < 1 || no > nodes.size()) r.fail("corrupt: " + std::to_string(no) + " outputs");
  std::vector<std::pair<std::uint32_t, std::string>> outputs;
  for (std::uint32_t o = 0; o < no; ++o) {
    const auto id = r.pod<std::uint32_t>("an output node");
    if (id >= nodes.size()) r.fail("corrupt: output " + std::to_string(o) + " is node " + std::to_string(id));
    std::string name = r.str("an output name");
    outputs.emplace_back(id, std::move(name));
  }
  std::size_t stored_bytes = 0;
  const auto stored = parse_tensor_headers<T>(r, stored_bytes);

  std::size_t max_calls = 1;
  for (auto c : calls) max_calls = std::max(max_calls, c);
  nn::detail::AllocationLimit limit(2 * stored_bytes * max_calls + 128 * (nodes.size() + stored.size()) +
                                    (std::size_t(1) << 20));
  SkipInitialization no_init;
  Graph<T> g(seed);
  std::vector<SharedLayer> handles;
  std::vector<NodeRef> refs;
  std::size_t i = 0;
  try {
    for (auto& [name, c] : layers) handles.push_back(g.share(make_layer<T>(c), name));
    for (i = 0; i < nodes.size(); ++i) {
      const Stored& n = nodes[i];
      std::vector<NodeRef> ins;
      for (auto j : n.inputs) ins.push_back(refs[j]);
      if (n.kind == 0) refs.push_back(g.input(n.shape, n.name));
      else if (n.kind == 1) refs.push_back(g.add(handles[n.layer], ins[0], n.name));
      else refs.push_back(g.add(make_merge<T>(n.merge), ins, n.name));
    }
    for (auto& [id, name] : outputs) g.output(refs[id], name);
    g.check();
  } catch (const std::length_error& e) {
    r.fail(std::string(e.what()) + ": the architecture does not match the " + std::to_string(stored_bytes) +
           " bytes of stored tensors");
  } catch (const std::exception& e) {
    r.fail(std::string(i < nodes.size() ? "node " + std::to_string(i) + ": " : "") + e.what());
  }
  fill_tensors<T>(r, g, stored);
  return g;
}

// Reads past the optional training state that follows the model (checking
// its structure), so that load_model can insist that nothing follows it.
template <class T>
void skip_training_state(Reader& r) {
  const auto flag = r.pod<std::uint8_t>("the training-state flag");
  if (flag > 1) r.fail("corrupt: training-state flag " + std::to_string(flag));
  if (flag == 0) return;
  r.str("the optimizer name");
  r.pod<double>("the learning rate");
  r.pod<std::int64_t>("the step count");
  r.pod<std::int32_t>("the epoch");
  const auto ns = r.pod<std::uint32_t>("the optimizer tensor count");
  for (std::uint32_t i = 0; i < ns; ++i) r.template tensor_header<T>();
}
}  // namespace io

// Loads a model saved by save_model: a built Sequential in eval mode.
// load_model_from_bytes reads the same format from memory (a model embedded
// in the program); `name` stands for the file in error messages.
template <class T>
Sequential<T> load_model_from_bytes(const std::vector<unsigned char>& file, const std::string& name) {
  std::uint32_t version = 0;
  io::Reader r = io::open_payload(file, name, &version);
  if (version == io::kQuantizedVersion) r.fail(io::quantized_file_hint());
  if (version != io::kSequentialVersion)
    r.fail("holds a graph model (format version " + std::to_string(version) + "); load it with nn::load_graph");
  Sequential<T> m = io::parse_model<T>(r);
  io::skip_training_state<T>(r);
  if (!r.done()) r.fail("corrupt: " + std::to_string(r.left()) + " unexpected bytes after the model");
  m.eval();
  return m;
}
template <class T>
Sequential<T> load_model(const std::string& path) {
  return load_model_from_bytes<T>(io::read_file(path), path);
}
// Loads a graph saved by save_model, or a Sequential's file as a chain: a
// Graph in eval mode.
template <class T>
Graph<T> load_graph_from_bytes(const std::vector<unsigned char>& file, const std::string& name) {
  std::uint32_t version = 0;
  io::Reader r = io::open_payload(file, name, &version);
  Graph<T> g = io::parse_graph<T>(r, version);
  io::skip_training_state<T>(r);
  if (!r.done()) r.fail("corrupt: " + std::to_string(r.left()) + " unexpected bytes after the model");
  g.eval();
  return g;
}
template <class T>
Graph<T> load_graph(const std::string& path) {
  return load_graph_from_bytes<T>(io::read_file(path), path);
}

// Restores the optimizer state saved with the model into `opt` (built over
// `model`'s parameters) and returns the saved epoch. The model's weights are
// loaded too. Everything is checked before anything is copied: a bad file
// leaves model and optimizer as they were.
namespace io {
template <class T>
Sequential<T> parse_saved(Reader& r, std::uint32_t version, Sequential<T>*) {
  if (version == kQuantizedVersion) r.fail(quantized_file_hint());
  if (version != kSequentialVersion) r.fail("holds a graph model; restore it into a Graph");
  return parse_model<T>(r);
}
template <class T>
Graph<T> parse_saved(Reader& r, std::uint32_t version, Graph<T>*) {
  return parse_graph<T>(r, version);
}
}  // namespace io

template <class T, class Model>
int load_training_state_from_bytes(const std::vector<unsigned char>& file, const std::string& name, Model& model,
                                   Optimizer<T>& opt) {
  std::uint32_t version = 0;
  io::Reader r = io::open_payload(file, name, &version);
  Model saved = io::parse_saved<T>(r, version, static_cast<Model*>(nullptr));
  auto dst = model.parameters();
  auto src = saved.parameters();
  auto dbuf = model.buffers();
  auto sbuf = saved.buffers();
  if (dst.size() != src.size() || dbuf.size() != sbuf.size())
    r.fail("its architecture does not match the model given to load_training_state");
  for (std::size_t i = 0; i < dst.size(); ++i)
    if (dst[i].value->shape() != src[i].value->shape())
      r.fail("parameter " + src[i].name + " has shape " + src[i].value->shape().str() + ", the model has " +
             dst[i].value->shape().str());
  for (std::size_t i = 0; i < dbuf.size(); ++i)
    if (dbuf[i].second->shape() != sbuf[i].second->shape())
      r.fail("buffer " + sbuf[i].first + " has shape " + sbuf[i].second->shape().str() + ", the model has " +
             dbuf[i].second->shape().str());
  const auto flag = r.pod<std::uint8_t>("the training-state flag");
  if (flag > 1) r.fail("corrupt: training-state flag " + std::to_string(flag));
  if (flag != 1) r.fail("holds no optimizer state (saved without one)");
  const std::string oname = r.str("the optimizer name");
  if (oname != opt.name()) r.fail("holds " + oname + " state, not " + opt.name());
  const double lr = r.pod<double>("the learning rate");
  const auto steps = r.pod<std::int64_t>("the step count");
  const auto epoch = r.pod<std::int32_t>("the epoch");
  if (!(lr >= 0 && lr <= 1e30)) r.fail("corrupt: learning rate " + std::to_string(lr));
  if (steps < 0 || epoch < 0) r.fail("corrupt: negative step count or epoch");
  auto st = opt.state();
  const auto ns = r.pod<std::uint32_t>("the optimizer tensor count");
  if (ns != st.size()) r.fail("holds " + std::to_string(ns) + " optimizer tensors, the optimizer has " + std::to_string(st.size()));
  std::vector<io::StoredTensor> stored;
  for (auto& [sname, dstt] : st) {
    stored.push_back(r.template tensor_header<T>());
    const io::StoredTensor& t = stored.back();
    if (t.name != sname || t.shape != dstt->shape())
      r.fail("optimizer tensor '" + t.name + "' " + t.shape.str() + " does not match '" + sname + "' " +
             dstt->shape().str());
  }
  if (!r.done()) r.fail("corrupt: " + std::to_string(r.left()) + " unexpected bytes after the training state");
  for (std::size_t i = 0; i < dst.size(); ++i) dst[i].value->copy_from(*src[i].value);
  for (std::size_t i = 0; i < dbuf.size(); ++i) dbuf[i].second->copy_from(*sbuf[i].second);
  for (std::size_t i = 0; i < st.size(); ++i) r.values(stored[i], *st[i].second);
  opt.set_lr(lr);
  opt.set_steps(static_cast<long>(steps));
  return epoch;
}
template <class T, class Model>
int load_training_state(const std::string& path, Model& model, Optimizer<T>& opt) {
  return load_training_state_from_bytes(io::read_file(path), path, model, opt);
}

}  // namespace nn
