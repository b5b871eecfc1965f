// spartanxx::ml::train_logistic_regression_lbfgs (Spark ml's LogisticRegression) against
// an independent single-node reference: Newton's method on the same objective, written
// out here with Eigen and iterated to convergence. The same model at every rank count.
#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "mpi/sparse_support.hpp"
#include "mpi/test_support.hpp"
#include "spartanxx/ml/logistic_regression_lbfgs.hpp"
#include "spartanxx/spartanxx.hpp"

namespace sx = spartanxx;
namespace ml = spartanxx::ml;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

/// Spark's objective over θ = (w, b) in the standardized space, with Eigen: the features
/// divided by their sample standard deviation (not centered), constant ones dropped.
struct Objective {
  MatrixXd Xs;
  VectorXd y, inv_std, c;  // c: the penalty's weight on each standardized weight
  double lambda;
  bool fi;
  Eigen::Index d;

  Objective(const MatrixXd& X, const VectorXd& labels, const ml::LBFGSOptions& o)
      : y(labels), lambda(o.reg_param), fi(o.fit_intercept), d(X.cols()) {
    const double n = static_cast<double>(X.rows());
    const Eigen::RowVectorXd mean = X.colwise().mean();
    inv_std = VectorXd::Zero(d);
    for (Eigen::Index j = 0; j < d; ++j) {
      const double var = (X.col(j).array() - mean(j)).square().sum() / (n - 1);  // two passes
      if (X.col(j).maxCoeff() > X.col(j).minCoeff()) inv_std(j) = 1 / std::sqrt(var);
    }
    Xs = X * inv_std.asDiagonal();
    c = o.standardization ? VectorXd((inv_std.array() > 0).cast<double>()) : VectorXd(inv_std.array().square());
  }
  Eigen::Index size() const { return d + (fi ? 1 : 0); }
  VectorXd margins(const VectorXd& t) const {
    return (Xs * t.head(d)).array() + (fi ? t(d) : 0.0);
  }
  double value(const VectorXd& t) const {
    const VectorXd m = margins(t);
    double loss = 0;
    for (Eigen::Index i = 0; i < m.size(); ++i)
      loss += (m(i) > 0 ? m(i) + std::log1p(std::exp(-m(i))) : std::log1p(std::exp(m(i)))) - y(i) * m(i);
    return loss / static_cast<double>(m.size()) + 0.5 * lambda * c.dot(t.head(d).cwiseAbs2());
  }
  VectorXd probabilities(const VectorXd& t) const { return (1.0 + (-margins(t)).array().exp()).inverse(); }
  VectorXd gradient(const VectorXd& t) const {
    const VectorXd r = probabilities(t) - y;
    const double n = static_cast<double>(y.size());
    VectorXd g(size());
    g.head(d) = Xs.transpose() * r / n + lambda * c.cwiseProduct(t.head(d));
    if (fi) g(d) = r.sum() / n;
    return g;
  }
  MatrixXd hessian(const VectorXd& t) const {
    const VectorXd p = probabilities(t);
    const VectorXd s = p.array() * (1 - p.array());
    const double n = static_cast<double>(y.size());
    MatrixXd A(Xs.rows(), size());
    A.leftCols(d) = Xs;
    if (fi) A.col(d).setOnes();
    MatrixXd H = A.transpose() * s.asDiagonal() * A / n;
    for (Eigen::Index j = 0; j < d; ++j) H(j, j) += inv_std(j) > 0 ? lambda * c(j) : 1.0;  // dropped: no step
    return H;
  }
  /// θ of a model (its weights are in the original space).
  VectorXd theta_of(const ml::LogisticRegressionModel& model) const {
    VectorXd t(size());
    const VectorXd w = sx::to_eigen(model.weights()).col(0);
    for (Eigen::Index j = 0; j < d; ++j) t(j) = inv_std(j) > 0 ? w(j) / inv_std(j) : w(j);
    if (fi) t(d) = model.intercept();
    return t;
  }
  /// Newton's method with a backtracking line search, to machine precision.
  VectorXd minimize() const {
    VectorXd t = VectorXd::Zero(size());
    for (int it = 0; it < 100; ++it) {
      const VectorXd g = gradient(t);
      const VectorXd step = hessian(t).ldlt().solve(-g);
      const double f = value(t);
      double a = 1;
      while (value(t + a * step) > f + 1e-4 * a * g.dot(step) && a > 1e-12) a /= 2;
      t += a * step;
      if ((a * step).norm() < 1e-15 * std::max(1.0, t.norm())) break;
    }
    return t;
  }
};

/// Labels drawn from the logistic model itself (so the classes overlap): y = 1 with
/// probability σ(x·β + b).
VectorXd draw_labels(const MatrixXd& X, const VectorXd& beta, double b, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(0, 1);
  VectorXd y(X.rows());
  for (Eigen::Index i = 0; i < X.rows(); ++i) y(i) = u(gen) < 1 / (1 + std::exp(-(X.row(i).dot(beta) + b))) ? 1.0 : 0.0;
  return y;
}

/// The model equals the reference minimizer; its history starts at f(0, logit p), ends
/// at the minimum, never increases; the gradient at the model is small.
void expect_reference(const ml::LogisticRegressionModel& got, const Objective& obj, const VectorXd& want,
                      const std::string& what) {
  SCOPED_TRACE(what);
  const Eigen::Index d = obj.d;
  const VectorXd w_want = want.head(d).cwiseProduct(obj.inv_std);  // in the original space
  spartanxx_test::expect_mat_near(sx::to_eigen(got.weights()), MatrixXd(w_want), 1e-5);
  const double b_want = obj.fi ? want(d) : 0.0;
  EXPECT_NEAR(got.intercept(), b_want, 1e-5 * std::max(1.0, std::abs(b_want)));
  for (Eigen::Index j = 0; j < d; ++j)
    if (obj.inv_std(j) == 0) EXPECT_EQ(sx::to_eigen(got.weights())(j, 0), 0.0) << "dropped feature " << j;
  const std::vector<double>& h = got.loss_history();
  ASSERT_EQ(h.size(), static_cast<std::size_t>(got.iterations()) + 1);
  EXPECT_GT(got.iterations(), 0);
  VectorXd start = VectorXd::Zero(obj.size());
  if (obj.fi) {
    const double p = obj.y.mean();
    start(d) = std::log(p / (1 - p));
  }
  EXPECT_NEAR(h.front(), obj.value(start), 1e-12);
  EXPECT_NEAR(h.back(), obj.value(want), 1e-10);
  for (std::size_t k = 1; k < h.size(); ++k) EXPECT_LE(h[k], h[k - 1] + 1e-12 * std::abs(h[k - 1])) << "iteration " << k;
  EXPECT_LT(obj.gradient(obj.theta_of(got)).norm(), 1e-7);
}

/// 200 x 5 dense features of different scales, one of them constant (dropped).
MatrixXd dense_features() {
  MatrixXd X = sx::to_eigen(sx::random::uniform({200, 5}, 11, -1, 1));
  const double scale[5] = {1.0, 3.0, 0.5, 1.0, 2.0};
  for (int j = 0; j < 5; ++j) X.col(j) *= scale[j];
  X.col(3).setConstant(0.7);
  return X;
}

/// A sparse 300 x 12 matrix (about 30% stored) with an empty column (5) and a constant
/// one (7), passed as triplets shared among the ranks.
std::vector<spartanxx_test::Trip> sparse_triplets() {
  std::mt19937_64 gen(3);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<spartanxx_test::Trip> t;
  for (std::int64_t i = 0; i < 300; ++i)
    for (std::int64_t j = 0; j < 12; ++j) {
      if (j == 7) t.emplace_back(i, j, 1.5);
      else if (j != 5 && u(gen) < 0.3) t.emplace_back(i, j, u(gen) * 3 - 1);
    }
  return t;
}

// Dense and sparse X, regularized or not, standardized or not, with or without an
// intercept: the reference minimizer to 1e-5, at every rank count.
TEST(MlLogisticLBFGS, EqualsNewtonReference) {
  const MatrixXd Xd = dense_features();
  const VectorXd yd = draw_labels(Xd, (VectorXd(5) << 1.5, -0.8, 2.0, 0.0, 0.6).finished(), -0.3, 5);
  const auto trips = sparse_triplets();
  const MatrixXd Xs = MatrixXd(spartanxx_test::eigen_of(300, 12, trips));
  VectorXd beta(12);
  for (int j = 0; j < 12; ++j) beta(j) = (j % 4) - 1.5;
  const VectorXd ys = draw_labels(Xs, beta, 0.4, 9);
  struct Data {
    const char* name;
    sx::Array X, y;
    const MatrixXd& Xe;
    const VectorXd& ye;
  };
  const Data data[2] = {{"dense", sx::from_eigen(Xd), sx::from_eigen(yd), Xd, yd},
                        {"sparse", spartanxx_test::from_shares(300, 12, trips), sx::from_eigen(ys), Xs, ys}};
  EXPECT_TRUE(data[1].X.is_sparse());
  for (const Data& dt : data)
    for (double lambda : {0.1, 0.0})
      for (bool standardization : {true, false})
        for (bool intercept : {true, false}) {
          ml::LBFGSOptions o;
          o.reg_param = lambda;
          o.standardization = standardization;
          o.fit_intercept = intercept;
          o.tol = 1e-12;
          o.max_iter = 500;
          const Objective obj(dt.Xe, dt.ye, o);
          const ml::LogisticRegressionModel got = ml::train_logistic_regression_lbfgs(dt.X, dt.y, o);
          expect_reference(got, obj, obj.minimize(),
                           fmt::format("{}, lambda {}, standardization {}, intercept {}", dt.name, lambda,
                                       standardization, intercept));
        }
}

// Spark's defaults stop by Breeze's rules (a small gradient, or 20 values that hardly
// change) well before maxIter, near the minimum; maxIter caps the iterations.
TEST(MlLogisticLBFGS, StopsByTheToleranceOrMaxIter) {
  const MatrixXd Xe = dense_features();
  const VectorXd ye = draw_labels(Xe, (VectorXd(5) << 1.5, -0.8, 2.0, 0.0, 0.6).finished(), -0.3, 5);
  const sx::Array X = sx::from_eigen(Xe), y = sx::from_eigen(ye);
  ml::LBFGSOptions o;
  o.reg_param = 0.01;
  const Objective obj(Xe, ye, o);
  const ml::LogisticRegressionModel got = ml::train_logistic_regression_lbfgs(X, y, o);
  const std::vector<double>& h = got.loss_history();
  const std::size_t K = static_cast<std::size_t>(got.iterations());
  ASSERT_EQ(h.size(), K + 1);
  EXPECT_LT(got.iterations(), o.max_iter);
  const double gnorm = obj.gradient(obj.theta_of(got)).norm();
  const bool by_gradient = gnorm <= std::max(o.tol * std::abs(h.back()), 1e-8) * (1 + 1e-6);
  const bool by_values = K >= 20 && std::abs(h[K] - h[K - 19]) <= o.tol * std::abs(h[0]);
  EXPECT_TRUE(by_gradient || by_values) << "gradient norm " << gnorm << " after " << K << " iterations";
  spartanxx_test::expect_mat_near(sx::to_eigen(got.weights()),
                                  MatrixXd(obj.minimize().head(5).cwiseProduct(obj.inv_std)), 1e-3);
  // A looser tolerance stops sooner.
  o.tol = 1e-2;
  EXPECT_LT(ml::train_logistic_regression_lbfgs(X, y, o).iterations(), got.iterations());
  o.tol = 0;
  for (int cap : {0, 1, 3}) {
    o.max_iter = cap;
    const ml::LogisticRegressionModel m = ml::train_logistic_regression_lbfgs(X, y, o);
    EXPECT_EQ(m.iterations(), cap);
    EXPECT_EQ(m.loss_history().size(), static_cast<std::size_t>(cap) + 1);
  }
  // One class: an error by default; allowed, Spark's infinite intercept, nothing trained.
  spartanxx_test::expect_error<sx::value_error>([&] { ml::train_logistic_regression_lbfgs(X, sx::ones({200})); },
                                                {"LogisticRegression: all 200 training labels are 1", "allow_single_class"});
  spartanxx_test::expect_error<sx::value_error>([&] { ml::train_logistic_regression_lbfgs(X, sx::zeros({200})); },
                                                {"all 200 training labels are 0"});
  ml::LBFGSOptions one;
  one.allow_single_class = true;
  const ml::LogisticRegressionModel ones = ml::train_logistic_regression_lbfgs(X, sx::ones({200}), one);
  EXPECT_EQ(ones.intercept(), INFINITY);
  EXPECT_EQ(ones.iterations(), 0);
  EXPECT_EQ(ones.loss_history(), std::vector<double>{0.0});
  EXPECT_EQ(sx::to_eigen(ones.weights()).norm(), 0.0);
  EXPECT_EQ(ml::train_logistic_regression_lbfgs(X, sx::zeros({200}), one).intercept(), -INFINITY);
}

TEST(MlLogisticLBFGS, BadInputsRaiseOnEveryRank) {
  const std::int64_t n = 23, d = 4;
  const MatrixXd Xe = spartanxx_test::test_matrix(n, d, 2);
  VectorXd ye = VectorXd::Zero(n);
  for (int i = 0; i < n; i += 3) ye(i) = 1.0;
  ye(7) = 2.0;  // on rank 1 at 2-4 ranks
  const sx::Array X = sx::from_eigen(Xe);
  spartanxx_test::expect_error<sx::value_error>([&] { ml::train_logistic_regression_lbfgs(X, sx::from_eigen(ye)); },
                                                {"labels must be 0 or 1", "row 7", "label 2"});
  spartanxx_test::expect_error<sx::value_error>(
      [&] { ml::train_logistic_regression_lbfgs(sx::zeros({0, d}), sx::zeros({0})); }, {"training set is empty"});
  ye(7) = 1.0;
  const sx::Array y = sx::from_eigen(ye);
  spartanxx_test::expect_error<sx::shape_error>([&] { ml::train_logistic_regression_lbfgs(sx::zeros({n}), y); },
                                                {"matrix"});
  spartanxx_test::expect_error<sx::shape_error>([&] { ml::train_logistic_regression_lbfgs(X, sx::zeros({n + 1})); },
                                                {"labels"});
  const auto bad_option = [&](const ml::LBFGSOptions& o, const char* name) {
    spartanxx_test::expect_error<sx::value_error>([&] { ml::train_logistic_regression_lbfgs(X, y, o); }, {name});
  };
  ml::LBFGSOptions o;
  o.max_iter = -1;
  bad_option(o, "maxIter");
  o = {};
  o.tol = -1e-3;
  bad_option(o, "tol");
  o = {};
  o.reg_param = -0.5;
  bad_option(o, "regParam");
  o = {};
  o.memory = 0;
  bad_option(o, "memory");
  const auto model = ml::train_logistic_regression_lbfgs(X, y);
  spartanxx_test::expect_error<sx::shape_error>([&] { model.predict(sx::zeros({3, d + 2})).evaluate(); },
                                                {"the model has 4 features", "the data 6"});
}

}  // namespace
