#pragma once
// The planner's decisions for one node, and the per-operation planning and execution
// functions the executor dispatches to. Planning needs only shapes and input layouts,
// so every rank makes the same plan without communicating.
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "array/elementwise_kernels.hpp"
#include "expr/node.hpp"
#include "tiling/optimizer.hpp"

namespace spartanxx::backend {
class Communicator;
}

namespace spartanxx::detail {

struct Plan {
  Layout layout;                     // of the node's result (may be partial sums)
  std::string strategy;              // how it is computed, for explain()
  std::int64_t predicted_bytes = 0;  // bytes moved, all ranks together
  int variant = 0;                   // operation-specific choice
};

using InputLayouts = std::vector<const Layout*>;
using InputArrays = std::vector<const DistArray*>;
using backend::Communicator;

/// Boxes of an input (broadcast to `out`'s shape) that each rank needs to compute its
/// tiles of `out`, one box per held output tile, in tiles_of order.
Needs broadcast_needs(const Layout& out, const Shape& input_shape, int nranks);

Plan plan_source(const Node& n, int nranks);
DistArray exec_source(const Node& n, const Plan& p, Communicator& comm);

/// A fused elementwise region: the root and the elementwise nodes computed inside it
/// (each used only by the region, never held by a user, of the root's shape), run as
/// one program over each tile in cache-sized chunks.
struct Region {
  Node* root = nullptr;
  std::vector<Node*> members;     // inputs before consumers, root last
  std::vector<Node*> externals;   // the region's inputs, each once
  std::vector<FusedInstr> program;
  std::string label() const;
};

/// The region rooted at `root`; `interior(n)` tells whether an input is computed inside.
Region make_region(Node* root, const std::function<bool(const Node*)>& interior);
Plan plan_region(const Region& r, const InputLayouts& externals, int nranks);
DistArray exec_region(const Region& r, const InputArrays& externals, const Plan& p, Communicator& comm);

/// The region's inputs gathered for every tile this rank holds under `layout`, ready to
/// evaluate any slab of rows of those tiles (collective).
struct RegionInputs {
  std::vector<std::vector<Buffer>> buffers;  // [external][tile]
  std::vector<std::vector<MapInput>> tiles;  // [tile][external]
};
RegionInputs gather_region_inputs(const Region& r, const InputArrays& externals, const Layout& layout,
                                  Communicator& comm);
/// Rows [r0, r1) (along axis 0) of local tile `t` of the region's result, into `dst`;
/// a 0-d tile is one slab. With `produced` >= 0, that external is read from
/// `produced_rows` (rows [r0, r1) of it, contiguous) instead of from its tile.
void eval_region_rows(const Region& r, const RegionInputs& in, std::size_t t, const Shape& tile_shape, index_t r0,
                      index_t r1, std::byte* dst, int produced = -1, const std::byte* produced_rows = nullptr);

/// The region's inputs for `layout` when external `produced` is computed block by block
/// by the caller (a product): `others` are the remaining externals, in order. Returns
/// the inputs and sets `*produced_at` to its index among the externals (collective).
RegionInputs gather_region_inputs_around(const Region& r, const Node& produced, const InputArrays& others,
                                         const Layout& layout, Communicator& comm, int* produced_at);

/// Rows per block so that a block of rows `row_bytes` wide stays in cache (~128 KiB),
/// at most `tallest` (the tallest tile), at least 1.
index_t cache_block_rows(index_t row_bytes, index_t tallest);

/// Every way to compute the reduction (with `region`, its input is that elementwise
/// region, computed slab by slab while it is reduced, never materialized; `in` are then
/// the region's externals): partials along a split axis gathered and combined where
/// `target` says (default: replicated), and for a sum the partial sums each rank holds
/// (resolved by a later step).
std::vector<Plan> reduce_options(const Node& n, const InputLayouts& in, int nranks, const Region* region = nullptr,
                                 const Layout* target = nullptr);
DistArray exec_reduce(const Node& n, const InputArrays& in, const Plan& p, Communicator& comm,
                      const Region* region = nullptr);

/// Which dot operands are 2-d transposes folded into the product: the operand given is
/// the transpose's input, which the product reads transposed, with no copy.
using DotFold = std::array<bool, 2>;
/// The dot strategies, each with the layout it produces (the inner split: partial sums).
std::vector<Plan> dot_options(const Node& n, const InputLayouts& in, int nranks, DotFold fold = {false, false});
DistArray exec_dot(const Node& n, const InputArrays& in, const Plan& p, Communicator& comm, DotFold fold = {false, false});

/// The gradient product dot(X.T(), f(dot(X, w), ...)) as one pass over X's row blocks
/// (exec_gradient.cpp). Applies when X is split by rows only, each tile on one rank.
/// Inputs: X, w, then the region's externals other than z = dot(X, w), in order.
bool gradient_applies(const Layout& x);
std::vector<Plan> gradient_options(const Node& outer, const Region& r, const Node& z, const InputLayouts& in, int nranks);
DistArray exec_gradient(const Node& outer, const Region& r, const Node& z, const InputArrays& in, const Plan& p,
                        Communicator& comm);

/// Elementwise maps on a product, f(dot(a, b), ...), with a split by rows only (or
/// replicated): each row block of the product is computed and mapped while in cache; the
/// product is never materialized. Inputs: a, b, then the region's externals other than z.
bool dot_map_applies(const Node& z, const Layout& a);
std::vector<Plan> dot_map_options(const Region& r, const Node& z, const InputLayouts& in, int nranks);
DistArray exec_dot_map(const Region& r, const Node& z, const InputArrays& in, const Plan& p, Communicator& comm);

Plan plan_transpose(const Node& n, const InputLayouts& in, int nranks);
DistArray exec_transpose(const Node& n, const InputArrays& in, const Plan& p, Communicator& comm);

Plan plan_slice(const Node& n, const InputLayouts& in, int nranks);
DistArray exec_slice(const Node& n, const InputArrays& in, const Plan& p, Communicator& comm);

Plan plan_reshape(const Node& n, const InputLayouts& in, int nranks);
DistArray exec_reshape(const Node& n, const InputArrays& in, const Plan& p, Communicator& comm);

/// Steps that touch sparse matrices (exec_sparse.cpp): a sparse result, a sparse input,
/// or a reduction of a region over sparse values. `inputs` are the step's input nodes
/// (for a dot, folded transposes replaced by their inputs; for a region, its externals).
bool is_sparse_step(const Node& n, const Region* region, const std::vector<const Node*>& inputs);
std::vector<Plan> sparse_options(const Node& n, const Region* region, DotFold fold, const std::vector<const Node*>& inputs,
                                 const InputLayouts& in, int nranks);
DistArray exec_sparse(const Node& n, const Region* region, DotFold fold, const std::vector<const Node*>& inputs,
                      const InputArrays& in, const Plan& p, Communicator& comm);

/// Forces `root` (collective): plans and runs every node reachable from it that has no
/// cached result, caches results on the nodes that user handles still reach, and
/// records statistics.
void evaluate(const NodePtr& root);

/// The whole array, in C order, on every rank (collective).
Buffer gather_whole(const DistArray& a, Communicator& comm);

/// The layout problem the optimizer solves for `root` (for tests: its cost function keeps
/// the graph alive, and stays valid until `root` is evaluated, which changes the graph),
/// the optimizer's answer, and the greedy plan's cost
/// (each step laid out where its inputs are, as one would without the optimizer).
struct LayoutReport {
  tiling::LayoutProblem problem;
  tiling::LayoutSolution solution;
  tiling::Cost greedy;
  std::vector<std::string> steps;  // a label per step
  double seconds = 0;              // time to build and solve the problem
  double solve_seconds = 0;        // of which solving
};
LayoutReport layout_report(const NodePtr& root);

/// How many evaluations (and explains) on this rank reused a cached plan.
std::int64_t plan_cache_hits();

/// The plan for `root` as text (plans without running when not yet evaluated).
std::string explain_plan(const NodePtr& root);

}  // namespace spartanxx::detail
