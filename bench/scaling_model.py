#!/usr/bin/env python3
"""Step-time model of data-parallel training on P machines (docs/distributed.md).

Each machine runs one rank on its cores with the workload's batch B (weak
scaling: P machines train on P*B samples per step). A step costs the
machine's compute time Tc (measured on one machine) plus the part of the
gradient all-reduce that is not hidden behind backward. A ring all-reduce of
S bytes in k buckets over P machines costs

    Tar = 2 (P-1)/P * S / BW  +  k * 2 (P-1) * alpha

(each byte crosses the network twice, reduce-scatter then all-gather, in
2 (P-1) rounds per bucket, each paying the latency alpha). Without overlap
the step is Tc + Tar; with ideal overlap communication hides under backward
(taken as 2/3 of Tc) once the first bucket is ready, so the step is at least
max(Tc, Tc/3 + Tar). Speedup = P * Tc / step. The bucket size the model
suggests keeps each bucket's latency term under a tenth of its bandwidth
term: S_b >= 10 * P * alpha * BW.

The inputs below are measured on one 2-core machine (docs/distributed.md
gives the runs); the networks are stated, not measured.

    /usr/bin/python3 bench/scaling_model.py            # markdown tables
"""
import math

MIB = 1 << 20
# name: (global batch per machine, compute seconds per step on one machine
#        (1 process x 2 threads), gradient bytes, buckets at 4 MiB)
WORKLOADS = {
    "W2 (grocery seed, batch 32)": (32, 32 / 590, 0.15 * MIB, 1),
    "W3 (small-cifar, batch 128)": (128, 128 / 2280, 8.27 * MIB, 2),
    "MNIST cnn (batch 128)": (128, 128 / 6040, 1.21 * MIB, 1),
}
# name: (bytes per second, latency per message in seconds)
NETWORKS = {
    "10 Gb/s Ethernet (TCP)": (10e9 / 8, 25e-6),
    "100 Gb/s InfiniBand / RoCE": (100e9 / 8, 2e-6),
}
MACHINES = [1, 2, 4, 8, 16, 32]
# this machine's transport between 2 ranks (Open MPI shared memory), from
# nn_bench_dist --sweep: 4 KiB in 4.4-4.8 us, 16 MiB in 3.9-4.6 ms
LOCAL = (16 * MIB / 4.3e-3, 4.6e-6)


def allreduce(P, S, k, bw, alpha):
    if P == 1:
        return 0.0
    return 2 * (P - 1) / P * S / bw + k * 2 * (P - 1) * alpha


def main():
    for net, (bw, alpha) in NETWORKS.items():
        print(f"\n{net}: {bw * 8 / 1e9:.0f} Gb/s, latency {alpha * 1e6:.0f} us\n")
        print("| workload | " + " | ".join(f"P={p}" for p in MACHINES) + " |")
        print("|---|" + "---|" * len(MACHINES))
        for name, (B, tc, S, k) in WORKLOADS.items():
            cells = []
            for P in MACHINES:
                tar = allreduce(P, S, k, bw, alpha)
                plain = P * tc / (tc + tar)
                over = P * tc / max(tc, tc / 3 + tar)
                cells.append(f"{plain:.1f} / {over:.1f}")
            print(f"| {name} | " + " | ".join(cells) + " |")
        sizes = ", ".join(f"P={P}: {max(1.0, 10 * P * alpha * bw / MIB):.1f}" for P in MACHINES[1:])
        print(f"\nsuggested bucket size (MiB, at least 1): {sizes}")
    bw, alpha = LOCAL
    print(f"\ncheck on this machine, 2 ranks over shared memory ({bw / 1e9:.1f} GB/s, {alpha * 1e6:.1f} us):")
    for name, (B, tc, S, k) in WORKLOADS.items():
        print(f"  {name}: all-reduce {1e3 * allreduce(2, S, k, bw, alpha):.2f} ms per step, "
              f"compute {1e3 * tc:.1f} ms (half the batch per rank on 1 thread each)")
    print("\nall-reduce ms per step (no overlap), W3 / MNIST cnn / W2:")
    for net, (bw, alpha) in NETWORKS.items():
        row = []
        for P in MACHINES[1:]:
            t = [1e3 * allreduce(P, S, k, bw, alpha) for (_, _, S, k) in WORKLOADS.values()]
            row.append(f"P={P}: {t[1]:.2f} / {t[2]:.2f} / {t[0]:.2f}")
        print(f"  {net}: " + "; ".join(row))


if __name__ == "__main__":
    main()
