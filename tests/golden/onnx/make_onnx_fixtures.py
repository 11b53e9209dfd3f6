#!/usr/bin/env python3
"""Exports the PyTorch models of the ONNX import tests (tests/io/onnx_test.cpp).

Run with Debian's python3-torch and python3-onnx:
    /usr/bin/python3 tests/golden/onnx/make_onnx_fixtures.py [DATA_DIR]

For each model, in tests/golden/onnx/<model>/:
    model.onnx                 torch.onnx.export, opset 13 (grocery_seed 10), dynamic batch
    test_data_set_0/input_0.pb  a random batch (ONNX TensorProto)
    test_data_set_0/output_0.pb PyTorch's output for it (eval mode, float32)
    real.txt, real_output.pb    where real images exist: which images (from the
                                dataset, never copied here) and PyTorch's output
The models:
    lenet          the benchmark's W1 (MNIST LeNet), trained one epoch here on
                   MNIST when the dataset is present, so its real-image output
                   is a prediction
    grocery_seed   the Freiburg seed model (the grocery blog's ConvNet, 104 px,
                   5 classes): zero padding, batch norm, dropout
    resnet         a small residual network: projection shortcut, global
                   average pooling, log-softmax
    fcn            a small FCN: dilated and strided convolutions, a transposed
                   convolution, nearest and bilinear upsampling, a skip concat
Weights are seeded; batch-norm statistics are set away from 0 and 1 so that
the import of running statistics is tested.
"""
import gzip
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

OUT = os.path.dirname(os.path.abspath(__file__))
HERE = os.path.dirname(os.path.dirname(os.path.dirname(OUT)))
torch.manual_seed(2026)


def data_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    for d in (os.environ.get("NN_DATA_DIR"), os.path.join(HERE, "datasets"),
              os.path.join(HERE, "..", "shared", "datasets")):
        if d and os.path.isdir(d):
            return d
    return None


class LeNet(nn.Module):  # W1
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 32, 5), nn.Conv2d(32, 64, 5)
        self.f1, self.f2 = nn.Linear(1024, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.f2(F.relu(self.f1(torch.flatten(x, 1))))


class GrocerySeed(nn.Module):  # examples/freiburg_groceries seed_model
    def __init__(self, classes=5):
        super().__init__()
        self.pad = nn.ZeroPad2d(1)
        self.convs = nn.ModuleList([nn.Conv2d(3, 32, 3)] + [nn.Conv2d(32, 32, 3) for _ in range(4)])
        self.bn = nn.BatchNorm2d(32)
        self.drop = nn.Dropout(0.2)
        self.f1, self.f2 = nn.Linear(32, 64), nn.Linear(64, classes)

    def forward(self, x):
        x = self.drop(F.max_pool2d(self.bn(F.relu(self.convs[0](self.pad(x)))), 2))
        for c in self.convs[1:]:
            x = self.drop(F.max_pool2d(F.relu(c(x)), 2))
        return self.f2(self.drop(F.relu(self.f1(torch.flatten(x, 1)))))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = nn.Conv2d(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        h = F.relu(self.b1(self.c1(x)))
        h = self.b2(self.c2(h))
        return F.relu(h + (self.short(x) if self.short is not None else x))


class ResNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.b1, self.b2 = Block(16, 16, 1), Block(16, 32, 2)
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        x = self.b2(self.b1(F.relu(self.bn(self.stem(x)))))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return F.log_softmax(self.fc(x), dim=1)


class FCN(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, 1, 1)
        self.c2 = nn.Conv2d(8, 16, 3, 2, 1)                  # 1/2
        self.d1 = nn.Conv2d(16, 16, 3, 1, 2, dilation=2)     # dilated context
        self.d2 = nn.Conv2d(16, 16, 3, 1, 4, dilation=4)
        self.c3 = nn.Conv2d(16, 16, 3, 2, 1)                 # 1/4
        self.up1 = nn.ConvTranspose2d(16, 16, 3, 2, 1, output_padding=1)  # 1/2
        self.fuse = nn.Conv2d(32, 16, 1)
        self.head = nn.Conv2d(16 + 8, classes, 1)

    def forward(self, x):
        s1 = F.relu(self.c1(x))
        s2 = F.relu(self.c2(s1))
        s2 = F.elu(self.d2(F.relu(self.d1(s2))))
        u = F.relu(self.up1(F.relu(self.c3(s2))))
        u = F.relu(self.fuse(torch.cat([u, s2], 1)))
        a = F.interpolate(u, scale_factor=2, mode="nearest")
        b = F.interpolate(u, scale_factor=2, mode="bilinear", align_corners=False)
        return self.head(torch.cat([torch.tanh(a + b), s1], 1))


def randomize_batch_norm(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)


def save_tensor(t, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.ascontiguousarray(t.detach().numpy().astype(np.float32))).SerializeToString())


def export(name, model, shape, real=None, opset=13):
    model.eval()
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    x = torch.randn(2, *shape)
    path = os.path.join(d, "model.onnx")
    torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    with torch.no_grad():
        save_tensor(x, os.path.join(d, "test_data_set_0", "input_0.pb"))
        save_tensor(model(x), os.path.join(d, "test_data_set_0", "output_0.pb"))
        if real is not None:
            images, description = real
            save_tensor(model(images), os.path.join(d, "real_output.pb"))
            with open(os.path.join(d, "real.txt"), "w") as f:
                f.write(description)
    ops = sorted({n.op_type for n in onnx.load(path).graph.node})
    print(f"{name}: {os.path.getsize(path)} bytes, operators {' '.join(ops)}")


def mnist(data, kind):
    if data is None or not os.path.isdir(os.path.join(data, "mnist")):
        return None
    def read(f, offset):
        with gzip.open(os.path.join(data, "mnist", f), "rb") as g:
            return np.frombuffer(g.read(), np.uint8, offset=offset)
    x = read(f"{kind}-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    y = read(f"{kind}-labels-idx1-ubyte.gz", 8).astype(np.int64)
    return torch.from_numpy(x.copy()), torch.from_numpy(y.copy())


def train_lenet(model, data):
    train = mnist(data, "train")
    if train is None:
        print("lenet: MNIST not found, random weights")
        return
    x, y = train
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    model.train()
    for i in range(0, 60000, 64):
        opt.zero_grad()
        F.cross_entropy(model(x[i:i + 64]), y[i:i + 64]).backward()
        opt.step()


def main():
    torch.set_num_threads(2)
    data = data_dir()
    lenet = LeNet()
    train_lenet(lenet, data)
    real = None
    test = mnist(data, "t10k")
    if test is not None:
        lenet.eval()
        with torch.no_grad():
            acc = (lenet(test[0][:100]).argmax(1) == test[1][:100]).float().mean().item()
        print(f"lenet: accuracy on MNIST test images 0-99: {acc:.2f}")
        real = (test[0][:100], "mnist t10k 0 100\n")
    export("lenet", lenet, (1, 28, 28), real)

    seed = GrocerySeed()
    randomize_batch_norm(seed)
    real = None
    if data is not None and os.path.isdir(os.path.join(data, "freiburg-groceries")):
        from PIL import Image
        root = os.path.join(data, "freiburg-groceries")
        with open(os.path.join(root, "splits", "test0.txt")) as f:
            files = [line.split()[0] for line in f if line.strip()][:8]
        imgs = []
        for rel in files:  # 128 px PNGs, centre 104 x 104, pixels / 255
            a = np.asarray(Image.open(os.path.join(root, "images", rel)).convert("RGB"), np.float32) / 255
            imgs.append(a[12:116, 12:116].transpose(2, 0, 1))
        real = (torch.from_numpy(np.stack(imgs)), "freiburg-groceries test0 centre 104\n" + "\n".join(files) + "\n")
    # opset 10: from opset 11 on, torch 1.13 exports ZeroPad2d as a
    # computation of the pads (Shape, Slice, Concat, Transpose, ...) rather
    # than one Pad with constant pads
    export("grocery_seed", seed, (3, 104, 104), real, opset=10)

    resnet = ResNet()
    randomize_batch_norm(resnet)
    export("resnet", resnet, (3, 16, 16))
    export("fcn", FCN(), (3, 16, 16))


if __name__ == "__main__":
    main()
