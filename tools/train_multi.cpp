// train-multi: the multi-instrument encoder (Small or Large). This build inspects the model
// (--print-model); the training loop is not part of it yet.
#include "instret/models/print_model.h"

int main(int argc, char** argv) {
  return instret::run_training_tool(argc, argv, "train-multi",
                                    "Train the multi-instrument encoder (Small: Han CNN trunk, Large: ConvNeXt)",
                                    "large", {"small", "large"});
}
