// ScaLAPACK's pdgemm as a distributed GEMM baseline: the same n x n matrices as the
// spartanxx GEMM, on the same ranks, in a 2-D block-cyclic distribution over a
// near-square process grid. Built only when CMake found a ScaLAPACK library
// (SPARTANXX_BENCH_SCALAPACK); otherwise run_pdgemm says "not built".
//
// ScaLAPACK's speed is its BLAS's: the library actually loaded (read from
// /proc/self/maps, links resolved) goes into the report's note.
#include "bench_harness.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#ifdef SPARTANXX_BENCH_SCALAPACK
#include <climits>
#include <cstdlib>
#endif

namespace spartanxx::bench {

#ifdef SPARTANXX_BENCH_SCALAPACK

// The C interface of BLACS and the Fortran entry points of ScaLAPACK/PBLAS (32-bit
// integers, as Debian builds them). pdgemm_ is PBLAS C code taking char*, so no hidden
// string lengths are passed.
extern "C" {
void Cblacs_pinfo(int* mypnum, int* nprocs);
void Cblacs_get(int icontxt, int what, int* val);
void Cblacs_gridinit(int* icontxt, char* order, int nprow, int npcol);
void Cblacs_gridinfo(int icontxt, int* nprow, int* npcol, int* myrow, int* mycol);
void Cblacs_gridexit(int icontxt);
int numroc_(const int* n, const int* nb, const int* iproc, const int* isrcproc, const int* nprocs);
void descinit_(int* desc, const int* m, const int* n, const int* mb, const int* nb, const int* irsrc,
               const int* icsrc, const int* ictxt, const int* lld, int* info);
void pdgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
             const double* alpha, const double* a, const int* ia, const int* ja, const int* desca,
             const double* b, const int* ib, const int* jb, const int* descb, const double* beta, double* c,
             const int* ic, const int* jc, const int* descc);
}

namespace {

/// The BLAS-like shared libraries this process loaded, links resolved.
std::string loaded_blas() {
  std::ifstream maps("/proc/self/maps");
  std::vector<std::string> found;
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream ls(line);
    std::string field, path;
    for (int i = 0; i < 6 && ls >> field; ++i)
      if (i == 5) path = field;
    if (path.empty()) continue;
    const std::string base = path.substr(path.rfind('/') + 1);
    if (base.find("blas") == std::string::npos && base.find("mkl") == std::string::npos &&
        base.find("blis") == std::string::npos && base.find("atlas") == std::string::npos)
      continue;
    char real[PATH_MAX];
    const std::string resolved = realpath(path.c_str(), real) ? std::string(real) : path;
    if (std::find(found.begin(), found.end(), resolved) == found.end()) found.push_back(resolved);
  }
  if (found.empty()) return "unknown (none found in /proc/self/maps)";
  std::string s;
  for (const std::string& f : found) {
    s += (s.empty() ? "" : ", ") + f;
    // Debian's libblas3 (netlib's reference implementation) lives in .../blas/libblas.so.3*.
    if (f.find("/blas/libblas.so") != std::string::npos) s += " (reference BLAS)";
  }
  return s;
}

}  // namespace

OtherBaseline run_pdgemm(const Runtime& rt, const Config& cfg, const Eigen::MatrixXd& a, const Eigen::MatrixXd& b,
                         const Eigen::MatrixXd& c) {
  OtherBaseline o;
  o.name = "pdgemm";
  const int p = rt.size();
  int prow = 1;
  for (int d = 1; d * d <= p; ++d)
    if (p % d == 0) prow = d;
  const int pcol = p / prow;
  const int n = static_cast<int>(a.rows());
  const int nb = std::max(1, std::min(cfg.scalapack_nb, n));

  int ctxt = 0;
  Cblacs_get(0, 0, &ctxt);  // the default system context: MPI_COMM_WORLD
  char order[] = "Row";
  Cblacs_gridinit(&ctxt, order, prow, pcol);
  int nprow = 0, npcol = 0, myrow = 0, mycol = 0;
  Cblacs_gridinfo(ctxt, &nprow, &npcol, &myrow, &mycol);

  const int zero = 0, one = 1;
  const int mloc = numroc_(&n, &nb, &myrow, &zero, &nprow);
  const int nloc = numroc_(&n, &nb, &mycol, &zero, &npcol);
  const int lld = std::max(1, mloc);
  int desc[9], info = 0;
  descinit_(desc, &n, &n, &nb, &nb, &zero, &zero, &ctxt, &lld, &info);
  int worst = std::abs(info);
  MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (worst != 0) {
    Cblacs_gridexit(ctxt);
    o.status = fmt::format("descinit failed (info {} on some rank)", -worst);
    return o;
  }

  // Local pieces, column-major: local (li, lj) is global (g(li, myrow, nprow), g(lj, mycol, npcol)).
  const auto global = [nb](int l, int me, int np) { return (l / nb * np + me) * nb + l % nb; };
  std::vector<double> la(static_cast<std::size_t>(lld) * std::max(1, nloc));
  std::vector<double> lb(la.size()), lc(la.size(), 0.0);
  for (int lj = 0; lj < nloc; ++lj) {
    const int gj = global(lj, mycol, npcol);
    for (int li = 0; li < mloc; ++li) {
      const int gi = global(li, myrow, nprow);
      la[static_cast<std::size_t>(lj) * lld + li] = a(gi, gj);
      lb[static_cast<std::size_t>(lj) * lld + li] = b(gi, gj);
    }
  }

  const double alpha = 1.0, beta = 0.0;
  for (int r = 0; r < cfg.slow_reps; ++r) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    pdgemm_("N", "N", &n, &n, &n, &alpha, la.data(), &one, &one, desc, lb.data(), &one, &one, desc, &beta,
            lc.data(), &one, &one, desc);
    const double local = MPI_Wtime() - t0;
    double slowest = 0;
    MPI_Allreduce(&local, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    o.seconds.push_back(slowest);
  }

  // Check against spartanxx's product, piece by piece where each rank holds it.
  double diff = 0, scale = 0;
  for (int lj = 0; lj < nloc; ++lj) {
    const int gj = global(lj, mycol, npcol);
    for (int li = 0; li < mloc; ++li) {
      const double want = lc[static_cast<std::size_t>(lj) * lld + li];
      diff = std::max(diff, std::abs(c(global(li, myrow, nprow), gj) - want));
      scale = std::max(scale, std::abs(want));
    }
  }
  double local[2] = {diff, scale}, total[2] = {0, 0};
  MPI_Allreduce(local, total, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  o.max_rel_error = total[0] / std::max(total[1], std::numeric_limits<double>::min());
  Cblacs_gridexit(ctxt);

  o.note = fmt::format("ScaLAPACK {}x{} grid, nb {}, {} rep{}, no warm-up; BLAS {}", prow, pcol, nb,
                       cfg.slow_reps, cfg.slow_reps == 1 ? "" : "s", loaded_blas());
  return o;
}

#else

OtherBaseline run_pdgemm(const Runtime&, const Config&, const Eigen::MatrixXd&, const Eigen::MatrixXd&,
                         const Eigen::MatrixXd&) {
  OtherBaseline o;
  o.name = "pdgemm";
  o.status = "not built: CMake found no ScaLAPACK (libscalapack-openmpi-dev) or SPARTANXX_BENCH_SCALAPACK=OFF";
  return o;
}

#endif

}  // namespace spartanxx::bench
