// The compute precision of the networks' forward passes: bf16 autocast where it pays (CUDA, and a
// CPU with native bf16 instructions: AVX512-BF16 or AMX-BF16), float32 elsewhere. Only the forward
// pass runs under autocast: log-mel features, the losses, the Hungarian assignment, the optimizer
// state and the BatchNorm statistics stay float32, and every embedding a caller receives is float32.
#pragma once
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/types.h>

#include <string>

#include "instret/core/config.h"

namespace instret {

// The `bf16` setting: "auto" (CUDA, or a CPU with native bf16), true, false.
enum class Bf16Mode { kAuto, kOn, kOff };

// Reads a `bf16` value: "auto", true / false, or the strings "true" / "false" (a --bf16 flag);
// UsageError naming `key` otherwise.
Bf16Mode bf16_mode_from_json(const Json& value, const std::string& key);
Bf16Mode bf16_mode_from_string(const std::string& value, const std::string& key);

// What this CPU offers for bf16 (x86 CPUID with the OS's AVX-512 state; false elsewhere).
struct CpuBf16Support {
  bool avx512_bf16 = false;  // AVX512-BF16 (vdpbf16ps): Cooper Lake, Sapphire Rapids, Zen 4 and later
  bool amx_bf16 = false;     // AMX-BF16 tiles: Sapphire Rapids and later
  bool native() const { return avx512_bf16 || amx_bf16; }
};
CpuBf16Support cpu_bf16_support();

// The resolved precision of a run: whether bf16 autocast is on, and why (for the log).
struct Precision {
  bool bf16 = false;
  std::string reason;
  // "bf16 autocast" or "float32", with the reason.
  std::string describe() const;
};

// "auto" is on for CUDA and for a CPU with native bf16 (where oneDNN's bf16 convolutions run about 3x
// faster than float32), off on other CPUs (where bf16 is emulated and no faster); true and false
// force it.
Precision resolve_precision(Bf16Mode mode, const torch::Device& device);

// An inference tool's --bf16 value ("auto", "true" or "false") resolved for `device`.
Precision inference_precision(const std::string& flag, const torch::Device& device);

// Logs "compute: <precision> on <device>, <memory order> memory order" for an inference tool's encoder
// (channels-last under bf16: instret/inference/single_encoder.h); a tool does so once its model loaded,
// so that a failure stays one line.
void log_precision(const Precision& precision, const torch::Device& device);

// bf16 autocast of the ops LibTorch lists for it (convolutions, matrix products) on `device`'s type
// while in scope, when `on`; the previous state comes back at the end of the scope (nesting is safe).
class Autocast {
 public:
  Autocast(bool on, const torch::Device& device);
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  bool on_ = false;
  bool cuda_ = false;
  bool was_enabled_ = false;
  c10::ScalarType was_dtype_ = c10::ScalarType::Undefined;
};

// Leaves autocast while in scope: what runs inside keeps its inputs' precision (features, losses).
class NoAutocast {
 public:
  NoAutocast() = default;

 private:
  c10::impl::ExcludeDispatchKeyGuard guard_{c10::autocast_dispatch_keyset};
};

}  // namespace instret
