// eval-eer: the single-instrument encoder's EER on a split's (unseen) instruments, the paper's protocol
// over several seeds (docs/evaluation.md).
#pragma once

namespace instret {

// The whole tool (flags, data, embedding, protocol, JSON and trial dump); returns the exit code.
int run_eval_eer_tool(int argc, char** argv);

}  // namespace instret
