#include "mpi_backend/communicator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>

#include "spartanxx/errors.hpp"

namespace spartanxx::backend {

void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw mpi_error(fmt::format("{} failed: {}", call, std::string(text, static_cast<std::size_t>(len))));
}

struct Communicator::NodeShared {
  int single_node = 0;  // 1: every rank on one node, sharing on; 0: the ranks span nodes, or sharing is off
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Win win = MPI_WIN_NULL;
  std::size_t bytes = 0;
  std::vector<std::byte*> segments;
  std::vector<std::byte*> none;

  void free_window() {
    if (win == MPI_WIN_NULL) return;
    MPI_Win_unlock_all(win);
    MPI_Win_free(&win);
    win = MPI_WIN_NULL;
    segments.clear();
    bytes = 0;
  }
  ~NodeShared() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    free_window();
    if (node != MPI_COMM_NULL) MPI_Comm_free(&node);
  }
};

void Communicator::ask_node() {
  if (!node_) node_ = std::make_unique<NodeShared>();
  NodeShared& n = *node_;
  if (n.node == MPI_COMM_NULL)
    check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &n.node), "MPI_Comm_split_type");
  int node_size = 0;
  check(MPI_Comm_size(n.node, &node_size), "MPI_Comm_size");
  // Every rank sees its own node's size: all equal to size_ or none is. SPARTANXX_NODE_SHARED=0
  // turns the shared exchanges off (on every rank if on any: the choice is agreed).
  const char* env = std::getenv("SPARTANXX_NODE_SHARED");
  int use = node_size == size_ && !(env && std::string(env) == "0") ? 1 : 0;
  check(MPI_Allreduce(MPI_IN_PLACE, &use, 1, MPI_INT, MPI_MIN, comm_), "MPI_Allreduce");
  n.single_node = use;
}

bool Communicator::shares_node() const { return node_ && node_->single_node == 1; }

const std::vector<std::byte*>& Communicator::node_segments(std::size_t bytes) {
  static const std::vector<std::byte*> none;
  if (!node_) return none;  // moved from
  NodeShared& n = *node_;
  if (n.single_node == 0) return n.none;
  if (bytes > n.bytes || n.win == MPI_WIN_NULL) {
    n.free_window();
    const std::size_t want = std::max<std::size_t>(bytes, 64);
    std::byte* mine = nullptr;
    // Shared memory can run out (a small /dev/shm): then every rank goes back to messages.
    const int rc = MPI_Win_allocate_shared(static_cast<MPI_Aint>(want), 1, MPI_INFO_NULL, n.node, &mine, &n.win);
    int ok = rc == MPI_SUCCESS ? 1 : 0;
    check(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm_), "MPI_Allreduce");
    if (!ok) {
      // Not freed where it was made: MPI_Win_free is collective over the node and the
      // ranks whose allocation failed would never join it (a leak, after an MPI error).
      n.win = MPI_WIN_NULL;
      n.single_node = 0;
      return n.none;
    }
    check(MPI_Win_set_errhandler(n.win, MPI_ERRORS_RETURN), "MPI_Win_set_errhandler");
    check(MPI_Win_lock_all(MPI_MODE_NOCHECK, n.win), "MPI_Win_lock_all");
    n.segments.assign(static_cast<std::size_t>(size_), nullptr);
    for (int r = 0; r < size_; ++r) {
      MPI_Aint size = 0;
      int unit = 0;
      void* at = nullptr;
      check(MPI_Win_shared_query(n.win, r, &size, &unit, &at), "MPI_Win_shared_query");
      n.segments[static_cast<std::size_t>(r)] = static_cast<std::byte*>(at);
    }
    n.bytes = want;
  }
  return n.segments;
}

void Communicator::set_node_sharing(bool on) {
  if (!node_) node_ = std::make_unique<NodeShared>();
  node_->free_window();
  node_->single_node = 0;
  if (on) ask_node();
}

void Communicator::node_fence() {
  check(MPI_Win_sync(node_->win), "MPI_Win_sync");
  check(MPI_Barrier(comm_), "MPI_Barrier");
  check(MPI_Win_sync(node_->win), "MPI_Win_sync");
}

void Communicator::count_shared(std::int64_t sent, std::int64_t received, std::int64_t messages_sent,
                                std::int64_t messages_received) {
  counters_.bytes_sent += sent;
  counters_.bytes_received += received;
  counters_.messages_sent += messages_sent;
  counters_.messages_received += messages_received;
}

Communicator::Communicator(MPI_Comm parent) {
  check(MPI_Comm_dup(parent, &comm_), "MPI_Comm_dup");
  // Errors are returned to us and thrown as mpi_error rather than aborting the job.
  check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  ask_node();
}

Communicator::~Communicator() noexcept {
  node_.reset();  // the shared window first: it was made from this communicator
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
}

Communicator::Communicator(Communicator&& other) noexcept
    : comm_(other.comm_), rank_(other.rank_), size_(other.size_), counters_(other.counters_),
      node_(std::move(other.node_)) {
  other.comm_ = MPI_COMM_NULL;
}

Communicator& Communicator::operator=(Communicator&& other) noexcept {
  if (this != &other) {
    Communicator tmp(std::move(*this));
    comm_ = other.comm_;
    rank_ = other.rank_;
    size_ = other.size_;
    counters_ = other.counters_;
    node_ = std::move(other.node_);
    other.comm_ = MPI_COMM_NULL;
  }
  return *this;
}

void Communicator::barrier() { check(MPI_Barrier(comm_), "MPI_Barrier"); }

void Communicator::bcast_bytes(void* data, std::size_t bytes, int root) {
  if (bytes > static_cast<std::size_t>(INT_MAX)) throw mpi_error(fmt::format("broadcast: {} bytes is too large", bytes));
  check(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, root, comm_), "MPI_Bcast");
  if (size_ > 1) {
    const auto b = static_cast<std::int64_t>(bytes);
    if (rank_ == root) {
      counters_.bytes_sent += b * (size_ - 1);
      counters_.messages_sent += size_ - 1;
    } else {
      counters_.bytes_received += b;
      counters_.messages_received += 1;
    }
  }
}

void Communicator::allreduce_raw(void* inout, std::size_t count, MPI_Datatype type, std::size_t elem, ReduceOp op) {
  if (count > static_cast<std::size_t>(INT_MAX)) throw mpi_error(fmt::format("allreduce: {} items is too many", count));
  MPI_Op mop = op == ReduceOp::sum ? MPI_SUM : op == ReduceOp::min ? MPI_MIN : MPI_MAX;
  check(MPI_Allreduce(MPI_IN_PLACE, inout, static_cast<int>(count), type, mop, comm_), "MPI_Allreduce");
  if (size_ > 1) {
    // Counted as one logical message of the reduced vector each way.
    const auto b = static_cast<std::int64_t>(count * elem);
    counters_.bytes_sent += b;
    counters_.bytes_received += b;
    counters_.messages_sent += 1;
    counters_.messages_received += 1;
  }
}

std::int64_t Communicator::exclusive_sum(std::int64_t mine) {
  std::int64_t before = 0;
  check(MPI_Exscan(&mine, &before, 1, MPI_INT64_T, MPI_SUM, comm_), "MPI_Exscan");
  if (size_ > 1) {
    // Counted as one logical message each way, as an allreduce is.
    counters_.bytes_sent += 8;
    counters_.bytes_received += 8;
    counters_.messages_sent += 1;
    counters_.messages_received += 1;
  }
  return rank_ == 0 ? 0 : before;  // MPI_Exscan leaves rank 0's result undefined
}

bool Communicator::pairwise_pays(const std::vector<std::int64_t>& counts, std::size_t elem) const {
  if (size_ < 2 || size_ > 16 || counts.size() != static_cast<std::size_t>(size_)) return false;
  std::int64_t total = 0;
  for (auto c : counts) {
    if (c * static_cast<std::int64_t>(elem) > INT_MAX) return false;
    total += c;
  }
  return total * static_cast<std::int64_t>(elem) / size_ >= (std::int64_t{1} << 18);
}

void Communicator::sendrecv_bytes(const void* send, std::int64_t send_bytes, int to, void* recv, std::int64_t recv_bytes,
                                  int from) {
  check(MPI_Sendrecv(send, static_cast<int>(send_bytes), MPI_BYTE, to, 9, recv, static_cast<int>(recv_bytes), MPI_BYTE, from,
                     9, comm_, MPI_STATUS_IGNORE),
        "MPI_Sendrecv");
  counters_.bytes_sent += send_bytes;
  counters_.bytes_received += recv_bytes;
  counters_.messages_sent += 1;
  counters_.messages_received += 1;
}

void Communicator::isend_bytes(const void* data, std::int64_t bytes, int to, int tag, Requests& requests) {
  if (bytes > INT_MAX) throw mpi_error(fmt::format("isend: {} bytes is too many", bytes));
  requests.requests_.emplace_back();
  check(MPI_Isend(data, static_cast<int>(bytes), MPI_BYTE, to, tag, comm_, &requests.requests_.back()), "MPI_Isend");
  counters_.bytes_sent += bytes;
  counters_.messages_sent += 1;
}

void Communicator::irecv_bytes(void* data, std::int64_t bytes, int from, int tag, Requests& requests) {
  if (bytes > INT_MAX) throw mpi_error(fmt::format("irecv: {} bytes is too many", bytes));
  requests.requests_.emplace_back();
  check(MPI_Irecv(data, static_cast<int>(bytes), MPI_BYTE, from, tag, comm_, &requests.requests_.back()), "MPI_Irecv");
  counters_.bytes_received += bytes;
  counters_.messages_received += 1;
}

bool Communicator::test_all(Requests& requests) {
  auto& r = requests.requests_;
  int done = 0;
  check(MPI_Testall(static_cast<int>(r.size()), r.data(), &done, MPI_STATUSES_IGNORE), "MPI_Testall");
  return done != 0;
}

void Communicator::wait_all(Requests& requests) {
  auto& r = requests.requests_;
  check(MPI_Waitall(static_cast<int>(r.size()), r.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
  r.clear();
}

void Communicator::reduce_scatter_raw(const void* send, void* recv, const std::vector<std::int64_t>& counts,
                                      MPI_Datatype type, std::size_t elem) {
  if (counts.size() != static_cast<std::size_t>(size_))
    throw std::invalid_argument(fmt::format("reduce_scatter: {} counts for {} ranks", counts.size(), size_));
  std::vector<int> c(counts.size());
  std::int64_t total = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] > INT_MAX) throw mpi_error(fmt::format("reduce_scatter: {} items is too many", counts[i]));
    c[i] = static_cast<int>(counts[i]);
    total += counts[i];
  }
  check(MPI_Reduce_scatter(send, recv, c.data(), type, MPI_SUM, comm_), "MPI_Reduce_scatter");
  if (size_ > 1) {
    const auto e = static_cast<std::int64_t>(elem);
    counters_.bytes_sent += (total - counts[rank_]) * e;
    counters_.bytes_received += (size_ - 1) * counts[rank_] * e;
    counters_.messages_sent += size_ - 1;
    counters_.messages_received += size_ - 1;
  }
}

void Communicator::allgather_bytes(const void* send, std::size_t bytes, void* recv) {
  if (bytes > static_cast<std::size_t>(INT_MAX)) throw mpi_error(fmt::format("allgather: {} bytes is too large", bytes));
  check(MPI_Allgather(send, static_cast<int>(bytes), MPI_BYTE, recv, static_cast<int>(bytes), MPI_BYTE, comm_),
        "MPI_Allgather");
  if (size_ > 1) {
    const auto b = static_cast<std::int64_t>(bytes);
    counters_.bytes_sent += b * (size_ - 1);
    counters_.bytes_received += b * (size_ - 1);
    counters_.messages_sent += size_ - 1;
    counters_.messages_received += size_ - 1;
  }
}

void Communicator::allgather_uncounted(const void* send, std::size_t bytes, void* recv) {
  check(MPI_Allgather(send, static_cast<int>(bytes), MPI_BYTE, recv, static_cast<int>(bytes), MPI_BYTE, comm_),
        "MPI_Allgather");
}

void Communicator::allgatherv_bytes(const void* send, const std::vector<std::int64_t>& byte_counts, void* recv) {
  std::vector<int> counts(byte_counts.size()), displs(byte_counts.size());
  std::int64_t off = 0;
  for (std::size_t i = 0; i < byte_counts.size(); ++i) {
    if (byte_counts[i] > INT_MAX || off > INT_MAX) throw mpi_error("allgatherv: contribution too large");
    counts[i] = static_cast<int>(byte_counts[i]);
    displs[i] = static_cast<int>(off);
    off += byte_counts[i];
  }
  check(MPI_Allgatherv(send, counts[rank_], MPI_BYTE, recv, counts.data(), displs.data(), MPI_BYTE, comm_),
        "MPI_Allgatherv");
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    counters_.bytes_sent += byte_counts[rank_];
    counters_.bytes_received += byte_counts[r];
    counters_.messages_sent += 1;
    counters_.messages_received += 1;
  }
}

void Communicator::alltoall_bytes(const void* send, std::size_t bytes_each, void* recv) {
  if (bytes_each > static_cast<std::size_t>(INT_MAX)) throw mpi_error(fmt::format("alltoall: {} bytes is too large", bytes_each));
  check(MPI_Alltoall(send, static_cast<int>(bytes_each), MPI_BYTE, recv, static_cast<int>(bytes_each), MPI_BYTE, comm_),
        "MPI_Alltoall");
  if (size_ > 1) {
    const auto b = static_cast<std::int64_t>(bytes_each);
    counters_.bytes_sent += b * (size_ - 1);
    counters_.bytes_received += b * (size_ - 1);
    counters_.messages_sent += size_ - 1;
    counters_.messages_received += size_ - 1;
  }
}

std::vector<std::byte> Communicator::alltoallv(const std::byte* send, const std::vector<std::int64_t>& send_counts,
                                               const std::vector<std::int64_t>& send_offsets,
                                               std::vector<std::int64_t>& recv_counts) {
  if (send_counts.size() != static_cast<std::size_t>(size_) || send_offsets.size() != static_cast<std::size_t>(size_))
    throw std::invalid_argument(fmt::format("alltoallv: {} counts and {} offsets for {} ranks", send_counts.size(),
                                            send_offsets.size(), size_));
  // The counts exchange is bookkeeping, not payload: it is not counted.
  recv_counts.assign(size_, 0);
  check(MPI_Alltoall(send_counts.data(), 1, MPI_INT64_T, recv_counts.data(), 1, MPI_INT64_T, comm_), "MPI_Alltoall");
  std::vector<std::int64_t> recv_offsets(size_, 0);
  std::int64_t total = 0;
  for (int r = 0; r < size_; ++r) recv_offsets[r] = total, total += recv_counts[r];
  std::vector<std::byte> recv(static_cast<std::size_t>(total));
  if (recv_counts[rank_] > 0) std::copy_n(send + send_offsets[rank_], recv_counts[rank_], recv.data() + recv_offsets[rank_]);
  exchange(send, send_counts, send_offsets, recv.data(), recv_counts, recv_offsets);
  return recv;
}

namespace {

using Errors = detail::agreed_errors;
constexpr int kRemote = static_cast<int>(std::tuple_size_v<Errors>);  // not one of them

/// The index in Errors of the first type `e` is, or kRemote; `message` gets its text.
template <std::size_t I = 0>
int kind_of(const std::exception& e) {
  if constexpr (I == std::tuple_size_v<Errors>) {
    return kRemote;
  } else {
    if (dynamic_cast<const std::tuple_element_t<I, Errors>*>(&e)) return static_cast<int>(I);
    return kind_of<I + 1>(e);
  }
}

int classify(const std::exception_ptr& e, std::string& message) {
  try {
    std::rethrow_exception(e);
  } catch (const std::bad_alloc&) {
    message = "out of memory (std::bad_alloc)";
    return kind_of(memory_error(message));
  } catch (const std::exception& x) {
    message = x.what();
    return kind_of(x);
  } catch (...) {
    message = "unknown exception";
    return kRemote;
  }
}

template <std::size_t I = 0>
std::exception_ptr make_error(int kind, const std::string& m) {
  if constexpr (I == std::tuple_size_v<Errors>) {
    return std::make_exception_ptr(remote_error(m));
  } else {
    if (kind == static_cast<int>(I)) return std::make_exception_ptr(std::tuple_element_t<I, Errors>(m));
    return make_error<I + 1>(kind, m);
  }
}

}  // namespace

void Communicator::agree(std::exception_ptr local_error) {
  int failing = local_error ? rank_ : size_;
  check(MPI_Allreduce(MPI_IN_PLACE, &failing, 1, MPI_INT, MPI_MIN, comm_), "MPI_Allreduce");
  if (failing == size_) return;

  std::string message;
  std::int64_t header[2] = {0, 0};
  if (rank_ == failing) {
    header[0] = classify(local_error, message);
    // An error already prefixed with its rank (agreed earlier) keeps its prefix.
    if (message.rfind("[rank ", 0) != 0) message = fmt::format("[rank {}] {}", rank_, message);
    header[1] = static_cast<std::int64_t>(message.size());
  }
  check(MPI_Bcast(header, 2, MPI_INT64_T, failing, comm_), "MPI_Bcast");
  message.resize(static_cast<std::size_t>(header[1]));
  check(MPI_Bcast(message.data(), static_cast<int>(header[1]), MPI_CHAR, failing, comm_), "MPI_Bcast");
  last_agreed_ = make_error(static_cast<int>(header[0]), message);
  std::rethrow_exception(last_agreed_);
}

void Communicator::exchange(const std::byte* send, const std::vector<std::int64_t>& send_counts,
                            const std::vector<std::int64_t>& send_offsets, std::byte* recv,
                            const std::vector<std::int64_t>& recv_counts, const std::vector<std::int64_t>& recv_offsets) {
  constexpr std::int64_t chunk = std::int64_t{1} << 30;
  std::vector<MPI_Request> requests;
  requests.reserve(static_cast<std::size_t>(2 * size_));
  for (int r = 0; r < size_; ++r) {
    if (r == rank_ || recv_counts[r] == 0) continue;
    for (std::int64_t off = 0; off < recv_counts[r]; off += chunk) {
      requests.emplace_back();
      const int n = static_cast<int>(std::min(chunk, recv_counts[r] - off));
      check(MPI_Irecv(recv + recv_offsets[r] + off, n, MPI_BYTE, r, 8, comm_, &requests.back()), "MPI_Irecv");
    }
    counters_.bytes_received += recv_counts[r];
    counters_.messages_received += 1;
  }
  for (int r = 0; r < size_; ++r) {
    if (r == rank_ || send_counts[r] == 0) continue;
    for (std::int64_t off = 0; off < send_counts[r]; off += chunk) {
      requests.emplace_back();
      const int n = static_cast<int>(std::min(chunk, send_counts[r] - off));
      check(MPI_Isend(send + send_offsets[r] + off, n, MPI_BYTE, r, 8, comm_, &requests.back()), "MPI_Isend");
    }
    counters_.bytes_sent += send_counts[r];
    counters_.messages_sent += 1;
  }
  check(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
}

}  // namespace spartanxx::backend
