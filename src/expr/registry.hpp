#pragma once
// The step registry: one entry per (operation, storage of each input), each with how to
// plan the step and how to run a plan of it. The passes give every step its entry once
// (passes.cpp); the planner asks it for options, the executor runs what was chosen.
// Adding a kind of step is one row in steps.cpp.
#include <vector>

#include "expr/plan.hpp"
#include "expr/step.hpp"

namespace spartanxx::backend {
class Communicator;
}

namespace spartanxx::detail {

using backend::Communicator;

struct StepImpl {
  StepKey key;
  /// Computed straight into any layout the planner asks for (a region, a source): its
  /// options are the one plan that makes `target`.
  bool direct = false;
  /// Its options depend on the target (direct steps, reductions); the planner then asks
  /// once per target, otherwise once per input layouts.
  bool uses_target = false;
  /// Ways to compute the step from inputs in the given layouts, each with the layout it
  /// produces (`target`: the layout the planner would like; only direct steps and
  /// reductions use it, and it may be null when the planner asks without one).
  std::vector<Plan> (*options)(const Step& s, const InputLayouts& in, const Layout* target, const Machine& m) = nullptr;
  /// Runs a plan of the step on this rank's part of the inputs (collective).
  DistArray (*run)(const Step& s, const InputArrays& in, const Plan& p, Communicator& comm) = nullptr;
  /// The layout a direct step takes where nothing else decides (its inputs' layout, or
  /// row blocks): the greedy plan's choice.
  Layout (*natural)(const Step& s, const InputLayouts& in, const Machine& m) = nullptr;
};

/// The key of a step formed by the passes.
StepKey step_key(const Step& s);

/// The registry entry for `key`; std::logic_error naming the key when there is none.
const StepImpl& find_step(const StepKey& key);

}  // namespace spartanxx::detail
