// MPI tests of src/array/dist_array.hpp: DistArray, copy_box, gather_boxes,
// redistribute, view_as (and Buffer from src/array/buffer.hpp).
//
// Every array is filled with a function of the global C-order index of each element,
// computed here from the tile's box, and every result is checked element by element
// against the same function. Only EXPECT_* is used before a collective, so that a
// failure on one rank never leaves the others waiting in a collective.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "array/buffer.hpp"
#include "array/dist_array.hpp"
#include "mpi_backend/communicator.hpp"
#include "tiling/box.hpp"
#include "tiling/layout.hpp"

namespace spartanxx::detail {
namespace {

using backend::Communicator;
using backend::ReduceOp;
using tiling::kReplicated;
using tiling::Shape;
using Splits = std::vector<std::vector<index_t>>;

// ---------------------------------------------------------------------------------
// Helpers: filling and checking by global index
// ---------------------------------------------------------------------------------

void for_each_index(const Box& box, const std::function<void(const std::vector<index_t>&)>& f) {
  const int n = box.ndim();
  for (int a = 0; a < n; ++a)
    if (box.hi[a] <= box.lo[a]) return;
  std::vector<index_t> g = box.lo;
  while (true) {
    f(g);
    int a = n - 1;
    while (a >= 0 && ++g[a] == box.hi[a]) g[a] = box.lo[a], --a;
    if (a < 0) return;
  }
}

// Linear C-order index of g in an array of shape s.
index_t linear(const Shape& s, const std::vector<index_t>& g) {
  index_t k = 0;
  for (std::size_t a = 0; a < s.size(); ++a) k = k * s[a] + g[a];
  return k;
}

// The value stored at linear index k, per storage type; distinct enough between
// neighbours that a misplaced element shows.
template <class T>
T value_of(index_t k) {
  if constexpr (std::is_same_v<T, double>) return static_cast<double>(k) + 0.5;
  else if constexpr (std::is_same_v<T, float>) return static_cast<float>(k) + 0.25f;
  else if constexpr (std::is_same_v<T, std::int64_t>) return k * (std::int64_t{1} << 33) + k;  // needs all 8 bytes
  else if constexpr (std::is_same_v<T, std::int32_t>) return static_cast<std::int32_t>(3 * k - 50);
  else return static_cast<std::uint8_t>((k * 7) % 5 < 2 ? 1 : 0);  // bool storage
}

template <class T>
std::string show(T v) {
  std::ostringstream o;
  if constexpr (std::is_same_v<T, std::uint8_t>) o << static_cast<int>(v);
  else o << v;
  return o.str();
}

// Writes value_of(linear index) into a C-order buffer over `box` of an array of `shape`.
void fill_box(DType d, const Shape& shape, const Box& box, std::byte* data) {
  visit_dtype(d, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = reinterpret_cast<T*>(data);
    index_t off = 0;
    for_each_index(box, [&](const std::vector<index_t>& g) { p[off++] = value_of<T>(linear(shape, g)); });
  });
}

// Counts the elements of a C-order buffer over `box` that differ from value_of; the
// first difference is described in `first`.
std::int64_t check_box(DType d, const Shape& shape, const Box& box, const std::byte* data, std::string& first) {
  std::int64_t bad = 0;
  visit_dtype(d, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = reinterpret_cast<const T*>(data);
    index_t off = 0;
    for_each_index(box, [&](const std::vector<index_t>& g) {
      const T want = value_of<T>(linear(shape, g));
      if (!(p[off] == want)) {
        if (bad++ == 0) {
          std::ostringstream o;
          o << "element (";
          for (auto x : g) o << x << ",";
          o << ") of box " << tiling::to_string(box) << ": got " << show(p[off]) << ", want " << show(want);
          first = o.str();
        }
      }
      ++off;
    });
  });
  return bad;
}

DistArray make_filled(const Layout& layout, DType d, int rank) {
  DistArray a(layout, d, rank);
  for (Tile& t : a.tiles()) fill_box(d, layout.shape(), t.box, t.data.data());
  return a;
}

// Everything about `a` that should hold on `rank` if it is the array of value_of under
// `layout`; returns "" when all is well, else what is wrong.
std::string verify(const DistArray& a, const Layout& layout, DType d, int rank) {
  std::ostringstream err;
  if (a.layout() != layout) err << "layout is " << a.layout().describe() << "; ";
  if (a.dtype() != d) err << "dtype is " << dtype_name(a.dtype()) << "; ";
  std::vector<int> want_ids, got_ids;
  for (int t = 0; t < layout.num_tiles(); ++t)
    if (layout.owner(t) == rank || layout.owner(t) == kReplicated) want_ids.push_back(t);
  for (const Tile& t : a.tiles()) got_ids.push_back(t.id);
  if (got_ids != want_ids) {
    err << "tiles held: got " << got_ids.size() << ", want " << want_ids.size() << "; ";
    return err.str();
  }
  const std::size_t elem = itemsize(d);
  for (const Tile& t : a.tiles()) {
    if (t.box != layout.tile_box(t.id)) {
      err << "tile " << t.id << " box " << tiling::to_string(t.box) << "; ";
      continue;
    }
    const std::size_t need = static_cast<std::size_t>(t.box.volume()) * elem;
    if (t.data.bytes() < need) {
      err << "tile " << t.id << " has " << t.data.bytes() << " bytes, needs " << need << "; ";
      continue;
    }
    if (need == 0) continue;
    std::string first;
    const auto bad = check_box(d, layout.shape(), t.box, t.data.data(), first);
    if (bad) err << "tile " << t.id << ": " << bad << " wrong elements, first " << first << "; ";
  }
  return err.str();
}

// Layouts of `s` worth redistributing between on `p` ranks: the standard ones and an
// uneven one with an empty block, owners out of order and a replicated tile.
std::vector<Layout> layouts_for(const Shape& s, int p) {
  std::vector<Layout> v;
  if (s.empty()) {
    v.push_back(Layout::replicated(s));
    v.push_back(Layout(s, Splits{}, {p - 1}));  // a 0-d array on the last rank only
    return v;
  }
  v.push_back(Layout::rows(s, p));
  v.push_back(Layout::replicated(s));
  if (s.size() == 1) {
    v.push_back(Layout(s, Splits{{0, std::min<index_t>(1, s[0]), s[0] / 2 + 1 > s[0] ? s[0] : s[0] / 2 + 1, s[0]}},
                       {p - 1, kReplicated, 0}));
  } else if (s.size() == 2) {
    v.push_back(Layout::cols(s, p));
    v.push_back(Layout::grid(s, 1, p));
    v.push_back(Layout::grid(s, p, 1));
    if (p == 4) v.push_back(Layout::grid(s, 2, 2));
    std::vector<int> owners(6);
    for (int t = 0; t < 6; ++t) owners[t] = t == 4 ? kReplicated : (t * 2 + 1) % p;
    v.push_back(Layout(s, Splits{{0, s[0] / 3, s[0] / 3, s[0]}, {0, s[1] / 2, s[1]}}, owners));
  } else {
    v.push_back(Layout::blocks(s, 1, p));
    v.push_back(Layout::blocks(s, 2, p));
    Splits sp(s.size());
    for (std::size_t a = 0; a < s.size(); ++a) sp[a] = {0, s[a]};
    sp[0] = {0, std::min<index_t>(1, s[0]), s[0]};
    sp[2] = {0, std::min<index_t>(2, s[2]), s[2]};
    v.push_back(Layout(s, sp, {0, 1 % p, kReplicated, p - 1}));
  }
  return v;
}

std::string describe(const Layout& l) {
  std::ostringstream o;
  o << tiling::to_string(l.shape()) << " " << l.describe() << " [owners";
  for (int x : l.owners()) o << " " << x;
  o << "]";
  return o.str();
}

// Redistributes between every pair of layouts of `s` and back, checking each result.
void all_pairs(const Shape& s, DType d) {
  Communicator comm(MPI_COMM_WORLD);
  const int me = comm.rank(), p = comm.size();
  const auto layouts = layouts_for(s, p);
  for (const Layout& from : layouts) {
    const DistArray a = make_filled(from, d, me);
    EXPECT_EQ(verify(a, from, d, me), "") << "fill " << describe(from);
    for (const Layout& to : layouts) {
      SCOPED_TRACE(std::string(dtype_name(d)) + " " + describe(from) + " -> " + describe(to));
      const DistArray b = redistribute(a, to, comm);
      EXPECT_EQ(verify(b, to, d, me), "");
      const DistArray c = redistribute(b, from, comm);
      EXPECT_EQ(verify(c, from, d, me), "") << "(back)";
    }
    EXPECT_EQ(verify(a, from, d, me), "") << "source changed " << describe(from);
  }
}

// ---------------------------------------------------------------------------------
// Buffer and DistArray
// ---------------------------------------------------------------------------------

TEST(RedistributeBuffer, AlignedSharedCounted) {
  const std::int64_t before = Buffer::allocated_total();
  Buffer b(1000);
  EXPECT_EQ(b.bytes(), 1000u);
  ASSERT_NE(b.data(), nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.data()) % 64, 0u);
  EXPECT_GE(Buffer::allocated_total() - before, 1000);
  b.as<double>()[5] = 2.5;
  Buffer view = b;  // a copy shares the storage
  EXPECT_EQ(view.data(), b.data());
  EXPECT_EQ(view.as<double>()[5], 2.5);
  Buffer tiny(3);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(tiny.data()) % 64, 0u);
  Buffer none;
  EXPECT_EQ(none.bytes(), 0u);
}

TEST(RedistributeDistArray, HoldsItsTiles) {
  Communicator comm(MPI_COMM_WORLD);
  const int me = comm.rank(), p = comm.size();
  for (const Shape& s : {Shape{7, 5}, Shape{0, 3}, Shape{13}, Shape{4, 3, 5}, Shape{}})
    for (const Layout& l : layouts_for(s, p))
      for (DType d : {DType::f64, DType::i32, DType::boolean}) {
        SCOPED_TRACE(describe(l) + " " + dtype_name(d));
        const DistArray a(l, d, me);
        EXPECT_EQ(a.layout(), l);
        EXPECT_EQ(a.dtype(), d);
        EXPECT_EQ(a.shape(), s);
        std::set<int> ids;
        for (const Tile& t : a.tiles()) {
          ids.insert(t.id);
          EXPECT_TRUE(l.owner(t.id) == me || l.owner(t.id) == kReplicated);
          EXPECT_EQ(t.box, l.tile_box(t.id));
          EXPECT_GE(t.data.bytes(), static_cast<std::size_t>(t.box.volume()) * itemsize(d));
        }
        for (int t = 0; t < l.num_tiles(); ++t) {
          const bool mine = l.owner(t) == me || l.owner(t) == kReplicated;
          EXPECT_EQ(ids.count(t) == 1, mine) << "tile " << t;
          EXPECT_EQ(a.find(t) != nullptr, mine) << "tile " << t;
          if (a.find(t)) {
            EXPECT_EQ(a.find(t)->id, t);
          }
        }
        EXPECT_EQ(a.find(l.num_tiles() + 5), nullptr);
        const DistArray empty(l, d, me, /*allocate=*/false);
        EXPECT_EQ(empty.tiles().size(), a.tiles().size());
      }
}

// ---------------------------------------------------------------------------------
// copy_box (local)
// ---------------------------------------------------------------------------------

// Copies `part` between buffers over `from_box` and `to_box` of an array of `shape` and
// checks: inside `part` the destination holds value_of, outside it the sentinel.
void check_copy_box(const Shape& shape, const Box& from_box, const Box& to_box, const Box& part) {
  SCOPED_TRACE(tiling::to_string(from_box) + " -> " + tiling::to_string(to_box) + " part " +
               tiling::to_string(part));
  std::vector<double> from(static_cast<std::size_t>(from_box.volume()));
  fill_box(DType::f64, shape, from_box, reinterpret_cast<std::byte*>(from.data()));
  const double sentinel = -12345.0;
  std::vector<double> to(static_cast<std::size_t>(to_box.volume()) + 1, sentinel);  // +1: overrun guard
  copy_box(reinterpret_cast<const std::byte*>(from.data()), from_box, reinterpret_cast<std::byte*>(to.data()),
           to_box, part, sizeof(double));
  index_t off = 0;
  std::int64_t bad = 0;
  for_each_index(to_box, [&](const std::vector<index_t>& g) {
    bool in = true;
    for (std::size_t a = 0; a < g.size(); ++a) in = in && g[a] >= part.lo[a] && g[a] < part.hi[a];
    const double want = in ? static_cast<double>(linear(shape, g)) + 0.5 : sentinel;
    bad += to[off] != want;
    ++off;
  });
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(to.back(), sentinel) << "wrote past the end";
}

TEST(RedistributeCopyBox, TwoD) {
  const Shape s{8, 9};
  check_copy_box(s, Box{{1, 2}, {5, 8}}, Box{{0, 3}, {6, 9}}, Box{{2, 3}, {4, 5}});
  check_copy_box(s, Box{{1, 2}, {5, 8}}, Box{{0, 3}, {6, 9}}, Box{{1, 3}, {5, 8}});
  check_copy_box(s, Box{{0, 0}, {8, 9}}, Box{{2, 0}, {5, 9}}, Box{{2, 0}, {5, 9}});  // whole rows: contiguous
  check_copy_box(s, Box{{2, 0}, {5, 9}}, Box{{0, 0}, {8, 9}}, Box{{3, 0}, {5, 9}});
  check_copy_box(s, Box{{1, 2}, {5, 8}}, Box{{1, 2}, {5, 8}}, Box{{1, 2}, {5, 8}});  // identical boxes
  check_copy_box(s, Box{{1, 2}, {5, 8}}, Box{{0, 0}, {8, 9}}, Box{{4, 7}, {5, 8}});  // one element
  check_copy_box(s, Box{{1, 2}, {5, 8}}, Box{{0, 0}, {8, 9}}, Box{{3, 3}, {3, 8}});  // empty: nothing
}

TEST(RedistributeCopyBox, ThreeDAndOneD) {
  const Shape s{5, 6, 7};
  check_copy_box(s, Box{{0, 1, 2}, {4, 5, 7}}, Box{{1, 0, 0}, {5, 6, 7}}, Box{{1, 2, 3}, {3, 4, 6}});
  check_copy_box(s, Box{{0, 0, 0}, {5, 6, 7}}, Box{{1, 2, 0}, {4, 5, 7}}, Box{{1, 2, 0}, {4, 5, 7}});
  check_copy_box(s, Box{{1, 0, 0}, {4, 6, 7}}, Box{{0, 0, 0}, {5, 6, 7}}, Box{{2, 0, 0}, {4, 6, 7}});
  check_copy_box(s, Box{{1, 0, 0}, {4, 6, 7}}, Box{{0, 0, 0}, {5, 6, 7}}, Box{{2, 3, 0}, {4, 4, 7}});
  check_copy_box(Shape{20}, Box{{3}, {15}}, Box{{5}, {20}}, Box{{6}, {11}});
  check_copy_box(Shape{20}, Box{{0}, {20}}, Box{{0}, {20}}, Box{{0}, {20}});
}

TEST(RedistributeCopyBox, ZeroD) {
  double from = 7.5, to = 0;
  copy_box(reinterpret_cast<const std::byte*>(&from), Box{}, reinterpret_cast<std::byte*>(&to), Box{}, Box{},
           sizeof(double));
  EXPECT_EQ(to, 7.5);
}

// ---------------------------------------------------------------------------------
// redistribute
// ---------------------------------------------------------------------------------

TEST(Redistribute, Matrix7x5) { all_pairs({7, 5}, DType::f64); }
TEST(Redistribute, OneRow1x9) { all_pairs({1, 9}, DType::f64); }
TEST(Redistribute, EmptyRows0x3) { all_pairs({0, 3}, DType::f64); }
TEST(Redistribute, EmptyCols3x0) { all_pairs({3, 0}, DType::f64); }
TEST(Redistribute, MoreRanksThanRows2x3) { all_pairs({2, 3}, DType::f64); }
TEST(Redistribute, Vector13) { all_pairs({13}, DType::f64); }
TEST(Redistribute, Vector1) { all_pairs({1}, DType::f64); }
TEST(Redistribute, ThreeD4x3x5) { all_pairs({4, 3, 5}, DType::f64); }
TEST(Redistribute, ZeroD) { all_pairs({}, DType::f64); }
TEST(Redistribute, Larger61x47) { all_pairs({61, 47}, DType::f64); }

TEST(Redistribute, Int32) {
  all_pairs({7, 5}, DType::i32);
  all_pairs({13}, DType::i32);
  all_pairs({4, 3, 5}, DType::i32);
}

TEST(Redistribute, Bool) {
  all_pairs({7, 5}, DType::boolean);
  all_pairs({13}, DType::boolean);
  all_pairs({4, 3, 5}, DType::boolean);
}

TEST(Redistribute, Float32AndInt64) {
  all_pairs({7, 5}, DType::f32);
  all_pairs({7, 5}, DType::i64);
  all_pairs({13}, DType::i64);
}

TEST(Redistribute, ChainThroughEveryLayout) {
  // rows -> cols -> grid -> ... -> rows, each step from the previous result.
  Communicator comm(MPI_COMM_WORLD);
  const int me = comm.rank(), p = comm.size();
  const Shape s{11, 6};
  const auto ls = layouts_for(s, p);
  DistArray a = make_filled(ls[0], DType::f64, me);
  for (int round = 0; round < 2; ++round)
    for (std::size_t i = 1; i <= ls.size(); ++i) {
      const Layout& to = ls[i % ls.size()];
      a = redistribute(a, to, comm);
      EXPECT_EQ(verify(a, to, DType::f64, me), "") << "step " << i << " to " << describe(to);
    }
}

// ---------------------------------------------------------------------------------
// Counters against the cost model
// ---------------------------------------------------------------------------------

// Bytes sent and received by all ranks during `f`.
template <class F>
std::pair<std::int64_t, std::int64_t> moved(Communicator& comm, F&& f) {
  const backend::Counters before = comm.counters();
  f();
  const backend::Counters delta = comm.counters() - before;
  std::int64_t sr[2] = {delta.bytes_sent, delta.bytes_received};
  comm.allreduce(sr, 2, ReduceOp::sum);
  return {sr[0], sr[1]};
}

TEST(RedistributeCounters, RowsToRowsMovesNothing) {
  Communicator comm(MPI_COMM_WORLD);
  const int me = comm.rank(), p = comm.size();
  const Shape s{7, 5};
  const DistArray a = make_filled(Layout::rows(s, p), DType::f64, me);
  const backend::Counters before = comm.counters();
  const DistArray b = redistribute(a, Layout::rows(s, p), comm);
  const backend::Counters delta = comm.counters() - before;
  EXPECT_EQ(delta.bytes_sent, 0);
  EXPECT_EQ(delta.bytes_received, 0);
  EXPECT_EQ(verify(b, Layout::rows(s, p), DType::f64, me), "");

  // The same rows, each cut again by columns: a different layout, still nothing to move.
  const auto rs = Layout::rows(s, p);
  std::vector<int> owners;
  for (int r = 0; r < p; ++r) owners.insert(owners.end(), {r, r});
  const Layout refined(s, Splits{rs.splits(0), {0, 2, 5}}, owners);
  std::pair<std::int64_t, std::int64_t> m;
  DistArray c;
  m = moved(comm, [&] { c = redistribute(a, refined, comm); });
  EXPECT_EQ(tiling::bytes_to_move(Layout::rows(s, p), refined, p, 8), 0);
  EXPECT_EQ(m.first, 0);
  EXPECT_EQ(m.second, 0);
  EXPECT_EQ(verify(c, refined, DType::f64, me), "");
}

TEST(RedistributeCounters, RowsToReplicatedMatchesCostModel) {
  Communicator comm(MPI_COMM_WORLD);
  const int me = comm.rank(), p = comm.size();
  for (const Shape& s : {Shape{7, 5}, Shape{1, 9}, Shape{61, 47}, Shape{0, 3}}) {
    const Layout rows = Layout::rows(s, p), rep = Layout::replicated(s);
    const DistArray a = make_filled(rows, DType::f64, me);
    DistArray b;
    const auto m = moved(comm, [&] { b = redistribute(a, rep, comm); });
    const std::int64_t predicted = tiling::bytes_to_move(rows, rep, p, 8);
    EXPECT_EQ(predicted, static_cast<std::int64_t>(p - 1) * s[0] * s[1] * 8) << tiling::to_string(s);
    EXPECT_EQ(m.first, predicted) << tiling::to_string(s);
    EXPECT_EQ(m.second, predicted) << tiling::to_string(s);
    EXPECT_EQ(verify(b, rep, DType::f64, me), "");
    // ... and back is free: every rank already holds everything.
    DistArray c;
    const auto back = moved(comm, [&] { c = redistribute(b, rows, comm); });
    EXPECT_EQ(back.first, 0);
    EXPECT_EQ(verify(c, rows, DType::f64, me), "");
  }
}

TEST(RedistributeCounters, AllPairsMatchCostModel) {
  Communicator comm(MPI_COMM_WORLD);
  const int me = comm.rank(), p = comm.size();
  for (const Shape& s : {Shape{7, 5}, Shape{13}, Shape{4, 3, 5}})
    for (DType d : {DType::f64, DType::i32, DType::boolean}) {
      const auto ls = layouts_for(s, p);
      for (const Layout& from : ls) {
        const DistArray a = make_filled(from, d, me);
        for (const Layout& to : ls) {
          DistArray b;
          const auto m = moved(comm, [&] { b = redistribute(a, to, comm); });
          const std::int64_t predicted = tiling::bytes_to_move(from, to, p, itemsize(d));
          EXPECT_EQ(m.first, predicted) << dtype_name(d) << " " << describe(from) << " -> " << describe(to);
          EXPECT_EQ(m.second, predicted) << dtype_name(d) << " " << describe(from) << " -> " << describe(to);
        }
      }
    }
}

// ---------------------------------------------------------------------------------
// gather_boxes
// ---------------------------------------------------------------------------------

// What rank r asks for in the gather tests on a 2-d shape s: the same middle box as
// everyone, a box that depends on r, an empty box, the whole array, one element.
std::vector<Box> wants_2d(const Shape& s, int r) {
  const index_t n = s[0], m = s[1];
  std::vector<Box> w;
  w.push_back(Box{{n / 4, m / 4}, {n - n / 4, m - m / 4}});
  const index_t lo0 = n ? r % n : 0, lo1 = m ? (2 * r) % m : 0;
  w.push_back(Box{{lo0, lo1}, {std::min(n, lo0 + 3), m}});
  w.push_back(Box{{n / 2, 0}, {n / 2, m}});
  w.push_back(Box::whole(s));
  if (n && m) w.push_back(Box{{n - 1, m - 1}, {n, m}});
  w.push_back(Box{{n / 4, m / 4}, {n - n / 4, m - m / 4}});  // the same box twice
  return w;
}

void check_gather(const Layout& from, DType d, const Needs& needs) {
  Communicator comm(MPI_COMM_WORLD);
  const int me = comm.rank(), p = comm.size();
  SCOPED_TRACE(std::string(dtype_name(d)) + " from " + describe(from));
  const DistArray a = make_filled(from, d, me);
  std::vector<Buffer> got;
  const auto m = moved(comm, [&] { got = gather_boxes(a, needs, comm); });
  EXPECT_EQ(m.first, tiling::bytes_to_gather(from, needs, itemsize(d)));
  EXPECT_EQ(m.second, m.first);
  EXPECT_EQ(got.size(), needs[me].size());
  for (std::size_t i = 0; i < std::min(got.size(), needs[me].size()); ++i) {
    const Box& b = needs[me][i];
    const std::size_t want_bytes = static_cast<std::size_t>(b.volume()) * itemsize(d);
    EXPECT_GE(got[i].bytes(), want_bytes) << "box " << i << " " << tiling::to_string(b);
    if (got[i].bytes() < want_bytes || want_bytes == 0) continue;
    std::string first;
    EXPECT_EQ(check_box(d, from.shape(), b, got[i].data(), first), 0) << "box " << i << ": " << first;
  }
  EXPECT_EQ(verify(a, from, d, me), "") << "source changed";
  (void)p;
}

TEST(RedistributeGather, OverlappingBoxes2D) {
  const int p = [] {
    int s = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
  }();
  for (const Shape& s : {Shape{7, 5}, Shape{12, 9}, Shape{1, 9}})
    for (const Layout& from : layouts_for(s, p)) {
      Needs needs(p);
      for (int r = 0; r < p; ++r) needs[r] = wants_2d(s, r);
      if (p > 1) needs[1].clear();  // one rank needs nothing
      check_gather(from, DType::f64, needs);
      check_gather(from, DType::i32, needs);
    }
}

TEST(RedistributeGather, EveryRankTheSameBox) {
  const int p = [] {
    int s = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
  }();
  const Shape s{9, 8};
  for (const Layout& from : layouts_for(s, p)) {
    Needs needs(p, std::vector<Box>{Box{{2, 3}, {7, 6}}});
    check_gather(from, DType::f64, needs);
    check_gather(from, DType::boolean, needs);
  }
}

TEST(RedistributeGather, ThreeDAndOneD) {
  const int p = [] {
    int s = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
  }();
  for (const Layout& from : layouts_for({4, 3, 5}, p)) {
    Needs needs(p);
    for (int r = 0; r < p; ++r)
      needs[r] = {Box{{1, 0, 1}, {3, 3, 4}}, Box{{r % 4, r % 3, 0}, {4, 3, 1 + r % 5}}, Box::whole({4, 3, 5})};
    check_gather(from, DType::f64, needs);
  }
  for (const Layout& from : layouts_for({13}, p)) {
    Needs needs(p);
    for (int r = 0; r < p; ++r) needs[r] = {Box{{r}, {13 - r}}, Box{{5}, {6}}, Box{{0}, {13}}, Box{{4}, {4}}};
    check_gather(from, DType::i64, needs);
  }
}

TEST(RedistributeGather, NobodyNeedsAnything) {
  Communicator comm(MPI_COMM_WORLD);
  const int me = comm.rank(), p = comm.size();
  const DistArray a = make_filled(Layout::rows({7, 5}, p), DType::f64, me);
  std::vector<Buffer> got;
  const auto m = moved(comm, [&] { got = gather_boxes(a, Needs(p), comm); });
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(m.first, 0);
}

// ---------------------------------------------------------------------------------
// view_as
// ---------------------------------------------------------------------------------

TEST(RedistributeViewAs, ColumnVectorAsVector) {
  Communicator comm(MPI_COMM_WORLD);
  const int me = comm.rank(), p = comm.size();
  for (index_t n : {1, 7, 13}) {
    // (n, 1) and (n,) have the same C order, so each element keeps its linear index.
    const Layout l2 = Layout::rows({n, 1}, p), l1 = Layout::rows({n}, p);
    const DistArray a = make_filled(l2, DType::f64, me);
    const DistArray v = a.view_as(l1);
    EXPECT_EQ(verify(v, l1, DType::f64, me), "") << "n=" << n;
    EXPECT_EQ(v.tiles().size(), a.tiles().size());
    for (std::size_t i = 0; i < std::min(v.tiles().size(), a.tiles().size()); ++i) {
      EXPECT_EQ(v.tiles()[i].id, a.tiles()[i].id);
      if (a.tiles()[i].data.bytes() > 0) {
        EXPECT_EQ(v.tiles()[i].data.data(), a.tiles()[i].data.data()) << "not shared";
      }
    }
    const DistArray back = v.view_as(l2);
    EXPECT_EQ(verify(back, l2, DType::f64, me), "");
    // A view is an ordinary array: it redistributes.
    const DistArray r = redistribute(v, Layout::replicated({n}), comm);
    EXPECT_EQ(verify(r, Layout::replicated({n}), DType::f64, me), "");
  }
}

TEST(RedistributeViewAs, ReplicatedReshape) {
  Communicator comm(MPI_COMM_WORLD);
  const int me = comm.rank();
  const DistArray a = make_filled(Layout::replicated({3, 4}), DType::i32, me);
  const DistArray v = a.view_as(Layout::replicated({12}));
  EXPECT_EQ(verify(v, Layout::replicated({12}), DType::i32, me), "");
  const DistArray w = a.view_as(Layout::replicated({2, 6}));
  EXPECT_EQ(verify(w, Layout::replicated({2, 6}), DType::i32, me), "");
}

TEST(RedistributeViewAs, RejectsDifferentTiles) {
  Communicator comm(MPI_COMM_WORLD);
  const int me = comm.rank(), p = comm.size();
  const DistArray a = make_filled(Layout::rows({8, 2}, p), DType::f64, me);
  EXPECT_ANY_THROW(a.view_as(Layout::replicated({16})));  // different owners
  EXPECT_ANY_THROW(a.view_as(Layout::cols({2, 8}, p + 1)));  // different tile count
}

}  // namespace
}  // namespace spartanxx::detail
