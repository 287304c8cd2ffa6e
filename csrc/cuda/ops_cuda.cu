// CUDA implementations of the aigc_sdk ops (same semantics and Philox stream layout as the CPU
// kernels; see csrc/philox.h and docs/ops.md).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <mutex>

#include "../ops_common.h"
#include "../philox.h"

namespace aigc_sdk {
namespace cuda {

namespace {

constexpr int kThreads = 256;

int64_t blocks_for(int64_t work, int64_t per_thread = 1) {
  const int64_t b = (work + kThreads * per_thread - 1) / (kThreads * per_thread);
  // Grid-stride loops cover the rest; cap keeps launch sizes sane.
  return std::max<int64_t>(1, std::min<int64_t>(b, int64_t(1) << 20));
}

template <typename T, typename A, bool kClamp>
__global__ void lrelu_fwd_kernel(const T* __restrict__ x, T* __restrict__ y, const A* __restrict__ bias, int64_t n,
                                 int64_t inner, int64_t channels, A pos, A neg, A clamp) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    A t = static_cast<A>(x[i]);
    if (bias != nullptr) {
      t += bias[(i / inner) % channels];
    }
    A v = t > A(0) ? t * pos : t * neg;
    if (kClamp) {
      // fmin/fmax drop NaN; keep it like the reference.
      v = v != v ? v : (v > clamp ? clamp : (v < -clamp ? -clamp : v));
    }
    y[i] = static_cast<T>(v);
  }
}

// The slope comes from the pre-activation t = x + bias in A, not from the output: a half output
// rounds a tiny positive t to 0. Clamped where the unrounded t * m reaches the clamp.
template <typename T, typename A, bool kClamp>
__global__ void lrelu_bwd_kernel(const T* __restrict__ g, const T* __restrict__ x, const A* __restrict__ bias,
                                 T* __restrict__ gx, int64_t n, int64_t inner, int64_t channels, A pos, A neg,
                                 A clamp) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    A t = static_cast<A>(x[i]);
    if (bias != nullptr) {
      t += bias[(i / inner) % channels];
    }
    A m = t > A(0) ? pos : neg;
    if (kClamp && !(fabs(t * m) < clamp)) {
      m = A(0);
    }
    gx[i] = static_cast<T>(static_cast<A>(g[i]) * m);
  }
}

// Counter g -> its 4 normals and the element indices they belong to.
__device__ __forceinline__ void normals4(uint64_t g, uint64_t seed, uint64_t offset, float (&v)[4], int64_t (&e)[4]) {
  const philox::U32x4 w =
      philox::philox4x32_10(static_cast<uint32_t>(g), static_cast<uint32_t>(g >> 32), static_cast<uint32_t>(offset),
                            static_cast<uint32_t>(offset >> 32), static_cast<uint32_t>(seed),
                            static_cast<uint32_t>(seed >> 32));
#pragma unroll
  for (int p = 0; p < 2; ++p) {
    const float r = sqrtf(-2.0f * logf(philox::uniform_open(w.v[2 * p])));
    float s, c;
    sincospif(2.0f * philox::turns(w.v[2 * p + 1]), &s, &c);
    v[2 * p] = r * c;
    v[2 * p + 1] = r * s;
  }
  const int64_t base = static_cast<int64_t>(g >> 4) * philox::kBlockElems + static_cast<int64_t>(g & 15);
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    e[k] = base + 16 * k;
  }
}

__host__ __device__ inline int64_t n_counters(int64_t n) {
  return (n + philox::kBlockElems - 1) / philox::kBlockElems * 16;
}

// z, and with `terms` set the halved per-element KL terms 0.5 * (1 + logvar - mu^2 - exp(logvar))
// (in the accumulation type A) from the same loads; a deterministic row sum of the terms finishes
// the KL. Halving first, with (0.5 * sd) * sd, keeps float finite where sd * sd would overflow.
template <typename T>
__global__ void reparam_fwd_kernel(const T* __restrict__ mu, const T* __restrict__ lv, T* __restrict__ z,
                                   at::opmath_type<T>* __restrict__ terms, int64_t n, uint64_t seed,
                                   uint64_t offset) {
  using A = at::opmath_type<T>;
  const int64_t nc = n_counters(n);
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < nc; g += stride) {
    float v[4];
    int64_t e[4];
    normals4(static_cast<uint64_t>(g), seed, offset, v, e);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      if (e[k] < n) {
        const A l = static_cast<A>(lv[e[k]]);
        const A m = static_cast<A>(mu[e[k]]);
        const A sd = exp(A(0.5) * l);
        z[e[k]] = static_cast<T>(m + static_cast<A>(v[k]) * sd);
        if (terms != nullptr) {
          terms[e[k]] = A(0.5) * (A(1) + l - m * m) - (A(0.5) * sd) * sd;
        }
      }
    }
  }
}

template <typename T>
__global__ void reparam_bwd_kernel(const T* __restrict__ dz, const T* __restrict__ dkl, const T* __restrict__ mu,
                                   const T* __restrict__ lv, T* __restrict__ dmu, T* __restrict__ dlv, int64_t n,
                                   int64_t row, uint64_t seed, uint64_t offset) {
  using A = at::opmath_type<T>;
  const int64_t nc = n_counters(n);
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < nc; g += stride) {
    float v[4];
    int64_t e[4];
    normals4(static_cast<uint64_t>(g), seed, offset, v, e);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int64_t i = e[k];
      if (i < n) {
        const A sd = exp(A(0.5) * static_cast<A>(lv[i]));
        const A gz = static_cast<A>(dz[i]);
        A d = A(0.5) * gz * static_cast<A>(v[k]) * sd;
        if (dkl != nullptr) {
          const A kg = static_cast<A>(dkl[i / row]);
          const A l = static_cast<A>(lv[i]);
          // 0.5 * expm1(logvar): exact near 0, and finite for large logvar where sd * sd overflows.
          d += (l > A(80) ? (A(0.5) * sd) * sd : A(0.5) * expm1(l)) * kg;
          dmu[i] = static_cast<T>(gz + static_cast<A>(mu[i]) * kg);
        }
        dlv[i] = static_cast<T>(d);
      }
    }
  }
}

__global__ void normal_kernel(float* __restrict__ out, int64_t n, uint64_t seed, uint64_t offset) {
  const int64_t nc = n_counters(n);
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < nc; g += stride) {
    float v[4];
    int64_t e[4];
    normals4(static_cast<uint64_t>(g), seed, offset, v, e);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      if (e[k] < n) {
        out[e[k]] = v[k];
      }
    }
  }
}

at::Tensor lrelu_fwd(const at::Tensor& x_, const std::optional<at::Tensor>& bias, double slope, double scale,
                     int64_t dim, std::optional<double> clamp) {
  const int64_t d = check_lrelu_args(x_, bias, slope, scale, dim, clamp);
  const c10::cuda::CUDAGuard guard(x_.device());
  const at::Tensor x = dense(x_);
  at::Tensor y = at::empty_like(x);
  const int64_t n = x.numel();
  if (n == 0) {
    return y;
  }
  const ChannelMap cm = channel_map(x, d);
  at::Tensor b;
  if (bias.has_value() && bias->defined()) {
    b = bias->to(acc_type(x.scalar_type())).contiguous();
  }
  auto stream = c10::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "aigc_fused_leaky_relu_cuda", [&] {
    using A = at::opmath_type<scalar_t>;
    const A* bp = b.defined() ? b.const_data_ptr<A>() : nullptr;
    const A pos = static_cast<A>(scale), neg = static_cast<A>(slope * scale), c = static_cast<A>(clamp.value_or(0.0));
    if (clamp.has_value()) {
      lrelu_fwd_kernel<scalar_t, A, true><<<blocks_for(n, 4), kThreads, 0, stream>>>(
          x.const_data_ptr<scalar_t>(), y.mutable_data_ptr<scalar_t>(), bp, n, cm.inner, cm.channels, pos, neg, c);
    } else {
      lrelu_fwd_kernel<scalar_t, A, false><<<blocks_for(n, 4), kThreads, 0, stream>>>(
          x.const_data_ptr<scalar_t>(), y.mutable_data_ptr<scalar_t>(), bp, n, cm.inner, cm.channels, pos, neg, c);
    }
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return y;
}

std::tuple<at::Tensor, at::Tensor> lrelu_bwd(const at::Tensor& grad, const at::Tensor& x_,
                                             const std::optional<at::Tensor>& bias, double slope, double scale,
                                             int64_t dim, std::optional<double> clamp, bool bias_grad) {
  const int64_t d = check_lrelu_bwd_args(grad, x_, bias, slope, scale, dim, clamp);
  const c10::cuda::CUDAGuard guard(x_.device());
  const at::Tensor x = dense(x_);
  const at::Tensor g = like_layout(grad.to(x.scalar_type()), x);
  at::Tensor gx = at::empty_like(x);
  const int64_t n = x.numel();
  const auto acc = acc_type(x.scalar_type());
  if (n > 0) {
    const ChannelMap cm = channel_map(x, d);
    at::Tensor b;
    if (bias.has_value() && bias->defined()) {
      b = bias->to(acc).contiguous();
    }
    auto stream = c10::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "aigc_fused_lrelu_bwd_cuda", [&] {
      using A = at::opmath_type<scalar_t>;
      const A* bp = b.defined() ? b.const_data_ptr<A>() : nullptr;
      const A pos = static_cast<A>(scale), neg = static_cast<A>(slope * scale),
              c = static_cast<A>(clamp.value_or(0.0));
      if (clamp.has_value()) {
        lrelu_bwd_kernel<scalar_t, A, true><<<blocks_for(n, 4), kThreads, 0, stream>>>(
            g.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(), bp, gx.mutable_data_ptr<scalar_t>(), n,
            cm.inner, cm.channels, pos, neg, c);
      } else {
        lrelu_bwd_kernel<scalar_t, A, false><<<blocks_for(n, 4), kThreads, 0, stream>>>(
            g.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(), bp, gx.mutable_data_ptr<scalar_t>(), n,
            cm.inner, cm.channels, pos, neg, c);
      }
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }
  if (!bias_grad) {
    return {gx, at::empty({0}, x.options().dtype(acc))};
  }
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (i != d) {
      dims.push_back(i);
    }
  }
  if (dims.empty()) {
    // 0-D or 1-D: each element is its own channel. (at::sum over an empty dim list would reduce
    // everything; and the copy keeps gb from aliasing gx.)
    return {gx, gx.to(acc, /*non_blocking=*/false, /*copy=*/true).reshape({x.dim() == 0 ? 1 : x.numel()})};
  }
  // The bias gradient uses ATen's reduction (accumulating in the wide type).
  return {gx, at::sum(gx, dims, false, acc)};
}

std::pair<uint64_t, uint64_t> next_philox(std::optional<at::Generator> generator, int64_t n, c10::DeviceIndex device) {
  // The default generator of the tensor's own GPU, as torch.randn_like uses (torch.cuda.manual_seed
  // seeds the current device only).
  auto* gen = at::get_generator_or_default<at::CUDAGeneratorImpl>(
      generator, at::cuda::detail::getDefaultCUDAGenerator(device));
  std::lock_guard<std::mutex> lock(gen->mutex_);
  // Each call gets its own offset (the high counter words), so streams never repeat.
  const uint64_t inc = static_cast<uint64_t>((n_counters(std::max<int64_t>(n, 1)) + 3) / 4 * 4);
  return gen->philox_engine_inputs(inc);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> reparam_fwd(const at::Tensor& mu_, const at::Tensor& logvar_,
                                                           std::optional<at::Generator> generator,
                                                           bool return_kl) {
  check_reparam_args(mu_, logvar_);
  const c10::cuda::CUDAGuard guard(mu_.device());
  const at::Tensor mu = mu_.contiguous();
  const at::Tensor lv = logvar_.contiguous();
  at::Tensor z = at::empty_like(mu);
  const int64_t n = mu.numel();
  const auto [seed, offset] = next_philox(generator, n, mu.device().index());
  at::Tensor st = make_rng_state(seed, offset);
  at::Tensor terms;
  if (return_kl) {
    terms = at::empty(mu.sizes(), mu.options().dtype(acc_type(mu.scalar_type())));
  }
  if (n > 0) {
    auto stream = c10::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, mu.scalar_type(), "aigc_reparameterize_cuda", [&] {
      using A = at::opmath_type<scalar_t>;
      reparam_fwd_kernel<scalar_t><<<blocks_for(n_counters(n)), kThreads, 0, stream>>>(
          mu.const_data_ptr<scalar_t>(), lv.const_data_ptr<scalar_t>(), z.mutable_data_ptr<scalar_t>(),
          return_kl ? terms.mutable_data_ptr<A>() : nullptr, n, seed, offset);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }
  at::Tensor kl;
  if (return_kl) {
    kl = terms.sum(-1).neg_().to(mu.scalar_type());  // the terms are already halved
  } else {
    kl = at::empty({0}, mu.options());
  }
  return {z, kl, st};
}

std::tuple<at::Tensor, at::Tensor> reparam_bwd(const at::Tensor& grad_z, const std::optional<at::Tensor>& grad_kl,
                                               const std::optional<at::Tensor>& mu_, const at::Tensor& logvar_,
                                               const at::Tensor& rng_state) {
  check_reparam_bwd_args(grad_z, grad_kl, mu_, logvar_);
  const c10::cuda::CUDAGuard guard(logvar_.device());
  const auto [seed, offset] = read_rng_state(rng_state);
  const bool kl = grad_kl.has_value() && grad_kl->defined();
  const at::Tensor lv = logvar_.contiguous();
  const at::Tensor dz = grad_z.to(lv.scalar_type()).contiguous();
  at::Tensor dlv = at::empty_like(lv);
  at::Tensor dmu = at::empty({0}, lv.options());
  at::Tensor mu, dkl;
  if (kl) {
    mu = mu_->to(lv.scalar_type()).contiguous();
    dkl = grad_kl->to(lv.scalar_type()).contiguous();
    dmu = at::empty_like(lv);
  }
  const int64_t n = lv.numel();
  if (n > 0) {
    const int64_t row = lv.dim() == 0 ? 1 : std::max<int64_t>(lv.size(-1), 1);
    auto stream = c10::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, lv.scalar_type(), "aigc_reparam_bwd_cuda", [&] {
      reparam_bwd_kernel<scalar_t><<<blocks_for(n_counters(n)), kThreads, 0, stream>>>(
          dz.const_data_ptr<scalar_t>(), kl ? dkl.const_data_ptr<scalar_t>() : nullptr,
          kl ? mu.const_data_ptr<scalar_t>() : nullptr, lv.const_data_ptr<scalar_t>(),
          kl ? dmu.mutable_data_ptr<scalar_t>() : nullptr, dlv.mutable_data_ptr<scalar_t>(), n, row, seed, offset);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }
  return {dmu, dlv};
}

at::Tensor regenerate_eps(const at::Tensor& like, const at::Tensor& rng_state) {
  const c10::cuda::CUDAGuard guard(like.device());
  const auto [seed, offset] = read_rng_state(rng_state);
  at::Tensor eps = at::empty(like.sizes(), like.options().dtype(at::kFloat).memory_format(at::MemoryFormat::Contiguous));
  const int64_t n = eps.numel();
  if (n > 0) {
    normal_kernel<<<blocks_for(n_counters(n)), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        eps.mutable_data_ptr<float>(), n, seed, offset);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  return eps;
}

}  // namespace

TORCH_LIBRARY_IMPL(aigc_sdk, CUDA, m) {
  m.impl("fused_leaky_relu", &lrelu_fwd);
  m.impl("fused_leaky_relu_backward", &lrelu_bwd);
  m.impl("reparameterize", &reparam_fwd);
  m.impl("reparameterize_backward", &reparam_bwd);
  m.impl("_regenerate_eps", &regenerate_eps);
}

}  // namespace cuda
}  // namespace aigc_sdk
