// Minimum-cost one-to-one assignment for rectangular cost matrices (the linear sum assignment
// problem), with the same results as scipy.optimize.linear_sum_assignment.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace instret {

struct Assignment {
  std::vector<int64_t> rows;  // increasing row indices
  std::vector<int64_t> cols;  // cols[k] is the column assigned to rows[k]
  double cost = 0.0;          // sum of the matched entries of the cost matrix
};

// Solves min (or max) sum_k cost[rows[k], cols[k]] over matchings of size min(R, C) of a 2-D cost
// tensor (R x C, any floating or integer dtype, any device; solved in double on the CPU) with the
// shortest augmenting path algorithm of Jonker-Volgenant as described by Crouse (2016), the one scipy
// uses; wide matrices are solved directly, tall ones transposed. O(n^2 m). +inf marks a forbidden
// pair (-inf when maximizing). Throws FormatError when an entry is NaN or -inf (+inf when maximizing),
// or when the forbidden pairs leave no complete matching ("cost matrix is infeasible").
Assignment linear_sum_assignment(const torch::Tensor& cost, bool maximize = false);

// The same on a row-major R x C buffer.
Assignment linear_sum_assignment(const double* cost, int64_t n_rows, int64_t n_cols, bool maximize = false);

}  // namespace instret
