#pragma once
// How an N-d array is cut into tiles and which rank holds each tile. Pure geometry:
// no MPI here, so every rank computes the same answers without communicating.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tiling/box.hpp"

namespace spartanxx::tiling {

/// Owner value of a tile that every rank holds a full copy of.
inline constexpr int kReplicated = -1;

/// Split points that cut `n` into `parts` nearly equal blocks, the first `n % parts`
/// blocks one longer: {0, b1, ..., n}. With parts > n, the trailing blocks are empty.
std::vector<index_t> even_splits(index_t n, int parts);

/// A layout: the array's shape, per-axis split points (uneven and empty blocks allowed)
/// and the owner of every tile of the resulting grid, tiles numbered row-major over
/// the grid. An owner is a rank or kReplicated.
class Layout {
 public:
  Layout() = default;
  /// General constructor; validates that splits cover each axis monotonically and that
  /// there is one owner per tile. Throws std::invalid_argument otherwise.
  Layout(Shape shape, std::vector<std::vector<index_t>> splits, std::vector<int> owners);

  /// One tile, held whole by every rank.
  static Layout replicated(const Shape& shape);
  /// Partial sums: every rank holds a whole-shape summand (zero where it contributed
  /// nothing); the array is their sum, which a later step resolves (allreduce when every
  /// rank needs all of it, reduce-scatter when each part goes to one rank).
  static Layout partial(const Shape& shape);
  /// `axis` cut into `nranks` even blocks, block i on rank i (other axes whole).
  static Layout blocks(const Shape& shape, int axis, int nranks);
  /// Row blocks (axis 0); a 0-d array is replicated.
  static Layout rows(const Shape& shape, int nranks);
  /// Column blocks (axis 1) of a matrix.
  static Layout cols(const Shape& shape, int nranks);
  /// 2-D blocks of a matrix over a prow x pcol process grid; block (i, j) on rank i*pcol + j.
  static Layout grid(const Shape& shape, int prow, int pcol);

  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  const std::vector<index_t>& splits(int axis) const { return splits_[axis]; }
  int tiles_along(int axis) const { return static_cast<int>(splits_[axis].size()) - 1; }
  int num_tiles() const { return static_cast<int>(owners_.size()); }
  int owner(int tile) const { return owners_[tile]; }
  const std::vector<int>& owners() const { return owners_; }

  /// True when every tile is replicated (the usual replicated layout has one tile);
  /// false for partial sums.
  bool is_replicated() const;
  /// True for partial sums (see partial()).
  bool is_partial() const { return partial_; }
  /// True when `rank` holds a copy of tile `tile`.
  bool holds(int rank, int tile) const { return owners_[tile] == rank || owners_[tile] == kReplicated; }

  /// Grid coordinates of a tile and back.
  std::vector<int> tile_coords(int tile) const;
  int tile_id(const std::vector<int>& coords) const;
  /// The global box a tile covers.
  Box tile_box(int tile) const;
  /// Tiles held by `rank` (its own and the replicated ones), ascending.
  std::vector<int> tiles_of(int rank) const;
  /// Tiles whose boxes intersect `box` with non-zero volume, ascending.
  std::vector<int> tiles_intersecting(const Box& box) const;
  /// Tile that holds global index `global` and the offset inside that tile's buffer.
  std::pair<int, index_t> global_to_local(const std::vector<index_t>& global) const;
  /// Global index of element `offset` of tile `tile`'s row-major buffer.
  std::vector<index_t> local_to_global(int tile, index_t offset) const;

  /// The same cut of the same data, with axes permuted (output axis i = input axis perm[i]).
  Layout permuted(const std::vector<int>& perm) const;
  /// Layouts are equal when shape, splits and owners are.
  friend bool operator==(const Layout& a, const Layout& b) {
    return a.shape_ == b.shape_ && a.splits_ == b.splits_ && a.owners_ == b.owners_ && a.partial_ == b.partial_;
  }
  friend bool operator!=(const Layout& a, const Layout& b) { return !(a == b); }

  /// "rows(4)", "cols(2)", "grid(2x2)", "replicated" or "tiles[...]".
  std::string describe() const;

 private:
  Shape shape_;
  std::vector<std::vector<index_t>> splits_;
  std::vector<int> owners_;
  bool partial_ = false;
};

/// The layout with a new axis of extent 1 (one tile) inserted at `axis`; same owners.
Layout insert_axis(const Layout& layout, int axis);
/// The layout with `axis` removed; the axis must have extent 1 or a single tile.
Layout remove_axis(const Layout& layout, int axis);

/// The row splits and owners of `l` for another shape whose axis 0 has the same extent,
/// its other axes whole (a product's result beside its row-split operand, a vector
/// beside a matrix's rows); a replicated layout stays replicated.
Layout rows_like(const Layout& l, const Shape& shape);

/// What each rank needs: needs[r] is the list of boxes rank r wants a copy of.
using Needs = std::vector<std::vector<Box>>;

/// The boxes each of `nranks` ranks holds under `layout` (what moving to it needs).
Needs needs_of(const Layout& layout, int nranks);

// What the tiles of `by` need of another array of `shape`, one box per held tile (in
// tiles_of order) or one box per rank:
/// the whole array, for every rank that holds a tile of `by`;
Needs whole_for_holders(const Layout& by, const Shape& shape, int nranks);
/// rows [r0, r1) of the array (its other axes whole) for each tile over rows [r0, r1);
Needs rows_for_tiles(const Layout& by, const Shape& shape, int nranks);
/// the columns [r0, r1) of the array (its last axis; the others whole) for each tile
/// over rows [r0, r1): what multiplies the tile from the left.
Needs columns_for_tiles(const Layout& by, const Shape& shape, int nranks);

/// Bytes that must cross the network so that every rank gets its needed boxes from
/// data laid out as `from` (a rank that holds a part already, or a replicated tile,
/// costs nothing). This is the cost model of redistribution. From partial sums (see
/// resolve_by_scatter): a reduce-scatter sends each needed element from every other
/// rank, (P-1) x volume; an allreduce sends the whole array from every rank, P x size
/// (nothing on one rank).
std::int64_t bytes_to_gather(const Layout& from, const Needs& needs, std::size_t element_size);

/// Whether partial sums are resolved into `needs` by a reduce-scatter (no element is
/// needed by two ranks) rather than an allreduce.
bool resolve_by_scatter(const Needs& needs);

/// Bytes moved by redistributing from one layout to another.
std::int64_t bytes_to_move(const Layout& from, const Layout& to, int nranks, std::size_t element_size);

}  // namespace spartanxx::tiling
