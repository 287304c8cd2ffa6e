// Recycled host buffers for the large outputs of the CPU kernels.
//
// A fresh multi-MB tensor is a fresh mmap, and its first write faults once per page: on our VMs
// that costs more than the kernels' own work (~3 us per 4 KiB page; huge pages are cheaper but stall
// unpredictably while the host backs them). Like PyTorch's CUDA caching allocator, outputs of
// >= 1 MiB come from blocks that earlier outputs released, so steady-state training steps touch no
// new pages. The pool is bounded (AIGC_SDK_POOL_MB, default 256; 0 disables it), evicts the least
// recently released blocks first, and is emptied by aigc_sdk.ops.empty_cache().
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace aigc_sdk {
namespace cpu {

// A new tensor with `like`'s sizes, strides and dtype (as at::empty_like gives for a dense
// tensor), its storage from the pool when large enough.
at::Tensor empty_output(const at::Tensor& like);

// Frees every cached block.
void pool_empty_cache();

// [cached_bytes, limit_bytes, hits, misses] (tests and diagnostics).
std::vector<int64_t> pool_stats();

}  // namespace cpu
}  // namespace aigc_sdk
