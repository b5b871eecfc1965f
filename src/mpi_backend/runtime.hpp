#pragma once
// RAII over MPI_Init/MPI_Finalize. Usable when the caller already initialized MPI: then
// it neither initializes nor finalizes.
namespace spartanxx::backend {

class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession() noexcept;
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  bool owns() const { return owns_; }

 private:
  bool owns_ = false;
};

}  // namespace spartanxx::backend
