#pragma once
// Small helpers shared by the MPI tests.
#include <gtest/gtest.h>
#include <mpi.h>

#include <Eigen/Core>
#include <cstdint>
#include <exception>
#include <functional>
#include <random>
#include <string>
#include <typeinfo>
#include <vector>

#include "spartanxx/spartanxx.hpp"

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

/// The runtime still evaluates after an error.
inline void expect_alive() {
  EXPECT_EQ(spartanxx::sum(spartanxx::ones({5})).item(), 5.0) << "the runtime is unusable after the error";
}

/// Every fragment must occur in `msg`; a fragment "a|b" is satisfied by either.
inline void expect_fragments(const std::string& msg, const std::vector<std::string>& fragments) {
  for (const std::string& alternatives : fragments) {
    bool found = false;
    std::size_t pos = 0;
    while (!found) {
      const std::size_t bar = alternatives.find('|', pos);
      const std::string one = alternatives.substr(pos, bar == std::string::npos ? std::string::npos : bar - pos);
      found = msg.find(one) != std::string::npos;
      if (bar == std::string::npos) break;
      pos = bar + 1;
    }
    EXPECT_TRUE(found) << "the message \"" << msg << "\" lacks \"" << alternatives << "\"";
  }
}

/// Runs `f`, which must throw E on this rank with every fragment in its message; then
/// checks that all ranks threw alike, and that the runtime still works.
template <class E>
void expect_error(const std::function<void()>& f, const std::vector<std::string>& fragments) {
  int thrown = 0;
  try {
    f();
  } catch (const E& e) {
    thrown = 1;
    expect_fragments(e.what(), fragments);
  } catch (const std::exception& e) {
    thrown = 2;
    ADD_FAILURE() << "threw " << typeid(e).name() << " instead of " << typeid(E).name() << ": " << e.what();
  }
  if (thrown == 0) ADD_FAILURE() << "nothing thrown; expected " << typeid(E).name();
  int lo = 0, hi = 0;
  MPI_Allreduce(&thrown, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&thrown, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(lo, hi) << "ranks disagree about the error";
  expect_alive();
}

}  // namespace spartanxx_test
