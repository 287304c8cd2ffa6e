// Fused bias + leaky ReLU + gain: forward, backward (first and second order), one capability.
#pragma once

#include "vec_common.h"

namespace aigc_sdk {
namespace cpu {
namespace CPU_CAPABILITY {
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

}  // namespace CPU_CAPABILITY
}  // namespace cpu
}  // namespace aigc_sdk
