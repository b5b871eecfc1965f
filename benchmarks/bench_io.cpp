// spartanxx-bench-io: one timed HDF5 operation per call, for scripts/bench_io.sh, which
// runs it beside h5py and dd on the same files (caches dropped between runs) and prints
// the medians and ratios.
//
//   mpirun -np 2 spartanxx-bench-io dense-write FILE ROWS COLS
//   mpirun -np 2 spartanxx-bench-io dense-read FILE
//   mpirun -np 2 spartanxx-bench-io sparse-write FILE ROWS COLS PER_ROW
//   mpirun -np 2 spartanxx-bench-io sparse-read FILE
//
// Prints one JSON line: {"op", "ranks", "seconds", "bytes"}; seconds is the slowest
// rank's, from a barrier before to a barrier after (a write includes the fsync of the
// file, as dd conv=fsync does).
#include <fcntl.h>
#include <mpi.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <spartanxx/io.hpp>
#include <spartanxx/spartanxx.hpp>

namespace sx = spartanxx;

namespace {

double timed(const std::function<void()>& f) {
  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  f();
  MPI_Barrier(MPI_COMM_WORLD);
  double t = MPI_Wtime() - t0, worst = 0;
  MPI_Allreduce(&t, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return worst;
}

void fsync_file(const std::string& path) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd >= 0) ::fsync(fd), ::close(fd);
  }
}

}  // namespace

int main(int argc, char** argv) {
  sx::Runtime rt(argc, argv);
  if (argc < 3) {
    if (rt.rank() == 0) std::fprintf(stderr, "usage: spartanxx-bench-io MODE FILE [ROWS COLS [PER_ROW]]\n");
    return 2;
  }
  const std::string mode = argv[1], file = argv[2];
  double seconds = 0;
  std::int64_t bytes = 0;
  if (mode == "dense-write" && argc == 5) {
    const std::int64_t rows = std::atoll(argv[3]), cols = std::atoll(argv[4]);
    // Element (i, j) = i * cols + j: the h5py side writes np.arange of the same.
    const sx::Array a = sx::from_rows({rows, cols}, [cols](std::int64_t r0, std::int64_t r1, double* out) {
      for (std::int64_t i = r0; i < r1; ++i)
        for (std::int64_t j = 0; j < cols; ++j) *out++ = static_cast<double>(i * cols + j);
    });
    a.evaluate();
    seconds = timed([&] {
      sx::io::write_hdf5(file, "x", a);
      fsync_file(file);
    });
    bytes = rows * cols * 8;
  } else if (mode == "dense-read" && argc == 3) {
    sx::Array x;
    seconds = timed([&] {
      x = sx::io::read_hdf5(file, "x");
      x.evaluate();
    });
    bytes = x.size() * 8;
    // The last element, as a check that the bytes are the formula's.
    const double last = sx::to_vector<double>(x.slice({sx::Range{x.shape()[0] - 1, x.shape()[0]}, sx::Range{x.shape()[1] - 1, x.shape()[1]}}))[0];
    if (last != static_cast<double>(x.size() - 1)) {
      if (rt.rank() == 0) std::fprintf(stderr, "dense-read: last element %g, expected %lld\n", last, static_cast<long long>(x.size() - 1));
      return 1;
    }
  } else if (mode == "sparse-write" && argc == 6) {
    const std::int64_t rows = std::atoll(argv[3]), cols = std::atoll(argv[4]), per = std::atoll(argv[5]);
    // Each rank its share of the rows; entry k of row i at column (i * 7919 + k * 104729) % cols.
    std::vector<std::int64_t> ri, ci;
    std::vector<double> v;
    const std::int64_t lo = rows * rt.rank() / rt.size(), hi = rows * (rt.rank() + 1) / rt.size();
    for (std::int64_t i = lo; i < hi; ++i)
      for (std::int64_t k = 0; k < per; ++k) {
        ri.push_back(i);
        ci.push_back((i * 7919 + k * (cols / per)) % cols);
        v.push_back(static_cast<double>(i + k));
      }
    const sx::Array a = sx::sparse_from_triplets({rows, cols}, ri, ci, v);
    a.evaluate();
    seconds = timed([&] {
      sx::io::write_hdf5(file, "m", a);
      fsync_file(file);
    });
    bytes = sx::nnz(a) * 16 + (rows + 1) * 8;
  } else if (mode == "sparse-read" && argc == 3) {
    sx::Array m;
    seconds = timed([&] { m = sx::io::read_hdf5(file, "m"); });
    bytes = sx::nnz(m) * 16 + (m.shape()[0] + 1) * 8;
  } else {
    if (rt.rank() == 0) std::fprintf(stderr, "spartanxx-bench-io: bad mode or arguments\n");
    return 2;
  }
  if (rt.rank() == 0) fmt::print("{{\"op\": \"{}\", \"ranks\": {}, \"seconds\": {:.6f}, \"bytes\": {}}}\n", mode, rt.size(), seconds, bytes);
  return 0;
}
