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
// - other baselines, each a line of a second table: spartanxx itself with fusion off
//   (the "fusion" row's main baseline), NumPy (scripts/bench_numpy.py, rank 0, one
//   core, on bit-identical data; checked by checksum) and ScaLAPACK's pdgemm (all ranks).
// Benchmarks link MPI directly (spartanxx links MPI::MPI_CXX publicly) only for
// MPI_Wtime and the max-over-ranks reduction of the timings.
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <spartanxx/spartanxx.hpp>

namespace spartanxx::bench {

/// What the command line chose.
struct Config {
  int reps = 5;
  int warmup = 1;     // untimed repetitions first: the first touch of fresh memory is slow
  bool eigen = true;  // run the single-node Eigen baseline
  std::int64_t elementwise_n = std::int64_t{1} << 25;
  std::int64_t compute_n = std::int64_t{1} << 24;  // the transcendental (compute-bound) expressions
  std::int64_t reduce_rows = 8192;
  std::int64_t reduce_cols = 8192;
  std::int64_t gemm_n = 2048;
  std::int64_t logreg_rows = 2000000;
  std::int64_t logreg_cols = 64;
  std::int64_t sparse_rows = 2000000;  // n of the n x n random sparse matrix
  std::int64_t sparse_per_row = 20;    // its stored entries per row, on average
  std::string metis_dir = "/usr/share/doc/libmetis-dev/examples/graphs";
  std::string ml_corpus;                    // label<TAB>text; empty: <source dir>/data/spamassassin.tsv.gz
  std::int64_t ml_features = std::int64_t{1} << 18;  // as scikit-learn's HashingVectorizer in bench_ml.sh
  int ml_iterations = 5;                    // SGD iterations per repetition
  bool scalapack = true;        // time ScaLAPACK's pdgemm (when it was found at configure time)
  int scalapack_nb = 128;       // block size of the 2-D block-cyclic distribution
  int slow_reps = 3;            // repetitions of the reference-BLAS baselines (pdgemm, NumPy matmul)
  bool numpy = false;           // run scripts/bench_numpy.py on rank 0
  std::string python;           // its interpreter; empty: python3, then /usr/bin/python3
  std::string numpy_script;     // its path
};

/// Communication of one evaluation, summed over ranks (temp_bytes: max over ranks).
struct CommTotals {
  std::int64_t bytes_sent = 0;
  std::int64_t bytes_received = 0;
  std::int64_t messages_sent = 0;
  std::int64_t predicted_bytes = 0;  // the cost model's figure (already over all ranks)
  std::int64_t temp_bytes_max = 0;   // largest temporary allocation on one rank
};

/// A baseline beyond the main one (NumPy, ScaLAPACK's pdgemm): a line of the second
/// table. `status` is empty when it ran; otherwise it says why not ("not built ...").
struct OtherBaseline {
  std::string name;                 // "numpy", "pdgemm"
  std::string note;                 // versions, grid, BLAS library
  std::string status;               // empty: ran
  std::vector<double> seconds;      // per repetition
  double max_rel_error = std::numeric_limits<double>::quiet_NaN();  // spartanxx vs this baseline
};

/// One row of the table and one object of the JSON report.
struct Result {
  std::string name;                                         // "elementwise", "sum(axis=0)", "gemm"
  std::string expression;                                   // "a*x + b*y - z"
  std::vector<std::pair<std::string, std::int64_t>> sizes;  // {"n", 33554432}
  std::string unit;                                         // "GB/s", "GFLOP/s", "Gelem/s"
  double work = 0;                    // bytes or flops of one repetition (unit's numerator)
  std::vector<double> spartanxx_s;    // per repetition, max over ranks
  std::string baseline = "eigen";     // "eigen" (rank 0, one core) or "unfused" (spartanxx, fusion off)
  std::vector<double> baseline_s;     // per repetition (empty: not run)
  std::vector<CommTotals> comm;       // per spartanxx repetition
  std::vector<NodeStats> last_nodes;  // rank 0's plan of the last repetition
  std::vector<NodeStats> baseline_nodes;  // the same, of a spartanxx baseline (unfused)
  double max_rel_error = std::numeric_limits<double>::quiet_NaN();  // spartanxx vs the baseline
  std::vector<OtherBaseline> others;  // NumPy, pdgemm
};

/// What identifies a result without holding it: spartanxx's against NumPy's.
struct Checksum {
  double sum = 0;
  double sum_abs = 0;
  std::vector<std::int64_t> indices;  // k (size - 1) / 8 for k = 0..8, flattened C order
  std::vector<double> samples;        // the elements there
};

/// The checksum of a 1-d (Eigen vector) or 2-d (any storage order) result, read in C order.
template <class M>
Checksum checksum_of(const M& m) {
  Checksum c;
  const std::int64_t size = m.size(), cols = m.cols();
  c.sum = m.sum();
  c.sum_abs = m.cwiseAbs().sum();
  for (std::int64_t k = 0; k <= 8 && size > 0; ++k) {
    const std::int64_t i = k * (size - 1) / 8;
    c.indices.push_back(i);
    c.samples.push_back(m(i / cols, i % cols));
  }
  return c;
}

/// How far `got` is from `want`: the sums relative to the sum of absolute values, and
/// the samples relative to the largest sample; infinity if the indices differ.
inline double checksum_rel_error(const Checksum& got, const Checksum& want) {
  if (got.indices != want.indices || got.samples.size() != want.samples.size())
    return std::numeric_limits<double>::infinity();
  const double tiny = std::numeric_limits<double>::min();
  double err = std::abs(got.sum - want.sum) / std::max(want.sum_abs, tiny);
  double scale = tiny;
  for (double v : want.samples) scale = std::max(scale, std::abs(v));
  for (std::size_t k = 0; k < got.samples.size(); ++k)
    err = std::max(err, std::abs(got.samples[k] - want.samples[k]) / scale);
  return std::isnan(err) ? std::numeric_limits<double>::infinity() : err;
}

/// One benchmark of the NumPy script's report.
struct NumpyEntry {
  std::vector<double> seconds;
  Checksum checksum;
};

/// What scripts/bench_numpy.py reported (rank 0 ran it; every rank holds the same copy).
struct NumpyResults {
  bool requested = false;  // --numpy
  std::string status;      // empty: ran; otherwise why there are no figures
  std::string note;        // "numpy 1.24.2 (python 3.11.2, /usr/bin/python3), one core"
  std::string blas;        // the BLAS library the interpreter loaded (for matmul)
  std::map<std::string, NumpyEntry> entries;  // by benchmark name
};

/// Adds the NumPy line to `res` when --numpy asked for it; `got` is spartanxx's result
/// (meaningful on rank 0, where the check is made). `blas`: NumPy calls BLAS for it.
inline void attach_numpy(const NumpyResults& np, const Checksum& got, Result& res, bool blas = false) {
  if (!np.requested) return;
  OtherBaseline o;
  o.name = "numpy";
  o.note = blas ? np.note + "; BLAS " + np.blas : np.note;
  o.status = np.status;
  if (o.status.empty()) {
    const auto it = np.entries.find(res.name);
    if (it == np.entries.end()) {
      o.status = "not run by the script";
    } else {
      o.seconds = it->second.seconds;
      o.max_rel_error = checksum_rel_error(got, it->second.checksum);
    }
  }
  res.others.push_back(std::move(o));
}

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
      out.baseline_s.push_back(MPI_Wtime() - t0);
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

/// Sets spartanxx::options().fusion for its lifetime (collective use: every rank alike).
class FusionSwitch {
 public:
  explicit FusionSwitch(bool on) : saved_(options().fusion) { options().fusion = on; }
  ~FusionSwitch() { options().fusion = saved_; }
  FusionSwitch(const FusionSwitch&) = delete;
  FusionSwitch& operator=(const FusionSwitch&) = delete;

 private:
  bool saved_;
};

// One function per area, each in its own file; all are collective.
std::vector<Result> run_elementwise(const Runtime& rt, const Config& cfg, const NumpyResults& np);
std::vector<Result> run_compute(const Runtime& rt, const Config& cfg, const NumpyResults& np);
std::vector<Result> run_fusion(const Runtime& rt, const Config& cfg);
std::vector<Result> run_reductions(const Runtime& rt, const Config& cfg, const NumpyResults& np);
std::vector<Result> run_gemm(const Runtime& rt, const Config& cfg, const NumpyResults& np);
std::vector<Result> run_logreg(const Runtime& rt, const Config& cfg);
std::vector<Result> run_sparse(const Runtime& rt, const Config& cfg);
std::vector<Result> run_ml(const Runtime& rt, const Config& cfg);

/// Runs scripts/bench_numpy.py on rank 0 and gives every rank its report (collective);
/// never throws for a missing interpreter, NumPy or script: the status says so.
NumpyResults run_numpy_script(const Runtime& rt, const Config& cfg, const std::vector<std::string>& areas);

/// ScaLAPACK's pdgemm on the n x n matrices `a` and `b` (their whole values on every
/// rank), on all ranks in a near-square grid, checked against `c` (spartanxx's product,
/// whole on every rank). Collective. Status "not built ..." without ScaLAPACK.
OtherBaseline run_pdgemm(const Runtime& rt, const Config& cfg, const Eigen::MatrixXd& a, const Eigen::MatrixXd& b,
                         const Eigen::MatrixXd& c);

}  // namespace spartanxx::bench
