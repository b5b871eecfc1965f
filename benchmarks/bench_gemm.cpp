// Dense GEMM: c = dot(a, b) for n x n float64 matrices; 2 n^3 flops per repetition.
// Eigen runs its own blocked GEMM on one core (no OpenMP), column-major as it prefers.
// ScaLAPACK's pdgemm (bench_scalapack.cpp) runs on all ranks on the same matrices, and
// NumPy's matmul (scripts/bench_numpy.py) on one core, both through the system BLAS.
#include <Eigen/Core>

#include "bench_harness.hpp"

namespace spartanxx::bench {

std::vector<Result> run_gemm(const Runtime& rt, const Config& cfg, const NumpyResults& np) {
  const std::int64_t n = cfg.gemm_n;

  const Array a = random::uniform({n, n}, 5, -1.0, 1.0);
  const Array b = random::uniform({n, n}, 6, -1.0, 1.0);
  a.evaluate();
  b.evaluate();

  Result res;
  res.name = "gemm";
  res.expression = "dot(a, b)";
  res.sizes = {{"n", n}};
  res.unit = "GFLOP/s";
  res.work = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);

  Array last;
  time_spartanxx(rt, cfg, res, &last, [&] { return dot(a, b); });

  if (!cfg.eigen && !cfg.scalapack && !np.requested) return {res};

  // Collective: every rank gets the whole matrices; pdgemm needs them everywhere (each
  // rank takes its block-cyclic pieces), then only rank 0 keeps them for Eigen.
  Eigen::MatrixXd ea = to_eigen(a);
  Eigen::MatrixXd eb = to_eigen(b);
  Eigen::MatrixXd got = to_eigen(last);
  attach_numpy(np, checksum_of(got), res, /*blas=*/true);
  if (cfg.scalapack) res.others.push_back(run_pdgemm(rt, cfg, ea, eb, got));
  if (rt.rank() != 0) {
    for (Eigen::MatrixXd* m : {&ea, &eb, &got}) m->resize(0, 0);
  }
  if (cfg.eigen) {
    Eigen::MatrixXd ec(ea.rows(), eb.cols());
    time_eigen_rank0(rt, cfg, res, [&] { ec.noalias() = ea * eb; });
    if (rt.rank() == 0) res.max_rel_error = max_rel_error(got, ec);
  }
  return {res};
}

}  // namespace spartanxx::bench
