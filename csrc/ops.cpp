// Op schemas of the aigc_sdk library, their autograd kernels, and the Python module stub.
//
// Kernels live in cpu/ops_cpu.cpp and cuda/ops_cuda.cu (TORCH_LIBRARY_IMPL per backend); fake
// (meta) implementations for torch.compile are registered from Python (aigc_sdk/ops/_meta.py).
// Autograd is registered here in C++ rather than with torch.library.register_autograd: a Python
// autograd.Function costs tens of microseconds per call, which dominates small latents.
#include <Python.h>

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <optional>
#include <vector>

#include "ops_common.h"


// `import aigc_sdk._C` only has to load this library so the static registrations below run; no
// pybind11 module is needed.
PyMODINIT_FUNC PyInit__C(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module_def);
}

namespace aigc_sdk {

namespace cpu {
std::string capability_name();
bool parallel_build();
void pool_empty_cache();
std::vector<int64_t> pool_stats();
}

TORCH_LIBRARY(aigc_sdk, m) {
  m.def(
      "fused_leaky_relu(Tensor x, Tensor? bias, float negative_slope, float scale, int dim, float? clamp) "
      "-> Tensor");
  // grad_x = grad * act'(x + bias), the slope chosen from the pre-activation in the compute type (the
  // rounded half output can be 0 for a tiny positive input); grad_bias (accumulation dtype; shape (0,)
  // unless bias_grad) sums grad_x over all dims but `dim`. Linear in grad, so it is its own derivative
  // (double backward).
  m.def(
      "fused_leaky_relu_backward(Tensor grad, Tensor x, Tensor? bias, float negative_slope, float scale, "
      "int dim, float? clamp, bool bias_grad) -> (Tensor, Tensor)");
  // Returns (z, kl, rng_state); kl has shape mu.shape[:-1] when return_kl else (0,); rng_state is
  // the CPU int64 tensor [seed, offset] that regenerates eps for backward.
  m.def(
      "reparameterize(Tensor mu, Tensor logvar, Generator? generator, bool return_kl) "
      "-> (Tensor, Tensor, Tensor)",
      {at::Tag::nondeterministic_seeded});
  // Returns (grad_mu, grad_logvar). grad_mu is only computed with grad_kl (needs mu); without it the
  // caller uses grad_z itself and grad_mu has shape (0,).
  m.def(
      "reparameterize_backward(Tensor grad_z, Tensor? grad_kl, Tensor? mu, Tensor logvar, "
      "Tensor rng_state) -> (Tensor, Tensor)");
  // The float32 eps a reparameterize call with this rng_state used, shaped like `like` (tests/docs).
  m.def("_regenerate_eps(Tensor like, Tensor rng_state) -> Tensor");
  m.def("_cpu_capability() -> str", &cpu::capability_name);
  m.def("_cpu_parallel() -> bool", &cpu::parallel_build);
  // The pool of recycled large CPU output buffers (csrc/cpu/output_pool.h).
  m.def("_empty_cache() -> ()", &cpu::pool_empty_cache);
  m.def("_pool_stats() -> int[]", &cpu::pool_stats);
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::Variable;
using torch::autograd::variable_list;

std::tuple<at::Tensor, at::Tensor> call_lrelu_backward(const at::Tensor& grad, const at::Tensor& x,
                                                       const std::optional<at::Tensor>& bias, double slope,
                                                       double scale, int64_t dim, std::optional<double> clamp,
                                                       bool bias_grad) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("aigc_sdk::fused_leaky_relu_backward", "")
                       .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&,
                                                                 const std::optional<at::Tensor>&, double, double,
                                                                 int64_t, std::optional<double>, bool)>();
  return op.call(grad, x, bias, slope, scale, dim, clamp, bias_grad);
}

// The optional bias as saved for backward (an undefined tensor when there was none).
std::optional<at::Tensor> opt(const Variable& t) {
  return t.defined() ? std::optional<at::Tensor>(t) : std::nullopt;
}

void save_params(AutogradContext* ctx, double slope, double scale, int64_t dim, std::optional<double> clamp) {
  ctx->saved_data["slope"] = slope;
  ctx->saved_data["scale"] = scale;
  ctx->saved_data["dim"] = dim;
  ctx->saved_data["clamp"] = clamp;
}

struct Params {
  double slope, scale;
  int64_t dim;
  std::optional<double> clamp;
};

Params load_params(AutogradContext* ctx) {
  return {ctx->saved_data["slope"].toDouble(), ctx->saved_data["scale"].toDouble(),
          ctx->saved_data["dim"].toInt(), ctx->saved_data["clamp"].toOptional<double>()};
}

// Backward of the activation as a differentiable function of grad (x and bias only select the slope).
class LReLUBackwardFn : public torch::autograd::Function<LReLUBackwardFn> {
 public:
  static variable_list forward(AutogradContext* ctx, const Variable& grad, const Variable& x,
                               const std::optional<Variable>& bias, double slope, double scale, int64_t dim,
                               std::optional<double> clamp, bool bias_grad) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [gx, gb] = call_lrelu_backward(grad, x, bias, slope, scale, dim, clamp, bias_grad);
    ctx->save_for_backward({x, bias.has_value() ? *bias : Variable()});
    save_params(ctx, slope, scale, dim, clamp);
    ctx->saved_data["bias_grad"] = bias_grad;
    if (!bias_grad) {
      ctx->mark_non_differentiable({gb});
    }
    ctx->set_materialize_grads(false);
    return {gx, gb};
  }

  static variable_list backward(AutogradContext* ctx, variable_list go) {
    const Params p = load_params(ctx);
    const auto saved = ctx->get_saved_variables();
    const Variable& x = saved[0];
    Variable t = go[0];
    if (ctx->saved_data["bias_grad"].toBool() && go.size() > 1 && go[1].defined()) {
      // grad of the bias sum flows back to every element of its channel.
      std::vector<int64_t> shape(std::max<int64_t>(x.dim(), 1), 1);
      const int64_t d = p.dim < 0 ? p.dim + static_cast<int64_t>(shape.size()) : p.dim;
      shape[d] = -1;
      Variable gb = go[1].to(x.scalar_type()).view(shape);
      if (x.dim() == 0) {
        gb = gb.view({});
      }
      t = t.defined() ? t + gb : gb.expand_as(x);
    }
    variable_list res(8);
    if (t.defined() && ctx->needs_input_grad(0)) {
      res[0] = LReLUBackwardFn::apply(t, x, opt(saved[1]), p.slope, p.scale, p.dim, p.clamp, false)[0];
    }
    // x and bias only select the slope: their derivative is zero almost everywhere. Zeros, not
    // undefined, so that what feeds x (e.g. a conv bias in an R1 penalty) gets a zero gradient
    // rather than none, as with the reference; expanded, so nothing is filled.
    if (ctx->needs_input_grad(1)) {
      res[1] = at::zeros({}, x.options()).expand(x.sizes());
    }
    if (ctx->needs_input_grad(2) && saved[1].defined()) {
      res[2] = at::zeros({}, saved[1].options()).expand(saved[1].sizes());
    }
    return res;
  }
};

class LReLUFn : public torch::autograd::Function<LReLUFn> {
 public:
  static Variable forward(AutogradContext* ctx, const Variable& x, const std::optional<Variable>& bias,
                          double slope, double scale, int64_t dim, std::optional<double> clamp) {
    at::AutoDispatchBelowADInplaceOrView guard;
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow("aigc_sdk::fused_leaky_relu", "")
                         .typed<at::Tensor(const at::Tensor&, const std::optional<at::Tensor>&, double, double,
                                           int64_t, std::optional<double>)>();
    at::Tensor y = op.call(x, bias, slope, scale, dim, clamp);
    const bool has_bias = bias.has_value() && bias->defined();
    ctx->saved_data["has_bias"] = has_bias;
    ctx->saved_data["bias_dtype"] = has_bias ? bias->scalar_type() : x.scalar_type();
    save_params(ctx, slope, scale, dim, clamp);
    // The inputs, not y: act'(t) needs sign(t) and |act(t)| < clamp, and a half y that rounded to 0
    // no longer tells a tiny positive t from a negative one.
    ctx->save_for_backward({x, has_bias ? *bias : Variable()});
    // An undefined incoming gradient (e.g. the second backward of an R1 penalty, where y only feeds
    // the piecewise-constant slope selection) means zero gradients: no full-size zero fill.
    ctx->set_materialize_grads(false);
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list go) {
    const Params p = load_params(ctx);
    const auto saved = ctx->get_saved_variables();
    const Variable& x = saved[0];
    const bool need_b = ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(1);
    variable_list res(6);
    if (!ctx->needs_input_grad(0) && !need_b) {
      return res;
    }
    if (!go[0].defined()) {
      // Zero gradients without touching memory: an expanded zero for x, a (small) zero bias grad.
      if (ctx->needs_input_grad(0)) {
        res[0] = at::zeros({}, x.options()).expand(x.sizes());
      }
      if (need_b) {
        const int64_t c = x.dim() == 0 ? 1 : x.size(p.dim < 0 ? p.dim + x.dim() : p.dim);
        res[1] = at::zeros({c}, x.options().dtype(ctx->saved_data["bias_dtype"].toScalarType()));
      }
      return res;
    }
    auto r = LReLUBackwardFn::apply(go[0], x, opt(saved[1]), p.slope, p.scale, p.dim, p.clamp, need_b);
    if (ctx->needs_input_grad(0)) {
      res[0] = r[0];
    }
    if (need_b) {
      res[1] = r[1].to(ctx->saved_data["bias_dtype"].toScalarType());
    }
    return res;
  }
};

at::Tensor lrelu_autograd(const at::Tensor& x, const std::optional<at::Tensor>& bias, double slope,
                          double scale, int64_t dim, std::optional<double> clamp) {
  return LReLUFn::apply(x, bias, slope, scale, dim, clamp);
}

std::tuple<at::Tensor, at::Tensor> lrelu_backward_autograd(const at::Tensor& grad, const at::Tensor& x,
                                                           const std::optional<at::Tensor>& bias, double slope,
                                                           double scale, int64_t dim, std::optional<double> clamp,
                                                           bool bias_grad) {
  auto r = LReLUBackwardFn::apply(grad, x, bias, slope, scale, dim, clamp, bias_grad);
  return {r[0], r[1]};
}

// 0.5 * expm1(lv), finite wherever the result is: expm1 is exact near 0 (exp(lv) - 1 cancels), and
// for large lv (where the -0.5 no longer matters) (0.5 * sd) * sd does not overflow before halving.
// Clamping the expm1 branch keeps its derivative finite where `where` discards it.
Variable half_expm1(const Variable& lv, const Variable& sd) {
  return at::where(lv > 80.0, (0.5 * sd) * sd, 0.5 * at::expm1(lv.clamp_max(80.0)));
}

// reparameterize's gradients (grad_mu, grad_logvar) in ATen ops, differentiable to any order:
// d mu = dz (+ mu * dkl), d logvar = 0.5 * dz * eps * sd (+ 0.5 * expm1(logvar) * dkl), with eps
// regenerated from rng_state (a constant: it does not depend on mu or logvar).
variable_list differentiable_backward(const Variable& dz, const Variable& dkl, const Variable& mu,
                                      const Variable& logvar, const Variable& st) {
  static auto regen = c10::Dispatcher::singleton()
                          .findSchemaOrThrow("aigc_sdk::_regenerate_eps", "")
                          .typed<at::Tensor(const at::Tensor&, const at::Tensor&)>();
  const auto out_t = logvar.scalar_type();
  const auto acc = acc_type(out_t);
  const Variable lv = logvar.to(acc);
  const Variable g = dz.to(acc);
  const Variable eps = regen.call(logvar.detach(), st).to(acc);
  const Variable sd = at::exp(0.5 * lv);
  Variable dlv = 0.5 * g * eps * sd;
  Variable dmu = dz;
  if (dkl.defined()) {
    // One KL value per row of the last dim (a 0-d logvar is its own row).
    const Variable k = logvar.dim() == 0 ? dkl.to(acc) : dkl.to(acc).unsqueeze(-1);
    dlv = dlv + half_expm1(lv, sd) * k;
    dmu = (g + mu.to(acc) * k).to(out_t);
  }
  variable_list res(4);
  res[0] = dmu;
  res[1] = dlv.to(out_t);
  return res;
}

class ReparamFn : public torch::autograd::Function<ReparamFn> {
 public:
  static variable_list forward(AutogradContext* ctx, const Variable& mu, const Variable& logvar,
                               std::optional<at::Generator> generator, bool return_kl) {
    at::AutoDispatchBelowADInplaceOrView guard;
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow("aigc_sdk::reparameterize", "")
                         .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor>(
                             const at::Tensor&, const at::Tensor&, std::optional<at::Generator>, bool)>();
    auto [z, kl, st] = op.call(mu, logvar, generator, return_kl);
    // eps is not saved: backward regenerates it from rng_state.
    if (return_kl) {
      ctx->save_for_backward({logvar, st, mu});
    } else {
      ctx->save_for_backward({logvar, st});
      ctx->mark_non_differentiable({kl});
    }
    ctx->mark_non_differentiable({st});
    ctx->set_materialize_grads(false);
    return {z, kl, st};
  }

  static variable_list backward(AutogradContext* ctx, variable_list go) {
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow("aigc_sdk::reparameterize_backward", "")
                         .typed<std::tuple<at::Tensor, at::Tensor>(
                             const at::Tensor&, const std::optional<at::Tensor>&, const std::optional<at::Tensor>&,
                             const at::Tensor&, const at::Tensor&)>();
    auto saved = ctx->get_saved_variables();
    const Variable& logvar = saved[0];
    const Variable& st = saved[1];
    Variable dz = go[0];
    const bool kl_grad = saved.size() > 2 && go[1].defined();
    variable_list res(4);
    if (!dz.defined() && !kl_grad) {
      return res;
    }
    if (!dz.defined()) {
      dz = at::zeros_like(logvar);
    }
    if (at::GradMode::is_enabled()) {
      // create_graph: the same gradients from differentiable ATen ops, so that they can be
      // differentiated again (the fused kernel's outputs would have no graph).
      return differentiable_backward(dz, kl_grad ? go[1] : Variable(), kl_grad ? saved[2] : Variable(), logvar,
                                     st);
    }
    if (kl_grad) {
      auto [dmu, dlv] = op.call(dz, go[1], saved[2], logvar, st);
      res[0] = dmu;
      res[1] = dlv;
    } else {
      auto r = op.call(dz, std::nullopt, std::nullopt, logvar, st);
      res[0] = dz;  // d z / d mu = 1
      res[1] = std::get<1>(r);
    }
    return res;
  }
};

std::tuple<at::Tensor, at::Tensor, at::Tensor> reparam_autograd(const at::Tensor& mu, const at::Tensor& logvar,
                                                                std::optional<at::Generator> generator,
                                                                bool return_kl) {
  auto r = ReparamFn::apply(mu, logvar, generator, return_kl);
  return {r[0], r[1], r[2]};
}

}  // namespace

TORCH_LIBRARY_IMPL(aigc_sdk, Autograd, m) {
  m.impl("fused_leaky_relu", &lrelu_autograd);
  m.impl("fused_leaky_relu_backward", &lrelu_backward_autograd);
  m.impl("reparameterize", &reparam_autograd);
  // eps is a sample, not a function of differentiable inputs.
  m.impl("_regenerate_eps", torch::CppFunction::makeFallthrough());
}

}  // namespace aigc_sdk
