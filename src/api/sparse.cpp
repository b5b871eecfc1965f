// Sparse arrays: creation, conversion, and the sparse-only operations.
#include <Eigen/SparseCore>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "array/elementwise_kernels.hpp"
#include "array/random_bits.hpp"
#include "array/sparse.hpp"
#include "expr/boundary.hpp"
#include "expr/build.hpp"
#include "mpi_backend/communicator.hpp"
#include "spartanxx/eigen.hpp"
#include "spartanxx/errors.hpp"
#include "spartanxx/ops.hpp"
#include "spartanxx/sparse.hpp"

namespace spartanxx {

using tiling::index_t;

namespace {

using detail::DistArray;
using detail::Op;

void check_matrix_shape(const char* op, const Shape& shape) {
  if (shape.size() != 2 || shape[0] < 0 || shape[1] < 0)
    throw value_error(fmt::format("{}: sparse arrays are 2-d with non-negative dimensions, got shape {}", op,
                                  tiling::to_string(shape)));
}

}  // namespace

Array sparse_from_triplets(const Shape& shape, const std::vector<std::int64_t>& rows,
                           const std::vector<std::int64_t>& cols, const std::vector<double>& values, DType dtype) {
  check_matrix_shape("sparse_from_triplets", shape);
  auto& comm = detail::context_comm();
  comm.run_agreed([&] {
    if (rows.size() != cols.size() || rows.size() != values.size())
      throw value_error(fmt::format("sparse_from_triplets: {} rows, {} columns and {} values given on rank {}; they must "
                                    "have the same length",
                                    rows.size(), cols.size(), values.size(), comm.rank()));
    for (std::size_t k = 0; k < rows.size(); ++k)
      if (rows[k] < 0 || rows[k] >= shape[0] || cols[k] < 0 || cols[k] >= shape[1])
        throw index_error(fmt::format("sparse_from_triplets: triplet {} on rank {} has index ({}, {}), outside shape {}",
                                      k, comm.rank(), rows[k], cols[k], tiling::to_string(shape)));
  });
  detail::Triplets t;
  t.row = rows, t.col = cols, t.val = values;
  return detail::sparse_leaf(shape, std::move(t), dtype);
}

Array sparse_from_csr(const Shape& shape, const std::int64_t* row_ptr, const std::int64_t* cols, const double* values,
                      DType dtype) {
  check_matrix_shape("sparse_from_csr", shape);
  auto& comm = detail::context_comm();
  const index_t n = shape[0];
  // Every rank passes the same arrays, so every rank finds the same error.
  if (row_ptr[0] != 0)
    throw value_error(fmt::format("sparse_from_csr: row_ptr[0] is {}, expected 0", row_ptr[0]));
  for (index_t r = 0; r < n; ++r)
    if (row_ptr[r + 1] < row_ptr[r])
      throw value_error(fmt::format("sparse_from_csr: row_ptr decreases at row {} ({} > {})", r, row_ptr[r], row_ptr[r + 1]));
  for (std::int64_t k = 0; k < row_ptr[n]; ++k)
    if (cols[k] < 0 || cols[k] >= shape[1])
      throw index_error(fmt::format("sparse_from_csr: entry {} has column {}, outside shape {}", k, cols[k],
                                    tiling::to_string(shape)));
  // Row splits that balance stored entries, from the row pointers.
  const int P = comm.size();
  std::vector<index_t> splits(static_cast<std::size_t>(P) + 1, n);
  splits[0] = 0;
  const std::int64_t total = row_ptr[n];
  if (total == 0) {
    splits = tiling::even_splits(n, P);
  } else {
    index_t r = 0;
    for (int p = 1; p < P; ++p) {
      while (r < n && row_ptr[r] * P < total * p) ++r;
      splits[p] = r;
    }
  }
  splits = detail::prefer_even_splits(std::move(splits), n, [&](index_t r0, index_t r1) { return row_ptr[r1] - row_ptr[r0]; });
  const detail::Layout layout = detail::sparse_rows_layout(shape, splits);
  std::vector<detail::CsrTile> tiles;
  for (int id : layout.tiles_of(comm.rank())) {
    const detail::Box b = layout.tile_box(id);
    detail::Triplets t;
    for (index_t r = b.lo[0]; r < b.hi[0]; ++r)
      for (std::int64_t k = row_ptr[r]; k < row_ptr[r + 1]; ++k) {
        t.row.push_back(r), t.col.push_back(cols[k]), t.val.push_back(values[k]);
      }
    tiles.push_back(detail::csr_from_triplets(b.lo[0], b.hi[0], t, dtype));
  }
  return detail::leaf(detail::sparse_from_tiles(layout, dtype, std::move(tiles), comm));
}

Array sparse_from_local_rows(std::int64_t num_cols, std::vector<std::int64_t> row_ptr, std::vector<std::int64_t> cols,
                             const std::vector<double>& values, DType dtype) {
  constexpr const char* kOp = "sparse_from_local_rows";
  auto& comm = detail::context_comm();
  bool sorted = true;
  comm.run_agreed([&] {
    if (num_cols < 0) throw value_error(fmt::format("{}: {} columns", kOp, num_cols));
    if (row_ptr.empty() || row_ptr[0] != 0)
      throw value_error(fmt::format("{}: row_ptr on rank {} must start with 0", kOp, comm.rank()));
    if (row_ptr.back() != static_cast<std::int64_t>(cols.size()) || cols.size() != values.size())
      throw value_error(fmt::format("{}: on rank {} row_ptr ends at {} but {} columns and {} values are given", kOp,
                                    comm.rank(), row_ptr.back(), cols.size(), values.size()));
    for (std::size_t r = 0; r + 1 < row_ptr.size(); ++r) {
      if (row_ptr[r + 1] < row_ptr[r])
        throw value_error(fmt::format("{}: row_ptr on rank {} decreases at local row {}", kOp, comm.rank(), r));
      for (std::int64_t k = row_ptr[r]; k < row_ptr[r + 1]; ++k) {
        if (cols[k] < 0 || cols[k] >= num_cols)
          throw index_error(fmt::format("{}: local row {} on rank {} has column {}, outside [0, {})", kOp, r,
                                        comm.rank(), cols[k], num_cols));
        if (k > row_ptr[r] && cols[k] <= cols[k - 1]) sorted = false;
      }
    }
  });
  const index_t mine = static_cast<index_t>(row_ptr.size()) - 1;
  const auto counts = comm.allgather(mine);
  std::vector<index_t> splits(counts.size() + 1, 0);
  for (std::size_t p = 0; p < counts.size(); ++p) splits[p + 1] = splits[p] + counts[p];
  const Shape shape{splits.back(), num_cols};
  const detail::Layout layout = detail::sparse_rows_layout(shape, splits);
  detail::CsrTile tile;
  if (sorted) {
    auto pat = std::make_shared<detail::CsrPattern>();
    pat->row_ptr = std::move(row_ptr);
    pat->col = std::move(cols);
    tile.values = detail::Buffer(values.size() * itemsize(dtype));
    detail::convert(reinterpret_cast<const std::byte*>(values.data()), DType::f64, tile.values.data(), dtype,
                    values.size());
    tile.pattern = std::move(pat);
  } else {
    // Some row is out of order or repeats a column: sort each row, summing duplicates.
    detail::Triplets t;
    t.col = std::move(cols), t.val = values;
    t.row.resize(t.col.size());
    for (index_t r = 0; r < mine; ++r)
      std::fill(t.row.begin() + row_ptr[r], t.row.begin() + row_ptr[r + 1], splits[comm.rank()] + r);
    tile = detail::csr_from_triplets(splits[comm.rank()], splits[comm.rank() + 1], t, dtype);
  }
  std::vector<detail::CsrTile> tiles;
  tiles.push_back(std::move(tile));
  return detail::leaf(detail::sparse_from_tiles(layout, dtype, std::move(tiles), comm));
}

Array todense(const Array& a) {
  const auto& in = detail::node_of(a, "todense");
  if (!in->sparse) return a;
  return detail::array_of(detail::make_node(Op::todense, in->shape, in->dtype, {in}));
}

Array to_sparse(const Array& a) {
  const auto& in = detail::node_of(a, "to_sparse");
  if (in->sparse) return a;
  check_matrix_shape("to_sparse", in->shape);
  auto n = detail::make_node(Op::to_sparse, in->shape, in->dtype, {in});
  n->sparse = true;
  n->pattern = detail::new_pattern_id();
  n->nnz_estimate = tiling::volume(in->shape);
  return detail::array_of(std::move(n));
}

std::int64_t nnz(const Array& a) {
  detail::node_of(a, "nnz");
  return detail::data_of(a).nnz();
}

Array normalize_rows(const Array& a, int ord) {
  const auto& in = detail::node_of(a, "normalize_rows");
  if (in->shape.size() != 2)
    throw value_error(fmt::format("normalize_rows: expects a 2-d array, got shape {}", tiling::to_string(in->shape)));
  if (ord != 1 && ord != 2) throw value_error(fmt::format("normalize_rows: ord must be 1 or 2, got {}", ord));
  const Array x = is_floating(a.dtype()) ? a : a.astype(DType::f64);
  const Array norms = ord == 1 ? sum(abs(x), 1) : sqrt(sum(square(x), 1));
  // Rows of norm zero are left as they are (divided by 1), as scikit-learn does.
  const Array scale = where(norms == 0, 1.0, divide(1.0, norms));
  return x * scale.reshape({in->shape[0], 1});
}

namespace random {
Array sparse_uniform(const Shape& shape, double density, std::uint64_t seed, double lo, double hi) {
  check_matrix_shape("random::sparse_uniform", shape);
  if (!(density >= 0 && density <= 1))
    throw value_error(fmt::format("random::sparse_uniform: density must be in [0, 1], got {}", density));
  auto& comm = detail::context_comm();
  const index_t n = shape[0], m = shape[1];
  // Equal rows hold equal numbers of entries on average: a row split balances them.
  const detail::Layout layout = detail::sparse_rows_layout(shape, tiling::even_splits(n, comm.size()));
  std::vector<detail::CsrTile> tiles;
  const double log_q = std::log1p(-density);
  for (int id : layout.tiles_of(comm.rank())) {
    const detail::Box b = layout.tile_box(id);
    auto pat = std::make_shared<detail::CsrPattern>();
    std::vector<double> vals;
    pat->row_ptr.reserve(static_cast<std::size_t>(b.extent(0)) + 1);
    const auto expected = static_cast<std::size_t>(density * static_cast<double>(m) * static_cast<double>(b.extent(0)) * 1.05 + 16);
    pat->col.reserve(expected);
    vals.reserve(expected);
    for (index_t r = b.lo[0]; r < b.hi[0]; ++r) {
      if (density > 0) {
        // Gaps between stored columns are geometric: each element is stored with
        // probability `density`, drawn from a generator keyed by the row.
        const std::uint64_t row_key = detail::splitmix64(seed ^ 0x51ed270b27a3f5b1ull) + static_cast<std::uint64_t>(r);
        std::uint64_t draw = 0;
        for (index_t j = -1;;) {
          if (density >= 1) {
            ++j;
          } else {
            const double u = detail::unit_open(detail::random_bits(row_key, draw++ * 0x9E3779B97F4A7C15ull));
            const double gap = std::floor(std::log(u) / log_q);
            if (!(gap < static_cast<double>(m))) break;
            j += 1 + static_cast<index_t>(gap);
          }
          if (j >= m) break;
          // The value of element (r, j) is random::uniform's for the same seed.
          const double u = detail::unit_open(detail::random_bits(seed, static_cast<std::uint64_t>(r * m + j))) - 0x1.0p-53;
          pat->col.push_back(j);
          vals.push_back(lo + (hi - lo) * u);
        }
      }
      pat->row_ptr.push_back(static_cast<std::int64_t>(pat->col.size()));
    }
    tiles.push_back(detail::make_csr(std::move(pat), vals.data(), vals.size() * 8));
  }
  return detail::leaf(detail::sparse_from_tiles(layout, DType::f64, std::move(tiles), comm));
}
}  // namespace random

Eigen::SparseMatrix<double, Eigen::RowMajor, std::int64_t> to_eigen_sparse(const Array& a) {
  const Array s = a.is_sparse() ? a : to_sparse(a);
  detail::node_of(s, "to_eigen_sparse");
  const detail::DistArray& data = detail::data_of(s);
  const detail::CsrTile whole = detail::gather_sparse_whole(data, detail::context_comm());
  std::vector<double> scratch;
  const double* v = detail::double_values(whole, data.dtype(), scratch);
  // Filled in place: assigning from an Eigen::Map would first reserve Eigen's guess of
  // 2 * max(rows, cols) entries (32 GiB for a 1 x 2^31 matrix with one entry).
  using M = Eigen::SparseMatrix<double, Eigen::RowMajor, std::int64_t>;
  const std::int64_t rows = s.shape()[0], nnz = whole.nnz();
  M m(rows, s.shape()[1]);
  m.resizeNonZeros(nnz);
  std::copy(whole.row_ptr(), whole.row_ptr() + rows + 1, m.outerIndexPtr());
  std::copy(whole.col(), whole.col() + nnz, m.innerIndexPtr());
  std::copy(v, v + nnz, m.valuePtr());
  return m;
}

}  // namespace spartanxx
