// The executor: orders the reachable graph, plans every node, runs the plans with
// collective error agreement, caches results and records what each node cost.
#include <fmt/format.h>

#include <chrono>
#include <unordered_map>
#include <unordered_set>

#include "expr/context.hpp"
#include "expr/plan.hpp"
#include "mpi_backend/communicator.hpp"
#include "spartanxx/runtime.hpp"

namespace spartanxx::detail {
namespace {

EvalStats g_last;

CommCounters to_public(const backend::Counters& c) {
  return CommCounters{c.bytes_sent, c.bytes_received, c.messages_sent, c.messages_received};
}

/// Nodes without cached results reachable from root, inputs before consumers.
std::vector<Node*> pending_order(Node* root) {
  std::vector<Node*> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<Node*, std::size_t>> stack{{root, 0}};
  seen.insert(root);
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (next < n->inputs.size()) {
      Node* in = n->inputs[next++].get();
      if (!in->result && seen.insert(in).second) stack.emplace_back(in, 0);
    } else {
      order.push_back(n);
      stack.pop_back();
    }
  }
  return order;
}

const Layout& layout_of(const Node* n, const std::unordered_map<const Node*, Plan>& plans) {
  if (n->result) return n->result->layout();
  return plans.at(n).layout;
}

Plan plan_one(const Node& n, const InputLayouts& in, int P) {
  if (is_elementwise(n.op)) return plan_elementwise(n, in, P);
  switch (n.op) {
    case Op::reduce: return plan_reduce(n, in, P);
    case Op::dot: return plan_dot(n, in, P);
    case Op::transpose: return plan_transpose(n, in, P);
    case Op::slice: return plan_slice(n, in, P);
    case Op::reshape: return plan_reshape(n, in, P);
    default: return plan_source(n, P);
  }
}

DistArray run_one(const Node& n, const InputArrays& in, const Plan& p, Communicator& comm) {
  if (is_elementwise(n.op)) return exec_elementwise(n, in, p, comm);
  switch (n.op) {
    case Op::reduce: return exec_reduce(n, in, p, comm);
    case Op::dot: return exec_dot(n, in, p, comm);
    case Op::transpose: return exec_transpose(n, in, p, comm);
    case Op::slice: return exec_slice(n, in, p, comm);
    case Op::reshape: return exec_reshape(n, in, p, comm);
    default: return exec_source(n, p, comm);
  }
}

std::unordered_map<const Node*, Plan> plan_all(const std::vector<Node*>& order, int P) {
  std::unordered_map<const Node*, Plan> plans;
  for (Node* n : order) {
    InputLayouts in;
    for (const auto& i : n->inputs) in.push_back(&layout_of(i.get(), plans));
    plans.emplace(n, plan_one(*n, in, P));
  }
  return plans;
}

std::string format_plan(const std::vector<Node*>& order, const std::unordered_map<const Node*, Plan>& plans,
                        const std::vector<NodeStats>* measured, int P) {
  std::unordered_map<const Node*, int> ids;
  std::string text;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const Node* n = order[i];
    ids[n] = static_cast<int>(i);
    std::vector<std::string> args;
    for (const auto& in : n->inputs)
      args.push_back(ids.count(in.get()) ? fmt::format("#{}", ids.at(in.get()))
                                         : fmt::format("cached {}", tiling::to_string(in->shape)));
    const Plan& p = plans.at(n);
    total += p.predicted_bytes;
    text += fmt::format("  #{} {}{} -> {} {} {}", i, n->label(), args.empty() ? "" : fmt::format("({})", fmt::join(args, ", ")),
                        tiling::to_string(n->shape), dtype_name(n->dtype), p.layout.describe());
    if (!p.strategy.empty()) text += fmt::format(" [{}]", p.strategy);
    text += fmt::format(", predicted {} B", p.predicted_bytes);
    if (measured) text += fmt::format(", measured on this rank: sent {} B, received {} B", (*measured)[i].comm.bytes_sent,
                                      (*measured)[i].comm.bytes_received);
    text += "\n";
  }
  return fmt::format("plan on {} ranks, {} nodes, predicted {} B moved in all\n{}", P, order.size(), total, text);
}

}  // namespace

void evaluate(const NodePtr& root) {
  if (root->result) return;
  Communicator& comm = context_comm();
  const int P = comm.size();
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<Node*> order = pending_order(root.get());
  const auto plans = plan_all(order, P);

  // Reference counts inside this graph: a node nobody else holds is freed after its
  // last consumer has run; one a user (or another graph) holds keeps its result.
  std::unordered_map<const Node*, long> internal_refs, remaining_uses;
  for (Node* n : order)
    for (const auto& in : n->inputs) {
      ++internal_refs[in.get()];
      if (!in->result) ++remaining_uses[in.get()];
    }

  EvalStats stats;
  std::unordered_map<const Node*, std::shared_ptr<DistArray>> values;
  for (Node* n : order) {
    NodeStats ns;
    ns.op = n->label();
    ns.shape = tiling::to_string(n->shape);
    const Plan& plan = plans.at(n);
    ns.layout = plan.layout.describe();
    ns.predicted_bytes = plan.predicted_bytes;
    const backend::Counters c0 = comm.counters();
    const std::int64_t a0 = Buffer::allocated_total();
    const auto n0 = std::chrono::steady_clock::now();

    InputArrays in;
    for (const auto& i : n->inputs) in.push_back(i->result ? i->result.get() : values.at(i.get()).get());
    std::shared_ptr<DistArray> out;
    std::exception_ptr err;
    try {
      out = std::make_shared<DistArray>(run_one(*n, in, plan, comm));
    } catch (...) {
      err = std::current_exception();
    }
    comm.agree(err);  // every rank throws the same error, or none does

    values[n] = out;
    ns.comm = to_public(comm.counters() - c0);
    ns.temp_bytes = Buffer::allocated_total() - a0;
    ns.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - n0).count();
    stats.predicted_bytes += ns.predicted_bytes;
    stats.temp_bytes += ns.temp_bytes;
    stats.comm.bytes_sent += ns.comm.bytes_sent;
    stats.comm.bytes_received += ns.comm.bytes_received;
    stats.comm.messages_sent += ns.comm.messages_sent;
    stats.comm.messages_received += ns.comm.messages_received;
    stats.nodes.push_back(std::move(ns));

    for (const auto& i : n->inputs)
      if (!i->result && --remaining_uses[i.get()] == 0 && i.use_count() <= internal_refs[i.get()])
        values.erase(i.get());  // an intermediate only this graph reaches
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string history = format_plan(order, plans, &stats.nodes, P);

  // Cache what user handles reach; an evaluated node no longer needs its inputs, so
  // loops do not keep every earlier iteration alive.
  for (Node* n : order) {
    auto it = values.find(n);
    if (it == values.end()) continue;
    n->result = it->second;
    n->history = history;
  }
  for (Node* n : order)
    if (n->result) n->inputs.clear();
  g_last = std::move(stats);
}

Buffer gather_whole(const DistArray& a, Communicator& comm) {
  const Needs needs(comm.size(), std::vector<Box>{Box::whole(a.shape())});
  return std::move(gather_boxes(a, needs, comm)[0]);
}

std::string explain_plan(const NodePtr& root) {
  if (root->result) {
    if (!root->history.empty()) return root->history;
    return fmt::format("materialized {} {} {}\n", tiling::to_string(root->shape), dtype_name(root->dtype),
                       root->result->layout().describe());
  }
  Communicator& comm = context_comm();
  const auto order = pending_order(root.get());
  return format_plan(order, plan_all(order, comm.size()), nullptr, comm.size());
}

EvalStats last_stats() { return g_last; }

}  // namespace spartanxx::detail
