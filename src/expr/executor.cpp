// The executor: orders the reachable graph, groups elementwise nodes into fused
// regions, plans every unit of work, runs the plans with collective error agreement,
// caches results and records what each unit cost.
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

/// Structural identity of a node: operation, parameters and (canonical) inputs. Leaves
/// holding data are identified by address; generated leaves by their parameters.
std::string structure_key(const Node& n, const std::unordered_map<const Node*, const Node*>& canonical) {
  std::string key = fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}", static_cast<int>(n.op), fmt::join(n.shape, ","),
                                static_cast<int>(n.dtype), n.value, n.value2, n.ivalue, static_cast<int>(n.scalar_kind),
                                n.seed, static_cast<int>(n.reduce_kind), n.axis, fmt::join(n.perm, ","));
  for (const auto& sl : n.slices) key += fmt::format("|{}:{}:{}", sl.start, sl.step, sl.length);
  if (n.result) key += fmt::format("|@{}", static_cast<const void*>(&n));
  for (const auto& in : n.inputs) {
    auto it = canonical.find(in.get());
    key += fmt::format("|<{}>", static_cast<const void*>(it == canonical.end() ? in.get() : it->second));
  }
  return key;
}

/// Common subexpressions: a pending node with the same structure as an earlier one is
/// replaced, in its consumers, by that one, so each value is computed once.
void merge_common_subexpressions(Node* root) {
  const std::vector<Node*> order = pending_order(root);
  std::unordered_map<std::string, const Node*> first;
  std::unordered_map<const Node*, const Node*> canonical;
  for (Node* n : order) {
    if (n == root) continue;
    const Node* c = first.emplace(structure_key(*n, canonical), n).first->second;
    if (c != n) canonical[n] = c;
  }
  if (canonical.empty()) return;
  std::unordered_map<const Node*, NodePtr> owner_of;  // a handle to each node, from a consumer's slot
  for (Node* n : order)
    for (const auto& in : n->inputs) owner_of.emplace(in.get(), in);
  for (Node* n : order)
    for (auto& in : n->inputs) {
      auto it = canonical.find(in.get());
      if (it != canonical.end()) in = owner_of.at(it->second);
    }
}

/// One unit of execution: a fused elementwise region, or any other single node.
struct Unit {
  Node* node = nullptr;              // the node whose result the unit produces
  std::vector<Node*> inputs;         // what it reads
  std::unique_ptr<Region> region;    // for elementwise units
  DotFold fold{false, false};        // for dots: transposed operands read in place
  Plan plan;
  std::string label() const {
    if (region && node->op == Op::reduce) return fmt::format("{} of {}", node->label(), region->label());
    if (region) return region->label();
    if (fold[0] || fold[1]) return fmt::format("dot({}, {})", fold[0] ? "transposed" : "-", fold[1] ? "transposed" : "-");
    return node->label();
  }
};

struct Schedule {
  std::vector<Unit> units;
  std::unordered_set<const Node*> held;  // pending nodes a user handle (or another graph) also holds
};

Schedule schedule(Node* root, int P) {
  Schedule s;
  const std::vector<Node*> order = pending_order(root);
  std::unordered_map<const Node*, const Node*> consumer;
  std::unordered_map<const Node*, long> graph_refs, owners;
  std::unordered_set<const Node*> shared;  // read by more than one pending node
  for (Node* n : order)
    for (const auto& in : n->inputs) {
      ++graph_refs[in.get()];
      owners[in.get()] = in.use_count();
      auto [it, fresh] = consumer.emplace(in.get(), n);
      if (!fresh && it->second != n) shared.insert(in.get());
    }
  // shared_ptr owners beyond the pending consumers' input slots are user handles.
  for (Node* n : order)
    if (n == root || owners[n] > graph_refs[n]) s.held.insert(n);
  const bool fuse = options().fusion;
  // An elementwise node is computed inside its consumer's region when nothing else
  // needs its values: one consumer, no user handle, an elementwise consumer of its shape.
  auto interior = [&](const Node* n) {
    if (!fuse || n->result || !is_elementwise(n->op) || s.held.count(n) || shared.count(n)) return false;
    const auto c_it = consumer.find(n);
    if (c_it == consumer.end()) return false;
    const Node* c = c_it->second;
    return is_elementwise(c->op) && c->shape == n->shape;
  };
  // An elementwise region that only feeds a reduction is reduced as it is computed.
  auto absorbed = [&](const Node* n) {
    if (!fuse || n->result || !is_elementwise(n->op) || s.held.count(n) || shared.count(n)) return false;
    const auto c_it = consumer.find(n);
    return c_it != consumer.end() && c_it->second->op == Op::reduce;
  };
  // A matrix transpose that only feeds a dot is not materialized: the dot reads its
  // input transposed.
  auto folded = [&](const Node* n) {
    if (n->result || n->op != Op::transpose || n->shape.size() != 2 || s.held.count(n) || shared.count(n)) return false;
    const auto c_it = consumer.find(n);
    return c_it != consumer.end() && c_it->second->op == Op::dot;
  };

  s.units.reserve(order.size());  // layouts below point into units
  std::unordered_map<const Node*, const Layout*> layouts;
  auto layout_of = [&](const Node* n) -> const Layout& {
    return n->result ? n->result->layout() : *layouts.at(n);
  };
  for (Node* n : order) {
    if (interior(n) || folded(n) || absorbed(n)) continue;
    Unit u;
    u.node = n;
    InputLayouts in;
    if (is_elementwise(n->op)) {
      u.region = std::make_unique<Region>(make_region(n, interior));
      u.inputs = u.region->externals;
    } else if (n->op == Op::reduce && absorbed(n->inputs[0].get())) {
      u.region = std::make_unique<Region>(make_region(n->inputs[0].get(), interior));
      u.inputs = u.region->externals;
    } else {
      for (std::size_t i = 0; i < n->inputs.size(); ++i) {
        Node* input = n->inputs[i].get();
        if (n->op == Op::dot && folded(input)) {
          u.fold[i] = true;
          input = input->inputs[0].get();
        }
        u.inputs.push_back(input);
      }
    }
    for (Node* i : u.inputs) in.push_back(&layout_of(i));
    if (u.region && n->op != Op::reduce) {
      u.plan = plan_region(*u.region, in, P);
    } else {
      switch (n->op) {
        case Op::reduce: u.plan = plan_reduce(*n, in, P, u.region.get()); break;
        case Op::dot: u.plan = plan_dot(*n, in, P, u.fold); break;
        case Op::transpose: u.plan = plan_transpose(*n, in, P); break;
        case Op::slice: u.plan = plan_slice(*n, in, P); break;
        case Op::reshape: u.plan = plan_reshape(*n, in, P); break;
        default: u.plan = plan_source(*n, P); break;
      }
    }
    s.units.push_back(std::move(u));
    layouts[n] = &s.units.back().plan.layout;
  }
  return s;
}

DistArray run_unit(const Unit& u, const InputArrays& in, Communicator& comm) {
  const Node& n = *u.node;
  if (u.region && n.op != Op::reduce) return exec_region(*u.region, in, u.plan, comm);
  switch (n.op) {
    case Op::reduce: return exec_reduce(n, in, u.plan, comm, u.region.get());
    case Op::dot: return exec_dot(n, in, u.plan, comm, u.fold);
    case Op::transpose: return exec_transpose(n, in, u.plan, comm);
    case Op::slice: return exec_slice(n, in, u.plan, comm);
    case Op::reshape: return exec_reshape(n, in, u.plan, comm);
    default: return exec_source(n, u.plan, comm);
  }
}

std::string format_plan(const Schedule& s, const std::vector<NodeStats>* measured, int P) {
  std::unordered_map<const Node*, int> ids;
  std::string text;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < s.units.size(); ++i) {
    const Unit& u = s.units[i];
    ids[u.node] = static_cast<int>(i);
    std::vector<std::string> args;
    for (const Node* in : u.inputs)
      args.push_back(ids.count(in) ? fmt::format("#{}", ids.at(in)) : fmt::format("cached {}", tiling::to_string(in->shape)));
    total += u.plan.predicted_bytes;
    text += fmt::format("  #{} {}{} -> {} {} {}", i, u.label(), args.empty() ? "" : fmt::format("({})", fmt::join(args, ", ")),
                        tiling::to_string(u.node->shape), dtype_name(u.node->dtype), u.plan.layout.describe());
    if (!u.plan.strategy.empty()) text += fmt::format(" [{}]", u.plan.strategy);
    text += fmt::format(", predicted {} B", u.plan.predicted_bytes);
    if (measured)
      text += fmt::format(", measured on this rank: sent {} B, received {} B", (*measured)[i].comm.bytes_sent,
                          (*measured)[i].comm.bytes_received);
    text += "\n";
  }
  return fmt::format("plan on {} ranks, {} steps, predicted {} B moved in all\n{}", P, s.units.size(), total, text);
}

}  // namespace

void evaluate(const NodePtr& root) {
  if (root->result) return;
  Communicator& comm = context_comm();
  const int P = comm.size();
  const auto t0 = std::chrono::steady_clock::now();
  merge_common_subexpressions(root.get());
  Schedule s = schedule(root.get(), P);

  // An intermediate nobody else holds is freed after its last reader has run; one a
  // user (or another graph) holds keeps its result.
  std::unordered_map<const Node*, long> remaining;
  for (const Unit& u : s.units)
    for (const Node* in : u.inputs)
      if (!in->result) ++remaining[in];

  EvalStats stats;
  std::unordered_map<const Node*, std::shared_ptr<DistArray>> values;
  for (const Unit& u : s.units) {
    NodeStats ns;
    ns.op = u.label();
    ns.shape = tiling::to_string(u.node->shape);
    ns.layout = u.plan.layout.describe();
    ns.predicted_bytes = u.plan.predicted_bytes;
    const backend::Counters c0 = comm.counters();
    const std::int64_t a0 = Buffer::allocated_total();
    const auto n0 = std::chrono::steady_clock::now();

    InputArrays in;
    for (const Node* i : u.inputs) in.push_back(i->result ? i->result.get() : values.at(i).get());
    std::shared_ptr<DistArray> out;
    std::exception_ptr err;
    try {
      out = std::make_shared<DistArray>(run_unit(u, in, comm));
    } catch (...) {
      err = std::current_exception();
    }
    // An error agree() raised inside the unit is already thrown on every rank.
    if (comm.is_agreed(err)) std::rethrow_exception(err);
    comm.agree(err);  // every rank throws the same error, or none does

    values[u.node] = out;
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

    for (const Node* i : u.inputs)
      if (!i->result && --remaining[i] == 0 && !s.held.count(i)) values.erase(i);
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // One text shared by every node this evaluation caches.
  const auto history = std::make_shared<const std::string>(format_plan(s, &stats.nodes, P));

  // Cache what user handles reach; an evaluated node no longer needs its inputs, so
  // loops do not keep every earlier iteration alive.
  for (const Unit& u : s.units) {
    auto it = values.find(u.node);
    if (it == values.end()) continue;
    u.node->result = it->second;
    u.node->history = history;
  }
  for (const Unit& u : s.units)
    if (u.node->result) u.node->inputs.clear();
  g_last = std::move(stats);
}

Buffer gather_whole(const DistArray& a, Communicator& comm) {
  const Needs needs(comm.size(), std::vector<Box>{Box::whole(a.shape())});
  return std::move(gather_boxes(a, needs, comm)[0]);
}

std::string explain_plan(const NodePtr& root) {
  if (root->result) {
    if (root->history) return *root->history;
    return fmt::format("materialized {} {} {}\n", tiling::to_string(root->shape), dtype_name(root->dtype),
                       root->result->layout().describe());
  }
  Communicator& comm = context_comm();
  return format_plan(schedule(root.get(), comm.size()), nullptr, comm.size());
}

EvalStats last_stats() { return g_last; }

}  // namespace spartanxx::detail
