#pragma once
// Local elementwise kernels over one output tile, with NumPy broadcasting of inputs
// (an input axis of extent 1 against a larger output axis is read with stride 0).
// Work proceeds in cache-sized chunks: an input chunk already of the compute type is
// read in place (others are converted), a broadcast input is one value, the operation
// runs vectorized over the chunk (transcendentals on xsimd batches, see simd_math.hpp),
// and the result is converted to the output dtype where it differs.
#include <cstddef>
#include <vector>

#include "array/map_ops.hpp"
#include "spartanxx/dtype.hpp"
#include "tiling/box.hpp"

namespace spartanxx::detail {

struct MapInput {
  const std::byte* data = nullptr;
  DType dtype = DType::f64;
  tiling::Shape shape;  // same number of axes as the output; extent 1 broadcasts
};

/// One instruction of a fused elementwise program: op computed in `compute`, result of
/// dtype `out`. Each arg is an earlier instruction (>= 0) or external input -(arg + 1).
struct FusedInstr {
  MapOp op;
  DType compute;
  DType out;
  std::vector<int> args;
};

/// Runs a fused program over one output tile chunk by chunk: no intermediate exists
/// beyond a chunk (a few KiB). The last instruction's result is written to `out` (C
/// order over out_shape). Comparisons and logical operations yield 0/1 in the compute
/// type.
void fused_tile(const std::vector<FusedInstr>& prog, std::byte* out, const tiling::Shape& out_shape,
                const std::vector<MapInput>& inputs);

/// Converts n elements between dtypes (to bool: x != 0).
void convert(const std::byte* in, DType in_dtype, std::byte* out, DType out_dtype, std::size_t n);

}  // namespace spartanxx::detail
