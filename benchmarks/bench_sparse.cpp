// Sparse products against Eigen::SparseMatrix (row-major, 64-bit indices, the layout
// spartanxx stores) on one core:
// - SpMV y = A x on random::sparse_uniform(n x n, ~k entries per row), and on the
//   largest METIS example graph's adjacency matrix (Debian libmetis-doc);
// - the gradient product g = Aᵀ r (sparseᵀ·dense), without forming Aᵀ.
// A is created once; x and r are float64 vectors split by rows, as in an iterative
// solver (each repetition moves the parts of x a rank lacks, or the partial sums of g).
// Bytes model: the matrix read once (16 bytes per stored entry and 8 per row pointer)
// plus the two vectors, 8 bytes per element each.
#include <Eigen/SparseCore>

#include <fmt/format.h>

#include <filesystem>

#include "bench_harness.hpp"
#include "mpi/metis_graph.hpp"

namespace spartanxx::bench {

namespace {

using SpMat = Eigen::SparseMatrix<double, Eigen::RowMajor, std::int64_t>;

/// The largest graph file in the METIS examples directory, or "" when there is none.
std::string largest_metis_graph(const std::string& dir) {
  std::string best;
  std::uintmax_t size = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".graph" && e.file_size() > size) size = e.file_size(), best = e.path().string();
  return best;
}

/// SpMV and Aᵀ r on `A` (collective), rows named after `what`.
std::vector<Result> time_products(const Runtime& rt, const Config& cfg, const Array& A, const std::string& what) {
  const std::int64_t n = A.shape()[0], m = A.shape()[1];
  const std::int64_t nz = nnz(A);
  const Array x = random::uniform({m}, 21, -1, 1);
  const Array r = random::uniform({n}, 22, -1, 1);
  x.evaluate();
  r.evaluate();
  const double matrix_bytes = 16.0 * static_cast<double>(nz) + 8.0 * static_cast<double>(n + 1);

  Result spmv;
  spmv.name = "spmv " + what;
  spmv.expression = "dot(A, x)";
  spmv.sizes = {{"n", n}, {"m", m}, {"nnz", nz}};
  spmv.unit = "GB/s";
  spmv.work = matrix_bytes + 8.0 * static_cast<double>(n + m);
  Array y;
  time_spartanxx(rt, cfg, spmv, &y, [&] { return dot(A, x); });

  Result grad;
  grad.name = "sparse^T dense " + what;
  grad.expression = "dot(A.T(), r)";
  grad.sizes = spmv.sizes;
  grad.unit = "GB/s";
  grad.work = matrix_bytes + 8.0 * static_cast<double>(n + m);
  Array g;
  time_spartanxx(rt, cfg, grad, &g, [&] { return dot(A.T(), r); });

  if (cfg.eigen) {
    const Eigen::VectorXd got_y = to_eigen(y), got_g = to_eigen(g);  // collective
    SpMat eA;
    {
      SpMat whole = to_eigen_sparse(A);  // collective
      if (rt.rank() == 0) eA = std::move(whole);
    }
    const Eigen::VectorXd ex = to_eigen(x), er = to_eigen(r);
    Eigen::VectorXd ey(rt.rank() == 0 ? n : 0), eg(rt.rank() == 0 ? m : 0);
    time_eigen_rank0(rt, cfg, spmv, [&] { ey.noalias() = eA * ex; });
    time_eigen_rank0(rt, cfg, grad, [&] { eg.noalias() = eA.transpose() * er; });
    if (rt.rank() == 0) {
      spmv.max_rel_error = max_rel_error(got_y, ey);
      grad.max_rel_error = max_rel_error(got_g, eg);
    }
  }
  return {spmv, grad};
}

}  // namespace

std::vector<Result> run_sparse(const Runtime& rt, const Config& cfg) {
  std::vector<Result> out;
  {
    const std::int64_t n = cfg.sparse_rows;
    const double density = static_cast<double>(cfg.sparse_per_row) / static_cast<double>(n);
    const Array A = random::sparse_uniform({n, n}, std::min(1.0, density), 20, -1, 1);
    for (Result& r : time_products(rt, cfg, A, fmt::format("random {}/row", cfg.sparse_per_row))) out.push_back(std::move(r));
  }
  const std::string path = largest_metis_graph(cfg.metis_dir);
  if (path.empty()) {
    if (rt.rank() == 0) fmt::print("sparse: no METIS graphs under {} (apt-get install libmetis-doc); skipped\n", cfg.metis_dir);
    return out;
  }
  // Every rank reads the graph (a test-support reader, independent of spartanxx); each
  // passes its share of the triplets.
  const spartanxx_test::MetisGraph graph = spartanxx_test::read_metis_graph(path);
  std::vector<std::int64_t> rows, cols;
  std::vector<double> vals;
  for (std::size_t k = static_cast<std::size_t>(rt.rank()); k < graph.triplets.size(); k += static_cast<std::size_t>(rt.size())) {
    rows.push_back(graph.triplets[k].row());
    cols.push_back(graph.triplets[k].col());
    vals.push_back(graph.triplets[k].value());
  }
  const Array A = sparse_from_triplets({graph.n, graph.n}, rows, cols, vals);
  const std::string name = std::filesystem::path(path).stem().string();
  for (Result& r : time_products(rt, cfg, A, "metis " + name)) out.push_back(std::move(r));
  return out;
}

}  // namespace spartanxx::bench
