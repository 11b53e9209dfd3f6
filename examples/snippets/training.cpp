// docs/training.md's snippet: MNIST to a trained, saved, evaluated model.
#include <nn/nn.hpp>

#include <filesystem>
#include <iostream>
#include <memory>

int main() {
  using F = float;
  auto mn = nn::data::load_mnist<F>(nn::data::find_dataset("mnist"));
  nn::data::TensorDataset<F> train(std::move(mn.train_x), std::move(mn.train_y));
  nn::data::TensorDataset<F> test(std::move(mn.test_x), std::move(mn.test_y));

  nn::Sequential<F> model({1, 28, 28}, /*seed=*/1);
  model.add<nn::Conv2D<F>>(16, 5);
  model.add(nn::ReLU<F>());
  model.add(nn::MaxPool2D<F>(2));
  model.add(nn::Flatten<F>());
  model.add(nn::Dense<F>(10));

  nn::SoftmaxCrossEntropy<F> loss;
  nn::Adam<F> opt(model.parameters());
  std::filesystem::create_directories("runs/snippet");
  nn::FitOptions<F> o;
  o.epochs = 2;
  o.batch_size = 64;
  o.seed = 1;
  o.validation_split = 0.1;
  o.callbacks = {std::make_shared<nn::EarlyStopping<F>>("val_accuracy", 2),
                 std::make_shared<nn::ModelCheckpoint<F>>("runs/snippet/best.nn"),
                 std::make_shared<nn::CSVLogger<F>>("runs/snippet/history.csv")};
  nn::History h = nn::fit(model, loss, opt, train, o);
  nn::plot::save_history_plot("runs/snippet/curves.png", h, "snippet");

  auto best = nn::load_model<F>("runs/snippet/best.nn");
  auto scores = nn::evaluate(best, test, loss);
  std::cout << "test accuracy " << scores["accuracy"] << "\n";
}
