// Serial tests of src/tiling/layout.hpp: split points, the standard layouts, tile
// geometry, global <-> local maps, permutation, validation and the cost model.
// Every expectation is computed independently here: by hand, from the split points
// alone, or by brute force over every element.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tiling/box.hpp"
#include "tiling/layout.hpp"

namespace spartanxx::tiling {
namespace {

using Splits = std::vector<std::vector<index_t>>;

// ---------------------------------------------------------------------------------
// Independent helpers
// ---------------------------------------------------------------------------------

void for_each_index(const Shape& lo, const Shape& hi, const std::function<void(const std::vector<index_t>&)>& f) {
  const int n = static_cast<int>(lo.size());
  for (int a = 0; a < n; ++a)
    if (hi[a] <= lo[a]) return;
  std::vector<index_t> g = lo;
  while (true) {
    f(g);
    int a = n - 1;
    while (a >= 0 && ++g[a] == hi[a]) g[a] = lo[a], --a;
    if (a < 0) return;
  }
}

void for_each_index(const Shape& shape, const std::function<void(const std::vector<index_t>&)>& f) {
  for_each_index(Shape(shape.size(), 0), shape, f);
}

// Tile grid extents, from the split points only.
std::vector<int> grid_of(const Layout& l) {
  std::vector<int> g;
  for (int a = 0; a < l.ndim(); ++a) g.push_back(static_cast<int>(l.splits(a).size()) - 1);
  return g;
}

// Row-major tile coordinates of tile t.
std::vector<int> my_coords(const Layout& l, int t) {
  const auto g = grid_of(l);
  std::vector<int> c(g.size());
  for (int a = static_cast<int>(g.size()) - 1; a >= 0; --a) {
    c[a] = t % g[a];
    t /= g[a];
  }
  return c;
}

int my_tile_id(const Layout& l, const std::vector<int>& c) {
  const auto g = grid_of(l);
  int t = 0;
  for (std::size_t a = 0; a < g.size(); ++a) t = t * g[a] + c[a];
  return t;
}

Box my_tile_box(const Layout& l, int t) {
  const auto c = my_coords(l, t);
  Box b{std::vector<index_t>(c.size()), std::vector<index_t>(c.size())};
  for (std::size_t a = 0; a < c.size(); ++a) {
    b.lo[a] = l.splits(static_cast<int>(a))[c[a]];
    b.hi[a] = l.splits(static_cast<int>(a))[c[a] + 1];
  }
  return b;
}

bool inside(const Box& b, const std::vector<index_t>& g) {
  for (std::size_t a = 0; a < g.size(); ++a)
    if (g[a] < b.lo[a] || g[a] >= b.hi[a]) return false;
  return true;
}

bool overlaps(const Box& a, const Box& b) {
  for (std::size_t i = 0; i < a.lo.size(); ++i)
    if (std::max(a.lo[i], b.lo[i]) >= std::min(a.hi[i], b.hi[i])) return false;
  return true;
}

// The (unique, non-empty) tile that holds global index g, found by scanning all tiles.
int my_tile_of(const Layout& l, const std::vector<index_t>& g) {
  int found = -1;
  for (int t = 0; t < static_cast<int>(l.owners().size()); ++t)
    if (inside(my_tile_box(l, t), g)) {
      EXPECT_EQ(found, -1) << "two tiles hold one element";
      found = t;
    }
  return found;
}

bool rank_holds_index(const Layout& l, int rank, const std::vector<index_t>& g) {
  const int o = l.owners()[my_tile_of(l, g)];
  return o == rank || o == kReplicated;
}

// Bytes that must cross the network so that every rank holds what `to` says it holds:
// one element for every (element, destination rank) pair where the rank holds the
// element under `to` but not under `from`.
std::int64_t brute_bytes_to_move(const Layout& from, const Layout& to, int nranks, std::int64_t es) {
  std::int64_t n = 0;
  for_each_index(from.shape(), [&](const std::vector<index_t>& g) {
    for (int r = 0; r < nranks; ++r)
      if (rank_holds_index(to, r, g) && !rank_holds_index(from, r, g)) ++n;
  });
  return n * es;
}

std::int64_t brute_bytes_to_gather(const Layout& from, const Needs& needs, std::int64_t es) {
  std::int64_t n = 0;
  for (int r = 0; r < static_cast<int>(needs.size()); ++r)
    for (const Box& b : needs[r])
      for_each_index(b.lo, b.hi, [&](const std::vector<index_t>& g) { n += !rank_holds_index(from, r, g); });
  return n * es;
}

std::vector<Box> all_boxes(const Shape& shape) {
  std::vector<Box> out{Box{std::vector<index_t>(shape.size()), std::vector<index_t>(shape.size())}};
  for (std::size_t a = 0; a < shape.size(); ++a) {
    std::vector<Box> next;
    for (const Box& b : out)
      for (index_t lo = 0; lo <= shape[a]; ++lo)
        for (index_t hi = lo; hi <= shape[a]; ++hi) {
          Box c = b;
          c.lo[a] = lo;
          c.hi[a] = hi;
          next.push_back(c);
        }
    out = std::move(next);
  }
  return out;
}

int max_owner(const Layout& l) {
  int m = 0;
  for (int o : l.owners()) m = std::max(m, o);
  return m;
}

// A varied set of layouts: uneven blocks, empty tiles, 0-d, 1-d, 3-d, replicated
// tiles mixed with owned ones, owners out of tile order.
std::vector<Layout> sample_layouts() {
  return {
      Layout::rows({7, 5}, 3),
      Layout::rows({7, 5}, 1),
      Layout::rows({2, 3}, 5),
      Layout::cols({5, 7}, 3),
      Layout::cols({3, 2}, 4),
      Layout::grid({7, 5}, 2, 3),
      Layout::grid({7, 5}, 3, 1),
      Layout::grid({1, 1}, 2, 2),
      Layout::replicated({7, 5}),
      Layout::replicated({}),
      Layout::rows({}, 4),
      Layout::rows({13}, 4),
      Layout::rows({1}, 4),
      Layout::rows({0, 3}, 3),
      Layout::rows({3, 0}, 2),
      Layout::blocks({4, 3, 5}, 1, 2),
      Layout::blocks({4, 3, 5}, 2, 3),
      Layout({6, 5, 4}, Splits{{0, 2, 2, 6}, {0, 5}, {0, 1, 3, 4}}, {2, kReplicated, 0, 1, 1, 2, kReplicated, 0, 3}),
      Layout({7, 5}, Splits{{0, 0, 3, 7, 7}, {0, 2, 2, 5}}, {0, 1, 2, 3, 2, 1, 0, kReplicated, 1, 1, 1, 1}),
  };
}

// ---------------------------------------------------------------------------------
// even_splits
// ---------------------------------------------------------------------------------

TEST(LayoutEvenSplits, Examples) {
  EXPECT_EQ(even_splits(10, 3), (std::vector<index_t>{0, 4, 7, 10}));
  EXPECT_EQ(even_splits(12, 3), (std::vector<index_t>{0, 4, 8, 12}));
  EXPECT_EQ(even_splits(7, 1), (std::vector<index_t>{0, 7}));
  EXPECT_EQ(even_splits(2, 4), (std::vector<index_t>{0, 1, 2, 2, 2}));  // trailing empty blocks
  EXPECT_EQ(even_splits(0, 3), (std::vector<index_t>{0, 0, 0, 0}));
  EXPECT_EQ(even_splits(0, 1), (std::vector<index_t>{0, 0}));
}

TEST(LayoutEvenSplits, Properties) {
  for (index_t n = 0; n <= 25; ++n)
    for (int parts = 1; parts <= 8; ++parts) {
      const auto s = even_splits(n, parts);
      ASSERT_EQ(s.size(), static_cast<std::size_t>(parts) + 1);
      EXPECT_EQ(s.front(), 0);
      EXPECT_EQ(s.back(), n);
      for (int i = 0; i < parts; ++i) {
        // the first n % parts blocks have one more element
        const index_t want = n / parts + (i < n % parts ? 1 : 0);
        EXPECT_EQ(s[i + 1] - s[i], want) << "n=" << n << " parts=" << parts << " block " << i;
      }
    }
}

TEST(LayoutEvenSplits, RejectsNoParts) {
  EXPECT_THROW(even_splits(5, 0), std::invalid_argument);
  EXPECT_THROW(even_splits(5, -1), std::invalid_argument);
}

// ---------------------------------------------------------------------------------
// The standard layouts
// ---------------------------------------------------------------------------------

TEST(LayoutRows, UnevenMatrix) {
  const Layout l = Layout::rows({7, 5}, 3);
  EXPECT_EQ(l.shape(), (Shape{7, 5}));
  EXPECT_EQ(l.ndim(), 2);
  EXPECT_EQ(l.splits(0), (std::vector<index_t>{0, 3, 5, 7}));
  EXPECT_EQ(l.splits(1), (std::vector<index_t>{0, 5}));
  EXPECT_EQ(l.tiles_along(0), 3);
  EXPECT_EQ(l.tiles_along(1), 1);
  EXPECT_EQ(l.num_tiles(), 3);
  EXPECT_EQ(l.owners(), (std::vector<int>{0, 1, 2}));
  EXPECT_FALSE(l.is_replicated());
  EXPECT_EQ(l.tile_box(0), (Box{{0, 0}, {3, 5}}));
  EXPECT_EQ(l.tile_box(1), (Box{{3, 0}, {5, 5}}));
  EXPECT_EQ(l.tile_box(2), (Box{{5, 0}, {7, 5}}));
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(l.tiles_of(r), std::vector<int>{r});
    for (int t = 0; t < 3; ++t) EXPECT_EQ(l.holds(r, t), r == t);
  }
  EXPECT_TRUE(l.tiles_of(3).empty());
}

TEST(LayoutRows, OneDimensional) {
  const Layout l = Layout::rows({13}, 4);
  EXPECT_EQ(l.splits(0), (std::vector<index_t>{0, 4, 7, 10, 13}));
  EXPECT_EQ(l.tile_box(3), (Box{{10}, {13}}));
}

TEST(LayoutRows, ThreeDimensionalKeepsOtherAxesWhole) {
  const Layout l = Layout::rows({4, 3, 5}, 3);
  EXPECT_EQ(l.splits(0), (std::vector<index_t>{0, 2, 3, 4}));
  EXPECT_EQ(l.splits(1), (std::vector<index_t>{0, 3}));
  EXPECT_EQ(l.splits(2), (std::vector<index_t>{0, 5}));
  EXPECT_EQ(l.tile_box(1), (Box{{2, 0, 0}, {3, 3, 5}}));
}

TEST(LayoutRows, MoreRanksThanRows) {
  const Layout l = Layout::rows({2, 3}, 5);
  EXPECT_EQ(l.num_tiles(), 5);
  EXPECT_EQ(l.owners(), (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(l.tile_box(0), (Box{{0, 0}, {1, 3}}));
  EXPECT_EQ(l.tile_box(1), (Box{{1, 0}, {2, 3}}));
  for (int t = 2; t < 5; ++t) EXPECT_TRUE(l.tile_box(t).empty()) << t;
  EXPECT_EQ(l.global_to_local({1, 2}), (std::pair<int, index_t>{1, 2}));
  EXPECT_EQ(l.tiles_intersecting(Box::whole({2, 3})), (std::vector<int>{0, 1}));
}

TEST(LayoutRows, ZeroDimensionalIsReplicated) {
  const Layout l = Layout::rows({}, 4);
  EXPECT_EQ(l.ndim(), 0);
  EXPECT_EQ(l.num_tiles(), 1);
  EXPECT_TRUE(l.is_replicated());
  EXPECT_EQ(l, Layout::replicated({}));
  EXPECT_EQ(l.tile_box(0).volume(), 1);
  for (int r = 0; r < 4; ++r) EXPECT_EQ(l.tiles_of(r), std::vector<int>{0});
  EXPECT_EQ(l.global_to_local({}), (std::pair<int, index_t>{0, 0}));
  EXPECT_TRUE(l.local_to_global(0, 0).empty());
  EXPECT_EQ(l.tiles_intersecting(Box::whole({})), std::vector<int>{0});
  EXPECT_EQ(l.tile_coords(0), std::vector<int>{});
  EXPECT_EQ(l.tile_id({}), 0);
}

TEST(LayoutRows, EmptyArray) {
  const Layout l = Layout::rows({0, 3}, 3);
  EXPECT_EQ(l.num_tiles(), 3);
  for (int t = 0; t < 3; ++t) EXPECT_EQ(l.tile_box(t).volume(), 0);
  EXPECT_TRUE(l.tiles_intersecting(Box::whole({0, 3})).empty());
  EXPECT_EQ(bytes_to_move(l, Layout::replicated({0, 3}), 3, 8), 0);
  EXPECT_EQ(bytes_to_move(l, Layout::cols({0, 3}, 3), 3, 8), 0);

  const Layout z = Layout::rows({3, 0}, 2);
  EXPECT_EQ(z.splits(0), (std::vector<index_t>{0, 2, 3}));
  for (int t = 0; t < 2; ++t) EXPECT_EQ(z.tile_box(t).volume(), 0);
  EXPECT_EQ(bytes_to_move(z, Layout::replicated({3, 0}), 2, 8), 0);
}

TEST(LayoutRows, OneElement) {
  const Layout l = Layout::rows({1}, 4);
  EXPECT_EQ(l.splits(0), (std::vector<index_t>{0, 1, 1, 1, 1}));
  EXPECT_EQ(l.global_to_local({0}), (std::pair<int, index_t>{0, 0}));
  EXPECT_EQ(l.tiles_intersecting(Box::whole({1})), std::vector<int>{0});
  EXPECT_EQ(l.local_to_global(0, 0), std::vector<index_t>{0});

  const Layout g = Layout::grid({1, 1}, 2, 2);
  EXPECT_EQ(g.num_tiles(), 4);
  EXPECT_EQ(g.global_to_local({0, 0}), (std::pair<int, index_t>{0, 0}));
  EXPECT_EQ(g.tiles_intersecting(Box::whole({1, 1})), std::vector<int>{0});
}

TEST(LayoutCols, UnevenMatrix) {
  const Layout l = Layout::cols({5, 7}, 3);
  EXPECT_EQ(l.splits(0), (std::vector<index_t>{0, 5}));
  EXPECT_EQ(l.splits(1), (std::vector<index_t>{0, 3, 5, 7}));
  EXPECT_EQ(l.owners(), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(l.tile_box(1), (Box{{0, 3}, {5, 5}}));
  EXPECT_EQ(l.tiles_of(2), std::vector<int>{2});
}

TEST(LayoutGrid, OwnersRowMajorOverProcessGrid) {
  const Layout l = Layout::grid({7, 5}, 2, 3);
  EXPECT_EQ(l.splits(0), (std::vector<index_t>{0, 4, 7}));
  EXPECT_EQ(l.splits(1), (std::vector<index_t>{0, 2, 4, 5}));
  EXPECT_EQ(l.num_tiles(), 6);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) {
      const int t = l.tile_id({i, j});
      EXPECT_EQ(t, i * 3 + j);
      EXPECT_EQ(l.owner(t), i * 3 + j);
      EXPECT_EQ(l.tiles_of(i * 3 + j), std::vector<int>{t});
    }
  EXPECT_EQ(l.tile_box(l.tile_id({1, 2})), (Box{{4, 4}, {7, 5}}));
  EXPECT_EQ(l.tile_box(l.tile_id({0, 1})), (Box{{0, 2}, {4, 4}}));
}

TEST(LayoutGrid, DegenerateGridsMatchRowsAndCols) {
  EXPECT_EQ(Layout::grid({7, 5}, 3, 1), Layout::rows({7, 5}, 3));
  EXPECT_EQ(Layout::grid({7, 5}, 1, 3), Layout::cols({7, 5}, 3));
}

TEST(LayoutReplicated, OneTileEveryRank) {
  const Layout l = Layout::replicated({7, 5});
  EXPECT_EQ(l.num_tiles(), 1);
  EXPECT_EQ(l.owner(0), kReplicated);
  EXPECT_TRUE(l.is_replicated());
  EXPECT_EQ(l.tile_box(0), Box::whole({7, 5}));
  for (int r = 0; r < 5; ++r) {
    EXPECT_TRUE(l.holds(r, 0));
    EXPECT_EQ(l.tiles_of(r), std::vector<int>{0});
  }
}

TEST(LayoutBlocks, AnyAxis) {
  const Layout l = Layout::blocks({4, 3, 5}, 2, 2);
  EXPECT_EQ(l.splits(0), (std::vector<index_t>{0, 4}));
  EXPECT_EQ(l.splits(1), (std::vector<index_t>{0, 3}));
  EXPECT_EQ(l.splits(2), (std::vector<index_t>{0, 3, 5}));
  EXPECT_EQ(l.owners(), (std::vector<int>{0, 1}));
  EXPECT_EQ(Layout::blocks({7, 5}, 0, 3), Layout::rows({7, 5}, 3));
  EXPECT_EQ(Layout::blocks({7, 5}, 1, 3), Layout::cols({7, 5}, 3));
}

TEST(LayoutBasics, Describe) {
  EXPECT_EQ(Layout::rows({8, 3}, 4).describe(), "rows(4)");
  EXPECT_EQ(Layout::cols({8, 3}, 2).describe(), "cols(2)");
  EXPECT_EQ(Layout::grid({8, 3}, 2, 2).describe(), "grid(2x2)");
  EXPECT_EQ(Layout::replicated({8, 3}).describe(), "replicated");
}

TEST(LayoutBasics, PartiallyReplicatedIsNotReplicated) {
  const Layout l({4}, Splits{{0, 2, 4}}, {kReplicated, 0});
  EXPECT_FALSE(l.is_replicated());
  EXPECT_EQ(l.tiles_of(0), (std::vector<int>{0, 1}));
  EXPECT_EQ(l.tiles_of(1), std::vector<int>{0});
}

// ---------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------

TEST(LayoutConstructor, AcceptsValidSplits) {
  EXPECT_NO_THROW(Layout({7, 5}, Splits{{0, 3, 7}, {0, 5}}, {0, 1}));
  EXPECT_NO_THROW(Layout({7, 5}, Splits{{0, 0, 7, 7}, {0, 5}}, {0, 1, 2}));  // empty blocks
  EXPECT_NO_THROW(Layout({}, Splits{}, {kReplicated}));
  EXPECT_NO_THROW(Layout({0}, Splits{{0, 0}}, {0}));
  const Layout l({6, 4}, Splits{{0, 1, 6}, {0, 2, 3, 4}}, {5, 4, 3, 2, 1, 0});
  EXPECT_EQ(l.num_tiles(), 6);
  EXPECT_EQ(l.owner(0), 5);
  EXPECT_EQ(l.tile_box(4), (Box{{1, 2}, {6, 3}}));
}

TEST(LayoutConstructor, RejectsBadSplitsAndOwners) {
  // wrong number of split lists
  EXPECT_THROW(Layout({7, 5}, Splits{{0, 7}}, {0}), std::invalid_argument);
  EXPECT_THROW(Layout({7}, Splits{{0, 7}, {0, 1}}, {0}), std::invalid_argument);
  // not starting at 0
  EXPECT_THROW(Layout({7}, Splits{{1, 7}}, {0}), std::invalid_argument);
  // not ending at the extent
  EXPECT_THROW(Layout({7}, Splits{{0, 6}}, {0}), std::invalid_argument);
  EXPECT_THROW(Layout({7}, Splits{{0, 3, 8}}, {0, 1}), std::invalid_argument);
  // not monotone
  EXPECT_THROW(Layout({7}, Splits{{0, 5, 3, 7}}, {0, 1, 2}), std::invalid_argument);
  // a split list with one point covers nothing
  EXPECT_THROW(Layout({0}, Splits{{0}}, {}), std::invalid_argument);
  EXPECT_THROW(Layout({7}, Splits{{}}, {}), std::invalid_argument);
  // owner count must equal the tile count
  EXPECT_THROW(Layout({7, 5}, Splits{{0, 3, 7}, {0, 2, 5}}, {0, 1, 2}), std::invalid_argument);
  EXPECT_THROW(Layout({7, 5}, Splits{{0, 3, 7}, {0, 2, 5}}, {0, 1, 2, 3, 0}), std::invalid_argument);
  EXPECT_THROW(Layout({}, Splits{}, {}), std::invalid_argument);
}

// ---------------------------------------------------------------------------------
// Tile geometry against brute force
// ---------------------------------------------------------------------------------

TEST(LayoutTiles, CoordsAndIdRoundTrip) {
  for (const Layout& l : sample_layouts()) {
    SCOPED_TRACE(to_string(l.shape()) + " " + l.describe());
    const auto g = grid_of(l);
    int expected_tiles = 1;
    for (int n : g) expected_tiles *= n;
    EXPECT_EQ(l.num_tiles(), expected_tiles);
    for (int t = 0; t < l.num_tiles(); ++t) {
      const auto c = l.tile_coords(t);
      EXPECT_EQ(c, my_coords(l, t));
      EXPECT_EQ(l.tile_id(c), t);
      EXPECT_EQ(my_tile_id(l, c), t);
    }
  }
}

TEST(LayoutTiles, BoxesPartitionTheArray) {
  for (const Layout& l : sample_layouts()) {
    SCOPED_TRACE(to_string(l.shape()) + " " + l.describe());
    index_t total = 0;
    for (int t = 0; t < l.num_tiles(); ++t) {
      EXPECT_EQ(l.tile_box(t), my_tile_box(l, t)) << "tile " << t;
      total += l.tile_box(t).volume();
    }
    EXPECT_EQ(total, volume(l.shape()));
    // every element lies in exactly one tile (my_tile_of checks "exactly")
    for_each_index(l.shape(), [&](const std::vector<index_t>& g) { EXPECT_GE(my_tile_of(l, g), 0); });
  }
}

TEST(LayoutTiles, TilesOfBruteForce) {
  for (const Layout& l : sample_layouts()) {
    SCOPED_TRACE(to_string(l.shape()) + " " + l.describe());
    for (int r = 0; r <= max_owner(l) + 2; ++r) {
      std::vector<int> want;
      for (int t = 0; t < l.num_tiles(); ++t)
        if (l.owners()[t] == r || l.owners()[t] == kReplicated) want.push_back(t);
      EXPECT_EQ(l.tiles_of(r), want) << "rank " << r;
      for (int t = 0; t < l.num_tiles(); ++t)
        EXPECT_EQ(l.holds(r, t), std::find(want.begin(), want.end(), t) != want.end());
    }
  }
}

TEST(LayoutTiles, TilesIntersectingBruteForce) {
  for (const Layout& l : sample_layouts()) {
    SCOPED_TRACE(to_string(l.shape()) + " " + l.describe());
    for (const Box& box : all_boxes(l.shape())) {
      std::vector<int> want;
      if (box.volume() > 0)
        for (int t = 0; t < l.num_tiles(); ++t)
          if (overlaps(box, my_tile_box(l, t))) want.push_back(t);
      ASSERT_EQ(l.tiles_intersecting(box), want) << to_string(box);
    }
  }
}

TEST(LayoutTiles, GlobalToLocalBruteForce) {
  for (const Layout& l : sample_layouts()) {
    SCOPED_TRACE(to_string(l.shape()) + " " + l.describe());
    for_each_index(l.shape(), [&](const std::vector<index_t>& g) {
      const int t = my_tile_of(l, g);
      const Box b = my_tile_box(l, t);
      index_t off = 0;  // C-order offset inside the tile, by hand
      for (std::size_t a = 0; a < g.size(); ++a) off = off * (b.hi[a] - b.lo[a]) + (g[a] - b.lo[a]);
      const auto got = l.global_to_local(g);
      EXPECT_EQ(got.first, t);
      EXPECT_EQ(got.second, off);
      EXPECT_EQ(l.local_to_global(got.first, got.second), g);
    });
  }
}

TEST(LayoutTiles, LocalToGlobalRoundTripEveryOffset) {
  for (const Layout& l : sample_layouts()) {
    SCOPED_TRACE(to_string(l.shape()) + " " + l.describe());
    for (int t = 0; t < l.num_tiles(); ++t) {
      const Box b = my_tile_box(l, t);
      index_t off = 0;
      // walking the tile's box in C order visits offsets 0, 1, 2, ...
      for_each_index(b.lo, b.hi, [&](const std::vector<index_t>& g) {
        EXPECT_EQ(l.local_to_global(t, off), g) << "tile " << t << " offset " << off;
        EXPECT_EQ(l.global_to_local(l.local_to_global(t, off)), (std::pair<int, index_t>{t, off}));
        ++off;
      });
      EXPECT_EQ(off, b.volume());
    }
  }
}

TEST(LayoutTiles, GlobalToLocalOutOfRange) {
  const Layout l = Layout::rows({7, 5}, 3);
  EXPECT_THROW(l.global_to_local({7, 0}), std::out_of_range);
  EXPECT_THROW(l.global_to_local({-1, 0}), std::out_of_range);
  EXPECT_THROW(l.global_to_local({0, 5}), std::out_of_range);
  EXPECT_THROW(Layout::rows({0, 3}, 2).global_to_local({0, 0}), std::out_of_range);
}

// ---------------------------------------------------------------------------------
// permuted()
// ---------------------------------------------------------------------------------

TEST(LayoutPermuted, TransposeOfRowsIsCols) {
  EXPECT_EQ(Layout::rows({7, 5}, 3).permuted({1, 0}), Layout::cols({5, 7}, 3));
  EXPECT_EQ(Layout::cols({7, 5}, 4).permuted({1, 0}), Layout::rows({5, 7}, 4));
  EXPECT_EQ(Layout::replicated({7, 5}).permuted({1, 0}), Layout::replicated({5, 7}));
  EXPECT_EQ(Layout::rows({7, 5}, 3).permuted({0, 1}), Layout::rows({7, 5}, 3));
}

TEST(LayoutPermuted, SameOwnerForEveryElement) {
  // For every axis permutation of several layouts, element g of the input and element
  // g' (g'[i] = g[perm[i]]) of the output must live on the same rank(s).
  const std::vector<Layout> layouts = {
      Layout::grid({7, 5}, 2, 3),
      Layout({7, 5}, Splits{{0, 0, 3, 7, 7}, {0, 2, 2, 5}}, {0, 1, 2, 3, 2, 1, 0, kReplicated, 1, 1, 1, 1}),
      Layout({6, 5, 4}, Splits{{0, 2, 2, 6}, {0, 2, 5}, {0, 1, 3, 4}},
             {2, kReplicated, 0, 1, 1, 2, kReplicated, 0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}),
      Layout::blocks({4, 3, 5}, 2, 3),
  };
  for (const Layout& l : layouts) {
    std::vector<int> perm(l.ndim());
    std::iota(perm.begin(), perm.end(), 0);
    do {
      const Layout p = l.permuted(perm);
      SCOPED_TRACE(to_string(l.shape()) + " perm " + std::to_string(perm[0]) + std::to_string(perm[1]));
      ASSERT_EQ(p.ndim(), l.ndim());
      for (int i = 0; i < l.ndim(); ++i) {
        EXPECT_EQ(p.shape()[i], l.shape()[perm[i]]);
        EXPECT_EQ(p.splits(i), l.splits(perm[i]));
      }
      for_each_index(l.shape(), [&](const std::vector<index_t>& g) {
        std::vector<index_t> q(g.size());
        for (int i = 0; i < l.ndim(); ++i) q[i] = g[perm[i]];
        EXPECT_EQ(l.owners()[my_tile_of(l, g)], p.owners()[my_tile_of(p, q)]);
      });
    } while (std::next_permutation(perm.begin(), perm.end()));
  }
}

// ---------------------------------------------------------------------------------
// Cost model
// ---------------------------------------------------------------------------------

TEST(LayoutCost, NeedsOf) {
  const Layout l = Layout::rows({7, 5}, 3);
  const Needs n = needs_of(l, 3);
  ASSERT_EQ(n.size(), 3u);
  for (int r = 0; r < 3; ++r) EXPECT_EQ(n[r], std::vector<Box>{my_tile_box(l, r)});
  const Needs rep = needs_of(Layout::replicated({7, 5}), 4);
  ASSERT_EQ(rep.size(), 4u);
  for (int r = 0; r < 4; ++r) EXPECT_EQ(rep[r], std::vector<Box>{Box::whole({7, 5})});
}

TEST(LayoutCost, RowsToRowsIsFree) {
  for (const Shape& s : {Shape{7, 5}, Shape{1, 9}, Shape{0, 3}, Shape{13}, Shape{4, 3, 5}, Shape{}})
    for (int p = 1; p <= 6; ++p) {
      EXPECT_EQ(bytes_to_move(Layout::rows(s, p), Layout::rows(s, p), p, 8), 0) << to_string(s) << " P=" << p;
      EXPECT_EQ(bytes_to_move(Layout::replicated(s), Layout::replicated(s), p, 8), 0);
    }
  for (const Layout& l : sample_layouts())
    EXPECT_EQ(bytes_to_move(l, l, max_owner(l) + 1, 8), 0) << to_string(l.shape()) << " " << l.describe();
}

TEST(LayoutCost, RowsToReplicated) {
  for (index_t n : {1, 2, 7, 10})
    for (index_t m : {1, 5})
      for (int p = 1; p <= 6; ++p) {
        const Layout rows = Layout::rows({n, m}, p), rep = Layout::replicated({n, m});
        EXPECT_EQ(bytes_to_move(rows, rep, p, 8), (p - 1) * n * m * 8) << n << "x" << m << " P=" << p;
        EXPECT_EQ(bytes_to_move(rows, rep, p, 4), (p - 1) * n * m * 4);
      }
}

TEST(LayoutCost, ReplicatedToAnythingIsFree) {
  for (int p = 1; p <= 5; ++p) {
    const Shape s{7, 5};
    const Layout rep = Layout::replicated(s);
    for (const Layout& to : {Layout::rows(s, p), Layout::cols(s, p), Layout::grid(s, p, 1), Layout::grid(s, 1, p),
                             Layout::replicated(s)})
      EXPECT_EQ(bytes_to_move(rep, to, p, 8), 0) << to.describe();
  }
  EXPECT_EQ(bytes_to_move(Layout::replicated({4, 3, 5}), Layout::blocks({4, 3, 5}, 2, 3), 3, 8), 0);
}

TEST(LayoutCost, RowsToColsBruteForce) {
  // Every element whose source owner differs from its destination owner moves once.
  for (const Shape& s : {Shape{7, 5}, Shape{1, 9}, Shape{0, 3}, Shape{6, 6}, Shape{2, 11}})
    for (int p = 1; p <= 5; ++p) {
      const Layout rows = Layout::rows(s, p), cols = Layout::cols(s, p);
      std::int64_t n = 0;
      for_each_index(s, [&](const std::vector<index_t>& g) {
        n += rows.owners()[my_tile_of(rows, g)] != cols.owners()[my_tile_of(cols, g)];
      });
      EXPECT_EQ(bytes_to_move(rows, cols, p, 8), n * 8) << to_string(s) << " P=" << p;
      EXPECT_EQ(bytes_to_move(cols, rows, p, 8), n * 8) << to_string(s) << " P=" << p;
    }
}

TEST(LayoutCost, AllPairsBruteForce) {
  for (const Shape& s : {Shape{7, 5}, Shape{1, 9}, Shape{0, 3}, Shape{3, 2}})
    for (int p = 1; p <= 5; ++p) {
      std::vector<Layout> ls = {Layout::rows(s, p), Layout::cols(s, p), Layout::grid(s, p, 1), Layout::grid(s, 1, p),
                                Layout::replicated(s)};
      if (p == 4) ls.push_back(Layout::grid(s, 2, 2));
      // uneven splits, owners out of order, one replicated tile
      ls.push_back(Layout(s, Splits{{0, s[0] / 2, s[0]}, {0, s[1]}}, {p - 1, kReplicated}));
      for (const Layout& from : ls)
        for (const Layout& to : ls)
          for (std::size_t es : {1u, 4u, 8u})
            EXPECT_EQ(bytes_to_move(from, to, p, es), brute_bytes_to_move(from, to, p, static_cast<std::int64_t>(es)))
                << to_string(s) << " P=" << p << " " << from.describe() << " -> " << to.describe();
    }
}

TEST(LayoutCost, ThreeDimensionalBruteForce) {
  const Shape s{4, 3, 5};
  for (int p = 1; p <= 4; ++p) {
    const std::vector<Layout> ls = {Layout::blocks(s, 0, p), Layout::blocks(s, 1, p), Layout::blocks(s, 2, p),
                                    Layout::replicated(s)};
    for (const Layout& from : ls)
      for (const Layout& to : ls)
        EXPECT_EQ(bytes_to_move(from, to, p, 8), brute_bytes_to_move(from, to, p, 8)) << from.describe() << " -> "
                                                                                       << to.describe();
  }
}

TEST(LayoutCost, BytesToGatherHandMade) {
  // rank 0 holds rows 0..2, rank 1 rows 3..5 of a 6x4 array.
  const Layout from = Layout::rows({6, 4}, 2);
  Needs needs(2);
  needs[0] = {Box{{2, 1}, {5, 3}}};                    // lacks rows 3,4 x cols 1,2: 4 elements
  needs[1] = {Box{{0, 0}, {6, 4}}, Box{{4, 0}, {6, 4}}};  // lacks rows 0..2: 12 elements; holds the second
  EXPECT_EQ(bytes_to_gather(from, needs, 8), (4 + 12) * 8);
  EXPECT_EQ(bytes_to_gather(from, needs, 1), 4 + 12);
  EXPECT_EQ(bytes_to_gather(from, needs, 8), brute_bytes_to_gather(from, needs, 8));

  // Nobody needs anything.
  EXPECT_EQ(bytes_to_gather(from, Needs(2), 8), 0);
  EXPECT_EQ(bytes_to_gather(from, Needs{}, 8), 0);
  // Empty boxes cost nothing.
  EXPECT_EQ(bytes_to_gather(from, Needs{{Box{{4, 1}, {4, 3}}}, {Box{{0, 2}, {3, 2}}}}, 8), 0);
  // Only what a rank holds.
  EXPECT_EQ(bytes_to_gather(from, Needs{{Box{{0, 0}, {3, 4}}}, {Box{{3, 0}, {6, 4}}}}, 8), 0);
  // A third rank that holds nothing pays for every element it asks for.
  EXPECT_EQ(bytes_to_gather(from, Needs{{}, {}, {Box{{1, 1}, {4, 4}}}}, 8), 9 * 8);
  // From a replicated layout everything is local.
  EXPECT_EQ(bytes_to_gather(Layout::replicated({6, 4}), needs, 8), 0);
}

TEST(LayoutCost, BytesToGatherBruteForce) {
  const std::vector<Layout> froms = {
      Layout::rows({7, 5}, 3),
      Layout::grid({7, 5}, 2, 2),
      Layout({7, 5}, Splits{{0, 0, 3, 7, 7}, {0, 2, 2, 5}}, {0, 1, 2, 3, 2, 1, 0, kReplicated, 1, 1, 1, 1}),
  };
  const auto boxes = all_boxes({7, 5});
  for (const Layout& from : froms) {
    // rank r asks for a few boxes that depend on r
    for (std::size_t k = 0; k < boxes.size(); k += 37) {
      Needs needs(4);
      for (int r = 0; r < 4; ++r) {
        needs[r].push_back(boxes[(k + 101 * r) % boxes.size()]);
        needs[r].push_back(boxes[(k * 7 + 13 * r) % boxes.size()]);
      }
      ASSERT_EQ(bytes_to_gather(from, needs, 8), brute_bytes_to_gather(from, needs, 8)) << from.describe();
    }
  }
}

// rows_like and the needs of another array beside a layout's tiles, against boxes
// written out by hand.
TEST(LayoutBeside, RowsLikeKeepsRowSplitsAndOwners) {
  const Layout l({10, 4}, {{0, 3, 3, 10}, {0, 4}}, {2, 0, 1});
  const Layout v = rows_like(l, {10});
  EXPECT_EQ(v.splits(0), (std::vector<index_t>{0, 3, 3, 10}));
  EXPECT_EQ(v.owners(), (std::vector<int>{2, 0, 1}));
  const Layout w = rows_like(l, {10, 7, 2});
  EXPECT_EQ(w.splits(1), (std::vector<index_t>{0, 7}));
  EXPECT_EQ(w.splits(2), (std::vector<index_t>{0, 2}));
  EXPECT_EQ(w.tile_box(2), (Box{{3, 0, 0}, {10, 7, 2}}));
  EXPECT_TRUE(rows_like(Layout::replicated({10, 4}), {10}).is_replicated());
}

TEST(LayoutBeside, NeedsOfAnotherArray) {
  // Rank 0 holds rows [0, 3) and [8, 10), rank 1 nothing, rank 2 rows [3, 8).
  const Layout l({10, 6}, {{0, 3, 8, 10}, {0, 6}}, {0, 2, 0});
  const Needs whole = whole_for_holders(l, {6, 2}, 3);
  EXPECT_EQ(whole[0], (std::vector<Box>{Box::whole({6, 2})}));
  EXPECT_TRUE(whole[1].empty());
  EXPECT_EQ(whole[2], (std::vector<Box>{Box::whole({6, 2})}));
  const Needs rows = rows_for_tiles(l, {10, 2}, 3);
  EXPECT_EQ(rows[0], (std::vector<Box>{Box{{0, 0}, {3, 2}}, Box{{8, 0}, {10, 2}}}));
  EXPECT_TRUE(rows[1].empty());
  EXPECT_EQ(rows[2], (std::vector<Box>{Box{{3, 0}, {8, 2}}}));
  const Needs vec = rows_for_tiles(l, {10}, 3);
  EXPECT_EQ(vec[2], (std::vector<Box>{Box{{3}, {8}}}));
  // What multiplies each tile from the left: columns [r0, r1) of a (5, 10) matrix.
  const Needs cols = columns_for_tiles(l, {5, 10}, 3);
  EXPECT_EQ(cols[0], (std::vector<Box>{Box{{0, 0}, {5, 3}}, Box{{0, 8}, {5, 10}}}));
  EXPECT_EQ(cols[2], (std::vector<Box>{Box{{0, 3}, {5, 8}}}));
  // A replicated layout: every rank holds the tile.
  const Needs all = whole_for_holders(Layout::replicated({10, 6}), {4}, 2);
  EXPECT_EQ(all[0].size(), 1u);
  EXPECT_EQ(all[1].size(), 1u);
}

}  // namespace
}  // namespace spartanxx::tiling
