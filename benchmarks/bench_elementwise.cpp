// Elementwise, three kinds:
// - memory-bound: r = a*x + b*y - z on float64 vectors, scalars a and b. spartanxx fuses
//   the four maps into one kernel; Eigen evaluates the same expression lazily in one loop.
//   Bytes model: read x, y, z and write r, 4 * 8 * n bytes per repetition.
// - compute-bound: sigmoid(x) * log1p(y*y) and exp(0.5*x) * log(5 + y) - exp(-y), where
//   the transcendental functions, not memory, set the pace. Rate: elements per second.
// - fusion: a*x + b*y - z again, against spartanxx itself with fusion switched off
//   (spartanxx::options().fusion = false: every operation its own kernel and temporary).
// The seeds and constants here are also those of scripts/bench_numpy.py.
#include <Eigen/Core>

#include "bench_harness.hpp"

namespace spartanxx::bench {

namespace {

/// Whole-array copies on rank 0 (to_eigen is collective and gives every rank the whole
/// array; the other ranks drop theirs at once).
Eigen::VectorXd on_rank0(const Runtime& rt, const Array& a) {
  Eigen::VectorXd v = to_eigen(a);
  if (rt.rank() != 0) v.resize(0);
  return v;
}

/// The memory-bound expression a*x + b*y - z on evaluated inputs (seeds 1, 2, 3).
struct Triad {
  double a = 1.5, b = -0.5;
  Array x, y, z;
  explicit Triad(std::int64_t n)
      : x(random::uniform({n}, 1)), y(random::uniform({n}, 2)), z(random::uniform({n}, 3)) {
    x.evaluate();
    y.evaluate();
    z.evaluate();
  }
  Array operator()() const { return a * x + b * y - z; }
};

}  // namespace

std::vector<Result> run_elementwise(const Runtime& rt, const Config& cfg, const NumpyResults& np) {
  const std::int64_t n = cfg.elementwise_n;
  const Triad triad(n);

  Result res;
  res.name = "elementwise";
  res.expression = "a*x + b*y - z";
  res.sizes = {{"n", n}};
  res.unit = "GB/s";
  res.work = 4.0 * 8.0 * static_cast<double>(n);

  Array last;
  time_spartanxx(rt, cfg, res, &last, triad);

  if (cfg.eigen || np.requested) {
    const Eigen::VectorXd got = on_rank0(rt, last);
    if (cfg.eigen) {
      const Eigen::VectorXd ex = on_rank0(rt, triad.x);
      const Eigen::VectorXd ey = on_rank0(rt, triad.y);
      const Eigen::VectorXd ez = on_rank0(rt, triad.z);
      const double a = triad.a, b = triad.b;
      Eigen::VectorXd er(rt.rank() == 0 ? n : 0);
      time_eigen_rank0(rt, cfg, res, [&] { er = a * ex + b * ey - ez; });
      if (rt.rank() == 0) res.max_rel_error = max_rel_error(got, er);
    }
    attach_numpy(np, checksum_of(got), res);
  }
  return {res};
}

std::vector<Result> run_compute(const Runtime& rt, const Config& cfg, const NumpyResults& np) {
  const std::int64_t n = cfg.compute_n;
  const Array x = random::uniform({n}, 11, -4.0, 4.0);
  const Array y = random::uniform({n}, 12, -4.0, 4.0);
  x.evaluate();
  y.evaluate();
  Eigen::ArrayXd ex, ey;
  if (cfg.eigen) {
    ex = on_rank0(rt, x).array();
    ey = on_rank0(rt, y).array();
  }

  std::vector<Result> results;
  for (const int which : {0, 1}) {
    Result res;
    res.name = which == 0 ? "sigmoid*log1p" : "exp/log mix";
    res.expression = which == 0 ? "sigmoid(x) * log1p(y*y)" : "exp(0.5*x) * log(5 + y) - exp(-y)";
    res.sizes = {{"n", n}};
    res.unit = "Gelem/s";
    res.work = static_cast<double>(n);

    Array last;
    if (which == 0) {
      time_spartanxx(rt, cfg, res, &last, [&] { return sigmoid(x) * log1p(y * y); });
    } else {
      time_spartanxx(rt, cfg, res, &last, [&] { return exp(0.5 * x) * log(5.0 + y) - exp(-y); });
    }

    if (cfg.eigen || np.requested) {
      const Eigen::VectorXd got = on_rank0(rt, last);
      if (cfg.eigen) {
        // Eigen's own vectorized exp, log, log1p and logistic, one pass, one core.
        Eigen::ArrayXd er(rt.rank() == 0 ? n : 0);
        if (which == 0) {
          time_eigen_rank0(rt, cfg, res, [&] { er = ex.logistic() * (ey * ey).log1p(); });
        } else {
          time_eigen_rank0(rt, cfg, res, [&] { er = (0.5 * ex).exp() * (5.0 + ey).log() - (-ey).exp(); });
        }
        if (rt.rank() == 0) res.max_rel_error = max_rel_error(got, er.matrix());
      }
      attach_numpy(np, checksum_of(got), res);
    }
    results.push_back(std::move(res));
  }
  return results;
}

std::vector<Result> run_fusion(const Runtime& rt, const Config& cfg) {
  const std::int64_t n = cfg.elementwise_n;
  const Triad triad(n);

  Result res;
  res.name = "fusion";
  res.expression = "a*x + b*y - z (fused vs unfused)";
  res.sizes = {{"n", n}};
  res.unit = "GB/s";
  res.work = 4.0 * 8.0 * static_cast<double>(n);  // the fused program's bytes, for both
  res.baseline = "unfused";

  Array fused;
  {
    const FusionSwitch on(true);
    time_spartanxx(rt, cfg, res, &fused, triad);
  }
  Array unfused;
  {
    const FusionSwitch off(false);
    Result u;
    time_spartanxx(rt, cfg, u, &unfused, triad);
    res.baseline_s = std::move(u.spartanxx_s);
    res.baseline_nodes = std::move(u.last_nodes);
  }
  // Only rank 0 keeps the timings of a baseline (as for Eigen).
  if (rt.rank() != 0) res.baseline_s.clear();
  const Eigen::VectorXd got = to_eigen(fused);
  const Eigen::VectorXd want = to_eigen(unfused);
  if (rt.rank() == 0) res.max_rel_error = max_rel_error(got, want);
  return {res};
}

}  // namespace spartanxx::bench
