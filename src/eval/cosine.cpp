#include "instret/eval/cosine.h"

#include <cmath>
#include <string>

#include "instret/core/error.h"

namespace instret {

namespace {

int64_t rows_of(const std::vector<float>& m, int64_t dim, const char* what) {
  if (dim <= 0) throw UsageError(std::string(what) + ": dim must be positive, got " + std::to_string(dim));
  if (static_cast<int64_t>(m.size()) % dim != 0)
    throw UsageError(std::string(what) + ": matrix size " + std::to_string(m.size()) +
                     " is not a multiple of dim " + std::to_string(dim));
  return static_cast<int64_t>(m.size()) / dim;
}

double norm(const float* a, int64_t dim) {
  double s = 0.0;
  for (int64_t i = 0; i < dim; ++i) s += static_cast<double>(a[i]) * a[i];
  return std::sqrt(s);
}

double dot(const float* a, const float* b, int64_t dim) {
  double s = 0.0;
  for (int64_t i = 0; i < dim; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

}  // namespace

double cosine(const float* a, const float* b, int64_t dim) {
  const double d = norm(a, dim) * norm(b, dim);
  return d > 0.0 ? dot(a, b, dim) / d : 0.0;
}

void normalize_rows(std::vector<float>& matrix, int64_t dim) {
  const int64_t n = rows_of(matrix, dim, "normalize_rows");
  for (int64_t r = 0; r < n; ++r) {
    float* row = matrix.data() + r * dim;
    const double nr = norm(row, dim);
    if (nr == 0.0) continue;
    for (int64_t i = 0; i < dim; ++i) row[i] = static_cast<float>(row[i] / nr);
  }
}

std::vector<double> cosine_matrix(const std::vector<float>& a, const std::vector<float>& b, int64_t dim) {
  const int64_t na = rows_of(a, dim, "cosine_matrix"), nb = rows_of(b, dim, "cosine_matrix");
  std::vector<double> norm_b(static_cast<size_t>(nb));
  for (int64_t j = 0; j < nb; ++j) norm_b[j] = norm(b.data() + j * dim, dim);
  std::vector<double> out(static_cast<size_t>(na * nb), 0.0);
  for (int64_t i = 0; i < na; ++i) {
    const float* ra = a.data() + i * dim;
    const double norm_a = norm(ra, dim);
    for (int64_t j = 0; j < nb; ++j) {
      const double d = norm_a * norm_b[j];
      if (d > 0.0) out[i * nb + j] = dot(ra, b.data() + j * dim, dim) / d;
    }
  }
  return out;
}

}  // namespace instret
