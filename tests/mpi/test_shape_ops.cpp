// Transpose, reshape, slicing and astype against xtensor views and hand loops over the
// same data on every rank. Every rank makes the same spartanxx calls in the same order.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>
#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xeval.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xslice.hpp>
#include <xtensor/xsort.hpp>
#include <xtensor/xview.hpp>

#include "spartanxx/spartanxx.hpp"

namespace sx = spartanxx;

namespace {

using Dims = std::vector<std::size_t>;
using sx::Range;
constexpr auto none = std::nullopt;

xt::xarray<double> make_random(const Dims& shape, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  xt::xarray<double> x = xt::zeros<double>(shape);
  for (auto& v : x) v = dist(gen);
  return x;
}

// x[i] = i (C order): every element names its own position, so a wrong index is obvious.
xt::xarray<double> iota_data(const Dims& shape) {
  xt::xarray<double> x = xt::zeros<double>(shape);
  double k = 0;
  for (auto& v : x) v = k++;
  return x;
}

std::string dims_str(const Dims& d) {
  std::ostringstream os;
  os << "(";
  for (std::size_t i = 0; i < d.size(); ++i) os << (i ? ", " : "") << d[i];
  os << ")";
  return os.str();
}

std::string range_str(const Range& r) {
  std::ostringstream os;
  if (r.start) os << *r.start;
  os << ":";
  if (r.stop) os << *r.stop;
  os << ":" << r.step;
  return os.str();
}

std::string ranges_str(const std::vector<Range>& rs) {
  std::string s = "[";
  for (std::size_t i = 0; i < rs.size(); ++i) s += (i ? ", " : "") + range_str(rs[i]);
  return s + "]";
}

// A C-order copy of any xtensor expression.
template <class E>
xt::xarray<double> materialize(E&& e) {
  xt::xarray<double> r = e;
  return r;
}

// The same elements in C order with a new shape (one entry may be -1).
xt::xarray<double> reshaped(const xt::xarray<double>& x, std::vector<std::int64_t> shape) {
  std::int64_t known = 1;
  int unknown = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) unknown = static_cast<int>(i);
    else known *= shape[i];
  }
  if (unknown >= 0) shape[unknown] = known == 0 ? 0 : static_cast<std::int64_t>(x.size()) / known;
  const Dims d(shape.begin(), shape.end());
  xt::xarray<double> r = xt::zeros<double>(d);
  std::copy(x.begin(), x.end(), r.begin());  // both row-major: C order
  return r;
}

// NumPy's start:stop:step on an axis of length n (bounds are within [-n, n] here).
std::vector<std::size_t> slice_indices(std::int64_t n, const Range& r) {
  const std::int64_t step = r.step;
  std::int64_t start, stop;
  if (step > 0) {
    start = r.start ? *r.start : 0;
    stop = r.stop ? *r.stop : n;
    if (start < 0) start += n;
    if (stop < 0) stop += n;
    start = std::clamp<std::int64_t>(start, 0, n);
    stop = std::clamp<std::int64_t>(stop, 0, n);
  } else {
    start = r.start ? *r.start : n - 1;
    stop = r.stop ? *r.stop : -1;  // "before the first element"
    if (r.start && start < 0) start += n;
    if (r.stop && stop < 0) stop += n;
    start = std::clamp<std::int64_t>(start, -1, n - 1);
    stop = std::clamp<std::int64_t>(stop, -1, n - 1);
  }
  std::vector<std::size_t> idx;
  for (std::int64_t i = start; step > 0 ? i < stop : i > stop; i += step) idx.push_back(static_cast<std::size_t>(i));
  return idx;
}

// x[ranges] by hand: fewer ranges than axes leave the trailing axes whole.
xt::xarray<double> sliced(const xt::xarray<double>& x, const std::vector<Range>& ranges) {
  const std::size_t nd = x.dimension();
  std::vector<std::vector<std::size_t>> idx(nd);
  Dims out_shape(nd);
  for (std::size_t ax = 0; ax < nd; ++ax) {
    idx[ax] = slice_indices(static_cast<std::int64_t>(x.shape()[ax]), ax < ranges.size() ? ranges[ax] : Range::all());
    out_shape[ax] = idx[ax].size();
  }
  xt::xarray<double> out = xt::zeros<double>(out_shape);
  if (out.size() == 0) return out;
  // Strides of x in elements (row-major).
  std::vector<std::size_t> stride(nd, 1);
  for (std::size_t ax = nd; ax-- > 1;) stride[ax - 1] = stride[ax] * x.shape()[ax];
  std::vector<std::size_t> pos(nd, 0);  // odometer over the output
  for (std::size_t o = 0; o < out.size(); ++o) {
    std::size_t src = 0;
    for (std::size_t ax = 0; ax < nd; ++ax) src += idx[ax][pos[ax]] * stride[ax];
    out.data()[o] = x.data()[src];
    for (std::size_t ax = nd; ax-- > 0;) {
      if (++pos[ax] < out_shape[ax]) break;
      pos[ax] = 0;
    }
  }
  return out;
}

::testing::AssertionResult all_close(const xt::xarray<double>& actual, const xt::xarray<double>& expected,
                                     double rtol = 0) {
  const Dims as(actual.shape().begin(), actual.shape().end());
  const Dims es(expected.shape().begin(), expected.shape().end());
  if (as != es)
    return ::testing::AssertionFailure() << "shape " << dims_str(as) << ", expected " << dims_str(es);
  int bad = 0;
  std::ostringstream os;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double a = actual.data()[i], e = expected.data()[i];
    const bool ok = (std::isnan(a) && std::isnan(e)) || std::abs(a - e) <= rtol * (1.0 + std::abs(e));
    if (!ok && bad++ < 5) os << "\n  flat index " << i << ": got " << a << ", expected " << e;
  }
  if (bad) return ::testing::AssertionFailure() << bad << " of " << expected.size() << " elements differ:" << os.str();
  return ::testing::AssertionSuccess();
}

// Checks shape() (known without evaluation) and the values.
void expect_array(const sx::Array& a, const xt::xarray<double>& expected, double rtol = 0) {
  const Dims got(a.shape().begin(), a.shape().end());
  const Dims want(expected.shape().begin(), expected.shape().end());
  EXPECT_EQ(dims_str(got), dims_str(want)) << "shape()";
  // An exception (thrown alike on every rank) fails this check only.
  try {
    EXPECT_TRUE(all_close(sx::to_xtensor<double>(a), expected, rtol));
  } catch (const std::exception& e) {
    ADD_FAILURE() << "evaluating an array of shape " << dims_str(got) << " threw: " << e.what();
  }
}

// Slices of one axis of length n worth trying: every bound within [-n, n].
std::vector<Range> ranges_for(std::int64_t n) {
  std::vector<Range> r = {
      Range::all(),
      Range{none, none, -1},
      Range{0, 1},
      Range{-1, none},
      Range{0, n, n + 5},       // step larger than the axis: one element
      Range{none, none, -(n + 5)},
      Range{n, n},              // empty at the end
      Range{0, 0},
      Range{-n, n},
  };
  if (n >= 3) {
    const std::vector<Range> more = {
        Range{1, n - 1},
        Range{0, n, 2},
        Range{1, none, 3},
        Range{n - 2, 0, -1},
        Range{none, none, -2},
        Range{-1, none, -3},
        Range{-3, none},
        Range{none, -1},
        Range{-n, -1, 2},
        Range{3, 3},               // empty
        Range{2, 1},               // empty: positive step going down
        Range{1, 2, -1},           // empty: negative step going up
        Range{none, 1, -1},        // from the end down to (not including) 1
        Range{-2, -n, -1},
        Range{1, none, n - 1},
    };
    r.insert(r.end(), more.begin(), more.end());
  }
  return r;
}

}  // namespace

// =================================================================================

TEST(ShapeOps, ReferenceSlicesAgreeWithXtensorViews) {
  // The hand-written reference matches xt::view with xt::range on a few cases, so that
  // the tests below compare against NumPy's semantics and not a private reading of them.
  using namespace xt::placeholders;
  const auto x = iota_data({13, 7});
  EXPECT_TRUE(all_close(sliced(x, {Range{1, 12, 2}, Range{none, none, -1}}),
                        materialize(xt::view(x, xt::range(1, 12, 2), xt::range(_, _, -1)))));
  EXPECT_TRUE(all_close(sliced(x, {Range{-4, none}, Range{2, 5}}),
                        materialize(xt::view(x, xt::range(-4, _), xt::range(2, 5)))));
  EXPECT_TRUE(all_close(sliced(x, {Range{10, 2, -3}}), materialize(xt::view(x, xt::range(10, 2, -3), xt::all()))));
  EXPECT_TRUE(all_close(sliced(x, {Range::all(), Range{none, none, -2}}),
                        materialize(xt::view(x, xt::all(), xt::range(_, _, -2)))));
  const auto y = iota_data({3, 4, 5});
  EXPECT_TRUE(all_close(sliced(y, {Range{none, none, -1}, Range{1, 4, 2}, Range{-2, 0, -1}}),
                        materialize(xt::view(y, xt::range(_, _, -1), xt::range(1, 4, 2), xt::range(-2, 0, -1)))));
}

TEST(ShapeOps, TransposeTwoD) {
  const std::vector<Dims> shapes = {{7, 5}, {13, 3}, {1, 9}, {5, 1}, {1, 1}, {0, 3}, {3, 0}};
  unsigned seed = 1;
  for (const auto& s : shapes) {
    SCOPED_TRACE(dims_str(s));
    const auto x = make_random(s, seed++);
    const sx::Array a = sx::from_xtensor(x);
    const xt::xarray<double> xt_t = xt::transpose(x);
    expect_array(a.T(), xt_t);
    expect_array(a.transpose({1, 0}), xt_t);
    expect_array(a.transpose({0, 1}), x);
    expect_array(a.T().T(), x);
    // Against Eigen as well: to_eigen of the transpose is the transposed matrix.
    Eigen::MatrixXd m(s[0], s[1]);
    for (std::size_t i = 0; i < s[0]; ++i)
      for (std::size_t j = 0; j < s[1]; ++j) m(i, j) = x(i, j);
    const Eigen::MatrixXd mt = sx::to_eigen(a.T());
    EXPECT_EQ(mt.rows(), m.cols());
    EXPECT_EQ(mt.cols(), m.rows());
    if (mt.rows() == m.cols() && mt.cols() == m.rows()) {
      EXPECT_TRUE(mt == m.transpose());
    }
  }
  // T() of a 1-d array is the array.
  const auto v = make_random({13}, 99);
  expect_array(sx::from_xtensor(v).T(), v);
  // T() keeps the dtype.
  EXPECT_EQ(sx::zeros({7, 5}, sx::DType::i32).T().dtype(), sx::DType::i32);
}

TEST(ShapeOps, TransposeThreeD) {
  for (const Dims& s : {Dims{3, 4, 5}, Dims{2, 1, 3}, Dims{5, 3, 7}, Dims{1, 1, 1}}) {
    SCOPED_TRACE(dims_str(s));
    const auto x = iota_data(s);
    const sx::Array a = sx::from_xtensor(x);
    expect_array(a.T(), materialize(xt::transpose(x)));
    std::vector<std::size_t> perm = {0, 1, 2};
    do {
      const std::vector<int> p(perm.begin(), perm.end());
      SCOPED_TRACE("axes (" + std::to_string(p[0]) + ", " + std::to_string(p[1]) + ", " + std::to_string(p[2]) + ")");
      const xt::xarray<double> e = xt::transpose(x, perm);
      expect_array(a.transpose(p), e);
      // Composed with another permutation, and with T().
      expect_array(a.transpose(p).transpose({2, 0, 1}), materialize(xt::transpose(e, {2, 0, 1})));
      expect_array(a.transpose(p).T(), materialize(xt::transpose(e)));
    } while (std::next_permutation(perm.begin(), perm.end()));
  }
}

TEST(ShapeOps, Reshape) {
  const auto x = iota_data({7, 5});
  const sx::Array a = sx::from_xtensor(x);
  for (const sx::Shape& s : {sx::Shape{35}, sx::Shape{5, 7}, sx::Shape{-1, 7}, sx::Shape{5, -1}, sx::Shape{35, 1},
                             sx::Shape{1, 35}, sx::Shape{-1}, sx::Shape{1, 5, 7}, sx::Shape{7, 1, 5},
                             sx::Shape{7, 5}}) {
    SCOPED_TRACE("reshape to " + dims_str(Dims(s.begin(), s.end())));
    expect_array(a.reshape(s), reshaped(x, s));
  }
  const auto y = make_random({3, 4, 5}, 2);
  const sx::Array b = sx::from_xtensor(y);
  for (const sx::Shape& s : {sx::Shape{12, 5}, sx::Shape{-1}, sx::Shape{5, 4, 3}, sx::Shape{2, -1, 5},
                             sx::Shape{60, 1}, sx::Shape{3, 20}, sx::Shape{2, 2, 3, 5}}) {
    SCOPED_TRACE("reshape 3-d to " + dims_str(Dims(s.begin(), s.end())));
    expect_array(b.reshape(s), reshaped(y, s));
  }
  // 1-d to 3-d, and back.
  const auto v = iota_data({60});
  const sx::Array c = sx::from_xtensor(v);
  expect_array(c.reshape({3, 4, 5}), reshaped(v, {3, 4, 5}));
  expect_array(c.reshape({3, -1, 5}), reshaped(v, {3, 4, 5}));
  expect_array(c.reshape({3, 4, 5}).reshape({-1}), v);
  expect_array(c.reshape({4, 15}).reshape({60}).reshape({5, 12}), reshaped(v, {5, 12}));
  // Compare against xtensor's own reshape_view as well.
  expect_array(b.reshape({4, 15}), materialize(xt::reshape_view(y, std::vector<std::size_t>{4, 15})));
  // reshape keeps the dtype.
  EXPECT_EQ(sx::zeros({7, 5}, sx::DType::i64).reshape({-1}).dtype(), sx::DType::i64);
  // Sizes that do not match are a shape_error.
  EXPECT_THROW(a.reshape({6, 6}), sx::shape_error);
  EXPECT_THROW(a.reshape({-1, 4}), sx::shape_error);
}

TEST(ShapeOps, ReshapeOfTransposedIsLogicalCOrder) {
  // NumPy: a.T.reshape(-1) reads the transposed array in its own C order.
  const auto x = iota_data({7, 5});
  const sx::Array a = sx::from_xtensor(x);
  const xt::xarray<double> xtr = xt::transpose(x);
  expect_array(a.T().reshape({35}), reshaped(xtr, {35}));
  expect_array(a.T().reshape({7, 5}), reshaped(xtr, {7, 5}));
  expect_array(a.T().reshape({-1, 7}), reshaped(xtr, {5, 7}));
  expect_array(a.T().reshape({5, 7, 1}), reshaped(xtr, {5, 7, 1}));
  const auto y = iota_data({3, 4, 5});
  const sx::Array b = sx::from_xtensor(y);
  const xt::xarray<double> y201 = xt::transpose(y, {2, 0, 1});
  expect_array(b.transpose({2, 0, 1}).reshape({5, 12}), reshaped(y201, {5, 12}));
  expect_array(b.transpose({2, 0, 1}).reshape({-1}), reshaped(y201, {-1}));
  expect_array(b.T().reshape({20, 3}), reshaped(materialize(xt::transpose(y)), {20, 3}));
  // Reshape of a slice, and of a reversed slice.
  expect_array(a.slice({Range{1, 6}, Range{none, none, -2}}).reshape({-1}),
               reshaped(sliced(x, {Range{1, 6}, Range{none, none, -2}}), {-1}));
  expect_array(b.slice({Range{none, none, -1}, Range{1, 3}}).reshape({6, 5}),
               reshaped(sliced(y, {Range{none, none, -1}, Range{1, 3}}), {6, 5}));
  // Reshape of an elementwise expression of a transpose.
  expect_array((a.T() * 2.0 + 1.0).reshape({35}), reshaped(materialize(xtr * 2.0 + 1.0), {35}));
}

TEST(ShapeOps, ReshapeEmptyAndSingle) {
  const sx::Array e = sx::zeros({0, 3});
  EXPECT_EQ(e.reshape({3, 0}).shape(), (sx::Shape{3, 0}));
  EXPECT_EQ(e.reshape({0}).shape(), (sx::Shape{0}));
  EXPECT_EQ(e.reshape({0, 5}).shape(), (sx::Shape{0, 5}));
  EXPECT_TRUE(sx::to_vector<double>(e.reshape({3, 0})).empty());
  const double v = 4.25;
  const sx::Array one = sx::from_buffer({1, 1}, sx::DType::f64, &v);
  const xt::xarray<double> e1 = {4.25};
  const xt::xarray<double> e3 = xt::full_like(xt::xarray<double>(xt::zeros<double>(Dims{1, 1, 1})), 4.25);
  expect_array(one.reshape({1}), e1);
  expect_array(one.reshape({1, 1, 1}), e3);
  const sx::Array z = one.reshape(sx::Shape{});
  EXPECT_EQ(z.ndim(), 0);
  EXPECT_EQ(z.item(), 4.25);
  EXPECT_EQ(z.reshape({1, 1}).shape(), (sx::Shape{1, 1}));
  EXPECT_EQ(z.reshape({-1}).shape(), (sx::Shape{1}));
}

TEST(ShapeOps, SliceEachAxisTwoD) {
  for (const Dims& s : {Dims{13, 7}, Dims{7, 5}, Dims{1, 9}, Dims{5, 1}}) {
    const auto x = iota_data(s);
    const sx::Array a = sx::from_xtensor(x);
    for (std::size_t ax = 0; ax < 2; ++ax)
      for (const Range& r : ranges_for(static_cast<std::int64_t>(s[ax]))) {
        std::vector<Range> rs = {Range::all(), Range::all()};
        rs[ax] = r;
        SCOPED_TRACE(dims_str(s) + ranges_str(rs));
        expect_array(a.slice(rs), sliced(x, rs));
      }
  }
}

TEST(ShapeOps, SliceEachAxisThreeD) {
  const Dims s{3, 4, 5};
  const auto x = iota_data(s);
  const sx::Array a = sx::from_xtensor(x);
  for (std::size_t ax = 0; ax < 3; ++ax)
    for (const Range& r : ranges_for(static_cast<std::int64_t>(s[ax]))) {
      std::vector<Range> rs = {Range::all(), Range::all(), Range::all()};
      rs[ax] = r;
      SCOPED_TRACE(ranges_str(rs));
      expect_array(a.slice(rs), sliced(x, rs));
    }
}

TEST(ShapeOps, SliceOneD) {
  for (std::int64_t n : {13, 1, 4}) {
    const auto x = make_random({static_cast<std::size_t>(n)}, 5 + static_cast<unsigned>(n));
    const sx::Array a = sx::from_xtensor(x);
    for (const Range& r : ranges_for(n)) {
      SCOPED_TRACE("length " + std::to_string(n) + " " + range_str(r));
      expect_array(a.slice({r}), sliced(x, {r}));
    }
  }
}

TEST(ShapeOps, SliceAllAxesAtOnce) {
  const Dims s{13, 7};
  const auto x = iota_data(s);
  const sx::Array a = sx::from_xtensor(x);
  const auto r0 = ranges_for(13), r1 = ranges_for(7);
  for (std::size_t i = 0; i < r0.size(); ++i) {
    const std::vector<Range> rs = {r0[i], r1[(i * 5 + 3) % r1.size()]};
    SCOPED_TRACE(ranges_str(rs));
    expect_array(a.slice(rs), sliced(x, rs));
  }
  const Dims t{3, 4, 5};
  const auto y = iota_data(t);
  const sx::Array b = sx::from_xtensor(y);
  const auto q0 = ranges_for(3), q1 = ranges_for(4), q2 = ranges_for(5);
  for (std::size_t i = 0; i < q2.size(); ++i) {
    const std::vector<Range> rs = {q0[(i * 7) % q0.size()], q1[(i * 3 + 1) % q1.size()], q2[i]};
    SCOPED_TRACE(ranges_str(rs));
    expect_array(b.slice(rs), sliced(y, rs));
  }
}

TEST(ShapeOps, SliceFewerRangesThanAxes) {
  const auto y = iota_data({3, 4, 5});
  const sx::Array b = sx::from_xtensor(y);
  expect_array(b.slice({Range{1, 3}}), sliced(y, {Range{1, 3}}));
  expect_array(b.slice({Range{none, none, -1}}), sliced(y, {Range{none, none, -1}}));
  expect_array(b.slice({Range::all(), Range{-1, none, -2}}), sliced(y, {Range::all(), Range{-1, none, -2}}));
  expect_array(b.slice({}), y);
  using namespace xt::placeholders;
  expect_array(b.slice({Range{1, 3}}), materialize(xt::view(y, xt::range(1, 3))));
}

TEST(ShapeOps, SliceEmptyResults) {
  const auto x = make_random({13, 7}, 11);
  const sx::Array a = sx::from_xtensor(x);
  const sx::Array e = a.slice({Range{3, 3}});
  EXPECT_EQ(e.shape(), (sx::Shape{0, 7}));
  EXPECT_EQ(e.size(), 0);
  EXPECT_TRUE(sx::to_vector<double>(e).empty());
  EXPECT_EQ(a.slice({Range::all(), Range{5, 2}}).shape(), (sx::Shape{13, 0}));
  EXPECT_EQ(a.slice({Range{2, 5, -1}}).shape(), (sx::Shape{0, 7}));
  // Elementwise and reductions on empty slices.
  EXPECT_EQ((e * 2.0 + 1.0).shape(), (sx::Shape{0, 7}));
  EXPECT_TRUE(sx::to_vector<double>(sx::exp(e)).empty());
  EXPECT_EQ(sx::sum(e).item(), 0.0);
  EXPECT_EQ(sx::to_vector<double>(sx::sum(e, 0)), std::vector<double>(7, 0.0));
  EXPECT_EQ(e.T().shape(), (sx::Shape{7, 0}));
  EXPECT_EQ(e.reshape({7, 0}).shape(), (sx::Shape{7, 0}));
  // Slices of an empty array.
  const sx::Array z = sx::zeros({0, 3});
  EXPECT_EQ(z.slice({Range::all(), Range{1, 3}}).shape(), (sx::Shape{0, 2}));
  EXPECT_EQ(z.slice({Range{none, none, -1}, Range{none, none, -1}}).shape(), (sx::Shape{0, 3}));
  EXPECT_TRUE(sx::to_vector<double>(z.slice({Range::all(), Range{1, 3}})).empty());
  // An empty slice of a slice.
  EXPECT_EQ(a.slice({Range{1, 9}}).slice({Range{4, 4}, Range{none, none, -1}}).shape(), (sx::Shape{0, 7}));
}

TEST(ShapeOps, SlicesOfSlices) {
  const auto x = iota_data({13, 7});
  const sx::Array a = sx::from_xtensor(x);
  const std::vector<Range> s1 = {Range{1, 12}, Range{none, none, -1}};      // (11, 7)
  const std::vector<Range> s2 = {Range{none, none, 2}, Range{1, -1}};       // (6, 5)
  const std::vector<Range> s3 = {Range{-1, 0, -2}, Range{none, none, -3}};  // (3, 2)
  const auto x1 = sliced(x, s1), x2 = sliced(x1, s2), x3 = sliced(x2, s3);
  expect_array(a.slice(s1), x1);
  expect_array(a.slice(s1).slice(s2), x2);
  expect_array(a.slice(s1).slice(s2).slice(s3), x3);
  // The same chain after evaluating the middle slice.
  const sx::Array mid = a.slice(s1).slice(s2);
  mid.evaluate();
  expect_array(mid.slice(s3), x3);
  // Reversing twice is the identity; reversing a reversed slice of a slice too.
  const std::vector<Range> rev = {Range{none, none, -1}, Range{none, none, -1}};
  expect_array(a.slice(rev).slice(rev), x);
  expect_array(a.slice(s1).slice(rev).slice(rev), x1);
  // 3-d.
  const auto y = iota_data({5, 3, 7});
  const sx::Array b = sx::from_xtensor(y);
  const std::vector<Range> t1 = {Range{none, none, -2}, Range::all(), Range{1, none, 2}};  // (3, 3, 3)
  const std::vector<Range> t2 = {Range{1, none}, Range{none, none, -1}, Range{-2, none}};  // (2, 3, 2)
  expect_array(b.slice(t1).slice(t2), sliced(sliced(y, t1), t2));
  // One element.
  const std::vector<Range> one = {Range{2, 3}, Range{1, 2}};
  expect_array(a.slice(s1).slice(s2).slice(one), sliced(x2, one));
  EXPECT_EQ(a.slice(s1).slice(s2).slice(one).reshape({}).item(), sliced(x2, one)(0, 0));
}

TEST(ShapeOps, SlicesInElementwiseOps) {
  const auto x = make_random({13, 7}, 21);
  const auto y = make_random({13, 7}, 22);
  const sx::Array a = sx::from_xtensor(x);
  const sx::Array b = sx::from_xtensor(y);
  const std::vector<Range> ra = {Range{0, 6}, Range{none, none, -1}};
  const std::vector<Range> rb = {Range{12, 6, -1}, Range::all()};
  const auto xa = sliced(x, ra), yb = sliced(y, rb);
  expect_array(a.slice(ra) + b.slice(rb) * 2.0, materialize(xa + yb * 2.0), 1e-15);
  expect_array(sx::exp(a.slice(ra)), materialize(xt::exp(xa)), 1e-15);
  // Overlapping slices of the same array.
  const auto xb = sliced(x, rb);
  expect_array(a.slice(ra) - a.slice(rb), materialize(xa - xb), 1e-15);
  // Broadcasting a row slice and a column slice against the whole array.
  const std::vector<Range> row = {Range{4, 5}};
  const std::vector<Range> col = {Range::all(), Range{2, 3}};
  expect_array(a + a.slice(row), materialize(x + sliced(x, row)), 1e-15);
  expect_array(a * a.slice(col), materialize(x * sliced(x, col)), 1e-15);
  expect_array(a.slice(col) - a.slice(row), materialize(sliced(x, col) - sliced(x, row)), 1e-15);
  // Comparisons and where on slices.
  const xt::xarray<double> pos = xt::where(xa > 0.0, xa, 0.0);
  expect_array(sx::where(a.slice(ra) > 0.0, a.slice(ra), 0.0), pos);
  const sx::Array gt = a.slice(ra) > b.slice(rb);
  EXPECT_EQ(gt.dtype(), sx::DType::boolean);
  xt::xarray<double> gtx = xt::zeros<double>(xa.shape());
  for (std::size_t i = 0; i < gtx.size(); ++i) gtx.data()[i] = xa.data()[i] > yb.data()[i] ? 1 : 0;
  expect_array(gt, gtx);
  // A slice of an elementwise expression equals the expression of slices.
  expect_array((a * b + 1.0).slice(ra), materialize(sliced(materialize(x * y + 1.0), ra)), 1e-15);
  // 3-d slices with negative steps in an expression.
  const auto u = make_random({3, 4, 5}, 23);
  const sx::Array c = sx::from_xtensor(u);
  const std::vector<Range> r3 = {Range{none, none, -1}, Range{1, 3}, Range{none, none, -2}};
  expect_array(sx::square(c.slice(r3)) - c.slice(r3), materialize(sliced(u, r3) * sliced(u, r3) - sliced(u, r3)),
               1e-15);
}

TEST(ShapeOps, SlicesInReductions) {
  const auto x = make_random({13, 7}, 31);
  const sx::Array a = sx::from_xtensor(x);
  const std::vector<Range> r = {Range{-10, none, 3}, Range{none, none, -2}};  // (4, 4)
  const auto xs = sliced(x, r);
  ASSERT_EQ(xs.shape()[0], 4u);
  ASSERT_EQ(xs.shape()[1], 4u);
  const sx::Array as = a.slice(r);
  EXPECT_NEAR(sx::sum(as).item(), xt::sum(xs)(), 1e-12);
  expect_array(sx::sum(as, 0), materialize(xt::sum(xs, {0})), 1e-12);
  expect_array(sx::sum(as, -1), materialize(xt::sum(xs, {1})), 1e-12);
  expect_array(sx::max(as, 0), materialize(xt::amax(xs, {0})));
  expect_array(sx::min(as, 1), materialize(xt::amin(xs, {1})));
  EXPECT_EQ(sx::max(as).item(), xt::amax(xs)());
  EXPECT_EQ(sx::argmax(as).item(), static_cast<double>(xt::argmax(xs)()));
  expect_array(sx::argmin(as, 0), materialize(xt::argmin(xs, 0)));
  expect_array(sx::mean(as, 1), materialize(xt::mean(xs, {1})), 1e-12);
  // Reductions of a 3-d reversed slice along every axis.
  const auto y = make_random({3, 4, 5}, 32);
  const std::vector<Range> r3 = {Range{none, none, -1}, Range{none, none, -1}, Range{1, none}};
  const auto ys = sliced(y, r3);
  const sx::Array bs = sx::from_xtensor(y).slice(r3);
  for (int ax = 0; ax < 3; ++ax) {
    SCOPED_TRACE("axis " + std::to_string(ax));
    expect_array(sx::sum(bs, ax), materialize(xt::sum(ys, {static_cast<std::size_t>(ax)})), 1e-12);
    expect_array(sx::max(bs, ax - 3), materialize(xt::amax(ys, {static_cast<std::size_t>(ax)})));
  }
}

TEST(ShapeOps, SliceOfOtherNodes) {
  const auto x = make_random({7, 5}, 41);
  const sx::Array a = sx::from_xtensor(x);
  const xt::xarray<double> xtr = xt::transpose(x);
  // A slice of a transpose, of a reshape, of a reduction.
  const std::vector<Range> r = {Range{none, none, -2}, Range{1, 6}};
  expect_array(a.T().slice(r), sliced(xtr, r));
  expect_array(a.reshape({5, 7}).slice(r), sliced(reshaped(x, {5, 7}), r));
  const xt::xarray<double> rowsum = xt::sum(x, {1});
  expect_array(sx::sum(a, 1).slice({Range{none, none, -3}}), sliced(rowsum, {Range{none, none, -3}}), 1e-12);
  // A slice of a random array, with to_eigen as reference.
  const sx::Array u = sx::random::uniform({7, 5}, 77);
  const Eigen::MatrixXd m = sx::to_eigen(u);
  const Eigen::MatrixXd ms = sx::to_eigen(u.slice({Range{2, 7, 2}, Range{none, none, -1}}));
  ASSERT_EQ(ms.rows(), 3);
  ASSERT_EQ(ms.cols(), 5);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j) EXPECT_EQ(ms(i, j), m(2 + 2 * i, 4 - j)) << "(" << i << ", " << j << ")";
  const Eigen::MatrixXd mt = sx::to_eigen(u.T());
  EXPECT_TRUE(mt == m.transpose());
}

TEST(ShapeOps, AstypeRoundTrips) {
  xt::xarray<double> x = {{-2.7, 2.7, 0.0, 1e-3, -0.5}, {3.0, -3.0, 1.5, -1.5, 100.25}, {7.9, -7.9, 0.999, -0.999, 42.0}};
  const sx::Array a = sx::from_xtensor(x);
  // float64 -> int32 truncates toward zero (C++ conversion), and back.
  const sx::Array ai = a.astype(sx::DType::i32);
  EXPECT_EQ(ai.dtype(), sx::DType::i32);
  const xt::xarray<double> trunc = xt::trunc(x);
  EXPECT_EQ(sx::to_vector<std::int32_t>(ai), std::vector<std::int32_t>(trunc.begin(), trunc.end()));
  const sx::Array aid = ai.astype(sx::DType::f64);
  EXPECT_EQ(aid.dtype(), sx::DType::f64);
  expect_array(aid, trunc);
  // float64 -> int64 -> float64 -> int64.
  expect_array(a.astype(sx::DType::i64).astype(sx::DType::f64).astype(sx::DType::i64), trunc);
  // float64 -> float32 -> float64 rounds to float.
  const sx::Array af = a.astype(sx::DType::f32);
  EXPECT_EQ(af.dtype(), sx::DType::f32);
  xt::xarray<double> fx = x;
  for (auto& v : fx) v = static_cast<double>(static_cast<float>(v));
  expect_array(af.astype(sx::DType::f64), fx);
  const auto fv = sx::to_vector<float>(af);
  ASSERT_EQ(fv.size(), x.size());
  for (std::size_t i = 0; i < fv.size(); ++i) EXPECT_EQ(fv[i], static_cast<float>(x.data()[i]));
  // float64 -> bool is x != 0, NaN included; bool -> float64 gives 0/1.
  xt::xarray<double> xn = x;
  xn(0, 2) = std::numeric_limits<double>::quiet_NaN();
  const sx::Array ab = sx::from_xtensor(xn).astype(sx::DType::boolean);
  EXPECT_EQ(ab.dtype(), sx::DType::boolean);
  xt::xarray<double> bx = xt::zeros<double>(xn.shape());
  for (std::size_t i = 0; i < bx.size(); ++i) bx.data()[i] = xn.data()[i] != 0 ? 1 : 0;
  expect_array(ab.astype(sx::DType::f64), bx);
  EXPECT_EQ(sx::sum(ab).item(), xt::sum(bx)());
  // bool -> int32 -> bool.
  expect_array(ab.astype(sx::DType::i32).astype(sx::DType::boolean).astype(sx::DType::i64), bx);
  // int64 values up to 2^52 survive float64.
  xt::xarray<std::int64_t> ints = {std::int64_t{1} << 52, -(std::int64_t{1} << 40), 0, 1, -1, 123456789012};
  const sx::Array ia = sx::from_xtensor(ints);
  const auto back = sx::to_vector<std::int64_t>(ia.astype(sx::DType::f64).astype(sx::DType::i64));
  EXPECT_EQ(back, std::vector<std::int64_t>(ints.begin(), ints.end()));
  // int32 -> int64 -> int32.
  xt::xarray<std::int32_t> i32 = {2147483647, -2147483647 - 1, 0, 5, -5};
  const auto back32 =
      sx::to_vector<std::int32_t>(sx::from_xtensor(i32).astype(sx::DType::i64).astype(sx::DType::i32));
  EXPECT_EQ(back32, std::vector<std::int32_t>(i32.begin(), i32.end()));
  // astype to the same dtype is a copy with equal values.
  expect_array(a.astype(sx::DType::f64), x);
}

TEST(ShapeOps, AstypeOnViews) {
  const xt::xarray<double> xx = make_random({7, 5}, 51) * 10.0;
  const sx::Array a = sx::from_xtensor(xx);
  const xt::xarray<double> xtr = xt::transpose(xx);
  // Transposed then cast, then sliced.
  const std::vector<Range> r = {Range{none, none, -1}, Range{1, 7, 2}};
  xt::xarray<double> e = sliced(xtr, r);
  for (auto& v : e) v = static_cast<double>(static_cast<std::int32_t>(v));
  const sx::Array c = a.T().astype(sx::DType::i32).slice(r);
  EXPECT_EQ(c.dtype(), sx::DType::i32);
  expect_array(c, e);
  // Sliced then cast, then reshaped.
  xt::xarray<double> f = sliced(xx, {Range{2, 6}});
  for (auto& v : f) v = static_cast<double>(static_cast<float>(v));
  const sx::Array d = a.slice({Range{2, 6}}).astype(sx::DType::f32).reshape({-1});
  EXPECT_EQ(d.dtype(), sx::DType::f32);
  expect_array(d, reshaped(f, {-1}));
  // A cast comparison, averaged.
  xt::xarray<double> gt = xt::zeros<double>(xx.shape());
  for (std::size_t i = 0; i < gt.size(); ++i) gt.data()[i] = xx.data()[i] > 0 ? 1 : 0;
  expect_array(sx::mean((a > 0.0).astype(sx::DType::f64), 0), materialize(xt::mean(gt, {0})), 1e-12);
}

TEST(ShapeOps, Chains) {
  const auto y = make_random({3, 4, 5}, 61);
  const sx::Array b = sx::from_xtensor(y);
  // transpose -> slice (negative step) -> reshape(-1, 5) -> elementwise -> sum.
  {
    const xt::xarray<double> t = xt::transpose(y, {1, 0, 2});  // (4, 3, 5)
    const std::vector<Range> r = {Range{none, none, -1}, Range{0, 3, 2}};
    const auto s = sliced(t, r);                // (4, 2, 5)
    const auto m = reshaped(s, {-1, 5});        // (8, 5)
    const xt::xarray<double> f = m * 2.0 + 1.0;
    const sx::Array chain = b.transpose({1, 0, 2}).slice(r).reshape({-1, 5}) * 2.0 + 1.0;
    expect_array(chain, f, 1e-15);
    expect_array(sx::sum(chain, 0), materialize(xt::sum(f, {0})), 1e-12);
    expect_array(chain.T(), materialize(xt::transpose(f)), 1e-15);
  }
  const auto x = make_random({13, 7}, 62);
  const sx::Array a = sx::from_xtensor(x);
  const xt::xarray<double> xtr = xt::transpose(x);  // (7, 13)
  // T -> slice -> reshape -> astype -> slice.
  {
    const std::vector<Range> r = {Range{1, 6}, Range{-1, none, -2}};  // (5, 7)
    const auto s = sliced(xtr, r);
    xt::xarray<double> f = reshaped(s, {35});
    for (auto& v : f) v = static_cast<double>(static_cast<float>(v));
    const auto g = sliced(f, {Range{none, none, -4}});
    const sx::Array chain = a.T().slice(r).reshape({35}).astype(sx::DType::f32).slice({Range{none, none, -4}});
    EXPECT_EQ(chain.dtype(), sx::DType::f32);
    expect_array(chain, g);
  }
  // reshape -> T -> slice -> expression with another slice of the original.
  {
    const auto r7 = reshaped(x, {7, 13});
    const xt::xarray<double> rt = xt::transpose(r7);  // (13, 7)
    const std::vector<Range> r = {Range{none, none, 2}};  // (7, 7)
    const std::vector<Range> q = {Range{6, none}};        // (7, 7)
    const sx::Array chain = a.reshape({7, 13}).T().slice(r) - a.slice(q);
    expect_array(chain, materialize(sliced(rt, r) - sliced(x, q)), 1e-15);
    expect_array(sx::argmax(chain, 1), materialize(xt::argmax(materialize(sliced(rt, r) - sliced(x, q)), 1)));
  }
  // (a + 1).T().reshape(-1)[::-3]
  {
    const xt::xarray<double> f = reshaped(materialize(xt::transpose(materialize(x + 1.0))), {-1});
    expect_array((a + 1.0).T().reshape({-1}).slice({Range{none, none, -3}}), sliced(f, {Range{none, none, -3}}),
                 1e-15);
  }
  // A slice chain feeding a dot.
  {
    const std::vector<Range> r1 = {Range{none, none, -1}, Range{1, 6}};  // (13, 5)
    const std::vector<Range> r2 = {Range{0, 13}, Range{none, none, -3}};  // (13, 3)
    const auto p = sliced(x, r1), q = sliced(x, r2);
    Eigen::MatrixXd pm(13, 5), qm(13, 3);
    for (int i = 0; i < 13; ++i) {
      for (int j = 0; j < 5; ++j) pm(i, j) = p(i, j);
      for (int j = 0; j < 3; ++j) qm(i, j) = q(i, j);
    }
    const Eigen::MatrixXd expected = pm.transpose() * qm;
    const Eigen::MatrixXd got = sx::to_eigen(sx::dot(a.slice(r1).T(), a.slice(r2)));
    ASSERT_EQ(got.rows(), 5);
    ASSERT_EQ(got.cols(), 3);
    EXPECT_TRUE(got.isApprox(expected, 1e-12));
  }
}
