#include "expr/node.hpp"

#include <fmt/format.h>

#include "expr/boundary.hpp"

namespace spartanxx::detail {

bool is_elementwise(Op op) { return op == Op::map; }

const char* op_name(Op op) {
  switch (op) {
    case Op::materialized: return "data";
    case Op::constant: return "full";
    case Op::weak_scalar: return "scalar";
    case Op::arange: return "arange";
    case Op::eye: return "eye";
    case Op::uniform: return "random.uniform";
    case Op::normal: return "random.normal";
    case Op::source: return "read";
    case Op::map: return "map";
    case Op::reduce: return "reduce";
    case Op::dot: return "dot";
    case Op::transpose: return "transpose";
    case Op::slice: return "slice";
    case Op::reshape: return "reshape";
    case Op::todense: return "todense";
    case Op::to_sparse: return "to_sparse";
  }
  return "?";
}

const char* reduce_name(ReduceKind k) {
  switch (k) {
    case ReduceKind::sum: return "sum";
    case ReduceKind::min: return "min";
    case ReduceKind::max: return "max";
    case ReduceKind::argmin: return "argmin";
    case ReduceKind::argmax: return "argmax";
  }
  return "?";
}

std::string Node::label() const {
  switch (op) {
    case Op::reduce:
      return axis < 0 ? fmt::format("{}", reduce_name(reduce_kind)) : fmt::format("{}(axis={})", reduce_name(reduce_kind), axis);
    case Op::map: return fn == MapOp::identity ? fmt::format("astype({})", dtype_name(dtype)) : map_info(fn).name;
    case Op::weak_scalar:
      return scalar_kind == DType::f64 ? fmt::format("scalar({})", value) : fmt::format("scalar({})", ivalue);
    case Op::constant: return fmt::format("full({})", value);
    case Op::source: return source->label();
    case Op::transpose: return fmt::format("transpose({})", fmt::join(perm, ","));
    case Op::slice: {
      std::vector<std::string> parts;
      for (const auto& s : slices) parts.push_back(fmt::format("{}::{}x{}", s.start, s.step, s.length));
      return fmt::format("slice[{}]", fmt::join(parts, ", "));
    }
    default: return op_name(op);
  }
}

Node::~Node() {
  std::vector<NodePtr> pending = std::move(inputs);
  while (!pending.empty()) {
    NodePtr n = std::move(pending.back());
    pending.pop_back();
    if (n.use_count() == 1) {
      // Last owner: take its inputs before it goes, so its destructor has none to recurse into.
      for (auto& i : n->inputs) pending.push_back(std::move(i));
      n->inputs.clear();
    }
  }
}

NodePtr make_node(Op op, Shape shape, DType dtype, std::vector<NodePtr> inputs) {
  auto n = std::make_shared<Node>();
  n->op = op;
  n->shape = std::move(shape);
  n->dtype = dtype;
  n->inputs = std::move(inputs);
  return n;
}

}  // namespace spartanxx::detail
