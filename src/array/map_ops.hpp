#pragma once
// The elementwise operations and their semantics, in one table: the name errors and
// explain() use, the arity, how the result and compute dtypes follow from the operands,
// the value at given operands (what a sparse operand's implicit zeros become), and
// which dtypes the operation refuses. The graph builders and the sparse rules read this
// table; the kernels (elementwise_kernels.cpp) implement each operation per compute
// type. Adding an operation: its public declaration (ops.hpp, defined in one line in
// build_elementwise.cpp), its entry and row here, its kernel.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <algorithm>

namespace spartanxx::detail {

enum class MapOp : std::uint8_t {
  identity,  // also casts (astype)
  negative, logical_not, exp, log, log1p, sqrt, abs, square, tanh, sigmoid, sign, floor, ceil, isnan, isfinite,
  add, subtract, multiply, divide, power, maximum, minimum,
  equal, not_equal, less, less_equal, greater, greater_equal, logical_and, logical_or,
  where,  // inputs: condition, a, b
  count_  // the number of operations (not an operation)
};

/// The result dtype, from the operands' promoted dtype.
enum class MapResult : std::uint8_t {
  same,      // the promoted dtype
  floating,  // float32 stays float32, everything else becomes float64
  boolean,   // comparisons, logical operations, tests such as isnan
};

/// The dtype the operation computes in.
enum class MapCompute : std::uint8_t {
  result,    // the result dtype (booleans counted in int64)
  operands,  // the operands' promoted dtype (booleans in int64): comparisons, tests
  boolean,   // bool (logical operations)
  cast,      // the target dtype (astype)
};

struct MapOpInfo {
  MapOp op;
  const char* name;
  int arity;
  MapResult result;
  MapCompute compute;
  /// Not defined for boolean operands (NumPy refuses them): the hint names what to use.
  const char* boolean_hint;
  /// A zero operand makes the result zero whatever the others are (x * 0, x && 0): the
  /// map keeps a sparse operand sparse even against dense arrays.
  bool zero_dominates;
  /// The operation on double operands (x, y, z; unused ones are 0). Used where the
  /// value at given operands decides a rule: a map keeps a sparse operand sparse when
  /// its value at the implicit zeros is 0.
  double (*at)(double x, double y, double z);
};

namespace map_table {
using R = MapResult;
using C = MapCompute;

constexpr MapOpInfo kTable[] = {
    // operation, name, arity, result, compute, refuses booleans (hint), zero dominates, value at (x, y, z)
    {MapOp::identity, "astype", 1, R::same, C::cast, nullptr, false, [](double x, double, double) { return x; }},
    {MapOp::negative, "negative", 1, R::same, C::result, "use logical_not", false, [](double x, double, double) { return -x; }},
    {MapOp::logical_not, "logical_not", 1, R::boolean, C::boolean, nullptr, false, [](double x, double, double) { return double(x == 0); }},
    {MapOp::exp, "exp", 1, R::floating, C::result, nullptr, false, [](double x, double, double) { return std::exp(x); }},
    {MapOp::log, "log", 1, R::floating, C::result, nullptr, false, [](double x, double, double) { return std::log(x); }},
    {MapOp::log1p, "log1p", 1, R::floating, C::result, nullptr, false, [](double x, double, double) { return std::log1p(x); }},
    {MapOp::sqrt, "sqrt", 1, R::floating, C::result, nullptr, false, [](double x, double, double) { return std::sqrt(x); }},
    {MapOp::abs, "abs", 1, R::same, C::result, nullptr, false, [](double x, double, double) { return std::abs(x); }},
    {MapOp::square, "square", 1, R::same, C::result, nullptr, false, [](double x, double, double) { return x * x; }},
    {MapOp::tanh, "tanh", 1, R::floating, C::result, nullptr, false, [](double x, double, double) { return std::tanh(x); }},
    {MapOp::sigmoid, "sigmoid", 1, R::floating, C::result, nullptr, false, [](double x, double, double) { return 1 / (1 + std::exp(-x)); }},
    {MapOp::sign, "sign", 1, R::same, C::result, nullptr, false, [](double x, double, double) { return x > 0 ? 1.0 : x < 0 ? -1.0 : x; }},
    // NumPy 2.1 on: integers and booleans keep their dtype (the values are already whole).
    {MapOp::floor, "floor", 1, R::same, C::result, nullptr, false, [](double x, double, double) { return std::floor(x); }},
    {MapOp::ceil, "ceil", 1, R::same, C::result, nullptr, false, [](double x, double, double) { return std::ceil(x); }},
    {MapOp::isnan, "isnan", 1, R::boolean, C::operands, nullptr, false, [](double x, double, double) { return double(std::isnan(x)); }},
    {MapOp::isfinite, "isfinite", 1, R::boolean, C::operands, nullptr, false, [](double x, double, double) { return double(std::isfinite(x)); }},
    {MapOp::add, "add", 2, R::same, C::result, nullptr, false, [](double x, double y, double) { return x + y; }},
    {MapOp::subtract, "subtract", 2, R::same, C::result, "use logical_and/logical_not", false, [](double x, double y, double) { return x - y; }},
    {MapOp::multiply, "multiply", 2, R::same, C::result, nullptr, true, [](double x, double y, double) { return x * y; }},
    {MapOp::divide, "divide", 2, R::floating, C::result, nullptr, false, [](double x, double y, double) { return x / y; }},
    {MapOp::power, "power", 2, R::same, C::result, nullptr, false, [](double x, double y, double) { return std::pow(x, y); }},
    {MapOp::maximum, "maximum", 2, R::same, C::result, nullptr, false, [](double x, double y, double) { return std::max(x, y); }},
    {MapOp::minimum, "minimum", 2, R::same, C::result, nullptr, false, [](double x, double y, double) { return std::min(x, y); }},
    {MapOp::equal, "equal", 2, R::boolean, C::operands, nullptr, false, [](double x, double y, double) { return double(x == y); }},
    {MapOp::not_equal, "not_equal", 2, R::boolean, C::operands, nullptr, false, [](double x, double y, double) { return double(x != y); }},
    {MapOp::less, "less", 2, R::boolean, C::operands, nullptr, false, [](double x, double y, double) { return double(x < y); }},
    {MapOp::less_equal, "less_equal", 2, R::boolean, C::operands, nullptr, false, [](double x, double y, double) { return double(x <= y); }},
    {MapOp::greater, "greater", 2, R::boolean, C::operands, nullptr, false, [](double x, double y, double) { return double(x > y); }},
    {MapOp::greater_equal, "greater_equal", 2, R::boolean, C::operands, nullptr, false, [](double x, double y, double) { return double(x >= y); }},
    {MapOp::logical_and, "logical_and", 2, R::boolean, C::boolean, nullptr, true, [](double x, double y, double) { return double(x != 0 && y != 0); }},
    {MapOp::logical_or, "logical_or", 2, R::boolean, C::boolean, nullptr, false, [](double x, double y, double) { return double(x != 0 || y != 0); }},
    {MapOp::where, "where", 3, R::same, C::result, nullptr, false, [](double x, double y, double z) { return x != 0 ? y : z; }},
};
constexpr bool one_row_per_op_in_order() {
  constexpr std::size_t n = sizeof(kTable) / sizeof(kTable[0]);
  if (n != static_cast<std::size_t>(MapOp::count_)) return false;
  for (std::size_t i = 0; i < n; ++i)
    if (static_cast<std::size_t>(kTable[i].op) != i) return false;
  return true;
}
static_assert(one_row_per_op_in_order(), "map_ops.hpp: one row per MapOp, in the enum's order");

}  // namespace map_table

/// The row of the table for `op`.
constexpr const MapOpInfo& map_info(MapOp op) { return map_table::kTable[static_cast<std::size_t>(op)]; }

}  // namespace spartanxx::detail
