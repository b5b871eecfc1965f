// Elementwise: r = a*x + b*y - z on float64 vectors, scalars a and b. spartanxx fuses
// the four maps into one kernel; Eigen evaluates the same expression lazily in one loop.
// Bytes model: read x, y, z and write r, 4 * 8 * n bytes per repetition.
#include <Eigen/Core>

#include "bench_harness.hpp"

namespace spartanxx::bench {

std::vector<Result> run_elementwise(const Runtime& rt, const Config& cfg) {
  const std::int64_t n = cfg.elementwise_n;
  const double a = 1.5;
  const double b = -0.5;

  const Array x = random::uniform({n}, 1);
  const Array y = random::uniform({n}, 2);
  const Array z = random::uniform({n}, 3);
  x.evaluate();
  y.evaluate();
  z.evaluate();

  Result res;
  res.name = "elementwise";
  res.expression = "a*x + b*y - z";
  res.sizes = {{"n", n}};
  res.unit = "GB/s";
  res.work = 4.0 * 8.0 * static_cast<double>(n);

  Array last;
  time_spartanxx(rt, cfg, res, &last, [&] { return a * x + b * y - z; });

  if (cfg.eigen) {
    // to_eigen is collective and gives every rank the whole array; only rank 0 keeps it.
    Eigen::VectorXd ex = to_eigen(x);
    Eigen::VectorXd ey = to_eigen(y);
    Eigen::VectorXd ez = to_eigen(z);
    Eigen::VectorXd got = to_eigen(last);
    if (rt.rank() != 0) {
      for (Eigen::VectorXd* v : {&ex, &ey, &ez, &got}) v->resize(0);
    }
    Eigen::VectorXd er(rt.rank() == 0 ? n : 0);
    time_eigen_rank0(rt, cfg, res, [&] { er = a * ex + b * ey - ez; });
    if (rt.rank() == 0) res.max_rel_error = max_rel_error(got, er);
  }
  return {res};
}

}  // namespace spartanxx::bench
