// nn/train/history.hpp — per-epoch values recorded by fit(): "epoch", "loss",
// each metric, "val_loss", "val_<metric>", "lr", "seconds", "images_per_second".
#pragma once
#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/io/atomic_file.hpp"

namespace nn {

class History {
 public:
  void add(const std::string& key, double v) {
    if (!values_.count(key)) keys_.push_back(key);
    values_[key].push_back(v);
  }
  bool has(const std::string& key) const { return values_.count(key) > 0; }
  const std::vector<double>& operator[](const std::string& key) const {
    auto it = values_.find(key);
    if (it == values_.end()) throw std::out_of_range("History: no values for '" + key + "'");
    return it->second;
  }
  double last(const std::string& key) const { return (*this)[key].back(); }
  const std::vector<std::string>& keys() const { return keys_; }
  int epochs() const { return has("epoch") ? int((*this)["epoch"].size()) : 0; }

  // One row per epoch; columns in the order keys were first added.
  std::string csv() const {
    std::ostringstream os;
    os.precision(10);
    for (std::size_t k = 0; k < keys_.size(); ++k) os << (k ? "," : "") << keys_[k];
    os << "\n";
    for (int e = 0; e < epochs(); ++e) {
      for (std::size_t k = 0; k < keys_.size(); ++k) {
        const auto& v = values_.at(keys_[k]);
        os << (k ? "," : "");
        if (std::size_t(e) < v.size()) os << v[std::size_t(e)];
      }
      os << "\n";
    }
    return os.str();
  }
  void save_csv(const std::string& path) const { io::write_file_atomic(path, csv()); }

  std::string stop_reason;  // why training ended early, if it did

 private:
  std::vector<std::string> keys_;
  std::map<std::string, std::vector<double>> values_;
};

}  // namespace nn
