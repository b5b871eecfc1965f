#pragma once
// The communicator of the live spartanxx::Runtime, for the executor.
namespace spartanxx::backend {
class Communicator;
}
namespace spartanxx::detail {
/// Throws std::logic_error when no Runtime exists.
backend::Communicator& context_comm();
struct EvalRecord;
}  // namespace spartanxx::detail
