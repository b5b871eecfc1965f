// The executor: runs an execution plan step by step with collective error agreement,
// moves each result into the layout chosen for it, caches results on the nodes user
// handles still reach, frees the others after their last reader, and records what each
// step cost.
#include "expr/executor.hpp"
#include "spartanxx/errors.hpp"

#include <fmt/format.h>

#include <chrono>
#include <unordered_map>

#include "api/memory.hpp"
#include "expr/context.hpp"
#include "expr/explain.hpp"
#include "expr/planner.hpp"
#include "expr/registry.hpp"
#include "mpi_backend/communicator.hpp"

namespace spartanxx::detail {
namespace {

EvalStats g_last;

DistArray run_step(const Step& u, const StepPlan& sp, const InputArrays& in, Communicator& comm) {
  DistArray a = u.impl->run(u, in, sp.plan, comm);
  // The step made what its plan says; a mismatch is a bug in the step, not in the input.
  if ((a.layout() == sp.out) != (sp.convert == Conversion::none))
    throw std::logic_error(fmt::format("{}: the step made {}, its plan {} (to be moved into {})", u.label(),
                                       a.layout().describe(), sp.plan.layout.describe(), sp.out.describe()));
  if (sp.convert == Conversion::none) return a;
  // Partial sums are resolved as the plan says (both use tiling::resolve_by_scatter).
  return redistribute(a, sp.out, comm);
}

}  // namespace

void evaluate(const NodePtr& root) {
  if (root->result) return;
  Communicator& comm = context_comm();
  const auto t0 = std::chrono::steady_clock::now();
  const Schedule s = prepare(root.get(), comm);
  const ExecutionPlan plan = plan_schedule(s, machine_of(comm));

  // An intermediate nobody else holds is freed after its last reader has run; one a
  // user (or another graph) holds keeps its result.
  std::unordered_map<const Node*, long> remaining;
  for (const Step& u : s.steps)
    for (const Node* in : u.inputs)
      if (!in->result) ++remaining[in];

  EvalStats stats;
  std::unordered_map<const Node*, std::shared_ptr<DistArray>> values;
  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    const Step& u = s.steps[i];
    const StepPlan& sp = plan.steps[i];
    NodeStats ns;
    ns.op = u.label();
    ns.shape = tiling::to_string(u.node->shape);
    ns.layout = sp.out.describe();
    ns.predicted_bytes = sp.predicted_bytes();
    const CommCounters c0 = comm.counters();
    const std::int64_t a0 = Buffer::allocated_total();
    const auto n0 = std::chrono::steady_clock::now();

    InputArrays in;
    for (const Node* x : u.inputs) in.push_back(x->result ? x->result.get() : values.at(x).get());
    std::shared_ptr<DistArray> out;
    std::exception_ptr err;
    try {
      out = std::make_shared<DistArray>(run_step(u, sp, in, comm));
    } catch (...) {
      // A failure to get memory is named with the operation and shapes (agree() adds the
      // rank); one that agree() raised inside the step already is.
      err = std::current_exception();
      if (!comm.is_agreed(err))
        err = name_memory_failure(err, fmt::format("{} {} {}", ns.op, ns.shape, dtype_name(u.node->dtype)));
    }
    // An error agree() raised inside the step is already thrown on every rank.
    if (comm.is_agreed(err)) std::rethrow_exception(err);
    comm.agree(err);  // every rank throws the same error, or none does

    values[u.node] = out;
    ns.comm = comm.counters() - c0;
    ns.temp_bytes = Buffer::allocated_total() - a0;
    ns.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - n0).count();
    stats.predicted_bytes += ns.predicted_bytes;
    stats.temp_bytes += ns.temp_bytes;
    stats.comm += ns.comm;
    stats.nodes.push_back(std::move(ns));

    for (const Node* x : u.inputs)
      if (!x->result && --remaining[x] == 0 && !s.held.count(x)) values.erase(x);
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // One text shared by every node this evaluation caches.
  const auto history = std::make_shared<const std::string>(format_plan(s, plan, &stats.nodes));

  // Cache what user handles reach; an evaluated node no longer needs its inputs, so
  // loops do not keep every earlier iteration alive.
  for (const Step& u : s.steps) {
    auto it = values.find(u.node);
    if (it == values.end()) continue;
    u.node->result = it->second;
    u.node->history = history;
  }
  for (const Step& u : s.steps)
    if (u.node->result) u.node->inputs.clear();
  g_last = std::move(stats);
}

std::string explain_plan(const NodePtr& root) {
  if (root->result) {
    if (root->history) return *root->history;
    return fmt::format("materialized {} {} {}\n", tiling::to_string(root->shape), dtype_name(root->dtype),
                       root->result->layout().describe());
  }
  Communicator& comm = context_comm();
  const Schedule s = prepare(root.get(), comm);
  return format_plan(s, plan_schedule(s, machine_of(comm)), nullptr);
}

EvalStats last_stats() { return g_last; }

}  // namespace spartanxx::detail
