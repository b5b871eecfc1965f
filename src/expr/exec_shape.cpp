// transpose and slice keep every element on the rank that holds it (the layout is
// transposed or sliced along with the data, so they move nothing); reshape moves
// C-order runs between row-block layouts.
#include <cstring>

#include <xtensor/xadapt.hpp>
#include <xtensor/xmanipulation.hpp>

#include "expr/kernels.hpp"
#include "mpi_backend/communicator.hpp"

namespace spartanxx::detail {
namespace {

index_t floor_div(index_t a, index_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
index_t ceil_div(index_t a, index_t b) { return -floor_div(-a, b); }

template <class T>
void strided_copy(const T* src, const std::vector<index_t>& src_start, const std::vector<index_t>& src_step,
                  T* dst, const Shape& dst_shape) {
  // dst[j] = src[sum_a (src_start[a] + j[a] * src_step[a])], offsets in elements.
  const int nd = static_cast<int>(dst_shape.size());
  const index_t total = tiling::volume(dst_shape);
  if (total == 0) return;
  if (nd == 0) {
    dst[0] = src[src_start.empty() ? 0 : src_start[0]];
    return;
  }
  const index_t inner = dst_shape[nd - 1], inner_step = src_step[nd - 1];
  std::vector<index_t> j(nd, 0);
  index_t base = 0;
  for (int a = 0; a < nd; ++a) base += src_start[a];
  for (index_t off = 0; off < total; off += inner) {
    index_t s = base;
    for (int a = 0; a + 1 < nd; ++a) s += j[a] * src_step[a];
    for (index_t i = 0; i < inner; ++i) dst[off + i] = src[s + i * inner_step];
    for (int a = nd - 2; a >= 0; --a) {
      if (++j[a] < dst_shape[a]) break;
      j[a] = 0;
    }
  }
}

void strided_copy_bytes(std::size_t elem, const std::byte* src, const std::vector<index_t>& start,
                        const std::vector<index_t>& step, std::byte* dst, const Shape& shape) {
  switch (elem) {
    case 1: return strided_copy(reinterpret_cast<const std::uint8_t*>(src), start, step, reinterpret_cast<std::uint8_t*>(dst), shape);
    case 4: return strided_copy(reinterpret_cast<const std::uint32_t*>(src), start, step, reinterpret_cast<std::uint32_t*>(dst), shape);
    default: return strided_copy(reinterpret_cast<const std::uint64_t*>(src), start, step, reinterpret_cast<std::uint64_t*>(dst), shape);
  }
}

/// Per output axis, the output split points and which input tile coordinate each output
/// tile coordinate comes from.
struct SliceGrid {
  std::vector<std::vector<index_t>> splits;
  std::vector<std::vector<int>> source;
};

SliceGrid slice_grid(const Layout& in, const std::vector<AxisSlice>& slices) {
  SliceGrid g;
  for (int a = 0; a < in.ndim(); ++a) {
    const auto& s = in.splits(a);
    const int k = in.tiles_along(a);
    const AxisSlice& sl = slices[a];
    std::vector<index_t> o(k + 1);
    std::vector<int> src(k);
    for (int t = 0; t <= k; ++t) {
      index_t v;
      if (sl.step > 0) v = ceil_div(s[t] - sl.start, sl.step);
      else v = floor_div(sl.start - s[k - t], -sl.step) + 1;
      o[t] = std::clamp<index_t>(v, 0, sl.length);
    }
    for (int t = 0; t < k; ++t) src[t] = sl.step > 0 ? t : k - 1 - t;
    g.splits.push_back(std::move(o));
    g.source.push_back(std::move(src));
  }
  return g;
}

bool row_linear(const Layout& l) {
  if (l.ndim() == 0) return false;
  for (int a = 1; a < l.ndim(); ++a)
    if (l.tiles_along(a) != 1) return false;
  return true;
}

/// A row-block layout seen as the 1-d layout of the flattened array.
Layout flat_view(const Layout& l) {
  index_t row = 1;
  for (int a = 1; a < l.ndim(); ++a) row *= l.shape()[a];
  std::vector<index_t> s = l.splits(0);
  for (auto& v : s) v *= row;
  return Layout({tiling::volume(l.shape())}, {s}, l.owners());
}

}  // namespace

std::vector<Plan> transpose_options(const Step& s, const InputLayouts& in, const Layout*, const Machine&) {
  Plan p;
  p.layout = in[0]->permuted(s.node->perm);
  return {p};
}

DistArray transpose_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Node& n = *s.node;
  const DistArray& src = *in[0];
  const Layout& L = src.layout();
  DistArray out(p.layout, n.dtype, comm.rank());
  const int nd = L.ndim();
  const std::vector<std::size_t> perm(n.perm.begin(), n.perm.end());
  for (Tile& tile : out.tiles()) {
    const auto c = p.layout.tile_coords(tile.id);
    std::vector<int> sc(nd);
    for (int i = 0; i < nd; ++i) sc[n.perm[i]] = c[i];
    const Tile* s = src.find(L.tile_id(sc));
    const std::size_t count = static_cast<std::size_t>(tile.box.volume());
    if (count == 0) continue;
    const Shape in_shape = s->box.shape(), out_shape = tile.box.shape();
    const std::vector<std::size_t> ish(in_shape.begin(), in_shape.end()), osh(out_shape.begin(), out_shape.end());
    // The tile's buffer seen as an N-d xtensor, permuted into the output tile.
    visit_dtype(n.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      auto x = xt::adapt(s->data.as<T>(), count, xt::no_ownership(), ish);
      auto y = xt::adapt(tile.data.as<T>(), count, xt::no_ownership(), osh);
      y = xt::transpose(x, perm);
    });
  }
  return out;
}

std::vector<Plan> slice_options(const Step& s, const InputLayouts& in, const Layout*, const Machine&) {
  const Node& n = *s.node;
  const Layout& L = *in[0];
  const SliceGrid g = slice_grid(L, n.slices);
  Layout shaped(n.shape, g.splits, std::vector<int>(L.num_tiles(), 0));
  std::vector<int> owners(L.num_tiles());
  for (int t = 0; t < shaped.num_tiles(); ++t) {
    auto c = shaped.tile_coords(t);
    for (int a = 0; a < L.ndim(); ++a) c[a] = g.source[a][c[a]];
    owners[t] = L.owner(L.tile_id(c));
  }
  Plan p;
  p.layout = Layout(n.shape, g.splits, owners);
  return {p};
}

DistArray slice_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Node& n = *s.node;
  const DistArray& src = *in[0];
  const Layout& L = src.layout();
  const SliceGrid g = slice_grid(L, n.slices);
  DistArray out(p.layout, n.dtype, comm.rank());
  const int nd = L.ndim();
  for (Tile& tile : out.tiles()) {
    if (tile.box.empty()) continue;
    auto c = p.layout.tile_coords(tile.id);
    for (int a = 0; a < nd; ++a) c[a] = g.source[a][c[a]];
    const Tile* s = src.find(L.tile_id(c));
    const auto strides = tiling::row_major_strides(s->box.shape());
    std::vector<index_t> start(nd), step(nd);
    for (int a = 0; a < nd; ++a) {
      const AxisSlice& sl = n.slices[a];
      start[a] = (sl.start + tile.box.lo[a] * sl.step - s->box.lo[a]) * strides[a];
      step[a] = sl.step * strides[a];
    }
    strided_copy_bytes(itemsize(n.dtype), s->data.data(), start, step, tile.data.data(), tile.box.shape());
  }
  return out;
}

std::vector<Plan> reshape_options(const Step& s, const InputLayouts& in, const Layout*, const Machine& m) {
  const Node& n = *s.node;
  const int nranks = m.ranks;
  const Layout& L = *in[0];
  Plan p;
  const std::size_t elem = itemsize(n.dtype);
  if (L.is_replicated() || L.ndim() == 0) {
    // One element or a replicated array: every rank gets it all and keeps the buffer.
    p.layout = Layout::replicated(n.shape);
    p.inner = Layout::replicated(L.shape());
    p.predicted_bytes = tiling::bytes_to_move(L, p.inner, nranks, elem);
    return {p};
  }
  // C-order runs move between row blocks: the input as row blocks first (inner), then
  // its flattened runs to the result's row blocks.
  p.inner = row_linear(L) ? L : Layout::rows(L.shape(), nranks);
  p.layout = Layout::rows(n.shape, nranks);
  const Layout flat_target = p.layout.ndim() ? flat_view(p.layout) : Layout::replicated({1});
  p.predicted_bytes = tiling::bytes_to_move(L, p.inner, nranks, elem) +
                      tiling::bytes_to_move(flat_view(p.inner), flat_target, nranks, elem);
  return {p};
}

DistArray reshape_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Node& n = *s.node;
  const DistArray& src = *in[0];
  if (p.inner.is_replicated()) {
    const DistArray whole = redistribute(src, p.inner, comm);
    DistArray out(p.layout, n.dtype, comm.rank(), false);
    out.tiles()[0].data = whole.tiles()[0].data;
    return out;
  }
  const DistArray rows = redistribute(src, p.inner, comm);  // nothing moves when it already is
  if (p.layout.ndim() == 0) {
    // A one-element array to 0-d: the element goes to every rank.
    const Layout target = Layout::replicated({1});
    const DistArray flat = redistribute(rows.view_as(flat_view(rows.layout())), target, comm);
    DistArray out(p.layout, n.dtype, comm.rank(), false);
    out.tiles()[0].data = flat.tiles()[0].data;
    return out;
  }
  const DistArray flat = redistribute(rows.view_as(flat_view(rows.layout())), flat_view(p.layout), comm);
  return flat.view_as(p.layout);
}

}  // namespace spartanxx::detail
