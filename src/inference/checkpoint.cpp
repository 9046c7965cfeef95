#include "instret/inference/checkpoint.h"

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <type_traits>

#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/core/zip.h"

namespace instret {

namespace {

constexpr const char* kFormat = "instret-checkpoint-1";

std::string describe_kind(const std::string& kind) {
  return kind == "han_cnn" ? "'han_cnn' single encoder" : "'" + kind + "' multi encoder";
}

c10::Dict<std::string, at::Tensor> to_dict(const torch::OrderedDict<std::string, torch::Tensor>& named) {
  c10::Dict<std::string, at::Tensor> d;
  for (const auto& item : named) d.insert(item.key(), item.value().detach().to(torch::kCPU));
  return d;
}

std::string read_string(torch::serialize::InputArchive& archive, const std::string& key, const std::string& file) {
  c10::IValue v;
  if (!archive.try_read(key, v) || !v.isString()) throw FormatError("checkpoint " + file + ": no '" + key + "' entry");
  return v.toStringRef();
}

// Every tensor of the archive (parameters, buffers, optimizer state, extras) must lie within bytes
// the file holds. LibTorch's unpickler gives a storage the size its pickle declares (numel x element
// size) over a buffer of the record's size, and the tensor the sizes and strides the pickle gives,
// checking neither: a record shorter than its storage (with a CRC that matches the short record)
// would be read past its end (0 bytes: a crash; 4 of 144: garbage). `record_bytes` maps each buffer
// a stored record was read into to the record's size (see open_archive).
void check_tensor_storages(torch::serialize::InputArchive& archive, const std::map<const void*, uint64_t>& record_bytes,
                           const std::string& file) {
  std::string bad;
  auto check = [&](const at::Tensor& t) {
    if (!t.defined()) return;
    if (t.layout() != at::kStrided || t.is_quantized()) {
      bad = "holds a tensor that is not a dense strided tensor";
      return;
    }
    const c10::Storage& storage = t.storage();
    const uint64_t nbytes = storage.nbytes();
    const void* data = storage.data_ptr().get();
    if (data == nullptr) {
      // LibTorch reads no buffer for an empty record.
      if (nbytes != 0)
        bad = "a tensor record holds 0 bytes, its storage declares " + std::to_string(nbytes) + " (a short record)";
    } else {
      const auto it = record_bytes.find(data);
      if (it == record_bytes.end()) {
        bad = "a tensor's storage is not a record of the file";
        return;
      }
      if (it->second < nbytes) {
        bad = "a tensor record holds " + std::to_string(it->second) + " bytes, its storage declares " +
              std::to_string(nbytes) + " (a short record)";
        return;
      }
    }
    // The tensor's last element must lie within the storage.
    if (t.numel() == 0) return;
    int64_t last = t.storage_offset();
    bool ok = last >= 0;
    for (int64_t d = 0; ok && d < t.dim(); ++d) {
      int64_t span = 0;
      ok = t.stride(d) >= 0 && !__builtin_mul_overflow(t.size(d) - 1, t.stride(d), &span) &&
           !__builtin_add_overflow(last, span, &last);
    }
    uint64_t end = 0;
    if (!ok || __builtin_mul_overflow(uint64_t(last) + 1, uint64_t(t.element_size()), &end) || end > nbytes)
      bad = "a tensor of shape " + c10::str(t.sizes()) + " reaches past its " + std::to_string(nbytes) +
            "-byte storage";
  };
  for (const std::string& key : archive.keys()) {
    c10::IValue v;
    if (!archive.try_read(key, v)) continue;
    v.visit([&](const c10::IValue& x) {
      if (x.isTensor()) check(x.toTensor());
      return !bad.empty();  // true: do not descend further
    });
    if (!bad.empty()) throw FormatError("checkpoint " + file + ": '" + key + "' " + bad);
  }
}

torch::serialize::InputArchive open_archive(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw IoError("checkpoint " + path.string() + ": no such file");
  torch::serialize::InputArchive archive;
  std::map<const void*, uint64_t> record_bytes;
  try {
    // Before LibTorch sees a byte: a regular file (IoError otherwise), zip magic first, records within
    // the file, not overlapping, not inflating past their declared sizes, and every CRC-32 right
    // (LibTorch's zip reader checks none of this). LibTorch then reads the same open file.
    const ZipFile zip(path);
    zip.verify_all();
    // LibTorch stores every tensor record (only code is deflated) and reads a stored record straight
    // into the buffer its storage keeps, in one read at the record's offset: those reads tell which
    // buffer holds which record (checked in check_tensor_storages). A deflated tensor record would
    // be inflated out of sight: refused.
    std::map<uint64_t, uint64_t> stored;  // data offset -> size of each stored record
    for (const ZipEntry& e : zip.entries()) {
      const bool tensor_record = e.name.find("/data/") != std::string::npos ||
                                 e.name.find("/constants/") != std::string::npos;
      if (e.method != 0 && tensor_record)
        throw FormatError("tensor record '" + one_line(e.name) + "' is deflated (LibTorch stores tensor records)");
      if (e.method == 0) stored[e.data_offset] = e.size;
    }
    const uint64_t size = zip.file_size();
    archive.load_from(
        [&zip, &stored, &record_bytes, size](uint64_t pos, void* buf, size_t n) -> size_t {
          if (pos >= size) return 0;
          n = static_cast<size_t>(std::min<uint64_t>(n, size - pos));
          zip.pread_exact(pos, buf, n);
          if (const auto it = stored.find(pos); it != stored.end() && it->second == n && n > 0) record_bytes[buf] = n;
          return n;
        },
        [size]() -> size_t { return static_cast<size_t>(size); });
  } catch (const IoError& e) {
    throw IoError("checkpoint " + one_line(e.what()));
  } catch (const std::exception& e) {
    throw FormatError("checkpoint " + path.string() + ": not a checkpoint file (" + one_line(e.what()) + ")");
  }
  check_tensor_storages(archive, record_bytes, path.string());
  return archive;
}

// Whatever escapes reading a checkpoint (a c10::Error or torch::jit::ErrorReport from LibTorch's
// unpickler, std::out_of_range, ...) becomes one FormatError naming the file.
[[noreturn]] void rethrow_as_format_error(const std::string& file) {
  try {
    throw;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw FormatError("checkpoint " + file + ": unreadable (" + one_line(e.what()) + ")");
  } catch (...) {
    throw FormatError("checkpoint " + file + ": unreadable (unknown error)");
  }
}

CheckpointInfo read_info(torch::serialize::InputArchive& archive, const std::string& file) {
  c10::IValue format;
  if (!archive.try_read("format", format) || !format.isString() || format.toStringRef() != kFormat)
    throw FormatError("checkpoint " + file + ": not an instret checkpoint (no '" + std::string(kFormat) + "' tag)");
  CheckpointInfo info;
  try {
    info.model = model_config_from_json(Json::parse(read_string(archive, "model_config", file)), file);
    info.run_config = Json::parse(read_string(archive, "run_config", file));
  } catch (const Json::exception& e) {
    throw FormatError("checkpoint " + file + ": broken config JSON: " + e.what());
  } catch (const UsageError& e) {
    throw FormatError("checkpoint " + file + ": " + e.what());
  }
  c10::IValue step;
  if (!archive.try_read("step", step) || !step.isInt()) throw FormatError("checkpoint " + file + ": no step");
  info.step = step.toInt();
  c10::IValue has_opt;
  info.has_optimizer = archive.try_read("has_optimizer", has_opt) && has_opt.isBool() && has_opt.toBool();
  return info;
}

// The stored tensors of `key`, checked against `targets` (every name present with its shape, none
// extra); nothing is copied yet, so a failed check leaves the model as it was.
std::map<std::string, at::Tensor> checked_tensors(torch::serialize::InputArchive& archive, const std::string& key,
                                                  const std::string& what,
                                                  const torch::OrderedDict<std::string, torch::Tensor>& targets,
                                                  const std::string& file) {
  c10::IValue v;
  if (!archive.try_read(key, v) || !v.isGenericDict()) throw FormatError("checkpoint " + file + ": no " + key);
  std::map<std::string, at::Tensor> stored;
  for (const auto& entry : v.toGenericDict()) {
    if (!entry.key().isString() || !entry.value().isTensor())
      throw FormatError("checkpoint " + file + ": " + key + " holds an entry that is not a named tensor");
    stored[entry.key().toStringRef()] = entry.value().toTensor();
  }
  for (const auto& t : targets) {
    auto it = stored.find(t.key());
    if (it == stored.end())
      throw FormatError("checkpoint " + file + ": has no " + what + " '" + t.key() + "' that the model expects");
    if (it->second.sizes() != t.value().sizes())
      throw FormatError("checkpoint " + file + ": " + what + " '" + t.key() + "' has shape " +
                        c10::str(it->second.sizes()) + ", model expects " + c10::str(t.value().sizes()));
  }
  for (const auto& [name, t] : stored)
    if (!targets.contains(name))
      throw FormatError("checkpoint " + file + ": unexpected " + what + " '" + name + "' the model does not have");
  return stored;
}

void copy_tensors(const torch::OrderedDict<std::string, torch::Tensor>& targets,
                  const std::map<std::string, at::Tensor>& stored) {
  torch::NoGradGuard guard;
  for (const auto& t : targets) {
    auto target = t.value();
    target.copy_(stored.at(t.key()));
  }
}

// The optimizer's per-parameter state is keyed by the parameter's TensorImpl: as a string of its
// address in LibTorch 1.x, as the pointer itself in 2.x.
template <typename StateMap>
auto find_state(StateMap& state, c10::TensorImpl* impl) {
  if constexpr (std::is_same_v<typename StateMap::key_type, std::string>) {
    std::ostringstream key;
    key << impl;
    return state.find(key.str());
  } else {
    return state.find(impl);
  }
}

// Optimizer state is stored on the CPU; put it next to its parameters.
void move_optimizer_state(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups()) {
    for (auto& p : group.params()) {
      auto it = find_state(optimizer.state(), p.unsafeGetTensorImpl());
      if (it == optimizer.state().end()) continue;
      const auto dev = p.device();
      auto move = [&](auto& st) {
        if (st.exp_avg().defined()) st.exp_avg(st.exp_avg().to(dev));
        if (st.exp_avg_sq().defined()) st.exp_avg_sq(st.exp_avg_sq().to(dev));
        if (st.max_exp_avg_sq().defined()) st.max_exp_avg_sq(st.max_exp_avg_sq().to(dev));
      };
      if (auto* adam = dynamic_cast<torch::optim::AdamParamState*>(it->second.get()))
        move(*adam);
      else if (auto* adamw = dynamic_cast<torch::optim::AdamWParamState*>(it->second.get()))
        move(*adamw);
    }
  }
}

CheckpointExtras read_extras(torch::serialize::InputArchive& archive, const std::string& file) {
  CheckpointExtras extras;
  c10::IValue state;
  if (!archive.try_read("extras_state", state)) return extras;
  if (!state.isString()) throw FormatError("checkpoint " + file + ": extras_state is not a string");
  try {
    extras.state = Json::parse(state.toStringRef());
  } catch (const Json::exception& e) {
    throw FormatError("checkpoint " + file + ": broken extras JSON: " + e.what());
  }
  c10::IValue tensors;
  if (!archive.try_read("extras_tensors", tensors) || !tensors.isGenericDict())
    throw FormatError("checkpoint " + file + ": no extras_tensors");
  for (const auto& entry : tensors.toGenericDict()) {
    if (!entry.key().isString() || !entry.value().isTensor())
      throw FormatError("checkpoint " + file + ": extras_tensors holds an entry that is not a named tensor");
    extras.tensors[entry.key().toStringRef()] = entry.value().toTensor();
  }
  return extras;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, const torch::nn::Module& model, const ModelConfig& config,
                     torch::optim::Optimizer* optimizer, int64_t step, const Json& run_config,
                     const CheckpointExtras* extras) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kFormat)));
  archive.write("model_kind", c10::IValue(config.kind));
  archive.write("model_config", c10::IValue(to_json(config).dump()));
  archive.write("run_config", c10::IValue(run_config.dump()));
  archive.write("step", c10::IValue(step));
  archive.write("parameters", c10::IValue(to_dict(model.named_parameters())));
  archive.write("buffers", c10::IValue(to_dict(model.named_buffers())));
  archive.write("has_optimizer", c10::IValue(optimizer != nullptr));
  if (optimizer) {
    torch::serialize::OutputArchive opt;
    optimizer->save(opt);
    archive.write("optimizer", opt);
  }
  if (extras) {
    archive.write("extras_state", c10::IValue(extras->state.dump()));
    c10::Dict<std::string, at::Tensor> tensors;
    for (const auto& [name, t] : extras->tensors) tensors.insert(name, t.detach().to(torch::kCPU));
    archive.write("extras_tensors", c10::IValue(tensors));
  }
  write_atomically(path, [&](const std::filesystem::path& tmp) { archive.save_to(tmp.string()); });
}

CheckpointInfo read_checkpoint_info(const std::filesystem::path& path) try {
  auto archive = open_archive(path);
  return read_info(archive, path.string());
} catch (...) {
  rethrow_as_format_error(path.string());
}

CheckpointInfo load_checkpoint(const std::filesystem::path& path, torch::nn::Module& model, const ModelConfig& config,
                               torch::optim::Optimizer* optimizer, CheckpointExtras* extras) try {
  const std::string file = path.string();
  auto archive = open_archive(path);
  CheckpointInfo info = read_info(archive, file);
  if (info.model.kind != config.kind)
    throw FormatError("checkpoint " + file + " is a " + describe_kind(info.model.kind) + ", config asks for a " +
                      describe_kind(config.kind));
  // Everything is checked (and the optimizer, which checks its own state, loaded) before the first
  // model tensor is overwritten: a failed load leaves the model as it was.
  const auto parameters = checked_tensors(archive, "parameters", "parameter", model.named_parameters(), file);
  const auto buffers = checked_tensors(archive, "buffers", "buffer", model.named_buffers(), file);
  if (optimizer && info.has_optimizer) {
    torch::serialize::InputArchive opt;
    if (!archive.try_read("optimizer", opt)) throw FormatError("checkpoint " + file + ": optimizer state missing");
    try {
      optimizer->load(opt);
    } catch (const c10::Error& e) {
      std::string msg = e.what();
      if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
      throw FormatError("checkpoint " + file + ": optimizer state does not fit this optimizer: " + msg);
    }
  }
  CheckpointExtras stored_extras;
  if (extras) stored_extras = read_extras(archive, file);
  copy_tensors(model.named_parameters(), parameters);
  copy_tensors(model.named_buffers(), buffers);
  if (optimizer && info.has_optimizer) move_optimizer_state(*optimizer);
  if (extras) *extras = std::move(stored_extras);
  return info;
} catch (...) {
  rethrow_as_format_error(path.string());
}

}  // namespace instret
