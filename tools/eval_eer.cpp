// eval-eer: EER of the single-instrument encoder (or the MFCC baseline) on a split's instruments.
#include "instret/eval/eer_tool.h"

int main(int argc, char** argv) { return instret::run_eval_eer_tool(argc, argv); }
