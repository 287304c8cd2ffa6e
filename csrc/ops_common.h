// Host-side helpers shared by the CPU and CUDA op implementations: argument checks (raising
// ValueError/TypeError in Python) and the layout bookkeeping of the fused activation.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <optional>

namespace aigc_sdk {

inline void check_floating(const at::Tensor& t, const char* name) {
  TORCH_CHECK_TYPE(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble ||
                       t.scalar_type() == at::kHalf || t.scalar_type() == at::kBFloat16,
                   name, " must be a float32, float64, float16 or bfloat16 tensor, got ", t.scalar_type());
}

inline void check_same_device(const at::Tensor& a, const char* an, const at::Tensor& b, const char* bn) {
  TORCH_CHECK_VALUE(a.device() == b.device(), bn, " must be on the same device as ", an, " (", a.device(),
                    "), got ", b.device());
}

inline at::ScalarType acc_type(at::ScalarType t) {
  return t == at::kDouble ? at::kDouble : at::kFloat;
}

// Checks the activation's arguments and returns the normalised dim.
inline int64_t check_lrelu_args(const at::Tensor& x, const std::optional<at::Tensor>& bias, double slope,
                                double scale, int64_t dim, std::optional<double> clamp) {
  check_floating(x, "x");
  const int64_t nd = std::max<int64_t>(x.dim(), 1);
  TORCH_CHECK_VALUE(dim >= -nd && dim < nd, "dim must be in [", -nd, ", ", nd - 1, "] for x with ", x.dim(),
                    " dimensions, got ", dim);
  const int64_t d = dim < 0 ? dim + nd : dim;
  TORCH_CHECK_VALUE(slope >= 0.0, "negative_slope must be >= 0, got ", slope);
  TORCH_CHECK_VALUE(scale > 0.0, "scale must be > 0, got ", scale);
  if (clamp.has_value()) {
    TORCH_CHECK_VALUE(*clamp >= 0.0, "clamp must be >= 0 or None, got ", *clamp);
  }
  if (bias.has_value() && bias->defined()) {
    check_floating(*bias, "bias");
    check_same_device(x, "x", *bias, "bias");
    const int64_t c = x.dim() == 0 ? 1 : x.size(d);
    TORCH_CHECK_VALUE(bias->dim() == 1 && bias->size(0) == c, "bias must be a 1-D tensor of length x.shape[",
                      dim, "] = ", c, ", got shape ", bias->sizes());
  }
  return d;
}

// Checks fused_leaky_relu_backward's arguments (x and bias are the forward's inputs) and returns
// the normalised dim.
inline int64_t check_lrelu_bwd_args(const at::Tensor& grad, const at::Tensor& x, const std::optional<at::Tensor>& bias,
                                    double slope, double scale, int64_t dim, std::optional<double> clamp) {
  const int64_t d = check_lrelu_args(x, bias, slope, scale, dim, clamp);
  check_floating(grad, "grad");
  check_same_device(x, "x", grad, "grad");
  TORCH_CHECK_VALUE(grad.sizes() == x.sizes(), "grad must have the shape of x ", x.sizes(), ", got ",
                    grad.sizes());
  return d;
}

// A dense, non-overlapping view of t (t itself when it already is one, e.g. contiguous or
// channels_last), so kernels can walk memory linearly and outputs keep the input's layout.
inline at::Tensor dense(const at::Tensor& t) {
  return t.is_non_overlapping_and_dense() ? t : t.contiguous(t.suggest_memory_format());
}

// Channel of flat memory index i of a dense tensor is (i / inner) % channels.
struct ChannelMap {
  int64_t inner;
  int64_t channels;
};

inline ChannelMap channel_map(const at::Tensor& t, int64_t d) {
  if (t.dim() == 0) {
    return {1, 1};
  }
  const int64_t c = t.size(d);
  if (c <= 1) {
    return {std::max<int64_t>(t.numel(), 1), 1};  // stride of a size-1 dim is arbitrary
  }
  return {t.stride(d), c};
}

// grad re-laid out exactly like `out` (autograd may hand us any strides).
inline at::Tensor like_layout(const at::Tensor& grad, const at::Tensor& out) {
  if (grad.strides() == out.strides() && grad.sizes() == out.sizes() && grad.is_non_overlapping_and_dense()) {
    return grad;
  }
  at::Tensor g = at::empty_like(out);
  g.copy_(grad);
  return g;
}

inline void check_reparam_args(const at::Tensor& mu, const at::Tensor& logvar) {
  check_floating(mu, "mu");
  check_floating(logvar, "logvar");
  check_same_device(mu, "mu", logvar, "logvar");
  TORCH_CHECK_VALUE(logvar.sizes() == mu.sizes(), "logvar must have the shape of mu ", mu.sizes(), ", got ",
                    logvar.sizes());
  TORCH_CHECK_TYPE(logvar.scalar_type() == mu.scalar_type(), "logvar must have the dtype of mu (",
                   mu.scalar_type(), "), got ", logvar.scalar_type());
}

// Shape of the KL output: mu.shape[:-1] when requested, else (0,).
inline std::vector<int64_t> kl_shape(const at::Tensor& mu, bool return_kl) {
  if (!return_kl) {
    return {0};
  }
  auto s = mu.sizes().vec();
  if (!s.empty()) {
    s.pop_back();
  }
  return s;
}

// Checks reparameterize_backward's arguments; mu is needed (and checked) only with grad_kl.
inline void check_reparam_bwd_args(const at::Tensor& grad_z, const std::optional<at::Tensor>& grad_kl,
                                   const std::optional<at::Tensor>& mu, const at::Tensor& logvar) {
  check_floating(logvar, "logvar");
  check_floating(grad_z, "grad_z");
  check_same_device(logvar, "logvar", grad_z, "grad_z");
  TORCH_CHECK_VALUE(grad_z.sizes() == logvar.sizes(), "grad_z must have the shape of logvar ", logvar.sizes(),
                    ", got ", grad_z.sizes());
  if (!grad_kl.has_value() || !grad_kl->defined()) {
    return;
  }
  TORCH_CHECK_VALUE(mu.has_value() && mu->defined(), "reparameterize_backward needs mu with grad_kl");
  check_floating(*mu, "mu");
  check_floating(*grad_kl, "grad_kl");
  check_same_device(logvar, "logvar", *mu, "mu");
  check_same_device(logvar, "logvar", *grad_kl, "grad_kl");
  TORCH_CHECK_VALUE(mu->sizes() == logvar.sizes(), "mu must have the shape of logvar ", logvar.sizes(), ", got ",
                    mu->sizes());
  const std::vector<int64_t> want = kl_shape(logvar, true);
  TORCH_CHECK_VALUE(grad_kl->sizes() == at::IntArrayRef(want), "grad_kl must have shape logvar.shape[:-1] = ",
                    at::IntArrayRef(want), ", got ", grad_kl->sizes());
}

inline void check_rng_state(const at::Tensor& st) {
  TORCH_CHECK_VALUE(st.device().is_cpu() && st.scalar_type() == at::kLong && st.numel() == 2,
                    "rng_state must be the CPU int64 tensor [seed, offset] returned by reparameterize, got a ",
                    st.device(), " ", st.scalar_type(), " tensor of ", st.numel(), " elements");
}

inline std::pair<uint64_t, uint64_t> read_rng_state(const at::Tensor& st) {
  check_rng_state(st);
  auto c = st.contiguous();
  const int64_t* p = c.data_ptr<int64_t>();
  return {static_cast<uint64_t>(p[0]), static_cast<uint64_t>(p[1])};
}

inline at::Tensor make_rng_state(uint64_t seed, uint64_t offset) {
  at::Tensor st = at::empty({2}, at::TensorOptions().dtype(at::kLong));
  st.data_ptr<int64_t>()[0] = static_cast<int64_t>(seed);
  st.data_ptr<int64_t>()[1] = static_cast<int64_t>(offset);
  return st;
}

}  // namespace aigc_sdk
