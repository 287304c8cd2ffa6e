// Philox4x32-10 counter-based RNG (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC'11), shared by the CPU and CUDA kernels so both produce the same stream definition.
//
// Stream layout used by aigc_sdk::reparameterize (see docs/ops.md):
//   key     = (lo32(seed), hi32(seed))
//   counter = (lo32(g), hi32(g), lo32(offset), hi32(offset)) for counter index g
// Counter g yields 4 words w0..w3; with blk = g / 16 and lane = g % 16 they become the normals of
// elements 64*blk + 16*k + lane (k = 0..3): (w0, w1) and (w2, w3) are Box-Muller pairs. The element
// -> counter map depends only on the element index, so results never depend on thread count,
// vector width or the device's launch configuration.
#pragma once

#include <cstdint>

#if defined(__CUDACC__) || defined(__HIPCC__)
#define AIGC_HD __host__ __device__ __forceinline__
#else
#define AIGC_HD inline
#endif

namespace aigc_sdk {
namespace philox {

constexpr uint32_t kM0 = 0xD2511F53u;
constexpr uint32_t kM1 = 0xCD9E8D57u;
constexpr uint32_t kW0 = 0x9E3779B9u;  // golden ratio
constexpr uint32_t kW1 = 0xBB67AE85u;  // sqrt(3) - 1
constexpr int kRounds = 10;
// Elements covered by one block of 16 counters (16 lanes x 4 words).
constexpr int64_t kBlockElems = 64;

struct U32x4 {
  uint32_t v[4];
};

AIGC_HD void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

// One Philox4x32-10 evaluation: returns the 4 random words for (counter, key).
AIGC_HD U32x4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
#pragma unroll
  for (int r = 0; r < kRounds; ++r) {
    if (r > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kM0, c0, hi0, lo0);
    mulhilo(kM1, c2, hi1, lo1);
    const uint32_t n0 = hi1 ^ c1 ^ k0;
    const uint32_t n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  return U32x4{{c0, c1, c2, c3}};
}

// Uniform in (0, 1), never 0, from the top 31 bits of a word: fine resolution near 0 keeps the
// Box-Muller tail out to ~6.7 sigma.
AIGC_HD float uniform_open(uint32_t w) {
  return static_cast<float>(static_cast<int32_t>(w >> 1)) * 4.656612873077393e-10f /* 2^-31 */ +
         2.3283064365386963e-10f /* 2^-32 */;
}

// Angle in turns, uniform in [-1/8, 7/8), from the top 24 bits: exact in float. The -1/8 shift
// lets the CPU kernels read the quadrant straight from the top 2 bits (angle = q/4 + x with
// x in [-1/8, 1/8) turns from the next 22 bits), so no argument reduction is needed.
AIGC_HD float turns(uint32_t w) {
  return static_cast<float>(static_cast<int32_t>(w >> 8) - (1 << 21)) * (1.0f / 16777216.0f);
}

// The 10 round keys of a Philox4x32-10 key, computed once per call instead of once per block.
struct RoundKeys {
  uint32_t k0[kRounds];
  uint32_t k1[kRounds];
};

AIGC_HD RoundKeys round_keys(uint64_t seed) {
  RoundKeys rk{};
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int r = 0; r < kRounds; ++r) {
    rk.k0[r] = k0;
    rk.k1[r] = k1;
    k0 += kW0;
    k1 += kW1;
  }
  return rk;
}

// Element index -> (counter index, word index). Inverse of the layout described above.
AIGC_HD void locate(int64_t elem, uint64_t& counter, int& word) {
  const int64_t blk = elem >> 6;
  const int within = static_cast<int>(elem & 63);
  word = within >> 4;
  counter = static_cast<uint64_t>(blk) * 16u + static_cast<uint64_t>(within & 15);
}

}  // namespace philox
}  // namespace aigc_sdk
