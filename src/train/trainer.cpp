#include "instret/train/trainer.h"

#include <spdlog/spdlog.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>

#include <chrono>
#include <csignal>
#include <cmath>
#include <exception>
#include <iostream>
#include <limits>
#include <optional>

#include "instret/core/error.h"
#include "instret/core/hash.h"
#include "instret/core/precision.h"
#include "instret/data/sampling.h"
#include "instret/inference/checkpoint.h"
#include "instret/train/generator_state.h"
#include "instret/train/lr_schedule.h"
#include "instret/train/stop_signals.h"

namespace instret {

namespace {

using Clock = std::chrono::steady_clock;

// checkpoints/last.pt is also written when this long has passed since the last save.
constexpr double kSaveEverySeconds = 600;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = std::llround(s);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, (t % 3600) / 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

std::vector<torch::Tensor> trainable(torch::nn::Module& model) {
  std::vector<torch::Tensor> out;
  for (auto& p : model.parameters())
    if (p.requires_grad()) out.push_back(p);
  return out;
}

class Loop {
 public:
  Loop(TrainTask& task, const TrainConfig& config, const torch::Device& device, Distributed& dist, const TrainRun& run)
      : task_(task), config_(config), device_(device), dist_(dist), run_(run),
        bf16_(resolve_precision(config.bf16, device).bf16), params_(trainable(task.model())),
        optimizer_(params_, torch::optim::AdamOptions(config.optim.lr)
                                .betas({config.optim.beta1, config.optim.beta2})
                                .weight_decay(config.optim.weight_decay)) {}

  void start() {
    if (!run_.init_from.empty()) {
      const auto info = load_checkpoint(run_.init_from, task_.model(), task_.model_config());
      spdlog::info("initialised the weights from {} (step {} of its run)", run_.init_from, info.step);
    }
    if (!run_.continue_from.empty()) {
      CheckpointExtras extras;
      const auto info = load_checkpoint(run_.continue_from, task_.model(), task_.model_config(), &optimizer_, &extras);
      if (!info.has_optimizer)
        throw FormatError("checkpoint " + run_.continue_from + " holds no optimizer state: use --init to start a new run "
                          "from its weights");
      restore_generators(extras, device_, run_.continue_from);
      step_ = info.step;
      // Only rank 0's generators are saved; the others continue on streams of their own.
      if (!dist_.is_main()) torch::manual_seed(stream_seed(config_.seed, {uint64_t(dist_.rank()), uint64_t(step_)}));
      // The run folder changes only once the checkpoint proved loadable: metrics past its step go
      // now, config.json (with any new overrides) with the first checkpoint this run saves.
      dist_.on_main_agreed([&] { if (run_.run) run_.run->truncate_metrics(step_); }, "trimming metrics.jsonl");
      config_pending_ = true;
      if (extras.state.is_object() && extras.state.contains("best") && extras.state["best"].is_number()) {
        best_ = extras.state["best"].get<double>();
        best_step_ = extras.state.value("best_step", int64_t(0));
      }
      // A run stopped at a validation step before (or while) validating it validates first.
      validated_step_ = step_;
      if (extras.state.is_object() && extras.state.contains("validated_step") &&
          extras.state["validated_step"].is_number_integer())
        validated_step_ = extras.state["validated_step"].get<int64_t>();
      last_good_ = run_.continue_from;
      spdlog::info("continuing from {} at step {}", run_.continue_from, step_);
    }
  }

  void run() {
    StopSignals signals;
    const int64_t valid_every = config_.valid.every > 0 ? config_.valid.every : task_.steps_per_epoch();
    if (step_ > 0 && validated_step_ != step_ && (step_ % valid_every == 0 || step_ >= config_.steps)) {
      spdlog::info("step {} was not validated before the run stopped: validating it now", step_);
      if (!validate()) {
        save_agreed("last");
        return;
      }
    }
    if (step_ >= config_.steps) {
      spdlog::info("the run is complete ({} of {} steps); raise `steps` with --set to train further", step_, config_.steps);
      return;
    }
    const int64_t spe = task_.steps_per_epoch();
    PrefetchLoader loader([this](int64_t s) { return task_.make_batch(s); }, step_, config_.steps, config_.data.workers,
                          config_.data.prefetch);
    const bool check_each_step = device_.is_cpu() || dist_.world_size() > 1;
    const auto t0 = Clock::now();
    const int64_t first = step_;
    auto interval_start = Clock::now();
    double interval_loss = 0, interval_wait0 = 0;
    int64_t interval_steps = 0;
    torch::Tensor device_loss = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device_));
    auto last_save = Clock::now();
    int stop = 0;
    spdlog::info("training {} steps from step {} ({} steps per epoch, global batch {}, {} loader workers, {})",
                 config_.steps - step_, step_, spe, config_.batch_size, config_.data.workers, device_.str());
    while (step_ < config_.steps) {
      std::optional<Batch> batch = loader.next();
      if (!batch) break;
      const double lr = learning_rate_at(config_.optim, step_, config_.steps);
      for (auto& group : optimizer_.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
      optimizer_.zero_grad();
      torch::Tensor loss;
      {
        Autocast autocast(bf16_, device_);
        loss = task_.loss(*batch);
      }
      loss.backward();
      recycle_batch(std::move(*batch));
      sync_gradients();
      // The global gradient norm (clipped when configured): a finite loss can still have
      // non-finite gradients, which must never reach the weights.
      const double norm = torch::nn::utils::clip_grad_norm_(
          params_, config_.optim.grad_clip > 0 ? config_.optim.grad_clip : std::numeric_limits<double>::infinity());
      if (!std::isfinite(norm)) fail_non_finite(norm, step_ + 1, "gradient norm");
      optimizer_.step();
      ++step_;
      ++interval_steps;
      // Whether rank 0 saves last.pt because time has passed: every rank must know (a save is a
      // collective step: all ranks learn whether it failed).
      bool timed_save = dist_.is_main() && seconds_since(last_save) > kSaveEverySeconds;
      if (check_each_step) {
        auto sums = dist_.all_reduce_sum({loss.item<double>(), double(signals.received() != 0), double(timed_save)});
        const double mean_loss = sums[0] / dist_.world_size();
        if (!std::isfinite(mean_loss)) fail_non_finite(mean_loss, step_);
        interval_loss += mean_loss;
        if (sums[1] > 0) stop = signals.received() ? signals.received() : SIGTERM;
        timed_save = sums[2] > 0;
      } else {
        device_loss += loss.detach().to(torch::kFloat64);
        if (signals.received()) stop = signals.received();
      }
      const bool log_now = step_ % config_.log_every == 0 || step_ == config_.steps || stop;
      if (log_now) {
        if (!check_each_step) {
          interval_loss = device_loss.item<double>();
          device_loss.zero_();
          if (!std::isfinite(interval_loss)) fail_non_finite(interval_loss, step_);
        }
        const double elapsed = seconds_since(interval_start);
        const double rate = interval_steps * config_.batch_size / std::max(elapsed, 1e-9);
        const double eta = (config_.steps - step_) * seconds_since(t0) / double(step_ - first);
        const double waited = loader.wait_seconds() - interval_wait0;
        const double mean = interval_loss / double(interval_steps);
        spdlog::info("step {}/{} epoch {:.2f} loss {:.4f} lr {:.2e} {:.1f} samples/s data wait {:.0f}% ETA {}", step_,
                     config_.steps, double(step_) / spe, mean, lr, rate, 100.0 * waited / std::max(elapsed, 1e-9),
                     format_duration(eta));
        const Json row = {{"step", step_},
                          {"split", "train"},
                          {"epoch", double(step_) / spe},
                          {"loss", mean},
                          {"lr", lr},
                          {"samples_per_s", rate},
                          {"data_wait", waited / std::max(elapsed, 1e-9)},
                          {"elapsed_s", seconds_since(t0)}};
        dist_.on_main_agreed([&] { write_metrics(row); }, "writing metrics.jsonl");
        interval_start = Clock::now();
        interval_wait0 = loader.wait_seconds();
        interval_loss = 0;
        interval_steps = 0;
      }
      if (stop) break;
      const bool validate_now = step_ % valid_every == 0 || step_ == config_.steps;
      const bool keep_now = config_.checkpoint_every > 0 && step_ % config_.checkpoint_every == 0;
      const bool save_now = validate_now || keep_now || timed_save;
      if (!save_now) continue;
      // Nothing is saved from a model that a non-finite loss may have reached.
      if (!check_each_step) {
        const double pending = device_loss.item<double>();
        if (!std::isfinite(pending)) fail_non_finite(pending, step_);
      }
      if (validate_now && !validate()) {
        stop = signals.received() ? signals.received() : SIGTERM;
        break;
      }
      if (keep_now) save_agreed("step_" + std::to_string(step_));
      if (!validate_now) save_agreed("last");
      last_save = Clock::now();
    }
    if (stop) spdlog::warn("received signal {}: saving the run at step {} and stopping", stop, step_);
    save_agreed("last");
    if (!stop) spdlog::info("done: {} steps in {}", step_ - first, format_duration(seconds_since(t0)));
  }

  void benchmark(int64_t n) {
    const double synthetic = timed_steps(n, [this](int64_t s) { return task_.synthetic_batch(s); }, nullptr);
    double waited = 0;
    const double pipeline = timed_steps(n, nullptr, &waited);
    const double b = double(config_.batch_size);
    const Json line = {{"benchmark", config_.model.kind},
                       {"device", device_.str()},
                       {"batch_size", config_.batch_size},
                       {"steps", n},
                       {"workers", config_.data.workers},
                       {"threads", at::get_num_threads()},
                       {"bf16", bf16_},
                       {"channels_last", config_.channels_last},
                       {"emb_dim", config_.model.emb_dim},
                       {"step_steps_per_s", n / synthetic},
                       {"step_samples_per_s", n * b / synthetic},
                       {"pipeline_steps_per_s", n / pipeline},
                       {"pipeline_samples_per_s", n * b / pipeline},
                       {"data_wait_fraction", waited / pipeline}};
    std::cout << line.dump() << std::endl;
  }

 private:
  // Times n training steps (after one warm-up step) on `make` batches, or on the loader when null.
  double timed_steps(int64_t n, const std::function<Batch(int64_t)>& make, double* waited) {
    std::unique_ptr<PrefetchLoader> loader;
    if (!make)
      loader = std::make_unique<PrefetchLoader>([this](int64_t s) { return task_.make_batch(s); }, 0, n + 1,
                                                config_.data.workers, config_.data.prefetch);
    // Two synthetic batches, used in turn: the step's speed does not depend on the data.
    std::vector<Batch> premade;
    if (make)
      for (int64_t s = 0; s < 2; ++s) premade.push_back(make(s));
    Clock::time_point t0;
    double wait0 = 0;
    for (int64_t s = 0; s <= n; ++s) {
      if (s == 1) {
        if (device_.is_cuda()) torch::cuda::synchronize();
        t0 = Clock::now();
        wait0 = loader ? loader->wait_seconds() : 0;
      }
      Batch batch = make ? premade[size_t(s % 2)] : *loader->next();
      optimizer_.zero_grad();
      torch::Tensor loss;
      {
        Autocast autocast(bf16_, device_);
        loss = task_.loss(batch);
      }
      loss.backward();
      sync_gradients();
      optimizer_.step();
    }
    if (device_.is_cuda()) torch::cuda::synchronize();
    if (waited) *waited = loader->wait_seconds() - wait0;
    return seconds_since(t0);
  }

  void sync_gradients() {
    if (dist_.world_size() == 1) return;
    std::vector<torch::Tensor> grads;
    for (auto& p : params_) {
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      grads.push_back(p.grad());
    }
    dist_.all_reduce_mean(grads);
  }

  // `step` is the 1-based step whose loss or gradients were not finite.
  [[noreturn]] void fail_non_finite(double value, int64_t step, const char* what = "training loss") {
    const std::string kept = last_good_.empty() ? "no checkpoint was written yet"
                                                : "the last good checkpoint is " + last_good_;
    throw Error(fmt::format("the {} became {} at step {}: stopping ({}); lower optim.lr or set "
                            "optim.grad_clip",
                            what, std::isnan(value) ? "NaN" : "infinite", step, kept));
  }

  // Returns false when a stop signal interrupted it (nothing is recorded then); every rank agrees.
  bool validate() {
    bool interrupted = false, new_best = false;
    // The other ranks wait here for rank 0, and learn whether it failed...
    dist_.on_main_agreed(
        [&] {
          try {
            const auto t0 = Clock::now();
            Json metrics = task_.validate();
            const auto [name, higher] = task_.best_metric();
            std::string line;
            for (const auto& [k, v] : metrics.items())
              if (v.is_number()) line += fmt::format(" {} {:.4f}", k, v.get<double>());
            spdlog::info("valid at step {}:{} ({:.1f} s)", step_, line, seconds_since(t0));
            Json row = {{"step", step_}, {"split", "valid"}};
            row.update(metrics);
            write_metrics(row);
            if (metrics.contains(name) && metrics[name].is_number()) {
              const double value = metrics[name].get<double>();
              if (std::isfinite(value) && (!best_ || (higher ? value > *best_ : value < *best_))) {
                best_ = value;
                best_step_ = step_;
                new_best = true;
                spdlog::info("new best {} {:.4f} at step {}", name, value, step_);
              }
            }
          } catch (const Interrupted&) {
            spdlog::warn("validation at step {} interrupted", step_);
            interrupted = true;
          }
        },
        "validating step " + std::to_string(step_));
    // ... then whether it was interrupted or found a new best.
    const auto flags = dist_.all_reduce_sum({double(interrupted), double(new_best)});
    if (flags[0] > 0) return false;
    validated_step_ = step_;
    // last.pt (which records the best value) first: a failure between the two never leaves a
    // best.pt better than what last.pt remembers.
    save_agreed("last");
    if (flags[1] > 0) save_agreed("best");
    return true;
  }

  // save() on rank 0, then every rank learns whether it failed and all stop together.
  void save_agreed(const std::string& name) {
    dist_.on_main_agreed([&] { save(name); }, "saving checkpoints/" + name + ".pt");
  }

  void save(const std::string& name) {
    if (!dist_.is_main() || !run_.run) return;
    CheckpointExtras extras = generator_state(device_);
    extras.state = {{"epoch", double(step_) / task_.steps_per_epoch()}};
    if (best_) extras.state["best"] = *best_, extras.state["best_step"] = best_step_;
    extras.state["validated_step"] = validated_step_;
    const auto path = run_.run->checkpoint(name);
    save_checkpoint(path, task_.model(), task_.model_config(), &optimizer_, step_, task_.run_config(), &extras);
    if (config_pending_) {
      run_.run->save_config(task_.run_config());
      config_pending_ = false;
    }
    if (name == "last") last_good_ = path.string();
  }

  void write_metrics(const Json& line) {
    if (dist_.is_main() && run_.run) run_.run->append_metrics(line);
  }

  TrainTask& task_;
  const TrainConfig& config_;
  torch::Device device_;
  Distributed& dist_;
  const TrainRun& run_;
  bool bf16_;  // bf16 autocast of the forward pass (the loss is computed in float32)
  std::vector<torch::Tensor> params_;
  torch::optim::Adam optimizer_;
  int64_t step_ = 0;
  std::optional<double> best_;
  int64_t best_step_ = 0;
  int64_t validated_step_ = 0;  // the last step whose validation completed (saved in checkpoints)
  std::string last_good_;
  bool config_pending_ = false;  // a continued run's config.json waits for its first checkpoint
};

}  // namespace

std::pair<Batch, StableRng> synthetic_audio_batch(int64_t step, int64_t size, int64_t samples, uint64_t seed) {
  Batch b;
  b.step = step;
  b.size = size;
  b.samples = samples;
  StableRng rng(stream_seed(seed, {fnv1a("synthetic"), uint64_t(step)}));
  b.audio.resize(size_t(size * samples));
  for (float& v : b.audio) v = float(rng.uniform() * 2 - 1) * 0.5f;
  return {std::move(b), rng};
}

void train(TrainTask& task, const TrainConfig& config, const torch::Device& device, Distributed& dist,
           const TrainRun& run) {
  Loop loop(task, config, device, dist, run);
  loop.start();
  if (run.benchmark_steps > 0) loop.benchmark(run.benchmark_steps);
  else loop.run();
}

}  // namespace instret
