#include "output_pool.h"

#include <ATen/EmptyTensor.h>
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <cstdlib>
#include <cstring>
#include <list>
#include <mutex>
#include <new>
#include <string>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace aigc_sdk {
namespace cpu {

namespace {

constexpr size_t kMinPooled = size_t(1) << 20;  // smaller outputs use the default allocator
constexpr size_t kBlock = size_t(2) << 20;      // sizes round up to, and blocks align to, 2 MiB

size_t limit_from_env() {
  const char* v = std::getenv("AIGC_SDK_POOL_MB");
  if (v == nullptr || *v == '\0') {
    return size_t(256) << 20;
  }
  char* end = nullptr;
  const long long mb = std::strtoll(v, &end, 10);
  TORCH_CHECK_VALUE(end != v && *end == '\0' && mb >= 0,
                    "AIGC_SDK_POOL_MB must be a non-negative integer (MiB), got '", v, "'");
  return static_cast<size_t>(mb) << 20;
}

void* fresh_block(size_t bytes) {
  void* p = nullptr;
  if (posix_memalign(&p, kBlock, bytes) != 0 || p == nullptr) {
    return nullptr;
  }
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  (void)madvise(p, bytes, MADV_HUGEPAGE);  // a hint: fewer first-touch faults; failure is harmless
#endif
  return p;
}

class Pool {
 public:
  static Pool& get() {
    // Never destroyed: tensors released during interpreter shutdown still call give().
    static Pool* pool = new Pool();
    return *pool;
  }

  size_t limit() const { return limit_; }

  void* take(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = free_.begin(); it != free_.end(); ++it) {
        if (it->first == bytes) {
          void* p = it->second;
          free_.erase(it);
          cached_ -= bytes;
          ++hits_;
          return p;
        }
      }
      ++misses_;
    }
    void* p = fresh_block(bytes);
    if (p == nullptr) {
      empty();  // give cached memory back, then try once more
      p = fresh_block(bytes);
    }
    if (p == nullptr) {
      throw std::bad_alloc();
    }
    return p;
  }

  void give(void* p, size_t bytes) {
    std::vector<void*> evicted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (bytes > limit_) {
        evicted.push_back(p);
      } else {
        free_.emplace_front(bytes, p);  // most recently released first
        cached_ += bytes;
        while (cached_ > limit_) {
          cached_ -= free_.back().first;
          evicted.push_back(free_.back().second);
          free_.pop_back();
        }
      }
    }
    for (void* q : evicted) {
      std::free(q);
    }
  }

  void empty() {
    std::list<std::pair<size_t, void*>> all;
    {
      std::lock_guard<std::mutex> lock(mu_);
      all.swap(free_);
      cached_ = 0;
    }
    for (auto& b : all) {
      std::free(b.second);
    }
  }

  std::vector<int64_t> stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return {static_cast<int64_t>(cached_), static_cast<int64_t>(limit_), hits_, misses_};
  }

 private:
  Pool() : limit_(limit_from_env()) {}

  std::mutex mu_;
  std::list<std::pair<size_t, void*>> free_;
  size_t cached_ = 0;
  const size_t limit_;
  int64_t hits_ = 0, misses_ = 0;
};

struct Block {
  void* ptr;
  size_t bytes;
};

void release(void* ctx) {
  auto* b = static_cast<Block*>(ctx);
  Pool::get().give(b->ptr, b->bytes);
  delete b;
}

class PoolAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) override {
    if (n < kMinPooled) {
      return c10::GetCPUAllocator()->allocate(n);
    }
    const size_t bytes = (n + kBlock - 1) / kBlock * kBlock;
    void* p = Pool::get().take(bytes);
    return {p, new Block{p, bytes}, &release, c10::Device(c10::DeviceType::CPU)};
  }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    std::memcpy(dest, src, count);
  }
};

PoolAllocator& pool_allocator() {
  static PoolAllocator* a = new PoolAllocator();
  return *a;
}

}  // namespace

at::Tensor empty_output(const at::Tensor& like) {
  if (like.nbytes() < kMinPooled || Pool::get().limit() == 0 || !like.is_non_overlapping_and_dense()) {
    return at::empty_like(like);
  }
  return at::Tensor(at::detail::empty_strided_generic(like.sizes(), like.strides(), &pool_allocator(),
                                                      c10::DispatchKeySet(c10::DispatchKey::CPU),
                                                      like.scalar_type()));
}

void pool_empty_cache() {
  Pool::get().empty();
}

std::vector<int64_t> pool_stats() {
  return Pool::get().stats();
}

}  // namespace cpu
}  // namespace aigc_sdk
