#pragma once
// The plan of one step: the contract between the planner and the executor. It carries
// everything the run needs and everything explain() shows: the strategy, the layout the
// result is computed in, the boxes each rank needs of each input, how they travel, and
// whether a cache is used. Planning needs only shapes, layouts and the machine, so every
// rank makes the same plan without communicating; running a plan recomputes none of it.
#include <cstdint>
#include <string>
#include <vector>

#include "array/dist_array.hpp"

namespace spartanxx::detail {

/// What planning knows of the machine (the same on every rank).
struct Machine {
  int ranks = 1;
  /// Every rank runs on one node and may exchange through node-shared memory
  /// (SPARTANXX_NODE_SHARED=0 turns that off).
  bool one_node = false;
};

/// How the data a step needs beyond its own tiles reaches it.
enum class Exchange : std::uint8_t {
  gather,       // the boxes in Plan::needs, as messages (one all-to-all-v per input)
  node_shared,  // through memory the ranks of the node share, read in place (messages
                // when it cannot be allocated)
  posted,       // partial sums posted as messages while the rank computes its own part
};

/// A per-process cache the step reads.
enum class CacheUse : std::uint8_t {
  none,
  column_groups,  // a sparse tile's entries grouped by column range, kept from its second
                  // sparseᵀ·vector product on (array/sparse.hpp, column_split)
};

struct Plan {
  Layout layout;                     // of the step's result (may be partial sums)
  /// The layout the step works in where it differs from `layout`: a product's result as
  /// a matrix, the rows of a product computed block by block, the layout a region is
  /// evaluated in before it is reduced, the row blocks a reshape passes through.
  Layout inner;
  /// Per input of the step (in Step::inputs order), the boxes each rank needs of it;
  /// empty when the step reads only the tiles it holds.
  std::vector<Needs> needs;
  /// Reductions: the layout of the per-tile partial results, and the boxes of it each
  /// rank needs to combine them (none when the reduction completes inside the tiles).
  Layout partial;
  Needs partials;
  Exchange exchange = Exchange::gather;
  CacheUse cache = CacheUse::none;
  int variant = 0;                   // operation-specific choice (which dot strategy, ...)
  std::string strategy;              // how it is computed, for explain()
  std::int64_t predicted_bytes = 0;  // bytes moved, all ranks together
};

using InputLayouts = std::vector<const Layout*>;
using InputArrays = std::vector<const DistArray*>;

/// "node-shared memory", "posted while computing", ... (empty for a plain gather).
const char* describe(Exchange e);
const char* describe(CacheUse c);

}  // namespace spartanxx::detail
