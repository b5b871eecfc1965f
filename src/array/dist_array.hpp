#pragma once
// Materialized distributed data: a layout plus this rank's tiles.
#include <vector>

#include "array/buffer.hpp"
#include "spartanxx/dtype.hpp"
#include "tiling/layout.hpp"

namespace spartanxx::backend {
class Communicator;
}

namespace spartanxx::detail {

using tiling::Box;
using tiling::index_t;
using tiling::Layout;
using tiling::Needs;

/// One tile this rank holds: its id in the layout, its global box and its elements in
/// C order over the box.
struct Tile {
  int id = 0;
  Box box;
  Buffer data;
};

class DistArray {
 public:
  DistArray() = default;
  /// Every tile that `rank` holds under `layout`, allocated (uninitialized) unless
  /// `allocate` is false (then the caller sets each tile's data).
  DistArray(Layout layout, DType dtype, int rank, bool allocate = true);

  const Layout& layout() const { return layout_; }
  DType dtype() const { return dtype_; }
  const tiling::Shape& shape() const { return layout_.shape(); }
  std::vector<Tile>& tiles() { return tiles_; }
  const std::vector<Tile>& tiles() const { return tiles_; }
  /// The local tile with this id, or nullptr.
  Tile* find(int tile_id);
  const Tile* find(int tile_id) const;

  /// The same buffers seen through another layout with the same tile grid size,
  /// owners and per-tile element counts (reshaping views, 1-d <-> 2-d vectors).
  DistArray view_as(const Layout& layout) const;

 private:
  Layout layout_;
  DType dtype_ = DType::f64;
  std::vector<Tile> tiles_;
};

/// Collective. Every rank names, in needs[r], the boxes rank r wants; returns this
/// rank's boxes as C-order buffers in the order of needs[rank]. Data already held
/// locally (own or replicated tiles) is copied, the rest comes in one all-to-all-v.
std::vector<Buffer> gather_boxes(const DistArray& src, const Needs& needs, backend::Communicator& comm);

/// Collective. The same array under another layout.
DistArray redistribute(const DistArray& src, const Layout& to, backend::Communicator& comm);

/// Copies the part `part` (a sub-box of both) from a C-order buffer over box `from` into a
/// C-order buffer over box `to`.
void copy_box(const std::byte* from, const Box& from_box, std::byte* to, const Box& to_box, const Box& part,
              std::size_t elem);

}  // namespace spartanxx::detail
