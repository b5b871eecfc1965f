// Sparse matrices against Eigen::SparseMatrix and dense Eigen on the same data. Every
// rank builds the same Eigen reference; each passes only a share of the triplets.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "spartanxx/spartanxx.hpp"
#include "expr/boundary.hpp"
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
using spartanxx_test::expect_mat_near;
using spartanxx_test::from_shares;
using spartanxx_test::random_triplets;
using spartanxx_test::Sp;
using spartanxx_test::Trip;

/// A dense matrix with the pattern of `s` holding f(value, i, j).
template <class F>
Mat map_stored(const Sp& s, F f) {
  Mat d = Mat::Zero(s.rows(), s.cols());
  for (Eigen::Index i = 0; i < s.outerSize(); ++i)
    for (Sp::InnerIterator it(s, i); it; ++it) d(it.row(), it.col()) = f(it.value(), it.row(), it.col());
  return d;
}

struct Case {
  std::int64_t n, m;
  double density;
};

// Shapes with uneven tiles, empty tiles (fewer rows than ranks), a single row.
const Case kCases[] = {{37, 23, 0.2}, {3, 9, 0.5}, {1, 5, 0.6}, {64, 41, 0.05}};

TEST(Sparse, FromTripletsSumsDuplicatesAcrossRanks) {
  for (const Case& c : kCases) {
    const auto t = random_triplets(c.n, c.m, c.density, 11);
    const Sp want = eigen_of(c.n, c.m, t);
    const sx::Array a = from_shares(c.n, c.m, t);
    EXPECT_TRUE(a.is_sparse());
    EXPECT_EQ(sx::nnz(a), want.nonZeros());
    const Sp got = sx::to_eigen_sparse(a);
    EXPECT_EQ(got.nonZeros(), want.nonZeros());
    expect_mat_near(Mat(got), Mat(want));
    expect_mat_near(sx::to_eigen(a), Mat(want));
    expect_mat_near(sx::to_eigen(sx::todense(a)), Mat(want));
  }
}

TEST(Sparse, RowSplitsBalanceStoredEntries) {
  // The first 10 rows hold almost everything: equal rows would not balance.
  const std::int64_t n = 400, m = 300;
  std::vector<Trip> t;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < (i < 10 ? m : 1); ++j) t.emplace_back(i, j, 1.0 + j);
  const sx::Array a = from_shares(n, m, t);
  a.evaluate();
  const auto& tiles = sx::detail::data_of(a).tile_nnz();
  const std::int64_t total = static_cast<std::int64_t>(t.size());
  for (std::int64_t c : tiles) EXPECT_LE(c, total / world_size() + m) << "tile counts unbalanced";
  expect_mat_near(sx::to_eigen(a), Mat(eigen_of(n, m, t)));
}

TEST(Sparse, NearlyUniformRowsTakeTheEvenSplit) {
  const int P = world_size();
  // Rows of 3 or 4 entries: the even split (that of dense vectors) is within 2% of
  // balanced, and is taken; from CSR arrays as from triplets.
  {
    const std::int64_t n = 1001, m = 50;
    std::vector<Trip> t;
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < 3 + (i % 2); ++j) t.emplace_back(i, (i * 7 + j * 13) % m, 1.0);
    const sx::Array a = from_shares(n, m, t);
    a.evaluate();
    EXPECT_EQ(sx::detail::data_of(a).layout().splits(0), spartanxx::tiling::even_splits(n, P));
    const Sp e = eigen_of(n, m, t);
    const sx::Array b = sx::from_eigen_sparse(e);
    b.evaluate();
    EXPECT_EQ(sx::detail::data_of(b).layout().splits(0), spartanxx::tiling::even_splits(n, P));
  }
  // More rows than histogram buckets (2^18), one row holding a third of the entries: the
  // even split is heavier than the balanced one, and the exact count says so.
  {
    const std::int64_t n = 600000, m = 400000, heavy = 240000;
    std::vector<Trip> t;
    for (std::int64_t i = 0; i < n; ++i) t.emplace_back(i, i % m, 1.0);
    for (std::int64_t j = 0; j < 300000; ++j) t.emplace_back(heavy, j, 2.0);
    const sx::Array a = from_shares(n, m, t);
    a.evaluate();
    const auto& tiles = sx::detail::data_of(a).tile_nnz();
    const std::int64_t total = static_cast<std::int64_t>(t.size());
    std::int64_t heaviest_even = 0;
    const auto even = spartanxx::tiling::even_splits(n, P);
    for (int p = 0; p < P; ++p)
      heaviest_even = std::max(heaviest_even, even[p + 1] - even[p] + (heavy >= even[p] && heavy < even[p + 1] ? 300000 - 1 : 0));
    const std::int64_t heaviest = *std::max_element(tiles.begin(), tiles.end());
    // Never worse than the even split; at 2 ranks cutting after the heavy row is better
    // by far (540,000 against 600,000 entries), so the even split must not be taken.
    EXPECT_LE(heaviest, heaviest_even);
    if (P == 2) EXPECT_LT(heaviest * 51, heaviest_even * 50) << "the even split was taken";
    // Balanced up to one row: cut before the heavy row or after it (buckets of 2-3 rows
    // once cut mid-bucket, so the heavy row went to the wrong side).
    EXPECT_LE(heaviest, total / P + 300000) << "tile counts unbalanced";
  }
}

TEST(Sparse, FromEigenAndEdgeMatrices) {
  // All zero, a single entry, and a general matrix.
  Sp zero(6, 4);
  Sp single(5, 7);
  single.insert(3, 6) = -2.5;
  single.makeCompressed();
  const Sp general = eigen_of(29, 13, random_triplets(29, 13, 0.3, 5));
  for (const Sp* s : std::vector<const Sp*>{&zero, &single, &general}) {
    const sx::Array a = sx::from_eigen_sparse(*s);
    EXPECT_EQ(sx::nnz(a), s->nonZeros());
    expect_mat_near(sx::to_eigen(a), Mat(*s));
    expect_mat_near(sx::to_eigen(sx::sum(a, 0)).transpose(), Mat(*s).colwise().sum());
    expect_mat_near(sx::to_eigen(sx::sum(a, 1)), Mat(*s).rowwise().sum());
    Vec x = test_matrix(s->cols(), 1, 3).col(0);
    expect_mat_near(sx::to_eigen(sx::dot(a, sx::from_eigen(x))), Mat(*s * x));
  }
}

TEST(Sparse, ToSparseAndBack) {
  Mat d = test_matrix(17, 11, 4);
  for (Eigen::Index i = 0; i < d.rows(); ++i)
    for (Eigen::Index j = 0; j < d.cols(); ++j)
      if ((i * 3 + j) % 4) d(i, j) = 0;
  d(2, 2) = -0.0;
  const sx::Array s = sx::to_sparse(sx::from_eigen(d));
  EXPECT_TRUE(s.is_sparse());
  EXPECT_EQ(sx::nnz(s), (d.array() != 0).count());
  expect_mat_near(sx::to_eigen(s), d);
  expect_mat_near(sx::to_eigen(s.todense() * 2.0), 2 * d);
}

TEST(Sparse, MapsKeepSparsity) {
  const std::int64_t n = 31, m = 19;
  const auto t = random_triplets(n, m, 0.25, 21);
  const Sp e = eigen_of(n, m, t);
  const sx::Array a = from_shares(n, m, t);
  const Mat D = test_matrix(n, m, 8);
  const Vec row = test_matrix(m, 1, 9).col(0), col = test_matrix(n, 1, 10).col(0);
  struct M {
    const char* name;
    sx::Array got;
    Mat want;
  };
  const std::vector<M> maps = {
      {"a*2", a * 2.0, map_stored(e, [](double v, auto, auto) { return v * 2; })},
      {"3*a", 3 * a, map_stored(e, [](double v, auto, auto) { return 3 * v; })},
      {"a/4", a / 4.0, map_stored(e, [](double v, auto, auto) { return v / 4; })},
      {"-a", -a, map_stored(e, [](double v, auto, auto) { return -v; })},
      {"abs", sx::abs(a), map_stored(e, [](double v, auto, auto) { return std::abs(v); })},
      {"sqrt(abs)", sx::sqrt(sx::abs(a)), map_stored(e, [](double v, auto, auto) { return std::sqrt(std::abs(v)); })},
      {"square", sx::square(a), map_stored(e, [](double v, auto, auto) { return v * v; })},
      {"sign", sx::sign(a), map_stored(e, [](double v, auto, auto) { return double((v > 0) - (v < 0)); })},
      {"floor(3a)", sx::floor(a * 3.0), map_stored(e, [](double v, auto, auto) { return std::floor(v * 3); })},
      {"ceil(3a)", sx::ceil(a * 3.0), map_stored(e, [](double v, auto, auto) { return std::ceil(v * 3); })},
      {"isnan(sqrt)", sx::isnan(sx::sqrt(a)), map_stored(e, [](double v, auto, auto) { return double(v < 0); })},
      {"a*D", a * sx::from_eigen(D), map_stored(e, [&](double v, auto i, auto j) { return v * D(i, j); })},
      {"D*a", sx::from_eigen(D) * a, map_stored(e, [&](double v, auto i, auto j) { return D(i, j) * v; })},
      {"a*row", a * sx::from_eigen(row), map_stored(e, [&](double v, auto, auto j) { return v * row(j); })},
      {"a*row2d", a * sx::from_eigen(Mat(row.transpose())), map_stored(e, [&](double v, auto, auto j) { return v * row(j); })},
      {"a*col", a * sx::from_eigen(Mat(col)), map_stored(e, [&](double v, auto i, auto) { return v * col(i); })},
      {"fused", sx::abs(a) * 3.0 - 0.0, map_stored(e, [](double v, auto, auto) { return std::abs(v) * 3; })},
      {"where", sx::where(a > 0, a, 0.0), map_stored(e, [](double v, auto, auto) { return v > 0 ? v : 0.0; })},
      {"exp(D)*a", sx::exp(sx::from_eigen(D)) * a, map_stored(e, [&](double v, auto i, auto j) { return std::exp(D(i, j)) * v; })},
  };
  for (const M& mp : maps) {
    SCOPED_TRACE(mp.name);
    EXPECT_TRUE(mp.got.is_sparse());
    expect_mat_near(sx::to_eigen(mp.got), mp.want);
    EXPECT_EQ(sx::nnz(mp.got), e.nonZeros());
  }
  // A structural mask is boolean, with the same pattern.
  const sx::Array mask = a > 0;
  EXPECT_TRUE(mask.is_sparse());
  EXPECT_EQ(mask.dtype(), sx::DType::boolean);
  expect_mat_near(sx::to_eigen(mask), map_stored(e, [](double v, auto, auto) { return double(v > 0); }));
  const sx::Array f32 = a.astype(sx::DType::f32);
  EXPECT_TRUE(f32.is_sparse());
  expect_mat_near(sx::to_eigen(f32), Mat(e).cast<float>().cast<double>());
}

TEST(Sparse, OperationsThatWouldFillAreErrors) {
  const sx::Array a = from_shares(9, 7, random_triplets(9, 7, 0.3, 2));
  const sx::Array b = from_shares(9, 7, random_triplets(9, 7, 0.3, 3));
  auto expect_value_error = [](auto f, const char* what) {
    try {
      f();
      ADD_FAILURE() << what << ": no error";
    } catch (const sx::value_error& e) {
      EXPECT_NE(std::string(e.what()).find("todense()"), std::string::npos) << e.what();
    }
  };
  expect_value_error([&] { return a + 1.0; }, "a + 1");
  expect_value_error([&] { return sx::exp(a); }, "exp");
  expect_value_error([&] { return sx::isfinite(a); }, "isfinite");  // isfinite(0) is true: it would fill
  expect_value_error([&] { return a / 0.0; }, "a / 0");
  expect_value_error([&] { return a == 0; }, "a == 0");
  expect_value_error([&] { return a / sx::ones({9, 7}); }, "a / dense");
  expect_value_error([&] { return a + b; }, "different structure");
  expect_value_error([&] { return a.reshape({7, 9}); }, "reshape");
  expect_value_error([&] { return sx::argmax(a); }, "argmax");
  expect_value_error([&] { return a.slice({sx::Range::all(), sx::Range{0, 3}}); }, "column slice");
  EXPECT_THROW(a * sx::ones({3, 9, 7}), sx::shape_error);
  EXPECT_THROW(sx::dot(a, sx::ones({8})), sx::shape_error);
}

TEST(Sparse, BadTripletsThrowOnEveryRank) {
  // Only the last rank passes an index outside the shape; every rank must throw.
  std::vector<std::int64_t> rows{0}, cols{0};
  const std::vector<double> vals{1.0};
  if (world_rank() == world_size() - 1) rows[0] = 5;
  spartanxx_test::expect_error<sx::index_error>([&] { sx::sparse_from_triplets({5, 5}, rows, cols, vals); },
                                                {"sparse_from_triplets", "(5, 0)", "outside shape (5, 5)"});
  // Only rank 0 passes fewer values than indices.
  const std::vector<double> mine = world_rank() == 0 ? std::vector<double>{} : vals;
  spartanxx_test::expect_error<sx::value_error>([&] { sx::sparse_from_triplets({5, 5}, {0}, {0}, mine); },
                                                {"sparse_from_triplets", "same length"});
}

TEST(Sparse, Reductions) {
  for (const Case& c : kCases) {
    auto t = random_triplets(c.n, c.m, c.density, 31);
    const Sp e = eigen_of(c.n, c.m, t);
    const Mat d(e);
    const sx::Array a = from_shares(c.n, c.m, t);
    expect_mat_near(sx::to_eigen(sx::sum(a, 0)).transpose(), d.colwise().sum());
    expect_mat_near(sx::to_eigen(sx::sum(a, 1)), d.rowwise().sum());
    EXPECT_NEAR(sx::sum(a).item(), d.sum(), 1e-12 * std::max(1.0, std::abs(d.sum())));
    // max / min count the implicit zeros of rows and columns that are not full.
    expect_mat_near(sx::to_eigen(sx::max(a, 0)).transpose(), d.colwise().maxCoeff());
    expect_mat_near(sx::to_eigen(sx::min(a, 1)), d.rowwise().minCoeff());
    expect_mat_near(sx::to_eigen(sx::max(a, 1)), d.rowwise().maxCoeff());
    expect_mat_near(sx::to_eigen(sx::min(a, 0)).transpose(), d.colwise().minCoeff());
    EXPECT_DOUBLE_EQ(sx::max(a).item(), d.maxCoeff());
    EXPECT_DOUBLE_EQ(sx::min(a).item(), d.minCoeff());
    expect_mat_near(sx::to_eigen(sx::mean(a, 0)).transpose(), d.colwise().mean());
    expect_mat_near(sx::to_eigen(sx::mean(a, 1)), d.rowwise().mean());
    EXPECT_NEAR(sx::mean(a).item(), d.mean(), 1e-12);
    const Eigen::MatrixXd nz = (d.array() != 0).cast<double>().matrix();
    expect_mat_near(sx::to_eigen(sx::count_nonzero(a, 0)).transpose(), nz.colwise().sum());
    expect_mat_near(sx::to_eigen(sx::count_nonzero(a, 1)), nz.rowwise().sum());
    EXPECT_EQ(sx::count_nonzero(a).item(), nz.sum());
    // A reduction of a map: one step, no sparse temporary handed to the user.
    expect_mat_near(sx::to_eigen(sx::sum(sx::square(a) * 2.0, 1)), (2 * d.array().square()).matrix().rowwise().sum());
  }
  // A NaN stored entry propagates through max, as NumPy's.
  const sx::Array nan = sx::sparse_from_triplets({3, 3}, {1}, {1}, {world_rank() == 0 ? std::nan("") : 0.0});
  EXPECT_TRUE(std::isnan(sx::max(nan).item()));
  EXPECT_TRUE(std::isnan(sx::to_eigen(sx::min(nan, 0))(1, 0)));
  EXPECT_EQ(sx::to_eigen(sx::min(nan, 0))(0, 0), 0.0);
}

TEST(Sparse, Products) {
  const std::int64_t n = 43, m = 29, k = 5;
  const auto t = random_triplets(n, m, 0.15, 41);
  const Sp e = eigen_of(n, m, t);
  const sx::Array a = from_shares(n, m, t);
  const Vec x = test_matrix(m, 1, 1).col(0), y = test_matrix(n, 1, 2).col(0);
  const Mat B = test_matrix(m, k, 3), C = test_matrix(n, k, 4), L = test_matrix(k, n, 5), R = test_matrix(k, m, 6);
  expect_mat_near(sx::to_eigen(sx::dot(a, sx::from_eigen(x))), Mat(e * x));
  expect_mat_near(sx::to_eigen(sx::dot(a, sx::from_eigen(B))), Mat(e * B));
  expect_mat_near(sx::to_eigen(sx::dot(a.T(), sx::from_eigen(y))), Mat(e.transpose() * y));
  expect_mat_near(sx::to_eigen(sx::dot(a.T(), sx::from_eigen(C))), Mat(e.transpose() * C));
  expect_mat_near(sx::to_eigen(sx::dot(sx::from_eigen(y), a)), Mat((y.transpose() * e).transpose()));
  expect_mat_near(sx::to_eigen(sx::dot(sx::from_eigen(L), a)), Mat(L * e));
  expect_mat_near(sx::to_eigen(sx::dot(sx::from_eigen(R), a.T())), Mat(R * e.transpose()));
  expect_mat_near(sx::to_eigen(sx::dot(sx::from_eigen(x), a.T())), Mat(e * x));
  // sparse · sparse stays sparse.
  const auto t2 = random_triplets(m, 17, 0.2, 42);
  const Sp e2 = eigen_of(m, 17, t2);
  const sx::Array b = from_shares(m, 17, t2);
  const sx::Array ab = sx::dot(a, b);
  EXPECT_TRUE(ab.is_sparse());
  expect_mat_near(sx::to_eigen(ab), Mat(Sp(e * e2)));
  expect_mat_near(sx::to_eigen(sx::dot(a.T(), a)), Mat(Sp(e.transpose() * e)));
  expect_mat_near(sx::to_eigen(sx::dot(a, a.T())), Mat(Sp(e * e.transpose())));
  // Maps on a sparse product's output.
  expect_mat_near(sx::to_eigen(sx::sigmoid(sx::dot(a, sx::from_eigen(x))) - sx::from_eigen(y)),
                  Mat((1.0 / (1.0 + (-(e * x).array()).exp())).matrix() - y));
  // The gradient product: dot(Xᵀ, sigmoid(X w) − y).
  const Vec grad = e.transpose() * ((1.0 / (1.0 + (-(e * x).array()).exp())).matrix() - y);
  const sx::Array w = sx::from_eigen(x);
  const sx::Array g = sx::dot(a.T(), sx::sigmoid(sx::dot(a, w)) - sx::from_eigen(y));
  g.evaluate();
  EXPECT_NE(sx::explain(g).find("one pass over X"), std::string::npos) << sx::explain(g);
  // Only the d-sized partial gradients (and w) move; no part of X.
  EXPECT_LE(sx::last_evaluation_stats().predicted_bytes, 2 * world_size() * m * 8);
  expect_mat_near(sx::to_eigen(g), Mat(grad));
  const sx::Array mapped = sx::sigmoid(sx::dot(a, w)) * 2.0;
  mapped.evaluate();
  EXPECT_NE(sx::explain(mapped).find("block by block"), std::string::npos) << sx::explain(mapped);
  expect_mat_near(sx::to_eigen(mapped), Mat(2.0 / (1.0 + (-(e * x).array()).exp())));
}

TEST(Sparse, TransposeAndRowSlices) {
  const std::int64_t n = 26, m = 15;
  const auto t = random_triplets(n, m, 0.3, 51);
  const Sp e = eigen_of(n, m, t);
  const Mat d(e);
  const sx::Array a = from_shares(n, m, t);
  const sx::Array at = a.T();
  EXPECT_TRUE(at.is_sparse());
  expect_mat_near(sx::to_eigen(at), d.transpose());
  EXPECT_EQ(sx::nnz(at), e.nonZeros());
  expect_mat_near(sx::to_eigen(sx::sum(at, 1)), d.colwise().sum().transpose());
  struct S {
    std::optional<std::int64_t> start, stop;
    std::int64_t step;
  };
  for (const S& s : {S{2, 17, 3}, S{std::nullopt, std::nullopt, -1}, S{5, 5, 1}, S{20, 1, -4}, S{0, 26, 1}}) {
    const sx::Array sl = a.slice({sx::Range{s.start, s.stop, s.step}});
    EXPECT_TRUE(sl.is_sparse());
    std::vector<Eigen::Index> rows;
    const std::int64_t st = s.start ? *s.start : (s.step > 0 ? 0 : n - 1);
    for (std::int64_t r = st; s.step > 0 ? r < (s.stop ? *s.stop : n) : r > (s.stop ? *s.stop : -1); r += s.step)
      rows.push_back(r);
    Mat want(static_cast<Eigen::Index>(rows.size()), m);
    for (std::size_t i = 0; i < rows.size(); ++i) want.row(static_cast<Eigen::Index>(i)) = d.row(rows[i]);
    expect_mat_near(sx::to_eigen(sl), want);
    Vec x = test_matrix(m, 1, 7).col(0);
    if (!rows.empty()) expect_mat_near(sx::to_eigen(sx::dot(sl, sx::from_eigen(x))), want * x);
  }
}

TEST(Sparse, NormalizeRows) {
  const std::int64_t n = 33, m = 12;
  const auto t = random_triplets(n, m, 0.3, 61);  // rows 3, 10, ... are empty
  const Mat d(eigen_of(n, m, t));
  const sx::Array a = from_shares(n, m, t);
  for (int ord : {1, 2}) {
    const sx::Array r = sx::normalize_rows(a, ord);
    EXPECT_TRUE(r.is_sparse());
    Mat want = d;
    for (Eigen::Index i = 0; i < n; ++i) {
      const double norm = ord == 1 ? d.row(i).lpNorm<1>() : d.row(i).norm();
      if (norm != 0) want.row(i) /= norm;
    }
    expect_mat_near(sx::to_eigen(r), want);
  }
  EXPECT_THROW(sx::normalize_rows(a, 3), sx::value_error);
}

TEST(Sparse, SparseUniform) {
  const std::int64_t n = 200, m = 150;
  const sx::Array s = sx::random::sparse_uniform({n, m}, 0.05, 7, -1, 1);
  const Mat d = sx::to_eigen(s);
  const Mat u = sx::to_eigen(sx::random::uniform({n, m}, 7, -1, 1));
  // Stored values are random::uniform's for the same seed; about 5% are stored.
  std::int64_t count = 0;
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < m; ++j)
      if (d(i, j) != 0) {
        ++count;
        EXPECT_EQ(d(i, j), u(i, j));
      }
  EXPECT_EQ(count, sx::nnz(s));
  const double expected = 0.05 * n * m, sd = std::sqrt(expected * 0.95);
  EXPECT_NEAR(static_cast<double>(count), expected, 5 * sd);
  // Density 1 is the dense generator.
  expect_mat_near(sx::to_eigen(sx::random::sparse_uniform({9, 8}, 1.0, 3)), sx::to_eigen(sx::random::uniform({9, 8}, 3)), 0);
  EXPECT_EQ(sx::nnz(sx::random::sparse_uniform({9, 8}, 0.0, 3)), 0);
  EXPECT_THROW(sx::random::sparse_uniform({9, 8}, 1.5, 3), sx::value_error);
}

TEST(Sparse, SpmvMovesOnlyTheVector) {
  // A row-split sparse matrix times a row-split vector: each rank receives the parts of
  // the vector it lacks, and no part of the matrix moves.
  const std::int64_t n = 120, m = 90;
  const auto t = random_triplets(n, m, 0.1, 71);
  const Sp e = eigen_of(n, m, t);
  const sx::Array a = from_shares(n, m, t);
  const Vec x = test_matrix(m, 1, 1).col(0);
  const sx::Array xs = sx::from_eigen(x);
  const sx::Array y = sx::dot(a, xs);
  y.evaluate();
  const auto st = sx::last_evaluation_stats();
  const int P = world_size();
  EXPECT_EQ(st.predicted_bytes, (P - 1) * m * 8);
  std::int64_t sent = st.comm.bytes_sent;
  MPI_Allreduce(MPI_IN_PLACE, &sent, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_EQ(sent, st.predicted_bytes);
  expect_mat_near(sx::to_eigen(y), Mat(e * x));
  // The gradient product under the same layout: only d-sized partial sums move.
  const sx::Array g = sx::dot(a.T(), sx::from_eigen(test_matrix(n, 1, 2).col(0)));
  g.evaluate();
  EXPECT_LE(sx::last_evaluation_stats().predicted_bytes, P * m * 8);
}

// A transpose the user still holds (here the temporary X.T() of the same statement) is
// read in place by the product, not made: one step, nothing but partial sums moved.
TEST(Sparse, HeldTransposeIsReadInPlace) {
  const std::int64_t n = 140, m = 70;
  const auto t = random_triplets(n, m, 0.1, 73);
  const Sp e = eigen_of(n, m, t);
  const sx::Array a = from_shares(n, m, t);
  const Vec r = test_matrix(n, 1, 3).col(0);
  const sx::Array rs = sx::from_eigen(r);
  const Mat got = sx::to_eigen(sx::dot(a.T(), rs));
  const auto st = sx::last_evaluation_stats();
  ASSERT_EQ(st.nodes.size(), 1u);
  EXPECT_NE(st.nodes[0].op.find("transposed"), std::string::npos) << st.nodes[0].op;
  EXPECT_LE(st.predicted_bytes, world_size() * m * 8);
  expect_mat_near(got, Mat(e.transpose() * r));
  // Held by name: the same, and the transpose is still there to use on its own.
  const sx::Array at = a.T();
  const Mat got2 = sx::to_eigen(sx::dot(at, rs));
  ASSERT_EQ(sx::last_evaluation_stats().nodes.size(), 1u);
  expect_mat_near(got2, Mat(e.transpose() * r));
  expect_mat_near(sx::to_eigen(sx::todense(at)), Mat(e.transpose()));
}

TEST(Sparse, CostModelCountsStoredEntries) {
  // dense · sparse: either the dense operand's columns move and partial sums are
  // combined, or the sparse operand is replicated. The cost model counts stored entries,
  // so a very sparse matrix is replicated, and a nearly full one is not.
  const int P = world_size();
  const std::int64_t k = 60, m = 50;
  const Mat tall = test_matrix(400, k, 5), flat = test_matrix(2, k, 6);
  std::vector<Trip> few, many;
  for (std::int64_t i = 0; i < 30; ++i) few.emplace_back((i * 7) % k, (i * 11) % m, 1.0 + i);
  for (std::int64_t i = 0; i < k; ++i)
    for (std::int64_t j = 0; j < m; ++j) many.emplace_back(i, j, 0.5 + (i + j) % 5);
  const sx::Array s_few = from_shares(k, m, few), s_many = from_shares(k, m, many);
  const sx::Array a = sx::dot(sx::from_eigen(tall), s_few);
  a.evaluate();
  expect_mat_near(sx::to_eigen(a), tall * Mat(eigen_of(k, m, few)));
  const sx::Array b = sx::dot(sx::from_eigen(flat), s_many);
  b.evaluate();
  expect_mat_near(sx::to_eigen(b), flat * Mat(eigen_of(k, m, many)));
  if (P > 1) {
    EXPECT_NE(sx::explain(a).find("replicated sparse"), std::string::npos) << sx::explain(a);
    EXPECT_NE(sx::explain(b).find("partial sums"), std::string::npos) << sx::explain(b);
  }
}

}  // namespace
