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
  if (!a.node()) throw std::logic_error(fmt::format("{}: the Array handle is empty (default-constructed)", op));
  return a.node();
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
  n->ivalue = static_cast<std::int64_t>(value);
  return Array(n);
}

Array weak_scalar(std::int64_t value, DType kind) {
  auto n = make_node(Op::weak_scalar, {}, kind);
  n->scalar_kind = kind;
  n->ivalue = value;
  n->value = static_cast<double>(value);
  return Array(n);
}

namespace {

DType float_result(DType t) { return t == DType::f32 ? DType::f32 : DType::f64; }

/// The operation at sparse operands' implicit zeros (scalars at their values); NaN when
/// it has no simple value.
double at_zero(Op op, const std::vector<double>& a) {
  const double x = a[0], y = a.size() > 1 ? a[1] : 0;
  switch (op) {
    case Op::negative: return -x;
    case Op::abs: return std::abs(x);
    case Op::sqrt: return std::sqrt(x);
    case Op::square: return x * x;
    case Op::sign: return x > 0 ? 1 : x < 0 ? -1 : x;
    case Op::cast: return x;
    case Op::log1p: return std::log1p(x);
    case Op::tanh: return std::tanh(x);
    case Op::exp: return std::exp(x);
    case Op::log: return std::log(x);
    case Op::sigmoid: return 1 / (1 + std::exp(-x));
    case Op::logical_not: return x == 0;
    case Op::add: return x + y;
    case Op::subtract: return x - y;
    case Op::multiply: return x * y;
    case Op::divide: return x / y;
    case Op::power: return std::pow(x, y);
    case Op::maximum: return std::max(x, y);
    case Op::minimum: return std::min(x, y);
    case Op::equal: return x == y;
    case Op::not_equal: return x != y;
    case Op::less: return x < y;
    case Op::less_equal: return x <= y;
    case Op::greater: return x > y;
    case Op::greater_equal: return x >= y;
    case Op::logical_and: return x != 0 && y != 0;
    case Op::logical_or: return x != 0 || y != 0;
    case Op::where: return x != 0 ? y : a[2];
    default: return std::nan("");
  }
}

std::uint64_t g_next_pattern = 0;

/// Sparse operands: the result is sparse with their pattern when the operation keeps
/// zeros zero (evaluated at the implicit zeros, or a product with dense arrays);
/// otherwise a value_error that says to call todense() first.
void apply_sparse_rules(Op op, const std::vector<const Node*>& raw, Node& out) {
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
    throw shape_error(fmt::format("{}: a sparse operand cannot be broadcast (operands {})", op_name(op), operands));
  for (const Node* n : raw)
    if (n->sparse && n->pattern != first->pattern)
      throw value_error(fmt::format("{}: sparse operands of different structure are not supported (operands {}); "
                                    "call todense() on one of them first",
                                    op_name(op), operands));
  bool keeps = false;
  if (dense_arrays) {
    keeps = op == Op::multiply || op == Op::logical_and;
  } else {
    std::vector<double> args;
    for (const Node* n : raw) args.push_back(n->sparse ? 0.0 : n->value);
    const double z = at_zero(op, args);
    keeps = z == 0;
  }
  if (!keeps)
    throw value_error(fmt::format("{}: the result would not be sparse (the operation does not keep zeros zero; "
                                  "operands {}); call todense() first",
                                  op_name(op), operands));
  out.sparse = true;
  out.pattern = first->pattern;
  out.nnz_estimate = first->nnz_estimate;
}

Array build(Op op, std::vector<Array> args) {
  std::vector<NodePtr> inputs;
  std::vector<const Node*> raw;
  for (const Array& a : args) {
    inputs.push_back(node_of(a, op_name(op)));
    raw.push_back(inputs.back().get());
  }
  Shape shape = broadcast_shapes(op_name(op), raw);
  std::vector<const Node*> values = raw;
  if (op == Op::where) values.erase(values.begin());  // the condition does not promote
  const DType rt = result_type(values);
  DType out = rt;
  switch (op) {
    case Op::subtract:
      if (rt == DType::boolean)
        throw dtype_error(fmt::format("subtract: the boolean subtract is not supported (shapes {} and {}); use logical_and/logical_not",
                                      tiling::to_string(raw[0]->shape), tiling::to_string(raw[1]->shape)));
      break;
    case Op::negative:
      if (rt == DType::boolean)
        throw dtype_error(fmt::format("negative: the boolean negative is not supported (shape {}); use logical_not",
                                      tiling::to_string(raw[0]->shape)));
      break;
    case Op::divide: out = float_result(rt); break;
    case Op::exp: case Op::log: case Op::log1p: case Op::sqrt: case Op::tanh: case Op::sigmoid:
      out = float_result(rt);
      break;
    case Op::equal: case Op::not_equal: case Op::less: case Op::less_equal: case Op::greater:
    case Op::greater_equal: case Op::logical_and: case Op::logical_or: case Op::logical_not:
      out = DType::boolean;
      break;
    default: break;
  }
  // A C++ integer outside the range of the integer dtype it would be cast to is an
  // error, as NumPy 2 raises for Python integers (comparisons are exact: they compute in
  // int64, see compute_dtype).
  const bool compares = op == Op::equal || op == Op::not_equal || op == Op::less || op == Op::less_equal ||
                        op == Op::greater || op == Op::greater_equal;
  if (rt == DType::i32 && !compares)
    for (const Node* n : raw)
      if (n->op == Op::weak_scalar && n->scalar_kind == DType::i64 &&
          (n->ivalue < std::numeric_limits<std::int32_t>::min() || n->ivalue > std::numeric_limits<std::int32_t>::max()))
        throw value_error(fmt::format("{}: integer {} is out of bounds for int32", op_name(op), n->ivalue));
  if (op == Op::power && is_integer(rt))
    for (std::size_t i = 1; i < raw.size(); ++i)
      if (raw[i]->op == Op::weak_scalar && raw[i]->ivalue < 0 && raw[i]->scalar_kind != DType::f64)
        throw value_error(fmt::format("power: integers to negative integer powers are not allowed (exponent {})",
                                      raw[i]->ivalue));
  // Weak scalars take the result's dtype (their values are kept in double/int64).
  auto node = make_node(op, std::move(shape), out, std::move(inputs));
  apply_sparse_rules(op, raw, *node);
  return Array(node);
}

}  // namespace

std::uint64_t new_pattern_id() { return ++g_next_pattern; }

}  // namespace spartanxx::detail

namespace spartanxx {
using detail::build;
using detail::Op;

Array add(const Array& a, const Array& b) { return build(Op::add, {a, b}); }
Array subtract(const Array& a, const Array& b) { return build(Op::subtract, {a, b}); }
Array multiply(const Array& a, const Array& b) { return build(Op::multiply, {a, b}); }
Array divide(const Array& a, const Array& b) { return build(Op::divide, {a, b}); }
Array power(const Array& a, const Array& b) { return build(Op::power, {a, b}); }
Array maximum(const Array& a, const Array& b) { return build(Op::maximum, {a, b}); }
Array minimum(const Array& a, const Array& b) { return build(Op::minimum, {a, b}); }
Array equal(const Array& a, const Array& b) { return build(Op::equal, {a, b}); }
Array not_equal(const Array& a, const Array& b) { return build(Op::not_equal, {a, b}); }
Array less(const Array& a, const Array& b) { return build(Op::less, {a, b}); }
Array less_equal(const Array& a, const Array& b) { return build(Op::less_equal, {a, b}); }
Array greater(const Array& a, const Array& b) { return build(Op::greater, {a, b}); }
Array greater_equal(const Array& a, const Array& b) { return build(Op::greater_equal, {a, b}); }
Array logical_and(const Array& a, const Array& b) { return build(Op::logical_and, {a, b}); }
Array logical_or(const Array& a, const Array& b) { return build(Op::logical_or, {a, b}); }
Array negative(const Array& a) { return build(Op::negative, {a}); }
Array logical_not(const Array& a) { return build(Op::logical_not, {a}); }
Array exp(const Array& a) { return build(Op::exp, {a}); }
Array log(const Array& a) { return build(Op::log, {a}); }
Array log1p(const Array& a) { return build(Op::log1p, {a}); }
Array sqrt(const Array& a) { return build(Op::sqrt, {a}); }
Array abs(const Array& a) { return build(Op::abs, {a}); }
Array square(const Array& a) { return build(Op::square, {a}); }
Array tanh(const Array& a) { return build(Op::tanh, {a}); }
Array sigmoid(const Array& a) { return build(Op::sigmoid, {a}); }
Array sign(const Array& a) { return build(Op::sign, {a}); }
Array where(const Array& cond, const Array& a, const Array& b) {
  // The condition is truth-tested (x != 0), whatever the branches' dtype.
  return build(Op::where, {cond.dtype() == DType::boolean ? cond : cond.astype(DType::boolean), a, b});
}
Array clip(const Array& a, const Array& lo, const Array& hi) { return minimum(maximum(a, lo), hi); }

}  // namespace spartanxx
