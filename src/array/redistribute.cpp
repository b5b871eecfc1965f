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

namespace {

/// Partial sums resolved into the needed boxes: a reduce-scatter when no element is
/// needed twice, otherwise an allreduce of the whole summand (see bytes_to_gather).
std::vector<Buffer> gather_from_partial(const DistArray& src, const Needs& needs, backend::Communicator& comm) {
  const Layout& layout = src.layout();
  const std::size_t elem = itemsize(src.dtype());
  const int me = comm.rank(), P = comm.size();
  const Box whole = Box::whole(layout.shape());
  const Buffer& summand = src.tiles().at(0).data;
  const bool scatter = tiling::resolve_by_scatter(needs);
  std::vector<Buffer> out;
  std::vector<std::int64_t> counts(P, 0);
  Buffer send, reduced;
  // The usual case: rank r needs at most one box, a run of whole rows, and the runs
  // follow each other in rank order from the start. Then the summand is already the
  // send buffer, and the reduced part lands in the output itself.
  bool in_place = scatter;
  index_t at = 0;
  for (int r = 0; in_place && r < P; ++r) {
    if (needs[r].size() > 1) in_place = false;
    if (!in_place || needs[r].empty()) continue;
    const Box& b = needs[r][0];
    for (int a = 1; a < layout.ndim(); ++a) in_place = in_place && b.lo[a] == 0 && b.hi[a] == layout.shape()[a];
    index_t row = 1;
    for (int a = 1; a < layout.ndim(); ++a) row *= layout.shape()[a];
    in_place = in_place && (layout.ndim() == 0 ? b.volume() == 0 || at == 0 : b.lo[0] * row == at);
    at += b.volume();
  }
  std::exception_ptr local_error;
  try {
    if (src.dtype() == DType::boolean) throw std::logic_error("partial sums of booleans");
    if (in_place) {
      for (int r = 0; r < P; ++r)
        if (!needs[r].empty()) counts[r] = needs[r][0].volume();
    } else if (scatter) {
      std::int64_t total = 0;
      for (int r = 0; r < P; ++r) {
        for (const Box& b : needs[r]) counts[r] += b.volume();
        total += counts[r];
      }
      send = Buffer(static_cast<std::size_t>(total) * elem);
      std::byte* dst = send.data();
      for (int r = 0; r < P; ++r)
        for (const Box& b : needs[r]) {
          copy_box(summand.data(), whole, dst, b, b, elem);
          dst += b.volume() * static_cast<std::int64_t>(elem);
        }
      reduced = Buffer(static_cast<std::size_t>(counts[me]) * elem);
    } else {
      reduced = Buffer(summand.bytes());
      std::memcpy(reduced.data(), summand.data(), summand.bytes());
    }
    for (const Box& want : needs[me]) out.emplace_back(static_cast<std::size_t>(want.volume()) * elem);
  } catch (...) {
    local_error = std::current_exception();
  }
  comm.agree(local_error);
  visit_dtype(src.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, std::uint8_t>) {
      if (in_place) comm.reduce_scatter_sum(summand.as<T>(), out.empty() ? nullptr : out[0].as<T>(), counts);
      else if (scatter) comm.reduce_scatter_sum(send.as<T>(), reduced.as<T>(), counts);
      else comm.allreduce(reduced.as<T>(), static_cast<std::size_t>(tiling::volume(layout.shape())), backend::ReduceOp::sum);
    }
  });
  if (in_place) return out;
  const std::byte* from = reduced.data();
  for (std::size_t w = 0; w < needs[me].size(); ++w) {
    const Box& want = needs[me][w];
    if (scatter) {
      if (out[w].bytes() > 0) std::memcpy(out[w].data(), from, out[w].bytes());  // empty boxes: nothing, not even null
      from += out[w].bytes();
    } else {
      copy_box(reduced.data(), whole, out[w].data(), want, want, elem);
    }
  }
  return out;
}

}  // namespace

std::vector<Buffer> gather_boxes(const DistArray& src, const Needs& needs, backend::Communicator& comm) {
  if (src.layout().is_partial() && comm.size() > 1) return gather_from_partial(src, needs, comm);
  const Layout& layout = src.layout();
  const std::size_t elem = itemsize(src.dtype());
  const int me = comm.rank(), P = comm.size();
  std::vector<Buffer> out;
  std::vector<std::int64_t> send_counts(P, 0), send_offsets(P, 0), recv_counts(P, 0), recv_offsets(P, 0);
  Buffer send, recv;
  std::exception_ptr local_error;
  // Everything that can fail on one rank alone (planning, allocation, packing) happens
  // before the agreement; after it, only the exchange and plain copies remain.
  try {
    // What others need from tiles this rank owns (replicated tiles are never sent:
    // every rank has them), packed in the order the receiver walks its needs.
    std::vector<std::vector<std::pair<int, Box>>> plan(P);
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
    // What this rank receives, computed from the layout alone: no counts exchange.
    for (const Box& want : needs[me])
      for (int t : layout.tiles_intersecting(want))
        if (!layout.holds(me, t)) recv_counts[layout.owner(t)] += intersect(want, layout.tile_box(t)).volume() * static_cast<std::int64_t>(elem);
    std::int64_t total = 0, rtotal = 0;
    for (int r = 0; r < P; ++r) {
      send_offsets[r] = total, total += send_counts[r];
      recv_offsets[r] = rtotal, rtotal += recv_counts[r];
    }
    send = Buffer(static_cast<std::size_t>(total));
    recv = Buffer(static_cast<std::size_t>(rtotal));
    for (int r = 0; r < P; ++r) {
      std::byte* dst = send.data() + send_offsets[r];
      for (const auto& [t, part] : plan[r]) {
        const Tile* tile = src.find(t);
        copy_box(tile->data.data(), tile->box, dst, part, part, elem);
        dst += part.volume() * static_cast<std::int64_t>(elem);
      }
    }
    out.reserve(needs[me].size());
    for (const Box& want : needs[me]) {
      // A whole local tile is shared, not copied (buffers are immutable once computed).
      const auto hit = layout.tiles_intersecting(want);
      if (hit.size() == 1 && layout.holds(me, hit[0]) && layout.tile_box(hit[0]) == want) {
        out.push_back(src.find(hit[0])->data);
      } else {
        out.emplace_back(static_cast<std::size_t>(want.volume()) * elem);
      }
    }
  } catch (...) {
    local_error = std::current_exception();
  }
  comm.agree(local_error);  // a rank that failed, here or before, is heard by all
  comm.exchange(send.data(), send_counts, send_offsets, recv.data(), recv_counts, recv_offsets);

  std::vector<std::int64_t> cursor = recv_offsets;
  for (std::size_t w = 0; w < needs[me].size(); ++w) {
    const Box& want = needs[me][w];
    const auto hit = layout.tiles_intersecting(want);
    if (hit.size() == 1 && layout.holds(me, hit[0]) && layout.tile_box(hit[0]) == want) continue;  // shared
    for (int t : hit) {
      const Box part = intersect(want, layout.tile_box(t));
      if (layout.holds(me, t)) {
        const Tile* tile = src.find(t);
        copy_box(tile->data.data(), tile->box, out[w].data(), want, part, elem);
      } else {
        const int from = layout.owner(t);
        copy_box(recv.data() + cursor[from], part, out[w].data(), want, part, elem);
        cursor[from] += part.volume() * static_cast<std::int64_t>(elem);
      }
    }
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
