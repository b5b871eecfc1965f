// Steps of generated sources, lazy sources and fused elementwise regions, and the
// helpers that evaluate a region inside other steps (reductions, fused products).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "array/elementwise_kernels.hpp"
#include "array/random_bits.hpp"
#include "expr/boundary.hpp"
#include "expr/kernels.hpp"
#include "mpi_backend/communicator.hpp"

namespace spartanxx::detail {
namespace {

template <class T>
T from_double(double v) {
  if constexpr (std::is_same_v<T, std::uint8_t>) return v != 0;
  else return static_cast<T>(v);
}

/// Calls f(global_linear_index, row_major_offset_in_tile) for every element of `box`.
template <class F>
void for_each_index(const Shape& shape, const Box& box, F&& f) {
  const index_t vol = box.volume();
  if (vol == 0) return;
  const int nd = box.ndim();
  const auto strides = tiling::row_major_strides(shape);
  const index_t inner = nd ? box.extent(nd - 1) : 1;
  std::vector<index_t> idx(box.lo);
  for (index_t off = 0; off < vol; off += inner) {
    index_t g = 0;
    for (int a = 0; a < nd; ++a) g += idx[a] * strides[a];
    for (index_t j = 0; j < inner; ++j) f(g + j, off + j);
    for (int a = nd - 2; a >= 0; --a) {
      if (++idx[a] < box.hi[a]) break;
      idx[a] = box.lo[a];
    }
  }
}

}  // namespace

Needs broadcast_needs(const Layout& out, const Shape& input_shape, int nranks) {
  const int nd = out.ndim();
  const int off = nd - static_cast<int>(input_shape.size());
  Needs needs(nranks);
  for (int r = 0; r < nranks; ++r)
    for (int t : out.tiles_of(r)) {
      const Box ob = out.tile_box(t);
      Box ib{std::vector<index_t>(input_shape.size()), std::vector<index_t>(input_shape.size())};
      for (int a = 0; a < static_cast<int>(input_shape.size()); ++a) {
        const bool broadcast = input_shape[a] == 1 && out.shape()[a + off] != 1;
        ib.lo[a] = broadcast ? 0 : ob.lo[a + off];
        ib.hi[a] = broadcast ? 1 : ob.hi[a + off];
      }
      needs[r].push_back(ib);
    }
  return needs;
}

std::vector<Plan> source_options(const Step&, const InputLayouts&, const Layout* target, const Machine&) {
  Plan p;
  p.layout = *target;
  return {p};
}

Layout source_natural(const Step& s, const InputLayouts&, const Machine& m) {
  const Node& n = *s.node;
  return n.op == Op::weak_scalar || n.shape.empty() ? Layout::replicated(n.shape) : Layout::rows(n.shape, m.ranks);
}

DistArray source_run(const Step& s, const InputArrays&, const Plan& p, Communicator& comm) {
  return make_source(*s.node, p.layout, comm);
}

std::vector<Plan> read_options(const Step&, const InputLayouts&, const Layout* target, const Machine&) {
  Plan p;
  p.layout = *target;
  p.strategy = "each rank reads its own tiles";
  return {p};
}

DistArray read_run(const Step& s, const InputArrays&, const Plan& p, Communicator& comm) {
  return s.node->source->read(p.layout, comm);
}

DistArray make_source(const Node& n, const Layout& layout, Communicator& comm) {
  const DType stored = n.op == Op::weak_scalar ? n.scalar_kind : n.dtype;
  DistArray out(layout, stored, comm.rank());
  for (Tile& tile : out.tiles()) {
    visit_dtype(stored, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* dst = tile.data.as<T>();
      switch (n.op) {
        case Op::weak_scalar:
          dst[0] = stored == DType::f64 ? from_double<T>(n.value) : static_cast<T>(n.ivalue);
          break;
        case Op::constant: {
          const T v = from_double<T>(n.value);
          std::fill(dst, dst + tile.box.volume(), v);
          break;
        }
        case Op::arange:
          for_each_index(n.shape, tile.box, [&](index_t g, index_t o) {
            dst[o] = from_double<T>(n.value + static_cast<double>(g) * n.value2);
          });
          break;
        case Op::eye:
          std::fill(dst, dst + tile.box.volume(), T(0));
          for (index_t r = tile.box.lo[0]; r < tile.box.hi[0]; ++r) {
            const index_t c = r + n.ivalue;
            if (c >= tile.box.lo[1] && c < tile.box.hi[1])
              dst[(r - tile.box.lo[0]) * tile.box.extent(1) + (c - tile.box.lo[1])] = from_double<T>(1.0);
          }
          break;
        case Op::uniform:
          for_each_index(n.shape, tile.box, [&](index_t g, index_t o) {
            const double u = unit_open(random_bits(n.seed, static_cast<std::uint64_t>(g))) - 0x1.0p-53;  // [0, 1)
            dst[o] = from_double<T>(n.value + (n.value2 - n.value) * u);
          });
          break;
        case Op::normal:
          for_each_index(n.shape, tile.box, [&](index_t g, index_t o) {
            const auto c = static_cast<std::uint64_t>(g) * 2;
            const double u1 = unit_open(random_bits(n.seed, c)), u2 = unit_open(random_bits(n.seed, c + 1));
            const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
            dst[o] = from_double<T>(n.value + n.value2 * z);
          });
          break;
        default: throw std::logic_error("make_source: not a generated source");
      }
    });
  }
  return out;
}

Layout region_layout(const Region& r, const InputLayouts& in, int nranks) {
  const Node& root = *r.root;
  const Layout* chosen = nullptr;
  bool all_replicated = true;
  for (std::size_t i = 0; i < in.size(); ++i) {
    all_replicated = all_replicated && in[i]->is_replicated();
    if (!chosen && r.externals[i]->shape == root.shape && !in[i]->is_replicated()) chosen = in[i];
  }
  return chosen ? *chosen : all_replicated ? Layout::replicated(root.shape) : Layout::rows(root.shape, nranks);
}

Plan region_plan(const Region& r, const InputLayouts& in, const Layout& out, int nranks) {
  Plan p;
  p.layout = out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    p.needs.push_back(broadcast_needs(out, r.externals[i]->shape, nranks));
    p.predicted_bytes += tiling::bytes_to_gather(*in[i], p.needs.back(), itemsize(r.externals[i]->dtype));
  }
  if (r.members.size() > 1) p.strategy = fmt::format("{} ops in one pass", r.members.size());
  return p;
}

std::vector<Plan> region_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m) {
  return {region_plan(*s.region, in, *target, m.ranks)};
}

Layout region_natural(const Step& s, const InputLayouts& in, const Machine& m) {
  return region_layout(*s.region, in, m.ranks);
}

RegionInputs gather_region_inputs(const Region& r, const InputArrays& in, const std::vector<Needs>& needs,
                                  const Layout& layout, Communicator& comm, int produced) {
  const Shape& shape = r.root->shape;
  const int nd = static_cast<int>(shape.size());
  const auto tiles = layout.tiles_of(comm.rank());
  RegionInputs out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (static_cast<int>(i) == produced) out.buffers.emplace_back(tiles.size(), Buffer(0));  // rows come from the caller
    else out.buffers.push_back(gather_boxes(*in[i], needs[i], comm));
  }
  for (std::size_t t = 0; t < tiles.size(); ++t) {
    const Shape oshape = layout.tile_box(tiles[t]).shape();
    std::vector<MapInput> inputs;
    for (std::size_t i = 0; i < in.size(); ++i) {
      const Node& e = *r.externals[i];
      MapInput mi;
      mi.data = out.buffers[i][t].data();
      mi.dtype = static_cast<int>(i) == produced ? e.dtype : in[i]->dtype();
      const Shape& is = e.shape;
      mi.shape.assign(nd - is.size(), 1);
      for (std::size_t a = 0; a < is.size(); ++a) {
        const int oa = static_cast<int>(a) + nd - static_cast<int>(is.size());
        mi.shape.push_back(is[a] == 1 && shape[oa] != 1 ? 1 : oshape[oa]);
      }
      inputs.push_back(std::move(mi));
    }
    out.tiles.push_back(std::move(inputs));
  }
  return out;
}

void eval_region_rows(const Region& r, const RegionInputs& in, std::size_t t, const Shape& tile_shape, index_t r0,
                      index_t r1, std::byte* dst, int produced, const std::byte* produced_rows) {
  if (tile_shape.empty()) {
    fused_tile(r.program, dst, tile_shape, in.tiles[t]);
    return;
  }
  Shape slab = tile_shape;
  slab[0] = r1 - r0;
  std::vector<MapInput> inputs = in.tiles[t];
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    MapInput& mi = inputs[i];
    if (static_cast<int>(i) == produced) {
      mi.data = produced_rows;
      mi.shape[0] = r1 - r0;
      continue;
    }
    if (mi.shape[0] == 1 && tile_shape[0] != 1) continue;  // broadcast along rows
    index_t row = 1;
    for (std::size_t a = 1; a < mi.shape.size(); ++a) row *= mi.shape[a];
    mi.data += r0 * row * static_cast<index_t>(itemsize(mi.dtype));
    mi.shape[0] = r1 - r0;
  }
  fused_tile(r.program, dst, slab, inputs);
}

InputArrays region_externals_around(const Step& s, const InputArrays& in, int* produced_at) {
  const Node* produced = s.gradient_z ? s.gradient_z : s.map_dot;
  InputArrays ext;
  std::size_t next = 2;  // after the product's operands
  for (std::size_t i = 0; i < s.region->externals.size(); ++i) {
    if (s.region->externals[i] == produced) {
      *produced_at = static_cast<int>(i);
      ext.push_back(nullptr);
    } else {
      ext.push_back(in.at(next++));
    }
  }
  return ext;
}

std::vector<Needs> region_needs_around(const Step& s, const Plan& p) {
  const Node* produced = s.gradient_z ? s.gradient_z : s.map_dot;
  std::vector<Needs> needs;
  std::size_t next = 2;
  for (const Node* e : s.region->externals) needs.push_back(e == produced ? Needs() : p.needs.at(next++));
  return needs;
}

index_t cache_block_rows(index_t row_bytes, index_t tallest) {
  return std::clamp<index_t>((index_t{128} << 10) / std::max<index_t>(1, row_bytes), 1, std::max<index_t>(1, tallest));
}

DistArray region_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Region& r = *s.region;
  const RegionInputs inputs = gather_region_inputs(r, in, p.needs, p.layout, comm);
  DistArray out(p.layout, r.root->dtype, comm.rank());
  for (std::size_t t = 0; t < out.tiles().size(); ++t) {
    Tile& tile = out.tiles()[t];
    fused_tile(r.program, tile.data.data(), tile.box.shape(), inputs.tiles[t]);
  }
  return out;
}

}  // namespace spartanxx::detail
