// Metrics on small inputs, against values computed by hand.
#include "../support/test_util.hpp"

using namespace testutil;
using F = float;

TEST_CASE("accuracy and top-k accuracy") {
  // 4 samples, 3 classes
  auto x = Tensor<F>::from({4, 3}, {0.1f, 0.7f, 0.2f,    // pred 1, second 2
                                    0.5f, 0.3f, 0.2f,    // pred 0, second 1
                                    0.2f, 0.3f, 0.5f,    // pred 2, second 1
                                    0.6f, 0.1f, 0.3f});  // pred 0, second 2
  auto y = Tensor<F>::from({4}, {1, 1, 0, 2});
  nn::Accuracy<F> acc;
  acc.update(x, y);
  CHECK(acc.value() == doctest::Approx(0.25));  // only sample 0
  nn::TopKAccuracy<F> top2(2);
  top2.update(x, y);
  CHECK(top2.value() == doctest::Approx(0.75));  // samples 0, 1, 3
  CHECK(top2.name() == "top2_accuracy");
  CHECK(nn::make_metric<F>("top5_accuracy")->name() == "top5_accuracy");
  CHECK_THROWS_WITH_AS(nn::make_metric<F>("bogus"), doctest::Contains("unknown metric 'bogus'"), std::invalid_argument);
}

TEST_CASE("masked accuracy: only candidates compete, however large the logits of the others") {
  // targets: 1 true candidate, 0 other candidate, -1 not a candidate
  auto x = Tensor<F>::from({3, 4}, {9.0f, 0.5f, 0.2f, 0.1f,    // masked 9 ignored: truth 1 best -> hit
                                    0.1f, 0.3f, 0.2f, 0.9f,    // truth 2 third among 1, 2, 3
                                    0.4f, 0.4f, 0.0f, 0.0f});  // tie with the truth counts as a hit
  auto y = Tensor<F>::from({3, 4}, {-1, 1, 0, 0,
                                    -1, 0, 1, 0,
                                    1, 0, -1, -1});
  nn::MaskedTopKAccuracy<F> top1, top2(2), top3(3);
  top1.update(x, y), top2.update(x, y), top3.update(x, y);
  CHECK(top1.value() == doctest::Approx(2.0 / 3));
  CHECK(top2.value() == doctest::Approx(2.0 / 3));
  CHECK(top3.value() == doctest::Approx(1.0));
  CHECK(top1.name() == "masked_accuracy");
  CHECK(nn::make_metric<F>("masked_top3_accuracy")->name() == "masked_top3_accuracy");
  CHECK(nn::make_metric<F>("masked_accuracy")->name() == "masked_accuracy");
  auto none = Tensor<F>::from({1, 2}, {0, 0});
  CHECK_THROWS_WITH_AS(top1.update(Tensor<F>::from({1, 2}, {1, 2}), none), doctest::Contains("no true candidate"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(top1.update(x, Tensor<F>::from({3}, {0, 1, 2})), doctest::Contains("candidate targets (N, K)"),
                       std::invalid_argument);
}

TEST_CASE("confusion matrix: precision, recall, F1, macro and micro, IoU") {
  // true\pred  0  1  2
  //   0        5  1  0
  //   1        2  3  1
  //   2        0  0  4
  nn::ConfusionMatrix m(3, {"a", "b", "c"});
  m.add(0, 0, 5), m.add(0, 1, 1), m.add(1, 0, 2), m.add(1, 1, 3), m.add(1, 2, 1), m.add(2, 2, 4);
  CHECK(m.total() == 16);
  CHECK(m.accuracy() == doctest::Approx(12.0 / 16));
  CHECK(m.precision(0) == doctest::Approx(5.0 / 7));
  CHECK(m.recall(0) == doctest::Approx(5.0 / 6));
  CHECK(m.f1(0) == doctest::Approx(10.0 / 13));  // 2*5 / (6 + 7)
  CHECK(m.f1(1) == doctest::Approx(6.0 / 10));   // 2*3 / (6 + 4)
  CHECK(m.f1(2) == doctest::Approx(8.0 / 9));    // 2*4 / (4 + 5)
  CHECK(m.macro_f1() == doctest::Approx((10.0 / 13 + 0.6 + 8.0 / 9) / 3));
  CHECK(m.micro_f1() == doctest::Approx(m.accuracy()));
  CHECK(m.iou(0) == doctest::Approx(5.0 / 8));  // 5 / (6 + 7 - 5)
  CHECK(m.iou(1) == doctest::Approx(3.0 / 7));  // 3 / (6 + 4 - 3)
  CHECK(m.iou(2) == doctest::Approx(4.0 / 5));  // 4 / (4 + 5 - 4)
  CHECK(m.mean_iou() == doctest::Approx((5.0 / 8 + 3.0 / 7 + 4.0 / 5) / 3));
  CHECK(m.pixel_accuracy() == doctest::Approx(0.75));
  CHECK(m.mean_pixel_accuracy() == doctest::Approx((5.0 / 6 + 0.5 + 1.0) / 3));
  CHECK(m.csv() == "true\\pred,a,b,c\na,5,1,0\nb,2,3,1\nc,0,0,4\n");
  CHECK(m.str().find("macro F1") != std::string::npos);
  CHECK_THROWS_AS(m.add(3, 0), std::out_of_range);
}

TEST_CASE("multi-label: per-tag F1 and subset accuracy at a threshold") {
  // logits > 0  <=>  probability > 0.5
  auto x = Tensor<F>::from({3, 3}, {2, -1, 3, -2, 1, 1, 1, 1, -1});
  auto y = Tensor<F>::from({3, 3}, {1, 0, 1, 0, 1, 0, 1, 0, 0});
  nn::SubsetAccuracy<F> sub;
  sub.update(x, y);
  CHECK(sub.value() == doctest::Approx(1.0 / 3));  // only sample 0 matches on every tag
  nn::MultilabelF1<F> f1;
  f1.update(x, y);
  // tag 0: tp 2 fp 0 fn 0 -> 1; tag 1: tp 1, fp 1, fn 0 -> 2/3; tag 2: tp 1, fp 1 -> 2/3
  const auto per = f1.per_tag();
  CHECK(per[0] == doctest::Approx(1.0));
  CHECK(per[1] == doctest::Approx(2.0 / 3));
  CHECK(per[2] == doctest::Approx(2.0 / 3));
  CHECK(f1.value() == doctest::Approx((1 + 4.0 / 3) / 3));
  nn::SubsetAccuracy<F> strict(0.9);  // logit threshold log(9) ~ 2.2: only the 3 stays positive
  strict.update(x, y);
  CHECK(strict.value() == doctest::Approx(0.0));
}

TEST_CASE("per-pixel accuracy, confusion matrix and mean IoU on (N, C, H, W) logits") {
  // One image of 2x2 pixels, 3 classes; predictions (argmax over C) 0 1 2 2, truth 0 1 1 2.
  Tensor<F> x({1, 3, 2, 2});
  const int pred[4] = {0, 1, 2, 2};
  for (Index s = 0; s < 4; ++s) x[pred[s] * 4 + s] = 1.0f;
  auto y = Tensor<F>::from({1, 2, 2}, {0, 1, 1, 2});
  nn::Accuracy<F> acc;
  acc.update(x, y);
  CHECK(acc.value() == doctest::Approx(0.75));
  nn::ConfusionMatrix m(3);
  m.add_batch(x, y);
  CHECK(m(1, 2) == 1);
  CHECK(m(2, 2) == 1);
  CHECK(m.total() == 4);
  auto iou = nn::make_metric<F>("mean_iou");
  iou->update(x, y);
  CHECK(iou->value() == doctest::Approx((1.0 + 0.5 + 0.5) / 3));  // class 1: 1 / (2 + 1 - 1); class 2: 1 / (1 + 2 - 1)
  auto copy = iou->clone();
  iou->reset();
  CHECK(iou->value() == 0.0);
  CHECK(copy->value() == doctest::Approx(2.0 / 3));
  CHECK_THROWS_WITH_AS(acc.update(x, Tensor<F>({1, 2, 3})), doctest::Contains("needs logits (N, C) and labels (N), or"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::ConfusionMatrix(4).add_batch(x, y), doctest::Contains("logits of 3 classes for a matrix of 4"),
                       std::invalid_argument);
}

TEST_CASE("binary accuracy of a softmax, as Keras counts it") {
  // 2 samples, 5 classes. Sample 0: confident and right (5 of 5 entries);
  // sample 1: confident and wrong (3 of 5: two entries differ).
  auto x = Tensor<F>::from({2, 5}, {10, 0, 0, 0, 0,  //
                                    0, 10, 0, 0, 0});
  auto y = Tensor<F>::from({2}, {0, 2});
  nn::SoftmaxBinaryAccuracy<F> m;
  m.update(x, y);
  CHECK(m.value() == doctest::Approx(8.0 / 10));
  // uniform probabilities (0.2 each): every entry rounds to 0, 4 of 5 right per sample
  m.reset();
  m.update(Tensor<F>({3, 5}), Tensor<F>::from({3}, {0, 1, 2}));
  CHECK(m.value() == doctest::Approx(0.8));
  // two classes at exactly 0.5: round half to even gives 0 for both
  m.reset();
  m.update(Tensor<F>({1, 2}), Tensor<F>::from({1}, {1}));
  CHECK(m.value() == doctest::Approx(0.5));
  // one-hot targets give the same as labels
  auto onehot = Tensor<F>::from({2, 5}, {1, 0, 0, 0, 0, 0, 0, 1, 0, 0});
  auto by_name = nn::make_metric<F>("binary_accuracy");
  by_name->update(x, onehot);
  CHECK(by_name->value() == doctest::Approx(0.8));
  CHECK_THROWS_WITH_AS(m.update(x, Tensor<F>({3})), doctest::Contains("binary_accuracy: needs logits (N, C)"),
                       std::invalid_argument);
}
