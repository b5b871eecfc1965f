#pragma once
// Helpers of the sparse-matrix tests: the Eigen reference built from triplets, the
// spartanxx matrix of the same triplets (each rank passing a share), and a comparison.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "mpi/test_support.hpp"
#include "spartanxx/spartanxx.hpp"

namespace spartanxx_test {

using Sp = Eigen::SparseMatrix<double, Eigen::RowMajor, std::int64_t>;
using Trip = Eigen::Triplet<double, std::int64_t>;

/// The Eigen matrix of the triplets (duplicates summed).
inline Sp eigen_of(std::int64_t n, std::int64_t m, const std::vector<Trip>& t) {
  Sp s(n, m);
  s.setFromTriplets(t.begin(), t.end());
  s.makeCompressed();
  return s;
}

/// The spartanxx matrix of the triplets, rank r passing triplets r, r + P, ...
inline spartanxx::Array from_shares(std::int64_t n, std::int64_t m, const std::vector<Trip>& t,
                                    spartanxx::DType dtype = spartanxx::DType::f64) {
  std::vector<std::int64_t> rows, cols;
  std::vector<double> vals;
  for (std::size_t k = static_cast<std::size_t>(world_rank()); k < t.size(); k += static_cast<std::size_t>(world_size()))
    rows.push_back(t[k].row()), cols.push_back(t[k].col()), vals.push_back(t[k].value());
  return spartanxx::sparse_from_triplets({n, m}, rows, cols, vals, dtype);
}

/// Random triplets, the same on every rank: about `density` of the elements, some rows
/// empty (every 7th), row 1 full, duplicates (every 5th triplet is repeated), shuffled.
inline std::vector<Trip> random_triplets(std::int64_t n, std::int64_t m, double density, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(0, 1), v(-2, 2);
  std::vector<Trip> t;
  for (std::int64_t i = 0; i < n; ++i) {
    if (i % 7 == 3) continue;
    for (std::int64_t j = 0; j < m; ++j)
      if (i == 1 || u(gen) < density) {
        t.emplace_back(i, j, v(gen));
        if (t.size() % 5 == 0) t.emplace_back(i, j, v(gen));
      }
  }
  std::shuffle(t.begin(), t.end(), gen);
  return t;
}

/// Elementwise within tol (relative, absolute below 1); NaN must meet NaN.
inline void expect_mat_near(const Eigen::MatrixXd& got, const Eigen::MatrixXd& want, double tol = 1e-12) {
  ASSERT_EQ(got.rows(), want.rows());
  ASSERT_EQ(got.cols(), want.cols());
  for (Eigen::Index i = 0; i < want.rows(); ++i)
    for (Eigen::Index j = 0; j < want.cols(); ++j) {
      const double w = want(i, j), g = got(i, j);
      if (std::isnan(w)) {
        EXPECT_TRUE(std::isnan(g)) << "at (" << i << ", " << j << ")";
        continue;
      }
      EXPECT_NEAR(g, w, tol * std::max(1.0, std::abs(w))) << "at (" << i << ", " << j << ")";
    }
}

}  // namespace spartanxx_test
