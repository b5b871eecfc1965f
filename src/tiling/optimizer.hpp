#pragma once
// The layout optimizer: picks one candidate (a layout, and with it a strategy) for every
// step of a graph so that the total cost over the whole graph is minimal. Pure search:
// the caller describes each step's candidates and cost; no MPI, no arrays.
//
// Steps are numbered in an order where every step comes after the steps it reads. The
// cost of a step depends on its own choice and on the choices of the steps it reads.
// The solver sweeps the steps in order, keeping for every combination of choices of
// the steps still to be read later (the frontier) the cheapest way to reach it. That is
// exact; when the frontier has more than `max_states` combinations, only the cheapest
// `max_states` are kept (a beam), and the result is marked inexact.
#include <cstdint>
#include <functional>
#include <vector>

namespace spartanxx::tiling {

/// Bytes moved, then bytes computed redundantly (replicated results): compared in that
/// order, so the fewest bytes cross the network, and among equal plans the one that
/// splits the work wins.
struct Cost {
  std::int64_t bytes = 0;
  std::int64_t redundant = 0;
  friend Cost operator+(Cost a, Cost b) { return {a.bytes + b.bytes, a.redundant + b.redundant}; }
  friend bool operator<(Cost a, Cost b) { return a.bytes != b.bytes ? a.bytes < b.bytes : a.redundant < b.redundant; }
  friend bool operator==(Cost a, Cost b) { return a.bytes == b.bytes && a.redundant == b.redundant; }
};

struct LayoutProblem {
  /// choices[s]: how many candidates step s has (at least 1).
  std::vector<int> choices;
  /// reads[s]: the steps s reads, each < s.
  std::vector<std::vector<int>> reads;
  /// Cost of step s with candidate c, the steps it reads having the given candidates
  /// (in the order of reads[s]).
  std::function<Cost(int s, int c, const std::vector<int>& read_choices)> cost;
};

struct LayoutSolution {
  std::vector<int> choice;  // per step
  Cost total;
  bool exact = true;        // false when the beam dropped combinations
  std::int64_t cost_calls = 0;
};

LayoutSolution solve_layouts(const LayoutProblem& problem, std::size_t max_states = 4096);

/// Total cost of a complete assignment (for checks and exhaustive search).
Cost assignment_cost(const LayoutProblem& problem, const std::vector<int>& choice);

}  // namespace spartanxx::tiling
