// train-multi: trains the multi-instrument encoder (Small or Large) against a frozen single encoder.
#include "common/training_tool.h"

int main(int argc, char** argv) { return instret::run_training_tool(argc, argv, true); }
