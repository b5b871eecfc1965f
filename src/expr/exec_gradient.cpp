// The gradient product Xᵀ f(X w, ...) in one pass over X. With X split by rows, each
// rank walks its rows of X in cache-sized blocks: z = X_b w, r = f(z, ...) (the fused
// elementwise region, with z as one of its inputs), g += X_bᵀ r. Every block of X is
// read from memory once, while it is in cache, and nothing of size n is materialized;
// the result is each rank's partial sum of the d-sized gradient.
#include <Eigen/Core>
#include <fmt/format.h>

#include <algorithm>

#include "array/sparse.hpp"
#include "expr/kernels.hpp"
#include "mpi_backend/communicator.hpp"

namespace spartanxx::detail {
namespace {

index_t columns(const Shape& s) { return s.size() == 2 ? s[1] : 1; }

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace

bool gradient_applies(const Layout& x) {
  if (x.ndim() != 2 || x.tiles_along(1) != 1 || x.is_partial()) return false;
  for (int o : x.owners())
    if (o == tiling::kReplicated) return false;
  return true;
}

std::vector<Plan> gradient_options(const Step& s, const InputLayouts& in, const Layout*, const Machine& m) {
  // in: X, w, then the region's externals other than z, in order.
  const Node& outer = *s.node;
  const Region& r = *s.region;
  const Node& z = *s.gradient_z;
  const int P = m.ranks;
  const Layout& X = *in[0];
  const Layout& W = *in[1];
  Plan p;
  p.layout = Layout::partial(outer.shape);
  p.inner = tiling::rows_like(X, z.shape);  // z: the rows of X, the columns of w whole
  // X is read where it is; every rank needs all of w.
  p.needs = {Needs(), Needs(P, std::vector<Box>{Box::whole(W.shape())})};
  p.predicted_bytes = tiling::bytes_to_move(W, Layout::replicated(W.shape()), P, itemsize(z.dtype));
  std::size_t k = 2;
  for (const Node* e : r.externals) {
    if (e == &z) continue;
    p.needs.push_back(broadcast_needs(p.inner, e->shape, P));
    p.predicted_bytes += tiling::bytes_to_gather(*in[k++], p.needs.back(), itemsize(e->dtype));
  }
  p.strategy = "one pass over X's row blocks: X_b w, the region, X_bᵀ r summed";
  return {p};
}

std::vector<Plan> sparse_gradient_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m) {
  return gradient_options(s, in, target, m);
}

namespace {

/// What both kernels need: w on every rank, the region's other inputs aligned with z's
/// rows (z itself is made block by block), the accumulator.
struct GradientInputs {
  Buffer w;
  RegionInputs region;
  int zi = -1;
};

GradientInputs gradient_inputs(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm) {
  GradientInputs g;
  g.w = std::move(gather_boxes(*in[1], p.needs[1], comm)[0]);  // d x k values
  const InputArrays ext = region_externals_around(s, in, &g.zi);
  g.region = gather_region_inputs(*s.region, ext, region_needs_around(s, p), p.inner, comm, g.zi);
  return g;
}

}  // namespace

DistArray sparse_gradient_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Node& outer = *s.node;
  const Region& r = *s.region;
  const Node& z = *s.gradient_z;
  const DistArray& X = *in[0];
  const Layout& lz = p.inner;
  const index_t d = X.shape()[1];
  const index_t k = columns(z.shape);
  if (z.dtype != DType::f64) throw std::logic_error("sparse_gradient_run: a sparse X needs float64");
  const GradientInputs gi = gradient_inputs(s, in, p, comm);
  const RegionInputs& ri = gi.region;
  const int zi = gi.zi;
  Buffer acc(static_cast<std::size_t>(d * k) * 8);
  // CSR rows in blocks of about 128 KiB of stored entries (16 bytes each).
  double* G = acc.as<double>();
  std::fill(G, G + d * k, 0.0);
  const double* wv = gi.w.as<double>();
  std::vector<double> zb, rb;
  for (std::size_t ti = 0; ti < X.tiles().size(); ++ti) {
    const Tile& xt = X.tiles()[ti];
    const CsrTile& c = *xt.csr;
    const std::int64_t* rp = c.row_ptr();
    const double* xv = c.values.as<double>();
    const index_t rows = c.rows();
    const Shape tile_shape = lz.tile_box(xt.id).shape();
    for (index_t r0 = 0; r0 < rows;) {
      index_t r1 = r0 + 1;
      while (r1 < rows && r1 - r0 < 4096 && rp[r1] - rp[r0] < 8192) ++r1;
      const index_t nb = r1 - r0;
      zb.resize(static_cast<std::size_t>(nb * k));
      rb.resize(static_cast<std::size_t>(nb * k));
      csr_times_dense(c, xv, r0, r1, wv, k, d, zb.data());
      eval_region_rows(r, ri, ti, tile_shape, r0, r1, reinterpret_cast<std::byte*>(rb.data()), zi,
                       reinterpret_cast<const std::byte*>(zb.data()));
      csr_t_times_dense(c, xv, r0, r1, rb.data(), k, d, G);
      r0 = r1;
    }
  }
  DistArray out(p.layout, outer.dtype, comm.rank(), /*allocate=*/false);
  out.tiles()[0].data = acc;
  return out;
}

DistArray gradient_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Node& outer = *s.node;
  const Region& r = *s.region;
  const Node& z = *s.gradient_z;
  const DistArray& X = *in[0];
  const Layout& lz = p.inner;
  const index_t d = X.shape()[1];
  const index_t k = columns(z.shape);
  const DType t = z.dtype;
  const GradientInputs gi = gradient_inputs(s, in, p, comm);
  const RegionInputs& ri = gi.region;
  const int zi = gi.zi;
  const Buffer& w = gi.w;
  Buffer acc(static_cast<std::size_t>(d * k) * itemsize(t));
  visit_dtype(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T>) {
      Eigen::Map<RowMat<T>> G(acc.as<T>(), d, k);
      G.setZero();
      const Eigen::Map<const RowMat<T>> Wm(w.as<T>(), d, k);
      // Blocks of X's rows that stay in cache between the two products.
      index_t tallest = 1;
      for (const Tile& xt : X.tiles()) tallest = std::max<index_t>(tallest, xt.box.extent(0));
      const index_t block = cache_block_rows(std::max(d, k) * static_cast<index_t>(sizeof(T)), tallest);
      Buffer zb(static_cast<std::size_t>(block * k) * sizeof(T)), rb(static_cast<std::size_t>(block * k) * sizeof(T));
      for (std::size_t ti = 0; ti < X.tiles().size(); ++ti) {
        const Tile& xt = X.tiles()[ti];
        const index_t rows = xt.box.extent(0);
        const T* xp = xt.data.as<T>();
        const Shape tile_shape = lz.tile_box(xt.id).shape();
        for (index_t r0 = 0; r0 < rows; r0 += block) {
          const index_t nb = std::min(block, rows - r0);
          const Eigen::Map<const RowMat<T>> Xb(xp + r0 * d, nb, d);
          Eigen::Map<RowMat<T>> Z(zb.as<T>(), nb, k);
          Z.noalias() = Xb * Wm;
          // The region over rows [r0, r0 + nb) of this tile, z read from the block.
          eval_region_rows(r, ri, ti, tile_shape, r0, r0 + nb, rb.data(), zi, zb.data());
          const Eigen::Map<const RowMat<T>> R(rb.as<T>(), nb, k);
          G.noalias() += Xb.transpose() * R;
        }
      }
    } else {
      throw std::logic_error("gradient_run: floating-point types only");
    }
  });
  DistArray out(p.layout, outer.dtype, comm.rank(), /*allocate=*/false);
  out.tiles()[0].data = acc;
  return out;
}

}  // namespace spartanxx::detail
