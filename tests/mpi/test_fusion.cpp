// Elementwise fusion: fused results equal unfused ones (options().fusion = false) and
// Eigen's; a fused expression over aligned operands moves nothing and allocates no
// full-size temporary; values a user holds are kept, the rest are not.
#include <gtest/gtest.h>
#include <mpi.h>

#include <Eigen/Core>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>

#include "mpi/test_support.hpp"
#include "spartanxx/spartanxx.hpp"

namespace sx = spartanxx;

namespace {

Eigen::MatrixXd matrix(Eigen::Index rows, Eigen::Index cols, unsigned seed) {
  return spartanxx_test::test_matrix(rows, cols, seed, -2, 2);
}

/// Restores fusion after a test that switches it off.
struct FusionOff {
  FusionOff() { sx::options().fusion = false; }
  ~FusionOff() { sx::options().fusion = true; }
};

double max_diff(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return 1e300;
  return (a - b).cwiseAbs().maxCoeff();
}

}  // namespace

TEST(Fusion, FusedEqualsUnfusedAndEigen) {
  const Eigen::MatrixXd X = matrix(37, 13, 1), Y = matrix(37, 13, 2), Z = matrix(37, 13, 3);
  const Eigen::RowVectorXd v = matrix(1, 13, 4).row(0);
  using Fn = std::function<sx::Array(const sx::Array&, const sx::Array&, const sx::Array&, const sx::Array&)>;
  struct Case {
    std::string name;
    Fn fn;
    Eigen::MatrixXd expected;
  };
  const Eigen::ArrayXXd x = X.array(), y = Y.array(), z = Z.array();
  const Eigen::ArrayXXd vb = v.replicate(37, 1).array();
  std::vector<Case> cases = {
      {"a*x + b*y - z", [](auto& x_, auto& y_, auto& z_, auto&) { return 2.0 * x_ + 3.0 * y_ - z_; },
       (2.0 * x + 3.0 * y - z).matrix()},
      {"sigmoid(x) * log1p(y*y)", [](auto& x_, auto& y_, auto&, auto&) { return sx::sigmoid(x_) * sx::log1p(y_ * y_); },
       ((1.0 / (1.0 + (-x).exp())) * (y * y).log1p()).matrix()},
      {"where(x > 0.5, x, -y) + v", [](auto& x_, auto& y_, auto&, auto& v_) { return sx::where(x_ > 0.5, x_, -y_) + v_; },
       ((x > 0.5).select(x, -y) + vb).matrix()},
      {"exp(x - v) / sqrt(abs(z) + 1)",
       [](auto& x_, auto&, auto& z_, auto& v_) { return sx::exp(x_ - v_) / sx::sqrt(sx::abs(z_) + 1.0); },
       ((x - vb).exp() / (z.abs() + 1.0).sqrt()).matrix()},
      {"maximum(x, y).astype(f32) * 2 + z", [](auto& x_, auto& y_, auto& z_, auto&) {
         return sx::maximum(x_, y_).astype(sx::DType::f32) * 2.0 + z_;
       },
       ((x.max(y).cast<float>() * 2.0f).cast<double>() + z).matrix()},
      {"shared t = x*y: t + t*2", [](auto& x_, auto& y_, auto&, auto&) {
         auto t = x_ * y_;
         return t + t * 2.0;
       },
       ((x * y) + (x * y) * 2.0).matrix()},
  };
  for (const auto& c : cases) {
    auto xa = sx::from_eigen(X), ya = sx::from_eigen(Y), za = sx::from_eigen(Z);
    auto va = sx::from_eigen(Eigen::VectorXd(v.transpose()));
    const Eigen::MatrixXd fused = sx::to_eigen(c.fn(xa, ya, za, va));
    Eigen::MatrixXd unfused;
    {
      FusionOff off;
      unfused = sx::to_eigen(c.fn(xa, ya, za, va));
    }
    EXPECT_LT(max_diff(fused, c.expected), 1e-5) << c.name;  // f32 step in one case
    EXPECT_LT(max_diff(fused, unfused), 1e-12) << c.name;
  }
}

TEST(Fusion, AlignedExpressionMovesNothingAndAllocatesOnlyItsResult) {
  const std::int64_t n = 100003;  // uneven over any rank count
  auto x = sx::random::uniform({n}, 1), y = sx::random::uniform({n}, 2), z = sx::random::uniform({n}, 3);
  x.evaluate(), y.evaluate(), z.evaluate();
  auto r = 2.0 * x + 3.0 * y - z;
  r.evaluate();
  const auto fused = sx::last_evaluation_stats();
  const int P = sx::Runtime::current().size();
  const std::int64_t out_bytes = (n / P + 1) * 8;  // this rank's largest possible share
  EXPECT_EQ(fused.comm.bytes_sent, 0);
  EXPECT_EQ(fused.comm.bytes_received, 0);
  EXPECT_EQ(fused.predicted_bytes, 0);
  // The result plus chunk-sized registers: no full-size temporary.
  EXPECT_LT(fused.temp_bytes, out_bytes + 256 * 1024) << "temporaries " << fused.temp_bytes;
  EXPECT_NE(sx::explain(r).find("fused["), std::string::npos) << sx::explain(r);

  FusionOff off;
  auto u = 2.0 * x + 3.0 * y - z;
  u.evaluate();
  const auto unfused = sx::last_evaluation_stats();
  EXPECT_EQ(unfused.comm.bytes_sent, 0);
  // Four operations, each materialized (this rank's share, at least n/P elements each).
  EXPECT_GE(unfused.temp_bytes, 4 * (n / P) * 8);
  EXPECT_EQ(sx::to_vector<double>(u), sx::to_vector<double>(r));
}

TEST(Fusion, ValuesHeldByUsersAreCachedOthersAreNot) {
  auto x = sx::random::uniform({50, 7}, 5);
  auto held = x * 2.0;                 // a user keeps this handle
  auto result = sx::exp(held) + 1.0;   // so it is materialized, not fused away
  result.evaluate();
  EXPECT_TRUE(held.is_evaluated());
  EXPECT_TRUE(result.is_evaluated());
  const Eigen::MatrixXd X = sx::to_eigen(x);
  EXPECT_LT(max_diff(sx::to_eigen(held), 2.0 * X), 1e-15);
  EXPECT_LT(max_diff(sx::to_eigen(result), ((2.0 * X).array().exp() + 1.0).matrix()), 1e-12);
  // Building on a cached result recomputes nothing of it.
  auto more = held - 1.0;
  more.evaluate();
  EXPECT_EQ(sx::last_evaluation_stats().nodes.size(), 1u);  // one map (a C++ scalar needs no step)
}

TEST(Fusion, LoopOfEvaluatedUpdatesMatchesClosedForm) {
  // w <- w - 0.1 * (w - target), evaluated each iteration as a training loop does.
  auto target = sx::random::uniform({1000}, 9);
  auto w = sx::zeros({1000});
  for (int i = 0; i < 30; ++i) {
    w = w - 0.1 * (w - target);
    w.evaluate();
  }
  const std::vector<double> t = sx::to_vector<double>(target), got = sx::to_vector<double>(w);
  const double factor = 1.0 - std::pow(0.9, 30);
  for (std::size_t i = 0; i < t.size(); ++i) ASSERT_NEAR(got[i], factor * t[i], 1e-12) << i;
}

TEST(Fusion, GradientStepFoldsTheTransposeAndMovesOnlyVectors) {
  // The logistic-regression gradient X^T (sigmoid(X w) - y) with X (n x d) split by rows.
  const std::int64_t n = 2001, d = 64;
  auto X = sx::random::uniform({n, d}, 11, -1, 1);
  auto y = sx::greater(sx::random::uniform({n}, 12), 0.5).astype(sx::DType::f64);
  auto w = sx::random::normal({d}, 13);
  X.evaluate(), y.evaluate(), w.evaluate();
  auto g = sx::dot(X.T(), sx::sigmoid(sx::dot(X, w)) - y);
  g.evaluate();
  const auto stats = sx::last_evaluation_stats();
  const std::string plan = sx::explain(g);
  EXPECT_NE(plan.find("transposed"), std::string::npos) << plan;
  // One pass over X: z = X w and the region are computed block by block, never whole.
  EXPECT_NE(plan.find("one pass over X"), std::string::npos) << plan;
  EXPECT_EQ(stats.nodes.size(), 1u) << plan;

  const int P = sx::Runtime::current().size();
  std::int64_t sent = stats.comm.bytes_sent;
  MPI_Allreduce(MPI_IN_PLACE, &sent, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_EQ(sent, stats.predicted_bytes);  // the cost model's figure is what moved
  // O(d) per rank: w to every rank and the d partial sums; never rows of X.
  EXPECT_LE(sent, 2 * P * d * 8) << plan;
  // No transposed copy of X: temporaries stay far below this rank's part of X.
  EXPECT_LT(stats.temp_bytes, (n / P) * d * 8 / 2) << plan;
  // Nor anything of length n: only blocks of rows, w and the d partial sums.
  EXPECT_LT(stats.temp_bytes, 64 * 1024) << plan;

  const Eigen::MatrixXd Xe = sx::to_eigen(X);
  const Eigen::VectorXd ye = sx::to_eigen(y), we = sx::to_eigen(w);
  const Eigen::VectorXd r = (1.0 / (1.0 + (-(Xe * we).array()).exp())).matrix() - ye;
  const Eigen::VectorXd expected = Xe.transpose() * r;
  EXPECT_LT((sx::to_eigen(g) - expected).cwiseAbs().maxCoeff(), 1e-10);
  Eigen::VectorXd unfused;
  {
    FusionOff off;
    unfused = sx::to_eigen(sx::dot(X.T(), sx::sigmoid(sx::dot(X, w)) - y));
  }
  EXPECT_LT((sx::to_eigen(g) - unfused).cwiseAbs().maxCoeff(), 1e-10);
}

TEST(Fusion, ReductionsOfExpressionsEqualUnfusedAndAllocateNoFullTemporary) {
  // Big enough for several slabs per tile; uneven at every rank count; ties and a NaN-free
  // mix of signs so argmin/argmax have work to do.
  const std::vector<sx::Shape> shapes = {{600, 257}, {40, 33, 29}, {70001}};
  for (const auto& shape : shapes) {
    auto a = sx::random::uniform(shape, 21, -1, 1), b = sx::random::uniform(shape, 22, -1, 1);
    a.evaluate(), b.evaluate();
    const int nd = static_cast<int>(shape.size());
    using Red = sx::Array (*)(const sx::Array&, int);
    using Whole = sx::Array (*)(const sx::Array&);
    const std::vector<std::pair<const char*, Red>> by_axis = {
        {"sum", sx::sum}, {"min", sx::min}, {"max", sx::max}, {"argmin", sx::argmin}, {"argmax", sx::argmax}, {"mean", sx::mean}};
    const std::vector<std::pair<const char*, Whole>> whole = {
        {"sum", sx::sum}, {"min", sx::min}, {"max", sx::max}, {"argmin", sx::argmin}, {"argmax", sx::argmax}};
    auto expr = [&] { return sx::square(a - b) * 3.0 - sx::abs(a); };
    for (int axis = -1; axis < nd; ++axis) {
      for (std::size_t k = 0; k < (axis < 0 ? whole.size() : by_axis.size()); ++k) {
        const char* name = axis < 0 ? whole[k].first : by_axis[k].first;
        auto run = [&] { return axis < 0 ? whole[k].second(expr()) : by_axis[k].second(expr(), axis); };
        auto fused = run();
        fused.evaluate();
        const auto fused_stats = sx::last_evaluation_stats();
        std::vector<double> got = sx::to_vector<double>(fused);
        std::vector<double> want;
        {
          FusionOff off;
          want = sx::to_vector<double>(run());
        }
        ASSERT_EQ(got.size(), want.size()) << name << " axis " << axis;
        for (std::size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got[i], want[i], 1e-9 * (1 + std::abs(want[i]))) << name << " axis " << axis << " at " << i;
        // Never the whole expression at once: far less than this rank's share of it.
        const std::int64_t share = sx::Shape(shape)[0] / sx::Runtime::current().size();
        std::int64_t row = 1;
        for (int d = 1; d < nd; ++d) row *= shape[d];
        EXPECT_LT(fused_stats.temp_bytes, std::max<std::int64_t>(share * row * 8 / 4, 256 * 1024))
            << name << " axis " << axis << "\n" << sx::explain(fused);
      }
    }
  }
}

// explain() of a graph not yet evaluated shows the plan the run will follow: the
// merged common subexpressions included (the same passes run for both).
TEST(Fusion, ExplainBeforeEvaluationShowsTheMergedPlan) {
  auto x = sx::random::uniform({301, 5}, 41);
  auto a = sx::random::uniform({5, 4}, 42);
  x.evaluate(), a.evaluate();
  auto d = sx::sum(sx::dot(x, a), 0) + sx::sum(sx::dot(x, a), 0);  // the product twice, structurally equal
  const std::string before = sx::explain(d);
  d.evaluate();
  const std::string after = sx::explain(d);
  const auto steps = sx::last_evaluation_stats().nodes.size();
  auto count_steps = [](const std::string& text) {
    std::size_t n = 0;
    for (std::size_t at = text.find("\n  #"); at != std::string::npos; at = text.find("\n  #", at + 1)) ++n;
    return n;
  };
  auto count_dots = [](const std::string& text) {
    std::size_t n = 0;
    for (std::size_t at = text.find(" dot"); at != std::string::npos; at = text.find(" dot", at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count_steps(before), steps) << before << "\n" << after;
  EXPECT_EQ(count_steps(after), steps) << after;
  EXPECT_EQ(count_dots(before), 1u) << before;
  // Every line but the measured bytes is the same.
  auto unmeasured = [](std::string text) {
    for (std::size_t at = text.find(", measured"); at != std::string::npos; at = text.find(", measured")) {
      const std::size_t end = text.find('\n', at);
      text.erase(at, end - at);
    }
    return text;
  };
  EXPECT_EQ(unmeasured(after), before);
}

TEST(Fusion, CommonSubexpressionsAreComputedOnce) {
  auto x = sx::random::uniform({301, 5}, 31);
  auto a = sx::random::uniform({5, 4}, 32);
  x.evaluate(), a.evaluate();
  // Built twice, structurally equal: one exp, one dot.
  auto e = sx::exp(x) + sx::exp(x);
  auto d = sx::dot(x, a) + sx::dot(x, a);
  auto both = sx::sum(e) + sx::sum(d);
  both.evaluate();
  const auto stats = sx::last_evaluation_stats();
  int dots = 0, exps = 0;
  for (const auto& n : stats.nodes) {
    if (n.op.find("dot") != std::string::npos) ++dots;
    for (std::size_t at = n.op.find("exp"); at != std::string::npos; at = n.op.find("exp", at + 1)) ++exps;
  }
  EXPECT_EQ(dots, 1) << sx::explain(both);
  EXPECT_EQ(exps, 1) << sx::explain(both);
  const Eigen::MatrixXd X = sx::to_eigen(x), A = sx::to_eigen(a);
  const double expected = 2 * X.array().exp().sum() + 2 * (X * A).sum();
  EXPECT_NEAR(both.item(), expected, 1e-9 * std::abs(expected));
  // Equal C++ scalars are the same input: the scaled products are computed once too.
  auto scaled = sx::sum(sx::dot(x * 2.0, a) + sx::dot(x * 2.0, a));
  scaled.evaluate();
  dots = 0;
  for (const auto& n : sx::last_evaluation_stats().nodes) dots += n.op.find("dot") != std::string::npos;
  EXPECT_EQ(dots, 1) << sx::explain(scaled);
  EXPECT_NEAR(scaled.item(), 4 * (X * A).sum(), 1e-9 * std::abs(4 * (X * A).sum()));
}

namespace {

// A value read several times inside one expression (where(t > 0, t, -t)) is computed
// once inside the fused kernel, not materialized.
TEST(Fusion, ValueReadTwiceInsideARegionIsComputedInside) {
  const std::int64_t n = 100003;
  auto x = sx::random::uniform({n}, 31, -1, 1);
  x.evaluate();
  auto expr = [&] {
    auto t = x * 2.0 + 0.5;
    return sx::where(t > 0.0, t, -t) + sx::square(t);
  };
  auto y = expr();
  y.evaluate();
  const auto stats = sx::last_evaluation_stats();
  int full_size_steps = 0;  // scalars aside, one step computes everything
  for (const auto& ns : stats.nodes) full_size_steps += ns.shape != "()";
  EXPECT_EQ(full_size_steps, 1) << sx::explain(y);
  EXPECT_LT(stats.temp_bytes, n * 8 / sx::Runtime::current().size() + 256 * 1024) << sx::explain(y);
  const std::vector<double> got = sx::to_vector<double>(y), xs = sx::to_vector<double>(x);
  std::vector<double> unfused;
  {
    FusionOff off;
    unfused = sx::to_vector<double>(expr());
  }
  ASSERT_EQ(got.size(), xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double t = xs[i] * 2.0 + 0.5;
    ASSERT_NEAR(got[i], std::abs(t) + t * t, 1e-12) << i;
    ASSERT_EQ(got[i], unfused[i]) << i;
  }
}

}  // namespace

namespace {

// Maps on a product run on each row block as it is produced: sigmoid(X w) - y and a
// matrix-matrix case with a broadcast row, fused and unfused, against Eigen.
TEST(Fusion, MapsOnAProductRunBlockByBlock) {
  const std::int64_t n = 3001, d = 7, k = 3;
  auto X = sx::random::uniform({n, d}, 41, -1, 1);
  auto y = sx::random::uniform({n}, 42);
  auto w = sx::random::normal({d}, 43);
  auto B = sx::random::normal({d, k}, 44);
  auto c = sx::random::normal({k}, 45);
  X.evaluate(), y.evaluate(), w.evaluate(), B.evaluate(), c.evaluate();
  const Eigen::MatrixXd Xe = sx::to_eigen(X), Be = sx::to_eigen(B);
  const Eigen::VectorXd ye = sx::to_eigen(y), we = sx::to_eigen(w), ce = sx::to_eigen(c);

  auto vec = [&] { return sx::sigmoid(sx::dot(X, w)) - y; };
  auto r = vec();
  r.evaluate();
  auto stats = sx::last_evaluation_stats();
  std::string plan = sx::explain(r);
  EXPECT_NE(plan.find("block by block"), std::string::npos) << plan;
  // Neither the product nor anything else of length n besides the result.
  const std::int64_t part = (n / sx::Runtime::current().size() + 1) * 8;
  EXPECT_LT(stats.temp_bytes, part + 256 * 1024) << plan;
  const Eigen::VectorXd want = (1.0 / (1.0 + (-(Xe * we).array()).exp())).matrix() - ye;
  EXPECT_LT((sx::to_eigen(r) - want).cwiseAbs().maxCoeff(), 1e-12) << plan;

  auto mat = [&] { return sx::tanh(sx::dot(X, B) * 0.5 + c) > 0.1; };
  auto m = mat();
  m.evaluate();
  plan = sx::explain(m);
  EXPECT_NE(plan.find("block by block"), std::string::npos) << plan;
  Eigen::MatrixXd z = Xe * Be * 0.5;
  z.rowwise() += ce.transpose();
  const Eigen::MatrixXd want_m = ((z.array().tanh()) > 0.1).cast<double>().matrix();
  EXPECT_EQ(m.dtype(), sx::DType::boolean);
  EXPECT_EQ((sx::to_eigen(m) - want_m).cwiseAbs().maxCoeff(), 0.0) << plan;
  {
    FusionOff off;
    EXPECT_LT((sx::to_eigen(vec()) - sx::to_eigen(r)).cwiseAbs().maxCoeff(), 1e-14);
    EXPECT_EQ((sx::to_eigen(mat()) - sx::to_eigen(m)).cwiseAbs().maxCoeff(), 0.0);
  }
}

}  // namespace

namespace {

// Sums of scaled arrays (a*x + b*y - z, x - y, w - lr*g, ...) run as one loop over all
// inputs; the values are exactly those of the operation-by-operation evaluation,
// special values included.
TEST(Fusion, LinearCombinationsEqualUnfusedBitForBit) {
  const std::int64_t n = 5003;
  std::vector<double> xs(n), ys(n), zs(n);
  const double special[] = {0.0, -0.0, std::numeric_limits<double>::infinity(),
                            -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN(),
                            1e308, -1e308, 5e-324};
  std::mt19937_64 gen(17);
  std::uniform_real_distribution<double> u(-3, 3);
  for (std::int64_t i = 0; i < n; ++i) {
    xs[i] = i % 97 < 8 ? special[i % 97] : u(gen);
    ys[i] = i % 89 < 8 ? special[(i + 3) % 8] : u(gen);
    zs[i] = u(gen);
  }
  auto x = sx::from_buffer({n}, sx::DType::f64, xs.data()), y = sx::from_buffer({n}, sx::DType::f64, ys.data()),
       z = sx::from_buffer({n}, sx::DType::f64, zs.data());
  x.evaluate(), y.evaluate(), z.evaluate();
  const std::vector<std::function<sx::Array()>> exprs = {
      [&] { return 2.5 * x + 0.3 * y - z; },
      [&] { return x - y; },
      [&] { return x - 0.1 * y; },
      [&] { return x * 3 - y * 2 + z - x; },  // integer scalars, four terms
      [&] { return -1.5 * x - 2.0 * y - z + y; },
      [&] { return x + y + z + x + y + z + x + y; },  // eight terms
  };
  for (std::size_t e = 0; e < exprs.size(); ++e) {
    const std::vector<double> fused = sx::to_vector<double>(exprs[e]());
    std::vector<double> unfused;
    {
      FusionOff off;
      unfused = sx::to_vector<double>(exprs[e]());
    }
    ASSERT_EQ(fused.size(), unfused.size());
    for (std::size_t i = 0; i < fused.size(); ++i) {
      if (std::isnan(unfused[i])) {
        ASSERT_TRUE(std::isnan(fused[i])) << "expression " << e << " at " << i;
      } else {
        ASSERT_EQ(fused[i], unfused[i]) << "expression " << e << " at " << i;
        ASSERT_EQ(std::signbit(fused[i]), std::signbit(unfused[i])) << "expression " << e << " at " << i;
      }
    }
  }
}

}  // namespace
