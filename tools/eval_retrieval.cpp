// eval-retrieval: the paper's Table 2 (instrument / family F1, mAP, chance) for a multi encoder, or
// for the MFCC baseline.
#include "instret/eval/retrieval_tool.h"

int main(int argc, char** argv) { return instret::run_eval_retrieval_tool(argc, argv); }
