#pragma once
// Helpers shared by the graph builders: handle checks and shape/dtype inference.
#include <string>
#include <vector>

#include "expr/node.hpp"
#include "spartanxx/array.hpp"

namespace spartanxx::detail {

/// The node behind a handle; std::logic_error for a default-constructed Array.
const NodePtr& node_of(const Array& a, const char* op);

/// NumPy broadcasting of several shapes; shape_error naming `op` and all shapes.
Shape broadcast_shapes(const char* op, const std::vector<const Node*>& operands);

/// NumPy's result_type over operands, with weak C++ scalars yielding (NEP 50).
DType result_type(const std::vector<const Node*>& operands);

/// An axis in [-ndim, ndim) made non-negative; axis_error naming `op` and the shape otherwise.
/// A fresh id for a new sparse structure (see Node::pattern).
std::uint64_t new_pattern_id();

struct Triplets;
/// A sparse matrix from the triplets this rank holds, taken over rather than copied (the
/// file readers' path; the caller has checked the indices). Collective.
Array sparse_from_triplets(const Shape& shape, Triplets triplets, DType dtype);

int normalize_axis(const char* op, int axis, const Shape& shape);

}  // namespace spartanxx::detail
