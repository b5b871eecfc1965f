// Elementwise operations: arithmetic, comparisons, logical operations, math functions,
// maximum/minimum, where, clip and astype, with NumPy's broadcasting and type
// promotion. Each result, fetched whole on every rank, is compared with the same
// computation done locally with Eigen, xtensor or plain loops.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <xtensor/xarray.hpp>
#include <xtensor/xbroadcast.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include "mpi/test_support.hpp"
#include "spartanxx/spartanxx.hpp"

namespace sx = spartanxx;

namespace {

using spartanxx_test::shape_str;
using spartanxx_test::test_matrix;

using sx::DType;
using sx::Range;
using sx::Shape;
using Mat = Eigen::MatrixXd;
using Arr = Eigen::ArrayXXd;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kRtol = 1e-12;
// For expressions of several operations whose result may cancel to near zero: a few
// ulps of operands of magnitude ~10 (a kernel may fuse a * b + c into one rounding).
constexpr double kAtolChain = 1e-13;



xt::xarray<double> test_xarray(const std::vector<std::size_t>& shape, std::uint64_t seed, double lo = -3,
                               double hi = 3) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  xt::xarray<double> x = xt::xarray<double>::from_shape(shape);
  for (auto& v : x) v = dist(gen);
  return x;
}

// Integer-valued test data in [lo, hi], as int32.
Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic> int_matrix(Eigen::Index rows, Eigen::Index cols,
                                                                       std::uint64_t seed, int lo, int hi) {
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic> m(rows, cols);
  for (Eigen::Index i = 0; i < rows; ++i)
    for (Eigen::Index j = 0; j < cols; ++j) m(i, j) = dist(gen);
  return m;
}

bool close(double a, double e, double rtol, double atol) {
  if (std::isnan(a) || std::isnan(e)) return std::isnan(a) && std::isnan(e);
  if (a == e) return true;  // also equal infinities
  return std::abs(a - e) <= rtol * std::abs(e) + atol;
}

::testing::AssertionResult all_close(const Mat& actual, const Mat& expected, double rtol = kRtol,
                                     double atol = 1e-300) {
  if (actual.rows() != expected.rows() || actual.cols() != expected.cols())
    return ::testing::AssertionFailure() << "size " << actual.rows() << "x" << actual.cols() << ", expected "
                                         << expected.rows() << "x" << expected.cols();
  for (Eigen::Index i = 0; i < actual.rows(); ++i)
    for (Eigen::Index j = 0; j < actual.cols(); ++j)
      if (!close(actual(i, j), expected(i, j), rtol, atol))
        return ::testing::AssertionFailure()
               << "at (" << i << ", " << j << "): " << actual(i, j) << ", expected " << expected(i, j)
               << " (diff " << actual(i, j) - expected(i, j) << ")";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult all_close(const std::vector<double>& actual, const std::vector<double>& expected,
                                     double rtol = kRtol, double atol = 1e-300) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure() << "size " << actual.size() << ", expected " << expected.size();
  for (std::size_t i = 0; i < actual.size(); ++i)
    if (!close(actual[i], expected[i], rtol, atol))
      return ::testing::AssertionFailure()
             << "at flat index " << i << ": " << actual[i] << ", expected " << expected[i];
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult all_close(const xt::xarray<double>& actual, const xt::xarray<double>& expected,
                                     double rtol = kRtol, double atol = 1e-300) {
  if (actual.shape() != expected.shape()) {
    Shape a(actual.shape().begin(), actual.shape().end()),
        e(expected.shape().begin(), expected.shape().end());
    return ::testing::AssertionFailure() << "shape " << shape_str(a) << ", expected " << shape_str(e);
  }
  return all_close(std::vector<double>(actual.begin(), actual.end()),
                   std::vector<double>(expected.begin(), expected.end()), rtol, atol);
}

template <class T>
::testing::AssertionResult same_values(const std::vector<T>& actual, const std::vector<T>& expected) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure() << "size " << actual.size() << ", expected " << expected.size();
  for (std::size_t i = 0; i < actual.size(); ++i)
    if (!(actual[i] == expected[i]) && !(actual[i] != actual[i] && expected[i] != expected[i]))
      return ::testing::AssertionFailure()
             << "at flat index " << i << ": " << +actual[i] << ", expected " << +expected[i];
  return ::testing::AssertionSuccess();
}

// C-order elements of an Eigen matrix or array, converted to T.
template <class T, class Derived>
std::vector<T> c_order(const Eigen::DenseBase<Derived>& m) {
  std::vector<T> v;
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) v.push_back(static_cast<T>(m(i, j)));
  return v;
}

void expect_meta(const sx::Array& a, const Shape& shape, DType dtype) {
  EXPECT_EQ(a.shape(), shape) << shape_str(a.shape()) << " vs " << shape_str(shape);
  EXPECT_EQ(a.dtype(), dtype) << sx::dtype_name(a.dtype()) << " vs " << sx::dtype_name(dtype);
}

double sigmoid_ref(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

// ---------------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------------

TEST(Elementwise, ArithmeticFloat64) {
  const Mat ma = test_matrix(7, 5, 1), mb = test_matrix(7, 5, 2, 0.5, 4);
  const Arr A = ma.array(), B = mb.array();
  auto a = sx::from_eigen(ma), b = sx::from_eigen(mb);
  const Shape s{7, 5};
  expect_meta(a + b, s, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(a + b), (A + B).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(a - b), (A - B).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(a * b), (A * B).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(a / b), (A / B).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(b / a), (B / A).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(-a), (-A).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::add(a, b)), (A + B).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::subtract(a, b)), (A - B).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::multiply(a, b)), (A * B).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::divide(a, b)), (A / B).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::negative(b)), (-B).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(-(-a)), ma));
  EXPECT_TRUE(all_close(sx::to_eigen(a - a), Mat::Zero(7, 5)));
}

TEST(Elementwise, ArithmeticOtherShapes) {
  const std::vector<std::vector<std::size_t>> shapes = {{13},   {1, 9}, {5, 1},    {1},
                                                        {0, 3}, {0},    {5, 3, 7}, {3, 1, 5}};
  std::uint64_t seed = 100;
  for (const auto& shp : shapes) {
    const xt::xarray<double> x = test_xarray(shp, seed++), y = test_xarray(shp, seed++, 0.5, 4);
    const Shape s(shp.begin(), shp.end());
    SCOPED_TRACE(shape_str(s));
    auto a = sx::from_xtensor(x), b = sx::from_xtensor(y);
    expect_meta(a * b, s, DType::f64);
    EXPECT_TRUE(all_close(sx::to_xtensor<double>(a + b), xt::xarray<double>(x + y)));
    EXPECT_TRUE(all_close(sx::to_xtensor<double>(a - b), xt::xarray<double>(x - y)));
    EXPECT_TRUE(all_close(sx::to_xtensor<double>(a * b), xt::xarray<double>(x * y)));
    EXPECT_TRUE(all_close(sx::to_xtensor<double>(a / b), xt::xarray<double>(x / y)));
    EXPECT_TRUE(all_close(sx::to_xtensor<double>(-a), xt::xarray<double>(-x)));
    EXPECT_TRUE(
        all_close(sx::to_xtensor<double>(sx::exp(a) * 2.0 - b), xt::xarray<double>(xt::exp(x) * 2.0 - y)));
  }
}

TEST(Elementwise, ScalarsOnEitherSide) {
  const Mat ma = test_matrix(7, 5, 3, 0.5, 3);
  const Arr A = ma.array();
  auto a = sx::from_eigen(ma);
  expect_meta(a + 2.5, {7, 5}, DType::f64);
  expect_meta(2.5 + a, {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(a + 2.5), (A + 2.5).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(2.5 + a), (2.5 + A).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(a - 2.5), (A - 2.5).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(2.5 - a), (2.5 - A).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(a * -1.5), (A * -1.5).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(-1.5 * a), (-1.5 * A).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(a / 4.0), (A / 4.0).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(4.0 / a), (4.0 / A).matrix()));
  // Integer and float scalars, and the function forms.
  EXPECT_TRUE(all_close(sx::to_eigen(a + 2), (A + 2.0).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(3 - a), (3.0 - A).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(7 / a), (7.0 / A).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(a * 2.0f), (A * 2.0).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::add(a, 1.25)), (A + 1.25).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::add(1.25, a)), (1.25 + A).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::subtract(a, 1)), (A - 1.0).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::subtract(1, a)), (1.0 - A).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::multiply(a, 3)), (A * 3.0).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::multiply(3, a)), (3.0 * A).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::divide(a, 8.0)), (A / 8.0).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::divide(8.0, a)), (8.0 / A).matrix()));
  // A scalar with a 3-d array and with an empty one.
  const xt::xarray<double> x = test_xarray({3, 5, 7}, 4);
  EXPECT_TRUE(
      all_close(sx::to_xtensor<double>(1.5 - sx::from_xtensor(x) * 2), xt::xarray<double>(1.5 - x * 2.0)));
  auto e = sx::zeros({0}) + 2.0;
  expect_meta(e, {0}, DType::f64);
  EXPECT_TRUE(sx::to_vector<double>(e).empty());
}

TEST(Elementwise, DivisionSpecialValues) {
  Mat num(1, 6), den(1, 6);
  num << 1.0, -1.0, 0.0, 5.0, kInf, kNaN;
  den << 0.0, 0.0, 0.0, kInf, kInf, 1.0;
  auto q = sx::from_eigen(num) / sx::from_eigen(den);
  EXPECT_TRUE(all_close(sx::to_eigen(q), (num.array() / den.array()).matrix()));
  const auto v = sx::to_vector<double>(q);
  EXPECT_EQ(v[0], kInf);
  EXPECT_EQ(v[1], -kInf);
  EXPECT_TRUE(std::isnan(v[2]));
  EXPECT_EQ(v[3], 0.0);
  EXPECT_TRUE(std::isnan(v[4]));
  EXPECT_TRUE(std::isnan(v[5]));
}

// ---------------------------------------------------------------------------------
// Comparisons and logical operations
// ---------------------------------------------------------------------------------

std::vector<std::uint8_t> as_bytes(const Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic>& m) {
  return c_order<std::uint8_t>(m.cast<std::uint8_t>());
}

TEST(Elementwise, Comparisons) {
  // Values on a grid of halves so that ties occur; a NaN compares false except in !=.
  Mat ma = (test_matrix(7, 5, 5) * 2).array().round() / 2;
  Mat mb = (test_matrix(7, 5, 6) * 2).array().round() / 2;
  ma(0, 0) = mb(0, 0);
  ma(6, 4) = kNaN;
  mb(3, 2) = kNaN;
  const Arr A = ma.array(), B = mb.array();
  auto a = sx::from_eigen(ma), b = sx::from_eigen(mb);
  expect_meta(a < b, {7, 5}, DType::boolean);
  EXPECT_EQ(sx::to_vector<std::uint8_t>(a == b), as_bytes(A == B));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(a != b), as_bytes(A != B));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(a < b), as_bytes(A < B));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(a <= b), as_bytes(A <= B));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(a > b), as_bytes(A > B));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(a >= b), as_bytes(A >= B));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::equal(a, b)), as_bytes(A == B));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::not_equal(a, b)), as_bytes(A != B));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::less(a, b)), as_bytes(A < B));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::less_equal(a, b)), as_bytes(A <= B));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::greater(a, b)), as_bytes(A > B));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::greater_equal(a, b)), as_bytes(A >= B));
  // With scalars on either side.
  EXPECT_EQ(sx::to_vector<std::uint8_t>(a < 0.5), as_bytes(A < 0.5));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(0.5 < a), as_bytes(0.5 < A));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(a >= 1), as_bytes(A >= 1.0));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(1 >= a), as_bytes(1.0 >= A));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(a == 0.5), as_bytes(A == 0.5));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(0.5 != a), as_bytes(0.5 != A));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::greater(a, -1.0)), as_bytes(A > -1.0));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::less_equal(-1.0, a)), as_bytes(-1.0 <= A));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::equal(1.5, a)), as_bytes(1.5 == A));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::not_equal(a, 1.5)), as_bytes(A != 1.5));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::less(a, 0)), as_bytes(A < 0.0));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::greater_equal(0, a)), as_bytes(0.0 >= A));
  // A boolean result converts to 0.0 / 1.0.
  EXPECT_EQ(sx::to_vector<double>(a < b), c_order<double>((A < B).cast<double>()));
  // Integers compare exactly, also against float scalars.
  const auto mi = int_matrix(7, 5, 7, -5, 5);
  auto ai = sx::from_eigen(mi);
  const Eigen::ArrayXXi I = mi.array();
  EXPECT_EQ(sx::to_vector<std::uint8_t>(ai == 2), as_bytes(I == 2));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(ai < 0.5), as_bytes(I.cast<double>() < 0.5));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(ai > a), as_bytes(I.cast<double>() > A));
}

TEST(Elementwise, Logical) {
  Mat ma = (test_matrix(7, 5, 8)).array().round();  // about a third zeros... or so
  Mat mb = (test_matrix(7, 5, 9) / 2).array().round();
  const Arr A = ma.array(), B = mb.array();
  auto a = sx::from_eigen(ma), b = sx::from_eigen(mb);
  auto pa = a > 0.0, pb = b > 0.0;
  const auto PA = A > 0.0, PB = B > 0.0;
  expect_meta(pa && pb, {7, 5}, DType::boolean);
  EXPECT_EQ(sx::to_vector<std::uint8_t>(pa && pb), as_bytes(PA && PB));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(pa || pb), as_bytes(PA || PB));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(!pa), as_bytes(!PA));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::logical_and(pa, pb)), as_bytes(PA && PB));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::logical_or(pa, pb)), as_bytes(PA || PB));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::logical_not(pb)), as_bytes(!PB));
  // Numbers are true when nonzero, as in NumPy.
  const auto NA = A != 0.0, NB = B != 0.0;
  expect_meta(sx::logical_and(a, b), {7, 5}, DType::boolean);
  expect_meta(sx::logical_not(a), {7, 5}, DType::boolean);
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::logical_and(a, b)), as_bytes(NA && NB));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::logical_or(a, b)), as_bytes(NA || NB));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::logical_not(a)), as_bytes(!NA));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(!a), as_bytes(!NA));
  const auto mi = int_matrix(7, 5, 10, -1, 1);
  const Eigen::ArrayXXi I = mi.array();
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::logical_not(sx::from_eigen(mi))), as_bytes(I == 0));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::from_eigen(mi) && pa), as_bytes((I != 0) && PA));
  // With 0-d operands, and broadcasting.
  const auto yes = sx::full({}, 1.0, DType::boolean), no = sx::full({}, 0.0, DType::boolean);
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::logical_and(pa, yes)), as_bytes(PA));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::logical_or(no, pa)), as_bytes(PA));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(sx::logical_and(no, pa)), std::vector<std::uint8_t>(35, 0));
  auto row = sx::from_eigen(Eigen::VectorXd(mb.row(2).transpose())) > 0.0;  // (5,)
  Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> expected = PA;
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 5; ++j) expected(i, j) = PA(i, j) && (mb(2, j) > 0.0);
  EXPECT_EQ(sx::to_vector<std::uint8_t>(pa && row), as_bytes(expected));
}

// ---------------------------------------------------------------------------------
// Math functions
// ---------------------------------------------------------------------------------

TEST(Elementwise, UnaryMath) {
  const Mat mx = test_matrix(7, 5, 11, -4, 4);
  const Mat mp = test_matrix(7, 5, 12, 0.01, 10);  // positive, for log and sqrt
  const Arr X = mx.array(), P = mp.array();
  auto x = sx::from_eigen(mx), p = sx::from_eigen(mp);
  EXPECT_TRUE(all_close(sx::to_eigen(sx::exp(x)), X.exp().matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::log(p)), P.log().matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::log1p(p)), P.log1p().matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::sqrt(p)), P.sqrt().matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::abs(x)), X.abs().matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::square(x)), X.square().matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::tanh(x)), X.tanh().matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::sigmoid(x)), X.unaryExpr(&sigmoid_ref).matrix()));
  for (auto f : {sx::exp, sx::log1p, sx::abs, sx::square, sx::tanh, sx::sigmoid})
    expect_meta(f(x), {7, 5}, DType::f64);
  // log1p is accurate for tiny arguments, where log(1 + x) is not.
  Mat tiny(1, 5);
  tiny << 1e-10, -1e-12, 1e-300, 3e-17, -2.5e-9;
  EXPECT_TRUE(
      all_close(sx::to_eigen(sx::log1p(sx::from_eigen(tiny))), tiny.array().log1p().matrix(), 1e-12, 0));
  // 3-d, through xtensor.
  const xt::xarray<double> x3 = test_xarray({3, 5, 7}, 13, 0.1, 3);
  auto a3 = sx::from_xtensor(x3);
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::log(a3)), xt::xarray<double>(xt::log(x3))));
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::sqrt(a3)), xt::xarray<double>(xt::sqrt(x3))));
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::tanh(-a3)), xt::xarray<double>(xt::tanh(-x3))));
}

TEST(Elementwise, UnaryMathSpecialValues) {
  Mat m(1, 8);
  m << 0.0, -0.0, -1.0, kInf, -kInf, kNaN, 1000.0, -1000.0;
  auto a = sx::from_eigen(m);
  const auto log_v = sx::to_vector<double>(sx::log(a));
  EXPECT_EQ(log_v[0], -kInf);
  EXPECT_EQ(log_v[1], -kInf);
  EXPECT_TRUE(std::isnan(log_v[2]));
  EXPECT_EQ(log_v[3], kInf);
  EXPECT_TRUE(std::isnan(log_v[4]));
  EXPECT_TRUE(std::isnan(log_v[5]));
  const auto sqrt_v = sx::to_vector<double>(sx::sqrt(a));
  EXPECT_TRUE(std::isnan(sqrt_v[2]));
  EXPECT_EQ(sqrt_v[3], kInf);
  const auto exp_v = sx::to_vector<double>(sx::exp(a));
  EXPECT_EQ(exp_v[0], 1.0);
  EXPECT_EQ(exp_v[3], kInf);
  EXPECT_EQ(exp_v[4], 0.0);
  EXPECT_EQ(exp_v[6], kInf);
  EXPECT_EQ(exp_v[7], 0.0);
  const auto log1p_v = sx::to_vector<double>(sx::log1p(a));
  EXPECT_EQ(log1p_v[2], -kInf);
  const auto tanh_v = sx::to_vector<double>(sx::tanh(a));
  EXPECT_EQ(tanh_v[3], 1.0);
  EXPECT_EQ(tanh_v[4], -1.0);
  EXPECT_EQ(tanh_v[6], 1.0);
  EXPECT_EQ(tanh_v[7], -1.0);
  EXPECT_TRUE(std::isnan(tanh_v[5]));
  const auto abs_v = sx::to_vector<double>(sx::abs(a));
  EXPECT_EQ(abs_v[2], 1.0);
  EXPECT_EQ(abs_v[4], kInf);
  EXPECT_FALSE(std::signbit(abs_v[1]));
  EXPECT_TRUE(std::isnan(sx::to_vector<double>(sx::square(a))[5]));
}

// floor, ceil, sign, isnan and isfinite on dense arrays, against the C library over
// special values (±0, ±inf, NaN, halves, large magnitudes) and random values in every
// dtype, long enough that the vector loops and their tails both run. Integers and
// booleans keep their dtype under floor and ceil (NumPy 2.1 on) and are always finite.
TEST(Elementwise, RoundingSignAndTests) {
  std::vector<double> v = {0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.0, -2.0, 1e300, -1e300, 4.5e15 + 0.5,
                           kInf, -kInf, kNaN, 0x1.0p-1074, -0x1.0p-1074};
  std::mt19937_64 gen(88);
  std::uniform_real_distribution<double> dist(-50, 50);
  while (v.size() < 1037) v.push_back(dist(gen));
  const auto n = static_cast<std::int64_t>(v.size());
  const auto a = sx::from_buffer({n}, DType::f64, v.data());
  std::vector<double> fl, ce, sg;
  std::vector<std::uint8_t> nan, fin;
  for (double x : v) {
    fl.push_back(std::floor(x));
    ce.push_back(std::ceil(x));
    sg.push_back(x > 0 ? 1.0 : x < 0 ? -1.0 : x);  // numpy.sign: ±0 stay, NaN stays
    nan.push_back(std::isnan(x));
    fin.push_back(std::isfinite(x));
  }
  EXPECT_TRUE(same_values(sx::to_vector<double>(sx::floor(a)), fl));
  EXPECT_TRUE(same_values(sx::to_vector<double>(sx::ceil(a)), ce));
  EXPECT_TRUE(same_values(sx::to_vector<double>(sx::sign(a)), sg));
  EXPECT_TRUE(std::signbit(sx::to_vector<double>(sx::floor(a))[1]));  // floor(-0) is -0
  EXPECT_TRUE(std::signbit(sx::to_vector<double>(sx::ceil(a))[3]));   // ceil(-0.5) is -0
  EXPECT_TRUE(same_values(sx::to_vector<std::uint8_t>(sx::isnan(a)), nan));
  EXPECT_TRUE(same_values(sx::to_vector<std::uint8_t>(sx::isfinite(a)), fin));
  expect_meta(sx::floor(a), {n}, DType::f64);
  expect_meta(sx::isnan(a), {n}, DType::boolean);
  expect_meta(sx::isfinite(a), {n}, DType::boolean);

  // float32 computes in float32.
  const auto a32 = a.astype(DType::f32);
  std::vector<float> fl32;
  for (double x : v) fl32.push_back(std::floor(static_cast<float>(x)));
  expect_meta(sx::floor(a32), {n}, DType::f32);
  EXPECT_TRUE(same_values(sx::to_vector<float>(sx::floor(a32)), fl32));
  EXPECT_TRUE(same_values(sx::to_vector<std::uint8_t>(sx::isnan(a32)), nan));

  // Integers and booleans: floor and ceil are the identity in their dtype; no NaN, all finite.
  const auto m = int_matrix(13, 7, 89, -9, 9);
  const auto ai = sx::from_eigen(m);
  for (const DType t : {DType::i32, DType::i64}) {
    const auto x = ai.astype(t);
    expect_meta(sx::floor(x), {13, 7}, t);
    expect_meta(sx::ceil(x), {13, 7}, t);
    EXPECT_TRUE(same_values(sx::to_vector<std::int64_t>(sx::floor(x)), c_order<std::int64_t>(m)));
    EXPECT_TRUE(same_values(sx::to_vector<std::int64_t>(sx::ceil(x)), c_order<std::int64_t>(m)));
    std::vector<std::int64_t> s;
    for (std::int64_t e : c_order<std::int64_t>(m)) s.push_back((e > 0) - (e < 0));
    EXPECT_TRUE(same_values(sx::to_vector<std::int64_t>(sx::sign(x)), s));
    EXPECT_EQ(sx::count_nonzero(sx::isnan(x)).item(), 0.0);
    EXPECT_EQ(sx::count_nonzero(sx::isfinite(x)).item(), 91.0);
  }
  const auto b = ai > 0;
  expect_meta(sx::floor(b), {13, 7}, DType::boolean);
  EXPECT_TRUE(same_values(sx::to_vector<std::uint8_t>(sx::ceil(b)), sx::to_vector<std::uint8_t>(b)));

  // 0-d arrays and scalars in expressions.
  EXPECT_EQ(sx::sign(sx::full({}, -2.5)).item(), -1.0);
  EXPECT_EQ(sx::floor(sx::full({}, -2.5)).item(), -3.0);
  EXPECT_EQ(sx::ceil(sx::full({}, -2.5) * 2 + 0.5).item(), -4.0);
  EXPECT_EQ(sx::isnan(sx::full({}, kNaN)).item(), 1.0);
  EXPECT_EQ(sx::isfinite(sx::full({}, kInf) - 1).item(), 0.0);
  // Fused with others: one pass.
  const auto f = sx::where(sx::isfinite(a), sx::floor(a * 0.5) + sx::ceil(a * 0.5), 0.0);
  std::vector<double> fe;
  for (double x : v) fe.push_back(std::isfinite(x) ? std::floor(x * 0.5) + std::ceil(x * 0.5) : 0.0);
  EXPECT_TRUE(same_values(sx::to_vector<double>(f), fe));
}

// Extreme and subnormal arguments give what the C library gives (and so NumPy): large
// enough arrays that vectorized kernels run, each value repeated on every rank's part.
TEST(Elementwise, ExtremeArgumentsMatchLibm) {
  const std::vector<double> xs{1e-310, 4.9e-324, -720.0, 1e308, 0.0,    -8.0, kNaN, 1.0,
                               2.0,    -kInf,    kInf,   0.5,   1e-200, 3.0,  -2.0, -745.5};
  const std::vector<double> ys{2.0,  0.5, 1.0,  2.0,   -1.0, 1.0 / 3, 0.0, kNaN,
                               kInf, 3.0, -2.0, -kInf, 2.0,  1e10,    0.5, 2.0};
  const int reps = 16;
  Mat mx(reps, 16), my(reps, 16);
  for (int i = 0; i < reps; ++i)
    for (int j = 0; j < 16; ++j) mx(i, j) = xs[j], my(i, j) = ys[j];
  auto x = sx::from_eigen(mx), y = sx::from_eigen(my);
  struct Unary {
    const char* name;
    sx::Array (*op)(const sx::Array&);
    double (*ref)(double);
  };
  const Unary unary[] = {{"exp", sx::exp, [](double v) { return std::exp(v); }},
                         {"log", sx::log, [](double v) { return std::log(v); }},
                         {"log1p", sx::log1p, [](double v) { return std::log1p(v); }},
                         {"sqrt", sx::sqrt, [](double v) { return std::sqrt(v); }},
                         {"tanh", sx::tanh, [](double v) { return std::tanh(v); }},
                         {"abs", sx::abs, [](double v) { return std::abs(v); }},
                         {"square", sx::square, [](double v) { return v * v; }}};
  for (const auto& u : unary) {
    const auto got = sx::to_vector<double>(u.op(x));
    ASSERT_EQ(got.size(), static_cast<std::size_t>(reps * 16));
    for (int j = 0; j < 16; ++j) {
      // Subnormal results carry fewer significant bits: 1e-9 relative.
      EXPECT_TRUE(close(got[static_cast<std::size_t>(j)], u.ref(xs[j]), 1e-9, 0))
          << u.name << "(" << xs[j] << ") = " << got[static_cast<std::size_t>(j)] << ", expected "
          << u.ref(xs[j]);
      for (int i = 1; i < reps; ++i)
        ASSERT_TRUE(close(got[static_cast<std::size_t>(i * 16 + j)], got[static_cast<std::size_t>(j)], 0, 0))
            << u.name << ": the same argument gave different results in different rows";
    }
  }
  const auto pw = sx::to_vector<double>(sx::power(x, y));
  for (int j = 0; j < 16; ++j)
    EXPECT_TRUE(close(pw[static_cast<std::size_t>(j)], std::pow(xs[j], ys[j]), 1e-12, 0))
        << "power(" << xs[j] << ", " << ys[j] << ") = " << pw[static_cast<std::size_t>(j)] << ", expected "
        << std::pow(xs[j], ys[j]);
}

TEST(Elementwise, SigmoidLargeMagnitude) {
  Mat m(1, 14);
  m << -1000.0, -800.0, -745.0, -710.0, -50.0, -1.0, 0.0, 1.0, 50.0, 710.0, 800.0, 1000.0, kInf, -kInf;
  const auto v = sx::to_vector<double>(sx::sigmoid(sx::from_eigen(m)));
  ASSERT_EQ(v.size(), 14u);
  for (std::size_t i = 0; i < v.size(); ++i) {
    EXPECT_FALSE(std::isnan(v[i])) << "sigmoid(" << m(0, i) << ") is NaN";
    EXPECT_GE(v[i], 0.0);
    EXPECT_LE(v[i], 1.0);
    if (i > 0 && i < 13) {
      EXPECT_LE(v[i - 1], v[i]) << "not monotone at " << m(0, i);
    }
  }
  EXPECT_EQ(v[0], 0.0);
  EXPECT_EQ(v[11], 1.0);
  EXPECT_EQ(v[12], 1.0);
  EXPECT_EQ(v[13], 0.0);
  EXPECT_EQ(v[6], 0.5);
  EXPECT_EQ(v[10], 1.0);
  // Small but representable values are not flushed: sigmoid(-710) = exp(-710) / (1 + exp(-710)).
  EXPECT_TRUE(close(v[3], sigmoid_ref(-710.0), 1e-12, 0)) << v[3];
  EXPECT_TRUE(close(v[4], sigmoid_ref(-50.0), 1e-12, 0)) << v[4];
  EXPECT_TRUE(close(v[8], sigmoid_ref(50.0), 1e-12, 0)) << v[8];
  // float32 as well.
  auto f = sx::sigmoid(sx::from_eigen(m).astype(DType::f32));
  EXPECT_EQ(f.dtype(), DType::f32);
  const auto vf = sx::to_vector<float>(f);
  for (std::size_t i = 0; i < vf.size(); ++i) {
    EXPECT_FALSE(std::isnan(vf[i])) << "float32 sigmoid(" << m(0, i) << ") is NaN";
    EXPECT_GE(vf[i], 0.0f);
    EXPECT_LE(vf[i], 1.0f);
  }
  EXPECT_EQ(vf[0], 0.0f);
  EXPECT_EQ(vf[11], 1.0f);
}

TEST(Elementwise, Power) {
  const Mat mb = test_matrix(7, 5, 14, 0.1, 3), me = test_matrix(7, 5, 15, -2, 2);
  const Arr B = mb.array(), E = me.array();
  auto b = sx::from_eigen(mb), e = sx::from_eigen(me);
  expect_meta(sx::power(b, e), {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(sx::power(b, e)), B.pow(E).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::pow(b, e)), B.pow(E).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::power(b, 2)), B.square().matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::pow(b, 0.5)), B.sqrt().matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::power(b, -1.5)), B.pow(-1.5).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::power(2.0, e)), Arr::Constant(7, 5, 2.0).pow(E).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::pow(3, e)), Arr::Constant(7, 5, 3.0).pow(E).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::power(b, 0)), Mat::Ones(7, 5)));
  // Broadcasting: (7, 5) ** (5,).
  const Eigen::VectorXd ev = me.row(0).transpose();
  Arr expected(7, 5);
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 5; ++j) expected(i, j) = std::pow(mb(i, j), ev(j));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::power(b, sx::from_eigen(ev))), expected.matrix()));
  // Integers to non-negative integer powers stay integers and are exact.
  const auto mi = int_matrix(7, 5, 16, -6, 6), mk = int_matrix(7, 5, 17, 0, 5);
  auto ip = sx::power(sx::from_eigen(mi), sx::from_eigen(mk));
  expect_meta(ip, {7, 5}, DType::i32);
  std::vector<std::int32_t> expected_i;
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 5; ++j) {
      std::int32_t r = 1;
      for (int k = 0; k < mk(i, j); ++k) r *= mi(i, j);
      expected_i.push_back(r);
    }
  EXPECT_TRUE(same_values(sx::to_vector<std::int32_t>(ip), expected_i));
}

TEST(Elementwise, MaximumMinimum) {
  const Mat ma = test_matrix(7, 5, 18), mb = test_matrix(7, 5, 19);
  const Arr A = ma.array(), B = mb.array();
  auto a = sx::from_eigen(ma), b = sx::from_eigen(mb);
  EXPECT_TRUE(all_close(sx::to_eigen(sx::maximum(a, b)), A.max(B).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::minimum(a, b)), A.min(B).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::maximum(a, 0.0)), A.max(0.0).matrix()));  // relu
  EXPECT_TRUE(all_close(sx::to_eigen(sx::maximum(0, a)), A.max(0.0).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::minimum(1.0, a)), A.min(1.0).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::minimum(a, -1)), A.min(-1.0).matrix()));
  // Broadcasting a column against a row.
  const Eigen::VectorXd col = ma.col(1), row = mb.row(3).transpose();
  Arr expected(7, 5);
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 5; ++j) expected(i, j) = std::max(col(i), row(j));
  auto c = sx::from_eigen(Mat(col)).reshape({7, 1}), r = sx::from_eigen(row);
  EXPECT_TRUE(all_close(sx::to_eigen(sx::maximum(c, r)), expected.matrix()));
  // Mixed dtypes promote.
  const auto mi = int_matrix(7, 5, 20, -3, 3);
  auto m = sx::maximum(sx::from_eigen(mi), a);
  expect_meta(m, {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(m), mi.cast<double>().array().max(A).matrix()));
  auto mi32 = sx::minimum(sx::from_eigen(mi), 1);
  expect_meta(mi32, {7, 5}, DType::i32);
  EXPECT_TRUE(same_values(sx::to_vector<std::int32_t>(mi32), c_order<std::int32_t>(mi.array().min(1))));
}

TEST(ElementwiseNaN, MaximumMinimumPropagate) {
  Mat ma(2, 4), mb(2, 4);
  ma << kNaN, 1.0, kNaN, -kInf, 2.0, kInf, -0.5, 3.0;
  mb << 1.0, kNaN, kNaN, 5.0, kInf, -kInf, 7.0, kNaN;
  auto a = sx::from_eigen(ma), b = sx::from_eigen(mb);
  const auto mx = sx::to_vector<double>(sx::maximum(a, b));
  const auto mn = sx::to_vector<double>(sx::minimum(a, b));
  const std::vector<double> expected_max{kNaN, kNaN, kNaN, 5.0, kInf, kInf, 7.0, kNaN};
  const std::vector<double> expected_min{kNaN, kNaN, kNaN, -kInf, 2.0, -kInf, -0.5, kNaN};
  EXPECT_TRUE(all_close(mx, expected_max));
  EXPECT_TRUE(all_close(mn, expected_min));
  // NaN on either side of a scalar.
  const auto s1 = sx::to_vector<double>(sx::maximum(a, 0.0));
  EXPECT_TRUE(std::isnan(s1[0]));
  EXPECT_TRUE(std::isnan(s1[2]));
  EXPECT_EQ(s1[1], 1.0);
  const auto s2 = sx::to_vector<double>(sx::minimum(kNaN, b));
  for (double v : s2) EXPECT_TRUE(std::isnan(v));
  // clip follows from maximum/minimum: NaN stays NaN.
  const auto c = sx::to_vector<double>(sx::clip(a, -1.0, 1.0));
  EXPECT_TRUE(std::isnan(c[0]));
  EXPECT_EQ(c[3], -1.0);
  EXPECT_EQ(c[5], 1.0);
}

// ---------------------------------------------------------------------------------
// where and clip
// ---------------------------------------------------------------------------------

TEST(Elementwise, Where) {
  const Mat ma = test_matrix(7, 5, 21), mb = test_matrix(7, 5, 22);
  const Arr A = ma.array(), B = mb.array();
  auto a = sx::from_eigen(ma), b = sx::from_eigen(mb);
  auto w = sx::where(a > b, a, b);
  expect_meta(w, {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(w), (A > B).select(A, B).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::where(a > 0.0, a, 0.0)), (A > 0.0).select(A, 0.0).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::where(a > 0.0, -1.0, b)),
                        (A > 0.0).select(Arr::Constant(7, 5, -1.0), B).matrix()));
  // Two scalars: ints give int64, as numpy.where(c, 1, 0).
  auto ws = sx::where(a > 0.0, 1, 0);
  expect_meta(ws, {7, 5}, DType::i64);
  EXPECT_TRUE(
      same_values(sx::to_vector<std::int64_t>(ws), c_order<std::int64_t>((A > 0.0).cast<std::int64_t>())));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::where(a > 0.0, 2.5, -2.5)),
                        (A > 0.0).select(Arr::Constant(7, 5, 2.5), Arr::Constant(7, 5, -2.5)).matrix()));
  // A non-boolean condition is true where nonzero.
  Mat mc = ma.array().round();
  auto wc = sx::where(sx::from_eigen(mc), a, b);
  EXPECT_TRUE(all_close(sx::to_eigen(wc), (mc.array() != 0.0).select(A, B).matrix()));
  // Broadcasting all three: cond (7, 1), a (1, 5), b scalar -> (7, 5).
  const Mat cond_col = test_matrix(7, 1, 23), row = test_matrix(1, 5, 24);
  auto wb = sx::where(sx::from_eigen(cond_col) > 0.0, sx::from_eigen(row), 9.0);
  expect_meta(wb, {7, 5}, DType::f64);
  Mat expected(7, 5);
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 5; ++j) expected(i, j) = cond_col(i, 0) > 0.0 ? row(0, j) : 9.0;
  EXPECT_TRUE(all_close(sx::to_eigen(wb), expected));
  // Mixed dtypes promote: int32 and float32 give float64.
  const auto mi = int_matrix(7, 5, 25, -9, 9);
  auto wm = sx::where(a > 0.0, sx::from_eigen(mi), b.astype(DType::f32));
  expect_meta(wm, {7, 5}, DType::f64);
  EXPECT_TRUE(
      all_close(sx::to_eigen(wm),
                (A > 0.0).select(mi.cast<double>().array(), B.cast<float>().cast<double>()).matrix()));
}

TEST(Elementwise, Clip) {
  const Mat ma = test_matrix(7, 5, 26);
  const Arr A = ma.array();
  auto a = sx::from_eigen(ma);
  auto c = sx::clip(a, -1.0, 1.0);
  expect_meta(c, {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(c), A.max(-1.0).min(1.0).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::clip(a, 0, 2)), A.max(0.0).min(2.0).matrix()));
  // Array bounds that broadcast: lo (5,), hi (7, 1).
  const Eigen::VectorXd lo = test_matrix(5, 1, 27, -2, 0), hi = test_matrix(7, 1, 28, 0, 2);
  auto cb = sx::clip(a, sx::from_eigen(lo), sx::from_eigen(Mat(hi)));
  expect_meta(cb, {7, 5}, DType::f64);
  Mat expected(7, 5);
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 5; ++j) expected(i, j) = std::min(std::max(ma(i, j), lo(j)), hi(i));
  EXPECT_TRUE(all_close(sx::to_eigen(cb), expected));
  // Integers with integer bounds stay int32.
  const auto mi = int_matrix(7, 5, 29, -20, 20);
  auto ci = sx::clip(sx::from_eigen(mi), 0, 10);
  expect_meta(ci, {7, 5}, DType::i32);
  EXPECT_TRUE(same_values(sx::to_vector<std::int32_t>(ci), c_order<std::int32_t>(mi.array().max(0).min(10))));
}

// ---------------------------------------------------------------------------------
// astype
// ---------------------------------------------------------------------------------

TEST(Elementwise, Astype) {
  Mat m = test_matrix(7, 5, 30, -100, 100);
  m(0, 0) = 0.0;
  m(0, 1) = -2.7;
  m(0, 2) = 2.7;
  m(0, 3) = -0.0;
  auto a = sx::from_eigen(m);
  auto i32 = a.astype(DType::i32);
  expect_meta(i32, {7, 5}, DType::i32);
  // C++ conversion: truncation toward zero.
  EXPECT_TRUE(same_values(sx::to_vector<std::int32_t>(i32), c_order<std::int32_t>(m)));
  EXPECT_TRUE(same_values(sx::to_vector<std::int64_t>(a.astype(DType::i64)), c_order<std::int64_t>(m)));
  EXPECT_EQ(sx::to_vector<std::int32_t>(i32)[1], -2);
  auto f32 = a.astype(DType::f32);
  expect_meta(f32, {7, 5}, DType::f32);
  EXPECT_TRUE(same_values(sx::to_vector<float>(f32), c_order<float>(m)));
  auto bl = a.astype(DType::boolean);
  expect_meta(bl, {7, 5}, DType::boolean);
  EXPECT_EQ(sx::to_vector<std::uint8_t>(bl), as_bytes(m.array() != 0.0));
  EXPECT_EQ(sx::to_vector<std::uint8_t>(bl)[3], 0);  // -0.0 is false
  // And back: bool -> float64 / int32, int32 -> float64, float32 -> float64.
  EXPECT_TRUE(all_close(sx::to_eigen(bl.astype(DType::f64)), (m.array() != 0.0).cast<double>().matrix()));
  EXPECT_TRUE(same_values(sx::to_vector<std::int32_t>(bl.astype(DType::i32)),
                          c_order<std::int32_t>((m.array() != 0.0).cast<std::int32_t>())));
  EXPECT_TRUE(all_close(sx::to_eigen(i32.astype(DType::f64)), m.cast<std::int32_t>().cast<double>()));
  EXPECT_TRUE(all_close(sx::to_eigen(f32.astype(DType::f64)), m.cast<float>().cast<double>(), 0, 0));
  // Same dtype: an equal copy.
  EXPECT_TRUE(all_close(sx::to_eigen(a.astype(DType::f64)), m, 0, 0));
  // Large int64 values survive int64 -> float64 -> int64 when exactly representable.
  std::vector<std::int64_t> big{std::int64_t{1} << 52, -(std::int64_t{1} << 40) - 3, 0, 17, -1};
  auto bi = sx::from_buffer({5}, DType::i64, big.data());
  EXPECT_TRUE(same_values(sx::to_vector<std::int64_t>(bi.astype(DType::f64).astype(DType::i64)), big));
  // Empty and 3-d arrays.
  expect_meta(sx::zeros({0, 3}).astype(DType::i32), {0, 3}, DType::i32);
  const xt::xarray<double> x3 = test_xarray({3, 5, 7}, 31, -50, 50);
  std::vector<std::int64_t> expected3;
  for (double v : x3) expected3.push_back(static_cast<std::int64_t>(v));
  EXPECT_TRUE(same_values(sx::to_vector<std::int64_t>(sx::from_xtensor(x3).astype(DType::i64)), expected3));
}

// ---------------------------------------------------------------------------------
// Broadcasting
// ---------------------------------------------------------------------------------

TEST(ElementwiseBroadcast, MatrixWithRowVector) {
  const Mat ma = test_matrix(7, 5, 40);
  const Eigen::VectorXd v = test_matrix(5, 1, 41);
  auto r = sx::from_eigen(ma) + sx::from_eigen(v);  // (7, 5) + (5,)
  expect_meta(r, {7, 5}, DType::f64);
  const Mat expected = (ma.rowwise() + v.transpose());
  EXPECT_TRUE(all_close(sx::to_eigen(r), expected));
  // The other way round: (5,) - (7, 5).
  auto r2 = sx::from_eigen(v) - sx::from_eigen(ma);
  expect_meta(r2, {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(r2), Mat((-ma).rowwise() + v.transpose())));
}

TEST(ElementwiseBroadcast, MatrixWithColumn) {
  const Mat ma = test_matrix(7, 5, 42), col = test_matrix(7, 1, 43);
  auto r = sx::from_eigen(ma) + sx::from_eigen(col);  // (7, 5) + (7, 1)
  expect_meta(r, {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(r), Mat(ma.colwise() + col.col(0))));
  auto q = sx::from_eigen(ma) / sx::from_eigen(col);
  Mat expected(7, 5);
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 5; ++j) expected(i, j) = ma(i, j) / col(i, 0);
  EXPECT_TRUE(all_close(sx::to_eigen(q), expected));
}

TEST(ElementwiseBroadcast, OuterProductShape) {
  const Mat col = test_matrix(7, 1, 44), row = test_matrix(1, 5, 45);
  auto r = sx::from_eigen(col) * sx::from_eigen(row);  // (7, 1) * (1, 5) -> (7, 5)
  expect_meta(r, {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(r), Mat(col * row)));
  // (1, 9) + (5, 1) -> (5, 9)
  const Mat row9 = test_matrix(1, 9, 46), col5 = test_matrix(5, 1, 47);
  auto s = sx::from_eigen(row9) + sx::from_eigen(col5);
  expect_meta(s, {5, 9}, DType::f64);
  Mat expected(5, 9);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 9; ++j) expected(i, j) = row9(0, j) + col5(i, 0);
  EXPECT_TRUE(all_close(sx::to_eigen(s), expected));
}

TEST(ElementwiseBroadcast, ThreeDimensional) {
  const xt::xarray<double> x = test_xarray({3, 4, 5}, 48), y = test_xarray({4, 1}, 49);
  auto r = sx::from_xtensor(x) + sx::from_xtensor(y);  // (3, 4, 5) + (4, 1)
  expect_meta(r, {3, 4, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(r), xt::xarray<double>(x + y)));
  // (3, 1, 5) * (4, 1) -> (3, 4, 5)
  const xt::xarray<double> z = test_xarray({3, 1, 5}, 50);
  auto q = sx::from_xtensor(z) * sx::from_xtensor(y);
  expect_meta(q, {3, 4, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(q), xt::xarray<double>(z * y)));
  // (5,) - (3, 4, 5)
  const xt::xarray<double> w = test_xarray({5}, 51);
  auto p = sx::from_xtensor(w) - sx::from_xtensor(x);
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(p), xt::xarray<double>(w - x)));
  // (5, 3, 7) with (7,), (3, 1) and (5, 1, 1)
  const xt::xarray<double> big = test_xarray({5, 3, 7}, 52), v7 = test_xarray({7}, 53),
                           c3 = test_xarray({3, 1}, 54), d5 = test_xarray({5, 1, 1}, 55);
  auto abig = sx::from_xtensor(big);
  auto combined = abig * sx::from_xtensor(v7) + sx::from_xtensor(c3) - sx::from_xtensor(d5);
  expect_meta(combined, {5, 3, 7}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(combined), xt::xarray<double>(big * v7 + c3 - d5)));
}

TEST(ElementwiseBroadcast, ZeroDimensionalAndLengthOne) {
  const Mat ma = test_matrix(7, 5, 56);
  auto a = sx::from_eigen(ma);
  // A 0-d array from a full reduction broadcasts like a scalar, on either side.
  auto total = sx::sum(a);
  EXPECT_EQ(total.ndim(), 0);
  const double t = ma.sum();
  auto r = a - total;
  expect_meta(r, {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(r), (ma.array() - t).matrix(), 1e-12, 1e-12));
  EXPECT_TRUE(all_close(sx::to_eigen(total * a), (t * ma.array()).matrix(), 1e-12, 1e-12));
  auto two = sx::full({}, 2.5);
  EXPECT_TRUE(all_close(sx::to_eigen(two / a), (2.5 / ma.array()).matrix()));
  // 0-d with 0-d stays 0-d.
  auto zz = sx::exp(two) + two;
  expect_meta(zz, {}, DType::f64);
  EXPECT_TRUE(close(zz.item(), std::exp(2.5) + 2.5, 1e-12, 0));
  // (13,) + (1,)
  const Mat v = test_matrix(13, 1, 57);
  auto s = sx::from_eigen(Eigen::VectorXd(v)) + sx::full({1}, 0.75);
  expect_meta(s, {13}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(s), (v.array() + 0.75).matrix()));
  // (1, 1) with (7, 5)
  EXPECT_TRUE(all_close(sx::to_eigen(sx::full({1, 1}, 3.0) * a), (3.0 * ma.array()).matrix()));
}

// Arrays large enough that kernels work in several chunks per tile, with broadcast
// operands whose rows restart inside a chunk.
TEST(ElementwiseBroadcast, LargeArraysAcrossChunks) {
  const Mat big = test_matrix(1001, 37, 59), other = test_matrix(1001, 37, 60, 0.5, 2);
  const Eigen::VectorXd row = test_matrix(37, 1, 61);
  const Mat col = test_matrix(1001, 1, 62);
  auto a = sx::from_eigen(big), b = sx::from_eigen(other);
  auto r = sx::from_eigen(row);
  auto c = sx::from_eigen(col);
  Mat expected(1001, 37);
  for (int i = 0; i < 1001; ++i)
    for (int j = 0; j < 37; ++j)
      expected(i, j) = (big(i, j) + row(j)) * col(i, 0) - std::exp(-other(i, j)) / other(i, j);
  // Absolute slack of a few ulps of the operands: fused multiply-adds may round differently
  // where the result cancels to near zero.
  const double atol = kAtolChain;
  EXPECT_TRUE(all_close(sx::to_eigen((a + r) * c - sx::exp(-b) / b), expected, kRtol, atol));
  // The outer product of a column and a row.
  EXPECT_TRUE(all_close(sx::to_eigen(c * sx::from_eigen(Mat(row.transpose()))), Mat(col * row.transpose())));
  // where with every operand broadcast differently.
  Mat expected_w(1001, 37);
  for (int i = 0; i < 1001; ++i)
    for (int j = 0; j < 37; ++j) expected_w(i, j) = col(i, 0) > 0.0 ? row(j) : big(i, j);
  EXPECT_TRUE(all_close(sx::to_eigen(sx::where(c > 0.0, r, a)), expected_w));
  // A transposed large operand.
  const Mat t = test_matrix(37, 1001, 63);
  EXPECT_TRUE(all_close(sx::to_eigen(a.T() * sx::from_eigen(t) + 1.0),
                        (big.transpose().array() * t.array() + 1.0).matrix(), kRtol, atol));
  // 3-d: (13, 101, 7) + (101, 1) and * (7,)
  const xt::xarray<double> x = test_xarray({13, 101, 7}, 64), y = test_xarray({101, 1}, 65),
                           z = test_xarray({7}, 66);
  EXPECT_TRUE(
      all_close(sx::to_xtensor<double>((sx::from_xtensor(x) + sx::from_xtensor(y)) * sx::from_xtensor(z)),
                xt::xarray<double>((x + y) * z)));
  // A large random array against its own values fetched whole.
  auto u = sx::random::uniform({1001, 37}, 67);
  const auto uv = sx::to_vector<double>(u);
  Mat U(1001, 37);
  for (int i = 0; i < 1001; ++i)
    for (int j = 0; j < 37; ++j) U(i, j) = uv[static_cast<std::size_t>(i * 37 + j)];
  EXPECT_TRUE(all_close(sx::to_eigen(sx::sigmoid(u * 8.0 - 4.0) + a),
                        (((U.array() * 8.0 - 4.0).unaryExpr(&sigmoid_ref)) + big.array()).matrix(), kRtol,
                        atol));
}

TEST(ElementwiseBroadcast, Empty) {
  const Mat row = test_matrix(1, 3, 58);
  auto e = sx::zeros({0, 3});
  auto r1 = e + sx::from_eigen(Eigen::VectorXd(row.transpose()));  // (0, 3) + (3,)
  expect_meta(r1, {0, 3}, DType::f64);
  EXPECT_TRUE(sx::to_vector<double>(r1).empty());
  auto r2 = sx::from_eigen(row) * e;  // (1, 3) * (0, 3)
  expect_meta(r2, {0, 3}, DType::f64);
  EXPECT_EQ(sx::to_eigen(r2).rows(), 0);
  auto r3 = e - sx::ones({0, 1});  // (0, 3) - (0, 1)
  expect_meta(r3, {0, 3}, DType::f64);
  EXPECT_TRUE(sx::to_vector<double>(r3).empty());
  auto r4 = sx::ones({5, 1}) + sx::zeros({0});  // (5, 1) + (0,) -> (5, 0)
  expect_meta(r4, {5, 0}, DType::f64);
  EXPECT_TRUE(sx::to_vector<double>(r4).empty());
  auto r5 = sx::exp(e) > 0.0;
  expect_meta(r5, {0, 3}, DType::boolean);
  EXPECT_TRUE(sx::to_vector<std::uint8_t>(r5).empty());
}

// ---------------------------------------------------------------------------------
// Type promotion
// ---------------------------------------------------------------------------------

TEST(ElementwisePromotion, ArrayArray) {
  const auto mi = int_matrix(7, 5, 60, -50, 50);
  const Mat md = test_matrix(7, 5, 61);
  const Eigen::MatrixXf mf = md.cast<float>();
  auto ai = sx::from_eigen(mi), af = sx::from_eigen(mf), ad = sx::from_eigen(md);
  // int32 + float32 -> float64 (float32 cannot hold every int32).
  auto r = ai + af;
  expect_meta(r, {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(r), (mi.cast<double>() + mf.cast<double>())));
  // float32 + float32 stays float32, computed in float.
  auto ff = af * af;
  expect_meta(ff, {7, 5}, DType::f32);
  EXPECT_TRUE(
      same_values(sx::to_vector<float>(ff), c_order<float>(Eigen::ArrayXXf(mf.array() * mf.array()))));
  // float32 + float64 -> float64
  expect_meta(af + ad, {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(af + ad), mf.cast<double>() + md));
  // int32 + int64 -> int64
  Eigen::Matrix<std::int64_t, Eigen::Dynamic, Eigen::Dynamic> ml =
      mi.cast<std::int64_t>() * std::int64_t{100000};
  auto il = ai + sx::from_eigen(ml);
  expect_meta(il, {7, 5}, DType::i64);
  EXPECT_TRUE(
      same_values(sx::to_vector<std::int64_t>(il),
                  c_order<std::int64_t>(Eigen::Matrix<std::int64_t, -1, -1>(mi.cast<std::int64_t>() + ml))));
  // int32 + int32 stays int32.
  auto ii = ai * ai - ai;
  expect_meta(ii, {7, 5}, DType::i32);
  EXPECT_TRUE(same_values(sx::to_vector<std::int32_t>(ii),
                          c_order<std::int32_t>(Eigen::ArrayXXi(mi.array() * mi.array() - mi.array()))));
  // bool * int32 -> int32
  auto bi = (ad > 0.0) * ai;
  expect_meta(bi, {7, 5}, DType::i32);
  EXPECT_TRUE(
      same_values(sx::to_vector<std::int32_t>(bi),
                  c_order<std::int32_t>(Eigen::ArrayXXi((md.array() > 0.0).cast<int>() * mi.array()))));
}

TEST(ElementwisePromotion, TrueDivision) {
  const auto mi = int_matrix(7, 5, 62, -50, 50);
  auto mk = int_matrix(7, 5, 63, 1, 9);
  auto q = sx::from_eigen(mi) / sx::from_eigen(mk);
  expect_meta(q, {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(q), (mi.cast<double>().array() / mk.cast<double>().array()).matrix()));
  auto q64 = sx::arange(13) / sx::full({13}, 4.0, DType::i64);
  expect_meta(q64, {13}, DType::f64);
  std::vector<double> expected;
  for (int i = 0; i < 13; ++i) expected.push_back(i / 4.0);
  EXPECT_TRUE(all_close(sx::to_vector<double>(q64), expected));
  // An int array divided by an int scalar is also true division.
  auto qs = sx::from_eigen(mi) / 2;
  expect_meta(qs, {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(qs), (mi.cast<double>().array() / 2.0).matrix()));
  auto qf = sx::from_eigen(mk).astype(DType::f32) / sx::from_eigen(mk);  // float32 / int32 -> float64
  EXPECT_EQ(qf.dtype(), DType::f64);
}

TEST(ElementwisePromotion, WeakScalars) {
  const auto mi = int_matrix(7, 5, 64, -50, 50);
  const Mat md = test_matrix(7, 5, 65);
  const Eigen::MatrixXf mf = md.cast<float>();
  auto ai = sx::from_eigen(mi), af = sx::from_eigen(mf);
  // float32 * 2.0 stays float32.
  auto f2 = af * 2.0;
  expect_meta(f2, {7, 5}, DType::f32);
  expect_meta(2.0 * af, {7, 5}, DType::f32);
  EXPECT_TRUE(same_values(sx::to_vector<float>(f2), c_order<float>(Eigen::ArrayXXf(mf.array() * 2.0f))));
  expect_meta(af + 1.5, {7, 5}, DType::f32);
  expect_meta(af - 3, {7, 5}, DType::f32);  // float32 with a C++ int: float32
  // int32 + 1 stays int32.
  auto i1 = ai + 1;
  expect_meta(i1, {7, 5}, DType::i32);
  expect_meta(1 + ai, {7, 5}, DType::i32);
  EXPECT_TRUE(
      same_values(sx::to_vector<std::int32_t>(i1), c_order<std::int32_t>(Eigen::ArrayXXi(mi.array() + 1))));
  expect_meta(ai * std::int64_t{3}, {7, 5}, DType::i32);
  expect_meta(ai - true, {7, 5}, DType::i32);
  // int array + 1.5 -> float64
  auto i15 = ai + 1.5;
  expect_meta(i15, {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(i15), (mi.cast<double>().array() + 1.5).matrix()));
  expect_meta(2.5 * ai, {7, 5}, DType::f64);
  // A bool array with an int scalar gives int64 (NumPy's default integer).
  auto b1 = (sx::from_eigen(md) > 0.0) + 1;
  expect_meta(b1, {7, 5}, DType::i64);
  EXPECT_TRUE(same_values(sx::to_vector<std::int64_t>(b1),
                          c_order<std::int64_t>((md.array() > 0.0).cast<std::int64_t>() + std::int64_t{1})));
  // A bool array with a float scalar gives float64.
  expect_meta((sx::from_eigen(md) > 0.0) * 0.5, {7, 5}, DType::f64);
  // Scalars in comparisons do not change the bool result.
  expect_meta(af < 1, {7, 5}, DType::boolean);
  expect_meta(ai == 2.5, {7, 5}, DType::boolean);
}

TEST(ElementwisePromotion, FunctionResultTypes) {
  const auto mi = int_matrix(7, 5, 66, 0, 20);
  const Eigen::ArrayXXd D = mi.cast<double>().array();
  auto ai = sx::from_eigen(mi);
  // Transcendental functions of integers give float64.
  auto e = sx::exp(ai);
  expect_meta(e, {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(e), D.exp().matrix()));
  expect_meta(sx::sqrt(ai), {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(sx::sqrt(ai)), D.sqrt().matrix()));
  expect_meta(sx::log1p(ai), {7, 5}, DType::f64);
  expect_meta(sx::tanh(ai), {7, 5}, DType::f64);
  expect_meta(sx::sigmoid(ai), {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(sx::sigmoid(ai)), D.unaryExpr(&sigmoid_ref).matrix()));
  expect_meta(sx::log(sx::arange(13) + 1), {13}, DType::f64);
  // abs, square and negative keep integer types.
  const auto mn = int_matrix(7, 5, 67, -30, 30);
  auto an = sx::from_eigen(mn);
  expect_meta(sx::abs(an), {7, 5}, DType::i32);
  expect_meta(sx::square(an), {7, 5}, DType::i32);
  expect_meta(-an, {7, 5}, DType::i32);
  EXPECT_TRUE(same_values(sx::to_vector<std::int32_t>(sx::abs(an)), c_order<std::int32_t>(mn.array().abs())));
  EXPECT_TRUE(
      same_values(sx::to_vector<std::int32_t>(sx::square(an)), c_order<std::int32_t>(mn.array().square())));
  EXPECT_TRUE(
      same_values(sx::to_vector<std::int32_t>(-an), c_order<std::int32_t>(Eigen::ArrayXXi(-mn.array()))));
  // float32 functions stay float32.
  const Eigen::MatrixXf mf = test_matrix(7, 5, 68, 0.1, 3).cast<float>();
  auto af = sx::from_eigen(mf);
  for (auto f :
       {sx::exp, sx::log, sx::log1p, sx::sqrt, sx::abs, sx::square, sx::tanh, sx::sigmoid, sx::negative})
    expect_meta(f(af), {7, 5}, DType::f32);
  EXPECT_TRUE(all_close(sx::to_eigen(sx::exp(af)), mf.array().exp().cast<double>().matrix(), 1e-6));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::log(af)), mf.array().log().cast<double>().matrix(), 1e-6, 1e-7));
  // Comparisons and logical operations give bool for every input type.
  expect_meta(ai < an, {7, 5}, DType::boolean);
  expect_meta(af >= af, {7, 5}, DType::boolean);
  expect_meta(sx::logical_or(ai, af), {7, 5}, DType::boolean);
}

// ---------------------------------------------------------------------------------
// Expressions: chains, reuse, repeated evaluation, layouts
// ---------------------------------------------------------------------------------

TEST(ElementwiseExpr, Chained) {
  const Mat mx = test_matrix(7, 5, 70), my = test_matrix(7, 5, 71), mz = test_matrix(7, 5, 72);
  const Arr X = mx.array(), Y = my.array(), Z = mz.array();
  auto x = sx::from_eigen(mx), y = sx::from_eigen(my), z = sx::from_eigen(mz);
  const double a = 2.5, b = -0.75;
  EXPECT_TRUE(all_close(sx::to_eigen(a * x + b * y - z), (a * X + b * Y - Z).matrix(), kRtol, kAtolChain));
  // With array coefficients.
  EXPECT_TRUE(all_close(sx::to_eigen(z * x + y * y - z), (Z * X + Y * Y - Z).matrix(), kRtol, kAtolChain));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::sqrt(sx::square(x) + sx::square(y))),
                        (X.square() + Y.square()).sqrt().matrix(), kRtol, kAtolChain));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::exp(-sx::square(x) / 2) * 0.5 + sx::tanh(y)),
                        ((-X.square() / 2).exp() * 0.5 + Y.tanh()).matrix(), kRtol, kAtolChain));
  EXPECT_TRUE(all_close(sx::to_eigen(sx::sigmoid(x * y) - sx::where(z > 0.0, sx::abs(x), -sx::abs(y))),
                        ((X * Y).unaryExpr(&sigmoid_ref) - (Z > 0.0).select(X.abs(), -Y.abs())).matrix(),
                        kRtol, kAtolChain));
  // Long chain.
  sx::Array acc = x;
  Arr ACC = X;
  for (int k = 1; k <= 20; ++k) {
    acc = acc * 0.9 + y / static_cast<double>(k);
    ACC = ACC * 0.9 + Y / static_cast<double>(k);
  }
  EXPECT_TRUE(all_close(sx::to_eigen(acc), ACC.matrix(), kRtol, kAtolChain));
  // 3-d chain.
  const xt::xarray<double> u = test_xarray({5, 3, 7}, 73), v = test_xarray({5, 3, 7}, 74, 0.5, 2);
  auto au = sx::from_xtensor(u), av = sx::from_xtensor(v);
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(sx::log(av) * au - sx::maximum(au, 0.0) / av + 1),
                        xt::xarray<double>(xt::log(v) * u - xt::maximum(u, 0.0) / v + 1.0), kRtol,
                        kAtolChain));
}

TEST(ElementwiseExpr, ReusedSubexpressions) {
  const Mat mx = test_matrix(7, 5, 75);
  const Arr X = mx.array();
  auto x = sx::from_eigen(mx);
  auto y = x * 2.0 + 1.0;
  const Arr Y = X * 2.0 + 1.0;
  auto r1 = y + x;
  auto r2 = y * y - x;
  auto r3 = sx::exp(y / 10.0);
  // Evaluated in an order unlike the order of construction.
  EXPECT_TRUE(all_close(sx::to_eigen(r2), (Y * Y - X).matrix(), kRtol, kAtolChain));
  EXPECT_TRUE(all_close(sx::to_eigen(r1), (Y + X).matrix(), kRtol, kAtolChain));
  EXPECT_TRUE(all_close(sx::to_eigen(y), Y.matrix(), kRtol, kAtolChain));
  EXPECT_TRUE(all_close(sx::to_eigen(r3), (Y / 10.0).exp().matrix(), kRtol, kAtolChain));
  // y is now evaluated; new expressions built on it are still right.
  EXPECT_TRUE(all_close(sx::to_eigen(y - r1 + x * x), (Y - (Y + X) + X * X).matrix(), kRtol, kAtolChain));
  // The same operand on both sides.
  EXPECT_TRUE(all_close(sx::to_eigen(x + x), (X + X).matrix(), kRtol, kAtolChain));
  EXPECT_TRUE(all_close(sx::to_eigen(x * x - x / x), (X * X - X / X).matrix(), kRtol, kAtolChain));
  // A diamond: two branches of one node joined again.
  auto base = sx::tanh(x);
  auto left = base + 1.0, right = base * 3.0;
  EXPECT_TRUE(all_close(sx::to_eigen(left * right - base),
                        ((X.tanh() + 1.0) * (X.tanh() * 3.0) - X.tanh()).matrix(), kRtol, kAtolChain));
  // Inputs are never modified by the operations that use them.
  EXPECT_TRUE(all_close(sx::to_eigen(x), mx, 0, 0));
}

TEST(ElementwiseExpr, EvaluateTwiceGivesSameResult) {
  const Mat ma = test_matrix(7, 5, 76), mb = test_matrix(7, 5, 77);
  auto a = sx::from_eigen(ma), b = sx::from_eigen(mb);
  auto r = sx::exp(a * b) + 1.0;
  EXPECT_FALSE(r.is_evaluated());  // lazy: nothing computed yet
  const sx::Array& same = r.evaluate();
  EXPECT_EQ(&same, &r);  // the same handle
  EXPECT_TRUE(r.is_evaluated());
  const auto v1 = sx::to_vector<double>(r);
  r.evaluate();
  EXPECT_TRUE(r.is_evaluated());
  const auto v2 = sx::to_vector<double>(r);
  EXPECT_TRUE(same_values(v1, v2));
  const Mat e1 = sx::to_eigen(r), e2 = sx::to_eigen(r);
  EXPECT_TRUE(all_close(e1, e2, 0, 0));
  EXPECT_TRUE(all_close(e1, ((ma.array() * mb.array()).exp() + 1.0).matrix()));
  // A copy of the handle shares the evaluated node.
  sx::Array copy = r;
  EXPECT_TRUE(copy.is_evaluated());
  EXPECT_TRUE(same_values(sx::to_vector<double>(copy), v1));
  // Rebuilding the same expression gives the same values.
  EXPECT_TRUE(same_values(sx::to_vector<double>(sx::exp(a * b) + 1.0), v1));
}

TEST(ElementwiseExpr, DifferentLayouts) {
  const Mat mx = test_matrix(7, 5, 78);
  auto x = sx::from_eigen(mx);
  // x + x.T.T: the same data reached through two transposes.
  auto tt = x.T().T();
  expect_meta(tt, {7, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_eigen(x + tt), (2.0 * mx.array()).matrix()));
  EXPECT_TRUE(all_close(sx::to_eigen(tt * x - x), (mx.array() * mx.array() - mx.array()).matrix(), kRtol,
                        kAtolChain));
  // Square operands, one transposed: a.T + b, a + a.T, a.T * b.T.
  const Mat ma = test_matrix(7, 7, 79), mb = test_matrix(7, 7, 80);
  auto a = sx::from_eigen(ma), b = sx::from_eigen(mb);
  EXPECT_TRUE(all_close(sx::to_eigen(a.T() + b), Mat(ma.transpose() + mb)));
  EXPECT_TRUE(all_close(sx::to_eigen(a + a.T()), Mat(ma + ma.transpose())));
  EXPECT_TRUE(all_close(sx::to_eigen(a.T() * b.T()), Mat(ma.transpose().cwiseProduct(mb.transpose()))));
  EXPECT_TRUE(all_close(sx::to_eigen((a - b.T()).T()), Mat(ma.transpose() - mb)));
  // Non-square transposed operand: (5, 7) + x.T
  const Mat mc = test_matrix(5, 7, 81);
  EXPECT_TRUE(all_close(sx::to_eigen(sx::from_eigen(mc) + x.T()), Mat(mc + mx.transpose())));
  // A transposed operand with broadcasting: x.T (5, 7) + (7,)
  const Eigen::VectorXd v7 = test_matrix(7, 1, 82);
  EXPECT_TRUE(
      all_close(sx::to_eigen(x.T() + sx::from_eigen(v7)), Mat(mx.transpose().rowwise() + v7.transpose())));
  // A sliced operand: x[1:6, ::2] (5, 3) * c (5, 3)
  const Mat md = test_matrix(5, 3, 83);
  auto s = x.slice({Range{1, 6}, Range{std::nullopt, std::nullopt, 2}});
  expect_meta(s, {5, 3}, DType::f64);
  Mat expected_s(5, 3);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 3; ++j) expected_s(i, j) = mx(1 + i, 2 * j) * md(i, j);
  EXPECT_TRUE(all_close(sx::to_eigen(s * sx::from_eigen(md)), expected_s));
  // A reshaped operand: a (35,) array seen as (7, 5).
  const Eigen::VectorXd flat = test_matrix(35, 1, 84);
  Mat expected_r(7, 5);
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 5; ++j) expected_r(i, j) = flat(i * 5 + j) - mx(i, j);
  EXPECT_TRUE(all_close(sx::to_eigen(sx::from_eigen(flat).reshape({7, 5}) - x), expected_r));
  // A row-produced operand with a transposed one.
  auto rows = sx::from_rows({7, 7}, [](std::int64_t first, std::int64_t last, double* out) {
    for (std::int64_t r = first; r < last; ++r)
      for (int c = 0; c < 7; ++c) out[(r - first) * 7 + c] = static_cast<double>(r * 7 + c);
  });
  Mat expected_rows(7, 7);
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 7; ++j) expected_rows(i, j) = i * 7 + j + mb(j, i);
  EXPECT_TRUE(all_close(sx::to_eigen(rows + b.T()), expected_rows));
  // A 3-d permuted operand.
  const xt::xarray<double> u = test_xarray({3, 5, 7}, 85), w = test_xarray({7, 3, 5}, 86);
  auto pu = sx::from_xtensor(u).transpose({2, 0, 1});  // (7, 3, 5)
  expect_meta(pu, {7, 3, 5}, DType::f64);
  EXPECT_TRUE(all_close(sx::to_xtensor<double>(pu + sx::from_xtensor(w)),
                        xt::xarray<double>(xt::transpose(u, {2, 0, 1}) + w)));
}

TEST(ElementwiseExpr, ZeroDimensionalAndEmptyResults) {
  const Mat mx = test_matrix(7, 5, 87);
  auto s = sx::sigmoid(sx::sum(sx::from_eigen(mx)) / 35.0);
  expect_meta(s, {}, DType::f64);
  EXPECT_TRUE(close(s.item(), sigmoid_ref(mx.sum() / 35.0), 1e-12, 0));
  auto e = sx::exp(sx::zeros({0, 3}));
  expect_meta(e, {0, 3}, DType::f64);
  EXPECT_TRUE(sx::to_vector<double>(e).empty());
  auto n = -sx::zeros({0});
  expect_meta(n, {0}, DType::f64);
  EXPECT_TRUE(sx::to_vector<double>(n).empty());
  auto one = sx::sqrt(sx::full({1}, 16.0)) + sx::full({}, 1.0);
  expect_meta(one, {1}, DType::f64);
  EXPECT_EQ(one.item(), 5.0);
}

}  // namespace
