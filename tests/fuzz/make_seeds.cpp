// Writes the fuzzers' seed corpus with nn's own writers:
//   fuzz_make_seeds <dir>   ->  <dir>/<target>/<seed files>
// The committed corpus (tests/fuzz/corpus/) was made by this program.
#include <stb_image_write.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nn/nn.hpp>

namespace fs = std::filesystem;

namespace {
void put(const fs::path& p, const std::vector<unsigned char>& b) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}
void put(const fs::path& p, const std::string& s) { put(p, std::vector<unsigned char>(s.begin(), s.end())); }
std::vector<unsigned char> slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<unsigned char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
// Model-file seeds for fuzz_model / fuzz_training_state: mode byte 0 and the
// file, and mode byte 1 and its payload (the target adds the envelope).
// Mode byte (model_file.hpp): 0 the file; 1 a version-1 payload, 3 a version-2 one, 5 a version-3 one.
void put_model(const fs::path& dir, const std::string& name, const std::vector<unsigned char>& file) {
  std::vector<unsigned char> a{0};
  a.insert(a.end(), file.begin(), file.end());
  put(dir / (name + ".file"), a);
  std::vector<unsigned char> b{static_cast<unsigned char>(file[8] == 3 ? 5 : file[8] == 2 ? 3 : 1)};
  b.insert(b.end(), file.begin() + 20, file.end() - 4);
  put(dir / (name + ".payload"), b);
}
std::vector<unsigned char> gzip(const std::vector<unsigned char>& in) {
  std::vector<unsigned char> out(compressBound(uLong(in.size())) + 32);
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  z.next_in = const_cast<unsigned char*>(in.data()), z.avail_in = uInt(in.size());
  z.next_out = out.data(), z.avail_out = uInt(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}
void write_cb(void* ctx, void* data, int n) {
  auto* v = static_cast<std::vector<unsigned char>*>(ctx);
  v->insert(v->end(), static_cast<unsigned char*>(data), static_cast<unsigned char*>(data) + n);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_seeds <corpus dir>\n";
    return 2;
  }
  const fs::path root = argv[1];
  const fs::path tmp = root / "tmp.nn";
  fs::create_directories(root);
  using F = float;
  // model files: a dense net, a small convnet, with and without optimizer state
  {
    nn::Sequential<F> m(nn::Shape{3}, 1);
    m.add(nn::Dense<F>(2));
    m.add(nn::BatchNorm<F>());
    nn::save_model(tmp.string(), m);
    put_model(root / "model", "dense_bn", slurp(tmp));
    nn::SGD<F> sgd(m.parameters(), {0.1, 0.9});
    nn::save_model(tmp.string(), m, &sgd, 2);
    put_model(root / "model", "dense_bn_sgd", slurp(tmp));
    put_model(root / "training_state", "dense_bn_sgd", slurp(tmp));
    nn::Adam<F> adam(m.parameters());
    nn::save_model(tmp.string(), m, &adam, 5);
    put_model(root / "training_state", "dense_bn_adam", slurp(tmp));
  }
  {
    nn::Sequential<F> m(nn::Shape{1, 8, 8}, 2);
    m.add(nn::ZeroPadding2D<F>(1, 1, 1, 1));
    m.add<nn::Conv2D<F>>(2, 3, 1, nn::Padding::same());
    m.add(nn::ReLU<F>());
    m.add(nn::MaxPool2D<F>(2));
    m.add(nn::AvgPool2D<F>(2));
    m.add(nn::Dropout<F>(0.2));
    m.add(nn::Flatten<F>());
    m.add(nn::Dense<F>(3, false));
    m.add(nn::ELU<F>(0.5));
    m.add(nn::LeakyReLU<F>(0.1));
    m.add(nn::Softmax<F>());
    nn::save_model(tmp.string(), m);
    put_model(root / "model", "convnet", slurp(tmp));
    // its int8 version: quantized conv with a fused pool, float layers, an int8 dense step
    nn::Sequential<F> q(nn::Shape{1, 8, 8}, 3);
    q.add<nn::Conv2D<F>>(5, 3, 2, nn::Padding(1));
    q.add(nn::BatchNorm<F>());
    q.add(nn::ReLU<F>());
    q.add(nn::MaxPool2D<F>(2));
    q.add(nn::ELU<F>());
    q.add(nn::Flatten<F>());
    q.add(nn::Dense<F>(3));
    nn::Tensor<F> calib(nn::Shape{4, 1, 8, 8});
    nn::Rng rng(4);
    calib.fill_normal(rng, 0, 1);
    auto qm = nn::quant::quantize(q, calib);
    nn::quant::save(tmp.string(), qm);
    put_model(root / "model", "int8", slurp(tmp));
    auto qb = nn::quant::quantize_bf16(q);
    nn::quant::save(tmp.string(), qb);
    put_model(root / "model", "bf16", slurp(tmp));
  }
  {  // a graph: two inputs, a shared layer, merges, two outputs
    nn::Graph<F> g(3);
    auto a = g.input({4}, "a"), b = g.input({4}, "b");
    auto fc = g.share(nn::Dense<F>(3), "tower");
    auto ea = g.add(nn::L2Normalize<F>(), g.add(fc, a)), eb = g.add(fc, b);
    g.output(g.add(nn::CosineSimilarity<F>(), {ea, eb}), "similarity");
    g.output(g.add(nn::Dense<F>(2), g.add(nn::Concat<F>(), {g.add(nn::Multiply<F>(), {ea, eb}), g.add(nn::Add<F>(), {ea, eb})})),
             "logits");
    nn::save_model(tmp.string(), g);
    put_model(root / "model", "graph", slurp(tmp));
  }
  fs::remove(tmp);
  // idx: first byte 0 = the file as it is, 1 = gzip the rest first
  std::vector<unsigned char> images{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2};
  for (int i = 0; i < 8; ++i) images.push_back(static_cast<unsigned char>(i * 30));
  std::vector<unsigned char> labels{0, 0, 8, 1, 0, 0, 0, 3, 7, 1, 9};
  for (unsigned char mode : {0, 1}) {
    auto a = images, b = labels;
    a.insert(a.begin(), mode), b.insert(b.begin(), mode);
    put(root / "idx" / ("images" + std::to_string(mode)), a);
    put(root / "idx" / ("labels" + std::to_string(mode)), b);
  }
  auto gz = gzip(labels);
  gz.insert(gz.begin(), 0);
  put(root / "idx" / "labels_gz", gz);
  // images: 5 x 3 in each format stb writes
  std::vector<unsigned char> px(5 * 3 * 3);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<unsigned char>(i * 17);
  std::vector<unsigned char> png, jpg, bmp, tga;
  stbi_write_png_to_func(write_cb, &png, 5, 3, 3, px.data(), 15);
  stbi_write_jpg_to_func(write_cb, &jpg, 5, 3, 3, px.data(), 80);
  stbi_write_bmp_to_func(write_cb, &bmp, 5, 3, 3, px.data());
  stbi_write_tga_to_func(write_cb, &tga, 5, 3, 1, px.data());
  put(root / "image" / "rgb.png", png);
  put(root / "image" / "rgb.jpg", jpg);
  put(root / "image" / "rgb.bmp", bmp);
  put(root / "image" / "grey.tga", tga);
  put(root / "image" / "grey.pgm", std::string("P5\n3 2\n255\n") + std::string("\x01\x40\x80\xc0\xff\x10", 6));
  // class lists and split files (each input is parsed as both)
  put(root / "split" / "classid.txt", "apple 0\nbanana 1\ncoffee 2\n");
  put(root / "split" / "train.txt", "apple/a0.png 0\r\nbanana/b1.png 1\n\ncoffee/c.jpg 2\n");
  put(root / "split" / "bad.txt", "apple\nx -1\n");
  // command lines: arguments separated by NUL bytes
  auto args = [](std::initializer_list<std::string> a) {
    std::string s;
    for (const auto& x : a) s += (s.empty() ? "" : std::string(1, '\0')) + x;
    return s;
  };
  put(root / "cli" / "full", args({"--epochs", "5", "--lr=0.01", "--seed", "42", "--out", "o", "--quick", "f.png"}));
  put(root / "cli" / "bad", args({"--epochs", "x", "--nope"}));
  put(root / "cli" / "help", args({"-h"}));
  std::cout << "seeds written to " << root << "\n";
  return 0;
}
