#pragma once
// The planning and running functions of every kind of step, with the registry's
// signatures (registry.hpp), and the helpers they share. Each exec_*.cpp file defines
// its own; steps.cpp puts them in the table. Nothing outside src/expr calls these.
#include <vector>

#include "expr/registry.hpp"

namespace spartanxx::detail {

// Each kind of step has NAME_options and NAME_run with the registry's signatures.
// exec_elementwise.cpp: generated sources, lazy sources, fused regions.
std::vector<Plan> source_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray source_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
std::vector<Plan> read_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray read_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
std::vector<Plan> region_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray region_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
Layout source_natural(const Step& s, const InputLayouts& in, const Machine& m);
Layout region_natural(const Step& s, const InputLayouts& in, const Machine& m);
// exec_reduce.cpp
std::vector<Plan> reduce_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray reduce_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
// exec_linalg.cpp: dense products, and maps on a product row block by row block.
std::vector<Plan> dot_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray dot_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
std::vector<Plan> dot_map_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray dot_map_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
std::vector<Plan> sparse_dot_map_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray sparse_dot_map_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
// exec_gradient.cpp
std::vector<Plan> gradient_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray gradient_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
std::vector<Plan> sparse_gradient_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray sparse_gradient_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
// exec_shape.cpp
std::vector<Plan> transpose_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray transpose_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
std::vector<Plan> slice_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray slice_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
std::vector<Plan> reshape_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray reshape_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
// exec_sparse.cpp: maps over stored values, reductions, shape operations, conversions.
std::vector<Plan> sparse_map_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray sparse_map_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
std::vector<Plan> sparse_reduce_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray sparse_reduce_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
std::vector<Plan> sparse_transpose_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray sparse_transpose_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
std::vector<Plan> sparse_slice_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray sparse_slice_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
std::vector<Plan> todense_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray todense_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
std::vector<Plan> to_sparse_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray to_sparse_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
// exec_sparse_dot.cpp: products with a sparse operand.
std::vector<Plan> sparse_dense_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray sparse_dense_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
std::vector<Plan> sparse_t_dense_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray sparse_t_dense_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
std::vector<Plan> dense_sparse_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray dense_sparse_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
std::vector<Plan> dense_sparse_t_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray dense_sparse_t_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
std::vector<Plan> sparse_sparse_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray sparse_sparse_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);
std::vector<Plan> sparse_sparse_whole_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m);
DistArray sparse_sparse_whole_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm);

/// A generated leaf's values in `layout` (a C++ scalar: replicated).
DistArray make_source(const Node& n, const Layout& layout, Communicator& comm);

/// Boxes of an input (broadcast to `out`'s shape) that each rank needs to compute its
/// tiles of `out`, one box per held output tile, in tiles_of order.
Needs broadcast_needs(const Layout& out, const Shape& input_shape, int nranks);

/// The region evaluated in `out`: the needs of each external and their bytes.
Plan region_plan(const Region& r, const InputLayouts& externals, const Layout& out, int nranks);
/// The layout a region takes where nothing else decides: that of an external of its
/// full shape (aligned operands move nothing), replicated when every external is, else
/// row blocks.
Layout region_layout(const Region& r, const InputLayouts& externals, int nranks);

/// The region's inputs gathered (the boxes `needs` names, per external) for every tile
/// this rank holds under `layout`, ready to evaluate any slab of rows of those tiles
/// (collective). External `produced` (>= 0) is computed block by block by the caller (a
/// product): it is not gathered, eval_region_rows is given its rows.
struct RegionInputs {
  std::vector<std::vector<Buffer>> buffers;  // [external][tile]
  std::vector<std::vector<MapInput>> tiles;  // [tile][external]
};
RegionInputs gather_region_inputs(const Region& r, const InputArrays& externals, const std::vector<Needs>& needs,
                                  const Layout& layout, Communicator& comm, int produced = -1);
/// Rows [r0, r1) (along axis 0) of local tile `t` of the region's result, into `dst`;
/// a 0-d tile is one slab. With `produced` >= 0, that external is read from
/// `produced_rows` (rows [r0, r1) of it, contiguous) instead of from its tile.
void eval_region_rows(const Region& r, const RegionInputs& in, std::size_t t, const Shape& tile_shape, index_t r0,
                      index_t r1, std::byte* dst, int produced = -1, const std::byte* produced_rows = nullptr);

/// A fused product's inputs are its operands, then the region's externals other than
/// the product: the region's externals with the product's slot (`*produced_at`) marked,
/// and their needs, for gather_region_inputs.
InputArrays region_externals_around(const Step& s, const InputArrays& in, int* produced_at);
std::vector<Needs> region_needs_around(const Step& s, const Plan& p);

/// Rows per block so that a block of rows `row_bytes` wide stays in cache (~128 KiB),
/// at most `tallest` (the tallest tile), at least 1.
index_t cache_block_rows(index_t row_bytes, index_t tallest);

/// Whether the one-pass gradient applies to X in this layout: split by rows only, each
/// tile on one rank (exec_gradient.cpp).
bool gradient_applies(const Layout& x);
/// Whether f(dot(a, b), ...) can run row block by row block of a in this layout.
bool dot_map_applies(const Node& z, const Layout& a);

}  // namespace spartanxx::detail
