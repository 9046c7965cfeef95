// NumPy .npy files (format 1.0 write, 1.0-3.0 read), so every array output loads with numpy.load.
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <string>

namespace instret {

// Serialises a CPU-or-device tensor (float32/64, int8/16/32/64, uint8, bool) to .npy bytes,
// C order, little-endian.
std::string npy_bytes(const torch::Tensor& tensor);

// Writes `tensor` to `path` atomically.
void write_npy(const std::filesystem::path& path, const torch::Tensor& tensor);

// Parses .npy bytes (`name` is used in error messages); throws FormatError on anything invalid.
torch::Tensor npy_parse(const std::string& bytes, const std::string& name);

// Reads a .npy file into a CPU tensor.
torch::Tensor read_npy(const std::filesystem::path& path);

}  // namespace instret
