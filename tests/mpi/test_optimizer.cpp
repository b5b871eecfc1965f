// The layout optimizer: on random expression graphs (up to 10 nodes, random shapes,
// inputs in random layouts) its plan costs exactly what an exhaustive search over every
// assignment finds, the plan computes what Eigen computes, and the bytes it predicts are
// the bytes it moves. Hand-checkable cases get the plan a careful person would write.
#include <gtest/gtest.h>
#include <mpi.h>

#include <Eigen/Core>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "expr/boundary.hpp"
#include "expr/build.hpp"
#include "expr/planner.hpp"
#include "mpi/test_support.hpp"
#include "spartanxx/spartanxx.hpp"

namespace sx = spartanxx;
namespace tl = spartanxx::tiling;
using spartanxx_test::world_rank;
using spartanxx_test::world_size;

namespace {

/// A materialized array in the given layout, holding `m` (a vector when `vector`).
sx::Array with_layout(const Eigen::MatrixXd& m, bool vector, const tl::Layout& layout) {
  const sx::Shape shape = vector ? sx::Shape{m.rows()} : sx::Shape{m.rows(), m.cols()};
  sx::detail::DistArray a(layout, sx::DType::f64, world_rank());
  for (auto& tile : a.tiles()) {
    double* d = tile.data.as<double>();
    const auto& b = tile.box;
    if (vector) {
      for (std::int64_t i = b.lo[0]; i < b.hi[0]; ++i) d[i - b.lo[0]] = m(i, 0);
    } else {
      const std::int64_t w = b.extent(1);
      for (std::int64_t i = b.lo[0]; i < b.hi[0]; ++i)
        for (std::int64_t j = b.lo[1]; j < b.hi[1]; ++j) d[(i - b.lo[0]) * w + (j - b.lo[1])] = m(i, j);
    }
  }
  return sx::detail::leaf(std::move(a));
}

/// Random split points of n into `parts` blocks (some may be empty).
std::vector<std::int64_t> random_splits(std::int64_t n, int parts, std::mt19937_64& gen) {
  std::vector<std::int64_t> s{0};
  for (int i = 1; i < parts; ++i) s.push_back(std::uniform_int_distribution<std::int64_t>(0, n)(gen));
  s.push_back(n);
  std::sort(s.begin(), s.end());
  return s;
}

/// A random layout of `shape`: the usual cuts, uneven splits, random owners, replicated.
tl::Layout random_layout(const sx::Shape& shape, int P, std::mt19937_64& gen) {
  const int kind = std::uniform_int_distribution<int>(0, 4)(gen);
  if (kind == 0) return tl::Layout::replicated(shape);
  if (kind == 1) return tl::Layout::rows(shape, P);
  if (kind == 2 && shape.size() == 2) return tl::Layout::cols(shape, P);
  // Uneven tiles along every axis, each owned by a random rank or replicated.
  std::vector<std::vector<std::int64_t>> splits;
  std::size_t tiles = 1;
  for (auto n : shape) {
    splits.push_back(random_splits(n, std::uniform_int_distribution<int>(1, P + 1)(gen), gen));
    tiles *= splits.back().size() - 1;
  }
  std::vector<int> owners(tiles);
  for (int& o : owners) o = std::uniform_int_distribution<int>(-1, P - 1)(gen);
  return tl::Layout(shape, splits, owners);
}

struct Value {
  sx::Array a;
  Eigen::MatrixXd m;  // a vector is one column
  bool vector = false;
};

/// A random graph of at most `max_nodes` nodes (leaves included), the same on every
/// rank, with its Eigen reference.
Value random_graph(std::mt19937_64& gen, int max_nodes, int P) {
  auto dim = [&] { return std::uniform_int_distribution<std::int64_t>(1, 9)(gen); };
  std::vector<Value> pool;
  auto leaf = [&](std::int64_t r, std::int64_t c, bool vector) {
    Eigen::MatrixXd m = spartanxx_test::test_matrix(r, vector ? 1 : c, gen(), -1, 1);
    const sx::Shape shape = vector ? sx::Shape{r} : sx::Shape{r, c};
    pool.push_back({with_layout(m, vector, random_layout(shape, P, gen)), m, vector});
    return pool.size() - 1;
  };
  leaf(dim(), dim(), false);
  int nodes = 1;
  auto pick = [&] { return std::uniform_int_distribution<std::size_t>(0, pool.size() - 1)(gen); };
  while (nodes < max_nodes) {
    const Value x = pool[pick()];
    const int op = std::uniform_int_distribution<int>(0, 7)(gen);
    Value y;
    if (op == 0) {  // x + (a leaf or an earlier value of the same shape)
      std::size_t j = pick();
      if (pool[j].m.rows() != x.m.rows() || pool[j].m.cols() != x.m.cols() || pool[j].vector != x.vector) {
        if (nodes + 2 > max_nodes) break;
        j = leaf(x.m.rows(), x.m.cols(), x.vector), ++nodes;
      }
      y = {x.a + pool[j].a, x.m + pool[j].m, x.vector};
    } else if (op == 1) {
      y = {sx::tanh(x.a) * 2.0, x.m.array().tanh().matrix() * 2.0, x.vector};
    } else if (op == 2 && !x.vector) {
      y = {x.a.T(), x.m.transpose(), false};
    } else if (op == 3 && !x.vector) {  // x @ (k x c)
      if (nodes + 2 > max_nodes) break;
      const std::size_t j = leaf(x.m.cols(), dim(), false);
      ++nodes;
      y = {sx::dot(x.a, pool[j].a), x.m * pool[j].m, false};
    } else if (op == 4 && !x.vector) {  // x @ vector
      if (nodes + 2 > max_nodes) break;
      const std::size_t j = leaf(x.m.cols(), 1, true);
      ++nodes;
      y = {sx::dot(x.a, pool[j].a), x.m * pool[j].m, true};
    } else if (op == 5 && !x.vector) {
      const int axis = std::uniform_int_distribution<int>(0, 1)(gen);
      if (axis == 0) y = {sx::sum(x.a, 0), x.m.colwise().sum().transpose(), true};
      else y = {sx::sum(x.a, 1), x.m.rowwise().sum(), true};
    } else if (op == 6 && !x.vector) {  // x^T @ x-like: dot(x.T(), leaf of x's rows)
      if (nodes + 3 > max_nodes) break;
      const std::size_t j = leaf(x.m.rows(), dim(), false);
      ++nodes;
      y = {sx::dot(x.a.T(), pool[j].a), x.m.transpose() * pool[j].m, false};
      ++nodes;  // the transpose
    } else if (op == 7 && x.vector) {  // vector broadcast against a matrix row
      if (nodes + 2 > max_nodes) break;
      const std::size_t j = leaf(dim(), x.m.rows(), false);
      ++nodes;
      Eigen::MatrixXd m = pool[j].m;
      for (Eigen::Index i = 0; i < m.rows(); ++i) m.row(i) += x.m.col(0).transpose();
      y = {pool[j].a + x.a, m, false};
    } else {
      continue;
    }
    ++nodes;
    pool.push_back(std::move(y));
  }
  return pool.back();
}

/// The optimum over every assignment of candidates (no pruning, no memo).
sx::tiling::Cost exhaustive(const tl::LayoutProblem& p, std::int64_t* visited) {
  std::vector<int> choice(p.choices.size(), 0);
  sx::tiling::Cost best{};
  bool first = true;
  while (true) {
    const sx::tiling::Cost c = tl::assignment_cost(p, choice);
    ++*visited;
    if (first || c < best) best = c, first = false;
    std::size_t i = 0;
    while (i < choice.size() && ++choice[i] == p.choices[i]) choice[i++] = 0;
    if (i == choice.size()) break;
  }
  return best;
}

double combinations(const tl::LayoutProblem& p) {
  double n = 1;
  for (int c : p.choices) n *= c;
  return n;
}

TEST(Optimizer, RandomGraphsMatchExhaustiveSearchAndEigen) {
  const int P = world_size();
  std::mt19937_64 gen(20261129);
  int searched = 0, better_than_greedy = 0;
  std::int64_t beam_bytes = 0, exact_bytes = 0;
  for (int g = 0; g < 60; ++g) {
    const int max_nodes = std::uniform_int_distribution<int>(2, 10)(gen);
    Value v = random_graph(gen, max_nodes, P);
    if (v.a.is_evaluated()) continue;
    const sx::detail::LayoutReport r = sx::detail::layout_report(sx::detail::node_of(v.a));
    ASSERT_LE(r.steps.size(), 10u);
    std::string steps;
    for (const auto& s : r.steps) steps += s + "; ";
    EXPECT_TRUE(r.solution.exact) << steps;
    // The optimizer's plan costs what its own cost function says.
    EXPECT_EQ(tl::assignment_cost(r.problem, r.solution.choice), r.solution.total) << steps;
    EXPECT_FALSE(r.greedy < r.solution.total) << steps;
    if (r.solution.total < r.greedy) ++better_than_greedy;
    // The beam (here only 3 combinations kept per step) stays close to the optimum.
    const tl::LayoutSolution narrow = tl::solve_layouts(r.problem, 3);
    EXPECT_EQ(tl::assignment_cost(r.problem, narrow.choice), narrow.total);
    beam_bytes += narrow.total.bytes;
    exact_bytes += r.solution.total.bytes;
    if (combinations(r.problem) <= 200000) {
      std::int64_t visited = 0;
      const sx::tiling::Cost best = exhaustive(r.problem, &visited);
      EXPECT_EQ(r.solution.total.bytes, best.bytes) << "graph " << g << ": " << steps;
      EXPECT_EQ(r.solution.total.redundant, best.redundant) << "graph " << g << ": " << steps;
      ++searched;
    }
    // The plan runs, computes Eigen's values and moves the bytes it predicted.
    v.a.evaluate();
    const sx::EvalStats stats = sx::last_evaluation_stats();
    EXPECT_EQ(stats.predicted_bytes, r.solution.total.bytes) << "graph " << g << "\n" << sx::explain(v.a);
    std::int64_t sent = stats.comm.bytes_sent;
    MPI_Allreduce(MPI_IN_PLACE, &sent, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    EXPECT_EQ(sent, stats.predicted_bytes) << "graph " << g << "\n" << sx::explain(v.a);
    const Eigen::MatrixXd got = sx::to_eigen(v.a);
    ASSERT_EQ(got.rows(), v.m.rows()) << "graph " << g;
    ASSERT_EQ(got.cols(), v.m.cols()) << "graph " << g;
    EXPECT_LT((got - v.m).cwiseAbs().maxCoeff(), 1e-10 * (1 + v.m.cwiseAbs().maxCoeff()))
        << "graph " << g << "\n" << sx::explain(v.a);
  }
  if (world_rank() == 0)
    std::printf("searched %d graphs exhaustively, %d better than greedy; beam of 3: %lld B vs exact %lld B\n", searched,
                better_than_greedy, static_cast<long long>(beam_bytes), static_cast<long long>(exact_bytes));
  EXPECT_LE(beam_bytes, exact_bytes + exact_bytes / 10);
  EXPECT_GE(searched, 30);
  if (P > 1) EXPECT_GT(better_than_greedy, 0);
}

}  // namespace

namespace {

/// Unrolled gradient descent on logistic regression: 25 iterations of
/// w <- w - 0.1 * X^T (sigmoid(X w) - y), about 50 steps of plan, each gradient one pass
/// over X.
TEST(Optimizer, UnrolledTrainingLoopMovesOnlyVectors) {
  const int P = world_size();
  const std::int64_t n = 37, d = 5;
  const Eigen::MatrixXd X = spartanxx_test::test_matrix(n, d, 1, -1, 1);
  const Eigen::MatrixXd y = (spartanxx_test::test_matrix(n, 1, 2, 0, 1).array() > 0.5).cast<double>().matrix();
  sx::Array Xa = with_layout(X, false, tl::Layout::rows({n, d}, P));
  sx::Array ya = with_layout(y, true, tl::Layout::rows({n}, P));
  sx::Array w = sx::zeros({d});
  Eigen::VectorXd we = Eigen::VectorXd::Zero(d);
  const int iterations = 25;
  for (int it = 0; it < iterations; ++it) {
    w = w - 0.1 * sx::dot(Xa.T(), sx::sigmoid(sx::dot(Xa, w)) - ya);
    const Eigen::VectorXd z = X * we;
    const Eigen::VectorXd r = (1.0 / (1.0 + (-z.array()).exp())).matrix() - y.col(0);
    we -= 0.1 * X.transpose() * r;
  }
  const sx::detail::LayoutReport r = sx::detail::layout_report(sx::detail::node_of(w));
  EXPECT_GE(r.steps.size(), 45u);
  int passes = 0;
  for (const auto& step : r.steps) passes += step.find("one pass over X") != std::string::npos;
  EXPECT_EQ(passes, iterations);
  EXPECT_TRUE(r.solution.exact);
  EXPECT_FALSE(r.greedy < r.solution.total);
  if (world_rank() == 0)
    std::printf("%zu-step training loop: planned in %.3f ms, of which %.3f ms solving (%lld cost evaluations)\n",
                r.steps.size(), r.seconds * 1e3, r.solve_seconds * 1e3, static_cast<long long>(r.solution.cost_calls));
  w.evaluate();
  const sx::EvalStats stats = sx::last_evaluation_stats();
  // Per step, at most an allreduce of the d-vector gradient: nothing of X or y moves.
  EXPECT_LE(stats.predicted_bytes, iterations * P * d * 8) << sx::explain(w);
  EXPECT_LE(stats.comm.bytes_sent, iterations * d * 8) << sx::explain(w);
  const Eigen::MatrixXd got = sx::to_eigen(w);
  EXPECT_LT((got.col(0) - we).cwiseAbs().maxCoeff(), 1e-12) << sx::explain(w);
}

}  // namespace

namespace {

/// Sum over ranks of bytes sent in the last evaluation.
std::int64_t total_sent() {
  std::int64_t sent = sx::last_evaluation_stats().comm.bytes_sent;
  MPI_Allreduce(MPI_IN_PLACE, &sent, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  return sent;
}

// A.T() @ B with both split by rows: each rank multiplies its own row blocks (the inner
// dimension is already split) and the k x m partial sums are reduce-scattered.
TEST(Optimizer, TransposedProductOfRowSplitMatricesSumsPartials) {
  const int P = world_size();
  const std::int64_t n = 41, k = 6, m = 5;
  const Eigen::MatrixXd A = spartanxx_test::test_matrix(n, k, 3), B = spartanxx_test::test_matrix(n, m, 4);
  sx::Array a = with_layout(A, false, tl::Layout::rows({n, k}, P)), b = with_layout(B, false, tl::Layout::rows({n, m}, P));
  sx::Array c = sx::dot(a.T(), b);
  c.evaluate();
  const std::int64_t want = (P - 1) * k * m * 8;
  EXPECT_EQ(sx::last_evaluation_stats().predicted_bytes, want) << sx::explain(c);
  EXPECT_EQ(total_sent(), want) << sx::explain(c);
  EXPECT_LT((sx::to_eigen(c) - A.transpose() * B).cwiseAbs().maxCoeff(), 1e-12);
}

// A column-split matrix times a replicated vector: each rank multiplies its column block
// by its part of x, and the partial n-vectors are reduce-scattered.
TEST(Optimizer, MatvecWithColumnSplitMatrixReducesPartials) {
  const int P = world_size();
  const std::int64_t n = 23, k = 17;
  const Eigen::MatrixXd A = spartanxx_test::test_matrix(n, k, 5), x = spartanxx_test::test_matrix(k, 1, 6);
  sx::Array a = with_layout(A, false, tl::Layout::cols({n, k}, P)), xv = with_layout(x, true, tl::Layout::replicated({k}));
  sx::Array y = sx::dot(a, xv);
  y.evaluate();
  const std::int64_t want = (P - 1) * n * 8;
  EXPECT_EQ(sx::last_evaluation_stats().predicted_bytes, want) << sx::explain(y);
  EXPECT_EQ(total_sent(), want) << sx::explain(y);
  EXPECT_LT((sx::to_eigen(y) - A * x).cwiseAbs().maxCoeff(), 1e-12);
}

// sum(x, axis=0) of a row-split matrix feeding an elementwise op with a replicated
// vector: each rank's partial column sums go to the rank that owns that part of the
// result (a reduce-scatter, or the same bytes as gathered partials) and the op runs on
// each rank's part (the replicated vector is read where it is): never an allreduce.
TEST(Optimizer, ColumnSumFeedingElementwiseIsReduceScattered) {
  const int P = world_size();
  const std::int64_t n = 31, m = 13;
  const Eigen::MatrixXd X = spartanxx_test::test_matrix(n, m, 7), v = spartanxx_test::test_matrix(m, 1, 8);
  sx::Array x = with_layout(X, false, tl::Layout::rows({n, m}, P)), vv = with_layout(v, true, tl::Layout::replicated({m}));
  sx::Array y = sx::sum(x, 0) * vv + 1.0;
  y.evaluate();
  const std::int64_t want = (P - 1) * m * 8;
  EXPECT_EQ(sx::last_evaluation_stats().predicted_bytes, want) << sx::explain(y);
  EXPECT_EQ(total_sent(), want) << sx::explain(y);
  const Eigen::VectorXd ref = (X.colwise().sum().transpose().array() * v.col(0).array() + 1.0).matrix();
  EXPECT_LT((sx::to_eigen(y).col(0) - ref).cwiseAbs().maxCoeff(), 1e-12);
}

// A loop reuses the plan of its first iteration: the structure is the same, only
// scalars change.
TEST(Optimizer, PlansAreReusedAcrossLoopIterations) {
  const int P = world_size();
  const std::int64_t n = 19, d = 4;
  const Eigen::MatrixXd X = spartanxx_test::test_matrix(n, d, 9);
  sx::Array x = with_layout(X, false, tl::Layout::rows({n, d}, P));
  sx::Array w = sx::zeros({d});
  w.evaluate();
  std::string first;
  for (int it = 1; it <= 3; ++it) {
    w = w - (0.5 / it) * sx::dot(x.T(), sx::tanh(sx::dot(x, w) + 1.0));
    const std::int64_t hits = sx::detail::plan_cache_hits();
    w.evaluate();
    // Iterations after the first find their plan in the cache, not by a new search.
    if (it > 1) EXPECT_EQ(sx::detail::plan_cache_hits(), hits + 1) << "iteration " << it;
    const std::string text = sx::explain(w);
    const std::string plan = text.substr(0, text.find('\n'));
    if (it == 1) first = plan;
    EXPECT_EQ(plan, first);
  }
}

}  // namespace

namespace {

// Two matrices in 2-d blocks on a 2 x 2 grid: SUMMA's panels (each rank gets its row
// panel of A and column panel of B) move less than any 1-d strategy.
TEST(Optimizer, GridOperandsUseSumma) {
  const int P = world_size();
  const std::int64_t n = 10;
  const Eigen::MatrixXd A = spartanxx_test::test_matrix(n, n, 12), B = spartanxx_test::test_matrix(n, n, 13);
  const tl::Layout L = P == 4 ? tl::Layout::grid({n, n}, 2, 2) : tl::Layout::rows({n, n}, P);
  sx::Array a = with_layout(A, false, L), b = with_layout(B, false, L);
  sx::Array c = sx::dot(a, b);
  c.evaluate();
  EXPECT_LT((sx::to_eigen(c) - A * B).cwiseAbs().maxCoeff(), 1e-12);
  if (P != 4) return;
  const std::string plan = sx::explain(c);
  EXPECT_NE(plan.find("SUMMA"), std::string::npos) << plan;
  // Per rank: the half of its A panel and of its B panel it does not hold.
  EXPECT_EQ(sx::last_evaluation_stats().predicted_bytes, 4 * 2 * (n / 2) * (n / 2) * 8) << plan;
  EXPECT_EQ(total_sent(), 4 * 2 * (n / 2) * (n / 2) * 8) << plan;
}

}  // namespace

namespace {

// Partial sums flow unresolved into a step that only sums them: sum(A.T() @ B) with
// both row-split allreduces one number, not the k x m product.
TEST(Optimizer, PartialSumsPassThroughSums) {
  const int P = world_size();
  const std::int64_t n = 29, k = 6, m = 5;
  const Eigen::MatrixXd A = spartanxx_test::test_matrix(n, k, 21), B = spartanxx_test::test_matrix(n, m, 22);
  sx::Array a = with_layout(A, false, tl::Layout::rows({n, k}, P)), b = with_layout(B, false, tl::Layout::rows({n, m}, P));
  sx::Array total = sx::sum(sx::dot(a.T(), b));
  total.evaluate();
  const std::int64_t want = P > 1 ? P * 8 : 0;
  EXPECT_EQ(sx::last_evaluation_stats().predicted_bytes, want) << sx::explain(total);
  EXPECT_EQ(total_sent(), want) << sx::explain(total);
  EXPECT_NEAR(total.item(), (A.transpose() * B).sum(), 1e-12);
  // Column sums of the product: the m-vector is reduce-scattered or allreduced, never
  // the k x m matrix.
  sx::Array cols = sx::sum(sx::dot(a.T(), b), 0);
  cols.evaluate();
  EXPECT_LE(sx::last_evaluation_stats().predicted_bytes, P > 1 ? P * m * 8 : 0) << sx::explain(cols);
  EXPECT_LT((sx::to_eigen(cols).col(0) - (A.transpose() * B).colwise().sum().transpose()).cwiseAbs().maxCoeff(), 1e-12);
}

}  // namespace
