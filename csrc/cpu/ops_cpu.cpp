// CPU implementations of the aigc_sdk ops: argument checks, layout handling, generator use, and
// run-time selection of the kernel bodies compiled per CPU capability.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/Generator.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "../ops_common.h"
#include "kernels.h"
#include "output_pool.h"

namespace aigc_sdk {
namespace cpu {

namespace {

bool cpu_has(const char* feature) {
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
  if (std::strcmp(feature, "avx512") == 0) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  }
  if (std::strcmp(feature, "avx2") == 0) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
#else
  (void)feature;
#endif
  return false;
}

// Best capability built in and supported by this CPU, lowered (never raised) by ATEN_CPU_CAPABILITY
// like ATen's own dispatch.
const KernelTable& select_table() {
  const char* env = std::getenv("ATEN_CPU_CAPABILITY");
  const std::string want = env == nullptr ? "" : std::string(env);
  const bool allow512 = want.empty() || want == "avx512" || want == "AVX512";
  const bool allow2 = allow512 || want == "avx2" || want == "AVX2";
#if defined(AIGC_HAVE_AVX512)
  if (allow512 && cpu_has("avx512")) {
    return kernel_table_AVX512();
  }
#endif
#if defined(AIGC_HAVE_AVX2)
  if (allow2 && cpu_has("avx2")) {
    return kernel_table_AVX2();
  }
#endif
  (void)allow2;
  return kernel_table_DEFAULT();
}

const KernelTable& table() {
  static const KernelTable& t = select_table();
  return t;
}

at::Tensor lrelu_fwd(const at::Tensor& x_, const std::optional<at::Tensor>& bias, double slope, double scale,
                     int64_t dim, std::optional<double> clamp) {
  const int64_t d = check_lrelu_args(x_, bias, slope, scale, dim, clamp);
  const at::Tensor x = dense(x_);
  at::Tensor y = empty_output(x);
  if (x.numel() == 0) {
    return y;
  }
  const ChannelMap cm = channel_map(x, d);
  LReLUParams p;
  p.n = x.numel();
  p.inner = cm.inner;
  p.channels = cm.channels;
  p.slope = slope;
  p.scale = scale;
  p.has_clamp = clamp.has_value();
  p.clamp = clamp.value_or(0.0);
  at::Tensor b;
  if (bias.has_value() && bias->defined()) {
    b = bias->to(acc_type(x.scalar_type())).contiguous();
  }
  table().lrelu_fwd(x.scalar_type(), x.const_data_ptr(), y.mutable_data_ptr(),
                    b.defined() ? b.const_data_ptr() : nullptr, p);
  return y;
}

std::tuple<at::Tensor, at::Tensor> lrelu_bwd(const at::Tensor& grad, const at::Tensor& x_,
                                             const std::optional<at::Tensor>& bias, double slope, double scale,
                                             int64_t dim, std::optional<double> clamp, bool bias_grad) {
  const int64_t d = check_lrelu_bwd_args(grad, x_, bias, slope, scale, dim, clamp);
  const at::Tensor x = dense(x_);
  // A gradient broadcast from one value (e.g. the expand of y.sum()'s backward) is read as a scalar
  // instead of being materialised.
  const bool scalar_grad = x.numel() > 1 && std::all_of(grad.strides().begin(), grad.strides().end(),
                                                        [](int64_t st) { return st == 0; });
  const at::Tensor g = scalar_grad ? grad.as_strided({1}, {1}).to(x.scalar_type())
                                   : like_layout(grad.to(x.scalar_type()), x);
  at::Tensor gx = empty_output(x);
  const ChannelMap cm = channel_map(x, d);
  const auto acc_opts = x.options().dtype(acc_type(x.scalar_type()));
  const int64_t nb = bias_grad ? (x.dim() == 0 ? 1 : x.size(d)) : 0;
  if (x.numel() == 0) {
    return {gx, at::zeros({nb}, acc_opts)};
  }
  at::Tensor gb = at::empty({nb}, acc_opts);  // fully written by the kernel
  at::Tensor b;
  if (bias.has_value() && bias->defined()) {
    b = bias->to(acc_type(x.scalar_type())).contiguous();
  }
  LReLUParams p;
  p.scalar_grad = scalar_grad;
  p.n = x.numel();
  p.inner = cm.inner;
  p.channels = cm.channels;
  p.slope = slope;
  p.scale = scale;
  p.has_clamp = clamp.has_value();
  p.clamp = clamp.value_or(0.0);
  table().lrelu_bwd(x.scalar_type(), g.const_data_ptr(), x.const_data_ptr(), b.defined() ? b.const_data_ptr() : nullptr,
                    gx.mutable_data_ptr(), bias_grad ? gb.mutable_data_ptr() : nullptr, p);
  return {gx, gb};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> reparam_fwd(const at::Tensor& mu_, const at::Tensor& logvar_,
                                                           std::optional<at::Generator> generator,
                                                           bool return_kl) {
  check_reparam_args(mu_, logvar_);
  const at::Tensor mu = mu_.contiguous();
  const at::Tensor lv = logvar_.contiguous();
  at::Tensor z = empty_output(mu);
  at::Tensor kl = at::empty(kl_shape(mu, return_kl), mu.options());
  uint64_t seed;
  {
    // A fresh 64-bit key per call from the torch generator: manual_seed reproduces, and successive
    // calls never share a stream.
    auto* gen = at::get_generator_or_default<at::CPUGeneratorImpl>(generator, at::detail::getDefaultCPUGenerator());
    std::lock_guard<std::mutex> lock(gen->mutex_);
    seed = gen->random64();
  }
  at::Tensor st = make_rng_state(seed, 0);
  const int64_t row = mu.dim() == 0 ? 1 : mu.size(-1);
  if (return_kl && (mu.numel() == 0 || row == 0)) {
    kl.zero_();
  }
  if (mu.numel() == 0) {
    return {z, kl, st};
  }
  ReparamParams p;
  p.n = mu.numel();
  p.row = row;
  p.seed = seed;
  p.offset = 0;
  table().reparam_fwd(mu.scalar_type(), mu.const_data_ptr(), lv.const_data_ptr(), z.mutable_data_ptr(),
                      return_kl ? kl.mutable_data_ptr() : nullptr, p);
  return {z, kl, st};
}

std::tuple<at::Tensor, at::Tensor> reparam_bwd(const at::Tensor& grad_z, const std::optional<at::Tensor>& grad_kl,
                                               const std::optional<at::Tensor>& mu_, const at::Tensor& logvar_,
                                               const at::Tensor& rng_state) {
  check_reparam_bwd_args(grad_z, grad_kl, mu_, logvar_);
  const auto [seed, offset] = read_rng_state(rng_state);
  const bool kl = grad_kl.has_value() && grad_kl->defined();
  const at::Tensor lv = logvar_.contiguous();
  const at::Tensor dz = grad_z.to(lv.scalar_type()).contiguous();
  at::Tensor dlv = empty_output(lv);
  at::Tensor dmu = at::empty({0}, lv.options());
  at::Tensor mu, dkl;
  if (kl) {
    mu = mu_->to(lv.scalar_type()).contiguous();
    dkl = grad_kl->to(lv.scalar_type()).contiguous();
    dmu = empty_output(lv);
  }
  if (lv.numel() == 0) {
    return {dmu, dlv};
  }
  ReparamParams p;
  p.n = lv.numel();
  p.row = lv.dim() == 0 ? 1 : lv.size(-1);
  p.seed = seed;
  p.offset = offset;
  table().reparam_bwd(lv.scalar_type(), dz.const_data_ptr(), kl ? dkl.const_data_ptr() : nullptr,
                      kl ? mu.const_data_ptr() : nullptr, lv.const_data_ptr(), kl ? dmu.mutable_data_ptr() : nullptr,
                      dlv.mutable_data_ptr(), p);
  return {dmu, dlv};
}

at::Tensor regenerate_eps(const at::Tensor& like, const at::Tensor& rng_state) {
  const auto [seed, offset] = read_rng_state(rng_state);
  at::Tensor eps = at::empty(like.sizes(), like.options().dtype(at::kFloat).memory_format(at::MemoryFormat::Contiguous));
  if (eps.numel() > 0) {
    table().normal(eps.mutable_data_ptr<float>(), 0, eps.numel(), seed, offset);
  }
  return eps;
}

}  // namespace

std::string capability_name() {
  return table().name;
}

// Whether at::parallel_for in these kernels can use more than one thread. With ATen's OpenMP
// backend parallel_for is inlined into the caller, so this file must itself be built with OpenMP.
bool parallel_build() {
#if AT_PARALLEL_OPENMP && !defined(_OPENMP)
  return false;
#else
  return true;
#endif
}

TORCH_LIBRARY_IMPL(aigc_sdk, CPU, m) {
  m.impl("fused_leaky_relu", &lrelu_fwd);
  m.impl("fused_leaky_relu_backward", &lrelu_bwd);
  m.impl("reparameterize", &reparam_fwd);
  m.impl("reparameterize_backward", &reparam_bwd);
  m.impl("_regenerate_eps", &regenerate_eps);
}

}  // namespace cpu
}  // namespace aigc_sdk
