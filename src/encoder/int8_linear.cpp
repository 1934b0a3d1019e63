// Dynamic int8 linear layers for CPU inference, through PyTorch's own fbgemm kernels
// (`quantized::linear_prepack` and `quantized::linear_dynamic`, the ops behind
// torch.ao.quantization.quantize_dynamic), which tch does not bind. Weights are quantized per
// output channel (symmetric, int8) once; activations are quantized per call from their range.
// Called from src/encoder/int8.rs; tensors cross as tch's `at::Tensor*`.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/ivalue.h>

#include <cstring>
#include <string>

namespace {

void write_error(const std::exception& e, char* err, size_t len) {
  if (err == nullptr || len == 0) return;
  std::string msg = e.what();
  auto cut = msg.find('\n');
  if (cut != std::string::npos) msg.resize(cut);
  std::strncpy(err, msg.c_str(), len - 1);
  err[len - 1] = '\0';
}

c10::OperatorHandle op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "");
}

}  // namespace

extern "C" {

// Packs `weight` [out, in] (float) and `bias` [out] (float, may be null) for linear_dynamic.
// Returns an owned handle (free with bioner_int8_free) or null with `err` set.
void* bioner_int8_prepack(const at::Tensor* weight, const at::Tensor* bias, char* err,
                          size_t len) {
  try {
    at::Tensor w = weight->detach().to(at::kFloat).contiguous();
    at::Tensor scales = (w.abs().amax({1}) / 127.0).clamp_min(1e-8).to(at::kDouble);
    at::Tensor zeros = at::zeros({w.size(0)}, at::kLong);
    at::Tensor q = at::quantize_per_channel(w, scales, zeros, 0, at::kQInt8);
    std::vector<c10::IValue> stack;
    stack.emplace_back(q);
    if (bias != nullptr) {
      stack.emplace_back(bias->detach().to(at::kFloat).contiguous());
    } else {
      stack.emplace_back(c10::IValue());
    }
    op("quantized::linear_prepack").callBoxed(&stack);
    return new c10::IValue(std::move(stack.at(0)));
  } catch (const std::exception& e) {
    write_error(e, err, len);
    return nullptr;
  }
}

// y = x Wᵀ + b with int8 weights and dynamically quantized activations; x is [..., in].
// `reduce_range` quantizes activations to 7 bits, which CPUs without VNNI need to avoid
// saturating 16-bit intermediate sums; with VNNI full 8 bits are exact to accumulate.
at::Tensor* bioner_int8_linear(const at::Tensor* input, void* packed, bool reduce_range,
                               char* err, size_t len) {
  try {
    std::vector<c10::IValue> stack;
    stack.emplace_back(input->contiguous());
    stack.emplace_back(*static_cast<c10::IValue*>(packed));
    stack.emplace_back(reduce_range);
    op("quantized::linear_dynamic").callBoxed(&stack);
    return new at::Tensor(stack.at(0).toTensor());
  } catch (const std::exception& e) {
    write_error(e, err, len);
    return nullptr;
  }
}

void bioner_int8_free(void* packed) { delete static_cast<c10::IValue*>(packed); }

}  // extern "C"
