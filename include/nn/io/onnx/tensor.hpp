// nn/io/onnx/tensor.hpp — what ONNX import and export share: the error for
// what nn does not read, the opsets it reads, protobuf parsing with checked
// sizes, and read_tensor for TensorProto files (the ONNX test data's
// input_0.pb). Part of nn::onnx (nn/io/onnx.hpp).
#pragma once
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/io/serialize.hpp"
#include "nn/tensor/tensor.hpp"

namespace nn::onnx {

// An operator, attribute, opset or data type nn does not support.
class Unsupported : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

constexpr int kMinOpset = 6, kMaxOpset = 17;

namespace detail {


using ::onnx::AttributeProto;
using ::onnx::GraphProto;
using ::onnx::ModelProto;
using ::onnx::NodeProto;
using ::onnx::TensorProto;

// An initializer or Constant: its dims and values (as double: every type
// nn reads fits, and it is converted once, to the layer's T).
struct Const {
  std::vector<std::int64_t> dims;
  std::vector<double> v;
  std::int64_t size() const { return static_cast<std::int64_t>(v.size()); }
};

inline std::size_t elem_size(int type) {
  switch (type) {
    case TensorProto::FLOAT: case TensorProto::INT32: return 4;
    case TensorProto::DOUBLE: case TensorProto::INT64: return 8;
    case TensorProto::UINT8: case TensorProto::INT8: case TensorProto::BOOL: return 1;
    default: return 0;
  }
}
inline std::string type_name(int type) {
  return TensorProto::DataType_IsValid(type) ? TensorProto::DataType_Name(static_cast<TensorProto::DataType>(type))
                                             : "type " + std::to_string(type);
}

// The values of a TensorProto. `where` names it in errors (file, tensor).
inline Const to_const(const TensorProto& t, const std::string& where) {
  Const c;
  const int type = t.data_type();
  const std::size_t es = elem_size(type);
  if (es == 0) throw Unsupported(where + ": data type " + type_name(type) + " is not supported");
  std::int64_t n = 1;
  for (auto d : t.dims()) {
    if (d < 0) throw io::FormatError(where + ": negative dimension " + std::to_string(d));
    if (d > 0 && n > std::numeric_limits<std::int64_t>::max() / d)
      throw io::FormatError(where + ": dimensions overflow");
    n *= d;
    c.dims.push_back(d);
  }
  if (t.data_location() == TensorProto::EXTERNAL)
    throw Unsupported(where + ": tensor data in an external file is not supported");
  auto count_error = [&](std::int64_t have) {
    return io::FormatError(where + ": " + std::to_string(have) + " values for dims of " + std::to_string(n) +
                           " elements");
  };
  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    // the bytes present decide: n elements need n * es bytes
    if (static_cast<std::uint64_t>(raw.size()) != static_cast<std::uint64_t>(n) * es)
      throw count_error(static_cast<std::int64_t>(raw.size() / es));
    c.v.resize(static_cast<std::size_t>(n));
    const char* p = raw.data();
    for (std::int64_t i = 0; i < n; ++i, p += es) {
      switch (type) {  // little-endian, as ONNX stores raw data
        case TensorProto::FLOAT: { float f; std::memcpy(&f, p, 4); c.v[std::size_t(i)] = f; break; }
        case TensorProto::DOUBLE: { double f; std::memcpy(&f, p, 8); c.v[std::size_t(i)] = f; break; }
        case TensorProto::INT32: { std::int32_t f; std::memcpy(&f, p, 4); c.v[std::size_t(i)] = f; break; }
        case TensorProto::INT64: { std::int64_t f; std::memcpy(&f, p, 8); c.v[std::size_t(i)] = double(f); break; }
        case TensorProto::UINT8: case TensorProto::BOOL: c.v[std::size_t(i)] = static_cast<unsigned char>(*p); break;
        case TensorProto::INT8: c.v[std::size_t(i)] = static_cast<signed char>(*p); break;
        default: break;
      }
    }
    return c;
  }
  auto take = [&](const auto& field) {
    if (static_cast<std::int64_t>(field.size()) != n) throw count_error(static_cast<std::int64_t>(field.size()));
    c.v.assign(field.begin(), field.end());
  };
  switch (type) {
    case TensorProto::FLOAT: take(t.float_data()); break;
    case TensorProto::DOUBLE: take(t.double_data()); break;
    case TensorProto::INT64: take(t.int64_data()); break;
    default: take(t.int32_data()); break;  // INT32, INT8, UINT8, BOOL are stored in int32_data
  }
  return c;
}

template <class Msg>
Msg parse(const std::vector<unsigned char>& bytes, const std::string& name, const char* what) {
  Msg m;
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw io::FormatError(name + ": too large for a protobuf message (2 GiB)");
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    throw io::FormatError(name + ": not " + what + " (the protobuf does not parse)");
  return m;
}

}  // namespace detail

// A tensor file (an ONNX TensorProto, as the ONNX test data's input_0.pb):
// float, double and integer types, converted to T.
template <class T>
Tensor<T> read_tensor(const std::string& path) {
  const auto t = detail::parse<::onnx::TensorProto>(io::read_file(path), path, "an ONNX tensor");
  const auto c = detail::to_const(t, path);
  if (c.dims.size() > std::size_t(Shape::kMaxRank))
    throw Unsupported(path + ": rank " + std::to_string(c.dims.size()) + " (nn: at most " +
                      std::to_string(Shape::kMaxRank) + ")");
  Tensor<T> out(Shape::from_range(c.dims.begin(), c.dims.end()));
  for (Index i = 0; i < out.size(); ++i) out[i] = static_cast<T>(c.v[std::size_t(i)]);
  return out;
}

}  // namespace nn::onnx
