// One logistic-regression gradient: g = X^T (sigmoid(X w) - y) / n, with X of n x d
// float64 (random::normal), w of d, and 0/1 labels y. X is materialized once before
// timing; each repetition builds the expression anew, so nothing cached is reused.
// The Eigen baseline is a hand-written single pass on one core: X (row-major, as
// spartanxx stores it) is read once, in blocks of 256 rows (z = Xb w; r = sigmoid(z) -
// yb; g += Xb^T r), the block staying in cache between its two uses.
// Bytes model: X read once, 8 n d bytes per repetition.
#include <Eigen/Core>

#include "bench_harness.hpp"

namespace spartanxx::bench {

namespace {
using RowMajorMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
}  // namespace

std::vector<Result> run_logreg(const Runtime& rt, const Config& cfg) {
  const std::int64_t n = cfg.logreg_rows;
  const std::int64_t d = cfg.logreg_cols;

  const Array X = random::normal({n, d}, 7);
  const Array w = random::normal({d}, 8, 0.0, 1.0 / std::sqrt(static_cast<double>(d)));
  const Array y = (random::uniform({n}, 9) > 0.5).astype(DType::f64);
  X.evaluate();
  w.evaluate();
  y.evaluate();

  Result res;
  res.name = "logreg grad";
  res.expression = "dot(X.T(), sigmoid(dot(X, w)) - y) / n";
  res.sizes = {{"n", n}, {"d", d}};
  res.unit = "GB/s";
  res.work = 8.0 * static_cast<double>(n) * static_cast<double>(d);

  const double nd = static_cast<double>(n);
  Array last;
  time_spartanxx(rt, cfg, res, &last, [&] { return dot(X.T(), sigmoid(dot(X, w)) - y) / nd; });

  if (cfg.eigen) {
    const Eigen::VectorXd got = to_eigen(last);  // collective
    RowMajorMatrix eX;
    Eigen::VectorXd ew, ey;
    {
      Eigen::MatrixXd whole = to_eigen(X);  // collective
      if (rt.rank() == 0) eX = whole;
    }
    ew = to_eigen(w);
    ey = to_eigen(y);
    if (rt.rank() != 0) ey.resize(0);

    constexpr Eigen::Index block = 256;
    Eigen::VectorXd g(d), z(block);
    time_eigen_rank0(rt, cfg, res, [&] {
      g.setZero();
      for (Eigen::Index i = 0; i < n; i += block) {
        const Eigen::Index m = std::min<Eigen::Index>(block, n - i);
        const auto Xb = eX.middleRows(i, m);
        z.head(m).noalias() = Xb * ew;
        z.head(m) = z.head(m).array().logistic().matrix() - ey.segment(i, m);
        g.noalias() += Xb.transpose() * z.head(m);
      }
      g /= nd;
    });
    if (rt.rank() == 0) res.max_rel_error = max_rel_error(got, g);
  }
  return {res};
}

}  // namespace spartanxx::bench
