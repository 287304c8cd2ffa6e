// Reparameterised Gaussian sampling z = mu + exp(logvar / 2) * eps with eps recomputed in backward,
// and the optional fused KL, one capability.
#pragma once

#include "philox_normal_impl.h"
#include "vec_common.h"

namespace aigc_sdk {
namespace cpu {
namespace CPU_CAPABILITY {
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
}  // namespace cpu
}  // namespace aigc_sdk
