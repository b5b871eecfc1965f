// The step registry: every kind of step, keyed by its operation and the storage of its
// inputs, with the functions that plan and run it (kernels.hpp).
#include <fmt/format.h>

#include <map>
#include <stdexcept>

#include "expr/kernels.hpp"

namespace spartanxx::detail {
namespace {

using S = Storage;
using O = StepOp;

const StepImpl kSteps[] = {
    // key, direct (made in any layout), uses the target, options, run, natural layout
    {{O::source, {}}, true, true, source_options, source_run, source_natural},
    {{O::read, {}}, true, true, read_options, read_run, source_natural},
    {{O::map, {S::dense}}, true, true, region_options, region_run, region_natural},
    {{O::map, {S::sparse}}, false, false, sparse_map_options, sparse_map_run, nullptr},
    {{O::reduce, {S::dense}}, false, true, reduce_options, reduce_run, nullptr},
    {{O::reduce, {S::sparse}}, false, true, sparse_reduce_options, sparse_reduce_run, nullptr},
    // Dense products: folded (transposed) operands are read in place by the same kernel.
    {{O::dot, {S::dense, S::dense}}, false, false, dot_options, dot_run, nullptr},
    {{O::dot, {S::dense_t, S::dense}}, false, false, dot_options, dot_run, nullptr},
    {{O::dot, {S::dense, S::dense_t}}, false, false, dot_options, dot_run, nullptr},
    {{O::dot, {S::dense_t, S::dense_t}}, false, false, dot_options, dot_run, nullptr},
    {{O::dot, {S::sparse, S::dense}}, false, false, sparse_dense_options, sparse_dense_run, nullptr},
    {{O::dot, {S::sparse_t, S::dense}}, false, false, sparse_t_dense_options, sparse_t_dense_run, nullptr},
    {{O::dot, {S::dense, S::sparse}}, false, false, dense_sparse_options, dense_sparse_run, nullptr},
    {{O::dot, {S::dense, S::sparse_t}}, false, false, dense_sparse_t_options, dense_sparse_t_run, nullptr},
    {{O::dot, {S::sparse, S::sparse}}, false, false, sparse_sparse_options, sparse_sparse_run, nullptr},
    {{O::dot, {S::sparse_t, S::sparse}}, false, false, sparse_sparse_whole_options, sparse_sparse_whole_run, nullptr},
    {{O::dot, {S::sparse, S::sparse_t}}, false, false, sparse_sparse_whole_options, sparse_sparse_whole_run, nullptr},
    {{O::dot, {S::sparse_t, S::sparse_t}}, false, false, sparse_sparse_whole_options, sparse_sparse_whole_run, nullptr},
    // Fused products (X or a, then w or b).
    {{O::gradient, {S::dense, S::dense}}, false, false, gradient_options, gradient_run, nullptr},
    {{O::gradient, {S::sparse, S::dense}}, false, false, sparse_gradient_options, sparse_gradient_run, nullptr},
    {{O::dot_map, {S::dense, S::dense}}, false, false, dot_map_options, dot_map_run, nullptr},
    {{O::dot_map, {S::sparse, S::dense}}, false, false, sparse_dot_map_options, sparse_dot_map_run, nullptr},
    {{O::transpose, {S::dense}}, false, false, transpose_options, transpose_run, nullptr},
    {{O::transpose, {S::sparse}}, false, false, sparse_transpose_options, sparse_transpose_run, nullptr},
    {{O::slice, {S::dense}}, false, false, slice_options, slice_run, nullptr},
    {{O::slice, {S::sparse}}, false, false, sparse_slice_options, sparse_slice_run, nullptr},
    {{O::reshape, {S::dense}}, false, false, reshape_options, reshape_run, nullptr},
    {{O::todense, {S::sparse}}, false, false, todense_options, todense_run, nullptr},
    {{O::to_sparse, {S::dense}}, false, false, to_sparse_options, to_sparse_run, nullptr},
};

Storage storage_of(const Node* x, bool folded) {
  if (x->sparse) return folded ? S::sparse_t : S::sparse;
  return folded ? S::dense_t : S::dense;
}

const char* op_text(StepOp op) {
  switch (op) {
    case O::source: return "source";
    case O::read: return "read";
    case O::map: return "map";
    case O::reduce: return "reduce";
    case O::dot: return "dot";
    case O::gradient: return "gradient";
    case O::dot_map: return "dot_map";
    case O::transpose: return "transpose";
    case O::slice: return "slice";
    case O::reshape: return "reshape";
    case O::todense: return "todense";
    case O::to_sparse: return "to_sparse";
  }
  return "?";
}

const char* storage_text(Storage s) {
  switch (s) {
    case S::dense: return "dense";
    case S::sparse: return "sparse";
    case S::dense_t: return "dense transposed";
    case S::sparse_t: return "sparse transposed";
  }
  return "?";
}

}  // namespace

StepKey step_key(const Step& s) {
  const Node& n = *s.node;
  if (s.gradient_z) return {O::gradient, {storage_of(s.inputs[0], false), storage_of(s.inputs[1], false)}};
  if (s.map_dot) return {O::dot_map, {storage_of(s.inputs[0], false), storage_of(s.inputs[1], false)}};
  if (s.region) {
    // A region over a sparse operand is sparse itself (the builders see to it).
    bool sparse = s.region->root->sparse;
    for (const Node* e : s.region->externals) sparse = sparse || e->sparse;
    return {n.op == Op::reduce ? O::reduce : O::map, {sparse ? S::sparse : S::dense}};
  }
  switch (n.op) {
    case Op::reduce: return {O::reduce, {storage_of(s.inputs[0], false)}};
    case Op::dot: return {O::dot, {storage_of(s.inputs[0], s.fold[0]), storage_of(s.inputs[1], s.fold[1])}};
    case Op::transpose: return {O::transpose, {storage_of(s.inputs[0], false)}};
    case Op::slice: return {O::slice, {storage_of(s.inputs[0], false)}};
    case Op::reshape: return {O::reshape, {storage_of(s.inputs[0], false)}};
    case Op::todense: return {O::todense, {storage_of(s.inputs[0], false)}};
    case Op::to_sparse: return {O::to_sparse, {storage_of(s.inputs[0], false)}};
    case Op::source: return {O::read, {}};
    default: return {O::source, {}};
  }
}

const StepImpl& find_step(const StepKey& key) {
  static const std::map<StepKey, const StepImpl*> registry = [] {
    std::map<StepKey, const StepImpl*> m;
    for (const StepImpl& s : kSteps)
      if (!m.emplace(s.key, &s).second) throw std::logic_error("step registry: a key is listed twice");
    return m;
  }();
  const auto it = registry.find(key);
  if (it == registry.end()) {
    std::vector<std::string> in;
    for (Storage s : key.inputs) in.push_back(storage_text(s));
    throw std::logic_error(fmt::format("step registry: no step {} of ({})", op_text(key.op), fmt::join(in, ", ")));
  }
  return *it->second;
}

}  // namespace spartanxx::detail
