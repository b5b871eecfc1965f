#include "expr/planner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <unordered_map>

#include "expr/context.hpp"
#include "expr/registry.hpp"
#include "mpi_backend/communicator.hpp"
#include "spartanxx/runtime.hpp"

namespace spartanxx::detail {
namespace {

std::size_t result_itemsize(const Node& n) { return itemsize(n.op == Op::weak_scalar ? n.scalar_kind : n.dtype); }

/// The layout problem of a schedule: per step, its candidate layouts (the optimizer
/// picks one) and the steps it reads.
struct Problem {
  const Schedule* schedule = nullptr;
  Machine machine;
  std::vector<std::vector<Layout>> candidates;
  std::vector<std::vector<int>> reads;       // step indices of inputs computed in this plan
  std::vector<int> greedy;                   // candidate index of the greedy plan, per step
  std::string key;                           // structure of the graph, for the plan cache
  // Steps that cost the same for the same layouts (the iterations of an unrolled loop)
  // share a signature; layouts are numbered, equal layouts alike.
  std::vector<int> signature;                // per step
  std::vector<std::vector<int>> candidate_ids;  // per step, per candidate
  std::unordered_map<const Layout*, int> fixed_ids;  // layouts of data already computed
};

/// What a step's cost depends on besides layouts.
std::string step_signature(const Step& u) {
  const Node& n = *u.node;
  std::string sig = fmt::format("{}|{}|{}|{}|{}|{}{}|{}{}|{}", u.label(), fmt::join(n.shape, ","), static_cast<int>(n.dtype),
                                n.axis, static_cast<int>(n.reduce_kind), u.fold[0] ? 1 : 0, u.fold[1] ? 1 : 0,
                                u.gradient_z ? fmt::format("{}", fmt::join(u.gradient_z->shape, ",")) : "",
                                u.map_dot ? fmt::format("{}", fmt::join(u.map_dot->shape, ",")) : "",
                                static_cast<const void*>(u.impl));
  for (const Node* x : u.inputs) sig += fmt::format("|{}:{}", fmt::join(x->shape, ","), static_cast<int>(x->dtype));
  if (u.region)
    for (const Node* e : u.region->externals) sig += fmt::format("|e{}:{}", fmt::join(e->shape, ","), static_cast<int>(e->dtype));
  for (const auto& sl : n.slices) sig += fmt::format("|{}:{}:{}", sl.start, sl.step, sl.length);
  sig += fmt::format("|{}", fmt::join(n.perm, ","));
  return sig;
}

/// Numbers the problem's layouts (equal layouts get equal numbers) and its steps'
/// signatures.
void number_layouts(Problem& s) {
  const auto& steps = s.schedule->steps;
  std::vector<const Layout*> seen;
  auto id_of = [&](const Layout& l) {
    for (std::size_t i = 0; i < seen.size(); ++i)
      if (*seen[i] == l) return static_cast<int>(i);
    seen.push_back(&l);
    return static_cast<int>(seen.size()) - 1;
  };
  std::unordered_map<std::string, int> sigs;
  s.candidate_ids.resize(steps.size());
  s.signature.resize(steps.size());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    for (const Layout& l : s.candidates[i]) s.candidate_ids[i].push_back(id_of(l));
    for (const Node* x : steps[i].inputs)
      if (x->result) s.fixed_ids.emplace(&x->result->layout(), id_of(x->result->layout()));
    s.signature[i] = sigs.emplace(step_signature(steps[i]), static_cast<int>(sigs.size())).first->second;
  }
}

std::vector<Plan> options_of(const Step& u, const InputLayouts& in, const Layout* target, const Machine& m) {
  return u.impl->options(u, in, target, m);
}

/// The cheapest way to compute step `u` into `out`: its plan, the bytes of moving the
/// plan's layout into `out`, and the total.
struct Best {
  Plan plan;
  std::int64_t convert = 0;
  tiling::Cost cost;
};
/// The cost of a layout a step cannot produce (far above any real plan, and safe to add).
constexpr std::int64_t kImpossible = std::int64_t{1} << 52;

Best pick(const Step& u, const std::vector<Plan>& options, const Layout& out, int P, bool keep_plan = true) {
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

/// Candidate layouts of a step: the usual cuts of its shape, the layouts of data the
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
    if (rows_only && f->shape()[0] == S[0] && f->tiles_along(0) > 1) add(tiling::rows_like(*f, S));
  }
  return c;
}

/// A key of everything planning depends on: operations, shapes, dtypes, parameters that
/// change layouts (not scalar values or seeds), which nodes are held, the layouts of data
/// already computed, the machine and the options.
std::string structure_of(Node* root, const std::unordered_set<const Node*>& held, const Machine& m) {
  const std::vector<Node*> order = pending_order(root);
  std::unordered_map<const Node*, int> index;
  std::string key = fmt::format("P{}n{}f{}", m.ranks, m.one_node ? 1 : 0, options().fusion ? 1 : 0);
  int fixed = 0;
  std::unordered_map<const Node*, int> fixed_index;
  for (Node* n : order) {
    index[n] = static_cast<int>(index.size());
    key += fmt::format(";{}.{}:{}:{}:{}:{}:{}:{}", static_cast<int>(n->op), static_cast<int>(n->fn), fmt::join(n->shape, ","),
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

/// The candidates, the steps each reads and the greedy plan (each step where its
/// inputs' layouts suggest, as one would lay it out without the optimizer).
Problem make_problem(const Schedule& sch, Node* root, const Machine& m) {
  const int P = m.ranks;
  Problem s;
  s.schedule = &sch;
  s.machine = m;
  const std::size_t N = sch.steps.size();
  std::unordered_map<const Node*, int> step_of;
  std::vector<const Layout*> fixed;
  for (std::size_t i = 0; i < N; ++i) step_of[sch.steps[i].node] = static_cast<int>(i);
  s.reads.resize(N);
  for (std::size_t i = 0; i < N; ++i)
    for (const Node* in : sch.steps[i].inputs) {
      if (in->result) {
        if (std::find(fixed.begin(), fixed.end(), &in->result->layout()) == fixed.end()) fixed.push_back(&in->result->layout());
      } else if (std::find(s.reads[i].begin(), s.reads[i].end(), step_of.at(in)) == s.reads[i].end()) {
        s.reads[i].push_back(step_of.at(in));
      }
    }
  s.candidates.resize(N);
  s.greedy.resize(N);
  std::vector<Layout> greedy_out(N);
  for (std::size_t i = 0; i < N; ++i) {
    const Step& u = sch.steps[i];
    InputLayouts in;
    for (const Node* x : u.inputs) in.push_back(x->result ? &x->result->layout() : &greedy_out[step_of.at(x)]);
    Layout g;
    if (u.impl->direct) {
      g = u.impl->natural(u, in, m);
    } else {
      const std::vector<Plan> opts = options_of(u, in, nullptr, m);
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
      const Step& u = sch.steps[i];
      const Node& n = *u.node;
      const bool makes_partial = n.dtype != DType::boolean && !u.map_dot && !n.sparse &&
                                 (n.op == Op::dot || u.gradient_z || (n.op == Op::reduce && n.reduce_kind == ReduceKind::sum));
      if (!makes_partial || sch.held.count(u.node) || readers[i].empty()) continue;
      bool all_sum = true;
      for (int r : readers[i]) {
        const Step& c = sch.steps[r];
        all_sum = all_sum && c.node->op == Op::reduce && c.node->reduce_kind == ReduceKind::sum && !c.region &&
                  c.node->dtype != DType::boolean && c.inputs.size() == 1;
      }
      if (all_sum) s.candidates[i].push_back(Layout::partial(n.shape));
    }
  }
  s.key = structure_of(root, sch.held, m);
  number_layouts(s);
  return s;
}

/// The layout problem for the optimizer. The cost function reads `s` (and its schedule),
/// which must outlive it.
tiling::LayoutProblem layout_problem(const Problem& s) {
  const Machine m = s.machine;
  const int P = m.ranks;
  tiling::LayoutProblem prob;
  const auto& steps = s.schedule->steps;
  const std::size_t N = steps.size();
  for (std::size_t i = 0; i < N; ++i) prob.choices.push_back(static_cast<int>(s.candidates[i].size()));
  prob.reads = s.reads;
  // Costs are remembered by (signature, layouts): the iterations of an unrolled loop are
  // priced once. Options that do not depend on the target, once per input layouts.
  auto costs = std::make_shared<std::map<std::vector<int>, tiling::Cost>>();
  auto options = std::make_shared<std::map<std::vector<int>, std::vector<Plan>>>();
  prob.cost = [&s, &steps, m, P, costs, options](int i, int c, const std::vector<int>& rc) {
    const Step& u = steps[i];
    InputLayouts in;
    std::vector<int> key{s.signature[i], s.candidate_ids[i][c]};
    for (const Node* x : u.inputs) {
      if (x->result) {
        in.push_back(&x->result->layout());
        key.push_back(s.fixed_ids.at(&x->result->layout()));
        continue;
      }
      // The position of x among the step's reads gives its candidate.
      const auto& reads = s.reads[i];
      for (std::size_t k = 0; k < reads.size(); ++k)
        if (steps[reads[k]].node == x) {
          in.push_back(&s.candidates[reads[k]][rc[k]]);
          key.push_back(s.candidate_ids[reads[k]][rc[k]]);
        }
    }
    auto [hit, fresh] = costs->try_emplace(key);
    if (!fresh) return hit->second;
    const Layout& out = s.candidates[i][c];
    if (u.impl->uses_target) return hit->second = pick(u, options_of(u, in, &out, m), out, P, /*keep_plan=*/false).cost;
    std::vector<int> okey(key);
    okey.erase(okey.begin() + 1);  // the options do not depend on the target
    auto [it, new_options] = options->try_emplace(okey);
    if (new_options) it->second = options_of(u, in, nullptr, m);
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

}  // namespace

Machine machine_of(const backend::Communicator& comm) { return Machine{comm.size(), comm.shares_node()}; }

ExecutionPlan plan_schedule(const Schedule& sch, const Machine& m) {
  const int P = m.ranks;
  ExecutionPlan plan;
  plan.machine = m;
  if (sch.steps.empty()) return plan;
  const Problem s = make_problem(sch, sch.root, m);
  auto& cache = plan_cache();
  std::vector<int> choice;
  auto hit = cache.find(s.key);
  bool fits = hit != cache.end() && hit->second.size() == sch.steps.size();
  for (std::size_t i = 0; fits && i < sch.steps.size(); ++i)
    fits = hit->second[i] >= 0 && static_cast<std::size_t>(hit->second[i]) < s.candidates[i].size();
  if (fits) {
    choice = hit->second;
    plan.recalled = true;
    ++g_plan_cache_hits;
  } else {
    const tiling::LayoutProblem prob = layout_problem(s);
    choice = tiling::solve_layouts(prob).choice;
    if (cache.size() >= 512) cache.clear();
    cache[s.key] = choice;
  }
  std::unordered_map<const Node*, const Layout*> out_of;
  plan.steps.resize(sch.steps.size());
  for (std::size_t i = 0; i < sch.steps.size(); ++i) {
    const Step& u = sch.steps[i];
    StepPlan& sp = plan.steps[i];
    InputLayouts in;
    for (const Node* x : u.inputs) in.push_back(x->result ? &x->result->layout() : out_of.at(x));
    sp.out = s.candidates[i][choice[i]];
    Best b = pick(u, options_of(u, in, &sp.out, m), sp.out, P);
    sp.plan = std::move(b.plan);
    sp.convert_bytes = b.convert;
    if (!(sp.plan.layout == sp.out)) {
      if (sp.plan.layout.is_partial())
        sp.convert = tiling::resolve_by_scatter(tiling::needs_of(sp.out, P)) ? Conversion::reduce_scatter : Conversion::allreduce;
      else
        sp.convert = Conversion::redistribute;
    }
    out_of[u.node] = &sp.out;
  }
  return plan;
}

LayoutReport layout_report(const NodePtr& root) {
  LayoutReport r;
  if (root->result) return r;
  Communicator& comm = context_comm();
  const Machine m = machine_of(comm);
  const auto t0 = std::chrono::steady_clock::now();
  auto sch = std::make_shared<Schedule>(prepare(root.get(), comm));
  auto s = std::make_shared<Problem>(make_problem(*sch, root.get(), m));
  const auto t1 = std::chrono::steady_clock::now();
  r.problem = layout_problem(*s);
  r.solution = tiling::solve_layouts(r.problem);
  const auto t2 = std::chrono::steady_clock::now();
  r.seconds = std::chrono::duration<double>(t2 - t0).count();
  r.solve_seconds = std::chrono::duration<double>(t2 - t1).count();
  // The problem's cost function refers to the schedule: keep it alive with the report.
  auto cost = r.problem.cost;
  r.problem.cost = [sch, s, root, cost](int i, int c, const std::vector<int>& rc) { return cost(i, c, rc); };
  r.greedy = tiling::assignment_cost(r.problem, s->greedy);
  for (const Step& u : sch->steps) r.steps.push_back(u.label());
  return r;
}

std::int64_t plan_cache_hits() { return g_plan_cache_hits; }

}  // namespace spartanxx::detail
