// The layout search on synthetic problems: random step graphs with random costs, checked
// against brute-force enumeration; the beam's answer is a real assignment; bad problems
// are rejected.
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>

#include "tiling/optimizer.hpp"

namespace tl = spartanxx::tiling;

namespace {

/// A random DAG of `n` steps with 1-4 choices each and a random cost table per step.
struct Random {
  tl::LayoutProblem p;
  std::vector<std::vector<std::int64_t>> table;  // per step: cost by (choice, read choices) index
};

Random random_problem(std::mt19937_64& gen, int n) {
  Random r;
  std::uniform_int_distribution<int> choices(1, 4);
  for (int s = 0; s < n; ++s) {
    r.p.choices.push_back(choices(gen));
    std::vector<int> reads;
    for (int j = 0; j < s; ++j)
      if (std::uniform_int_distribution<int>(0, 3)(gen) == 0 && reads.size() < 3) reads.push_back(j);
    r.p.reads.push_back(reads);
    std::size_t size = static_cast<std::size_t>(r.p.choices[s]);
    for (int j : reads) size *= static_cast<std::size_t>(r.p.choices[j]);
    std::vector<std::int64_t> t(size);
    for (auto& v : t) v = std::uniform_int_distribution<std::int64_t>(0, 100)(gen);
    r.table.push_back(std::move(t));
  }
  r.p.cost = [&r](int s, int c, const std::vector<int>& rc) {
    std::size_t i = static_cast<std::size_t>(c);
    for (std::size_t k = 0; k < rc.size(); ++k) i = i * static_cast<std::size_t>(r.p.choices[r.p.reads[s][k]]) + rc[k];
    return tl::Cost{r.table[s][i], c};
  };
  return r;
}

tl::Cost brute_force(const tl::LayoutProblem& p) {
  std::vector<int> choice(p.choices.size(), 0);
  tl::Cost best = tl::assignment_cost(p, choice);
  while (true) {
    std::size_t i = 0;
    while (i < choice.size() && ++choice[i] == p.choices[i]) choice[i++] = 0;
    if (i == choice.size()) return best;
    const tl::Cost c = tl::assignment_cost(p, choice);
    if (c < best) best = c;
  }
}

TEST(LayoutSearch, EqualsBruteForceOnRandomProblems) {
  std::mt19937_64 gen(7);
  for (int trial = 0; trial < 300; ++trial) {
    const int n = std::uniform_int_distribution<int>(1, 10)(gen);
    Random r = random_problem(gen, n);
    const tl::LayoutSolution s = tl::solve_layouts(r.p);
    EXPECT_TRUE(s.exact);
    EXPECT_EQ(s.total, tl::assignment_cost(r.p, s.choice)) << "trial " << trial;
    const tl::Cost best = brute_force(r.p);
    EXPECT_EQ(s.total.bytes, best.bytes) << "trial " << trial;
    EXPECT_EQ(s.total.redundant, best.redundant) << "trial " << trial;
  }
}

TEST(LayoutSearch, BeamGivesAValidAssignmentAndSaysItIsInexact) {
  std::mt19937_64 gen(11);
  // Every step reads every earlier one: the frontier is all of them.
  tl::LayoutProblem p;
  const int n = 8;
  std::vector<std::int64_t> w(64);
  for (auto& v : w) v = std::uniform_int_distribution<std::int64_t>(0, 50)(gen);
  for (int s = 0; s < n; ++s) {
    p.choices.push_back(3);
    std::vector<int> reads;
    for (int j = 0; j < s; ++j) reads.push_back(j);
    p.reads.push_back(reads);
  }
  p.cost = [&](int s, int c, const std::vector<int>& rc) {
    std::int64_t v = w[static_cast<std::size_t>(s * 3 + c) % w.size()];
    for (std::size_t k = 0; k < rc.size(); ++k) v += (rc[k] == c) ? 0 : w[(k * 7 + static_cast<std::size_t>(s)) % w.size()];
    return tl::Cost{v, 0};
  };
  const tl::LayoutSolution exact = tl::solve_layouts(p);
  EXPECT_TRUE(exact.exact);
  EXPECT_EQ(exact.total, brute_force(p));
  const tl::LayoutSolution beam = tl::solve_layouts(p, 10);
  EXPECT_FALSE(beam.exact);
  EXPECT_EQ(beam.total, tl::assignment_cost(p, beam.choice));
  EXPECT_FALSE(beam.total < exact.total);
}

TEST(LayoutSearch, RejectsMalformedProblems) {
  tl::LayoutProblem p;
  p.choices = {2, 0};
  p.reads = {{}, {0}};
  p.cost = [](int, int, const std::vector<int>&) { return tl::Cost{}; };
  EXPECT_THROW(tl::solve_layouts(p), std::invalid_argument);
  p.choices = {2, 2};
  p.reads = {{1}, {}};
  EXPECT_THROW(tl::solve_layouts(p), std::invalid_argument);
  p.reads = {{}};
  EXPECT_THROW(tl::solve_layouts(p), std::invalid_argument);
  p.reads = {{}, {0}};
  EXPECT_NO_THROW(tl::solve_layouts(p));
  EXPECT_EQ(tl::solve_layouts(tl::LayoutProblem{{}, {}, p.cost}).choice.size(), 0u);
}

}  // namespace
