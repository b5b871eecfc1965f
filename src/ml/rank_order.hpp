#pragma once
// Items numbered in rank order (rank 0's first): what the ranks before this one hold.
#include <mpi.h>

#include <cstdint>

namespace spartanxx::ml::detail {

/// The sum of `mine` over the ranks before this one (0 on rank 0). Collective.
inline std::int64_t count_before(std::int64_t mine) {
  std::int64_t before = 0;
  MPI_Exscan(&mine, &before, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank == 0 ? 0 : before;  // MPI_Exscan leaves rank 0's result undefined
}

}  // namespace spartanxx::ml::detail
