#include "../support/test_util.hpp"

#include <stb_image_write.h>

#include <filesystem>
#include <fstream>

using namespace testutil;
using F = float;
namespace fs = std::filesystem;

namespace {
struct TempDir {
  fs::path p;
  explicit TempDir(const std::string& n) : p(fs::temp_directory_path() / ("nn_img_" + n + "_" + std::to_string(::getpid()))) {
    fs::remove_all(p);
    fs::create_directories(p);
  }
  ~TempDir() { fs::remove_all(p); }
};
// A w x h RGB PNG filled with one colour.
void write_png(const fs::path& f, int w, int h, unsigned char r, unsigned char g, unsigned char b) {
  std::vector<unsigned char> px(size_t(w) * size_t(h) * 3);
  for (size_t i = 0; i < px.size(); i += 3) px[i] = r, px[i + 1] = g, px[i + 2] = b;
  fs::create_directories(f.parent_path());
  REQUIRE(stbi_write_png(f.string().c_str(), w, h, 3, px.data(), w * 3));
}
}  // namespace

TEST_CASE("image folder: classes from sub-folders, decoded to CHW in [0, 1], normalized") {
  TempDir d("folder");
  write_png(d.p / "red" / "a.png", 8, 8, 255, 0, 0);
  write_png(d.p / "red" / "b.png", 10, 6, 255, 0, 0);
  write_png(d.p / "blue" / "c.png", 8, 8, 0, 0, 255);
  std::ofstream(d.p / "blue" / "notes.txt") << "not an image";
  auto list = nn::data::list_image_folder(d.p.string());
  CHECK(list.class_names == std::vector<std::string>{"blue", "red"});
  CHECK(list.size() == 3);
  nn::data::ImageOptions o;
  o.width = o.height = 4;
  auto ds = nn::data::load_images<F>(list, o);
  CHECK(ds.inputs().shape() == Shape{3, 3, 4, 4});
  CHECK(ds.targets()[0] == 0);  // blue first
  CHECK(ds.inputs()(0, 2, 1, 1) == doctest::Approx(1.0f));  // blue channel
  CHECK(ds.inputs()(1, 0, 1, 1) == doctest::Approx(1.0f));  // red channel
  CHECK(ds.class_names() == list.class_names);
  o.mean = {0.5f, 0.5f, 0.5f};
  o.std = {0.25f, 0.25f, 0.25f};
  auto dn = nn::data::load_images<F>(list, o);
  CHECK(dn.inputs()(1, 0, 0, 0) == doctest::Approx(2.0f));
  CHECK(dn.inputs()(1, 1, 0, 0) == doctest::Approx(-2.0f));
  // the uncached dataset decodes the same values on access
  nn::data::ImageFileDataset<F> lazy(list, o);
  CHECK(lazy.size() == 3);
  CHECK(lazy.input_shape() == Shape{3, 4, 4});
  std::vector<F> x(48);
  F y = -1;
  lazy.load(1, x.data(), &y);
  CHECK(y == 1);
  CHECK(std::equal(x.begin(), x.end(), dn.inputs().data() + 48));
}

TEST_CASE("letterbox keeps the aspect ratio and pads") {
  TempDir d("letterbox");
  write_png(d.p / "x" / "wide.png", 16, 8, 255, 255, 255);
  nn::data::ImageOptions o;
  o.width = o.height = 8;
  o.resize = nn::data::ImageOptions::Letterbox;
  auto x = nn::data::load_image<F>((d.p / "x" / "wide.png").string(), o);
  CHECK(x.shape() == Shape{3, 8, 8});
  CHECK(x(0, 0, 4) == 0.0f);  // top two rows are padding
  CHECK(x(0, 1, 4) == 0.0f);
  CHECK(x(0, 4, 4) == doctest::Approx(1.0f));  // the image, centred
  CHECK(x(0, 6, 4) == 0.0f);
}

TEST_CASE("split files, class ids, corrupt and missing images: errors or counted skips") {
  TempDir d("split");
  write_png(d.p / "images" / "A" / "A0.png", 6, 6, 10, 20, 30);
  write_png(d.p / "images" / "B" / "B0.png", 6, 6, 40, 50, 60);
  std::ofstream(d.p / "images" / "B" / "B1.png") << "this is not a png";
  std::ofstream(d.p / "classid.txt") << "A 0\nB 1\n";
  std::ofstream(d.p / "train.txt") << "A/A0.png 0\nB/B0.png 1\nB/B1.png 1\nB/B9.png 1\n";
  auto names = nn::data::read_class_ids((d.p / "classid.txt").string());
  CHECK(names == std::vector<std::string>{"A", "B"});
  auto list = nn::data::read_split_file((d.p / "train.txt").string(), (d.p / "images").string(), names);
  CHECK(list.size() == 4);
  nn::data::ImageOptions o;
  o.width = o.height = 6;
  CHECK_THROWS_WITH_AS(nn::data::load_images<F>(list, o), doctest::Contains("B1.png: cannot decode image"),
                       nn::data::ImageError);
  o.skip_bad = true;
  nn::data::LoadReport rep;
  auto ds = nn::data::load_images<F>(list, o, &rep);
  CHECK(rep.loaded == 2);
  CHECK(rep.skipped == 2);
  CHECK(rep.skipped_files[1].find("B9.png: no such file") != std::string::npos);
  CHECK(rep.skipped_indices == std::vector<nn::Index>{2, 3});
  CHECK(ds.size() == 2);
  CHECK(ds.label(1) == 1);
  std::ofstream(d.p / "bad.txt") << "A/A0.png 7\n";
  CHECK_THROWS_WITH_AS(nn::data::read_split_file((d.p / "bad.txt").string(), d.p.string(), names),
                       doctest::Contains("bad.txt:1: label 7 but only 2 classes"), nn::data::ImageError);
  std::ofstream(d.p / "bad2.txt") << "just-a-path\n";
  CHECK_THROWS_WITH_AS(nn::data::read_split_file((d.p / "bad2.txt").string(), d.p.string()),
                       doctest::Contains("expected '<path> <label>'"), nn::data::ImageError);
  // found by fuzz_split: without class names one large label asked for that many names
  std::ofstream(d.p / "huge.txt") << "a/x.png 0\nb/y.png 420020000\n";
  CHECK_THROWS_WITH_AS(nn::data::read_split_file((d.p / "huge.txt").string(), d.p.string()),
                       doctest::Contains("label 420020000 without class names"), nn::data::ImageError);
  std::ofstream(d.p / "ok.txt") << "a/x.png 0\nb/y.png 65535\n";
  CHECK(nn::data::read_split_file((d.p / "ok.txt").string(), d.p.string()).class_names.size() == 65536);
}

TEST_CASE("an image whose header claims more than max_pixels is refused before decoding") {
  TempDir d("maxpx");
  write_png(d.p / "big.png", 300, 200, 10, 20, 30);
  nn::data::ImageOptions o;
  o.width = o.height = 8;
  o.max_pixels = 300 * 200 - 1;
  CHECK_THROWS_WITH_AS(nn::data::load_image<float>((d.p / "big.png").string(), o),
                       doctest::Contains("big.png: the header claims 300 x 200 pixels"), nn::data::ImageError);
  o.max_pixels = 300 * 200;
  CHECK(nn::data::load_image<float>((d.p / "big.png").string(), o).shape() == Shape{3, 8, 8});
  CHECK_THROWS_WITH_AS(nn::data::load_image<float>(d.p.string(), o), doctest::Contains("is a directory"),
                       nn::data::ImageError);
}

TEST_CASE("16-bit PNM files are refused before stb_image reads past its buffer") {
  // found by fuzz_image: "P5 36 36 4444" (the data may even be complete)
  TempDir d("pnm16");
  std::ofstream(d.p / "deep.pgm", std::ios::binary) << "P5 36 36 4444\n" << std::string(36 * 36 * 2, '\0');
  std::ofstream(d.p / "comment.ppm", std::ios::binary) << "P6\n# a comment\n4 4\n65535\n" << std::string(96, '\0');
  std::ofstream(d.p / "ok.pgm", std::ios::binary) << "P5\n# 8 bits\n3 2\n255\n" << std::string(6, '\x40');
  nn::data::ImageOptions o;
  o.width = o.height = 4, o.channels = 1;
  CHECK_THROWS_WITH_AS(nn::data::load_image<float>((d.p / "deep.pgm").string(), o),
                       doctest::Contains("deep.pgm: 16-bit PNM (maximum value 4444) is not supported"),
                       nn::data::ImageError);
  CHECK_THROWS_WITH_AS(nn::data::load_image<float>((d.p / "comment.ppm").string(), o),
                       doctest::Contains("maximum value 65535"), nn::data::ImageError);
  auto x = nn::data::load_image<float>((d.p / "ok.pgm").string(), o);
  CHECK(x[0] == doctest::Approx(64.0 / 255));
}

TEST_CASE("the Freiburg split files parse against the real images") {
  std::string dir;
  try {
    dir = nn::data::find_dataset("freiburg-groceries");
  } catch (const nn::data::DatasetNotFound&) {
    NN_SKIP("Freiburg Groceries not found (set NN_DATA_DIR or run datasets/download.sh)");
  }
  auto names = nn::data::read_class_ids(dir + "/classid.txt");
  CHECK(names.size() == 25);
  CHECK(names[0] == "CANDY");
  auto test0 = nn::data::read_split_file(dir + "/splits/test0.txt", dir + "/images", names);
  CHECK(test0.size() == 1018);
  nn::data::ImageOptions o;
  o.width = o.height = 32;
  nn::data::ImageList few;
  few.class_names = names;
  for (size_t i = 0; i < 40; ++i) few.paths.push_back(test0.paths[i * 25]), few.labels.push_back(test0.labels[i * 25]);
  auto ds = nn::data::load_images<F>(few, o);
  CHECK(ds.size() == 40);
  CHECK(ds.inputs().array().maxCoeff() <= 1.0f);
  CHECK(ds.inputs().array().mean() > 0.05f);
}
