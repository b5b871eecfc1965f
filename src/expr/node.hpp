#pragma once
// Nodes of the lazy expression graph. A node describes an operation (its kind, inputs,
// parameters, inferred shape and dtype); the planner (plan.hpp) decides layouts and
// strategies; the executor runs the plan and caches results on nodes.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "array/dist_array.hpp"
#include "array/map_ops.hpp"
#include "array/reduce_kernels.hpp"
#include "spartanxx/dtype.hpp"

namespace spartanxx::detail {

using tiling::Shape;
class LazySource;

enum class Op {
  // leaves
  materialized,  // data already computed (from_buffer, from_rows, or a cached result)
  constant,      // full(shape, value)
  weak_scalar,   // a C++ scalar: 0-d, dtype yields to arrays it meets
  arange,
  eye,
  uniform,
  normal,
  source,        // a lazy source that reads its own tiles when evaluated (boundary.hpp)
  // elementwise (Node::fn says which: array/map_ops.hpp), unary to ternary
  map,
  // others
  reduce,
  dot,
  transpose,
  slice,
  reshape,
  todense,    // sparse -> dense
  to_sparse,  // dense -> sparse
};

bool is_elementwise(Op op);
const char* op_name(Op op);
const char* reduce_name(ReduceKind k);

using tiling::AxisSlice;

struct Node {
  Op op = Op::materialized;
  Shape shape;
  DType dtype = DType::f64;
  std::vector<std::shared_ptr<Node>> inputs;

  // parameters (which are meaningful depends on op)
  MapOp fn = MapOp::identity;  // map: the elementwise operation
  double value = 0;          // constant / weak scalar (float) / arange start / uniform lo / normal mean
  double value2 = 0;         // arange step / uniform hi / normal sd
  std::int64_t ivalue = 0;   // weak scalar (integer) / eye diagonal offset
  DType scalar_kind = DType::f64;  // weak scalar: boolean, i64 or f64
  std::uint64_t seed = 0;
  std::shared_ptr<const LazySource> source;  // source
  ReduceKind reduce_kind = ReduceKind::sum;
  int axis = -1;             // reduce: -1 means all axes
  std::vector<int> perm;     // transpose
  std::vector<AxisSlice> slices;  // slice

  // sparse arrays
  bool sparse = false;         // the result is a sparse matrix
  std::uint64_t pattern = 0;   // results with equal (non-zero) ids have the same CSR structure
  std::int64_t nnz_estimate = 0;  // stored entries, exact for data, estimated otherwise

  // evaluation
  std::shared_ptr<DistArray> result;  // cached result, when evaluated
  std::shared_ptr<const std::string> history;  // explain() text of the evaluation that made `result`

  /// "add", "sum(axis=1)", "dot", "slice[0:10:1, ...]" ...
  std::string label() const;

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  /// Releases long chains of inputs iteratively (a lazy loop can build 100,000 nodes).
  ~Node();
};

using NodePtr = std::shared_ptr<Node>;

/// A node of kind `op` over `inputs` with the given shape and dtype.
NodePtr make_node(Op op, Shape shape, DType dtype, std::vector<NodePtr> inputs = {});

}  // namespace spartanxx::detail
