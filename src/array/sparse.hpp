#pragma once
// Sparse storage helpers: building CSR tiles from coordinate triplets (locally and
// across ranks, with row splits that balance stored entries), gathering a whole sparse
// matrix, and the local kernels of sparse products (double precision).
#include <cstdint>
#include <vector>

#include "array/dist_array.hpp"

namespace spartanxx::detail {

using backend::Communicator;
using tiling::Shape;

/// Coordinate triplets (values as double).
struct Triplets {
  std::vector<std::int64_t> row, col;
  std::vector<double> val;
  std::size_t size() const { return row.size(); }
};

/// A CSR tile over rows [r0, r1) from triplets whose rows lie there (columns counted
/// from 0): sorted, duplicates summed, values converted to `dtype`.
CsrTile csr_from_triplets(index_t r0, index_t r1, const Triplets& t, DType dtype);

/// Row split points (P + 1 of them) over n rows that give each part about the same
/// number of stored entries; `row_counts[b]` counts the entries of rows
/// [b * n / B, (b + 1) * n / B) for B = row_counts.size() buckets.
std::vector<index_t> balanced_row_splits(const std::vector<std::int64_t>& bucket_counts, index_t n, int P);

/// A rows-only sparse layout of `shape` with the given row splits, rank r owning part r.
Layout sparse_rows_layout(const Shape& shape, std::vector<index_t> row_splits);

/// Collective. A sparse array from the triplets each rank holds (any rows; duplicates
/// summed); rows split to balance stored entries, unless `layout` (rows only) is given.
/// Indices must be in range (the caller checks).
DistArray sparse_from_triplets_local(const Shape& shape, DType dtype, Triplets t, Communicator& comm,
                                     const Layout* layout = nullptr);

/// Collective. A sparse array whose tiles are given (one per owned tile of `layout`, in
/// tiles_of order); tile_nnz is agreed over ranks.
DistArray sparse_from_tiles(const Layout& layout, DType dtype, std::vector<CsrTile> tiles, Communicator& comm);

/// Collective. The whole sparse matrix on every rank, as one tile over all rows.
CsrTile gather_sparse_whole(const DistArray& a, Communicator& comm);

/// Entry values of a tile as double (a copy unless the dtype is float64).
std::vector<double> values_as_double(const CsrTile& t, DType dtype);
/// Pointer to the float64 values of a tile, converting into `scratch` if needed.
const double* double_values(const CsrTile& t, DType dtype, std::vector<double>& scratch);

/// Writes the tile densely (C order, rows x cols) in `dtype` into `out` (zero-filled first).
void csr_to_dense(const CsrTile& t, DType dtype, index_t cols, std::byte* out);

/// A tile of `pattern` whose values are the `bytes` bytes at `values` (copied).
CsrTile make_csr(std::shared_ptr<const CsrPattern> pattern, const void* values, std::size_t bytes);

/// Bytes of the tiles of a sparse matrix: its entries (index + value) and row pointers.
std::int64_t sparse_bytes(std::int64_t nnz, index_t rows, DType dtype);

// ---- local kernels (float64) ----
/// out (rows x k, row-major) = A · B for B (A's cols x k, row-major); rows [r0, r1) of A only.
/// `cols` is A's column count (whether B leaves the cache decides how the kernel reads it).
void csr_times_dense(const CsrTile& a, const double* av, index_t r0, index_t r1, const double* b, index_t k,
                     index_t cols, double* out);
/// out (A's cols x k) += (rows [r0, r1) of A)ᵀ · B for B (r1 - r0 rows x k, row-major).
void csr_t_times_dense(const CsrTile& a, const double* av, index_t r0, index_t r1, const double* b, index_t k,
                       index_t cols, double* out);
/// out (n x m) += D · A, D (n x ld, row-major) whose columns [c0, c0 + rows) meet A's rows.
void dense_times_csr(const double* d, index_t n, index_t ld, index_t c0, const CsrTile& a, const double* av, index_t m,
                     double* out);
/// out (n x ldo, row-major), columns [c0, c0 + A.rows) = D · Aᵀ, D (n x A's cols).
void dense_times_csr_t(const double* d, index_t n, index_t dcols, const CsrTile& a, const double* av, double* out,
                       index_t ldo, index_t c0);
/// A · B for CSR tiles (B whole: A's cols rows), as a CSR tile of `dtype`.
CsrTile csr_times_csr(const CsrTile& a, const double* av, index_t a_cols, const CsrTile& b, const double* bv,
                      index_t b_cols, DType dtype);
/// The transpose of a whole CSR matrix (rows x cols) as CSR (cols x rows), float64 values.
CsrTile csr_transpose(const CsrTile& a, const double* av, index_t cols);

}  // namespace spartanxx::detail
