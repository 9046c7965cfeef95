// Data-parallel training over several processes with LibTorch's c10d (Gloo for CPU tensors, NCCL for
// CUDA tensors where the LibTorch has it), set up the way torchrun and Slurm launch jobs.
#pragma once
#include <torch/types.h>

#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace instret {

class Distributed {
 public:
  // From RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR (default 127.0.0.1), MASTER_PORT (default 29500);
  // WORLD_SIZE unset or 1 gives a single process that communicates with nobody. Rank 0 serves the
  // rendezvous store. UsageError for malformed or inconsistent values, or when this build has no
  // c10d backend for `device`.
  static std::unique_ptr<Distributed> from_environment(const torch::Device& device);
  ~Distributed();

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  int local_rank() const { return local_rank_; }
  bool is_main() const { return rank_ == 0; }
  // The device this rank trains on: the requested one, or cuda:LOCAL_RANK for CUDA with several ranks.
  const torch::Device& device() const { return device_; }

  // Averages the tensors over all ranks, in place (one flattened all-reduce per call).
  void all_reduce_mean(const std::vector<torch::Tensor>& tensors);
  // Sums each value over ranks (one all-reduce; for loss logging and agreeing on a stop).
  std::vector<double> all_reduce_sum(std::vector<double> values);
  // Waits for every rank.
  void barrier();
  // A step every rank must pass together: each says whether its part failed (`error`), and all
  // learn it in one all-reduce, so a failure never leaves the others waiting on a collective. A
  // rank rethrows its own error; a rank whose part succeeded while another's failed throws an Error
  // naming the first failed rank and `what`. With one process, only rethrows `error`.
  void agree(const std::exception_ptr& error, const std::string& what);
  // Runs `part` on rank 0 only (the others wait in agree()), then agrees on its outcome.
  template <class F>
  void on_main_agreed(F&& part, const std::string& what) {
    std::exception_ptr error;
    if (is_main()) try {
        part();
      } catch (...) {
        error = std::current_exception();
      }
    agree(error, what);
  }

 private:
  struct Backend;
  Distributed() = default;
  int rank_ = 0, world_size_ = 1, local_rank_ = 0;
  torch::Device device_ = torch::kCPU;
  std::unique_ptr<Backend> backend_;
};

}  // namespace instret
