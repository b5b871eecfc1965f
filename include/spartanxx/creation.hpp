#pragma once
// Arrays made from nothing: constants, ranges, identity, random values, row functions.
#include <cstdint>
#include <functional>
#include <vector>

#include "spartanxx/array.hpp"

namespace spartanxx {

/// zeros({3, 4}) — like numpy.zeros.
Array zeros(const Shape& shape, DType dtype = DType::f64);
Array ones(const Shape& shape, DType dtype = DType::f64);
/// full({2, 2}, 7.5)
Array full(const Shape& shape, double value, DType dtype = DType::f64);
Array zeros_like(const Array& a);
Array ones_like(const Array& a);
Array full_like(const Array& a, double value);
/// arange(5) == [0, 1, 2, 3, 4] (int64).
Array arange(std::int64_t stop);
/// arange(0.0, 1.0, 0.25) == [0, 0.25, 0.5, 0.75]; length ceil((stop - start) / step).
Array arange(double start, double stop, double step = 1.0, DType dtype = DType::f64);
/// eye(3) — n x m with ones on diagonal k (m = n when m < 0).
Array eye(std::int64_t n, std::int64_t m = -1, std::int64_t k = 0, DType dtype = DType::f64);

/// A float64 array split by rows whose rows are produced where they live:
/// fill(first_row, last_row, out) writes rows [first_row, last_row) in C order into
/// `out`. Every rank calls it for its own rows only (readers use this).
Array from_rows(const Shape& shape, const std::function<void(std::int64_t, std::int64_t, double*)>& fill);

/// A float64 vector of every rank's `local` values, rank 0's first (the parts may differ
/// in length, and may be empty). Collective; every rank receives all values once.
Array from_rank_parts(const std::vector<double>& local);

/// An array from a C-order buffer that every rank passes whole (each keeps its part).
Array from_buffer(const Shape& shape, DType dtype, const void* data);

namespace random {
/// Uniform values in [lo, hi) from a counter-based generator keyed by (seed, global
/// element index): the same values at every rank count.
Array uniform(const Shape& shape, std::uint64_t seed, double lo = 0.0, double hi = 1.0);
/// Normal values (Box-Muller over the same counter-based generator).
Array normal(const Shape& shape, std::uint64_t seed, double mean = 0.0, double sd = 1.0);
}  // namespace random

}  // namespace spartanxx
