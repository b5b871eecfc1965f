#pragma once
// The passes between building a graph and planning it (README.md draws the pipeline).
// Each takes the graph reachable from a root, without cached results:
//   materialize_scalars          C++ scalars get their (replicated, 0-d) values;
//   push_slices_into_sources     a slice of a lazy source that can read a slice alone
//                                becomes that smaller source (a row range of a file
//                                dataset reads only those rows);
//   merge_common_subexpressions  structurally equal nodes become one;
//   form_steps                   fusion groups the nodes into steps (step.hpp), each
//                                with its registry entry.
// evaluate(), explain() and the layout report run the same pipeline, prepare().
#include <unordered_set>
#include <vector>

#include "expr/step.hpp"

namespace spartanxx::backend {
class Communicator;
}

namespace spartanxx::detail {

/// The steps of a graph, inputs before consumers, and the pending nodes that a user
/// handle (or another graph) also holds: their results are kept.
struct Schedule {
  Node* root = nullptr;
  std::vector<Step> steps;
  std::unordered_set<const Node*> held;
};

/// Nodes without cached results reachable from root, inputs before consumers.
std::vector<Node*> pending_order(Node* root);

void materialize_scalars(Node* root, backend::Communicator& comm);
void push_slices_into_sources(Node* root);
/// A pending node with the same structure as an earlier one is replaced, in its
/// consumers, by that one, so each value is computed once.
void merge_common_subexpressions(Node* root);
Schedule form_steps(Node* root);

/// All passes, in order.
Schedule prepare(Node* root, backend::Communicator& comm);

}  // namespace spartanxx::detail
