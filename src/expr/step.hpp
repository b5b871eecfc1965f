#pragma once
// Steps: the units of execution the passes form from a graph (passes.hpp). A step is a
// fused elementwise region, a reduction (of data or of a region computed as it is
// reduced), a product (its transposed operands read in place, or fused with the maps
// on its result, or the one-pass gradient), a shape operation or a source. Its key (the
// operation and the storage of its inputs) selects its entry in the step registry
// (steps.cpp): how it is planned and how a plan of it is run.
#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "array/elementwise_kernels.hpp"
#include "expr/node.hpp"

namespace spartanxx::detail {

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

/// Which dot operands are 2-d transposes folded into the product: the operand given is
/// the transpose's input, which the product reads transposed, with no copy.
using DotFold = std::array<bool, 2>;

/// What a step does, for the registry.
enum class StepOp : std::uint8_t {
  source,     // generated values (full, arange, eye, random), made in any layout
  read,       // a lazy source that reads its own boxes (boundary.hpp)
  map,        // a fused elementwise region
  reduce,     // a reduction of data, or of a region computed as it is reduced
  dot,
  gradient,   // dot(X.T(), f(dot(X, w), ...)) in one pass over X's row blocks
  dot_map,    // f(dot(a, b), ...) row block by row block of a
  transpose,
  slice,
  reshape,
  todense,
  to_sparse,
};

/// How a step reads an input: dense or sparse, and for a product's folded operand,
/// transposed in place.
enum class Storage : std::uint8_t { dense, sparse, dense_t, sparse_t };

/// The registry's key: the operation and the storage of each input. Maps and reductions
/// have one entry, the storage of the values they compute on (sparse when a sparse
/// operand is among them); a fused product has those of its two operands.
struct StepKey {
  StepOp op;
  std::vector<Storage> inputs;
  friend bool operator<(const StepKey& a, const StepKey& b) {
    return a.op != b.op ? a.op < b.op : a.inputs < b.inputs;
  }
};

struct StepImpl;

struct Step {
  Node* node = nullptr;              // the node whose result the step produces
  std::vector<Node*> inputs;         // what it reads
  std::unique_ptr<Region> region;    // for elementwise steps and reductions of regions
  DotFold fold{false, false};        // for dots: transposed operands read in place
  Node* gradient_z = nullptr;        // gradient: z = dot(X, w), computed block by block
  Node* map_dot = nullptr;           // dot_map: the dot, computed block by block
  const StepImpl* impl = nullptr;    // its registry entry (set by the passes)

  std::vector<const Node*> input_nodes() const { return {inputs.begin(), inputs.end()}; }
  /// "fused[...]", "sum(axis=1) of fused[...]", "dot(transposed, -)", ... for explain().
  std::string label() const;
};

}  // namespace spartanxx::detail
