#pragma once
// What both logistic-regression trainers share, on the public API.
#include <cstdint>
#include <optional>
#include <string>

#include "spartanxx/array.hpp"
#include "spartanxx/io.hpp"
#include "spartanxx/ml/logistic_regression.hpp"
#include "spartanxx/ops.hpp"

namespace spartanxx::ml::detail {

/// Labels for n rows of features: a vector of n entries, each 0 or 1, of both classes
/// unless `allow_single_class`. Raises shape_error, or value_error naming the first bad
/// row and its label (or the one class present), prefixed by `op`. Collective.
void check_labels(const char* op, const Array& y, std::int64_t n, bool allow_single_class);

/// The logistic loss log(1 + exp(m)) − y m of margins m, elementwise, without overflow.
inline Array logistic_loss(const Array& m, const Array& y) { return maximum(m, 0.0) + log1p(exp(-abs(m))) - y * m; }

/// Checkpoints of a trainer `kind` ("sgd", "lbfgs") on n x d data whose options (those a
/// resumed run must share) are written out as `options`:
/// - checks the settings (value_error naming `op`);
/// - resume_point: the snapshot to continue from, or nothing (not resuming, or no
///   checkpoint yet); another kind, shape or options is a value_error;
/// - due: whether iteration i ends with one; save: writes it (adding kind and checks).
struct TrainingCheckpoints {
  TrainingCheckpoints(const char* op, const char* kind, const CheckpointOptions& c, std::string options, std::int64_t n,
                      std::int64_t d);
  std::optional<io::Snapshot> resume_point() const;
  bool due(int i) const { return !c.path.empty() && c.every > 0 && i % c.every == 0; }
  bool enabled() const { return !c.path.empty() && c.every > 0; }
  void save(io::Snapshot s) const;

  const char* op;
  const char* kind;
  const CheckpointOptions& c;
  std::string options;
  std::int64_t n, d;
};

}  // namespace spartanxx::ml::detail
