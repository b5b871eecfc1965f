#pragma once
// The communicator of the live spartanxx::Runtime, for evaluation. The Runtime registers
// it when it is made and withdraws it when it goes (src/api/runtime.cpp).
namespace spartanxx::backend {
class Communicator;
}
namespace spartanxx::detail {
/// Throws std::logic_error when no Runtime exists.
backend::Communicator& context_comm();
/// The Runtime's communicator, or nullptr when the Runtime goes.
void set_context_comm(backend::Communicator* comm);
}  // namespace spartanxx::detail
