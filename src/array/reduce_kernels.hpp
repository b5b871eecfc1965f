#pragma once
// Local reduction kernels: a tile reduced along one axis (or whole), and the combination
// of per-tile partial results.
#include <cstdint>
#include <vector>

#include "spartanxx/dtype.hpp"
#include "tiling/box.hpp"

namespace spartanxx::detail {

enum class ReduceKind { sum, min, max, argmin, argmax };

inline bool is_arg(ReduceKind k) { return k == ReduceKind::argmin || k == ReduceKind::argmax; }

/// Reduces the C-order buffer `in` of shape (outer, n, inner) along its middle axis.
/// sum writes `out_dtype` values; min/max write values of the input dtype; argmin/argmax
/// write the input-dtype extreme to `out` and its first position in [0, n) to `out_index`.
/// NaN propagates (min/max) and wins (argmin/argmax), as in NumPy. n must be > 0 for all
/// but sum.
void reduce_tile(ReduceKind kind, const std::byte* in, DType in_dtype, tiling::index_t outer, tiling::index_t n,
                 tiling::index_t inner, std::byte* out, DType out_dtype, std::int64_t* out_index);

/// Combines k partial results laid out as (outer, k, inner) — values of dtype `dtype` and,
/// for argmin/argmax, global indices — skipping the positions p where valid[p] is false.
/// Ties go to the smaller index.
void combine_partials(ReduceKind kind, const std::byte* values, const std::int64_t* indices, DType dtype,
                      tiling::index_t outer, tiling::index_t k, tiling::index_t inner, const std::vector<bool>& valid,
                      std::byte* out, std::int64_t* out_index);

}  // namespace spartanxx::detail
