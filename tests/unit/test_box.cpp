// Serial tests of src/tiling/box.hpp: shapes, boxes, intersection, C-order offsets.
// Expected values come from hand computation or brute force over every index.
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "tiling/box.hpp"

namespace spartanxx::tiling {
namespace {

// Calls f(index) for every index of `box`, in C order.
void for_each_index(const Box& box, const std::function<void(const std::vector<index_t>&)>& f) {
  const int n = static_cast<int>(box.lo.size());
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

bool inside(const Box& box, const std::vector<index_t>& g) {
  for (std::size_t a = 0; a < g.size(); ++a)
    if (g[a] < box.lo[a] || g[a] >= box.hi[a]) return false;
  return true;
}

// Every box of `shape`'s index space with lo <= hi, including empty ones.
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

TEST(BoxShape, Volume) {
  EXPECT_EQ(volume(Shape{}), 1);  // a 0-d array holds one element
  EXPECT_EQ(volume(Shape{5}), 5);
  EXPECT_EQ(volume(Shape{3, 4}), 12);
  EXPECT_EQ(volume(Shape{2, 3, 4}), 24);
  EXPECT_EQ(volume(Shape{3, 0, 4}), 0);
  EXPECT_EQ(volume(Shape{0}), 0);
  EXPECT_EQ(volume(Shape{1, 1, 1}), 1);
  EXPECT_EQ(volume(Shape{100000, 100000}), index_t{10000000000});  // no 32-bit overflow
}

TEST(BoxShape, ToStringLikeNumPy) {
  EXPECT_EQ(to_string(Shape{}), "()");
  EXPECT_EQ(to_string(Shape{5}), "(5,)");
  EXPECT_EQ(to_string(Shape{0}), "(0,)");
  EXPECT_EQ(to_string(Shape{3, 4}), "(3, 4)");
  EXPECT_EQ(to_string(Shape{2, 3, 4}), "(2, 3, 4)");
  EXPECT_EQ(to_string(Shape{0, 3}), "(0, 3)");
}

TEST(BoxShape, RowMajorStrides) {
  EXPECT_EQ(row_major_strides(Shape{}), std::vector<index_t>{});
  EXPECT_EQ(row_major_strides(Shape{5}), (std::vector<index_t>{1}));
  EXPECT_EQ(row_major_strides(Shape{3, 4}), (std::vector<index_t>{4, 1}));
  EXPECT_EQ(row_major_strides(Shape{2, 3, 4}), (std::vector<index_t>{12, 4, 1}));
  // Brute force: the stride of axis a is the distance between C-order neighbours.
  const Shape s{3, 2, 5};
  const auto st = row_major_strides(s);
  index_t linear = 0;
  for_each_index(Box::whole(s), [&](const std::vector<index_t>& g) {
    index_t off = 0;
    for (int a = 0; a < 3; ++a) off += g[a] * st[a];
    EXPECT_EQ(off, linear);
    ++linear;
  });
  EXPECT_EQ(linear, 30);
}

TEST(Box, WholeShapeVolume) {
  const Box b = Box::whole({3, 4});
  EXPECT_EQ(b.lo, (std::vector<index_t>{0, 0}));
  EXPECT_EQ(b.hi, (std::vector<index_t>{3, 4}));
  EXPECT_EQ(b.ndim(), 2);
  EXPECT_EQ(b.extent(0), 3);
  EXPECT_EQ(b.extent(1), 4);
  EXPECT_EQ(b.shape(), (Shape{3, 4}));
  EXPECT_EQ(b.volume(), 12);
  EXPECT_FALSE(b.empty());

  const Box c{{1, 2}, {3, 7}};
  EXPECT_EQ(c.shape(), (Shape{2, 5}));
  EXPECT_EQ(c.volume(), 10);

  const Box e{{2, 2}, {2, 7}};
  EXPECT_EQ(e.volume(), 0);
  EXPECT_TRUE(e.empty());
}

TEST(Box, ZeroDimensional) {
  const Box b = Box::whole({});
  EXPECT_EQ(b.ndim(), 0);
  EXPECT_EQ(b.volume(), 1);
  EXPECT_FALSE(b.empty());
  EXPECT_EQ(b.shape(), Shape{});
  EXPECT_EQ(intersect(b, b).volume(), 1);
  EXPECT_TRUE(b.contains(b));
  EXPECT_EQ(local_offset(b, {}), 0);
}

TEST(Box, EmptyShapeWhole) {
  const Box b = Box::whole({0, 3});
  EXPECT_EQ(b.volume(), 0);
  EXPECT_TRUE(b.empty());
}

TEST(Box, ToString) {
  EXPECT_EQ(to_string(Box{{0, 2}, {3, 5}}), "[0:3, 2:5]");
  EXPECT_EQ(to_string(Box{{4}, {9}}), "[4:9]");
}

TEST(Box, Equality) {
  EXPECT_EQ((Box{{0, 1}, {2, 3}}), (Box{{0, 1}, {2, 3}}));
  EXPECT_NE((Box{{0, 1}, {2, 3}}), (Box{{0, 1}, {2, 4}}));
  EXPECT_NE((Box{{0, 1}, {2, 3}}), (Box{{1, 1}, {2, 3}}));
}

TEST(Box, IntersectOverlapping) {
  const Box a{{0, 2}, {4, 6}};
  const Box b{{2, 0}, {5, 3}};
  const Box r = intersect(a, b);
  EXPECT_EQ(r, (Box{{2, 2}, {4, 3}}));
  EXPECT_EQ(r.volume(), 2);
  EXPECT_EQ(intersect(b, a), r);
  // A box inside another.
  const Box inner{{1, 3}, {2, 5}};
  EXPECT_EQ(intersect(a, inner), inner);
  EXPECT_EQ(intersect(inner, a), inner);
  EXPECT_EQ(intersect(a, a), a);
}

TEST(Box, IntersectDisjointIsEmpty) {
  const Box a{{0, 0}, {2, 2}};
  EXPECT_TRUE(intersect(a, Box{{5, 5}, {7, 7}}).empty());
  EXPECT_TRUE(intersect(a, Box{{0, 5}, {2, 7}}).empty());  // overlapping rows, disjoint columns
  EXPECT_TRUE(intersect(a, Box{{2, 0}, {4, 2}}).empty());  // touching edge: half-open
  EXPECT_TRUE(intersect(Box{{7}, {9}}, Box{{0}, {3}}).empty());
  EXPECT_TRUE(intersect(Box{{0}, {3}}, Box{{7}, {9}}).empty());
  // The result stays a well-formed box (no negative extents).
  const Box r = intersect(Box{{7}, {9}}, Box{{0}, {3}});
  EXPECT_GE(r.hi[0], r.lo[0]);
  EXPECT_EQ(r.volume(), 0);
}

TEST(Box, IntersectBruteForce) {
  // Every pair of boxes of a small 2-d space (and a 1-d one): a point is in the
  // intersection exactly when it is in both.
  for (const Shape& s : {Shape{4}, Shape{3, 3}}) {
    const auto boxes = all_boxes(s);
    for (const Box& a : boxes)
      for (const Box& b : boxes) {
        const Box r = intersect(a, b);
        index_t both = 0;
        for_each_index(Box::whole(s), [&](const std::vector<index_t>& g) {
          const bool in_both = inside(a, g) && inside(b, g);
          both += in_both;
          if (in_both != inside(r, g) && r.volume() > 0) ADD_FAILURE() << to_string(a) << " & " << to_string(b);
        });
        ASSERT_EQ(r.volume(), both) << to_string(a) << " & " << to_string(b) << " -> " << to_string(r);
        ASSERT_EQ(r.empty(), both == 0);
      }
  }
}

TEST(Box, Contains) {
  const Box a{{0, 2}, {4, 6}};
  EXPECT_TRUE(a.contains(a));
  EXPECT_TRUE(a.contains(Box{{1, 3}, {2, 5}}));
  EXPECT_TRUE(a.contains(Box{{0, 2}, {1, 6}}));
  EXPECT_FALSE(a.contains(Box{{0, 2}, {5, 6}}));  // sticks out below
  EXPECT_FALSE(a.contains(Box{{2, 0}, {5, 3}}));  // overlaps only
  EXPECT_FALSE(a.contains(Box{{5, 5}, {6, 6}}));  // disjoint
  EXPECT_FALSE((Box{{1, 3}, {2, 5}}).contains(a));
  // An empty box is contained in anything.
  EXPECT_TRUE(a.contains(Box{{9, 9}, {9, 9}}));
}

TEST(Box, ContainsBruteForce) {
  const Shape s{3, 3};
  const auto boxes = all_boxes(s);
  for (const Box& a : boxes)
    for (const Box& b : boxes) {
      bool all_in = true;
      for_each_index(b, [&](const std::vector<index_t>& g) { all_in = all_in && inside(a, g); });
      ASSERT_EQ(a.contains(b), all_in) << to_string(a) << " contains " << to_string(b);
    }
}

TEST(Box, LocalOffsetIsCOrder) {
  for (const Box& b : {Box{{2, 1}, {5, 4}}, Box{{3}, {9}}, Box{{1, 0, 2}, {3, 4, 5}}, Box{{0, 0}, {1, 1}}}) {
    index_t expected = 0;
    for_each_index(b, [&](const std::vector<index_t>& g) {
      EXPECT_EQ(local_offset(b, g), expected) << to_string(b);
      ++expected;
    });
    EXPECT_EQ(expected, b.volume());
  }
}

}  // namespace
}  // namespace spartanxx::tiling
