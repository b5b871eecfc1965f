#include "tiling/box.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace spartanxx::tiling {

index_t volume(const Shape& shape) {
  index_t v = 1;
  for (index_t n : shape) v *= n;
  return v;
}

std::string to_string(const Shape& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

std::vector<index_t> row_major_strides(const Shape& shape) {
  std::vector<index_t> strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

Box Box::whole(const Shape& shape) { return Box{std::vector<index_t>(shape.size(), 0), shape}; }

Shape Box::shape() const {
  Shape s(lo.size());
  for (std::size_t i = 0; i < lo.size(); ++i) s[i] = std::max<index_t>(0, hi[i] - lo[i]);
  return s;
}

index_t Box::volume() const { return tiling::volume(shape()); }

bool Box::contains(const Box& other) const {
  if (other.empty()) return true;
  for (std::size_t i = 0; i < lo.size(); ++i)
    if (other.lo[i] < lo[i] || other.hi[i] > hi[i]) return false;
  return true;
}

Box intersect(const Box& a, const Box& b) {
  Box r = a;
  for (std::size_t i = 0; i < a.lo.size(); ++i) {
    r.lo[i] = std::max(a.lo[i], b.lo[i]);
    r.hi[i] = std::max(r.lo[i], std::min(a.hi[i], b.hi[i]));
  }
  return r;
}

std::string to_string(const Box& box) {
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < box.lo.size(); ++i) parts.push_back(fmt::format("{}:{}", box.lo[i], box.hi[i]));
  return fmt::format("[{}]", fmt::join(parts, ", "));
}

index_t local_offset(const Box& box, const std::vector<index_t>& global) {
  index_t off = 0;
  for (std::size_t i = 0; i < box.lo.size(); ++i) off = off * box.extent(static_cast<int>(i)) + (global[i] - box.lo[i]);
  return off;
}

}  // namespace spartanxx::tiling
