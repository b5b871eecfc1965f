// Reductions (sum, mean, min, max, argmin, argmax, count_nonzero, norm) against a
// reference computed on every rank with plain loops over xtensor / Eigen data.
// Every rank builds the same inputs, makes the same spartanxx calls in the same order
// and checks the whole result, so a failure shows which rank saw what.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>
#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmanipulation.hpp>

#include "spartanxx/spartanxx.hpp"

namespace sx = spartanxx;

namespace {

using Dims = std::vector<std::size_t>;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------------
// Data, identical on every rank.

xt::xarray<double> make_random(const Dims& shape, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  xt::xarray<double> x = xt::zeros<double>(shape);
  for (auto& v : x) v = dist(gen);
  return x;
}

// Small integers in [lo, hi]: plenty of ties for argmin/argmax and exact sums.
xt::xarray<double> int_data(const Dims& shape, unsigned seed, int lo, int hi) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  xt::xarray<double> x = xt::zeros<double>(shape);
  for (auto& v : x) v = dist(gen);
  return x;
}

std::string dims_str(const Dims& d) {
  std::ostringstream os;
  os << "(";
  for (std::size_t i = 0; i < d.size(); ++i) os << (i ? ", " : "") << d[i];
  os << ")";
  return os.str();
}

Dims dims_of(const sx::Shape& s) { return Dims(s.begin(), s.end()); }

// ---------------------------------------------------------------------------------
// Reference reductions over one lane (a vector of values) with NumPy's semantics.

enum class Op { sum, mean, min, max, argmin, argmax, count_nonzero, norm };
const Op kAllOps[] = {Op::sum, Op::mean, Op::min, Op::max, Op::argmin, Op::argmax, Op::count_nonzero, Op::norm};

const char* op_name(Op op) {
  switch (op) {
    case Op::sum: return "sum";
    case Op::mean: return "mean";
    case Op::min: return "min";
    case Op::max: return "max";
    case Op::argmin: return "argmin";
    case Op::argmax: return "argmax";
    case Op::count_nonzero: return "count_nonzero";
    case Op::norm: return "norm";
  }
  return "?";
}

bool op_needs_elements(Op op) { return op == Op::min || op == Op::max || op == Op::argmin || op == Op::argmax; }

double ref_lane(Op op, const std::vector<double>& v) {
  switch (op) {
    case Op::sum: {
      double s = 0;
      for (double x : v) s += x;
      return s;
    }
    case Op::mean: {
      double s = 0;
      for (double x : v) s += x;
      return s / static_cast<double>(v.size());
    }
    case Op::min:
    case Op::max: {
      // NaN propagates.
      double m = v.at(0);
      for (double x : v) {
        if (std::isnan(x)) return kNaN;
        if (op == Op::min ? x < m : x > m) m = x;
      }
      return m;
    }
    case Op::argmin:
    case Op::argmax: {
      // The first extreme; a NaN counts as the extreme (NumPy), the first one wins.
      std::size_t best = 0;
      if (std::isnan(v.at(0))) return 0;
      for (std::size_t i = 1; i < v.size(); ++i) {
        if (std::isnan(v[i])) return static_cast<double>(i);
        if (op == Op::argmin ? v[i] < v[best] : v[i] > v[best]) best = i;
      }
      return static_cast<double>(best);
    }
    case Op::count_nonzero: {
      double c = 0;
      for (double x : v) c += (x != 0) ? 1 : 0;
      return c;
    }
    case Op::norm: {
      double s = 0;
      for (double x : v) s += x * x;
      return std::sqrt(s);
    }
  }
  return kNaN;
}

// Reduce `x` along `axis` (negative allowed) with `f` applied to each lane; the result
// has that axis removed (a 0-d array when x is 1-d).
template <class F>
xt::xarray<double> reduce_axis_with(const xt::xarray<double>& x, int axis, F f) {
  const Dims s(x.shape().begin(), x.shape().end());
  const int nd = static_cast<int>(s.size());
  const int ax = axis < 0 ? axis + nd : axis;
  std::size_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= s[i];
  for (int i = ax + 1; i < nd; ++i) inner *= s[i];
  const std::size_t len = s[ax];
  Dims out_shape;
  for (int i = 0; i < nd; ++i)
    if (i != ax) out_shape.push_back(s[i]);
  xt::xarray<double> out = xt::zeros<double>(out_shape);
  std::vector<double> lane(len);
  for (std::size_t o = 0; o < outer; ++o)
    for (std::size_t i = 0; i < inner; ++i) {
      for (std::size_t k = 0; k < len; ++k) lane[k] = x.data()[o * len * inner + k * inner + i];
      out.data()[o * inner + i] = f(lane);
    }
  return out;
}

double reduce_all(const xt::xarray<double>& x, Op op) {
  std::vector<double> flat(x.begin(), x.end());
  return ref_lane(op, flat);
}

xt::xarray<double> reduce_axis(const xt::xarray<double>& x, int axis, Op op) {
  return reduce_axis_with(x, axis, [op](const std::vector<double>& v) { return ref_lane(op, v); });
}

// ---------------------------------------------------------------------------------
// spartanxx side.

sx::Array apply(Op op, const sx::Array& a) {
  switch (op) {
    case Op::sum: return sx::sum(a);
    case Op::mean: return sx::mean(a);
    case Op::min: return sx::min(a);
    case Op::max: return sx::max(a);
    case Op::argmin: return sx::argmin(a);
    case Op::argmax: return sx::argmax(a);
    case Op::count_nonzero: return sx::count_nonzero(a);
    case Op::norm: return sx::norm(a);
  }
  return {};
}

sx::Array apply(Op op, const sx::Array& a, int axis) {
  switch (op) {
    case Op::sum: return sx::sum(a, axis);
    case Op::mean: return sx::mean(a, axis);
    case Op::min: return sx::min(a, axis);
    case Op::max: return sx::max(a, axis);
    case Op::argmin: return sx::argmin(a, axis);
    case Op::argmax: return sx::argmax(a, axis);
    case Op::count_nonzero: return sx::count_nonzero(a, axis);
    case Op::norm: return sx::norm(a, axis);
  }
  return {};
}

bool is_exact_op(Op op) { return op == Op::argmin || op == Op::argmax || op == Op::count_nonzero; }

// Elementwise comparison with NaN == NaN; shapes must match exactly.
::testing::AssertionResult all_close(const xt::xarray<double>& actual, const xt::xarray<double>& expected,
                                     double rtol) {
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

::testing::AssertionResult same_value(double actual, double expected, double rtol) {
  if ((std::isnan(actual) && std::isnan(expected)) || std::abs(actual - expected) <= rtol * (1.0 + std::abs(expected)))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << actual << ", expected " << expected;
}

// Every reduction over the whole array and along every axis (negative ones too).
void check_all_ops(const xt::xarray<double>& x, const sx::Array& a, double rtol = 1e-12) {
  const int nd = static_cast<int>(x.dimension());
  ASSERT_EQ(a.ndim(), nd);
  for (Op op : kAllOps) {
    if (x.size() == 0 && op_needs_elements(op)) continue;
    SCOPED_TRACE(std::string(op_name(op)) + " of " + dims_str(dims_of(a.shape())));
    const double tol = is_exact_op(op) ? 0.0 : rtol;
    // An exception (thrown alike on every rank) fails one check, not the rest.
    try {
      SCOPED_TRACE("whole array");
      const sx::Array r = apply(op, a);
      EXPECT_EQ(r.ndim(), 0);
      EXPECT_TRUE(same_value(r.item(), reduce_all(x, op), tol));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "whole-array reduction threw: " << e.what();
    }
    for (int axis = -nd; axis < nd; ++axis) {
      const int ax = axis < 0 ? axis + nd : axis;
      if (x.shape()[ax] == 0 && op_needs_elements(op)) continue;
      if (x.shape()[ax] == 0 && op == Op::mean) continue;  // NaN with a warning in NumPy
      SCOPED_TRACE("axis " + std::to_string(axis));
      try {
        const sx::Array r = apply(op, a, axis);
        EXPECT_EQ(r.ndim(), nd - 1);
        EXPECT_TRUE(all_close(sx::to_xtensor<double>(r), reduce_axis(x, axis, op), tol));
      } catch (const std::exception& e) {
        ADD_FAILURE() << "reduction along axis " << axis << " threw: " << e.what();
      }
    }
  }
}

}  // namespace

// =================================================================================

TEST(Reductions, AllOpsOneD) {
  for (std::size_t n : {13u, 7u, 1u, 2u}) {
    const auto x = make_random({n}, 100 + static_cast<unsigned>(n));
    check_all_ops(x, sx::from_xtensor(x));
  }
  // Small integers: ties everywhere.
  const auto t = int_data({17}, 7, -2, 2);
  check_all_ops(t, sx::from_xtensor(t));
}

TEST(Reductions, AllOpsTwoD) {
  const std::vector<Dims> shapes = {{7, 5}, {13, 3}, {1, 9}, {5, 1}, {1, 1}, {9, 13}};
  unsigned seed = 1;
  for (const auto& s : shapes) {
    const auto x = make_random(s, seed++);
    check_all_ops(x, sx::from_xtensor(x));
    const auto t = int_data(s, seed++, 0, 3);
    check_all_ops(t, sx::from_xtensor(t));
  }
}

TEST(Reductions, AllOpsThreeD) {
  const std::vector<Dims> shapes = {{3, 4, 5}, {2, 1, 3}, {1, 1, 1}, {5, 3, 7}};
  unsigned seed = 50;
  for (const auto& s : shapes) {
    const auto x = make_random(s, seed++);
    check_all_ops(x, sx::from_xtensor(x));
    const auto t = int_data(s, seed++, -1, 1);
    check_all_ops(t, sx::from_xtensor(t));
  }
}

TEST(Reductions, EigenCrossCheckTwoD) {
  // Values by formula, so that this test does not share the xtensor reference path.
  Eigen::MatrixXd m(13, 3);
  for (int i = 0; i < m.rows(); ++i)
    for (int j = 0; j < m.cols(); ++j) m(i, j) = std::sin(1.0 + i * 3 + j) * (j + 1);
  const sx::Array a = sx::from_eigen(m);

  EXPECT_NEAR(sx::sum(a).item(), m.sum(), 1e-12);
  EXPECT_NEAR(sx::mean(a).item(), m.mean(), 1e-12);
  EXPECT_EQ(sx::min(a).item(), m.minCoeff());
  EXPECT_EQ(sx::max(a).item(), m.maxCoeff());
  EXPECT_NEAR(sx::norm(a).item(), m.norm(), 1e-12);

  const Eigen::MatrixXd s0 = sx::to_eigen(sx::sum(a, 0));   // (3,) -> 3x1
  const Eigen::MatrixXd s1 = sx::to_eigen(sx::sum(a, -1));  // (13,) -> 13x1
  ASSERT_EQ(s0.rows(), 3);
  ASSERT_EQ(s0.cols(), 1);
  ASSERT_EQ(s1.rows(), 13);
  ASSERT_EQ(s1.cols(), 1);
  EXPECT_TRUE(s0.isApprox(m.colwise().sum().transpose(), 1e-12));
  EXPECT_TRUE(s1.isApprox(m.rowwise().sum(), 1e-12));

  const Eigen::MatrixXd mx0 = sx::to_eigen(sx::max(a, 0));
  const Eigen::MatrixXd mn1 = sx::to_eigen(sx::min(a, 1));
  EXPECT_EQ(mx0, Eigen::MatrixXd(m.colwise().maxCoeff().transpose()));
  EXPECT_EQ(mn1, Eigen::MatrixXd(m.rowwise().minCoeff()));

  const Eigen::MatrixXd n0 = sx::to_eigen(sx::norm(a, 0));
  EXPECT_TRUE(n0.isApprox(m.colwise().norm().transpose(), 1e-12));
  const Eigen::MatrixXd mean1 = sx::to_eigen(sx::mean(a, 1));
  EXPECT_TRUE(mean1.isApprox(m.rowwise().mean(), 1e-12));

  const Eigen::MatrixXd am0 = sx::to_eigen(sx::argmax(a, 0));
  for (int j = 0; j < m.cols(); ++j) {
    Eigen::Index r;
    m.col(j).maxCoeff(&r);
    EXPECT_EQ(am0(j, 0), static_cast<double>(r)) << "column " << j;
  }
}

TEST(Reductions, FromRandomUniform) {
  const sx::Array a = sx::random::uniform({13, 7}, 1234, -2.0, 3.0);
  const Eigen::MatrixXd m = sx::to_eigen(a);
  ASSERT_EQ(m.rows(), 13);
  ASSERT_EQ(m.cols(), 7);
  xt::xarray<double> x = xt::zeros<double>(Dims{13, 7});
  for (int i = 0; i < 13; ++i)
    for (int j = 0; j < 7; ++j) x(i, j) = m(i, j);
  check_all_ops(x, a);
}

TEST(Reductions, ResultDtypes) {
  const Dims s{7, 5};
  const auto base = int_data(s, 3, -3, 3);
  const sx::Array f64 = sx::from_xtensor(base);
  const sx::Array f32 = sx::from_xtensor(xt::xarray<float>(xt::cast<float>(base)));
  const sx::Array i32 = sx::from_xtensor(xt::xarray<std::int32_t>(xt::cast<std::int32_t>(base)));
  const sx::Array i64 = sx::from_xtensor(xt::xarray<std::int64_t>(xt::cast<std::int64_t>(base)));
  const sx::Array bl = sx::from_xtensor(xt::xarray<bool>(xt::cast<bool>(base)));
  ASSERT_EQ(f32.dtype(), sx::DType::f32);
  ASSERT_EQ(i32.dtype(), sx::DType::i32);
  ASSERT_EQ(i64.dtype(), sx::DType::i64);
  ASSERT_EQ(bl.dtype(), sx::DType::boolean);

  struct Case {
    const char* what;
    sx::Array in;
    Op op;
    sx::DType expected;
  };
  const std::vector<Case> cases = {
      {"f64", f64, Op::sum, sx::DType::f64},          {"f32", f32, Op::sum, sx::DType::f32},
      {"i32", i32, Op::sum, sx::DType::i64},          {"i64", i64, Op::sum, sx::DType::i64},
      {"bool", bl, Op::sum, sx::DType::i64},          {"f64", f64, Op::mean, sx::DType::f64},
      {"f32", f32, Op::mean, sx::DType::f32},         {"i32", i32, Op::mean, sx::DType::f64},
      {"i64", i64, Op::mean, sx::DType::f64},         {"bool", bl, Op::mean, sx::DType::f64},
      {"f32", f32, Op::min, sx::DType::f32},          {"f32", f32, Op::max, sx::DType::f32},
      {"i32", i32, Op::min, sx::DType::i32},          {"i32", i32, Op::max, sx::DType::i32},
      {"i64", i64, Op::max, sx::DType::i64},          {"bool", bl, Op::max, sx::DType::boolean},
      {"f64", f64, Op::argmin, sx::DType::i64},       {"f32", f32, Op::argmax, sx::DType::i64},
      {"i32", i32, Op::argmin, sx::DType::i64},       {"bool", bl, Op::argmax, sx::DType::i64},
      {"f64", f64, Op::count_nonzero, sx::DType::i64}, {"i32", i32, Op::count_nonzero, sx::DType::i64},
      {"bool", bl, Op::count_nonzero, sx::DType::i64}, {"f64", f64, Op::norm, sx::DType::f64},
      {"f32", f32, Op::norm, sx::DType::f32},         {"i32", i32, Op::norm, sx::DType::f64},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(op_name(c.op)) + " of " + c.what);
    EXPECT_EQ(sx::dtype_name(apply(c.op, c.in).dtype()), std::string(sx::dtype_name(c.expected))) << "whole array";
    EXPECT_EQ(sx::dtype_name(apply(c.op, c.in, 0).dtype()), std::string(sx::dtype_name(c.expected))) << "axis 0";
    EXPECT_EQ(sx::dtype_name(apply(c.op, c.in, -1).dtype()), std::string(sx::dtype_name(c.expected))) << "axis -1";
  }
  // And the values, converted, agree with the float64 reference.
  for (const sx::Array* in : {&f32, &i32, &i64}) {
    for (Op op : {Op::sum, Op::mean, Op::min, Op::max, Op::argmin, Op::argmax, Op::count_nonzero}) {
      SCOPED_TRACE(std::string(op_name(op)) + " of " + sx::dtype_name(in->dtype()));
      EXPECT_TRUE(same_value(apply(op, *in).item(), reduce_all(base, op), 1e-6));
      EXPECT_TRUE(all_close(sx::to_xtensor<double>(apply(op, *in, 1)), reduce_axis(base, 1, op), 1e-6));
    }
  }
}

TEST(Reductions, IntegerSumsDoNotOverflow) {
  // int32 values whose sums overflow int32: NumPy sums int32 into int64.
  const std::int32_t big = 2000000000;
  xt::xarray<std::int32_t> x = xt::zeros<std::int32_t>(Dims{7, 5});
  for (std::size_t i = 0; i < 7; ++i)
    for (std::size_t j = 0; j < 5; ++j) x(i, j) = (i + j) % 2 ? big : big - static_cast<std::int32_t>(i * 5 + j);
  const sx::Array a = sx::from_xtensor(x);
  std::int64_t total = 0;
  std::vector<std::int64_t> cols(5, 0), rows(7, 0);
  for (std::size_t i = 0; i < 7; ++i)
    for (std::size_t j = 0; j < 5; ++j) total += x(i, j), cols[j] += x(i, j), rows[i] += x(i, j);
  const auto t = sx::to_vector<std::int64_t>(sx::sum(a));
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0], total);
  EXPECT_EQ(sx::to_vector<std::int64_t>(sx::sum(a, 0)), cols);
  EXPECT_EQ(sx::to_vector<std::int64_t>(sx::sum(a, -1)), rows);

  // int64 values beyond 2^53 stay exact.
  const std::int64_t huge = (std::int64_t{1} << 53) + 1;
  xt::xarray<std::int64_t> y = {huge, 2, huge, 4, 5, 6, 7};
  const auto ys = sx::to_vector<std::int64_t>(sx::sum(sx::from_xtensor(y)));
  ASSERT_EQ(ys.size(), 1u);
  EXPECT_EQ(ys[0], 2 * huge + 24);
  const auto ymax = sx::to_vector<std::int64_t>(sx::max(sx::from_xtensor(y)));
  ASSERT_EQ(ymax.size(), 1u);
  EXPECT_EQ(ymax[0], huge);
}

TEST(Reductions, Float32StaysFloat32) {
  // Multiples of 1/4 in a small range: every partial sum is exact in float32.
  const xt::xarray<double> based = int_data({13, 3}, 11, -40, 40) / 4.0;
  const sx::Array a = sx::from_xtensor(xt::xarray<float>(xt::cast<float>(based)));
  for (Op op : {Op::sum, Op::min, Op::max}) {
    SCOPED_TRACE(op_name(op));
    const sx::Array r = apply(op, a, 0);
    EXPECT_EQ(r.dtype(), sx::DType::f32);
    const auto v = sx::to_vector<float>(r);
    const auto e = reduce_axis(based, 0, op);
    ASSERT_EQ(v.size(), e.size());
    for (std::size_t j = 0; j < v.size(); ++j) EXPECT_EQ(static_cast<double>(v[j]), e.data()[j]) << "column " << j;
    const auto w = sx::to_vector<float>(apply(op, a));
    ASSERT_EQ(w.size(), 1u);
    EXPECT_EQ(static_cast<double>(w[0]), reduce_all(based, op));
  }
  // float32 mean of a float32 array, close to the float64 mean.
  EXPECT_EQ(sx::mean(a, 1).dtype(), sx::DType::f32);
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::mean(a, 1)), reduce_axis(based, 1, Op::mean), 1e-6));
}

TEST(Reductions, BooleanArrays) {
  const auto base = int_data({7, 5}, 21, 0, 1);
  const sx::Array b = sx::from_xtensor(xt::xarray<bool>(xt::cast<bool>(base)));
  ASSERT_EQ(b.dtype(), sx::DType::boolean);
  EXPECT_EQ(sx::sum(b).item(), reduce_all(base, Op::sum));
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::sum(b, 0)), reduce_axis(base, 0, Op::sum), 0));
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::count_nonzero(b, 1)), reduce_axis(base, 1, Op::sum), 0));
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::mean(b, 0)), reduce_axis(base, 0, Op::mean), 1e-12));
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::argmax(b, 0)), reduce_axis(base, 0, Op::argmax), 0));
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::argmin(b, 1)), reduce_axis(base, 1, Op::argmin), 0));
  // Comparisons yield booleans; their sums count.
  const auto x = make_random({13, 3}, 22);
  const sx::Array a = sx::from_xtensor(x);
  const sx::Array gt = a > 0.25;
  EXPECT_EQ(sx::sum(gt).dtype(), sx::DType::i64);
  xt::xarray<double> gtx = xt::zeros<double>(Dims{13, 3});
  for (std::size_t i = 0; i < x.size(); ++i) gtx.data()[i] = x.data()[i] > 0.25 ? 1 : 0;
  EXPECT_EQ(sx::sum(gt).item(), reduce_all(gtx, Op::sum));
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::sum(gt, 1)), reduce_axis(gtx, 1, Op::sum), 0));
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::count_nonzero(a > 0.25, 0)), reduce_axis(gtx, 0, Op::sum), 0));
}

TEST(Reductions, ArgFirstAmongTies) {
  // 1-d, maximum at 4 and 11 (different tiles at 2..4 ranks), minimum at 2 and 12.
  {
    xt::xarray<double> v = xt::zeros<double>(Dims{13});
    v(4) = 9;
    v(11) = 9;
    v(2) = -9;
    v(12) = -9;
    const sx::Array a = sx::from_xtensor(v);
    EXPECT_EQ(sx::argmax(a).item(), 4);
    EXPECT_EQ(sx::argmin(a).item(), 2);
    EXPECT_EQ(sx::argmax(a, 0).item(), 4);
    EXPECT_EQ(sx::argmin(a, -1).item(), 2);
    // Reversed: the first in the reversed order is the last in the original.
    const sx::Array r = a.slice({sx::Range{std::nullopt, std::nullopt, -1}});
    EXPECT_EQ(sx::argmax(r).item(), 12 - 11);
    EXPECT_EQ(sx::argmin(r).item(), 12 - 12);
  }
  // A constant array: index 0 everywhere.
  {
    const sx::Array c = sx::full({7, 5}, 3.5);
    EXPECT_EQ(sx::argmax(c).item(), 0);
    EXPECT_EQ(sx::argmin(c).item(), 0);
    EXPECT_EQ(sx::to_vector<std::int64_t>(sx::argmax(c, 0)), std::vector<std::int64_t>(5, 0));
    EXPECT_EQ(sx::to_vector<std::int64_t>(sx::argmin(c, 1)), std::vector<std::int64_t>(7, 0));
    EXPECT_EQ(sx::to_vector<std::int64_t>(sx::argmax(c, -2)), std::vector<std::int64_t>(5, 0));
  }
  // 2-d: a column of equal values, ties in a row across columns, ties across row blocks.
  {
    Eigen::MatrixXd m(13, 5);
    for (int i = 0; i < 13; ++i)
      for (int j = 0; j < 5; ++j) m(i, j) = 0.1 * ((i * 7 + j * 3) % 5);  // in [0, 0.4]
    m.col(1).setConstant(2.0);   // a column of equal values
    m(3, 0) = 5.0;               // max of column 0 at rows 3 and 12
    m(12, 0) = 5.0;
    m(6, 2) = 5.0;               // ties with (3, 0) in the flattened order: (3, 0) first
    m(6, 4) = 5.0;               // row 6: max at columns 2 and 4
    m(10, 3) = -1.0;             // min of column 3 at rows 10 and 11, of rows 10/11 at 3
    m(11, 3) = -1.0;
    m(11, 2) = -1.0;             // row 11: min at 2 and 3 -> 2
    const sx::Array a = sx::from_eigen(m);
    EXPECT_EQ(sx::argmax(a).item(), 3 * 5 + 0);
    EXPECT_EQ(sx::argmin(a).item(), 10 * 5 + 3);
    const auto am0 = sx::to_vector<std::int64_t>(sx::argmax(a, 0));
    ASSERT_EQ(am0.size(), 5u);
    EXPECT_EQ(am0[0], 3);
    EXPECT_EQ(am0[1], 0);  // column of equal values
    EXPECT_EQ(am0[2], 6);
    const auto an0 = sx::to_vector<std::int64_t>(sx::argmin(a, 0));
    ASSERT_EQ(an0.size(), 5u);
    EXPECT_EQ(an0[1], 0);
    EXPECT_EQ(an0[3], 10);
    const auto am1 = sx::to_vector<std::int64_t>(sx::argmax(a, 1));
    ASSERT_EQ(am1.size(), 13u);
    EXPECT_EQ(am1[6], 2);
    const auto an1 = sx::to_vector<std::int64_t>(sx::argmin(a, -1));
    ASSERT_EQ(an1.size(), 13u);
    EXPECT_EQ(an1[11], 2);
    EXPECT_EQ(an1[10], 3);
    // And everything against the loop reference.
    xt::xarray<double> x = xt::zeros<double>(Dims{13, 5});
    for (int i = 0; i < 13; ++i)
      for (int j = 0; j < 5; ++j) x(i, j) = m(i, j);
    for (int axis : {0, 1, -1, -2}) {
      SCOPED_TRACE("axis " + std::to_string(axis));
      EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::argmax(a, axis)), reduce_axis(x, axis, Op::argmax), 0));
      EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::argmin(a, axis)), reduce_axis(x, axis, Op::argmin), 0));
    }
  }
  // 3-d with ties along every axis.
  {
    xt::xarray<double> x = xt::zeros<double>(Dims{3, 4, 5});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<double>((i * 7) % 3);
    const sx::Array a = sx::from_xtensor(x);
    EXPECT_EQ(sx::argmax(a).item(), reduce_all(x, Op::argmax));
    EXPECT_EQ(sx::argmin(a).item(), reduce_all(x, Op::argmin));
    for (int axis = -3; axis < 3; ++axis) {
      SCOPED_TRACE("axis " + std::to_string(axis));
      EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::argmax(a, axis)), reduce_axis(x, axis, Op::argmax), 0));
      EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::argmin(a, axis)), reduce_axis(x, axis, Op::argmin), 0));
    }
  }
}

TEST(Reductions, NaNPropagates) {
  auto x = make_random({7, 5}, 31);
  x(4, 2) = kNaN;
  x(6, 0) = kNaN;
  const sx::Array a = sx::from_xtensor(x);
  EXPECT_TRUE(std::isnan(sx::max(a).item()));
  EXPECT_TRUE(std::isnan(sx::min(a).item()));
  EXPECT_TRUE(std::isnan(sx::sum(a).item()));
  EXPECT_TRUE(std::isnan(sx::mean(a).item()));
  for (int axis : {0, 1, -1, -2}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    for (Op op : {Op::max, Op::min, Op::sum, Op::mean, Op::norm, Op::count_nonzero}) {
      SCOPED_TRACE(op_name(op));
      EXPECT_TRUE(all_close(sx::to_xtensor<double>(apply(op, a, axis)), reduce_axis(x, axis, op), 1e-12));
    }
  }
  // A NaN at the very end of a long vector, and at the very start.
  for (std::size_t where : {12u, 0u}) {
    auto v = make_random({13}, 32);
    v(where) = kNaN;
    const sx::Array b = sx::from_xtensor(v);
    EXPECT_TRUE(std::isnan(sx::max(b).item())) << "NaN at " << where;
    EXPECT_TRUE(std::isnan(sx::min(b, 0).item())) << "NaN at " << where;
  }
}

TEST(Reductions, ArgWithNaNPicksFirstNaN) {
  // numpy.argmax / argmin return the index of the first NaN.
  auto x = make_random({7, 5}, 33);
  x(4, 2) = kNaN;
  x(6, 0) = kNaN;
  x(5, 2) = kNaN;
  const sx::Array a = sx::from_xtensor(x);
  EXPECT_EQ(sx::argmax(a).item(), 4 * 5 + 2);
  EXPECT_EQ(sx::argmin(a).item(), 4 * 5 + 2);
  for (int axis : {0, 1}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::argmax(a, axis)), reduce_axis(x, axis, Op::argmax), 0));
    EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::argmin(a, axis)), reduce_axis(x, axis, Op::argmin), 0));
  }
}

TEST(Reductions, EmptyArrays) {
  const sx::Array e03 = sx::from_eigen(Eigen::MatrixXd(0, 3));
  const sx::Array e30 = sx::from_eigen(Eigen::MatrixXd(3, 0));
  ASSERT_EQ(e03.shape(), (sx::Shape{0, 3}));
  ASSERT_EQ(e30.shape(), (sx::Shape{3, 0}));

  EXPECT_EQ(sx::sum(e03).item(), 0.0);
  EXPECT_EQ(sx::sum(e30).item(), 0.0);
  EXPECT_EQ(sx::count_nonzero(e03).item(), 0.0);
  EXPECT_EQ(sx::norm(e30).item(), 0.0);

  // Summing over the empty axis gives zeros; over the other axis an empty result.
  const sx::Array s0 = sx::sum(e03, 0);
  EXPECT_EQ(s0.shape(), (sx::Shape{3}));
  EXPECT_EQ(sx::to_vector<double>(s0), std::vector<double>(3, 0.0));
  const sx::Array s1 = sx::sum(e03, 1);
  EXPECT_EQ(s1.shape(), (sx::Shape{0}));
  EXPECT_TRUE(sx::to_vector<double>(s1).empty());
  const sx::Array t1 = sx::sum(e30, -1);
  EXPECT_EQ(t1.shape(), (sx::Shape{3}));
  EXPECT_EQ(sx::to_vector<double>(t1), std::vector<double>(3, 0.0));
  const sx::Array t0 = sx::sum(e30, 0);
  EXPECT_EQ(t0.shape(), (sx::Shape{0}));
  EXPECT_TRUE(sx::to_vector<double>(t0).empty());
  EXPECT_EQ(sx::to_vector<std::int64_t>(sx::count_nonzero(e30, 1)), std::vector<std::int64_t>(3, 0));
  EXPECT_EQ(sx::to_vector<double>(sx::norm(e03, 0)), std::vector<double>(3, 0.0));

  // An empty 1-d array and an empty int32 array (sum is an int64 zero).
  const sx::Array v0 = sx::from_xtensor(xt::xarray<double>(xt::zeros<double>(Dims{0})));
  EXPECT_EQ(sx::sum(v0).item(), 0.0);
  EXPECT_EQ(sx::sum(v0, 0).item(), 0.0);
  const sx::Array i0 = sx::zeros({0, 4}, sx::DType::i32);
  const sx::Array si = sx::sum(i0, 0);
  EXPECT_EQ(si.dtype(), sx::DType::i64);
  EXPECT_EQ(sx::to_vector<std::int64_t>(si), std::vector<std::int64_t>(4, 0));

  // 3-d with one empty axis.
  const sx::Array e3 = sx::zeros({3, 0, 5});
  const sx::Array s3 = sx::sum(e3, 1);
  EXPECT_EQ(s3.shape(), (sx::Shape{3, 5}));
  EXPECT_EQ(sx::to_vector<double>(s3), std::vector<double>(15, 0.0));
  EXPECT_EQ(sx::sum(e3, 2).shape(), (sx::Shape{3, 0}));

  // max along a non-empty axis of an empty array is an empty array (NumPy allows it).
  const sx::Array m1 = sx::max(e03, 1);
  EXPECT_EQ(m1.shape(), (sx::Shape{0}));
  EXPECT_TRUE(sx::to_vector<double>(m1).empty());

  // min/max with nothing to reduce: value_error, as in NumPy.
  EXPECT_THROW(sx::min(e03).evaluate(), sx::value_error);
  EXPECT_THROW(sx::max(v0).evaluate(), sx::value_error);
  EXPECT_THROW(sx::max(e03, 0).evaluate(), sx::value_error);
  EXPECT_THROW(sx::min(e30, -1).evaluate(), sx::value_error);
}

TEST(Reductions, SingleElement) {
  for (const Dims& s : {Dims{1}, Dims{1, 1}, Dims{1, 1, 1}}) {
    const auto x = make_random(s, 41);
    const sx::Array a = sx::from_xtensor(x);
    check_all_ops(x, a);
    EXPECT_EQ(sx::sum(a).item(), x.data()[0]);
    EXPECT_EQ(sx::argmax(a).item(), 0);
  }
  // A 0-d array (itself a reduction result) reduces to itself.
  const double v = 2.5;
  const sx::Array z = sx::from_buffer({}, sx::DType::f64, &v);
  EXPECT_EQ(z.ndim(), 0);
  EXPECT_EQ(sx::sum(z).item(), 2.5);
  EXPECT_EQ(sx::max(z).item(), 2.5);
  EXPECT_EQ(sx::argmin(z).item(), 0);
}

TEST(Reductions, ReductionsOfReductions) {
  const auto x = make_random({7, 5}, 51);
  const sx::Array a = sx::from_xtensor(x);
  EXPECT_NEAR(sx::sum(sx::sum(a, 0)).item(), reduce_all(x, Op::sum), 1e-12);
  EXPECT_NEAR(sx::sum(sx::sum(a, 1)).item(), reduce_all(x, Op::sum), 1e-12);
  EXPECT_NEAR(sx::sum(sx::sum(a, 1), 0).item(), reduce_all(x, Op::sum), 1e-12);
  const auto rows = reduce_axis(x, 1, Op::sum);
  const auto cols = reduce_axis(x, 0, Op::mean);
  EXPECT_EQ(sx::max(sx::sum(a, 1)).item(), reduce_all(rows, Op::max));
  EXPECT_EQ(sx::argmax(sx::sum(a, -1)).item(), reduce_all(rows, Op::argmax));
  EXPECT_EQ(sx::argmin(sx::mean(a, 0)).item(), reduce_all(cols, Op::argmin));
  EXPECT_NEAR(sx::norm(sx::sum(a, 1)).item(), reduce_all(rows, Op::norm), 1e-12);

  const auto y = make_random({3, 4, 5}, 52);
  const sx::Array b = sx::from_xtensor(y);
  const auto y2 = reduce_axis(y, 2, Op::sum);   // (3, 4)
  const auto y20 = reduce_axis(y2, 0, Op::max);  // (4,)
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::max(sx::sum(b, 2), 0)), y20, 1e-12));
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::sum(sx::sum(b, -1), -1)), reduce_axis(y2, 1, Op::sum), 1e-12));
  EXPECT_NEAR(sx::sum(sx::sum(sx::sum(b, 0), 0), 0).item(), reduce_all(y, Op::sum), 1e-12);
  // The same intermediate used twice.
  const sx::Array s = sx::sum(b, 1);
  const auto ys = reduce_axis(y, 1, Op::sum);
  const auto mn = reduce_axis(ys, 0, Op::min);  // (5,)
  const auto mx = reduce_axis(ys, 1, Op::max);  // (3,)
  xt::xarray<double> expected = xt::zeros<double>(Dims{3, 5});
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 5; ++j) expected(i, j) = mn(j) + mx(i);
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::min(s, 0) + sx::max(s, 1).reshape({3, 1})), expected, 1e-12));
}

TEST(Reductions, ReductionsOfExpressions) {
  const auto x = make_random({13, 3}, 61);
  const auto y = make_random({13, 3}, 62);
  const sx::Array a = sx::from_xtensor(x);
  const sx::Array b = sx::from_xtensor(y);
  const xt::xarray<double> d2 = (x - y) * (x - y);
  const xt::xarray<double> lin = x * 2.0 + 1.0;
  const xt::xarray<double> absd = xt::abs(x - y);
  const xt::xarray<double> ex = xt::exp(x);
  const xt::xarray<double> xy = x + y;
  xt::xarray<double> gt = xt::zeros<double>(Dims{13, 3});
  for (std::size_t i = 0; i < gt.size(); ++i) gt.data()[i] = x.data()[i] > y.data()[i] ? 1 : 0;

  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::sum(sx::square(a - b), 1)), reduce_axis(d2, 1, Op::sum), 1e-12));
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::sum(sx::square(a - b), 0)), reduce_axis(d2, 0, Op::sum), 1e-12));
  EXPECT_NEAR(sx::sum(sx::square(a - b)).item(), reduce_all(d2, Op::sum), 1e-12);
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::mean(a * 2.0 + 1.0, 0)), reduce_axis(lin, 0, Op::mean), 1e-12));
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::count_nonzero(a > b, 1)), reduce_axis(gt, 1, Op::sum), 0));
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::norm(a - b, 0)), reduce_axis(x - y, 0, Op::norm), 1e-12));
  EXPECT_EQ(sx::max(sx::abs(a - b)).item(), reduce_all(absd, Op::max));
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::sum(sx::exp(a), -1)), reduce_axis(ex, -1, Op::sum), 1e-12));
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::argmin(a + b, 0)), reduce_axis(xy, 0, Op::argmin), 0));
  // A reduction used inside an expression, broadcast back: centered columns sum to 0.
  const sx::Array centered = a - sx::mean(a, 0);
  const auto c0 = sx::to_xtensor<double>(sx::sum(centered, 0));
  ASSERT_EQ(c0.size(), 3u);
  for (std::size_t j = 0; j < 3; ++j) EXPECT_NEAR(c0(j), 0.0, 1e-12);
  // 3-d expression along each axis.
  const auto u = make_random({3, 4, 5}, 63);
  const sx::Array c = sx::from_xtensor(u);
  const xt::xarray<double> u2 = u * u - u;
  for (int axis = -3; axis < 3; ++axis) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::sum(c * c - c, axis)), reduce_axis(u2, axis, Op::sum), 1e-12));
    EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::argmax(c * c - c, axis)), reduce_axis(u2, axis, Op::argmax), 0));
  }
}

TEST(Reductions, OnTransposedArrays) {
  const auto x = make_random({7, 5}, 71);
  const sx::Array a = sx::from_xtensor(x);
  const xt::xarray<double> xt_ = xt::transpose(x);
  // sum(a.T, 0) is sum(a, 1).
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::sum(a.T(), 0)), reduce_axis(x, 1, Op::sum), 1e-12));
  check_all_ops(xt_, a.T());

  const auto t = int_data({7, 5}, 72, 0, 2);
  check_all_ops(xt::xarray<double>(xt::transpose(t)), sx::from_xtensor(t).T());

  const auto y = make_random({3, 4, 5}, 73);
  const sx::Array b = sx::from_xtensor(y);
  check_all_ops(xt::xarray<double>(xt::transpose(y)), b.T());
  check_all_ops(xt::xarray<double>(xt::transpose(y, {2, 0, 1})), b.transpose({2, 0, 1}));
  // argmax flattens the transposed array in its own C order.
  EXPECT_EQ(sx::argmax(b.transpose({1, 2, 0})).item(),
            reduce_all(xt::xarray<double>(xt::transpose(y, {1, 2, 0})), Op::argmax));
}

TEST(Reductions, OnSlices) {
  const auto x = int_data({13, 7}, 81, -3, 3);
  const sx::Array a = sx::from_xtensor(x);
  // a[1:12:2, ::-1]
  xt::xarray<double> s = xt::zeros<double>(Dims{6, 7});
  for (std::size_t i = 0; i < 6; ++i)
    for (std::size_t j = 0; j < 7; ++j) s(i, j) = x(1 + 2 * i, 6 - j);
  const sx::Array as = a.slice({sx::Range{1, 12, 2}, sx::Range{std::nullopt, std::nullopt, -1}});
  ASSERT_EQ(as.shape(), (sx::Shape{6, 7}));
  check_all_ops(s, as);
  // a[-4:, 2:5]
  xt::xarray<double> t = xt::zeros<double>(Dims{4, 3});
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 3; ++j) t(i, j) = x(9 + i, 2 + j);
  const sx::Array at = a.slice({sx::Range{-4, std::nullopt}, sx::Range{2, 5}});
  check_all_ops(t, at);
  // A single column as a slice, reduced to a scalar.
  xt::xarray<double> col = xt::zeros<double>(Dims{13, 1});
  for (std::size_t i = 0; i < 13; ++i) col(i, 0) = x(i, 3);
  check_all_ops(col, a.slice({sx::Range::all(), sx::Range{3, 4}}));
  // Empty slice: sum 0, sum along axis zeros.
  const sx::Array ae = a.slice({sx::Range{3, 3}});
  EXPECT_EQ(ae.shape(), (sx::Shape{0, 7}));
  EXPECT_EQ(sx::sum(ae).item(), 0.0);
  EXPECT_EQ(sx::to_vector<double>(sx::sum(ae, 0)), std::vector<double>(7, 0.0));
  // Reduction of an expression of slices.
  xt::xarray<double> diff = xt::zeros<double>(Dims{6, 7});
  for (std::size_t i = 0; i < 6; ++i)
    for (std::size_t j = 0; j < 7; ++j) diff(i, j) = x(i, j) - x(i + 7, j);
  const sx::Array d = a.slice({sx::Range{0, 6}}) - a.slice({sx::Range{7, 13}});
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::sum(sx::square(d), 1)),
                        reduce_axis(xt::xarray<double>(diff * diff), 1, Op::sum), 0));
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::argmax(d, 0)), reduce_axis(diff, 0, Op::argmax), 0));
  // 3-d slice with a negative step on the middle axis.
  const auto y = make_random({3, 4, 5}, 82);
  xt::xarray<double> ys = xt::zeros<double>(Dims{3, 2, 5});
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 2; ++j)
      for (std::size_t k = 0; k < 5; ++k) ys(i, j, k) = y(i, 3 - 2 * j, k);
  check_all_ops(ys, sx::from_xtensor(y).slice({sx::Range::all(), sx::Range{std::nullopt, std::nullopt, -2}}));
}

TEST(Reductions, OnEveryLayout) {
  // Tall, wide and product-shaped inputs, so that reductions meet arrays split by rows,
  // by columns (a transposed tall array, a wide product) and replicated ones. Small
  // integers: exact sums and many ties.
  const auto tall = int_data({1000, 7}, 91, -2, 2);
  const sx::Array t = sx::from_xtensor(tall);
  check_all_ops(tall, t);
  const xt::xarray<double> tall_t = xt::transpose(tall);
  check_all_ops(tall_t, t.T());
  // (5, 7) . (7, 1000): a wide product.
  const auto l = int_data({5, 7}, 92, -2, 2);
  const auto w = int_data({7, 1000}, 93, -2, 2);
  xt::xarray<double> lw = xt::zeros<double>(Dims{5, 1000});
  for (std::size_t i = 0; i < 5; ++i)
    for (std::size_t j = 0; j < 1000; ++j)
      for (std::size_t k = 0; k < 7; ++k) lw(i, j) += l(i, k) * w(k, j);
  const sx::Array LW = sx::dot(sx::from_xtensor(l), sx::from_xtensor(w));
  check_all_ops(lw, LW);
  check_all_ops(xt::xarray<double>(xt::transpose(lw)), LW.T());
  // tall^T tall: a small replicated result.
  xt::xarray<double> tt = xt::zeros<double>(Dims{7, 7});
  for (std::size_t i = 0; i < 7; ++i)
    for (std::size_t j = 0; j < 7; ++j)
      for (std::size_t k = 0; k < 1000; ++k) tt(i, j) += tall(k, i) * tall(k, j);
  check_all_ops(tt, sx::dot(t.T(), t));
  // A 3-d array with a long first axis, and its transposes.
  const auto y = int_data({100, 3, 4}, 94, -1, 1);
  const sx::Array b = sx::from_xtensor(y);
  check_all_ops(y, b);
  check_all_ops(xt::xarray<double>(xt::transpose(y, {1, 2, 0})), b.transpose({1, 2, 0}));
}
