#pragma once
// Shapes and boxes: the pure geometry every other layer speaks in.
#include <cstdint>
#include <string>
#include <vector>

namespace spartanxx::tiling {

using index_t = std::int64_t;
using Shape = std::vector<index_t>;

/// Number of elements of a shape (1 for a 0-d shape).
index_t volume(const Shape& shape);

/// "(3, 4)" / "(5,)" / "()" as NumPy prints shapes.
std::string to_string(const Shape& shape);

/// Row-major strides, in elements.
std::vector<index_t> row_major_strides(const Shape& shape);

/// An N-d half-open rectangle of global indices: lo[i] <= x[i] < hi[i].
/// One axis of a normalized slice: element j of the result is element start + j*step.
struct AxisSlice {
  index_t start = 0;
  index_t step = 1;
  index_t length = 0;
};

struct Box {
  std::vector<index_t> lo;
  std::vector<index_t> hi;

  static Box whole(const Shape& shape);

  int ndim() const { return static_cast<int>(lo.size()); }
  index_t extent(int axis) const { return hi[axis] - lo[axis]; }
  Shape shape() const;
  index_t volume() const;
  bool empty() const { return volume() == 0; }
  bool contains(const Box& other) const;
  friend bool operator==(const Box& a, const Box& b) { return a.lo == b.lo && a.hi == b.hi; }
  friend bool operator!=(const Box& a, const Box& b) { return !(a == b); }
};

/// The common part of two boxes of the same rank; empty (volume 0) when disjoint.
Box intersect(const Box& a, const Box& b);

/// "[0:3, 2:5]"
std::string to_string(const Box& box);

/// Offset (in elements) of global index `global` inside the row-major buffer of `box`.
index_t local_offset(const Box& box, const std::vector<index_t>& global);

}  // namespace spartanxx::tiling
