// eval-retrieval: the multi-instrument encoder's retrieval quality on a split's mixtures (the paper's
// Table 2: instrument and family F1, mAP, chance levels), docs/evaluation.md.
#pragma once

namespace instret {

// The whole tool (flags, data, library, embedding, metrics, JSON / markdown, score dump); returns the exit code.
int run_eval_retrieval_tool(int argc, char** argv);

}  // namespace instret
