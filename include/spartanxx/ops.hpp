#pragma once
// Elementwise operations, reductions and linear algebra, with NumPy's semantics:
// broadcasting, type promotion, and "weak" C++ scalars (a float32 array times 2.0
// stays float32, as under NumPy 2's NEP 50).
#include <cstdint>
#include <type_traits>

#include "spartanxx/array.hpp"

namespace spartanxx {

namespace detail {
/// A C++ scalar as a 0-d node whose dtype yields to the array it meets.
Array weak_scalar(double value, DType kind);
Array weak_scalar(std::int64_t value, DType kind);
template <class S>
Array as_array(S s) {
  static_assert(std::is_arithmetic_v<S>, "spartanxx: only arithmetic scalars combine with arrays");
  if constexpr (std::is_same_v<S, bool>) return weak_scalar(static_cast<std::int64_t>(s), DType::boolean);
  else if constexpr (std::is_integral_v<S>) return weak_scalar(static_cast<std::int64_t>(s), DType::i64);
  else return weak_scalar(static_cast<double>(s), DType::f64);
}
template <class S>
using if_scalar = std::enable_if_t<std::is_arithmetic_v<S>, int>;
}  // namespace detail

// ---- binary elementwise (array or scalar on either side) ----
Array add(const Array& a, const Array& b);
Array subtract(const Array& a, const Array& b);
Array multiply(const Array& a, const Array& b);
/// True division: integers divide to float64.
Array divide(const Array& a, const Array& b);
Array power(const Array& a, const Array& b);
/// NaN-propagating elementwise maximum / minimum.
Array maximum(const Array& a, const Array& b);
Array minimum(const Array& a, const Array& b);
Array equal(const Array& a, const Array& b);
Array not_equal(const Array& a, const Array& b);
Array less(const Array& a, const Array& b);
Array less_equal(const Array& a, const Array& b);
Array greater(const Array& a, const Array& b);
Array greater_equal(const Array& a, const Array& b);
Array logical_and(const Array& a, const Array& b);
Array logical_or(const Array& a, const Array& b);

// ---- unary elementwise ----
Array negative(const Array& a);
Array logical_not(const Array& a);
Array exp(const Array& a);
Array log(const Array& a);
Array log1p(const Array& a);
Array sqrt(const Array& a);
Array abs(const Array& a);
Array square(const Array& a);
Array tanh(const Array& a);
/// 1 / (1 + exp(-x)), computed without overflow for large |x|.
Array sigmoid(const Array& a);
/// -1, 0 or +1 by the sign of each element (0 for ±0, NaN for NaN), as numpy.sign.
Array sign(const Array& a);
/// The largest whole number <= x (smallest >= x); integers and booleans are returned as
/// they are, in their dtype (NumPy 2.1 on): floor(full({2}, -1.5)) == [-2, -2].
Array floor(const Array& a);
Array ceil(const Array& a);
/// Boolean tests: x is NaN; x is neither infinite nor NaN (integers are always finite).
Array isnan(const Array& a);
Array isfinite(const Array& a);

/// where(cond, a, b): a where cond is true, else b; cond is converted to bool.
Array where(const Array& cond, const Array& a, const Array& b);
/// minimum(maximum(a, lo), hi)
Array clip(const Array& a, const Array& lo, const Array& hi);

#define SPARTANXX_BINARY_SCALARS(name)                                                  \
  template <class S, detail::if_scalar<S> = 0>                                          \
  Array name(const Array& a, S s) { return name(a, detail::as_array(s)); }              \
  template <class S, detail::if_scalar<S> = 0>                                          \
  Array name(S s, const Array& b) { return name(detail::as_array(s), b); }
SPARTANXX_BINARY_SCALARS(add)
SPARTANXX_BINARY_SCALARS(subtract)
SPARTANXX_BINARY_SCALARS(multiply)
SPARTANXX_BINARY_SCALARS(divide)
SPARTANXX_BINARY_SCALARS(power)
SPARTANXX_BINARY_SCALARS(pow)
SPARTANXX_BINARY_SCALARS(maximum)
SPARTANXX_BINARY_SCALARS(minimum)
SPARTANXX_BINARY_SCALARS(equal)
SPARTANXX_BINARY_SCALARS(not_equal)
SPARTANXX_BINARY_SCALARS(less)
SPARTANXX_BINARY_SCALARS(less_equal)
SPARTANXX_BINARY_SCALARS(greater)
SPARTANXX_BINARY_SCALARS(greater_equal)
SPARTANXX_BINARY_SCALARS(operator+)
SPARTANXX_BINARY_SCALARS(operator-)
SPARTANXX_BINARY_SCALARS(operator*)
SPARTANXX_BINARY_SCALARS(operator/)
SPARTANXX_BINARY_SCALARS(operator==)
SPARTANXX_BINARY_SCALARS(operator!=)
SPARTANXX_BINARY_SCALARS(operator<)
SPARTANXX_BINARY_SCALARS(operator<=)
SPARTANXX_BINARY_SCALARS(operator>)
SPARTANXX_BINARY_SCALARS(operator>=)
#undef SPARTANXX_BINARY_SCALARS

/// pow is NumPy's alias of power.
inline Array pow(const Array& a, const Array& b) { return power(a, b); }

template <class L, class H, detail::if_scalar<L> = 0, detail::if_scalar<H> = 0>
Array clip(const Array& a, L lo, H hi) { return clip(a, detail::as_array(lo), detail::as_array(hi)); }
template <class S, detail::if_scalar<S> = 0>
Array where(const Array& cond, const Array& a, S b) { return where(cond, a, detail::as_array(b)); }
template <class S, detail::if_scalar<S> = 0>
Array where(const Array& cond, S a, const Array& b) { return where(cond, detail::as_array(a), b); }
template <class S, class U, detail::if_scalar<S> = 0, detail::if_scalar<U> = 0>
Array where(const Array& cond, S a, U b) { return where(cond, detail::as_array(a), detail::as_array(b)); }

inline Array operator+(const Array& a, const Array& b) { return add(a, b); }
inline Array operator-(const Array& a, const Array& b) { return subtract(a, b); }
inline Array operator*(const Array& a, const Array& b) { return multiply(a, b); }
inline Array operator/(const Array& a, const Array& b) { return divide(a, b); }
inline Array operator-(const Array& a) { return negative(a); }
inline Array operator==(const Array& a, const Array& b) { return equal(a, b); }
inline Array operator!=(const Array& a, const Array& b) { return not_equal(a, b); }
inline Array operator<(const Array& a, const Array& b) { return less(a, b); }
inline Array operator<=(const Array& a, const Array& b) { return less_equal(a, b); }
inline Array operator>(const Array& a, const Array& b) { return greater(a, b); }
inline Array operator>=(const Array& a, const Array& b) { return greater_equal(a, b); }
inline Array operator&&(const Array& a, const Array& b) { return logical_and(a, b); }
inline Array operator||(const Array& a, const Array& b) { return logical_or(a, b); }
inline Array operator!(const Array& a) { return logical_not(a); }

// ---- reductions: over the whole array (a 0-d result) or along one axis ----
// Result dtypes follow NumPy: sum of bool/int32 is int64, mean of integers is float64,
// argmin/argmax/count_nonzero are int64. An axis may be negative.
Array sum(const Array& a);
Array sum(const Array& a, int axis);
Array mean(const Array& a);
Array mean(const Array& a, int axis);
/// min/max of an empty array (or along an empty axis) is a value_error, as in NumPy.
Array min(const Array& a);
Array min(const Array& a, int axis);
Array max(const Array& a);
Array max(const Array& a, int axis);
/// Index of the first minimum / maximum, flattened (C order) without an axis.
Array argmin(const Array& a);
Array argmin(const Array& a, int axis);
Array argmax(const Array& a);
Array argmax(const Array& a, int axis);
Array count_nonzero(const Array& a);
Array count_nonzero(const Array& a, int axis);
/// 2-norm: of the flattened array (Frobenius for matrices) or of vectors along `axis`.
Array norm(const Array& a);
Array norm(const Array& a, int axis);

/// Each row divided by its L1 (ord = 1: sum of |x|) or L2 (ord = 2) norm; rows whose norm
/// is zero are left as they are, as sklearn.preprocessing.normalize. Sparse stays sparse.
Array normalize_rows(const Array& a, int ord = 2);

// ---- linear algebra ----
/// numpy.dot for 0-d, 1-d and 2-d operands: matrix·matrix, matrix·vector,
/// vector·matrix, vector·vector (a 0-d result); shapes that do not align raise
/// shape_error ("dot: shapes (100, 7) and (8,) not aligned: 7 (dim 1) != 8 (dim 0)").
Array dot(const Array& a, const Array& b);
/// numpy.matmul for 1-d and 2-d operands (0-d operands are an error, as in NumPy).
Array matmul(const Array& a, const Array& b);

}  // namespace spartanxx
