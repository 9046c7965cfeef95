// Benchmark: forward and forward+backward time per batch of the full-size encoders (han_cnn,
// small, large) on a log-mel batch (B, 128, 157), CPU (and CUDA when available), fixed threads.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "instret/loss/linear_assignment.h"
#include "instret/loss/pit_cosine_loss.h"
#include "instret/models/encoders.h"
#include "instret/models/model_summary.h"

namespace {

double median_ms(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}

torch::Tensor run(torch::nn::Module& m, const std::string& kind, const torch::Tensor& x) {
  if (kind == "han_cnn") return static_cast<instret::HanCnnImpl&>(m).forward(x).logits;
  return static_cast<instret::MultiEncoderNetImpl&>(m).forward(x);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time the encoders' forward and forward+backward passes", "bench_models"};
  int threads = 2, iters = 5, warmup = 1, batch_han = 32, batch_small = 32, batch_large = 8;
  bool cuda = true, models = true;
  std::vector<std::string> kinds{"han_cnn", "small", "large"};
  app.add_option("--models", kinds, "model kinds to time")->check(CLI::IsMember({"han_cnn", "small", "large"}));
  app.add_option("--threads", threads, "intra-op threads");
  app.add_option("--iters", iters, "timed iterations (median reported)");
  app.add_option("--warmup", warmup, "untimed iterations first");
  app.add_option("--batch-han", batch_han, "batch size of han_cnn");
  app.add_option("--batch-small", batch_small, "batch size of small");
  app.add_option("--batch-large", batch_large, "batch size of large");
  app.add_flag("!--no-cuda", cuda, "skip CUDA even when available");
  app.add_flag("!--loss-only", models, "time only the assignment and the loss");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);
  torch::manual_seed(0);

  std::vector<torch::Device> devices{torch::kCPU};
  if (cuda && torch::cuda::is_available()) devices.emplace_back(torch::kCUDA);
  {
    // Linear assignment of 128 random 9x9 problems, and the PIT loss of a batch of 128
    // (M = N = 9, D = 1024) forward + backward, on the CPU.
    const auto costs = torch::rand({128, 9, 9}, torch::kFloat64);
    std::vector<double> lsa, pit;
    auto outputs = torch::randn({128, 9, 1024}).requires_grad_(true);
    const auto targets = torch::randn({128, 9, 1024});
    const auto counts = torch::randint(2, 10, {128}, torch::kLong);
    for (int i = 0; i < warmup + iters; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      double sum = 0;
      for (int64_t b = 0; b < 128; ++b) sum += instret::linear_sum_assignment(costs[b]).cost;
      auto t1 = std::chrono::steady_clock::now();
      instret::pit_cosine_loss(outputs, targets, counts).loss.backward();
      auto t2 = std::chrono::steady_clock::now();
      if (i >= warmup && sum > 0) {
        lsa.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        pit.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
      }
    }
    std::cout << "linear_sum_assignment 128 x (9x9): " << median_ms(lsa) << " ms\n"
              << "pit_cosine_loss B=128 M=N=9 D=1024 forward+backward: " << median_ms(pit) << " ms\n";
  }
  if (!models) return 0;
  std::cout << "device model batch threads params forward_ms forward_backward_ms\n";
  for (const auto& device : devices) {
    for (const std::string& kind : kinds) {
      instret::ModelConfig c;
      c.kind = kind;
      const int batch = kind == "han_cnn" ? batch_han : kind == "small" ? batch_small : batch_large;
      auto model = instret::make_model(c);
      model->to(device);
      const auto x = torch::randn({batch, 128, 157}, torch::TensorOptions().device(device)) * 20 - 40;
      std::vector<double> fwd, fwd_bwd;
      for (int i = 0; i < warmup + iters; ++i) {
        model->eval();
        sync(device);
        auto t0 = std::chrono::steady_clock::now();
        {
          torch::NoGradGuard guard;
          run(*model, kind, x);
        }
        sync(device);
        auto t1 = std::chrono::steady_clock::now();
        model->train();
        model->zero_grad();
        run(*model, kind, x).pow(2).mean().backward();
        sync(device);
        auto t2 = std::chrono::steady_clock::now();
        if (i >= warmup) {
          fwd.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
          fwd_bwd.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
        }
      }
      std::cout << device << " " << kind << " " << batch << " " << threads << " " << instret::count_parameters(*model) << " "
                << median_ms(fwd) << " " << median_ms(fwd_bwd) << std::endl;
    }
  }
  return 0;
}
