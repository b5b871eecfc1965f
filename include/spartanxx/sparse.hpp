#pragma once
// Distributed sparse matrices: 2-d arrays stored as CSR tiles (64-bit indices), split
// by rows so that every rank holds about the same number of stored entries. A sparse
// Array lives in the same lazy graph as dense ones: maps that keep zeros zero
// (a * 2, abs, sqrt, square, sign, a * dense, a * row or column vector, a > 0 ...)
// stay sparse and fuse; reductions and products give dense results (except
// sparse · sparse). Operations that would fill every entry raise value_error.
//
//     auto A = spartanxx::sparse_from_triplets({n, m}, rows, cols, vals);  // this rank's triplets
//     auto y = spartanxx::dot(A, x);                                         // SpMV
//     auto g = spartanxx::dot(A.T(), r);                                     // no transpose made
#include <cstdint>
#include <vector>

#include "spartanxx/array.hpp"
#include "spartanxx/ops.hpp"  // sign and normalize_rows, which keep sparse arrays sparse

namespace spartanxx {

/// A sparse (n, m) matrix from coordinate triplets. Each rank passes the triplets it
/// has (any rows, any order, possibly none); duplicates are summed. Collective.
/// Indices outside the shape raise index_error on every rank.
Array sparse_from_triplets(const Shape& shape, const std::vector<std::int64_t>& rows,
                           const std::vector<std::int64_t>& cols, const std::vector<double>& values,
                           DType dtype = DType::f64);

/// A sparse matrix of num_cols columns whose rows each rank makes itself, in CSR form:
/// this rank's rows come after those of the ranks before it (rank 0's first), and each
/// rank keeps the rows it made (no data moves; the row split is the ranks' row counts).
/// row_ptr has one entry more than this rank's rows (it may have none) and starts at 0;
/// columns are local to each row, which is kept as it is when its columns are ascending
/// and otherwise sorted with duplicates summed. Collective; a bad row_ptr or a column
/// outside [0, num_cols) raises value_error / index_error on every rank.
Array sparse_from_local_rows(std::int64_t num_cols, std::vector<std::int64_t> row_ptr, std::vector<std::int64_t> cols,
                             const std::vector<double>& values, DType dtype = DType::f64);

/// A sparse (n, m) matrix from CSR arrays that every rank passes whole (each keeps its
/// rows): row_ptr has n + 1 entries, cols and values row_ptr[n]. Duplicates are summed
/// and columns sorted. Collective.
Array sparse_from_csr(const Shape& shape, const std::int64_t* row_ptr, const std::int64_t* cols,
                      const double* values, DType dtype = DType::f64);

/// The dense array with the same values (collective when evaluated; lazy).
Array todense(const Array& a);
/// A sparse matrix holding the nonzero elements of a 2-d array (lazy).
Array to_sparse(const Array& a);

/// Stored entries of a sparse array (the elements of a dense one). Collective.
std::int64_t nnz(const Array& a);

namespace random {
/// A sparse (n, m) float64 matrix: each element is stored with probability `density`,
/// with a value uniform in [lo, hi). The same matrix at every rank count.
Array sparse_uniform(const Shape& shape, double density, std::uint64_t seed, double lo = 0.0, double hi = 1.0);
}  // namespace random

}  // namespace spartanxx
