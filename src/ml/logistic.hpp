#pragma once
// What both logistic-regression trainers share, on the public API.
#include <cstdint>

#include "spartanxx/array.hpp"
#include "spartanxx/ops.hpp"

namespace spartanxx::ml::detail {

/// Labels for n rows of features: a vector of n entries, each 0 or 1. Raises shape_error,
/// or value_error naming the first bad row and its label, prefixed by `op`. Collective.
void check_labels(const char* op, const Array& y, std::int64_t n);

/// The logistic loss log(1 + exp(m)) − y m of margins m, elementwise, without overflow.
inline Array logistic_loss(const Array& m, const Array& y) { return maximum(m, 0.0) + log1p(exp(-abs(m))) - y * m; }

}  // namespace spartanxx::ml::detail
