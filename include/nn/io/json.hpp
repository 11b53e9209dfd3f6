// nn/io/json.hpp — a small JSON object writer for metrics files.
//   nn::io::JsonObject j;
//   j.set("test_accuracy", 0.9942).set("epochs", 12).set("model", "cnn");
//   j.set_array("per_class_f1", values);
//   j.save("runs/mnist/metrics.json");        // atomic
// Non-finite numbers are written as null (JSON has no NaN).
#pragma once
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "nn/io/atomic_file.hpp"

namespace nn::io {

inline std::string json_escape(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\t': o += "\\t"; break;
      case '\r': o += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += c;
        }
    }
  }
  return o + "\"";
}

inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char b[32];
  std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}

class JsonObject {
 public:
  JsonObject& set(const std::string& k, double v) { return raw(k, json_number(v)); }
  JsonObject& set(const std::string& k, int v) { return raw(k, std::to_string(v)); }
  JsonObject& set(const std::string& k, long v) { return raw(k, std::to_string(v)); }
  JsonObject& set(const std::string& k, bool v) { return raw(k, v ? "true" : "false"); }
  JsonObject& set(const std::string& k, const std::string& v) { return raw(k, json_escape(v)); }
  JsonObject& set(const std::string& k, const char* v) { return raw(k, json_escape(v)); }
  JsonObject& set(const std::string& k, const JsonObject& v) { return raw(k, v.str()); }
  JsonObject& set_array(const std::string& k, const std::vector<double>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + json_number(v[i]);
    return raw(k, s + "]");
  }
  JsonObject& set_array(const std::string& k, const std::vector<std::string>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + json_escape(v[i]);
    return raw(k, s + "]");
  }
  JsonObject& raw(const std::string& k, const std::string& json) {
    for (auto& kv : items_)
      if (kv.first == k) {
        kv.second = json;
        return *this;
      }
    items_.emplace_back(k, json);
    return *this;
  }
  std::string str() const {
    std::string s = "{";
    for (std::size_t i = 0; i < items_.size(); ++i)
      s += std::string(i ? ",\n  " : "\n  ") + json_escape(items_[i].first) + ": " + items_[i].second;
    return s + (items_.empty() ? "}" : "\n}");
  }
  void save(const std::string& path) const { write_file_atomic(path, str() + "\n"); }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

}  // namespace nn::io
