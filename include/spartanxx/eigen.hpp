#pragma once
// Conversion between spartanxx arrays and Eigen.
#include <Eigen/Core>
#include <Eigen/SparseCore>

#include <vector>

#include "spartanxx/array.hpp"
#include "spartanxx/creation.hpp"
#include "spartanxx/sparse.hpp"

namespace spartanxx {

/// A matrix whose every rank passes the same values; each rank keeps its part. Eigen
/// vectors (one column at compile time) become 1-d arrays.
///
///     Eigen::MatrixXd m = Eigen::MatrixXd::Random(100, 7);
///     auto a = spartanxx::from_eigen(m);  // (100, 7) float64, split by rows
template <class Derived>
Array from_eigen(const Eigen::DenseBase<Derived>& m) {
  using T = typename Derived::Scalar;
  using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const RowMajor rm = m.derived();
  const Shape shape = Derived::ColsAtCompileTime == 1 ? Shape{rm.rows()} : Shape{rm.rows(), rm.cols()};
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<std::uint8_t> bytes(rm.data(), rm.data() + rm.size());
    return from_buffer(shape, DType::boolean, bytes.data());
  } else {
    return from_buffer(shape, dtype_of<T>(), rm.data());
  }
}

/// The whole array on every rank as a double matrix (collective). A 1-d array becomes a
/// column vector, a 0-d array a 1x1 matrix; arrays of more dimensions are an error.
Eigen::MatrixXd to_eigen(const Array& a);

/// A sparse matrix that every rank passes whole (each keeps its rows, split to balance
/// stored entries). Collective.
template <class T, int Options, class Index>
Array from_eigen_sparse(const Eigen::SparseMatrix<T, Options, Index>& m) {
  Eigen::SparseMatrix<double, Eigen::RowMajor, std::int64_t> rm = m.template cast<double>();
  rm.makeCompressed();
  return sparse_from_csr(Shape{rm.rows(), rm.cols()}, rm.outerIndexPtr(), rm.innerIndexPtr(), rm.valuePtr(),
                         dtype_of<T>());
}

/// The whole sparse matrix on every rank (a dense array: its nonzeros). Collective.
Eigen::SparseMatrix<double, Eigen::RowMajor, std::int64_t> to_eigen_sparse(const Array& a);

}  // namespace spartanxx
