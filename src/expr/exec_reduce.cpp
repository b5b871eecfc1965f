// Reductions: each rank reduces its own tiles to partial results; when the reduced
// axis is split, the partials (one per tile along it) are gathered and combined in
// tile order, so results are deterministic and NaN/tie semantics match NumPy.
#include <fmt/format.h>

#include <optional>

#include "expr/kernels.hpp"
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

/// The partial of one tile of a fused region, computed in slabs of rows (axis 0) that
/// stay in cache: each slab is evaluated, reduced, and folded into the running partial.
/// Writes what reduce_tile would write for the materialized tile.
void reduce_region_tile(const Region& r, const RegionInputs& in, std::size_t t, const Shape& ts, int axis,
                        ReduceKind kind, DType src_dtype, std::byte* out, DType vdt, std::int64_t* idx) {
  const int nd = static_cast<int>(ts.size());
  const index_t rows = nd ? ts[0] : 1;
  const index_t row_volume = nd ? tiling::volume(ts) / std::max<index_t>(ts[0], 1) : 1;
  const index_t per_slab = std::max<index_t>(1, (index_t{1} << 13) / std::max<index_t>(row_volume, 1));
  Buffer slab(static_cast<std::size_t>(std::min(rows, per_slab) * row_volume) * itemsize(src_dtype));
  // outer x len x inner of the whole tile for this reduction.
  index_t inner = 1, outer_per_row = 1;
  if (axis > 0) {
    for (int a = 1; a < axis; ++a) outer_per_row *= ts[a];
    for (int a = axis + 1; a < nd; ++a) inner *= ts[a];
  } else if (axis == 0) {
    for (int a = 1; a < nd; ++a) inner *= ts[a];
  }
  const std::size_t vsz = itemsize(vdt);
  // For axis 0 and whole reductions, slabs are folded: [running, new] combined in place.
  const index_t width = axis < 0 ? 1 : inner;
  Buffer pair(static_cast<std::size_t>(2 * width) * vsz);
  std::vector<std::int64_t> pair_idx(static_cast<std::size_t>(2 * width));
  bool first = true;
  for (index_t r0 = 0; r0 < rows; r0 += per_slab) {
    const index_t r1 = std::min(rows, r0 + per_slab);
    eval_region_rows(r, in, t, ts, r0, r1, slab.data());
    if (axis > 0) {
      // Rows are independent: the slab's partial is a piece of the tile's partial.
      const index_t outer = (r1 - r0) * outer_per_row;
      reduce_tile(kind, slab.data(), src_dtype, outer, ts[axis], inner, out + r0 * outer_per_row * inner * vsz, vdt,
                  idx ? idx + r0 * outer_per_row * inner : nullptr);
      continue;
    }
    const index_t len = axis == 0 ? r1 - r0 : (r1 - r0) * row_volume;
    std::byte* fresh = first ? out : pair.data() + width * vsz;
    std::int64_t* fresh_idx = idx ? (first ? idx : pair_idx.data() + width) : nullptr;
    reduce_tile(kind, slab.data(), src_dtype, 1, len, width, fresh, vdt, fresh_idx);
    const index_t offset = axis == 0 ? r0 : r0 * row_volume;  // positions within the tile
    if (fresh_idx)
      for (index_t j = 0; j < width; ++j) fresh_idx[j] += offset;
    if (!first) {
      std::copy(out, out + width * vsz, pair.data());
      if (idx) std::copy(idx, idx + width, pair_idx.data());
      combine_partials(kind, pair.data(), idx ? pair_idx.data() : nullptr, vdt, 1, 2, width, {true, true}, out, idx);
    }
    first = false;
  }
}

/// This rank's summand of a split sum: its tiles' partials added into an array of the
/// whole result's shape, zero elsewhere.
DistArray summand_of(const DistArray& values, const Layout& in, int axis, const Layout& partial) {
  DistArray out(partial, values.dtype(), 0, /*allocate=*/true);
  Tile& dst = out.tiles()[0];
  const Shape& os = partial.shape();
  const auto strides = tiling::row_major_strides(os);
  visit_dtype(values.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* d = dst.data.as<T>();
    std::fill(d, d + tiling::volume(os), T(0));
    for (const Tile& t : values.tiles()) {
      const T* src = t.data.as<T>();
      if (axis < 0) {
        d[0] += src[0];
        continue;
      }
      Box b = in.tile_box(t.id);
      if (b.empty()) continue;
      b.lo.erase(b.lo.begin() + axis);
      b.hi.erase(b.hi.begin() + axis);
      const index_t count = b.volume();
      const Shape bs = b.shape();
      // Walk the box in C order; element i of the partial goes to its global offset.
      std::vector<index_t> idx(b.lo);
      for (index_t i = 0; i < count; ++i) {
        index_t off = 0;
        for (std::size_t a = 0; a < idx.size(); ++a) off += idx[a] * strides[a];
        d[off] += src[i];
        for (int a = static_cast<int>(idx.size()) - 1; a >= 0; --a) {
          if (++idx[a] < b.hi[a]) break;
          idx[a] = b.lo[a];
        }
      }
    }
  });
  return out;
}

}  // namespace

namespace {

/// The reduction of data laid out as `base.inner` (computed, or a fused region
/// evaluated in that layout, whose needs and bytes `base` has), its partials along a
/// split axis gathered and combined where `target` says (default: replicated).
Plan gathered_plan(const Node& n, Plan base, const std::string& prefix, int nranks, const Layout* target) {
  Plan p = std::move(base);
  const Layout& L = p.inner;
  p.strategy = prefix;
  if (local_only(L, n.axis)) {
    p.layout = n.axis < 0 ? Layout(Shape{}, {}, {L.owner(0)}) : tiling::remove_axis(L, n.axis);
    p.strategy += "within tiles";
    return p;
  }
  // Combined results go where asked, or are replicated: every rank gets every partial.
  if (target && !target->is_partial()) {
    p.layout = *target;
  } else if (n.axis < 0) {
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
  p.partials = partial_needs(p.layout, p.partial, n.axis, nranks);
  std::size_t elem = itemsize(partial_dtype(n)) + (is_arg(n.reduce_kind) ? 8 : 0);
  p.predicted_bytes += tiling::bytes_to_gather(p.partial, p.partials, elem);
  p.strategy += "gather partials";
  return p;
}

}  // namespace

std::vector<Plan> reduce_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m) {
  const Node& n = *s.node;
  const Region* region = s.region.get();
  const int nranks = m.ranks;
  if (!region && in[0]->is_partial()) {
    // A sum of partial sums: each rank sums its own summand; the result is partial too.
    if (n.reduce_kind != ReduceKind::sum) throw std::logic_error("reduce_options: only sums read partial sums");
    Plan p;
    p.layout = Layout::partial(n.shape);
    p.inner = *in[0];
    p.partial = partial_layout(p.inner, n.axis);
    p.strategy = "each rank sums its summand";
    return {p};
  }
  // A fused region is evaluated where its inputs put it; its inputs' bytes count.
  Plan base;
  if (region) {
    base = region_plan(*region, in, region_layout(*region, in, nranks), nranks);
    base.inner = base.layout;
  } else {
    base.inner = *in[0];
  }
  base.partial = partial_layout(base.inner, n.axis);
  const std::string prefix = region ? region->label() + " reduced as computed; " : std::string();
  std::vector<Plan> options{gathered_plan(n, base, prefix, nranks, target)};
  if (n.reduce_kind != ReduceKind::sum || n.dtype == DType::boolean) return options;
  const Layout& L = base.inner;
  if (local_only(L, n.axis)) return options;
  // A replicated tile would be summed once per rank.
  for (int o : L.owners())
    if (o == tiling::kReplicated) return options;
  Plan p = base;
  p.layout = Layout::partial(n.shape);
  p.strategy = prefix + "partial sums";
  options.push_back(std::move(p));
  return options;
}

DistArray reduce_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Node& n = *s.node;
  const Region* region = s.region.get();
  const Layout& L = p.inner;
  const DType src_dtype = region ? region->root->dtype : in[0]->dtype();
  std::optional<RegionInputs> fused;
  if (region) fused = gather_region_inputs(*region, in, p.needs, L, comm);
  const int nd = L.ndim();
  const ReduceKind kind = n.reduce_kind;
  const bool arg = is_arg(kind);
  const DType vdt = partial_dtype(n);
  const Layout& partial = p.partial;

  // 1. Each held tile reduced to its partial.
  DistArray values(partial, vdt, comm.rank());
  DistArray indices;
  if (arg) indices = DistArray(partial, DType::i64, comm.rank());
  const std::vector<int> held = L.tiles_of(comm.rank());
  for (std::size_t i = 0; i < held.size(); ++i) {
    const Tile tile{held[i], L.tile_box(held[i]), region ? Buffer() : in[0]->tiles()[i].data, nullptr};
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
    if (region) {
      reduce_region_tile(*region, *fused, i, ts, n.axis, kind, src_dtype, out.data.data(), vdt, idx);
    } else {
      reduce_tile(kind, tile.data.data(), src_dtype, outer, len, inner, out.data.data(), vdt, idx);
    }
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
  if (local_only(L, n.axis)) {
    // A sum of partial sums stays partial (p.layout says so); otherwise the tiles'
    // results are the result.
    return (arg ? indices : values).view_as(p.layout);
  }
  if (p.layout.is_partial()) return summand_of(values, L, n.axis, p.layout);

  // 2. Partials gathered and combined in tile order.
  const Needs& needs = p.partials;
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
