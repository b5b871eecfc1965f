// How sparse products exchange vectors between ranks: sparseᵀ·vector sending partial
// sums while it computes (through node-shared memory, or messages when that is off),
// its per-tile column split (built on a tile's second use, dropped with its values), and
// SpMV reading the vector from node-shared memory. Every result is checked against Eigen
// on the same triplets, and the counted bytes against the plan's prediction.
#include <gtest/gtest.h>
#include <mpi.h>

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "expr/context.hpp"
#include "mpi/sparse_support.hpp"
#include "mpi/test_support.hpp"
#include "mpi_backend/communicator.hpp"
#include "spartanxx/spartanxx.hpp"

namespace sx = spartanxx;
using spartanxx_test::test_matrix;
using spartanxx_test::world_size;

namespace {

using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;
using spartanxx_test::eigen_of;
using spartanxx_test::expect_mat_near;
using spartanxx_test::from_shares;
using spartanxx_test::random_triplets;
using spartanxx_test::Sp;
using spartanxx_test::Trip;

/// Bytes sent by all ranks in the last evaluation, and the plan's prediction.
std::pair<std::int64_t, std::int64_t> sent_and_predicted() {
  const auto st = sx::last_evaluation_stats();
  std::int64_t sent = st.comm.bytes_sent;
  MPI_Allreduce(MPI_IN_PLACE, &sent, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  return {sent, st.predicted_bytes};
}

/// Repeated Aᵀr and A x on one matrix (the column split is built on the second use), on
/// a map of it (new values, same pattern: the split of the old values must not serve),
/// and on a float32 copy, checked against Eigen; bytes as predicted.
void check_products(std::int64_t n, std::int64_t m) {
  const auto t = random_triplets(n, m, 0.09, static_cast<std::uint64_t>(n * 1000 + m));
  const Sp e = eigen_of(n, m, t);
  const sx::Array a = from_shares(n, m, t);
  const int P = world_size();
  for (int rep = 0; rep < 4; ++rep) {
    const Vec r = test_matrix(n, 1, 10 + rep).col(0), x = test_matrix(m, 1, 20 + rep).col(0);
    const sx::Array g = sx::dot(a.T(), sx::from_eigen(r));
    g.evaluate();
    if (P >= 2 && P <= 16) {
      // The plan says how the partial sums travel and that the column groups are read.
      const std::string text = sx::explain(g);
      EXPECT_NE(text.find("sent while"), std::string::npos) << text;
      const bool shared = sx::detail::context_comm().shares_node();
      EXPECT_NE(text.find(shared ? "node-shared memory" : "posted as messages"), std::string::npos) << text;
      EXPECT_NE(text.find("column groups"), std::string::npos) << text;
    }
    const auto [gs, gp] = sent_and_predicted();
    EXPECT_EQ(gs, gp) << "Aᵀr, repetition " << rep;
    expect_mat_near(sx::to_eigen(g), Mat(e.transpose() * r));
    const sx::Array y = sx::dot(a, sx::from_eigen(x));
    y.evaluate();
    if (P >= 2 && sx::detail::context_comm().shares_node())
      EXPECT_NE(sx::explain(y).find("node-shared memory"), std::string::npos) << sx::explain(y);
    const auto [ys, yp] = sent_and_predicted();
    EXPECT_EQ(ys, yp) << "Ax, repetition " << rep;
    expect_mat_near(sx::to_eigen(y), Mat(e * x));
  }
  const sx::Array b = a * 3.0;
  b.evaluate();
  const Vec r = test_matrix(n, 1, 30).col(0);
  for (int rep = 0; rep < 3; ++rep) expect_mat_near(sx::to_eigen(sx::dot(b.T(), sx::from_eigen(r))), Mat(3.0 * (e.transpose() * r)));
  const sx::Array f = from_shares(n, m, t, sx::DType::f32);
  Sp ef = e;
  for (Eigen::Index k = 0; k < ef.nonZeros(); ++k) ef.valuePtr()[k] = static_cast<double>(static_cast<float>(ef.valuePtr()[k]));
  for (int rep = 0; rep < 3; ++rep)
    expect_mat_near(sx::to_eigen(sx::dot(f.T(), sx::from_eigen(r))), Mat(ef.transpose() * r), 1e-6);
}

// Shapes: uneven tiles, fewer columns than ranks (ranks owning no result rows), fewer
// rows than ranks (ranks holding no part of the matrix).
TEST(SparseExchange, NodeSharedMemory) {
  for (auto [n, m] : {std::pair<std::int64_t, std::int64_t>{157, 113}, {29, 3}, {2, 41}}) check_products(n, m);
}

TEST(SparseExchange, Messages) {
  auto& comm = sx::detail::context_comm();
  comm.set_node_sharing(false);
  for (auto [n, m] : {std::pair<std::int64_t, std::int64_t>{157, 113}, {29, 3}, {2, 41}}) check_products(n, m);
  comm.set_node_sharing(true);
}

}  // namespace
