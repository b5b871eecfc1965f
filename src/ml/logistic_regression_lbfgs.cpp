// spartanxx::ml::train_logistic_regression_lbfgs, on the public API only.
#include "spartanxx/ml/logistic_regression_lbfgs.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "spartanxx/creation.hpp"
#include "spartanxx/eigen.hpp"
#include "spartanxx/errors.hpp"
#include "spartanxx/ops.hpp"
#include "ml/logistic.hpp"

namespace spartanxx::ml {

namespace {

using Vec = Eigen::VectorXd;

/// The objective along the search direction at step a: value f and slope d.
struct Point {
  double a, f, d;
};

/// The minimizer of the cubic through both points' values and slopes (Nocedal & Wright,
/// eq. 3.59), kept in the middle 80% of the bracket; its midpoint when the cubic has none.
double interpolate(const Point& l, const Point& h) {
  const double lo = std::min(l.a, h.a), hi = std::max(l.a, h.a);
  double a = 0.5 * (lo + hi);
  const double d1 = l.d + h.d - 3 * (l.f - h.f) / (l.a - h.a);
  const double disc = d1 * d1 - l.d * h.d;
  if (disc >= 0) {
    const double d2 = std::copysign(std::sqrt(disc), h.a - l.a);
    const double t = h.a - (h.a - l.a) * (h.d + d2 - d1) / (h.d - l.d + 2 * d2);
    if (std::isfinite(t)) a = t;
  }
  return std::clamp(a, lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo));
}

/// A step satisfying the strong Wolfe conditions from step a on (Nocedal & Wright,
/// algorithms 3.5 and 3.6, with Breeze's constants: c1 = 1e-4, c2 = 0.9, steps growing by
/// 1.5, at most 10 bracketing and 10 zoom trials). When the trials run out, the best
/// step that satisfied the sufficient decrease (Armijo) condition; none: nullopt.
template <class Phi>
std::optional<Point> strong_wolfe(const Phi& phi, const Point& p0, double a) {
  constexpr double c1 = 1e-4, c2 = 0.9;
  const auto armijo = [&](const Point& c) { return c.f <= p0.f + c1 * c.a * p0.d; };
  const auto curvature = [&](const Point& c) { return std::abs(c.d) <= c2 * std::abs(p0.d); };
  // lo: the best Armijo point so far; the minimizer lies between lo and hi.
  const auto zoom = [&](Point lo, Point hi) -> std::optional<Point> {
    for (int i = 0; i < 10; ++i) {
      const Point c = phi(interpolate(lo, hi));
      if (!armijo(c) || !(c.f < lo.f)) {
        hi = c;
      } else {
        if (curvature(c)) return c;
        if (c.d * (hi.a - lo.a) >= 0) hi = lo;
        lo = c;
      }
    }
    return lo.a > 0 ? std::optional<Point>(lo) : std::nullopt;
  };
  Point prev = p0;
  for (int i = 0; i < 10; ++i) {
    const Point c = phi(a);
    if (!std::isfinite(c.f) || !std::isfinite(c.d)) {
      a /= 2;
      continue;
    }
    if (!armijo(c) || (i > 0 && c.f >= prev.f)) return zoom(prev, c);
    if (curvature(c)) return c;
    if (c.d >= 0) return zoom(c, prev);
    prev = c;
    a *= 1.5;
  }
  return prev.a > 0 ? std::optional<Point>(prev) : std::nullopt;
}

}  // namespace

LogisticRegressionModel train_logistic_regression_lbfgs(const Array& X, const Array& y, const LBFGSOptions& o) {
  if (X.shape().size() != 2) throw shape_error("LogisticRegression: features must be a matrix (rows x features)");
  const std::int64_t n = X.shape()[0], d = X.shape()[1];
  if (n == 0) throw value_error("LogisticRegression: the training set is empty");
  if (o.max_iter < 0) throw value_error(fmt::format("LogisticRegression: maxIter must be >= 0, got {}", o.max_iter));
  if (!(o.tol >= 0)) throw value_error(fmt::format("LogisticRegression: tol must be >= 0, got {}", o.tol));
  if (!(o.reg_param >= 0)) throw value_error(fmt::format("LogisticRegression: regParam must be >= 0, got {}", o.reg_param));
  if (o.memory < 1) throw value_error(fmt::format("LogisticRegression: memory (L-BFGS history) must be >= 1, got {}", o.memory));
  detail::check_labels("LogisticRegression", y, n, o.allow_single_class);
  const Array labels = y.astype(DType::f64);
  labels.evaluate();
  const double rows = static_cast<double>(n), positives = sum(labels).item();
  const bool fi = o.fit_intercept;
  const double inf = std::numeric_limits<double>::infinity();
  if (fi && (positives == 0 || positives == rows))  // Spark: one class, an infinite intercept
    return LogisticRegressionModel(zeros({d}), positives == 0 ? -inf : inf, 0, {0.0});

  // 1 / σ_j from Σx and Σx² (σ = 0 exactly where a column's min equals its max, and for
  // one row), and the penalty's weight on each standardized weight: ½ λ Σ c_j w_j².
  Vec inv_std = Vec::Zero(d);
  if (n > 1) {
    const Vec s1 = to_eigen(sum(X, 0)).col(0), s2 = to_eigen(sum(square(X), 0)).col(0);
    const Vec lo = to_eigen(min(X, 0)).col(0), hi = to_eigen(max(X, 0)).col(0);
    for (std::int64_t j = 0; j < d; ++j) {
      const double var = (s2(j) - s1(j) * s1(j) / rows) / (rows - 1);
      if (lo(j) < hi(j) && var > 0) inv_std(j) = 1 / std::sqrt(var);
    }
  }
  const detail::TrainingCheckpoints ckpt(
      "LogisticRegression", "lbfgs", o.checkpoint,
      fmt::format("regParam={} tol={} fitIntercept={} standardization={} memory={}", o.reg_param, o.tol, fi,
                  o.standardization, o.memory),
      n, d);
  const std::optional<io::Snapshot> resumed = ckpt.resume_point();
  const auto vec = [](const std::vector<double>& v) { return Vec(Eigen::Map<const Vec>(v.data(), static_cast<Eigen::Index>(v.size()))); };
  const auto list = [](const Vec& v) { return std::vector<double>(v.data(), v.data() + v.size()); };
  // The scales of the run that wrote the checkpoint (at another rank count Σx and Σx²
  // may differ in their last bits).
  if (resumed) inv_std = vec(resumed->series.at("inv_std"));
  // Standardized: w_j itself; otherwise the original weight w_j / σ_j.
  const Vec c = o.standardization ? Vec((inv_std.array() > 0).cast<double>()) : Vec(inv_std.array().square());
  const double lambda = o.reg_param;

  // θ = (w, b) in the standardized space; m = X_std w + b, kept up to date step by step.
  const Eigen::Index k = d + (fi ? 1 : 0);
  Vec theta = Vec::Zero(k);
  if (fi) theta(d) = std::log(positives / (rows - positives));
  const auto reg = [&](const Vec& t) { return 0.5 * lambda * c.dot(t.head(d).cwiseProduct(t.head(d))); };
  Array m = full({n}, fi ? theta(d) : 0.0);
  m.evaluate();
  // ∇f at θ whose margins are m: one pass over X for Xᵀ r, r = σ(m) − y.
  const auto gradient = [&](const Vec& t) {
    const Array r = sigmoid(m) - labels;
    r.evaluate();
    Vec g(k);
    g.head(d) = to_eigen(dot(X.T(), r)).col(0).cwiseProduct(inv_std) / rows + lambda * c.cwiseProduct(t.head(d));
    if (fi) g(d) = sum(r).item() / rows;
    return g;
  };
  double f = sum(detail::logistic_loss(m, labels)).item() / rows + reg(theta);
  double f0 = f;
  Vec g = resumed ? Vec() : gradient(theta);
  std::vector<double> history{f};
  // Breeze's convergence check: the last 20 values (starting from +∞), the gradient norm.
  std::deque<double> window{inf};
  int iter = 0;
  std::deque<Vec> S, Y;  // the last steps s and gradient changes y, newest first
  if (resumed) {
    const io::Snapshot& r = *resumed;
    theta = vec(r.series.at("theta"));
    g = vec(r.series.at("gradient"));
    m = r.arrays.at("margins");
    f = r.scalars.at("f");
    f0 = r.scalars.at("f0");
    history = r.series.at("history");
    iter = static_cast<int>(r.step);
    const auto pairs = static_cast<std::size_t>(r.scalars.at("pairs"));
    const std::vector<double>& s_all = r.series.at("S");
    const std::vector<double>& y_all = r.series.at("Y");
    for (std::size_t i = 0; i < pairs; ++i) {
      S.push_back(Eigen::Map<const Vec>(s_all.data() + i * static_cast<std::size_t>(k), k));
      Y.push_back(Eigen::Map<const Vec>(y_all.data() + i * static_cast<std::size_t>(k), k));
    }
    for (std::size_t i = 1; i < history.size(); ++i) {
      window.push_back(history[i]);
      if (window.size() > 20) window.pop_front();
    }
  }
  // The state after an iteration (failed_once is false there).
  const auto save = [&] {
    std::vector<double> s_all, y_all;
    for (std::size_t i = 0; i < S.size(); ++i) {
      s_all.insert(s_all.end(), S[i].data(), S[i].data() + k);
      y_all.insert(y_all.end(), Y[i].data(), Y[i].data() + k);
    }
    ckpt.save(io::Snapshot{"", iter, {{"margins", m}},
                           {{"f", f}, {"f0", f0}, {"pairs", static_cast<double>(S.size())}},
                           {{"theta", list(theta)}, {"gradient", list(g)}, {"history", history}, {"inv_std", list(inv_std)},
                            {"S", s_all}, {"Y", y_all}},
                           {}});
  };
  const auto converged = [&] {
    if (iter >= o.max_iter) return true;
    const double worst = *std::max_element(window.begin(), window.end());
    if (window.size() >= 2 && std::abs(f - worst) <= o.tol * std::abs(f0)) return true;
    return g.norm() <= std::max(o.tol * std::abs(f), 1e-8);
  };

  // H g by the two-loop recursion, H₀ = (sᵀy / yᵀy) I from the newest pair.
  const auto inverse_hessian_times = [&](Vec v) {
    const std::size_t h = S.size();
    std::vector<double> alpha(h), rho(h);
    for (std::size_t i = 0; i < h; ++i) {
      rho[i] = 1 / S[i].dot(Y[i]);
      alpha[i] = rho[i] * S[i].dot(v);
      v -= alpha[i] * Y[i];
    }
    if (h > 0) v *= S[0].dot(Y[0]) / Y[0].squaredNorm();
    for (std::size_t i = h; i-- > 0;) v += (alpha[i] - rho[i] * Y[i].dot(v)) * S[i];
    return v;
  };

  bool failed_once = false;
  while (!converged()) {
    const Vec dir = -inverse_hessian_times(g);
    // One pass over X: the direction's margins q, so that step a has margins m + a q.
    Array q = dot(X, from_eigen(Vec(dir.head(d).cwiseProduct(inv_std))));
    if (fi) q = q + dir(d);
    q.evaluate();
    const auto phi = [&](double a) {
      const Array ma = m + a * q;
      const Vec ta = theta + a * dir;
      const double fa = sum(detail::logistic_loss(ma, labels)).item() / rows + reg(ta);
      const double slope = sum((sigmoid(ma) - labels) * q).item() / rows + lambda * c.cwiseProduct(ta.head(d)).dot(dir.head(d));
      return Point{a, fa, slope};
    };
    const Point p0{0, f, g.dot(dir)};
    const std::optional<Point> step = p0.d < 0 ? strong_wolfe(phi, p0, iter == 0 ? 1 / dir.norm() : 1.0) : std::nullopt;
    if (!step || step->a * g.norm() < 1e-10) {
      // Breeze: the first failure resets the history (steepest descent next), a second
      // one in a row ends the search (at once when there is no history to reset).
      if (failed_once || S.empty()) break;
      failed_once = true;
      S.clear(), Y.clear();
      continue;
    }
    failed_once = false;
    const Vec previous = theta;
    theta = theta + step->a * dir;
    m = m + step->a * q;  // the margins phi computed at this step, the same operations
    m.evaluate();
    f = step->f;
    const Vec g_new = gradient(theta);
    const Vec s = theta - previous, yv = g_new - g;
    g = g_new;
    if (s.dot(yv) > 0) {
      S.push_front(s), Y.push_front(yv);
      if (S.size() > static_cast<std::size_t>(o.memory)) S.pop_back(), Y.pop_back();
    } else {
      S.clear(), Y.clear();  // curvature lost (Breeze: NaNHistory, a reset)
    }
    ++iter;
    history.push_back(f);
    if (o.on_iteration) o.on_iteration(iter, f);
    window.push_back(f);
    if (window.size() > 20) window.pop_front();
    if (ckpt.due(iter)) save();
  }
  if (ckpt.enabled() && !ckpt.due(iter)) save();  // where it ended
  const Vec w = theta.head(d).cwiseProduct(inv_std);  // back to the original features
  return LogisticRegressionModel(from_eigen(w), fi ? theta(d) : 0.0, iter, std::move(history));
}

}  // namespace spartanxx::ml
