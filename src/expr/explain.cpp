#include "expr/explain.hpp"

#include <fmt/format.h>

#include <unordered_map>

#include "expr/build.hpp"
#include "expr/executor.hpp"

namespace spartanxx::detail {

const char* describe(Exchange e) {
  switch (e) {
    case Exchange::gather: return "";
    case Exchange::node_shared: return "exchanged through node-shared memory";
    case Exchange::posted: return "partial sums posted as messages while computing";
  }
  return "?";
}

const char* describe(CacheUse c) {
  switch (c) {
    case CacheUse::none: return "";
    case CacheUse::column_groups: return "column groups of the sparse tiles, kept from their second use";
  }
  return "?";
}

std::string format_plan(const Schedule& s, const ExecutionPlan& plan, const std::vector<NodeStats>* measured) {
  std::unordered_map<const Node*, int> ids;
  std::string text;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    const Step& u = s.steps[i];
    const StepPlan& sp = plan.steps[i];
    ids[u.node] = static_cast<int>(i);
    std::vector<std::string> args;
    for (const Node* in : u.inputs)
      args.push_back(ids.count(in) ? fmt::format("#{}", ids.at(in)) : fmt::format("cached {}", tiling::to_string(in->shape)));
    total += sp.predicted_bytes();
    text += fmt::format("  #{} {}{} -> {} {} {}", i, u.label(), args.empty() ? "" : fmt::format("({})", fmt::join(args, ", ")),
                        tiling::to_string(u.node->shape), dtype_name(u.node->dtype), sp.out.describe());
    std::vector<std::string> how;
    if (!sp.plan.strategy.empty()) how.push_back(sp.plan.strategy);
    if (sp.plan.exchange != Exchange::gather) how.push_back(describe(sp.plan.exchange));
    if (sp.plan.cache != CacheUse::none) how.push_back(describe(sp.plan.cache));
    switch (sp.convert) {
      case Conversion::none: break;
      case Conversion::redistribute: how.push_back("redistribute from " + sp.plan.layout.describe()); break;
      case Conversion::reduce_scatter: how.push_back("reduce-scatter"); break;
      case Conversion::allreduce: how.push_back("allreduce"); break;
    }
    if (!how.empty()) text += fmt::format(" [{}]", fmt::join(how, "; "));
    text += fmt::format(", predicted {} B", sp.predicted_bytes());
    if (measured)
      text += fmt::format(", measured on this rank: sent {} B, received {} B", (*measured)[i].comm.bytes_sent,
                          (*measured)[i].comm.bytes_received);
    text += "\n";
  }
  return fmt::format("plan on {} ranks{}, {} steps, predicted {} B moved in all\n{}", plan.machine.ranks,
                     plan.machine.one_node && plan.machine.ranks > 1 ? " (one node)" : "", s.steps.size(), total, text);
}

}  // namespace spartanxx::detail

namespace spartanxx {

std::string explain(const Array& a) { return detail::explain_plan(detail::node_of(a, "explain")); }

}  // namespace spartanxx
