// AddressSanitizer manual poisoning, for memory ASan cannot know is dead because we
// manage it ourselves: free runs of a region's lease area (MemoryRegion). Under ASan
// (scripts/test-asan.sh), native code that reads or writes a lease after it was freed, or
// before it was allocated, is reported like a use-after-free; elsewhere these compile to
// nothing. Only native accesses are checked: V8's JIT code and the kernel (io_uring,
// sockets) are not instrumented. Plain C++.
#pragma once
#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define CRDMA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CRDMA_ASAN 1
#endif
#endif

#ifdef CRDMA_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace crdma {

inline void AsanPoison(const void* p, size_t n) {
#ifdef CRDMA_ASAN
  ASAN_POISON_MEMORY_REGION(p, n);
#else
  (void)p;
  (void)n;
#endif
}

inline void AsanUnpoison(const void* p, size_t n) {
#ifdef CRDMA_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
  (void)p;
  (void)n;
#endif
}

}  // namespace crdma
