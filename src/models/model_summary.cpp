#include "instret/models/model_summary.h"

#include <iomanip>
#include <sstream>

namespace instret {

int64_t count_parameters(const torch::nn::Module& module, bool trainable_only) {
  int64_t n = 0;
  for (const auto& p : module.parameters())
    if (!trainable_only || p.requires_grad()) n += p.numel();
  return n;
}

std::string model_summary(const torch::nn::Module& module) {
  std::ostringstream out;
  out << module.name() << "\n";
  for (const auto& item : module.named_modules("", /*include_self=*/false)) {
    const auto& m = *item.value();
    int64_t own = 0;
    for (const auto& p : m.named_parameters(/*recurse=*/false)) own += p.value().numel();
    if (!m.children().empty() && own == 0) continue;
    std::ostringstream layer;
    m.pretty_print(layer);
    out << "  " << std::left << std::setw(40) << item.key() << " " << std::setw(60) << layer.str() << " "
        << std::right << std::setw(12) << own << "\n";
  }
  out << "parameters: " << count_parameters(module) << " (trainable " << count_parameters(module, true) << ")\n";
  int64_t buffers = 0;
  for (const auto& b : module.buffers()) buffers += b.numel();
  out << "buffer elements: " << buffers << "\n";
  return out.str();
}

}  // namespace instret
