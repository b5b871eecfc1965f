// CSR and CSC groups (anndata's layout) read and written in parallel.
//
// Reading a CSR group: every rank first reads `indptr` at its even share of the rows;
// the stored entries per bucket of rows (from indptr at the bucket edges) decide a row
// split balanced by entries, the even split when that is within 2%, as for every other
// sparse matrix; then each rank reads `indptr` of its rows and their range of `indices`
// and `data`. A CSC group is read by columns and its entries routed to their rows.
#include "io/hdf5_sparse.hpp"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "array/elementwise_kernels.hpp"
#include "array/sparse.hpp"
#include "expr/boundary.hpp"
#include "mpi_backend/communicator.hpp"
#include "spartanxx/errors.hpp"

namespace spartanxx::detail::io {
namespace {

/// A 1-d dataset of the group, its length and stored dtype.
struct Member {
  H5Id d;
  std::int64_t length = 0;
  DType dtype = DType::f64;
};

Member open_member(hid_t group, const char* name, const Where& where, backend::Communicator& comm) {
  Member m;
  const bool present = H5Lexists(group, name, H5P_DEFAULT) > 0;
  comm.run_agreed([&] {
    if (!present) throw io_error(fmt::format("{}: the sparse group has no dataset \"{}\"", where.text(), name));
  });
  hid_t id = H5Dopen2(group, name, H5P_DEFAULT);
  comm.run_agreed([&] {
    m.d = H5Id(check_id(id, where, fmt::format("opening {}", name).c_str()), H5Dclose);
    const Shape s = extents_of(m.d.get());
    if (s.size() != 1)
      throw value_error(fmt::format("{}: \"{}\" of a sparse group must be 1-d, it has shape {}", where.text(), name,
                                    tiling::to_string(s)));
    m.length = s[0];
    H5Id type(check_id(H5Dget_type(m.d.get()), where, "H5Dget_type"), H5Tclose);
    m.dtype = dtype_of_stored(type.get(), Where{where.op, where.path, where.object + "/" + name});
  });
  return m;
}

/// Elements [lo, hi) of a 1-d dataset on this rank (each rank its own range), as T.
template <class T>
std::vector<T> read_range(const Member& m, std::int64_t lo, std::int64_t hi, const Where& where, backend::Communicator& comm) {
  std::vector<T> out;
  comm.run_agreed([&] { out.resize(static_cast<std::size_t>(hi - lo)); });
  std::vector<Piece> mine;
  constexpr std::int64_t kMax = (std::int64_t{1} << 30) / static_cast<std::int64_t>(sizeof(T));
  for (std::int64_t a = lo; a < hi; a += kMax) {
    Piece p;
    p.start.assign(1, static_cast<hsize_t>(a));
    p.stride.assign(1, 1);
    p.count.assign(1, static_cast<hsize_t>(std::min(kMax, hi - a)));
    p.data = out.data() + (a - lo);
    mine.push_back(p);
  }
  const int rounds = static_cast<int>(comm.allreduce(static_cast<std::int64_t>(mine.size()), backend::ReduceOp::max));
  H5Id mem = memory_type(dtype_of<T>());
  std::exception_ptr err;
  try {
    read_slabs(m.d.get(), mem.get(), mine, rounds, where);
  } catch (...) {
    err = std::current_exception();
  }
  comm.agree(err);
  return out;
}

/// The stored bytes of `data` for [lo, hi) in the matrix's dtype (buffer of that dtype).
Buffer read_values(const Member& m, DType dtype, std::int64_t lo, std::int64_t hi, const Where& where, backend::Communicator& comm) {
  Buffer out;
  comm.run_agreed([&] { out = Buffer(static_cast<std::size_t>(hi - lo) * itemsize(dtype)); });
  std::vector<Piece> mine;
  const std::int64_t kMax = (std::int64_t{1} << 30) / static_cast<std::int64_t>(itemsize(dtype));
  for (std::int64_t a = lo; a < hi; a += kMax) {
    Piece p;
    p.start.assign(1, static_cast<hsize_t>(a));
    p.stride.assign(1, 1);
    p.count.assign(1, static_cast<hsize_t>(std::min(kMax, hi - a)));
    p.data = out.data() + (a - lo) * static_cast<std::int64_t>(itemsize(dtype));
    mine.push_back(p);
  }
  const int rounds = static_cast<int>(comm.allreduce(static_cast<std::int64_t>(mine.size()), backend::ReduceOp::max));
  H5Id mem = memory_type(dtype);
  std::exception_ptr err;
  try {
    read_slabs(m.d.get(), mem.get(), mine, rounds, where);
  } catch (...) {
    err = std::current_exception();
  }
  comm.agree(err);
  return out;
}

/// indptr at the given rows (ascending), read from this rank's even share `part`
/// (indptr[lo .. hi] inclusive) and combined over ranks: each value comes from a rank
/// that read it.
std::vector<std::int64_t> indptr_at(const std::vector<index_t>& rows, const std::vector<std::int64_t>& part, index_t lo,
                                    index_t hi, backend::Communicator& comm) {
  std::vector<std::int64_t> v(rows.size(), -1);
  for (std::size_t k = 0; k < rows.size(); ++k)
    if (rows[k] >= lo && rows[k] <= hi) v[k] = part[static_cast<std::size_t>(rows[k] - lo)];
  comm.allreduce(v.data(), v.size(), backend::ReduceOp::max);
  return v;
}

Array read_csr(hid_t group, const Where& where, index_t n, index_t m, backend::Communicator& comm) {
  const int P = comm.size(), me = comm.rank();
  Member data = open_member(group, "data", where, comm);
  Member indices = open_member(group, "indices", where, comm);
  Member indptr = open_member(group, "indptr", where, comm);
  const std::int64_t nnz = data.length;
  comm.run_agreed([&] {
    if (indptr.length != n + 1)
      throw value_error(fmt::format("{}: indptr has {} entries, a ({}, {}) csr_matrix needs {}", where.text(), indptr.length,
                                    n, m, n + 1));
    if (indices.length != nnz)
      throw value_error(fmt::format("{}: indices has {} entries and data {}", where.text(), indices.length, nnz));
    if (!is_integer(indices.dtype) || !is_integer(indptr.dtype))
      throw value_error(fmt::format("{}: indices and indptr must be integers", where.text()));
  });
  // 1. indptr at this rank's even share of the rows, checked.
  const std::vector<index_t> even = tiling::even_splits(n, P);
  const index_t lo = even[me], hi = even[me + 1];
  const std::vector<std::int64_t> part = read_range<std::int64_t>(indptr, lo, hi + 1, where, comm);
  comm.run_agreed([&] {
    if (lo == 0 && part[0] != 0) throw value_error(fmt::format("{}: indptr[0] is {}, not 0", where.text(), part[0]));
    for (std::size_t k = 1; k < part.size(); ++k)
      if (part[k] < part[k - 1])
        throw value_error(fmt::format("{}: indptr decreases at row {} ({} > {})", where.text(), lo + static_cast<index_t>(k) - 1,
                                      part[k - 1], part[k]));
    if (hi == n && part.back() != nnz)
      throw value_error(fmt::format("{}: indptr ends at {} but data has {} entries", where.text(), part.back(), nnz));
  });
  // 2. Rows balanced by stored entries (buckets of rows, then the exact count of each part).
  std::vector<index_t> edges;
  const index_t B = std::min<index_t>(n, index_t{1} << 16);
  for (index_t b = 0; b <= B; ++b) edges.push_back(B ? (b * n + B - 1) / B : 0);
  const std::vector<std::int64_t> at_edges = indptr_at(edges, part, lo, hi, comm);
  std::vector<std::int64_t> counts;
  for (index_t b = 0; b < B; ++b) counts.push_back(at_edges[b + 1] - at_edges[b]);
  std::vector<index_t> splits = balanced_row_splits(counts, n, P);
  std::vector<index_t> both(even);
  both.insert(both.end(), splits.begin(), splits.end());
  const std::vector<index_t> sorted_rows = [&] {
    std::vector<index_t> r(both);
    std::sort(r.begin(), r.end());
    r.erase(std::unique(r.begin(), r.end()), r.end());
    return r;
  }();
  const std::vector<std::int64_t> at_rows = indptr_at(sorted_rows, part, lo, hi, comm);
  auto ptr = [&](index_t row) {
    return at_rows[static_cast<std::size_t>(std::lower_bound(sorted_rows.begin(), sorted_rows.end(), row) - sorted_rows.begin())];
  };
  splits = prefer_even_splits(std::move(splits), n, [&](index_t r0, index_t r1) { return ptr(r1) - ptr(r0); });
  // 3. This rank's rows: indptr, indices and data, checked.
  const index_t r0 = splits[me], r1 = splits[me + 1];
  std::vector<std::int64_t> rp = read_range<std::int64_t>(indptr, r0, r1 + 1, where, comm);
  const std::int64_t e0 = rp.front(), e1 = rp.back();
  std::vector<std::int64_t> cols = read_range<std::int64_t>(indices, e0, e1, where, comm);
  const DType dtype = data.dtype;
  Buffer vals = read_values(data, dtype, e0, e1, where, comm);
  bool sorted = true;
  comm.run_agreed([&] {
    for (std::size_t r = 0; r + 1 < rp.size(); ++r) {
      if (rp[r + 1] < rp[r]) throw value_error(fmt::format("{}: indptr decreases at row {}", where.text(), r0 + static_cast<index_t>(r)));
      for (std::int64_t k = rp[r] - e0; k < rp[r + 1] - e0; ++k) {
        if (cols[k] < 0 || cols[k] >= m)
          throw value_error(fmt::format("{}: row {} has column index {}, outside [0, {})", where.text(),
                                        r0 + static_cast<index_t>(r), cols[k], m));
        if (k > rp[r] - e0 && cols[k] <= cols[k - 1]) sorted = false;
      }
    }
  });
  const Layout layout = sparse_rows_layout({n, m}, splits);
  CsrTile tile;
  if (sorted) {
    auto pat = std::make_shared<CsrPattern>();
    for (auto& v : rp) v -= e0;
    pat->row_ptr = std::move(rp);
    pat->col = std::move(cols);
    tile.pattern = std::move(pat);
    tile.values = std::move(vals);
  } else {
    // Unsorted (or repeated) columns in a row, as SciPy allows: sorted, repeats summed.
    Triplets t;
    t.col = std::move(cols);
    t.val.resize(t.col.size());
    convert(vals.data(), dtype, reinterpret_cast<std::byte*>(t.val.data()), DType::f64, t.val.size());
    t.row.resize(t.col.size());
    for (std::size_t r = 0; r + 1 < rp.size(); ++r)
      std::fill(t.row.begin() + (rp[r] - e0), t.row.begin() + (rp[r + 1] - e0), r0 + static_cast<index_t>(r));
    tile = csr_from_triplets(r0, r1, t, dtype);
  }
  std::vector<CsrTile> tiles;
  tiles.push_back(std::move(tile));
  return leaf(sparse_from_tiles(layout, dtype, std::move(tiles), comm));
}

Array read_csc(hid_t group, const Where& where, index_t n, index_t m, backend::Communicator& comm) {
  const int P = comm.size(), me = comm.rank();
  Member data = open_member(group, "data", where, comm);
  Member indices = open_member(group, "indices", where, comm);
  Member indptr = open_member(group, "indptr", where, comm);
  const std::int64_t nnz = data.length;
  comm.run_agreed([&] {
    if (indptr.length != m + 1)
      throw value_error(fmt::format("{}: indptr has {} entries, a ({}, {}) csc_matrix needs {}", where.text(), indptr.length,
                                    n, m, m + 1));
    if (indices.length != nnz)
      throw value_error(fmt::format("{}: indices has {} entries and data {}", where.text(), indices.length, nnz));
  });
  // Each rank its even share of the columns; the entries go to the owners of their rows.
  const std::vector<index_t> even = tiling::even_splits(m, P);
  const index_t c0 = even[me], c1 = even[me + 1];
  const std::vector<std::int64_t> cp = read_range<std::int64_t>(indptr, c0, c1 + 1, where, comm);
  comm.run_agreed([&] {
    for (std::size_t k = 1; k < cp.size(); ++k)
      if (cp[k] < cp[k - 1]) throw value_error(fmt::format("{}: indptr decreases at column {}", where.text(), c0 + static_cast<index_t>(k) - 1));
    if (c0 == 0 && cp[0] != 0) throw value_error(fmt::format("{}: indptr[0] is {}, not 0", where.text(), cp[0]));
    if (c1 == m && cp.back() != nnz)
      throw value_error(fmt::format("{}: indptr ends at {} but data has {} entries", where.text(), cp.back(), nnz));
  });
  Triplets t;
  t.row = read_range<std::int64_t>(indices, cp.front(), cp.back(), where, comm);
  const Buffer vals = read_values(data, data.dtype, cp.front(), cp.back(), where, comm);
  t.val.resize(t.row.size());
  convert(vals.data(), data.dtype, reinterpret_cast<std::byte*>(t.val.data()), DType::f64, t.val.size());
  t.col.resize(t.row.size());
  comm.run_agreed([&] {
    for (std::size_t c = 0; c + 1 < cp.size(); ++c)
      for (std::int64_t k = cp[c] - cp.front(); k < cp[c + 1] - cp.front(); ++k) {
        if (t.row[k] < 0 || t.row[k] >= n)
          throw value_error(fmt::format("{}: column {} has row index {}, outside [0, {})", where.text(),
                                        c0 + static_cast<index_t>(c), t.row[k], n));
        t.col[k] = c0 + static_cast<index_t>(c);
      }
  });
  return sparse_leaf({n, m}, std::move(t), data.dtype);
}

}  // namespace

Array read_sparse_group(hid_t file, const Where& where, backend::Communicator& comm) {
  hid_t id = H5Gopen2(file, where.object.c_str(), H5P_DEFAULT);
  H5Id group;
  spartanxx::io::Attributes attrs;
  comm.run_agreed([&] {
    group = H5Id(check_id(id, where, "opening the group"), H5Gclose);
    attrs = read_attributes(group.get(), where);
  });
  std::string encoding;
  std::vector<std::int64_t> shape;
  comm.run_agreed([&] {
    const auto e = attrs.find("encoding-type");
    if (e == attrs.end() || !std::holds_alternative<std::string>(e->second))
      throw io_error(fmt::format("{}: a group, but not a sparse matrix (no encoding-type attribute); name a dataset",
                                 where.text()));
    encoding = std::get<std::string>(e->second);
    if (encoding != "csr_matrix" && encoding != "csc_matrix")
      throw io_error(fmt::format("{}: encoding-type \"{}\" is not csr_matrix or csc_matrix", where.text(), encoding));
    const auto s = attrs.find("shape");
    if (s == attrs.end() || !std::holds_alternative<std::vector<std::int64_t>>(s->second) ||
        std::get<std::vector<std::int64_t>>(s->second).size() != 2)
      throw value_error(fmt::format("{}: a sparse group needs a shape attribute of two integers", where.text()));
    shape = std::get<std::vector<std::int64_t>>(s->second);
    if (shape[0] < 0 || shape[1] < 0) throw value_error(fmt::format("{}: negative shape", where.text()));
  });
  return encoding == "csr_matrix" ? read_csr(group.get(), where, shape[0], shape[1], comm)
                                  : read_csc(group.get(), where, shape[0], shape[1], comm);
}

namespace {

/// Writes `pieces` of this rank to a 1-d dataset (rounds agreed over ranks).
void write_1d(hid_t d, hid_t mem, const std::vector<Piece>& mine, const Where& where, backend::Communicator& comm) {
  const int rounds = static_cast<int>(comm.allreduce(static_cast<std::int64_t>(mine.size()), backend::ReduceOp::max));
  std::exception_ptr err;
  try {
    write_slabs(d, mem, mine, rounds, where);
  } catch (...) {
    err = std::current_exception();
  }
  comm.agree(err);
}

std::vector<Piece> runs_1d(std::int64_t start, std::int64_t count, const std::byte* data, std::size_t itemsize) {
  std::vector<Piece> out;
  const std::int64_t kMax = (std::int64_t{1} << 30) / static_cast<std::int64_t>(itemsize);
  for (std::int64_t a = 0; a < count; a += kMax) {
    Piece p;
    p.start.assign(1, static_cast<hsize_t>(start + a));
    p.stride.assign(1, 1);
    p.count.assign(1, static_cast<hsize_t>(std::min(kMax, count - a)));
    p.data = const_cast<std::byte*>(data + a * static_cast<std::int64_t>(itemsize));
    out.push_back(p);
  }
  return out;
}

}  // namespace

void write_sparse_group(hid_t file, const std::string& name, const DistArray& data, const spartanxx::io::Hdf5Options& o,
                        const Where& where, backend::Communicator& comm) {
  const Layout& L = data.layout();
  const index_t n = data.shape()[0], m = data.shape()[1];
  const std::int64_t nnz = data.nnz();
  comm.run_agreed([&] {
    if (o.index32 && (m > INT32_MAX || nnz > INT32_MAX))
      throw value_error(fmt::format("{}: {} columns and {} entries do not fit int32 indices", where.text(), m, nnz));
  });
  H5Id lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  hid_t gid = H5Gcreate2(file, name.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT);
  H5Id group;
  comm.run_agreed([&] { group = H5Id(check_id(gid, where, "creating the group"), H5Gclose); });
  spartanxx::io::Attributes attrs = o.attributes;
  attrs["encoding-type"] = std::string("csr_matrix");
  attrs["encoding-version"] = std::string("0.1.0");
  attrs["shape"] = std::vector<std::int64_t>{n, m};
  comm.run_agreed([&] { write_attributes(group.get(), attrs, where); });

  spartanxx::io::Hdf5Options member = o;
  member.attributes.clear();
  const DType index_dtype = o.index32 ? DType::i32 : DType::i64;
  H5Id vtype = file_type(data.dtype()), itype = file_type(index_dtype);
  H5Id dd = create_dataset(group.get(), "data", data.dtype(), vtype.get(), {nnz}, member, where, comm);
  H5Id di = create_dataset(group.get(), "indices", index_dtype, itype.get(), {nnz}, member, where, comm);
  H5Id dp = create_dataset(group.get(), "indptr", index_dtype, itype.get(), {n + 1}, member, where, comm);

  // Where each tile's entries start: every rank knows every tile's count. A replicated
  // matrix is written by rank 0.
  std::vector<std::int64_t> first(static_cast<std::size_t>(L.num_tiles()) + 1, 0);
  for (int t = 0; t < L.num_tiles(); ++t) first[t + 1] = first[t] + data.tile_nnz()[static_cast<std::size_t>(t)];
  std::vector<Piece> pv, pi, pp;
  // HDF5 1.10 turns a transfer that converts types into independent I/O, which filtered
  // (compressed) datasets refuse: int32 indices are narrowed here, not by HDF5.
  const std::size_t isize = o.index32 ? 4 : 8;
  std::vector<std::vector<std::int64_t>> ptrs;  // kept alive until written
  std::vector<std::vector<std::int32_t>> narrow;
  ptrs.reserve(data.tiles().size());
  narrow.reserve(2 * data.tiles().size());
  auto indices_of = [&](const std::int64_t* p, std::size_t count) -> const std::byte* {
    if (!o.index32) return reinterpret_cast<const std::byte*>(p);
    narrow.emplace_back(p, p + count);
    return reinterpret_cast<const std::byte*>(narrow.back().data());
  };
  const int writer_of_replicated = 0;
  for (const Tile& tile : data.tiles()) {
    const int owner = L.owner(tile.id);
    if (owner != comm.rank() && !(owner == tiling::kReplicated && comm.rank() == writer_of_replicated)) continue;
    const CsrTile& c = *tile.csr;
    const std::int64_t at = first[static_cast<std::size_t>(tile.id)];
    for (const Piece& p : runs_1d(at, c.nnz(), c.values.data(), itemsize(data.dtype()))) pv.push_back(p);
    for (const Piece& p : runs_1d(at, c.nnz(), indices_of(c.col(), static_cast<std::size_t>(c.nnz())), isize))
      pi.push_back(p);
    // indptr of the tile's rows; the tile holding the last row writes indptr[n] too.
    const index_t rows = tile.box.extent(0);
    const bool last = tile.box.lo[0] < n && tile.box.hi[0] == n;
    if (rows == 0) continue;
    std::vector<std::int64_t> ptr(static_cast<std::size_t>(rows + (last ? 1 : 0)));
    for (index_t r = 0; r < static_cast<index_t>(ptr.size()); ++r) ptr[r] = at + c.row_ptr()[r];
    ptrs.push_back(std::move(ptr));
    for (const Piece& p : runs_1d(tile.box.lo[0], static_cast<std::int64_t>(ptrs.back().size()),
                                  indices_of(ptrs.back().data(), ptrs.back().size()), isize))
      pp.push_back(p);
  }
  // An empty matrix with no rows: indptr = [0], written by rank 0.
  const std::int64_t zero = 0;
  if (n == 0 && comm.rank() == 0) pp = runs_1d(0, 1, indices_of(&zero, 1), isize);
  H5Id vmem = memory_type(data.dtype()), imem = memory_type(index_dtype);
  write_1d(dd.get(), vmem.get(), pv, where, comm);
  write_1d(di.get(), imem.get(), pi, where, comm);
  write_1d(dp.get(), imem.get(), pp, where, comm);
}

}  // namespace spartanxx::detail::io
