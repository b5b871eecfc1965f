#pragma once
// Evaluation: the pipeline of passes.hpp, the planner, and the run of the plan.
#include <string>

#include "expr/node.hpp"
#include "spartanxx/runtime.hpp"

namespace spartanxx::detail {

/// Forces `root` (collective): prepares, plans and runs every node reachable from it
/// that has no cached result, caches results on the nodes that user handles still
/// reach, and records statistics.
void evaluate(const NodePtr& root);

/// The plan for `root` as text: its history when evaluated, otherwise the plan it would
/// run (planned on this rank alone: not collective).
std::string explain_plan(const NodePtr& root);

/// Accounting of the most recent evaluation on this rank.
EvalStats last_stats();

}  // namespace spartanxx::detail
