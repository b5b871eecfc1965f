#pragma once
// The planner: candidate layouts for every step, their costs (from the registry's
// options), the layout problem over the whole graph (tiling/optimizer.hpp), and a cache
// of solved problems keyed by the graph's structure, so that iteration k of a loop
// reuses iteration 1's choices. Pure: it reads shapes, layouts and the machine, and
// every rank makes the same plan without communicating.
#include <cstdint>
#include <string>
#include <vector>

#include "expr/passes.hpp"
#include "expr/plan.hpp"
#include "tiling/optimizer.hpp"

namespace spartanxx::backend {
class Communicator;
}

namespace spartanxx::detail {

/// How a step's result, computed in Plan::layout, reaches the layout chosen for it.
enum class Conversion : std::uint8_t {
  none,            // it is computed there
  redistribute,    // tiles moved between layouts
  reduce_scatter,  // partial sums, each part summed where it is needed
  allreduce,       // partial sums, summed on every rank
};

struct StepPlan {
  Plan plan;                       // how the step computes its result
  Layout out;                      // the layout chosen for the result
  Conversion convert = Conversion::none;
  std::int64_t convert_bytes = 0;  // moving plan.layout into out, all ranks together
  std::int64_t predicted_bytes() const { return plan.predicted_bytes + convert_bytes; }
};

/// The plan of a schedule: one StepPlan per step, in the schedule's order.
struct ExecutionPlan {
  Machine machine;
  std::vector<StepPlan> steps;
  bool recalled = false;  // the choices came from the plan cache
};

/// What planning knows of the machine the communicator spans.
Machine machine_of(const backend::Communicator& comm);

/// Solves (or recalls) the layout problem of `s` and fixes every step's plan.
ExecutionPlan plan_schedule(const Schedule& s, const Machine& m);

/// The layout problem the optimizer solves for `root` (for tests: its cost function keeps
/// the graph alive, and stays valid until `root` is evaluated, which changes the graph),
/// the optimizer's answer, and the greedy plan's cost
/// (each step laid out where its inputs are, as one would without the optimizer).
struct LayoutReport {
  tiling::LayoutProblem problem;
  tiling::LayoutSolution solution;
  tiling::Cost greedy;
  std::vector<std::string> steps;  // a label per step
  double seconds = 0;              // time to build and solve the problem
  double solve_seconds = 0;        // of which solving
};
LayoutReport layout_report(const NodePtr& root);

/// How many evaluations (and explains) on this rank reused a cached plan.
std::int64_t plan_cache_hits();

}  // namespace spartanxx::detail
