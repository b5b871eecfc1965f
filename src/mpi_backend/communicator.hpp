#pragma once
// The only place (with its .cpp files) that includes <mpi.h>. A move-only communicator
// owning a duplicated MPI_Comm, typed collectives with every MPI call checked, counters
// of bytes and messages, and collective error agreement.
#include <mpi.h>

#include <complex>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "spartanxx/stats.hpp"

namespace spartanxx::backend {

/// Throws spartanxx::mpi_error with MPI's error string when `code` is not MPI_SUCCESS.
void check(int code, const char* call);

/// Bytes and messages this rank sent and received, as seen by the collectives (the
/// public CommCounters).
using Counters = CommCounters;

template <class T>
MPI_Datatype mpi_type() {
  if constexpr (std::is_same_v<T, double>) return MPI_DOUBLE;
  else if constexpr (std::is_same_v<T, float>) return MPI_FLOAT;
  else if constexpr (std::is_same_v<T, std::int64_t>) return MPI_INT64_T;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return MPI_UINT64_T;
  else if constexpr (std::is_same_v<T, std::int32_t>) return MPI_INT32_T;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return MPI_UINT8_T;
  else if constexpr (std::is_same_v<T, char>) return MPI_CHAR;
  else if constexpr (std::is_same_v<T, std::byte>) return MPI_BYTE;
  else static_assert(sizeof(T) == 0, "mpi_type: no MPI datatype for this C++ type");
}

enum class ReduceOp { sum, min, max };

/// Non-blocking messages in flight (Communicator::isend_bytes / irecv_bytes), completed
/// by test_all or wait_all.
class Requests {
 public:
  bool empty() const { return requests_.empty(); }

 private:
  friend class Communicator;
  std::vector<MPI_Request> requests_;
};

class Communicator {
 public:
  /// Duplicates `parent`, so that spartanxx's messages never mix with the caller's.
  explicit Communicator(MPI_Comm parent);
  ~Communicator() noexcept;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  Communicator(Communicator&& other) noexcept;
  Communicator& operator=(Communicator&& other) noexcept;

  int rank() const { return rank_; }
  int size() const { return size_; }
  MPI_Comm native() const { return comm_; }
  const Counters& counters() const { return counters_; }

  void barrier();

  template <class T>
  void broadcast(T* data, std::size_t count, int root) {
    bcast_bytes(data, count * sizeof(T), root);
  }

  template <class T>
  void allreduce(T* inout, std::size_t count, ReduceOp op) {
    allreduce_raw(inout, count, mpi_type<T>(), sizeof(T), op);
  }
  /// Sums `send` (sum of counts items, laid out rank by rank) over all ranks; rank r
  /// receives the counts[r] items of its part into `recv`. Counted as every rank sending
  /// each other rank's part once.
  /// Whether a reduce-scatter of these parts goes by paired send-receives (few ranks,
  /// parts of at least 256 KiB on average).
  bool pairwise_pays(const std::vector<std::int64_t>& counts, std::size_t elem) const;

  template <class T>
  void reduce_scatter_sum(const T* send, T* recv, const std::vector<std::int64_t>& counts) {
    if (!pairwise_pays(counts, sizeof(T))) {
      reduce_scatter_raw(send, recv, counts, mpi_type<T>(), sizeof(T));
      return;
    }
    // Large parts among few ranks: P - 1 rounds of paired send-receives, rank r sending
    // rank r + s its part in round s and adding what rank r - s sent (measured here, 2 MB
    // at 2 ranks: 150-230 us against 210-320 us for MPI_Reduce_scatter).
    std::int64_t at = 0;
    std::vector<std::int64_t> offset(counts.size());
    for (std::size_t r = 0; r < counts.size(); ++r) offset[r] = at, at += counts[r];
    const auto mine = static_cast<std::size_t>(counts[static_cast<std::size_t>(rank_)]);
    const T* own = send + offset[static_cast<std::size_t>(rank_)];
    if (scratch_.size() < mine * sizeof(T)) scratch_.resize(mine * sizeof(T));  // kept: no page faults next time
    T* got = reinterpret_cast<T*>(scratch_.data());
    for (int s = 1; s < size_; ++s) {
      const int to = (rank_ + s) % size_, from = (rank_ - s + size_) % size_;
      sendrecv_bytes(send + offset[static_cast<std::size_t>(to)],
                     counts[static_cast<std::size_t>(to)] * static_cast<std::int64_t>(sizeof(T)), to, got,
                     static_cast<std::int64_t>(mine * sizeof(T)), from);
      const T* base = s == 1 ? own : recv;
      for (std::size_t i = 0; i < mine; ++i) recv[i] = static_cast<T>(base[i] + got[i]);
    }
  }

  template <class T>
  T allreduce(T value, ReduceOp op) {
    allreduce(&value, 1, op);
    return value;
  }

  /// The sum of `mine` over the ranks before this one (0 on rank 0).
  std::int64_t exclusive_sum(std::int64_t mine);

  /// Every rank contributes `count` items; recv has size() * count items.
  template <class T>
  std::vector<T> allgather(const T* send, std::size_t count) {
    std::vector<T> recv(count * static_cast<std::size_t>(size_));
    allgather_bytes(send, count * sizeof(T), recv.data());
    return recv;
  }
  template <class T>
  std::vector<T> allgather(const T& value) {
    return allgather(&value, 1);
  }

  /// Variable contributions; returns the concatenation in rank order.
  template <class T>
  std::vector<T> allgatherv(const std::vector<T>& send) {
    // The counts exchange is bookkeeping, not payload: it is not counted.
    const std::int64_t mine = static_cast<std::int64_t>(send.size());
    std::vector<std::int64_t> counts(static_cast<std::size_t>(size_));
    allgather_uncounted(&mine, sizeof mine, counts.data());
    std::int64_t total = 0;
    for (auto c : counts) total += c;
    std::vector<T> recv(static_cast<std::size_t>(total));
    std::vector<std::int64_t> byte_counts(counts.size());
    for (std::size_t i = 0; i < counts.size(); ++i) byte_counts[i] = counts[i] * static_cast<std::int64_t>(sizeof(T));
    allgatherv_bytes(send.data(), byte_counts, recv.data());
    return recv;
  }

  /// Each rank sends `count` items to every rank (send has size()*count items).
  template <class T>
  std::vector<T> alltoall(const std::vector<T>& send) {
    std::vector<T> recv(send.size());
    alltoall_bytes(send.data(), send.size() / static_cast<std::size_t>(size_) * sizeof(T), recv.data());
    return recv;
  }

  /// Personalized exchange of byte blocks: send_counts[r] bytes starting at
  /// send_offsets[r] go to rank r; returns what every rank sent here, in rank order,
  /// with recv_counts filled in. Large messages are split so no count overflows int.
  std::vector<std::byte> alltoallv(const std::byte* send, const std::vector<std::int64_t>& send_counts,
                                   const std::vector<std::int64_t>& send_offsets,
                                   std::vector<std::int64_t>& recv_counts);

  /// Point-to-point exchange with sizes both sides know in advance (each rank computes
  /// them from layouts): send_counts[r] bytes at send + send_offsets[r] go to rank r,
  /// recv_counts[r] bytes from rank r land at recv + recv_offsets[r]. Allocates nothing,
  /// so no rank can fail locally once it has begun.
  void exchange(const std::byte* send, const std::vector<std::int64_t>& send_counts,
                const std::vector<std::int64_t>& send_offsets, std::byte* recv,
                const std::vector<std::int64_t>& recv_counts, const std::vector<std::int64_t>& recv_offsets);

  /// Scratch memory the ranks of one node share (MPI-3 shared memory), for exchanges
  /// without messages: when every rank of this communicator runs on one node, each rank
  /// has a segment of at least `bytes` bytes that every rank may read and write, and this
  /// returns them by rank; when the ranks span nodes, it returns an empty list. Collective,
  /// with the same `bytes` on every rank; the segments are kept for the next call (and
  /// reallocated only to grow). node_fence() orders accesses between ranks.
  const std::vector<std::byte*>& node_segments(std::size_t bytes);
  /// Whether node_segments can give shared segments: every rank runs on one node and
  /// sharing is on (agreed when the communicator is made, and by set_node_sharing).
  bool shares_node() const;
  /// Turns the node-shared exchanges off (node_segments then returns an empty list) or
  /// back on (where the ranks share a node). Collective.
  void set_node_sharing(bool on);
  /// A barrier after which every rank sees what the others wrote to the segments before it.
  void node_fence();
  /// Counts data moved through the shared segments as messages would be counted.
  void count_shared(std::int64_t sent, std::int64_t received, std::int64_t messages_sent, std::int64_t messages_received);

  /// Non-blocking point-to-point messages (counted when posted); `requests` collects
  /// them for test_all / wait_all. Sizes must fit an int.
  void isend_bytes(const void* data, std::int64_t bytes, int to, int tag, Requests& requests);
  void irecv_bytes(void* data, std::int64_t bytes, int from, int tag, Requests& requests);
  /// Drives progress; true when every request has completed.
  bool test_all(Requests& requests);
  void wait_all(Requests& requests);

  /// Collective error agreement. Every rank passes the exception it caught in its
  /// local phase (or nullptr). If any rank failed, every rank throws the same typed
  /// exception, carrying the lowest failing rank's message prefixed by "[rank r] ".
  /// Costs one small allreduce when nothing failed.
  void agree(std::exception_ptr local_error);

  /// True for an exception that agree() raised: every rank already throws it, so it
  /// must propagate without being agreed on again.
  bool is_agreed(const std::exception_ptr& e) const { return e && e == last_agreed_; }

  /// Runs `local` on this rank, then agrees on failure (see agree()).
  template <class F>
  void run_agreed(F&& local) {
    std::exception_ptr err;
    try {
      local();
    } catch (...) {
      err = std::current_exception();
    }
    if (is_agreed(err)) std::rethrow_exception(err);
    agree(err);
  }

 private:
  void bcast_bytes(void* data, std::size_t bytes, int root);
  void allreduce_raw(void* inout, std::size_t count, MPI_Datatype type, std::size_t elem, ReduceOp op);
  void reduce_scatter_raw(const void* send, void* recv, const std::vector<std::int64_t>& counts, MPI_Datatype type,
                          std::size_t elem);
  /// One blocking paired exchange: send_bytes to `to`, recv_bytes from `from` (counted).
  void sendrecv_bytes(const void* send, std::int64_t send_bytes, int to, void* recv, std::int64_t recv_bytes, int from);
  void allgather_bytes(const void* send, std::size_t bytes, void* recv);
  void allgather_uncounted(const void* send, std::size_t bytes, void* recv);
  void allgatherv_bytes(const void* send, const std::vector<std::int64_t>& byte_counts, void* recv);
  void alltoall_bytes(const void* send, std::size_t bytes_each, void* recv);
  /// Whether the ranks share a node (collective): sets the node communicator and the flag.
  void ask_node();

  MPI_Comm comm_ = MPI_COMM_NULL;
  std::exception_ptr last_agreed_;
  int rank_ = 0;
  int size_ = 1;
  Counters counters_;
  struct NodeShared;  // the shared-memory window of node_segments
  std::unique_ptr<NodeShared> node_;
  std::vector<std::byte> scratch_;  // what the paired reduce-scatter receives (grows, never shrinks)
};

}  // namespace spartanxx::backend
