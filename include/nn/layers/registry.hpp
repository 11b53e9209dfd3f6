// nn/layers/registry.hpp — layer and merge factories by type name, so that a
// saved model can be rebuilt from its configs (nn/io/layer_factory.hpp).
//
// The library's own layers are listed in nn/io/layer_factory.hpp and join
// the registry on the first make_layer<T> / make_merge<T>. A layer of your
// own registers itself:
//
//   template <class T> class MyLayer : public nn::Layer<T> {
//     ...
//     static std::unique_ptr<nn::Layer<T>> from_config(const nn::LayerConfig& c);
//   };
//   NN_REGISTER_LAYER(MyLayer)   // at namespace scope, after the class
//
// from_config is the inverse of config(): it reads the values add_config()
// wrote, with LayerConfig::get_int / get_real, which reject values a file
// may hold but a constructor must never see (negative sizes, NaN).
// NN_REGISTER_LAYER registers at program start for float and double, which
// compiles the layer for both in every translation unit that sees the macro.
#pragma once
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "nn/layers/layer.hpp"

namespace nn {

template <class Base>
class Registry {
 public:
  using Factory = std::unique_ptr<Base> (*)(const LayerConfig&);
  // Registers a type. Two factories under one name (a layer of your own
  // named like a library layer) are an error rather than a silent choice.
  static bool add(const std::string& type, Factory f) {
    if (!table().emplace(type, f).second && table().at(type) != f)
      throw std::logic_error("nn::Registry: two different factories for layer type '" + type + "'");
    return true;
  }
  static std::unique_ptr<Base> make(const LayerConfig& c) {
    auto it = table().find(c.type);
    if (it == table().end()) {
      std::string known;
      for (const auto& kv : table()) known += (known.empty() ? "" : ", ") + kv.first;
      throw std::invalid_argument("unknown layer type '" + c.type + "' (registered: " + known + ")");
    }
    return it->second(c);
  }

 private:
  static std::map<std::string, Factory>& table() {
    static std::map<std::string, Factory> t;  // a function's static: ready before any registration runs
    return t;
  }
};

template <class T>
class Merge;

}  // namespace nn

#define NN_REGISTER_LAYER(L)                                                                       \
  inline const bool nn_registered_layer_##L =                                                      \
      ::nn::Registry<::nn::Layer<float>>::add(#L, &L<float>::from_config) &&                        \
      ::nn::Registry<::nn::Layer<double>>::add(#L, &L<double>::from_config);
#define NN_REGISTER_MERGE(M)                                                                       \
  inline const bool nn_registered_merge_##M =                                                      \
      ::nn::Registry<::nn::Merge<float>>::add(#M, &M<float>::from_config) &&                        \
      ::nn::Registry<::nn::Merge<double>>::add(#M, &M<double>::from_config);
