// dot and matmul against Eigen products computed on every rank from the same data.
// Every rank makes the same spartanxx calls in the same order.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "spartanxx/spartanxx.hpp"

namespace sx = spartanxx;

namespace {

using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;
using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic>;
using MatI32 = Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic>;
using MatI64 = Eigen::Matrix<std::int64_t, Eigen::Dynamic, Eigen::Dynamic>;

// Uniform values in [-1, 1) from a fixed seed: the same matrix on every rank.
Mat random_mat(Eigen::Index rows, Eigen::Index cols, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  Mat m(rows, cols);
  // Filled in row-major order so that the values do not depend on Eigen's storage.
  for (Eigen::Index i = 0; i < rows; ++i)
    for (Eigen::Index j = 0; j < cols; ++j) m(i, j) = dist(gen);
  return m;
}

Vec random_vec(Eigen::Index n, unsigned seed) { return random_mat(n, 1, seed).col(0); }

// Small integers in [lo, hi]: products are exact in every dtype used here.
Mat int_mat(Eigen::Index rows, Eigen::Index cols, unsigned seed, int lo = -5, int hi = 5) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  Mat m(rows, cols);
  for (Eigen::Index i = 0; i < rows; ++i)
    for (Eigen::Index j = 0; j < cols; ++j) m(i, j) = dist(gen);
  return m;
}

sx::Array scalar_array(double v) { return sx::from_buffer({}, sx::DType::f64, &v); }

std::string shape_str(const sx::Shape& s) {
  std::ostringstream os;
  os << "(";
  for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << (s.size() == 1 ? ",)" : ")");
  return os.str();
}

// |actual - expected| <= rtol * (1 + |expected|) everywhere; sizes must match.
::testing::AssertionResult mat_close(const Mat& actual, const Mat& expected, double rtol) {
  if (actual.rows() != expected.rows() || actual.cols() != expected.cols())
    return ::testing::AssertionFailure() << "got " << actual.rows() << "x" << actual.cols() << ", expected "
                                         << expected.rows() << "x" << expected.cols();
  int bad = 0;
  std::ostringstream os;
  for (Eigen::Index i = 0; i < expected.rows(); ++i)
    for (Eigen::Index j = 0; j < expected.cols(); ++j) {
      const double a = actual(i, j), e = expected(i, j);
      if (!(std::abs(a - e) <= rtol * (1.0 + std::abs(e))) && bad++ < 5)
        os << "\n  (" << i << ", " << j << "): got " << a << ", expected " << e;
    }
  if (bad) return ::testing::AssertionFailure() << bad << " elements differ:" << os.str();
  return ::testing::AssertionSuccess();
}

// Checks that `r` has shape `shape` and, converted to Eigen, equals `expected`. An
// exception (thrown alike on every rank: planning is deterministic) is reported as a
// failure of this check only, so that the checks after it still run.
void expect_result(const sx::Array& r, const sx::Shape& shape, const Mat& expected, double rtol = 1e-12) {
  EXPECT_EQ(shape_str(r.shape()), shape_str(shape));
  try {
    EXPECT_TRUE(mat_close(sx::to_eigen(r), expected, rtol));
  } catch (const std::exception& e) {
    ADD_FAILURE() << "evaluating a result of shape " << shape_str(r.shape()) << " threw " << typeid(e).name() << ": "
                  << e.what();
  }
}

// item() of a 0-d result, with an exception reported as a failure (and NaN returned).
double item_or_fail(const sx::Array& r) {
  try {
    return r.item();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "item() threw " << typeid(e).name() << ": " << e.what();
    return std::nan("");
  }
}

}  // namespace

// =================================================================================

TEST(Linalg, MatrixMatrix) {
  struct Case {
    Eigen::Index n, k, m;
  };
  unsigned seed = 1;
  for (const Case& c : {Case{13, 7, 5}, Case{1, 9, 1}, Case{5, 1, 4}, Case{1, 1, 1}, Case{7, 5, 13}, Case{3, 4, 5}}) {
    SCOPED_TRACE("(" + std::to_string(c.n) + ", " + std::to_string(c.k) + ") . (" + std::to_string(c.k) + ", " +
                 std::to_string(c.m) + ")");
    const Mat a = random_mat(c.n, c.k, seed++);
    const Mat b = random_mat(c.k, c.m, seed++);
    const sx::Array r = sx::dot(sx::from_eigen(a), sx::from_eigen(b));
    EXPECT_EQ(r.dtype(), sx::DType::f64);
    expect_result(r, {c.n, c.m}, a * b);
    expect_result(sx::matmul(sx::from_eigen(a), sx::from_eigen(b)), {c.n, c.m}, a * b);
  }
}

TEST(Linalg, MatrixVector) {
  unsigned seed = 20;
  for (const auto& nk : std::vector<std::pair<Eigen::Index, Eigen::Index>>{{13, 7}, {1, 9}, {5, 1}, {9, 13}}) {
    SCOPED_TRACE("(" + std::to_string(nk.first) + ", " + std::to_string(nk.second) + ") . vector");
    const Mat a = random_mat(nk.first, nk.second, seed++);
    const Vec v = random_vec(nk.second, seed++);
    const sx::Array va = sx::from_eigen(v);
    ASSERT_EQ(va.shape(), (sx::Shape{nk.second}));
    const Mat expected = a * v;  // n x 1: how to_eigen shows a 1-d array
    expect_result(sx::dot(sx::from_eigen(a), va), {nk.first}, expected);
    expect_result(sx::matmul(sx::from_eigen(a), va), {nk.first}, expected);
  }
}

TEST(Linalg, VectorMatrix) {
  unsigned seed = 40;
  for (const auto& km : std::vector<std::pair<Eigen::Index, Eigen::Index>>{{7, 5}, {9, 1}, {1, 4}, {13, 3}}) {
    SCOPED_TRACE("vector . (" + std::to_string(km.first) + ", " + std::to_string(km.second) + ")");
    const Vec v = random_vec(km.first, seed++);
    const Mat b = random_mat(km.first, km.second, seed++);
    const Mat expected = (v.transpose() * b).transpose();
    expect_result(sx::dot(sx::from_eigen(v), sx::from_eigen(b)), {km.second}, expected);
    expect_result(sx::matmul(sx::from_eigen(v), sx::from_eigen(b)), {km.second}, expected);
  }
}

TEST(Linalg, VectorVector) {
  for (Eigen::Index n : {13, 1, 7, 100}) {
    SCOPED_TRACE("length " + std::to_string(n));
    const Vec u = random_vec(n, 60 + static_cast<unsigned>(n));
    const Vec v = random_vec(n, 61 + static_cast<unsigned>(n));
    const sx::Array r = sx::dot(sx::from_eigen(u), sx::from_eigen(v));
    EXPECT_EQ(r.ndim(), 0);
    EXPECT_NEAR(item_or_fail(r), u.dot(v), 1e-12 * (1 + std::abs(u.dot(v))));
    const sx::Array q = sx::matmul(sx::from_eigen(u), sx::from_eigen(v));
    EXPECT_EQ(q.ndim(), 0);
    EXPECT_NEAR(item_or_fail(q), u.dot(v), 1e-12 * (1 + std::abs(u.dot(v))));
    // 0-d to Eigen is 1x1.
    expect_result(r, {}, Mat::Constant(1, 1, u.dot(v)));
  }
  // A vector with itself.
  const Vec w = random_vec(13, 70);
  const sx::Array wa = sx::from_eigen(w);
  EXPECT_NEAR(item_or_fail(sx::dot(wa, wa)), w.squaredNorm(), 1e-12);
}

TEST(Linalg, ZeroDOperandMultiplies) {
  // numpy.dot with a 0-d operand is multiplication.
  const Mat a = random_mat(7, 5, 80);
  const Vec v = random_vec(13, 81);
  const sx::Array s = scalar_array(2.5);
  ASSERT_EQ(s.ndim(), 0);
  expect_result(sx::dot(s, sx::from_eigen(a)), {7, 5}, 2.5 * a);
  expect_result(sx::dot(sx::from_eigen(a), s), {7, 5}, 2.5 * a);
  expect_result(sx::dot(s, sx::from_eigen(v)), {13}, 2.5 * v);
  expect_result(sx::dot(sx::from_eigen(v), s), {13}, 2.5 * v);
  const sx::Array ss = sx::dot(s, scalar_array(-4.0));
  EXPECT_EQ(ss.ndim(), 0);
  EXPECT_EQ(item_or_fail(ss), -10.0);
  // A 0-d operand that is itself a computed result.
  const sx::Array total = sx::sum(sx::from_eigen(v));
  expect_result(sx::dot(total, sx::from_eigen(a)), {7, 5}, v.sum() * a, 1e-12);
}

TEST(Linalg, MatmulWithZeroDThrowsOnEveryRank) {
  const sx::Array a = sx::from_eigen(random_mat(7, 5, 90));
  const sx::Array s = scalar_array(2.0);
  auto expect_rejected = [](const std::function<sx::Array()>& f, const char* what) {
    try {
      f().evaluate();
      ADD_FAILURE() << what << ": no exception";
    } catch (const sx::shape_error&) {
    } catch (const sx::value_error&) {
    } catch (const std::invalid_argument& e) {
      ADD_FAILURE() << what << ": std::invalid_argument of another kind (" << typeid(e).name() << "): " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": unexpected exception " << typeid(e).name() << ": " << e.what();
    }
  };
  expect_rejected([&] { return sx::matmul(s, a); }, "matmul(0-d, 2-d)");
  expect_rejected([&] { return sx::matmul(a, s); }, "matmul(2-d, 0-d)");
  expect_rejected([&] { return sx::matmul(s, s); }, "matmul(0-d, 0-d)");
  expect_rejected([&] { return sx::matmul(sx::arange(5), sx::sum(a)); }, "matmul(1-d, computed 0-d)");
  // The library still works afterwards on every rank.
  const Mat m = random_mat(7, 5, 90);
  EXPECT_NEAR(sx::sum(sx::matmul(a, a.T())).item(), (m * m.transpose()).sum(), 1e-10);
}

TEST(Linalg, MisalignedShapesThrow) {
  const sx::Array a = sx::from_eigen(random_mat(13, 7, 95));
  const sx::Array v8 = sx::from_eigen(random_vec(8, 96));
  EXPECT_THROW(sx::dot(a, v8), sx::shape_error);
  EXPECT_THROW(sx::dot(a, a), sx::shape_error);
  EXPECT_THROW(sx::matmul(v8, a), sx::shape_error);
  EXPECT_THROW(sx::dot(v8, sx::from_eigen(random_vec(7, 97))), sx::shape_error);
}

TEST(Linalg, Float32) {
  // Small integers: every product and sum is exact in float32.
  const Mat a = int_mat(13, 7, 100);
  const Mat b = int_mat(7, 5, 101);
  const Vec v = int_mat(7, 1, 102).col(0);
  const sx::Array af = sx::from_eigen(MatF(a.cast<float>()));
  const sx::Array bf = sx::from_eigen(MatF(b.cast<float>()));
  const sx::Array vf = sx::from_eigen(Eigen::VectorXf(v.cast<float>()));
  ASSERT_EQ(af.dtype(), sx::DType::f32);
  ASSERT_EQ(vf.dtype(), sx::DType::f32);
  const sx::Array r = sx::dot(af, bf);
  EXPECT_EQ(r.dtype(), sx::DType::f32);
  expect_result(r, {13, 5}, a * b, 0);
  const sx::Array rv = sx::dot(af, vf);
  EXPECT_EQ(rv.dtype(), sx::DType::f32);
  expect_result(rv, {13}, a * v, 0);
  const sx::Array vv = sx::dot(vf, vf);
  EXPECT_EQ(vv.dtype(), sx::DType::f32);
  EXPECT_EQ(item_or_fail(vv), v.squaredNorm());
  // Float values: float32 accuracy.
  const Mat c = random_mat(13, 7, 103);
  const Mat d = random_mat(7, 5, 104);
  const sx::Array cf = sx::from_eigen(MatF(c.cast<float>()));
  const sx::Array df = sx::from_eigen(MatF(d.cast<float>()));
  const Mat expected = (c.cast<float>() * d.cast<float>()).cast<double>();
  expect_result(sx::dot(cf, df), {13, 5}, expected, 1e-5);
  const auto raw = sx::to_vector<float>(sx::dot(cf, df));
  EXPECT_EQ(raw.size(), 13u * 5u);
}

TEST(Linalg, Integers) {
  const Mat a = int_mat(13, 7, 110, -1000, 1000);
  const Mat b = int_mat(7, 5, 111, -1000, 1000);
  const MatI64 a64 = a.cast<std::int64_t>();
  const MatI64 b64 = b.cast<std::int64_t>();
  const sx::Array r = sx::dot(sx::from_eigen(a64), sx::from_eigen(b64));
  EXPECT_EQ(r.dtype(), sx::DType::i64);
  EXPECT_EQ(r.shape(), (sx::Shape{13, 5}));
  const MatI64 expected = a64 * b64;
  const auto got = sx::to_vector<std::int64_t>(r);
  ASSERT_EQ(got.size(), 65u);
  for (int i = 0; i < 13; ++i)
    for (int j = 0; j < 5; ++j) EXPECT_EQ(got[i * 5 + j], expected(i, j)) << "(" << i << ", " << j << ")";
  // Values beyond 2^53 stay exact in int64 (a double accumulator would round).
  MatI64 big(2, 2), one(2, 1);
  big << (std::int64_t{1} << 53), 1, 3, (std::int64_t{1} << 53);
  one << 1, 1;
  const auto bv = sx::to_vector<std::int64_t>(sx::dot(sx::from_eigen(big), sx::from_eigen(one)));
  ASSERT_EQ(bv.size(), 2u);
  EXPECT_EQ(bv[0], (std::int64_t{1} << 53) + 1);
  EXPECT_EQ(bv[1], (std::int64_t{1} << 53) + 3);
  // int32 . int32 stays int32.
  const MatI32 a32 = int_mat(13, 7, 112).cast<std::int32_t>();
  const MatI32 b32 = int_mat(7, 5, 113).cast<std::int32_t>();
  const sx::Array r32 = sx::dot(sx::from_eigen(a32), sx::from_eigen(b32));
  EXPECT_EQ(r32.dtype(), sx::DType::i32);
  const MatI32 e32 = a32 * b32;
  const auto g32 = sx::to_vector<std::int32_t>(r32);
  ASSERT_EQ(g32.size(), 65u);
  for (int i = 0; i < 13; ++i)
    for (int j = 0; j < 5; ++j) EXPECT_EQ(g32[i * 5 + j], e32(i, j)) << "(" << i << ", " << j << ")";
  // int64 vector . vector
  const Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1> u = int_mat(13, 1, 114).col(0).cast<std::int64_t>();
  const sx::Array ua = sx::from_eigen(u);
  const auto uu = sx::to_vector<std::int64_t>(sx::dot(ua, ua));
  ASSERT_EQ(uu.size(), 1u);
  EXPECT_EQ(uu[0], u.squaredNorm());
}

TEST(Linalg, Promotion) {
  const Mat a = int_mat(13, 7, 120);
  const Mat b = random_mat(7, 5, 121);
  const sx::Array a32 = sx::from_eigen(MatI32(a.cast<std::int32_t>()));
  const sx::Array a64 = sx::from_eigen(MatI64(a.cast<std::int64_t>()));
  const sx::Array bd = sx::from_eigen(b);
  const sx::Array bf = sx::from_eigen(MatF(b.cast<float>()));
  // int32 . float64 -> float64
  const sx::Array r = sx::dot(a32, bd);
  EXPECT_EQ(r.dtype(), sx::DType::f64);
  expect_result(r, {13, 5}, a * b);
  EXPECT_EQ(sx::dot(bd.T(), a32.T()).dtype(), sx::DType::f64);
  // int64 . float64 -> float64
  EXPECT_EQ(sx::dot(a64, bd).dtype(), sx::DType::f64);
  expect_result(sx::dot(a64, bd), {13, 5}, a * b);
  // float32 . float64 -> float64
  const sx::Array af = sx::from_eigen(MatF(a.cast<float>()));
  EXPECT_EQ(sx::dot(af, bd).dtype(), sx::DType::f64);
  expect_result(sx::dot(af, bd), {13, 5}, a * b);
  // int32 . float32 -> float64 (NumPy's promote_types(int32, float32))
  const sx::Array rif = sx::dot(a32, bf);
  EXPECT_EQ(rif.dtype(), sx::DType::f64);
  expect_result(rif, {13, 5}, a * b.cast<float>().cast<double>(), 1e-12);
  // int32 . int64 -> int64
  EXPECT_EQ(sx::dot(a32, sx::from_eigen(MatI64(int_mat(7, 5, 122).cast<std::int64_t>()))).dtype(), sx::DType::i64);
}

TEST(Linalg, EmptyInnerDimension) {
  const sx::Array a = sx::from_eigen(Mat(3, 0));
  const sx::Array b = sx::from_eigen(Mat(0, 4));
  const sx::Array r = sx::dot(a, b);
  expect_result(r, {3, 4}, Mat::Zero(3, 4), 0);
  expect_result(sx::matmul(a, b), {3, 4}, Mat::Zero(3, 4), 0);
  // Empty outer dimensions.
  const sx::Array e = sx::dot(sx::from_eigen(Mat(0, 3)), sx::from_eigen(random_mat(3, 4, 130)));
  EXPECT_EQ(e.shape(), (sx::Shape{0, 4}));
  EXPECT_TRUE(sx::to_vector<double>(e).empty());
  const sx::Array f = sx::dot(sx::from_eigen(random_mat(3, 4, 131)), sx::from_eigen(Mat(4, 0)));
  EXPECT_EQ(f.shape(), (sx::Shape{3, 0}));
  EXPECT_TRUE(sx::to_vector<double>(f).empty());
  // Empty vectors: a 0-d zero, and a zero vector.
  const sx::Array v0 = sx::from_eigen(Vec(0));
  ASSERT_EQ(v0.shape(), (sx::Shape{0}));
  const sx::Array vv = sx::dot(v0, v0);
  EXPECT_EQ(vv.ndim(), 0);
  EXPECT_EQ(item_or_fail(vv), 0.0);
  expect_result(sx::dot(a, v0), {3}, Mat::Zero(3, 1), 0);
  expect_result(sx::dot(v0, b), {4}, Mat::Zero(4, 1), 0);
  // Int64 empty inner dimension gives int64 zeros.
  const sx::Array ri = sx::dot(sx::zeros({3, 0}, sx::DType::i64), sx::zeros({0, 4}, sx::DType::i64));
  EXPECT_EQ(ri.dtype(), sx::DType::i64);
  EXPECT_EQ(sx::to_vector<std::int64_t>(ri), std::vector<std::int64_t>(12, 0));
  // Vectors shorter than the number of ranks (here 1 element) on the left.
  const Vec one = Vec::Constant(1, 3.0);
  const Mat row = random_mat(1, 4, 132);
  expect_result(sx::dot(sx::from_eigen(one), sx::from_eigen(row)), {4}, (3.0 * row).transpose());
  expect_result(sx::dot(sx::from_eigen(row).T(), sx::from_eigen(one)), {4}, (3.0 * row).transpose());
  EXPECT_EQ(item_or_fail(sx::dot(sx::from_eigen(one), sx::from_eigen(one))), 9.0);
}

TEST(Linalg, TransposedOperands) {
  // Both (n, k): the shape of the logistic-regression gradient X^T r.
  const Eigen::Index n = 1000, k = 7;
  const Mat a = random_mat(n, k, 140);
  const Mat b = random_mat(n, k, 141);
  const sx::Array A = sx::from_eigen(a);
  const sx::Array B = sx::from_eigen(b);
  expect_result(sx::dot(A.T(), B), {k, k}, a.transpose() * b, 1e-12);
  expect_result(sx::matmul(A.T(), B), {k, k}, a.transpose() * b, 1e-12);
  expect_result(sx::dot(A.T(), A), {k, k}, a.transpose() * a, 1e-12);
  // (k, n) . (n,) and (n,) . (n, k)
  const Vec y = random_vec(n, 142);
  const sx::Array Y = sx::from_eigen(y);
  expect_result(sx::dot(A.T(), Y), {k}, a.transpose() * y, 1e-12);
  expect_result(sx::dot(Y, B), {k}, (y.transpose() * b).transpose(), 1e-12);
  // Transposed right operand, and both transposed, on smaller shapes.
  const Mat c = random_mat(13, 7, 143);
  const Mat d = random_mat(5, 7, 144);
  expect_result(sx::dot(sx::from_eigen(c), sx::from_eigen(d).T()), {13, 5}, c * d.transpose());
  expect_result(sx::dot(sx::from_eigen(d), sx::from_eigen(c).T()), {5, 13}, d * c.transpose());
  const Mat e = random_mat(7, 13, 145);
  expect_result(sx::dot(sx::from_eigen(e).T(), sx::from_eigen(d).T()), {13, 5}, e.transpose() * d.transpose());
  // The whole logistic-regression gradient: X^T (sigmoid(X w) - y).
  const Vec w = random_vec(k, 146);
  Vec labels(n);
  for (Eigen::Index i = 0; i < n; ++i) labels(i) = (i * 7) % 3 == 0 ? 1.0 : 0.0;
  const Vec z = a * w;
  const Vec p = z.unaryExpr([](double t) { return 1.0 / (1.0 + std::exp(-t)); });
  const Vec grad = a.transpose() * (p - labels);
  const sx::Array W = sx::from_eigen(w);
  const sx::Array L = sx::from_eigen(labels);
  const sx::Array G = sx::dot(A.T(), sx::sigmoid(sx::dot(A, W)) - L);
  expect_result(G, {k}, grad, 1e-12);
  // One SGD step, twice, reusing the same X.
  const sx::Array W1 = W - 0.1 * G;
  const Vec w1 = w - 0.1 * grad;
  const Vec p1 = (a * w1).unaryExpr([](double t) { return 1.0 / (1.0 + std::exp(-t)); });
  const Vec grad1 = a.transpose() * (p1 - labels);
  expect_result(sx::dot(A.T(), sx::sigmoid(sx::dot(A, W1)) - L), {k}, grad1, 1e-12);
}

TEST(Linalg, Chains) {
  const Mat a = random_mat(13, 7, 150);
  const Mat b = random_mat(7, 5, 151);
  const Mat c = random_mat(5, 3, 152);
  const Vec v = random_vec(3, 153);
  const sx::Array A = sx::from_eigen(a), B = sx::from_eigen(b), C = sx::from_eigen(c), V = sx::from_eigen(v);
  expect_result(sx::dot(sx::dot(A, B), C), {13, 3}, a * b * c);
  expect_result(sx::dot(A, sx::dot(B, C)), {13, 3}, a * (b * c));
  expect_result(sx::dot(sx::dot(sx::dot(A, B), C), V), {13}, a * b * c * v);
  expect_result(sx::dot(A, sx::dot(B, sx::dot(C, V))), {13}, a * (b * (c * v)));
  expect_result(sx::matmul(sx::matmul(A, B), C), {13, 3}, a * b * c);
  // (A B)^T (A B): a chain with a shared subexpression.
  const sx::Array AB = sx::dot(A, B);
  expect_result(sx::dot(AB.T(), AB), {5, 5}, (a * b).transpose() * (a * b));
  // Reusing an evaluated intermediate.
  AB.evaluate();
  expect_result(sx::dot(AB, C), {13, 3}, a * b * c);
}

TEST(Linalg, OfExpressions) {
  const Mat a = random_mat(13, 7, 160);
  const Mat b = random_mat(7, 5, 161);
  const sx::Array A = sx::from_eigen(a), B = sx::from_eigen(b);
  const Mat a1 = (a.array() + 1).matrix();
  const Mat b2 = b * 2;
  expect_result(sx::dot(A + 1, B * 2), {13, 5}, a1 * b2);
  expect_result(sx::dot(A + 1, B * 2) + 1, {13, 5}, ((a1 * b2).array() + 1).matrix());
  expect_result(sx::exp(sx::dot(A, B)), {13, 5}, (a * b).array().exp().matrix());
  const Mat ab = a * b;
  expect_result(sx::sum(sx::dot(A, B), 0), {5}, ab.colwise().sum().transpose());
  expect_result(sx::sum(sx::dot(A, B), 1), {13}, ab.rowwise().sum());
  EXPECT_NEAR(sx::sum(sx::square(sx::dot(A, B))).item(), ab.squaredNorm(), 1e-12);
  // Slices as operands: A[2:9, ::2] . B[::-1... ] shapes (7, 4) . (4, 5)
  const sx::Array As = A.slice({sx::Range{2, 9}, sx::Range{std::nullopt, std::nullopt, 2}});
  const sx::Array Bs = B.slice({sx::Range{std::nullopt, std::nullopt, -2}});
  ASSERT_EQ(As.shape(), (sx::Shape{7, 4}));
  ASSERT_EQ(Bs.shape(), (sx::Shape{4, 5}));
  Mat as(7, 4), bs(4, 5);
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 4; ++j) as(i, j) = a(2 + i, 2 * j);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 5; ++j) bs(i, j) = b(6 - 2 * i, j);
  expect_result(sx::dot(As, Bs), {7, 5}, as * bs);
  // Casts as operands.
  expect_result(sx::dot((A * 4).astype(sx::DType::i64), (B * 4).astype(sx::DType::i64)), {13, 5},
                (a * 4).unaryExpr([](double t) { return std::trunc(t); }) *
                    (b * 4).unaryExpr([](double t) { return std::trunc(t); }),
                0);
}

TEST(Linalg, LargeGemm) {
  const Mat a = random_mat(200, 150, 170);
  const Mat b = random_mat(150, 170, 171);
  const Mat expected = a * b;
  const sx::Array r = sx::dot(sx::from_eigen(a), sx::from_eigen(b));
  EXPECT_EQ(r.shape(), (sx::Shape{200, 170}));
  const Mat got = sx::to_eigen(r);
  ASSERT_EQ(got.rows(), 200);
  ASSERT_EQ(got.cols(), 170);
  EXPECT_LE((got - expected).norm() / expected.norm(), 1e-10);
  EXPECT_TRUE(mat_close(got, expected, 1e-10));
  // The same with operands from random::uniform, converted back for the reference.
  const sx::Array X = sx::random::uniform({200, 150}, 7, -1.0, 1.0);
  const sx::Array Y = sx::random::uniform({150, 170}, 8, -1.0, 1.0);
  const Mat x = sx::to_eigen(X), y = sx::to_eigen(Y);
  const Mat xy = sx::to_eigen(sx::dot(X, Y));
  EXPECT_TRUE(mat_close(xy, x * y, 1e-10));
}

TEST(Linalg, RandomOperandsAllCombinations) {
  // Operands produced by random::uniform at (13, 7), (7,), transposes and slices.
  const sx::Array X = sx::random::uniform({13, 7}, 180);
  const sx::Array w = sx::random::uniform({7}, 181);
  const Mat x = sx::to_eigen(X);
  const Mat wv = sx::to_eigen(w);
  ASSERT_EQ(wv.cols(), 1);
  expect_result(sx::dot(X, w), {13}, x * wv);
  expect_result(sx::dot(w, X.T()), {13}, (wv.transpose() * x.transpose()).transpose());
  expect_result(sx::dot(X.T(), X), {7, 7}, x.transpose() * x);
  expect_result(sx::dot(X, X.T()), {13, 13}, x * x.transpose());
}

namespace {
// The first index of the extreme of each column (axis 0) or row (axis 1).
Mat arg_along(const Mat& m, int axis, bool max) {
  const Eigen::Index lanes = axis == 0 ? m.cols() : m.rows();
  const Eigen::Index len = axis == 0 ? m.rows() : m.cols();
  Mat out(lanes, 1);
  for (Eigen::Index l = 0; l < lanes; ++l) {
    Eigen::Index best = 0;
    for (Eigen::Index i = 1; i < len; ++i) {
      const double v = axis == 0 ? m(i, l) : m(l, i);
      const double b = axis == 0 ? m(best, l) : m(l, best);
      if (max ? v > b : v < b) best = i;
    }
    out(l, 0) = static_cast<double>(best);
  }
  return out;
}

// The elements in C order, as a column (how to_eigen shows a 1-d array).
Mat c_order(const Mat& m) {
  Mat out(m.size(), 1);
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) out(i * m.cols() + j, 0) = m(i, j);
  return out;
}
}  // namespace

TEST(Linalg, ResultsOfEveryStrategyCompose) {
  // Products whose results come out split by rows (tall . small), by columns
  // (small . wide) and replicated (an inner-split reduction), then combined with
  // reductions, slices, transposes, reshapes and each other. Small integers keep every
  // product exact, so ties in argmax/argmin are real ties.
  const Mat tall = int_mat(1000, 7, 190, -3, 3);
  const Mat small = int_mat(7, 5, 191, -3, 3);
  const Mat left = int_mat(5, 7, 192, -3, 3);
  const Mat wide = int_mat(7, 1000, 193, -3, 3);
  const sx::Array T = sx::from_eigen(tall), S = sx::from_eigen(small), L = sx::from_eigen(left),
                  W = sx::from_eigen(wide);
  const Mat ts = tall * small;   // (1000, 5)
  const Mat lw = left * wide;    // (5, 1000)
  const Mat tt = tall.transpose() * tall;  // (7, 7)
  const sx::Array TS = sx::dot(T, S), LW = sx::dot(L, W), TT = sx::dot(T.T(), T);
  expect_result(TS, {1000, 5}, ts, 0);
  expect_result(LW, {5, 1000}, lw, 0);
  expect_result(TT, {7, 7}, tt, 0);
  for (int axis : {0, 1}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    expect_result(sx::sum(LW, axis), {axis == 0 ? 1000 : 5}, axis == 0 ? Mat(lw.colwise().sum().transpose())
                                                                      : Mat(lw.rowwise().sum()), 0);
    expect_result(sx::argmax(LW, axis), {axis == 0 ? 1000 : 5}, arg_along(lw, axis, true), 0);
    expect_result(sx::argmin(LW, axis), {axis == 0 ? 1000 : 5}, arg_along(lw, axis, false), 0);
    expect_result(sx::argmax(TS, axis), {axis == 0 ? 5 : 1000}, arg_along(ts, axis, true), 0);
    expect_result(sx::max(TT, axis), {7}, axis == 0 ? Mat(tt.colwise().maxCoeff().transpose())
                                                    : Mat(tt.rowwise().maxCoeff()), 0);
  }
  // Flattened argmax/argmin: the first extreme in C order.
  const Mat flat = c_order(lw);
  EXPECT_EQ(item_or_fail(sx::argmax(LW)), arg_along(flat, 0, true)(0, 0));
  EXPECT_EQ(item_or_fail(sx::argmin(LW.T())), arg_along(c_order(lw.transpose()), 0, false)(0, 0));
  // A row-split result plus a transposed column-split one.
  expect_result(TS + LW.T(), {1000, 5}, ts + lw.transpose(), 0);
  expect_result(TS.T() - LW, {5, 1000}, ts.transpose() - lw, 0);
  // Slices of the column-split result.
  const Mat lw_s = [&] {
    Mat m(5, 142);  // rows reversed, columns 3, 10, ..., 990
    for (int i = 0; i < 5; ++i)
      for (int j = 0; j < 142; ++j) m(i, j) = lw(4 - i, 3 + 7 * j);
    return m;
  }();
  expect_result(LW.slice({sx::Range{std::nullopt, std::nullopt, -1}, sx::Range{3, 997, 7}}), {5, 142}, lw_s, 0);
  // Reshapes read the logical C order, whatever the layout.
  expect_result(LW.reshape({-1}), {5000}, c_order(lw), 0);
  expect_result(LW.T().reshape({-1}), {5000}, c_order(lw.transpose()), 0);
  expect_result(TS.reshape({-1}).slice({sx::Range{std::nullopt, std::nullopt, -1}}), {5000},
                c_order(ts).colwise().reverse(), 0);
  // The replicated result used as an operand of further products.
  expect_result(sx::dot(T, TT), {1000, 7}, tall * tt, 0);
  expect_result(sx::dot(TT, W), {7, 1000}, tt * wide, 0);
  // A product of two products with different layouts.
  expect_result(sx::dot(LW, TS), {5, 5}, lw * ts, 0);
  expect_result(sx::dot(TS.T(), LW.T()), {5, 5}, ts.transpose() * lw.transpose(), 0);
}
