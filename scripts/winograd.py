#!/usr/bin/env python3
"""Derive the Winograd F(4x4, 5x5) and F(4x4, 3x3) matrices used by
include/nn/kernels/conv2d_winograd.hpp and measure their float32 error against a direct sum.

Toom-Cook on the points 0, 1, -1, 2, -2, (1/2, -1/2 for 5x5) and infinity. For 5x5, a
linear convolution s = g * h (g: 5 taps, h: 4 values, s: 8 coefficients) is
    s = Vn^-1 [(V5 g) . (V4 h)]
where Vk evaluates a polynomial of k coefficients at the 7 points and at infinity
(its leading coefficient). The correlation y_i = sum_k d_{i+k} g_k is its transpose
in h, so
    y = A^T [(G g) . (B^T d)],  A^T = V4^T, G = V5, B^T = Vn^-T.
Each row of B^T is scaled to integers and G's row divided by the same factor;
for 5x5, rows 5 and 6 of B^T (then 0, 64, 128, -80, ...) are divided by 16 more
and G's rows multiplied by 16, for smaller integers. 3x3 is the same with 6 points.
2-D: Y = A^T [(G g G^T) . (B^T d B)] A.

Run: /usr/bin/python3 scripts/winograd.py   (needs numpy)
"""
from fractions import Fraction as Fr
from math import lcm

import numpy as np

M_OUT = 4
H = Fr(1, 2)
TRANSFORMS = {5: [Fr(0), Fr(1), Fr(-1), Fr(2), Fr(-2), H, -H], 3: [Fr(0), Fr(1), Fr(-1), Fr(2), Fr(-2)]}


def evaluation(points, k):
    """(n x k): a k-coefficient polynomial at the points, then at infinity."""
    return [[p ** j for j in range(k)] for p in points] + [[Fr(0)] * (k - 1) + [Fr(1)]]


def inverse(m):
    n = len(m)
    a = [row[:] + [Fr(int(i == j)) for j in range(n)] for i, row in enumerate(m)]
    for c in range(n):
        p = next(i for i in range(c, n) if a[i][c] != 0)
        a[c], a[p] = a[p], a[c]
        a[c] = [v / a[c][c] for v in a[c]]
        for i in range(n):
            if i != c and a[i][c] != 0:
                f = a[i][c]
                a[i] = [x - f * y for x, y in zip(a[i], a[c])]
    return [row[n:] for row in a]


def matrices(r):
    points = TRANSFORMS[r]
    n = M_OUT + r - 1
    vn_inv = inverse(evaluation(points, n))
    bt = [[vn_inv[j][i] for j in range(n)] for i in range(n)]
    at = [[evaluation(points, M_OUT)[j][i] for j in range(n)] for i in range(M_OUT)]
    g = [row[:] for row in evaluation(points, r)]
    for i in range(n):
        s = lcm(*[v.denominator for v in bt[i]])
        bt[i] = [v * s for v in bt[i]]
        g[i] = [v / s for v in g[i]]
    if r == 5:  # as in the header: B^T's rows 5, 6 divided by 16, G's multiplied
        for i in (5, 6):
            bt[i] = [v / 16 for v in bt[i]]
            g[i] = [v * 16 for v in g[i]]
    return at, g, bt


def as_array(m, dtype):
    return np.array([[float(v) for v in row] for row in m], dtype=dtype)


def float32_error(r, trials=100, channels=32, seed=0):
    at, g, bt = (as_array(m, np.float32) for m in matrices(r))
    n = M_OUT + r - 1
    rng = np.random.default_rng(seed)
    wino, direct = [], []
    for _ in range(trials):
        d = rng.standard_normal((channels, n, n))
        w = rng.standard_normal((channels, r, r)) * 0.05
        ref = np.array([[(d[:, i:i + r, j:j + r] * w).sum() for j in range(M_OUT)] for i in range(M_OUT)])
        d32, w32 = d.astype(np.float32), w.astype(np.float32)
        u = np.einsum("ik,ckl,jl->cij", g, w32, g)
        v = np.einsum("ik,ckl,jl->cij", bt, d32, bt)
        y = at @ (u * v).sum(0) @ at.T
        y_direct = np.array([[(d32[:, i:i + r, j:j + r] * w32).sum(dtype=np.float32) for j in range(M_OUT)]
                             for i in range(M_OUT)])
        scale = np.abs(ref).max()
        wino.append(np.abs(y - ref).max() / scale)
        direct.append(np.abs(y_direct - ref).max() / scale)
    return max(wino), max(direct)


if __name__ == "__main__":
    for r in (5, 3):
        print(f"F(4x4, {r}x{r})")
        at, g, bt = matrices(r)
        for name, m in (("A^T", at), ("G", g), ("B^T", bt)):
            print(name)
            for row in m:
                print("  ", " ".join(f"{str(v):>7}" for v in row))
        wino, direct = float32_error(r)
        print(f"float32, 32 channels: worst error / max |y|: Winograd {wino:.2e}, direct sum {direct:.2e}\n")
