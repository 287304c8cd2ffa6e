// Shared by the per-op CPU kernel headers: ATen's Vectorized, loads/stores that widen bf16/fp16 to
// float, and the capability namespace every kernel lives in (see kernels_impl.h).
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

}  // namespace CPU_CAPABILITY
}  // namespace cpu
}  // namespace aigc_sdk
