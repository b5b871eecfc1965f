#pragma once
// What communication and evaluation cost: the counters a Runtime keeps and the record of
// each evaluation (runtime.hpp: Runtime::counters(), last_evaluation_stats()).
#include <cstdint>
#include <string>
#include <vector>

namespace spartanxx {

/// Bytes and messages this rank sent and received.
struct CommCounters {
  std::int64_t bytes_sent = 0;
  std::int64_t bytes_received = 0;
  std::int64_t messages_sent = 0;
  std::int64_t messages_received = 0;

  CommCounters& operator+=(const CommCounters& o) {
    bytes_sent += o.bytes_sent;
    bytes_received += o.bytes_received;
    messages_sent += o.messages_sent;
    messages_received += o.messages_received;
    return *this;
  }
  /// What moved between two readings: counters() after minus counters() before.
  friend CommCounters operator-(CommCounters a, const CommCounters& b) {
    a.bytes_sent -= b.bytes_sent;
    a.bytes_received -= b.bytes_received;
    a.messages_sent -= b.messages_sent;
    a.messages_received -= b.messages_received;
    return a;
  }
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

}  // namespace spartanxx
