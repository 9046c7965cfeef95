#include "instret/core/npy.h"

#include <cstring>
#include <regex>

#include "instret/core/error.h"
#include "instret/core/fs.h"

namespace instret {
namespace {

const char kMagic[] = "\x93NUMPY";

struct Dtype {
  torch::ScalarType type;
  const char* descr;
};

const Dtype kDtypes[] = {
    {torch::kFloat32, "<f4"}, {torch::kFloat64, "<f8"}, {torch::kInt64, "<i8"},
    {torch::kInt32, "<i4"},   {torch::kInt16, "<i2"},   {torch::kInt8, "|i1"},
    {torch::kUInt8, "|u1"},   {torch::kBool, "|b1"},
};

}  // namespace

std::string npy_bytes(const torch::Tensor& tensor) {
  const torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
  const char* descr = nullptr;
  for (const auto& d : kDtypes)
    if (d.type == t.scalar_type()) descr = d.descr;
  if (!descr) throw UsageError(std::string("npy: unsupported dtype ") + c10::toString(t.scalar_type()));

  std::string shape = "(";
  for (int64_t i = 0; i < t.dim(); ++i) shape += std::to_string(t.size(i)) + (t.dim() == 1 ? "," : i + 1 < t.dim() ? ", " : "");
  shape += ")";
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic (6) + version (2) + header length (2) + header + '\n' is padded to a multiple of 64.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';

  std::string out(kMagic, 6);
  out += '\x01';
  out += '\x00';
  const uint16_t len = static_cast<uint16_t>(header.size());
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>(len >> 8);
  out += header;
  const size_t nbytes = static_cast<size_t>(t.numel()) * t.element_size();
  out.append(static_cast<const char*>(t.data_ptr()), nbytes);
  return out;
}

void write_npy(const std::filesystem::path& path, const torch::Tensor& tensor) {
  write_file_atomically(path, npy_bytes(tensor));
}

torch::Tensor npy_parse(const std::string& bytes, const std::string& name) {
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0)
    throw FormatError(name + ": not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw FormatError(name + ": truncated .npy header");
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    offset = 12;
  } else {
    throw FormatError(name + ": unsupported .npy version " + std::to_string(major));
  }
  if (bytes.size() < offset + header_len) throw FormatError(name + ": truncated .npy header");
  const std::string header = bytes.substr(offset, header_len);
  offset += header_len;

  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']+)'")))
    throw FormatError(name + ": .npy header has no descr");
  const std::string descr = m[1];
  if (std::regex_search(header, m, std::regex("'fortran_order'\\s*:\\s*True")))
    throw FormatError(name + ": Fortran-ordered .npy arrays are not supported");
  if (!std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)")))
    throw FormatError(name + ": .npy header has no shape");
  std::vector<int64_t> shape;
  const std::string dims = m[1];
  std::regex num("\\d+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it)
    shape.push_back(std::stoll(it->str()));

  const Dtype* dtype = nullptr;
  for (const auto& d : kDtypes) {
    // '|' and '<' are equivalent for one-byte types; '=' means native (little-endian here).
    if (descr == d.descr || (descr.size() == 3 && (descr[0] == '=' || descr[0] == '<' || descr[0] == '|') &&
                             descr.substr(1) == std::string(d.descr).substr(1)))
      dtype = &d;
  }
  if (!dtype) throw FormatError(name + ": unsupported .npy dtype '" + descr + "'");

  torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(dtype->type));
  const size_t nbytes = static_cast<size_t>(t.numel()) * t.element_size();
  if (bytes.size() - offset != nbytes)
    throw FormatError(name + ": .npy data size " + std::to_string(bytes.size() - offset) +
                      " does not match its header (" + std::to_string(nbytes) + " bytes expected)");
  if (nbytes) std::memcpy(t.data_ptr(), bytes.data() + offset, nbytes);
  return t;
}

torch::Tensor read_npy(const std::filesystem::path& path) { return npy_parse(read_file(path), path.string()); }

}  // namespace instret
