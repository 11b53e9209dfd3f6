// nn/data/find_dataset.hpp — where a dataset lives on this machine.
//
// find_dataset("mnist") returns the first folder that holds the dataset's
// files, looking in this order:
//   1. $NN_DATA_DIR/<name>, or $NN_DATA_DIR itself when it holds the files
//      of a known dataset
//   2. datasets/<name> in the current directory or any parent (the repo's
//      datasets/ folder, filled by datasets/download.sh)
//   3. ../shared/datasets/<name> beside the current directory or any parent
// When none has the files it throws DatasetNotFound naming every place it
// looked. Known names and the files that must be present:
//   mnist, fashion-mnist: the four idx files (.gz or uncompressed)
//   freiburg-groceries:   classid.txt and images/
// Any other name only needs the folder to exist.
#pragma once
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace nn::data {

class DatasetNotFound : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
namespace fs = std::filesystem;

inline bool exists_maybe_gz(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec) || fs::exists(fs::path(p.string() + ".gz"), ec);
}

inline bool known_dataset(const std::string& name) {
  return name == "mnist" || name == "fashion-mnist" || name == "freiburg-groceries";
}

inline bool dataset_complete(const std::string& name, const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  if (name == "mnist" || name == "fashion-mnist") {
    for (const char* f : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                          "t10k-labels-idx1-ubyte"})
      if (!exists_maybe_gz(dir / f)) return false;
    return true;
  }
  if (name == "freiburg-groceries") return fs::exists(dir / "classid.txt", ec) && fs::is_directory(dir / "images", ec);
  return true;
}

inline std::vector<fs::path> dataset_candidates(const std::string& name) {
  std::vector<fs::path> c;
  if (const char* env = std::getenv("NN_DATA_DIR"); env && *env) {
    c.push_back(fs::path(env) / name);
    if (known_dataset(name)) c.push_back(fs::path(env));
  }
  std::error_code ec;
  fs::path dir = fs::current_path(ec);
  std::vector<fs::path> ancestors;
  for (int i = 0; i < 6 && !dir.empty(); ++i) {
    ancestors.push_back(dir);
    if (dir == dir.parent_path()) break;
    dir = dir.parent_path();
  }
  for (const auto& a : ancestors) c.push_back(a / "datasets" / name);
  for (const auto& a : ancestors) c.push_back(a.parent_path() / "shared" / "datasets" / name);
  std::vector<fs::path> unique;
  for (auto& p : c) {
    p = p.lexically_normal();
    if (std::find(unique.begin(), unique.end(), p) == unique.end()) unique.push_back(p);
  }
  return unique;
}
}  // namespace detail

inline std::string find_dataset(const std::string& name) {
  std::string looked;
  for (const auto& p : detail::dataset_candidates(name)) {
    if (detail::dataset_complete(name, p)) return p.lexically_normal().string();
    looked += "\n  " + p.lexically_normal().string();
  }
  throw DatasetNotFound("dataset '" + name + "' not found. Looked in:" + looked +
                        "\nSet NN_DATA_DIR, or fetch it with datasets/download.sh");
}

}  // namespace nn::data
