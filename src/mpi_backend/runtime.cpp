#include "mpi_backend/runtime.hpp"

#include <mpi.h>

#include "mpi_backend/communicator.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define SPARTANXX_LEAK_CHECK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPARTANXX_LEAK_CHECK 1
#endif
#endif
#ifdef SPARTANXX_LEAK_CHECK
#include <sanitizer/lsan_interface.h>
#endif

namespace spartanxx::backend {

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialized = 0;
  check(MPI_Initialized(&initialized), "MPI_Initialized");
  if (!initialized) {
    int provided = 0;
    check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    owns_ = true;
  }
}

MpiSession::~MpiSession() noexcept {
  if (!owns_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
#ifdef SPARTANXX_LEAK_CHECK
  // Under AddressSanitizer, leaks are looked for now, while Open MPI's plugins are still
  // loaded: after MPI_Finalize unloads them, their allocations (kept until exit, and
  // suppressed by tests/fuzz/lsan.supp) would come from no known module and could not be
  // told from spartanxx's. The check at exit is then skipped.
  if (!finalized) __lsan_do_leak_check();
#endif
  if (!finalized) MPI_Finalize();
}

}  // namespace spartanxx::backend
