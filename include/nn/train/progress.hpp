// nn/train/progress.hpp — the training display.
//   Bar   (a terminal): one line per epoch redrawn in place:
//         epoch 3/10 [=========>          ] 412/938 loss 0.1234 accuracy 0.9712 3212 img/s ETA 0:16
//   Lines (not a terminal: CI, logs): one plain line per epoch.
//   Off:  nothing.  Auto picks Bar when stdout is a terminal, else Lines.
#pragma once
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace nn {

enum class Progress { Auto, Bar, Lines, Off };

class ProgressDisplay {
 public:
  ProgressDisplay(Progress mode, std::ostream& out) : out_(out) {
    if (mode == Progress::Auto) mode = (&out == &std::cout && ::isatty(STDOUT_FILENO)) ? Progress::Bar : Progress::Lines;
    mode_ = mode;
  }
  void begin_epoch(int epoch, int epochs, long batches) {
    epoch_ = epoch, epochs_ = epochs, batches_ = batches;
    last_draw_ = std::chrono::steady_clock::time_point{};
  }
  // Running values after `done` batches.
  void batch(long done, const std::vector<std::pair<std::string, double>>& running, double images_per_s, double elapsed) {
    if (mode_ != Progress::Bar) return;
    const auto now = std::chrono::steady_clock::now();
    if (done != batches_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const int width = 24;
    const int filled = batches_ ? int(double(done) / double(batches_) * width) : width;
    std::ostringstream os;
    os << "\repoch " << epoch_ << "/" << epochs_ << " [";
    for (int i = 0; i < width; ++i) os << (i < filled ? '=' : i == filled ? '>' : ' ');
    os << "] " << done << "/" << batches_;
    os << std::fixed << std::setprecision(4);
    for (auto& [k, v] : running) os << " " << k << " " << v;
    const double eta = done ? elapsed / double(done) * double(batches_ - done) : 0;
    os << std::setprecision(0) << " " << images_per_s << " img/s ETA " << clock(eta) << "   ";
    out_ << os.str() << std::flush;
  }
  void end_epoch(const std::vector<std::pair<std::string, double>>& logs, double seconds, double images_per_s) {
    if (mode_ == Progress::Off) return;
    std::ostringstream os;
    if (mode_ == Progress::Bar) os << "\r\033[K";
    os << "epoch " << epoch_ << "/" << epochs_ << " - " << std::fixed << std::setprecision(1) << seconds << "s - "
       << std::setprecision(0) << images_per_s << " img/s";
    for (auto& [k, v] : logs) {
      os << " - " << k << " ";
      if (k == "lr") os << std::defaultfloat << std::setprecision(4) << v;
      else os << std::fixed << std::setprecision(4) << v;
    }
    out_ << os.str() << std::endl;
  }
  void message(const std::string& m) {
    if (mode_ == Progress::Off) return;
    out_ << (mode_ == Progress::Bar ? "\r\033[K" : "") << m << std::endl;
  }
  Progress mode() const { return mode_; }

 private:
  static std::string clock(double s) {
    const long t = long(s + 0.5);
    std::ostringstream os;
    os << t / 60 << ":" << std::setw(2) << std::setfill('0') << t % 60;
    return os.str();
  }
  std::ostream& out_;
  Progress mode_;
  int epoch_ = 0, epochs_ = 0;
  long batches_ = 0;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace nn
