// Benchmark of the log-mel frontend: clips/s for batches of 5 s clips on CPU (1 and 2 threads)
// and CUDA when present, beside the cost of its parts: the STFT, the bare FFT of the same frames
// (the floor), the block-sparse filterbank product (CUDA path) and the dense product it replaces.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>

#include <ATen/Parallel.h>

#include "instret/audio/mel.h"

namespace {

using Clock = std::chrono::steady_clock;

// Clips per process CPU-second of the last `rate` call: the machine is shared, so this (robust to
// other processes' load) is reported beside clips per wall-second.
double g_cpu_rate = 0;

// Clips per second of `step` (which processes `batch` clips), timed over at least `seconds`.
double rate(const std::function<void()>& step, int64_t batch, double seconds, bool cuda) {
  step();  // warm-up
  if (cuda) torch::cuda::synchronize();
  int64_t reps = 0;
  const std::clock_t cpu_start = std::clock();
  const auto start = Clock::now();
  double elapsed = 0;
  do {
    step();
    ++reps;
    if (cuda) torch::cuda::synchronize();
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds);
  g_cpu_rate = static_cast<double>(reps * batch) / (static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC);
  return static_cast<double>(reps * batch) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Log-mel frontend throughput (clips/s of 5 s at 16 kHz, the paper's parameters)", "bench_mel"};
  std::vector<int64_t> batches = {1, 16, 64};
  std::vector<int> threads = {1, 2};
  double seconds = 2.0;
  app.add_option("--batch", batches, "Batch sizes");
  app.add_option("--threads", threads, "CPU thread counts");
  app.add_option("--seconds", seconds, "Minimum time per measurement");
  CLI11_PARSE(app, argc, argv);

  torch::NoGradGuard no_grad;
  const instret::MelConfig config;
  const int64_t samples = 5 * config.sample_rate;
  const int64_t frames = config.n_frames(samples);
  torch::manual_seed(0);

  std::printf("clips/s of 5 s clips (%ld frames of n_fft %d, win %d, %d bands)\n", static_cast<long>(frames),
              config.n_fft, config.win_length, config.n_mels);
  std::printf("%-6s %7s %6s %10s %10s | %10s %10s %10s %10s %10s\n", "device", "threads", "batch", "log-mel",
              "per-cpu-s", "stft", "per-cpu-s",
              "fft-bare", "mel-blocks", "mel-dense");
  auto run = [&](const torch::Device& device, int n_threads, int64_t batch) {
    const bool cuda = device.is_cuda();
    instret::LogMel mel(config);
    mel->to(device);
    const torch::Tensor audio = (torch::randn({batch, samples}) * 0.1).to(device);
    const torch::Tensor window = torch::hann_window(config.win_length, torch::dtype(torch::kFloat32)).to(device);
    const int64_t left = config.n_fft / 2 - (config.n_fft - config.win_length) / 2;
    const int64_t right = (frames - 1) * config.hop_length + config.win_length - left - samples;
    const torch::Tensor padded = torch::constant_pad_nd(audio, {left, right});
    const torch::Tensor framed = padded.unfold(1, config.win_length, config.hop_length).contiguous();
    // Per clip on the CPU (as the frontend works there), the whole batch at once on CUDA.
    auto per_clip = [&](const std::function<void(int64_t, int64_t)>& f) {
      if (cuda) return f(0, batch);
      at::parallel_for(0, batch, 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) f(i, 1);
      });
    };
    const torch::Tensor power = mel->power_spectrogram(audio);
    const torch::Tensor dense = mel->filterbank().t().contiguous();
    const double full = rate([&] { mel(audio); }, batch, seconds, cuda);
    const double full_cpu = g_cpu_rate;
    // The STFT alone: framing, window, rfft (zero-padded to n_fft).
    const double stft = rate([&] { per_clip([&](int64_t i, int64_t n) {
                               torch::fft::rfft(padded.narrow(0, i, n).unfold(1, config.win_length, config.hop_length) * window,
                                                config.n_fft, -1); }); },
                             batch, seconds, cuda);
    const double stft_cpu = g_cpu_rate;
    // The bare FFT of already framed and windowed audio: the floor of any STFT frontend.
    const double fft = rate([&] { per_clip([&](int64_t i, int64_t n) {
                              torch::fft::rfft(framed.narrow(0, i, n), config.n_fft, -1); }); },
                            batch, seconds, cuda);
    // Filterbank products on a ready power spectrogram: the block-sparse one (the CUDA path)
    // and the dense one it replaces.
    const double blocks = rate([&] { mel->apply_filterbank(power); }, batch, seconds, cuda);
    const double dense_rate =
        rate([&] { torch::matmul(power, dense).transpose(1, 2).contiguous(); }, batch, seconds, cuda);
    std::printf("%-6s %7s %6ld %10.0f %10.0f | %10.0f %10.0f %10.0f %10.0f %10.0f\n", cuda ? "cuda" : "cpu",
                cuda ? "-" : std::to_string(n_threads).c_str(), static_cast<long>(batch), full, full_cpu, stft, stft_cpu,
                fft, blocks,
                dense_rate);
    std::fflush(stdout);
  };
  for (int t : threads) {
    torch::set_num_threads(t);
    for (int64_t b : batches) run(torch::kCPU, t, b);
  }
  if (torch::cuda::is_available()) {
    for (int64_t b : batches) run(torch::kCUDA, 0, b);
  } else {
    std::printf("cuda: no CUDA device, skipped\n");
  }
  return 0;
}
