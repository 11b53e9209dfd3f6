// nn/data/image_folder.hpp — image classification data from files.
//
//   ImageList list = list_image_folder("photos/");            // photos/<class>/*.png|jpg|...
//   ImageList list = read_split_file("splits/train0.txt",      // "<relative path> <label>" lines
//                                    "images/", class_names);
//   ImageOptions o; o.width = o.height = 104; o.resize = ImageOptions::Letterbox;
//   LoadReport report;
//   TensorDataset<float> ds = load_images<float>(list, o, &report);    // decoded once, cached in memory
//   ImageFileDataset<float> lazy(list, o);                            // decoded at every access
//   Tensor<float> x = load_image<float>("shelf.jpg", o);              // (C, H, W), for prediction
//
// Decoding uses stb_image (PNG, JPEG, BMP, TGA, GIF, PSD, HDR, PNM), in
// parallel with OpenMP. Images are resized to width x height with
// stb_image_resize: Stretch ignores the aspect ratio; Letterbox keeps it and
// pads with `fill` (product and catalogue photos are rarely square). Pixels
// become CHW floats in [0, 1], then (v - mean[c]) / std[c].
// An unreadable or corrupt image throws ImageError naming the file, or, with
// skip_bad = true, is left out and counted in the LoadReport.
#pragma once
#include <stb_image.h>
#include <stb_image_resize.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "nn/data/dataset.hpp"
#include "nn/runtime/parallel.hpp"

namespace nn::data {

class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ImageList {
  std::vector<std::string> paths;
  std::vector<int> labels;
  std::vector<std::string> class_names;
  std::size_t size() const { return paths.size(); }
};

struct ImageOptions {
  enum Resize { Stretch, Letterbox };
  int width = 64, height = 64;
  int channels = 3;  // 1 (grey) or 3 (RGB)
  Resize resize = Stretch;
  float fill = 0.0f;  // letterbox padding, in [0, 1] before normalization
  std::array<float, 3> mean{0, 0, 0}, std{1, 1, 1};
  bool skip_bad = false;
  // Images whose header claims more pixels are refused before decoding:
  // stb_image sizes its buffers from the header alone. The default admits an
  // 8192 x 8192 photo.
  long long max_pixels = 1LL << 26;
};

struct LoadReport {
  Index loaded = 0, skipped = 0;
  std::vector<std::string> skipped_files;  // with the reason
  std::vector<Index> skipped_indices;      // positions in the ImageList, ascending
};

inline bool is_image_file(const std::filesystem::path& p) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return e == ".png" || e == ".jpg" || e == ".jpeg" || e == ".bmp" || e == ".tga" || e == ".gif" || e == ".ppm" ||
         e == ".pgm";
}

// One sub-folder per class, in alphabetical order; files sorted by name.
inline ImageList list_image_folder(const std::string& root) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw ImageError(root + ": not a folder");
  ImageList list;
  std::vector<fs::path> classes;
  for (const auto& e : fs::directory_iterator(root)) if (e.is_directory()) classes.push_back(e.path());
  std::sort(classes.begin(), classes.end());
  for (const auto& c : classes) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(c))
      if (e.is_regular_file() && is_image_file(e.path())) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    const int label = int(list.class_names.size());
    list.class_names.push_back(c.filename().string());
    for (auto& f : files) {
      list.paths.push_back(f.string());
      list.labels.push_back(label);
    }
  }
  if (list.paths.empty()) throw ImageError(root + ": no images found in class sub-folders");
  return list;
}

// Reads "<class name> <id>" lines (the Freiburg classid.txt format).
inline std::vector<std::string> read_class_ids(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ImageError(path + ": cannot open");
  std::map<int, std::string> m;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::istringstream ls(line);
    std::string name;
    int id = -1;
    if (!(ls >> name >> id) || id < 0)
      throw ImageError(path + ":" + std::to_string(lineno) + ": expected '<class name> <id>', got '" + line + "'");
    if (m.count(id)) throw ImageError(path + ":" + std::to_string(lineno) + ": id " + std::to_string(id) + " repeated");
    m[id] = name;
  }
  std::vector<std::string> names;
  for (auto& [id, n] : m) {
    if (id != int(names.size())) throw ImageError(path + ": class ids are not 0..N-1 (missing " + std::to_string(names.size()) + ")");
    names.push_back(n);
  }
  return names;
}

// Reads "<relative path> <label>" lines; paths are relative to image_root.
// Labels must be in [0, class_names.size()) when class names are given, and
// below kMaxUnnamedClasses otherwise (the classes are then named "0", "1", ...).
constexpr int kMaxUnnamedClasses = 65536;
inline ImageList read_split_file(const std::string& path, const std::string& image_root,
                                 const std::vector<std::string>& class_names = {}) {
  std::ifstream in(path);
  if (!in) throw ImageError(path + ": cannot open");
  ImageList list;
  list.class_names = class_names;
  std::string line;
  int lineno = 0, max_label = -1;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::istringstream ls(line);
    std::string rel;
    int label = -1;
    if (!(ls >> rel >> label) || label < 0)
      throw ImageError(path + ":" + std::to_string(lineno) + ": expected '<path> <label>', got '" + line + "'");
    if (!class_names.empty() && label >= int(class_names.size()))
      throw ImageError(path + ":" + std::to_string(lineno) + ": label " + std::to_string(label) + " but only " +
                       std::to_string(class_names.size()) + " classes");
    list.paths.push_back((std::filesystem::path(image_root) / rel).string());
    list.labels.push_back(label);
    max_label = std::max(max_label, label);
  }
  if (list.class_names.empty()) {
    // Classes named "0".."max": a bound, so that one line cannot ask for
    // millions of names.
    if (max_label >= kMaxUnnamedClasses)
      throw ImageError(path + ": label " + std::to_string(max_label) + " without class names; pass them (read_class_ids) "
                       "for more than " + std::to_string(kMaxUnnamedClasses) + " classes");
    for (int i = 0; i <= max_label; ++i) list.class_names.push_back(std::to_string(i));
  }
  return list;
}

namespace detail {
// Binary PNM (P5, P6) with a maximum value above 255 (16 bits per sample):
// Debian's stb_image reads past the end of its buffer when it converts such
// an image to 8 bits (found by tests/fuzz/fuzz_image.cpp), so nn refuses them
// before stb sees them. Returns the reason, or "" for any other file.
inline std::string unsupported_pnm(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[2] = {0, 0};
  if (!in.read(magic, 2) || magic[0] != 'P' || (magic[1] != '5' && magic[1] != '6')) return "";
  long values[3] = {0, 0, 0};
  for (long& v : values) {  // width, height, maximum value; '#' comments to the end of the line
    int c = in.get();
    while (c != EOF && (std::isspace(c) || c == '#')) {
      if (c == '#')
        while (c != EOF && c != '\n' && c != '\r') c = in.get();
      c = in.get();
    }
    if (c == EOF || !std::isdigit(c)) return "";  // stb rejects it itself
    while (c != EOF && std::isdigit(c) && v < 1000000000L) v = v * 10 + (c - '0'), c = in.get();
  }
  if (values[2] > 255) return "16-bit PNM (maximum value " + std::to_string(values[2]) + ") is not supported";
  return "";
}
}  // namespace detail

// Decodes, resizes and normalizes one image into out (channels, height, width).
template <class T>
void decode_image(const std::string& path, const ImageOptions& o, T* out) {
  if (o.channels != 1 && o.channels != 3) throw std::invalid_argument("ImageOptions: channels must be 1 or 3");
  if (o.width < 1 || o.height < 1) throw std::invalid_argument("ImageOptions: width and height must be >= 1");
  int w = 0, h = 0, n = 0;
  auto cannot = [&]() {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return ImageError(path + ": no such file");
    if (std::filesystem::is_directory(path, ec)) return ImageError(path + ": is a directory, not an image");
    return ImageError(path + ": cannot decode image (" + std::string(stbi_failure_reason()) + ")");
  };
  if (!stbi_info(path.c_str(), &w, &h, &n)) throw cannot();
  if (const std::string why = detail::unsupported_pnm(path); !why.empty()) throw ImageError(path + ": " + why);
  if (w < 1 || h < 1 || static_cast<long long>(w) * h > o.max_pixels)
    throw ImageError(path + ": the header claims " + std::to_string(w) + " x " + std::to_string(h) +
                     " pixels, more than ImageOptions::max_pixels (" + std::to_string(o.max_pixels) + ")");
  unsigned char* px = stbi_load(path.c_str(), &w, &h, &n, o.channels);
  if (!px) throw cannot();
  if (static_cast<long long>(w) * h > o.max_pixels) {  // the decoder's size, if it differs from the header's
    stbi_image_free(px);
    throw ImageError(path + ": " + std::to_string(w) + " x " + std::to_string(h) + " pixels, more than max_pixels");
  }
  const int C = o.channels;
  int rw = o.width, rh = o.height, ox = 0, oy = 0;
  if (o.resize == ImageOptions::Letterbox) {
    const double s = std::min(double(o.width) / w, double(o.height) / h);
    rw = std::max(1, int(std::lround(w * s)));
    rh = std::max(1, int(std::lround(h * s)));
    ox = (o.width - rw) / 2;
    oy = (o.height - rh) / 2;
  }
  std::vector<unsigned char> rs;
  const unsigned char* src = px;
  if (rw != w || rh != h) {
    rs.resize(std::size_t(rw) * rh * C);
    const int ok = stbir_resize_uint8(px, w, h, 0, rs.data(), rw, rh, 0, C);
    if (!ok) {
      stbi_image_free(px);
      throw ImageError(path + ": resize failed");
    }
    src = rs.data();
  }
  const Index S = Index(o.width) * o.height;
  for (int c = 0; c < C; ++c) {
    const T m = T(o.mean[std::size_t(c)]), sd = T(o.std[std::size_t(c)]);
    T* plane = out + c * S;
    std::fill(plane, plane + S, (T(o.fill) - m) / sd);
    for (int y = 0; y < rh; ++y)
      for (int x = 0; x < rw; ++x)
        plane[Index(y + oy) * o.width + (x + ox)] = (T(src[(std::size_t(y) * rw + x) * C + c]) / T(255) - m) / sd;
  }
  stbi_image_free(px);
}

template <class T = float>
Tensor<T> load_image(const std::string& path, const ImageOptions& o) {
  Tensor<T> x({o.channels, o.height, o.width});
  decode_image(path, o, x.data());
  return x;
}

// Decodes every image of the list (in parallel) into an in-memory dataset:
// inputs (N, channels, height, width), labels (N).
template <class T = float>
TensorDataset<T> load_images(const ImageList& list, const ImageOptions& o, LoadReport* report = nullptr) {
  const Index n = Index(list.size()), S = Index(o.channels) * o.width * o.height;
  Tensor<T> x({n, o.channels, o.height, o.width});
  std::vector<std::string> errors(list.size());
  nn::detail::parallel_for(n, n > 16, 8, [&](Index i, int) {
    try {
      decode_image(list.paths[std::size_t(i)], o, x.data() + i * S);
    } catch (const std::exception& e) {
      errors[std::size_t(i)] = e.what();
    }
  });
  std::vector<Index> good;
  LoadReport rep;
  for (Index i = 0; i < n; ++i) {
    if (errors[std::size_t(i)].empty()) {
      good.push_back(i);
      continue;
    }
    if (!o.skip_bad) throw ImageError(errors[std::size_t(i)]);
    rep.skipped_files.push_back(errors[std::size_t(i)]);
    rep.skipped_indices.push_back(i);
  }
  rep.loaded = Index(good.size());
  rep.skipped = n - rep.loaded;
  if (report) *report = rep;
  if (good.empty()) throw ImageError("no image could be loaded (" + std::to_string(n) + " tried)");
  if (Index(good.size()) == n) {
    Tensor<T> y({n});
    for (Index i = 0; i < n; ++i) y[i] = T(list.labels[std::size_t(i)]);
    return TensorDataset<T>(std::move(x), std::move(y), list.class_names);
  }
  Tensor<T> xs({Index(good.size()), o.channels, o.height, o.width}), ys({Index(good.size())});
  for (std::size_t k = 0; k < good.size(); ++k) {
    std::copy(x.data() + good[k] * S, x.data() + (good[k] + 1) * S, xs.data() + Index(k) * S);
    ys[Index(k)] = T(list.labels[std::size_t(good[k])]);
  }
  return TensorDataset<T>(std::move(xs), std::move(ys), list.class_names);
}

// Decodes each image when it is loaded: no memory held, for sets too large to
// cache. A bad file throws ImageError naming it when it is first read.
template <class T = float>
class ImageFileDataset : public Dataset<T> {
 public:
  ImageFileDataset(ImageList list, ImageOptions o) : list_(std::move(list)), o_(o) {
    if (list_.paths.empty()) throw ImageError("ImageFileDataset: no images in the list");
  }
  Index size() const override { return Index(list_.size()); }
  Shape input_shape() const override { return Shape{o_.channels, o_.height, o_.width}; }
  Shape target_shape() const override { return Shape{}; }
  void load(Index i, T* x, T* y) const override {
    decode_image(list_.paths[std::size_t(i)], o_, x);
    *y = T(list_.labels[std::size_t(i)]);
  }
  int label(Index i) const override { return list_.labels[std::size_t(i)]; }
  std::vector<std::string> class_names() const override { return list_.class_names; }

 private:
  ImageList list_;
  ImageOptions o_;
};

}  // namespace nn::data
