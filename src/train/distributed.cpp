#include "instret/train/distributed.h"

#include <torch/cuda.h>

#include <cstdlib>
#include <string>

#ifdef INSTRET_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef INSTRET_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <spdlog/spdlog.h>

#include "instret/core/error.h"

namespace instret {

#if defined(INSTRET_HAVE_GLOO)
// The concrete process groups are held by their own types: LibTorch 1.13 derives them from
// c10d::ProcessGroup, 2.x from c10d::Backend, and both give them the same allreduce and barrier.
struct Distributed::Backend {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#if defined(INSTRET_HAVE_NCCL)
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  // f(group) on whichever group this process runs.
  template <class F>
  auto with_group(F&& f) {
#if defined(INSTRET_HAVE_NCCL)
    if (nccl) return f(*nccl);
#endif
    return f(*gloo);
  }
};
#else
struct Distributed::Backend {};
#endif

namespace {

// An environment integer in [lo, hi]; `fallback` when unset.
int env_int(const char* name, int fallback, int lo, int hi) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  const std::string s(v);
  if (s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError(std::string("environment ") + name + "='" + s + "' is not a non-negative integer");
  const int x = std::stoi(s);
  if (x < lo || x > hi)
    throw UsageError(std::string("environment ") + name + "=" + s + " is out of range [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "]");
  return x;
}

}  // namespace

Distributed::~Distributed() = default;

std::unique_ptr<Distributed> Distributed::from_environment(const torch::Device& device) {
  std::unique_ptr<Distributed> d(new Distributed());
  d->world_size_ = env_int("WORLD_SIZE", 1, 1, 1 << 20);
  d->rank_ = env_int("RANK", 0, 0, d->world_size_ - 1);
  d->local_rank_ = env_int("LOCAL_RANK", 0, 0, 1 << 20);
  d->device_ = device;
  if (d->world_size_ == 1) return d;
  if (device.is_cuda()) {
    if (d->local_rank_ >= int(torch::cuda::device_count()))
      throw UsageError("LOCAL_RANK=" + std::to_string(d->local_rank_) + " but this machine has " +
                       std::to_string(torch::cuda::device_count()) + " CUDA device(s)");
    d->device_ = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(d->local_rank_));
  }
#if defined(INSTRET_HAVE_GLOO)
  const char* addr_env = std::getenv("MASTER_ADDR");
  const std::string addr = addr_env && *addr_env ? addr_env : "127.0.0.1";
  const int port = env_int("MASTER_PORT", 29500, 1, 65535);
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<uint16_t>(port);
  opts.isServer = d->rank_ == 0;
  opts.numWorkers = d->world_size_;
  opts.waitWorkers = true;
  opts.timeout = std::chrono::minutes(30);  // the first collectives wait for rank 0's target cache
  d->backend_ = std::make_unique<Backend>();
  try {
    d->backend_->store = c10::make_intrusive<c10d::TCPStore>(addr, opts);
    if (device.is_cuda()) {
#if defined(INSTRET_HAVE_NCCL)
      // Rank 0 alone fills the target cache and validates while the others wait in a collective:
      // the watchdog's default timeout would abort them.
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = std::chrono::minutes(30);
      d->backend_->nccl =
          c10::make_intrusive<c10d::ProcessGroupNCCL>(d->backend_->store, d->rank_, d->world_size_, options);
#else
      throw UsageError("multi-process training on CUDA needs c10d NCCL, which this build lacks");
#endif
    } else {
      auto options = c10d::ProcessGroupGloo::Options::create();
      // Loopback rendezvous: bind to it; otherwise each rank uses its own default interface
      // (GLOO_SOCKET_IFNAME picks one), never the master's address.
      const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
      if (ifname && *ifname) options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (addr == "127.0.0.1" || addr == "localhost")
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(addr));
      else options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      options->timeout = std::chrono::minutes(30);
      d->backend_->gloo =
          c10::make_intrusive<c10d::ProcessGroupGloo>(d->backend_->store, d->rank_, d->world_size_, options);
    }
  } catch (const c10::Error& e) {
    std::string msg = e.what();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    throw IoError("distributed set-up with " + addr + ":" + std::to_string(port) + " failed: " + msg);
  }
  spdlog::info("distributed: rank {} of {} (local rank {}), rendezvous {}:{}", d->rank_, d->world_size_,
               d->local_rank_, addr, port);
  return d;
#else
  (void)device;
  throw UsageError("WORLD_SIZE=" + std::to_string(d->world_size_) +
                   ": this build has no c10d backend (rebuild with libgloo-dev installed)");
#endif
}

void Distributed::all_reduce_mean(const std::vector<torch::Tensor>& tensors) {
  if (world_size_ == 1 || tensors.empty()) return;
#if defined(INSTRET_HAVE_GLOO)
  std::vector<torch::Tensor> flat{torch::cat([&] {
    std::vector<torch::Tensor> parts;
    for (const auto& t : tensors) parts.push_back(t.reshape({-1}));
    return parts;
  }())};
  backend_->with_group([&](auto& g) { g.allreduce(flat)->wait(); });
  flat[0].div_(world_size_);
  int64_t offset = 0;
  for (const auto& t : tensors) {
    const int64_t n = t.numel();
    t.copy_(flat[0].narrow(0, offset, n).view_as(t));
    offset += n;
  }
#endif
}

std::vector<double> Distributed::all_reduce_sum(std::vector<double> values) {
  if (world_size_ == 1 || values.empty()) return values;
#if defined(INSTRET_HAVE_GLOO)
  std::vector<torch::Tensor> t{torch::tensor(values, torch::kFloat64).to(device_)};
  backend_->with_group([&](auto& g) { g.allreduce(t)->wait(); });
  const torch::Tensor sums = t[0].cpu();
  for (size_t i = 0; i < values.size(); ++i) values[i] = sums[int64_t(i)].item<double>();
#endif
  return values;
}

void Distributed::barrier() {
  if (world_size_ == 1) return;
#if defined(INSTRET_HAVE_GLOO)
  backend_->with_group([&](auto& g) { g.barrier()->wait(); });
#endif
}

void Distributed::agree(const std::exception_ptr& error, const std::string& what) {
  if (world_size_ == 1) {
    if (error) std::rethrow_exception(error);
    return;
  }
  std::vector<double> failed(size_t(world_size_), 0.0);
  failed[size_t(rank_)] = error ? 1.0 : 0.0;
  try {
    failed = all_reduce_sum(std::move(failed));
  } catch (...) {
    if (error) std::rethrow_exception(error);  // this rank's own cause, not the dropped connection it led to
    throw;
  }
  if (error) std::rethrow_exception(error);
  for (int r = 0; r < world_size_; ++r)
    if (failed[size_t(r)] > 0)
      throw Error("rank " + std::to_string(r) + " failed while " + what + " (its log says why): stopping rank " +
                  std::to_string(rank_));
}

}  // namespace instret
