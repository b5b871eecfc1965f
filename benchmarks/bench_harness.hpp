#pragma once
// The shared part of spartanxx-bench: the timing protocol, one result row per
// benchmark, and the helpers that every area (elementwise, reductions, GEMM) uses.
//
// Timing protocol, the same for every benchmark:
// - spartanxx: each repetition builds the expression again and calls evaluate(); a
//   barrier comes before the clock starts, and the time kept is the maximum over
//   ranks (the slowest rank finishes the collective evaluation).
// - Eigen: rank 0 alone, one core, on the same data fetched once with to_eigen()
//   outside the timed region; the other ranks wait at a barrier meanwhile.
// Benchmarks link MPI directly (spartanxx links MPI::MPI_CXX publicly) only for
// MPI_Wtime and the max-over-ranks reduction of the timings.
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <spartanxx/spartanxx.hpp>

namespace spartanxx::bench {

/// What the command line chose.
struct Config {
  int reps = 5;
  int warmup = 1;     // untimed repetitions first: the first touch of fresh memory is slow
  bool eigen = true;  // run the single-node Eigen baseline
  std::int64_t elementwise_n = std::int64_t{1} << 25;
  std::int64_t reduce_rows = 8192;
  std::int64_t reduce_cols = 8192;
  std::int64_t gemm_n = 2048;
};

/// Communication of one evaluation, summed over ranks (temp_bytes: max over ranks).
struct CommTotals {
  std::int64_t bytes_sent = 0;
  std::int64_t bytes_received = 0;
  std::int64_t messages_sent = 0;
  std::int64_t predicted_bytes = 0;  // the cost model's figure (already over all ranks)
  std::int64_t temp_bytes_max = 0;   // largest temporary allocation on one rank
};

/// One row of the table and one object of the JSON report.
struct Result {
  std::string name;                                         // "elementwise", "sum(axis=0)", "gemm"
  std::string expression;                                   // "a*x + b*y - z"
  std::vector<std::pair<std::string, std::int64_t>> sizes;  // {"n", 33554432}
  std::string unit;                                         // "GB/s" or "GFLOP/s"
  double work = 0;                    // bytes or flops of one repetition (unit's numerator)
  std::vector<double> spartanxx_s;    // per repetition, max over ranks
  std::vector<double> eigen_s;        // per repetition, rank 0 (empty: not run)
  std::vector<CommTotals> comm;       // per spartanxx repetition
  std::vector<NodeStats> last_nodes;  // rank 0's plan of the last repetition
  double max_rel_error = std::numeric_limits<double>::quiet_NaN();  // spartanxx vs Eigen
};

inline double median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 == 1 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

/// work / seconds in units of 1e9 (GB/s or GFLOP/s).
inline double rate(double work, double seconds) { return seconds > 0 ? work / seconds / 1e9 : 0.0; }

/// The evaluation accounting of this rank combined over all ranks (collective).
inline CommTotals gather_last_evaluation() {
  const EvalStats s = last_evaluation_stats();
  std::int64_t local[3] = {s.comm.bytes_sent, s.comm.bytes_received, s.comm.messages_sent};
  std::int64_t total[3] = {0, 0, 0};
  MPI_Allreduce(local, total, 3, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  std::int64_t temp = 0;
  MPI_Allreduce(&s.temp_bytes, &temp, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
  return CommTotals{total[0], total[1], total[2], s.predicted_bytes, temp};
}

/// Times `build` (which returns an unevaluated Array) cfg.reps times on all ranks
/// (collective), after cfg.warmup untimed runs. Each repetition builds the expression
/// again and evaluates it; the result of the last one is left in `*last`, and each
/// previous result is released only after the clock stopped, so freeing it is not timed.
template <class Build>
void time_spartanxx(const Runtime& rt, const Config& cfg, Result& out, Array* last, Build&& build) {
  for (int w = 0; w < cfg.warmup; ++w) {
    *last = Array();
    build().evaluate();
  }
  *last = Array();
  for (int r = 0; r < cfg.reps; ++r) {
    rt.barrier();
    const double t0 = MPI_Wtime();
    Array result = build();
    result.evaluate();
    const double local = MPI_Wtime() - t0;
    double slowest = 0;
    MPI_Allreduce(&local, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    out.spartanxx_s.push_back(slowest);
    out.comm.push_back(gather_last_evaluation());
    if (r + 1 == cfg.reps) out.last_nodes = last_evaluation_stats().nodes;
    *last = std::move(result);
  }
}

/// Times `run` cfg.reps times (after cfg.warmup untimed runs) on rank 0 alone while the other ranks wait
/// (collective: every rank calls it; only rank 0 runs `run`).
template <class Run>
void time_eigen_rank0(const Runtime& rt, const Config& cfg, Result& out, Run&& run) {
  rt.barrier();
  if (rt.rank() == 0) {
    for (int w = 0; w < cfg.warmup; ++w) run();
    for (int r = 0; r < cfg.reps; ++r) {
      const double t0 = MPI_Wtime();
      run();
      out.eigen_s.push_back(MPI_Wtime() - t0);
    }
  }
  rt.barrier();
}

/// max |a - b| / max(max |b|, tiny): how far spartanxx's result is from Eigen's.
template <class A, class B>
double max_rel_error(const A& a, const B& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  const double scale = std::max(b.cwiseAbs().maxCoeff(), std::numeric_limits<double>::min());
  return (a - b).cwiseAbs().maxCoeff() / scale;
}

// One function per area, each in its own file; all are collective.
std::vector<Result> run_elementwise(const Runtime& rt, const Config& cfg);
std::vector<Result> run_reductions(const Runtime& rt, const Config& cfg);
std::vector<Result> run_gemm(const Runtime& rt, const Config& cfg);

}  // namespace spartanxx::bench
