// Interface between the dtype/layout-agnostic op entry points (ops_cpu.cpp) and the kernel bodies
// (kernels_impl.h), which are compiled once per CPU capability (kernels_<cap>.cpp) and picked at
// run time, as ATen does for its own kernels: at::vec::Vectorized only emits SIMD code when the
// translation unit is compiled for that instruction set.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>

namespace aigc_sdk {
namespace cpu {

// y = leaky_relu(x + bias[c], slope) * scale (then clamped) on a dense buffer of n elements whose
// channel of flat index i is (i / inner) % channels.
struct LReLUParams {
  int64_t n = 0;
  int64_t inner = 1;
  int64_t channels = 1;
  double slope = 0.2;
  double scale = 1.0;
  bool has_clamp = false;
  double clamp = 0.0;
  // Backward only: grad is a single value broadcast to all n elements.
  bool scalar_grad = false;
};

// Reparameterized sampling on contiguous buffers of n elements, rows of `row` elements (last dim).
struct ReparamParams {
  int64_t n = 0;
  int64_t row = 1;
  uint64_t seed = 0;
  uint64_t offset = 0;
};

struct KernelTable {
  const char* name;
  // bias: accumulation-type array (float, or double for double inputs) of `channels` values or null.
  void (*lrelu_fwd)(c10::ScalarType, const void* x, void* y, const void* bias, const LReLUParams&);
  // grad_x = grad * act'(x + bias) (bias as in lrelu_fwd, or null); grad_bias (accumulation type,
  // `channels` values) is written when non-null.
  void (*lrelu_bwd)(c10::ScalarType, const void* grad, const void* x, const void* bias, void* grad_x,
                    void* grad_bias, const LReLUParams&);
  // kl (one value per row, dtype of mu) is written when non-null.
  void (*reparam_fwd)(c10::ScalarType, const void* mu, const void* logvar, void* z, void* kl,
                      const ReparamParams&);
  // With grad_kl (one value per row) non-null, mu and grad_mu must be non-null too.
  void (*reparam_bwd)(c10::ScalarType, const void* grad_z, const void* grad_kl, const void* mu,
                      const void* logvar, void* grad_mu, void* grad_logvar, const ReparamParams&);
  // The float32 normals of elements [start, start + n) of the stream (seed, offset).
  void (*normal)(float* out, int64_t start, int64_t n, uint64_t seed, uint64_t offset);
};

const KernelTable& kernel_table_DEFAULT();
const KernelTable& kernel_table_AVX2();
const KernelTable& kernel_table_AVX512();

}  // namespace cpu
}  // namespace aigc_sdk
