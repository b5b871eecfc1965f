#include "spartanxx/runtime.hpp"

#include <stdexcept>

#include "array/buffer.hpp"
#include "expr/context.hpp"
#include "expr/executor.hpp"
#include "mpi_backend/communicator.hpp"
#include "mpi_backend/runtime.hpp"

namespace spartanxx {

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
  detail::set_context_comm(&impl_->comm);
}

Runtime::Runtime() {
  if (g_current) throw std::logic_error("spartanxx::Runtime: a Runtime already exists");
  impl_ = std::make_unique<Impl>(nullptr, nullptr);
  g_current = this;
  detail::set_context_comm(&impl_->comm);
}

Runtime::~Runtime() {
  if (g_current == this) {
    g_current = nullptr;
    detail::set_context_comm(nullptr);
  }
  detail::Buffer::release_pool();
}

int Runtime::rank() const { return impl_->comm.rank(); }
int Runtime::size() const { return impl_->comm.size(); }
void Runtime::barrier() const { impl_->comm.barrier(); }
CommCounters Runtime::counters() const { return impl_->comm.counters(); }

Runtime& Runtime::current() {
  if (!g_current) throw std::logic_error("spartanxx: no Runtime exists; construct spartanxx::Runtime first");
  return *g_current;
}

std::int64_t Runtime::sum(std::int64_t mine) const { return impl_->comm.allreduce(mine, backend::ReduceOp::sum); }

void Runtime::sum(std::vector<std::int64_t>& values) const {
  impl_->comm.allreduce(values.data(), values.size(), backend::ReduceOp::sum);
}

std::int64_t Runtime::exclusive_sum(std::int64_t mine) const { return impl_->comm.exclusive_sum(mine); }

std::vector<std::int64_t> Runtime::gather(std::int64_t mine) const { return impl_->comm.allgather(mine); }

void Runtime::agree(std::exception_ptr local_error) const {
  if (impl_->comm.is_agreed(local_error)) std::rethrow_exception(local_error);
  impl_->comm.agree(local_error);
}

EvalStats last_evaluation_stats() { return detail::last_stats(); }

}  // namespace spartanxx
