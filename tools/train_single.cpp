// train-single: trains the single-instrument encoder (Han CNN) on an Nlakh dataset.
#include "common/training_tool.h"

int main(int argc, char** argv) { return instret::run_training_tool(argc, argv, false); }
