// Building elementwise nodes: broadcasting, type promotion, dtype rules per operation.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "expr/build.hpp"
#include "spartanxx/errors.hpp"
#include "spartanxx/ops.hpp"
#include "tiling/box.hpp"

namespace spartanxx::detail {

const NodePtr& node_of(const Array& a, const char* op) {
  const NodePtr& n = ArrayAccess::node(a);
  if (!n) throw std::logic_error(fmt::format("{}: the Array handle is empty (default-constructed)", op));
  return n;
}

Shape broadcast_shapes(const char* op, const std::vector<const Node*>& operands) {
  std::size_t nd = 0;
  for (const Node* n : operands) nd = std::max(nd, n->shape.size());
  Shape out(nd, 1);
  for (const Node* n : operands) {
    const std::size_t off = nd - n->shape.size();
    for (std::size_t i = 0; i < n->shape.size(); ++i) {
      const index_t d = n->shape[i];
      index_t& o = out[off + i];
      if (d == o || d == 1) continue;
      if (o == 1) {
        o = d;
        continue;
      }
      std::vector<std::string> shapes;
      for (const Node* m : operands) shapes.push_back(tiling::to_string(m->shape));
      throw shape_error(fmt::format("{}: operands could not be broadcast together with shapes {}", op,
                                    fmt::join(shapes, " ")));
    }
  }
  return out;
}

DType result_type(const std::vector<const Node*>& operands) {
  bool any_strong = false;
  DType strong = DType::boolean;
  for (const Node* n : operands)
    if (n->op != Op::weak_scalar) {
      strong = any_strong ? promote_types(strong, n->dtype) : n->dtype;
      any_strong = true;
    }
  DType out = any_strong ? strong : DType::boolean;
  for (const Node* n : operands) {
    if (n->op != Op::weak_scalar) continue;
    const DType k = n->scalar_kind;
    if (!any_strong) {
      out = promote_types(out, k);
    } else if (k == DType::f64 && !is_floating(out)) {
      out = DType::f64;
    } else if (k == DType::i64 && out == DType::boolean) {
      out = DType::i64;
    }
  }
  return out;
}

int normalize_axis(const char* op, int axis, const Shape& shape) {
  const int ndim = static_cast<int>(shape.size());
  if (axis < -ndim || axis >= ndim)
    throw axis_error(fmt::format("{}: axis {} is out of bounds for array of dimension {} (shape {})", op, axis, ndim,
                                 tiling::to_string(shape)));
  return axis < 0 ? axis + ndim : axis;
}

Array weak_scalar(double value, DType kind) {
  auto n = make_node(Op::weak_scalar, {}, kind);
  n->scalar_kind = kind;
  n->value = value;
  // Only a value an int64 holds converts (inf, NaN or 1e300 as an integer is undefined).
  n->ivalue = std::isfinite(value) && std::fabs(value) < 9.2e18 ? static_cast<std::int64_t>(value) : 0;
  return array_of(std::move(n));
}

Array weak_scalar(std::int64_t value, DType kind) {
  auto n = make_node(Op::weak_scalar, {}, kind);
  n->scalar_kind = kind;
  n->ivalue = value;
  n->value = static_cast<double>(value);
  return array_of(std::move(n));
}

namespace {

DType float_result(DType t) { return t == DType::f32 ? DType::f32 : DType::f64; }

std::uint64_t g_next_pattern = 0;

/// Sparse operands: the result is sparse with their pattern when the operation keeps
/// zeros zero (evaluated at the implicit zeros, or a product with dense arrays);
/// otherwise a value_error that says to call todense() first.
void apply_sparse_rules(MapOp op, const std::vector<const Node*>& raw, Node& out) {
  const MapOpInfo& info = map_info(op);
  const Node* first = nullptr;
  bool dense_arrays = false;
  std::vector<std::string> shapes;
  for (const Node* n : raw) {
    shapes.push_back(fmt::format("{}{}", tiling::to_string(n->shape), n->sparse ? " sparse" : ""));
    if (n->sparse && !first) first = n;
    if (!n->sparse && n->op != Op::weak_scalar && !(n->op == Op::constant && n->shape.empty())) dense_arrays = true;
  }
  if (!first) return;
  const std::string operands = fmt::format("{}", fmt::join(shapes, ", "));
  if (out.shape != first->shape)
    throw shape_error(fmt::format("{}: a sparse operand cannot be broadcast (operands {})", info.name, operands));
  for (const Node* n : raw)
    if (n->sparse && n->pattern != first->pattern)
      throw value_error(fmt::format("{}: sparse operands of different structure are not supported (operands {}); "
                                    "call todense() on one of them first",
                                    info.name, operands));
  bool keeps = false;
  if (dense_arrays) {
    keeps = info.zero_dominates;
  } else {
    double args[3] = {0, 0, 0};
    for (std::size_t i = 0; i < raw.size(); ++i) args[i] = raw[i]->sparse ? 0.0 : raw[i]->value;
    keeps = info.at(args[0], args[1], args[2]) == 0;
  }
  if (!keeps)
    throw value_error(fmt::format("{}: the result would not be sparse (the operation does not keep zeros zero; "
                                  "operands {}); call todense() first",
                                  info.name, operands));
  out.sparse = true;
  out.pattern = first->pattern;
  out.nnz_estimate = first->nnz_estimate;
}

Array build(MapOp op, std::vector<Array> args) {
  const MapOpInfo& info = map_info(op);
  std::vector<NodePtr> inputs;
  std::vector<const Node*> raw;
  for (const Array& a : args) {
    inputs.push_back(node_of(a, info.name));
    raw.push_back(inputs.back().get());
  }
  Shape shape = broadcast_shapes(info.name, raw);
  std::vector<const Node*> values = raw;
  if (op == MapOp::where) values.erase(values.begin());  // the condition does not promote
  const DType rt = result_type(values);
  if (info.boolean_hint && rt == DType::boolean) {
    std::vector<std::string> shapes;
    for (const Node* n : raw) shapes.push_back(tiling::to_string(n->shape));
    throw dtype_error(fmt::format("{}: the boolean {} is not supported ({} {}); {}", info.name, info.name,
                                  raw.size() == 1 ? "shape" : "shapes", fmt::join(shapes, " and "), info.boolean_hint));
  }
  const DType out = info.result == MapResult::floating ? float_result(rt)
                    : info.result == MapResult::boolean ? DType::boolean
                                                        : rt;
  // A C++ integer outside the range of the integer dtype it would be cast to is an
  // error, as NumPy 2 raises for Python integers (comparisons are exact: they compute in
  // int64, see compute_dtype).
  if (rt == DType::i32 && info.compute != MapCompute::operands)
    for (const Node* n : raw)
      if (n->op == Op::weak_scalar && n->scalar_kind == DType::i64 &&
          (n->ivalue < std::numeric_limits<std::int32_t>::min() || n->ivalue > std::numeric_limits<std::int32_t>::max()))
        throw value_error(fmt::format("{}: integer {} is out of bounds for int32", info.name, n->ivalue));
  if (op == MapOp::power && is_integer(rt))
    for (std::size_t i = 1; i < raw.size(); ++i)
      if (raw[i]->op == Op::weak_scalar && raw[i]->ivalue < 0 && raw[i]->scalar_kind != DType::f64)
        throw value_error(fmt::format("power: integers to negative integer powers are not allowed (exponent {})",
                                      raw[i]->ivalue));
  // Weak scalars take the result's dtype (their values are kept in double/int64).
  auto node = make_node(Op::map, std::move(shape), out, std::move(inputs));
  node->fn = op;
  apply_sparse_rules(op, raw, *node);
  return array_of(std::move(node));
}

}  // namespace

std::uint64_t new_pattern_id() { return ++g_next_pattern; }

}  // namespace spartanxx::detail

namespace spartanxx {
using detail::build;
using detail::MapOp;

Array add(const Array& a, const Array& b) { return build(MapOp::add, {a, b}); }
Array subtract(const Array& a, const Array& b) { return build(MapOp::subtract, {a, b}); }
Array multiply(const Array& a, const Array& b) { return build(MapOp::multiply, {a, b}); }
Array divide(const Array& a, const Array& b) { return build(MapOp::divide, {a, b}); }
Array power(const Array& a, const Array& b) { return build(MapOp::power, {a, b}); }
Array maximum(const Array& a, const Array& b) { return build(MapOp::maximum, {a, b}); }
Array minimum(const Array& a, const Array& b) { return build(MapOp::minimum, {a, b}); }
Array equal(const Array& a, const Array& b) { return build(MapOp::equal, {a, b}); }
Array not_equal(const Array& a, const Array& b) { return build(MapOp::not_equal, {a, b}); }
Array less(const Array& a, const Array& b) { return build(MapOp::less, {a, b}); }
Array less_equal(const Array& a, const Array& b) { return build(MapOp::less_equal, {a, b}); }
Array greater(const Array& a, const Array& b) { return build(MapOp::greater, {a, b}); }
Array greater_equal(const Array& a, const Array& b) { return build(MapOp::greater_equal, {a, b}); }
Array logical_and(const Array& a, const Array& b) { return build(MapOp::logical_and, {a, b}); }
Array logical_or(const Array& a, const Array& b) { return build(MapOp::logical_or, {a, b}); }
Array negative(const Array& a) { return build(MapOp::negative, {a}); }
Array logical_not(const Array& a) { return build(MapOp::logical_not, {a}); }
Array exp(const Array& a) { return build(MapOp::exp, {a}); }
Array log(const Array& a) { return build(MapOp::log, {a}); }
Array log1p(const Array& a) { return build(MapOp::log1p, {a}); }
Array sqrt(const Array& a) { return build(MapOp::sqrt, {a}); }
Array abs(const Array& a) { return build(MapOp::abs, {a}); }
Array square(const Array& a) { return build(MapOp::square, {a}); }
Array tanh(const Array& a) { return build(MapOp::tanh, {a}); }
Array sigmoid(const Array& a) { return build(MapOp::sigmoid, {a}); }
Array sign(const Array& a) { return build(MapOp::sign, {a}); }
Array floor(const Array& a) { return build(MapOp::floor, {a}); }
Array ceil(const Array& a) { return build(MapOp::ceil, {a}); }
Array isnan(const Array& a) { return build(MapOp::isnan, {a}); }
Array isfinite(const Array& a) { return build(MapOp::isfinite, {a}); }
Array where(const Array& cond, const Array& a, const Array& b) {
  // The condition is truth-tested (x != 0), whatever the branches' dtype.
  return build(MapOp::where, {cond.dtype() == DType::boolean ? cond : cond.astype(DType::boolean), a, b});
}
Array clip(const Array& a, const Array& lo, const Array& hi) { return minimum(maximum(a, lo), hi); }

}  // namespace spartanxx
