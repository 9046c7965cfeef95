// The main of the training tools (train-single, train-multi): flags, config, run folder, continue
// and fork, distributed set-up, then the shared training loop. docs/training.md describes the usage.
#pragma once

namespace instret {

// Runs train-single (`multi` false) or train-multi; returns the process exit code.
int run_training_tool(int argc, char** argv, bool multi);

}  // namespace instret
