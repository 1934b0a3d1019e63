// The update step of bioner's AdamW (src/train/optim.rs) through PyTorch's own multi-tensor
// kernel `_fused_adamw_` (what `torch.optim.AdamW(fused=True)` runs: one vectorised,
// multi-threaded pass over every variable instead of ten tensor operations per variable),
// which tch does not bind. Tensors cross as tch's `at::Tensor*`.
#include <ATen/ATen.h>
#include <ATen/ops/_fused_adamw.h>
#include <c10/core/GradMode.h>

#include <cstring>
#include <string>
#include <vector>

extern "C" {

// One AdamW step with learning rate `lr` for `n` variables: `steps` are float scalars counting
// each variable's updates (incremented here, as PyTorch does before the kernel). Returns false
// with `err` set when libtorch refuses (e.g. mixed dtypes).
bool bioner_fused_adamw(const at::Tensor** params, const at::Tensor** grads,
                        const at::Tensor** exp_avgs, const at::Tensor** exp_avg_sqs,
                        const at::Tensor** steps, size_t n, double lr, double beta1, double beta2,
                        double weight_decay, double eps, char* err, size_t len) {
  try {
    std::vector<at::Tensor> p, g, m, v, s;
    for (size_t i = 0; i < n; i++) {
      p.push_back(*params[i]);
      g.push_back(*grads[i]);
      m.push_back(*exp_avgs[i]);
      v.push_back(*exp_avg_sqs[i]);
      s.push_back(*steps[i]);
    }
    c10::AutoGradMode no_grad(false);
    for (auto& t : s) t.add_(1);
    at::_fused_adamw_(p, g, m, v, {}, s, lr, beta1, beta2, weight_decay, eps,
                      /*amsgrad=*/false, /*maximize=*/false);
    return true;
  } catch (const std::exception& e) {
    if (err != nullptr && len > 0) {
      std::string msg = e.what();
      auto cut = msg.find('\n');
      if (cut != std::string::npos) msg.resize(cut);
      std::strncpy(err, msg.c_str(), len - 1);
      err[len - 1] = '\0';
    }
    return false;
  }
}

}  // extern "C"
