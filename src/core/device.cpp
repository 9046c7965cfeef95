#include "instret/core/device.h"

#include <ATen/Context.h>
#include <torch/cuda.h>

#include <cstdlib>

#include "instret/core/error.h"

namespace instret {

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name.rfind("cuda", 0) != 0)
    throw UsageError("device '" + name + "': expected auto, cpu, cuda or cuda:N");
  int64_t index = 0;
  if (name.size() > 4) {
    const std::string digits = name.substr(5);
    if (name[4] != ':' || digits.empty() || digits.size() > 3 ||
        digits.find_first_not_of("0123456789") != std::string::npos)
      throw UsageError("device '" + name + "': expected auto, cpu, cuda or cuda:N");
    index = std::stoll(digits);
  }
  if (!torch::cuda::is_available()) throw UsageError("device '" + name + "': no CUDA device is available on this machine");
  if (index >= int64_t(torch::cuda::device_count()))
    throw UsageError("device '" + name + "': this machine has " + std::to_string(torch::cuda::device_count()) +
                     " CUDA device(s)");
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

torch::Tensor to_device(const torch::Tensor& host, const torch::Device& device) {
  if (!device.is_cuda() || !host.is_cpu()) return host.to(device);
  return host.pin_memory().to(device, /*non_blocking=*/true);
}

void configure_determinism(bool deterministic, const torch::Device& device, bool fixed_shapes) {
  auto& context = at::globalContext();
  if (deterministic) {
    // cuBLAS reads this when its handle is made: set it before the first CUDA matrix product.
    ::setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
    // warn_only: an op without a deterministic CUDA kernel (the Han CNN's adaptive max pooling
    // backward) warns instead of stopping the run.
    context.setDeterministicAlgorithms(true, /*warn_only=*/true);
    context.setDeterministicCuDNN(true);
    context.setBenchmarkCuDNN(false);
  } else if (device.is_cuda()) {
    context.setBenchmarkCuDNN(fixed_shapes);
  }
}

}  // namespace instret
