#include "expr/context.hpp"

#include <stdexcept>

#include "spartanxx/runtime.hpp"

namespace spartanxx {

Options& options() {
  static Options opts;
  return opts;
}

namespace detail {
namespace {
backend::Communicator* g_comm = nullptr;
}

backend::Communicator& context_comm() {
  if (!g_comm) throw std::logic_error("spartanxx: no Runtime exists; construct spartanxx::Runtime first");
  return *g_comm;
}

void set_context_comm(backend::Communicator* comm) { g_comm = comm; }

}  // namespace detail
}  // namespace spartanxx
