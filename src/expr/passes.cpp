// The passes a graph goes through before it is planned: C++ scalars get their values,
// common subexpressions are merged, and fusion groups the nodes into steps (regions,
// folded transposes, reductions of regions, the one-pass gradient, maps on a product),
// each with its registry entry.
#include "expr/passes.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "expr/boundary.hpp"
#include "expr/build.hpp"
#include "expr/kernels.hpp"
#include "mpi_backend/communicator.hpp"
#include "spartanxx/runtime.hpp"

namespace spartanxx::detail {

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


namespace {

/// Structural identity of a node: operation, parameters and (canonical) inputs. Leaves
/// holding data are identified by address; generated leaves by their parameters.
std::string structure_key(const Node& n, const std::unordered_map<const Node*, const Node*>& canonical) {
  std::string key = fmt::format("{}.{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}", static_cast<int>(n.op), static_cast<int>(n.fn), fmt::join(n.shape, ","),
                                static_cast<int>(n.dtype), n.value, n.value2, n.ivalue, static_cast<int>(n.scalar_kind),
                                n.seed, static_cast<int>(n.reduce_kind), n.axis, fmt::join(n.perm, ","));
  for (const auto& sl : n.slices) key += fmt::format("|{}:{}:{}", sl.start, sl.step, sl.length);
  if (n.result) key += fmt::format("|@{}", static_cast<const void*>(&n));
  if (n.source) key += fmt::format("|s{}", static_cast<const void*>(n.source.get()));
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

}  // namespace

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

void push_slices_into_sources(Node* root) {
  for (Node* n : pending_order(root)) {
    if (n->op != Op::slice || n->inputs.size() != 1) continue;
    const Node& in = *n->inputs[0];
    if (in.op != Op::source || in.result || !in.source) continue;
    std::shared_ptr<const LazySource> part = in.source->sliced(n->slices);
    if (!part) continue;
    // The slice becomes a source of its own; the whole source stays for its other readers.
    n->op = Op::source;
    n->source = std::move(part);
    n->slices.clear();
    n->inputs.clear();
  }
}

void materialize_scalars(Node* root, Communicator& comm) {
  for (Node* n : pending_order(root))
    if (n != root && n->op == Op::weak_scalar)
      n->result = std::make_shared<DistArray>(make_source(*n, Layout::replicated({}), comm));
}

// ---- fusion: regions ----

namespace {

/// The type an elementwise node computes in (bool arithmetic counts in int64).
DType compute_dtype(const Node& n) {
  switch (map_info(n.fn).compute) {
    case MapCompute::operands: {
      std::vector<const Node*> in;
      for (const auto& i : n.inputs) in.push_back(i.get());
      const DType t = result_type(in);
      // A C++ integer compared with int32 values compares exactly, in int64.
      bool weak_int = false;
      for (const Node* i : in) weak_int = weak_int || (i->op == Op::weak_scalar && i->scalar_kind == DType::i64);
      return t == DType::boolean || (t == DType::i32 && weak_int) ? DType::i64 : t;
    }
    case MapCompute::boolean: return DType::boolean;
    case MapCompute::cast: return n.dtype;
    case MapCompute::result: break;
  }
  return n.dtype == DType::boolean ? DType::i64 : n.dtype;
}

}  // namespace

std::string Region::label() const {
  if (members.size() == 1) return root->label();
  std::vector<std::string> ops;
  for (const Node* m : members) ops.push_back(m->label());
  return fmt::format("fused[{}]", fmt::join(ops, " "));
}

Region make_region(Node* root, const std::function<bool(const Node*)>& interior) {
  Region r;
  r.root = root;
  std::unordered_map<const Node*, int> instr, ext;
  // Post-order over interior inputs (iterative: regions can be very long chains), so
  // operands get their instruction before their users.
  auto emit = [&](Node* n) {
    FusedInstr ins{n->fn, compute_dtype(*n), n->dtype, {}};
    for (const auto& in : n->inputs) {
      if (interior(in.get())) {
        ins.args.push_back(instr.at(in.get()));
      } else {
        auto it = ext.find(in.get());
        if (it == ext.end()) {
          it = ext.emplace(in.get(), static_cast<int>(r.externals.size())).first;
          r.externals.push_back(in.get());
        }
        ins.args.push_back(-it->second - 1);
      }
    }
    instr[n] = static_cast<int>(r.program.size());
    r.program.push_back(std::move(ins));
    r.members.push_back(n);
  };
  std::vector<std::pair<Node*, std::size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (next < n->inputs.size()) {
      Node* in = n->inputs[next++].get();
      if (interior(in) && !instr.count(in)) {
        instr[in] = -1;  // being visited
        stack.emplace_back(in, 0);
      }
    } else {
      Node* done = n;
      stack.pop_back();
      emit(done);
    }
  }
  return r;
}

// ---- fusion: steps ----

namespace {

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
void drop_steps(Schedule& s, const std::unordered_set<std::size_t>& merged) {
  if (merged.empty()) return;
  std::vector<Step> kept;
  kept.reserve(s.steps.capacity());
  for (std::size_t i = 0; i < s.steps.size(); ++i)
    if (!merged.count(i)) kept.push_back(std::move(s.steps[i]));
  s.steps = std::move(kept);
}

std::unordered_map<const Node*, std::size_t> step_index(const Schedule& s) {
  std::unordered_map<const Node*, std::size_t> unit_of;
  for (std::size_t i = 0; i < s.steps.size(); ++i) unit_of[s.steps[i].node] = i;
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
  const auto unit_of = step_index(s);
  std::unordered_set<std::size_t> merged;
  for (Step& o : s.steps) {
    const Node& outer = *o.node;
    if (outer.op != Op::dot || !o.fold[0] || o.fold[1] || o.inputs.size() != 2) continue;
    const Node* X = o.inputs[0];
    if (!X->result || !gradient_applies(X->result->layout())) continue;
    if (X->sparse && X->dtype != DType::f64) continue;
    Node* rn = o.inputs[1];
    const auto r_it = unit_of.find(rn);
    if (r_it == unit_of.end() || merged.count(r_it->second) || !sole(rn, &outer)) continue;
    Step& ru = s.steps[r_it->second];
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
    const Step& zu = s.steps[z_it->second];
    if (zu.fold[0] || zu.fold[1]) continue;
    const DType t = z->dtype;
    if (!float_type(t) || X->dtype != t || z->inputs[1]->dtype != t || rn->dtype != t || outer.dtype != t) continue;
    o.gradient_z = z;
    o.region = std::move(ru.region);
    o.inputs = inputs_around(o.inputs[0], z->inputs[1].get(), *o.region, z);
    merged.insert(r_it->second);
    merged.insert(z_it->second);
  }
  drop_steps(s, merged);
}

/// region(dot(a, b), ...) where the dot feeds only the region and a is split by rows
/// only: one unit that maps each row block of the product as it is computed.
void fuse_dot_maps(Schedule& s, const ConsumersOf& consumers_of) {
  const auto unit_of = step_index(s);
  std::unordered_set<std::size_t> merged;
  for (Step& ru : s.steps) {
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
      const Step& zu = s.steps[z_it->second];
      if (zu.fold[0] || zu.fold[1] || zu.gradient_z) continue;
      z = e;
      merged.insert(z_it->second);
      break;
    }
    if (!z) continue;
    ru.map_dot = z;
    ru.inputs = inputs_around(z->inputs[0].get(), z->inputs[1].get(), *ru.region, z);
  }
  drop_steps(s, merged);
}

}  // namespace

/// The steps: fusion decides which nodes are computed inside others; each step gets its
/// registry entry.
Schedule form_steps(Node* root) {
  Schedule s;
  s.root = root;
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
  s.steps.reserve(order.size());
  for (Node* n : order) {
    if (interior(n) || folded(n) || absorbed(n)) continue;
    Step u;
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
    s.steps.push_back(std::move(u));
  }
  if (fuse) fuse_gradients(s, shared, consumer, consumers_of);
  if (fuse) fuse_dot_maps(s, consumers_of);
  for (Step& u : s.steps) u.impl = &find_step(step_key(u));
  return s;
}


std::string Step::label() const {
  if (gradient_z) return fmt::format("dot(transposed X, {} of dot(X, w)): one pass over X", region->label());
  if (map_dot) return fmt::format("{} of dot, block by block", region->label());
  if (region && node->op == Op::reduce) return fmt::format("{} of {}", node->label(), region->label());
  if (region) return region->label();
  if (fold[0] || fold[1]) return fmt::format("dot({}, {})", fold[0] ? "transposed" : "-", fold[1] ? "transposed" : "-");
  return node->label();
}

Schedule prepare(Node* root, Communicator& comm) {
  materialize_scalars(root, comm);
  push_slices_into_sources(root);
  merge_common_subexpressions(root);
  return form_steps(root);
}

}  // namespace spartanxx::detail
