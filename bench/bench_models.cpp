// Benchmark: forward, forward+backward and whole training-step time per batch of the encoders
// (han_cnn, small, large; full size unless --han-channels / --emb-dim narrow them) on a log-mel batch
// (B, 128, 157), CPU (and CUDA when available), fixed threads, float32 or bf16 autocast. The step
// (zero_grad, forward, loss, backward, Adam) is what scripts/bench/bench_reference_training.py
// --step-only times in PyTorch: the model's share of a training step, without the log-mel frontend.
#include <CLI/CLI.hpp>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "instret/core/precision.h"
#include "instret/loss/linear_assignment.h"
#include "instret/loss/pit_cosine_loss.h"
#include "instret/models/encoders.h"
#include "instret/models/memory_format.h"
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
  bool cuda = true, models = true, bf16 = false, channels_last = false, json = false;
  std::string profile;
  int64_t emb_dim = 0;
  std::vector<int64_t> han_channels;
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
  app.add_flag("--bf16", bf16, "bf16 autocast of the forward passes (the loss stays float32)");
  app.add_flag("--channels-last", channels_last, "channels-last weights and inputs");
  app.add_option("--han-channels", han_channels, "Han CNN block widths (han_cnn, small), e.g. 16,32,64,128")
      ->delimiter(',')
      ->expected(4)
      ->check(CLI::PositiveNumber);
  app.add_option("--profile", profile,
                 "write a Chrome trace (chrome://tracing) of the last model's timed steps to this file");
  app.add_flag("--json", json, "one JSON line per model instead of the table");
  app.add_option("--emb-dim", emb_dim, "embedding size (default: the model's)")->check(CLI::PositiveNumber);
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
    if (json)
      std::cout << nlohmann::json{{"benchmark", "loss"},
                                  {"linear_sum_assignment_128x9x9_ms", median_ms(lsa)},
                                  {"pit_cosine_loss_128x9x1024_forward_backward_ms", median_ms(pit)}}
                       .dump()
                << std::endl;
    else
      std::cout << "linear_sum_assignment 128 x (9x9): " << median_ms(lsa) << " ms\n"
                << "pit_cosine_loss B=128 M=N=9 D=1024 forward+backward: " << median_ms(pit) << " ms\n";
  }
  if (!models) return 0;
  if (!json) std::cout << "device model batch threads params bf16 channels_last forward_ms forward_backward_ms step_ms\n";
  for (const auto& device : devices) {
    for (const std::string& kind : kinds) {
      instret::ModelConfig c;
      c.kind = kind;
      if (!han_channels.empty()) c.han.channels = han_channels;
      if (emb_dim > 0) c.emb_dim = emb_dim;
      const int batch = kind == "han_cnn" ? batch_han : kind == "small" ? batch_small : batch_large;
      auto model = instret::make_model(c);
      model->to(device);
      if (channels_last) instret::to_channels_last(*model);
      torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-3));
      const auto x = torch::randn({batch, 128, 157}, torch::TensorOptions().device(device)) * 20 - 40;
      // The step's loss: cross-entropy on random labels (han_cnn), the squared output (the encoders).
      const auto labels = torch::randint(0, c.n_classes, {batch}, torch::TensorOptions().device(device).dtype(torch::kLong));
      auto loss = [&] {
        instret::Autocast autocast(bf16, device);
        const torch::Tensor out = run(*model, kind, x);
        instret::NoAutocast fp32;
        return kind == "han_cnn" ? torch::nn::functional::cross_entropy(out.to(torch::kFloat32), labels)
                                 : out.to(torch::kFloat32).pow(2).mean();
      };
      std::vector<double> fwd, fwd_bwd, step;
      for (int i = 0; i < warmup + iters; ++i) {
        model->eval();
        sync(device);
        auto t0 = std::chrono::steady_clock::now();
        {
          torch::NoGradGuard guard;
          instret::Autocast autocast(bf16, device);
          run(*model, kind, x);
        }
        sync(device);
        auto t1 = std::chrono::steady_clock::now();
        model->train();
        model->zero_grad();
        loss().backward();
        sync(device);
        auto t2 = std::chrono::steady_clock::now();
        auto t3 = t2;
        {
          // The trace is written when `trace` ends, after t3: its writing is not timed.
          std::unique_ptr<torch::autograd::profiler::RecordProfile> trace;
          if (!profile.empty() && i >= warmup) trace = std::make_unique<torch::autograd::profiler::RecordProfile>(profile);
          adam.zero_grad();
          loss().backward();
          adam.step();
          sync(device);
          t3 = std::chrono::steady_clock::now();
        }
        if (i >= warmup) {
          fwd.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
          fwd_bwd.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
          step.push_back(std::chrono::duration<double, std::milli>(t3 - t2).count());
        }
      }
      if (json) {
        const nlohmann::json line = {{"benchmark", "model_step"},
                                     {"model", kind},
                                     {"device", device.str()},
                                     {"batch_size", batch},
                                     {"threads", threads},
                                     {"params", instret::count_parameters(*model)},
                                     {"bf16", bf16},
                                     {"channels_last", channels_last},
                                     {"forward_ms", median_ms(fwd)},
                                     {"forward_backward_ms", median_ms(fwd_bwd)},
                                     {"step_ms", median_ms(step)},
                                     {"step_samples_per_s", 1000.0 * batch / median_ms(step)}};
        std::cout << line.dump() << std::endl;
      } else {
        std::cout << device << " " << kind << " " << batch << " " << threads << " " << instret::count_parameters(*model)
                  << " " << bf16 << " " << channels_last << " " << median_ms(fwd) << " " << median_ms(fwd_bwd) << " "
                  << median_ms(step) << std::endl;
      }
    }
  }
  return 0;
}
