#include "instret/core/device.h"

#include <torch/cuda.h>

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

}  // namespace instret
