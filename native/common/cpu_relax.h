// CpuRelax(): the busy-poll hint (x86 PAUSE, arm64 YIELD), so spin loops build on both.
#pragma once

namespace crdma {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace crdma
