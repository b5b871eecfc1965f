// Creation of arrays: constants, ranges, identity, *_like, Eigen/xtensor/buffer
// inputs, row functions and random arrays. Every test runs on every rank and checks
// spartanxx's result (fetched whole with the collective to_eigen / to_vector /
// to_xtensor) against a reference computed locally, identically on every rank.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <xtensor/xarray.hpp>

#include "mpi/test_support.hpp"
#include "spartanxx/spartanxx.hpp"

namespace sx = spartanxx;

namespace {

using spartanxx_test::world_rank;
using spartanxx_test::world_size;
using spartanxx_test::shape_str;
using spartanxx_test::test_matrix;

using sx::DType;
using sx::Shape;

const DType kAllDtypes[] = {DType::f64, DType::f32, DType::i64, DType::i32, DType::boolean};

// Shapes that split unevenly over 2, 3 and 4 ranks, plus empty, 1-element and 0-d.
const std::vector<Shape> kShapes = {{7, 5}, {13}, {1, 9}, {5, 1}, {0, 3}, {0}, {1}, {5, 3, 7}, {}};

std::int64_t numel(const Shape& s) {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}




std::vector<double> test_values(std::size_t n, std::uint64_t seed, double lo = -3, double hi = 3) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

// Elements of a matrix in C (row-major) order.
std::vector<double> c_order(const Eigen::MatrixXd& m) {
  std::vector<double> v;
  v.reserve(static_cast<std::size_t>(m.size()));
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) v.push_back(m(i, j));
  return v;
}

::testing::AssertionResult same_matrix(const Eigen::MatrixXd& actual, const Eigen::MatrixXd& expected) {
  if (actual.rows() != expected.rows() || actual.cols() != expected.cols())
    return ::testing::AssertionFailure() << "size " << actual.rows() << "x" << actual.cols() << ", expected "
                                         << expected.rows() << "x" << expected.cols();
  for (Eigen::Index i = 0; i < actual.rows(); ++i)
    for (Eigen::Index j = 0; j < actual.cols(); ++j)
      if (!(actual(i, j) == expected(i, j)) && !(std::isnan(actual(i, j)) && std::isnan(expected(i, j))))
        return ::testing::AssertionFailure()
               << "at (" << i << ", " << j << "): " << actual(i, j) << ", expected " << expected(i, j);
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult close_vectors(const std::vector<double>& actual,
                                         const std::vector<double>& expected, double rtol = 1e-12,
                                         double atol = 0) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure() << "size " << actual.size() << ", expected " << expected.size();
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], e = expected[i];
    if (std::isnan(a) && std::isnan(e)) continue;
    if (a == e) continue;
    if (!(std::abs(a - e) <= rtol * std::abs(e) + atol))
      return ::testing::AssertionFailure() << "at flat index " << i << ": " << a << ", expected " << e;
  }
  return ::testing::AssertionSuccess();
}

template <class T>
::testing::AssertionResult same_vectors(const std::vector<T>& actual, const std::vector<T>& expected) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure() << "size " << actual.size() << ", expected " << expected.size();
  for (std::size_t i = 0; i < actual.size(); ++i)
    if (!(actual[i] == expected[i]))
      return ::testing::AssertionFailure()
             << "at flat index " << i << ": " << +actual[i] << ", expected " << +expected[i];
  return ::testing::AssertionSuccess();
}

// FNV-1a over the bytes of a vector: a fingerprint that ranks can compare.
std::uint64_t fnv1a(const void* data, std::size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t h = 1469598103934665603ULL;
  for (std::size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

// True when every rank passed the same value (checked with MPI directly, not spartanxx).
bool all_ranks_agree(std::uint64_t value) {
  std::uint64_t lo = 0, hi = 0;
  MPI_Allreduce(&value, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&value, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  return lo == hi && lo == value;
}

void expect_meta(const sx::Array& a, const Shape& shape, DType dtype) {
  EXPECT_EQ(a.shape(), shape) << shape_str(a.shape()) << " vs " << shape_str(shape);
  EXPECT_EQ(a.dtype(), dtype) << sx::dtype_name(a.dtype()) << " vs " << sx::dtype_name(dtype);
  EXPECT_EQ(a.ndim(), static_cast<int>(shape.size()));
  EXPECT_EQ(a.size(), numel(shape));
}

// ---------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------

TEST(Creation, ZerosOnesFullEveryShapeAndDtype) {
  for (const Shape& s : kShapes) {
    for (DType t : kAllDtypes) {
      SCOPED_TRACE(shape_str(s) + " " + sx::dtype_name(t));
      const auto n = static_cast<std::size_t>(numel(s));
      auto z = sx::zeros(s, t);
      auto o = sx::ones(s, t);
      auto f = sx::full(s, 7.0, t);
      expect_meta(z, s, t);
      expect_meta(o, s, t);
      expect_meta(f, s, t);
      EXPECT_TRUE(same_vectors(sx::to_vector<double>(z), std::vector<double>(n, 0.0)));
      EXPECT_TRUE(same_vectors(sx::to_vector<double>(o), std::vector<double>(n, 1.0)));
      EXPECT_TRUE(
          same_vectors(sx::to_vector<double>(f), std::vector<double>(n, t == DType::boolean ? 1.0 : 7.0)));
    }
  }
}

TEST(Creation, DefaultDtypeIsFloat64) {
  EXPECT_EQ(sx::zeros({7, 5}).dtype(), DType::f64);
  EXPECT_EQ(sx::ones({13}).dtype(), DType::f64);
  EXPECT_EQ(sx::full({1, 9}, 2.5).dtype(), DType::f64);
}

TEST(Creation, FullTypedValues) {
  // Values read back in the array's own element type, exactly.
  EXPECT_TRUE(same_vectors(sx::to_vector<double>(sx::full({7, 5}, -2.25)), std::vector<double>(35, -2.25)));
  EXPECT_TRUE(
      same_vectors(sx::to_vector<float>(sx::full({13}, 0.1, DType::f32)), std::vector<float>(13, 0.1f)));
  EXPECT_TRUE(same_vectors(sx::to_vector<std::int64_t>(sx::full({5, 1}, -3.0, DType::i64)),
                           std::vector<std::int64_t>(5, -3)));
  EXPECT_TRUE(same_vectors(sx::to_vector<std::int64_t>(sx::full({3}, 4294967296.0, DType::i64)),
                           std::vector<std::int64_t>(3, 4294967296LL)));
  EXPECT_TRUE(same_vectors(sx::to_vector<std::int32_t>(sx::full({1, 9}, 123456.0, DType::i32)),
                           std::vector<std::int32_t>(9, 123456)));
  EXPECT_TRUE(same_vectors(sx::to_vector<std::uint8_t>(sx::full({7, 5}, 0.0, DType::boolean)),
                           std::vector<std::uint8_t>(35, 0)));
  EXPECT_TRUE(same_vectors(sx::to_vector<std::uint8_t>(sx::full({7, 5}, -0.5, DType::boolean)),
                           std::vector<std::uint8_t>(35, 1)));
}

TEST(Creation, ZeroDimensional) {
  auto z = sx::zeros({});
  expect_meta(z, {}, DType::f64);
  EXPECT_EQ(z.item(), 0.0);
  auto f = sx::full({}, 3.5);
  EXPECT_EQ(f.item(), 3.5);
  const Eigen::MatrixXd m = sx::to_eigen(f);
  ASSERT_EQ(m.rows(), 1);
  ASSERT_EQ(m.cols(), 1);
  EXPECT_EQ(m(0, 0), 3.5);
  EXPECT_EQ(sx::ones({}, DType::i32).item(), 1.0);
  EXPECT_EQ(sx::to_vector<std::int32_t>(sx::ones({}, DType::i32)), std::vector<std::int32_t>{1});
}

TEST(Creation, EmptyToEigen) {
  const Eigen::MatrixXd m = sx::to_eigen(sx::zeros({0, 3}));
  EXPECT_EQ(m.rows(), 0);
  EXPECT_EQ(m.cols(), 3);
  const Eigen::MatrixXd v = sx::to_eigen(sx::ones({0}));
  EXPECT_EQ(v.rows(), 0);
  EXPECT_EQ(v.cols(), 1);
  EXPECT_TRUE(sx::to_vector<double>(sx::ones({0, 3})).empty());
}

// ---------------------------------------------------------------------------------
// arange
// ---------------------------------------------------------------------------------

TEST(Creation, ArangeStop) {
  for (std::int64_t n : {13, 7, 1, 0, -3}) {
    SCOPED_TRACE("arange(" + std::to_string(n) + ")");
    auto a = sx::arange(n);
    const std::int64_t len = std::max<std::int64_t>(n, 0);
    expect_meta(a, {len}, DType::i64);
    std::vector<std::int64_t> expected(static_cast<std::size_t>(len));
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_TRUE(same_vectors(sx::to_vector<std::int64_t>(a), expected));
  }
}

TEST(Creation, ArangeStartStopStep) {
  struct Case {
    double start, stop, step;
    DType dtype;
  };
  const Case cases[] = {
      {0.0, 1.0, 0.25, DType::f64}, {1.0, 2.05, 0.1, DType::f64},  {5.0, 0.0, -1.5, DType::f64},
      {3.0, 1.0, 1.0, DType::f64},  {-2.5, 10.0, 1.0, DType::f64}, {0.0, 13.0, 1.0, DType::i32},
      {2.0, 15.0, 3.0, DType::i64}, {0.5, 6.0, 0.5, DType::f32},   {0.0, 0.0, 1.0, DType::f64},
      {-7.0, 6.0, 1.0, DType::f64},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("arange(" + std::to_string(c.start) + ", " + std::to_string(c.stop) + ", " +
                 std::to_string(c.step) + ", " + sx::dtype_name(c.dtype) + ")");
    const auto len = static_cast<std::int64_t>(std::max(0.0, std::ceil((c.stop - c.start) / c.step)));
    auto a = sx::arange(c.start, c.stop, c.step, c.dtype);
    expect_meta(a, {len}, c.dtype);
    std::vector<double> expected;
    for (std::int64_t i = 0; i < len; ++i) {
      const double v = c.start + static_cast<double>(i) * c.step;
      expected.push_back(c.dtype == DType::f32     ? static_cast<double>(static_cast<float>(v))
                         : sx::is_integer(c.dtype) ? static_cast<double>(static_cast<std::int64_t>(v))
                                                   : v);
    }
    EXPECT_TRUE(close_vectors(sx::to_vector<double>(a), expected, 1e-12, 1e-15));
  }
  // The default step is 1 and the default dtype float64.
  auto d = sx::arange(2.0, 9.0);
  expect_meta(d, {7}, DType::f64);
  EXPECT_TRUE(same_vectors(sx::to_vector<double>(d), std::vector<double>{2, 3, 4, 5, 6, 7, 8}));
}

// ---------------------------------------------------------------------------------
// eye
// ---------------------------------------------------------------------------------

TEST(Creation, Eye) {
  struct Case {
    std::int64_t n, m, k;
  };
  const Case cases[] = {{5, -1, 0}, {7, 5, 0},    {5, 7, 0},    {5, 7, 2},  {7, 5, -3}, {7, 5, 4},
                        {7, 5, -6}, {4, 4, 4},    {4, 4, -5},   {1, -1, 0}, {0, -1, 0}, {0, 3, 0},
                        {3, 0, 0},  {13, 13, -1}, {13, -1, 12}, {1, 9, 8},  {5, 1, -4}};
  for (const Case& c : cases) {
    SCOPED_TRACE("eye(" + std::to_string(c.n) + ", " + std::to_string(c.m) + ", " + std::to_string(c.k) +
                 ")");
    const std::int64_t m = c.m < 0 ? c.n : c.m;
    Eigen::MatrixXd expected = Eigen::MatrixXd::Zero(c.n, m);
    for (std::int64_t i = 0; i < c.n; ++i)
      if (i + c.k >= 0 && i + c.k < m) expected(i, i + c.k) = 1.0;
    auto e = sx::eye(c.n, c.m, c.k);
    expect_meta(e, {c.n, m}, DType::f64);
    EXPECT_TRUE(same_matrix(sx::to_eigen(e), expected));
  }
  auto ei = sx::eye(5, 7, 1, DType::i32);
  expect_meta(ei, {5, 7}, DType::i32);
  std::vector<std::int32_t> expected_i(35, 0);
  for (int i = 0; i < 5; ++i) expected_i[static_cast<std::size_t>(i * 7 + i + 1)] = 1;
  EXPECT_TRUE(same_vectors(sx::to_vector<std::int32_t>(ei), expected_i));
  auto eb = sx::eye(3, -1, 0, DType::boolean);
  expect_meta(eb, {3, 3}, DType::boolean);
  EXPECT_TRUE(
      same_vectors(sx::to_vector<std::uint8_t>(eb), std::vector<std::uint8_t>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
}

// ---------------------------------------------------------------------------------
// *_like
// ---------------------------------------------------------------------------------

TEST(Creation, LikeFunctionsKeepShapeAndDtype) {
  std::vector<sx::Array> bases;
  bases.push_back(sx::from_eigen(Eigen::MatrixXf(test_matrix(7, 5, 1).cast<float>())));
  bases.push_back(sx::full({13}, 3.0, DType::i32));
  bases.push_back(sx::ones({1, 9}, DType::i64));
  bases.push_back(sx::zeros({5, 1}, DType::boolean));
  bases.push_back(sx::zeros({0, 3}));
  bases.push_back(sx::ones({5, 3, 7}));
  bases.push_back(sx::full({}, 2.0));
  bases.push_back(sx::from_eigen(test_matrix(7, 5, 2)) + 1.0);  // a lazy expression
  for (const auto& b : bases) {
    SCOPED_TRACE(shape_str(b.shape()) + " " + sx::dtype_name(b.dtype()));
    const auto n = static_cast<std::size_t>(b.size());
    auto z = sx::zeros_like(b);
    auto o = sx::ones_like(b);
    auto f = sx::full_like(b, 4.0);
    expect_meta(z, b.shape(), b.dtype());
    expect_meta(o, b.shape(), b.dtype());
    expect_meta(f, b.shape(), b.dtype());
    EXPECT_TRUE(same_vectors(sx::to_vector<double>(z), std::vector<double>(n, 0.0)));
    EXPECT_TRUE(same_vectors(sx::to_vector<double>(o), std::vector<double>(n, 1.0)));
    EXPECT_TRUE(same_vectors(sx::to_vector<double>(f),
                             std::vector<double>(n, b.dtype() == DType::boolean ? 1.0 : 4.0)));
  }
  // full_like converts the value to the array's dtype, as numpy.full_like does.
  EXPECT_TRUE(same_vectors(sx::to_vector<std::int32_t>(sx::full_like(sx::zeros({7}, DType::i32), -9.0)),
                           std::vector<std::int32_t>(7, -9)));
  EXPECT_TRUE(same_vectors(sx::to_vector<float>(sx::full_like(sx::zeros({7}, DType::f32), 0.1)),
                           std::vector<float>(7, 0.1f)));
}

// ---------------------------------------------------------------------------------
// from_eigen / to_eigen
// ---------------------------------------------------------------------------------

TEST(CreationEigen, MatrixXdRoundTrip) {
  const std::pair<Eigen::Index, Eigen::Index> sizes[] = {{7, 5}, {1, 9},   {5, 1}, {0, 3},
                                                         {1, 1}, {13, 13}, {3, 0}};
  std::uint64_t seed = 10;
  for (auto [r, c] : sizes) {
    SCOPED_TRACE(std::to_string(r) + "x" + std::to_string(c));
    const Eigen::MatrixXd m = test_matrix(r, c, seed++);
    auto a = sx::from_eigen(m);
    expect_meta(a, {r, c}, DType::f64);
    EXPECT_TRUE(same_matrix(sx::to_eigen(a), m));
    EXPECT_TRUE(same_vectors(sx::to_vector<double>(a), c_order(m)));
    // A second conversion returns the same values.
    EXPECT_TRUE(same_matrix(sx::to_eigen(a), m));
  }
}

TEST(CreationEigen, VectorsAndExpressions) {
  const Eigen::VectorXd v = test_matrix(13, 1, 20);
  auto a = sx::from_eigen(v);
  expect_meta(a, {13}, DType::f64);
  const Eigen::MatrixXd back = sx::to_eigen(a);
  ASSERT_EQ(back.cols(), 1);  // a 1-d array comes back as a column vector
  EXPECT_TRUE(same_matrix(back, v));

  const Eigen::VectorXd empty(0);
  auto e = sx::from_eigen(empty);
  expect_meta(e, {0}, DType::f64);
  EXPECT_EQ(sx::to_eigen(e).rows(), 0);

  // A row vector has a dynamic column count: it stays 2-d, (1, 9).
  const Eigen::RowVectorXd rv = test_matrix(1, 9, 21).row(0);
  auto r = sx::from_eigen(rv);
  expect_meta(r, {1, 9}, DType::f64);
  EXPECT_TRUE(same_matrix(sx::to_eigen(r), rv));

  // An Eigen expression is evaluated first: the transpose of a 7x5 is a (5, 7) array.
  const Eigen::MatrixXd m = test_matrix(7, 5, 22);
  auto t = sx::from_eigen(m.transpose());
  expect_meta(t, {5, 7}, DType::f64);
  EXPECT_TRUE(same_matrix(sx::to_eigen(t), m.transpose()));
  auto s = sx::from_eigen((m.array() * 2.0 + 1.0).matrix());
  EXPECT_TRUE(same_matrix(sx::to_eigen(s), (m.array() * 2.0 + 1.0).matrix()));

  // A row-major Eigen matrix gives the same array as a column-major one.
  const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rm = m;
  EXPECT_TRUE(same_matrix(sx::to_eigen(sx::from_eigen(rm)), m));
}

TEST(CreationEigen, OtherScalarTypes) {
  const Eigen::MatrixXd base = test_matrix(7, 5, 30, -1000, 1000);

  const Eigen::MatrixXf mf = base.cast<float>();
  auto af = sx::from_eigen(mf);
  expect_meta(af, {7, 5}, DType::f32);
  std::vector<float> expected_f;
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 5; ++j) expected_f.push_back(mf(i, j));
  EXPECT_TRUE(same_vectors(sx::to_vector<float>(af), expected_f));
  EXPECT_TRUE(same_matrix(sx::to_eigen(af), mf.cast<double>()));

  Eigen::Matrix<std::int64_t, Eigen::Dynamic, Eigen::Dynamic> mi(7, 5);
  std::vector<std::int64_t> expected_i;
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 5; ++j) {
      mi(i, j) = (std::int64_t{1} << 40) * (i - 3) + 1000 * j - 17;  // beyond int32
      expected_i.push_back(mi(i, j));
    }
  auto ai = sx::from_eigen(mi);
  expect_meta(ai, {7, 5}, DType::i64);
  EXPECT_TRUE(same_vectors(sx::to_vector<std::int64_t>(ai), expected_i));

  Eigen::Matrix<std::int32_t, Eigen::Dynamic, 1> vi(13);
  std::vector<std::int32_t> expected_i32;
  for (int i = 0; i < 13; ++i) expected_i32.push_back(vi(i) = (i - 6) * 100003);
  auto a32 = sx::from_eigen(vi);
  expect_meta(a32, {13}, DType::i32);
  EXPECT_TRUE(same_vectors(sx::to_vector<std::int32_t>(a32), expected_i32));

  Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic> mb = (base.array() > 0).matrix();
  std::vector<std::uint8_t> expected_b;
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 5; ++j) expected_b.push_back(mb(i, j) ? 1 : 0);
  auto ab = sx::from_eigen(mb);
  expect_meta(ab, {7, 5}, DType::boolean);
  EXPECT_TRUE(same_vectors(sx::to_vector<std::uint8_t>(ab), expected_b));
}

// ---------------------------------------------------------------------------------
// from_xtensor / to_xtensor
// ---------------------------------------------------------------------------------

TEST(CreationXtensor, ThreeDimensionalDouble) {
  const auto vals = test_values(5 * 3 * 7, 40);
  xt::xarray<double> x = xt::xarray<double>::from_shape({5, 3, 7});
  std::copy(vals.begin(), vals.end(), x.begin());
  auto a = sx::from_xtensor(x);
  expect_meta(a, {5, 3, 7}, DType::f64);
  const xt::xarray<double> back = sx::to_xtensor<double>(a);
  EXPECT_EQ(back.shape(), x.shape());
  EXPECT_TRUE(back == x);
  EXPECT_TRUE(same_vectors(sx::to_vector<double>(a), vals));  // C order
  for (std::size_t i = 0; i < 5; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 7; ++k) ASSERT_EQ(back(i, j, k), vals[(i * 3 + j) * 7 + k]);

  // An xtensor expression is evaluated first.
  auto b = sx::from_xtensor(x * 2.0 - 1.0);
  const xt::xarray<double> expected_b = x * 2.0 - 1.0;
  EXPECT_TRUE(sx::to_xtensor<double>(b) == expected_b);
}

TEST(CreationXtensor, OtherTypesAndShapes) {
  xt::xarray<std::int32_t> xi = xt::xarray<std::int32_t>::from_shape({13});
  for (std::size_t i = 0; i < 13; ++i) xi(i) = static_cast<std::int32_t>(i * i) - 50;
  auto ai = sx::from_xtensor(xi);
  expect_meta(ai, {13}, DType::i32);
  EXPECT_TRUE(sx::to_xtensor<std::int32_t>(ai) == xi);

  xt::xarray<std::int32_t> xi3 = xt::xarray<std::int32_t>::from_shape({3, 5, 7});
  for (std::size_t i = 0; i < xi3.size(); ++i) xi3.flat(i) = static_cast<std::int32_t>(i * 7919 % 1000) - 500;
  auto ai3 = sx::from_xtensor(xi3);
  expect_meta(ai3, {3, 5, 7}, DType::i32);
  EXPECT_TRUE(sx::to_xtensor<std::int32_t>(ai3) == xi3);

  xt::xarray<float> xf = xt::xarray<float>::from_shape({7, 1, 3});
  const auto vf = test_values(21, 41);
  for (std::size_t i = 0; i < 21; ++i) xf.flat(i) = static_cast<float>(vf[i]);
  auto af = sx::from_xtensor(xf);
  expect_meta(af, {7, 1, 3}, DType::f32);
  EXPECT_TRUE(sx::to_xtensor<float>(af) == xf);

  xt::xarray<bool> xb = xt::xarray<bool>::from_shape({5, 3});
  for (std::size_t i = 0; i < 15; ++i) xb.flat(i) = (i % 3 == 1);
  auto ab = sx::from_xtensor(xb);
  expect_meta(ab, {5, 3}, DType::boolean);
  EXPECT_TRUE(sx::to_xtensor<bool>(ab) == xb);

  xt::xarray<double> xe = xt::xarray<double>::from_shape({0, 3, 2});
  auto ae = sx::from_xtensor(xe);
  expect_meta(ae, {0, 3, 2}, DType::f64);
  EXPECT_EQ(sx::to_xtensor<double>(ae).size(), 0u);

  xt::xarray<double> x0 = 3.25;  // 0-d
  auto a0 = sx::from_xtensor(x0);
  expect_meta(a0, {}, DType::f64);
  EXPECT_EQ(a0.item(), 3.25);

  // A 2-d array seen through xtensor and through Eigen agrees.
  const Eigen::MatrixXd m = test_matrix(7, 5, 42);
  const xt::xarray<double> x2 = sx::to_xtensor<double>(sx::from_eigen(m));
  ASSERT_EQ(x2.dimension(), 2u);
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 5; ++j) ASSERT_EQ(x2(i, j), m(i, j));
  // Converting to another element type on the way out.
  const xt::xarray<std::int64_t> xl = sx::to_xtensor<std::int64_t>(ai3);
  for (std::size_t i = 0; i < xl.size(); ++i) ASSERT_EQ(xl.flat(i), xi3.flat(i));
}

// ---------------------------------------------------------------------------------
// from_buffer
// ---------------------------------------------------------------------------------

TEST(Creation, FromBuffer) {
  {
    std::vector<double> buf = test_values(35, 50);
    const std::vector<double> original = buf;
    auto a = sx::from_buffer({7, 5}, DType::f64, buf.data());
    // The array owns its data: changing or freeing the caller's buffer does not matter.
    std::fill(buf.begin(), buf.end(), -1.0);
    buf.clear();
    buf.shrink_to_fit();
    expect_meta(a, {7, 5}, DType::f64);
    EXPECT_TRUE(same_vectors(sx::to_vector<double>(a), original));
  }
  {
    std::vector<std::int32_t> buf(13);
    for (int i = 0; i < 13; ++i) buf[i] = i * -31 + 7;
    auto a = sx::from_buffer({13}, DType::i32, buf.data());
    expect_meta(a, {13}, DType::i32);
    EXPECT_TRUE(same_vectors(sx::to_vector<std::int32_t>(a), buf));
  }
  {
    std::vector<float> buf(5 * 3 * 7);
    const auto v = test_values(buf.size(), 51);
    for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<float>(v[i]);
    auto a = sx::from_buffer({5, 3, 7}, DType::f32, buf.data());
    expect_meta(a, {5, 3, 7}, DType::f32);
    EXPECT_TRUE(same_vectors(sx::to_vector<float>(a), buf));
  }
  {
    std::vector<std::int64_t> buf{-5, 0, 5, std::int64_t{1} << 50, -(std::int64_t{1} << 50)};
    auto a = sx::from_buffer({5, 1}, DType::i64, buf.data());
    expect_meta(a, {5, 1}, DType::i64);
    EXPECT_TRUE(same_vectors(sx::to_vector<std::int64_t>(a), buf));
  }
  {
    std::vector<std::uint8_t> buf{1, 0, 0, 1, 1, 0, 1, 0, 1};
    auto a = sx::from_buffer({1, 9}, DType::boolean, buf.data());
    expect_meta(a, {1, 9}, DType::boolean);
    EXPECT_TRUE(same_vectors(sx::to_vector<std::uint8_t>(a), buf));
    EXPECT_TRUE(same_vectors(sx::to_vector<double>(a), std::vector<double>{1, 0, 0, 1, 1, 0, 1, 0, 1}));
  }
  {
    std::vector<double> buf;
    auto a = sx::from_buffer({0, 3}, DType::f64, buf.data());
    expect_meta(a, {0, 3}, DType::f64);
    EXPECT_TRUE(sx::to_vector<double>(a).empty());
  }
  {
    const double one = -4.5;
    auto a = sx::from_buffer({}, DType::f64, &one);
    expect_meta(a, {}, DType::f64);
    EXPECT_EQ(a.item(), -4.5);
  }
}

// ---------------------------------------------------------------------------------
// from_rows
// ---------------------------------------------------------------------------------

// Row r, column c holds r * 100 + c.
double row_value(std::int64_t r, std::int64_t c) { return static_cast<double>(r * 100 + c); }

TEST(Creation, FromRowsFillsOnlyOwnRows) {
  const std::int64_t rows = 13, cols = 3;
  // How many times this rank wrote each row; shared with the callback, which may be
  // kept (and called) after from_rows returns.
  auto filled = std::make_shared<std::vector<int>>(rows, 0);
  auto bad_range = std::make_shared<int>(0);
  sx::Array a;
  {
    // The callback is a temporary: the array must not depend on it outliving this scope.
    a = sx::from_rows({rows, cols},
                      [filled, bad_range, cols](std::int64_t first, std::int64_t last, double* out) {
                        if (first < 0 || last > 13 || first > last) {
                          ++*bad_range;
                          return;
                        }
                        for (std::int64_t r = first; r < last; ++r) {
                          ++(*filled)[static_cast<std::size_t>(r)];
                          for (std::int64_t c = 0; c < cols; ++c)
                            out[(r - first) * cols + c] = row_value(r, c);
                        }
                      });
  }
  expect_meta(a, {rows, cols}, DType::f64);
  a.evaluate();
  Eigen::MatrixXd expected(rows, cols);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) expected(r, c) = row_value(r, c);
  EXPECT_TRUE(same_matrix(sx::to_eigen(a), expected));
  // Using the array again reuses its data; it does not ask for rows again.
  EXPECT_TRUE(same_matrix(sx::to_eigen(a * 2.0), expected * 2.0));
  EXPECT_EQ(*bad_range, 0);

  // Across ranks every row was produced exactly once; with several ranks no rank made them all.
  std::vector<int> total(rows, 0);
  MPI_Allreduce(filled->data(), total.data(), static_cast<int>(rows), MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  for (int r = 0; r < rows; ++r) EXPECT_EQ(total[r], 1) << "row " << r;
  const int mine =
      static_cast<int>(std::count_if(filled->begin(), filled->end(), [](int k) { return k > 0; }));
  if (world_size() > 1) {
    EXPECT_LT(mine, rows) << "rank " << world_rank() << " filled every row";
  }
}

TEST(Creation, FromRowsShapes) {
  const std::pair<std::int64_t, std::int64_t> sizes[] = {{1, 9}, {5, 1}, {0, 3}, {7, 5}};
  for (auto [rows, cols] : sizes) {
    SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(cols));
    auto a = sx::from_rows({rows, cols}, [cols = cols](std::int64_t first, std::int64_t last, double* out) {
      for (std::int64_t r = first; r < last; ++r)
        for (std::int64_t c = 0; c < cols; ++c) out[(r - first) * cols + c] = row_value(r, c) + 0.5;
    });
    expect_meta(a, {rows, cols}, DType::f64);
    Eigen::MatrixXd expected(rows, cols);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) expected(r, c) = row_value(r, c) + 0.5;
    EXPECT_TRUE(same_matrix(sx::to_eigen(a), expected));
  }
}

// ---------------------------------------------------------------------------------
// random
// ---------------------------------------------------------------------------------

// Golden values of random::uniform({101, 37}, 7) and random::normal({101, 37}, 7, 2.0, 3.0),
// recorded from a 1-rank run (set SPARTANXX_PRINT_GOLDEN=1 to print them again). Every
// rank count must reproduce them exactly: the generator is keyed by the global element
// index, so the values do not depend on how the array is cut. The indices reach into
// the tiles of every rank at 2, 3 and 4 ranks.
const std::size_t kGoldenIndex[] = {0, 1, 2, 3, 4, 936, 1500, 1868, 1869, 2500, 2806, 3000, 3736};
const std::vector<double> kUniformGolden = {
    0.20621903441484335, 0.66998494473608594, 0.91134980317542846, 0.88331080821364261, 0.76998742626226702,
    0.98802376068092324, 0.51340557841792733, 0.31607713512176572, 0.84634612104455398, 0.66615377513277019,
    0.60686179064384393, 0.5178678255954503,  0.67461642115287568,
};
const double kUniformGoldenSum = 1903.9640750209417;
// The normal values also equal an independent evaluation of the same formula in
// Python's math module (plain IEEE operations, no fused multiply-add).
const std::vector<double> kNormalGolden = {
    -0.56863160784397682, 2.9604947041665262, 0.046151437495795422, 1.9440958653173483,  3.3223783224054491,
    -0.41644434775804928, 5.3300286934822054, 0.80630513315889241,  -4.7407707571628626, 3.1986111902091969,
    4.0587949471198055,   1.2849015100570613, 0.80996248078907618,
};
const double kNormalGoldenSum = 7395.7488364705205;

void print_golden(const char* name, const std::vector<double>& v) {
  if (std::getenv("SPARTANXX_PRINT_GOLDEN") == nullptr || world_rank() != 0) return;
  std::printf("%s:", name);
  for (std::size_t i : kGoldenIndex) std::printf(" %.17g,", v[i]);
  std::printf("\n%s sum: %.17g\n", name, std::accumulate(v.begin(), v.end(), 0.0));
}

TEST(CreationRandom, UniformRangeAndMoments) {
  auto u = sx::random::uniform({1001, 999}, 3);
  expect_meta(u, {1001, 999}, DType::f64);
  const auto v = sx::to_vector<double>(u);
  ASSERT_EQ(v.size(), 1001u * 999u);
  double sum = 0, sq = 0;
  for (double x : v) {
    ASSERT_GE(x, 0.0);
    ASSERT_LT(x, 1.0);
    sum += x;
    sq += x * x;
  }
  const double n = static_cast<double>(v.size());
  const double mean = sum / n, var = sq / n - mean * mean;
  EXPECT_NEAR(mean, 0.5, 0.005);  // sd of the mean is about 0.0003
  EXPECT_NEAR(var, 1.0 / 12.0, 0.002);
  // Not all the same value, and spread over the whole interval.
  EXPECT_LT(*std::min_element(v.begin(), v.end()), 0.001);
  EXPECT_GT(*std::max_element(v.begin(), v.end()), 0.999);
  // The library's own mean agrees with the local one.
  EXPECT_NEAR(sx::mean(u).item(), mean, 1e-9);
}

TEST(CreationRandom, UniformLoHi) {
  auto u = sx::random::uniform({501, 203}, 11, -2.0, 3.0);
  const auto v = sx::to_vector<double>(u);
  double sum = 0;
  for (double x : v) {
    ASSERT_GE(x, -2.0);
    ASSERT_LT(x, 3.0);
    sum += x;
  }
  EXPECT_NEAR(sum / static_cast<double>(v.size()), 0.5, 0.03);  // (lo + hi) / 2; sd of the mean ~0.005
}

TEST(CreationRandom, SeedsDifferAndRepeat) {
  const auto a = sx::to_vector<double>(sx::random::uniform({101, 37}, 7));
  const auto a2 = sx::to_vector<double>(sx::random::uniform({101, 37}, 7));
  const auto b = sx::to_vector<double>(sx::random::uniform({101, 37}, 8));
  EXPECT_TRUE(same_vectors(a, a2));  // the same seed gives the same values
  std::size_t equal = 0;
  for (std::size_t i = 0; i < a.size(); ++i) equal += a[i] == b[i];
  EXPECT_LT(equal, 5u) << "seeds 7 and 8 give nearly the same array";
  // Values within one array are not repeated (a generator keyed by local index
  // would repeat its tiles).
  std::vector<double> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
  const auto n1 = sx::to_vector<double>(sx::random::normal({101, 37}, 7));
  const auto n2 = sx::to_vector<double>(sx::random::normal({101, 37}, 9));
  equal = 0;
  for (std::size_t i = 0; i < n1.size(); ++i) equal += n1[i] == n2[i];
  EXPECT_LT(equal, 5u);
}

TEST(CreationRandom, UniformIndependentOfLayout) {
  // Keyed by the global C-order index: the same elements however the array is shaped
  // (and so however it is cut into tiles).
  const auto a = sx::to_vector<double>(sx::random::uniform({101, 37}, 7));
  const auto flat = sx::to_vector<double>(sx::random::uniform({101 * 37}, 7).reshape({101, 37}));
  const auto row = sx::to_vector<double>(sx::random::uniform({1, 101 * 37}, 7));
  const auto cube = sx::to_vector<double>(sx::random::uniform({101, 1, 37}, 7));
  EXPECT_TRUE(same_vectors(flat, a));
  EXPECT_TRUE(same_vectors(row, a));
  EXPECT_TRUE(same_vectors(cube, a));
  const auto sliced = sx::to_vector<double>(sx::random::uniform({101, 37}, 7).slice({sx::Range{50, 60}}));
  EXPECT_TRUE(same_vectors(sliced, std::vector<double>(a.begin() + 50 * 37, a.begin() + 60 * 37)));
}

TEST(CreationRandom, UniformSameAtEveryRankCount) {
  const auto v = sx::to_vector<double>(sx::random::uniform({101, 37}, 7));
  ASSERT_EQ(v.size(), 101u * 37u);
  EXPECT_TRUE(all_ranks_agree(fnv1a(v.data(), v.size() * sizeof(double)))) << "ranks see different values";
  print_golden("uniform", v);
  const std::size_t n_golden = kUniformGolden.size();
  ASSERT_EQ(n_golden, sizeof(kGoldenIndex) / sizeof(std::size_t)) << "golden values not recorded";
  for (std::size_t i = 0; i < n_golden; ++i)
    EXPECT_EQ(v[kGoldenIndex[i]], kUniformGolden[i]) << "element " << kGoldenIndex[i];
  EXPECT_DOUBLE_EQ(std::accumulate(v.begin(), v.end(), 0.0), kUniformGoldenSum);
}

TEST(CreationRandom, NormalMoments) {
  auto g = sx::random::normal({1001, 999}, 5, 2.0, 3.0);
  expect_meta(g, {1001, 999}, DType::f64);
  const auto v = sx::to_vector<double>(g);
  double sum = 0, sq = 0;
  for (double x : v) {
    ASSERT_TRUE(std::isfinite(x));
    sum += x;
    sq += x * x;
  }
  const double n = static_cast<double>(v.size());
  const double mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
  EXPECT_NEAR(mean, 2.0, 0.015);  // sd of the mean is 0.003
  EXPECT_NEAR(sd, 3.0, 0.015);    // sd of the sd is about 0.002
  // About 68.3% within one sd and 95.4% within two.
  std::size_t in1 = 0, in2 = 0;
  for (double x : v) in1 += std::abs(x - 2.0) < 3.0, in2 += std::abs(x - 2.0) < 6.0;
  EXPECT_NEAR(in1 / n, 0.6827, 0.005);
  EXPECT_NEAR(in2 / n, 0.9545, 0.005);
  // Standard normal by default.
  const auto s = sx::to_vector<double>(sx::random::normal({501, 203}, 6));
  double m0 = std::accumulate(s.begin(), s.end(), 0.0) / static_cast<double>(s.size());
  EXPECT_NEAR(m0, 0.0, 0.02);
}

TEST(CreationRandom, NormalSameAtEveryRankCount) {
  const auto v = sx::to_vector<double>(sx::random::normal({101, 37}, 7, 2.0, 3.0));
  EXPECT_TRUE(all_ranks_agree(fnv1a(v.data(), v.size() * sizeof(double)))) << "ranks see different values";
  const auto flat = sx::to_vector<double>(sx::random::normal({101 * 37}, 7, 2.0, 3.0).reshape({101, 37}));
  EXPECT_TRUE(same_vectors(flat, v));
  print_golden("normal", v);
  const std::size_t n_golden = kNormalGolden.size();
  ASSERT_EQ(n_golden, sizeof(kGoldenIndex) / sizeof(std::size_t)) << "golden values not recorded";
  for (std::size_t i = 0; i < n_golden; ++i)
    EXPECT_EQ(v[kGoldenIndex[i]], kNormalGolden[i]) << "element " << kGoldenIndex[i];
  EXPECT_DOUBLE_EQ(std::accumulate(v.begin(), v.end(), 0.0), kNormalGoldenSum);
}

TEST(CreationRandom, EmptyAndSmallShapes) {
  auto e = sx::random::uniform({0, 3}, 1);
  expect_meta(e, {0, 3}, DType::f64);
  EXPECT_TRUE(sx::to_vector<double>(e).empty());
  auto n = sx::random::normal({0}, 1);
  expect_meta(n, {0}, DType::f64);
  EXPECT_TRUE(sx::to_vector<double>(n).empty());
  // A (1,) array holds the first element of every larger array with the same seed.
  const auto big = sx::to_vector<double>(sx::random::uniform({13}, 4));
  const double first = sx::random::uniform({1}, 4).item();
  EXPECT_EQ(first, big[0]);
  const auto col = sx::to_vector<double>(sx::random::uniform({5, 1}, 4));
  EXPECT_TRUE(same_vectors(col, std::vector<double>(big.begin(), big.begin() + 5)));
}

}  // namespace
