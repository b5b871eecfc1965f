#pragma once
// Spark MLlib's LogisticRegressionWithSGD, written as array expressions: the gradient
// dot(X.T(), sigmoid(dot(X, w)) - y) is one pass over X with an allreduce of d values.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "spartanxx/array.hpp"
#include "spartanxx/io.hpp"
#include "spartanxx/ml/text_features.hpp"

namespace spartanxx::ml {

/// Checkpoints of a training run: its whole state after every `every`-th iteration (and
/// when it converges) written to `path` with io::checkpoint, and a run that continues
/// from there. A resumed run's weights, loss history and iteration count are bit-for-bit
/// those of the run that was not interrupted at the same rank count; at another rank
/// count they differ only by the summation order of the sums over rows (last bits).
struct CheckpointOptions {
  std::string path;  ///< empty: no checkpoints
  int every = 0;     ///< iterations between checkpoints (0: none are written)
  /// Continue from the checkpoint at `path` (io::restore: the previous one when the
  /// newest is damaged); when there is none, start from the beginning. A checkpoint of
  /// another algorithm, another data shape or other options is a value_error.
  bool resume = false;
  /// Told, on every rank, where a resumed run starts: the file and the iteration (an
  /// empty file: no checkpoint, from the start), and the files passed over.
  std::function<void(const io::Restored& from)> on_resume;
};

/// Spark's defaults (spark.mllib LogisticRegressionWithSGD).
struct SGDOptions {
  double step_size = 1.0;
  int num_iterations = 100;
  double reg_param = 0.01;  // L2 (SquaredL2Updater)
  double mini_batch_fraction = 1.0;
  double convergence_tol = 0.001;
  bool intercept = false;
  std::uint64_t seed = 42;  // of the mini-batch sampling (iteration i uses seed + i)
  /// Labels of one class only are a value_error naming the class (Spark trains on them
  /// without a word); true trains anyway, as Spark does.
  bool allow_single_class = false;
  /// Called on every rank after each iteration with its number (from 1) and loss; a
  /// progress display, say.
  std::function<void(int iteration, double loss)> on_iteration;
  CheckpointOptions checkpoint;
};

class LogisticRegressionModel {
 public:
  LogisticRegressionModel(Array weights, double intercept, int iterations, std::vector<double> loss_history);
  /// The weights (float64, one per feature) and the intercept (0 without one).
  const Array& weights() const { return weights_; }
  double intercept() const { return intercept_; }
  /// Iterations run (fewer than numIterations when it converged).
  int iterations() const { return iterations_; }
  /// Mean logistic loss of each iteration's mini-batch plus the L2 term, as Spark logs it.
  const std::vector<double>& loss_history() const { return loss_history_; }

  double threshold() const { return threshold_; }
  void set_threshold(double t) { threshold_ = t; }
  /// σ(X w + b) for every row of X (documents x features).
  Array predict_probability(const Array& X) const;
  /// 1.0 where the probability exceeds the threshold, else 0.0.
  Array predict(const Array& X) const;

  /// The featurization that produced the model's features (saved with it), if set.
  const TextFeatures* features() const { return features_ ? &*features_ : nullptr; }
  void set_features(TextFeatures f) { features_ = std::move(f); }
  /// σ(X w + b) for each rank's raw texts, featurized as features() says (value_error
  /// when the model has none). Collective.
  Array predict_probability_texts(const std::vector<std::string>& local_texts) const;

  /// Writes the model to an HDF5 file (io::checkpoint's format and atomic replacement,
  /// kind "logistic-regression-model", model version 1): weights, intercept, threshold,
  /// iterations, loss history and, when set, the featurization (tokenizer settings, hash
  /// variant, feature count, binary flag, IDF weights). Collective.
  void save(const std::string& path) const;
  /// A model saved by save(), at any rank count; a loaded model applied to the same
  /// texts gives bit-for-bit the saved model's predictions. io_error naming the file when
  /// it is missing, damaged, not a model or of another model version. Collective.
  static LogisticRegressionModel load(const std::string& path);

 private:
  Array weights_;
  double intercept_;
  int iterations_;
  std::vector<double> loss_history_;
  double threshold_ = 0.5;
  std::optional<TextFeatures> features_;
};

/// Trains on X (n x d, dense or sparse, float64) and labels y (n, each 0 or 1) with
/// Spark's rules:
/// - weights start at zero (with an intercept: a constant feature 1 appended, whose
///   weight starts at 1 as in Spark's GeneralizedLinearAlgorithm, and is regularized);
/// - iteration i = 1..numIterations takes a Bernoulli mini-batch of the rows (all of them
///   at fraction 1), the mean gradient of the logistic loss over it, and the step
///   η = stepSize / √i with the L2 updater w ← (1 − ηλ) w − η g;
/// - it stops once ‖w_prev − w‖ < convergenceTol · max(‖w‖, 1) (from iteration 2).
/// Collective. Labels other than 0 and 1 raise value_error naming the first bad one and
/// its row; an empty X raises value_error.
LogisticRegressionModel train_logistic_regression_sgd(const Array& X, const Array& y, const SGDOptions& options = {});

}  // namespace spartanxx::ml
