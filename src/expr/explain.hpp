#pragma once
// explain(): a plan as text, every decision that moves or reuses data on its line.
#include <string>
#include <vector>

#include "expr/planner.hpp"
#include "spartanxx/stats.hpp"

namespace spartanxx::detail {

/// One line per step: its label and inputs, shape, dtype and chosen layout, then in
/// brackets the strategy, the exchange mechanism, the cache it reads and how its result
/// reaches the chosen layout, then the predicted bytes and, when `measured` is given,
/// the bytes this rank sent and received.
std::string format_plan(const Schedule& s, const ExecutionPlan& plan, const std::vector<NodeStats>* measured);

}  // namespace spartanxx::detail
