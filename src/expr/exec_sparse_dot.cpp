// Steps of products with a sparse operand: sparse·dense (SpMV when the dense operand is
// a vector), sparseᵀ·dense (the transpose never formed), dense·sparse, dense·sparseᵀ and
// sparse·sparse. The sparse matrix stays where it is and the dense operand travels:
// the plans say which boxes of it each rank needs, whether a vector goes through
// node-shared memory, and whether a tile's column groups are used.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "array/elementwise_kernels.hpp"
#include "array/sparse.hpp"
#include "expr/kernels.hpp"
#include "mpi_backend/communicator.hpp"

namespace spartanxx::detail {
namespace {

using tiling::columns_for_tiles;
using tiling::rows_for_tiles;
using tiling::rows_like;
using tiling::whole_for_holders;

bool rows_only(const Layout& l) { return !l.is_partial() && l.ndim() == 2 && l.tiles_along(1) == 1; }

/// Bytes to give every rank holding a tile of `by` the whole of sparse `x`.
std::int64_t sparse_replicate_bytes(const Node& x, const Layout& xl, const Layout& by, int P) {
  if (xl.is_replicated()) return 0;
  std::int64_t holders = 0;
  for (int r = 0; r < P; ++r) holders += !by.tiles_of(r).empty();
  // Each holder receives what it lacks: on average all but its own share.
  const std::int64_t whole = sparse_bytes(x.nnz_estimate, x.shape[0], x.dtype);
  return holders * whole - (holders > 0 ? whole * std::min<std::int64_t>(holders, P) / P : 0);
}

/// Every rank receives all of a sparse operand (gather_sparse_whole).
Needs whole_everywhere(const Shape& shape, int P) { return Needs(P, std::vector<Box>{Box::whole(shape)}); }

/// Whether sparseᵀ·vector may send partial sums while it computes (run_overlapped_t_dot):
/// a float64 vector result, 2 to 16 ranks (more go by the reduce-scatter of partials),
/// parts below 2 GiB.
bool overlapped_applies(const Node& n, int P) {
  if (P < 2 || P > 16 || n.shape.size() != 1 || n.dtype != DType::f64) return false;
  // Each part is one message when the ranks span nodes: its bytes must fit an int.
  return (n.shape[0] + P - 1) / P * 8 <= std::numeric_limits<int>::max();
}

/// Values of a dense operand as float64 (a copy unless they are).
const double* as_double(const Buffer& b, DType dt, index_t count, std::vector<double>& scratch) {
  if (dt == DType::f64) return b.as<double>();
  scratch.resize(static_cast<std::size_t>(count));
  convert(b.data(), dt, reinterpret_cast<std::byte*>(scratch.data()), DType::f64, scratch.size());
  return scratch.data();
}

void store(const std::vector<double>& v, Buffer& dst, DType dt) {
  convert(reinterpret_cast<const std::byte*>(v.data()), DType::f64, dst.data(), dt, v.size());
}

/// A whole sparse operand on this rank (its only tile when replicated), float64 values,
/// transposed when `transpose`.
CsrTile whole_sparse(const DistArray& x, bool transpose, Communicator& comm) {
  CsrTile w = gather_sparse_whole(x, comm);
  std::vector<double> scratch;
  const double* v = double_values(w, x.dtype(), scratch);
  if (transpose) return csr_transpose(w, v, x.shape()[1]);
  if (x.dtype() == DType::f64) return w;
  return make_csr(w.pattern, scratch.data(), scratch.size() * 8);
}

/// A 1-d layout whose every tile one rank owns (not replicated, not partial sums).
bool split_among_ranks(const Layout& l) {
  if (l.is_partial() || l.ndim() != 1) return false;
  for (int t = 0; t < l.num_tiles(); ++t)
    if (l.owner(t) == tiling::kReplicated) return false;
  return true;
}

/// Gathers the whole of a float64 vector split among the ranks (split_among_ranks) into
/// `whole` through the node-shared memory: each rank copies its tiles there and, after a
/// fence, copies the others' parts out (a private copy: the product's random reads then
/// stay in this core's cache). False when the ranks span nodes (then gather_boxes).
/// Counted as the messages of gather_boxes would be: the ranks with `needs` receive the
/// parts they lack from their owners.
bool shared_gather_whole(const DistArray& v, const Needs& needs, double* whole, Communicator& comm) {
  const index_t m = v.shape()[0];
  const std::vector<std::byte*>& shared = comm.node_segments(static_cast<std::size_t>(m) * 8);  // collective
  if (shared.empty()) return false;  // it could not be allocated
  auto* at = reinterpret_cast<double*>(shared[0]);
  const int me = comm.rank(), P = comm.size();
  index_t own = 0;
  for (const Tile& t : v.tiles()) {
    const index_t len = t.box.extent(0);
    if (len > 0) std::memcpy(at + t.box.lo[0], t.data.as<double>(), static_cast<std::size_t>(len) * 8);
    own += len;
  }
  comm.node_fence();
  const bool reads = !needs[static_cast<std::size_t>(me)].empty();
  std::vector<char> sends(static_cast<std::size_t>(P), 0);  // the ranks this one reads from
  if (reads) {
    const Layout& l = v.layout();
    for (int t = 0; t < l.num_tiles(); ++t) {
      const Box b = l.tile_box(t);
      if (b.volume() == 0) continue;
      const double* from = l.owner(t) == me ? v.find(t)->data.as<double>() : at + b.lo[0];
      std::memcpy(whole + b.lo[0], from, static_cast<std::size_t>(b.volume()) * 8);
      if (l.owner(t) != me) sends[static_cast<std::size_t>(l.owner(t))] = 1;
    }
  }
  comm.node_fence();  // every rank has copied out before any writes the segments again
  std::int64_t readers = 0;
  for (int r = 0; r < P; ++r) readers += r != me && !needs[static_cast<std::size_t>(r)].empty();
  const std::int64_t owners = std::count(sends.begin(), sends.end(), 1);
  comm.count_shared(own > 0 ? readers * own * 8 : 0, reads ? (m - own) * 8 : 0, own > 0 ? readers : 0, owners);
  return true;
}

/// g = Aᵀ r into Layout::rows(g's shape, P), A split by rows (plan variant 1 of
/// sparseᵀ·dense). Each rank adds its rows' contributions to the columns other ranks
/// own into a full-length buffer, then those to its own columns straight into its tile,
/// and last adds what the others computed for its columns:
/// - when every rank runs on one node, the buffers are node-shared memory and each rank
///   reads the others' parts for its columns directly (no messages, no copies);
/// - otherwise the parts are posted to their owners before the own columns are computed,
///   and the messages progress meanwhile.
/// A tile whose values were seen before uses its column split (entries regrouped by
/// column range, built once); otherwise the whole product goes to the buffer first.
/// Either way the exchange is the same, so ranks need not agree on which.
/// g = Aᵀ r into Layout::rows(g's shape, P), A split by rows (plan variant 1 of
/// sparseᵀ·dense). Each rank adds its rows' contributions to the columns other ranks
/// own into a full-length buffer, then those to its own columns straight into its tile,
/// and last adds what the others computed for its columns:
/// - when every rank runs on one node, the buffers are node-shared memory and each rank
///   reads the others' parts for its columns directly (no messages, no copies);
/// - otherwise the parts are posted to their owners before the own columns are computed,
///   and the messages progress meanwhile.
/// A tile whose values were seen before uses its column split (entries regrouped by
/// column range, built once); otherwise the whole product goes to the buffer first.
/// Either way the exchange is the same, so ranks need not agree on which.
DistArray run_overlapped_t_dot(const Node& b, const InputArrays& in, const Plan& p, Communicator& comm) {
  const DistArray& A = *in[0];
  const int P = comm.size(), me = comm.rank();
  const index_t m = A.shape()[1];
  const auto g = gather_boxes(*in[1], p.needs[1], comm);
  std::vector<index_t> lo(static_cast<std::size_t>(P), 0), hi(static_cast<std::size_t>(P), 0);
  for (int t = 0; t < p.layout.num_tiles(); ++t) {
    const Box tb = p.layout.tile_box(t);
    lo[static_cast<std::size_t>(p.layout.owner(t))] = tb.lo[0];
    hi[static_cast<std::size_t>(p.layout.owner(t))] = tb.hi[0];
  }
  const index_t c0 = lo[static_cast<std::size_t>(me)], c1 = hi[static_cast<std::size_t>(me)], mine = c1 - c0;
  const std::size_t T = A.tiles().size();
  DistArray out;
  Buffer acc, got;
  std::vector<std::vector<double>> xs(T), vs(T);
  std::vector<const double*> x(T), av(T);
  std::vector<std::shared_ptr<const ColumnSplit>> split(T);
  bool all_split = T > 0;
  // Node-shared memory when the plan says so (collective); empty when it cannot be had.
  static const std::vector<std::byte*> no_segments;
  const std::vector<std::byte*>& shared =
      p.exchange == Exchange::node_shared ? comm.node_segments(static_cast<std::size_t>(m) * 8) : no_segments;
  std::exception_ptr local_error;
  try {
    out = DistArray(p.layout, DType::f64, me);
    if (shared.empty()) {
      acc = Buffer(static_cast<std::size_t>(m) * 8);
      got = Buffer(static_cast<std::size_t>((P - 1) * mine) * 8);
    }
    for (std::size_t t = 0; t < T; ++t) {
      const CsrTile& c = *A.tiles()[t].csr;
      x[t] = as_double(g[t], b.dtype, c.rows(), xs[t]);
      split[t] = p.cache == CacheUse::column_groups ? column_split(c, A.dtype(), m, c0, c1) : nullptr;
      all_split = all_split && split[t];
    }
    if (!all_split)
      for (std::size_t t = 0; t < T; ++t) av[t] = double_values(*A.tiles()[t].csr, A.dtype(), vs[t]);
  } catch (...) {
    local_error = std::current_exception();
  }
  comm.agree(local_error);
  double* a = shared.empty() ? acc.as<double>() : reinterpret_cast<double*>(shared[static_cast<std::size_t>(me)]);
  double* o = mine > 0 ? out.tiles()[0].data.as<double>() : nullptr;
  // The others' columns.
  if (all_split) {
    std::fill(a, a + c0, 0.0);
    std::fill(a + c1, a + m, 0.0);
    for (std::size_t t = 0; t < T; ++t)
      coo_t_times_vector(split[t]->other_row.data(), split[t]->other_col.data(), split[t]->other_val.data(),
                         split[t]->other_row.size(), x[t], m, a);
  } else {
    std::fill(a, a + m, 0.0);
    for (std::size_t t = 0; t < T; ++t) {
      const CsrTile& c = *A.tiles()[t].csr;
      csr_t_times_dense(c, av[t], 0, c.rows(), x[t], 1, m, a);
    }
  }
  constexpr int kTag = 11;
  backend::Requests requests;
  int slot = 0;
  if (shared.empty()) {
    for (int q = 0; q < P; ++q)
      if (q != me && mine > 0) comm.irecv_bytes(got.as<double>() + slot++ * mine, mine * 8, q, kTag, requests);
    for (int q = 0; q < P; ++q) {
      const index_t len = hi[static_cast<std::size_t>(q)] - lo[static_cast<std::size_t>(q)];
      if (q != me && len > 0) comm.isend_bytes(a + lo[static_cast<std::size_t>(q)], len * 8, q, kTag, requests);
    }
  }
  // This rank's columns, driving the messages meanwhile.
  if (all_split) {
    std::fill(o, o + mine, 0.0);
    bool done = requests.empty();
    constexpr std::size_t kChunk = 16384;  // entries between two progress calls
    for (std::size_t t = 0; t < T; ++t) {
      const ColumnSplit& s = *split[t];
      for (std::size_t e0 = 0; e0 < s.local_row.size(); e0 += kChunk) {
        const std::size_t e1 = std::min(s.local_row.size(), e0 + kChunk);
        coo_t_times_vector(s.local_row.data() + e0, s.local_col.data() + e0, s.local_val.data() + e0, e1 - e0, x[t],
                           mine, o);
        if (!done) done = comm.test_all(requests);
      }
    }
  } else if (mine > 0) {
    std::memcpy(o, a + c0, static_cast<std::size_t>(mine) * 8);
  }
  // The others' contributions to this rank's columns.
  if (shared.empty()) {
    comm.wait_all(requests);
    for (int k = 0; k < slot; ++k) {
      const double* r = got.as<double>() + k * mine;
      for (index_t i = 0; i < mine; ++i) o[i] += r[i];
    }
    return out;
  }
  comm.node_fence();
  for (int q = 0; q < P; ++q) {
    if (q == me) continue;
    const double* r = reinterpret_cast<const double*>(shared[static_cast<std::size_t>(q)]) + c0;
    for (index_t i = 0; i < mine; ++i) o[i] += r[i];
  }
  comm.node_fence();  // every rank has read before any writes the segments again
  std::int64_t readers = 0;
  for (int q = 0; q < P; ++q) readers += q != me && hi[static_cast<std::size_t>(q)] > lo[static_cast<std::size_t>(q)];
  comm.count_shared((m - mine) * 8, (P - 1) * mine * 8, readers, mine > 0 ? P - 1 : 0);
  return out;
}

}  // namespace

std::vector<Plan> sparse_dense_options(const Step& st, const InputLayouts& in, const Layout*, const Machine& m) {
  const Node& n = *st.node;
  const Node& b = *st.inputs[1];
  const int P = m.ranks;
  const Layout& L = *in[0];
  Plan p;
  p.layout = rows_like(L, n.shape);
  p.needs = {Needs(), whole_for_holders(L, b.shape, P)};
  p.predicted_bytes = tiling::bytes_to_gather(*in[1], p.needs[1], itemsize(b.dtype));
  p.strategy = "sparse rows x whole dense";
  // SpMV with x split among the ranks of one node: x is read through shared memory.
  const index_t k = n.shape.size() == 2 ? n.shape[1] : 1;
  if (m.one_node && k == 1 && b.dtype == DType::f64 && n.dtype == DType::f64 && P > 1 && split_among_ranks(*in[1]))
    p.exchange = Exchange::node_shared;
  return {p};
}

std::vector<Plan> sparse_t_dense_options(const Step& st, const InputLayouts& in, const Layout*, const Machine& m) {
  const Node& n = *st.node;
  const Node& b = *st.inputs[1];
  const int P = m.ranks;
  const Layout& L = *in[0];
  const index_t k = n.shape.size() == 2 ? n.shape[1] : 1;
  std::vector<Plan> opts;
  Plan p;
  // A vector product reads a tile's column groups once it has seen the tile before.
  if (k == 1) p.cache = CacheUse::column_groups;
  if (L.is_replicated()) {
    p.layout = Layout::replicated(n.shape);
    p.needs = {Needs(), whole_for_holders(L, b.shape, P)};
    p.predicted_bytes = tiling::bytes_to_gather(*in[1], p.needs[1], itemsize(b.dtype));
  } else {
    p.layout = P == 1 ? Layout::replicated(n.shape) : Layout::partial(n.shape);
    p.needs = {Needs(), rows_for_tiles(L, b.shape, P)};
    p.predicted_bytes = tiling::bytes_to_gather(*in[1], p.needs[1], itemsize(b.dtype));
    // A float64 vector result split by rows among a few ranks: each rank sends the
    // other ranks' partial sums as soon as they are computed and computes its own
    // columns meanwhile (the same bytes as a reduce-scatter of the partial sums).
    if (overlapped_applies(n, P)) {
      Plan q = p;
      q.layout = Layout::rows(n.shape, P);
      q.predicted_bytes = p.predicted_bytes + tiling::bytes_to_move(p.layout, q.layout, P, 8);
      q.strategy = "transposed sparse rows x dense rows: others' partial sums sent while this rank's are computed";
      q.exchange = m.one_node ? Exchange::node_shared : Exchange::posted;
      q.variant = 1;
      opts.push_back(q);
    }
  }
  p.strategy = "transposed sparse rows x dense rows: partial sums";
  opts.push_back(p);
  return opts;
}

std::vector<Plan> dense_sparse_options(const Step& st, const InputLayouts& in, const Layout*, const Machine& m) {
  const Node& n = *st.node;
  const Node& a = *st.inputs[0];
  const Node& b = *st.inputs[1];
  const int P = m.ranks;
  const Layout& L = *in[1];
  std::vector<Plan> opts;
  // (1) each rank multiplies the columns of a that meet its rows of b: partial sums.
  if (!L.is_replicated() && P > 1) {
    Plan p;
    p.layout = Layout::partial(n.shape);
    p.needs = {columns_for_tiles(L, a.shape, P), Needs()};
    p.predicted_bytes = tiling::bytes_to_gather(*in[0], p.needs[0], itemsize(a.dtype));
    p.strategy = "dense columns x sparse rows: partial sums";
    p.variant = 0;
    opts.push_back(p);
  }
  // (2) the sparse matrix replicated where a's rows are.
  if (a.shape.size() == 2) {
    Plan q;
    const Layout& A = *in[0];
    q.layout = rows_only(A) || A.is_replicated() ? rows_like(A, n.shape) : Layout::rows(n.shape, P);
    q.needs = {tiling::needs_of(rows_like(q.layout, a.shape), P), whole_everywhere(b.shape, P)};
    q.predicted_bytes = tiling::bytes_to_gather(A, q.needs[0], itemsize(a.dtype)) + sparse_replicate_bytes(b, L, q.layout, P);
    q.strategy = "dense rows x replicated sparse";
    q.variant = 1;
    opts.push_back(q);
  } else if (L.is_replicated() || P == 1) {
    Plan q;
    q.layout = Layout::replicated(n.shape);
    q.needs = {whole_for_holders(L, a.shape, P), whole_everywhere(b.shape, P)};
    q.predicted_bytes = tiling::bytes_to_gather(*in[0], q.needs[0], itemsize(a.dtype));
    q.variant = 1;
    opts.push_back(q);
  }
  return opts;
}

std::vector<Plan> dense_sparse_t_options(const Step& st, const InputLayouts& in, const Layout*, const Machine& m) {
  const Node& n = *st.node;
  const Node& a = *st.inputs[0];
  const int P = m.ranks;
  const Layout& L = *in[1];
  Plan p;
  // Column block j of the result is a · (rows j of b)ᵀ.
  if (L.is_replicated()) {
    p.layout = Layout::replicated(n.shape);
  } else {
    std::vector<std::vector<index_t>> splits;
    if (n.shape.size() == 2) splits.push_back({0, n.shape[0]});
    splits.push_back(L.splits(0));
    p.layout = Layout(n.shape, splits, L.owners());
  }
  p.needs = {whole_for_holders(L, a.shape, P), Needs()};
  p.predicted_bytes = tiling::bytes_to_gather(*in[0], p.needs[0], itemsize(a.dtype));
  p.strategy = "whole dense x transposed sparse rows";
  return {p};
}

std::vector<Plan> sparse_sparse_options(const Step& st, const InputLayouts& in, const Layout*, const Machine& m) {
  const Node& n = *st.node;
  const Node& b = *st.inputs[1];
  const int P = m.ranks;
  const Layout& L = *in[0];
  Plan p;
  p.layout = rows_like(L, n.shape);
  p.needs = {Needs(), whole_everywhere(b.shape, P)};
  p.predicted_bytes = sparse_replicate_bytes(b, *in[1], L, P);
  p.strategy = "sparse rows x replicated sparse";
  return {p};
}

std::vector<Plan> sparse_sparse_whole_options(const Step& st, const InputLayouts& in, const Layout*, const Machine& m) {
  const Node& n = *st.node;
  const Node& a = *st.inputs[0];
  const Node& b = *st.inputs[1];
  const int P = m.ranks;
  Plan p;
  p.layout = Layout::replicated(n.shape);
  const Layout all = Layout::replicated(n.shape);
  p.needs = {whole_everywhere(a.shape, P), whole_everywhere(b.shape, P)};
  p.predicted_bytes = sparse_replicate_bytes(a, *in[0], all, P) + sparse_replicate_bytes(b, *in[1], all, P);
  p.strategy = "both sparse operands replicated";
  return {p};
}

DistArray sparse_dense_run(const Step& st, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Node& n = *st.node;
  const Node& b = *st.inputs[1];
  std::vector<double> s1, s2;
  const index_t k = n.shape.size() == 2 ? n.shape[1] : 1;
  const DistArray& A = *in[0];
  if (p.exchange == Exchange::node_shared) {
    DistArray out;
    Buffer whole;
    comm.run_agreed([&] {
      out = DistArray(p.layout, n.dtype, comm.rank());
      whole = Buffer(static_cast<std::size_t>(b.shape[0]) * 8);
    });
    if (shared_gather_whole(*in[1], p.needs[1], whole.as<double>(), comm)) {
      for (std::size_t t = 0; t < A.tiles().size(); ++t) {
        const CsrTile& c = *A.tiles()[t].csr;
        csr_times_dense(c, double_values(c, A.dtype(), s1), 0, c.rows(), whole.as<double>(), 1, A.shape()[1],
                        out.tiles()[t].data.as<double>());
      }
      return out;
    }
  }
  // Messages (the plan's choice, or shared memory could not be had).
  const auto g = gather_boxes(*in[1], p.needs[1], comm);
  DistArray out(p.layout, n.dtype, comm.rank());
  const double* x = g.empty() ? nullptr : as_double(g[0], b.dtype, tiling::volume(b.shape), s2);
  for (std::size_t t = 0; t < A.tiles().size(); ++t) {
    const CsrTile& c = *A.tiles()[t].csr;
    const double* av = double_values(c, A.dtype(), s1);
    if (n.dtype == DType::f64) {
      csr_times_dense(c, av, 0, c.rows(), x, k, A.shape()[1], out.tiles()[t].data.as<double>());
      continue;
    }
    std::vector<double> y(static_cast<std::size_t>(c.rows() * k));
    csr_times_dense(c, av, 0, c.rows(), x, k, A.shape()[1], y.data());
    store(y, out.tiles()[t].data, n.dtype);
  }
  return out;
}

DistArray sparse_t_dense_run(const Step& st, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Node& n = *st.node;
  const Node& b = *st.inputs[1];
  std::vector<double> s1, s2;
  const index_t k = n.shape.size() == 2 ? n.shape[1] : 1;
  if (p.variant == 1) return run_overlapped_t_dot(b, in, p, comm);
  const DistArray& A = *in[0];
  const Layout& L = A.layout();
  const bool whole = L.is_replicated();
  const auto g = gather_boxes(*in[1], p.needs[1], comm);  // all of b where L is replicated, else each tile's rows
  const index_t m = A.shape()[1];
  DistArray out(p.layout, n.dtype, p.layout.is_partial() ? 0 : comm.rank());
  std::vector<double> scratch_acc;
  double* acc = n.dtype == DType::f64 ? out.tiles()[0].data.as<double>()
                                      : (scratch_acc.resize(static_cast<std::size_t>(m * k)), scratch_acc.data());
  std::fill(acc, acc + m * k, 0.0);
  for (std::size_t t = 0; t < A.tiles().size(); ++t) {
    const CsrTile& c = *A.tiles()[t].csr;
    const Box tb = L.tile_box(A.tiles()[t].id);
    const double* x = as_double(g[whole ? 0 : t], b.dtype, (whole ? b.shape[0] : tb.extent(0)) * k, s2);
    if (whole) x += tb.lo[0] * k;  // the rows of this tile
    // A vector product on a tile seen before: its entries as one column group.
    if (const auto s = p.cache == CacheUse::column_groups ? column_split(c, A.dtype(), m, 0, m) : nullptr) {
      coo_t_times_vector(s->local_row.data(), s->local_col.data(), s->local_val.data(), s->local_row.size(), x, m,
                         acc);
      continue;
    }
    csr_t_times_dense(c, double_values(c, A.dtype(), s1), 0, c.rows(), x, k, m, acc);
  }
  if (n.dtype != DType::f64) store(scratch_acc, out.tiles()[0].data, n.dtype);
  return out;
}

DistArray dense_sparse_run(const Step& st, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Node& n = *st.node;
  const Node& a = *st.inputs[0];
  std::vector<double> s1, s2;
  const DistArray& B = *in[1];
  const index_t m = n.shape.back();
  const index_t arows = a.shape.size() == 2 ? a.shape[0] : 1;
  const index_t kk = a.shape.back();
  if (p.variant == 0) {
    const auto g = gather_boxes(*in[0], p.needs[0], comm);
    std::vector<double> acc(static_cast<std::size_t>(arows * m), 0.0);
    for (std::size_t t = 0; t < B.tiles().size(); ++t) {
      const CsrTile& c = *B.tiles()[t].csr;
      const double* bv = double_values(c, B.dtype(), s1);
      const double* x = as_double(g[t], a.dtype, arows * c.rows(), s2);
      dense_times_csr(x, arows, c.rows(), 0, c, bv, m, acc.data());
    }
    DistArray out(p.layout, n.dtype, 0);
    store(acc, out.tiles()[0].data, n.dtype);
    return out;
  }
  const CsrTile w = whole_sparse(B, false, comm);
  const auto g = gather_boxes(*in[0], p.needs[0], comm);
  DistArray out(p.layout, n.dtype, comm.rank());
  for (std::size_t t = 0; t < out.tiles().size(); ++t) {
    const index_t rows = a.shape.size() == 2 ? out.tiles()[t].box.extent(0) : 1;
    const double* x = as_double(g[t], a.dtype, rows * kk, s2);
    std::vector<double> acc(static_cast<std::size_t>(rows * m), 0.0);
    dense_times_csr(x, rows, kk, 0, w, w.values.as<double>(), m, acc.data());
    store(acc, out.tiles()[t].data, n.dtype);
  }
  return out;
}

DistArray dense_sparse_t_run(const Step& st, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Node& n = *st.node;
  const Node& a = *st.inputs[0];
  std::vector<double> s1, s2;
  const DistArray& B = *in[1];
  const auto g = gather_boxes(*in[0], p.needs[0], comm);
  const index_t arows = a.shape.size() == 2 ? a.shape[0] : 1;
  const index_t kk = a.shape.back();
  DistArray out(p.layout, n.dtype, comm.rank());
  const double* x = g.empty() ? nullptr : as_double(g[0], a.dtype, arows * kk, s2);
  for (std::size_t t = 0; t < B.tiles().size(); ++t) {
    const CsrTile& c = *B.tiles()[t].csr;
    const double* bv = double_values(c, B.dtype(), s1);
    std::vector<double> acc(static_cast<std::size_t>(arows * c.rows()));
    dense_times_csr_t(x, arows, kk, c, bv, acc.data(), c.rows(), 0);
    store(acc, out.tiles()[t].data, n.dtype);
  }
  return out;
}

DistArray sparse_sparse_run(const Step& st, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Node& n = *st.node;
  const Node& b = *st.inputs[1];
  std::vector<double> s1;
  const DistArray& A = *in[0];
  const CsrTile w = whole_sparse(*in[1], false, comm);
  std::vector<CsrTile> tiles;
  for (const Tile& t : A.tiles()) {
    const CsrTile& c = *t.csr;
    tiles.push_back(csr_times_csr(c, double_values(c, A.dtype(), s1), A.shape()[1], w, w.values.as<double>(),
                                  b.shape[1], n.dtype));
  }
  return sparse_from_tiles(p.layout, n.dtype, std::move(tiles), comm);
}

DistArray sparse_sparse_whole_run(const Step& st, const InputArrays& in, const Plan& p, Communicator& comm) {
  const Node& n = *st.node;
  const Node& a = *st.inputs[0];
  const CsrTile wa = whole_sparse(*in[0], st.fold[0], comm);
  const CsrTile wb = whole_sparse(*in[1], st.fold[1], comm);
  std::vector<CsrTile> tiles;
  tiles.push_back(csr_times_csr(wa, wa.values.as<double>(), a.shape[st.fold[0] ? 0 : 1], wb, wb.values.as<double>(),
                                n.shape[1], n.dtype));
  return sparse_from_tiles(p.layout, n.dtype, std::move(tiles), comm);
}

}  // namespace spartanxx::detail
