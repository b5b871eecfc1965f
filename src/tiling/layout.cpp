#include "tiling/layout.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <numeric>
#include <stdexcept>

namespace spartanxx::tiling {

std::vector<index_t> even_splits(index_t n, int parts) {
  if (parts < 1) throw std::invalid_argument(fmt::format("even_splits: {} parts", parts));
  std::vector<index_t> s(parts + 1, 0);
  const index_t base = n / parts, extra = n % parts;
  for (int i = 0; i < parts; ++i) s[i + 1] = s[i] + base + (i < extra ? 1 : 0);
  return s;
}

Layout::Layout(Shape shape, std::vector<std::vector<index_t>> splits, std::vector<int> owners)
    : shape_(std::move(shape)), splits_(std::move(splits)), owners_(std::move(owners)) {
  if (splits_.size() != shape_.size())
    throw std::invalid_argument(fmt::format("Layout: {} split lists for shape {}", splits_.size(), to_string(shape_)));
  std::size_t ntiles = 1;
  for (std::size_t a = 0; a < shape_.size(); ++a) {
    const auto& s = splits_[a];
    if (s.size() < 2 || s.front() != 0 || s.back() != shape_[a] || !std::is_sorted(s.begin(), s.end()))
      throw std::invalid_argument(
          fmt::format("Layout: splits of axis {} do not cover 0..{} in order", a, shape_[a]));
    ntiles *= s.size() - 1;
  }
  if (owners_.size() != ntiles)
    throw std::invalid_argument(fmt::format("Layout: {} owners for {} tiles", owners_.size(), ntiles));
  for (int o : owners_)
    if (o < kReplicated) throw std::invalid_argument(fmt::format("Layout: owner {} is neither a rank nor kReplicated", o));
}

Layout Layout::replicated(const Shape& shape) {
  std::vector<std::vector<index_t>> splits;
  for (index_t n : shape) splits.push_back({0, n});
  return Layout(shape, std::move(splits), {kReplicated});
}

Layout Layout::partial(const Shape& shape) {
  Layout l = replicated(shape);
  l.partial_ = true;
  return l;
}

Layout Layout::blocks(const Shape& shape, int axis, int nranks) {
  if (shape.empty()) return replicated(shape);
  if (axis < 0 || axis >= static_cast<int>(shape.size()))
    throw std::invalid_argument(fmt::format("Layout::blocks: axis {} for shape {}", axis, to_string(shape)));
  std::vector<std::vector<index_t>> splits;
  for (std::size_t a = 0; a < shape.size(); ++a)
    splits.push_back(static_cast<int>(a) == axis ? even_splits(shape[a], nranks) : std::vector<index_t>{0, shape[a]});
  std::vector<int> owners(nranks);
  std::iota(owners.begin(), owners.end(), 0);
  return Layout(shape, std::move(splits), std::move(owners));
}

Layout Layout::rows(const Shape& shape, int nranks) { return blocks(shape, 0, nranks); }
Layout Layout::cols(const Shape& shape, int nranks) { return blocks(shape, 1, nranks); }

Layout Layout::grid(const Shape& shape, int prow, int pcol) {
  if (shape.size() != 2) throw std::invalid_argument("Layout::grid: needs a matrix shape, got " + to_string(shape));
  std::vector<int> owners(static_cast<std::size_t>(prow) * pcol);
  std::iota(owners.begin(), owners.end(), 0);
  return Layout(shape, {even_splits(shape[0], prow), even_splits(shape[1], pcol)}, std::move(owners));
}

bool Layout::is_replicated() const {
  return !partial_ && std::all_of(owners_.begin(), owners_.end(), [](int o) { return o == kReplicated; });
}

std::vector<int> Layout::tile_coords(int tile) const {
  std::vector<int> c(shape_.size());
  for (int a = ndim() - 1; a >= 0; --a) {
    c[a] = tile % tiles_along(a);
    tile /= tiles_along(a);
  }
  return c;
}

int Layout::tile_id(const std::vector<int>& coords) const {
  int t = 0;
  for (int a = 0; a < ndim(); ++a) t = t * tiles_along(a) + coords[a];
  return t;
}

Box Layout::tile_box(int tile) const {
  const auto c = tile_coords(tile);
  Box b{std::vector<index_t>(shape_.size()), std::vector<index_t>(shape_.size())};
  for (int a = 0; a < ndim(); ++a) {
    b.lo[a] = splits_[a][c[a]];
    b.hi[a] = splits_[a][c[a] + 1];
  }
  return b;
}

std::vector<int> Layout::tiles_of(int rank) const {
  std::vector<int> t;
  for (int i = 0; i < num_tiles(); ++i)
    if (holds(rank, i)) t.push_back(i);
  return t;
}

std::vector<int> Layout::tiles_intersecting(const Box& box) const {
  if (box.empty()) return {};
  // Per axis, the range of tile coordinates that overlap; then their product.
  std::vector<int> first(ndim()), last(ndim());
  for (int a = 0; a < ndim(); ++a) {
    const auto& s = splits_[a];
    // first tile whose end is beyond box.lo, last tile whose start is before box.hi
    first[a] = static_cast<int>(std::upper_bound(s.begin() + 1, s.end(), box.lo[a]) - (s.begin() + 1));
    last[a] = static_cast<int>(std::lower_bound(s.begin(), s.end() - 1, box.hi[a]) - s.begin()) - 1;
    if (first[a] > last[a]) return {};
  }
  std::vector<int> out;
  std::vector<int> c = first;
  while (true) {
    bool empty = false;
    for (int a = 0; a < ndim() && !empty; ++a) empty = splits_[a][c[a] + 1] == splits_[a][c[a]];
    if (!empty) out.push_back(tile_id(c));
    int a = ndim() - 1;
    while (a >= 0 && c[a] == last[a]) c[a] = first[a], --a;
    if (a < 0) break;
    ++c[a];
  }
  return out;
}

std::pair<int, index_t> Layout::global_to_local(const std::vector<index_t>& global) const {
  std::vector<int> c(ndim());
  for (int a = 0; a < ndim(); ++a) {
    if (global[a] < 0 || global[a] >= shape_[a])
      throw std::out_of_range(fmt::format("Layout: index {} out of range for axis {} of size {}", global[a], a, shape_[a]));
    const auto& s = splits_[a];
    c[a] = static_cast<int>(std::upper_bound(s.begin(), s.end(), global[a]) - s.begin()) - 1;
  }
  const int t = tile_id(c);
  return {t, local_offset(tile_box(t), global)};
}

std::vector<index_t> Layout::local_to_global(int tile, index_t offset) const {
  const Box b = tile_box(tile);
  std::vector<index_t> g(ndim());
  for (int a = ndim() - 1; a >= 0; --a) {
    const index_t e = b.extent(a);
    g[a] = b.lo[a] + offset % e;
    offset /= e;
  }
  return g;
}

Layout Layout::permuted(const std::vector<int>& perm) const {
  Shape shape(ndim());
  std::vector<std::vector<index_t>> splits(ndim());
  for (int i = 0; i < ndim(); ++i) {
    shape[i] = shape_[perm[i]];
    splits[i] = splits_[perm[i]];
  }
  Layout out(shape, splits, std::vector<int>(owners_.size()));
  for (int t = 0; t < out.num_tiles(); ++t) {
    const auto c = out.tile_coords(t);
    std::vector<int> src(ndim());
    for (int i = 0; i < ndim(); ++i) src[perm[i]] = c[i];
    out.owners_[t] = owners_[tile_id(src)];
  }
  return out;
}

std::string Layout::describe() const {
  if (partial_) return "partial sums";
  if (is_replicated()) return "replicated";
  std::vector<int> split_axes;
  for (int a = 0; a < ndim(); ++a)
    if (tiles_along(a) > 1) split_axes.push_back(a);
  bool identity = true;
  for (int t = 0; t < num_tiles(); ++t) identity = identity && owners_[t] == t;
  if (identity && split_axes.size() == 1 && ndim() >= 1) {
    const int a = split_axes[0];
    return fmt::format("{}({})", a == 0 ? "rows" : a == 1 ? "cols" : fmt::format("axis{}", a), tiles_along(a));
  }
  if (identity && split_axes.size() == 2 && ndim() == 2) return fmt::format("grid({}x{})", tiles_along(0), tiles_along(1));
  if (num_tiles() == 1) return fmt::format("on rank {}", owners_[0]);
  std::vector<std::string> axes;
  for (int a = 0; a < ndim(); ++a) axes.push_back(std::to_string(tiles_along(a)));
  return fmt::format("tiles[{}]", fmt::join(axes, "x"));
}

Layout insert_axis(const Layout& layout, int axis) {
  Shape shape = layout.shape();
  std::vector<std::vector<index_t>> splits;
  for (int a = 0; a < layout.ndim(); ++a) splits.push_back(layout.splits(a));
  shape.insert(shape.begin() + axis, 1);
  splits.insert(splits.begin() + axis, std::vector<index_t>{0, 1});
  return Layout(shape, splits, layout.owners());
}

Layout remove_axis(const Layout& layout, int axis) {
  if (layout.tiles_along(axis) != 1)
    throw std::invalid_argument(fmt::format("remove_axis: axis {} is split in {} tiles", axis, layout.tiles_along(axis)));
  Shape shape = layout.shape();
  std::vector<std::vector<index_t>> splits;
  for (int a = 0; a < layout.ndim(); ++a)
    if (a != axis) splits.push_back(layout.splits(a));
  shape.erase(shape.begin() + axis);
  return Layout(shape, splits, layout.owners());
}

Layout rows_like(const Layout& l, const Shape& shape) {
  if (l.is_replicated()) return Layout::replicated(shape);
  std::vector<std::vector<index_t>> splits{l.splits(0)};
  for (std::size_t a = 1; a < shape.size(); ++a) splits.push_back({0, shape[a]});
  return Layout(shape, std::move(splits), l.owners());
}

Needs whole_for_holders(const Layout& by, const Shape& shape, int nranks) {
  Needs needs(nranks);
  for (int r = 0; r < nranks; ++r)
    if (!by.tiles_of(r).empty()) needs[r].push_back(Box::whole(shape));
  return needs;
}

Needs rows_for_tiles(const Layout& by, const Shape& shape, int nranks) {
  Needs needs(nranks);
  for (int r = 0; r < nranks; ++r)
    for (int t : by.tiles_of(r)) {
      const Box tb = by.tile_box(t);
      Box b = Box::whole(shape);
      b.lo[0] = tb.lo[0];
      b.hi[0] = tb.hi[0];
      needs[r].push_back(b);
    }
  return needs;
}

Needs columns_for_tiles(const Layout& by, const Shape& shape, int nranks) {
  Needs needs(nranks);
  for (int r = 0; r < nranks; ++r)
    for (int t : by.tiles_of(r)) {
      const Box tb = by.tile_box(t);
      Box x = Box::whole(shape);
      x.lo.back() = tb.lo[0];
      x.hi.back() = tb.hi[0];
      needs[r].push_back(x);
    }
  return needs;
}

Needs needs_of(const Layout& layout, int nranks) {
  Needs needs(nranks);
  for (int t = 0; t < layout.num_tiles(); ++t) {
    const Box b = layout.tile_box(t);
    if (layout.owner(t) == kReplicated) {
      for (auto& n : needs) n.push_back(b);
    } else {
      if (layout.owner(t) >= nranks)
        throw std::invalid_argument(fmt::format("needs_of: tile {} is owned by rank {} of only {}", t, layout.owner(t), nranks));
      needs[layout.owner(t)].push_back(b);
    }
  }
  return needs;
}

bool resolve_by_scatter(const Needs& needs) {
  std::vector<Box> all;
  for (const auto& boxes : needs)
    for (const Box& b : boxes) {
      if (b.empty()) continue;
      for (const Box& o : all)
        if (!intersect(o, b).empty()) return false;
      all.push_back(b);
    }
  // Any overlap, even between two boxes of one rank, takes the allreduce (the safe side).
  return true;
}

std::int64_t bytes_to_gather(const Layout& from, const Needs& needs, std::size_t element_size) {
  std::int64_t bytes = 0;
  if (from.is_partial()) {
    const auto P = static_cast<std::int64_t>(needs.size());
    if (P <= 1) return 0;
    if (!resolve_by_scatter(needs)) return P * volume(from.shape()) * static_cast<std::int64_t>(element_size);
    for (const auto& boxes : needs)
      for (const Box& b : boxes) bytes += (P - 1) * b.volume() * static_cast<std::int64_t>(element_size);
    return bytes;
  }
  for (int r = 0; r < static_cast<int>(needs.size()); ++r)
    for (const Box& want : needs[r])
      for (int t : from.tiles_intersecting(want)) {
        if (from.holds(r, t)) continue;
        // Volume of want ∩ tile, axis by axis, without building the box.
        std::int64_t v = static_cast<std::int64_t>(element_size);
        int rest = t;
        for (int a = from.ndim() - 1; a >= 0; --a) {
          const int c = rest % from.tiles_along(a);
          rest /= from.tiles_along(a);
          const index_t lo = std::max(want.lo[a], from.splits(a)[c]), hi = std::min(want.hi[a], from.splits(a)[c + 1]);
          v *= std::max<index_t>(0, hi - lo);
        }
        bytes += v;
      }
  return bytes;
}

std::int64_t bytes_to_move(const Layout& from, const Layout& to, int nranks, std::size_t element_size) {
  return bytes_to_gather(from, needs_of(to, nranks), element_size);
}

}  // namespace spartanxx::tiling
