#include "array/dist_array.hpp"

#include <atomic>
#include <cstdlib>
#include <new>
#include <stdexcept>

namespace spartanxx::detail {

namespace {
std::atomic<std::int64_t> g_allocated{0};
}

Buffer::Buffer(std::size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  const std::size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) throw std::bad_alloc();
  data_ = std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
  g_allocated += static_cast<std::int64_t>(bytes);
}

std::int64_t Buffer::allocated_total() { return g_allocated.load(); }

DistArray::DistArray(Layout layout, DType dtype, int rank, bool allocate) : layout_(std::move(layout)), dtype_(dtype) {
  for (int t : layout_.tiles_of(rank)) {
    Tile tile;
    tile.id = t;
    tile.box = layout_.tile_box(t);
    if (allocate) tile.data = Buffer(static_cast<std::size_t>(tile.box.volume()) * itemsize(dtype));
    tiles_.push_back(std::move(tile));
  }
}

Tile* DistArray::find(int tile_id) {
  for (auto& t : tiles_)
    if (t.id == tile_id) return &t;
  return nullptr;
}

const Tile* DistArray::find(int tile_id) const { return const_cast<DistArray*>(this)->find(tile_id); }

DistArray DistArray::view_as(const Layout& layout) const {
  if (layout.num_tiles() != layout_.num_tiles() || layout.owners() != layout_.owners())
    throw std::logic_error("DistArray::view_as: layouts differ in tiles or owners");
  DistArray out;
  out.layout_ = layout;
  out.dtype_ = dtype_;
  for (const Tile& t : tiles_) {
    Tile v;
    v.id = t.id;
    v.box = layout.tile_box(t.id);
    if (v.box.volume() != t.box.volume()) throw std::logic_error("DistArray::view_as: tile sizes differ");
    v.data = t.data;
    out.tiles_.push_back(std::move(v));
  }
  return out;
}

}  // namespace spartanxx::detail
