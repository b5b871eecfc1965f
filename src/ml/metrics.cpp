// spartanxx::ml::binary_metrics, on the public API only.
#include "spartanxx/ml/metrics.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include <fmt/format.h>

#include "spartanxx/eigen.hpp"
#include "spartanxx/errors.hpp"
#include "spartanxx/ops.hpp"

namespace spartanxx::ml {

BinaryMetrics binary_metrics(const Array& labels, const Array& probabilities, double threshold) {
  if (labels.shape().size() != 1 || labels.shape() != probabilities.shape())
    throw shape_error(fmt::format("binary_metrics: labels and probabilities must be vectors of one length, got {} and {} "
                                  "dimensions", labels.shape().size(), probabilities.shape().size()));
  BinaryMetrics m;
  m.n = labels.shape()[0];
  if (m.n == 0) throw value_error("binary_metrics: no examples");
  const Array y = (labels == 1.0).astype(DType::f64);
  const Array pred = (probabilities > threshold).astype(DType::f64);
  const double pos = sum(y).item(), predicted = sum(pred).item(), tp = sum(y * pred).item();
  const double fp = predicted - tp, fn = pos - tp, tn = static_cast<double>(m.n) - tp - fp - fn;
  m.positives = static_cast<std::int64_t>(pos);
  m.accuracy = (tp + tn) / static_cast<double>(m.n);
  m.precision = predicted > 0 ? tp / predicted : 0.0;
  m.recall = pos > 0 ? tp / pos : 0.0;
  m.f1 = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0.0;
  constexpr double eps = 1e-15;
  const Array p = minimum(maximum(probabilities, eps), 1.0 - eps);
  m.log_loss = -mean(y * log(p) + (1.0 - y) * log(1.0 - p)).item();
  // AUC: the probability that a random positive scores above a random negative (ties
  // half), from the ranks of the sorted scores.
  const Eigen::MatrixXd s = to_eigen(probabilities), l = to_eigen(y);
  const auto n = static_cast<std::size_t>(m.n);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return s(a, 0) < s(b, 0); });
  double rank_sum = 0;  // of the positives, ranks from 1, ties given their mean rank
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && s(order[j], 0) == s(order[i], 0)) ++j;
    const double mean_rank = (static_cast<double>(i) + 1 + static_cast<double>(j)) / 2;
    for (std::size_t k = i; k < j; ++k) rank_sum += l(order[k], 0) * mean_rank;
    i = j;
  }
  const double neg = static_cast<double>(m.n) - pos;
  m.auc = pos > 0 && neg > 0 ? (rank_sum - pos * (pos + 1) / 2) / (pos * neg) : std::numeric_limits<double>::quiet_NaN();
  return m;
}

}  // namespace spartanxx::ml
