#include "instret/core/precision.h"

#include <ATen/autocast_mode.h>
#include <spdlog/spdlog.h>
#include <torch/version.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "instret/core/error.h"

// LibTorch 2.4 made the autocast switches take a device type; before, one function per device.
#define INSTRET_AUTOCAST_BY_DEVICE_TYPE (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))

namespace instret {

Bf16Mode bf16_mode_from_string(const std::string& value, const std::string& key) {
  if (value == "auto") return Bf16Mode::kAuto;
  if (value == "true") return Bf16Mode::kOn;
  if (value == "false") return Bf16Mode::kOff;
  throw UsageError(key + ": '" + value + "' is not auto, true or false");
}

Bf16Mode bf16_mode_from_json(const Json& value, const std::string& key) {
  if (value.is_boolean()) return value.get<bool>() ? Bf16Mode::kOn : Bf16Mode::kOff;
  if (value.is_string()) return bf16_mode_from_string(value.get<std::string>(), "config key '" + key + "'");
  throw UsageError("config key '" + key + "': " + value.dump() + " is not \"auto\", true or false");
}

CpuBf16Support cpu_bf16_support() {
  CpuBf16Support s;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return s;
  __cpuid(1, a, b, c, d);
  if (!(c & (1u << 27))) return s;  // OSXSAVE: the OS manages the extended state (XGETBV works)
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const uint64_t xcr0 = (uint64_t(xcr0_hi) << 32) | xcr0_lo;
  const bool avx512_state = (xcr0 & 0xE6) == 0xE6;                   // SSE, AVX, opmask, ZMM halves
  const bool amx_state = (xcr0 & (uint64_t(3) << 17)) == (uint64_t(3) << 17);  // XTILECFG, XTILEDATA
  __cpuid_count(7, 0, a, b, c, d);
  const unsigned max_subleaf = a;
  const bool avx512f = b & (1u << 16);
  s.amx_bf16 = amx_state && (d & (1u << 22)) && (d & (1u << 24));  // AMX-BF16 and AMX-TILE
  if (max_subleaf >= 1) {
    __cpuid_count(7, 1, a, b, c, d);
    s.avx512_bf16 = avx512_state && avx512f && (a & (1u << 5));
  }
#endif
  return s;
}

std::string Precision::describe() const { return (bf16 ? "bf16 autocast (" : "float32 (") + reason + ")"; }

Precision resolve_precision(Bf16Mode mode, const torch::Device& device) {
  Precision p;
  if (mode == Bf16Mode::kOff) {
    p.reason = "bf16 false";
    return p;
  }
  if (mode == Bf16Mode::kOn) {
    p.bf16 = true;
    p.reason = "bf16 true";
    if (device.is_cpu() && !cpu_bf16_support().native())
      p.reason += "; this CPU has no native bf16 (AVX512-BF16 or AMX): emulated, no faster than float32";
    return p;
  }
  if (device.is_cuda()) {
    p.bf16 = true;
    p.reason = "bf16 auto: CUDA";
    return p;
  }
  if (!device.is_cpu()) {
    p.reason = "bf16 auto: off on " + device.str();
    return p;
  }
  const CpuBf16Support cpu = cpu_bf16_support();
  p.bf16 = cpu.native();
  p.reason = cpu.native() ? std::string("bf16 auto: this CPU has ") + (cpu.amx_bf16 ? "AMX-BF16" : "AVX512-BF16")
                          : "bf16 auto: this CPU has no native bf16 (AVX512-BF16 or AMX), where float32 is faster";
  return p;
}

Precision inference_precision(const std::string& flag, const torch::Device& device) {
  return resolve_precision(bf16_mode_from_string(flag, "--bf16"), device);
}

void log_precision(const Precision& precision, const torch::Device& device) {
  spdlog::info("compute: {} on {}, {} memory order", precision.describe(), device.str(),
               precision.bf16 ? "channels-last" : "contiguous");
}

Autocast::Autocast(bool on, const torch::Device& device) : on_(on), cuda_(device.is_cuda()) {
  if (!on_) return;
#if INSTRET_AUTOCAST_BY_DEVICE_TYPE
  const auto type = cuda_ ? at::kCUDA : at::kCPU;
  was_enabled_ = at::autocast::is_autocast_enabled(type);
  was_dtype_ = at::autocast::get_autocast_dtype(type);
  at::autocast::set_autocast_dtype(type, at::kBFloat16);
  at::autocast::set_autocast_enabled(type, true);
#else
  if (cuda_) {
    was_enabled_ = at::autocast::is_enabled();
    was_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
  } else {
    was_enabled_ = at::autocast::is_cpu_enabled();
    was_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
#endif
  at::autocast::increment_nesting();
}

Autocast::~Autocast() {
  if (!on_) return;
#if INSTRET_AUTOCAST_BY_DEVICE_TYPE
  const auto type = cuda_ ? at::kCUDA : at::kCPU;
  at::autocast::set_autocast_enabled(type, was_enabled_);
  at::autocast::set_autocast_dtype(type, was_dtype_);
#else
  if (cuda_) {
    at::autocast::set_enabled(was_enabled_);
    at::autocast::set_autocast_gpu_dtype(was_dtype_);
  } else {
    at::autocast::set_cpu_enabled(was_enabled_);
    at::autocast::set_autocast_cpu_dtype(was_dtype_);
  }
#endif
  // The cast weights are cached while autocast is nested; the outermost scope frees them.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
}

}  // namespace instret
