#pragma once
// Small helpers shared by the MPI tests.
#include <mpi.h>

#include <Eigen/Core>
#include <cstdint>
#include <random>
#include <string>

#include "spartanxx/array.hpp"

namespace spartanxx_test {

inline int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

inline int world_size() {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

/// "(7, 5)", "(13,)", "()" as NumPy prints shapes.
inline std::string shape_str(const spartanxx::Shape& s) {
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

/// Deterministic test data, the same on every rank: uniform in [lo, hi), row by row.
inline Eigen::MatrixXd test_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed, double lo = -3,
                                   double hi = 3) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  Eigen::MatrixXd m(rows, cols);
  for (Eigen::Index i = 0; i < rows; ++i)
    for (Eigen::Index j = 0; j < cols; ++j) m(i, j) = dist(gen);
  return m;
}

}  // namespace spartanxx_test
