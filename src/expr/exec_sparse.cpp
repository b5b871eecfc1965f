// Steps over sparse matrices other than products (exec_sparse_dot.cpp): maps that keep
// sparsity (run over each tile's stored values), reductions, transposes, row slices and
// conversions. Sparse data lives in rows-only layouts (each tile spans every column,
// owned by one rank or replicated); the cost model counts stored entries (index and
// value) for sparse data, elements for dense.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "array/elementwise_kernels.hpp"
#include "array/sparse.hpp"
#include "expr/kernels.hpp"
#include "mpi_backend/communicator.hpp"

namespace spartanxx::detail {
namespace {

bool rows_only(const Layout& l) { return !l.is_partial() && l.ndim() == 2 && l.tiles_along(1) == 1; }

/// An even rows-only layout for a computed sparse result.
Layout sparse_result_layout(const Shape& shape, int P) { return sparse_rows_layout(shape, tiling::even_splits(shape[0], P)); }

// ---- elementwise maps over stored values ----

int first_sparse(const std::vector<Node*>& nodes) {
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i]->sparse) return static_cast<int>(i);
  return -1;
}

/// The region on the stored values of its sparse operand, where that operand is; the
/// dense operands are gathered at its tiles.
Plan sparse_map_plan(const Region& r, const InputLayouts& in, int P) {
  const int s = first_sparse(r.externals);
  Plan p;
  p.layout = *in[s];
  for (std::size_t i = 0; i < in.size(); ++i) {
    const Node& e = *r.externals[i];
    p.needs.push_back(e.sparse ? Needs() : broadcast_needs(p.layout, e.shape, P));
    if (!e.sparse) p.predicted_bytes += tiling::bytes_to_gather(*in[i], p.needs.back(), itemsize(e.dtype));
  }
  p.strategy = r.members.size() > 1 ? fmt::format("{} ops on stored values", r.members.size()) : "on stored values";
  return p;
}

/// The region over the stored values of each local tile: a sparse array with the
/// pattern of the region's sparse input.
DistArray run_sparse_map(const Region& r, const InputArrays& in, const std::vector<Needs>& needs, Communicator& comm) {
  const int s = first_sparse(r.externals);
  const DistArray& src = *in[s];
  const Layout& L = src.layout();
  std::vector<std::vector<Buffer>> gathered(in.size());
  for (std::size_t i = 0; i < in.size(); ++i)
    if (!r.externals[i]->sparse) gathered[i] = gather_boxes(*in[i], needs[i], comm);
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
          mi.shape.assign(1, nz);
        } else if (tiling::volume(is) == 1) {
          mi.data = gathered[i][t].data();
          mi.shape.assign(1, 1);
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
          mi.shape.assign(1, nz);
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

/// The reduction of sparse values laid out as `L`.
std::vector<Plan> sparse_reduce_plans(const Node& n, const Layout& L, int P) {
  const Shape& out = n.shape;
  Plan p;
  p.inner = L;
  if (n.axis == 1) {
    p.layout = tiling::rows_like(L, {L.shape()[0]});
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

DistArray reduce_values(const Node& n, const DistArray& values, const Plan& p, Communicator& comm) {
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

// ---- row slices ----

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

std::vector<Plan> sparse_map_options(const Step& s, const InputLayouts& in, const Layout*, const Machine& m) {
  return {sparse_map_plan(*s.region, in, m.ranks)};
}

DistArray sparse_map_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm) {
  return run_sparse_map(*s.region, in, p.needs, comm);
}

std::vector<Plan> sparse_reduce_options(const Step& s, const InputLayouts& in, const Layout*, const Machine& m) {
  const Node& n = *s.node;
  if (!s.region) return sparse_reduce_plans(n, *in[0], m.ranks);
  // A region reduced as it is computed: the map over stored values first.
  const Plan map = sparse_map_plan(*s.region, in, m.ranks);
  std::vector<Plan> opts = sparse_reduce_plans(n, map.layout, m.ranks);
  for (Plan& p : opts) {
    p.needs = map.needs;
    p.predicted_bytes += map.predicted_bytes;
    p.strategy = fmt::format("{} of {}", p.strategy.empty() ? "reduced" : p.strategy, s.region->label());
  }
  return opts;
}

DistArray sparse_reduce_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm) {
  if (!s.region) return reduce_values(*s.node, *in[0], p, comm);
  const DistArray values = run_sparse_map(*s.region, in, p.needs, comm);
  return reduce_values(*s.node, values, p, comm);
}

std::vector<Plan> sparse_transpose_options(const Step& s, const InputLayouts& in, const Layout*, const Machine& m) {
  const int P = m.ranks;
  Plan p;
  p.layout = sparse_result_layout(s.node->shape, P);
  // Each stored entry travels as a (row, column, value) triplet of 24 bytes, to the
  // owner of its row of the transpose: a share (P - 1) / P of them leave their rank.
  p.predicted_bytes = in[0]->is_replicated() ? 0 : s.inputs[0]->nnz_estimate * 24 * (P - 1) / P;
  p.strategy = "entries routed to their rows of the transpose";
  return {p};
}

DistArray sparse_transpose_run(const Step& st, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Node& n = *st.node;
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

std::vector<Plan> sparse_slice_options(const Step& s, const InputLayouts& in, const Layout*, const Machine&) {
  Plan p;
  p.layout = slice_layout(*s.node, *in[0]);
  p.strategy = "rows kept in place";
  return {p};
}

DistArray sparse_slice_run(const Step& st, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Node& n = *st.node;
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

std::vector<Plan> todense_options(const Step&, const InputLayouts& in, const Layout*, const Machine&) {
  Plan p;
  p.layout = *in[0];
  return {p};
}

DistArray todense_run(const Step& st, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Node& n = *st.node;
  const DistArray& A = *in[0];
  DistArray out(p.layout, n.dtype, comm.rank());
  for (std::size_t t = 0; t < A.tiles().size(); ++t)
    csr_to_dense(*A.tiles()[t].csr, n.dtype, A.shape()[1], out.tiles()[t].data.data());
  return out;
}

std::vector<Plan> to_sparse_options(const Step& s, const InputLayouts& in, const Layout*, const Machine& m) {
  const Node& n = *s.node;
  const Layout& D = *in[0];
  Plan p;
  p.layout = D.is_replicated() ? D : rows_only(D) ? D : sparse_result_layout(n.shape, m.ranks);
  p.needs = {tiling::needs_of(p.layout, m.ranks)};
  p.predicted_bytes = p.layout == D ? 0 : tiling::bytes_to_gather(D, p.needs[0], itemsize(n.dtype));
  return {p};
}

DistArray to_sparse_run(const Step& st, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Node& n = *st.node;
  const auto g = gather_boxes(*in[0], p.needs[0], comm);
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

}  // namespace spartanxx::detail
