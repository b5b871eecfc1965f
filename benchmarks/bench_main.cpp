// spartanxx-bench: times spartanxx against single-node Eigen on the same data, in the
// same run, and prints a table (and, with --json, a machine-readable report).
//
//     mpirun -np 2 build/bin/spartanxx-bench --quick
//     mpirun -np 4 build/bin/spartanxx-bench --gemm-n 4096 --json bench.json
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "bench_harness.hpp"

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

void print_table(const std::vector<Result>& results, int ranks, int reps) {
  fmt::print("\n{:<12} {:>5}  {:<22} {:>12} {:>12} {:>12} {:>12} {:>9}  {:>11} {:>11}  {}\n", "benchmark",
             "ranks", "sizes", "spartanxx s", "rate", "eigen s", "eigen rate", "ratio", "sent", "predicted",
             "check");
  for (const Result& r : results) {
    const double t = median(r.spartanxx_s);
    const double te = median(r.eigen_s);
    const CommTotals c = r.comm.empty() ? CommTotals{} : r.comm.back();
    const bool have_eigen = !r.eigen_s.empty();
    std::string check = "-";
    if (have_eigen) check = r.max_rel_error <= 1e-10 ? "ok" : fmt::format("MISMATCH {:.1e}", r.max_rel_error);
    fmt::print("{:<12} {:>5}  {:<22} {:>12.6f} {:>12} {:>12} {:>12} {:>9}  {:>11} {:>11}  {}\n", r.name,
               ranks, sizes_text(r), t, fmt::format("{:.2f} {}", rate(r.work, t), r.unit),
               have_eigen ? fmt::format("{:.6f}", te) : "-",
               have_eigen ? fmt::format("{:.2f} {}", rate(r.work, te), r.unit) : "-",
               have_eigen ? fmt::format("{:.2f}", te / t) : "-",
               human_bytes(static_cast<double>(c.bytes_sent)),
               human_bytes(static_cast<double>(c.predicted_bytes)), check);
  }
  fmt::print(
      "\nmedians of {} repetitions after warm-up; spartanxx time = max over ranks; eigen = rank 0 alone,\n"
      "one core; ratio = eigen s / spartanxx s (above 1: spartanxx is faster); sent = bytes sent by all\n"
      "ranks in the last repetition (spartanxx::last_evaluation_stats), predicted = the cost model's "
      "figure.\n",
      reps);
}

// ---- JSON, written by hand: the report is small and flat ----
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) out += fmt::format("\\u{:04x}", static_cast<int>(ch));
        else out += ch;
    }
  }
  return out + "\"";
}

std::string json_number(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }

std::string json_numbers(const std::vector<double>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + json_number(v[i]);
  return s + "]";
}

std::string json_comm(const CommTotals& c) {
  return fmt::format(
      "{{\"bytes_sent\": {}, \"bytes_received\": {}, \"messages_sent\": {}, \"predicted_bytes\": {}, "
      "\"temp_bytes_max\": {}}}",
      c.bytes_sent, c.bytes_received, c.messages_sent, c.predicted_bytes, c.temp_bytes_max);
}

std::string json_node(const spartanxx::NodeStats& n) {
  return fmt::format(
      "{{\"op\": {}, \"shape\": {}, \"layout\": {}, \"seconds\": {}, \"temp_bytes\": {}, \"bytes_sent\": {}, "
      "\"bytes_received\": {}, \"predicted_bytes\": {}}}",
      json_string(n.op), json_string(n.shape), json_string(n.layout), json_number(n.seconds), n.temp_bytes,
      n.comm.bytes_sent, n.comm.bytes_received, n.predicted_bytes);
}

void write_json(const std::string& path, const std::vector<Result>& results, const Config& cfg, int ranks) {
  std::string s = "{\n";
  s += fmt::format("  \"git_revision\": {},\n", json_string(SPARTANXX_GIT_REVISION));
  s += fmt::format("  \"build_type\": {},\n", json_string(SPARTANXX_BUILD_TYPE));
  s += fmt::format("  \"compiler\": {},\n", json_string(SPARTANXX_CXX_COMPILER));
  s += fmt::format("  \"ranks\": {},\n", ranks);
  s += fmt::format("  \"repetitions\": {},\n", cfg.reps);
  s += fmt::format("  \"warmup_repetitions\": {},\n", cfg.warmup);
  s += fmt::format(
      "  \"config\": {{\"elementwise_n\": {}, \"reduce_rows\": {}, \"reduce_cols\": {}, \"gemm_n\": {}, "
      "\"eigen\": {}}},\n",
      cfg.elementwise_n, cfg.reduce_rows, cfg.reduce_cols, cfg.gemm_n, cfg.eigen ? "true" : "false");
  s += "  \"benchmarks\": [\n";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    const double t = median(r.spartanxx_s);
    const double te = median(r.eigen_s);
    std::string sizes;
    for (const auto& [name, value] : r.sizes)
      sizes += fmt::format("{}{}: {}", sizes.empty() ? "" : ", ", json_string(name), value);
    std::string comm;
    for (std::size_t k = 0; k < r.comm.size(); ++k) comm += (k ? ", " : "") + json_comm(r.comm[k]);
    s += "    {\n";
    s += fmt::format("      \"name\": {},\n", json_string(r.name));
    s += fmt::format("      \"expression\": {},\n", json_string(r.expression));
    s += fmt::format("      \"sizes\": {{{}}},\n", sizes);
    s += fmt::format("      \"unit\": {},\n", json_string(r.unit));
    s += fmt::format("      \"work_per_repetition\": {},\n", json_number(r.work));
    s += fmt::format("      \"spartanxx_seconds\": {},\n", json_numbers(r.spartanxx_s));
    s += fmt::format("      \"spartanxx_median_seconds\": {},\n", json_number(t));
    s += fmt::format("      \"spartanxx_rate\": {},\n", json_number(rate(r.work, t)));
    s += fmt::format("      \"eigen_seconds\": {},\n", json_numbers(r.eigen_s));
    s += fmt::format("      \"eigen_median_seconds\": {},\n", json_number(te));
    s += fmt::format("      \"eigen_rate\": {},\n", json_number(r.eigen_s.empty() ? NAN : rate(r.work, te)));
    s += fmt::format("      \"ratio_eigen_over_spartanxx\": {},\n", json_number(te / t));
    s += fmt::format("      \"max_rel_error\": {},\n", json_number(r.max_rel_error));
    std::string nodes;
    for (std::size_t k = 0; k < r.last_nodes.size(); ++k)
      nodes += (k ? ",\n        " : "") + json_node(r.last_nodes[k]);
    s += fmt::format("      \"communication\": [{}],\n", comm);
    s += fmt::format("      \"rank0_nodes_last_repetition\": [\n        {}\n      ]\n", nodes);
    s += i + 1 < results.size() ? "    },\n" : "    }\n";
  }
  s += "  ]\n}\n";
  std::ofstream f(path);
  f << s;
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
  std::string json_path;
  std::vector<std::string> only;

  CLI::App app{"spartanxx-bench: spartanxx against single-node Eigen on the same data (run under mpirun)"};
  app.add_flag("--quick", quick,
               "small sizes for a smoke run: n=2^20, 1024x1024, gemm 256 (explicit sizes win)");
  app.add_option("--reps", cfg.reps, "timed repetitions per benchmark")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", cfg.warmup, "untimed repetitions before the timed ones")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  auto* opt_n = app.add_option("--elementwise-n", cfg.elementwise_n, "elements of x, y, z for a*x + b*y - z")
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
  app.add_option("--only", only, "run only these areas")
      ->check(CLI::IsMember({"elementwise", "reductions", "gemm"}))
      ->delimiter(',');
  app.add_flag("--no-eigen", no_eigen, "skip the Eigen baseline");
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
  }
  cfg.eigen = !no_eigen;
  const std::set<std::string> areas = only.empty()
                                          ? std::set<std::string>{"elementwise", "reductions", "gemm"}
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
          fmt::print("  {:<12} {:<22} spartanxx median {:.6f} s\n", r.name, sizes_text(r),
                     median(r.spartanxx_s));
          std::fflush(stdout);
        }
        results.push_back(std::move(r));
      }
    };
    if (areas.count("elementwise")) add(spartanxx::bench::run_elementwise(rt, cfg));
    if (areas.count("reductions")) add(spartanxx::bench::run_reductions(rt, cfg));
    if (areas.count("gemm")) add(spartanxx::bench::run_gemm(rt, cfg));

    if (root) {
      print_table(results, rt.size(), cfg.reps);
      if (!json_path.empty()) {
        write_json(json_path, results, cfg, rt.size());
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
