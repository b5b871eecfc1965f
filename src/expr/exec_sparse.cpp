// Planning and running the steps that touch sparse matrices: maps that keep sparsity
// (run over each tile's stored values), reductions, products with dense and sparse
// operands, transposes, row slices and conversions. Sparse data lives in rows-only
// layouts (each tile spans every column, owned by one rank or replicated); the cost
// model counts stored entries (index and value) for sparse data, elements for dense.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "array/elementwise_kernels.hpp"
#include "array/sparse.hpp"
#include "expr/plan.hpp"
#include "mpi_backend/communicator.hpp"

namespace spartanxx::detail {
namespace {

bool rows_only(const Layout& l) { return !l.is_partial() && l.ndim() == 2 && l.tiles_along(1) == 1; }

/// Every rank that holds a tile of `by` needs the whole of an array of `shape`.
Needs whole_for_holders(const Layout& by, const Shape& shape, int P) {
  Needs needs(P);
  for (int r = 0; r < P; ++r)
    if (!by.tiles_of(r).empty()) needs[r].push_back(Box::whole(shape));
  return needs;
}

/// For each tile of `by` a rank holds, rows [r0, r1) of an array of `shape` (all of its
/// other axes); a 1-d array gives [r0, r1).
Needs rows_for_tiles(const Layout& by, const Shape& shape, int P) {
  Needs needs(P);
  for (int r = 0; r < P; ++r)
    for (int t : by.tiles_of(r)) {
      const Box tb = by.tile_box(t);
      Box b = Box::whole(shape);
      b.lo[0] = tb.lo[0];
      b.hi[0] = tb.hi[0];
      needs[r].push_back(b);
    }
  return needs;
}

/// For each tile of `by` a rank holds, the columns [r0, r1) of an array of `shape` (its
/// last axis) that meet the tile's rows [r0, r1).
Needs columns_for_tiles(const Layout& by, const Shape& shape, int P) {
  Needs needs(P);
  for (int r = 0; r < P; ++r)
    for (int t : by.tiles_of(r)) {
      const Box tb = by.tile_box(t);
      Box x = Box::whole(shape);
      x.lo.back() = tb.lo[0];
      x.hi.back() = tb.hi[0];
      needs[r].push_back(x);
    }
  return needs;
}

/// The same row splits for another shape whose axis 0 has the same extent.
Layout rows_like(const Layout& l, const Shape& shape) {
  if (l.is_replicated()) return Layout::replicated(shape);
  std::vector<std::vector<index_t>> splits{l.splits(0)};
  for (std::size_t a = 1; a < shape.size(); ++a) splits.push_back({0, shape[a]});
  return Layout(shape, std::move(splits), l.owners());
}

/// Bytes to give every rank holding a tile of `by` the whole of sparse `x`.
std::int64_t sparse_replicate_bytes(const Node& x, const Layout& xl, const Layout& by, int P) {
  if (xl.is_replicated()) return 0;
  std::int64_t holders = 0;
  for (int r = 0; r < P; ++r) holders += !by.tiles_of(r).empty();
  // Each holder receives what it lacks: on average all but its own share.
  const std::int64_t whole = sparse_bytes(x.nnz_estimate, x.shape[0], x.dtype);
  return holders * whole - (holders > 0 ? whole * std::min<std::int64_t>(holders, P) / P : 0);
}

/// An even rows-only layout for a computed sparse result.
Layout sparse_result_layout(const Shape& shape, int P) { return sparse_rows_layout(shape, tiling::even_splits(shape[0], P)); }

// ---- elementwise maps over stored values ----

int first_sparse(const std::vector<const Node*>& nodes) {
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i]->sparse) return static_cast<int>(i);
  return -1;
}

std::vector<const Node*> externals_of(const Region& r) { return {r.externals.begin(), r.externals.end()}; }

Plan plan_sparse_map(const Region& r, const InputLayouts& in, int P) {
  const int s = first_sparse(externals_of(r));
  Plan p;
  p.layout = *in[s];
  for (std::size_t i = 0; i < in.size(); ++i)
    if (!r.externals[i]->sparse)
      p.predicted_bytes +=
          tiling::bytes_to_gather(*in[i], broadcast_needs(p.layout, r.externals[i]->shape, P), itemsize(r.externals[i]->dtype));
  p.strategy = r.members.size() > 1 ? fmt::format("{} ops on stored values", r.members.size()) : "on stored values";
  return p;
}

/// The region over the stored values of each local tile: a sparse array with the
/// pattern of the region's sparse input.
DistArray run_sparse_map(const Region& r, const InputArrays& in, Communicator& comm) {
  const int s = first_sparse(externals_of(r));
  const DistArray& src = *in[s];
  const Layout& L = src.layout();
  const int P = comm.size();
  std::vector<std::vector<Buffer>> gathered(in.size());
  for (std::size_t i = 0; i < in.size(); ++i)
    if (!r.externals[i]->sparse) gathered[i] = gather_boxes(*in[i], broadcast_needs(L, in[i]->shape(), P), comm);
  DistArray out = DistArray::sparse(L, r.root->dtype, comm.rank(), src.tile_nnz());
  const index_t m = src.shape()[1];
  for (std::size_t t = 0; t < out.tiles().size(); ++t) {
    const Tile& st = src.tiles()[t];
    const CsrTile& c = *st.csr;
    const index_t nz = c.nnz();
    CsrTile res;
    res.pattern = c.pattern;
    res.values = Buffer(static_cast<std::size_t>(nz) * itemsize(r.root->dtype));
    if (nz > 0) {
      std::vector<MapInput> inputs;
      std::vector<Buffer> expanded;
      for (std::size_t i = 0; i < in.size(); ++i) {
        MapInput mi;
        mi.dtype = in[i]->dtype();
        const Shape& is = in[i]->shape();
        if (r.externals[i]->sparse) {
          mi.data = in[i]->tiles()[t].csr->values.data();
          mi.shape = {nz};
        } else if (tiling::volume(is) == 1) {
          mi.data = gathered[i][t].data();
          mi.shape = {1};
        } else {
          // The dense operand at the stored positions.
          const index_t in_rows = is.size() == 2 && is[0] != 1 ? c.rows() : 1;
          const index_t in_cols = is.back() != 1 ? m : 1;
          const std::size_t e = itemsize(mi.dtype);
          Buffer x(static_cast<std::size_t>(nz) * e);
          const std::byte* g = gathered[i][t].data();
          const std::int64_t* rp = c.row_ptr();
          const std::int64_t* col = c.col();
          for (index_t row = 0; row < c.rows(); ++row) {
            const index_t base = (in_rows == 1 ? 0 : row) * in_cols;
            for (std::int64_t k = rp[row]; k < rp[row + 1]; ++k)
              std::memcpy(x.data() + k * e, g + (base + (in_cols == 1 ? 0 : col[k])) * e, e);
          }
          mi.data = x.data();
          mi.shape = {nz};
          expanded.push_back(std::move(x));
        }
        inputs.push_back(std::move(mi));
      }
      fused_tile(r.program, res.values.data(), Shape{nz}, inputs);
    }
    out.tiles()[t].csr = std::make_shared<const CsrTile>(std::move(res));
  }
  return out;
}

// ---- reductions ----

/// NaN-propagating max / min, as NumPy's.
double combine(ReduceKind k, double acc, double v) {
  if (k == ReduceKind::sum) return acc + v;
  if (acc != acc) return acc;
  if (v != v) return v;
  return k == ReduceKind::max ? std::max(acc, v) : std::min(acc, v);
}

std::vector<Plan> plan_sparse_reduce(const Node& n, const Layout& L, int P) {
  const Shape& out = n.shape;
  Plan p;
  if (n.axis == 1) {
    p.layout = rows_like(L, {L.shape()[0]});
    p.strategy = "rows of stored entries";
    return {p};
  }
  if (L.is_replicated() || P == 1) {
    p.layout = Layout::replicated(out);
    return {p};
  }
  if (n.reduce_kind == ReduceKind::sum) {
    p.layout = Layout::partial(out);
    p.strategy = "partial sums of stored entries";
    return {p};
  }
  // max / min: partials (and stored-entry counts) combined by an allreduce.
  p.layout = Layout::replicated(out);
  p.predicted_bytes = 2 * tiling::bytes_to_move(Layout::partial(out), p.layout, P, 8);
  p.strategy = "allreduce of partials";
  return {p};
}

DistArray run_sparse_reduce(const Node& n, const DistArray& values, const Plan& p, Communicator& comm) {
  const ReduceKind k = n.reduce_kind;
  const index_t rows = values.shape()[0], cols = values.shape()[1];
  const DType vt = values.dtype();
  auto init = [&](index_t count, index_t extent) {
    // Implicit zeros take part in max / min when a line is not full.
    return k == ReduceKind::sum ? 0.0 : count < extent ? 0.0 : std::numeric_limits<double>::quiet_NaN();
  };
  std::vector<double> scratch;
  if (n.axis == 1) {
    DistArray out(p.layout, n.dtype, comm.rank());
    for (std::size_t t = 0; t < values.tiles().size(); ++t) {
      const CsrTile& c = *values.tiles()[t].csr;
      const double* v = double_values(c, vt, scratch);
      std::vector<double> acc(static_cast<std::size_t>(c.rows()));
      for (index_t r = 0; r < c.rows(); ++r) {
        const std::int64_t b = c.row_ptr()[r], e = c.row_ptr()[r + 1];
        double a = init(e - b, cols);
        for (std::int64_t q = b; q < e; ++q) a = (q == b && a != a) ? v[q] : combine(k, a, v[q]);
        acc[r] = a;
      }
      convert(reinterpret_cast<const std::byte*>(acc.data()), DType::f64, out.tiles()[t].data.data(), n.dtype, acc.size());
    }
    return out;
  }
  // Along columns (axis 0) or everything: this rank's partials over the tiles it owns
  // (replicated tiles: every rank has them all, and the result needs no combining).
  const index_t width = n.axis == 0 ? cols : 1;
  const bool local_all = values.layout().is_replicated() || comm.size() == 1;
  std::vector<double> acc(static_cast<std::size_t>(width), k == ReduceKind::sum ? 0.0 : std::numeric_limits<double>::quiet_NaN());
  std::vector<double> seen(static_cast<std::size_t>(width), 0);  // stored entries met, per output
  for (const Tile& tile : values.tiles()) {
    if (!local_all && values.layout().owner(tile.id) != comm.rank()) continue;
    const CsrTile& c = *tile.csr;
    const double* v = double_values(c, vt, scratch);
    for (std::int64_t q = 0; q < c.nnz(); ++q) {
      const std::size_t o = n.axis == 0 ? static_cast<std::size_t>(c.col()[q]) : 0;
      acc[o] = seen[o] == 0 && k != ReduceKind::sum ? v[q] : combine(k, acc[o], v[q]);
      seen[o] += 1;
    }
    if (local_all) break;  // a replicated array: one copy
  }
  if (k != ReduceKind::sum && !local_all) {
    // NaN marks "nothing stored yet" before combining; the counts say which are real.
    std::vector<double> lo(acc), hi(acc);
    for (std::size_t i = 0; i < acc.size(); ++i)
      if (seen[i] == 0) lo[i] = std::numeric_limits<double>::infinity(), hi[i] = -std::numeric_limits<double>::infinity();
    std::vector<double> nan_flag(acc.size());
    for (std::size_t i = 0; i < acc.size(); ++i) nan_flag[i] = seen[i] > 0 && acc[i] != acc[i];
    comm.allreduce(k == ReduceKind::max ? hi.data() : lo.data(), acc.size(),
                   k == ReduceKind::max ? backend::ReduceOp::max : backend::ReduceOp::min);
    comm.allreduce(seen.data(), seen.size(), backend::ReduceOp::sum);
    comm.allreduce(nan_flag.data(), nan_flag.size(), backend::ReduceOp::max);
    acc = k == ReduceKind::max ? hi : lo;
    for (std::size_t i = 0; i < acc.size(); ++i)
      if (nan_flag[i] > 0) acc[i] = std::numeric_limits<double>::quiet_NaN();
  }
  if (k != ReduceKind::sum) {
    const index_t extent = n.axis == 0 ? rows : rows * cols;
    for (std::size_t i = 0; i < acc.size(); ++i) {
      if (seen[i] < extent) acc[i] = seen[i] == 0 ? 0.0 : combine(k, acc[i], 0.0);
    }
  }
  DistArray out(p.layout, n.dtype, p.layout.is_partial() ? 0 : comm.rank());
  convert(reinterpret_cast<const std::byte*>(acc.data()), DType::f64, out.tiles()[0].data.data(), n.dtype, acc.size());
  return out;
}

// ---- products ----

enum DotCase { sparse_dense, sparse_t_dense, dense_sparse, dense_sparse_t, sparse_sparse, sparse_sparse_whole };

DotCase dot_case(const Node& a, const Node& b, DotFold fold) {
  if (a.sparse && b.sparse) return fold[0] || fold[1] ? sparse_sparse_whole : sparse_sparse;
  if (a.sparse) return fold[0] ? sparse_t_dense : sparse_dense;
  return fold[1] ? dense_sparse_t : dense_sparse;
}

/// Whether sparseᵀ·vector may send partial sums while it computes (run_overlapped_t_dot):
/// a float64 vector result, 2 to 16 ranks (more go by the reduce-scatter of partials),
/// parts below 2 GiB.
bool overlapped_applies(const Node& n, int P) {
  if (P < 2 || P > 16 || n.shape.size() != 1 || n.dtype != DType::f64) return false;
  // Each part is one message when the ranks span nodes: its bytes must fit an int.
  return (n.shape[0] + P - 1) / P * 8 <= std::numeric_limits<int>::max();
}

std::vector<Plan> plan_sparse_dot(const Node& n, const std::vector<const Node*>& nodes, const InputLayouts& in, DotFold fold,
                                  int P) {
  const Node& a = *nodes[0];
  const Node& b = *nodes[1];
  std::vector<Plan> opts;
  Plan p;
  switch (dot_case(a, b, fold)) {
    case sparse_dense: {
      const Layout& L = *in[0];
      p.layout = rows_like(L, n.shape);
      p.predicted_bytes = tiling::bytes_to_gather(*in[1], whole_for_holders(L, b.shape, P), itemsize(b.dtype));
      p.strategy = "sparse rows x whole dense";
      opts.push_back(p);
      break;
    }
    case sparse_t_dense: {
      const Layout& L = *in[0];
      if (L.is_replicated()) {
        p.layout = Layout::replicated(n.shape);
        p.predicted_bytes = tiling::bytes_to_gather(*in[1], whole_for_holders(L, b.shape, P), itemsize(b.dtype));
      } else {
        p.layout = P == 1 ? Layout::replicated(n.shape) : Layout::partial(n.shape);
        p.predicted_bytes = tiling::bytes_to_gather(*in[1], rows_for_tiles(L, b.shape, P), itemsize(b.dtype));
        // A float64 vector result split by rows among a few ranks: each rank sends the
        // other ranks' partial sums as soon as they are computed and computes its own
        // columns meanwhile (the same bytes as a reduce-scatter of the partial sums).
        if (overlapped_applies(n, P)) {
          Plan q;
          q.layout = Layout::rows(n.shape, P);
          q.predicted_bytes = p.predicted_bytes + tiling::bytes_to_move(p.layout, q.layout, P, 8);
          q.strategy = "transposed sparse rows x dense rows: others' partial sums sent while this rank's are computed";
          q.variant = 1;
          opts.push_back(q);
        }
      }
      p.strategy = "transposed sparse rows x dense rows: partial sums";
      opts.push_back(p);
      break;
    }
    case dense_sparse: {
      const Layout& L = *in[1];
      // (1) each rank multiplies the columns of a that meet its rows of b: partial sums.
      if (!L.is_replicated() && P > 1) {
        p.layout = Layout::partial(n.shape);
        p.predicted_bytes = tiling::bytes_to_gather(*in[0], columns_for_tiles(L, a.shape, P), itemsize(a.dtype));
        p.strategy = "dense columns x sparse rows: partial sums";
        p.variant = 0;
        opts.push_back(p);
      }
      // (2) the sparse matrix replicated where a's rows are.
      if (a.shape.size() == 2) {
        Plan q;
        const Layout& A = *in[0];
        q.layout = rows_only(A) || A.is_replicated() ? rows_like(A, n.shape) : Layout::rows(n.shape, P);
        const Layout al = rows_like(q.layout, a.shape);
        q.predicted_bytes = tiling::bytes_to_gather(A, tiling::needs_of(al, P), itemsize(a.dtype)) +
                            sparse_replicate_bytes(b, L, q.layout, P);
        q.strategy = "dense rows x replicated sparse";
        q.variant = 1;
        opts.push_back(q);
      } else if (L.is_replicated() || P == 1) {
        Plan q;
        q.layout = Layout::replicated(n.shape);
        q.predicted_bytes = tiling::bytes_to_gather(*in[0], whole_for_holders(L, a.shape, P), itemsize(a.dtype));
        q.variant = 1;
        opts.push_back(q);
      }
      break;
    }
    case dense_sparse_t: {
      const Layout& L = *in[1];
      // Column block j of the result is a · (rows j of b)ᵀ.
      if (L.is_replicated()) {
        p.layout = Layout::replicated(n.shape);
      } else {
        std::vector<std::vector<index_t>> splits;
        if (n.shape.size() == 2) splits.push_back({0, n.shape[0]});
        splits.push_back(L.splits(0));
        p.layout = Layout(n.shape, splits, L.owners());
      }
      p.predicted_bytes = tiling::bytes_to_gather(*in[0], whole_for_holders(L, a.shape, P), itemsize(a.dtype));
      p.strategy = "whole dense x transposed sparse rows";
      opts.push_back(p);
      break;
    }
    case sparse_sparse: {
      const Layout& L = *in[0];
      p.layout = rows_like(L, n.shape);
      p.predicted_bytes = sparse_replicate_bytes(b, *in[1], L, P);
      p.strategy = "sparse rows x replicated sparse";
      opts.push_back(p);
      break;
    }
    case sparse_sparse_whole: {
      p.layout = Layout::replicated(n.shape);
      const Layout all = Layout::replicated(n.shape);
      p.predicted_bytes = sparse_replicate_bytes(a, *in[0], all, P) + sparse_replicate_bytes(b, *in[1], all, P);
      p.strategy = "both sparse operands replicated";
      opts.push_back(p);
      break;
    }
  }
  return opts;
}

/// Values of a dense operand as float64 (a copy unless they are).
const double* as_double(const Buffer& b, DType dt, index_t count, std::vector<double>& scratch) {
  if (dt == DType::f64) return b.as<double>();
  scratch.resize(static_cast<std::size_t>(count));
  convert(b.data(), dt, reinterpret_cast<std::byte*>(scratch.data()), DType::f64, scratch.size());
  return scratch.data();
}

void store(const std::vector<double>& v, Buffer& dst, DType dt) {
  convert(reinterpret_cast<const std::byte*>(v.data()), DType::f64, dst.data(), dt, v.size());
}

/// A whole sparse operand on this rank (its only tile when replicated), float64 values,
/// transposed when `transpose`.
CsrTile whole_sparse(const DistArray& x, bool transpose, Communicator& comm) {
  CsrTile w = gather_sparse_whole(x, comm);
  std::vector<double> scratch;
  const double* v = double_values(w, x.dtype(), scratch);
  if (transpose) return csr_transpose(w, v, x.shape()[1]);
  if (x.dtype() == DType::f64) return w;
  return make_csr(w.pattern, scratch.data(), scratch.size() * 8);
}

/// A 1-d layout whose every tile one rank owns (not replicated, not partial sums).
bool split_among_ranks(const Layout& l) {
  if (l.is_partial() || l.ndim() != 1) return false;
  for (int t = 0; t < l.num_tiles(); ++t)
    if (l.owner(t) == tiling::kReplicated) return false;
  return true;
}

/// Gathers the whole of a float64 vector split among the ranks (split_among_ranks) into
/// `whole` through the node-shared memory: each rank copies its tiles there and, after a
/// fence, copies the others' parts out (a private copy: the product's random reads then
/// stay in this core's cache). False when the ranks span nodes (then gather_boxes).
/// Counted as the messages of gather_boxes would be: the ranks with `needs` receive the
/// parts they lack from their owners.
bool shared_gather_whole(const DistArray& v, const Needs& needs, double* whole, Communicator& comm) {
  const index_t m = v.shape()[0];
  const std::vector<std::byte*>& shared = comm.node_segments(static_cast<std::size_t>(m) * 8);  // collective
  if (shared.empty()) return false;
  auto* at = reinterpret_cast<double*>(shared[0]);
  const int me = comm.rank(), P = comm.size();
  index_t own = 0;
  for (const Tile& t : v.tiles()) {
    const index_t len = t.box.extent(0);
    if (len > 0) std::memcpy(at + t.box.lo[0], t.data.as<double>(), static_cast<std::size_t>(len) * 8);
    own += len;
  }
  comm.node_fence();
  const bool reads = !needs[static_cast<std::size_t>(me)].empty();
  std::vector<char> sends(static_cast<std::size_t>(P), 0);  // the ranks this one reads from
  if (reads) {
    const Layout& l = v.layout();
    for (int t = 0; t < l.num_tiles(); ++t) {
      const Box b = l.tile_box(t);
      if (b.volume() == 0) continue;
      const double* from = l.owner(t) == me ? v.find(t)->data.as<double>() : at + b.lo[0];
      std::memcpy(whole + b.lo[0], from, static_cast<std::size_t>(b.volume()) * 8);
      if (l.owner(t) != me) sends[static_cast<std::size_t>(l.owner(t))] = 1;
    }
  }
  comm.node_fence();  // every rank has copied out before any writes the segments again
  std::int64_t readers = 0;
  for (int r = 0; r < P; ++r) readers += r != me && !needs[static_cast<std::size_t>(r)].empty();
  const std::int64_t owners = std::count(sends.begin(), sends.end(), 1);
  comm.count_shared(own > 0 ? readers * own * 8 : 0, reads ? (m - own) * 8 : 0, own > 0 ? readers : 0, owners);
  return true;
}

/// g = Aᵀ r into Layout::rows(g's shape, P), A split by rows (plan variant 1 of
/// sparseᵀ·dense). Each rank adds its rows' contributions to the columns other ranks
/// own into a full-length buffer, then those to its own columns straight into its tile,
/// and last adds what the others computed for its columns:
/// - when every rank runs on one node, the buffers are node-shared memory and each rank
///   reads the others' parts for its columns directly (no messages, no copies);
/// - otherwise the parts are posted to their owners before the own columns are computed,
///   and the messages progress meanwhile.
/// A tile whose values were seen before uses its column split (entries regrouped by
/// column range, built once); otherwise the whole product goes to the buffer first.
/// Either way the exchange is the same, so ranks need not agree on which.
DistArray run_overlapped_t_dot(const Node& b, const InputArrays& in, const Plan& p, Communicator& comm) {
  const DistArray& A = *in[0];
  const int P = comm.size(), me = comm.rank();
  const index_t m = A.shape()[1];
  const auto g = gather_boxes(*in[1], rows_for_tiles(A.layout(), b.shape, P), comm);
  std::vector<index_t> lo(static_cast<std::size_t>(P), 0), hi(static_cast<std::size_t>(P), 0);
  for (int t = 0; t < p.layout.num_tiles(); ++t) {
    const Box tb = p.layout.tile_box(t);
    lo[static_cast<std::size_t>(p.layout.owner(t))] = tb.lo[0];
    hi[static_cast<std::size_t>(p.layout.owner(t))] = tb.hi[0];
  }
  const index_t c0 = lo[static_cast<std::size_t>(me)], c1 = hi[static_cast<std::size_t>(me)], mine = c1 - c0;
  const std::size_t T = A.tiles().size();
  DistArray out;
  Buffer acc, got;
  std::vector<std::vector<double>> xs(T), vs(T);
  std::vector<const double*> x(T), av(T);
  std::vector<std::shared_ptr<const ColumnSplit>> split(T);
  bool all_split = T > 0;
  const std::vector<std::byte*>& shared = comm.node_segments(static_cast<std::size_t>(m) * 8);  // collective
  std::exception_ptr local_error;
  try {
    out = DistArray(p.layout, DType::f64, me);
    if (shared.empty()) {
      acc = Buffer(static_cast<std::size_t>(m) * 8);
      got = Buffer(static_cast<std::size_t>((P - 1) * mine) * 8);
    }
    for (std::size_t t = 0; t < T; ++t) {
      const CsrTile& c = *A.tiles()[t].csr;
      x[t] = as_double(g[t], b.dtype, c.rows(), xs[t]);
      split[t] = column_split(c, A.dtype(), m, c0, c1);
      all_split = all_split && split[t];
    }
    if (!all_split)
      for (std::size_t t = 0; t < T; ++t) av[t] = double_values(*A.tiles()[t].csr, A.dtype(), vs[t]);
  } catch (...) {
    local_error = std::current_exception();
  }
  comm.agree(local_error);
  double* a = shared.empty() ? acc.as<double>() : reinterpret_cast<double*>(shared[static_cast<std::size_t>(me)]);
  double* o = mine > 0 ? out.tiles()[0].data.as<double>() : nullptr;
  // The others' columns.
  if (all_split) {
    std::fill(a, a + c0, 0.0);
    std::fill(a + c1, a + m, 0.0);
    for (std::size_t t = 0; t < T; ++t)
      coo_t_times_vector(split[t]->other_row.data(), split[t]->other_col.data(), split[t]->other_val.data(),
                         split[t]->other_row.size(), x[t], m, a);
  } else {
    std::fill(a, a + m, 0.0);
    for (std::size_t t = 0; t < T; ++t) {
      const CsrTile& c = *A.tiles()[t].csr;
      csr_t_times_dense(c, av[t], 0, c.rows(), x[t], 1, m, a);
    }
  }
  constexpr int kTag = 11;
  std::vector<MPI_Request> requests;
  int slot = 0;
  if (shared.empty()) {
    for (int q = 0; q < P; ++q)
      if (q != me && mine > 0) comm.irecv_bytes(got.as<double>() + slot++ * mine, mine * 8, q, kTag, requests);
    for (int q = 0; q < P; ++q) {
      const index_t len = hi[static_cast<std::size_t>(q)] - lo[static_cast<std::size_t>(q)];
      if (q != me && len > 0) comm.isend_bytes(a + lo[static_cast<std::size_t>(q)], len * 8, q, kTag, requests);
    }
  }
  // This rank's columns, driving the messages meanwhile.
  if (all_split) {
    std::fill(o, o + mine, 0.0);
    bool done = requests.empty();
    constexpr std::size_t kChunk = 16384;  // entries between two progress calls
    for (std::size_t t = 0; t < T; ++t) {
      const ColumnSplit& s = *split[t];
      for (std::size_t e0 = 0; e0 < s.local_row.size(); e0 += kChunk) {
        const std::size_t e1 = std::min(s.local_row.size(), e0 + kChunk);
        coo_t_times_vector(s.local_row.data() + e0, s.local_col.data() + e0, s.local_val.data() + e0, e1 - e0, x[t],
                           mine, o);
        if (!done) done = comm.test_all(requests);
      }
    }
  } else if (mine > 0) {
    std::memcpy(o, a + c0, static_cast<std::size_t>(mine) * 8);
  }
  // The others' contributions to this rank's columns.
  if (shared.empty()) {
    comm.wait_all(requests);
    for (int k = 0; k < slot; ++k) {
      const double* r = got.as<double>() + k * mine;
      for (index_t i = 0; i < mine; ++i) o[i] += r[i];
    }
    return out;
  }
  comm.node_fence();
  for (int q = 0; q < P; ++q) {
    if (q == me) continue;
    const double* r = reinterpret_cast<const double*>(shared[static_cast<std::size_t>(q)]) + c0;
    for (index_t i = 0; i < mine; ++i) o[i] += r[i];
  }
  comm.node_fence();  // every rank has read before any writes the segments again
  std::int64_t readers = 0;
  for (int q = 0; q < P; ++q) readers += q != me && hi[static_cast<std::size_t>(q)] > lo[static_cast<std::size_t>(q)];
  comm.count_shared((m - mine) * 8, (P - 1) * mine * 8, readers, mine > 0 ? P - 1 : 0);
  return out;
}

DistArray run_sparse_dot(const Node& n, const std::vector<const Node*>& nodes, const InputArrays& in, DotFold fold,
                         const Plan& p, Communicator& comm) {
  const Node& a = *nodes[0];
  const Node& b = *nodes[1];
  const int P = comm.size();
  std::vector<double> s1, s2;
  const index_t k = n.shape.size() == 2 ? n.shape[1] : 1;
  switch (dot_case(a, b, fold)) {
    case sparse_dense: {
      const DistArray& A = *in[0];
      if (k == 1 && b.dtype == DType::f64 && n.dtype == DType::f64 && P > 1 && split_among_ranks(in[1]->layout())) {
        DistArray out;
        Buffer whole;
        comm.run_agreed([&] {
          out = DistArray(p.layout, n.dtype, comm.rank());
          whole = Buffer(static_cast<std::size_t>(b.shape[0]) * 8);
        });
        const Needs needs = whole_for_holders(A.layout(), b.shape, P);
        if (shared_gather_whole(*in[1], needs, whole.as<double>(), comm)) {
          for (std::size_t t = 0; t < A.tiles().size(); ++t) {
            const CsrTile& c = *A.tiles()[t].csr;
            csr_times_dense(c, double_values(c, A.dtype(), s1), 0, c.rows(), whole.as<double>(), 1, A.shape()[1],
                            out.tiles()[t].data.as<double>());
          }
          return out;
        }
      }
      const auto g = gather_boxes(*in[1], whole_for_holders(A.layout(), b.shape, P), comm);
      DistArray out(p.layout, n.dtype, comm.rank());
      const double* x = g.empty() ? nullptr : as_double(g[0], b.dtype, tiling::volume(b.shape), s2);
      for (std::size_t t = 0; t < A.tiles().size(); ++t) {
        const CsrTile& c = *A.tiles()[t].csr;
        const double* av = double_values(c, A.dtype(), s1);
        if (n.dtype == DType::f64) {
          csr_times_dense(c, av, 0, c.rows(), x, k, A.shape()[1], out.tiles()[t].data.as<double>());
          continue;
        }
        std::vector<double> y(static_cast<std::size_t>(c.rows() * k));
        csr_times_dense(c, av, 0, c.rows(), x, k, A.shape()[1], y.data());
        store(y, out.tiles()[t].data, n.dtype);
      }
      return out;
    }
    case sparse_t_dense: {
      if (p.variant == 1) return run_overlapped_t_dot(b, in, p, comm);
      const DistArray& A = *in[0];
      const Layout& L = A.layout();
      const bool whole = L.is_replicated();
      const auto g = gather_boxes(*in[1], whole ? whole_for_holders(L, b.shape, P) : rows_for_tiles(L, b.shape, P), comm);
      const index_t m = A.shape()[1];
      DistArray out(p.layout, n.dtype, p.layout.is_partial() ? 0 : comm.rank());
      std::vector<double> scratch_acc;
      double* acc = n.dtype == DType::f64 ? out.tiles()[0].data.as<double>()
                                          : (scratch_acc.resize(static_cast<std::size_t>(m * k)), scratch_acc.data());
      std::fill(acc, acc + m * k, 0.0);
      for (std::size_t t = 0; t < A.tiles().size(); ++t) {
        const CsrTile& c = *A.tiles()[t].csr;
        const Box tb = L.tile_box(A.tiles()[t].id);
        const double* x = as_double(g[whole ? 0 : t], b.dtype, (whole ? b.shape[0] : tb.extent(0)) * k, s2);
        if (whole) x += tb.lo[0] * k;  // the rows of this tile
        // A vector product on a tile seen before: its entries as one column group.
        if (const auto s = k == 1 ? column_split(c, A.dtype(), m, 0, m) : nullptr) {
          coo_t_times_vector(s->local_row.data(), s->local_col.data(), s->local_val.data(), s->local_row.size(), x, m,
                             acc);
          continue;
        }
        csr_t_times_dense(c, double_values(c, A.dtype(), s1), 0, c.rows(), x, k, m, acc);
      }
      if (n.dtype != DType::f64) store(scratch_acc, out.tiles()[0].data, n.dtype);
      return out;
    }
    case dense_sparse: {
      const DistArray& B = *in[1];
      const Layout& L = B.layout();
      const index_t m = n.shape.back();
      const index_t arows = a.shape.size() == 2 ? a.shape[0] : 1;
      const index_t kk = a.shape.back();
      if (p.variant == 0) {
        const auto g = gather_boxes(*in[0], columns_for_tiles(L, a.shape, P), comm);
        std::vector<double> acc(static_cast<std::size_t>(arows * m), 0.0);
        for (std::size_t t = 0; t < B.tiles().size(); ++t) {
          const CsrTile& c = *B.tiles()[t].csr;
          const double* bv = double_values(c, B.dtype(), s1);
          const double* x = as_double(g[t], a.dtype, arows * c.rows(), s2);
          dense_times_csr(x, arows, c.rows(), 0, c, bv, m, acc.data());
        }
        DistArray out(p.layout, n.dtype, 0);
        store(acc, out.tiles()[0].data, n.dtype);
        return out;
      }
      const CsrTile w = whole_sparse(B, false, comm);
      const Layout al = a.shape.size() == 2 ? rows_like(p.layout, a.shape) : Layout::replicated(a.shape);
      const auto g = gather_boxes(*in[0], tiling::needs_of(al, P), comm);
      DistArray out(p.layout, n.dtype, comm.rank());
      for (std::size_t t = 0; t < out.tiles().size(); ++t) {
        const index_t rows = a.shape.size() == 2 ? out.tiles()[t].box.extent(0) : 1;
        const double* x = as_double(g[t], a.dtype, rows * kk, s2);
        std::vector<double> acc(static_cast<std::size_t>(rows * m), 0.0);
        dense_times_csr(x, rows, kk, 0, w, w.values.as<double>(), m, acc.data());
        store(acc, out.tiles()[t].data, n.dtype);
      }
      return out;
    }
    case dense_sparse_t: {
      const DistArray& B = *in[1];
      const Layout& L = B.layout();
      const auto g = gather_boxes(*in[0], whole_for_holders(L, a.shape, P), comm);
      const index_t arows = a.shape.size() == 2 ? a.shape[0] : 1;
      const index_t kk = a.shape.back();
      DistArray out(p.layout, n.dtype, comm.rank());
      const double* x = g.empty() ? nullptr : as_double(g[0], a.dtype, arows * kk, s2);
      for (std::size_t t = 0; t < B.tiles().size(); ++t) {
        const CsrTile& c = *B.tiles()[t].csr;
        const double* bv = double_values(c, B.dtype(), s1);
        std::vector<double> acc(static_cast<std::size_t>(arows * c.rows()));
        dense_times_csr_t(x, arows, kk, c, bv, acc.data(), c.rows(), 0);
        store(acc, out.tiles()[t].data, n.dtype);
      }
      return out;
    }
    case sparse_sparse: {
      const DistArray& A = *in[0];
      const CsrTile w = whole_sparse(*in[1], false, comm);
      std::vector<CsrTile> tiles;
      for (const Tile& t : A.tiles()) {
        const CsrTile& c = *t.csr;
        tiles.push_back(csr_times_csr(c, double_values(c, A.dtype(), s1), A.shape()[1], w, w.values.as<double>(),
                                      b.shape[1], n.dtype));
      }
      return sparse_from_tiles(p.layout, n.dtype, std::move(tiles), comm);
    }
    case sparse_sparse_whole: {
      const CsrTile wa = whole_sparse(*in[0], fold[0], comm);
      const CsrTile wb = whole_sparse(*in[1], fold[1], comm);
      std::vector<CsrTile> tiles;
      tiles.push_back(csr_times_csr(wa, wa.values.as<double>(), a.shape[fold[0] ? 0 : 1], wb, wb.values.as<double>(),
                                    n.shape[1], n.dtype));
      return sparse_from_tiles(p.layout, n.dtype, std::move(tiles), comm);
    }
  }
  throw std::logic_error("run_sparse_dot: unknown case");
}

// ---- transpose, row slices, conversions ----

/// Output row range [j0, j1) of a row slice that reads input rows [r0, r1).
std::pair<index_t, index_t> slice_rows(const AxisSlice& s, index_t r0, index_t r1) {
  // j with start + j*step in [r0, r1), clamped to [0, length).
  auto first_at_least = [&](index_t bound) -> index_t {  // step > 0: least j with start + j*step >= bound
    if (s.start >= bound) return 0;
    return (bound - s.start + s.step - 1) / s.step;
  };
  auto first_below = [&](index_t bound) -> index_t {  // step < 0: least j with start + j*step < bound
    if (s.start < bound) return 0;
    const index_t st = -s.step;
    return (s.start - bound) / st + 1;
  };
  index_t j0, j1;
  if (s.step > 0) {
    j0 = first_at_least(r0), j1 = first_at_least(r1);
  } else {
    j0 = first_below(r1), j1 = first_below(r0);
  }
  j0 = std::clamp<index_t>(j0, 0, s.length);
  j1 = std::clamp<index_t>(j1, j0, s.length);
  return {j0, j1};
}

Layout slice_layout(const Node& n, const Layout& L) {
  if (L.is_replicated()) return Layout::replicated(n.shape);
  const AxisSlice& s = n.slices[0];
  struct Part { index_t j0, j1; int owner; };
  std::vector<Part> parts;
  for (int t = 0; t < L.num_tiles(); ++t) {
    const Box b = L.tile_box(t);
    const auto [j0, j1] = slice_rows(s, b.lo[0], b.hi[0]);
    parts.push_back({j0, j1, L.owner(t)});
  }
  if (s.step < 0) std::reverse(parts.begin(), parts.end());
  std::vector<index_t> splits{0};
  std::vector<int> owners;
  for (const Part& q : parts) {
    splits.push_back(std::max(splits.back(), q.j1));
    owners.push_back(q.owner);
  }
  splits.back() = n.shape[0];
  return Layout(n.shape, {splits, {0, n.shape[1]}}, owners);
}

}  // namespace

bool is_sparse_step(const Node& n, const Region* region, const std::vector<const Node*>& inputs) {
  if (n.sparse || (region && region->root->sparse)) return true;
  for (const Node* x : inputs)
    if (x->sparse) return true;
  return false;
}

std::vector<Plan> sparse_options(const Node& n, const Region* region, DotFold fold, const std::vector<const Node*>& inputs,
                                 const InputLayouts& in, int P) {
  if (region && n.op != Op::reduce) return {plan_sparse_map(*region, in, P)};
  if (n.op == Op::reduce) {
    if (!region) return plan_sparse_reduce(n, *in[0], P);
    const Plan map = plan_sparse_map(*region, in, P);
    std::vector<Plan> opts = plan_sparse_reduce(n, map.layout, P);
    for (Plan& p : opts) {
      p.predicted_bytes += map.predicted_bytes;
      p.strategy = fmt::format("{} of {}", p.strategy.empty() ? "reduced" : p.strategy, region->label());
    }
    return opts;
  }
  Plan p;
  switch (n.op) {
    case Op::dot: return plan_sparse_dot(n, inputs, in, fold, P);
    case Op::transpose:
      p.layout = sparse_result_layout(n.shape, P);
      // Each stored entry travels as a (row, column, value) triplet of 24 bytes, to the
      // owner of its row of the transpose: a share (P - 1) / P of them leave their rank.
      p.predicted_bytes = in[0]->is_replicated() ? 0 : inputs[0]->nnz_estimate * 24 * (P - 1) / P;
      p.strategy = "entries routed to their rows of the transpose";
      return {p};
    case Op::slice:
      p.layout = slice_layout(n, *in[0]);
      p.strategy = "rows kept in place";
      return {p};
    case Op::todense:
      p.layout = *in[0];
      return {p};
    case Op::to_sparse: {
      const Layout& D = *in[0];
      p.layout = D.is_replicated() ? D : rows_only(D) ? D : sparse_result_layout(n.shape, P);
      p.predicted_bytes = p.layout == D ? 0 : tiling::bytes_to_gather(D, tiling::needs_of(p.layout, P), itemsize(n.dtype));
      return {p};
    }
    default: break;
  }
  throw std::logic_error(fmt::format("sparse_options: {} is not a sparse step", n.label()));
}

DistArray exec_sparse(const Node& n, const Region* region, DotFold fold, const std::vector<const Node*>& inputs,
                      const InputArrays& in, const Plan& p, Communicator& comm) {
  if (region && n.op != Op::reduce) return run_sparse_map(*region, in, comm);
  if (n.op == Op::reduce) {
    if (region) {
      const DistArray values = run_sparse_map(*region, in, comm);
      return run_sparse_reduce(n, values, p, comm);
    }
    return run_sparse_reduce(n, *in[0], p, comm);
  }
  switch (n.op) {
    case Op::dot: return run_sparse_dot(n, inputs, in, fold, p, comm);
    case Op::transpose: {
      const DistArray& A = *in[0];
      Triplets t;
      std::vector<double> s;
      for (const Tile& tile : A.tiles()) {
        const int o = A.layout().owner(tile.id);
        if (o != comm.rank() && !(o == tiling::kReplicated && comm.rank() == 0)) continue;
        const CsrTile& c = *tile.csr;
        const double* v = double_values(c, A.dtype(), s);
        for (index_t r = 0; r < c.rows(); ++r)
          for (std::int64_t q = c.row_ptr()[r]; q < c.row_ptr()[r + 1]; ++q) {
            t.row.push_back(c.col()[q]), t.col.push_back(tile.box.lo[0] + r), t.val.push_back(v[q]);
          }
      }
      return sparse_from_triplets_local(n.shape, n.dtype, std::move(t), comm, &p.layout);
    }
    case Op::slice: {
      const DistArray& A = *in[0];
      const AxisSlice& s = n.slices[0];
      std::vector<CsrTile> tiles;
      const std::size_t e = itemsize(n.dtype);
      for (int id : p.layout.tiles_of(comm.rank())) {
        const Box ob = p.layout.tile_box(id);
        // The input tile holding these output rows (tiles in reverse for a negative step).
        const int nt = A.layout().num_tiles();
        const Tile* src = A.layout().is_replicated() ? &A.tiles()[0] : A.find(s.step > 0 ? id : nt - 1 - id);
        auto pat = std::make_shared<CsrPattern>();
        std::vector<std::byte> vals;
        if (src) {
          const CsrTile& c = *src->csr;
          for (index_t j = ob.lo[0]; j < ob.hi[0]; ++j) {
            const index_t r = s.start + j * s.step - src->box.lo[0];
            const std::int64_t b = c.row_ptr()[r], en = c.row_ptr()[r + 1];
            pat->col.insert(pat->col.end(), c.col() + b, c.col() + en);
            vals.insert(vals.end(), c.values.data() + b * e, c.values.data() + en * e);
            pat->row_ptr.push_back(static_cast<std::int64_t>(pat->col.size()));
          }
        }
        tiles.push_back(make_csr(std::move(pat), vals.data(), vals.size()));
      }
      return sparse_from_tiles(p.layout, n.dtype, std::move(tiles), comm);
    }
    case Op::todense: {
      const DistArray& A = *in[0];
      DistArray out(p.layout, n.dtype, comm.rank());
      for (std::size_t t = 0; t < A.tiles().size(); ++t)
        csr_to_dense(*A.tiles()[t].csr, n.dtype, A.shape()[1], out.tiles()[t].data.data());
      return out;
    }
    case Op::to_sparse: {
      const auto g = gather_boxes(*in[0], tiling::needs_of(p.layout, comm.size()), comm);
      std::vector<CsrTile> tiles;
      const index_t m = n.shape[1];
      const std::size_t e = itemsize(n.dtype);
      const auto mine = p.layout.tiles_of(comm.rank());
      for (std::size_t t = 0; t < mine.size(); ++t) {
        const Box b = p.layout.tile_box(mine[t]);
        auto pat = std::make_shared<CsrPattern>();
        std::vector<std::byte> vals;
        visit_dtype(n.dtype, [&](auto tag) {
          using T = typename decltype(tag)::type;
          const T* d = g[t].as<T>();
          for (index_t r = 0; r < b.extent(0); ++r) {
            for (index_t c = 0; c < m; ++c) {
              const T x = d[r * m + c];
              if (x == T(0)) continue;  // -0.0 too; NaN is stored
              pat->col.push_back(c);
              vals.insert(vals.end(), reinterpret_cast<const std::byte*>(&x), reinterpret_cast<const std::byte*>(&x) + e);
            }
            pat->row_ptr.push_back(static_cast<std::int64_t>(pat->col.size()));
          }
        });
        tiles.push_back(make_csr(std::move(pat), vals.data(), vals.size()));
      }
      return sparse_from_tiles(p.layout, n.dtype, std::move(tiles), comm);
    }
    default: break;
  }
  throw std::logic_error(fmt::format("exec_sparse: {} is not a sparse step", n.label()));
}

}  // namespace spartanxx::detail
