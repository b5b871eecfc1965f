#pragma once
// Materialized distributed data: a layout plus this rank's tiles.
#include <cstdint>
#include <memory>
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

/// The structure of a CSR tile: row_ptr has box rows + 1 entries; entry k of row i has
/// column col[k], counted from the box's first column. Columns are sorted within a row
/// and unique. Maps that keep sparsity share their input's pattern.
struct CsrPattern {
  std::vector<std::int64_t> row_ptr{0};
  std::vector<std::int64_t> col;
};

/// A sparse tile: a pattern and its values (nnz elements of the array's dtype).
struct CsrTile {
  std::shared_ptr<const CsrPattern> pattern;
  Buffer values;
  std::int64_t nnz() const { return pattern->row_ptr.back(); }
  index_t rows() const { return static_cast<index_t>(pattern->row_ptr.size()) - 1; }
  const std::int64_t* row_ptr() const { return pattern->row_ptr.data(); }
  const std::int64_t* col() const { return pattern->col.data(); }
};

/// One tile this rank holds: its id in the layout, its global box and its elements in
/// C order over the box (dense), or its CSR storage (sparse).
struct Tile {
  int id = 0;
  Box box;
  Buffer data;
  std::shared_ptr<const CsrTile> csr;  // sparse arrays only
};

class DistArray {
 public:
  DistArray() = default;
  /// Every tile that `rank` holds under `layout`, allocated (uninitialized) unless
  /// `allocate` is false (then the caller sets each tile's data).
  DistArray(Layout layout, DType dtype, int rank, bool allocate = true);
  /// A sparse array: every tile that `rank` holds, with `csr` set by the caller, and
  /// the stored entries of every tile of the layout (all ranks know them), by tile id.
  static DistArray sparse(Layout layout, DType dtype, int rank, std::vector<std::int64_t> tile_nnz);

  bool is_sparse() const { return sparse_; }
  /// Stored entries of each tile, by tile id (sparse arrays).
  const std::vector<std::int64_t>& tile_nnz() const { return tile_nnz_; }
  /// Stored entries of the whole array (each tile counted once).
  std::int64_t nnz() const;

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
  bool sparse_ = false;
  std::vector<std::int64_t> tile_nnz_;
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
