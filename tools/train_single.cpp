// train-single: the single-instrument encoder (Han CNN). This build inspects the model
// (--print-model); the training loop is not part of it yet.
#include "instret/models/print_model.h"

int main(int argc, char** argv) {
  return instret::run_training_tool(argc, argv, "train-single", "Train the single-instrument encoder (Han CNN)",
                                    "han_cnn", {"han_cnn"});
}
