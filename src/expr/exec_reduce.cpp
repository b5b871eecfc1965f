// Reductions: each rank reduces its own tiles to partial results; when the reduced
// axis is split, the partials (one per tile along it) are gathered and combined in
// tile order, so results are deterministic and NaN/tie semantics match NumPy.
#include <fmt/format.h>

#include "expr/plan.hpp"
#include "mpi_backend/communicator.hpp"

namespace spartanxx::detail {
namespace {

/// The layout of per-tile partial results: every reduced axis keeps one entry per tile
/// along it; the owners are those of the input tiles.
Layout partial_layout(const Layout& in, int axis) {
  Shape shape = in.shape();
  std::vector<std::vector<index_t>> splits;
  for (int a = 0; a < in.ndim(); ++a) {
    if (axis < 0 || a == axis) {
      shape[a] = in.tiles_along(a);
      std::vector<index_t> s(in.tiles_along(a) + 1);
      for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<index_t>(i);
      splits.push_back(std::move(s));
    } else {
      splits.push_back(in.splits(a));
    }
  }
  return Layout(shape, splits, in.owners());
}

/// Whether the reduction completes inside each tile (no partials to combine).
bool local_only(const Layout& in, int axis) {
  if (axis < 0) return in.num_tiles() == 1;
  return in.tiles_along(axis) == 1;
}

/// Boxes of the partial array each rank needs to finish its output tiles.
Needs partial_needs(const Layout& out, const Layout& partial, int axis, int nranks) {
  Needs needs(nranks);
  for (int r = 0; r < nranks; ++r)
    for (int t : out.tiles_of(r)) {
      if (axis < 0) {
        needs[r].push_back(Box::whole(partial.shape()));
        continue;
      }
      Box b = out.tile_box(t);
      b.lo.insert(b.lo.begin() + axis, 0);
      b.hi.insert(b.hi.begin() + axis, partial.shape()[axis]);
      needs[r].push_back(b);
    }
  return needs;
}

DType partial_dtype(const Node& n) { return is_arg(n.reduce_kind) ? n.inputs[0]->dtype : n.dtype; }

}  // namespace

Plan plan_reduce(const Node& n, const InputLayouts& in, int nranks) {
  const Layout& L = *in[0];
  Plan p;
  if (local_only(L, n.axis)) {
    p.layout = n.axis < 0 ? Layout(Shape{}, {}, {L.owner(0)}) : tiling::remove_axis(L, n.axis);
    p.strategy = "within tiles";
    return p;
  }
  // Combined results are replicated: every rank gets every partial.
  if (n.axis < 0) {
    p.layout = Layout::replicated({});
  } else {
    Shape shape = L.shape();
    shape.erase(shape.begin() + n.axis);
    std::vector<std::vector<index_t>> splits;
    for (int a = 0; a < L.ndim(); ++a)
      if (a != n.axis) splits.push_back(L.splits(a));
    std::size_t tiles = 1;
    for (auto& s : splits) tiles *= s.size() - 1;
    p.layout = Layout(shape, splits, std::vector<int>(tiles, tiling::kReplicated));
  }
  const Layout partial = partial_layout(L, n.axis);
  std::size_t elem = itemsize(partial_dtype(n)) + (is_arg(n.reduce_kind) ? 8 : 0);
  p.predicted_bytes = tiling::bytes_to_gather(partial, partial_needs(p.layout, partial, n.axis, nranks), elem);
  p.strategy = "gather partials";
  return p;
}

DistArray exec_reduce(const Node& n, const InputArrays& in, const Plan& p, Communicator& comm) {
  const DistArray& src = *in[0];
  const Layout& L = src.layout();
  const int nd = L.ndim();
  const ReduceKind kind = n.reduce_kind;
  const bool arg = is_arg(kind);
  const DType vdt = partial_dtype(n);
  const Layout partial = partial_layout(L, n.axis);

  // 1. Each held tile reduced to its partial.
  DistArray values(partial, vdt, comm.rank());
  DistArray indices;
  if (arg) indices = DistArray(partial, DType::i64, comm.rank());
  for (std::size_t i = 0; i < src.tiles().size(); ++i) {
    const Tile& tile = src.tiles()[i];
    Tile& out = values.tiles()[i];
    std::int64_t* idx = arg ? indices.tiles()[i].data.as<std::int64_t>() : nullptr;
    const Shape ts = tile.box.shape();
    index_t outer = 1, len = 1, inner = 1;
    if (n.axis < 0) {
      len = tile.box.volume();
    } else {
      for (int a = 0; a < n.axis; ++a) outer *= ts[a];
      len = ts[n.axis];
      for (int a = n.axis + 1; a < nd; ++a) inner *= ts[a];
    }
    if (len == 0 || outer * inner == 0) {
      std::fill(out.data.data(), out.data.data() + out.data.bytes(), std::byte{0});
      if (idx) std::fill(idx, idx + outer * inner, 0);
      continue;
    }
    reduce_tile(kind, tile.data.data(), src.dtype(), outer, len, inner, out.data.data(), vdt, idx);
    if (idx) {
      // Local positions to global indices: along the axis, or flat C order over the array.
      if (n.axis >= 0) {
        for (index_t j = 0; j < outer * inner; ++j) idx[j] += tile.box.lo[n.axis];
      } else {
        const auto g = L.local_to_global(tile.id, idx[0]);
        index_t flat = 0;
        for (int a = 0; a < nd; ++a) flat = flat * L.shape()[a] + g[a];
        idx[0] = flat;
      }
    }
  }
  if (local_only(L, n.axis)) return (arg ? indices : values).view_as(p.layout);

  // 2. Partials gathered and combined in tile order.
  const Needs needs = partial_needs(p.layout, partial, n.axis, comm.size());
  std::vector<Buffer> vals = gather_boxes(values, needs, comm);
  std::vector<Buffer> idxs;
  if (arg) idxs = gather_boxes(indices, needs, comm);
  DistArray out(p.layout, n.dtype, comm.rank());
  const int k_axis = n.axis;
  std::vector<bool> valid;
  index_t k = 0;
  if (k_axis < 0) {
    k = L.num_tiles();
    for (int t = 0; t < L.num_tiles(); ++t) valid.push_back(!L.tile_box(t).empty());
  } else {
    k = L.tiles_along(k_axis);
    for (int c = 0; c < k; ++c) valid.push_back(L.splits(k_axis)[c + 1] > L.splits(k_axis)[c]);
  }
  for (std::size_t t = 0; t < out.tiles().size(); ++t) {
    Tile& tile = out.tiles()[t];
    const Shape os = tile.box.shape();
    index_t outer = 1, inner = 1;
    if (k_axis >= 0) {
      for (int a = 0; a < k_axis; ++a) outer *= os[a];
      for (int a = k_axis; a < static_cast<int>(os.size()); ++a) inner *= os[a];
    }
    if (outer * inner == 0) continue;
    if (arg) {
      Buffer scratch(static_cast<std::size_t>(outer * inner) * itemsize(vdt));
      combine_partials(kind, vals[t].data(), idxs[t].as<std::int64_t>(), vdt, outer, k, inner, valid, scratch.data(),
                       tile.data.as<std::int64_t>());
    } else {
      combine_partials(kind, vals[t].data(), nullptr, vdt, outer, k, inner, valid, tile.data.data(), nullptr);
    }
  }
  return out;
}

}  // namespace spartanxx::detail
