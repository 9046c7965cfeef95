// Cosine similarity between embedding rows stored as row-major float matrices, computed in double.
#pragma once
#include <cstdint>
#include <vector>

namespace instret {

// Cosine of two vectors of length dim: dot / (|a| |b|); 0 when either vector is all zeros.
double cosine(const float* a, const float* b, int64_t dim);

// Divides every row of the row-major (size / dim) x dim matrix by its Euclidean norm, in place;
// all-zero rows stay zero. Throws UsageError if dim <= 0 or size is not a multiple of dim.
void normalize_rows(std::vector<float>& matrix, int64_t dim);

// Row-major n_a x n_b matrix of cosines between the rows of a (n_a x dim) and b (n_b x dim).
// Memory: the result plus one norm per row; no normalised copies of the inputs.
// Throws UsageError if dim <= 0 or a size is not a multiple of dim.
std::vector<double> cosine_matrix(const std::vector<float>& a, const std::vector<float>& b, int64_t dim);

}  // namespace instret
