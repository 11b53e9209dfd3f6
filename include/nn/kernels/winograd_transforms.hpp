// nn/kernels/winograd_transforms.hpp — the two Winograd transforms of
// conv2d_winograd.hpp, F(4x4, 5x5) and F(4x4, 3x3): tags carrying their
// matrices (G, B^T, A^T; scripts/winograd.py derives them, the tests check
// the identity A^T [(G g G^T) * (B^T d B)] A = correlation in double), and the
// matrices applied in factored form to 16-channel vectors (AVX-512):
//   bt: B^T d (N -> N)   at: A^T m (N -> 4)      the forward's input and output
//   b:  B v   (N -> N)   a:  A v   (4 -> N)      their transposes, for backward
#pragma once
#include "nn/kernels/conv2d_direct.hpp"  // NN_DIRECT_CONV, <immintrin.h>

namespace nn::kernels::winograd {

// The two transforms, as tags with their matrices (for the kernels' factored
// forms below and the scalar references in the tests). N = 4 + R - 1 is the
// tile size, P = N * N the transform positions.
struct F5 {  // F(4x4, 5x5): points 0, ±1, ±2, ±1/2, infinity
  static constexpr int R = 5, N = 8, P = 64;
  // G (8x5): rows 5 and 6 carry the factor 16 that B^T's rows 5 and 6 drop.
  static constexpr float G[8][5] = {{1.0f / 4, 0, 0, 0, 0},
                                    {1.0f / 18, 1.0f / 18, 1.0f / 18, 1.0f / 18, 1.0f / 18},
                                    {1.0f / 18, -1.0f / 18, 1.0f / 18, -1.0f / 18, 1.0f / 18},
                                    {1.0f / 360, 1.0f / 180, 1.0f / 90, 1.0f / 45, 2.0f / 45},
                                    {1.0f / 360, -1.0f / 180, 1.0f / 90, -1.0f / 45, 2.0f / 45},
                                    {16.0f / 45, 8.0f / 45, 4.0f / 45, 2.0f / 45, 1.0f / 45},
                                    {16.0f / 45, -8.0f / 45, 4.0f / 45, -2.0f / 45, 1.0f / 45},
                                    {0, 0, 0, 0, 1.0f / 4}};
  static constexpr float BT[8][8] = {{4, 0, -21, 0, 21, 0, -4, 0},  {0, -4, -4, 17, 17, -4, -4, 0},
                                     {0, 4, -4, -17, 17, 4, -4, 0}, {0, 2, 1, -10, -5, 8, 4, 0},
                                     {0, -2, 1, 10, -5, -8, 4, 0},  {0, 4, 8, -5, -10, 1, 2, 0},
                                     {0, -4, 8, 5, -10, -1, 2, 0},  {0, -4, 0, 21, 0, -21, 0, 4}};
  static constexpr float AT[4][8] = {{1, 1, 1, 1, 1, 1, 1, 0},
                                     {0, 1, -1, 2, -2, 0.5f, -0.5f, 0},
                                     {0, 1, 1, 4, 4, 0.25f, 0.25f, 0},
                                     {0, 1, -1, 8, -8, 0.125f, -0.125f, 1}};
};
struct F3 {  // F(4x4, 3x3): points 0, ±1, ±2, infinity
  static constexpr int R = 3, N = 6, P = 36;
  static constexpr float G[6][3] = {{1.0f / 4, 0, 0},
                                    {1.0f / 6, 1.0f / 6, 1.0f / 6},
                                    {1.0f / 6, -1.0f / 6, 1.0f / 6},
                                    {1.0f / 24, 1.0f / 12, 1.0f / 6},
                                    {1.0f / 24, -1.0f / 12, 1.0f / 6},
                                    {0, 0, 1}};
  static constexpr float BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, 4, 4, -1, -1, 0}, {0, -4, 4, 1, -1, 0},
                                     {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  static constexpr float AT[4][6] = {
      {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
};

#if NN_DIRECT_CONV
// r = B^T d for 8 vectors (a column or a row of a tile, 16 channels each).
__attribute__((target("avx512f"))) inline void bt(F5, const __m512* d, __m512* r) {
  const __m512 c4 = _mm512_set1_ps(4), c5 = _mm512_set1_ps(5), c17 = _mm512_set1_ps(17), c21 = _mm512_set1_ps(21),
               two = _mm512_set1_ps(2);
  r[0] = _mm512_fmadd_ps(c4, _mm512_sub_ps(d[0], d[6]), _mm512_mul_ps(c21, _mm512_sub_ps(d[4], d[2])));
  r[7] = _mm512_fmadd_ps(c4, _mm512_sub_ps(d[7], d[1]), _mm512_mul_ps(c21, _mm512_sub_ps(d[3], d[5])));
  {  // rows 1, 2: a = 17 d4 - 4 (d2 + d6), b = 17 d3 - 4 (d1 + d5)
    const __m512 a = _mm512_fnmadd_ps(c4, _mm512_add_ps(d[2], d[6]), _mm512_mul_ps(c17, d[4]));
    const __m512 b = _mm512_fnmadd_ps(c4, _mm512_add_ps(d[1], d[5]), _mm512_mul_ps(c17, d[3]));
    r[1] = _mm512_add_ps(a, b), r[2] = _mm512_sub_ps(a, b);
  }
  {  // rows 3, 4: a = d2 - 5 d4 + 4 d6, b = 2 (d1 - 5 d3 + 4 d5)
    const __m512 a = _mm512_fmadd_ps(c4, d[6], _mm512_fnmadd_ps(c5, d[4], d[2]));
    const __m512 b = _mm512_mul_ps(two, _mm512_fmadd_ps(c4, d[5], _mm512_fnmadd_ps(c5, d[3], d[1])));
    r[3] = _mm512_add_ps(a, b), r[4] = _mm512_sub_ps(a, b);
  }
  {  // rows 5, 6: a = 2 (4 d2 - 5 d4 + d6), b = 4 d1 - 5 d3 + d5
    const __m512 a = _mm512_mul_ps(two, _mm512_add_ps(_mm512_fnmadd_ps(c5, d[4], _mm512_mul_ps(c4, d[2])), d[6]));
    const __m512 b = _mm512_add_ps(_mm512_fnmadd_ps(c5, d[3], _mm512_mul_ps(c4, d[1])), d[5]);
    r[5] = _mm512_add_ps(a, b), r[6] = _mm512_sub_ps(a, b);
  }
}

// y = A^T m for 8 vectors -> 4.
__attribute__((target("avx512f"))) inline void at(F5, const __m512* m, __m512* y) {
  const __m512 s1 = _mm512_add_ps(m[1], m[2]), d1 = _mm512_sub_ps(m[1], m[2]);
  const __m512 s2 = _mm512_add_ps(m[3], m[4]), d2 = _mm512_sub_ps(m[3], m[4]);
  const __m512 s3 = _mm512_add_ps(m[5], m[6]), d3 = _mm512_sub_ps(m[5], m[6]);
  y[0] = _mm512_add_ps(_mm512_add_ps(m[0], s1), _mm512_add_ps(s2, s3));
  y[1] = _mm512_fmadd_ps(_mm512_set1_ps(0.5f), d3, _mm512_fmadd_ps(_mm512_set1_ps(2), d2, d1));
  y[2] = _mm512_fmadd_ps(_mm512_set1_ps(0.25f), s3, _mm512_fmadd_ps(_mm512_set1_ps(4), s2, s1));
  y[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(0.125f), d3, _mm512_fmadd_ps(_mm512_set1_ps(8), d2, d1)), m[7]);
}

// The same for F(4x4, 3x3), 6 vectors.
__attribute__((target("avx512f"))) inline void bt(F3, const __m512* d, __m512* r) {
  const __m512 c2 = _mm512_set1_ps(2), c4 = _mm512_set1_ps(4), c5 = _mm512_set1_ps(5);
  r[0] = _mm512_fmadd_ps(c4, d[0], _mm512_fnmadd_ps(c5, d[2], d[4]));  // 4 d0 - 5 d2 + d4
  r[5] = _mm512_fmadd_ps(c4, d[1], _mm512_fnmadd_ps(c5, d[3], d[5]));  // 4 d1 - 5 d3 + d5
  {  // rows 1, 2: (4 d2 - d4) ± (4 d1 - d3)
    const __m512 a = _mm512_fmsub_ps(c4, d[2], d[4]), b = _mm512_fmsub_ps(c4, d[1], d[3]);
    r[1] = _mm512_add_ps(a, b), r[2] = _mm512_sub_ps(a, b);
  }
  {  // rows 3, 4: (d4 - d2) ± 2 (d3 - d1)
    const __m512 a = _mm512_sub_ps(d[4], d[2]), b = _mm512_mul_ps(c2, _mm512_sub_ps(d[3], d[1]));
    r[3] = _mm512_add_ps(a, b), r[4] = _mm512_sub_ps(a, b);
  }
}
__attribute__((target("avx512f"))) inline void at(F3, const __m512* m, __m512* y) {
  const __m512 s1 = _mm512_add_ps(m[1], m[2]), d1 = _mm512_sub_ps(m[1], m[2]);
  const __m512 s2 = _mm512_add_ps(m[3], m[4]), d2 = _mm512_sub_ps(m[3], m[4]);
  y[0] = _mm512_add_ps(_mm512_add_ps(m[0], s1), s2);
  y[1] = _mm512_fmadd_ps(_mm512_set1_ps(2), d2, d1);
  y[2] = _mm512_fmadd_ps(_mm512_set1_ps(4), s2, s1);
  y[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8), d2, d1), m[5]);
}

// out (8) = A v (4): A = (A^T)^T, the output transform's transpose.
__attribute__((target("avx512f"))) inline void a(F5, const __m512* v, __m512* out) {
  const __m512 e1 = _mm512_add_ps(v[0], v[2]), o1 = _mm512_add_ps(v[1], v[3]);
  const __m512 e2 = _mm512_fmadd_ps(_mm512_set1_ps(4), v[2], v[0]);
  const __m512 o2 = _mm512_fmadd_ps(_mm512_set1_ps(8), v[3], _mm512_add_ps(v[1], v[1]));
  const __m512 e3 = _mm512_fmadd_ps(_mm512_set1_ps(0.25f), v[2], v[0]);
  const __m512 o3 = _mm512_fmadd_ps(_mm512_set1_ps(0.125f), v[3], _mm512_mul_ps(_mm512_set1_ps(0.5f), v[1]));
  out[0] = v[0], out[7] = v[3];
  out[1] = _mm512_add_ps(e1, o1), out[2] = _mm512_sub_ps(e1, o1);
  out[3] = _mm512_add_ps(e2, o2), out[4] = _mm512_sub_ps(e2, o2);
  out[5] = _mm512_add_ps(e3, o3), out[6] = _mm512_sub_ps(e3, o3);
}

// out (8) = B v (8): the input transform's transpose.
__attribute__((target("avx512f"))) inline void b(F5, const __m512* v, __m512* out) {
  const __m512 s12 = _mm512_add_ps(v[1], v[2]), d12 = _mm512_sub_ps(v[2], v[1]);
  const __m512 s34 = _mm512_add_ps(v[3], v[4]), d34 = _mm512_sub_ps(v[3], v[4]);
  const __m512 s56 = _mm512_add_ps(v[5], v[6]), d56 = _mm512_sub_ps(v[5], v[6]);
  const __m512 c2 = _mm512_set1_ps(2), c4 = _mm512_set1_ps(4), c5 = _mm512_set1_ps(5), c8 = _mm512_set1_ps(8),
               c10 = _mm512_set1_ps(10), c17 = _mm512_set1_ps(17), c21 = _mm512_set1_ps(21);
  out[0] = _mm512_mul_ps(c4, v[0]);
  out[7] = _mm512_mul_ps(c4, v[7]);
  // 4 d12 + 2 d34 + 4 d56 - 4 v7
  out[1] = _mm512_fmadd_ps(c2, d34, _mm512_mul_ps(c4, _mm512_sub_ps(_mm512_add_ps(d12, d56), v[7])));
  // -21 v0 - 4 s12 + s34 + 8 s56
  out[2] = _mm512_fmadd_ps(c8, s56, _mm512_fnmadd_ps(c4, s12, _mm512_fnmadd_ps(c21, v[0], s34)));
  // -17 d12 - 10 d34 - 5 d56 + 21 v7
  out[3] = _mm512_fnmadd_ps(c17, d12, _mm512_fnmadd_ps(c10, d34, _mm512_fnmadd_ps(c5, d56, _mm512_mul_ps(c21, v[7]))));
  // 21 v0 + 17 s12 - 5 s34 - 10 s56
  out[4] = _mm512_fmadd_ps(c21, v[0], _mm512_fnmadd_ps(c10, s56, _mm512_fnmadd_ps(c5, s34, _mm512_mul_ps(c17, s12))));
  // 4 d12 + 8 d34 + d56 - 21 v7
  out[5] = _mm512_fmadd_ps(c4, d12, _mm512_fmadd_ps(c8, d34, _mm512_fnmadd_ps(c21, v[7], d56)));
  // -4 v0 - 4 s12 + 4 s34 + 2 s56
  out[6] = _mm512_fmadd_ps(c2, s56, _mm512_mul_ps(c4, _mm512_sub_ps(s34, _mm512_add_ps(v[0], s12))));
}

// The same for F(4x4, 3x3): A v (4 -> 6) and B v (6 -> 6).
__attribute__((target("avx512f"))) inline void a(F3, const __m512* v, __m512* out) {
  const __m512 e1 = _mm512_add_ps(v[0], v[2]), o1 = _mm512_add_ps(v[1], v[3]);
  const __m512 e2 = _mm512_fmadd_ps(_mm512_set1_ps(4), v[2], v[0]);
  const __m512 o2 = _mm512_fmadd_ps(_mm512_set1_ps(8), v[3], _mm512_add_ps(v[1], v[1]));
  out[0] = v[0], out[5] = v[3];
  out[1] = _mm512_add_ps(e1, o1), out[2] = _mm512_sub_ps(e1, o1);
  out[3] = _mm512_add_ps(e2, o2), out[4] = _mm512_sub_ps(e2, o2);
}
__attribute__((target("avx512f"))) inline void b(F3, const __m512* v, __m512* out) {
  const __m512 c2 = _mm512_set1_ps(2), c4 = _mm512_set1_ps(4), c5 = _mm512_set1_ps(5);
  const __m512 s12 = _mm512_add_ps(v[1], v[2]), d12 = _mm512_sub_ps(v[1], v[2]);
  const __m512 s34 = _mm512_add_ps(v[3], v[4]), d34 = _mm512_sub_ps(v[3], v[4]);
  out[0] = _mm512_mul_ps(c4, v[0]);
  out[1] = _mm512_fmadd_ps(c4, _mm512_add_ps(d12, v[5]), _mm512_mul_ps(c2, _mm512_sub_ps(v[4], v[3])));  // 4 d12 - 2 d34 + 4 v5
  out[2] = _mm512_fnmadd_ps(c5, v[0], _mm512_fmsub_ps(c4, s12, s34));  // -5 v0 + 4 s12 - s34
  out[3] = _mm512_fnmadd_ps(c5, v[5], _mm512_fmsub_ps(c2, d34, d12));  // -d12 + 2 d34 - 5 v5
  out[4] = _mm512_add_ps(_mm512_sub_ps(v[0], s12), s34);               // v0 - s12 + s34
  out[5] = v[5];
}
#endif

}  // namespace nn::kernels::winograd
