#include "expr/boundary.hpp"

#include "array/sparse.hpp"
#include "expr/build.hpp"
#include "expr/executor.hpp"

namespace spartanxx::detail {

Array leaf(DistArray data) {
  auto n = make_node(Op::materialized, data.shape(), data.dtype());
  if (data.is_sparse()) {
    n->sparse = true;
    n->pattern = new_pattern_id();
    n->nnz_estimate = data.nnz();
  }
  n->result = std::make_shared<DistArray>(std::move(data));
  return array_of(std::move(n));
}

Array sparse_leaf(const Shape& shape, Triplets triplets, DType dtype) {
  return leaf(sparse_from_triplets_local(shape, dtype, std::move(triplets), context_comm()));
}

Array lazy_leaf(const Shape& shape, DType dtype, std::shared_ptr<const LazySource> source) {
  auto n = make_node(Op::source, shape, dtype);
  n->source = std::move(source);
  return array_of(std::move(n));
}

const DistArray& data_of(const Array& a) {
  const NodePtr& n = node_of(a, "data_of");
  evaluate(n);
  return *n->result;
}

}  // namespace spartanxx::detail
