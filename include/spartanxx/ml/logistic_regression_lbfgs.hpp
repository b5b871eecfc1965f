#pragma once
// Spark ml's LogisticRegression (binomial, L2 only) trained with L-BFGS, written as array
// expressions. The d-sized optimizer state lives on every rank, as on Spark's driver;
// the n-sized margins stay distributed like X's rows.
#include <functional>

#include "spartanxx/array.hpp"
#include "spartanxx/ml/logistic_regression.hpp"

namespace spartanxx::ml {

/// Spark ml's defaults (LogisticRegression with elasticNetParam 0).
struct LBFGSOptions {
  int max_iter = 100;  // maxIter
  /// tol, with Breeze's stopping rules (FirstOrderMinimizer.defaultConvergenceCheck):
  /// after iteration k, stop when ‖∇f_k‖ ≤ max(tol · |f_k|, 1e-8), or when
  /// |f_k − max(f_{k−19}, ..., f_k)| ≤ tol · |f_0| (a window of 20 values, only once it
  /// is full: from k = 20).
  double tol = 1e-6;
  double reg_param = 0.0;  // regParam: the L2 strength λ
  bool fit_intercept = true;
  bool standardization = true;
  int memory = 10;  // the number of (s, y) pairs L-BFGS keeps (Spark uses 10)
  /// Labels of one class only are a value_error naming the class; true gives Spark's
  /// answer (with an intercept: an infinite one, no iterations).
  bool allow_single_class = false;
  /// Called on every rank after each iteration with its number (from 1) and objective.
  std::function<void(int iteration, double objective)> on_iteration;
  /// Checkpoints: the iterate, margins, gradient, L-BFGS pairs and history.
  CheckpointOptions checkpoint;
};

/// Trains on X (n x d, dense or sparse) and labels y (n, each 0 or 1) with Spark's rules.
/// It minimizes
///   f(w, b) = (1/n) Σ_i [log(1 + exp(m_i)) − y_i m_i] + ½ λ Σ_j (w_j σ_j)²,  m = X w + b,
/// with σ_j the sample standard deviation (n − 1 denominator) of feature j; with
/// standardization off the penalty is ½ λ ‖w‖². The intercept is not penalized.
/// - The optimization runs over the standardized features x_j / σ_j (not centered, so a
///   sparse X stays sparse and is never copied); features with σ_j = 0 are dropped
///   (weight 0). The weights returned are in the original feature space.
/// - Weights start at zero, the intercept at log(p / (1 − p)), p the fraction of
///   positive labels. With an intercept and one class only, nothing is trained: weights
///   0, intercept +∞ (all 1) or −∞ (all 0), 0 iterations, history {0}.
/// - L-BFGS (two-loop recursion, `memory` pairs, initial scaling sᵀy / yᵀy) with a
///   strong Wolfe line search (c1 = 1e-4, c2 = 0.9, cubic interpolation, first step
///   1 / ‖d‖, then 1). A failed line search resets the history; a second failure in a
///   row stops (Breeze's rule).
/// - Each iteration reads X twice: q = X d for the search direction d, from which the
///   line search gets every trial's margins (m + α q) with n-sized vector operations
///   only, and the gradient Xᵀ(σ(m) − y) at the accepted point.
/// The model's loss_history() is Spark's objectiveHistory: f at the start and after each
/// iteration (iterations() + 1 values, decreasing). Collective.
/// Errors (on every rank): X not a matrix or y not n labels raise shape_error; an empty
/// X, a label other than 0 and 1 (naming its row), max_iter < 0, tol < 0,
/// reg_param < 0 or memory < 1 raise value_error.
LogisticRegressionModel train_logistic_regression_lbfgs(const Array& X, const Array& y,
                                                        const LBFGSOptions& options = {});

}  // namespace spartanxx::ml
