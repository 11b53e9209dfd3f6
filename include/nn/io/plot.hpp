// nn/io/plot.hpp — PNG charts with no dependency beyond stb:
//   save_line_plot(path, series, options)    lines with axes, ticks, legend, title
//   save_contact_sheet(path, tiles, title)   a grid of images with captions,
//                                            flagged tiles framed in red
//   save_scatter_plot(path, points, groups)  points coloured by group (up to 20
//                                            colours), with a legend
// Training charts (history, confusion matrix) are in nn/train/plots.hpp.
// Text is drawn with stb_easy_font's bitmap glyphs, scaled 2x; PNGs are
// encoded with stb_image_write and written atomically.
#pragma once
#include <stb_easy_font.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/io/atomic_file.hpp"

namespace nn::plot {

struct Color {
  std::uint8_t r = 0, g = 0, b = 0;
};
inline Color palette(std::size_t i) {
  static const Color c[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
                            {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127}};
  return c[i % 8];
}

class Image {
 public:
  Image(int w, int h, Color bg = {255, 255, 255}) : w_(w), h_(h), px_(std::size_t(w) * std::size_t(h) * 3) {
    for (std::size_t i = 0; i < px_.size(); i += 3) px_[i] = bg.r, px_[i + 1] = bg.g, px_[i + 2] = bg.b;
  }
  int width() const { return w_; }
  int height() const { return h_; }
  const std::vector<std::uint8_t>& pixels() const { return px_; }
  void set(int x, int y, Color c) {
    if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
    std::uint8_t* p = &px_[(std::size_t(y) * std::size_t(w_) + std::size_t(x)) * 3];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
  void rect(int x0, int y0, int x1, int y1, Color c) {  // filled, [x0, x1) x [y0, y1)
    for (int y = std::max(0, y0); y < std::min(h_, y1); ++y)
      for (int x = std::max(0, x0); x < std::min(w_, x1); ++x) set(x, y, c);
  }
  void line(double x0, double y0, double x1, double y1, Color c, int thick = 2) {
    const double len = std::max(std::abs(x1 - x0), std::abs(y1 - y0));
    const int steps = std::max(1, int(std::ceil(len * 2)));
    for (int i = 0; i <= steps; ++i) {
      const double t = double(i) / steps;
      const int x = int(std::lround(x0 + t * (x1 - x0))), y = int(std::lround(y0 + t * (y1 - y0)));
      rect(x - thick / 2, y - thick / 2, x - thick / 2 + thick, y - thick / 2 + thick, c);
    }
  }
  static int text_width(const std::string& s, int scale = 2) {
    return stb_easy_font_width(const_cast<char*>(s.c_str())) * scale;
  }
  static int text_height(int scale = 2) { return 7 * scale; }
  void text(int x, int y, const std::string& s, Color c = {0, 0, 0}, int scale = 2) {
    static thread_local std::vector<char> buf(64 * 1024);
    const std::size_t need = (s.size() + 1) * 270 * 4;  // worst case, per stb_easy_font's notes
    if (buf.size() < need) buf.resize(need);
    const int quads =
        stb_easy_font_print(0, 0, const_cast<char*>(s.c_str()), nullptr, buf.data(), int(buf.size()));
    for (int q = 0; q < quads; ++q) {
      const float* v = reinterpret_cast<const float*>(buf.data() + q * 64);  // 4 vertices x 16 bytes
      const float qx0 = v[0], qy0 = v[1], qx1 = v[8], qy1 = v[9];
      rect(x + int(qx0 * scale), y + int(qy0 * scale), x + int(qx1 * scale), y + int(qy1 * scale), c);
    }
  }
  std::vector<std::uint8_t> png() const {
    std::vector<std::uint8_t> out;
    stbi_write_png_to_func(
        [](void* ctx, void* data, int n) {
          auto* o = static_cast<std::vector<std::uint8_t>*>(ctx);
          o->insert(o->end(), static_cast<std::uint8_t*>(data), static_cast<std::uint8_t*>(data) + n);
        },
        &out, w_, h_, 3, px_.data(), w_ * 3);
    if (out.empty()) throw std::runtime_error("PNG encoding failed");
    return out;
  }
  void save_png(const std::string& path) const {
    const auto bytes = png();
    io::write_file_atomic(path, bytes.data(), bytes.size());
  }

 private:
  int w_, h_;
  std::vector<std::uint8_t> px_;
};

struct Series {
  std::string name;
  std::vector<double> x, y;
  bool dashed = false;
  int color = -1;              // palette index, -1 = by position
  std::vector<double> lo, hi;  // optional band (e.g. mean -+ sd), drawn shaded under the line
};

struct PlotOptions {
  std::string title, xlabel, ylabel;
  int width = 640, height = 440;
};

namespace detail {
// Ticks at 1, 2, 2.5 or 5 x 10^k; with `integer`, only whole-number steps.
inline std::vector<double> nice_ticks(double lo, double hi, int target = 5, bool integer = false) {
  if (!(hi > lo)) hi = lo + 1;
  const double raw = (hi - lo) / target, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (raw <= m * mag && (!integer || std::floor(m * mag) == m * mag)) {
      step = m * mag;
      break;
    }
  if (integer) step = std::max(step, 1.0);
  std::vector<double> t;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) t.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
  return t;
}
inline std::string fmt(double v) {
  char b[32];
  if (v != 0 && (std::abs(v) >= 1e5 || std::abs(v) < 1e-3)) std::snprintf(b, sizeof b, "%.1e", v);
  else std::snprintf(b, sizeof b, "%g", std::round(v * 1e4) / 1e4);
  return b;
}
// The plotting area of a chart: data coordinates to pixels.
struct Frame {
  int left = 0, top = 0, right = 0, bottom = 0;
  double xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  double px(double v) const { return left + (v - xmin) / (xmax - xmin) * (right - left); }
  double py(double v) const { return bottom - (v - ymin) / (ymax - ymin) * (bottom - top); }
};

// Draws the title, the grid, the ticks with their labels, the axes and their
// labels of a chart over [xmin, xmax] x [ymin, ymax] into the rectangle
// (x0, y0, w, h) of img, and returns the plotting area.
inline Frame draw_frame(Image& img, int x0, int y0, int w, int h, double xmin, double xmax, double ymin, double ymax,
                        bool integer_x, const PlotOptions& o) {
  const Color ink{0, 0, 0}, grid{225, 225, 225};
  const auto yt = nice_ticks(ymin, ymax), xt = nice_ticks(xmin, xmax, 6, integer_x);
  int label_w = 0;
  for (double v : yt) label_w = std::max(label_w, Image::text_width(fmt(v)));
  Frame f{x0 + label_w + 14, y0 + 40, x0 + w - 12, y0 + h - 44, xmin, xmax, ymin, ymax};
  img.text(x0 + (w - Image::text_width(o.title)) / 2, y0 + 10, o.title, ink);
  for (double v : yt) {
    const int y = int(f.py(v));
    if (y < f.top || y > f.bottom) continue;
    img.rect(f.left, y, f.right, y + 1, grid);
    const std::string s = fmt(v);
    img.text(f.left - 8 - Image::text_width(s), y - Image::text_height() / 2, s, ink);
  }
  for (double v : xt) {
    const int x = int(f.px(v));
    if (x < f.left || x > f.right) continue;
    img.rect(x, f.top, x + 1, f.bottom, grid);
    const std::string s = fmt(v);
    img.text(x - Image::text_width(s) / 2, f.bottom + 8, s, ink);
  }
  img.rect(f.left, f.top, f.left + 2, f.bottom + 1, ink);
  img.rect(f.left, f.bottom, f.right + 1, f.bottom + 2, ink);
  img.text(f.left + (f.right - f.left - Image::text_width(o.xlabel)) / 2, f.bottom + 26, o.xlabel, ink);
  if (!o.ylabel.empty()) img.text(f.left + 6, f.top - 16, o.ylabel, {90, 90, 90});
  return f;
}
}  // namespace detail

// Draws a line chart into the rectangle (x0, y0, w, h) of img.
inline void draw_line_plot(Image& img, int x0, int y0, int w, int h, const std::vector<Series>& series,
                           const PlotOptions& o) {
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (auto& s : series)
    for (std::size_t i = 0; i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      const double xv = i < s.x.size() ? s.x[i] : double(i + 1);
      xmin = std::min(xmin, xv), xmax = std::max(xmax, xv), ymin = std::min(ymin, s.y[i]), ymax = std::max(ymax, s.y[i]);
      if (s.lo.size() == s.y.size() && s.hi.size() == s.y.size() && std::isfinite(s.lo[i]) && std::isfinite(s.hi[i]))
        ymin = std::min(ymin, s.lo[i]), ymax = std::max(ymax, s.hi[i]);
    }
  if (!std::isfinite(xmin)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  if (xmax == xmin) xmax = xmin + 1;
  if (ymax == ymin) ymax = ymin + 1, ymin -= 1;
  const double pad = (ymax - ymin) * 0.05;
  ymin -= pad, ymax += pad;
  bool integer_x = true;
  for (auto& s : series)
    for (std::size_t i = 0; i < s.x.size(); ++i) integer_x = integer_x && std::floor(s.x[i]) == s.x[i];
  const detail::Frame f = detail::draw_frame(img, x0, y0, w, h, xmin, xmax, ymin, ymax, integer_x, o);
  const int left = f.left, top = f.top, right = f.right, bottom = f.bottom;
  auto px = [&](double v) { return f.px(v); };
  auto py = [&](double v) { return f.py(v); };
  // bands first, as light shading, so every line stays visible
  for (std::size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    if (s.lo.size() != s.y.size() || s.hi.size() != s.y.size()) continue;
    const Color c = palette(s.color >= 0 ? std::size_t(s.color) : k);
    const Color light{std::uint8_t(c.r / 4 + 191), std::uint8_t(c.g / 4 + 191), std::uint8_t(c.b / 4 + 191)};
    for (std::size_t i = 0; i + 1 < s.y.size(); ++i) {
      const double xa = px(i < s.x.size() ? s.x[i] : double(i + 1)), xb = px(i + 1 < s.x.size() ? s.x[i + 1] : double(i + 2));
      for (int X = int(std::lround(xa)); X <= int(std::lround(xb)); ++X) {
        const double t = xb > xa ? (X - xa) / (xb - xa) : 0.0;
        const double l = s.lo[i] + t * (s.lo[i + 1] - s.lo[i]), h = s.hi[i] + t * (s.hi[i + 1] - s.hi[i]);
        if (!std::isfinite(l) || !std::isfinite(h)) continue;
        img.rect(X, int(py(h)), X + 1, int(py(l)) + 1, light);
      }
    }
  }
  for (std::size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    const Color c = palette(s.color >= 0 ? std::size_t(s.color) : k);
    for (std::size_t i = 0; i + 1 < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i]) || !std::isfinite(s.y[i + 1])) continue;
      if (s.dashed && i % 2) continue;
      const double xa = i < s.x.size() ? s.x[i] : double(i + 1), xb = i + 1 < s.x.size() ? s.x[i + 1] : double(i + 2);
      img.line(px(xa), py(s.y[i]), px(xb), py(s.y[i + 1]), c);
    }
    for (std::size_t i = 0; i < s.y.size(); ++i)
      if (std::isfinite(s.y[i])) {
        const double xa = i < s.x.size() ? s.x[i] : double(i + 1);
        img.rect(int(px(xa)) - 3, int(py(s.y[i])) - 3, int(px(xa)) + 4, int(py(s.y[i])) + 4, c);
      }
  }
  // legend: in whichever inside corner covers the fewest data points
  int lw = 0;
  for (auto& s : series) lw = std::max(lw, Image::text_width(s.name));
  const int box_w = lw + 46, box_h = int(series.size()) * 20 + 8;
  int best_x = right - box_w - 4, best_y = top + 4;
  long best_hits = -1;
  for (int corner = 0; corner < 4; ++corner) {
    const int bx = corner % 2 ? left + 8 : right - box_w - 4, by = corner < 2 ? top + 4 : bottom - box_h - 4;
    long hits = 0;
    for (auto& s : series)
      for (std::size_t i = 0; i < s.y.size(); ++i) {
        if (!std::isfinite(s.y[i])) continue;
        const double X = px(i < s.x.size() ? s.x[i] : double(i + 1)), Y = py(s.y[i]);
        hits += X >= bx - 6 && X <= bx + box_w + 6 && Y >= by - 6 && Y <= by + box_h + 6;
      }
    if (best_hits < 0 || hits < best_hits) best_hits = hits, best_x = bx, best_y = by;
  }
  if (!series.empty()) img.rect(best_x, best_y, best_x + box_w, best_y + box_h, {250, 250, 250});
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Color c = palette(series[k].color >= 0 ? std::size_t(series[k].color) : k);
    const int ly = best_y + 6 + int(k) * 20;
    img.rect(best_x + 6, ly + 5, best_x + 28, ly + 9, c);
    img.text(best_x + 34, ly, series[k].name, {0, 0, 0});
  }
}

inline void save_line_plot(const std::string& path, const std::vector<Series>& series, const PlotOptions& o = {}) {
  Image img(o.width, o.height);
  draw_line_plot(img, 0, 0, o.width, o.height, series, o);
  img.save_png(path);
}

// Twenty distinguishable colours (the palette's eight, then lighter and
// darker companions), for scatter plots with many groups.
inline Color palette20(std::size_t i) {
  static const Color c[] = {{31, 119, 180},  {255, 127, 14},  {44, 160, 44},   {214, 39, 40},   {148, 103, 189},
                            {140, 86, 75},   {227, 119, 194}, {127, 127, 127}, {188, 189, 34},  {23, 190, 207},
                            {174, 199, 232}, {255, 187, 120}, {152, 223, 138}, {255, 152, 150}, {197, 176, 213},
                            {196, 156, 148}, {247, 182, 210}, {0, 0, 128},     {128, 128, 0},   {0, 100, 0}};
  return c[i % 20];
}

// A point of a scatter plot and the group (index into the names) it belongs to.
struct Point {
  double x = 0, y = 0;
  int group = 0;
};

// Points coloured by group, with axes, ticks and a legend of the group names
// to the right of the plot. Groups beyond 20 reuse colours.
inline void save_scatter_plot(const std::string& path, const std::vector<Point>& points,
                              const std::vector<std::string>& groups, const PlotOptions& o = {}) {
  for (const auto& p : points)
    if (p.group < 0 || std::size_t(p.group) >= groups.size())
      throw std::invalid_argument("save_scatter_plot: point group " + std::to_string(p.group) + " has no name (" +
                                  std::to_string(groups.size()) + " groups)");
  int legend_w = 0;
  for (const auto& g : groups) legend_w = std::max(legend_w, Image::text_width(g));
  legend_w += 40;
  const int plot_w = o.width, W = plot_w + legend_w, H = std::max(o.height, int(groups.size()) * 20 + 60);
  Image img(W, H);
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (const auto& p : points)
    if (std::isfinite(p.x) && std::isfinite(p.y))
      xmin = std::min(xmin, p.x), xmax = std::max(xmax, p.x), ymin = std::min(ymin, p.y), ymax = std::max(ymax, p.y);
  if (!std::isfinite(xmin)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  if (xmax == xmin) xmax = xmin + 1;
  if (ymax == ymin) ymax = ymin + 1;
  const double px_pad = (xmax - xmin) * 0.04, py_pad = (ymax - ymin) * 0.04;
  xmin -= px_pad, xmax += px_pad, ymin -= py_pad, ymax += py_pad;
  const detail::Frame f = detail::draw_frame(img, 0, 0, plot_w, o.height, xmin, xmax, ymin, ymax, false, o);
  for (const auto& p : points) {
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
    const int x = int(std::lround(f.px(p.x))), y = int(std::lround(f.py(p.y)));
    img.rect(x - 2, y - 2, x + 3, y + 3, palette20(std::size_t(p.group)));
  }
  for (std::size_t k = 0; k < groups.size(); ++k) {
    const int ly = f.top + int(k) * 20;
    img.rect(plot_w + 4, ly + 3, plot_w + 16, ly + 15, palette20(k));
    img.text(plot_w + 22, ly + 2, groups[k], {0, 0, 0});
  }
  img.save_png(path);
}

// One tile of a contact sheet: a CHW image (1 or 3 channels) with values in
// [0, 1] (clamped), up to two caption lines, and a flag that frames it in red
// (a wrong prediction).
struct Tile {
  std::vector<float> chw;
  int channels = 3, height = 0, width = 0;
  std::string line1, line2;
  bool flagged = false;
};

// Tiles in a grid of `cols` columns, each image scaled by an integer factor to
// at least `min_side` pixels (nearest neighbour), captions under it.
inline void save_contact_sheet(const std::string& path, const std::vector<Tile>& tiles, const std::string& title,
                               int cols = 6, int min_side = 96) {
  if (tiles.empty()) throw std::invalid_argument("save_contact_sheet: no tiles");
  if (cols < 1) throw std::invalid_argument("save_contact_sheet: cols must be >= 1");
  auto scale = [min_side](const Tile& t) {
    return std::max(1, (min_side + std::max(t.height, t.width) - 1) / std::max(t.height, t.width));
  };
  int side_h = 0, side_w = 0;
  for (const auto& t : tiles) {
    if ((t.channels != 1 && t.channels != 3) || t.height < 1 || t.width < 1 ||
        t.chw.size() != std::size_t(t.channels) * std::size_t(t.height) * std::size_t(t.width))
      throw std::invalid_argument("save_contact_sheet: a tile is not a 1- or 3-channel CHW image of its size");
    side_h = std::max(side_h, t.height * scale(t)), side_w = std::max(side_w, t.width * scale(t));
  }
  int text_w = 0;
  for (const auto& t : tiles) text_w = std::max({text_w, Image::text_width(t.line1, 1), Image::text_width(t.line2, 1)});
  const int cell_w = std::max(side_w, text_w) + 16, cell_h = side_h + 2 * 10 + 16, top = 40;
  cols = std::min<int>(cols, int(tiles.size()));
  const int rows = (int(tiles.size()) + cols - 1) / cols;
  Image img(std::max(cols * cell_w + 10, Image::text_width(title) + 20), top + rows * cell_h + 10);
  img.text((img.width() - Image::text_width(title)) / 2, 12, title);
  const Color red{214, 39, 40};
  for (std::size_t k = 0; k < tiles.size(); ++k) {
    const Tile& t = tiles[k];
    const int f = scale(t);
    const int x0 = 5 + int(k % std::size_t(cols)) * cell_w + (cell_w - t.width * f) / 2;
    const int y0 = top + int(k / std::size_t(cols)) * cell_h + 4;
    if (t.flagged) img.rect(x0 - 4, y0 - 4, x0 + t.width * f + 4, y0 + t.height * f + 4, red);
    const std::size_t plane = std::size_t(t.height) * std::size_t(t.width);
    for (int y = 0; y < t.height; ++y)
      for (int x = 0; x < t.width; ++x) {  // each source pixel becomes an f x f block
        const std::size_t i = std::size_t(y) * std::size_t(t.width) + std::size_t(x);
        auto px = [&](int c) {
          const float v = t.chw[std::size_t(t.channels == 3 ? c : 0) * plane + i];
          return std::uint8_t(std::lround(255.0f * std::min(1.0f, std::max(0.0f, std::isfinite(v) ? v : 0.0f))));
        };
        img.rect(x0 + x * f, y0 + y * f, x0 + (x + 1) * f, y0 + (y + 1) * f, Color{px(0), px(1), px(2)});
      }
    const int cx = 5 + int(k % std::size_t(cols)) * cell_w, ty = y0 + t.height * f + 7;
    img.text(cx + (cell_w - Image::text_width(t.line1, 1)) / 2, ty, t.line1, t.flagged ? red : Color{0, 0, 0}, 1);
    img.text(cx + (cell_w - Image::text_width(t.line2, 1)) / 2, ty + 10, t.line2, {90, 90, 90}, 1);
  }
  img.save_png(path);
}

}  // namespace nn::plot
