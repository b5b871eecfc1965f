// Creation: generated sources are lazy leaves; data passed in is materialized at once.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <optional>

#include "api/memory.hpp"
#include "expr/boundary.hpp"
#include "expr/build.hpp"
#include "mpi_backend/communicator.hpp"
#include "spartanxx/creation.hpp"
#include "spartanxx/errors.hpp"

namespace spartanxx {
namespace {

using detail::make_node;
using detail::Op;

void check_shape(const char* op, const Shape& shape) {
  for (auto d : shape)
    if (d < 0) throw value_error(fmt::format("{}: negative dimensions are not allowed (shape {})", op, tiling::to_string(shape)));
}

/// A generated leaf; `set` fills in its parameters.
template <class Set>
Array generated(Op op, const Shape& shape, DType dtype, const char* name, Set&& set) {
  check_shape(name, shape);
  auto n = make_node(op, shape, dtype);
  set(*n);
  return detail::array_of(std::move(n));
}

}  // namespace

Array full(const Shape& shape, double value, DType dtype) {
  return generated(Op::constant, shape, dtype, "full", [&](detail::Node& n) { n.value = value; });
}
Array zeros(const Shape& shape, DType dtype) { return full(shape, 0.0, dtype); }
Array ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
Array zeros_like(const Array& a) { return zeros(a.shape(), a.dtype()); }
Array ones_like(const Array& a) { return ones(a.shape(), a.dtype()); }
Array full_like(const Array& a, double value) { return full(a.shape(), value, a.dtype()); }

Array arange(std::int64_t stop) {
  return generated(Op::arange, {std::max<std::int64_t>(stop, 0)}, DType::i64, "arange", [](detail::Node& n) {
    n.value = 0;
    n.value2 = 1;
  });
}

Array arange(double start, double stop, double step, DType dtype) {
  if (step == 0 || !std::isfinite(step)) throw value_error(fmt::format("arange: step must be finite and non-zero, got {}", step));
  const double len = std::ceil((stop - start) / step);
  return generated(Op::arange, {len > 0 ? static_cast<std::int64_t>(len) : 0}, dtype, "arange", [&](detail::Node& n) {
    n.value = start;
    n.value2 = step;
  });
}

Array eye(std::int64_t n, std::int64_t m, std::int64_t k, DType dtype) {
  return generated(Op::eye, {n, m < 0 ? n : m}, dtype, "eye", [&](detail::Node& e) { e.ivalue = k; });
}

namespace random {
Array uniform(const Shape& shape, std::uint64_t seed, double lo, double hi) {
  return generated(Op::uniform, shape, DType::f64, "random::uniform", [&](detail::Node& n) {
    n.seed = seed;
    n.value = lo;
    n.value2 = hi;
  });
}

Array normal(const Shape& shape, std::uint64_t seed, double mean, double sd) {
  return generated(Op::normal, shape, DType::f64, "random::normal", [&](detail::Node& n) {
    n.seed = seed;
    n.value = mean;
    n.value2 = sd;
  });
}
}  // namespace random

Array from_buffer(const Shape& shape, DType dtype, const void* data) {
  check_shape("from_buffer", shape);
  auto& comm = detail::context_comm();
  const auto layout = detail::Layout::rows(shape, comm.size());
  // A rank that cannot hold its rows says so with the call and shape, on every rank.
  std::optional<detail::DistArray> out;
  comm.run_agreed([&] {
    try {
      out.emplace(layout, dtype, comm.rank());
    } catch (...) {
      std::rethrow_exception(detail::name_memory_failure(
          std::current_exception(), fmt::format("from_buffer {} {}", tiling::to_string(shape), dtype_name(dtype))));
    }
  });
  const std::size_t elem = itemsize(dtype);
  const detail::Box whole = detail::Box::whole(shape);
  for (auto& tile : out->tiles())
    detail::copy_box(static_cast<const std::byte*>(data), whole, tile.data.data(), tile.box, tile.box, elem);
  return detail::leaf(std::move(*out));
}

Array from_rows(const Shape& shape, const std::function<void(std::int64_t, std::int64_t, double*)>& fill) {
  check_shape("from_rows", shape);
  if (shape.empty()) throw value_error("from_rows: a 0-d shape has no rows");
  auto& comm = detail::context_comm();
  const auto layout = detail::Layout::rows(shape, comm.size());
  std::optional<detail::DistArray> out;
  // The fill runs on each rank for its own rows; a failure on any rank is thrown on all,
  // running out of memory as memory_error naming the call and the shape.
  comm.run_agreed([&] {
    try {
      out.emplace(layout, DType::f64, comm.rank());
      for (auto& tile : out->tiles()) fill(tile.box.lo[0], tile.box.hi[0], tile.data.as<double>());
    } catch (...) {
      std::rethrow_exception(detail::name_memory_failure(std::current_exception(),
                                                         fmt::format("from_rows {} float64", tiling::to_string(shape))));
    }
  });
  return detail::leaf(std::move(*out));
}

Array from_rank_parts(const std::vector<double>& local) {
  auto& comm = detail::context_comm();
  const std::vector<double> all = comm.allgatherv(local);
  return from_rows({static_cast<std::int64_t>(all.size())}, [&all](std::int64_t first, std::int64_t last, double* out) {
    std::copy(all.begin() + first, all.begin() + last, out);
  });
}

}  // namespace spartanxx
