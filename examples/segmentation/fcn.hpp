// examples/segmentation/fcn.hpp — the segmentation network, its receptive
// field, and the colours of its masks.
//
// A fully convolutional network on (1, H, W), H and W multiples of 4:
//   encoder  e1 = conv 3x3 (w)         at H       (batch norm + ReLU after every conv)
//            e2 = conv 3x3 / 2 (2w)    at H/2
//            e3 = conv 3x3 / 2 (4w)    at H/4
//   context  four conv 3x3 (4w) at H/4, dilation 1, 2, 4, 8 ("dilated") or
//            1, 1, 1, 1 ("plain": the same parameters, a smaller view)
//   decoder  up x2, concat e2, conv 3x3 (2w); up x2, concat e1, conv 3x3 (w)
//   head     conv 1x1 -> 11 logits per pixel
// "up x2" is nearest upsampling, or with upsample = "transposed" a learned
// 2x2 transposed convolution of stride 2 (same channels, with bias).
#pragma once
#include <nn/nn.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace fcn {

using F = float;

inline nn::NodeRef conv_bn_relu(nn::Graph<F>& g, nn::NodeRef x, nn::Index filters, nn::Index stride = 1,
                                nn::Index dilation = 1) {
  auto h = g.add(nn::Conv2D<F>(filters, 3, stride, nn::Padding::same(), dilation, /*bias=*/false), x);
  return g.add(nn::ReLU<F>(), g.add(nn::BatchNorm<F>(), h));
}

inline nn::Graph<F> build(const std::string& context, nn::Index H, nn::Index W, nn::Index width, int classes,
                          std::uint64_t seed, const std::string& upsample = "nearest") {
  if (context != "dilated" && context != "plain")
    throw std::invalid_argument("context must be 'dilated' or 'plain', not '" + context + "'");
  if (upsample != "nearest" && upsample != "transposed")
    throw std::invalid_argument("upsample must be 'nearest' or 'transposed', not '" + upsample + "'");
  if (H % 4 || W % 4) throw std::invalid_argument("the image sides must be multiples of 4");
  nn::Graph<F> g(seed);
  auto x = g.input({1, H, W}, "image");
  auto e1 = conv_bn_relu(g, x, width);
  auto e2 = conv_bn_relu(g, e1, 2 * width, 2);
  auto h = conv_bn_relu(g, e2, 4 * width, 2);
  for (nn::Index rate : {1, 2, 4, 8}) h = conv_bn_relu(g, h, 4 * width, 1, context == "dilated" ? rate : 1);
  auto up = [&](nn::NodeRef in, nn::Index channels) {
    if (upsample == "nearest") return g.add(nn::Upsample2D<F>(2), in);
    return g.add(nn::Conv2DTranspose<F>(channels, 2, 2), in);
  };
  h = up(h, 4 * width);
  h = conv_bn_relu(g, g.add(nn::Concat<F>(0), {h, e2}), 2 * width);
  h = up(h, 2 * width);
  h = conv_bn_relu(g, g.add(nn::Concat<F>(0), {h, e1}), width);
  g.output(g.add(nn::Conv2D<F>(classes, 1), h), "mask");
  return g;
}

// The receptive field of an output pixel (in input pixels, one side): the
// largest over the paths from the input, by the usual recurrence
// rf += (k - 1) * dilation * jump, jump *= stride (jump /= s for an upsampling).
inline double receptive_field(const nn::Graph<F>& g) {
  const auto& nodes = g.nodes();
  std::vector<double> rf(nodes.size(), 1.0), jump(nodes.size(), 1.0);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const auto& n = nodes[i];
    if (n.inputs.empty()) continue;
    std::size_t from = std::size_t(n.inputs[0]);
    for (int in : n.inputs)
      if (rf[std::size_t(in)] > rf[from]) from = std::size_t(in);
    rf[i] = rf[from], jump[i] = jump[from];
    if (n.kind != nn::Node<F>::Kind::Layer) continue;
    if (auto* c = dynamic_cast<const nn::Conv2D<F>*>(n.layer)) {
      const auto& geo = c->geometry();
      rf[i] += double(std::max(geo.KH, geo.KW) - 1) * double(std::max(geo.DH, geo.DW)) * jump[i];
      jump[i] *= double(std::max(geo.SH, geo.SW));
    } else if (n.layer->type() == "Upsample2D") {
      jump[i] /= 2.0;  // the network above upsamples by 2 only
    } else if (n.layer->type() == "Conv2DTranspose") {
      jump[i] /= 2.0;  // 2x2, stride 2: each output pixel sees one input pixel
    }
  }
  return rf[std::size_t(g.output_nodes()[0])];
}

// Colours: the ten digits, then black for the background.
inline nn::plot::Color color(int cls) {
  static const nn::plot::Color c[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
                                      {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {188, 189, 34},
                                      {23, 190, 207},  {255, 215, 0},  {0, 0, 0}};
  return c[std::clamp(cls, 0, 10)];
}
inline std::string class_name(int cls) { return cls == 10 ? "background" : std::to_string(cls); }

// argmax over C of logits (C, H, W) at every pixel.
inline std::vector<int> argmax_mask(const F* logits, nn::Index C, nn::Index H, nn::Index W) {
  std::vector<int> m(std::size_t(H * W), 0);
  for (nn::Index p = 0; p < H * W; ++p) {
    int best = 0;
    for (nn::Index c = 1; c < C; ++c)
      if (logits[c * H * W + p] > logits[best * H * W + p]) best = int(c);
    m[std::size_t(p)] = best;
  }
  return m;
}

// Draws an H x W image at (x0, y0), `scale` screen pixels per image pixel:
// grey values in [0, 1] when `mask` is null, else the classes' colours.
inline void draw(nn::plot::Image& img, int x0, int y0, int scale, nn::Index H, nn::Index W, const F* grey,
                 const int* mask) {
  for (nn::Index i = 0; i < H; ++i)
    for (nn::Index j = 0; j < W; ++j) {
      nn::plot::Color c;
      if (mask) c = color(mask[i * W + j]);
      else {
        const auto v = std::uint8_t(std::lround(255.0f * std::clamp(grey[i * W + j], 0.0f, 1.0f)));
        c = {v, v, v};
      }
      img.rect(x0 + int(j) * scale, y0 + int(i) * scale, x0 + int(j + 1) * scale, y0 + int(i + 1) * scale, c);
    }
}

// A legend row: a swatch and a name per class.
inline int draw_legend(nn::plot::Image& img, int x0, int y0) {
  int x = x0;
  for (int c = 0; c <= 10; ++c) {
    img.rect(x, y0, x + 14, y0 + 14, color(c));
    img.rect(x, y0, x + 14, y0 + 1, {120, 120, 120});
    img.text(x + 18, y0 + 2, class_name(c), {0, 0, 0}, 1);
    x += 18 + nn::plot::Image::text_width(class_name(c), 1) + 14;
  }
  return x - x0;
}

// A colour PNG of one mask (H x W classes).
inline void save_mask_png(const std::string& path, const std::vector<int>& mask, nn::Index H, nn::Index W) {
  nn::plot::Image img{int(W), int(H)};
  draw(img, 0, 0, 1, H, W, nullptr, mask.data());
  img.save_png(path);
}

}  // namespace fcn
