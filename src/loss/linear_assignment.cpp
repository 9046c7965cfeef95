#include "instret/loss/linear_assignment.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "instret/core/error.h"

namespace instret {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Dijkstra-like search for the shortest augmenting path from free row `i` over reduced costs.
// Returns the sink column, or -1 when every remaining column is unreachable (infeasible).
int64_t augmenting_path(int64_t nc, const std::vector<double>& cost, std::vector<double>& u,
                        std::vector<double>& v, std::vector<int64_t>& path, const std::vector<int64_t>& row4col,
                        std::vector<double>& shortest, int64_t i, std::vector<char>& SR, std::vector<char>& SC,
                        std::vector<int64_t>& remaining, double& min_val_out) {
  double min_val = 0;
  int64_t n_remaining = nc;
  for (int64_t it = 0; it < nc; ++it) remaining[it] = nc - it - 1;
  std::fill(SR.begin(), SR.end(), 0);
  std::fill(SC.begin(), SC.end(), 0);
  std::fill(shortest.begin(), shortest.end(), kInf);
  int64_t sink = -1;
  while (sink == -1) {
    int64_t index = -1;
    double lowest = kInf;
    SR[i] = 1;
    for (int64_t it = 0; it < n_remaining; ++it) {
      const int64_t j = remaining[it];
      const double r = min_val + cost[i * nc + j] - u[i] - v[j];
      if (r < shortest[j]) {
        path[j] = i;
        shortest[j] = r;
      }
      // Among equal lowest costs prefer an unassigned column: it ends the search sooner.
      if (shortest[j] < lowest || (shortest[j] == lowest && row4col[j] == -1)) {
        lowest = shortest[j];
        index = it;
      }
    }
    min_val = lowest;
    if (min_val == kInf) return -1;
    const int64_t j = remaining[index];
    if (row4col[j] == -1)
      sink = j;
    else
      i = row4col[j];
    SC[j] = 1;
    remaining[index] = remaining[--n_remaining];
  }
  min_val_out = min_val;
  return sink;
}

}  // namespace

Assignment linear_sum_assignment(const double* input, int64_t n_rows, int64_t n_cols, bool maximize) {
  Assignment result;
  if (n_rows < 0 || n_cols < 0) throw FormatError("linear_sum_assignment: negative matrix size");
  if (n_rows == 0 || n_cols == 0) return result;
  const bool transpose = n_cols < n_rows;
  int64_t nr = transpose ? n_cols : n_rows;
  int64_t nc = transpose ? n_rows : n_cols;
  std::vector<double> cost(static_cast<size_t>(nr * nc));
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t c = 0; c < n_cols; ++c) {
      const double x = input[r * n_cols + c];
      if (std::isnan(x) || x == (maximize ? kInf : -kInf))
        throw FormatError("linear_sum_assignment: cost matrix contains invalid numeric entries (" +
                          std::to_string(x) + " at row " + std::to_string(r) + ", column " + std::to_string(c) +
                          ")");
      const double y = maximize ? -x : x;
      if (transpose)
        cost[c * nc + r] = y;
      else
        cost[r * nc + c] = y;
    }
  }

  std::vector<double> u(nr, 0), v(nc, 0), shortest(nc);
  std::vector<int64_t> path(nc, -1), col4row(nr, -1), row4col(nc, -1), remaining(nc);
  std::vector<char> SR(nr), SC(nc);
  for (int64_t cur_row = 0; cur_row < nr; ++cur_row) {
    double min_val = 0;
    const int64_t sink =
        augmenting_path(nc, cost, u, v, path, row4col, shortest, cur_row, SR, SC, remaining, min_val);
    if (sink < 0) throw FormatError("linear_sum_assignment: cost matrix is infeasible");
    // Update the dual variables.
    u[cur_row] += min_val;
    for (int64_t i = 0; i < nr; ++i)
      if (SR[i] && i != cur_row) u[i] += min_val - shortest[col4row[i]];
    for (int64_t j = 0; j < nc; ++j)
      if (SC[j]) v[j] -= min_val - shortest[j];
    // Augment along the path back to cur_row.
    int64_t j = sink;
    while (true) {
      const int64_t i = path[j];
      row4col[j] = i;
      std::swap(col4row[i], j);
      if (i == cur_row) break;
    }
  }

  result.rows.resize(nr);
  result.cols.resize(nr);
  if (transpose) {
    std::vector<int64_t> order(nr);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return col4row[a] < col4row[b]; });
    for (int64_t k = 0; k < nr; ++k) {
      result.rows[k] = col4row[order[k]];
      result.cols[k] = order[k];
    }
  } else {
    for (int64_t k = 0; k < nr; ++k) {
      result.rows[k] = k;
      result.cols[k] = col4row[k];
    }
  }
  for (int64_t k = 0; k < nr; ++k) result.cost += input[result.rows[k] * n_cols + result.cols[k]];
  return result;
}

Assignment linear_sum_assignment(const torch::Tensor& cost, bool maximize) {
  if (cost.dim() != 2)
    throw FormatError("linear_sum_assignment: expected a 2-D cost matrix, got " + std::to_string(cost.dim()) +
                      " dimensions");
  const auto c = cost.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  return linear_sum_assignment(c.data_ptr<double>(), c.size(0), c.size(1), maximize);
}

}  // namespace instret
