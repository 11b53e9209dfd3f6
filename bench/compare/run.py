#!/usr/bin/env python3
"""Side-by-side throughput: nn vs PyTorch on the benchmark workloads.

Runs, for each workload and mode, nn and each available peer alternately
(A B C A B C ...) for --repeats rounds; each run is a fresh process that does
its own warm-up iterations (excluded) and reports its median step time.
Prints a table of medians across rounds and the ratio nn / peer, reports each
process's peak RSS, and writes everything as JSON.

Peers:
  torch          PyTorch as installed (Debian python3-torch), default settings
  torch-tuned    channels_last + MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ set high
  tiny-dnn       tinydnn_models beside nn_bench_models (built when tiny-dnn is installed), W1/W3 training
A peer that is not installed is skipped, and the table says so.
Mode infer-int8 times nn's post-training int8 model (nn_bench_models
--precision int8) against PyTorch's eager-mode static int8 quantization on its
onednn engine (torch_models.py --precision int8), both calibrated on a batch of
the same synthetic data; tiny-dnn has no int8 mode.

  /usr/bin/python3 bench/compare/run.py --nn build-bench/bench/nn_bench_models \\
      [--workloads W1,W2,W3,W4,W5] [--modes train,infer,infer-int8] [--threads 2] [--repeats 3] [--json out.json] [--busy]
--iters (default 20) is multiplied for short steps (W1 x5 train, x20 inference;
W2/W3 inference x4/x2) so that each timed window is about a second.
--busy keeps one core busy with a spinning process during the measurements
(the shared-machine robustness check); with --nn-threads-also 1 the same
rounds also run nn on one thread ("nn-1t"), so the table has nn's 2-thread /
1-thread ratio measured side by side. --stat mean reports each run's mean
throughput (images over total time) instead of its median step: the honest
number when steps vary, as they do on a busy machine.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def have_torch():
    try:
        r = subprocess.run([PY, "-c", "import torch"], capture_output=True, timeout=120)
        return r.returncode == 0
    except Exception:
        return False


def measure(cmd, env=None):
    r_fd, w_fd = os.pipe()
    e_fd = os.open(os.devnull, os.O_WRONLY)
    pid = os.fork()
    if pid == 0:
        os.dup2(w_fd, 1)
        os.dup2(e_fd, 2)
        os.close(r_fd)
        try:
            os.execvpe(cmd[0], cmd, env if env is not None else os.environ.copy())
        finally:
            os._exit(127)
    os.close(w_fd)
    os.close(e_fd)
    chunks = []
    while True:
        b = os.read(r_fd, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r_fd)
    _, status, ru = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {code}")
    line = [l for l in b"".join(chunks).decode().splitlines() if l.startswith("{")][-1]
    res = json.loads(line)
    res["peak_rss_mib"] = round(ru.ru_maxrss / 1024.0, 1)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nn", required=True, help="path to nn_bench_models")
    ap.add_argument("--workloads", default="W1,W2,W3")
    ap.add_argument("--modes", default="train,infer")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--nn-threads-also", type=int, default=0, metavar="N",
                    help="also run nn on N threads, as the impl nn-Nt")
    ap.add_argument("--peers", default="", help="only these peers (comma list, e.g. torch,torch-tuned)")
    ap.add_argument("--stat", choices=["median", "mean"], default="median",
                    help="per run: median step (default) or mean throughput")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--json", default="")
    ap.add_argument("--busy", action="store_true", help="spin one core during the runs")
    ap.add_argument("--no-scale-iters", dest="scale_iters", action="store_false",
                    help="use --iters/--warmup as given for every workload (default: more for short steps)")
    ap.add_argument("--tinydnn", default="", help="path to tinydnn_models (built when tiny-dnn is installed); W1/W3 training only")
    a = ap.parse_args()
    if not os.path.exists(a.nn):
        sys.exit(f"run.py: {a.nn} not found; build it with -DNN_BUILD_BENCHMARKS=ON")

    # Short steps get more iterations, so every timed window is ~1 s (W1
    # inference steps take ~3 ms: 20 of them were too noisy to compare).
    mult = {("W1", "train"): 5, ("W1", "infer"): 20, ("W2", "infer"): 4, ("W3", "infer"): 2,
            ("W1", "infer-int8"): 40, ("W2", "infer-int8"): 10, ("W3", "infer-int8"): 4}

    def iters(w, m):
        return a.iters * mult.get((w, m), 1) if a.scale_iters else a.iters

    def warm(w, m):
        return a.warmup * min(3, mult.get((w, m), 1)) if a.scale_iters else a.warmup

    def mode_args(m):  # "infer-int8" -> --mode infer --precision int8
        return ["--mode", "infer", "--precision", "int8"] if m == "infer-int8" else ["--mode", m]

    peers = {}
    if have_torch():
        script = os.path.join(HERE, "torch_models.py")
        peers["torch"] = (lambda w, m: [PY, script, "--workload", w, *mode_args(m), "--threads", str(a.threads),
                                        "--iters", str(iters(w, m)), "--warmup", str(warm(w, m))], None)
        tuned_env = os.environ.copy()
        tuned_env["MALLOC_MMAP_THRESHOLD_"] = str(1 << 30)
        tuned_env["MALLOC_TRIM_THRESHOLD_"] = str(1 << 31)
        peers["torch-tuned"] = (lambda w, m: [PY, script, "--workload", w, *mode_args(m), "--threads", str(a.threads),
                                              "--iters", str(iters(w, m)), "--warmup", str(warm(w, m)),
                                              "--channels-last"],
                                tuned_env)
        skipped = []
    else:
        skipped = ["torch (python3-torch not installed)", "torch-tuned (python3-torch not installed)"]
    tinydnn = a.tinydnn or os.path.join(os.path.dirname(os.path.abspath(a.nn)), "tinydnn_models")
    if os.path.exists(tinydnn):
        tenv = os.environ.copy()
        tenv["OMP_NUM_THREADS"] = str(a.threads)
        peers["tiny-dnn"] = (lambda w, m: [tinydnn, "--workload", w, "--mode", m, "--iters", str(max(3, a.iters // 4)),
                                           "--warmup", "1"], tenv)
    else:
        skipped.append("tiny-dnn (tinydnn_models not built: apt-get install tiny-dnn libcereal-dev libgemmlowp-dev)")

    if a.nn_threads_also:
        extra = f"nn-{a.nn_threads_also}t"
        peers = {extra: (lambda w, m: [a.nn, "--workload", w, *mode_args(m), "--threads", str(a.nn_threads_also),
                                       "--iters", str(iters(w, m)), "--warmup", str(warm(w, m))], None), **peers}
    if a.peers:
        want = set(a.peers.split(","))
        skipped += [f"{p} (not in --peers)" for p in peers if p not in want and not p.startswith("nn-")]
        peers = {p: v for p, v in peers.items() if p in want or p.startswith("nn-")}
    key = "images_per_second" if a.stat == "median" else "images_per_second_mean"

    def ips(r):
        return r.get(key, r["images_per_second"])

    spinner = None
    if a.busy:
        spinner = subprocess.Popen(["bash", "-c", "while :; do :; done"])
    results = []
    torch_blas = set()
    try:
        for w in a.workloads.split(","):
            for m in a.modes.split(","):
                runs = {"nn": []}
                runs.update({p: [] for p in peers})
                for rep in range(a.repeats):
                    r = measure([a.nn, "--workload", w, *mode_args(m), "--threads", str(a.threads),
                                 "--iters", str(iters(w, m)), "--warmup", str(warm(w, m))])
                    runs["nn"].append(r)
                    for p, (mk, env) in peers.items():
                        if p == "tiny-dnn" and (m != "train" or w not in ("W1", "W3")):
                            continue
                        if m == "infer-int8" and (p == "tiny-dnn" or w not in ("W1", "W2", "W3")):
                            continue
                        runs[p].append(measure(mk(w, m), env))
                for r in runs.get("torch", []):
                    torch_blas.add(r.get("blas", "unknown"))
                row = {"workload": w, "mode": m, "threads": a.threads}
                for impl, rs in runs.items():
                    if not rs:
                        continue
                    row[impl] = {"images_per_second": statistics.median(ips(r) for r in rs),
                                 "runs": [ips(r) for r in rs],
                                 "peak_rss_mib": max(r["peak_rss_mib"] for r in rs)}
                    if "governor" in rs[0]:
                        row[impl]["governor"] = [r["governor"] for r in rs]
                for p in peers:
                    if p in row:
                        row["ratio_nn_over_" + p] = round(row["nn"]["images_per_second"] / row[p]["images_per_second"], 3)
                results.append(row)
                print(f"done {w} {m}", file=sys.stderr)
    finally:
        if spinner:
            spinner.kill()

    impls = ["nn"] + list(peers)
    print(f"\nthreads {a.threads}, {a.repeats} alternating rounds, median over rounds of each run's "
          f"{'median-step' if a.stat == 'median' else 'mean'} images/s (peak RSS MiB)"
          + (", one core kept busy" if a.busy else ""))
    head = f"{'workload':8} {'mode':6} " + " ".join(f"{i:>20}" for i in impls) + " " + " ".join(
        f"{'nn/' + p:>16}" for p in peers)
    print(head)
    for r in results:
        cells = " ".join(f"{r[i]['images_per_second']:>11.1f} ({r[i]['peak_rss_mib']:>5.0f})" if i in r else f"{'-':>19}"
                         for i in impls)
        ratios = " ".join(f"{r['ratio_nn_over_' + p]:>16.2f}" if p in r else f"{'-':>16}" for p in peers)
        print(f"{r['workload']:8} {r['mode']:6} {cells} {ratios}")
    for s in skipped:
        print("skipped:", s)
    blas = ", ".join(sorted(torch_blas))
    if blas:
        print("PyTorch's BLAS:", blas)
        if "openblas" not in blas.lower():
            print("warning: PyTorch runs on the reference BLAS here (slow matrix products); "
                  "apt-get install libopenblas0-pthread for a fair comparison")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"threads": a.threads, "repeats": a.repeats, "busy": a.busy, "stat": a.stat,
                       "skipped": skipped,
                       "torch_blas": blas,
                       "iters": {f"{w} {m}": iters(w, m) for w in a.workloads.split(",") for m in a.modes.split(",")},
                       "results": results}, f, indent=2)
        print("wrote", a.json)


if __name__ == "__main__":
    main()
