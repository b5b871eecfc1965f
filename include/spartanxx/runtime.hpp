#pragma once
// The MPI runtime and evaluation accounting.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace spartanxx {

/// Bytes and messages this rank sent and received.
struct CommCounters {
  std::int64_t bytes_sent = 0;
  std::int64_t bytes_received = 0;
  std::int64_t messages_sent = 0;
  std::int64_t messages_received = 0;
};

/// What evaluating one graph node cost on this rank.
struct NodeStats {
  std::string op;          // "add", "dot[replicate rhs]", "sum(axis=1)", ...
  std::string shape;       // "(1000, 64)"
  std::string layout;      // "rows(4)", "replicated", ...
  CommCounters comm;       // bytes and messages this node moved
  std::int64_t predicted_bytes = 0;  // the cost model's figure, summed over all ranks
  std::int64_t temp_bytes = 0;       // bytes of buffers allocated on this rank
  double seconds = 0;                // wall time on this rank
};

/// What the last forced evaluation cost on this rank.
struct EvalStats {
  CommCounters comm;                // totals
  std::int64_t predicted_bytes = 0;  // over all ranks
  std::int64_t temp_bytes = 0;
  double seconds = 0;
  std::vector<NodeStats> nodes;      // in execution order
};

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
  /// Cumulative bytes and messages of all evaluations so far on this rank.
  CommCounters counters() const;

  /// The live runtime; throws std::logic_error when there is none.
  static Runtime& current();

  struct Impl;
  Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

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
