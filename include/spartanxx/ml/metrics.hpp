#pragma once
// Binary-classification metrics of predicted probabilities against 0/1 labels.
#include <cstdint>

#include "spartanxx/array.hpp"

namespace spartanxx::ml {

struct BinaryMetrics {
  std::int64_t n = 0;          // examples
  std::int64_t positives = 0;  // labels equal to 1
  double accuracy = 0;
  double precision = 0;  // 0 when nothing is predicted positive (as scikit-learn's zero_division=0)
  double recall = 0;     // 0 when there are no positives
  double f1 = 0;         // 0 when precision and recall are both 0
  double auc = 0;        // ROC AUC, ties counted half (Mann-Whitney); NaN with one class only
  double log_loss = 0;   // mean -[y ln p + (1 - y) ln(1 - p)], p clipped to [1e-15, 1 - 1e-15]
};

/// Collective. `labels` and `probabilities` are vectors of the same length; a label is
/// positive when it equals 1 and the prediction when the probability exceeds `threshold`.
/// The counts and the loss are reductions; the AUC sorts the scores, gathered on every
/// rank (n values).
BinaryMetrics binary_metrics(const Array& labels, const Array& probabilities, double threshold = 0.5);

}  // namespace spartanxx::ml
