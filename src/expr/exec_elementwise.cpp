// Planning and running leaves (generated sources) and elementwise maps.
#include <fmt/format.h>

#include <algorithm>

#include <cmath>
#include <functional>
#include <unordered_map>

#include "array/elementwise_kernels.hpp"
#include "expr/build.hpp"
#include "expr/plan.hpp"
#include "array/random_bits.hpp"
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

MapOp map_op(Op op) {
  switch (op) {
    case Op::negative: return MapOp::negative;
    case Op::logical_not: return MapOp::logical_not;
    case Op::exp: return MapOp::exp;
    case Op::log: return MapOp::log;
    case Op::log1p: return MapOp::log1p;
    case Op::sqrt: return MapOp::sqrt;
    case Op::abs: return MapOp::abs;
    case Op::square: return MapOp::square;
    case Op::tanh: return MapOp::tanh;
    case Op::sigmoid: return MapOp::sigmoid;
    case Op::sign: return MapOp::sign;
    case Op::cast: return MapOp::identity;
    case Op::add: return MapOp::add;
    case Op::subtract: return MapOp::subtract;
    case Op::multiply: return MapOp::multiply;
    case Op::divide: return MapOp::divide;
    case Op::power: return MapOp::power;
    case Op::maximum: return MapOp::maximum;
    case Op::minimum: return MapOp::minimum;
    case Op::equal: return MapOp::equal;
    case Op::not_equal: return MapOp::not_equal;
    case Op::less: return MapOp::less;
    case Op::less_equal: return MapOp::less_equal;
    case Op::greater: return MapOp::greater;
    case Op::greater_equal: return MapOp::greater_equal;
    case Op::logical_and: return MapOp::logical_and;
    case Op::logical_or: return MapOp::logical_or;
    case Op::where: return MapOp::where;
    default: break;
  }
  throw std::logic_error("map_op: not an elementwise operation");
}

/// The type the operation computes in (bool arithmetic counts in int64).
DType compute_dtype(const Node& n) {
  switch (n.op) {
    case Op::equal: case Op::not_equal: case Op::less: case Op::less_equal: case Op::greater: case Op::greater_equal: {
      std::vector<const Node*> in;
      for (const auto& i : n.inputs) in.push_back(i.get());
      const DType t = result_type(in);
      // A C++ integer compared with int32 values compares exactly, in int64.
      bool weak_int = false;
      for (const Node* i : in) weak_int = weak_int || (i->op == Op::weak_scalar && i->scalar_kind == DType::i64);
      return t == DType::boolean || (t == DType::i32 && weak_int) ? DType::i64 : t;
    }
    case Op::logical_and: case Op::logical_or: case Op::logical_not: return DType::boolean;
    case Op::cast: return n.dtype;
    default: return n.dtype == DType::boolean ? DType::i64 : n.dtype;
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

Plan plan_source(const Node& n, int nranks) {
  if (n.op == Op::materialized) throw std::logic_error("plan_source: a materialized node has no result");
  Plan p;
  p.layout = n.op == Op::weak_scalar ? Layout::replicated(n.shape) : Layout::rows(n.shape, nranks);
  return p;
}

DistArray exec_source(const Node& n, const Plan& p, Communicator& comm) {
  const DType stored = n.op == Op::weak_scalar ? n.scalar_kind : n.dtype;
  DistArray out(p.layout, stored, comm.rank());
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
        default: throw std::logic_error("exec_source: not a source node");
      }
    });
  }
  return out;
}

std::string Region::label() const {
  if (members.size() == 1) return root->label();
  std::vector<std::string> ops;
  for (const Node* m : members) ops.push_back(m->label());
  return fmt::format("fused[{}]", fmt::join(ops, " "));
}

Region make_region(Node* root, const std::function<bool(const Node*)>& interior) {
  Region r;
  r.root = root;
  std::unordered_map<const Node*, int> instr, ext;
  // Post-order over interior inputs (iterative: regions can be very long chains), so
  // operands get their instruction before their users.
  auto emit = [&](Node* n) {
    FusedInstr ins{map_op(n->op), compute_dtype(*n), n->dtype, {}};
    for (const auto& in : n->inputs) {
      if (interior(in.get())) {
        ins.args.push_back(instr.at(in.get()));
      } else {
        auto it = ext.find(in.get());
        if (it == ext.end()) {
          it = ext.emplace(in.get(), static_cast<int>(r.externals.size())).first;
          r.externals.push_back(in.get());
        }
        ins.args.push_back(-it->second - 1);
      }
    }
    instr[n] = static_cast<int>(r.program.size());
    r.program.push_back(std::move(ins));
    r.members.push_back(n);
  };
  std::vector<std::pair<Node*, std::size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (next < n->inputs.size()) {
      Node* in = n->inputs[next++].get();
      if (interior(in) && !instr.count(in)) {
        instr[in] = -1;  // being visited
        stack.emplace_back(in, 0);
      }
    } else {
      Node* done = n;
      stack.pop_back();
      emit(done);
    }
  }
  return r;
}

Plan plan_region(const Region& r, const InputLayouts& in, int nranks) {
  const Node& root = *r.root;
  Plan p;
  const Layout* chosen = nullptr;
  bool all_replicated = true;
  for (std::size_t i = 0; i < in.size(); ++i) {
    all_replicated = all_replicated && in[i]->is_replicated();
    if (!chosen && r.externals[i]->shape == root.shape && !in[i]->is_replicated()) chosen = in[i];
  }
  // Follow an input of the full shape (aligned operands move nothing); when every
  // operand is replicated, so is the result; otherwise rows.
  p.layout = chosen ? *chosen : all_replicated ? Layout::replicated(root.shape) : Layout::rows(root.shape, nranks);
  for (std::size_t i = 0; i < in.size(); ++i)
    p.predicted_bytes += tiling::bytes_to_gather(*in[i], broadcast_needs(p.layout, r.externals[i]->shape, nranks),
                                                 itemsize(r.externals[i]->dtype));
  if (r.members.size() > 1) p.strategy = fmt::format("{} ops in one pass", r.members.size());
  return p;
}

RegionInputs gather_region_inputs(const Region& r, const InputArrays& in, const Layout& layout, Communicator& comm) {
  const Shape& shape = r.root->shape;
  const int nd = static_cast<int>(shape.size());
  RegionInputs out;
  for (std::size_t i = 0; i < in.size(); ++i)
    out.buffers.push_back(gather_boxes(*in[i], broadcast_needs(layout, in[i]->shape(), comm.size()), comm));
  const auto tiles = layout.tiles_of(comm.rank());
  for (std::size_t t = 0; t < tiles.size(); ++t) {
    const Shape oshape = layout.tile_box(tiles[t]).shape();
    std::vector<MapInput> inputs;
    for (std::size_t i = 0; i < in.size(); ++i) {
      MapInput mi;
      mi.data = out.buffers[i][t].data();
      mi.dtype = in[i]->dtype();
      const Shape& is = in[i]->shape();
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

RegionInputs gather_region_inputs_around(const Region& r, const Node& produced, const InputArrays& others,
                                         const Layout& layout, Communicator& comm, int* produced_at) {
  // An empty stand-in: its tiles are held locally, so gathering shares, never copies.
  DistArray slot(layout, produced.dtype, comm.rank(), /*allocate=*/false);
  for (Tile& tile : slot.tiles()) tile.data = Buffer(0);
  InputArrays ext;
  std::size_t next = 0;
  for (std::size_t i = 0; i < r.externals.size(); ++i) {
    if (r.externals[i] == &produced) {
      *produced_at = static_cast<int>(i);
      ext.push_back(&slot);
    } else {
      ext.push_back(others.at(next++));
    }
  }
  return gather_region_inputs(r, ext, layout, comm);
}

index_t cache_block_rows(index_t row_bytes, index_t tallest) {
  return std::clamp<index_t>((index_t{128} << 10) / std::max<index_t>(1, row_bytes), 1, std::max<index_t>(1, tallest));
}

DistArray exec_region(const Region& r, const InputArrays& in, const Plan& p, Communicator& comm) {
  const RegionInputs inputs = gather_region_inputs(r, in, p.layout, comm);
  DistArray out(p.layout, r.root->dtype, comm.rank());
  for (std::size_t t = 0; t < out.tiles().size(); ++t) {
    Tile& tile = out.tiles()[t];
    fused_tile(r.program, tile.data.data(), tile.box.shape(), inputs.tiles[t]);
  }
  return out;
}

}  // namespace spartanxx::detail
