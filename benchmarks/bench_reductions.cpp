// Reductions: sum along axis 0 and along axis 1 of a float64 matrix. The Eigen baseline
// holds the matrix row-major, as spartanxx stores its tiles (C order), so both read the
// same bytes in the same order. Bytes model: each pass reads rows * cols * 8 bytes.
#include <Eigen/Core>

#include "bench_harness.hpp"

namespace spartanxx::bench {

namespace {
using RowMajorMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
}  // namespace

std::vector<Result> run_reductions(const Runtime& rt, const Config& cfg, const NumpyResults& np) {
  const std::int64_t rows = cfg.reduce_rows;
  const std::int64_t cols = cfg.reduce_cols;

  const Array m = random::uniform({rows, cols}, 4);
  m.evaluate();

  RowMajorMatrix em;
  if (cfg.eigen) {
    em = to_eigen(m);  // collective; every rank gets the whole matrix, only rank 0 keeps it
    if (rt.rank() != 0) em.resize(0, 0);
  }

  std::vector<Result> results;
  for (const int axis : {0, 1}) {
    Result res;
    res.name = axis == 0 ? "sum(axis=0)" : "sum(axis=1)";
    res.expression = axis == 0 ? "sum(m, 0)" : "sum(m, 1)";
    res.sizes = {{"rows", rows}, {"cols", cols}};
    res.unit = "GB/s";
    res.work = 8.0 * static_cast<double>(rows) * static_cast<double>(cols);

    Array last;
    time_spartanxx(rt, cfg, res, &last, [&] { return sum(m, axis); });

    Eigen::VectorXd got;
    if (cfg.eigen || np.requested) {
      got = to_eigen(last);  // collective; 1-d: a column vector
      attach_numpy(np, checksum_of(got), res);
    }
    if (cfg.eigen) {
      Eigen::VectorXd expected;
      if (axis == 0) {
        // Not em.colwise().sum(): on a row-major matrix Eigen 3.4 runs that 6-8x below
        // memory bandwidth; adding the rows in turn streams the matrix once, vectorized.
        time_eigen_rank0(rt, cfg, res, [&] {
          expected.setZero(em.cols());
          for (Eigen::Index i = 0; i < em.rows(); ++i) expected += em.row(i).transpose();
        });
      } else {
        time_eigen_rank0(rt, cfg, res, [&] { expected = em.rowwise().sum(); });
      }
      if (rt.rank() == 0) res.max_rel_error = max_rel_error(got, expected);
    }
    results.push_back(std::move(res));
  }
  return results;
}

}  // namespace spartanxx::bench
