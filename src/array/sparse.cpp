#include "array/sparse.hpp"

#include <Eigen/SparseCore>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <stdexcept>

#include "array/elementwise_kernels.hpp"
#include "mpi_backend/communicator.hpp"

namespace spartanxx::detail {

using RowSparse = Eigen::SparseMatrix<double, Eigen::RowMajor, std::int64_t>;
using RowSparseMap = Eigen::Map<const RowSparse>;

CsrTile csr_from_triplets(index_t r0, index_t r1, const Triplets& t, DType dtype) {
  const index_t rows = r1 - r0;
  auto pat = std::make_shared<CsrPattern>();
  auto& ptr = pat->row_ptr;
  ptr.assign(static_cast<std::size_t>(rows) + 1, 0);
  // Counting sort by row: ptr[r] ends as row r's start. Placement advances ptr[r] to the
  // row's end (the next row's start), and one shift puts the starts back, so no second
  // array of rows + 1 entries is needed (a tall matrix with few entries is mostly ptr).
  for (std::size_t k = 0; k < t.size(); ++k) ++ptr[static_cast<std::size_t>(t.row[k] - r0) + 1];
  for (index_t r = 0; r < rows; ++r) ptr[r + 1] += ptr[r];
  std::vector<std::pair<std::int64_t, double>> e(t.size());
  for (std::size_t k = 0; k < t.size(); ++k) e[static_cast<std::size_t>(ptr[t.row[k] - r0]++)] = {t.col[k], t.val[k]};
  for (index_t r = rows; r > 0; --r) ptr[r] = ptr[r - 1];
  ptr[0] = 0;
  // Then each row by column, with duplicates summed; only rows with entries do work.
  std::int64_t w = 0;
  std::vector<double> vals;
  vals.reserve(e.size());
  pat->col.reserve(e.size());
  for (index_t r = 0; r < rows; ++r) {
    const std::int64_t begin = ptr[r], end = ptr[r + 1];
    ptr[r] = w;
    if (begin == end) continue;
    if (end - begin > 1)
      std::sort(e.begin() + begin, e.begin() + end, [](const auto& a, const auto& b) { return a.first < b.first; });
    pat->col.push_back(e[begin].first);
    vals.push_back(e[begin].second);
    ++w;
    for (std::int64_t k = begin + 1; k < end; ++k) {
      if (e[k].first == pat->col.back()) {
        vals.back() += e[k].second;
      } else {
        pat->col.push_back(e[k].first);
        vals.push_back(e[k].second);
        ++w;
      }
    }
  }
  ptr[rows] = w;
  CsrTile tile;
  tile.values = Buffer(vals.size() * itemsize(dtype));
  convert(reinterpret_cast<const std::byte*>(vals.data()), DType::f64, tile.values.data(), dtype, vals.size());
  tile.pattern = std::move(pat);
  return tile;
}

std::vector<index_t> balanced_row_splits(const std::vector<std::int64_t>& counts, index_t n, int P) {
  const auto B = static_cast<index_t>(counts.size());
  std::vector<index_t> splits(static_cast<std::size_t>(P) + 1, n);
  splits[0] = 0;
  const std::int64_t total = std::accumulate(counts.begin(), counts.end(), std::int64_t{0});
  if (total == 0 || B == 0) return tiling::even_splits(n, P);
  std::int64_t seen = 0;
  int part = 1;
  for (index_t b = 0; b < B && part < P; ++b) {
    seen += counts[b];
    // Split after bucket b once this part has its share.
    while (part < P && seen * P >= total * part) {
      splits[part] = ((b + 1) * n + B - 1) / B;  // the first row of bucket b + 1
      ++part;
    }
  }
  for (int p = 1; p <= P; ++p) splits[p] = std::max(splits[p], splits[p - 1]);
  return splits;
}

Layout sparse_rows_layout(const Shape& shape, std::vector<index_t> row_splits) {
  const int P = static_cast<int>(row_splits.size()) - 1;
  std::vector<int> owners(P);
  std::iota(owners.begin(), owners.end(), 0);
  return Layout(shape, {std::move(row_splits), {0, shape[1]}}, std::move(owners));
}

DistArray sparse_from_tiles(const Layout& layout, DType dtype, std::vector<CsrTile> tiles, Communicator& comm) {
  const auto mine = layout.tiles_of(comm.rank());
  if (mine.size() != tiles.size()) throw std::logic_error("sparse_from_tiles: one tile per held tile expected");
  std::vector<std::int64_t> local(static_cast<std::size_t>(layout.num_tiles()), 0);
  for (std::size_t i = 0; i < mine.size(); ++i)
    if (layout.owner(mine[i]) == comm.rank()) local[mine[i]] = tiles[i].nnz();
  // Owned tiles are counted by their owner; replicated ones by every rank alike.
  std::vector<std::int64_t> nnz(local);
  comm.allreduce(nnz.data(), nnz.size(), backend::ReduceOp::sum);
  for (std::size_t i = 0; i < mine.size(); ++i)
    if (layout.owner(mine[i]) == tiling::kReplicated) nnz[mine[i]] = tiles[i].nnz();
  DistArray out = DistArray::sparse(layout, dtype, comm.rank(), std::move(nnz));
  for (std::size_t i = 0; i < mine.size(); ++i) {
    Tile& t = out.tiles()[i];
    t.csr = std::make_shared<const CsrTile>(std::move(tiles[i]));
  }
  return out;
}

DistArray sparse_from_triplets_local(const Shape& shape, DType dtype, Triplets t, Communicator& comm,
                                     const Layout* layout) {
  const int P = comm.size();
  const index_t n = shape[0];
  Layout l;
  if (layout) {
    l = *layout;
  } else {
    // Stored entries per bucket of rows, summed over ranks, decide the row splits.
    const index_t B = std::min<index_t>(n, index_t{1} << 18);
    std::vector<std::int64_t> counts(static_cast<std::size_t>(B), 0);
    for (std::size_t k = 0; k < t.size(); ++k) ++counts[static_cast<std::size_t>(t.row[k] * B / std::max<index_t>(n, 1))];
    if (P > 1 && B > 0) comm.allreduce(counts.data(), counts.size(), backend::ReduceOp::sum);
    std::vector<index_t> splits = balanced_row_splits(counts, n, P);
    if (P > 1) {
      // The entries of each part under the balanced and the even split, counted exactly
      // (buckets may hold several rows): the even split when it is within 2%.
      const std::vector<index_t> even = tiling::even_splits(n, P);
      std::vector<std::int64_t> parts(2 * static_cast<std::size_t>(P), 0);
      for (std::size_t k = 0; k < t.size(); ++k) {
        ++parts[static_cast<std::size_t>(std::upper_bound(splits.begin(), splits.end(), t.row[k]) - splits.begin() - 1)];
        ++parts[static_cast<std::size_t>(P + (std::upper_bound(even.begin(), even.end(), t.row[k]) - even.begin() - 1))];
      }
      comm.allreduce(parts.data(), parts.size(), backend::ReduceOp::sum);
      const std::int64_t heaviest = *std::max_element(parts.begin(), parts.begin() + P);
      const std::int64_t heaviest_even = *std::max_element(parts.begin() + P, parts.end());
      if (even_is_close(heaviest_even, heaviest)) splits = even;
    }
    l = sparse_rows_layout(shape, std::move(splits));
  }
  const auto& splits = l.splits(0);
  // Route every triplet to the owner of its row: (row, col, value) as 3 x 8 bytes.
  std::vector<std::int64_t> send_counts(P, 0), send_offsets(P, 0);
  auto owner_of = [&](std::int64_t r) {
    const auto it = std::upper_bound(splits.begin(), splits.end(), r);
    return l.owner(static_cast<int>(it - splits.begin()) - 1);
  };
  std::vector<int> dest(t.size());
  for (std::size_t k = 0; k < t.size(); ++k) {
    dest[k] = owner_of(t.row[k]);
    send_counts[dest[k]] += 24;
  }
  for (int r = 1; r < P; ++r) send_offsets[r] = send_offsets[r - 1] + send_counts[r - 1];
  std::vector<std::byte> send(static_cast<std::size_t>(send_offsets[P - 1] + send_counts[P - 1]));
  std::vector<std::int64_t> at(send_offsets);
  for (std::size_t k = 0; k < t.size(); ++k) {
    std::byte* p = send.data() + at[dest[k]];
    std::memcpy(p, &t.row[k], 8);
    std::memcpy(p + 8, &t.col[k], 8);
    std::memcpy(p + 16, &t.val[k], 8);
    at[dest[k]] += 24;
  }
  t = Triplets{};
  std::vector<std::int64_t> recv_counts;
  const std::vector<std::byte> recv = comm.alltoallv(send.data(), send_counts, send_offsets, recv_counts);
  send = {};
  Triplets got;
  const std::size_t m = recv.size() / 24;
  got.row.resize(m), got.col.resize(m), got.val.resize(m);
  for (std::size_t k = 0; k < m; ++k) {
    std::memcpy(&got.row[k], recv.data() + 24 * k, 8);
    std::memcpy(&got.col[k], recv.data() + 24 * k + 8, 8);
    std::memcpy(&got.val[k], recv.data() + 24 * k + 16, 8);
  }
  std::vector<CsrTile> tiles;
  const auto mine = l.tiles_of(comm.rank());
  for (int id : mine) {
    const Box b = l.tile_box(id);
    if (mine.size() == 1) {
      tiles.push_back(csr_from_triplets(b.lo[0], b.hi[0], got, dtype));
    } else {
      Triplets part;
      for (std::size_t k = 0; k < m; ++k)
        if (got.row[k] >= b.lo[0] && got.row[k] < b.hi[0]) {
          part.row.push_back(got.row[k]), part.col.push_back(got.col[k]), part.val.push_back(got.val[k]);
        }
      tiles.push_back(csr_from_triplets(b.lo[0], b.hi[0], part, dtype));
    }
  }
  return sparse_from_tiles(l, dtype, std::move(tiles), comm);
}

std::vector<double> values_as_double(const CsrTile& t, DType dtype) {
  std::vector<double> v(static_cast<std::size_t>(t.nnz()));
  convert(t.values.data(), dtype, reinterpret_cast<std::byte*>(v.data()), DType::f64, v.size());
  return v;
}

const double* double_values(const CsrTile& t, DType dtype, std::vector<double>& scratch) {
  if (dtype == DType::f64) return t.values.as<double>();
  scratch = values_as_double(t, dtype);
  return scratch.data();
}

CsrTile gather_sparse_whole(const DistArray& a, Communicator& comm) {
  const Layout& l = a.layout();
  const index_t n = a.shape()[0];
  // A replicated array: every rank has it already.
  if (l.is_replicated()) return *a.tiles().at(0).csr;
  auto pat = std::make_shared<CsrPattern>();
  CsrTile whole;
  // Each tile is sent by its owner (replicated tiles: by rank 0): per tile, its id, its
  // row counts, columns (global) and values (in the array's dtype).
  const std::size_t elem = itemsize(a.dtype());
  std::vector<std::int64_t> idx;   // [tile id, nnz, rows..., cols...]
  std::vector<std::byte> vals;
  for (const Tile& t : a.tiles()) {
    const int o = l.owner(t.id);
    if (o != comm.rank() && !(o == tiling::kReplicated && comm.rank() == 0)) continue;
    const CsrTile& c = *t.csr;
    idx.push_back(t.id);
    idx.push_back(c.nnz());
    idx.insert(idx.end(), c.pattern->row_ptr.begin(), c.pattern->row_ptr.end());
    for (std::int64_t k = 0; k < c.nnz(); ++k) idx.push_back(c.col()[k] + t.box.lo[1]);
    vals.insert(vals.end(), c.values.data(), c.values.data() + c.nnz() * elem);
  }
  const std::vector<std::int64_t> all_idx = comm.allgatherv(idx);
  const std::vector<std::byte> all_vals = comm.allgatherv(vals);
  // Assemble: rows per tile box (tiles of a rows-only layout cover disjoint rows).
  std::vector<std::int64_t> row_nnz(static_cast<std::size_t>(n), 0);
  struct Piece { int id; std::int64_t nnz; std::size_t at_idx; std::size_t at_val; };
  std::vector<Piece> pieces;
  for (std::size_t p = 0, v = 0; p < all_idx.size();) {
    const int id = static_cast<int>(all_idx[p]);
    const std::int64_t nz = all_idx[p + 1];
    const Box b = l.tile_box(id);
    pieces.push_back({id, nz, p, v});
    for (index_t r = 0; r < b.extent(0); ++r) row_nnz[b.lo[0] + r] = all_idx[p + 2 + r + 1] - all_idx[p + 2 + r];
    p += 2 + static_cast<std::size_t>(b.extent(0)) + 1 + static_cast<std::size_t>(nz);
    v += static_cast<std::size_t>(nz) * elem;
  }
  pat->row_ptr.assign(static_cast<std::size_t>(n) + 1, 0);
  for (index_t r = 0; r < n; ++r) pat->row_ptr[r + 1] = pat->row_ptr[r] + row_nnz[r];
  const std::int64_t total = pat->row_ptr[n];
  pat->col.resize(static_cast<std::size_t>(total));
  whole.values = Buffer(static_cast<std::size_t>(total) * elem);
  for (const Piece& pc : pieces) {
    const Box b = l.tile_box(pc.id);
    const std::int64_t* rp = all_idx.data() + pc.at_idx + 2;
    const std::int64_t* cols = rp + b.extent(0) + 1;
    const std::int64_t dst0 = pat->row_ptr[b.lo[0]];
    std::copy(cols, cols + pc.nnz, pat->col.begin() + dst0);
    if (pc.nnz > 0) std::memcpy(whole.values.data() + dst0 * elem, all_vals.data() + pc.at_val, pc.nnz * elem);
  }
  whole.pattern = std::move(pat);
  return whole;
}

void csr_to_dense(const CsrTile& t, DType dtype, index_t cols, std::byte* out) {
  const std::size_t elem = itemsize(dtype);
  const auto bytes = static_cast<std::size_t>(t.rows() * cols) * elem;
  if (bytes == 0) return;  // an empty tile may have no buffer
  std::memset(out, 0, bytes);
  const std::int64_t* rp = t.row_ptr();
  const std::int64_t* c = t.col();
  for (index_t r = 0; r < t.rows(); ++r)
    for (std::int64_t k = rp[r]; k < rp[r + 1]; ++k)
      std::memcpy(out + (r * cols + c[k]) * elem, t.values.data() + k * elem, elem);
}

CsrTile make_csr(std::shared_ptr<const CsrPattern> pattern, const void* values, std::size_t bytes) {
  CsrTile t;
  t.pattern = std::move(pattern);
  t.values = Buffer(bytes);
  if (bytes > 0) std::memcpy(t.values.data(), values, bytes);
  return t;
}

std::int64_t sparse_bytes(std::int64_t nnz, index_t rows, DType dtype) {
  return nnz * static_cast<std::int64_t>(8 + itemsize(dtype)) + (rows + 1) * 8;
}

namespace {

/// A vector read (or updated) at random positions is prefetched only when it is larger
/// than this: below it, it stays in the cache and the prefetches cost more than they
/// save (measured here: 20% slower on a 2 MB vector, 25% faster on a 16 MB one).
constexpr double kPrefetchFootprint = 8.0 * 1024 * 1024;

template <bool Prefetch>
void csr_times_vector(const std::int64_t* rp, const std::int64_t* c, const double* av, index_t r0, index_t r1,
                      const double* b, double* out) {
  constexpr std::int64_t ahead = 64;
  const std::int64_t end = rp[r1];
  for (index_t r = r0; r < r1; ++r) {
    double s0 = 0, s1 = 0;
    std::int64_t e = rp[r];
    const std::int64_t re = rp[r + 1];
    for (; e + 1 < re; e += 2) {
      if (Prefetch && e + ahead + 1 < end) {
        __builtin_prefetch(b + c[e + ahead]);
        __builtin_prefetch(b + c[e + ahead + 1]);
      }
      s0 += av[e] * b[c[e]];
      s1 += av[e + 1] * b[c[e + 1]];
    }
    if (e < re) s0 += av[e] * b[c[e]];
    out[r - r0] = s0 + s1;
  }
}

template <bool Prefetch>
void csr_t_times_vector(const std::int64_t* rp, const std::int64_t* c, const double* av, index_t r0, index_t r1,
                        const double* b, double* out) {
  constexpr std::int64_t ahead = 128;
  const std::int64_t end = rp[r1];
  for (index_t r = r0; r < r1; ++r) {
    const double br = b[r - r0];
    for (std::int64_t e = rp[r]; e < rp[r + 1]; ++e) {
      if (Prefetch && e + ahead < end) __builtin_prefetch(out + c[e + ahead], 1);
      out[c[e]] += av[e] * br;
    }
  }
}

}  // namespace

void csr_times_dense(const CsrTile& a, const double* av, index_t r0, index_t r1, const double* b, index_t k,
                     index_t cols, double* out) {
  const std::int64_t* rp = a.row_ptr();
  const std::int64_t* c = a.col();
  if (k == 1) {
    // x is read at random columns: once it leaves the cache, prefetching the entries a
    // few dozen ahead hides the memory latency the gather is bound by.
    if (8.0 * static_cast<double>(cols) > kPrefetchFootprint) csr_times_vector<true>(rp, c, av, r0, r1, b, out);
    else csr_times_vector<false>(rp, c, av, r0, r1, b, out);
    return;
  }
  for (index_t r = r0; r < r1; ++r) {
    double* o = out + (r - r0) * k;
    std::fill(o, o + k, 0.0);
    for (std::int64_t e = rp[r]; e < rp[r + 1]; ++e) {
      const double v = av[e];
      const double* br = b + c[e] * k;
      for (index_t j = 0; j < k; ++j) o[j] += v * br[j];
    }
  }
}

void csr_t_times_dense(const CsrTile& a, const double* av, index_t r0, index_t r1, const double* b, index_t k,
                       index_t cols, double* out) {
  const std::int64_t* rp = a.row_ptr();
  const std::int64_t* c = a.col();
  if (k == 1) {
    // The scattered updates miss the cache as the gathers of SpMV do once the output
    // leaves it: then prefetch far ahead (measured best near 128 entries here).
    if (8.0 * static_cast<double>(cols) > kPrefetchFootprint) csr_t_times_vector<true>(rp, c, av, r0, r1, b, out);
    else csr_t_times_vector<false>(rp, c, av, r0, r1, b, out);
    return;
  }
  for (index_t r = r0; r < r1; ++r) {
    const double* br = b + (r - r0) * k;
    for (std::int64_t e = rp[r]; e < rp[r + 1]; ++e) {
      double* o = out + c[e] * k;
      const double v = av[e];
      for (index_t j = 0; j < k; ++j) o[j] += v * br[j];
    }
  }
}

std::size_t ColumnSplit::bytes() const {
  return (local_row.size() + other_row.size()) * (2 * sizeof(std::int32_t) + sizeof(double));
}

namespace {

struct SplitEntry {
  std::weak_ptr<const std::byte> values;
  const std::byte* values_at = nullptr;
  std::weak_ptr<const CsrPattern> pattern;
  const CsrPattern* pattern_at = nullptr;
  index_t c0 = 0, c1 = 0;
  std::shared_ptr<const ColumnSplit> split;  // null: seen once
  std::uint64_t used = 0;
};

constexpr std::size_t kSplitCacheBytes = std::size_t{512} << 20;
constexpr std::size_t kSplitCacheEntries = 64;

std::shared_ptr<ColumnSplit> build_split(const CsrTile& a, DType dtype, index_t c0, index_t c1) {
  std::vector<double> scratch;
  const double* v = double_values(a, dtype, scratch);
  const std::int64_t* rp = a.row_ptr();
  const std::int64_t* c = a.col();
  auto s = std::make_shared<ColumnSplit>();
  s->c0 = c0;
  s->c1 = c1;
  std::int64_t local = 0;
  for (std::int64_t e = 0; e < a.nnz(); ++e) local += c[e] >= c0 && c[e] < c1;
  s->local_row.reserve(static_cast<std::size_t>(local));
  s->local_col.reserve(static_cast<std::size_t>(local));
  s->local_val.reserve(static_cast<std::size_t>(local));
  s->other_row.reserve(static_cast<std::size_t>(a.nnz() - local));
  s->other_col.reserve(static_cast<std::size_t>(a.nnz() - local));
  s->other_val.reserve(static_cast<std::size_t>(a.nnz() - local));
  for (index_t r = 0; r < a.rows(); ++r)
    for (std::int64_t e = rp[r]; e < rp[r + 1]; ++e) {
      if (c[e] >= c0 && c[e] < c1) {
        s->local_row.push_back(static_cast<std::int32_t>(r));
        s->local_col.push_back(static_cast<std::int32_t>(c[e] - c0));
        s->local_val.push_back(v[e]);
      } else {
        s->other_row.push_back(static_cast<std::int32_t>(r));
        s->other_col.push_back(static_cast<std::int32_t>(c[e]));
        s->other_val.push_back(v[e]);
      }
    }
  return s;
}

}  // namespace

std::shared_ptr<const ColumnSplit> column_split(const CsrTile& a, DType dtype, index_t cols, index_t c0, index_t c1) {
  constexpr index_t kMax = std::numeric_limits<std::int32_t>::max();
  if (a.nnz() == 0 || a.rows() > kMax || cols > kMax) return nullptr;
  // A split larger than the whole cache is never built (it would be built and dropped at every call).
  if (static_cast<std::size_t>(a.nnz()) * (2 * sizeof(std::int32_t) + sizeof(double)) > kSplitCacheBytes) return nullptr;
  static std::vector<SplitEntry> cache;
  static std::uint64_t clock = 0;
  // Drop the entries whose values are gone.
  cache.erase(std::remove_if(cache.begin(), cache.end(), [](const SplitEntry& e) { return e.values.expired(); }),
              cache.end());
  for (SplitEntry& e : cache) {
    const auto v = e.values.lock();
    if (v.get() != a.values.data() || e.values_at != a.values.data() || e.pattern_at != a.pattern.get() ||
        e.pattern.lock() != a.pattern || e.c0 != c0 || e.c1 != c1)
      continue;
    e.used = ++clock;
    if (!e.split) {
      e.split = build_split(a, dtype, c0, c1);
      // Keep the cache within its budget: the least recently used splits go first.
      for (;;) {
        std::size_t held = 0;
        SplitEntry* oldest = nullptr;
        for (SplitEntry& x : cache)
          if (x.split) {
            held += x.split->bytes();
            if (&x != &e && (!oldest || x.used < oldest->used)) oldest = &x;
          }
        if (held <= kSplitCacheBytes || !oldest) break;
        oldest->split.reset();
      }
    }
    return e.split;
  }
  if (cache.size() >= kSplitCacheEntries) {
    auto oldest = std::min_element(cache.begin(), cache.end(),
                                   [](const SplitEntry& x, const SplitEntry& y) { return x.used < y.used; });
    cache.erase(oldest);
  }
  SplitEntry e;
  e.values = a.values.watch();
  e.values_at = a.values.data();
  e.pattern = a.pattern;
  e.pattern_at = a.pattern.get();
  e.c0 = c0;
  e.c1 = c1;
  e.used = ++clock;
  cache.push_back(std::move(e));
  return nullptr;
}

void coo_t_times_vector(const std::int32_t* row, const std::int32_t* col, const double* val, std::size_t n,
                        const double* b, index_t cols, double* out) {
  if (8.0 * static_cast<double>(cols) > kPrefetchFootprint) {
    constexpr std::size_t ahead = 128;  // as csr_t_times_dense
    const std::size_t safe = n > ahead ? n - ahead : 0;
    std::size_t e = 0;
    for (; e < safe; ++e) {
      __builtin_prefetch(out + col[e + ahead], 1);
      out[col[e]] += val[e] * b[row[e]];
    }
    for (; e < n; ++e) out[col[e]] += val[e] * b[row[e]];
    return;
  }
  for (std::size_t e = 0; e < n; ++e) out[col[e]] += val[e] * b[row[e]];
}

void dense_times_csr(const double* d, index_t n, index_t ld, index_t c0, const CsrTile& a, const double* av, index_t m,
                     double* out) {
  const std::int64_t* rp = a.row_ptr();
  const std::int64_t* c = a.col();
  for (index_t i = 0; i < n; ++i) {
    double* o = out + i * m;
    const double* di = d + i * ld + c0;
    for (index_t r = 0; r < a.rows(); ++r) {
      const double x = di[r];
      if (x == 0) continue;
      for (std::int64_t e = rp[r]; e < rp[r + 1]; ++e) o[c[e]] += x * av[e];
    }
  }
}

void dense_times_csr_t(const double* d, index_t n, index_t dcols, const CsrTile& a, const double* av, double* out,
                       index_t ldo, index_t c0) {
  const std::int64_t* rp = a.row_ptr();
  const std::int64_t* c = a.col();
  for (index_t i = 0; i < n; ++i) {
    const double* di = d + i * dcols;
    for (index_t r = 0; r < a.rows(); ++r) {
      double s = 0;
      for (std::int64_t e = rp[r]; e < rp[r + 1]; ++e) s += di[c[e]] * av[e];
      out[i * ldo + c0 + r] = s;
    }
  }
}

namespace {
CsrTile from_eigen(const RowSparse& m, DType dtype) {
  auto pat = std::make_shared<CsrPattern>();
  pat->row_ptr.assign(m.outerIndexPtr(), m.outerIndexPtr() + m.rows() + 1);
  if (m.nonZeros() > 0) pat->col.assign(m.innerIndexPtr(), m.innerIndexPtr() + m.nonZeros());
  CsrTile t;
  t.values = Buffer(static_cast<std::size_t>(m.nonZeros()) * itemsize(dtype));
  convert(reinterpret_cast<const std::byte*>(m.valuePtr()), DType::f64, t.values.data(), dtype,
          static_cast<std::size_t>(m.nonZeros()));
  t.pattern = std::move(pat);
  return t;
}
}  // namespace

CsrTile csr_times_csr(const CsrTile& a, const double* av, index_t a_cols, const CsrTile& b, const double* bv,
                      index_t b_cols, DType dtype) {
  const RowSparseMap am(a.rows(), a_cols, a.nnz(), a.row_ptr(), a.col(), av);
  const RowSparseMap bm(b.rows(), b_cols, b.nnz(), b.row_ptr(), b.col(), bv);
  RowSparse prod = am * bm;
  prod.makeCompressed();
  return from_eigen(prod, dtype);
}

CsrTile csr_transpose(const CsrTile& a, const double* av, index_t cols) {
  const RowSparseMap am(a.rows(), cols, a.nnz(), a.row_ptr(), a.col(), av);
  RowSparse t = am.transpose();
  t.makeCompressed();
  return from_eigen(t, DType::f64);
}

Buffer gather_whole(const DistArray& a, Communicator& comm) {
  if (a.is_sparse()) {
    const CsrTile whole = gather_sparse_whole(a, comm);
    Buffer out(static_cast<std::size_t>(tiling::volume(a.shape())) * itemsize(a.dtype()));
    csr_to_dense(whole, a.dtype(), a.shape()[1], out.data());
    return out;
  }
  const Needs needs(comm.size(), std::vector<Box>{Box::whole(a.shape())});
  return std::move(gather_boxes(a, needs, comm)[0]);
}

}  // namespace spartanxx::detail
