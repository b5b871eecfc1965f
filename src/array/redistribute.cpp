// Redistribution: every rank computes, from the layouts alone, what it sends to whom
// and what it receives from whom, so one all-to-all-v moves everything.
#include <cstring>

#include "array/dist_array.hpp"
#include "mpi_backend/communicator.hpp"

namespace spartanxx::detail {

void copy_box(const std::byte* from, const Box& from_box, std::byte* to, const Box& to_box, const Box& part,
              std::size_t elem) {
  if (part.empty()) return;
  const int nd = part.ndim();
  // Merge the trailing axes that `part` spans whole in both boxes into one contiguous run.
  int inner = nd;  // axes [inner, nd) are contiguous in both
  std::size_t run = elem;
  while (inner > 0) {
    const int a = inner - 1;
    run *= static_cast<std::size_t>(part.extent(a));
    --inner;
    if (part.extent(a) != from_box.extent(a) || part.extent(a) != to_box.extent(a)) break;
  }
  // Now axes [0, inner) are iterated, axis `inner` onward is one memcpy of `run` bytes.
  std::vector<index_t> from_strides(nd, 1), to_strides(nd, 1);
  for (int a = nd - 2; a >= 0; --a) {
    from_strides[a] = from_strides[a + 1] * from_box.extent(a + 1);
    to_strides[a] = to_strides[a + 1] * to_box.extent(a + 1);
  }
  std::vector<index_t> idx(part.lo.begin(), part.lo.begin() + inner);
  while (true) {
    index_t fo = 0, to_off = 0;
    for (int a = 0; a < nd; ++a) {
      const index_t g = a < inner ? idx[a] : part.lo[a];
      fo += (g - from_box.lo[a]) * from_strides[a];
      to_off += (g - to_box.lo[a]) * to_strides[a];
    }
    std::memcpy(to + to_off * elem, from + fo * elem, run);
    int a = inner - 1;
    while (a >= 0 && ++idx[a] == part.hi[a]) idx[a] = part.lo[a], --a;
    if (a < 0) break;
  }
}

std::vector<Buffer> gather_boxes(const DistArray& src, const Needs& needs, backend::Communicator& comm) {
  comm.agree(nullptr);  // a rank that failed before this collective is heard here
  const Layout& layout = src.layout();
  const std::size_t elem = itemsize(src.dtype());
  const int me = comm.rank(), P = comm.size();

  // Pack what others need from tiles this rank owns (replicated tiles are never sent:
  // every rank has them).
  std::vector<std::int64_t> send_counts(P, 0), send_offsets(P, 0);
  std::vector<std::vector<std::pair<int, Box>>> plan(P);  // (tile, part) per destination
  for (int r = 0; r < P; ++r) {
    if (r == me) continue;
    for (const Box& want : needs[r])
      for (int t : layout.tiles_intersecting(want))
        if (layout.owner(t) == me) {
          Box part = intersect(want, layout.tile_box(t));
          send_counts[r] += part.volume() * static_cast<std::int64_t>(elem);
          plan[r].emplace_back(t, std::move(part));
        }
  }
  std::int64_t total = 0;
  for (int r = 0; r < P; ++r) send_offsets[r] = total, total += send_counts[r];
  Buffer send(static_cast<std::size_t>(total));
  for (int r = 0; r < P; ++r) {
    std::byte* out = send.data() + send_offsets[r];
    for (const auto& [t, part] : plan[r]) {
      const Tile* tile = src.find(t);
      copy_box(tile->data.data(), tile->box, out, part, part, elem);
      out += part.volume() * static_cast<std::int64_t>(elem);
    }
  }
  std::vector<std::int64_t> recv_counts;
  std::vector<std::byte> recv = comm.alltoallv(send.data(), send_counts, send_offsets, recv_counts);
  std::vector<std::int64_t> cursor(P + 1, 0);
  for (int r = 0; r < P; ++r) cursor[r + 1] = cursor[r] + recv_counts[r];

  std::vector<Buffer> out;
  out.reserve(needs[me].size());
  for (const Box& want : needs[me]) {
    // A whole local tile is shared, not copied (buffers are immutable once computed).
    const auto hit = layout.tiles_intersecting(want);
    if (hit.size() == 1 && layout.holds(me, hit[0]) && layout.tile_box(hit[0]) == want) {
      out.push_back(src.find(hit[0])->data);
      continue;
    }
    Buffer buf(static_cast<std::size_t>(want.volume()) * elem);
    for (int t : layout.tiles_intersecting(want)) {
      const Box part = intersect(want, layout.tile_box(t));
      if (layout.holds(me, t)) {
        const Tile* tile = src.find(t);
        copy_box(tile->data.data(), tile->box, buf.data(), want, part, elem);
      } else {
        const int from = layout.owner(t);
        copy_box(recv.data() + cursor[from], part, buf.data(), want, part, elem);
        cursor[from] += part.volume() * static_cast<std::int64_t>(elem);
      }
    }
    out.push_back(std::move(buf));
  }
  return out;
}

DistArray redistribute(const DistArray& src, const Layout& to, backend::Communicator& comm) {
  if (src.layout() == to) return src;
  const Needs needs = tiling::needs_of(to, comm.size());
  std::vector<Buffer> got = gather_boxes(src, needs, comm);
  DistArray result(to, src.dtype(), comm.rank(), /*allocate=*/false);
  // needs_of lists a rank's tiles in ascending tile order, as tiles_of does.
  for (std::size_t i = 0; i < result.tiles().size(); ++i) result.tiles()[i].data = std::move(got[i]);
  return result;
}

}  // namespace spartanxx::detail
