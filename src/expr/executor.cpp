// The executor: orders the reachable graph, groups elementwise nodes into fused
// regions, plans every unit of work, runs the plans with collective error agreement,
// caches results and records what each unit cost.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "expr/context.hpp"
#include "expr/plan.hpp"
#include "array/sparse.hpp"
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
    // C++ scalars have their values already (materialize_scalars): equal values are
    // the same input.
    if (in->op == Op::weak_scalar) {
      key += fmt::format("|w{}:{}:{}", static_cast<int>(in->scalar_kind), in->value, in->ivalue);
      continue;
    }
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
    // A matrix transpose is not merged: each dot reads its own in place (folded), where
    // a shared one would have to be materialized.
    if (n == root || (n->op == Op::transpose && n->shape.size() == 2)) continue;
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

/// One unit of execution: a fused elementwise region, or any other single node. The
/// unit is computed as `plan` says (into plan.layout, which may be partial sums), then
/// moved into `out`, the layout the optimizer chose for it.
struct Unit {
  Node* node = nullptr;              // the node whose result the unit produces
  std::vector<Node*> inputs;         // what it reads
  std::unique_ptr<Region> region;    // for elementwise units
  DotFold fold{false, false};        // for dots: transposed operands read in place
  Node* gradient_z = nullptr;        // dot(X.T(), region(dot(X, w), ...)) in one pass: z = dot(X, w)
  Node* map_dot = nullptr;           // region(dot(a, b), ...) block by block: the dot
  Plan plan;
  Layout out;
  std::int64_t convert_bytes = 0;    // moving plan.layout into out
  bool sparse = false;               // touches sparse data (exec_sparse.cpp)
  /// Computed straight into any layout (a region or a generated source).
  bool direct() const {
    return !sparse && !gradient_z && !map_dot && ((region && node->op != Op::reduce) || node->inputs.empty());
  }
  std::vector<const Node*> input_nodes() const { return {inputs.begin(), inputs.end()}; }
  std::int64_t predicted_bytes() const { return plan.predicted_bytes + convert_bytes; }
  std::string label() const {
    if (gradient_z) return fmt::format("dot(transposed X, {} of dot(X, w)): one pass over X", region->label());
    if (map_dot) return fmt::format("{} of dot, block by block", region->label());
    if (region && node->op == Op::reduce) return fmt::format("{} of {}", node->label(), region->label());
    if (region) return region->label();
    if (fold[0] || fold[1]) return fmt::format("dot({}, {})", fold[0] ? "transposed" : "-", fold[1] ? "transposed" : "-");
    return node->label();
  }
};

struct Schedule {
  std::vector<Unit> units;
  std::unordered_set<const Node*> held;  // pending nodes a user handle (or another graph) also holds
  // The layout problem: per unit, its candidate layouts and the units it reads.
  std::vector<std::vector<Layout>> candidates;
  std::vector<std::vector<int>> reads;       // unit indices of inputs computed in this plan
  std::vector<int> greedy;                   // candidate index of the greedy plan, per unit
  std::string key;                           // structure of the graph, for the plan cache
  // Steps that cost the same for the same layouts (the iterations of an unrolled loop)
  // share a signature; layouts are numbered, equal layouts alike.
  std::vector<int> signature;                // per unit
  std::vector<std::vector<int>> candidate_ids;  // per unit, per candidate
  std::unordered_map<const Layout*, int> fixed_ids;  // layouts of data already computed
};

/// What a unit's cost depends on besides layouts.
std::string unit_signature(const Unit& u) {
  const Node& n = *u.node;
  std::string sig = fmt::format("{}|{}|{}|{}|{}|{}{}|{}{}", u.label(), fmt::join(n.shape, ","), static_cast<int>(n.dtype),
                                n.axis, static_cast<int>(n.reduce_kind), u.fold[0] ? 1 : 0, u.fold[1] ? 1 : 0,
                                u.gradient_z ? fmt::format("{}", fmt::join(u.gradient_z->shape, ",")) : "",
                                u.map_dot ? fmt::format("{}", fmt::join(u.map_dot->shape, ",")) : "");
  for (const Node* x : u.inputs) sig += fmt::format("|{}:{}", fmt::join(x->shape, ","), static_cast<int>(x->dtype));
  if (u.region)
    for (const Node* e : u.region->externals) sig += fmt::format("|e{}:{}", fmt::join(e->shape, ","), static_cast<int>(e->dtype));
  for (const auto& sl : n.slices) sig += fmt::format("|{}:{}:{}", sl.start, sl.step, sl.length);
  sig += fmt::format("|{}", fmt::join(n.perm, ","));
  return sig;
}

/// Numbers the schedule's layouts (equal layouts get equal numbers) and its units'
/// signatures.
void number_layouts(Schedule& s) {
  std::vector<const Layout*> seen;
  auto id_of = [&](const Layout& l) {
    for (std::size_t i = 0; i < seen.size(); ++i)
      if (*seen[i] == l) return static_cast<int>(i);
    seen.push_back(&l);
    return static_cast<int>(seen.size()) - 1;
  };
  std::unordered_map<std::string, int> sigs;
  s.candidate_ids.resize(s.units.size());
  s.signature.resize(s.units.size());
  for (std::size_t i = 0; i < s.units.size(); ++i) {
    for (const Layout& l : s.candidates[i]) s.candidate_ids[i].push_back(id_of(l));
    for (const Node* x : s.units[i].inputs)
      if (x->result) s.fixed_ids.emplace(&x->result->layout(), id_of(x->result->layout()));
    s.signature[i] = sigs.emplace(unit_signature(s.units[i]), static_cast<int>(sigs.size())).first->second;
  }
}

using ConsumersOf = std::unordered_map<const Node*, std::vector<const Node*>>;

/// Whether every reader of `n` is a node computed inside region `r`.
bool read_only_inside(const Node* n, const Region& r, const ConsumersOf& consumers_of) {
  const auto cs = consumers_of.find(n);
  if (cs == consumers_of.end()) return false;
  for (const Node* c : cs->second)
    if (std::find(r.members.begin(), r.members.end(), c) == r.members.end()) return false;
  return true;
}

/// A product and the region that maps it become one unit: its inputs are the product's
/// operands, then the region's other inputs, in order.
std::vector<Node*> inputs_around(Node* a, Node* b, const Region& r, const Node* product) {
  std::vector<Node*> in{a, b};
  for (Node* e : r.externals)
    if (e != product) in.push_back(e);
  return in;
}

bool float_type(DType t) { return t == DType::f64 || t == DType::f32; }

/// Removes the units whose indices are in `merged` (their work moved into others).
void drop_units(Schedule& s, const std::unordered_set<std::size_t>& merged) {
  if (merged.empty()) return;
  std::vector<Unit> kept;
  kept.reserve(s.units.capacity());
  for (std::size_t i = 0; i < s.units.size(); ++i)
    if (!merged.count(i)) kept.push_back(std::move(s.units[i]));
  s.units = std::move(kept);
}

std::unordered_map<const Node*, std::size_t> unit_index(const Schedule& s) {
  std::unordered_map<const Node*, std::size_t> unit_of;
  for (std::size_t i = 0; i < s.units.size(); ++i) unit_of[s.units[i].node] = i;
  return unit_of;
}

/// dot(X.T(), f(dot(X, w), ...)) with X held split by rows, where the inner dot and the
/// region feed nothing else: one unit that reads each row block of X once.
void fuse_gradients(Schedule& s, const std::unordered_set<const Node*>& shared,
                    const std::unordered_map<const Node*, const Node*>& consumer, const ConsumersOf& consumers_of) {
  auto sole = [&](const Node* n, const Node* c) {
    if (n->result || s.held.count(n) || shared.count(n)) return false;
    const auto it = consumer.find(n);
    return it != consumer.end() && it->second == c;
  };
  const auto unit_of = unit_index(s);
  std::unordered_set<std::size_t> merged;
  for (Unit& o : s.units) {
    const Node& outer = *o.node;
    if (outer.op != Op::dot || !o.fold[0] || o.fold[1] || o.inputs.size() != 2) continue;
    const Node* X = o.inputs[0];
    if (!X->result || !gradient_applies(X->result->layout())) continue;
    if (X->sparse && X->dtype != DType::f64) continue;
    Node* rn = o.inputs[1];
    const auto r_it = unit_of.find(rn);
    if (r_it == unit_of.end() || merged.count(r_it->second) || !sole(rn, &outer)) continue;
    Unit& ru = s.units[r_it->second];
    if (!ru.region || ru.node->op == Op::reduce || ru.region->root != rn) continue;
    // The one-pass kernel takes a dense region and a dense product (X itself may be sparse).
    if (rn->sparse || outer.sparse) continue;
    Node* z = nullptr;
    for (Node* e : ru.region->externals)
      if (e->op == Op::dot && e->inputs[0].get() == X && e->shape == rn->shape && !e->result && !s.held.count(e) &&
          !shared.count(e) && read_only_inside(e, *ru.region, consumers_of))
        z = e;
    if (!z || z->sparse || z->inputs[1]->sparse) continue;
    const auto z_it = unit_of.find(z);
    if (z_it == unit_of.end() || merged.count(z_it->second)) continue;
    const Unit& zu = s.units[z_it->second];
    if (zu.fold[0] || zu.fold[1]) continue;
    const DType t = z->dtype;
    if (!float_type(t) || X->dtype != t || z->inputs[1]->dtype != t || rn->dtype != t || outer.dtype != t) continue;
    o.gradient_z = z;
    o.region = std::move(ru.region);
    o.inputs = inputs_around(o.inputs[0], z->inputs[1].get(), *o.region, z);
    merged.insert(r_it->second);
    merged.insert(z_it->second);
  }
  drop_units(s, merged);
}

/// region(dot(a, b), ...) where the dot feeds only the region and a is split by rows
/// only: one unit that maps each row block of the product as it is computed.
void fuse_dot_maps(Schedule& s, const ConsumersOf& consumers_of) {
  const auto unit_of = unit_index(s);
  std::unordered_set<std::size_t> merged;
  for (Unit& ru : s.units) {
    if (!ru.region || ru.node->op == Op::reduce || ru.gradient_z || ru.map_dot) continue;
    Node* z = nullptr;
    for (Node* e : ru.region->externals) {
      if (e->op != Op::dot || e->result || s.held.count(e) || e->shape != ru.node->shape) continue;
      const Node* a = e->inputs[0].get();
      if (!a->result || e->inputs[1]->sparse || ru.node->sparse || !dot_map_applies(*e, a->result->layout())) continue;
      if (a->sparse && (a->dtype != DType::f64 || !gradient_applies(a->result->layout()))) continue;
      const DType t = e->dtype;
      if (!float_type(t) || a->dtype != t || e->inputs[1]->dtype != t) continue;
      if (!read_only_inside(e, *ru.region, consumers_of)) continue;
      const auto z_it = unit_of.find(e);
      if (z_it == unit_of.end() || merged.count(z_it->second)) continue;
      const Unit& zu = s.units[z_it->second];
      if (zu.fold[0] || zu.fold[1] || zu.gradient_z) continue;
      z = e;
      merged.insert(z_it->second);
      break;
    }
    if (!z) continue;
    ru.map_dot = z;
    ru.inputs = inputs_around(z->inputs[0].get(), z->inputs[1].get(), *ru.region, z);
  }
  drop_units(s, merged);
}

/// The units: fusion decides which nodes are computed inside others.
void build_units(Schedule& s, Node* root) {
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
  // Regions, consumers first: an elementwise node joins the region of its consumers when
  // no user holds it and every consumer is an elementwise node of its shape in one and
  // the same region (so where(a > 0, a, -a) computes a once, inside). Otherwise it is
  // the root of a region of its own.
  ConsumersOf consumers_of;
  for (Node* n : order)
    for (const auto& in : n->inputs) {
      auto& cs = consumers_of[in.get()];
      if (std::find(cs.begin(), cs.end(), n) == cs.end()) cs.push_back(n);
    }
  std::unordered_map<const Node*, const Node*> region_root;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const Node* n = *it;
    if (n->result || !is_elementwise(n->op)) continue;
    region_root[n] = n;
    if (!fuse || s.held.count(n)) continue;
    const auto cs_it = consumers_of.find(n);
    if (cs_it == consumers_of.end()) continue;
    const Node* r = nullptr;
    bool joins = true;
    for (const Node* c : cs_it->second) {
      const auto rc = region_root.find(c);
      if (!is_elementwise(c->op) || c->shape != n->shape || rc == region_root.end() || (r && rc->second != r)) {
        joins = false;
        break;
      }
      r = rc->second;
    }
    if (joins && r) region_root[n] = r;
  }
  auto interior = [&](const Node* n) {
    const auto it = region_root.find(n);
    return it != region_root.end() && it->second != n;
  };
  // An elementwise region that only feeds a reduction is reduced as it is computed.
  auto absorbed = [&](const Node* n) {
    if (!fuse || n->result || !is_elementwise(n->op) || s.held.count(n) || shared.count(n)) return false;
    const auto c_it = consumer.find(n);
    return c_it != consumer.end() && c_it->second->op == Op::reduce;
  };
  // A matrix transpose that only feeds a dot is not materialized: the dot reads its
  // input transposed. That holds even while the user holds the transpose (as the
  // temporary X.T() of to_eigen(dot(X.T(), r)) is, until the statement ends): making it
  // would cost a pass that moves every entry, to cache a value nobody may ask for.
  // Products with a sparse operand fold only transposes of sparse matrices; a dense
  // operand's transpose is made first.
  auto folded = [&](const Node* n) {
    if (n->result || n->op != Op::transpose || n->shape.size() != 2 || shared.count(n)) return false;
    const auto c_it = consumer.find(n);
    if (c_it == consumer.end() || c_it->second->op != Op::dot) return false;
    const Node* c = c_it->second;
    return n->sparse || !(c->inputs[0]->sparse || c->inputs[1]->sparse);
  };
  s.units.reserve(order.size());
  for (Node* n : order) {
    if (interior(n) || folded(n) || absorbed(n)) continue;
    Unit u;
    u.node = n;
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
    s.units.push_back(std::move(u));
  }
  if (fuse) fuse_gradients(s, shared, consumer, consumers_of);
  if (fuse) fuse_dot_maps(s, consumers_of);
  for (Unit& u : s.units)
    u.sparse = !u.gradient_z && !u.map_dot && is_sparse_step(*u.node, u.region.get(), u.input_nodes());
}

/// Ways to compute a unit from inputs in the given layouts. A direct unit is computed
/// into `out` itself; the others into the layouts their strategies produce.
std::vector<Plan> unit_options(const Unit& u, const InputLayouts& in, const Layout* target, int P) {
  const Node& n = *u.node;
  if (u.sparse) return sparse_options(n, u.region.get(), u.fold, u.input_nodes(), in, P);
  if (u.gradient_z) return gradient_options(n, *u.region, *u.gradient_z, in, P);
  if (u.map_dot) return dot_map_options(*u.region, *u.map_dot, in, P);
  if (u.region && n.op != Op::reduce) {
    const Layout& out = *target;
    Plan p;
    p.layout = out;
    for (std::size_t i = 0; i < in.size(); ++i)
      p.predicted_bytes += tiling::bytes_to_gather(*in[i], broadcast_needs(out, u.region->externals[i]->shape, P),
                                                   itemsize(u.region->externals[i]->dtype));
    if (u.region->members.size() > 1) p.strategy = fmt::format("{} ops in one pass", u.region->members.size());
    return {p};
  }
  switch (n.op) {
    case Op::reduce: return reduce_options(n, in, P, u.region.get(), target);
    case Op::dot: return dot_options(n, in, P, u.fold);
    case Op::transpose: return {plan_transpose(n, in, P)};
    case Op::slice: return {plan_slice(n, in, P)};
    case Op::reshape: return {plan_reshape(n, in, P)};
    default: {
      Plan p;
      p.layout = *target;
      return {p};
    }
  }
}

std::size_t result_itemsize(const Node& n) { return itemsize(n.op == Op::weak_scalar ? n.scalar_kind : n.dtype); }

/// The cheapest way to compute unit `u` into `out`: its plan, the bytes of moving the
/// plan's layout into `out`, and the total.
struct Best {
  Plan plan;
  std::int64_t convert = 0;
  tiling::Cost cost;
};
/// The cost of a layout a step cannot produce (far above any real plan, and safe to add).
constexpr std::int64_t kImpossible = std::int64_t{1} << 52;

/// Whether a unit's options depend only on its inputs' layouts, not on the target.
bool target_free(const Unit& u) {
  return !u.direct() && u.node->op != Op::reduce;
}

Best pick(const Unit& u, const std::vector<Plan>& options, const Layout& out, int P, bool keep_plan = true) {
  Best best;
  const Plan* chosen = nullptr;
  for (const Plan& p : options) {
    // Partial sums are made, never converted into: a rank's data is not a summand.
    if (out.is_partial() && !p.layout.is_partial()) continue;
    const std::int64_t convert = p.layout == out ? 0 : tiling::bytes_to_move(p.layout, out, P, result_itemsize(*u.node));
    const std::int64_t bytes = p.predicted_bytes + convert;
    if (!chosen || bytes < best.cost.bytes) {
      chosen = &p;
      best.convert = convert;
      best.cost.bytes = bytes;
    }
  }
  if (!chosen) best.cost.bytes = kImpossible;  // no way to make this layout
  if (keep_plan && chosen) best.plan = *chosen;
  // Work done again on every rank: a replicated result beyond a single element.
  const index_t volume = tiling::volume(u.node->shape);
  if (out.is_replicated() && volume > 1 && P > 1)
    best.cost.redundant = (P - 1) * volume * static_cast<std::int64_t>(result_itemsize(*u.node));
  return best;
}

Best best_option(const Unit& u, const InputLayouts& in, const Layout& out, int P) {
  return pick(u, unit_options(u, in, &out, P), out, P);
}

/// Candidate layouts of a unit: the usual cuts of its shape, the layouts of data the
/// graph already holds in that shape (or whose row or column splits fit it), and the
/// greedy plan's choice (added by the caller).
std::vector<Layout> candidate_layouts(const Node& n, const std::vector<const Layout*>& fixed, int P) {
  std::vector<Layout> c;
  auto add = [&](Layout l) {
    if (std::find(c.begin(), c.end(), l) == c.end()) c.push_back(std::move(l));
  };
  const Shape& S = n.shape;
  if (S.empty() || n.op == Op::weak_scalar) {
    add(Layout::replicated(S));
    return c;
  }
  add(Layout::rows(S, P));
  if (P == 1) return c;
  for (int a = 1; a < static_cast<int>(S.size()) && a < 2; ++a)
    if (S[a] > 1) add(Layout::blocks(S, a, P));
  if (S.size() == 2) {
    int pr = static_cast<int>(std::sqrt(static_cast<double>(P)));
    while (pr > 1 && P % pr) --pr;
    if (pr > 1) add(Layout::grid(S, pr, P / pr));
  }
  add(Layout::replicated(S));
  for (const Layout* f : fixed) {
    if (f->shape() == S) add(*f);
    if (f->ndim() < 1 || f->is_replicated() || f->is_partial()) continue;
    // A pure row split of the same extent cuts this shape the same way.
    bool rows_only = true;
    for (int a = 1; a < f->ndim(); ++a) rows_only = rows_only && f->tiles_along(a) == 1;
    if (rows_only && f->shape()[0] == S[0] && f->tiles_along(0) > 1) {
      std::vector<std::vector<index_t>> splits{f->splits(0)};
      for (std::size_t a = 1; a < S.size(); ++a) splits.push_back({0, S[a]});
      add(Layout(S, splits, f->owners()));
    }
  }
  return c;
}

/// A key of everything planning depends on: operations, shapes, dtypes, parameters that
/// change layouts (not scalar values or seeds), which nodes are held, the layouts of data
/// already computed, the rank count and the options.
std::string structure_of(Node* root, const std::unordered_set<const Node*>& held, int P) {
  const std::vector<Node*> order = pending_order(root);
  std::unordered_map<const Node*, int> index;
  std::string key = fmt::format("P{}f{}", P, options().fusion ? 1 : 0);
  int fixed = 0;
  std::unordered_map<const Node*, int> fixed_index;
  for (Node* n : order) {
    index[n] = static_cast<int>(index.size());
    key += fmt::format(";{}:{}:{}:{}:{}:{}:{}", static_cast<int>(n->op), fmt::join(n->shape, ","),
                       static_cast<int>(n->dtype), static_cast<int>(n->reduce_kind), n->axis, fmt::join(n->perm, ","),
                       held.count(n) ? "h" : "");
    if (n->sparse) key += "s";
    for (const auto& sl : n->slices) key += fmt::format("|{}:{}:{}", sl.start, sl.step, sl.length);
    for (const auto& in : n->inputs) {
      if (in->result) {
        auto [it, fresh] = fixed_index.emplace(in.get(), fixed);
        if (fresh) {
          ++fixed;
          const Layout& l = in->result->layout();
          key += fmt::format("|F{}:{}", static_cast<int>(in->dtype), fmt::join(l.shape(), ","));
          for (int a = 0; a < l.ndim(); ++a) key += fmt::format("/{}", fmt::join(l.splits(a), ","));
          key += fmt::format("/o{}{}{}", fmt::join(l.owners(), ","), l.is_partial() ? "p" : "",
                             in->result->is_sparse() ? "s" : "");
        } else {
          key += fmt::format("|f{}", it->second);
        }
      } else {
        key += fmt::format("|<{}", index.at(in.get()));
      }
    }
  }
  return key;
}

Schedule schedule(Node* root, int P) {
  Schedule s;
  build_units(s, root);
  const std::size_t N = s.units.size();
  std::unordered_map<const Node*, int> unit_of;
  std::vector<const Layout*> fixed;
  for (std::size_t i = 0; i < N; ++i) unit_of[s.units[i].node] = static_cast<int>(i);
  s.reads.resize(N);
  for (std::size_t i = 0; i < N; ++i)
    for (const Node* in : s.units[i].inputs) {
      if (in->result) {
        if (std::find(fixed.begin(), fixed.end(), &in->result->layout()) == fixed.end()) fixed.push_back(&in->result->layout());
      } else if (std::find(s.reads[i].begin(), s.reads[i].end(), unit_of.at(in)) == s.reads[i].end()) {
        s.reads[i].push_back(unit_of.at(in));
      }
    }
  // Candidates, and the greedy plan: each unit where its inputs' layouts suggest.
  s.candidates.resize(N);
  s.greedy.resize(N);
  std::vector<Layout> greedy_out(N);
  for (std::size_t i = 0; i < N; ++i) {
    Unit& u = s.units[i];
    InputLayouts in;
    for (const Node* x : u.inputs) in.push_back(x->result ? &x->result->layout() : &greedy_out[unit_of.at(x)]);
    Layout g;
    if (u.direct()) {
      g = u.node->inputs.empty() ? (u.node->op == Op::weak_scalar || u.node->shape.empty() ? Layout::replicated(u.node->shape)
                                                                                           : Layout::rows(u.node->shape, P))
                                 : plan_region(*u.region, in, P).layout;
    } else {
      const std::vector<Plan> opts = unit_options(u, in, nullptr, P);
      // Partial sums priced as resolved by an allreduce.
      const std::size_t e = result_itemsize(*u.node);
      auto resolved = [&](const Plan& p) {
        return p.predicted_bytes +
               (p.layout.is_partial() ? tiling::bytes_to_move(p.layout, Layout::replicated(p.layout.shape()), P, e) : 0);
      };
      const Plan* b = &opts[0];
      for (const Plan& p : opts)
        if (resolved(p) < resolved(*b)) b = &p;
      g = b->layout.is_partial() ? Layout::replicated(b->layout.shape()) : b->layout;
    }
    // A sparse result stays where its step makes it.
    s.candidates[i] = u.node->sparse ? std::vector<Layout>{} : candidate_layouts(*u.node, fixed, P);
    auto it = std::find(s.candidates[i].begin(), s.candidates[i].end(), g);
    if (it == s.candidates[i].end()) {
      s.candidates[i].push_back(g);
      it = s.candidates[i].end() - 1;
    }
    s.greedy[i] = static_cast<int>(it - s.candidates[i].begin());
    greedy_out[i] = g;
  }
  // Partial sums may be passed on, unresolved, to steps that only sum them (the
  // resolution then moves the smaller sum: sum(dot(A.T(), B)) allreduces one number).
  if (P > 1) {
    std::vector<std::vector<int>> readers(N);
    for (std::size_t i = 0; i < N; ++i)
      for (int r : s.reads[i]) readers[r].push_back(static_cast<int>(i));
    for (std::size_t i = 0; i < N; ++i) {
      const Unit& u = s.units[i];
      const Node& n = *u.node;
      const bool makes_partial = n.dtype != DType::boolean && !u.map_dot && !n.sparse &&
                                 (n.op == Op::dot || u.gradient_z || (n.op == Op::reduce && n.reduce_kind == ReduceKind::sum));
      if (!makes_partial || s.held.count(u.node) || readers[i].empty()) continue;
      bool all_sum = true;
      for (int r : readers[i]) {
        const Unit& c = s.units[r];
        all_sum = all_sum && c.node->op == Op::reduce && c.node->reduce_kind == ReduceKind::sum && !c.region &&
                  c.node->dtype != DType::boolean && c.inputs.size() == 1;
      }
      if (all_sum) s.candidates[i].push_back(Layout::partial(n.shape));
    }
  }
  s.key = structure_of(root, s.held, P);
  number_layouts(s);
  return s;
}

/// The layout problem of a schedule. The cost function reads `s`, which must outlive it.
tiling::LayoutProblem layout_problem(const Schedule& s, int P) {
  tiling::LayoutProblem prob;
  const std::size_t N = s.units.size();
  for (std::size_t i = 0; i < N; ++i) prob.choices.push_back(static_cast<int>(s.candidates[i].size()));
  prob.reads = s.reads;
  // Costs are remembered by (signature, layouts): the iterations of an unrolled loop are
  // priced once. Options that do not depend on the target, once per input layouts.
  auto costs = std::make_shared<std::map<std::vector<int>, tiling::Cost>>();
  auto options = std::make_shared<std::map<std::vector<int>, std::vector<Plan>>>();
  prob.cost = [&s, P, costs, options](int i, int c, const std::vector<int>& rc) {
    const Unit& u = s.units[i];
    InputLayouts in;
    std::vector<int> key{s.signature[i], s.candidate_ids[i][c]};
    for (const Node* x : u.inputs) {
      if (x->result) {
        in.push_back(&x->result->layout());
        key.push_back(s.fixed_ids.at(&x->result->layout()));
        continue;
      }
      // The position of x among the unit's reads gives its candidate.
      const auto& reads = s.reads[i];
      for (std::size_t k = 0; k < reads.size(); ++k)
        if (s.units[reads[k]].node == x) {
          in.push_back(&s.candidates[reads[k]][rc[k]]);
          key.push_back(s.candidate_ids[reads[k]][rc[k]]);
        }
    }
    auto [hit, fresh] = costs->try_emplace(key);
    if (!fresh) return hit->second;
    const Layout& out = s.candidates[i][c];
    if (!target_free(u)) return hit->second = pick(u, unit_options(u, in, &out, P), out, P, /*keep_plan=*/false).cost;
    std::vector<int> okey(key);
    okey.erase(okey.begin() + 1);  // the options do not depend on the target
    auto [it, new_options] = options->try_emplace(okey);
    if (new_options) it->second = unit_options(u, in, nullptr, P);
    return hit->second = pick(u, it->second, out, P, /*keep_plan=*/false).cost;
  };
  return prob;
}

/// Plans cached by graph structure: iteration k of a loop reuses iteration 1's choices.
std::unordered_map<std::string, std::vector<int>>& plan_cache() {
  static std::unordered_map<std::string, std::vector<int>> cache;
  return cache;
}
std::int64_t g_plan_cache_hits = 0;

/// Solves (or recalls) the layout problem and fixes every unit's plan and layout.
void optimize(Schedule& s, int P) {
  auto& cache = plan_cache();
  std::vector<int> choice;
  auto hit = cache.find(s.key);
  bool fits = hit != cache.end() && hit->second.size() == s.units.size();
  for (std::size_t i = 0; fits && i < s.units.size(); ++i)
    fits = hit->second[i] >= 0 && static_cast<std::size_t>(hit->second[i]) < s.candidates[i].size();
  if (fits) {
    choice = hit->second;
    ++g_plan_cache_hits;
  } else {
    const tiling::LayoutProblem prob = layout_problem(s, P);
    choice = tiling::solve_layouts(prob).choice;
    if (cache.size() >= 512) cache.clear();
    cache[s.key] = choice;
  }
  std::unordered_map<const Node*, const Layout*> out_of;
  for (std::size_t i = 0; i < s.units.size(); ++i) {
    Unit& u = s.units[i];
    InputLayouts in;
    for (const Node* x : u.inputs) in.push_back(x->result ? &x->result->layout() : out_of.at(x));
    u.out = s.candidates[i][choice[i]];
    Best b = best_option(u, in, u.out, P);
    u.plan = std::move(b.plan);
    u.convert_bytes = b.convert;
    if (!(u.plan.layout == u.out)) {
      const std::string how = u.plan.layout.is_partial()
                                  ? (tiling::resolve_by_scatter(tiling::needs_of(u.out, P)) ? "reduce-scatter" : "allreduce")
                                  : "redistribute from " + u.plan.layout.describe();
      u.plan.strategy += (u.plan.strategy.empty() ? "" : "; ") + how;
    }
    out_of[u.node] = &u.out;
  }
}

DistArray compute_unit(const Unit& u, const InputArrays& in, Communicator& comm) {
  const Node& n = *u.node;
  if (u.sparse) return exec_sparse(n, u.region.get(), u.fold, u.input_nodes(), in, u.plan, comm);
  if (u.gradient_z) return exec_gradient(n, *u.region, *u.gradient_z, in, u.plan, comm);
  if (u.map_dot) return exec_dot_map(*u.region, *u.map_dot, in, u.plan, comm);
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

DistArray run_unit(const Unit& u, const InputArrays& in, Communicator& comm) {
  DistArray a = compute_unit(u, in, comm);
  if (a.layout() == u.out) return a;
  return redistribute(a, u.out, comm);
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
    total += u.predicted_bytes();
    text += fmt::format("  #{} {}{} -> {} {} {}", i, u.label(), args.empty() ? "" : fmt::format("({})", fmt::join(args, ", ")),
                        tiling::to_string(u.node->shape), dtype_name(u.node->dtype), u.out.describe());
    if (!u.plan.strategy.empty()) text += fmt::format(" [{}]", u.plan.strategy);
    text += fmt::format(", predicted {} B", u.predicted_bytes());
    if (measured)
      text += fmt::format(", measured on this rank: sent {} B, received {} B", (*measured)[i].comm.bytes_sent,
                          (*measured)[i].comm.bytes_received);
    text += "\n";
  }
  return fmt::format("plan on {} ranks, {} steps, predicted {} B moved in all\n{}", P, s.units.size(), total, text);
}

}  // namespace

/// C++ scalars in the graph get their (replicated, 0-d) values now: they need no plan,
/// no step and no communication.
void materialize_scalars(Node* root, Communicator& comm) {
  for (Node* n : pending_order(root))
    if (n != root && n->op == Op::weak_scalar) {
      Plan p;
      p.layout = Layout::replicated({});
      n->result = std::make_shared<DistArray>(exec_source(*n, p, comm));
    }
}

void evaluate(const NodePtr& root) {
  if (root->result) return;
  Communicator& comm = context_comm();
  const int P = comm.size();
  const auto t0 = std::chrono::steady_clock::now();
  materialize_scalars(root.get(), comm);
  merge_common_subexpressions(root.get());
  Schedule s = schedule(root.get(), P);
  optimize(s, P);

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
    ns.layout = u.out.describe();
    ns.predicted_bytes = u.predicted_bytes();
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
  if (a.is_sparse()) {
    const CsrTile whole = gather_sparse_whole(a, comm);
    Buffer out(static_cast<std::size_t>(tiling::volume(a.shape())) * itemsize(a.dtype()));
    csr_to_dense(whole, a.dtype(), a.shape()[1], out.data());
    return out;
  }
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
  materialize_scalars(root.get(), comm);
  Schedule s = schedule(root.get(), comm.size());
  optimize(s, comm.size());
  return format_plan(s, nullptr, comm.size());
}

LayoutReport layout_report(const NodePtr& root) {
  LayoutReport r;
  if (root->result) return r;
  const int P = context_comm().size();
  const auto t0 = std::chrono::steady_clock::now();
  materialize_scalars(root.get(), context_comm());
  merge_common_subexpressions(root.get());
  auto s = std::make_shared<Schedule>(schedule(root.get(), P));
  const auto t1 = std::chrono::steady_clock::now();
  r.problem = layout_problem(*s, P);
  r.solution = tiling::solve_layouts(r.problem);
  const auto t2 = std::chrono::steady_clock::now();
  r.seconds = std::chrono::duration<double>(t2 - t0).count();
  r.solve_seconds = std::chrono::duration<double>(t2 - t1).count();
  // The problem's cost function refers to the schedule: keep it alive with the report.
  auto cost = r.problem.cost;
  r.problem.cost = [s, root, cost](int i, int c, const std::vector<int>& rc) { return cost(i, c, rc); };
  r.greedy = tiling::assignment_cost(r.problem, s->greedy);
  for (const Unit& u : s->units) r.steps.push_back(u.label());
  return r;
}

EvalStats last_stats() { return g_last; }

std::int64_t plan_cache_hits() { return g_plan_cache_hits; }

}  // namespace spartanxx::detail
