// The NumPy baseline: rank 0 runs scripts/bench_numpy.py (popen) with this run's sizes
// and repetitions, reads the JSON it prints, and broadcasts the text; every rank parses
// it. A missing interpreter, NumPy or script is not an error: the status says why.
//
// The script runs before any spartanxx benchmark, alone on rank 0 (NumPy uses one core),
// while the other ranks wait in the broadcast.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>

#include "bench_harness.hpp"

#ifndef SPARTANXX_BENCH_SOURCE_DIR
#define SPARTANXX_BENCH_SOURCE_DIR "."
#endif

namespace spartanxx::bench {

namespace {

using Json = nlohmann::json;

/// The numbers of a JSON array (NaN for anything else).
std::vector<double> numbers(const Json& v) {
  std::vector<double> out;
  if (v.is_array())
    for (const Json& x : v) out.push_back(x.is_number() ? x.get<double>() : NAN);
  return out;
}

/// A string member, or "".
std::string text(const Json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// Runs `command`, returning its stdout and exit status (-1: could not start it).
std::pair<std::string, int> capture(const std::string& command) {
  std::fflush(stdout);
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return {"", -1};
  std::string out;
  char buf[4096];
  std::size_t got = 0;
  while ((got = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, got);
  const int status = pclose(pipe);
  return {out, status == -1 ? -1 : (WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status))};
}

/// Rank 0's side: the script's report as text, or a status line starting with '!'.
std::string run_script_rank0(const Config& cfg, const std::vector<std::string>& areas) {
  const std::string script =
      cfg.numpy_script.empty() ? std::string(SPARTANXX_BENCH_SOURCE_DIR) + "/scripts/bench_numpy.py"
                               : cfg.numpy_script;
  if (std::FILE* f = std::fopen(script.c_str(), "r")) {
    std::fclose(f);
  } else {
    return "!not run: cannot read " + script;
  }
  std::string only;
  for (const std::string& a : areas) only += (only.empty() ? "" : ",") + a;
  const std::string args = fmt::format(
      " {} --elementwise-n {} --compute-n {} --reduce-rows {} --reduce-cols {} --gemm-n {} --reps {} "
      "--warmup {} --gemm-reps {} --only {}",
      shell_quote(script), cfg.elementwise_n, cfg.compute_n, cfg.reduce_rows, cfg.reduce_cols, cfg.gemm_n,
      cfg.reps, cfg.warmup, cfg.slow_reps, shell_quote(only));
  // python3 on PATH first; then Debian's own interpreter, where python3-numpy installs
  // (a python3 from pyenv or a virtual environment may lack NumPy).
  const std::vector<std::string> interpreters =
      cfg.python.empty() ? std::vector<std::string>{"python3", "/usr/bin/python3"}
                         : std::vector<std::string>{cfg.python};
  std::string why = "!not run";
  for (const std::string& py : interpreters) {
    const auto [out, rc] = capture(shell_quote(py) + args);
    if (rc == 0 && !out.empty()) return out;
    // The script says in JSON why it failed (no NumPy); otherwise report the exit status.
    std::string reason = fmt::format("{} exited with status {}", py, rc);
    const Json j = Json::parse(out, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && !text(j, "error").empty()) reason = text(j, "error");
    why += (why == "!not run" ? ": " : "; ") + reason;
  }
  return why;
}

}  // namespace

NumpyResults run_numpy_script(const Runtime& rt, const Config& cfg, const std::vector<std::string>& areas) {
  NumpyResults np;
  np.requested = cfg.numpy;
  if (!cfg.numpy) return np;
  std::string report = rt.rank() == 0 ? run_script_rank0(cfg, areas) : std::string();
  long long length = static_cast<long long>(report.size());
  MPI_Bcast(&length, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  report.resize(static_cast<std::size_t>(length));
  MPI_Bcast(report.data(), static_cast<int>(length), MPI_CHAR, 0, MPI_COMM_WORLD);
  if (!report.empty() && report[0] == '!') {
    np.status = report.substr(1);
    return np;
  }
  try {
    const Json j = Json::parse(report);
    if (text(j, "status") != "ok") {
      const std::string err = text(j, "error");
      np.status = "not run: " + (err.empty() ? std::string("the script failed") : err);
      return np;
    }
    if (const auto b = j.find("blas"); b != j.end() && b->is_array())
      for (const Json& x : *b) {
        const std::string lib = x.is_string() ? x.get<std::string>() : std::string();
        np.blas += (np.blas.empty() ? "" : ", ") + lib;
        // Debian's libblas3 (netlib's reference implementation) lives in .../blas/libblas.so.3*.
        if (lib.find("/blas/libblas.so") != std::string::npos) np.blas += " (reference BLAS)";
      }
    if (np.blas.empty()) np.blas = "unknown";
    np.note = fmt::format("numpy {} (python {}, {}), one core", text(j, "numpy"),
                          text(j, "python"), text(j, "executable"));
    if (const auto list = j.find("benchmarks"); list != j.end() && list->is_array()) {
      for (const Json& b : *list) {
        NumpyEntry e;
        e.seconds = numbers(b.value("seconds", Json::array()));
        if (const auto c = b.find("checksum"); c != b.end() && c->is_object()) {
          e.checksum.sum = c->value("sum", std::numeric_limits<double>::quiet_NaN());
          e.checksum.sum_abs = c->value("sum_abs", std::numeric_limits<double>::quiet_NaN());
          for (double i : numbers(c->value("indices", Json::array()))) e.checksum.indices.push_back(static_cast<std::int64_t>(i));
          e.checksum.samples = numbers(c->value("samples", Json::array()));
        }
        np.entries[text(b, "name")] = std::move(e);
      }
    }
  } catch (const std::exception& e) {
    np.status = fmt::format("not run: cannot read the script's report ({})", e.what());
  }
  return np;
}

}  // namespace spartanxx::bench
