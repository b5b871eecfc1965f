#pragma once
// The lazy distributed array handle.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "spartanxx/dtype.hpp"
#include "spartanxx/fwd.hpp"

namespace spartanxx {

/// A shape: Shape{1000, 64}.
using Shape = std::vector<std::int64_t>;

/// One axis of a basic slice, NumPy's start:stop:step. Omitted bounds (std::nullopt)
/// mean "from the beginning / to the end" in the direction of the step; negative
/// bounds count from the end. Unlike NumPy, which clamps, a bound outside [-n, n]
/// is an error (index_error): spartanxx prefers failing loudly.
///
///     a.slice({Range{0, 10}, Range::all()})     // a[0:10, :]
///     a.slice({Range{std::nullopt, std::nullopt, -1}})  // a[::-1]
struct Range {
  std::optional<std::int64_t> start;
  std::optional<std::int64_t> stop;
  std::int64_t step = 1;

  Range() = default;
  Range(std::optional<std::int64_t> start_, std::optional<std::int64_t> stop_, std::int64_t step_ = 1)
      : start(start_), stop(stop_), step(step_) {}
  /// The whole axis, `:`.
  static Range all() { return Range{}; }
};

/// A lazy handle to a node of the expression graph. Copies share the node. Every
/// operation on Arrays builds a new node; nothing runs until a result is forced by
/// evaluate(), item(), to_eigen(), to_xtensor() or to_vector(). Like MPI collectives,
/// spartanxx calls must be made by every rank in the same order.
///
///     auto x = spartanxx::random::uniform({1000, 64}, 42);
///     auto y = spartanxx::sum(spartanxx::square(x - 0.5), 1);  // nothing computed yet
///     y.evaluate();                                              // now it is
class Array {
 public:
  /// An empty handle (every operation on it is an error); assign an array to it.
  Array() = default;

  const Shape& shape() const;
  DType dtype() const;
  int ndim() const { return static_cast<int>(shape().size()); }
  std::int64_t size() const;
  /// True for a sparse matrix (see sparse.hpp).
  bool is_sparse() const;
  /// The dense array (itself when dense); lazy.
  Array todense() const;
  /// A sparse matrix of the nonzero elements (itself when sparse); lazy.
  Array to_sparse() const;
  /// True once the node holds a computed result.
  bool is_evaluated() const;

  /// Forces evaluation of the graph reachable from this array (collective); the result
  /// is cached on the node.
  const Array& evaluate() const;

  /// Reversed axes, as NumPy's a.T.
  Array T() const;
  /// Axes permuted: result axis i is axis axes[i] of this array.
  Array transpose(const std::vector<int>& axes) const;
  /// A copy converted to `dtype` (C++ conversion rules; to bool: x != 0).
  Array astype(DType dtype) const;
  /// Same elements in C order with a new shape; one entry may be -1.
  Array reshape(const Shape& shape) const;
  /// Basic slicing; fewer ranges than axes leave the trailing axes whole.
  Array slice(const std::vector<Range>& ranges) const;

  /// The single element of a one-element array, as double (collective).
  double item() const;


 private:
  friend struct detail::ArrayAccess;  // the graph's side of the handle (src/expr/build.hpp)
  explicit Array(std::shared_ptr<detail::Node> node) : node_(std::move(node)) {}
  const detail::Node& checked() const;
  std::shared_ptr<detail::Node> node_;
};

/// All elements in C order, converted to T (double, float, int64, int32 or uint8 for
/// booleans), on every rank (collective): to_vector<double>(sum(x, 0)).
template <class T>
std::vector<T> to_vector(const Array& a);
extern template std::vector<double> to_vector<double>(const Array&);
extern template std::vector<float> to_vector<float>(const Array&);
extern template std::vector<std::int64_t> to_vector<std::int64_t>(const Array&);
extern template std::vector<std::int32_t> to_vector<std::int32_t>(const Array&);
extern template std::vector<std::uint8_t> to_vector<std::uint8_t>(const Array&);

/// The optimized plan of `a` as text: each node with its layout, the bytes it is
/// predicted to move and, after evaluation, the bytes it moved on this rank.
std::string explain(const Array& a);

}  // namespace spartanxx
