#!/usr/bin/env python3
"""PyTorch side of the kernel comparison (bench/compare/kernels.py).

Times the same kernels as nn_bench_kernels, with the same shapes, and prints
one JSON line per kernel: {"name", "gflops", "ms"} (median over --reps timed
calls after warm-up).
  sgemm/N                      C (N, N) = A (N, N) @ B (N, N)       2 N^3 FLOPs
  conv2d_forward/32            N=32, 64->64, 56x56, 3x3, pad 1      2 N OC OH OW C 9
  conv2d_forward_backward/32   forward, then dx, dw, db             3x the forward
--channels-last runs the convolutions in channels_last memory format.
"""
import argparse
import json
import statistics
import time

import torch
from torch_models import loaded_blas


def timed(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--kernels", default="sgemm/256,sgemm/512,sgemm/1024,sgemm/2048,conv2d_forward/32,conv2d_forward_backward/32")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--channels-last", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print(json.dumps({"blas": loaded_blas()}), flush=True)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    for k in a.kernels.split(","):
        name, arg = k.split("/")
        n = int(arg)
        if name == "sgemm":
            A, B = torch.randn(n, n), torch.randn(n, n)
            C = torch.empty(n, n)
            with torch.no_grad():
                s = timed(lambda: torch.mm(A, B, out=C), a.warmup, a.reps * (4 if n <= 512 else 1))
            flops = 2.0 * n ** 3
        elif name in ("conv2d_forward", "conv2d_forward_backward"):
            conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(memory_format=fmt)
            x = torch.randn(n, 64, 56, 56).to(memory_format=fmt)
            flops = 2.0 * n * 64 * 56 * 56 * 64 * 9
            if name == "conv2d_forward":
                with torch.no_grad():
                    s = timed(lambda: conv(x), a.warmup, a.reps)
            else:
                x.requires_grad_(True)
                dy = torch.randn(n, 64, 56, 56).to(memory_format=fmt)

                def step():
                    conv.zero_grad(set_to_none=False)
                    x.grad = None
                    conv(x).backward(dy)

                s = timed(step, a.warmup, a.reps)
                flops *= 3
        else:
            raise SystemExit(f"unknown kernel {k}")
        print(json.dumps({"name": k, "gflops": round(flops / s / 1e9, 1), "ms": round(s * 1e3, 3)}), flush=True)


if __name__ == "__main__":
    main()
