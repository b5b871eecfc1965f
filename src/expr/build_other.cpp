// Building reduction, linear-algebra and shape nodes (everything but elementwise maps).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "expr/build.hpp"
#include "spartanxx/errors.hpp"
#include "spartanxx/ops.hpp"
#include "tiling/box.hpp"

namespace spartanxx::detail {
namespace {

using tiling::to_string;

/// `name` is what error messages call the operation (count_nonzero and norm reduce with sum).
Array reduce(const Array& a, ReduceKind kind, std::optional<int> axis, const char* name = nullptr) {
  if (!name) name = reduce_name(kind);
  const NodePtr& in = node_of(a, name);
  if (in->sparse && (kind == ReduceKind::argmin || kind == ReduceKind::argmax))
    throw value_error(fmt::format("{}: not supported for sparse arrays (shape {}); call todense() first", name,
                                  to_string(in->shape)));
  Shape shape;
  int ax = -1;
  index_t extent = tiling::volume(in->shape);
  if (axis) {
    ax = normalize_axis(name, *axis, in->shape);
    extent = in->shape[ax];
    shape = in->shape;
    shape.erase(shape.begin() + ax);
  }
  if (extent == 0 && kind != ReduceKind::sum) {
    if (kind == ReduceKind::argmin || kind == ReduceKind::argmax)
      throw value_error(fmt::format("{}: attempt to get {} of an empty sequence (shape {})", name, name, to_string(in->shape)));
    throw value_error(fmt::format("{}: zero-size array to reduction operation {} which has no identity (shape {})", name,
                                  kind == ReduceKind::min ? "minimum" : "maximum", to_string(in->shape)));
  }
  DType dt = in->dtype;
  if (kind == ReduceKind::sum && (dt == DType::boolean || dt == DType::i32)) dt = DType::i64;
  if (kind == ReduceKind::argmin || kind == ReduceKind::argmax) dt = DType::i64;
  auto n = make_node(Op::reduce, std::move(shape), dt, {in});
  n->reduce_kind = kind;
  n->axis = ax;
  return array_of(std::move(n));
}

Array mean_impl(const Array& a, std::optional<int> axis) {
  const NodePtr& in = node_of(a, "mean");
  index_t count = tiling::volume(in->shape);
  if (axis) count = in->shape[normalize_axis("mean", *axis, in->shape)];
  // Integers are summed in float64, as NumPy's mean does (no int64 overflow).
  Array s = reduce(is_floating(in->dtype) ? a : a.astype(DType::f64), ReduceKind::sum, axis, "mean");
  return divide(s, weak_scalar(static_cast<double>(count), DType::f64));
}

Array as_float(const Array& a) { return is_floating(a.dtype()) ? a : a.astype(DType::f64); }

[[noreturn]] void not_aligned(const char* op, const Shape& a, const Shape& b, int da, int db) {
  throw shape_error(fmt::format("{}: shapes {} and {} not aligned: {} (dim {}) != {} (dim {})", op, to_string(a),
                                to_string(b), a[da], da, b[db], db));
}

Array dot_impl(const char* op, const Array& a, const Array& b) {
  const NodePtr& x = node_of(a, op);
  const NodePtr& y = node_of(b, op);
  const Shape& sa = x->shape;
  const Shape& sb = y->shape;
  const int na = static_cast<int>(sa.size()), nb = static_cast<int>(sb.size());
  if (na == 0 || nb == 0) {
    if (std::string(op) == "matmul")
      throw value_error(fmt::format("matmul: a 0-d operand is not allowed (shapes {} and {}); use multiply", to_string(sa),
                                    to_string(sb)));
    return multiply(a, b);
  }
  if (na > 2 || nb > 2)
    throw shape_error(fmt::format("{}: operands of more than 2 dimensions are not supported (shapes {} and {})", op,
                                  to_string(sa), to_string(sb)));
  const int ka = na - 1, kb = 0;
  if (sa[ka] != sb[kb]) not_aligned(op, sa, sb, ka, kb);
  Shape shape;
  if (na == 2) shape.push_back(sa[0]);
  if (nb == 2) shape.push_back(sb[1]);
  std::vector<const Node*> both{x.get(), y.get()};
  auto n = make_node(Op::dot, std::move(shape), result_type(both), {x, y});
  if (x->sparse && y->sparse) {
    n->sparse = true;
    n->pattern = new_pattern_id();
    const double density_a = static_cast<double>(x->nnz_estimate) / std::max<double>(1, tiling::volume(sa));
    const double density_b = static_cast<double>(y->nnz_estimate) / std::max<double>(1, tiling::volume(sb));
    const double fill = 1 - std::pow(1 - std::min(1.0, density_a * density_b), static_cast<double>(sa[1]));
    n->nnz_estimate = static_cast<std::int64_t>(fill * static_cast<double>(tiling::volume(n->shape)));
  }
  return array_of(std::move(n));
}

}  // namespace

Array transpose_impl(const Array& a, std::vector<int> perm) {
  const NodePtr& in = node_of(a, "transpose");
  const int nd = static_cast<int>(in->shape.size());
  if (static_cast<int>(perm.size()) != nd)
    throw axis_error(fmt::format("transpose: axes ({}) don't match array of shape {}", fmt::join(perm, ", "),
                                 to_string(in->shape)));
  std::vector<bool> seen(nd, false);
  for (int& p : perm) {
    p = normalize_axis("transpose", p, in->shape);
    if (seen[p]) throw axis_error(fmt::format("transpose: repeated axis {} in ({})", p, fmt::join(perm, ", ")));
    seen[p] = true;
  }
  bool identity = true;
  for (int i = 0; i < nd; ++i) identity = identity && perm[i] == i;
  if (identity) return a;
  Shape shape(nd);
  for (int i = 0; i < nd; ++i) shape[i] = in->shape[perm[i]];
  auto n = make_node(Op::transpose, std::move(shape), in->dtype, {in});
  n->perm = std::move(perm);
  if (in->sparse) {
    n->sparse = true;
    n->pattern = new_pattern_id();
    n->nnz_estimate = in->nnz_estimate;
  }
  return array_of(std::move(n));
}

Array slice_impl(const Array& a, const std::vector<Range>& ranges) {
  const NodePtr& in = node_of(a, "slice");
  const int nd = static_cast<int>(in->shape.size());
  if (static_cast<int>(ranges.size()) > nd)
    throw index_error(fmt::format("slice: too many indices for array of shape {}: {} were given", to_string(in->shape),
                                  ranges.size()));
  std::vector<AxisSlice> slices(nd);
  Shape shape(nd);
  for (int ax = 0; ax < nd; ++ax) {
    const index_t n = in->shape[ax];
    const Range r = ax < static_cast<int>(ranges.size()) ? ranges[ax] : Range::all();
    if (r.step == 0) throw value_error(fmt::format("slice: step 0 on axis {} of shape {}", ax, to_string(in->shape)));
    auto bound = [&](std::optional<index_t> v, const char* what) {
      if (*v < -n || *v > n)
        throw index_error(fmt::format("slice: {} {} is out of range for axis {} of size {} (shape {})", what, *v, ax, n,
                                      to_string(in->shape)));
      return *v < 0 ? *v + n : *v;
    };
    // A step beyond the axis selects what a step of the axis length selects; clamping
    // it keeps every later computation free of overflow.
    const index_t cap = std::max<index_t>(n, 1);
    const index_t step = r.step > 0 ? std::min(r.step, cap) : (r.step < -cap ? -cap : r.step);
    index_t start, stop;
    if (step > 0) {
      start = r.start ? bound(r.start, "start") : 0;
      stop = r.stop ? bound(r.stop, "stop") : n;
    } else {
      start = r.start ? std::min(bound(r.start, "start"), n - 1) : n - 1;
      stop = r.stop ? bound(r.stop, "stop") : -1;
    }
    index_t len = 0;
    if (step > 0 && stop > start) len = (stop - start - 1) / step + 1;
    if (step < 0 && start > stop) len = (start - stop - 1) / (-step) + 1;
    slices[ax] = AxisSlice{start, step, len};
    shape[ax] = len;
  }
  if (in->sparse && (slices[1].start != 0 || slices[1].step != 1 || slices[1].length != in->shape[1]))
    throw value_error(fmt::format("slice: sparse arrays are sliced by rows only (shape {}); the column range must be "
                                  "whole, or call todense() first",
                                  to_string(in->shape)));
  auto n = make_node(Op::slice, std::move(shape), in->dtype, {in});
  n->slices = std::move(slices);
  if (in->sparse) {
    n->sparse = true;
    n->pattern = new_pattern_id();
    n->nnz_estimate = in->shape[0] ? in->nnz_estimate * n->shape[0] / in->shape[0] : 0;
  }
  return array_of(std::move(n));
}

Array reshape_impl(const Array& a, const Shape& requested) {
  const NodePtr& in = node_of(a, "reshape");
  Shape shape = requested;
  int unknown = -1;
  index_t known = 1;
  for (int i = 0; i < static_cast<int>(shape.size()); ++i) {
    if (shape[i] == -1) {
      if (unknown >= 0) throw value_error(fmt::format("reshape: can only specify one unknown dimension in {}", to_string(requested)));
      unknown = i;
    } else if (shape[i] < 0) {
      throw value_error(fmt::format("reshape: negative dimension in {}", to_string(requested)));
    } else {
      known *= shape[i];
    }
  }
  const index_t size = tiling::volume(in->shape);
  if (unknown >= 0 && known > 0 && size % known == 0) shape[unknown] = size / known;
  if (tiling::volume(shape) != size || (unknown >= 0 && known == 0))
    throw shape_error(fmt::format("reshape: cannot reshape array of size {} (shape {}) into shape {}", size,
                                  to_string(in->shape), to_string(requested)));
  if (shape == in->shape) return a;
  if (in->sparse)
    throw value_error(fmt::format("reshape: sparse arrays cannot be reshaped (shape {} to {}); call todense() first",
                                  to_string(in->shape), to_string(requested)));
  return array_of(make_node(Op::reshape, std::move(shape), in->dtype, {in}));
}

Array astype_impl(const Array& a, DType dtype) {
  const NodePtr& in = node_of(a, "astype");
  if (in->dtype == dtype) return a;
  auto n = make_node(Op::map, in->shape, dtype, {in});
  n->fn = MapOp::identity;
  n->sparse = in->sparse;
  n->pattern = in->pattern;
  n->nnz_estimate = in->nnz_estimate;
  return array_of(std::move(n));
}

}  // namespace spartanxx::detail

namespace spartanxx {
using detail::ReduceKind;

Array sum(const Array& a) { return detail::reduce(a, ReduceKind::sum, std::nullopt); }
Array sum(const Array& a, int axis) { return detail::reduce(a, ReduceKind::sum, axis); }
Array min(const Array& a) { return detail::reduce(a, ReduceKind::min, std::nullopt); }
Array min(const Array& a, int axis) { return detail::reduce(a, ReduceKind::min, axis); }
Array max(const Array& a) { return detail::reduce(a, ReduceKind::max, std::nullopt); }
Array max(const Array& a, int axis) { return detail::reduce(a, ReduceKind::max, axis); }
Array argmin(const Array& a) { return detail::reduce(a, ReduceKind::argmin, std::nullopt); }
Array argmin(const Array& a, int axis) { return detail::reduce(a, ReduceKind::argmin, axis); }
Array argmax(const Array& a) { return detail::reduce(a, ReduceKind::argmax, std::nullopt); }
Array argmax(const Array& a, int axis) { return detail::reduce(a, ReduceKind::argmax, axis); }
Array mean(const Array& a) { return detail::mean_impl(a, std::nullopt); }
Array mean(const Array& a, int axis) { return detail::mean_impl(a, axis); }
Array count_nonzero(const Array& a) { return sum(not_equal(a, 0)); }
Array count_nonzero(const Array& a, int axis) {
  detail::normalize_axis("count_nonzero", axis, detail::node_of(a, "count_nonzero")->shape);
  return sum(not_equal(a, 0), axis);
}
Array norm(const Array& a) { return sqrt(sum(square(detail::as_float(a)))); }
Array norm(const Array& a, int axis) {
  detail::normalize_axis("norm", axis, detail::node_of(a, "norm")->shape);
  return sqrt(sum(square(detail::as_float(a)), axis));
}
Array dot(const Array& a, const Array& b) { return detail::dot_impl("dot", a, b); }
Array matmul(const Array& a, const Array& b) { return detail::dot_impl("matmul", a, b); }

}  // namespace spartanxx
