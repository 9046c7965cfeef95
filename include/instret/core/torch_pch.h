// Precompiled header of the core library: the heavy, stable third-party headers.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
