#include "../support/test_util.hpp"

#include <stb_image.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <tuple>

using namespace testutil;
namespace fs = std::filesystem;

namespace {
// Loads a PNG and returns (width, height, number of distinct colours, fraction of non-white pixels).
std::tuple<int, int, size_t, double> inspect(const std::string& path) {
  int w = 0, h = 0, n = 0;
  unsigned char* px = stbi_load(path.c_str(), &w, &h, &n, 3);
  REQUIRE(px);
  std::set<unsigned> colours;
  size_t ink = 0;
  for (int i = 0; i < w * h; ++i) {
    const unsigned c = (unsigned(px[3 * i]) << 16) | (unsigned(px[3 * i + 1]) << 8) | px[3 * i + 2];
    colours.insert(c);
    ink += c != 0xFFFFFF;
  }
  stbi_image_free(px);
  return {w, h, colours.size(), double(ink) / double(w * h)};
}
}  // namespace

TEST_CASE("history plot and confusion heatmap render to non-blank PNGs of the expected size") {
  nn::History h;
  for (int e = 1; e <= 6; ++e) {
    h.add("epoch", e), h.add("loss", 1.0 / e), h.add("accuracy", 1 - 0.5 / e);
    h.add("val_loss", 1.2 / e), h.add("val_accuracy", 1 - 0.6 / e);
  }
  const std::string p = (fs::temp_directory_path() / ("nn_plot_" + std::to_string(::getpid()) + ".png")).string();
  nn::plot::save_history_plot(p, h, "test");
  auto [w, hh, colours, ink] = inspect(p);
  CHECK(w == 1040);  // two panels of 520
  CHECK(hh == 420);
  CHECK(colours >= 4);  // white, black, grid, two series colours
  CHECK(ink > 0.02);
  CHECK(ink < 0.5);
  nn::ConfusionMatrix m(4, {"one", "two", "three", "four"});
  for (int t = 0; t < 4; ++t)
    for (int q = 0; q < 4; ++q) m.add(t, q, t == q ? 20 : q);
  nn::plot::save_confusion_png(p, m);
  auto [cw, ch, cc, cink] = inspect(p);
  CHECK(cw > 4 * 22);
  CHECK(ch > 4 * 22);
  CHECK(cc >= 5);
  CHECK(cink > 0.05);
  std::remove(p.c_str());
  CHECK_THROWS_AS(nn::plot::save_history_plot(p, nn::History{}), std::invalid_argument);
}

TEST_CASE("contact sheet: images scaled into a grid, flagged tiles framed in red, bad tiles rejected") {
  std::vector<nn::plot::Tile> tiles;
  for (int k = 0; k < 5; ++k) {
    nn::plot::Tile t;
    t.channels = 3, t.height = 8, t.width = 8;
    t.chw.assign(3 * 64, 0.0f);
    for (int i = 0; i < 64; ++i) t.chw[std::size_t(64 + i)] = 1.0f;  // pure green
    t.line1 = "pred " + std::to_string(k);
    t.line2 = "true 0";
    t.flagged = k == 3;
    tiles.push_back(t);
  }
  const std::string p = (fs::temp_directory_path() / ("nn_sheet_" + std::to_string(::getpid()) + ".png")).string();
  nn::plot::save_contact_sheet(p, tiles, "sheet", 3, 32);
  int w = 0, h = 0, n = 0;
  unsigned char* px = stbi_load(p.c_str(), &w, &h, &n, 3);
  REQUIRE(px);
  long green = 0, red = 0;
  for (int i = 0; i < w * h; ++i) {
    const unsigned char* c = px + 3 * i;
    green += c[0] == 0 && c[1] == 255 && c[2] == 0;
    red += c[0] == 214 && c[1] == 39 && c[2] == 40;
  }
  stbi_image_free(px);
  std::remove(p.c_str());
  CHECK(green == 5 * 32 * 32);  // 8x8 tiles scaled 4x to the 32-pixel minimum
  CHECK(red > (32 + 8) * 4 * 4 - 16 * 16);  // the frame around tile 3 (less the text pixels in red)
  CHECK(w >= 3 * 32);
  CHECK(h >= 2 * 32);
  tiles[1].chw.pop_back();
  CHECK_THROWS_AS(nn::plot::save_contact_sheet(p, tiles, "bad"), std::invalid_argument);
  CHECK_THROWS_AS(nn::plot::save_contact_sheet(p, {}, "none"), std::invalid_argument);
}

TEST_CASE("scatter plot: every group's colour appears, the legend widens the image, bad groups are rejected") {
  std::vector<nn::plot::Point> pts;
  std::vector<std::string> names;
  for (int g = 0; g < 20; ++g) {
    names.push_back("group " + std::to_string(g));
    for (int k = 0; k < 5; ++k) pts.push_back({std::cos(g * 0.3) * (1 + k), std::sin(g * 0.3) * (1 + k), g});
  }
  const std::string p = (fs::temp_directory_path() / ("nn_scatter_" + std::to_string(::getpid()) + ".png")).string();
  nn::plot::PlotOptions o;
  o.title = "scatter";
  nn::plot::save_scatter_plot(p, pts, names, o);
  int w = 0, h = 0, n = 0;
  unsigned char* px = stbi_load(p.c_str(), &w, &h, &n, 3);
  REQUIRE(px);
  CHECK(w > o.width);  // the legend sits to the right
  CHECK(h >= o.height);  // taller when the legend needs it
  std::set<unsigned> colours;
  for (int i = 0; i < w * h; ++i) colours.insert((unsigned(px[3 * i]) << 16) | (unsigned(px[3 * i + 1]) << 8) | px[3 * i + 2]);
  stbi_image_free(px);
  for (std::size_t g = 0; g < 20; ++g) {
    const auto c = nn::plot::palette20(g);
    CHECK(colours.count((unsigned(c.r) << 16) | (unsigned(c.g) << 8) | c.b) == 1);
  }
  std::remove(p.c_str());
  pts.push_back({0, 0, 20});
  CHECK_THROWS_WITH_AS(nn::plot::save_scatter_plot(p, pts, names), doctest::Contains("group 20 has no name"),
                       std::invalid_argument);
}
