// CPU kernel bodies. Included by kernels_{default,avx2,avx512}.cpp, each compiled with its own
// -DCPU_CAPABILITY=... and -m flags, so everything here lives in namespace CPU_CAPABILITY (ATen's
// Vectorized does the same) and the three copies never collide.
#pragma once

#ifndef CPU_CAPABILITY
#error "compile kernels_<cap>.cpp with -DCPU_CAPABILITY=<DEFAULT|AVX2|AVX512>"
#endif

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#if defined(CPU_CAPABILITY_AVX512) || defined(CPU_CAPABILITY_AVX2)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "../philox.h"
#include "kernels.h"

#define AIGC_CONCAT_(a, b) a##b
#define AIGC_CONCAT(a, b) AIGC_CONCAT_(a, b)

namespace aigc_sdk {
namespace cpu {
namespace CPU_CAPABILITY {

using at::vec::Vectorized;

template <typename T>
constexpr bool kReduced = std::is_same_v<T, c10::BFloat16> || std::is_same_v<T, c10::Half>;

// Accumulation/compute type: float for float and the half types, double for double.
template <typename T>
using acc_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

// Loads/stores kStep elements of T as kV vectors of acc_t<T> (two float vectors for half types).
template <typename T, typename Enable = void>
struct IO {
  using A = T;
  using V = Vectorized<A>;
  static constexpr int64_t kV = 1;
  static constexpr int64_t kStep = V::size();
  static inline void load(const T* p, V* v, int64_t cnt) {
    v[0] = cnt == kStep ? V::loadu(p) : V::loadu(p, cnt);
  }
  static inline void store(T* p, const V* v, int64_t cnt) {
    if (cnt == kStep) {
      v[0].store(p);
    } else {
      v[0].store(p, cnt);
    }
  }
};

template <typename T>
struct IO<T, std::enable_if_t<kReduced<T>>> {
  using A = float;
  using V = Vectorized<float>;
  static constexpr int64_t kV = 2;
  static constexpr int64_t kStep = Vectorized<T>::size();
  static_assert(kStep == 2 * V::size(), "half vector must hold two float vectors");
  static inline void load(const T* p, V* v, int64_t cnt) {
    auto r = cnt == kStep ? Vectorized<T>::loadu(p) : Vectorized<T>::loadu(p, cnt);
    auto [a, b] = at::vec::convert_to_float<T>(r);
    v[0] = a;
    v[1] = b;
  }
  static inline void store(T* p, const V* v, int64_t cnt) {
    auto r = at::vec::convert_from_float<T>(v[0], v[1]);
    if (cnt == kStep) {
      r.store(p);
    } else {
      r.store(p, cnt);
    }
  }
};

// Loads kV acc vectors from an acc array (zero-filled past cnt).
template <typename V>
inline void load_acc(const typename V::value_type* p, V* v, int64_t kv, int64_t cnt) {
  for (int64_t k = 0; k < kv; ++k) {
    const int64_t c = std::min<int64_t>(V::size(), std::max<int64_t>(0, cnt - k * V::size()));
    v[k] = c == V::size() ? V::loadu(p + k * V::size()) : V::loadu(p + k * V::size(), c);
  }
}

// ---------------------------------------------------------------- fused bias + leaky ReLU

// step(i, kStep) over the whole vectors of [0, len), then step(i, rest) once for the tail; the
// constant count lets the loads and stores of the main loop compile without masks.
template <int64_t kStep, typename F>
inline void for_steps(int64_t len, const F& step) {
  int64_t i = 0;
  for (; i + kStep <= len; i += kStep) {
    step(i, kStep);
  }
  if (i < len) {
    step(i, len - i);
  }
}

// Segments shorter than this use an expanded bias row (vector bias) instead of a scalar bias.
constexpr int64_t kMinScalarRun = 16;
constexpr int64_t kGrain = 32768;

template <typename A>
struct LConst {
  using V = Vectorized<A>;
  V pos, neg, lo, hi, zero;
  explicit LConst(const LReLUParams& p)
      : pos(static_cast<A>(p.scale)),
        neg(static_cast<A>(p.slope * p.scale)),
        lo(static_cast<A>(-p.clamp)),
        hi(static_cast<A>(p.clamp)),
        zero(A(0)) {}
};

template <bool kClamp, typename V>
inline V act(const V& t, const LConst<typename V::value_type>& k) {
  // NaN fails t > 0 and takes the negative branch, which keeps it NaN like the reference.
  V y = V::blendv(t * k.neg, t * k.pos, t > k.zero);
  if constexpr (kClamp) {
    y = at::vec::clamp(y, k.lo, k.hi);
  }
  return y;
}

// Derivative of the activation at the pre-activation t = x + bias in the compute type (not from the
// output: a half output rounds a tiny positive t to 0); zero where the output was clamped, judged
// on the unrounded t * m that act() computes.
template <bool kClamp, typename V>
inline V dact(const V& t, const LConst<typename V::value_type>& k) {
  V m = V::blendv(k.neg, k.pos, t > k.zero);
  if constexpr (kClamp) {
    m = m & ((t * m).abs() < k.hi);
  }
  return m;
}

// Walks the flat range [b, e) by bias segments: fs(begin, len, bias_value) for long channel runs,
// fv(begin, len, bias_row_ptr) with an expanded bias row of period inner * channels otherwise.
template <typename A, typename FS, typename FV>
inline void walk(int64_t b, int64_t e, const LReLUParams& p, const A* bias, const A* brow, const FS& fs,
                 const FV& fv) {
  if (bias == nullptr) {
    fs(b, e - b, A(0));
  } else if (brow == nullptr) {
    // One division for the first segment, then the row and channel advance incrementally.
    int64_t r = b / p.inner;
    int64_t c = r % p.channels;
    for (int64_t i = b; i < e;) {
      const int64_t end = std::min(e, (r + 1) * p.inner);
      fs(i, end - i, bias[c]);
      i = end;
      ++r;
      c = c + 1 == p.channels ? 0 : c + 1;
    }
  } else {
    const int64_t period = p.inner * p.channels;
    for (int64_t i = b; i < e;) {
      const int64_t j = i % period;
      const int64_t end = std::min(e, i - j + period);
      fv(i, end - i, brow + j);
      i = end;
    }
  }
}

// Bias row repeated `inner` times per channel, padded for whole-vector loads.
template <typename A>
std::vector<A> expand_bias(const A* bias, const LReLUParams& p) {
  const int64_t period = p.inner * p.channels;
  std::vector<A> row(period + 64, A(0));
  for (int64_t c = 0; c < p.channels; ++c) {
    std::fill(row.begin() + c * p.inner, row.begin() + (c + 1) * p.inner, bias[c]);
  }
  return row;
}

template <typename T, bool kClamp>
void lrelu_fwd_impl(const T* x, T* y, const acc_t<T>* bias, const LReLUParams& p) {
  using A = acc_t<T>;
  using io = IO<T>;
  using V = Vectorized<A>;
  const LConst<A> k(p);
  std::vector<A> row;
  if (bias != nullptr && p.inner < kMinScalarRun) {
    row = expand_bias(bias, p);
  }
  const A* brow = row.empty() ? nullptr : row.data();
  // Hot loops work on local copies of the constants and pointers: the vector stores may alias
  // anything reachable through the closures, which would otherwise be reloaded every iteration.
  auto fs = [&](int64_t s, int64_t len, A b) {
    const LConst<A> kl = k;
    const T* const xs = x + s;
    T* const ys = y + s;
    const V bv(b);
    auto step = [&](int64_t i, int64_t cnt) {
      V v[io::kV];
      io::load(xs + i, v, cnt);
      for (int64_t q = 0; q < io::kV; ++q) {
        v[q] = act<kClamp>(v[q] + bv, kl);
      }
      io::store(ys + i, v, cnt);
    };
    for_steps<io::kStep>(len, step);
  };
  auto fv = [&](int64_t s, int64_t len, const A* br) {
    const LConst<A> kl = k;
    const T* const xs = x + s;
    T* const ys = y + s;
    auto step = [&](int64_t i, int64_t cnt) {
      V v[io::kV];
      V bv[io::kV];
      io::load(xs + i, v, cnt);
      load_acc(br + i, bv, io::kV, io::kStep);  // row is padded
      for (int64_t q = 0; q < io::kV; ++q) {
        v[q] = act<kClamp>(v[q] + bv[q], kl);
      }
      io::store(ys + i, v, cnt);
    };
    for_steps<io::kStep>(len, step);
  };
  at::parallel_for(0, p.n, kGrain, [&](int64_t b, int64_t e) { walk<A>(b, e, p, bias, brow, fs, fv); });
}

template <typename T, bool kClamp, bool kScalarGrad>
void lrelu_bwd_impl(const T* g, const T* x, const acc_t<T>* bias, T* gx, acc_t<T>* gb, const LReLUParams& p) {
  using A = acc_t<T>;
  using io = IO<T>;
  using V = Vectorized<A>;
  const LConst<A> k(p);
  const V gs(kScalarGrad ? static_cast<A>(g[0]) : A(0));
  std::vector<A> row;
  if (bias != nullptr && p.inner < kMinScalarRun) {
    row = expand_bias(bias, p);
  }
  const A* brow = row.empty() ? nullptr : row.data();
  // grad at flat index idx: read from memory, or the broadcast scalar.
  auto load_g = [](const T* gp, const V& gsv, int64_t idx, V* v, int64_t cnt) {
    if constexpr (kScalarGrad) {
      for (int64_t q = 0; q < io::kV; ++q) {
        v[q] = gsv;
      }
    } else {
      io::load(gp + idx, v, cnt);
    }
  };
  // grad_x on one segment with bias value b (or, with `kRow`, the padded bias row br); returns the
  // segment's sum when `kSum` is set. Works on local copies (see lrelu_fwd_impl).
  auto seg = [&](int64_t s, int64_t len, auto sum_tag, auto row_tag, A b, const A* br) -> A {
    constexpr bool kSum = decltype(sum_tag)::value;
    constexpr bool kRow = decltype(row_tag)::value;
    const LConst<A> kl = k;
    const V gsv = gs;
    const V bv(b);
    const T* const gp = g;
    const T* const xs = x + s;
    T* const xp = gx + s;
    V acc(A(0));
    auto step = [&](int64_t i, int64_t cnt) {
      V v[io::kV];
      V t[io::kV];
      load_g(gp, gsv, s + i, v, cnt);
      io::load(xs + i, t, cnt);
      V brv[io::kV];
      if constexpr (kRow) {
        load_acc(br + i, brv, io::kV, io::kStep);  // row is padded
      }
      for (int64_t q = 0; q < io::kV; ++q) {
        if constexpr (kRow) {
          t[q] = t[q] + brv[q];
        } else {
          t[q] = t[q] + bv;
        }
        v[q] = v[q] * dact<kClamp>(t[q], kl);
        if constexpr (kSum) {
          const int64_t c = std::min<int64_t>(V::size(), std::max<int64_t>(0, cnt - q * V::size()));
          acc = acc + (c == V::size() ? v[q] : V::set(V(A(0)), v[q], c));
        }
      }
      io::store(xp + i, v, cnt);
    };
    for_steps<io::kStep>(len, step);
    if constexpr (kSum) {
      return at::vec::vec_reduce_all<A>([](V& a, V& b) { return a + b; }, acc);
    } else {
      return A(0);
    }
  };
  if (gb == nullptr) {
    auto fs = [&](int64_t s, int64_t len, A b) { seg(s, len, std::false_type{}, std::false_type{}, b, nullptr); };
    auto fv = [&](int64_t s, int64_t len, const A* br) {
      seg(s, len, std::false_type{}, std::true_type{}, A(0), br);
    };
    at::parallel_for(0, p.n, kGrain, [&](int64_t b, int64_t e) { walk<A>(b, e, p, bias, brow, fs, fv); });
    return;
  }
  // Bias gradient: fixed chunks (independent of the thread count, so results are deterministic),
  // each with its own partial sums, reduced in order at the end.
  const int64_t period = p.inner * p.channels;
  if (p.inner >= kMinScalarRun) {
    const int64_t nchunk = std::clamp<int64_t>(p.n / kGrain, 1, 64);
    const int64_t csize = (p.n + nchunk - 1) / nchunk;
    std::vector<double> part(nchunk * p.channels, 0.0);
    at::parallel_for(0, nchunk, 1, [&](int64_t cb, int64_t ce) {
      for (int64_t ck = cb; ck < ce; ++ck) {
        const int64_t e = std::min(p.n, (ck + 1) * csize);
        double* pc = part.data() + ck * p.channels;
        int64_t r = ck * csize / p.inner;
        int64_t c = r % p.channels;
        for (int64_t i = ck * csize; i < e;) {
          const int64_t end = std::min(e, (r + 1) * p.inner);
          const A b = bias == nullptr ? A(0) : bias[c];
          pc[c] += static_cast<double>(seg(i, end - i, std::true_type{}, std::false_type{}, b, nullptr));
          i = end;
          ++r;
          c = c + 1 == p.channels ? 0 : c + 1;
        }
      }
    });
    for (int64_t c = 0; c < p.channels; ++c) {
      double s = 0.0;
      for (int64_t ck = 0; ck < nchunk; ++ck) {
        s += part[ck * p.channels + c];
      }
      gb[c] = static_cast<A>(s);
    }
    return;
  }
  const int64_t nper = p.n / period;
  const int64_t nchunk =
      std::max<int64_t>(1, std::min<int64_t>({p.n / kGrain, nper, int64_t(64), (int64_t(4) << 20) / period}));
  const int64_t pchunk = (nper + nchunk - 1) / nchunk;
  const int64_t stride = period + 64;
  std::vector<A> part(nchunk * stride, A(0));
  at::parallel_for(0, nchunk, 1, [&](int64_t cb, int64_t ce) {
    V v[io::kV];
    V t[io::kV];
    V a[io::kV];
    V bv[io::kV];
    for (int64_t q = 0; q < io::kV; ++q) {
      bv[q] = V(A(0));
    }
    for (int64_t ck = cb; ck < ce; ++ck) {
      A* pc = part.data() + ck * stride;
      const int64_t pe = std::min(nper, (ck + 1) * pchunk);
      for (int64_t per = ck * pchunk; per < pe; ++per) {
        const int64_t s = per * period;
        for (int64_t i = 0; i < period; i += io::kStep) {
          const int64_t cnt = std::min(io::kStep, period - i);
          load_g(g, gs, s + i, v, cnt);
          io::load(x + s + i, t, cnt);
          if (brow != nullptr) {
            load_acc(brow + i, bv, io::kV, io::kStep);  // row is padded
          }
          load_acc(pc + i, a, io::kV, io::kStep);
          for (int64_t q = 0; q < io::kV; ++q) {
            v[q] = v[q] * dact<kClamp>(t[q] + bv[q], k);
            a[q] = a[q] + v[q];  // lanes past cnt only touch the padding
          }
          io::store(gx + s + i, v, cnt);
          for (int64_t q = 0; q < io::kV; ++q) {
            a[q].store(pc + i + q * V::size());
          }
        }
      }
    }
  });
  for (int64_t c = 0; c < p.channels; ++c) {
    double s = 0.0;
    for (int64_t ck = 0; ck < nchunk; ++ck) {
      const A* pc = part.data() + ck * stride + c * p.inner;
      for (int64_t q = 0; q < p.inner; ++q) {
        s += static_cast<double>(pc[q]);
      }
    }
    gb[c] = static_cast<A>(s);
  }
}

void lrelu_fwd(c10::ScalarType dt, const void* x, void* y, const void* bias, const LReLUParams& p) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dt, "aigc_fused_leaky_relu", [&] {
    using A = acc_t<scalar_t>;
    auto xs = static_cast<const scalar_t*>(x);
    auto ys = static_cast<scalar_t*>(y);
    auto bs = static_cast<const A*>(bias);
    if (p.has_clamp) {
      lrelu_fwd_impl<scalar_t, true>(xs, ys, bs, p);
    } else {
      lrelu_fwd_impl<scalar_t, false>(xs, ys, bs, p);
    }
  });
}

void lrelu_bwd(c10::ScalarType dt, const void* g, const void* x, const void* bias, void* gx, void* gb,
               const LReLUParams& p) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dt, "aigc_fused_leaky_relu_backward", [&] {
    using A = acc_t<scalar_t>;
    auto gs = static_cast<const scalar_t*>(g);
    auto xs = static_cast<const scalar_t*>(x);
    auto bi = static_cast<const A*>(bias);
    auto gxs = static_cast<scalar_t*>(gx);
    auto bs = static_cast<A*>(gb);
    if (p.has_clamp) {
      if (p.scalar_grad) {
        lrelu_bwd_impl<scalar_t, true, true>(gs, xs, bi, gxs, bs, p);
      } else {
        lrelu_bwd_impl<scalar_t, true, false>(gs, xs, bi, gxs, bs, p);
      }
    } else if (p.scalar_grad) {
      lrelu_bwd_impl<scalar_t, false, true>(gs, xs, bi, gxs, bs, p);
    } else {
      lrelu_bwd_impl<scalar_t, false, false>(gs, xs, bi, gxs, bs, p);
    }
  });
}

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

// ---------------------------------------------------------------- reparameterize

// exp for the standard deviation exp(logvar / 2). ATen's Vectorized::exp (Sleef, all special cases)
// cost as much as generating eps here; this is the Cephes expf scheme (n = round(x / ln 2), degree-5
// polynomial on the remainder, 2^n through the exponent bits), ~1 ulp. Vectors with any lane
// outside [-87, 88] (overflow, denormal results, inf, NaN) take Vectorized::exp, so special values
// behave exactly as before.
template <typename V>
inline V exp_fast(const V& x) {
  return x.exp();  // double (and any capability without a fast path below)
}

#if defined(CPU_CAPABILITY_AVX512) || defined(CPU_CAPABILITY_AVX2)
#if defined(CPU_CAPABILITY_AVX512)
using fvec = __m512;
using ivec = __m512i;
#define AIGC_PS(op) _mm512_##op##_ps
#define AIGC_EPI(op) _mm512_##op##_epi32
inline bool all_in(fvec x, float lo, float hi) {
  return _mm512_cmp_ps_mask(x, _mm512_set1_ps(lo), _CMP_GE_OQ) == 0xFFFF &&
         _mm512_cmp_ps_mask(x, _mm512_set1_ps(hi), _CMP_LE_OQ) == 0xFFFF;
}
inline fvec round_near(fvec x) {
  return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
inline ivec to_int(fvec x) { return _mm512_cvtps_epi32(x); }
inline fvec as_float(ivec i) { return _mm512_castsi512_ps(i); }
#else
using fvec = __m256;
using ivec = __m256i;
#define AIGC_PS(op) _mm256_##op##_ps
#define AIGC_EPI(op) _mm256_##op##_epi32
inline bool all_in(fvec x, float lo, float hi) {
  const __m256 ok = _mm256_and_ps(_mm256_cmp_ps(x, _mm256_set1_ps(lo), _CMP_GE_OQ),
                                  _mm256_cmp_ps(x, _mm256_set1_ps(hi), _CMP_LE_OQ));
  return _mm256_movemask_ps(ok) == 0xFF;
}
inline fvec round_near(fvec x) {
  return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
inline ivec to_int(fvec x) { return _mm256_cvtps_epi32(x); }
inline fvec as_float(ivec i) { return _mm256_castsi256_ps(i); }
#endif

template <>
inline Vectorized<float> exp_fast(const Vectorized<float>& xv) {
  const fvec x = xv;
  if (!all_in(x, -87.0f, 88.0f)) {
    return xv.exp();
  }
  const fvec n = round_near(AIGC_PS(mul)(x, AIGC_PS(set1)(1.44269504088896341f)));
  fvec r = AIGC_PS(fnmadd)(n, AIGC_PS(set1)(0.693359375f), x);  // x - n ln2, ln2 split in two parts
  r = AIGC_PS(fnmadd)(n, AIGC_PS(set1)(-2.12194440e-4f), r);
  fvec p = AIGC_PS(set1)(1.9875691500e-4f);
  p = AIGC_PS(fmadd)(p, r, AIGC_PS(set1)(1.3981999507e-3f));
  p = AIGC_PS(fmadd)(p, r, AIGC_PS(set1)(8.3334519073e-3f));
  p = AIGC_PS(fmadd)(p, r, AIGC_PS(set1)(4.1665795894e-2f));
  p = AIGC_PS(fmadd)(p, r, AIGC_PS(set1)(1.6666665459e-1f));
  p = AIGC_PS(fmadd)(p, r, AIGC_PS(set1)(5.0000001201e-1f));
  p = AIGC_PS(fmadd)(p, AIGC_PS(mul)(r, r), AIGC_PS(add)(r, AIGC_PS(set1)(1.0f)));
  // n in [-126, 127] here, so 2^n is a normal float: (n + 127) << 23.
  const ivec e = AIGC_EPI(slli)(AIGC_EPI(add)(to_int(n), AIGC_EPI(set1)(127)), 23);
  return Vectorized<float>(AIGC_PS(mul)(p, as_float(e)));
}
#undef AIGC_PS
#undef AIGC_EPI
#endif


constexpr int64_t kBuf = 1024;  // elements per eps buffer (stays in L1)
constexpr int64_t kRepGrain = 8192;

// eps of [start, start + len) in the compute type (converted for double).
template <typename A>
inline void eps_into(A* buf, float* fbuf, int64_t start, int64_t len, const ReparamParams& p) {
  if constexpr (std::is_same_v<A, float>) {
    normal(buf, start, len, p.seed, p.offset);
  } else {
    normal(fbuf, start, len, p.seed, p.offset);
    for (int64_t i = 0; i < len; ++i) {
      buf[i] = static_cast<A>(fbuf[i]);
    }
  }
}

template <typename A>
inline A vsum(const A* p, int64_t len) {
  using V = Vectorized<A>;
  V acc(A(0));
  int64_t i = 0;
  for (; i + V::size() <= len; i += V::size()) {
    acc = acc + V::loadu(p + i);
  }
  A s = at::vec::vec_reduce_all<A>([](V& a, V& b) { return a + b; }, acc);
  for (; i < len; ++i) {
    s += p[i];
  }
  return s;
}

template <typename T>
void reparam_fwd_impl(const T* mu, const T* lv, T* z, T* kl, const ReparamParams& p) {
  using A = acc_t<T>;
  using io = IO<T>;
  using V = Vectorized<A>;
  const V half(A(0.5)), one(A(1));
  // z (and the KL terms when kl is set) for flat elements [b, e); the KL terms go to `terms`.
  auto block = [&](int64_t b, int64_t e, A* eps, float* fbuf, A* terms) {
    eps_into<A>(eps, fbuf, b, e - b, p);
    V m[io::kV], l[io::kV], ev[io::kV];
    for (int64_t i = b; i < e; i += io::kStep) {
      const int64_t cnt = std::min(io::kStep, e - i);
      io::load(mu + i, m, cnt);
      io::load(lv + i, l, cnt);
      load_acc(eps + (i - b), ev, io::kV, cnt);
      for (int64_t q = 0; q < io::kV; ++q) {
        const V sd = exp_fast(l[q] * half);
        if (terms != nullptr) {
          // Halved terms (exact), with (0.5 * sd) * sd: sd * sd overflows float from logvar 88.7 on,
          // while the KL stays finite up to about 89.4.
          (half * (one + l[q] - m[q] * m[q]) - (half * sd) * sd).store(terms + (i - b) + q * V::size());
        }
        m[q] = m[q] + ev[q] * sd;
      }
      io::store(z + i, m, cnt);
    }
  };
  if (kl == nullptr) {
    at::parallel_for(0, p.n, kRepGrain, [&](int64_t b, int64_t e) {
      alignas(64) A eps[kBuf + 64];
      alignas(64) float fbuf[kBuf];
      for (int64_t s = b; s < e; s += kBuf) {
        block(s, std::min(e, s + kBuf), eps, fbuf, nullptr);
      }
    });
    return;
  }
  if (p.row == 0) {
    return;  // the caller zero-fills kl for an empty last dim
  }
  const int64_t rows = p.n / p.row;
  at::parallel_for(0, rows, std::max<int64_t>(1, kRepGrain / p.row), [&](int64_t rb, int64_t re) {
    alignas(64) A eps[kBuf + 64];
    alignas(64) float fbuf[kBuf];
    alignas(64) A terms[kBuf + 64];
    const int64_t e = re * p.row;
    double acc = 0.0;  // running sum of the current row
    // Blocks end at global multiples of kBuf (and at row ends), never relative to this thread's
    // first row, so every row is summed in the same pieces whatever the thread count.
    for (int64_t s = rb * p.row, se = 0; s < e; s = se) {
      se = std::min(e, (s / kBuf + 1) * kBuf);
      block(s, se, eps, fbuf, terms);
      for (int64_t i = s; i < se;) {
        const int64_t r = i / p.row;
        const int64_t rend = std::min(se, (r + 1) * p.row);
        acc += static_cast<double>(vsum<A>(terms + (i - s), rend - i));
        if (rend == (r + 1) * p.row) {
          kl[r] = static_cast<T>(-acc);  // the terms are already halved
          acc = 0.0;
        }
        i = rend;
      }
    }
  });
}

template <typename T>
void reparam_bwd_impl(const T* dz, const T* dkl, const T* mu, const T* lv, T* dmu, T* dlv,
                      const ReparamParams& p) {
  using A = acc_t<T>;
  using io = IO<T>;
  using V = Vectorized<A>;
  const V half(A(0.5)), big(A(80));
  const int64_t row = (dkl == nullptr || p.row == 0) ? std::max<int64_t>(p.n, 1) : p.row;
  at::parallel_for(0, p.n, kRepGrain, [&](int64_t b, int64_t e) {
    alignas(64) A eps[kBuf + 64];
    alignas(64) float fbuf[kBuf];
    V g[io::kV], l[io::kV], ev[io::kV], m[io::kV];
    for (int64_t s = b; s < e; s += kBuf) {
      const int64_t se = std::min(e, s + kBuf);
      eps_into<A>(eps, fbuf, s, se - s, p);
      for (int64_t i0 = s; i0 < se;) {
        // One row segment: the KL gradient is constant along it.
        const int64_t r = i0 / row;
        const int64_t rend = std::min(se, (r + 1) * row);
        const V k(dkl == nullptr ? A(0) : static_cast<A>(dkl[r]));
        for (int64_t i = i0; i < rend; i += io::kStep) {
          const int64_t cnt = std::min(io::kStep, rend - i);
          io::load(dz + i, g, cnt);
          io::load(lv + i, l, cnt);
          load_acc(eps + (i - s), ev, io::kV, cnt);
          if (dkl != nullptr) {
            io::load(mu + i, m, cnt);
          }
          for (int64_t q = 0; q < io::kV; ++q) {
            const V sd = exp_fast(l[q] * half);
            if (dkl != nullptr) {
              // d kl / d logvar = 0.5 * expm1(logvar): exact near 0 (sd * sd - 1 cancels) and, as
              // (0.5 * sd) * sd for large logvar, finite wherever the result is (sd * sd overflows
              // float from logvar 88.7 on, and the old (sd * sd - 1) * k before halving earlier).
              const V hem1 = V::blendv(half * l[q].expm1(), (half * sd) * sd, l[q] > big);
              l[q] = half * g[q] * ev[q] * sd + hem1 * k;
              m[q] = g[q] + m[q] * k;
            } else {
              l[q] = half * g[q] * ev[q] * sd;
            }
          }
          io::store(dlv + i, l, cnt);
          if (dkl != nullptr) {
            io::store(dmu + i, m, cnt);
          }
        }
        i0 = rend;
      }
    }
  });
}

void reparam_fwd(c10::ScalarType dt, const void* mu, const void* lv, void* z, void* kl, const ReparamParams& p) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dt, "aigc_reparameterize", [&] {
    reparam_fwd_impl<scalar_t>(static_cast<const scalar_t*>(mu), static_cast<const scalar_t*>(lv),
                               static_cast<scalar_t*>(z), static_cast<scalar_t*>(kl), p);
  });
}

void reparam_bwd(c10::ScalarType dt, const void* dz, const void* dkl, const void* mu, const void* lv, void* dmu,
                 void* dlv, const ReparamParams& p) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dt, "aigc_reparameterize_backward", [&] {
    reparam_bwd_impl<scalar_t>(static_cast<const scalar_t*>(dz), static_cast<const scalar_t*>(dkl),
                               static_cast<const scalar_t*>(mu), static_cast<const scalar_t*>(lv),
                               static_cast<scalar_t*>(dmu), static_cast<scalar_t*>(dlv), p);
  });
}

}  // namespace CPU_CAPABILITY

#define AIGC_STR_(x) #x
#define AIGC_STR(x) AIGC_STR_(x)

const KernelTable& AIGC_CONCAT(kernel_table_, CPU_CAPABILITY)() {
  static const KernelTable table{AIGC_STR(CPU_CAPABILITY),     CPU_CAPABILITY::lrelu_fwd,
                                 CPU_CAPABILITY::lrelu_bwd,    CPU_CAPABILITY::reparam_fwd,
                                 CPU_CAPABILITY::reparam_bwd,  CPU_CAPABILITY::normal_parallel};
  return table;
}

}  // namespace cpu
}  // namespace aigc_sdk
