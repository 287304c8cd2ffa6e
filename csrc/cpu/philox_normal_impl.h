// Standard normals from the Philox counter stream (Box-Muller), one capability.
#pragma once

#include "vec_common.h"

namespace aigc_sdk {
namespace cpu {
namespace CPU_CAPABILITY {
// ---------------------------------------------------------------- Philox normals

using philox::kBlockElems;

// Box-Muller: n0 = r cos(2 pi t), n1 = r sin(2 pi t) with r = sqrt(-2 log u), t in turns. The
// quadrant of t comes straight from the angle word's top bits (philox::turns), so sin/cos are
// Taylor polynomials on [-pi/4, pi/4] (error below 1e-9 before rounding): much cheaper than a
// general-argument vector sincos.
// log(m * 2^e) for m in [1, 2) (Cephes logf polynomial, ~1 ulp): inlined, unlike the Sleef call,
// and without special-case handling we do not need (u is never 0, negative or inf here).
inline Vectorized<float> log_mant_exp(Vectorized<float> m, Vectorized<float> e) {
  using V = Vectorized<float>;
  const V big = m > V(1.41421356237f);
  m = V::blendv(m, m * V(0.5f), big);  // [sqrt(1/2), sqrt(2))
  e = e + (big & V(1.0f));
  const V x = m - V(1.0f);
  const V z = x * x;
  V p(7.0376836292e-2f);
  p = at::vec::fmadd(p, x, V(-1.1514610310e-1f));
  p = at::vec::fmadd(p, x, V(1.1676998740e-1f));
  p = at::vec::fmadd(p, x, V(-1.2420140846e-1f));
  p = at::vec::fmadd(p, x, V(1.4249322787e-1f));
  p = at::vec::fmadd(p, x, V(-1.6668057665e-1f));
  p = at::vec::fmadd(p, x, V(2.0000714765e-1f));
  p = at::vec::fmadd(p, x, V(-2.4999993993e-1f));
  p = at::vec::fmadd(p, x, V(3.3333331174e-1f));
  V y = x * z * p;
  y = at::vec::fmadd(e, V(-2.12194440e-4f), y);
  y = at::vec::fmadd(z, V(-0.5f), y);
  return at::vec::fmadd(e, V(0.693359375f), x + y);
}

// log(u) for a normal float u > 0: only the mantissa/exponent split differs per capability.
#if defined(CPU_CAPABILITY_AVX512)
inline Vectorized<float> log_pos(const Vectorized<float>& uv) {
  const __m512 u = uv;
  return log_mant_exp(Vectorized<float>(_mm512_getmant_ps(u, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src)),
                      Vectorized<float>(_mm512_getexp_ps(u)));
}
#elif defined(CPU_CAPABILITY_AVX2)
// AVX2 has no getmant/getexp: integer ops on the bits (u >= 2^-32, so the exponent is never 0).
inline Vectorized<float> log_pos(const Vectorized<float>& uv) {
  const __m256i bits = _mm256_castps_si256(uv);
  const __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127)));
  const __m256 m = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007FFFFF)), _mm256_set1_epi32(0x3F800000)));
  return log_mant_exp(Vectorized<float>(m), Vectorized<float>(e));
}
#else
inline Vectorized<float> log_pos(const Vectorized<float>& u) {
  return u.log();
}
#endif

// Box-Muller pair from u in (0, 1) and the angle of philox::turns, given as x in [-pi/4, pi/4)
// plus the quadrant q (angle = q pi/2 + x) in mask form: `swap` is all-ones where q is odd,
// `cflip` / `sflip` hold the sign bit where cos / sin change sign (q in {1, 2} / q in {2, 3}).
// n0 = r cos(angle), n1 = r sin(angle), r = sqrt(-2 log u).
inline void box_muller(const Vectorized<float>& u, const Vectorized<float>& x, const Vectorized<float>& swap,
                       const Vectorized<float>& cflip, const Vectorized<float>& sflip, float* o0, float* o1) {
  using V = Vectorized<float>;
  const V r = (log_pos(u) * V(-2.0f)).sqrt();
  const V x2 = x * x;
  // Taylor polynomials on [-pi/4, pi/4], error below 1e-9 before rounding:
  // sin(x) = x (1 - x^2/3! + x^4/5! - x^6/7! + x^8/9!), cos(x) = 1 - x^2/2! + ... - x^10/10!
  V s = at::vec::fmadd(x2, V(1.0f / 362880.0f), V(-1.0f / 5040.0f));
  s = at::vec::fmadd(x2, s, V(1.0f / 120.0f));
  s = at::vec::fmadd(x2, s, V(-1.0f / 6.0f));
  s = at::vec::fmadd(x2 * x, s, x);
  V c = at::vec::fmadd(x2, V(-1.0f / 3628800.0f), V(1.0f / 40320.0f));
  c = at::vec::fmadd(x2, c, V(-1.0f / 720.0f));
  c = at::vec::fmadd(x2, c, V(1.0f / 24.0f));
  c = at::vec::fmadd(x2, c, V(-0.5f));
  c = at::vec::fmadd(x2, c, V(1.0f));
  // (cos, sin)(x + q pi/2) = q0 (c, s), q1 (-s, c), q2 (-c, -s), q3 (s, -c).
  (r * (V::blendv(c, s, swap) ^ cflip)).store(o0);
  (r * (V::blendv(s, c, swap) ^ sflip)).store(o1);
}

constexpr float kTwoPiOver2p24 = 6.2831853071795864769f / 16777216.0f;

// The 64 normals of block `blk` (16 counters x 4 words), in element order.
inline void normal_block(const philox::RoundKeys& rk, uint64_t offset, int64_t blk, float* out) {
  const uint64_t g0 = static_cast<uint64_t>(blk) * 16u;  // multiple of 16: lanes never carry
#if defined(CPU_CAPABILITY_AVX512)
  __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(g0))),
                                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  __m512i c1 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(g0 >> 32)));
  __m512i c2 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(offset)));
  __m512i c3 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(offset >> 32)));
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(philox::kM0));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(philox::kM1));
  // 32x32 -> 64-bit products of the even lanes and of the odd lanes (moved down by a shuffle), then
  // the hi/lo words put back in place with masked shuffles (no shifts or blends: 5 ops per product).
  auto mulhilo = [](__m512i a, __m512i m, __m512i& hi, __m512i& lo) {
    const __m512i pe = _mm512_mul_epu32(a, m);
    const __m512i po = _mm512_mul_epu32(_mm512_shuffle_epi32(a, static_cast<_MM_PERM_ENUM>(0xF5)), m);
    hi = _mm512_mask_shuffle_epi32(po, 0x5555, pe, static_cast<_MM_PERM_ENUM>(0xF5));
    lo = _mm512_mask_shuffle_epi32(pe, 0xAAAA, po, static_cast<_MM_PERM_ENUM>(0xA0));
  };
  for (int r = 0; r < philox::kRounds; ++r) {
    __m512i hi0, lo0, hi1, lo1;
    mulhilo(c0, m0, hi0, lo0);
    mulhilo(c2, m1, hi1, lo1);
    // three-way xor
    const __m512i n0 = _mm512_ternarylogic_epi32(hi1, c1, _mm512_set1_epi32(static_cast<int>(rk.k0[r])), 0x96);
    const __m512i n2 = _mm512_ternarylogic_epi32(hi0, c3, _mm512_set1_epi32(static_cast<int>(rk.k1[r])), 0x96);
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  const __m512 s31 = _mm512_set1_ps(4.656612873077393e-10f), h32 = _mm512_set1_ps(2.3283064365386963e-10f);
  const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  auto uni = [&](__m512i w) { return _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(w, 1)), s31, h32); };
  auto pair = [&](__m512i wu, __m512i wt, float* o0, float* o1) {
    const __m512i j = _mm512_and_si512(_mm512_srli_epi32(wt, 8), _mm512_set1_epi32(0x3FFFFF));
    const __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(j, _mm512_set1_epi32(1 << 21))),
                                   _mm512_set1_ps(kTwoPiOver2p24));
    const __m512i w2 = _mm512_slli_epi32(wt, 1);
    box_muller(Vectorized<float>(uni(wu)), Vectorized<float>(x),
               Vectorized<float>(_mm512_castsi512_ps(_mm512_srai_epi32(w2, 31))),
               Vectorized<float>(_mm512_castsi512_ps(_mm512_and_si512(_mm512_xor_si512(wt, w2), sign))),
               Vectorized<float>(_mm512_castsi512_ps(_mm512_and_si512(wt, sign))), o0, o1);
  };
  pair(c0, c1, out, out + 16);
  pair(c2, c3, out + 32, out + 48);
#elif defined(CPU_CAPABILITY_AVX2)
  // The 16 counters as two halves of 8 lanes; half h holds lanes 8h..8h+7 of every word.
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(philox::kM0));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(philox::kM1));
  // 32x32 -> 64-bit products of the even lanes and of the odd lanes (shifted down), then the hi
  // words put back in place with a blend; the low words come from one 32-bit multiply.
  auto mulhilo = [](__m256i a, __m256i m, __m256i& hi, __m256i& lo) {
    const __m256i pe = _mm256_mul_epu32(a, m);
    const __m256i po = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    hi = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
    lo = _mm256_mullo_epi32(a, m);
  };
  const __m256 s31 = _mm256_set1_ps(4.656612873077393e-10f), h32 = _mm256_set1_ps(2.3283064365386963e-10f);
  const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
  auto uni = [&](__m256i w) { return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(w, 1)), s31, h32); };
  auto pair = [&](__m256i wu, __m256i wt, float* o0, float* o1) {
    const __m256i j = _mm256_and_si256(_mm256_srli_epi32(wt, 8), _mm256_set1_epi32(0x3FFFFF));
    const __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(j, _mm256_set1_epi32(1 << 21))),
                                   _mm256_set1_ps(kTwoPiOver2p24));
    const __m256i w2 = _mm256_slli_epi32(wt, 1);
    box_muller(Vectorized<float>(uni(wu)), Vectorized<float>(x),
               Vectorized<float>(_mm256_castsi256_ps(_mm256_srai_epi32(w2, 31))),
               Vectorized<float>(_mm256_castsi256_ps(_mm256_and_si256(_mm256_xor_si256(wt, w2), sign))),
               Vectorized<float>(_mm256_castsi256_ps(_mm256_and_si256(wt, sign))), o0, o1);
  };
  // Both halves advance round by round together: one half's Philox chain is latency-bound
  // (multiply -> shift -> blend -> xor every round), two interleaved keep the SIMD units busy.
  __m256i c[2][4];
  for (int h = 0; h < 2; ++h) {
    const uint32_t base = static_cast<uint32_t>(g0) + static_cast<uint32_t>(8 * h);
    c[h][0] = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(base)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    c[h][1] = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(g0 >> 32)));
    c[h][2] = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(offset)));
    c[h][3] = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(offset >> 32)));
  }
  for (int r = 0; r < philox::kRounds; ++r) {
    const __m256i k0 = _mm256_set1_epi32(static_cast<int>(rk.k0[r]));
    const __m256i k1 = _mm256_set1_epi32(static_cast<int>(rk.k1[r]));
    for (int h = 0; h < 2; ++h) {
      __m256i hi0, lo0, hi1, lo1;
      mulhilo(c[h][0], m0, hi0, lo0);
      mulhilo(c[h][2], m1, hi1, lo1);
      c[h][0] = _mm256_xor_si256(_mm256_xor_si256(hi1, c[h][1]), k0);
      c[h][1] = lo1;
      c[h][2] = _mm256_xor_si256(_mm256_xor_si256(hi0, c[h][3]), k1);
      c[h][3] = lo0;
    }
  }
  for (int h = 0; h < 2; ++h) {
    pair(c[h][0], c[h][1], out + 8 * h, out + 16 + 8 * h);
    pair(c[h][2], c[h][3], out + 32 + 8 * h, out + 48 + 8 * h);
  }
#else
  // Portable path: scalar Philox, then the same Box-Muller on whatever Vectorized<float> is here.
  alignas(64) uint32_t w[4][16];
  for (int l = 0; l < 16; ++l) {
    const uint64_t gi = g0 + static_cast<uint64_t>(l);
    const philox::U32x4 r =
        philox::philox4x32_10(static_cast<uint32_t>(gi), static_cast<uint32_t>(gi >> 32), static_cast<uint32_t>(offset),
                              static_cast<uint32_t>(offset >> 32), rk.k0[0], rk.k1[0]);
    w[0][l] = r.v[0];
    w[1][l] = r.v[1];
    w[2][l] = r.v[2];
    w[3][l] = r.v[3];
  }
  using V = Vectorized<float>;
  alignas(64) float u[16], x[16], swap[16], cflip[16], sflip[16];
  for (int pr = 0; pr < 2; ++pr) {
    for (int l = 0; l < 16; ++l) {
      const uint32_t wt = w[2 * pr + 1][l];
      u[l] = philox::uniform_open(w[2 * pr][l]);
      x[l] = static_cast<float>(static_cast<int32_t>((wt >> 8) & 0x3FFFFFu) - (1 << 21)) * kTwoPiOver2p24;
      const uint32_t sw = (wt & 0x40000000u) ? 0xFFFFFFFFu : 0u;
      const uint32_t cf = (wt ^ (wt << 1)) & 0x80000000u;
      const uint32_t sf = wt & 0x80000000u;
      std::memcpy(&swap[l], &sw, 4);
      std::memcpy(&cflip[l], &cf, 4);
      std::memcpy(&sflip[l], &sf, 4);
    }
    for (int l = 0; l < 16; l += V::size()) {
      box_muller(V::loadu(u + l), V::loadu(x + l), V::loadu(swap + l), V::loadu(cflip + l), V::loadu(sflip + l),
                 out + 32 * pr + l, out + 32 * pr + 16 + l);
    }
  }
#endif
}

// Normals of elements [start, start + n).
void normal(float* out, int64_t start, int64_t n, uint64_t seed, uint64_t offset) {
  const philox::RoundKeys rk = philox::round_keys(seed);
  alignas(64) float tmp[kBlockElems];
  int64_t i = start;
  const int64_t end = start + n;
  while (i < end) {
    const int64_t blk = i / kBlockElems;
    const int64_t within = i - blk * kBlockElems;
    const int64_t take = std::min(end - i, kBlockElems - within);
    if (within == 0 && take == kBlockElems) {
      normal_block(rk, offset, blk, out + (i - start));
    } else {
      normal_block(rk, offset, blk, tmp);
      std::copy(tmp + within, tmp + within + take, out + (i - start));
    }
    i += take;
  }
}

void normal_parallel(float* out, int64_t start, int64_t n, uint64_t seed, uint64_t offset) {
  at::parallel_for(0, n, kGrain, [&](int64_t b, int64_t e) { normal(out + b, start + b, e - b, seed, offset); });
}

}  // namespace CPU_CAPABILITY
}  // namespace cpu
}  // namespace aigc_sdk
