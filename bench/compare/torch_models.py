#!/usr/bin/env python3
"""The benchmark workloads W1-W5 in PyTorch, for side-by-side comparison.

Same networks, shapes, batch sizes and steps as bench/models_bench.cpp:
training = forward + cross-entropy (per pixel for W5) + backward + Adam step; inference =
eval-mode forward under no_grad. Prints one JSON object like nn_bench_models.

  /usr/bin/python3 torch_models.py --workload W1 --mode train --threads 2 [--channels-last]
"""
import argparse
import json
import os
import time

import torch
import torch.nn as nn


class BasicBlock(nn.Module):
    """W4's block, as examples/common/resnet.hpp: two 3x3 conv + BN, ReLU between
    and after the sum; a 1x1 conv + BN shortcut where the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
        return torch.relu(h + (x if self.short is None else self.short(x)))


def resnet(classes):
    layers = [nn.Conv2d(3, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU()]
    cin = 32
    for i, c in enumerate([32, 64, 128, 256]):
        layers += [BasicBlock(cin, c, 1 if i == 0 else 2), BasicBlock(c, c, 1)]
        cin = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(256, classes)]
    return nn.Sequential(*layers)


class FCN(nn.Module):
    """W5, as examples/segmentation/fcn.hpp with --upsample transposed: encoder
    (w, 2w /2, 4w /2), four dilated 3x3 convs (rates 1, 2, 4, 8), two 2x2
    stride-2 transposed convs, each followed by a concatenation with the
    encoder feature of that size and a 3x3 conv, a 1x1 head. Every 3x3 conv is followed by BN and ReLU. The strided
    convs pad 1 on both sides where nn's "same" pads 0 top/left and 1
    bottom/right: the same shapes and FLOPs."""

    def __init__(self, width=16, classes=11):
        super().__init__()

        def cbr(cin, cout, stride=1, d=1):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, padding=d, dilation=d, bias=False),
                                 nn.BatchNorm2d(cout), nn.ReLU())

        w = width
        self.e1, self.e2, self.e3 = cbr(1, w), cbr(w, 2 * w, 2), cbr(2 * w, 4 * w, 2)
        self.context = nn.Sequential(*[cbr(4 * w, 4 * w, 1, d) for d in (1, 2, 4, 8)])
        self.up2, self.up1 = nn.ConvTranspose2d(4 * w, 4 * w, 2, 2), nn.ConvTranspose2d(2 * w, 2 * w, 2, 2)
        self.d2, self.d1 = cbr(6 * w, 2 * w), cbr(3 * w, w)
        self.head = nn.Conv2d(w, classes, 1)

    def forward(self, x):
        e1 = self.e1(x)
        e2 = self.e2(e1)
        h = self.context(self.e3(e2))
        h = self.d2(torch.cat([self.up2(h), e2], 1))
        h = self.d1(torch.cat([self.up1(h), e1], 1))
        return self.head(h)


def build(name):
    if name == "W1":
        return nn.Sequential(
            nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 10)), 64, (1, 28, 28), 10
    if name == "W2":
        layers = [nn.ZeroPad2d(1), nn.Conv2d(3, 32, 3), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.2)]
        for _ in range(4):
            layers += [nn.Conv2d(32, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.2)]
        layers += [nn.Flatten(), nn.Linear(32, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 5)]
        return nn.Sequential(*layers), 32, (3, 104, 104), 5
    if name == "W3":
        return nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(4096, 512), nn.ELU(), nn.Linear(512, 10)), 128, (3, 32, 32), 10
    if name == "W4":
        return resnet(25), 32, (3, 64, 64), 25
    if name == "W5":
        return FCN(16, 11), 32, (1, 64, 64), 11
    raise SystemExit(f"unknown workload {name}")


def quantize_static(model, calibration, engine):
    """PyTorch's eager-mode post-training static quantization (its documented
    recipe): fuse Conv2d+BatchNorm2d(+ReLU) and Conv2d/Linear+ReLU, insert
    observers with the engine's default qconfig (per-channel weights), run
    the calibration batch, convert. Sequential workloads (W1-W3) only."""
    if engine not in torch.backends.quantized.supported_engines:
        raise SystemExit(f"quantized engine {engine} not supported here: {torch.backends.quantized.supported_engines}")
    if not isinstance(model, nn.Sequential):
        raise SystemExit("--precision int8 supports the Sequential workloads (W1-W3)")
    torch.backends.quantized.engine = engine
    model.eval()
    mods = list(model)
    groups, i = [], 0
    while i < len(mods):
        if isinstance(mods[i], (nn.Conv2d, nn.Linear)):
            g = [str(i)]
            if isinstance(mods[i], nn.Conv2d) and i + 1 < len(mods) and isinstance(mods[i + 1], nn.BatchNorm2d):
                g.append(str(i + 1))
            j = i + len(g)
            if j < len(mods) and isinstance(mods[j], nn.ReLU):
                g.append(str(j))
            if len(g) > 1:
                groups.append(g)
            i += len(g)
        else:
            i += 1
    torch.ao.quantization.fuse_modules(model, groups, inplace=True)
    q = torch.ao.quantization.QuantWrapper(model)
    q.qconfig = torch.ao.quantization.get_default_qconfig(engine)
    torch.ao.quantization.prepare(q, inplace=True)
    with torch.no_grad():
        q(calibration)
    torch.ao.quantization.convert(q, inplace=True)
    return q


def loaded_blas():
    """The BLAS library(ies) this process has mapped: torch.mm goes through
    Debian's libblas.so.3, the reference BLAS unless OpenBLAS is installed."""
    torch.mm(torch.randn(8, 8), torch.randn(8, 8))
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and "blas" in os.path.basename(parts[-1]).lower():
                libs.add(os.path.realpath(parts[-1]))
    return ", ".join(sorted(libs)) or "none mapped"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--workload", default="W1")
    p.add_argument("--mode", default="train", choices=["train", "infer"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--precision", default="float", choices=["float", "int8"],
                   help="int8: eager-mode static quantization on the onednn engine (inference)")
    p.add_argument("--engine", default="onednn", help="quantized engine for --precision int8")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model, batch, shape, classes = build(a.workload)
    x = torch.randn(batch, *shape)
    # labels (N), or (N, H, W) for the per-pixel W5, as nn_bench_models fills them
    y = torch.arange(batch) % classes if a.workload != "W5" else (torch.arange(batch * 64 * 64) % classes).reshape(batch, 64, 64)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if a.precision == "int8":
        if a.mode != "infer":
            raise SystemExit("--precision int8 is for --mode infer")
        model = quantize_static(model, torch.randn(batch, *shape), a.engine)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3) if a.mode == "train" else None
    secs = []
    if a.mode == "train":
        model.train()
    else:
        model.eval()
    for it in range(a.warmup + a.iters):
        t0 = time.perf_counter()
        if a.mode == "train":
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        else:
            with torch.no_grad():
                model(x)
        s = time.perf_counter() - t0
        if it >= a.warmup:
            secs.append(s)
    med = sorted(secs)[len(secs) // 2]
    impl = "torch" + ("-channels_last" if a.channels_last else "") + ("-int8-" + a.engine if a.precision == "int8" else "")
    print(json.dumps({"impl": impl, "workload": a.workload, "precision": a.precision,
                      "mode": a.mode, "threads": a.threads, "batch": batch, "torch": torch.__version__,
                      "blas": loaded_blas(),
                      "images_per_second": round(batch / med, 1),
                      "images_per_second_mean": round(batch * len(secs) / sum(secs), 1),
                      "seconds": [round(s, 6) for s in secs]}))


if __name__ == "__main__":
    main()
