#pragma once
// Sparse storage helpers: building CSR tiles from coordinate triplets (locally and
// across ranks, with row splits that balance stored entries), gathering a whole sparse
// matrix, and the local kernels of sparse products (double precision).
#include <algorithm>
#include <cstdint>
#include <memory>
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
/// `balanced` (row splits), or the even split of n rows (the split of dense arrays) when
/// its heaviest part holds at most 2% more entries than `balanced`'s: then dense vectors
/// split by rows meet the matrix's rows without moving. `entries(r0, r1)` counts the
/// stored entries of rows [r0, r1).
/// Whether the even split, whose heaviest part holds `heaviest_even` entries, is within
/// 2% of a split whose heaviest part holds `heaviest`.
inline bool even_is_close(std::int64_t heaviest_even, std::int64_t heaviest) { return heaviest_even * 50 <= heaviest * 51; }

template <class Count>
std::vector<index_t> prefer_even_splits(std::vector<index_t> balanced, index_t n, Count&& entries) {
  const int P = static_cast<int>(balanced.size()) - 1;
  std::vector<index_t> even = tiling::even_splits(n, P);
  std::int64_t heaviest_even = 0, heaviest = 0;
  for (int p = 0; p < P; ++p) {
    heaviest_even = std::max<std::int64_t>(heaviest_even, entries(even[p], even[p + 1]));
    heaviest = std::max<std::int64_t>(heaviest, entries(balanced[p], balanced[p + 1]));
  }
  return even_is_close(heaviest_even, heaviest) ? even : balanced;
}

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

/// Collective. The whole array (dense or sparse), in C order, on every rank.
Buffer gather_whole(const DistArray& a, Communicator& comm);

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
/// A CSR tile's entries regrouped by column, for sparseᵀ·vector products that send the
/// other ranks' partial sums while they compute their own: the entries whose column is
/// in [c0, c1) (columns counted from c0) and the others, each as (row, column, value)
/// lists with 32-bit indices and float64 values. Not a transpose: the order of the
/// entries within each group is the tile's.
struct ColumnSplit {
  index_t c0 = 0, c1 = 0;
  std::vector<std::int32_t> local_row, local_col, other_row, other_col;
  std::vector<double> local_val, other_val;
  std::size_t bytes() const;
};

/// The split of tile `a` (values of `dtype`) at columns [c0, c1), from a per-process
/// cache keyed by the tile's values buffer and pattern, which it watches (a split whose
/// buffer was freed is dropped). A split is built the second time the same values are
/// asked for: a one-off product does not pay for it. Null then, and when the tile's
/// rows or `cols` do not fit 32 bits. The cache keeps at most 512 MiB of splits, the
/// least recently used going first.
std::shared_ptr<const ColumnSplit> column_split(const CsrTile& a, DType dtype, index_t cols, index_t c0, index_t c1);

/// out[col[e]] += val[e] * b[row[e]] for e in [0, n); `cols` is out's length (whether
/// it leaves the cache decides how the kernel updates it).
void coo_t_times_vector(const std::int32_t* row, const std::int32_t* col, const double* val, std::size_t n,
                        const double* b, index_t cols, double* out);

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
