// nn/train/plots.hpp — charts of training results, drawn with nn/io/plot.hpp:
//   save_history_plot(path, history, title)  loss and each metric per epoch,
//                                            train vs validation, side by side
//   save_confusion_png(path, matrix, title)  row-normalized heatmap with class names
#pragma once
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "nn/io/plot.hpp"
#include "nn/train/history.hpp"
#include "nn/train/metrics.hpp"

namespace nn::plot {

// One panel for the loss and one per metric found in the history
// (train solid, validation in the second colour).
inline void save_history_plot(const std::string& path, const History& h, const std::string& title = "training") {
  std::vector<std::string> panels;
  if (h.has("loss")) panels.push_back("loss");
  for (const auto& k : h.keys())
    if (k != "loss" && k != "epoch" && k != "lr" && k != "seconds" && k != "images_per_second" &&
        k.rfind("val_", 0) != 0)
      panels.push_back(k);
  if (panels.empty()) throw std::invalid_argument("save_history_plot: the history has no values");
  const int pw = 520, ph = 420;
  Image img(pw * int(panels.size()), ph);
  std::vector<double> epochs = h.has("epoch") ? h["epoch"] : std::vector<double>{};
  for (std::size_t i = 0; i < panels.size(); ++i) {
    std::vector<Series> s{{"train", epochs, h[panels[i]], false, 0, {}, {}}};
    if (h.has("val_" + panels[i])) s.push_back({"validation", epochs, h["val_" + panels[i]], false, 1, {}, {}});
    PlotOptions o;
    o.title = title + ": " + panels[i];
    o.xlabel = "epoch";
    draw_line_plot(img, int(i) * pw, 0, pw, ph, s, o);
  }
  img.save_png(path);
}

// Heatmap of the row-normalized matrix (recall per true class), counts in the cells.
inline void save_confusion_png(const std::string& path, const ConfusionMatrix& m, const std::string& title = "confusion matrix") {
  const int C = int(m.classes());
  int name_w = 0;
  for (auto& n : m.names()) name_w = std::max(name_w, Image::text_width(n));
  const int cell = std::max(22, std::min(48, 900 / std::max(C, 1)));
  const int left = name_w + 20, top = 50 + std::max(name_w, 20) + 10;
  const std::string footer = "rows: true class, columns: predicted";
  const int W = std::max(left + C * cell + 20, Image::text_width(footer) + 20), H = top + C * cell + 50;
  Image img(W, H);
  img.text((W - Image::text_width(title)) / 2, 12, title);
  img.text(10, H - 30, footer, {80, 80, 80});
  for (int t = 0; t < C; ++t) {
    const double row = double(std::max<long>(m.row(t), 1));
    img.text(left - 8 - Image::text_width(m.names()[std::size_t(t)]), top + t * cell + (cell - 14) / 2, m.names()[std::size_t(t)]);
    for (int p = 0; p < C; ++p) {
      const double f = double(m(t, p)) / row;
      const Color c{std::uint8_t(255 - 225 * f), std::uint8_t(255 - 160 * f), std::uint8_t(255 - 60 * f)};
      img.rect(left + p * cell, top + t * cell, left + (p + 1) * cell - 1, top + (t + 1) * cell - 1, c);
      const std::string n = std::to_string(m(t, p));
      const int scale = Image::text_width(n, 2) + 4 <= cell ? 2 : 1;
      if (Image::text_width(n, scale) + 2 <= cell && m(t, p) > 0)
        img.text(left + p * cell + (cell - Image::text_width(n, scale)) / 2, top + t * cell + (cell - 7 * scale) / 2, n,
                 f > 0.55 ? Color{255, 255, 255} : Color{0, 0, 0}, scale);
    }
  }
  // column names, written vertically one character per line
  for (int p = 0; p < C; ++p) {
    const std::string& n = m.names()[std::size_t(p)];
    const int rows = std::min<int>(int(n.size()), (top - 60) / 11);
    for (int k = 0; k < rows; ++k)
      img.text(left + p * cell + (cell - 10) / 2, top - 8 - (rows - k) * 11, std::string(1, n[std::size_t(k)]), {0, 0, 0}, 1);
  }
  img.save_png(path);
}

}  // namespace nn::plot
