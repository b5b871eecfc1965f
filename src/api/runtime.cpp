#include "spartanxx/runtime.hpp"

#include <stdexcept>

#include "array/buffer.hpp"
#include "expr/context.hpp"
#include "mpi_backend/communicator.hpp"
#include "mpi_backend/runtime.hpp"

namespace spartanxx {

namespace detail {
EvalStats last_stats();
}

namespace {
Runtime* g_current = nullptr;
}

struct Runtime::Impl {
  Impl(int* argc, char*** argv) : session(argc, argv), comm(MPI_COMM_WORLD) {}
  backend::MpiSession session;
  backend::Communicator comm;
};

Runtime::Runtime(int& argc, char**& argv) {
  if (g_current) throw std::logic_error("spartanxx::Runtime: a Runtime already exists");
  impl_ = std::make_unique<Impl>(&argc, &argv);
  g_current = this;
}

Runtime::Runtime() {
  if (g_current) throw std::logic_error("spartanxx::Runtime: a Runtime already exists");
  impl_ = std::make_unique<Impl>(nullptr, nullptr);
  g_current = this;
}

Runtime::~Runtime() {
  if (g_current == this) g_current = nullptr;
  detail::Buffer::release_pool();
}

int Runtime::rank() const { return impl_->comm.rank(); }
int Runtime::size() const { return impl_->comm.size(); }
void Runtime::barrier() const { impl_->comm.barrier(); }

CommCounters Runtime::counters() const {
  const auto& c = impl_->comm.counters();
  return CommCounters{c.bytes_sent, c.bytes_received, c.messages_sent, c.messages_received};
}

Runtime& Runtime::current() {
  if (!g_current) throw std::logic_error("spartanxx: no Runtime exists; construct spartanxx::Runtime first");
  return *g_current;
}

EvalStats last_evaluation_stats() { return detail::last_stats(); }

Options& options() {
  static Options opts;
  return opts;
}

namespace detail {
backend::Communicator& context_comm() { return Runtime::current().impl().comm; }
}  // namespace detail

}  // namespace spartanxx
