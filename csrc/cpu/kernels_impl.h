// CPU kernel bodies. Included by kernels_{default,avx2,avx512}.cpp, each compiled with its own
// -DCPU_CAPABILITY=... and -m flags, so everything lives in namespace CPU_CAPABILITY (ATen's
// Vectorized does the same) and the three copies never collide. One header per op:
// leaky_relu_impl.h, philox_normal_impl.h, reparameterize_impl.h (shared pieces: vec_common.h).
#pragma once

#include "leaky_relu_impl.h"
#include "philox_normal_impl.h"
#include "reparameterize_impl.h"

namespace aigc_sdk {
namespace cpu {

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
