// docs/serialization.md's snippet: save, load, resume.
#include <nn/nn.hpp>

#include <iostream>

int main() {
  using F = float;
  nn::Sequential<F> model({4}, 7);
  model.add(nn::Dense<F>(8));
  model.add(nn::BatchNorm<F>());
  model.add(nn::ReLU<F>());
  model.add(nn::Dense<F>(3));
  nn::Adam<F> opt(model.parameters());

  nn::save_model("model.nn", model);                 // architecture + weights + BN statistics
  nn::save_model("checkpoint.nn", model, &opt, 5);   // + Adam state; next epoch 5

  nn::Sequential<F> loaded = nn::load_model<F>("model.nn");   // ready, in eval mode
  std::cout << loaded.summary();

  nn::Sequential<F> resumed = nn::load_model<F>("checkpoint.nn");
  nn::Adam<F> opt2(resumed.parameters());
  int next_epoch = nn::load_training_state("checkpoint.nn", resumed, opt2);
  std::cout << "resume at epoch " << next_epoch << ", Adam step " << opt2.steps() << "\n";
  try {
    nn::load_model<F>("no-such-file.nn");
  } catch (const nn::io::FormatError& e) {
    std::cout << "error: " << e.what() << "\n";
  }
}
