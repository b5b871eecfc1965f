// Edge cases of distributed sparse matrices: dtypes, degenerate shapes, slices,
// transposes, fused products, against independent Eigen computations.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "spartanxx/spartanxx.hpp"
#include "mpi/sparse_support.hpp"
#include "mpi/test_support.hpp"

namespace sx = spartanxx;
using spartanxx_test::test_matrix;
using spartanxx_test::world_rank;
using spartanxx_test::world_size;

namespace {

using Mat = Eigen::MatrixXd;
using Vec = Eigen::VectorXd;
using spartanxx_test::eigen_of;
using spartanxx_test::from_shares;
using spartanxx_test::Sp;
using spartanxx_test::Trip;

std::vector<Trip> rand_trips(std::int64_t n, std::int64_t m, double density, std::uint64_t seed, bool ints = false) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(0, 1), v(-2, 2);
  std::uniform_int_distribution<int> iv(-3, 3);
  std::vector<Trip> t;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < m; ++j)
      if (u(gen) < density) {
        const int q = iv(gen);
        t.emplace_back(i, j, ints ? double(q == 0 ? 1 : q) : v(gen));
      }
  std::shuffle(t.begin(), t.end(), gen);
  return t;
}

/// These tests compare to 1e-10 (longer chains of operations than test_sparse.cpp's).
void near(const Mat& got, const Mat& want, double tol = 1e-10) { spartanxx_test::expect_mat_near(got, want, tol); }

/// Evaluates the array `f` builds once no temporary handle of the expression is alive
/// (as `auto g = ...; to_eigen(g)` does): transposes fold into products, products fuse.
template <class F>
Mat E(F f) {
  const sx::Array r = f();
  return sx::to_eigen(r);
}

Mat rows_of(const Mat& d, std::int64_t start, std::int64_t stop, std::int64_t step) {
  std::vector<Eigen::Index> r;
  for (std::int64_t i = start; step > 0 ? i < stop : i > stop; i += step) r.push_back(i);
  Mat out(static_cast<Eigen::Index>(r.size()), d.cols());
  for (std::size_t i = 0; i < r.size(); ++i) out.row(static_cast<Eigen::Index>(i)) = d.row(r[i]);
  return out;
}

// ---------------------------------------------------------------------------------
// Tests that pass (correct behaviour, kept as coverage)

TEST(SparseEdge, DtypesF32I64Bool) {
  const std::int64_t n = 23, m = 11;
  const auto t = rand_trips(n, m, 0.3, 5, /*ints=*/true);
  const Mat d(eigen_of(n, m, t));
  const Mat D = test_matrix(n, m, 3);
  const Vec x = test_matrix(m, 1, 4).col(0);
  for (sx::DType dt : {sx::DType::f32, sx::DType::i64, sx::DType::i32}) {
    SCOPED_TRACE(static_cast<int>(dt));
    const sx::Array a = from_shares(n, m, t, dt);
    EXPECT_EQ(a.dtype(), dt);
    near(E([&] { return a; }), d);
    near(E([&] { return a * sx::from_eigen(D); }), d.cwiseProduct(D), 1e-6);
    near(E([&] { return sx::sum(a, 0); }).transpose(), d.colwise().sum(), 1e-6);
    near(E([&] { return sx::sum(a, 1); }), d.rowwise().sum(), 1e-6);
    near(E([&] { return sx::max(a, 0); }).transpose(), d.colwise().maxCoeff(), 1e-6);
    near(E([&] { return sx::min(a, 1); }), d.rowwise().minCoeff(), 1e-6);
    near(E([&] { return sx::dot(a, sx::from_eigen(x)); }), d * x, 1e-5);
    near(E([&] { return sx::dot(a.T(), sx::from_eigen(Vec(D.col(0)))); }), d.transpose() * D.col(0), 1e-5);
    EXPECT_NEAR(sx::mean(a).item(), d.mean(), 1e-6);
  }
  // bool: a mask, its sum counts trues.
  const sx::Array a = from_shares(n, m, t);
  const sx::Array mask = a > 0;
  const Mat md = (d.array() > 0).cast<double>().matrix();
  EXPECT_EQ(sx::sum(mask).item(), md.sum());
  near(E([&] { return sx::sum(mask, 0); }).transpose(), md.colwise().sum());
  near(E([&] { return sx::sum(mask, 1); }), md.rowwise().sum());
  const sx::Array bmat = from_shares(n, m, t, sx::DType::boolean);
  EXPECT_EQ(sx::sum(bmat).item(), static_cast<double>(t.size()));
  near(E([&] { return sx::mean(mask, 0); }).transpose(), md.colwise().mean());
}

TEST(SparseEdge, F32SparseTimesF64Dense) {
  const std::int64_t n = 19, m = 13, k = 3;
  const auto t = rand_trips(n, m, 0.3, 6);
  const Sp e = eigen_of(n, m, t);
  const Mat d = Mat(e).cast<float>().cast<double>();
  const sx::Array a = from_shares(n, m, t, sx::DType::f32);
  const Mat B = test_matrix(m, k, 1), C = test_matrix(n, k, 2), L = test_matrix(k, n, 3);
  const Vec y = test_matrix(n, 1, 4).col(0);
  near(E([&] { return sx::dot(a, sx::from_eigen(B)); }), d * B, 1e-6);
  near(E([&] { return sx::dot(a.T(), sx::from_eigen(C)); }), d.transpose() * C, 1e-6);
  near(E([&] { return sx::dot(sx::from_eigen(L), a); }), L * d, 1e-6);
  near(E([&] { return sx::dot(sx::from_eigen(y), a); }), (y.transpose() * d).transpose(), 1e-6);
  near(E([&] { return sx::dot(sx::from_eigen(B.transpose().eval()), a.T()); }), B.transpose() * d.transpose(), 1e-6);
  // f32 sparse · f64 sparse
  const auto t2 = rand_trips(m, 7, 0.3, 7);
  const Sp e2 = eigen_of(m, 7, t2);
  near(E([&] { return sx::dot(a, from_shares(m, 7, t2)); }), d * Mat(e2), 1e-6);
}

TEST(SparseEdge, ToSparseOfOtherDtypes) {
  Mat d = test_matrix(9, 7, 3);
  for (Eigen::Index i = 0; i < d.rows(); ++i)
    for (Eigen::Index j = 0; j < d.cols(); ++j)
      if ((i + 2 * j) % 3) d(i, j) = 0;
  d = d.array().round();
  const std::int64_t nz = (d.array() != 0).count();
  for (sx::DType dt : {sx::DType::f32, sx::DType::i64, sx::DType::i32, sx::DType::boolean}) {
    SCOPED_TRACE(static_cast<int>(dt));
    const sx::Array s = sx::to_sparse(sx::from_eigen(d).astype(dt));
    EXPECT_EQ(s.dtype(), dt);
    EXPECT_EQ(sx::nnz(s), nz);
    const Mat want = dt == sx::DType::boolean ? Mat((d.array() != 0).cast<double>()) : d;
    near(E([&] { return s; }), want);
    near(E([&] { return sx::sum(s, 0); }).transpose(), want.colwise().sum());
  }
  // f32 -0.0 is not stored; NaN is.
  Mat z = Mat::Zero(4, 3);
  z(1, 1) = -0.0;
  z(2, 0) = std::nan("");
  const sx::Array s = sx::to_sparse(sx::from_eigen(z).astype(sx::DType::f32));
  EXPECT_EQ(sx::nnz(s), 1);
}

TEST(SparseEdge, EmptyShapes) {
  for (auto [n, m] : std::vector<std::pair<std::int64_t, std::int64_t>>{{0, 5}, {6, 0}, {0, 0}, {2, 3}}) {
    SCOPED_TRACE(std::to_string(n) + "x" + std::to_string(m));
    const auto t = rand_trips(n, m, 0.5, 9);
    const Mat d(eigen_of(n, m, t));
    const sx::Array a = from_shares(n, m, t);
    near(E([&] { return a; }), d);
    // Sums by loops: Eigen's colwise()/rowwise() offset the null data pointer of an
    // empty matrix (undefined behaviour that UBSan reports).
    Mat col_sums = Mat::Zero(1, m), row_sums = Mat::Zero(n, 1);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < m; ++j) col_sums(0, j) += d(i, j), row_sums(i, 0) += d(i, j);
    near(E([&] { return sx::sum(a, 0); }).transpose(), col_sums);
    near(E([&] { return sx::sum(a, 1); }), row_sums);
    EXPECT_EQ(sx::sum(a).item(), d.sum());
    near(E([&] { return a.T(); }), d.transpose());
    const Vec x = test_matrix(m, 1, 1).col(0), y = test_matrix(n, 1, 2).col(0);
    near(E([&] { return sx::dot(a, sx::from_eigen(x)); }), d * x);
    near(E([&] { return sx::dot(a.T(), sx::from_eigen(y)); }), d.transpose() * y);
    const Mat L = test_matrix(3, n, 5);
    near(E([&] { return sx::dot(sx::from_eigen(L), a); }), L * d);
    if (n > 0) near(E([&] { return sx::max(a, 0); }).transpose(), d.colwise().maxCoeff());
    EXPECT_EQ(sx::nnz(sx::dot(a, a.T())), 0 + (Sp(eigen_of(n, m, t) * eigen_of(n, m, t).transpose())).nonZeros());
  }
}

TEST(SparseEdge, FewRowsNegativeSlicesSlicesOfSlicesTransposes) {
  for (std::int64_t n : {2, 3, 5, 17}) {
    const std::int64_t m = 6;
    SCOPED_TRACE(n);
    const auto t = rand_trips(n, m, 0.5, 10 + n);
    const Mat d(eigen_of(n, m, t));
    const sx::Array a = from_shares(n, m, t);
    const Vec x = test_matrix(m, 1, 1).col(0);
    const sx::Array s1 = a.slice({sx::Range{std::nullopt, std::nullopt, -1}});
    const Mat d1 = rows_of(d, n - 1, -1, -1);
    near(E([&] { return s1; }), d1);
    near(E([&] { return sx::dot(s1, sx::from_eigen(x)); }), d1 * x);
    const Vec y1 = test_matrix(d1.rows(), 1, 2).col(0);
    near(E([&] { return sx::dot(s1.T(), sx::from_eigen(y1)); }), d1.transpose() * y1);
    near(E([&] { return sx::sum(s1, 0); }).transpose(), d1.colwise().sum());
    near(E([&] { return sx::max(s1, 1); }), d1.rowwise().maxCoeff());
    near(E([&] { return s1.T(); }), d1.transpose());
    near(E([&] { return s1.T().T(); }), d1);
    const Mat L = test_matrix(2, d1.rows(), 3);
    near(E([&] { return sx::dot(sx::from_eigen(L), s1); }), L * d1);
    // Slice of a slice, negative again.
    const sx::Array s2 = s1.slice({sx::Range{std::nullopt, std::nullopt, -2}});
    const Mat d2 = rows_of(d1, d1.rows() - 1, -1, -2);
    near(E([&] { return s2; }), d2);
    near(E([&] { return sx::sum(s2, 1); }), d2.rowwise().sum());
    near(E([&] { return sx::dot(s2, sx::from_eigen(x)); }), d2 * x);
    near(E([&] { return s2.T(); }), d2.transpose());
    const sx::Array s3 = s1.slice({sx::Range{1, std::nullopt, 2}});
    const Mat d3 = rows_of(d1, 1, d1.rows(), 2);
    near(E([&] { return s3; }), d3);
    near(E([&] { return sx::dot(s3.T(), s3); }), d3.transpose() * d3);
    near(E([&] { return a.T().T(); }), d);
    near(E([&] { return sx::dot(a.T().T(), sx::from_eigen(x)); }), d * x);
  }
}

TEST(SparseEdge, SparseSparseEmptyResultAndDense1d) {
  const std::int64_t n = 8, m = 6, k = 5;
  // a uses only columns 0..2, b only rows 3..5: a·b is all zeros.
  std::vector<Trip> ta, tb;
  for (std::int64_t i = 0; i < n; ++i) ta.emplace_back(i, i % 3, 1.0 + i);
  for (std::int64_t i = 3; i < m; ++i) tb.emplace_back(i, i % k, 2.0 + i);
  const sx::Array a = from_shares(n, m, ta), b = from_shares(m, k, tb);
  const sx::Array ab = sx::dot(a, b);
  EXPECT_EQ(sx::nnz(ab), 0);
  near(E([&] { return ab; }), Mat::Zero(n, k));
  near(E([&] { return sx::sum(ab, 0); }).transpose(), Mat::Zero(1, k));
  const Vec v = test_matrix(n, 1, 1).col(0);
  const Mat da(eigen_of(n, m, ta));
  near(E([&] { return sx::dot(sx::from_eigen(v), a); }), (v.transpose() * da).transpose());
  const Vec w = test_matrix(m, 1, 2).col(0);
  near(E([&] { return sx::dot(sx::from_eigen(w), a.T()); }), da * w);
}

TEST(SparseEdge, ReductionsOfFusedMapsImplicitColumnsNanNegZero) {
  const std::int64_t n = 14, m = 9;
  auto t = rand_trips(n, m, 0.3, 12);
  // Columns 4 and 7 entirely implicit zeros; column 2 full of negatives.
  std::vector<Trip> u;
  for (const Trip& x : t)
    if (x.col() != 4 && x.col() != 7 && x.col() != 2) u.push_back(x);
  for (std::int64_t i = 0; i < n; ++i) u.emplace_back(i, 2, -1.0 - i);
  const Mat d(eigen_of(n, m, u));
  const sx::Array a = from_shares(n, m, u);
  const Mat D = test_matrix(n, m, 13);
  near(E([&] { return sx::sum(a * sx::from_eigen(D), 0); }).transpose(), d.cwiseProduct(D).colwise().sum());
  near(E([&] { return sx::sum(a * sx::from_eigen(D), 1); }), d.cwiseProduct(D).rowwise().sum());
  EXPECT_NEAR(sx::sum(a * sx::from_eigen(D)).item(), d.cwiseProduct(D).sum(), 1e-10);
  near(E([&] { return sx::max(a * sx::from_eigen(D), 0); }).transpose(), d.cwiseProduct(D).colwise().maxCoeff());
  near(E([&] { return sx::max(a, 0); }).transpose(), d.colwise().maxCoeff());
  near(E([&] { return sx::min(a, 0); }).transpose(), d.colwise().minCoeff());
  near(E([&] { return sx::mean(a, 0); }).transpose(), d.colwise().mean());
  EXPECT_EQ(sx::max(-sx::abs(a)).item(), 0.0);
  // NaN and -0.0 stored.
  std::vector<Trip> v{{0, 0, -0.0}, {1, 1, std::nan("")}, {2, 2, -3.0}};
  const sx::Array b = from_shares(3, 3, v);
  EXPECT_EQ(sx::nnz(b), 3);
  EXPECT_EQ(sx::count_nonzero(b).item(), 2);
  const Mat mx = E([&] { return sx::max(b, 0); });
  EXPECT_EQ(mx(0, 0), 0.0);
  EXPECT_TRUE(std::isnan(mx(1, 0)));
  EXPECT_EQ(mx(2, 0), 0.0);
  EXPECT_TRUE(std::isnan(sx::min(b).item()));
  EXPECT_TRUE(std::isnan(sx::sum(b).item()));
  const Mat mn1 = E([&] { return sx::min(b, 1); });
  EXPECT_EQ(mn1(2, 0), -3.0);
  EXPECT_TRUE(std::isnan(mn1(1, 0)));
}

TEST(SparseEdge, SameExpressionTwiceAndHeldIntermediates) {
  const std::int64_t n = 21, m = 8;
  const auto t = rand_trips(n, m, 0.3, 14);
  const Sp e = eigen_of(n, m, t);
  const Mat d(e);
  const sx::Array a = from_shares(n, m, t);
  const Vec x = test_matrix(m, 1, 1).col(0), y = test_matrix(n, 1, 2).col(0);
  for (int it = 0; it < 3; ++it) {
    const sx::Array b = sx::abs(a) * 2.0;
    const sx::Array c = sx::dot(b, sx::from_eigen(x));
    const sx::Array g = sx::dot(b.T(), c - sx::from_eigen(y));
    near(E([&] { return g; }), (2 * d.cwiseAbs()).transpose() * (2 * d.cwiseAbs() * x - y));
    near(E([&] { return c; }), 2 * d.cwiseAbs() * x);
    near(E([&] { return b; }), 2 * d.cwiseAbs());
    const sx::Array at = a.T();
    near(E([&] { return sx::dot(at, at.T()); }), d.transpose() * d);
    near(E([&] { return sx::dot(a, at); }), d * d.transpose());
    EXPECT_FALSE(sx::explain(sx::sum(b * sx::from_eigen(Mat(test_matrix(n, m, 3))), 0)).empty());
    EXPECT_FALSE(sx::explain(sx::dot(a, at)).empty());
  }
}

TEST(SparseEdge, GradientUnevenTilesAndEmptyRanks) {
  for (std::int64_t n : {1, 2, 3, 50}) {
    SCOPED_TRACE(n);
    const std::int64_t m = 7;
    std::vector<Trip> t;
    // All entries in the first rows: some ranks hold no rows / no entries.
    for (std::int64_t i = 0; i < std::min<std::int64_t>(n, 2); ++i)
      for (std::int64_t j = 0; j < m; ++j) t.emplace_back(i, j, 0.1 * (i + 1) * (j - 3));
    if (n > 10) t.emplace_back(n - 1, 3, 2.0);
    const Sp e = eigen_of(n, m, t);
    const sx::Array X = from_shares(n, m, t);
    const Vec w = test_matrix(m, 1, 1).col(0), y = test_matrix(n, 1, 2).col(0);
    const Vec want = e.transpose() * ((1.0 / (1.0 + (-(e * w).array()).exp())).matrix() - y);
    const sx::Array g = sx::dot(X.T(), sx::sigmoid(sx::dot(X, sx::from_eigen(w))) - sx::from_eigen(y));
    near(E([&] { return g; }), want);
    EXPECT_FALSE(sx::explain(g).empty());
    const Mat W = test_matrix(m, 3, 3), Y = test_matrix(n, 3, 4);
    const Mat wantM = e.transpose() * (Mat(e * W).array().tanh().matrix() - Y);
    near(E([&] { return sx::dot(X.T(), sx::tanh(sx::dot(X, sx::from_eigen(W))) - sx::from_eigen(Y)); }), wantM);
    near(E([&] { return sx::sigmoid(sx::dot(X, sx::from_eigen(W))) * 2.0; }),
         Mat(2.0 / (1.0 + (-(e * W).array()).exp())));
  }
}

TEST(SparseEdge, SumOfProducts) {
  const std::int64_t n = 17, m = 9;
  const auto t = rand_trips(n, m, 0.3, 15);
  const Mat d(eigen_of(n, m, t));
  const sx::Array a = from_shares(n, m, t);
  const Vec x = test_matrix(m, 1, 1).col(0), y = test_matrix(n, 1, 2).col(0);
  EXPECT_NEAR(sx::sum(sx::dot(a, sx::from_eigen(x))).item(), (d * x).sum(), 1e-10);
  EXPECT_NEAR(sx::sum(sx::dot(a.T(), sx::from_eigen(y))).item(), (d.transpose() * y).sum(), 1e-10);
  EXPECT_NEAR(sx::sum(sx::dot(sx::from_eigen(y), a)).item(), (y.transpose() * d).sum(), 1e-10);
  EXPECT_NEAR(sx::sum(sx::sum(a, 0)).item(), d.sum(), 1e-10);
}

// ---------------------------------------------------------------------------------
// Regressions found in review.

// A transpose of the dense operand of a sparse product was folded into it and then read
// untransposed (wrong values, or a "Layout: splits ... do not cover" error); now only
// transposes of sparse operands are folded.
TEST(SparseEdge, SparseTimesTransposedDense) {
  const std::int64_t n = 11, m = 7, k = 3;
  const auto t = rand_trips(n, m, 0.4, 31);
  const Mat d(eigen_of(n, m, t));
  const sx::Array a = from_shares(n, m, t);
  const Mat Bt = test_matrix(k, m, 1);  // B = Btᵀ is m x k
  // Built first, evaluated after, so the transpose is folded into the product.
  const sx::Array r = sx::dot(a, sx::from_eigen(Bt).T());
  near(sx::to_eigen(r), d * Bt.transpose());
}

TEST(SparseEdge, TransposedSparseTimesTransposedDense) {
  const std::int64_t n = 11, m = 7, k = 3;
  const auto t = rand_trips(n, m, 0.4, 32);
  const Mat d(eigen_of(n, m, t));
  const sx::Array a = from_shares(n, m, t);
  const Mat Ct = test_matrix(k, n, 2);  // C = Ctᵀ is n x k
  // Built first, evaluated after, so the transpose is folded into the product.
  const sx::Array r = sx::dot(a.T(), sx::from_eigen(Ct).T());
  near(sx::to_eigen(r), d.transpose() * Ct.transpose());
}

TEST(SparseEdge, TransposedDenseTimesSparse) {
  const std::int64_t n = 11, m = 7, k = 3;
  const auto t = rand_trips(n, m, 0.4, 33);
  const Mat d(eigen_of(n, m, t));
  const sx::Array a = from_shares(n, m, t);
  const Mat Lt = test_matrix(n, k, 3);  // L = Ltᵀ is k x n
  // Built first, evaluated after, so the transpose is folded into the product.
  const sx::Array r = sx::dot(sx::from_eigen(Lt).T(), a);
  near(sx::to_eigen(r), Lt.transpose() * d);
}

TEST(SparseEdge, TransposedDenseTimesTransposedSparse) {
  const std::int64_t n = 11, m = 7, k = 3;
  const auto t = rand_trips(n, m, 0.4, 34);
  const Mat d(eigen_of(n, m, t));
  const sx::Array a = from_shares(n, m, t);
  const Mat Rt = test_matrix(m, k, 4);  // R = Rtᵀ is k x m
  // Built first, evaluated after, so the transpose is folded into the product.
  const sx::Array r = sx::dot(sx::from_eigen(Rt).T(), a.T());
  near(sx::to_eigen(r), Rt.transpose() * d.transpose());
}

// dot(X.T(), dot(X, W) * 2) with X and W sparse is sparse·sparse (a sparse result); the
// gradient fusion made it dense data on a sparse node (a crash in its sparse readers).
TEST(SparseEdge, GradientFusionOfSparseTimesSparse) {
  const std::int64_t n = 10, d = 4, k = 3;
  const auto tx = rand_trips(n, d, 0.5, 21), tw = rand_trips(d, k, 0.6, 22);
  const Sp ex = eigen_of(n, d, tx), ew = eigen_of(d, k, tw);
  const Mat want = Mat(ex).transpose() * (2.0 * Mat(ex) * Mat(ew));
  const sx::Array X = from_shares(n, d, tx), W = from_shares(d, k, tw);
  const sx::Array G = sx::dot(X.T(), sx::dot(X, W) * 2.0);
  EXPECT_TRUE(G.is_sparse());
  near(sx::to_eigen(sx::sum(G, 0)).transpose(), want.colwise().sum());
  near(Mat(sx::to_eigen_sparse(G)), want);
}

// dot(X.T(), dot(X, w) * S) with S sparse: the gradient fusion read S's tiles as dense
// data (a crash); a sparse region is not fused into the one-pass kernel.
TEST(SparseEdge, GradientFusionWithSparseRegionInput) {
  const std::int64_t n = 12, d = 5;
  const Mat X = test_matrix(n, d, 1);
  const Mat w = test_matrix(d, 1, 2);
  std::vector<Trip> ts;
  for (std::int64_t i = 0; i < n; i += 3) ts.emplace_back(i, 0, 1.0 + i);
  const Mat S(eigen_of(n, 1, ts));
  const sx::Array s = from_shares(n, 1, ts);
  const Mat want = X.transpose() * (X * w).cwiseProduct(S);
  // Built first, evaluated after: no temporary handle keeps the transpose or the inner
  // product alive, so the planner fuses them.
  const sx::Array Xs = sx::from_eigen(X);
  const sx::Array g = sx::dot(Xs.T(), sx::dot(Xs, sx::from_eigen(w)) * s);
  near(sx::to_eigen(g), want);
}

}  // namespace
