#include "array/dist_array.hpp"

#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <utility>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>

#include <fmt/format.h>

#include "spartanxx/runtime.hpp"

namespace spartanxx::detail {

namespace {
std::atomic<std::int64_t> g_allocated{0};

/// Keeps freed large blocks for reuse. Fresh memory costs a page fault per page on
/// first touch (on virtual machines, slower than the arithmetic done on it), and
/// glibc returns large blocks to the system on free; reusing them keeps loops and
/// repeated evaluations at memory speed.
class Pool {
 public:
  static constexpr std::size_t kMinPooled = std::size_t{1} << 16;
  static constexpr std::size_t kHugePage = std::size_t{1} << 21;
  static constexpr std::size_t kHugeFrom = std::size_t{1} << 22;
  // New blocks from this size on are checked against what a rank may use.
  static constexpr std::size_t kCheckedFrom = std::size_t{1} << 26;

  /// Sizes are rounded up to classes an eighth of a power of two apart (<= 12.5% waste).
  static std::size_t size_class(std::size_t bytes) {
    if (bytes < kMinPooled) return (bytes + 63) / 64 * 64;
    std::size_t p = kMinPooled;
    while (p * 2 <= bytes) p *= 2;
    const std::size_t step = p / 8;
    return (bytes + step - 1) / step * step;
  }

  /// A block of at least `cls` bytes: a kept one of that class, or of a class up to 1.5x
  /// larger (better than a fresh block's page faults), else a new one. `*got` is the
  /// block's class, to give back.
  std::byte* take(std::size_t cls, std::size_t* got) {
    *got = cls;
    if (cls >= kMinPooled) {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.lower_bound(cls);
      if (it != free_.end() && it->first <= cls + cls / 2) {
        std::byte* p = it->second.second;
        *got = it->first;
        held_ -= it->first;
        free_.erase(it);
        return p;
      }
    }
    // New memory: a block larger than a rank may use fails here, with its size, rather
    // than in the kernel's OOM killer (the executor adds the operation and shapes).
    if (cls >= kCheckedFrom) require_memory(fmt::format("a buffer of {} bytes", cls), static_cast<double>(cls));
    // Large blocks are aligned to 2 MiB and asked to be backed by transparent huge
    // pages: one page fault per 2 MiB instead of 512 (page faults are slow on VMs).
    const bool huge = cls >= kHugeFrom;
    const std::size_t align = huge ? kHugePage : 64;
    const std::size_t bytes = (cls + align - 1) / align * align;
    void* p = std::aligned_alloc(align, bytes);
    if (!p) {
      trim();
      p = std::aligned_alloc(align, bytes);
      if (!p) throw std::bad_alloc();
    }
    if (huge) ::madvise(p, bytes, MADV_HUGEPAGE);  // advice only: failure is harmless
    return static_cast<std::byte*>(p);
  }

  /// Keeps a freed block; when that would exceed the capacity, the blocks freed longest
  /// ago go back to the system first (the sizes a program uses now are the ones it
  /// freed last).
  void give(std::byte* p, std::size_t cls) {
    if (cls >= kMinPooled && cls <= capacity_) {
      std::lock_guard<std::mutex> lock(mutex_);
      while (held_ + cls > capacity_ && !free_.empty()) {
        auto oldest = free_.begin();
        for (auto it = free_.begin(); it != free_.end(); ++it)
          if (it->second.first < oldest->second.first) oldest = it;
        std::free(oldest->second.second);
        held_ -= oldest->first;
        free_.erase(oldest);
      }
      free_.emplace(cls, std::make_pair(++clock_, p));
      held_ += cls;
      return;
    }
    std::free(p);
  }

  void trim() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& entry : free_) std::free(entry.second.second);
    free_.clear();
    held_ = 0;
  }

  static Pool& instance() {
    static Pool* pool = new Pool();  // never destroyed: buffers may be freed during static destruction
    return *pool;
  }

 private:
  Pool() {
    if (const char* env = std::getenv("SPARTANXX_POOL_BYTES")) capacity_ = std::strtoull(env, nullptr, 10);
  }
  std::mutex mutex_;
  std::multimap<std::size_t, std::pair<std::uint64_t, std::byte*>> free_;  // class -> (when freed, block)
  std::uint64_t clock_ = 0;
  std::size_t held_ = 0;
  std::size_t capacity_ = std::size_t{1} << 30;
};

}  // namespace

Buffer::Buffer(std::size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  std::size_t cls = 0;
  std::byte* p = Pool::instance().take(Pool::size_class(bytes), &cls);
  data_ = std::shared_ptr<std::byte>(p, [cls](std::byte* q) { Pool::instance().give(q, cls); });
  g_allocated += static_cast<std::int64_t>(bytes);
}

std::int64_t Buffer::allocated_total() { return g_allocated.load(); }

void Buffer::release_pool() { Pool::instance().trim(); }

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

DistArray DistArray::sparse(Layout layout, DType dtype, int rank, std::vector<std::int64_t> tile_nnz) {
  if (layout.ndim() != 2 || layout.tiles_along(1) != 1 || layout.is_partial())
    throw std::logic_error("DistArray::sparse: sparse arrays are 2-d and split by rows only");
  if (static_cast<int>(tile_nnz.size()) != layout.num_tiles())
    throw std::logic_error("DistArray::sparse: one stored-entry count per tile expected");
  DistArray a(std::move(layout), dtype, rank, /*allocate=*/false);
  a.sparse_ = true;
  a.tile_nnz_ = std::move(tile_nnz);
  return a;
}

std::int64_t DistArray::nnz() const {
  if (!sparse_) return static_cast<std::int64_t>(tiling::volume(shape()));
  std::int64_t n = 0;
  if (layout_.is_replicated()) return tile_nnz_.empty() ? 0 : tile_nnz_[0];
  for (auto c : tile_nnz_) n += c;
  return n;
}

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
    v.csr = t.csr;
    out.tiles_.push_back(std::move(v));
  }
  return out;
}

}  // namespace spartanxx::detail
