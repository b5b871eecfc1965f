#include "tiling/optimizer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <unordered_map>

namespace spartanxx::tiling {
namespace {

/// Hash of a frontier combination (a short vector of small integers).
struct KeyHash {
  std::size_t operator()(const std::vector<int>& v) const {
    std::size_t h = 1469598103934665603ull;
    for (int x : v) h = (h ^ static_cast<std::size_t>(x + 1)) * 1099511628211ull;
    return h;
  }
};

struct Layer {
  std::vector<int> live;           // steps whose choices the states record, ascending
  std::vector<std::vector<int>> states;
  std::vector<Cost> cost;
  std::vector<int> parent;         // index into the previous layer
  std::vector<int> choice;         // this step's choice
};

void validate(const LayoutProblem& p) {
  const std::size_t n = p.choices.size();
  if (p.reads.size() != n) throw std::invalid_argument("solve_layouts: choices and reads differ in length");
  if (!p.cost) throw std::invalid_argument("solve_layouts: no cost function");
  for (std::size_t s = 0; s < n; ++s) {
    if (p.choices[s] < 1) throw std::invalid_argument(fmt::format("solve_layouts: step {} has no candidate", s));
    for (int r : p.reads[s])
      if (r < 0 || static_cast<std::size_t>(r) >= s)
        throw std::invalid_argument(fmt::format("solve_layouts: step {} reads step {}, not an earlier one", s, r));
  }
}

}  // namespace

Cost assignment_cost(const LayoutProblem& p, const std::vector<int>& choice) {
  Cost total;
  std::vector<int> rc;
  for (std::size_t s = 0; s < p.choices.size(); ++s) {
    rc.clear();
    for (int r : p.reads[s]) rc.push_back(choice[r]);
    total = total + p.cost(static_cast<int>(s), choice[s], rc);
  }
  return total;
}

LayoutSolution solve_layouts(const LayoutProblem& p, std::size_t max_states) {
  validate(p);
  if (max_states < 1) throw std::invalid_argument("solve_layouts: max_states must be at least 1");
  const int n = static_cast<int>(p.choices.size());
  LayoutSolution sol;
  if (n == 0) return sol;
  std::vector<int> last_read(n, -1);
  for (int s = 0; s < n; ++s)
    for (int r : p.reads[s]) last_read[r] = std::max(last_read[r], s);

  // Memoized step costs, keyed by (choice, read choices) in mixed radix.
  std::vector<std::unordered_map<std::uint64_t, Cost>> memo(n);
  std::vector<bool> memo_ok(n, true);
  for (int s = 0; s < n; ++s) {
    unsigned __int128 range = static_cast<unsigned __int128>(p.choices[s]);
    for (int r : p.reads[s]) {
      range *= static_cast<unsigned __int128>(p.choices[r]);
      if (range > std::numeric_limits<std::uint64_t>::max()) memo_ok[s] = false;
    }
  }
  std::vector<int> rc;
  auto step_cost = [&](int s, int c, const std::vector<int>& read_choices) {
    if (!memo_ok[s]) {
      ++sol.cost_calls;
      return p.cost(s, c, read_choices);
    }
    std::uint64_t key = static_cast<std::uint64_t>(c);
    for (std::size_t i = 0; i < read_choices.size(); ++i)
      key = key * static_cast<std::uint64_t>(p.choices[p.reads[s][i]]) + static_cast<std::uint64_t>(read_choices[i]);
    auto it = memo[s].find(key);
    if (it != memo[s].end()) return it->second;
    ++sol.cost_calls;
    const Cost v = p.cost(s, c, read_choices);
    memo[s].emplace(key, v);
    return v;
  };

  std::vector<Layer> layers(n);
  Layer start;
  start.states.emplace_back();
  start.cost.push_back(Cost{});
  const Layer* prev = &start;
  for (int s = 0; s < n; ++s) {
    Layer& L = layers[s];
    // Live after s: earlier live steps still read later, and s itself if read later.
    for (int j : prev->live)
      if (last_read[j] > s) L.live.push_back(j);
    if (last_read[s] > s) L.live.push_back(s);
    // Where each read step and each kept step sits in the previous layer's states.
    std::vector<int> read_pos;
    for (int r : p.reads[s]) {
      const auto it = std::find(prev->live.begin(), prev->live.end(), r);
      read_pos.push_back(static_cast<int>(it - prev->live.begin()));
    }
    std::vector<int> keep_pos;  // for each entry of L.live: position in prev (or -1 for s)
    for (int j : L.live) {
      const auto it = std::find(prev->live.begin(), prev->live.end(), j);
      keep_pos.push_back(it == prev->live.end() ? -1 : static_cast<int>(it - prev->live.begin()));
    }
    std::unordered_map<std::vector<int>, int, KeyHash> index;
    std::vector<int> key(L.live.size());
    for (std::size_t i = 0; i < prev->states.size(); ++i) {
      const std::vector<int>& st = prev->states[i];
      rc.assign(read_pos.size(), 0);
      for (std::size_t k = 0; k < read_pos.size(); ++k) rc[k] = st[read_pos[k]];
      for (int c = 0; c < p.choices[s]; ++c) {
        const Cost total = prev->cost[i] + step_cost(s, c, rc);
        for (std::size_t k = 0; k < keep_pos.size(); ++k) key[k] = keep_pos[k] < 0 ? c : st[keep_pos[k]];
        auto [it, fresh] = index.emplace(key, static_cast<int>(L.states.size()));
        if (fresh) {
          L.states.push_back(key);
          L.cost.push_back(total);
          L.parent.push_back(static_cast<int>(i));
          L.choice.push_back(c);
        } else if (total < L.cost[it->second]) {
          L.cost[it->second] = total;
          L.parent[it->second] = static_cast<int>(i);
          L.choice[it->second] = c;
        }
      }
    }
    if (L.states.size() > max_states) {
      // Beam: keep the cheapest combinations.
      sol.exact = false;
      std::vector<int> order(L.states.size());
      std::iota(order.begin(), order.end(), 0);
      std::nth_element(order.begin(), order.begin() + static_cast<long>(max_states), order.end(),
                       [&](int a, int b) { return L.cost[a] < L.cost[b]; });
      order.resize(max_states);
      Layer kept;
      kept.live = L.live;
      for (int o : order) {
        kept.states.push_back(std::move(L.states[o]));
        kept.cost.push_back(L.cost[o]);
        kept.parent.push_back(L.parent[o]);
        kept.choice.push_back(L.choice[o]);
      }
      L = std::move(kept);
    }
    prev = &L;
  }
  // Every step is read only by later ones, so the last layer's frontier is empty.
  const Layer& last = layers[n - 1];
  int best = 0;
  for (int i = 1; i < static_cast<int>(last.cost.size()); ++i)
    if (last.cost[i] < last.cost[best]) best = i;
  sol.total = last.cost[best];
  sol.choice.assign(n, 0);
  for (int s = n - 1, at = best; s >= 0; --s) {
    sol.choice[s] = layers[s].choice[at];
    at = layers[s].parent[at];
  }
  return sol;
}

}  // namespace spartanxx::tiling
