// dot/matmul. Operands are seen as matrices (a vector on the left is 1 x k, on the
// right k x 1), and one of three strategies is chosen by the bytes it moves:
//   R  row blocks of a times all of b        (result split like a's rows)
//   C  all of a times column blocks of b     (result split like b's columns)
//   I  the inner dimension split, local products summed with an allreduce
//      (result replicated) — the shape of the gradient product Xᵀr.
#include <Eigen/Core>
#include <fmt/format.h>

#include <cmath>
#include <numeric>

#include "array/elementwise_kernels.hpp"
#include "array/sparse.hpp"
#include "expr/kernels.hpp"
#include "mpi_backend/communicator.hpp"

namespace spartanxx::detail {
namespace {

enum Strategy { kRows = 0, kCols = 1, kInner = 2, kGrid = 3 };

/// The most nearly square pr x pc grid of P ranks with both sides > 1, or {0, 0}.
std::pair<int, int> process_grid(int P) {
  int pr = static_cast<int>(std::sqrt(static_cast<double>(P)));
  while (pr > 1 && P % pr) --pr;
  return pr > 1 ? std::pair<int, int>{pr, P / pr} : std::pair<int, int>{0, 0};
}

Layout as_matrix(const Layout& l, bool left) {
  if (l.ndim() == 2) return l;
  return tiling::insert_axis(l, left ? 0 : 1);
}

struct DotGeometry {
  Layout a, b, out;
  Needs needs_a, needs_b;
  std::int64_t bytes = 0;
};

/// a_vector / b_vector: the operand was 1-d, so its unit axis must stay one tile (the
/// result drops it); where a strategy would cut it, the result is replicated instead.
DotGeometry geometry(Strategy s, const Layout& la, const Layout& lb, bool a_vector, bool b_vector, std::size_t ea,
                     std::size_t eb, std::size_t eo, int P) {
  const index_t n = la.shape()[0], k = la.shape()[1], m = lb.shape()[1];
  DotGeometry g{la, lb, {}, Needs(P), Needs(P), 0};
  if (s == kRows) {
    g.out = la.tiles_along(1) == 1 && !la.is_replicated() ? Layout({n, m}, {la.splits(0), {0, m}}, la.owners())
            : a_vector                                    ? Layout::replicated({n, m})
                                                          : Layout::rows({n, m}, P);
    for (int r = 0; r < P; ++r) {
      bool any = false;
      for (int t : g.out.tiles_of(r)) {
        const Box ob = g.out.tile_box(t);
        g.needs_a[r].push_back(Box{{ob.lo[0], 0}, {ob.hi[0], k}});
        any = any || !ob.empty();
      }
      if (any) g.needs_b[r].push_back(Box::whole({k, m}));
    }
  } else if (s == kGrid) {
    // SUMMA's data movement on a pr x pc grid: rank (i, j) gets row panel i of a and
    // column panel j of b (what the panel broadcasts along grid rows and columns send)
    // and computes block (i, j) of the result.
    const auto [pr, pc] = process_grid(P);
    g.out = Layout::grid({n, m}, pr, pc);
    for (int r = 0; r < P; ++r)
      for (int t : g.out.tiles_of(r)) {
        const Box ob = g.out.tile_box(t);
        g.needs_a[r].push_back(Box{{ob.lo[0], 0}, {ob.hi[0], k}});
        g.needs_b[r].push_back(Box{{0, ob.lo[1]}, {k, ob.hi[1]}});
      }
  } else if (s == kCols) {
    g.out = lb.tiles_along(0) == 1 && !lb.is_replicated() ? Layout({n, m}, {{0, n}, lb.splits(1)}, lb.owners())
            : b_vector                                    ? Layout::replicated({n, m})
                                                          : Layout::cols({n, m}, P);
    for (int r = 0; r < P; ++r) {
      bool any = false;
      for (int t : g.out.tiles_of(r)) {
        const Box ob = g.out.tile_box(t);
        g.needs_b[r].push_back(Box{{0, ob.lo[1]}, {k, ob.hi[1]}});
        any = any || !ob.empty();
      }
      if (any) g.needs_a[r].push_back(Box::whole({n, k}));
    }
  } else {
    std::vector<index_t> splits;
    std::vector<int> owners;
    if (la.tiles_along(0) == 1 && la.tiles_along(1) > 1 && !la.is_replicated()) {
      splits = la.splits(1), owners = la.owners();
    } else if (lb.tiles_along(1) == 1 && lb.tiles_along(0) > 1 && !lb.is_replicated()) {
      splits = lb.splits(0), owners = lb.owners();
    } else {
      splits = tiling::even_splits(k, P);
      owners.resize(P);
      std::iota(owners.begin(), owners.end(), 0);
    }
    for (std::size_t i = 0; i + 1 < splits.size(); ++i) {
      if (splits[i + 1] == splits[i]) continue;
      // Each block is multiplied exactly once; a replicated one by rank i mod P.
      const int r = owners[i] == tiling::kReplicated ? static_cast<int>(i) % P : owners[i];
      g.needs_a[r].push_back(Box{{0, splits[i]}, {n, splits[i + 1]}});
      g.needs_b[r].push_back(Box{{splits[i], 0}, {splits[i + 1], m}});
    }
    // Each rank holds a summand of the whole product; resolving it is a later step.
    g.out = Layout::partial({n, m});
    (void)eo;
  }
  g.bytes += tiling::bytes_to_gather(la, g.needs_a, ea) + tiling::bytes_to_gather(lb, g.needs_b, eb);
  return g;
}

const char* strategy_name(int s) {
  return s == kRows   ? "row blocks x replicated rhs"
         : s == kCols ? "replicated lhs x column blocks"
         : s == kGrid ? "SUMMA on a 2-d process grid"
                      : "inner split, partial sums";
}

DType compute_type(DType out) { return out == DType::boolean ? DType::i64 : out; }

/// The buffer converted to `to` (shared when it already is).
Buffer as_type(const Buffer& b, DType from, DType to, index_t count) {
  if (from == to) return b;
  Buffer out(static_cast<std::size_t>(count) * itemsize(to));
  convert(b.data(), from, out.data(), to, static_cast<std::size_t>(count));
  return out;
}

/// C (n x m) = or += A (n x k) * B (k x m). A transposed operand's buffer holds the
/// transpose (k x n for A, m x k for B) in C order; Eigen reads it transposed in place.
template <class T>
void gemm(const std::byte* a, bool ta, const std::byte* b, bool tb, std::byte* c, index_t n, index_t k, index_t m,
          bool accumulate) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const T* pa = reinterpret_cast<const T*>(a);
  const T* pb = reinterpret_cast<const T*>(b);
  Eigen::Map<Mat> C(reinterpret_cast<T*>(c), n, m);
  auto run = [&](const auto& A, const auto& B) {
    if (accumulate) C.noalias() += A * B;
    else C.noalias() = A * B;
  };
  if (!ta && !tb) run(Eigen::Map<const Mat>(pa, n, k), Eigen::Map<const Mat>(pb, k, m));
  else if (ta && !tb) run(Eigen::Map<const Mat>(pa, k, n).transpose(), Eigen::Map<const Mat>(pb, k, m));
  else if (!ta && tb) run(Eigen::Map<const Mat>(pa, n, k), Eigen::Map<const Mat>(pb, m, k).transpose());
  else run(Eigen::Map<const Mat>(pa, k, n).transpose(), Eigen::Map<const Mat>(pb, m, k).transpose());
}

void gemm_dispatch(DType t, const std::byte* a, bool ta, const std::byte* b, bool tb, std::byte* c, index_t n,
                   index_t k, index_t m, bool accumulate) {
  visit_dtype(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, std::uint8_t>) throw std::logic_error("gemm: bool is computed in int64");
    else gemm<T>(a, ta, b, tb, c, n, k, m, accumulate);
  });
}

/// The operand as the product sees it: a matrix, transposed when folded.
Layout logical_layout(const Layout& source, bool folded, bool left) {
  return folded ? source.permuted({1, 0}) : as_matrix(source, left);
}

/// Boxes of the logical (transposed) operand as boxes of its source.
Needs untranspose(Needs needs) {
  for (auto& boxes : needs)
    for (Box& b : boxes) {
      std::swap(b.lo[0], b.lo[1]);
      std::swap(b.hi[0], b.hi[1]);
    }
  return needs;
}

}  // namespace

std::vector<Plan> dot_options(const Step& st, const InputLayouts& in, const Layout*, const Machine& m) {
  const Node& n = *st.node;
  const DotFold fold = st.fold;
  const int nranks = m.ranks;
  const Layout la = logical_layout(*in[0], fold[0], true), lb = logical_layout(*in[1], fold[1], false);
  const std::size_t ea = itemsize(n.inputs[0]->dtype), eb = itemsize(n.inputs[1]->dtype), eo = itemsize(compute_type(n.dtype));
  std::vector<Plan> options;
  for (int s : {kRows, kCols, kInner, kGrid}) {
    if (s == kInner && nranks == 1) continue;
    // The grid needs a matrix on each side and a rank count with a 2-d grid.
    if (s == kGrid && (process_grid(nranks).first == 0 || (!fold[0] && in[0]->ndim() == 1) || (!fold[1] && in[1]->ndim() == 1)))
      continue;
    const DotGeometry g =
        geometry(static_cast<Strategy>(s), la, lb, !fold[0] && in[0]->ndim() == 1, !fold[1] && in[1]->ndim() == 1, ea, eb, eo, nranks);
    Plan p;
    p.variant = s;
    p.predicted_bytes = g.bytes;
    p.strategy = strategy_name(s);
    // Boxes of each operand as it is held (a folded operand's boxes untransposed).
    p.needs = {fold[0] ? untranspose(g.needs_a) : g.needs_a, fold[1] ? untranspose(g.needs_b) : g.needs_b};
    p.inner = g.out;
    if (s == kInner) {
      if (n.dtype == DType::boolean) {
        // Booleans are summed as int64 and converted: the allreduce is part of the step.
        p.layout = Layout::replicated(n.shape);
        p.predicted_bytes += tiling::bytes_to_move(g.out, Layout::replicated(g.out.shape()), nranks, eo);
        p.strategy = "inner split + allreduce";
      } else {
        p.layout = Layout::partial(n.shape);
      }
    } else {
      // Back from matrix form to the result's own shape.
      p.layout = g.out;
      if (!fold[1] && in[1]->ndim() == 1) p.layout = tiling::remove_axis(p.layout, 1);
      if (!fold[0] && in[0]->ndim() == 1) p.layout = tiling::remove_axis(p.layout, 0);
    }
    options.push_back(std::move(p));
  }
  return options;
}

DistArray dot_run(const Step& st, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Node& n = *st.node;
  const DotFold fold = st.fold;
  // Folded operands stay in their source layout; the product reads them transposed.
  const DistArray A = fold[0] ? *in[0] : in[0]->view_as(as_matrix(in[0]->layout(), true));
  const DistArray B = fold[1] ? *in[1] : in[1]->view_as(as_matrix(in[1]->layout(), false));
  const Layout& result = p.inner;  // the product as a matrix
  const index_t rows = result.shape()[0], k = n.inputs[0]->shape.back(), cols = result.shape()[1];
  const DType ct = compute_type(n.dtype);
  std::vector<Buffer> ga = gather_boxes(A, p.needs[0], comm);
  std::vector<Buffer> gb = gather_boxes(B, p.needs[1], comm);
  const bool ta = fold[0], tb = fold[1];
  const int me = comm.rank();
  DistArray out(result, n.dtype, me, /*allocate=*/false);

  auto finish = [&](Tile& tile, const Buffer& result) {
    tile.data = as_type(result, ct, n.dtype, tile.box.volume());
  };
  if (p.variant == kGrid) {
    for (std::size_t t = 0; t < out.tiles().size(); ++t) {
      Tile& tile = out.tiles()[t];
      const index_t r = tile.box.extent(0), c = tile.box.extent(1);
      Buffer c_buf(static_cast<std::size_t>(r * c) * itemsize(ct));
      if (k == 0 || r * c == 0) {
        std::fill(c_buf.data(), c_buf.data() + c_buf.bytes(), std::byte{0});
      } else {
        const Buffer a = as_type(ga[t], A.dtype(), ct, r * k), b = as_type(gb[t], B.dtype(), ct, k * c);
        gemm_dispatch(ct, a.data(), ta, b.data(), tb, c_buf.data(), r, k, c, false);
      }
      finish(tile, c_buf);
    }
  } else if (p.variant == kRows || p.variant == kCols) {
    const bool by_rows = p.variant == kRows;
    const Buffer whole = by_rows ? (gb.empty() ? Buffer() : as_type(gb[0], B.dtype(), ct, k * cols))
                                 : (ga.empty() ? Buffer() : as_type(ga[0], A.dtype(), ct, rows * k));
    for (std::size_t t = 0; t < out.tiles().size(); ++t) {
      Tile& tile = out.tiles()[t];
      if (tile.box.empty()) {
        tile.data = Buffer(0);
        continue;
      }
      const index_t r = tile.box.extent(0), c = tile.box.extent(1);
      Buffer c_buf(static_cast<std::size_t>(r * c) * itemsize(ct));
      if (k == 0) {
        std::fill(c_buf.data(), c_buf.data() + c_buf.bytes(), std::byte{0});
      } else if (by_rows) {
        const Buffer a = as_type(ga[t], A.dtype(), ct, r * k);
        gemm_dispatch(ct, a.data(), ta, whole.data(), tb, c_buf.data(), r, k, c, false);
      } else {
        const Buffer b = as_type(gb[t], B.dtype(), ct, k * c);
        gemm_dispatch(ct, whole.data(), ta, b.data(), tb, c_buf.data(), r, k, c, false);
      }
      finish(tile, c_buf);
    }
  } else {
    Buffer acc(static_cast<std::size_t>(rows * cols) * itemsize(ct));
    std::fill(acc.data(), acc.data() + acc.bytes(), std::byte{0});
    for (std::size_t i = 0; i < ga.size(); ++i) {
      const index_t kb = p.needs[0][me][i].extent(ta ? 0 : 1);  // this block's share of the inner dimension
      const Buffer a = as_type(ga[i], A.dtype(), ct, rows * kb);
      const Buffer b = as_type(gb[i], B.dtype(), ct, kb * cols);
      gemm_dispatch(ct, a.data(), ta, b.data(), tb, acc.data(), rows, kb, cols, true);
    }
    if (p.layout.is_partial()) {
      DistArray partial(p.layout, n.dtype, me, /*allocate=*/false);
      partial.tiles()[0].data = acc;  // the compute type is the result's type here
      return partial;
    }
    comm.agree(nullptr);
    visit_dtype(ct, [&](auto tag) {
      using T = typename decltype(tag)::type;
      if constexpr (!std::is_same_v<T, std::uint8_t>)
        comm.allreduce(acc.as<T>(), static_cast<std::size_t>(rows * cols), backend::ReduceOp::sum);
    });
    Tile& tile = out.tiles()[0];
    finish(tile, acc);
  }
  return out.view_as(p.layout);
}

}  // namespace spartanxx::detail

namespace spartanxx::detail {

bool dot_map_applies(const Node& z, const Layout& a) {
  return z.op == Op::dot && a.ndim() == 2 && !a.is_partial() && (a.tiles_along(1) == 1 || a.is_replicated());
}

namespace {

/// z = a @ b computed row block by row block of a (row blocks x replicated b); its
/// layout in z's own shape, and the geometry.
DotGeometry dot_map_geometry(const Node& z, const Layout& a_src, const Layout& b_src, int P, Layout* z_layout) {
  const Layout la = as_matrix(a_src, true), lb = as_matrix(b_src, false);
  const DotGeometry g = geometry(kRows, la, lb, false, b_src.ndim() == 1, itemsize(z.inputs[0]->dtype),
                                 itemsize(z.inputs[1]->dtype), itemsize(z.dtype), P);
  *z_layout = b_src.ndim() == 1 ? tiling::remove_axis(g.out, 1) : g.out;
  return g;
}

}  // namespace

std::vector<Plan> dot_map_options(const Step& s, const InputLayouts& in, const Layout*, const Machine& m) {
  // in: a, b, then the region's externals other than z, in order.
  const Region& r = *s.region;
  const Node& z = *s.map_dot;
  const int P = m.ranks;
  Plan p;
  const DotGeometry g = dot_map_geometry(z, *in[0], *in[1], P, &p.layout);
  p.inner = g.out;
  p.predicted_bytes = g.bytes;
  p.needs = {g.needs_a, g.needs_b};
  std::size_t k = 2;
  for (const Node* e : r.externals) {
    if (e == &z) continue;
    p.needs.push_back(broadcast_needs(p.layout, e->shape, P));
    p.predicted_bytes += tiling::bytes_to_gather(*in[k++], p.needs.back(), itemsize(e->dtype));
  }
  p.strategy = "row blocks x replicated rhs, the region applied to each block as it is produced";
  return {p};
}

std::vector<Plan> sparse_dot_map_options(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m) {
  std::vector<Plan> opts = dot_map_options(s, in, target, m);
  for (Plan& p : opts) p.needs[0].clear();  // the sparse rows are read where they are
  return opts;
}

DistArray sparse_dot_map_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Region& r = *s.region;
  const Node& z = *s.map_dot;
  const DistArray& A = *in[0];
  const DistArray Bm = in[1]->view_as(as_matrix(in[1]->layout(), false));
  const Layout& lz = p.layout;
  // Rows of the CSR tiles in blocks; each block of the product is mapped at once.
  const std::vector<Buffer> gb = gather_boxes(Bm, p.needs[1], comm);
  int zi = -1;
  const InputArrays ext = region_externals_around(s, in, &zi);
  const RegionInputs ri = gather_region_inputs(r, ext, region_needs_around(s, p), lz, comm, zi);
  DistArray out(lz, r.root->dtype, comm.rank());
  const index_t m = p.inner.shape()[1];
  const std::size_t out_item = itemsize(r.root->dtype);
  std::vector<double> zb;
  for (std::size_t t = 0; t < out.tiles().size(); ++t) {
    Tile& tile = out.tiles()[t];
    const CsrTile& c = *A.find(tile.id)->csr;
    const index_t rows = c.rows();
    const Shape tile_shape = tile.box.shape();
    for (index_t r0 = 0; r0 < rows;) {
      const index_t r1 = std::min(rows, r0 + cache_block_rows(m * 8, rows));
      zb.resize(static_cast<std::size_t>((r1 - r0) * m));
      csr_times_dense(c, c.values.as<double>(), r0, r1, gb.empty() ? nullptr : gb[0].as<double>(), m, A.shape()[1], zb.data());
      eval_region_rows(r, ri, t, tile_shape, r0, r1, tile.data.data() + static_cast<std::size_t>(r0 * m) * out_item, zi,
                       reinterpret_cast<const std::byte*>(zb.data()));
      r0 = r1;
    }
  }
  (void)z;
  return out;
}

DistArray dot_map_run(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Region& r = *s.region;
  const Node& z = *s.map_dot;
  const DistArray& A = *in[0];
  const DistArray Bm = in[1]->view_as(as_matrix(in[1]->layout(), false));
  const Layout& lz = p.layout;
  std::vector<Buffer> ga = gather_boxes(A, p.needs[0], comm);
  std::vector<Buffer> gb = gather_boxes(Bm, p.needs[1], comm);
  int zi = -1;
  const InputArrays ext = region_externals_around(s, in, &zi);
  const RegionInputs ri = gather_region_inputs(r, ext, region_needs_around(s, p), lz, comm, zi);
  DistArray out(lz, r.root->dtype, comm.rank());
  const index_t kdim = A.shape()[1], m = p.inner.shape()[1];
  const std::size_t out_item = itemsize(r.root->dtype);
  visit_dtype(z.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T>) {
      using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
      // Blocks of a's rows or of the product (whichever is wider) that stay in cache.
      index_t tallest = 1;
      for (const Tile& tile : out.tiles()) tallest = std::max<index_t>(tallest, tile.box.shape().empty() ? 1 : tile.box.extent(0));
      const index_t block = cache_block_rows(std::max(kdim, m) * static_cast<index_t>(sizeof(T)), tallest);
      Buffer zb(static_cast<std::size_t>(block * m) * sizeof(T));
      for (std::size_t t = 0; t < out.tiles().size(); ++t) {
        Tile& tile = out.tiles()[t];
        const Shape tile_shape = tile.box.shape();
        const index_t rows = tile_shape.empty() ? 1 : tile_shape[0];
        if (tile.box.empty()) continue;
        const Eigen::Map<const Mat> B(gb.empty() ? nullptr : gb[0].as<T>(), kdim, m);
        for (index_t r0 = 0; r0 < rows; r0 += block) {
          const index_t nb = std::min(block, rows - r0);
          Eigen::Map<Mat> Z(zb.as<T>(), nb, m);
          if (kdim == 0) Z.setZero();
          else Z.noalias() = Eigen::Map<const Mat>(ga[t].as<T>() + r0 * kdim, nb, kdim) * B;
          eval_region_rows(r, ri, t, tile_shape, r0, r0 + nb, tile.data.data() + static_cast<std::size_t>(r0 * m) * out_item,
                           zi, zb.data());
        }
      }
    } else {
      throw std::logic_error("dot_map_run: floating-point types only");
    }
  });
  return out;
}

}  // namespace spartanxx::detail
