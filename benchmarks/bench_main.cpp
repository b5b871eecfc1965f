// spartanxx-bench: times spartanxx against single-node Eigen on the same data, in the
// same run, and prints a table (and, with --json, a machine-readable report). Other
// baselines in the same run: spartanxx with fusion off, NumPy (--numpy, through
// scripts/bench_numpy.py on rank 0) and ScaLAPACK's pdgemm for the GEMM (when built).
//
//     mpirun -np 2 build/bin/spartanxx-bench --quick
//     mpirun -np 4 build/bin/spartanxx-bench --gemm-n 4096 --numpy --json bench.json
#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "bench_harness.hpp"

// The git revision, written at every build by bench_revision.cmake (generated header).
#ifdef SPARTANXX_BENCH_REVISION_HEADER
#include "bench_revision.hpp"
#endif
#ifndef SPARTANXX_GIT_REVISION
#define SPARTANXX_GIT_REVISION "unknown"
#endif
#ifndef SPARTANXX_BUILD_TYPE
#define SPARTANXX_BUILD_TYPE "unknown"
#endif
#ifndef SPARTANXX_CXX_COMPILER
#define SPARTANXX_CXX_COMPILER "unknown"
#endif

namespace {

using spartanxx::bench::CommTotals;
using spartanxx::bench::OtherBaseline;
using spartanxx::bench::Config;
using spartanxx::bench::median;
using spartanxx::bench::rate;
using spartanxx::bench::Result;

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024.0 && u < 4) {
    b /= 1024.0;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} {}", b, units[u]) : fmt::format("{:.1f} {}", b, units[u]);
}

std::string sizes_text(const Result& r) {
  std::string s;
  for (const auto& [name, value] : r.sizes) s += fmt::format("{}{}={}", s.empty() ? "" : " ", name, value);
  return s;
}

std::string check_text(double err, bool ran) {
  if (!ran) return "-";
  return err <= 1e-10 ? "ok" : fmt::format("MISMATCH {:.1e}", err);
}

void print_table(const std::vector<Result>& results, int ranks, int reps) {
  fmt::print("\n{:<13} {:>5}  {:<20} {:>11} {:>14}  {:<8} {:>11} {:>14} {:>7}  {:>10} {:>10}  {}\n",
             "benchmark", "ranks", "sizes", "spartanxx s", "rate", "baseline", "baseline s", "baseline rate",
             "ratio", "sent", "predicted", "check");
  for (const Result& r : results) {
    const double t = median(r.spartanxx_s);
    const double tb = median(r.baseline_s);
    const CommTotals c = r.comm.empty() ? CommTotals{} : r.comm.back();
    const bool have = !r.baseline_s.empty();
    fmt::print("{:<13} {:>5}  {:<20} {:>11.6f} {:>14}  {:<8} {:>11} {:>14} {:>7}  {:>10} {:>10}  {}\n", r.name,
               ranks, sizes_text(r), t, fmt::format("{:.2f} {}", rate(r.work, t), r.unit), r.baseline,
               have ? fmt::format("{:.6f}", tb) : "-",
               have ? fmt::format("{:.2f} {}", rate(r.work, tb), r.unit) : "-",
               have ? fmt::format("{:.2f}", tb / t) : "-", human_bytes(static_cast<double>(c.bytes_sent)),
               human_bytes(static_cast<double>(c.predicted_bytes)), check_text(r.max_rel_error, have));
  }
  fmt::print(
      "\nmedians of {} repetitions after warm-up; spartanxx time = max over ranks; baseline eigen = rank 0\n"
      "alone, one core; baseline unfused = spartanxx with options().fusion = false, same ranks;\n"
      "ratio = baseline s / spartanxx s (above 1: spartanxx is faster); sent = bytes sent by all ranks in\n"
      "the last repetition (spartanxx::last_evaluation_stats), predicted = the cost model's figure.\n",
      reps);

  bool any = false;
  for (const Result& r : results) any = any || !r.others.empty();
  if (!any) return;
  fmt::print("\n{:<13} {:<8} {:>11} {:>14} {:>7}  {:<16}  {}\n", "benchmark", "baseline", "baseline s",
             "baseline rate", "ratio", "check", "note");
  for (const Result& r : results) {
    const double t = median(r.spartanxx_s);
    for (const OtherBaseline& o : r.others) {
      const double tb = median(o.seconds);
      const bool have = o.status.empty() && !o.seconds.empty();
      fmt::print("{:<13} {:<8} {:>11} {:>14} {:>7}  {:<16}  {}\n", r.name, o.name,
                 have ? fmt::format("{:.6f}", tb) : "-",
                 have ? fmt::format("{:.2f} {}", rate(r.work, tb), r.unit) : "-",
                 have ? fmt::format("{:.2f}", tb / t) : "-", check_text(o.max_rel_error, have),
                 o.status.empty() ? o.note : o.status);
    }
  }
  fmt::print(
      "\nother baselines: medians; numpy = rank 0 alone, one core, on the same values (checked by\n"
      "checksum: sum and 9 elements); pdgemm = all ranks, time = max over ranks; ratio = baseline s /\n"
      "spartanxx s (above 1: spartanxx is faster).\n");
}

// ---- JSON report (nlohmann::json; ordered_json keeps the keys in the order written) ----
using Json = nlohmann::ordered_json;

// Non-finite figures (a median of nothing, a ratio to a baseline that did not run) are null.
Json number_or_null(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

Json numbers_or_null(const std::vector<double>& v) {
  Json a = Json::array();
  for (const double x : v) a.push_back(number_or_null(x));
  return a;
}

Json comm_json(const CommTotals& c) {
  return {{"bytes_sent", c.bytes_sent},
          {"bytes_received", c.bytes_received},
          {"messages_sent", c.messages_sent},
          {"predicted_bytes", c.predicted_bytes},
          {"temp_bytes_max", c.temp_bytes_max}};
}

Json node_json(const spartanxx::NodeStats& n) {
  return {{"op", n.op},
          {"shape", n.shape},
          {"layout", n.layout},
          {"seconds", number_or_null(n.seconds)},
          {"temp_bytes", n.temp_bytes},
          {"bytes_sent", n.comm.bytes_sent},
          {"bytes_received", n.comm.bytes_received},
          {"predicted_bytes", n.predicted_bytes}};
}

Json nodes_json(const std::vector<spartanxx::NodeStats>& nodes) {
  Json a = Json::array();
  for (const auto& n : nodes) a.push_back(node_json(n));
  return a;
}

Json benchmark_json(const Result& r) {
  const double t = median(r.spartanxx_s);
  const double te = median(r.baseline_s);
  Json sizes = Json::object();
  for (const auto& [name, value] : r.sizes) sizes[name] = value;
  Json others = Json::array();
  for (const OtherBaseline& o : r.others) {
    const double to = median(o.seconds);
    others.push_back({{"name", o.name},
                      {"status", o.status.empty() ? "ran" : o.status},
                      {"note", o.note},
                      {"seconds", numbers_or_null(o.seconds)},
                      {"median_seconds", number_or_null(to)},
                      {"rate", number_or_null(o.seconds.empty() ? NAN : rate(r.work, to))},
                      {"ratio_baseline_over_spartanxx", number_or_null(to / t)},
                      {"max_rel_error", number_or_null(o.max_rel_error)}});
  }
  Json comm = Json::array();
  for (const CommTotals& c : r.comm) comm.push_back(comm_json(c));

  Json b;
  b["name"] = r.name;
  b["expression"] = r.expression;
  b["sizes"] = std::move(sizes);
  b["unit"] = r.unit;
  b["work_per_repetition"] = number_or_null(r.work);
  b["spartanxx_seconds"] = numbers_or_null(r.spartanxx_s);
  b["spartanxx_median_seconds"] = number_or_null(t);
  b["spartanxx_rate"] = number_or_null(rate(r.work, t));
  b["baseline"] = r.baseline;
  b["baseline_seconds"] = numbers_or_null(r.baseline_s);
  b["baseline_median_seconds"] = number_or_null(te);
  b["baseline_rate"] = number_or_null(r.baseline_s.empty() ? NAN : rate(r.work, te));
  b["ratio_baseline_over_spartanxx"] = number_or_null(te / t);
  b["max_rel_error"] = number_or_null(r.max_rel_error);
  b["other_baselines"] = std::move(others);
  b["communication"] = std::move(comm);
  if (!r.baseline_nodes.empty()) b["rank0_nodes_last_baseline_repetition"] = nodes_json(r.baseline_nodes);
  b["rank0_nodes_last_repetition"] = nodes_json(r.last_nodes);
  return b;
}

void write_json(const std::string& path, const std::vector<Result>& results, const Config& cfg, int ranks,
                const spartanxx::bench::NumpyResults& np) {
  Json j;
  j["git_revision"] = SPARTANXX_GIT_REVISION;
  j["build_type"] = SPARTANXX_BUILD_TYPE;
  j["compiler"] = SPARTANXX_CXX_COMPILER;
  j["ranks"] = ranks;
  j["numpy"] = {{"requested", np.requested},
                {"status", !np.requested ? "not requested" : np.status.empty() ? "ran" : np.status},
                {"note", np.note},
                {"blas", np.blas}};
#ifdef SPARTANXX_BENCH_SCALAPACK
  j["scalapack_built"] = true;
#else
  j["scalapack_built"] = false;
#endif
  j["repetitions"] = cfg.reps;
  j["warmup_repetitions"] = cfg.warmup;
  j["config"] = {{"elementwise_n", cfg.elementwise_n}, {"compute_n", cfg.compute_n},
                 {"reduce_rows", cfg.reduce_rows},     {"reduce_cols", cfg.reduce_cols},
                 {"gemm_n", cfg.gemm_n},               {"logreg_rows", cfg.logreg_rows},
                 {"logreg_cols", cfg.logreg_cols},     {"eigen", cfg.eigen},
                 {"numpy", cfg.numpy},                 {"scalapack", cfg.scalapack},
                 {"scalapack_nb", cfg.scalapack_nb},   {"slow_reps", cfg.slow_reps}};
  Json benchmarks = Json::array();
  for (const Result& r : results) benchmarks.push_back(benchmark_json(r));
  j["benchmarks"] = std::move(benchmarks);

  std::ofstream f(path);
  // Text from outside (a compiler name, NumPy's note) is written as given; bytes that are
  // not UTF-8 become U+FFFD instead of aborting the report.
  f << j.dump(2, ' ', false, Json::error_handler_t::replace) << '\n';
  f.close();
  if (!f) throw spartanxx::io_error(fmt::format("spartanxx-bench: cannot write {}", path));
}

}  // namespace

int main(int argc, char** argv) {
  spartanxx::Runtime rt(argc, argv);
  const bool root = rt.rank() == 0;

  Config cfg;
  bool quick = false;
  bool no_eigen = false;
  bool no_scalapack = false;
  const std::vector<std::string> all_areas = {"elementwise", "compute", "fusion", "reductions", "gemm", "logreg", "sparse", "ml"};
  std::string json_path;
  std::vector<std::string> only;

  CLI::App app{"spartanxx-bench: spartanxx against single-node Eigen on the same data (run under mpirun)"};
  app.add_flag("--quick", quick,
               "small sizes for a smoke run: n=2^20, 1024x1024, gemm 256, logreg 50000x64 (explicit sizes win)");
  app.add_option("--reps", cfg.reps, "timed repetitions per benchmark")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", cfg.warmup, "untimed repetitions before the timed ones")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  auto* opt_n = app.add_option("--elementwise-n", cfg.elementwise_n, "elements of x, y, z for a*x + b*y - z")
                    ->check(CLI::PositiveNumber)
                    ->capture_default_str();
  auto* opt_compute_n =
      app.add_option("--compute-n", cfg.compute_n, "elements of x, y for the transcendental expressions")
          ->check(CLI::PositiveNumber)
          ->capture_default_str();
  auto* opt_rows =
      app.add_option("--reduce-rows", cfg.reduce_rows, "rows of the matrix summed along each axis")
          ->check(CLI::PositiveNumber)
          ->capture_default_str();
  auto* opt_cols =
      app.add_option("--reduce-cols", cfg.reduce_cols, "columns of the matrix summed along each axis")
          ->check(CLI::PositiveNumber)
          ->capture_default_str();
  auto* opt_gemm =
      app.add_option("--gemm-n", cfg.gemm_n, "n of the n x n GEMM (e.g. 4096 for the large case)")
          ->check(CLI::PositiveNumber)
          ->capture_default_str();
  auto* opt_logreg_rows =
      app.add_option("--logreg-rows", cfg.logreg_rows, "rows n of X in the logistic-regression gradient")
          ->check(CLI::PositiveNumber)
          ->capture_default_str();
  app.add_option("--logreg-cols", cfg.logreg_cols, "columns d of X in the logistic-regression gradient")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  auto* opt_sparse_rows =
      app.add_option("--sparse-rows", cfg.sparse_rows, "n of the n x n random sparse matrix (SpMV, sparse^T dense)")
          ->check(CLI::PositiveNumber)
          ->capture_default_str();
  app.add_option("--sparse-per-row", cfg.sparse_per_row, "stored entries per row of the random sparse matrix")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--metis-dir", cfg.metis_dir, "where the METIS example graphs are (the largest is used)")
      ->capture_default_str();
  app.add_option("--ml-corpus", cfg.ml_corpus, "ml: the labeled corpus (default: <source dir>/data/spamassassin.tsv.gz)");
  app.add_option("--ml-features", cfg.ml_features, "ml: hashed features")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--ml-iterations", cfg.ml_iterations, "ml: SGD iterations per timed repetition")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--only", only, "run only these areas")
      ->check(CLI::IsMember(all_areas))
      ->delimiter(',');
  app.add_flag("--no-eigen", no_eigen, "skip the Eigen baseline");
  app.add_flag("--numpy", cfg.numpy,
               "also time NumPy (scripts/bench_numpy.py on rank 0, before the spartanxx runs); a missing "
               "python3 or NumPy is reported, not an error");
  app.add_option("--python", cfg.python, "the interpreter for --numpy (default: python3, then /usr/bin/python3)");
  app.add_option("--numpy-script", cfg.numpy_script, "the NumPy script (default: <source dir>/scripts/bench_numpy.py)");
  app.add_flag("--no-scalapack", no_scalapack, "skip ScaLAPACK's pdgemm baseline of the GEMM");
  app.add_option("--scalapack-nb", cfg.scalapack_nb, "block size of pdgemm's block-cyclic distribution")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--slow-reps", cfg.slow_reps,
                 "repetitions of the reference-BLAS baselines, pdgemm and NumPy's matmul (no warm-up; "
                 "0 skips them)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--json", json_path, "also write the report as JSON to this file (rank 0)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Every rank parses the same arguments, so every rank ends here; rank 0 speaks.
    if (root) return app.exit(e);
    return e.get_exit_code();
  }

  if (quick) {
    if (opt_n->count() == 0) cfg.elementwise_n = std::int64_t{1} << 20;
    if (opt_rows->count() == 0) cfg.reduce_rows = 1024;
    if (opt_cols->count() == 0) cfg.reduce_cols = 1024;
    if (opt_gemm->count() == 0) cfg.gemm_n = 256;
    if (opt_compute_n->count() == 0) cfg.compute_n = std::int64_t{1} << 20;
    if (opt_logreg_rows->count() == 0) cfg.logreg_rows = 50000;
    if (opt_sparse_rows->count() == 0) cfg.sparse_rows = 50000;
  }
  cfg.eigen = !no_eigen;
  cfg.scalapack = !no_scalapack && cfg.slow_reps > 0;
  const std::set<std::string> areas = only.empty() ? std::set<std::string>(all_areas.begin(), all_areas.end())
                                                   : std::set<std::string>(only.begin(), only.end());

  try {
    if (root) {
      fmt::print("spartanxx-bench  revision {}  ({}, {})  ranks {}  repetitions {} (+{} warm-up)\n",
                 SPARTANXX_GIT_REVISION, SPARTANXX_BUILD_TYPE, SPARTANXX_CXX_COMPILER, rt.size(), cfg.reps,
                 cfg.warmup);
      std::fflush(stdout);
    }
    std::vector<Result> results;
    const auto add = [&](std::vector<Result> rs) {
      for (Result& r : rs) {
        if (root) {
          fmt::print("  {:<13} {:<20} spartanxx median {:.6f} s\n", r.name, sizes_text(r),
                     median(r.spartanxx_s));
          std::fflush(stdout);
        }
        results.push_back(std::move(r));
      }
    };
    // NumPy first, alone: rank 0 runs the script while the other ranks wait.
    std::vector<std::string> numpy_areas;
    for (const char* a : {"elementwise", "compute", "reductions", "gemm"})
      if (areas.count(a)) numpy_areas.emplace_back(a);
    const spartanxx::bench::NumpyResults np = spartanxx::bench::run_numpy_script(rt, cfg, numpy_areas);
    if (root && np.requested) {
      fmt::print("  numpy: {}\n", np.status.empty() ? np.note + "; BLAS " + np.blas : np.status);
      std::fflush(stdout);
    }
    if (areas.count("elementwise")) add(spartanxx::bench::run_elementwise(rt, cfg, np));
    if (areas.count("compute")) add(spartanxx::bench::run_compute(rt, cfg, np));
    if (areas.count("fusion")) add(spartanxx::bench::run_fusion(rt, cfg));
    if (areas.count("reductions")) add(spartanxx::bench::run_reductions(rt, cfg, np));
    if (areas.count("gemm")) add(spartanxx::bench::run_gemm(rt, cfg, np));
    if (areas.count("logreg")) add(spartanxx::bench::run_logreg(rt, cfg));
    if (areas.count("sparse")) add(spartanxx::bench::run_sparse(rt, cfg));
    if (areas.count("ml")) {
      if (cfg.ml_corpus.empty()) cfg.ml_corpus = std::string(SPARTANXX_BENCH_SOURCE_DIR) + "/data/spamassassin.tsv.gz";
      add(spartanxx::bench::run_ml(rt, cfg));
    }

    if (root) {
      print_table(results, rt.size(), cfg.reps);
      if (!json_path.empty()) {
        write_json(json_path, results, cfg, rt.size(), np);
        fmt::print("wrote {}\n", json_path);
      }
    }
  } catch (const std::exception& e) {
    // spartanxx agrees on errors across ranks, so every rank normally lands here with
    // the same message; each says which rank it is.
    fmt::print(stderr, "[rank {}] spartanxx-bench: {}\n", rt.rank(), e.what());
    return 1;
  }
  return 0;
}
