#pragma once
// The MPI runtime and evaluation accounting.
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "spartanxx/stats.hpp"

namespace spartanxx {

/// RAII over MPI: initializes MPI (unless the caller already did), owns spartanxx's
/// duplicated world communicator and finalizes MPI on destruction if it initialized it.
/// Exactly one Runtime exists at a time; every spartanxx call needs it.
///
///     int main(int argc, char** argv) {
///       spartanxx::Runtime rt(argc, argv);
///       if (rt.rank() == 0) std::cout << rt.size() << " ranks\n";
///     }
class Runtime {
 public:
  Runtime(int& argc, char**& argv);
  /// Without arguments: for programs that initialized MPI themselves (or do not care).
  Runtime();
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  int rank() const;
  int size() const;
  void barrier() const;
  /// Cumulative bytes and messages this rank has sent and received through spartanxx.
  CommCounters counters() const;

  /// The live runtime; throws std::logic_error when there is none.
  static Runtime& current();

  // Collectives for programs written on the public API (jobs, src/ml): every rank calls
  // them in the same order, as every spartanxx call. They go through spartanxx's own
  // communicator, are counted in counters(), and fail with mpi_error.

  /// The sum of `mine` over all ranks: rt.sum(local_count).
  std::int64_t sum(std::int64_t mine) const;
  /// Element-wise sums over all ranks, in place (every rank passes as many values).
  void sum(std::vector<std::int64_t>& values) const;
  /// The sum of `mine` over the ranks before this one (0 on rank 0): where this rank's
  /// items start when every rank's items are numbered in rank order.
  std::int64_t exclusive_sum(std::int64_t mine) const;
  /// Every rank's `mine`, by rank.
  std::vector<std::int64_t> gather(std::int64_t mine) const;

  /// Error agreement: every rank passes the exception it caught in its local work (or
  /// nullptr). If any rank failed, every rank throws the same typed exception (io_error,
  /// value_error, ...): the lowest failing rank's, its message prefixed "[rank r] ". An
  /// error that agree() itself raised passes through unchanged.
  void agree(std::exception_ptr local_error) const;
  /// Runs `local` on this rank, then agrees on failure (see agree()):
  ///     rt.run_agreed([&] { parse(my_lines); });  // a bad line on rank 2 throws on every rank
  template <class F>
  void run_agreed(F&& local) const {
    std::exception_ptr err;
    try {
      local();
    } catch (...) {
      err = std::current_exception();
    }
    agree(err);
  }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// What one rank may use, and where that figure comes from.
struct MemoryLimit {
  std::int64_t bytes = -1;  ///< -1: unknown (no limit is enforced)
  std::string source;       ///< e.g. "SPARTANXX_MAX_MEMORY", "MemAvailable / 2 ranks on this node"
};

/// The memory one rank may use: set_memory_limit()'s value if set, else the environment
/// variable SPARTANXX_MAX_MEMORY (bytes, or with K, M, G, T: "8G"), else the node's
/// available memory (the smaller of /proc/meminfo's MemAvailable and the cgroup's room)
/// shared by the ranks on this node (OMPI_COMM_WORLD_LOCAL_SIZE). Local; every rank of a
/// job started alike sees the same figure.
MemoryLimit memory_limit();
/// Sets the limit memory_limit() reports (0: back to the default). `source` names it in
/// error messages (a command-line option, say).
void set_memory_limit(std::int64_t bytes, std::string source = "set_memory_limit");
/// A size such as "1048576", "512M", "8G" or "1.5T" (K, M, G, T: powers of 1024) in
/// bytes; -1 when `text` is not one.
std::int64_t parse_bytes(const std::string& text);
/// Throws memory_error when `bytes_per_rank` is more than memory_limit() allows:
/// "WHAT needs about X GB per rank but a rank may use Y GB (SOURCE)". Call it before an
/// allocation sized by input, with a description naming the operation and the shapes.
/// Local: call it with values every rank has (or inside run_agreed()).
void require_memory(const std::string& what, double bytes_per_rank);

/// Switches of the optimizer, the same on every rank (set them before evaluating).
struct Options {
  /// Fuse connected elementwise operations into one pass over the data. Off, every
  /// operation runs as its own kernel and materializes its result (for comparison).
  bool fusion = true;
};

/// The process-wide options: spartanxx::options().fusion = false;
Options& options();

/// Accounting of the most recent evaluation on this rank.
EvalStats last_evaluation_stats();

}  // namespace spartanxx
