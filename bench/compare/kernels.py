#!/usr/bin/env python3
"""Side-by-side kernel throughput: nn's Google Benchmark kernels vs PyTorch.

For each round, runs nn_bench_kernels (GEMM and the conv workload), then
PyTorch on the same shapes (torch_kernels.py; the convolutions both in the
default layout and channels_last), alternating for --repeats rounds. Prints
the median GFLOP/s of each and the ratios nn / PyTorch, and writes JSON.

  /usr/bin/python3 bench/compare/kernels.py --nn build-bench/bench/nn_bench_kernels \\
      [--threads 2] [--repeats 3] [--json out.json]

PyTorch's GEMM is whatever libblas.so.3 Debian's alternatives point at: with
the reference BLAS (libblas3, the default when only python3-torch is
installed) torch.mm runs at a few GFLOP/s; with OpenBLAS
(libopenblas0-pthread) at ~300. The BLAS in use is printed and recorded.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
KERNELS = ["sgemm/256", "sgemm/512", "sgemm/1024", "sgemm/2048", "conv2d_forward/32", "conv2d_forward_backward/32"]


def run_nn(binary, threads, min_time):
    env = os.environ.copy()
    env["NN_THREADS"] = str(threads)
    filt = "^BM_(" + "|".join(k.replace("/", "/") + "/" for k in KERNELS) + ")"
    out = subprocess.run([binary, f"--benchmark_filter={filt}", "--benchmark_format=json",
                          f"--benchmark_min_time={min_time}"], env=env, capture_output=True, text=True, check=True)
    res = {}
    for b in json.loads(out.stdout)["benchmarks"]:
        name = b["name"][3:].replace("/real_time", "")
        res[name] = b["GFLOP/s"] / 1e9
    return res


def run_torch(threads, channels_last):
    cmd = [PY, os.path.join(HERE, "torch_kernels.py"), "--threads", str(threads)]
    if channels_last:
        cmd += ["--channels-last", "--kernels", ",".join(k for k in KERNELS if k.startswith("conv"))]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    res, blas = {}, ""
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            d = json.loads(line)
            if "blas" in d:
                blas = d["blas"]
            else:
                res[d["name"]] = d["gflops"]
    return res, blas


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nn", required=True, help="path to nn_bench_kernels")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--min-time", default="0.5")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    if not os.path.exists(a.nn):
        sys.exit(f"kernels.py: {a.nn} not found; build it with -DNN_BUILD_BENCHMARKS=ON")
    have_torch = subprocess.run([PY, "-c", "import torch"], capture_output=True).returncode == 0
    runs = {"nn": {k: [] for k in KERNELS}}
    if have_torch:
        runs["torch"] = {k: [] for k in KERNELS}
        runs["torch-channels-last"] = {k: [] for k in KERNELS if k.startswith("conv")}
    blas = ""
    for rep in range(a.repeats):
        for k, v in run_nn(a.nn, a.threads, a.min_time).items():
            runs["nn"][k].append(v)
        if have_torch:
            for cl, impl in ((False, "torch"), (True, "torch-channels-last")):
                res, blas = run_torch(a.threads, cl)
                for k, v in res.items():
                    runs[impl][k].append(v)
        print(f"round {rep + 1}/{a.repeats} done", file=sys.stderr)

    impls = list(runs)
    rows = []
    for k in KERNELS:
        row = {"kernel": k}
        for impl in impls:
            if runs[impl].get(k):
                row[impl] = {"gflops": round(statistics.median(runs[impl][k]), 1), "runs": runs[impl][k]}
        for p in impls[1:]:
            if p in row:
                row["ratio_nn_over_" + p] = round(row["nn"]["gflops"] / row[p]["gflops"], 3)
        rows.append(row)

    print(f"\nthreads {a.threads}, {a.repeats} alternating rounds, median GFLOP/s" +
          (f"; PyTorch BLAS: {blas}" if blas else ""))
    print(f"{'kernel':28} " + " ".join(f"{i:>20}" for i in impls) + " " +
          " ".join(f"{'nn/' + p:>24}" for p in impls[1:]))
    for r in rows:
        cells = " ".join(f"{r[i]['gflops']:>20.1f}" if i in r else f"{'-':>20}" for i in impls)
        ratios = " ".join(f"{r['ratio_nn_over_' + p]:>24.2f}" if p in r else f"{'-':>24}" for p in impls[1:])
        print(f"{r['kernel']:28} {cells} {ratios}")
    if not have_torch:
        print("skipped: torch (python3-torch not installed)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"threads": a.threads, "repeats": a.repeats, "torch_blas": blas, "results": rows}, f, indent=2)
        print("wrote", a.json)


if __name__ == "__main__":
    main()
