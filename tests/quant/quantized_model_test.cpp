// Post-training int8 quantization (nn/quant/): layer grouping, calibration,
// the quantized model against a float simulation of the same quantization,
// the two SIMD paths, bad input, and the accuracy cost on real MNIST digits.
#include "../support/test_util.hpp"

using namespace testutil;
namespace k = nn::kernels;
namespace q8 = nn::kernels::q8;
using nn::quant::QuantizedModel;
using Step = QuantizedModel::Step;

namespace {

// A model with every pattern the quantizer knows, and float layers between.
nn::Sequential<float> test_model(std::uint64_t seed) {
  nn::Sequential<float> m(Shape{3, 19, 17}, seed);
  m.add(nn::ZeroPadding2D<float>(1));
  m.add<nn::Conv2D<float>>(12, 3);
  m.add(nn::BatchNorm<float>());
  m.add(nn::ReLU<float>());
  m.add(nn::MaxPool2D<float>(2));
  m.add(nn::Dropout<float>(0.3));
  m.add<nn::Conv2D<float>>(9, 5, 2, nn::Padding(2));  // stride 2, no ReLU: zero point != 0 downstream
  m.add<nn::Conv2D<float>>(16, 1);
  m.add(nn::ReLU<float>());
  m.add(nn::ELU<float>());  // float
  m.add<nn::Conv2D<float>>(8, 3, 1, nn::Padding::same());
  m.add(nn::ReLU<float>());
  m.add(nn::Flatten<float>());
  m.add(nn::Dense<float>(21));
  m.add(nn::BatchNorm<float>());
  m.add(nn::ReLU<float>());
  m.add(nn::Dropout<float>(0.5));
  m.add(nn::Dense<float>(5));
  // Batch-norm statistics that are not the identity.
  nn::Rng r(seed + 1);
  for (std::size_t i : {std::size_t(2), std::size_t(14)}) {
    auto& bn = dynamic_cast<nn::BatchNorm<float>&>(*m.layers()[i]);
    const Index C = bn.running_mean().size();
    for (Index c = 0; c < C; ++c) {
      bn.running_mean()[c] = float(r.uniform(-0.5, 0.5));
      bn.running_var()[c] = float(r.uniform(0.5, 2.0));
    }
    for (auto& p : bn.parameters()) p.value->fill_uniform(r, 0.5, 1.5);
  }
  return m;
}

// The float simulation: every quantized step's input rounded to its 8-bit
// grid, weights replaced by scale * int8, computed in double from the
// model's step data (not the int8 kernels).
std::vector<double> simulate(const QuantizedModel& qm, const Tensor<float>& x) {
  namespace bf = nn::kernels::bf16;
  const bool int8 = qm.precision() == nn::quant::Precision::Int8;
  const Index N = x.dim(0);
  std::vector<double> v(x.data(), x.data() + x.size());
  Shape shape = qm.input_shape();
  auto fake = [&](const nn::quant::QParams& q) {
    for (double& e : v)
      e = int8 ? q.scale * double(int(q8::quantize_one(float(e), q.inv_scale(), q.zero_point)) - q.zero_point)
               : double(bf::to_float(bf::from_float(float(e))));
  };
  // Weight w of output o at element e (the step's own order), as a real number.
  auto weight = [&](const Step& st, Index o, Index e) {
    return int8 ? double(st.weight_scale[std::size_t(o)]) * st.weight[std::size_t(e)]
                : double(bf::to_float(st.weight16[std::size_t(e)]));
  };
  for (const Step& s : qm.steps()) {
    if (s.kind == Step::Quantize) {
      fake(s.out_q);
      continue;
    }
    if (s.kind == Step::Float) {  // the float layer itself
      Tensor<float> t(shape.with_batch(N));
      for (Index i = 0; i < t.size(); ++i) t[i] = float(v[std::size_t(i)]);
      auto layer = s.layer->clone();
      const Tensor<float>& y = layer->forward(t, false);
      v.assign(y.data(), y.data() + y.size());
      shape = s.out_shape;
      continue;
    }
    REQUIRE((s.kind == Step::Conv || s.kind == Step::Dense));
    std::vector<double> out;
    if (s.kind == Step::Conv) {
      const k::Conv2DGeom& g = s.geom;
      std::vector<double> full(std::size_t(N * g.OC * g.OH * g.OW));
      for (Index n = 0; n < N; ++n)
        for (Index o = 0; o < g.OC; ++o)
          for (Index oh = 0; oh < g.OH; ++oh)
            for (Index ow = 0; ow < g.OW; ++ow) {
              double acc = 0;
              for (Index c = 0; c < g.C; ++c)
                for (Index kh = 0; kh < g.KH; ++kh)
                  for (Index kw = 0; kw < g.KW; ++kw) {
                    const Index ih = oh * g.SH - g.PT + kh * g.DH, iw = ow * g.SW - g.PL + kw * g.DW;
                    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                    acc += v[std::size_t(((n * g.C + c) * g.H + ih) * g.W + iw)] *
                           weight(s, o, ((o * g.C + c) * g.KH + kh) * g.KW + kw);
                  }
              acc += s.bias[std::size_t(o)];
              if (s.relu) acc = std::max(acc, 0.0);
              full[std::size_t(((n * g.OC + o) * g.OH + oh) * g.OW + ow)] = acc;
            }
      if (s.pooled) {
        const k::Pool2DGeom& p = s.pool;
        out.assign(std::size_t(N * g.OC * p.OH * p.OW), 0);
        for (Index n = 0; n < N; ++n)
          for (Index o = 0; o < g.OC; ++o)
            for (Index oh = 0; oh < p.OH; ++oh)
              for (Index ow = 0; ow < p.OW; ++ow) {
                double m = -1e300;
                for (Index i = 0; i < p.KH; ++i)
                  for (Index j = 0; j < p.KW; ++j)
                    m = std::max(m, full[std::size_t(((n * g.OC + o) * g.OH + oh * p.SH + i) * g.OW + ow * p.SW + j)]);
                out[std::size_t(((n * g.OC + o) * p.OH + oh) * p.OW + ow)] = m;
              }
      } else {
        out = full;
      }
    } else {  // Dense on the flattened (C, H, W) or (K) input
      const Index O = s.out_shape[0], K = shape.size(), lanes = int8 ? 4 : 2;
      const Index elems = qm.row_bytes(shape) / (4 / lanes);
      out.assign(std::size_t(N * O), 0);
      for (Index n = 0; n < N; ++n)
        for (Index o = 0; o < O; ++o) {
          double acc = 0;
          for (Index j = 0; j < elems; ++j) {
            Index col = j;
            if (shape.rank() == 3) {  // element j: word j / lanes, channel lane j % lanes
              const Index HW = shape[1] * shape[2], word = j / lanes, c = word / HW * lanes + j % lanes;
              col = c < shape[0] ? c * HW + word % HW : -1;
            } else if (j >= K) {
              col = -1;
            }
            if (col >= 0) acc += v[std::size_t(n * K + col)] * weight(s, o, o * elems + j);
          }
          acc += s.bias[std::size_t(o)];
          if (s.relu) acc = std::max(acc, 0.0);
          out[std::size_t(n * O + o)] = acc;
        }
    }
    v = out;
    shape = s.out_shape;
    if (!s.float_out) fake(s.out_q);
  }
  return v;
}
}  // namespace

TEST_CASE("quantize: the layers become int8 and float steps as documented") {
  auto m = test_model(1);
  const auto calib = randn<float>(Shape{40, 3, 19, 17}, 2);
  QuantizedModel qm = nn::quant::quantize(m, calib);
  std::vector<Step::Kind> kinds;
  for (const Step& s : qm.steps()) kinds.push_back(s.kind);
  const std::vector<Step::Kind> want{Step::Quantize, Step::Conv, Step::Conv,  Step::Conv, Step::Float,
                                     Step::Quantize, Step::Conv, Step::Dense, Step::Dense};
  CHECK(kinds == want);
  const auto& st = qm.steps();
  CHECK(st[1].layers == "ZeroPadding2D(1, 1, 1, 1) | " + m.layers()[1]->describe() + " | " + m.layers()[2]->describe() +
                            " | ReLU | MaxPool2D(2, stride 2)");
  CHECK(st[1].geom.PT == 1);
  CHECK(st[1].pooled);
  CHECK(st[1].out_q.zero_point == 0);  // after a ReLU
  CHECK(st[2].out_q.zero_point > 0);   // a conv without ReLU has negative outputs
  CHECK(st[3].float_out);              // an ELU follows
  CHECK(st[6].in_shape == Shape{16, 5, 4});
  CHECK(st[7].in_shape == Shape{8, 5, 4});  // the Flatten is part of the dense step
  CHECK(!st[7].float_out);
  CHECK(st[7].layers.find("BatchNorm") != std::string::npos);  // folded into the dense step
  CHECK(st[8].float_out);
  CHECK(qm.output_shape() == Shape{5});
  const std::string sum = qm.summary();
  CHECK(sum.find("int8 conv  ZeroPadding2D") != std::string::npos);
  CHECK(sum.find("float      ELU") != std::string::npos);
}

TEST_CASE("quantize: the int8 model equals a float simulation of the same quantization") {
  for (auto cal : {nn::quant::Calibration::min_max(), nn::quant::Calibration::percentile_of(99.9),
                   nn::quant::Calibration::mse()}) {
    CAPTURE(cal.str());
    auto m = test_model(3);
    const auto calib = randn<float>(Shape{64, 3, 19, 17}, 4);
    nn::quant::QuantizeOptions o;
    o.calibration = cal;
    QuantizedModel qm = nn::quant::quantize(m, calib, o);
    const auto x = randn<float>(Shape{7, 3, 19, 17}, 5);
    const Tensor<float>& y = qm.forward(x);
    const std::vector<double> ref = simulate(qm, x);
    REQUIRE(Index(ref.size()) == y.size());
    // Equal up to float rounding inside the int8 model's epilogue, which can
    // move a value across a rounding boundary of the next step's 8-bit grid
    // (one step of that grid): a few outputs may move by a little.
    double range = 0, worst_err = 0, sum_err = 0;
    for (Index i = 0; i < y.size(); ++i) {
      range = std::max(range, std::abs(ref[std::size_t(i)]));
      worst_err = std::max(worst_err, std::abs(double(y[i]) - ref[std::size_t(i)]));
      sum_err += std::abs(double(y[i]) - ref[std::size_t(i)]);
    }
    // (Measured here: worst 5e-8 of the range, no boundary crossed.)
    CHECK(worst_err <= 1e-3 * range);
    CHECK(sum_err / double(y.size()) <= 1e-5 * range);
    // And the simulation is what it should be: the float model, close.
    const Tensor<float>& yf = m.forward(x, false);
    double fdiff = 0;
    for (Index i = 0; i < y.size(); ++i) fdiff = std::max(fdiff, std::abs(double(yf[i]) - double(y[i])));
    CHECK(fdiff <= 0.25 * range);
    CHECK(fdiff > 0);
  }
}

TEST_CASE("quantize: the VNNI and portable paths give the same outputs, bit for bit") {
  if (!k::cpu_has_avx512_vnni()) NN_SKIP("this CPU has no AVX-512 VNNI: only the portable path exists here");
  SimdGuard guard;
  auto m = test_model(5);
  QuantizedModel qm = nn::quant::quantize(m, randn<float>(Shape{32, 3, 19, 17}, 6));
  const auto x = randn<float>(Shape{5, 3, 19, 17}, 7);
  k::set_simd(k::Simd::Auto);
  const Tensor<float> a = qm.forward(x).clone();
  k::set_simd(k::Simd::Portable);
  const Tensor<float>& b = qm.forward(x);
  CHECK(std::memcmp(a.data(), b.data(), std::size_t(a.size()) * sizeof(float)) == 0);
}

TEST_CASE("quantize: calibration methods") {
  nn::quant::RangeObserver obs(1000, 1);
  std::vector<float> v(100000);
  nn::Rng r(3);
  for (auto& e : v) e = float(r.uniform(0.0, 1.0));
  v[17] = 100.0f;  // one outlier
  obs.observe(v.data(), Index(v.size()));
  CHECK(obs.count() == 100000);
  CHECK(obs.max() == 100.0f);
  const auto mm = obs.params(nn::quant::Calibration::min_max());
  CHECK(mm.scale == doctest::Approx(100.0 / 255));
  const auto pc = obs.params(nn::quant::Calibration::percentile_of(99.0));
  CHECK(pc.scale == doctest::Approx(0.99 / 255).epsilon(0.03));  // the outlier is clipped
  CHECK(pc.zero_point == 0);
  const auto ms = obs.params(nn::quant::Calibration::mse());
  CHECK(ms.scale < mm.scale);
  CHECK(obs.error(ms) <= obs.error(mm));
  CHECK(nn::quant::Calibration::parse("percentile:99.9").percentile == 99.9);
  CHECK(nn::quant::Calibration::parse("mse").method == nn::quant::Calibration::Mse);
  CHECK_THROWS_WITH_AS(nn::quant::Calibration::parse("percentile:abc"), doctest::Contains("not a number"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::quant::Calibration::parse("median"), doctest::Contains("unknown calibration"),
                       std::invalid_argument);
  CHECK_THROWS_AS(nn::quant::Calibration::percentile_of(30), std::invalid_argument);
  const float bad = NAN;
  CHECK_THROWS_WITH_AS(obs.observe(&bad, 1), doctest::Contains("non-finite"), std::invalid_argument);
  nn::quant::RangeObserver empty;
  CHECK_THROWS_AS(empty.params({}), std::logic_error);
}

TEST_CASE("quantize: bad input is refused with the shapes named") {
  auto m = test_model(7);
  CHECK_THROWS_WITH_AS(nn::quant::quantize(m, randn<float>(Shape{4, 3, 19, 16}, 1)),
                       doctest::Contains("(4, 3, 19, 16) do not match the model's input (N, 3, 19, 17)"),
                       std::invalid_argument);
  nn::Sequential<float> unbuilt;
  unbuilt.add(nn::Dense<float>(3));
  CHECK_THROWS_WITH_AS(nn::quant::quantize(unbuilt, randn<float>(Shape{4, 3}, 1)), doctest::Contains("not built"),
                       std::invalid_argument);
  QuantizedModel qm = nn::quant::quantize(m, randn<float>(Shape{4, 3, 19, 17}, 1));
  CHECK_THROWS_WITH_AS(qm.forward(randn<float>(Shape{2, 3, 17, 19}, 1)),
                       doctest::Contains("expected input (N, 3, 19, 17) but got (2, 3, 17, 19)"), std::invalid_argument);
  // Activations so small that input scale x weight scale leaves float's range.
  auto tiny = randn<float>(Shape{4, 3, 19, 17}, 1);
  tiny.array() *= 1e-38f;
  auto& w0 = dynamic_cast<nn::Conv2D<float>&>(*m.layers()[1]).weight();
  w0.array() *= 1e-20f;
  CHECK_THROWS_WITH_AS(nn::quant::quantize(m, tiny), doctest::Contains("outside float's positive range"),
                       std::invalid_argument);
  CHECK(q8::QParams::cover(0.0f, 1e-40f).scale == 1e-30f);
  QuantizedModel none;
  CHECK_THROWS_AS(none.forward(randn<float>(Shape{1, 3}, 1)), std::logic_error);
}

TEST_CASE("quantize: int8 costs at most half a point of accuracy on real MNIST digits") {
  const std::string dir = find_or_empty("mnist");
  if (dir.empty()) NN_SKIP("MNIST not found (set NN_DATA_DIR or run datasets/download.sh)");
  auto d = nn::data::load_mnist<float>(dir, 0.1307, 0.3081);
  const Index n_train = 12000, n_test = 2000;
  Tensor<float> x({n_train, 1, 28, 28}), y({n_train});
  std::copy(d.train_x.data(), d.train_x.data() + x.size(), x.data());
  std::copy(d.train_y.data(), d.train_y.data() + n_train, y.data());
  nn::data::TensorDataset<float> train(std::move(x), std::move(y));
  nn::Sequential<float> m(Shape{1, 28, 28}, 1);  // W1's LeNet, with a batch norm
  m.add<nn::Conv2D<float>>(32, 5);
  m.add(nn::BatchNorm<float>());
  m.add(nn::ReLU<float>());
  m.add(nn::MaxPool2D<float>(2));
  m.add<nn::Conv2D<float>>(64, 5);
  m.add(nn::ReLU<float>());
  m.add(nn::MaxPool2D<float>(2));
  m.add(nn::Flatten<float>());
  m.add(nn::Dense<float>(128));
  m.add(nn::ReLU<float>());
  m.add(nn::Dense<float>(10));
  nn::SoftmaxCrossEntropy<float> loss;
  nn::Adam<float> opt(m.parameters());
  nn::FitOptions<float> o;
  o.epochs = 1, o.batch_size = 64, o.seed = 1, o.progress = nn::Progress::Off;
  nn::fit(m, loss, opt, train, o);

  Tensor<float> calib({256, 1, 28, 28}), test({n_test, 1, 28, 28});
  std::copy(d.train_x.data() + n_train * 784, d.train_x.data() + (n_train + 256) * 784, calib.data());
  std::copy(d.test_x.data(), d.test_x.data() + test.size(), test.data());
  QuantizedModel qm = nn::quant::quantize(m, calib);
  auto accuracy = [&](const Tensor<float>& logits) {
    Index right = 0;
    for (Index i = 0; i < n_test; ++i) {
      const float* r = logits.data() + i * 10;
      right += Index(std::max_element(r, r + 10) - r) == Index(d.test_y[i]);
    }
    return 100.0 * double(right) / double(n_test);
  };
  QuantizedModel qb = nn::quant::quantize_bf16(m);
  const double af = accuracy(m.forward(test, false)), aq = accuracy(qm.forward(test)), ab = accuracy(qb.forward(test));
  MESSAGE("MNIST test 0-1999 after one epoch on 12,000 digits: float ", af, "%, int8 ", aq, "%, bf16 ", ab, "%");
  CHECK(af > 93.0);  // it learned (95.2% here)
  CHECK(std::abs(af - aq) <= 0.5);
  CHECK(std::abs(af - ab) <= 0.5);
}

namespace {
// A version-3 file around a payload, with a correct checksum.
std::vector<unsigned char> envelope(const std::vector<unsigned char>& payload) {
  nn::io::Writer w;
  for (char c : nn::io::kMagic) w.pod<char>(c);
  w.pod<std::uint32_t>(nn::io::kQuantizedVersion);
  w.pod<std::uint64_t>(payload.size());
  auto out = w.bytes();
  out.insert(out.end(), payload.begin(), payload.end());
  nn::io::Writer c;
  c.pod<std::uint32_t>(std::uint32_t(::crc32(0L, payload.data(), uInt(payload.size()))));
  out.insert(out.end(), c.bytes().begin(), c.bytes().end());
  return out;
}
}  // namespace

TEST_CASE("quantize: save and load give the same model, bit for bit") {
  auto m = test_model(11);
  QuantizedModel qm = nn::quant::quantize(m, randn<float>(Shape{32, 3, 19, 17}, 12));
  const auto x = randn<float>(Shape{6, 3, 19, 17}, 13);
  const Tensor<float> y = qm.forward(x).clone();
  const std::string path = (std::filesystem::temp_directory_path() / "nn_quant_roundtrip.nn").string();
  nn::quant::save(path, qm);
  QuantizedModel back = nn::quant::load(path);
  CHECK(back.summary() == qm.summary());
  const Tensor<float>& y2 = back.forward(x);
  CHECK(std::memcmp(y.data(), y2.data(), std::size_t(y.size()) * sizeof(float)) == 0);
  // The float loaders name the right one, and the other way round.
  CHECK_THROWS_WITH_AS(nn::load_model<float>(path), doctest::Contains("load it with nn::quant::load"),
                       nn::io::FormatError);
  CHECK_THROWS_WITH_AS(nn::load_graph<float>(path), doctest::Contains("load it with nn::quant::load"),
                       nn::io::FormatError);
  const std::string fpath = path + ".float";
  nn::save_model(fpath, m);
  CHECK_THROWS_WITH_AS(nn::quant::load(fpath), doctest::Contains("holds a float model"), nn::io::FormatError);
  std::filesystem::remove(path);
  std::filesystem::remove(fpath);
}

TEST_CASE("quantize: a damaged quantized file is a FormatError, whatever byte is wrong") {
  auto m = test_model(14);
  QuantizedModel qm = nn::quant::quantize(m, randn<float>(Shape{16, 3, 19, 17}, 15));
  QuantizedModel qb = nn::quant::quantize_bf16(m);
  for (QuantizedModel* model : {&qm, &qb}) {
  const std::vector<unsigned char> payload = nn::quant::save_to_bytes(*model);
  INFO(std::string(nn::quant::precision_name(model->precision())));
  CHECK_NOTHROW(nn::quant::load_from_bytes(envelope(payload), "good.nn"));
  // Every prefix of the payload (a valid envelope around it).
  Index refused = 0;
  for (std::size_t n = 0; n < payload.size(); n += 7) {
    std::vector<unsigned char> p(payload.begin(), payload.begin() + std::ptrdiff_t(n));
    CHECK_THROWS_AS(nn::quant::load_from_bytes(envelope(p), "cut.nn"), nn::io::FormatError);
    ++refused;
  }
  // Bytes set to extreme values: loads cleanly or fails with a FormatError.
  Index loaded = 0;
  for (std::size_t i = 0; i < payload.size(); i += 3)
    for (unsigned char v : {0x00, 0x7f, 0xff}) {
      std::vector<unsigned char> p = payload;
      p[i] = v;
      try {
        QuantizedModel q = nn::quant::load_from_bytes(envelope(p), "bad.nn");
        ++loaded;
      } catch (const nn::io::FormatError& e) {
        CHECK(std::string(e.what()).rfind("bad.nn: ", 0) == 0);
      }
    }
  MESSAGE(std::string(nn::quant::precision_name(model->precision())), ": ", refused, " truncations refused; ", loaded,
          " byte changes still load (weights, biases, names)");
  }
  const std::vector<unsigned char> payload = nn::quant::save_to_bytes(qm);
  CHECK_THROWS_WITH_AS(nn::quant::load_from_bytes(envelope({1, 0, 0, 0, 9}), "x.nn"), doctest::Contains("x.nn: truncated"),
                       nn::io::FormatError);
  std::vector<unsigned char> wrong = payload;
  wrong[0] = 3;  // precision code (1 int8, 2 bf16)
  CHECK_THROWS_WITH_AS(nn::quant::load_from_bytes(envelope(wrong), "p.nn"), doctest::Contains("unknown precision code 3"),
                       nn::io::FormatError);
}

TEST_CASE("quantize_bf16: the bf16 model equals a float simulation of the same rounding") {
  SimdGuard guard;
  auto m = test_model(21);
  QuantizedModel qm = nn::quant::quantize_bf16(m);
  CHECK(qm.precision() == nn::quant::Precision::BF16);
  std::vector<Step::Kind> kinds;
  for (const Step& s : qm.steps()) kinds.push_back(s.kind);
  const std::vector<Step::Kind> want{Step::Quantize, Step::Conv, Step::Conv,  Step::Conv, Step::Float,
                                     Step::Quantize, Step::Conv, Step::Dense, Step::Dense};
  CHECK(kinds == want);
  CHECK(qm.summary().find("bf16 conv  ZeroPadding2D") != std::string::npos);
  const auto x = randn<float>(Shape{7, 3, 19, 17}, 22);
  const std::vector<double> ref = simulate(qm, x);
  const Tensor<float>& yf = m.forward(x, false);
  std::vector<Tensor<float>> outs;
  for (auto p : {k::Simd::Portable, k::Simd::Auto}) {
    k::set_simd(p);
    const Tensor<float>& y = qm.forward(x);
    REQUIRE(Index(ref.size()) == y.size());
    double range = 0, worst_err = 0, fdiff = 0;
    for (Index i = 0; i < y.size(); ++i) {
      range = std::max(range, std::abs(ref[std::size_t(i)]));
      worst_err = std::max(worst_err, std::abs(double(y[i]) - ref[std::size_t(i)]));
      fdiff = std::max(fdiff, std::abs(double(yf[i]) - double(y[i])));
    }
    // Float sums round differently from the double simulation and can move a
    // value across a bf16 rounding boundary (2^-8 relative) between steps.
    CHECK(worst_err <= 1e-2 * range);
    CHECK(fdiff <= 0.05 * range);  // and it is close to the float model
    outs.push_back(y.clone());
  }
  double paths = 0;
  for (Index i = 0; i < outs[0].size(); ++i) paths = std::max(paths, std::abs(double(outs[0][i]) - double(outs[1][i])));
  CHECK(paths <= 1e-2 * 2);  // BF16 and portable paths: same products, other sums
  // Save and load: the same model, bit for bit.
  k::set_simd(k::Simd::Auto);
  const Tensor<float> y = qm.forward(x).clone();
  const std::vector<unsigned char> bytes = envelope(nn::quant::save_to_bytes(qm));
  QuantizedModel back = nn::quant::load_from_bytes(bytes, "bf16.nn");
  CHECK(back.precision() == nn::quant::Precision::BF16);
  CHECK(back.summary() == qm.summary());
  const Tensor<float>& y2 = back.forward(x);
  CHECK(std::memcmp(y.data(), y2.data(), std::size_t(y.size()) * sizeof(float)) == 0);
  nn::Sequential<float> unbuilt;
  unbuilt.add(nn::Dense<float>(3));
  CHECK_THROWS_WITH_AS(nn::quant::quantize_bf16(unbuilt), doctest::Contains("quantize_bf16: the model is not built"),
                       std::invalid_argument);
}
