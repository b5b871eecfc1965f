#pragma once
// Helpers shared by the graph builders: handle checks and shape/dtype inference.
#include <string>
#include <vector>

#include "expr/node.hpp"
#include "spartanxx/array.hpp"

namespace spartanxx::detail {

/// What the graph sees of a handle: the node behind it, and a handle to a node.
struct ArrayAccess {
  static const NodePtr& node(const Array& a) { return a.node_; }
  static Array make(NodePtr n) { return Array(std::move(n)); }
};

/// A handle to `n`.
inline Array array_of(NodePtr n) { return ArrayAccess::make(std::move(n)); }

/// The node behind a handle; std::logic_error for a default-constructed Array.
const NodePtr& node_of(const Array& a, const char* op = "Array");

/// NumPy broadcasting of several shapes; shape_error naming `op` and all shapes.
Shape broadcast_shapes(const char* op, const std::vector<const Node*>& operands);

/// NumPy's result_type over operands, with weak C++ scalars yielding (NEP 50).
DType result_type(const std::vector<const Node*>& operands);

/// A fresh id for a new sparse structure (see Node::pattern).
std::uint64_t new_pattern_id();

/// An axis in [-ndim, ndim) made non-negative; axis_error naming `op` and the shape otherwise.
int normalize_axis(const char* op, int axis, const Shape& shape);

}  // namespace spartanxx::detail
