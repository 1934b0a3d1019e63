// Mixed-precision regions for bioner (src/encoder/autocast.rs): libtorch's autocast on the CPU
// or CUDA with bfloat16, which tch binds for CUDA only (and with float16).
#include <ATen/autocast_mode.h>

extern "C" {

// Enters an autocast region on the CPU (cuda = false) or CUDA with bf16; returns whether
// autocast was already enabled there (to restore on exit).
bool bioner_autocast_enter(bool cuda) {
  const auto device = cuda ? at::kCUDA : at::kCPU;
  const bool was = at::autocast::is_autocast_enabled(device);
  at::autocast::set_autocast_enabled(device, true);
  at::autocast::set_autocast_dtype(device, at::kBFloat16);
  at::autocast::increment_nesting();
  return was;
}

// Leaves the region: the cast-weight cache is cleared when the outermost region ends (the
// weights change at the next optimiser step).
void bioner_autocast_exit(bool cuda, bool was) {
  const auto device = cuda ? at::kCUDA : at::kCPU;
  if (at::autocast::decrement_nesting() == 0) {
    at::autocast::clear_cache();
  }
  at::autocast::set_autocast_enabled(device, was);
}

}
