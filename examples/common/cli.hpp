// examples/common/cli.hpp — the examples' command-line parsing.
//   Cli cli("mnist", "Trains a convnet on MNIST.");
//   cli.option("--epochs", &epochs, "N", "training epochs");
//   cli.flag("--quick", &quick, "a short smoke-test run");
//   cli.parse(argc, argv);      // --help: usage, exit 0; unknown flag or bad value: usage, exit 2
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <type_traits>
#include <string>
#include <vector>

namespace cli {

class Cli {
 public:
  Cli(std::string prog, std::string about) : prog_(std::move(prog)), about_(std::move(about)) {}

  template <class V>
  Cli& option(const std::string& name, V* dst, const std::string& meta, const std::string& help) {
    opts_.push_back({name, meta, help + " (default: " + show(*dst) + ")", [dst](const std::string& v) { return set(dst, v); }});
    return *this;
  }
  Cli& flag(const std::string& name, bool* dst, const std::string& help) {
    opts_.push_back({name, "", help, nullptr});
    flags_.push_back({name, dst});
    return *this;
  }
  // Positional arguments (files), when the program takes them.
  Cli& positional(std::vector<std::string>* dst, const std::string& meta) {
    pos_ = dst, pos_meta_ = meta;
    return *this;
  }

  // Parses argv; --help prints the usage and exits 0, a bad command line
  // prints the error and the usage and exits 2.
  void parse(int argc, char** argv) {
    switch (try_parse(argc, argv)) {
      case Result::Ok: return;
      case Result::Help: usage(stdout); std::exit(0);
      case Result::Error: fail(error_);
    }
  }
  // The same without printing or exiting (for tests and the fuzzer): the
  // error message is error().
  enum class Result { Ok, Help, Error };
  Result try_parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--help" || a == "-h") return Result::Help;
      bool matched = false;
      for (auto& f : flags_)
        if (a == f.first) *f.second = true, matched = true;
      if (matched) continue;
      for (auto& o : opts_) {
        if (!o.set || (a != o.name && a.rfind(o.name + "=", 0) != 0)) continue;
        std::string v;
        if (a == o.name) {
          if (i + 1 >= argc) return error(o.name + " needs a value (" + o.meta + ")");
          v = argv[++i];
        } else {
          v = a.substr(o.name.size() + 1);
        }
        if (!o.set(v)) return error("bad value '" + v + "' for " + o.name + " (" + o.meta + ")");
        matched = true;
        break;
      }
      if (matched) continue;
      if (pos_ && (a.empty() || a[0] != '-')) {
        pos_->push_back(a);
        continue;
      }
      return error("unknown flag " + a);
    }
    return Result::Ok;
  }
  const std::string& error() const { return error_; }
  [[noreturn]] void fail(const std::string& msg) {
    std::fprintf(stderr, "%s: %s\n", prog_.c_str(), msg.c_str());
    usage(stderr);
    std::exit(2);
  }
  void usage(std::FILE* f) const {
    std::fprintf(f, "usage: %s [options]%s\n%s\n\noptions:\n", prog_.c_str(),
                 pos_ ? (" " + pos_meta_ + "...").c_str() : "", about_.c_str());
    for (auto& o : opts_) {
      const std::string left = o.name + (o.meta.empty() ? "" : " " + o.meta);
      std::fprintf(f, "  %-24s %s\n", left.c_str(), o.help.c_str());
    }
    std::fprintf(f, "  %-24s %s\n", "--help", "this message");
  }

 private:
  struct Opt {
    std::string name, meta, help;
    std::function<bool(const std::string&)> set;
  };
  static std::string show(const std::string& v) { return v.empty() ? "none" : v; }
  template <class V>
  static std::string show(const V& v) {
    return std::to_string(v);
  }
  static std::string show(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", v);
    return b;
  }
  static bool set(std::string* d, const std::string& v) {
    *d = v;
    return true;
  }
  template <class V>
  static bool set(V* d, const std::string& v) {
    try {
      std::size_t used = 0;
      if constexpr (std::is_same<V, double>::value) *d = std::stod(v, &used);
      else if constexpr (std::is_same<V, int>::value) *d = std::stoi(v, &used);
      else if constexpr (std::is_same<V, std::uint64_t>::value) {
        if (!v.empty() && v[0] == '-') return false;
        *d = std::stoull(v, &used);
      } else static_assert(sizeof(V) == 0, "unsupported option type");
      return used == v.size();
    } catch (const std::exception&) {
      return false;
    }
  }
  std::string prog_, about_;
  std::vector<Opt> opts_;
  std::vector<std::pair<std::string, bool*>> flags_;
  std::vector<std::string>* pos_ = nullptr;
  std::string pos_meta_;
  std::string error_;
  Result error(std::string msg) {
    error_ = std::move(msg);
    return Result::Error;
  }
};

}  // namespace cli
