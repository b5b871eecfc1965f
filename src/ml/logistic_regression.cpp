// spartanxx::ml::train_logistic_regression_sgd, on the public API only.
#include "spartanxx/ml/logistic_regression.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "spartanxx/creation.hpp"
#include "spartanxx/errors.hpp"
#include "spartanxx/ops.hpp"
#include "ml/logistic.hpp"

namespace spartanxx::ml {

LogisticRegressionModel::LogisticRegressionModel(Array weights, double intercept, int iterations,
                                                 std::vector<double> loss_history)
    : weights_(std::move(weights)), intercept_(intercept), iterations_(iterations), loss_history_(std::move(loss_history)) {}

Array LogisticRegressionModel::predict_probability(const Array& X) const {
  if (X.shape().size() != 2 || X.shape()[1] != weights_.shape()[0])
    throw shape_error(fmt::format("LogisticRegressionModel.predict: the model has {} features, the data {}",
                                  weights_.shape()[0], X.shape().size() == 2 ? X.shape()[1] : -1));
  return sigmoid(dot(X, weights_) + intercept_);
}

Array LogisticRegressionModel::predict(const Array& X) const {
  return (predict_probability(X) > threshold_).astype(DType::f64);
}

void detail::check_labels(const char* op, const Array& y, std::int64_t n) {
  if (y.shape().size() != 1 || y.shape()[0] != n)
    throw shape_error(fmt::format("{}: {} rows of features but labels of {} dimensions and {} entries", op, n,
                                  y.shape().size(), y.shape().empty() ? 0 : y.shape()[0]));
  const Array bad = logical_and(y != 0.0, y != 1.0);
  if (sum(bad.astype(DType::i64)).item() == 0) return;
  const auto row = static_cast<std::int64_t>(argmax(bad).item());
  const double label = sum(where(arange(n) == static_cast<double>(row), y, 0.0)).item();
  throw value_error(fmt::format("{}: labels must be 0 or 1; row {} has label {}", op, row, label));
}

LogisticRegressionModel train_logistic_regression_sgd(const Array& X, const Array& y, const SGDOptions& o) {
  if (X.shape().size() != 2) throw shape_error("LogisticRegressionWithSGD: features must be a matrix (rows x features)");
  const std::int64_t n = X.shape()[0], d = X.shape()[1];
  if (n == 0) throw value_error("LogisticRegressionWithSGD: the training set is empty");
  if (!(o.mini_batch_fraction > 0 && o.mini_batch_fraction <= 1))
    throw value_error(fmt::format("LogisticRegressionWithSGD: miniBatchFraction must be in (0, 1], got {}", o.mini_batch_fraction));
  if (o.num_iterations < 0) throw value_error(fmt::format("LogisticRegressionWithSGD: numIterations {} < 0", o.num_iterations));
  detail::check_labels("LogisticRegressionWithSGD", y, n);
  Array w = zeros({d});
  double b = o.intercept ? 1.0 : 0.0;  // Spark appends the bias feature's weight as 1
  double reg_term = 0.5 * o.reg_param * b * b;  // the L2 term of the last update, as Spark reports it
  std::vector<double> history;
  int iterations = 0;
  bool have_previous = false;
  for (int i = 1; i <= o.num_iterations; ++i) {
    // The mini-batch: every row, or rows whose uniform draw (seed + i) is below the fraction.
    const bool all = o.mini_batch_fraction >= 1.0;
    Array batch = all ? Array() : (random::uniform({n}, o.seed + static_cast<std::uint64_t>(i)) < o.mini_batch_fraction).astype(DType::f64);
    const double count = all ? static_cast<double>(n) : sum(batch).item();
    iterations = i;
    if (count == 0) continue;  // Spark skips an empty mini-batch
    // The margin once (one pass over X): the loss and the gradient both read it, so the
    // gradient pass does not compute X w again.
    const Array margin = dot(X, w) + b;
    margin.evaluate();
    Array r = sigmoid(margin) - y;
    // Logistic loss log(1 + exp(m)) - y m, computed without overflow.
    Array loss = detail::logistic_loss(margin, y);
    if (!all) r = r * batch, loss = loss * batch;
    Array g, gb;
    if (o.intercept) {
      r.evaluate();
      g = dot(X.T(), r);
      gb = sum(r);
    } else {
      g = dot(X.T(), r);  // one pass over X
    }
    history.push_back(sum(loss).item() / count + reg_term);
    if (o.on_iteration) o.on_iteration(i, history.back());
    const double eta = o.step_size / std::sqrt(static_cast<double>(i));
    const double shrink = 1.0 - eta * o.reg_param;
    Array w_new = w * shrink - (eta / count) * g;
    w_new.evaluate();
    const double b_new = o.intercept ? b * shrink - eta / count * gb.item() : 0.0;
    const double wn = norm(w_new).item();
    const double norm_new = std::sqrt(wn * wn + b_new * b_new);
    reg_term = 0.5 * o.reg_param * norm_new * norm_new;
    const double dw = norm(w_new - w).item();
    const double diff = std::sqrt(dw * dw + (b_new - b) * (b_new - b));
    w = std::move(w_new);
    b = b_new;
    if (have_previous && diff < o.convergence_tol * std::max(norm_new, 1.0)) break;
    have_previous = true;
  }
  return LogisticRegressionModel(w, o.intercept ? b : 0.0, iterations, std::move(history));
}

}  // namespace spartanxx::ml
