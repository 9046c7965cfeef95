#include "instret/train/generator_state.h"

#include <ATen/Context.h>
#include <ATen/core/Generator.h>
#include <ATen/CPUGeneratorImpl.h>

#include <mutex>

#include "instret/core/error.h"

namespace instret {

CheckpointExtras generator_state(const torch::Device& device) {
  CheckpointExtras extras;
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    extras.tensors["generator.cpu"] = gen.get_state();
  }
  if (device.is_cuda()) {
    auto gen = at::globalContext().defaultGenerator(device);
    std::lock_guard<std::mutex> lock(gen.mutex());
    extras.tensors["generator.cuda"] = gen.get_state();
  }
  return extras;
}

void restore_generators(const CheckpointExtras& extras, const torch::Device& device, const std::string& file) {
  auto cpu = extras.tensors.find("generator.cpu");
  if (cpu == extras.tensors.end())
    throw FormatError("checkpoint " + file + " holds no training state (a weights-only checkpoint?): use --init to start "
                      "a new run from its weights");
  try {
    {
      auto gen = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(cpu->second);
    }
    auto cuda = extras.tensors.find("generator.cuda");
    if (device.is_cuda() && cuda != extras.tensors.end()) {
      auto gen = at::globalContext().defaultGenerator(device);
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(cuda->second);
    }
  } catch (const c10::Error& e) {
    std::string msg = e.what();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    throw FormatError("checkpoint " + file + ": broken generator state: " + msg);
  }
}

}  // namespace instret
